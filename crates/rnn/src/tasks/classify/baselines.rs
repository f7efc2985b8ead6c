//! The baselines a network is measured against: the majority class and
//! 1-nearest-neighbour with Euclidean distance (equal lengths only) and with
//! dynamic time warping (full window, dependent: all dimensions of a frame
//! warp together, squared Euclidean cost between frames).

use super::data::Sequence;
use rayon::prelude::*;

/// The squared-Euclidean DTW distance between `a` (`[n, d]`) and `b`
/// (`[m, d]`), O(n*m). Returns infinity as soon as it is sure to exceed
/// `limit` (every cell of a row above it), so a nearest-neighbour search can
/// skip hopeless candidates.
///
/// ```
/// use rnn::tasks::classify::dtw;
/// // [0, 1, 2] and [0, 1, 1, 2] warp onto each other exactly
/// assert_eq!(dtw(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0, 2.0], 1, f64::INFINITY), 0.0);
/// // a one-step shift costs only at the ends, unlike the Euclidean distance
/// assert_eq!(dtw(&[0.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 0.0, 0.0], 1, f64::INFINITY), 0.0);
/// assert_eq!(dtw(&[0.0, 3.0], &[1.0, 1.0], 1, f64::INFINITY), 1.0 + 4.0);
/// ```
pub fn dtw(a: &[f64], b: &[f64], d: usize, limit: f64) -> f64 {
    let (n, m) = (a.len() / d, b.len() / d);
    if n == 0 || m == 0 {
        return f64::INFINITY;
    }
    let cost = |i: usize, j: usize| -> f64 {
        a[i * d..(i + 1) * d]
            .iter()
            .zip(&b[j * d..(j + 1) * d])
            .map(|(x, y)| (x - y) * (x - y))
            .sum()
    };
    let mut prev = vec![f64::INFINITY; m];
    let mut cur = vec![f64::INFINITY; m];
    for i in 0..n {
        let mut row_min = f64::INFINITY;
        for j in 0..m {
            let best = match (i, j) {
                (0, 0) => 0.0,
                (0, _) => cur[j - 1],
                (_, 0) => prev[0],
                _ => prev[j].min(prev[j - 1]).min(cur[j - 1]),
            };
            cur[j] = best + cost(i, j);
            row_min = row_min.min(cur[j]);
        }
        if row_min > limit {
            return f64::INFINITY;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m - 1]
}

/// The squared Euclidean distance between two sequences of equal length.
fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// How two sequences are compared by [`nearest_neighbour`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// Squared Euclidean distance (equal lengths).
    Euclidean,
    /// Dynamic time warping ([`dtw`]).
    Dtw,
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
    if distance == Distance::Dtw {
        return Some(nearest_dtw(train, classes, test, dims));
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

/// A lower bound of [`dtw`]`(a, b)`: every warping path takes the first
/// frames together and the last frames together (one cell when both have
/// one frame).
fn dtw_ends(a: &[f64], b: &[f64], d: usize) -> f64 {
    let (n, m) = (a.len() / d, b.len() / d);
    if n == 0 || m == 0 {
        return f64::INFINITY;
    }
    let first = euclidean(&a[..d], &b[..d]);
    if n == 1 && m == 1 {
        return first;
    }
    first + euclidean(&a[(n - 1) * d..], &b[(m - 1) * d..])
}

/// 1-NN with [`dtw`], the same answers as visiting the training sequences
/// in order (the first of equally near ones wins), but faster: each test
/// sequence visits them nearest first by the Euclidean distance of their
/// [`sketch`]es, so the best distance so far is tight early, and skips one
/// whose [`dtw_ends`] bound is above it or abandons its [`dtw`] once every
/// cell of a row is. (`rnn eval` of PLAID, 537 test against 537 training
/// sequences of up to 1344 frames: 41 s of CPU in training order, 17 s so.)
fn nearest_dtw(train: &[Sequence], classes: &[usize], test: &[Sequence], d: usize) -> Vec<usize> {
    let sketches: Vec<Vec<f64>> = train.iter().map(|s| sketch(s, d)).collect();
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
        for &(_, i) in &order {
            if dtw_ends(&q.values, &train[i].values, d) > best.0 {
                continue;
            }
            let dist = dtw(&q.values, &train[i].values, d, best.0);
            if (dist, i) < best {
                best = (dist, i);
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

    /// 1-NN DTW the plain way: every training sequence in order, the full
    /// distance, the first of equally near ones.
    fn plain(train: &[Sequence], classes: &[usize], q: &Sequence, d: usize) -> usize {
        let mut best = (f64::INFINITY, classes[0]);
        for (s, &c) in train.iter().zip(classes) {
            let dist = dtw(&q.values, &s.values, d, f64::INFINITY);
            if dist < best.0 {
                best = (dist, c);
            }
        }
        best.1
    }

    #[test]
    fn pruned_search_answers_as_the_plain_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..40 {
            let d = 1 + case % 3;
            // small integer values and lengths 1..40: many exact ties
            let seq = |rng: &mut rand_chacha::ChaCha8Rng| {
                let steps = rng.random_range(1..40);
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
            };
            let train: Vec<Sequence> = (0..25).map(|_| seq(&mut rng)).collect();
            let classes: Vec<usize> = (0..25).map(|i| (i * 7) % 4).collect();
            let test: Vec<Sequence> = (0..15).map(|_| seq(&mut rng)).collect();
            let want: Vec<usize> = test.iter().map(|q| plain(&train, &classes, q, d)).collect();
            assert_eq!(nearest_dtw(&train, &classes, &test, d), want, "case {case}");
        }
    }

    #[test]
    fn the_ends_bound_is_below_the_distance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let (n, m) = (rng.random_range(1..12), rng.random_range(1..12));
            let a: Vec<f64> = (0..n * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f64> = (0..m * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
            let full = dtw(&a, &b, 2, f64::INFINITY);
            assert!(dtw_ends(&a, &b, 2) <= full + 1e-12, "{n} {m}");
        }
    }
}
