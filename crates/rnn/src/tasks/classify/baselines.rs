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
    let near = |q: &Sequence| {
        let mut best = (f64::INFINITY, classes.first().copied().unwrap_or(0));
        for (s, &c) in train.iter().zip(classes) {
            let dist = match distance {
                Distance::Euclidean => euclidean(&q.values, &s.values),
                Distance::Dtw => dtw(&q.values, &s.values, dims, best.0),
            };
            if dist < best.0 {
                best = (dist, c);
            }
        }
        best.1
    };
    Some(test.par_iter().map(near).collect())
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
