//! The baselines a network is measured against: the majority class and
//! 1-nearest-neighbour with Euclidean distance (equal lengths only) and with
//! dynamic time warping ([`super::dtw`]).

use super::data::Sequence;
use super::dtw::{dtw_band, dtw_band_lanes, dtw_ends, euclidean, interleave, LANES};
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
/// parallel. `None` for [`Distance::Euclidean`] when the lengths differ.
pub fn nearest_neighbour(
    train: &[Sequence],
    classes: &[usize],
    test: &[Sequence],
    dims: usize,
    distance: Distance,
) -> Option<Vec<usize>> {
    if distance == Distance::Euclidean {
        let t0 = train.first().map(|s| s.steps)?;
        if train.iter().chain(test).any(|s| s.steps != t0) {
            return None;
        }
    }
    match distance {
        Distance::Dtw => return Some(nearest_dtw(train, classes, test, dims, usize::MAX)),
        Distance::DtwBand(band) => return Some(nearest_dtw(train, classes, test, dims, band)),
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
    Some(test.par_iter().map(near).collect())
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
/// equally near ones wins), but faster: each test sequence visits them
/// nearest first by the Euclidean distance of their [`sketch`]es, so the
/// best distance so far is tight early, and skips one whose [`dtw_ends`]
/// bound is above it or abandons its DTW once every cell of a row is.
/// (`rnn eval` of PLAID, 537 test against 537 training sequences of up to
/// 1344 frames: 41 s of CPU in training order, 17 s so.) Training sequences
/// of one length are compared [`LANES`] at a time ([`dtw_band_lanes`]).
fn nearest_dtw(
    train: &[Sequence],
    classes: &[usize],
    test: &[Sequence],
    d: usize,
    band: usize,
) -> Vec<usize> {
    let sketches: Vec<Vec<f64>> = train.iter().map(|s| sketch(s, d)).collect();
    // training sequences of one length are compared [`LANES`] at a time
    let lanes = train.windows(2).all(|w| w[0].steps == w[1].steps);
    let near = |q: &Sequence| {
        let qs = sketch(q, d);
        let mut order: Vec<(f64, usize)> = sketches
            .iter()
            .enumerate()
            .map(|(i, s)| (euclidean(&qs, s), i))
            .collect();
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // (distance, training index): the smaller pair wins, so ties go to
        // the first in training order whatever the visiting order
        let mut best = (f64::INFINITY, usize::MAX);
        let mut next = order.iter().map(|&(_, i)| i);
        loop {
            // the next candidates the ends bound cannot rule out (a bound
            // above the best so far: that one cannot be nearer, or as near)
            let mut block = Vec::with_capacity(LANES);
            for i in next.by_ref() {
                if dtw_ends(&q.values, &train[i].values, d) <= best.0 {
                    block.push(i);
                    if !lanes || block.len() == LANES {
                        break;
                    }
                }
            }
            let dists = match block.as_slice() {
                [] => break,
                &[i] => [dtw_band(&q.values, &train[i].values, d, band, best.0); LANES],
                many => {
                    let seqs: Vec<&[f64]> = many.iter().map(|&i| &train[i].values[..]).collect();
                    dtw_band_lanes(&q.values, &interleave(&seqs), d, band, best.0)
                }
            };
            for (&i, &dist) in block.iter().zip(&dists) {
                if (dist, i) < best {
                    best = (dist, i);
                }
            }
        }
        match best.1 {
            usize::MAX => classes.first().copied().unwrap_or(0),
            i => classes[i],
        }
    };
    test.par_iter().map(near).collect()
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
            let dist = dtw_band(&q.values, &s.values, d, band, f64::INFINITY);
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
}
