//! Error measures (RMSE, MAE, MASE) and the naive and seasonal-naive
//! baselines.

/// Root mean squared error.
pub fn rmse(forecast: &[f64], actual: &[f64]) -> f64 {
    let n = forecast.len().max(1) as f64;
    (forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a) * (f - a))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Mean absolute error.
pub fn mae(forecast: &[f64], actual: &[f64]) -> f64 {
    let n = forecast.len().max(1) as f64;
    forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a).abs())
        .sum::<f64>()
        / n
}

/// The MASE scale: the in-sample MAE of the seasonal-naive forecast with
/// period `season` (the naive forecast when 1) over `train`,
/// `mean_{t >= S} |y_t - y_{t-S}|`. `None` when `train` is too short or the
/// scale is zero.
pub fn mase_scale(train: &[f64], season: usize) -> Option<f64> {
    let s = season.max(1);
    if train.len() <= s {
        return None;
    }
    let m = mae(&train[s..], &train[..train.len() - s]);
    (m > 0.0).then_some(m)
}

/// The naive forecast from `history`: the last value, `h` times.
pub fn naive(history: &[f64], h: usize) -> Vec<f64> {
    vec![history.last().copied().unwrap_or(0.0); h]
}

/// The seasonal-naive forecast from `history`: lead `k` (1-based) gets the
/// value one or more whole seasons before it: `y[n+k-1]` is forecast by
/// `y[n+k-1 - S*ceil(k/S)]`. Falls
/// back to [`naive`] when the history is shorter than one season.
pub fn seasonal_naive(history: &[f64], h: usize, season: usize) -> Vec<f64> {
    let (n, s) = (history.len(), season.max(1));
    if n < s {
        return naive(history, h);
    }
    (1..=h)
        .map(|k| history[n + k - 1 - s * k.div_ceil(s)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let f = [1.0, 2.0, 4.0];
        let a = [2.0, 2.0, 1.0];
        assert!((rmse(&f, &a) - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mae(&f, &a) - 4.0 / 3.0).abs() < 1e-12);
        // naive in-sample MAE of 1, 3, 2, 6: (2 + 1 + 4) / 3
        let scale = mase_scale(&[1.0, 3.0, 2.0, 6.0], 1).unwrap();
        assert!((scale - 7.0 / 3.0).abs() < 1e-12);
        // seasonal (S = 2): (|2-1| + |6-3|) / 2 = 2
        assert!((mase_scale(&[1.0, 3.0, 2.0, 6.0], 2).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(naive(&[1.0, 5.0], 2), [5.0, 5.0]);
        assert_eq!(
            seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 5, 3),
            [2.0, 3.0, 4.0, 2.0, 3.0]
        );
    }
}
