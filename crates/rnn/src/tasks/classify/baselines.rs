//! The baselines a network is measured against: the majority class and
//! 1-nearest-neighbour with Euclidean distance (equal lengths only) and with
//! dynamic time warping ([`super::dtw`]).

use super::data::Sequence;
use super::dtw::{band_distance, dtw_band_lanes, dtw_ends, euclidean, interleave, LANES};
use crate::{Error, Result};
use rayon::prelude::*;

/// How two sequences are compared by [`nearest_neighbour`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// Squared Euclidean distance (equal lengths).
    Euclidean,
    /// Dynamic time warping at full window ([`super::dtw()`]).
    Dtw,
    /// Dynamic time warping inside a band of this many frames
    /// ([`super::dtw_band`]).
    DtwBand(usize),
}

/// The class of the nearest training sequence (the first on ties) for each
/// test sequence, `dims` values per frame; runs over the test sequences in
/// parallel. `Ok(None)` for [`Distance::Euclidean`] when the lengths
/// differ. An error when `train` is empty, `classes` does not hold one class
/// per training sequence, `dims` is 0, or a sequence's values are not
/// `steps * dims` finite numbers.
///
/// ```
/// use rnn::tasks::classify::{nearest_neighbour, Distance, Sequence};
/// let seq = |v: &[f64]| Sequence { values: v.to_vec(), steps: v.len(), label: None, line: 1, id: String::new() };
/// let train = [seq(&[0.0, 0.0, 1.0]), seq(&[5.0, 5.0, 5.0])];
/// let near = nearest_neighbour(&train, &[0, 1], &[seq(&[4.0, 5.0, 6.0])], 1, Distance::Dtw).unwrap();
/// assert_eq!(near, Some(vec![1]));
/// // 1-dimensional sequences read as 3-dimensional frames are refused
/// let e = nearest_neighbour(&train, &[0, 1], &train, 3, Distance::Dtw).unwrap_err();
/// assert_eq!(e.to_string(), "train[0].values: expected steps x dims = 3 x 3 finite values, got 3 values");
/// ```
pub fn nearest_neighbour(
    train: &[Sequence],
    classes: &[usize],
    test: &[Sequence],
    dims: usize,
    distance: Distance,
) -> Result<Option<Vec<usize>>> {
    check_sequences(train, classes, test, dims)?;
    if distance == Distance::Euclidean {
        let t0 = train[0].steps;
        if train.iter().chain(test).any(|s| s.steps != t0) {
            return Ok(None);
        }
    }
    match distance {
        Distance::Dtw => return Ok(Some(nearest_dtw(train, classes, test, dims, usize::MAX))),
        Distance::DtwBand(band) => return Ok(Some(nearest_dtw(train, classes, test, dims, band))),
        Distance::Euclidean => {}
    }
    let near = |q: &Sequence| {
        let mut best = (f64::INFINITY, classes.first().copied().unwrap_or(0));
        for (s, &c) in train.iter().zip(classes) {
            let dist = euclidean(&q.values, &s.values);
            if dist < best.0 {
                best = (dist, c);
            }
        }
        best.1
    };
    Ok(Some(test.par_iter().map(near).collect()))
}

/// The arguments of [`nearest_neighbour`]: a training set with one class
/// per sequence, frames of `dims` values, every sequence `steps * dims`
/// finite values (at least one frame).
fn check_sequences(
    train: &[Sequence],
    classes: &[usize],
    test: &[Sequence],
    dims: usize,
) -> Result<()> {
    if train.is_empty() {
        return Err(Error::argument("train", "at least one sequence", "none"));
    }
    if classes.len() != train.len() {
        return Err(Error::argument(
            "classes",
            format!("one per training sequence ({})", train.len()),
            format!("{} classes", classes.len()),
        ));
    }
    if dims == 0 {
        return Err(Error::argument("dims", "at least 1 value per frame", "0"));
    }
    let sets = [("train", train), ("test", test)];
    for (name, seqs) in sets {
        for (i, s) in seqs.iter().enumerate() {
            let whole = s.steps.checked_mul(dims) == Some(s.values.len()) && s.steps > 0;
            if !whole || s.values.iter().any(|v| !v.is_finite()) {
                return Err(Error::argument(
                    format!("{name}[{i}].values"),
                    format!("steps x dims = {} x {dims} finite values", s.steps),
                    format!("{} values", s.values.len()),
                ));
            }
        }
    }
    Ok(())
}

/// Frames a sequence is resampled to for [`nearest_dtw`]'s visiting order.
const SKETCH: usize = 32;

/// `seq` resampled to [`SKETCH`] frames (nearest frame), `[SKETCH, d]`.
fn sketch(seq: &Sequence, d: usize) -> Vec<f64> {
    let n = seq.values.len() / d.max(1);
    if n == 0 {
        return Vec::new();
    }
    (0..SKETCH)
        .flat_map(|i| {
            let t = (i * n) / SKETCH;
            seq.values[t * d..(t + 1) * d].iter().copied()
        })
        .collect()
}

/// 1-NN with [`dtw_band`] (`band = usize::MAX`: the full window), the same
/// answers as visiting the training sequences in order (the first of
/// equally near ones wins), but faster ([`search`]). (`rnn eval` of PLAID,
/// 537 test against 537 training sequences of up to 1344 frames: 41 s of
/// CPU in training order, 17 s so.)
fn nearest_dtw(
    train: &[Sequence],
    classes: &[usize],
    test: &[Sequence],
    d: usize,
    band: usize,
) -> Vec<usize> {
    let index = Index::new(train, d, vec![0; train.len()], 1);
    let near = |q: &Sequence| match index.search(q, band, None)[0].1 {
        usize::MAX => classes.first().copied().unwrap_or(0),
        i => classes[i],
    };
    test.par_iter().map(near).collect()
}

/// The nearest training sequence of each class for every query, as
/// (DTW distance in a band of `band` frames, training index), `[Q][c]`
/// (`(infinity, usize::MAX)` for a class without training sequences); ties
/// go to the first in training order. With `leave_out`, the queries are
/// the training sequences themselves and each is not compared with itself
/// (leave-one-out). Runs over the queries in parallel.
pub(super) fn class_distances(
    train: &[Sequence],
    classes: &[usize],
    c: usize,
    queries: &[Sequence],
    d: usize,
    band: usize,
    leave_out: bool,
) -> Vec<Vec<(f64, usize)>> {
    let index = Index::new(train, d, classes.to_vec(), c);
    let skip = |k: usize| leave_out.then_some(k);
    queries
        .par_iter()
        .enumerate()
        .map(|(k, q)| index.search(q, band, skip(k)))
        .collect()
}

/// Training sequences prepared for [`Index::search`]: their sketches and
/// the slot each competes in (its class, or one slot for plain 1-NN).
struct Index<'a> {
    train: &'a [Sequence],
    d: usize,
    sketches: Vec<Vec<f64>>,
    /// Slot of each training sequence, `< slots`.
    slot: Vec<usize>,
    slots: usize,
    /// Whether all training sequences have one length (then they are
    /// compared [`LANES`] at a time).
    lanes: bool,
}

impl<'a> Index<'a> {
    fn new(train: &'a [Sequence], d: usize, slot: Vec<usize>, slots: usize) -> Self {
        Index {
            train,
            d,
            sketches: train.iter().map(|s| sketch(s, d)).collect(),
            slot,
            slots,
            lanes: train.windows(2).all(|w| w[0].steps == w[1].steps),
        }
    }

    /// The nearest training sequence of each slot to `q` (but `skip`), as
    /// (distance, training index); the smaller pair wins, so ties go to the
    /// first in training order whatever the visiting order. Visits the
    /// training sequences nearest first by the Euclidean distance of their
    /// [`sketch`]es, so each slot's best distance so far is tight early,
    /// skips one whose [`dtw_ends`] bound is above its slot's best, and
    /// abandons a DTW once every cell of a row is above the largest best of
    /// the slots compared; candidates of one length are compared [`LANES`]
    /// at a time ([`dtw_band_lanes`]), whatever their slots.
    fn search(&self, q: &Sequence, band: usize, skip: Option<usize>) -> Vec<(f64, usize)> {
        let (train, d) = (self.train, self.d);
        let qs = sketch(q, d);
        let mut order: Vec<(f64, usize)> = self
            .sketches
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != skip)
            .map(|(i, s)| (euclidean(&qs, s), i))
            .collect();
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut best = vec![(f64::INFINITY, usize::MAX); self.slots];
        let width = if self.lanes { LANES } else { 1 };
        // the DTW of a block of candidates (of any slots), abandoned once
        // every candidate is past the largest of their slots' bests so far
        let run = |block: &[usize], best: &mut [(f64, usize)]| {
            let limit = block
                .iter()
                .map(|&i| best[self.slot[i]].0)
                .fold(f64::NEG_INFINITY, f64::max);
            let dists = match block {
                [] => return,
                &[i] => [band_distance(&q.values, &train[i].values, d, band, limit); LANES],
                many => {
                    let seqs: Vec<&[f64]> = many.iter().map(|&i| &train[i].values[..]).collect();
                    dtw_band_lanes(&q.values, &interleave(&seqs), d, band, limit)
                }
            };
            for (&i, &dist) in block.iter().zip(&dists) {
                let b = &mut best[self.slot[i]];
                if (dist, i) < *b {
                    *b = (dist, i);
                }
            }
        };
        let mut block = Vec::with_capacity(width);
        for &(_, i) in &order {
            // a bound above the slot's best: this one cannot be nearer, or as near
            if dtw_ends(&q.values, &train[i].values, d) > best[self.slot[i]].0 {
                continue;
            }
            block.push(i);
            if block.len() == width {
                run(&block, &mut best);
                block.clear();
            }
        }
        run(&block, &mut best);
        best
    }
}

/// The most frequent class of `counts` (the first on ties).
pub fn majority(counts: &[usize]) -> usize {
    counts
        .iter()
        .enumerate()
        .fold(
            (0, 0),
            |best, (k, &n)| if n > best.1 { (k, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// 1-NN DTW the plain way: every training sequence in order, the whole
    /// distance, the first of equally near ones.
    fn plain(train: &[Sequence], classes: &[usize], q: &Sequence, d: usize, band: usize) -> usize {
        let mut best = (f64::INFINITY, classes[0]);
        for (s, &c) in train.iter().zip(classes) {
            let dist = band_distance(&q.values, &s.values, d, band, f64::INFINITY);
            if dist < best.0 {
                best = (dist, c);
            }
        }
        best.1
    }

    /// `count` sequences of `d` values per frame, small integers (many exact
    /// ties), of `steps` frames or random lengths in 1..40.
    fn sequences(
        rng: &mut rand_chacha::ChaCha8Rng,
        count: usize,
        d: usize,
        steps: Option<usize>,
    ) -> Vec<Sequence> {
        (0..count)
            .map(|_| {
                let steps = steps.unwrap_or_else(|| rng.random_range(1..40));
                let values = (0..steps * d)
                    .map(|_| f64::from(rng.random_range(0..3u8)))
                    .collect();
                Sequence {
                    values,
                    steps,
                    label: None,
                    line: 1,
                    id: String::new(),
                }
            })
            .collect()
    }

    #[test]
    fn pruned_search_answers_as_the_plain_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..60 {
            let d = 1 + case % 3;
            // even cases: one length, compared LANES at a time; odd: lengths vary
            let steps = (case % 2 == 0).then(|| rng.random_range(1..40));
            let band = [usize::MAX, 0, 1, 3][case % 4 / 2 + 2 * (case % 8 / 4)];
            // 29 training sequences: blocks of 8 and a short last one
            let train = sequences(&mut rng, 29, d, steps);
            let classes: Vec<usize> = (0..29).map(|i| (i * 7) % 4).collect();
            let test = sequences(&mut rng, 15, d, steps);
            let want: Vec<usize> = test
                .iter()
                .map(|q| plain(&train, &classes, q, d, band))
                .collect();
            assert_eq!(
                nearest_dtw(&train, &classes, &test, d, band),
                want,
                "case {case}, band {band}"
            );
        }
    }

    #[test]
    fn each_class_nearest_is_the_plain_search_per_class_left_out_or_not() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..40 {
            let d = 1 + case % 2;
            // even cases: one length (LANES at a time); odd: lengths vary
            let steps = (case % 2 == 0).then(|| rng.random_range(1..30));
            let band = [usize::MAX, 0, 2][case % 3];
            let c = 1 + case % 4;
            // 37 training sequences: class blocks of LANES and short ones
            let train = sequences(&mut rng, 37, d, steps);
            let classes: Vec<usize> = (0..37).map(|i| (i * 5 + case) % c).collect();
            let test = sequences(&mut rng, 9, d, steps);
            for (queries, leave_out) in [(&test, false), (&train, true)] {
                let got = class_distances(&train, &classes, c, queries, d, band, leave_out);
                for (k, q) in queries.iter().enumerate() {
                    let mut want = vec![(f64::INFINITY, usize::MAX); c];
                    for (i, (s, &y)) in train.iter().zip(&classes).enumerate() {
                        if leave_out && i == k {
                            continue;
                        }
                        let dist = band_distance(&q.values, &s.values, d, band, f64::INFINITY);
                        if (dist, i) < want[y] {
                            want[y] = (dist, i);
                        }
                    }
                    assert_eq!(
                        got[k], want,
                        "case {case}, query {k}, leave out {leave_out}"
                    );
                }
            }
        }
    }
}
