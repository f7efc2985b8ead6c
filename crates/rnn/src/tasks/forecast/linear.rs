//! [`Linear`]: the AR(p) baseline, a linear map from a window's encoded
//! inputs to its targets fitted by least squares on the same windows the
//! network is trained on (an ARX model when there are feature columns).

use super::windows::Window;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A linear forecaster of the encoded series: `o = B^T [x; 1]` with `x` the
/// `[W * I]` window (time-major, the target first at every step) and `B`
/// `[W * I + 1, O]`.
///
/// ```
/// use rnn::tasks::forecast::{windows, Linear};
/// // y_t = 0.5 y_{t-1} + 1: recovered from its windows (up to the ridge)
/// let mut y = vec![100.0];
/// for _ in 0..12 { y.push(0.5 * y.last().unwrap() + 1.0); }
/// let wins = windows(y.len(), 1, 1)?;
/// let ar = Linear::fit(&y, 1, &wins.iter().collect::<Vec<_>>()).unwrap();
/// assert!((ar.predict(&[10.0])?[0] - 6.0).abs() < 1e-2);
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Inputs per window, `W * I`.
    pub inputs: usize,
    /// Outputs, `O`.
    pub outputs: usize,
    /// Coefficients `[W * I + 1, O]`, the intercept row last.
    pub coef: Vec<f64>,
}

/// Solves `A x = b` in place for a symmetric positive definite `A` (`[n, n]`)
/// and `m` right-hand sides `b` (`[n, m]`) by Cholesky; `None` when `A` is
/// not positive definite.
pub(crate) fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize, m: usize) -> Option<()> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for c in 0..m {
        // L z = b, then L^T x = z
        for i in 0..n {
            let mut s = b[i * m + c];
            for k in 0..i {
                s -= a[i * n + k] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = b[i * m + c];
            for k in i + 1..n {
                s -= a[k * n + i] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
    }
    Some(())
}

impl Linear {
    /// Least squares on windows `wins` of the encoded series `enc` (`[N, I]`,
    /// `I = width`, the target in column 0), with a ridge of 1e-6 times the
    /// mean diagonal of `X^T X` for stability. `None` without windows, when
    /// the windows differ in shape or one lies outside `enc`, or `width` is 0.
    pub fn fit(enc: &[f64], width: usize, wins: &[&Window]) -> Option<Linear> {
        Linear::fit_lags(enc, width, wins, &[])
    }

    /// [`Linear::fit`] on the target's values at `lags` only (1 = the last
    /// step of the window; features are left out too): the other inputs get
    /// coefficient 0. Empty `lags`: every input, as `fit`. `None` without
    /// windows, when a lag is outside the window, or as [`Linear::fit`].
    ///
    /// ```
    /// use rnn::tasks::forecast::{windows, Linear};
    /// // y_t = 0.8 y_{t-4} + 1 from a window of 4 using lag 4 alone
    /// let mut y: Vec<f64> = vec![1.0, 5.0, -2.0, 3.0];
    /// for t in 4..40 { y.push(0.8 * y[t - 4] + 1.0); }
    /// let wins = windows(y.len(), 4, 1)?;
    /// let ar = Linear::fit_lags(&y, 1, &wins.iter().collect::<Vec<_>>(), &[4]).unwrap();
    /// assert_eq!(&ar.coef[1..4], &[0.0; 3]); // lags 3, 2, 1 unused
    /// assert!((ar.coef[0] - 0.8).abs() < 1e-3 && (ar.coef[4] - 1.0).abs() < 1e-2);
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn fit_lags(enc: &[f64], width: usize, wins: &[&Window], lags: &[usize]) -> Option<Linear> {
        let first = wins.first()?;
        let (steps, o) = (first.input.len(), first.target.len());
        // every window of the first one's shape, its rows inside `enc`
        let inside = |w: &Window| {
            w.input.start <= w.input.end
                && w.target.start <= w.target.end
                && w.input.len() == steps
                && w.target.len() == o
                && (w.input.end.max(w.target.end))
                    .checked_mul(width)
                    .is_some_and(|end| end <= enc.len())
        };
        if width == 0 || !wins.iter().all(|w| inside(w)) {
            return None;
        }
        let p = steps * width;
        // the input positions used: window row `steps - lag`, column 0
        let cols: Vec<usize> = if lags.is_empty() {
            (0..p).collect()
        } else {
            if lags.iter().any(|&l| l == 0 || l > steps) {
                return None;
            }
            lags.iter().map(|&l| (steps - l) * width).collect()
        };
        let n = cols.len() + 1;
        let mut xtx = vec![0.0; n * n]; // [C + 1, C + 1]
        let mut xty = vec![0.0; n * o]; // [C + 1, O]
        let mut x = vec![0.0; n];
        for w in wins {
            let row = &enc[w.input.start * width..w.input.end * width];
            for (xi, &c) in x.iter_mut().zip(&cols) {
                *xi = row[c];
            }
            x[n - 1] = 1.0;
            for i in 0..n {
                for j in 0..=i {
                    xtx[i * n + j] += x[i] * x[j];
                }
                for k in 0..o {
                    xty[i * o + k] += x[i] * enc[(w.target.start + k) * width];
                }
            }
        }
        let ridge = 1e-6 * (0..n).map(|i| xtx[i * n + i]).sum::<f64>() / n as f64;
        for i in 0..n {
            xtx[i * n + i] += ridge.max(1e-12);
            for j in 0..i {
                xtx[j * n + i] = xtx[i * n + j];
            }
        }
        cholesky_solve(&mut xtx, &mut xty, n, o)?;
        if lags.is_empty() {
            return Some(Linear {
                inputs: p,
                outputs: o,
                coef: xty,
            });
        }
        let mut coef = vec![0.0; (p + 1) * o]; // [P + 1, O]
        for (i, &c) in cols.iter().chain(std::iter::once(&p)).enumerate() {
            coef[c * o..(c + 1) * o].copy_from_slice(&xty[i * o..(i + 1) * o]);
        }
        Some(Linear {
            inputs: p,
            outputs: o,
            coef,
        })
    }

    /// The model that ignores its inputs: every output is `value` (all
    /// coefficients 0). With `value` the encoded zero change of a
    /// differenced series (`-mean / std` of its [`super::Pipeline`]) it is
    /// the naive forecast (differencing 1; the seasonal naive one for
    /// differencing by the season). An error when its `(inputs + 1) *
    /// outputs` coefficients do not fit in memory.
    ///
    /// ```
    /// use rnn::tasks::forecast::Linear;
    /// let c = Linear::constant(3, 2, -0.5)?;
    /// assert_eq!(c.predict(&[7.0, 8.0, 9.0])?, [-0.5, -0.5]);
    /// assert!(Linear::constant(usize::MAX, 2, 0.0).is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn constant(inputs: usize, outputs: usize, value: f64) -> Result<Linear> {
        let what = || format!("a linear model of {inputs} inputs and {outputs} outputs");
        let n = inputs
            .checked_add(1)
            .and_then(|p| p.checked_mul(outputs))
            .ok_or_else(|| Error::argument("inputs", "a model that fits in memory", what()))?;
        let mut coef = crate::memory::try_filled(what, n, 0.0)?; // [P + 1, O]
        coef[inputs * outputs..].iter_mut().for_each(|c| *c = value);
        Ok(Linear {
            inputs,
            outputs,
            coef,
        })
    }

    /// [`Linear::constant`] at 0 over a window of `window` steps of `width`
    /// values each (`inputs = window * width`), for the linear forms of the
    /// other models (`Level::linear`, `Arma::linear`) to fill in: an error
    /// when the window's inputs overflow or do not fit in memory.
    pub(crate) fn zeros_over(window: usize, width: usize, outputs: usize) -> Result<Linear> {
        // a model of no window, width or outputs came back Ok and forecast
        // nothing (the library sweep of session 53, finding 15)
        for (what, v) in [("window", window), ("width", width), ("outputs", outputs)] {
            if v == 0 {
                return Err(Error::argument(what, "at least 1", v));
            }
        }
        let inputs = window.checked_mul(width).ok_or_else(|| {
            Error::argument("width", "a window of inputs that fits in memory", width)
        })?;
        Linear::constant(inputs, outputs, 0.0)
    }

    /// The `O` outputs for one window `x` (`[W * I]`): an error when `x`
    /// holds another number of values, or the coefficients (public, so
    /// perhaps edited) are not `[W * I + 1, O]`.
    ///
    /// ```
    /// use rnn::tasks::forecast::Linear;
    /// let c = Linear::constant(2, 1, 0.5)?;
    /// assert_eq!(c.predict(&[1.0, 2.0])?, [0.5]);
    /// assert!(c.predict(&[1.0, 2.0, 3.0]).is_err()); // a window of 3 for a model of 2
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        let want = self
            .inputs
            .checked_add(1)
            .and_then(|p| p.checked_mul(self.outputs));
        if want != Some(self.coef.len()) {
            return Err(Error::argument(
                "coef",
                format!(
                    "(inputs + 1) * outputs = ({} + 1) * {} coefficients",
                    self.inputs, self.outputs
                ),
                format!("{} coefficients", self.coef.len()),
            ));
        }
        if x.len() != self.inputs {
            return Err(Error::argument(
                "x",
                format!("a window of the model's {} inputs", self.inputs),
                format!("{} values", x.len()),
            ));
        }
        Ok(self.outputs_of(x))
    }

    /// [`Linear::predict`] of a window known to fit the model.
    pub(crate) fn outputs_of(&self, x: &[f64]) -> Vec<f64> {
        let o = self.outputs;
        let mut out = self.coef[self.inputs * o..].to_vec();
        for (i, v) in x.iter().enumerate().take(self.inputs) {
            for (k, r) in out.iter_mut().enumerate() {
                *r += v * self.coef[i * o + k];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::forecast::windows::windows;

    #[test]
    fn least_squares_by_hand() {
        // y = 2 x + 1 at x = 0, 1, 2 with a window of one step: windows
        // (0 -> 1), (1 -> 3)... on the series 0, 1, 3, 7: y_t = 2 y_{t-1} + 1
        let enc = [0.0, 1.0, 3.0, 7.0];
        let wins = windows(4, 1, 1).unwrap();
        let m = Linear::fit(&enc, 1, &wins.iter().collect::<Vec<_>>()).unwrap();
        assert!((m.coef[0] - 2.0).abs() < 1e-4 && (m.coef[1] - 1.0).abs() < 1e-4);
        // windows past the series, of other shapes, or a width of 0: None,
        // not a panic (a window 0..5 on 2 values panicked)
        let far = Window {
            input: 0..5,
            target: 5..6,
        };
        assert!(Linear::fit(&[1.0, 2.0], 1, &[&far]).is_none());
        let other = Window {
            input: 0..2,
            target: 2..3,
        };
        assert!(Linear::fit(&enc, 1, &[&wins[0], &other]).is_none());
        assert!(Linear::fit(&enc, 0, &[&wins[0]]).is_none());
        // two outputs: the next two values of a series rising by 1
        let enc: Vec<f64> = (0..10).map(f64::from).collect();
        let wins = windows(10, 2, 2).unwrap();
        let m = Linear::fit(&enc, 1, &wins.iter().collect::<Vec<_>>()).unwrap();
        let f = m.predict(&[20.0, 21.0]).unwrap();
        assert!(
            (f[0] - 22.0).abs() < 1e-3 && (f[1] - 23.0).abs() < 1e-3,
            "{f:?}"
        );
        assert!(Linear::fit(&enc, 1, &[]).is_none());
    }

    #[test]
    fn seasonal_lags_by_hand() {
        // y_t = 0.3 y_{t-1} - 0.9 y_{t-4} + 2, noise free, from four values
        // that are not on its path (a slowly damped swing): lags 1 and 4 of
        // a window of 6 recover it
        let mut y = vec![3.0, -1.0, 4.0, 1.0];
        for t in 4..40 {
            y.push(0.3 * y[t - 1] - 0.9 * y[t - 4] + 2.0);
        }
        let wins = windows(y.len(), 6, 1).unwrap();
        let refs: Vec<&Window> = wins.iter().collect();
        let m = Linear::fit_lags(&y, 1, &refs, &[1, 4]).unwrap();
        // window rows 0..6 hold lags 6..1: lag 4 is row 2, lag 1 row 5
        let want = [0.0, 0.0, -0.9, 0.0, 0.0, 0.3, 2.0];
        for (c, w) in m.coef.iter().zip(want) {
            assert!((c - w).abs() < 1e-3, "{:?}", m.coef);
        }
        assert_eq!((m.inputs, m.outputs, m.coef.len()), (6, 1, 7));
        // one step from the window 1, 2, 3, 4, 5, 6: 0.3 * 6 - 0.9 * 3 + 2
        let f = m.predict(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap()[0];
        assert!((f - 1.1).abs() < 1e-3, "{f}");
        // no lags: every input, exactly as `fit`
        assert_eq!(
            Linear::fit_lags(&y, 1, &refs, &[]),
            Linear::fit(&y, 1, &refs)
        );
        // a lag outside the window
        assert!(Linear::fit_lags(&y, 1, &refs, &[7]).is_none());
        assert!(Linear::fit_lags(&y, 1, &refs, &[0]).is_none());
    }
}
