//! [`Arma`]: a seasonal ARMA model of the encoded series (after the
//! transform, the differencing and the z-scoring of the chosen cell), the
//! linear model with moving-average terms that the grid's AR cells lack.
//! Its orders are chosen by AIC, its coefficients fitted by conditional
//! least squares, and its forecast is written as a [`Linear`] model on a
//! window of its own (the AR(∞) form of the ARMA, truncated). Where the
//! backtest says so, every forecast of a model is the average of the
//! networks' forecast and this one (see `choose.rs`, `combine_arma`).

use super::level::{check_lags, covering_window, MAX_LAGS, TRUNCATION};
use super::linear::Linear;
use crate::Result;
use serde::{Deserialize, Serialize};

/// `phi(B) Phi(B^s) w_t = theta(B) Theta(B^s) a_t` on the encoded series
/// `w` (mean 0 by its z-scoring, so no constant), with `phi(B) = 1 - phi_1 B
/// - ... - phi_p B^p`, `theta(B) = 1 + theta_1 B + ... + theta_q B^q` (the
/// signs of statsmodels' SARIMAX), and
/// `Phi`, `Theta` the same in `B^s` of degree `sp`, `sq`.
///
/// ```
/// use rnn::tasks::forecast::Arma;
/// // ARMA(1,1) with phi 0.5, theta 0.4: one-step weights pi_1 = 0.9, pi_2 = -0.36
/// let m = Arma { p: 1, q: 1, sp: 0, sq: 0, season: 1, coef: vec![0.5, 0.4], aic: 0.0 };
/// let pi = m.pi_weights(3);
/// assert!((pi[0] - 0.9).abs() < 1e-12 && (pi[1] + 0.36).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arma {
    /// Non-seasonal AR order.
    pub p: usize,
    /// Non-seasonal MA order.
    pub q: usize,
    /// Seasonal AR order.
    pub sp: usize,
    /// Seasonal MA order.
    pub sq: usize,
    /// The season `s` of the seasonal terms (1 without them).
    pub season: usize,
    /// `[phi_1..phi_p, theta_1..theta_q, Phi_1..Phi_sp, Theta_1..Theta_sq]`.
    pub coef: Vec<f64>,
    /// `n ln(SSE / n) + 2 (k + 1)` on the residuals it was chosen by.
    pub aic: f64,
}

/// Lags of the impulse responses that check stationarity and invertibility.
const CHECK_LAGS: usize = 600;

/// `(lag, coefficient)` pairs of a lag polynomial, the constant 1 left out.
type Poly = Vec<(usize, f64)>;

/// The product of `1 + sum a_j B^j` and `1 + sum b_j B^j`, as pairs.
fn mul(a: &Poly, b: &Poly) -> Poly {
    let mut out: Vec<(usize, f64)> = a.iter().chain(b).copied().collect();
    for &(i, x) in a {
        for &(j, y) in b {
            out.push((i + j, x * y));
        }
    }
    out.sort_by_key(|t| t.0);
    let mut merged: Poly = Vec::with_capacity(out.len());
    for (l, v) in out {
        match merged.last_mut() {
            Some(last) if last.0 == l => last.1 += v,
            _ => merged.push((l, v)),
        }
    }
    merged
}

/// The first `n` coefficients (from lag 1) of `1 / (1 + sum m_j B^j)`
/// times `1 + sum a_j B^j`.
fn divide(a: &Poly, m: &Poly, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n + 1];
    c[0] = 1.0;
    for &(l, v) in a {
        if l <= n {
            c[l] += v;
        }
    }
    for j in 1..=n {
        let mut s = c[j];
        for &(l, v) in m {
            if l > j {
                break;
            }
            s -= v * c[j - l];
        }
        c[j] = s;
    }
    c.split_off(1)
}

impl Arma {
    /// The AR polynomial `phi(B) Phi(B^s)` and the MA one `theta(B)
    /// Theta(B^s)`, each as pairs beside the constant 1 (AR with the signs
    /// of the polynomial: `-phi_j`).
    fn polys(&self) -> (Poly, Poly) {
        // coefficients past the end of `coef` (public, so perhaps edited to
        // fewer than the orders) count as 0 ([`Arma::linear`] refuses them)
        let c = |j: usize| self.coef.get(j).copied().unwrap_or(0.0);
        let (p, q, sp) = (self.p, self.q, self.sp);
        let ar: Poly = (0..p).map(|j| (j + 1, -c(j))).collect();
        let ma: Poly = (0..q).map(|j| (j + 1, c(p + j))).collect();
        let sar: Poly = (0..sp)
            .map(|j| ((j + 1) * self.season, -c(p + q + j)))
            .collect();
        let sma: Poly = (0..self.sq)
            .map(|j| ((j + 1) * self.season, c(p + q + sp + j)))
            .collect();
        (mul(&ar, &sar), mul(&ma, &sma))
    }

    /// The weights `pi_j` (j = 1..=n) of the one-step forecast `w_t = sum_j
    /// pi_j w_{t-j}`: the AR(∞) form, `1 - sum pi_j B^j = phi Phi / (theta
    /// Theta)`; at most 4,096 of them (they cost `O(n)`
    /// memory and `O(n * lags)` time: `n = usize::MAX` overflowed).
    pub fn pi_weights(&self, n: usize) -> Vec<f64> {
        self.pi_of(n.min(MAX_LAGS))
    }

    /// The first `n` weights `pi_j`, however many (callers bound `n`:
    /// [`Arma::linear`] needs up to twice the cap, its window plus leads).
    fn pi_of(&self, n: usize) -> Vec<f64> {
        let (ar, ma) = self.polys();
        divide(&ar, &ma, n).into_iter().map(|v| -v).collect()
    }

    /// Whether the MA part is invertible and the AR part stationary: the
    /// impulse responses of `1 / theta Theta` and `1 / phi Phi` die out.
    fn admissible(&self) -> bool {
        let (ar, ma) = self.polys();
        let dies = |m: &Poly| {
            let r = divide(&Vec::new(), m, CHECK_LAGS);
            r.iter().all(|v| v.is_finite()) && r[CHECK_LAGS - 50..].iter().all(|v| v.abs() < 1e-3)
        };
        dies(&ar) && dies(&ma)
    }

    /// The conditional residuals `a_t` for `t >= start` (the ones before it
    /// taken as 0): `a_t = w_t + sum ar_j w_{t-j} - sum ma_j a_{t-j}`, with
    /// `ar_j` the AR polynomial's coefficients (`-phi_j`) and `ma_j` the
    /// MA one's.
    fn residuals(&self, w: &[f64], start: usize) -> Vec<f64> {
        let (ar, ma) = self.polys();
        let mut a = vec![0.0; w.len()];
        for t in start..w.len() {
            let mut e = w[t];
            for &(l, v) in &ar {
                e += v * w[t - l];
            }
            for &(l, v) in &ma {
                if l <= t {
                    e -= v * a[t - l];
                }
            }
            a[t] = e;
        }
        a.split_off(start)
    }

    /// The conditional sum of squares of [`Arma::residuals`].
    fn sse(&self, w: &[f64], start: usize) -> f64 {
        self.residuals(w, start).iter().map(|v| v * v).sum()
    }

    /// Coefficients fitted by conditional least squares (Levenberg-Marquardt
    /// on the residuals, from zero, with a forward-difference Jacobian; a
    /// step that leaves the stationary and invertible region is refused).
    /// `None` when the sum does not stay finite.
    fn fit_orders(
        w: &[f64],
        orders: (usize, usize, usize, usize),
        season: usize,
        start: usize,
    ) -> Option<Arma> {
        let (p, q, sp, sq) = orders;
        let k = p + q + sp + sq;
        let mut m = Arma {
            p,
            q,
            sp,
            sq,
            season,
            coef: vec![0.0; k],
            aic: 0.0,
        };
        let n = w.len().checked_sub(start).filter(|&n| n > k + 2)?;
        let resid = |m: &Arma| m.residuals(w, start);
        let mut r = resid(&m);
        let mut sse: f64 = r.iter().map(|v| v * v).sum();
        let mut lambda = 1e-3;
        for _ in 0..100 {
            if k == 0 {
                break;
            }
            // J[i][t] = d r_t / d coef_i by forward differences
            let h = 1e-6;
            let mut jac = vec![vec![0.0; n]; k];
            for (i, row) in jac.iter_mut().enumerate() {
                let mut mi = m.clone();
                mi.coef[i] += h;
                for (d, (a, b)) in row.iter_mut().zip(resid(&mi).iter().zip(&r)) {
                    *d = (a - b) / h;
                }
            }
            // (J J^T + lambda diag) delta = -J r, with J stored [k, n]
            let mut jtj = vec![0.0; k * k];
            let mut g = vec![0.0; k];
            for i in 0..k {
                for j in 0..=i {
                    let s: f64 = jac[i].iter().zip(&jac[j]).map(|(a, b)| a * b).sum();
                    jtj[i * k + j] = s;
                    jtj[j * k + i] = s;
                }
                g[i] = -jac[i].iter().zip(&r).map(|(a, b)| a * b).sum::<f64>();
            }
            let mut improved = false;
            for _ in 0..10 {
                let mut a = jtj.clone();
                for i in 0..k {
                    a[i * k + i] += lambda * jtj[i * k + i].max(1e-12);
                }
                let mut delta = g.clone();
                if super::linear::cholesky_solve(&mut a, &mut delta, k, 1).is_none() {
                    lambda *= 10.0;
                    continue;
                }
                let mut cand = m.clone();
                for (c, d) in cand.coef.iter_mut().zip(&delta) {
                    *c += d;
                }
                let s = cand.sse(w, start);
                if s.is_finite() && s < sse && cand.admissible() {
                    let rel = (sse - s) / sse.max(1e-300);
                    (m, sse) = (cand, s);
                    r = resid(&m);
                    lambda = (lambda / 10.0).max(1e-9);
                    improved = true;
                    if rel < 1e-10 {
                        improved = false; // converged
                    }
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        if !sse.is_finite() || sse <= 0.0 {
            return None;
        }
        m.aic = n as f64 * (sse / n as f64).ln() + 2.0 * (k + 1) as f64;
        Some(m)
    }

    /// The orders of the lowest AIC: `p`, `q` from 0 to 2 and, with a
    /// season above 1 and at least four seasons of data, `sp`, `sq` from 0
    /// to 1 (36 models), each fitted by conditional least squares on `w`
    /// from the same first residual (so their AICs compare the same
    /// points). Only models whose forecast a window of `cap` steps holds
    /// ([`Arma::window`]: at most 5 % of the one-step weight past it) are
    /// candidates: a moving-average root near the unit circle (which
    /// conditional least squares runs into on an over-differenced series)
    /// spreads the weight over more lags than any window the networks read.
    /// `None` with too few values, a non-finite one or no candidate.
    pub fn fit(w: &[f64], season: usize, cap: usize) -> Option<Arma> {
        if w.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let enough = season.checked_mul(4).and_then(|n| n.checked_add(10));
        let seasonal = season > 1 && enough.is_some_and(|n| w.len() >= n) && season < cap;
        let top = if seasonal { 1 } else { 0 };
        let start = 2 + if seasonal { season } else { 0 };
        if w.len() < start + 12 {
            return None;
        }
        let mut best: Option<Arma> = None;
        for p in 0..=2 {
            for q in 0..=2 {
                for sp in 0..=top {
                    for sq in 0..=top {
                        let s = if seasonal { season } else { 1 };
                        let Some(m) = Arma::fit_orders(w, (p, q, sp, sq), s, start) else {
                            continue;
                        };
                        if m.tail(cap) <= TRUNCATION && best.as_ref().is_none_or(|b| m.aic < b.aic)
                        {
                            best = Some(m);
                        }
                    }
                }
            }
        }
        best
    }

    /// The share of the one-step forecast's absolute weight (of the first
    /// 400 lags) past a window of `window` steps.
    fn tail(&self, window: usize) -> f64 {
        let pi = self.pi_weights(window.clamp(400, MAX_LAGS));
        let total: f64 = pi.iter().map(|v| v.abs()).sum();
        if total == 0.0 {
            return 0.0;
        }
        pi[window.min(pi.len())..]
            .iter()
            .map(|v| v.abs())
            .sum::<f64>()
            / total
    }

    /// The window that leaves out at most 5 % of the one-step forecast's
    /// weight (the absolute `pi` weights past it, of the first 400),
    /// between 1 and `cap`.
    pub fn window(&self, cap: usize) -> usize {
        // as Level::window: a cap past the lags any fit needs is not computed
        covering_window(&self.pi_weights(cap.clamp(400, MAX_LAGS)), cap)
    }

    /// The forecast as a [`Linear`] model on windows of `window` steps
    /// (`width` inputs per step, the target first; features get weight 0)
    /// with `outputs` leads: lead 1 is `sum_j pi_j x_j` over the window
    /// (`x_j` the value `j` steps back), and each later lead the same sum
    /// with the leads before it in place of the values they forecast. The
    /// weights past the window are left out; the intercept is 0 (the
    /// encoded series has mean 0).
    ///
    /// ```
    /// use rnn::tasks::forecast::Arma;
    /// // AR(1) with phi 0.5: leads 0.5 x and 0.25 x of the last value x
    /// let m = Arma { p: 1, q: 0, sp: 0, sq: 0, season: 1, coef: vec![0.5], aic: 0.0 };
    /// let lin = m.linear(3, 1, 2)?;
    /// assert_eq!(lin.predict(&[9.0, 9.0, 4.0])?, [2.0, 1.0]);
    /// assert!(m.linear(1 << 20, 1, 2).is_err()); // more lags than weighed
    /// # Ok::<(), rnn::Error>(())
    /// ```
    ///
    /// An error for a window of more than 4,096 steps (the weights cost
    /// `O(window^2)`; the combination's windows are at most 48) or
    /// coefficients that do not fit in memory.
    pub fn linear(&self, window: usize, width: usize, outputs: usize) -> Result<Linear> {
        check_lags(window)?;
        // the weights of every lead: O(outputs^2 window) (1 << 16 leads ran
        // for minutes)
        check_lags(outputs).map_err(|_| {
            crate::Error::argument("outputs", format!("at most {MAX_LAGS} leads"), outputs)
        })?;
        let orders = self.p + self.q + self.sp + self.sq;
        if self.coef.len() != orders {
            return Err(crate::Error::argument(
                "coef",
                format!(
                    "{orders} coefficients for the orders p {}, q {}, P {}, Q {}",
                    self.p, self.q, self.sp, self.sq
                ),
                self.coef.len(),
            ));
        }
        // a NaN coefficient and seasonal terms of season 0 gave Ok models
        // (NaN weights; all zeros) (session 53's sweep, finding 15)
        if let Some(i) = self.coef.iter().position(|c| !c.is_finite()) {
            return Err(crate::Error::argument(
                format!("coef[{i}]"),
                "a finite number",
                self.coef[i],
            ));
        }
        if self.sp + self.sq > 0 && self.season < 2 {
            return Err(crate::Error::argument(
                "season",
                "a season of at least 2 for seasonal terms",
                self.season,
            ));
        }
        let mut lin = Linear::zeros_over(window, width, outputs)?;
        // window and outputs both checked above: at most 8,192 weights
        let pi = self.pi_of(window + outputs);
        // f[k][j]: weight of the value j + 1 steps back in lead k + 1
        let mut f: Vec<Vec<f64>> = Vec::with_capacity(outputs);
        for k in 0..outputs {
            let mut row = vec![0.0; window];
            for (j, &w) in pi.iter().enumerate().take(window + k) {
                // the value j + 1 steps before lead k + 1
                if j < k {
                    // a lead before this one: its own weights
                    let prev = &f[k - 1 - j];
                    for (r, v) in row.iter_mut().zip(prev) {
                        *r += w * v;
                    }
                } else if j - k < window {
                    row[j - k] += w;
                }
            }
            f.push(row);
        }
        for (k, row) in f.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                // window row `window - 1 - j` holds the value j + 1 back
                lin.coef[(window - 1 - j) * width * outputs + k] = *v;
            }
        }
        Ok(lin)
    }

    /// The orders and coefficients, e.g. `ARMA(1,1)(0,1)12 [0.52, -0.31, -0.6]`.
    ///
    /// ```
    /// use rnn::tasks::forecast::Arma;
    /// let m = Arma { p: 1, q: 0, sp: 0, sq: 1, season: 4, coef: vec![0.5, -0.25], aic: 0.0 };
    /// assert_eq!(m.describe(), "ARMA(1,0)(0,1)4 [0.500, -0.250]");
    /// let mean = Arma { p: 0, q: 0, sp: 0, sq: 0, season: 1, coef: vec![], aic: 0.0 };
    /// assert_eq!(mean.describe(), "ARMA(0,0) (the training mean)");
    /// ```
    pub fn describe(&self) -> String {
        let c: Vec<String> = self.coef.iter().map(|v| format!("{v:.3}")).collect();
        let seasonal = if self.sp + self.sq > 0 {
            format!("({},{}){}", self.sp, self.sq, self.season)
        } else {
            String::new()
        };
        if c.is_empty() {
            // nothing to fit: the forecast is the series' training mean
            return "ARMA(0,0) (the training mean)".into();
        }
        format!("ARMA({},{}){seasonal} [{}]", self.p, self.q, c.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible standard normal stream (Box-Muller on a 64-bit LCG).
    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos())
            .collect()
    }

    #[test]
    fn pi_weights_of_arma_1_1_by_hand() {
        // (1 - 0.5 B) / (1 + 0.4 B) = 1 - 0.9 B + 0.36 B^2 - 0.144 B^3 ...:
        // pi_j = (phi + theta) (-theta)^(j-1)
        let m = Arma {
            p: 1,
            q: 1,
            sp: 0,
            sq: 0,
            season: 1,
            coef: vec![0.5, 0.4],
            aic: 0.0,
        };
        let pi = m.pi_weights(5);
        for (j, v) in pi.iter().enumerate() {
            let want = 0.9 * (-0.4f64).powi(j as i32);
            assert!((v - want).abs() < 1e-12, "{j}: {v} {want}");
        }
        // seasonal MA(1) at s = 4 alone: 1 / (1 + 0.5 B^4): pi_4 = 0.5, pi_8 = -0.25
        let s = Arma {
            p: 0,
            q: 0,
            sp: 0,
            sq: 1,
            season: 4,
            coef: vec![0.5],
            aic: 0.0,
        };
        let pi = s.pi_weights(8);
        assert_eq!(pi, [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, -0.25]);
    }

    #[test]
    fn conditional_least_squares_recovers_an_arma_1_1() {
        // w_t = 0.6 w_{t-1} + a_t + 0.3 a_{t-1}, 3000 values
        let a = normals(3001, 11);
        let mut w = vec![0.0; 3001];
        for t in 1..3001 {
            w[t] = 0.6 * w[t - 1] + a[t] + 0.3 * a[t - 1];
        }
        let m = Arma::fit_orders(&w[1..], (1, 1, 0, 0), 1, 2).unwrap();
        assert!(
            (m.coef[0] - 0.6).abs() < 0.05 && (m.coef[1] - 0.3).abs() < 0.06,
            "{m:?}"
        );
        // AIC picks a model close to it: its one-step weights match the true ones
        let best = Arma::fit(&w[1..], 1, 48).unwrap();
        let (got, want) = (best.pi_weights(4), m.pi_weights(4));
        for (g, t) in got.iter().zip(&want) {
            assert!((g - t).abs() < 0.08, "{best:?}");
        }
    }

    #[test]
    fn a_seasonal_ma_is_found() {
        // w_t = a_t - 0.7 a_{t-12}, 600 values
        let a = normals(612, 5);
        let w: Vec<f64> = (12..612).map(|t| a[t] - 0.7 * a[t - 12]).collect();
        // its AR(∞) weights fall by 0.7 a season: 10 seasons hold all but 3 %
        let m = Arma::fit(&w, 12, 120).unwrap();
        assert_eq!(m.sq, 1, "{m:?}");
        // a window of 4 seasons leaves 24 % out: not a candidate
        assert!(Arma::fit(&w, 12, 48).is_none_or(|m| m.sq == 0 || m.coef[m.p + m.q + m.sp] > -0.6));
        let theta = m.coef[m.p + m.q + m.sp];
        assert!((theta + 0.7).abs() < 0.1, "{m:?}");
    }

    #[test]
    fn multi_step_weights_feed_the_leads_back() {
        // AR(2) 0.5, 0.3 on a window of 2 (x1 the last value, x2 the one before):
        // lead 1 = 0.5 x1 + 0.3 x2; lead 2 = 0.5 lead1 + 0.3 x1 = 0.55 x1 + 0.15 x2
        let m = Arma {
            p: 2,
            q: 0,
            sp: 0,
            sq: 0,
            season: 1,
            coef: vec![0.5, 0.3],
            aic: 0.0,
        };
        let lin = m.linear(2, 1, 2).unwrap();
        let out = lin.predict(&[2.0, 1.0]).unwrap(); // x2 = 2, x1 = 1
        assert!(
            (out[0] - 1.1).abs() < 1e-12 && (out[1] - (0.55 + 0.3)).abs() < 1e-12,
            "{out:?}"
        );
        // with a feature column its weights are 0
        let lin = m.linear(2, 2, 1).unwrap();
        assert!((lin.predict(&[2.0, 100.0, 1.0, 100.0]).unwrap()[0] - 1.1).abs() < 1e-12);
    }

    #[test]
    fn window_leaves_out_at_most_a_twentieth() {
        // MA(1) theta 0.5: pi_j = -(-0.5)^j, |pi| halves: 5 % left after 5 lags
        let m = Arma {
            p: 0,
            q: 1,
            sp: 0,
            sq: 0,
            season: 1,
            coef: vec![0.5],
            aic: 0.0,
        };
        assert_eq!(m.window(48), 5);
        assert_eq!(m.window(3), 3);
        assert!(!Arma {
            coef: vec![1.5],
            ..m.clone()
        }
        .admissible());
        assert!(m.admissible());
    }

    #[test]
    fn absurd_sizes_and_edited_coefficients_are_handled_not_panicked_on() {
        let w: Vec<f64> = (0..60).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        // a cap of usize::MAX wrapped the weights' length to 0 (a panic)
        assert!(Arma::fit(&w, 4, usize::MAX).is_some());
        assert!(Arma::fit(&w, usize::MAX - 1, usize::MAX).is_some());
        let m = Arma {
            p: 1,
            q: 0,
            sp: 0,
            sq: 0,
            season: 1,
            coef: vec![0.5],
            aic: 0.0,
        };
        assert_eq!(m.pi_weights(usize::MAX).len(), 4096);
        assert!(m.window(usize::MAX) >= 1 && m.window(1 << 36) <= 4096);
        // leads are capped as the window is (1 << 16 ran for minutes)
        assert!(m.linear(4096, 1, 1 << 16).is_err());
        // coefficients fewer than the orders (public fields): linear refuses,
        // the weights count the missing ones as 0
        let short = Arma {
            p: 2,
            q: 1,
            coef: vec![0.5],
            ..m.clone()
        };
        let e = short.linear(3, 1, 1).unwrap_err().to_string();
        assert!(e.contains("3 coefficients"), "{e}");
        assert_eq!(short.pi_weights(3), m.pi_weights(3));
        assert!(short.window(48) >= 1);
    }
}
