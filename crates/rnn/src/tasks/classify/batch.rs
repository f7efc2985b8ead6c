//! Sequences as the network reads them: normalised, frames grouped into
//! steps, padded into time-major batches with their lengths (the mask), and
//! the stratified validation split.

use super::data::Dataset;
use super::normalise::Normaliser;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Every sequence of a dataset, normalised and grouped: `stride` consecutive
/// frames of `D` values (`3 D` with [`super::Norm::Scaled`]) make one input
/// step of `I = stride * D` values (the last step repeats the final frame to
/// fill up).
///
/// ```
/// use rnn::tasks::classify::{Dataset, Encoded, Fill, Norm, Normaliser};
/// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), "1,2,3:a\n4,5:b\n", Fill::Linear, None)?;
/// let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 2)?;
/// assert_eq!((enc.width, enc.steps.clone()), (2, vec![2, 1]));
/// assert_eq!(enc.inputs[0], [1.0, 2.0, 3.0, 3.0]);
/// let b = enc.batch(&[1, 0])?; // [T = 2, B = 2, I = 2], sequence 0 of the batch padded
/// assert_eq!((b.steps, b.lengths.clone()), (2, vec![1, 2]));
/// assert_eq!(b.x, [4.0, 5.0, 1.0, 2.0, 0.0, 0.0, 3.0, 3.0]);
/// // there is no sequence 2
/// assert_eq!(enc.batch(&[0, 2]).unwrap_err().to_string(), "idx[1]: expected a sequence below 2, got 2");
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoded {
    /// Per sequence, its input steps `[T', I]`.
    pub inputs: Vec<Vec<f32>>,
    /// Per sequence, `T'`: its steps after grouping.
    pub steps: Vec<usize>,
    /// `I`: values per input step.
    pub width: usize,
}

/// Steps `start..start + len` of sequence `seq` of an [`Encoded`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The sequence.
    pub seq: usize,
    /// Its first step read.
    pub start: usize,
    /// Steps read.
    pub len: usize,
}

/// A padded batch: `x` `[T, B, I]` (zeros past each length) and `lengths` `[B]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Padded {
    /// `[T, B, I]`.
    pub x: Vec<f32>,
    /// `[B]`, each in `1..=T`.
    pub lengths: Vec<usize>,
    /// `T`: the longest sequence of the batch.
    pub steps: usize,
}

impl Encoded {
    /// Normalises every sequence of `data` with `norm` and groups `stride`
    /// frames per step (`stride` at least 1). An error when `norm` was not
    /// fitted to frames of `data.dims` values, or a sequence is not `steps`
    /// (at least one) frames of them.
    pub fn new(data: &Dataset, norm: &Normaliser, stride: usize) -> Result<Encoded> {
        norm.check(data.dims).map_err(|why| {
            Error::argument(
                "norm",
                format!("a normaliser for frames of {} values", data.dims),
                why,
            )
        })?;
        for (i, s) in data.sequences.iter().enumerate() {
            if s.steps == 0 || s.steps.checked_mul(data.dims) != Some(s.values.len()) {
                return Err(Error::argument(
                    format!("data.sequences[{i}].values"),
                    format!("steps x dims = {} x {} values", s.steps, data.dims),
                    format!("{} values", s.values.len()),
                ));
            }
        }
        // values per frame after normalising (3 per dimension when scaled)
        let (d, k) = (norm.width(data.dims), stride.max(1));
        let mut inputs = Vec::with_capacity(data.len());
        let mut steps = Vec::with_capacity(data.len());
        for s in &data.sequences {
            let v = norm.apply(s)?; // [T, D]
            let t2 = s.steps.div_ceil(k);
            let mut x = Vec::with_capacity(t2 * k * d);
            for t in 0..t2 * k {
                let src = t.min(s.steps - 1);
                x.extend(v[src * d..(src + 1) * d].iter().map(|&f| f as f32));
            }
            inputs.push(x);
            steps.push(t2);
        }
        Ok(Encoded {
            inputs,
            steps,
            width: k * d,
        })
    }

    /// Checks that sequence `i` (named `what`) exists and holds its steps.
    fn check_seq(&self, what: impl Fn() -> String, i: usize) -> Result<()> {
        let n = self.inputs.len().min(self.steps.len());
        if i >= n {
            return Err(Error::argument(what(), format!("a sequence below {n}"), i));
        }
        let want = self.steps[i].checked_mul(self.width);
        if self.steps[i] == 0 || want.is_none_or(|w| self.inputs[i].len() < w) {
            return Err(Error::argument(
                format!("inputs[{i}]"),
                format!(
                    "steps[{i}] x width = {} x {} values, at least one step",
                    self.steps[i], self.width
                ),
                format!("{} values", self.inputs[i].len()),
            ));
        }
        Ok(())
    }

    /// The sequences `idx` as one padded batch, in that order; an error
    /// naming an index that is not a sequence's.
    pub fn batch(&self, idx: &[usize]) -> Result<Padded> {
        for (j, &i) in idx.iter().enumerate() {
            self.check_seq(|| format!("idx[{j}]"), i)?;
        }
        let whole: Vec<Window> = idx
            .iter()
            .map(|&i| Window {
                seq: i,
                start: 0,
                len: self.steps[i],
            })
            .collect();
        Ok(self.padded(&whole))
    }

    /// The steps `start..start + len` of each window's sequence as one
    /// padded batch, in that order (each window clamped to its sequence and
    /// at least one step long); an error naming a window whose sequence is
    /// not one of the set's.
    ///
    /// ```
    /// use rnn::tasks::classify::{Dataset, Encoded, Fill, Norm, Normaliser, Window};
    /// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), "1,2,3,4:a\n5,6:b\n", Fill::Linear, None)?;
    /// let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 1)?;
    /// let b = enc.batch_windows(&[Window { seq: 0, start: 1, len: 2 }, Window { seq: 1, start: 1, len: 5 }])?;
    /// assert_eq!((b.steps, b.lengths.clone()), (2, vec![2, 1]));
    /// assert_eq!(b.x, [2.0, 6.0, 3.0, 0.0]); // [T = 2, B = 2, I = 1]
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn batch_windows(&self, windows: &[Window]) -> Result<Padded> {
        for (j, v) in windows.iter().enumerate() {
            self.check_seq(|| format!("windows[{j}].seq"), v.seq)?;
        }
        Ok(self.padded(windows))
    }

    /// [`Encoded::batch_windows`] of windows already checked.
    fn padded(&self, windows: &[Window]) -> Padded {
        let (b, w) = (windows.len(), self.width);
        let clamped: Vec<(usize, usize, usize)> = windows
            .iter()
            .map(|v| {
                let n = self.steps[v.seq];
                let start = v.start.min(n - 1);
                (v.seq, start, v.len.clamp(1, n - start))
            })
            .collect();
        let steps = clamped.iter().map(|c| c.2).max().unwrap_or(0);
        let mut x = vec![0f32; steps * b * w];
        for (j, &(i, start, len)) in clamped.iter().enumerate() {
            let frames = self.inputs[i][start * w..(start + len) * w].chunks_exact(w);
            for (t, frame) in frames.enumerate() {
                x[(t * b + j) * w..(t * b + j + 1) * w].copy_from_slice(frame);
            }
        }
        Padded {
            x,
            lengths: clamped.iter().map(|c| c.2).collect(),
            steps,
        }
    }
}

/// The indices of each distinct label's sequences, in index order, labels
/// ascending: what the splits shuffle. Only the labels present are visited
/// (not every id up to the largest: a label of `1 << 40` is one class, not
/// a loop over 10^12 empty ones), in the order `0..=max` visited them, so
/// the splits are those of that loop.
fn class_members(labels: &[usize]) -> impl Iterator<Item = Vec<usize>> {
    let mut classes: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &c) in labels.iter().enumerate() {
        classes.entry(c).or_default().push(i);
    }
    classes.into_values()
}

/// Splits sequence indices `0..labels.len()` into training and validation
/// parts with every class in the same proportion: about `frac` of each
/// class (rounded, at least one when the class has two or more sequences,
/// none when it has one) goes to validation, chosen at random by `seed`.
/// Both parts are in index order.
///
/// ```
/// use rnn::tasks::classify::stratified_split;
/// let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2];
/// let (train, val) = stratified_split(&labels, 0.2, 7);
/// assert_eq!((train.len(), val.len()), (9, 2));
/// let mut val_classes: Vec<usize> = val.iter().map(|&i| labels[i]).collect();
/// val_classes.sort();
/// assert_eq!(val_classes, [0, 1]); // one of each class with 5; none of the class with 1
/// ```
pub fn stratified_split(labels: &[usize], frac: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5717_a7ed);
    let mut val = Vec::new();
    for mut members in class_members(labels) {
        if members.len() < 2 || frac <= 0.0 {
            continue;
        }
        members.shuffle(&mut rng);
        let k = ((frac * members.len() as f64).round() as usize).clamp(1, members.len() - 1);
        val.extend_from_slice(&members[..k]);
    }
    val.sort_unstable();
    let train = (0..labels.len())
        .filter(|i| val.binary_search(i).is_err())
        .collect();
    (train, val)
}

/// The validation part of member `member` (0-based) of an ensemble under
/// stratified `folds`-fold cross-validation: the sequences of each class with
/// two or more are shuffled by `seed` and dealt in turn to the folds (the
/// turn carries on from one class to the next, so the folds differ in size by
/// one at most), and member `k` holds out fold `k mod folds`; members
/// `folds..2 * folds` deal again with a seed derived from `seed`, and so on.
/// So the first `folds` members together validate every such sequence once
/// and each trains on all the others; a fold holds at most
/// `ceil(n / folds)` of a class of `n`, which leaves at least one of every
/// class for training. Returns the training and validation parts, in index
/// order (`folds` < 2: no validation).
///
/// ```
/// use rnn::tasks::classify::fold_split;
/// let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2];
/// let parts: Vec<Vec<usize>> = (0..5).map(|k| fold_split(&labels, 5, k, 7).1).collect();
/// let mut all: Vec<usize> = parts.concat();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>()); // each once; never the single sequence of class 2
/// assert!(parts.iter().all(|v| v.len() == 2));
/// let (train, val) = fold_split(&labels, 5, 1, 7);
/// assert_eq!((train.len(), val), (9, parts[1].clone()));
/// assert_ne!(fold_split(&labels, 5, 5, 7).1, parts[0]); // a second round deals anew
/// ```
pub fn fold_split(
    labels: &[usize],
    folds: usize,
    member: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    if folds < 2 {
        return ((0..labels.len()).collect(), Vec::new());
    }
    let round = (member / folds) as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ 0xf01d_5eed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let (mut turn, mut val) = (0usize, Vec::new());
    for mut members in class_members(labels) {
        if members.len() < 2 {
            continue;
        }
        members.shuffle(&mut rng);
        for i in members {
            if turn % folds == member % folds {
                val.push(i);
            }
            turn += 1;
        }
    }
    val.sort_unstable();
    let train = (0..labels.len())
        .filter(|i| val.binary_search(i).is_err())
        .collect();
    (train, val)
}

/// The most padded steps (sequences x steps) a group of [`length_groups`]
/// holds when it has more than one sequence.
pub const GROUP_STEPS: usize = 1 << 16;

/// Positions `0..lengths.len()` grouped for forward passes, from sequences
/// of `lengths` steps: longest first, at most `max` per group, and a group of
/// more than one keeps its padded size (sequences x its longest sequence's
/// steps) within [`GROUP_STEPS`], so one long sequence does not pad every
/// short one of its group to its length.
///
/// ```
/// use rnn::tasks::classify::length_groups;
/// assert_eq!(length_groups(&[2, 3, 1], 2), [vec![1, 0], vec![2]]);
/// // a long sequence goes alone
/// assert_eq!(length_groups(&[5, 1 << 16, 5], 64), [vec![1], vec![0, 2]]);
/// ```
pub fn length_groups(lengths: &[usize], max: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // stable: sequences of one length keep their order
    order.sort_by_key(|&j| std::cmp::Reverse(lengths[j]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for j in order {
        match groups.last_mut() {
            Some(g) if g.len() < max.max(1) && (g.len() + 1) * lengths[g[0]] <= GROUP_STEPS => {
                g.push(j)
            }
            _ => groups.push(vec![j]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splits as they were, looping over every class id `0..=max`.
    fn split_by_ids(labels: &[usize], frac: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5717_a7ed);
        let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
        let mut val = Vec::new();
        for c in 0..classes {
            let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            if members.len() < 2 || frac <= 0.0 {
                continue;
            }
            members.shuffle(&mut rng);
            let k = ((frac * members.len() as f64).round() as usize).clamp(1, members.len() - 1);
            val.extend_from_slice(&members[..k]);
        }
        val.sort_unstable();
        let train = (0..labels.len())
            .filter(|i| val.binary_search(i).is_err())
            .collect();
        (train, val)
    }

    fn folds_by_ids(labels: &[usize], folds: usize, member: usize, seed: u64) -> Vec<usize> {
        let round = (member / folds) as u64;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            seed ^ 0xf01d_5eed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
        let (mut turn, mut val) = (0usize, Vec::new());
        for c in 0..classes {
            let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            if members.len() < 2 {
                continue;
            }
            members.shuffle(&mut rng);
            for i in members {
                if turn % folds == member % folds {
                    val.push(i);
                }
                turn += 1;
            }
        }
        val.sort_unstable();
        val
    }

    /// Labels `0..k` (some ids absent, some classes of one) split exactly
    /// as the loop over every id did.
    #[test]
    fn splits_are_those_of_the_loop_over_class_ids() {
        let mut r: u64 = 5;
        for n in [0, 1, 2, 7, 40, 333] {
            for k in [1, 2, 3, 9] {
                let labels: Vec<usize> = (0..n)
                    .map(|_| {
                        r = r
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let c = (r >> 33) as usize % k;
                        if c == 1 {
                            c + 2
                        } else {
                            c
                        }
                    })
                    .collect();
                for seed in [0, 11] {
                    for frac in [0.0, 0.1, 0.5] {
                        let want = split_by_ids(&labels, frac, seed);
                        assert_eq!(stratified_split(&labels, frac, seed), want);
                    }
                    for (folds, member) in [(2, 0), (3, 1), (5, 7)] {
                        let val = folds_by_ids(&labels, folds, member, seed);
                        assert_eq!(fold_split(&labels, folds, member, seed).1, val);
                    }
                }
            }
        }
    }

    /// A huge label is one class (it was a loop over 2^40 empty ones), and
    /// `usize::MAX` is a class too (`max + 1` wrapped to no class at all).
    #[test]
    fn huge_labels_are_classes_like_any_other() {
        let (train, val) = stratified_split(&[1 << 40, 0, 1 << 40, 0], 0.5, 1);
        assert_eq!((train.len(), val.len()), (2, 2));
        let (_, val) = fold_split(&[1 << 40, 0], 2, 0, 1);
        assert!(val.is_empty()); // two classes of one: nothing to hold out
        let (train, val) = stratified_split(&[usize::MAX, 0, 0], 0.5, 1);
        assert_eq!((train.len(), val.len()), (2, 1));
        assert_eq!(val.len(), 1);
        let (_, val) = fold_split(&[usize::MAX, usize::MAX, 7], 2, 1, 1);
        assert_eq!(val.len(), 1);
    }
}
