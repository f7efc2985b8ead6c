//! [`Level`]: the local-level base forecasts, simple exponential smoothing
//! (the ARIMA(0,1,1) forecast) and its damped-trend form (Holt's method
//! with a damped trend, close to an ARIMA(1,1,2)). On a series close to a
//! random walk they smooth the last values where the naive forecast repeats
//! the last one; the trend form follows a drift that changes over time.
//! The grid offers simple exponential smoothing as a base; the damped trend
//! was measured as one and is not offered (docs/forecasting.md, Quality).

use super::linear::Linear;
use super::pipeline::Pipeline;
use crate::{Error, Result};

/// A local level (and trend) of a transformed series `z`, started at
/// `l_0 = z_0`, `b_0 = 0`: after the one-step error
/// `e_t = z_t - (l_{t-1} + phi b_{t-1})`, the level is
/// `l_t = l_{t-1} + phi b_{t-1} + alpha e_t` and the trend
/// `b_t = phi b_{t-1} + alpha beta e_t`; the forecast `j` steps after `t`
/// is `l_t + (phi + ... + phi^j) b_t`. With `beta` 0 the trend stays 0: simple
/// exponential smoothing, whose forecast is flat.
///
/// ```
/// use rnn::tasks::forecast::Level;
/// // 0, 2, 1: e_1 = 2, l_1 = 2 alpha, e_2 = 1 - 2 alpha; SSE 4 + (1 - 2 alpha)²
/// let l = Level::fit(&[0.0, 2.0, 1.0]).unwrap();
/// assert!((l.alpha - 0.5).abs() < 1e-6 && l.beta == 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Smoothing weight of the last error in the level, in (0, 1] (1
    /// without trend: the naive forecast).
    pub alpha: f64,
    /// Share of `alpha` the trend takes up, in [0, 1] (0: no trend).
    pub beta: f64,
    /// Damping of the trend per step, in (0, 1].
    pub phi: f64,
}

/// The share of a forecast's weight a truncated window may leave out
/// ([`Level::window`], [`super::Arma::window`]).
pub(super) const TRUNCATION: f64 = 0.05;

/// The smallest window, between 1 and `cap`, past which the absolute
/// one-step `weights` (lag 1 first) sum to at most [`TRUNCATION`] of
/// their total; `cap` when none is.
pub(super) fn covering_window(weights: &[f64], cap: usize) -> usize {
    let cap = cap.max(1);
    let total: f64 = weights.iter().map(|v| v.abs()).sum();
    let mut tail = total;
    for (k, v) in weights.iter().enumerate() {
        tail -= v.abs();
        if tail <= TRUNCATION * total + 1e-15 {
            return (k + 1).min(cap);
        }
    }
    cap
}

/// The most lags [`Level::window`] weighs (the smoothings of the grid cover
/// 95 % of their weight in a few hundred).
pub(super) const MAX_LAGS: usize = 4096;

/// Refuses a window of more than [`MAX_LAGS`] steps for the weights of a
/// base forecast, which cost `O(window^2)` (a window of `usize::MAX` was an
/// allocation of that size).
pub(super) fn check_lags(window: usize) -> Result<()> {
    if window > MAX_LAGS {
        return Err(Error::argument(
            "window",
            format!("at most {MAX_LAGS} steps"),
            window,
        ));
    }
    Ok(())
}

/// The damped trend's grid (the level's `alpha` in steps of 0.05).
const BETAS: [f64; 8] = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0];
const PHIS: [f64; 5] = [0.8, 0.85, 0.9, 0.95, 0.98];

impl Level {
    /// Simple exponential smoothing with weight `alpha`.
    pub fn ses(alpha: f64) -> Level {
        Level {
            alpha,
            beta: 0.0,
            phi: 1.0,
        }
    }

    /// An error naming the first parameter outside its range (`alpha` in
    /// (0, 1], `beta` in [0, 1], `phi` in (0, 1]): the fields are public,
    /// and a NaN or negative `alpha` gave NaN or exploding weights.
    ///
    /// ```
    /// use rnn::tasks::forecast::Level;
    /// assert!(Level::ses(0.5).check().is_ok());
    /// assert!(Level::ses(f64::NAN).check().is_err() && Level::ses(-1.0).check().is_err());
    /// ```
    pub fn check(&self) -> Result<()> {
        let within = |v: f64, lo_open: bool| v <= 1.0 && if lo_open { v > 0.0 } else { v >= 0.0 };
        for (name, v, open, range) in [
            ("alpha", self.alpha, true, "(0, 1]"),
            ("beta", self.beta, false, "[0, 1]"),
            ("phi", self.phi, true, "(0, 1]"),
        ] {
            if !within(v, open) {
                return Err(Error::argument(name, format!("a number in {range}"), v));
            }
        }
        Ok(())
    }

    /// Whether the model has a trend.
    pub fn trend(&self) -> bool {
        self.beta > 0.0
    }

    /// Runs the smoothing over `z` from `l_0 = z_0`, `b_0 = 0`: the sum of
    /// the squared one-step errors over `z[1..]` and the last level and trend.
    fn run(&self, z: &[f64]) -> (f64, f64, f64) {
        let Some(&first) = z.first() else {
            return (0.0, 0.0, 0.0);
        };
        let (mut l, mut b, mut sse) = (first, 0.0, 0.0);
        for &v in &z[1..] {
            let e = v - (l + self.phi * b);
            sse += e * e;
            l += self.phi * b + self.alpha * e;
            b = self.phi * b + self.alpha * self.beta * e;
        }
        (sse, l, b)
    }

    /// The sum of the squared one-step errors over `z[1..]`.
    pub fn sse(&self, z: &[f64]) -> f64 {
        self.run(z).0
    }

    /// Simple exponential smoothing fitted by least squares of the one-step
    /// errors on `z`: `alpha` in (0, 1] from a grid of steps of 0.01, then
    /// golden-section search around the grid's best point. `None` with
    /// fewer than 3 values or a non-finite one.
    pub fn fit(z: &[f64]) -> Option<Level> {
        if z.len() < 3 || z.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let sse = |alpha: f64| Level::ses(alpha).sse(z);
        let best = (1..=100)
            .map(|k| k as f64 / 100.0)
            .map(|a| (a, sse(a)))
            .fold((1.0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b });
        // golden section on [best - 0.01, best + 0.01] within (0, 1]
        let (mut lo, mut hi) = ((best.0 - 0.01).max(1e-4), (best.0 + 0.01).min(1.0));
        let g = (5f64.sqrt() - 1.0) / 2.0;
        let (mut a, mut b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        let (mut fa, mut fb) = (sse(a), sse(b));
        for _ in 0..40 {
            if fa <= fb {
                (hi, b, fb) = (b, a, fa);
                a = hi - g * (hi - lo);
                fa = sse(a);
            } else {
                (lo, a, fa) = (a, b, fb);
                b = lo + g * (hi - lo);
                fb = sse(b);
            }
        }
        let (mid, fmid) = if fa <= fb { (a, fa) } else { (b, fb) };
        Some(Level::ses(if fmid < best.1 { mid } else { best.0 }))
    }

    /// The damped trend fitted by least squares of the one-step errors on
    /// `z` over a grid: `alpha` 0.05 to 1 in steps of 0.05, `beta` in
    /// 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1 and `phi` in 0.8, 0.85, 0.9,
    /// 0.95, 0.98 (800 runs over `z`). `None` as [`Level::fit`].
    pub fn fit_trend(z: &[f64]) -> Option<Level> {
        if z.len() < 3 || z.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut best = (f64::INFINITY, None);
        for k in 1..=20 {
            for beta in BETAS {
                for phi in PHIS {
                    let l = Level {
                        alpha: k as f64 / 20.0,
                        beta,
                        phi,
                    };
                    let s = l.sse(z);
                    if s < best.0 {
                        best = (s, Some(l));
                    }
                }
            }
        }
        best.1
    }

    /// The weights of the forecast on a window of `window` differences:
    /// `[leads][window]`, entry `[j][k - 1]` the weight of the difference
    /// `k` steps back (k = 1 the last) in the forecast of the difference
    /// `j + 1` steps ahead. The smoothing is linear and shifting the whole
    /// series shifts the level alone, so the forecast of a difference is a
    /// sum of the window's differences; the weights are the forecasts of
    /// the unit step at each lag (the series 0 before it, 1 from it on).
    ///
    /// An error for a window of more than 4,096 steps (the weights cost
    /// `O(window^2)`) or weights that do not fit in memory.
    ///
    /// ```
    /// use rnn::tasks::forecast::Level;
    /// // simple exponential smoothing: the next difference l_t - y_t is
    /// // -sum_k (1 - alpha)^k times the difference k - 1 steps back
    /// assert_eq!(Level::ses(0.5).weights(3, 1)?, [[-0.5, -0.25, -0.125]]);
    /// assert!(Level::ses(0.5).weights(1 << 40, 1).is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn weights(&self, window: usize, leads: usize) -> Result<Vec<Vec<f64>>> {
        check_lags(window)?;
        self.check()?;
        let bytes = leads as f64 * (window as f64 * 8.0 + 24.0);
        crate::memory::ensure_fits(|| format!("the weights of {leads} leads"), bytes)?;
        Ok(self.weights_of(window, leads))
    }

    /// [`Level::weights`] of a window of at most [`MAX_LAGS`] steps.
    fn weights_of(&self, window: usize, leads: usize) -> Vec<Vec<f64>> {
        let mut w = vec![vec![0.0; window]; leads];
        let mut z = vec![0.0; window + 1];
        for k in 1..=window {
            // the unit step: z is 1 from row window + 1 - k on
            z[window + 1 - k] = 1.0;
            let (_, l, b) = self.run(&z);
            let (mut prev, mut damp, mut sum) = (1.0, 1.0, 0.0);
            for lead in w.iter_mut() {
                damp *= self.phi;
                sum += damp;
                let f = l + sum * b;
                lead[k - 1] = f - prev;
                prev = f;
            }
        }
        w
    }

    /// The window that leaves out at most 5 % of the weight of the
    /// one-step forecast (the sum of the absolute weights of
    /// [`Level::weights`] past `W`, of the first 400, or of the first `cap`
    /// up to 4,096), between 1 and `cap`. For simple exponential
    /// smoothing: the smallest `W` with `(1 - alpha)^W <= 0.05`.
    ///
    /// ```
    /// use rnn::tasks::forecast::Level;
    /// assert_eq!(Level::ses(0.5).window(48), 5); // 0.5^5 = 0.031 <= 0.05 < 0.5^4
    /// assert_eq!(Level::ses(0.5).window(usize::MAX), 5); // no capacity overflow
    /// ```
    pub fn window(&self, cap: usize) -> usize {
        // the weights cost O(lags^2): a cap past the lags any smoothing of
        // the grid needs is not worth computing (it overflowed at usize::MAX)
        covering_window(&self.weights_of(cap.clamp(400, MAX_LAGS), 1)[0], cap)
    }

    /// The forecast as a [`Linear`] model on windows of `window` steps of a
    /// series encoded by `pipeline` (transform, differencing 1, z-scoring;
    /// `width` inputs per step, the target first; `outputs` steps at
    /// once): with the weights `c_jk` of [`Level::weights`] and `x_k` the
    /// encoded difference `k` steps back, output `j` is `sum_k c_jk x_k +
    /// (mean / std) (sum_k c_jk - 1)`. It is the smoothing started at the
    /// value just before the window with no trend (the errors before it
    /// left out).
    ///
    /// ```
    /// use rnn::tasks::forecast::{Level, Pipeline, Transform};
    /// let y = [1.0, 2.0, 4.0, 3.0, 5.0, 6.0];
    /// let p = Pipeline::fit(&y, &[], Transform::None, &[1], ("y", &[]))?;
    /// let enc = p.encode(&y, &[])?;
    /// let lin = Level::ses(0.5).linear(5, 1, 1, &p)?;
    /// let next = p.decode(&y, &lin.predict(&enc)?)?;
    /// // the smoothing from l_0 = 1: levels 1.5, 2.75, 2.875, 3.9375, 4.96875
    /// assert!((next[0] - 4.96875).abs() < 1e-9);
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn linear(
        &self,
        window: usize,
        width: usize,
        outputs: usize,
        pipeline: &Pipeline,
    ) -> Result<Linear> {
        // [O][W]
        let weights = self.weights(window, outputs)?;
        // a std of 0 gave an infinite coefficient (session 53's sweep)
        if !(pipeline.std.is_finite() && pipeline.std > 0.0 && pipeline.mean.is_finite()) {
            return Err(Error::argument(
                "pipeline",
                "a finite mean and a positive finite std",
                format!("mean {}, std {}", pipeline.mean, pipeline.std),
            ));
        }
        let shift = pipeline.mean / pipeline.std;
        let mut lin = Linear::zeros_over(window, width, outputs)?; // [P + 1, O]
        let inputs = lin.inputs;
        for (j, c) in weights.iter().enumerate() {
            for (k, v) in c.iter().enumerate() {
                // window row `window - 1 - k` holds the difference k + 1 back
                lin.coef[(window - 1 - k) * width * outputs + j] = *v;
            }
            lin.coef[inputs * outputs + j] = shift * (c.iter().sum::<f64>() - 1.0);
        }
        Ok(lin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::forecast::Transform;

    #[test]
    fn sse_and_fit_by_hand() {
        // 0, 2, 1 with alpha 0.5: e_1 = 2, l_1 = 1, e_2 = 0: SSE 4; the
        // derivative of 4 + (1 - 2 alpha)² is 0 at alpha = 0.5 only
        let z = [0.0, 2.0, 1.0];
        assert_eq!(Level::ses(0.5).sse(&z), 4.0);
        assert!((Level::ses(0.2).sse(&z) - (4.0 + 0.36)).abs() < 1e-12);
        let f = Level::fit(&z).unwrap();
        assert!((f.alpha - 0.5).abs() < 1e-6, "{f:?}");
        // 0, 1, 1, 1: e = 1, 1 - alpha, (1 - alpha)²: SSE 1 + (1 - a)² +
        // (1 - a)^4, smallest at the bound alpha = 1 (the naive forecast)
        let f = Level::fit(&[0.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(f.alpha, 1.0);
        assert!(Level::fit(&[1.0, 2.0]).is_none());
        assert!(Level::fit(&[1.0, f64::NAN, 2.0]).is_none());
        // the trend by hand: 0, 1, 3 with alpha 1, beta 1, phi 0.9: e_1 = 1,
        // l_1 = 1, b_1 = 1; e_2 = 3 - (1 + 0.9) = 1.1: SSE 1 + 1.21
        let t = Level {
            alpha: 1.0,
            beta: 1.0,
            phi: 0.9,
        };
        assert!((t.sse(&[0.0, 1.0, 3.0]) - 2.21).abs() < 1e-12);
        // a straight line: the trend's errors fall far below the level's
        let line: Vec<f64> = (0..40).map(|t| 2.0 * t as f64).collect();
        let t = Level::fit_trend(&line).unwrap();
        assert!(t.trend() && t.sse(&line) < 0.2 * Level::fit(&line).unwrap().sse(&line));
    }

    #[test]
    fn windows_and_weights_by_hand() {
        // 0.5^5 = 0.031 <= 0.05 < 0.5^4 = 0.0625
        assert_eq!(Level::ses(0.5).window(48), 5);
        assert_eq!(Level::ses(0.5).window(3), 3);
        assert_eq!(Level::ses(1.0).window(48), 1);
        // 0.9^29 = 0.047, 0.9^28 = 0.052
        assert_eq!(Level::ses(0.1).window(48), 29);
        // smoothing: the next difference is -sum_k (1 - alpha)^k dz_k and
        // the later ones 0
        let w = Level::ses(0.4).weights(3, 2).unwrap();
        let want = [-0.6, -0.36, -0.216];
        for (v, t) in w[0].iter().zip(want) {
            assert!((v - t).abs() < 1e-12, "{w:?}");
        }
        assert_eq!(w[1], [0.0; 3]);
        // alpha 1, beta 1: l = the last value, b = the last difference; the
        // next differences are phi dz_1 and phi² dz_1
        let t = Level {
            alpha: 1.0,
            beta: 1.0,
            phi: 0.5,
        };
        let w = t.weights(2, 2).unwrap();
        assert!(
            (w[0][0] - 0.5).abs() < 1e-12 && w[0][1].abs() < 1e-12,
            "{w:?}"
        );
        assert!(
            (w[1][0] - 0.25).abs() < 1e-12 && w[1][1].abs() < 1e-12,
            "{w:?}"
        );
    }

    #[test]
    fn the_linear_form_is_the_smoothing_over_the_window() {
        // log series, damped trend, three outputs: the smoothing started at
        // the value before the window with no trend, then its forecasts
        let y: Vec<f64> = (0..30)
            .map(|t| 10.0 + t as f64 + 3.0 * (t as f64 * 1.7).sin())
            .collect();
        let p = Pipeline::fit(&y, &[], Transform::Log, &[1], ("y", &[])).unwrap();
        let enc = p.encode(&y, &[]).unwrap();
        let l = Level {
            alpha: 0.3,
            beta: 0.4,
            phi: 0.9,
        };
        let w = 6;
        let lin = l.linear(w, 1, 3, &p).unwrap();
        let out = lin.predict(&enc[enc.len() - w..]).unwrap();
        let z: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let (mut level, mut trend) = (z[z.len() - 1 - w], 0.0);
        for &v in &z[z.len() - w..] {
            let e = v - level - l.phi * trend;
            level += l.phi * trend + l.alpha * e;
            trend = l.phi * trend + l.alpha * l.beta * e;
        }
        let back = p.decode(&y, &out).unwrap();
        let mut damp = 0.0;
        for (j, b) in back.iter().enumerate() {
            damp += l.phi.powi(j as i32 + 1);
            assert!((b.ln() - (level + damp * trend)).abs() < 1e-9, "{j}");
        }
    }
}
