//! Training windows, their minibatches, and evaluation origins.

use crate::Result;
use std::ops::Range;

/// One training example: input rows and target rows of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The `window` input steps.
    pub input: Range<usize>,
    /// The `horizon` steps right after them.
    pub target: Range<usize>,
}

/// Every window of `window` input steps followed by `horizon` target steps
/// inside `0..n`, in order of their start (none when they do not fit); an
/// error when their list does not fit in memory.
///
/// ```
/// use rnn::tasks::forecast::windows;
/// let w = windows(5, 2, 1)?;
/// assert_eq!((w.len(), w[2].input.clone(), w[2].target.clone()), (3, 2..4, 4..5));
/// assert!(windows(1 << 60, 1, 1).is_err()); // 2^60 windows: not an abort
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn windows(n: usize, window: usize, horizon: usize) -> Result<Vec<Window>> {
    if window == 0 || horizon == 0 || n < window.saturating_add(horizon) {
        return Ok(Vec::new());
    }
    let count = n - window - horizon + 1;
    let what = || format!("{count} windows of {window} + {horizon} steps");
    let mut all = crate::memory::try_with_capacity(what, count)?;
    all.extend((0..count).map(|s| Window {
        input: s..s + window,
        target: s + window..s + window + horizon,
    }));
    Ok(all)
}

/// The forecast origins for evaluating the last `test` rows of a series of
/// `n` rows at horizon `horizon`: the test block is cut into consecutive
/// blocks of `horizon` rows (the last one may be shorter); each block is
/// forecast at once from the data before it. Returns `(origin, len)` pairs:
/// rows `origin..origin+len` are forecast from rows `0..origin`. None for
/// `horizon` 0 (blocks of no rows).
///
/// ```
/// use rnn::tasks::forecast::eval_origins;
/// assert_eq!(eval_origins(10, 5, 2), [(5, 2), (7, 2), (9, 1)]);
/// assert!(eval_origins(5, 2, 0).is_empty());
/// ```
pub fn eval_origins(n: usize, test: usize, horizon: usize) -> Vec<(usize, usize)> {
    if horizon == 0 {
        return Vec::new();
    }
    let start = n.saturating_sub(test);
    (start..n)
        .step_by(horizon.max(1))
        .map(|o| (o, horizon.min(n - o)))
        .collect()
}

/// The `[W, B, I]` inputs and `[B, O]` targets (as `f32`) of a minibatch of
/// windows of the encoded series `enc` (`[N, I]`, `I = width`, the target in
/// column 0). All windows have the same lengths; `wins` is not empty.
pub(crate) fn batch_of(enc: &[f64], width: usize, wins: &[&Window]) -> (Vec<f32>, Vec<f32>) {
    let (b, steps) = (wins.len(), wins[0].input.len());
    let o = wins[0].target.len();
    let mut x = vec![0f32; steps * b * width]; // [W, B, I]
    let mut y = vec![0f32; b * o]; // [B, O]
    for (j, w) in wins.iter().enumerate() {
        for t in 0..steps {
            let src = (w.input.start + t) * width;
            let dst = (t * b + j) * width;
            for i in 0..width {
                x[dst + i] = enc[src + i] as f32;
            }
        }
        for k in 0..o {
            y[j * o + k] = enc[(w.target.start + k) * width] as f32;
        }
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_construction() {
        let w = windows(6, 3, 2).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0],
            Window {
                input: 0..3,
                target: 3..5
            }
        );
        assert_eq!(
            w[1],
            Window {
                input: 1..4,
                target: 4..6
            }
        );
        assert!(windows(4, 3, 2).unwrap().is_empty());
        assert_eq!(eval_origins(10, 5, 1).len(), 5);
        assert_eq!(eval_origins(10, 5, 2), [(5, 2), (7, 2), (9, 1)]);
        assert_eq!(eval_origins(144, 24, 24), [(120, 24)]);
    }

    #[test]
    fn minibatch_layout_by_hand() {
        // rows (target, feature): (0, 10), (1, 11), (2, 12), (3, 13)
        let enc = [0.0, 10.0, 1.0, 11.0, 2.0, 12.0, 3.0, 13.0];
        let w = windows(4, 2, 1).unwrap();
        let (x, y) = batch_of(&enc, 2, &[&w[0], &w[1]]);
        // [W = 2, B = 2, I = 2]: step 0 of both windows, then step 1
        assert_eq!(x, [0.0, 10.0, 1.0, 11.0, 1.0, 11.0, 2.0, 12.0]);
        assert_eq!(y, [2.0, 3.0]);
    }
}
