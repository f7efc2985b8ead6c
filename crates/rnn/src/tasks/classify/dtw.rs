//! Dynamic time warping between two sequences of frames (dependent: all
//! dimensions of a frame warp together, squared Euclidean cost between
//! frames), at full window or inside a Sakoe-Chiba band, and the choice of
//! that band for the 1-NN baseline of `rnn eval` ([`DtwWindow`]).

use crate::{Error, Result};

/// The squared-Euclidean DTW distance between `a` (`[n, d]`) and `b`
/// (`[m, d]`) at full window, O(n*m): [`dtw_band`] with no limit on the band.
/// Returns infinity as soon as it is sure to exceed `limit` (every cell of a
/// row above it), so a nearest-neighbour search can skip hopeless
/// candidates. An error when `d` is 0, when `a` or `b` is not a whole
/// number of frames (at least one), or holds a value that is not finite.
///
/// ```
/// use rnn::tasks::classify::dtw;
/// // [0, 1, 2] and [0, 1, 1, 2] warp onto each other exactly
/// assert_eq!(dtw(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0, 2.0], 1, f64::INFINITY).unwrap(), 0.0);
/// // a one-step shift costs only at the ends, unlike the Euclidean distance
/// assert_eq!(dtw(&[0.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 0.0, 0.0], 1, f64::INFINITY).unwrap(), 0.0);
/// assert_eq!(dtw(&[0.0, 3.0], &[1.0, 1.0], 1, f64::INFINITY).unwrap(), 1.0 + 4.0);
/// // three values are not frames of two
/// let e = dtw(&[1.0, 2.0, 3.0], &[1.0, 2.0], 2, f64::INFINITY).unwrap_err();
/// assert_eq!(e.to_string(), "a: expected whole frames of d = 2 values, at least one, got 3 values");
/// ```
pub fn dtw(a: &[f64], b: &[f64], d: usize, limit: f64) -> Result<f64> {
    dtw_band(a, b, d, usize::MAX, limit)
}

/// Checks that `a` and `b` are whole frames of `d` values (at least one
/// each) of finite values: the arguments of [`dtw_band`].
fn check_frames(a: &[f64], b: &[f64], d: usize) -> Result<()> {
    if d == 0 {
        return Err(Error::argument("d", "at least 1 value per frame", "0"));
    }
    for (name, s) in [("a", a), ("b", b)] {
        if s.is_empty() || !s.len().is_multiple_of(d) {
            return Err(Error::argument(
                name,
                format!("whole frames of d = {d} values, at least one"),
                format!("{} values", s.len()),
            ));
        }
        crate::nn::model::finite(name, s)?;
    }
    Ok(())
}

/// [`dtw`] inside a Sakoe-Chiba band: frame `i` of `a` may only be matched
/// with frames `j` of `b` where `|i - j| <= max(band, |n - m|)` (widened to
/// the length difference so a path from the first frames to the last always
/// exists). `band = 0` on equal lengths is the squared Euclidean distance;
/// `band >= max(n, m) - 1` is the full window. O(n * (2 band + 1)).
///
/// ```
/// use rnn::tasks::classify::dtw_band;
/// let (a, b) = ([0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]);
/// // a one-frame shift: free with a band of one frame, not with none
/// assert_eq!(dtw_band(&a, &b, 1, 1, f64::INFINITY).unwrap(), 0.0);
/// assert_eq!(dtw_band(&a, &b, 1, 0, f64::INFINITY).unwrap(), 2.0);
/// assert!(dtw_band(&a, &[f64::NAN], 1, 0, f64::INFINITY).is_err());
/// ```
pub fn dtw_band(a: &[f64], b: &[f64], d: usize, band: usize, limit: f64) -> Result<f64> {
    check_frames(a, b, d)?;
    Ok(band_distance(a, b, d, band, limit))
}

/// [`dtw_band`] without its checks, for the crate's searches over sequences
/// already read and checked (whole frames, `d` at least 1, finite).
pub(super) fn band_distance(a: &[f64], b: &[f64], d: usize, band: usize, limit: f64) -> f64 {
    // one lane: `b` laid out as it is
    lanes::<1>(a, b, d, band, limit)[0]
}

/// Candidates [`dtw_band_lanes`] compares a sequence with at once.
pub(super) const LANES: usize = 16;

/// `seqs` (each `[m, d]`, one length) interleaved for [`dtw_band_lanes`]:
/// value `k` of frame `j` of sequence `l` at `(j * d + k) * LANES + l`;
/// lanes past `seqs.len()` repeat the first sequence.
pub(super) fn interleave(seqs: &[&[f64]]) -> Vec<f64> {
    let len = seqs.first().map_or(0, |s| s.len());
    let mut out = vec![0.0; len * LANES];
    for l in 0..LANES {
        let s = seqs.get(l).unwrap_or(&seqs[0]);
        for (v, o) in s.iter().zip(out.iter_mut().skip(l).step_by(LANES)) {
            *o = *v;
        }
    }
    out
}

/// [`dtw_band`] of `a` (`[n, d]`) against [`LANES`] sequences of one length
/// `m` at once, `b` as [`interleave`] lays them out: each lane's distance is
/// the one `dtw_band(a, b_l, d, band, f64::INFINITY)` returns, bit for bit
/// (the same operations in the same order, lane by lane), or all are
/// infinity as soon as every lane is sure to exceed `limit`. The lanes'
/// recurrences are independent, so they fill the vector units that one
/// recurrence (a chain of dependent min and add) leaves idle. Runs the
/// AVX-512 or AVX2 build where the CPU has one (the same operations, no
/// fused multiply-add: the same bits).
pub(super) fn dtw_band_lanes(
    a: &[f64],
    b: &[f64],
    d: usize,
    band: usize,
    limit: f64,
) -> [f64; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::{has_avx2, has_avx512};
        if has_avx512() {
            // SAFETY: the CPU has AVX-512F (checked just above)
            return unsafe { lanes_avx512(a, b, d, band, limit) };
        }
        if has_avx2() {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { lanes_avx2(a, b, d, band, limit) };
        }
    }
    lanes::<LANES>(a, b, d, band, limit)
}

/// [`lanes`] compiled for AVX-512F.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn lanes_avx512(a: &[f64], b: &[f64], d: usize, band: usize, limit: f64) -> [f64; LANES] {
    lanes::<LANES>(a, b, d, band, limit)
}

/// [`lanes`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lanes_avx2(a: &[f64], b: &[f64], d: usize, band: usize, limit: f64) -> [f64; LANES] {
    lanes::<LANES>(a, b, d, band, limit)
}

/// DTW of `a` (`[n, d]`) against `L` sequences of one length `m`, `b`
/// interleaved (value `k` of frame `j` of sequence `l` at `(j * d + k) * L +
/// l`; for `L = 1`, one sequence as it is): the body of [`dtw_band`] (one
/// lane) and of [`dtw_band_lanes`] (inlined into each build). Infinity for
/// every lane as soon as every lane's row is above `limit`.
#[inline(always)]
fn lanes<const L: usize>(a: &[f64], b: &[f64], d: usize, band: usize, limit: f64) -> [f64; L] {
    let inf = [f64::INFINITY; L];
    let (n, m) = (a.len() / d, b.len() / (d * L));
    if n == 0 || m == 0 {
        return inf;
    }
    let r = band.max(n.abs_diff(m));
    // rows of the cumulative cost D(i, j) = cost(i, j) + min(D(i-1, j),
    // D(i-1, j-1), D(i, j-1)), every lane; cells outside the band stay
    // infinite (the band's ends never move left, so a cell right of the
    // previous row's band was never written, and the one left of this
    // row's is reset)
    let mut prev = vec![inf; m]; // [m][L]
    let mut cur = vec![inf; m]; // [m][L]
    for i in 0..n {
        let (lo, hi) = (i.saturating_sub(r), (i.saturating_add(r)).min(m - 1));
        if lo > 0 {
            cur[lo - 1] = inf;
        }
        let x = &a[i * d..(i + 1) * d]; // [d]
        let mut row_min = inf;
        for j in lo..=hi {
            // cost(i, j) = sum_k (a_ik - b_jk)^2, lane by lane
            let frame = &b[j * d * L..(j + 1) * d * L]; // [d][L]
            let mut c = [0.0; L];
            for (&xk, y) in x.iter().zip(frame.chunks_exact(L)) {
                for (cl, &yl) in c.iter_mut().zip(y) {
                    *cl += (xk - yl) * (xk - yl);
                }
            }
            let best = match (i, j) {
                (0, 0) => [0.0; L],
                (0, _) => cur[j - 1],
                (_, 0) => prev[0],
                _ => {
                    let (up, diag, left) = (prev[j], prev[j - 1], cur[j - 1]);
                    std::array::from_fn(|l| up[l].min(diag[l]).min(left[l]))
                }
            };
            let v: [f64; L] = std::array::from_fn(|l| best[l] + c[l]);
            for (mn, &x) in row_min.iter_mut().zip(&v) {
                *mn = mn.min(x);
            }
            cur[j] = v;
        }
        if row_min.iter().all(|&x| x > limit) {
            return inf;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m - 1]
}

/// A lower bound of [`dtw`]`(a, b)`: every warping path takes the first
/// frames together and the last frames together (one cell when both have
/// one frame).
pub(super) fn dtw_ends(a: &[f64], b: &[f64], d: usize) -> f64 {
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

/// The squared Euclidean distance between two frames or sequences of equal length.
pub(super) fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// How much DTW work (cells of the cost matrices, summed over every test and
/// training pair) [`DtwWindow::Auto`] allows at full window before it
/// narrows the band: about a minute of two cores at the rates measured on
/// FordA-sized data (500 frames, 16 training sequences at a time:
/// 1.9e9 cells a second per core with AVX2, 3.2e9 with AVX-512; see
/// docs/classification.md).
pub const DTW_CELLS: f64 = 1.2e11;

/// How many times the budget shrinks when the training sequences' lengths
/// differ: compared one at a time, not [`LANES`] at once, a cell costs 5 to
/// 9 times more (3.4e8 cells a second per core), but one at a time each is
/// abandoned against the best distance so far, which prunes more.
const VARYING_COST: f64 = 2.0;

/// The warping window of the 1-NN DTW baseline of `rnn eval`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum DtwWindow {
    /// The full window when its work is at most [`DTW_CELLS`] (half of
    /// that when the training lengths differ), else the widest band whose
    /// work is (so `rnn eval` of a large set finishes).
    #[default]
    Auto,
    /// The full window whatever the work.
    Full,
    /// A band of this fraction of the longest sequence's length (in
    /// `[0, 1]`; 1 is the full window).
    Fraction(f64),
}

impl DtwWindow {
    /// Reads `auto`, `full` or a fraction in `[0, 1]` (`0.1`: a band of
    /// 10 % of the longest length), as `rnn eval --dtw-window` takes it.
    ///
    /// ```
    /// use rnn::tasks::classify::DtwWindow;
    /// assert_eq!(DtwWindow::parse("0.1").unwrap(), DtwWindow::Fraction(0.1));
    /// assert_eq!(DtwWindow::parse("full").unwrap(), DtwWindow::Full);
    /// assert!(DtwWindow::parse("1.5").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::Argument {
            arg: "dtw_window".into(),
            expected: "auto, full or a fraction of the longest length in [0, 1]".into(),
            got: format!("{text:?}"),
        };
        match text.trim() {
            "auto" => Ok(Self::Auto),
            "full" => Ok(Self::Full),
            t => match t.parse::<f64>() {
                Ok(f) if (0.0..=1.0).contains(&f) => Ok(Self::Fraction(f)),
                _ => Err(bad()),
            },
        }
    }

    /// The band in frames for test sequences of `test` lengths against
    /// training sequences of `train` lengths (`None`: the full window).
    ///
    /// ```
    /// use rnn::tasks::classify::DtwWindow;
    /// // 10 x 20 pairs of 100 frames: 2e6 cells at full window, under the budget
    /// assert_eq!(DtwWindow::Auto.band(&[100; 20], &[100; 10]), None);
    /// assert_eq!(DtwWindow::Fraction(0.1).band(&[100; 20], &[100; 10]), Some(10));
    /// ```
    pub fn band(self, train: &[usize], test: &[usize]) -> Option<usize> {
        let longest = train.iter().chain(test).copied().max().unwrap_or(0);
        let band = match self {
            Self::Full => return None,
            Self::Fraction(f) => (f * longest as f64).round() as usize,
            Self::Auto => {
                let pairs = length_pairs(train, test);
                let equal = train.windows(2).all(|w| w[0] == w[1]);
                let budget = DTW_CELLS / if equal { 1.0 } else { VARYING_COST };
                if dtw_cells(&pairs, usize::MAX) <= budget {
                    return None;
                }
                // the widest band within the budget (the work grows with it)
                let (mut lo, mut hi) = (0, longest);
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if dtw_cells(&pairs, mid) <= budget {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                lo
            }
        };
        (band + 1 < longest).then_some(band)
    }
}

/// Cells of an `n` x `m` cost matrix inside the band `|i - j| <= r`
/// (`r < max(n, m)`): row `i` holds the columns `max(0, i - r) ..=
/// min(m - 1, i + r)`, summed in closed form.
fn band_cells(n: usize, m: usize, r: usize) -> usize {
    // rows with i + r <= m - 1 end at i + r, the others at m - 1
    let k = n.min(m.saturating_sub(r));
    let ends = k * k.saturating_sub(1) / 2 + k * r + (n - k) * (m - 1);
    // rows with i > r start at i - r, the others at 0
    let t = n.saturating_sub(r + 1);
    let starts = t * (t + 1) / 2;
    ends + n - starts
}

/// How often each (test length, training length) pair occurs.
fn length_pairs(train: &[usize], test: &[usize]) -> Vec<(usize, usize, f64)> {
    let count = |lengths: &[usize]| {
        let mut c = std::collections::BTreeMap::new();
        for &n in lengths {
            *c.entry(n).or_insert(0usize) += 1;
        }
        c
    };
    let (tr, te) = (count(train), count(test));
    te.iter()
        .flat_map(|(&n, &a)| tr.iter().map(move |(&m, &b)| (n, m, (a * b) as f64)))
        .collect()
}

/// Cells of the cost matrices of [`dtw_band`] over `pairs` of lengths (with
/// their counts) at `band`.
fn dtw_cells(pairs: &[(usize, usize, f64)], band: usize) -> f64 {
    pairs
        .iter()
        .map(|&(n, m, count)| {
            let r = band.max(n.abs_diff(m));
            let cells = if r >= n.max(m) {
                n * m
            } else {
                band_cells(n, m, r)
            };
            cells as f64 * count
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_ends_bound_is_below_the_distance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let (n, m) = (rng.random_range(1..12), rng.random_range(1..12));
            let a: Vec<f64> = (0..n * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f64> = (0..m * 2).map(|_| rng.random_range(-1.0..1.0)).collect();
            let full = dtw(&a, &b, 2, f64::INFINITY).unwrap();
            assert!(dtw_ends(&a, &b, 2) <= full + 1e-12, "{n} {m}");
        }
    }

    /// DTW in a band the textbook way: the whole (n+1) x (m+1) matrix, an
    /// infinite border and infinite cells outside `|i - j| <= r`.
    fn matrix_dtw(a: &[f64], b: &[f64], d: usize, band: usize) -> f64 {
        let (n, m) = (a.len() / d, b.len() / d);
        let r = band.max(n.abs_diff(m));
        let mut dm = vec![vec![f64::INFINITY; m + 1]; n + 1];
        dm[0][0] = 0.0;
        for i in 1..=n {
            for j in 1..=m {
                if (i - 1).abs_diff(j - 1) > r {
                    continue;
                }
                let c = euclidean(&a[(i - 1) * d..i * d], &b[(j - 1) * d..j * d]);
                let best = dm[i - 1][j].min(dm[i - 1][j - 1]).min(dm[i][j - 1]);
                dm[i][j] = best + c;
            }
        }
        dm[n][m]
    }

    #[test]
    fn the_band_gives_the_textbook_distance_and_the_lanes_the_same_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..300 {
            let d = 1 + case % 3;
            let (n, m) = (rng.random_range(1..30), rng.random_range(1..30));
            let band = [0, 1, 2, 5, 40, usize::MAX][case % 6];
            let seq = |rng: &mut rand_chacha::ChaCha8Rng, len: usize| -> Vec<f64> {
                (0..len * d).map(|_| rng.random_range(-2.0..2.0)).collect()
            };
            let a = seq(&mut rng, n);
            let want = matrix_dtw(&a, &seq(&mut rng, m), d, band);
            let bs: Vec<Vec<f64>> = (0..LANES).map(|_| seq(&mut rng, m)).collect();
            let refs: Vec<&[f64]> = bs.iter().map(|b| &b[..]).collect();
            let lanes = dtw_band_lanes(&a, &interleave(&refs), d, band, f64::INFINITY);
            for (l, b) in bs.iter().enumerate() {
                let one = dtw_band(&a, b, d, band, f64::INFINITY).unwrap();
                assert_eq!(one.to_bits(), lanes[l].to_bits(), "case {case} lane {l}");
                let want = matrix_dtw(&a, b, d, band);
                assert!(
                    (one - want).abs() <= 1e-12 * want.max(1.0),
                    "case {case}: {one} vs {want}"
                );
            }
            // a band at least as wide as the lengths is the full window
            if band >= n.max(m) {
                let b = seq(&mut rng, m);
                assert_eq!(
                    dtw_band(&a, &b, d, band, f64::INFINITY).unwrap(),
                    dtw(&a, &b, d, f64::INFINITY).unwrap()
                );
            }
            assert!(want.is_finite());
            // abandoning: infinity only when the distance is above the limit
            let full = dtw_band(&a, &bs[0], d, band, f64::INFINITY).unwrap();
            assert_eq!(dtw_band(&a, &bs[0], d, band, full).unwrap(), full);
            let cut = dtw_band(&a, &bs[0], d, band, full * 0.5).unwrap();
            assert!(cut.is_infinite() || cut == full, "case {case}");
        }
    }

    #[test]
    fn band_cells_counts_the_cells_of_the_band() {
        for n in 1..25usize {
            for m in 1..25usize {
                for r in n.abs_diff(m)..n.max(m) {
                    let count = (0..n)
                        .flat_map(|i| (0..m).map(move |j| (i, j)))
                        .filter(|&(i, j)| i.abs_diff(j) <= r)
                        .count();
                    assert_eq!(band_cells(n, m, r), count, "{n} x {m}, band {r}");
                }
            }
        }
    }

    #[test]
    fn auto_keeps_the_full_window_within_the_budget_and_else_the_widest_band_that_fits() {
        // 100 x 100 pairs of 200 frames: 4e8 cells, within the budget
        assert_eq!(DtwWindow::Auto.band(&[200; 100], &[200; 100]), None);
        // 1320 test against 3601 training sequences of 500 frames (FordA's
        // sizes): 1.19e12 cells at full window
        let (train, test) = (vec![500; 3601], vec![500; 1320]);
        let band = DtwWindow::Auto.band(&train, &test).unwrap();
        let pairs = length_pairs(&train, &test);
        assert!(dtw_cells(&pairs, band) <= DTW_CELLS);
        assert!(dtw_cells(&pairs, band + 1) > DTW_CELLS);
        assert!(band > 0 && band < 50, "{band}");
        // lengths that differ (one training sequence at a time): half
        let mut varying = train.clone();
        varying[0] = 499;
        let narrow = DtwWindow::Auto.band(&varying, &test).unwrap();
        let pairs = length_pairs(&varying, &test);
        assert!(dtw_cells(&pairs, narrow) <= DTW_CELLS / 2.0);
        assert!(dtw_cells(&pairs, narrow + 1) > DTW_CELLS / 2.0);
        // the fraction is of the longest length; 1 is the full window
        assert_eq!(DtwWindow::Fraction(0.1).band(&train, &test), Some(50));
        assert_eq!(DtwWindow::Fraction(1.0).band(&train, &test), None);
        assert_eq!(DtwWindow::Full.band(&train, &test), None);
        for bad in ["-0.1", "1.01", "NaN", "wide", ""] {
            assert!(DtwWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
