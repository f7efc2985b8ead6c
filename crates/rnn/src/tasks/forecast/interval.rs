//! Forecast intervals calibrated on the validation block (split conformal).
//!
//! An interval at lead k is `c ± q * sqrt(s_k² + v_k)` in transformed units
//! (after `--transform`, before differencing), transformed back: `c` the
//! ensemble mean, `v_k` the ensemble's variance at that lead, `s_k` the
//! AR(p) baseline's in-sample RMS error at lead k on the training rows (how
//! the error grows with the lead), and `q` the conformal quantile of the
//! scores `|error| / sqrt(s_k² + v_k)` of the ensemble's forecasts of the
//! validation rows (rows no training window had as a target), pooled with
//! the scores `|error| / s_k` of a rolling-origin backtest of AR(p) over the
//! training rows (refitted at each origin on the windows before it, so its
//! errors are out of sample too, and they span more of the series' history
//! than the validation block). On exchangeable scores the interval then
//! covers its nominal level of new values.

use super::choose::{fit_base, linear_forecast};
use super::meta::Interval;
use super::pipeline::Transform;
use super::predict::Forecaster;
use super::series::Series;
use super::windows::windows;
use crate::Result;

/// The intervals' nominal coverage.
pub const LEVEL: f64 = 0.9;

/// The standard normal quantile of [`LEVEL`] (intervals of older model
/// files, which have no conformal quantile).
pub const Z90: f64 = 1.6448536269514722;

/// Training origins the AR(p) lead profile is measured on, at most.
const PROFILE_ORIGINS: usize = 200;

/// Origins of the AR(p) backtest, at most.
const BACKTEST_ORIGINS: usize = 30;

/// The split-conformal quantile of `scores` at `level`: the
/// `ceil((n + 1) level)`-th smallest of the n scores (the largest when n is
/// too small for that); `None` without scores, with a NaN score, or with
/// a `level` outside (0, 1] (NaN included).
///
/// ```
/// use rnn::tasks::forecast::conformal_quantile;
/// let scores: Vec<f64> = (1..=19).map(f64::from).collect();
/// assert_eq!(conformal_quantile(&scores, 0.9), Some(18.0)); // ceil(20 * 0.9) = 18
/// assert_eq!(conformal_quantile(&[3.0, 1.0], 0.9), Some(3.0));
/// assert_eq!(conformal_quantile(&[], 0.9), None);
/// assert_eq!(conformal_quantile(&scores, f64::NAN), None);
/// assert_eq!(conformal_quantile(&scores, -1.0), None);
/// assert_eq!(conformal_quantile(&[f64::NAN, 2.0, 3.0], 0.9), None);
/// ```
pub fn conformal_quantile(scores: &[f64], level: f64) -> Option<f64> {
    // a NaN score sorted last and came back as the bound (the library
    // sweep of session 53, finding 18)
    if !(level > 0.0 && level <= 1.0) || scores.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let k = ((n + 1) as f64 * level).ceil() as usize;
    (n > 0).then(|| s[k.clamp(1, n) - 1])
}

/// `v[i]`, or past its end the last value times `sqrt((i + 1) / len)`.
fn at_lead(v: &[f64], i: usize) -> f64 {
    match v.get(i) {
        Some(&x) => x,
        None => v
            .last()
            .map_or(0.0, |&l| l * ((i + 1) as f64 / v.len() as f64).sqrt()),
    }
}

impl Interval {
    /// The bounds at lead `i` (0 = the first step) around `mean` (target
    /// units) given the ensemble members' forecasts there, transformed with
    /// `t`; leads past the calibrated ones grow with the square root of the
    /// lead. Intervals of older model files (no conformal quantile) are
    /// normal with the validation RMS residual.
    pub fn bounds(&self, t: Transform, mean: f64, members: &[f64], i: usize) -> (f64, f64) {
        let (c, var) = centre(t, mean, members);
        let half = match self.quantile {
            Some(q) => q * (at_lead(&self.scale, i).powi(2) + var).sqrt(),
            None => self.z * (at_lead(&self.residual, i).powi(2) + var).sqrt(),
        };
        (t.invert(c - half), t.invert(c + half))
    }
}

/// The ensemble mean `mean` and the variance of the members' forecasts
/// around it, in units transformed by `t`.
fn centre(t: Transform, mean: f64, members: &[f64]) -> (f64, f64) {
    let tr = |v: f64| t.apply(v).unwrap_or(f64::NAN);
    let c = tr(mean);
    let var = match members.len() {
        0 | 1 => 0.0,
        k => members.iter().map(|&f| (tr(f) - c).powi(2)).sum::<f64>() / (k - 1) as f64,
    };
    (c, var)
}

/// Calibrates the intervals of the saved ensemble `fc` on `part`, the
/// training part of the series whose last `val` rows are the validation
/// block; `runs` holds, per validation origin, each member's forecast of the
/// model's horizon from it (`[K][H]`, target units); `enc` is the encoded
/// training part (`[M, width]`). `None` when no forecast reaches a
/// validation row.
pub(super) fn calibrate(
    fc: &Forecaster,
    part: &Series,
    val: usize,
    runs: &[(usize, Vec<Vec<f64>>)],
    (enc, width): (&[f64], usize),
) -> Result<Option<Interval>> {
    let meta = &fc.meta;
    let (h, y) = (meta.horizon, &part.target);
    let t = meta.pipeline.transform;
    let tr = |v: f64| t.apply(v).unwrap_or(f64::NAN);
    let first_val = y.len() - val;
    // the lead profile: AR(p) on training origins whose leads are all training rows
    let need = meta.window + meta.pipeline.lost();
    let last = first_val.saturating_sub(h);
    let count = (last + 1).saturating_sub(need);
    let step = count.div_ceil(PROFILE_ORIGINS).max(1);
    let (mut se, mut seen) = (vec![0.0; h], 0usize);
    for o in (need..=last).step_by(step).take_while(|_| count > 0) {
        let Some(ar) = fc.ar_forecast_at(part, o, h)? else {
            break;
        };
        for (i, a) in ar.iter().enumerate() {
            se[i] += (tr(*a) - tr(y[o + i])).powi(2);
        }
        seen += 1;
    }
    let mut scale: Vec<f64> = se.iter().map(|s| (s / seen.max(1) as f64).sqrt()).collect();
    let top = scale.iter().copied().fold(0.0, f64::max);
    if seen == 0 || !(top > 0.0 && top.is_finite()) {
        scale = vec![1.0; h];
    } else {
        scale.iter_mut().for_each(|s| *s = s.max(1e-6 * top));
    }
    // scores of the validation rows, and the RMS residual per lead (older files' intervals)
    let (mut scores, mut res) = (Vec::new(), vec![0.0; h]);
    for (o, all) in runs {
        for i in 0..h {
            let members: Vec<f64> = all.iter().map(|f| f[i]).collect();
            let mean = members.iter().sum::<f64>() / members.len() as f64;
            let (c, var) = centre(t, mean, &members);
            let err = c - tr(y[o + i]);
            res[i] += err * err;
            if o + i >= first_val {
                let s = err.abs() / (scale[i].powi(2) + var).sqrt();
                if s.is_finite() {
                    scores.push(s);
                }
            }
        }
    }
    // the AR(p) backtest: refitted at each origin on the windows before it
    let lost = meta.pipeline.lost();
    let outputs = meta.ar.as_ref().map_or(0, |a| a.outputs);
    let all = windows(enc.len() / width, meta.window, outputs)?;
    let min_fit = 2 * (meta.window * width + 1) + 5;
    let first = all.get(min_fit).map_or(usize::MAX, |w| w.target.end + lost);
    let count = (last + 1).saturating_sub(first);
    let step = count.div_ceil(BACKTEST_ORIGINS).max(1);
    for o in (first..=last).step_by(step).take_while(|_| count > 0) {
        let before: Vec<_> = all.iter().filter(|w| w.target.end + lost <= o).collect();
        let Some(lin) = fit_base(enc, width, &before, &meta.choice, &meta.pipeline) else {
            continue;
        };
        let pred = linear_forecast(&lin, enc, width, meta.window, o - lost, h);
        let f = meta.pipeline.decode(&y[..o], &pred)?;
        for (i, v) in f.iter().enumerate() {
            let s = (tr(*v) - tr(y[o + i])).abs() / scale[i];
            if s.is_finite() {
                scores.push(s);
            }
        }
    }
    let n = runs.len().max(1) as f64;
    Ok(conformal_quantile(&scores, LEVEL).map(|q| Interval {
        level: LEVEL,
        z: Z90,
        residual: res.iter().map(|s| (s / n).sqrt()).collect(),
        scale,
        quantile: Some(q),
        calibration_points: scores.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_scale_the_quantile_by_the_lead_profile_and_the_ensemble_spread() {
        let iv = Interval {
            level: LEVEL,
            z: Z90,
            residual: vec![3.0],
            scale: vec![1.0, 2.0],
            quantile: Some(2.0),
            calibration_points: 10,
        };
        // members 9 and 11 around 10: variance 2
        let (m, t) = (&[9.0, 11.0][..], Transform::None);
        let half = |i| {
            let (lo, hi) = iv.bounds(t, 10.0, m, i);
            assert!((hi - 10.0 - (10.0 - lo)).abs() < 1e-12);
            hi - 10.0
        };
        assert!((half(0) - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        assert!((half(1) - 2.0 * 6f64.sqrt()).abs() < 1e-12);
        // lead 4 of 2 calibrated: the last scale times sqrt(4 / 2)
        assert!((half(3) - 2.0 * 10f64.sqrt()).abs() < 1e-12);
        // an older file: normal, z times the validation residual
        let old = Interval {
            scale: Vec::new(),
            quantile: None,
            ..iv.clone()
        };
        let (_, hi) = old.bounds(t, 10.0, &[10.0], 0);
        assert!((hi - 10.0 - Z90 * 3.0).abs() < 1e-12);
        // log units: symmetric in the log, transformed back
        let (lo, hi) = iv.bounds(Transform::Log, 1.0, &[1.0], 0);
        assert!((lo - (-2f64).exp()).abs() < 1e-12 && (hi - 2f64.exp()).abs() < 1e-12);
    }
}
