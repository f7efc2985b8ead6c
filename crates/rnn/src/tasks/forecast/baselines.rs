//! Error measures (RMSE, MAE, MASE) and the naive and seasonal-naive
//! baselines.

use crate::{Error, Result};

/// Checks that `forecast` and `actual` pair up: the same length, not empty.
fn check_pairs(forecast: &[f64], actual: &[f64]) -> Result<()> {
    if forecast.len() != actual.len() {
        return Err(Error::argument(
            "actual",
            format!("one value per forecast value ({})", forecast.len()),
            format!("{} values", actual.len()),
        ));
    }
    if forecast.is_empty() {
        return Err(Error::argument(
            "forecast",
            "at least one value",
            "an empty slice",
        ));
    }
    Ok(())
}

/// Root mean squared error, `sqrt(mean_t (f_t - a_t)^2)`; an error when the
/// slices differ in length or are empty.
///
/// ```
/// use rnn::tasks::forecast::rmse;
/// assert_eq!(rmse(&[1.0, 5.0], &[1.0, 1.0]).unwrap(), 8f64.sqrt()); // sqrt((0 + 16) / 2)
/// assert!(rmse(&[1.0; 4], &[0.0]).is_err());
/// ```
pub fn rmse(forecast: &[f64], actual: &[f64]) -> Result<f64> {
    check_pairs(forecast, actual)?;
    let n = forecast.len() as f64;
    Ok((forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a) * (f - a))
        .sum::<f64>()
        / n)
        .sqrt())
}

/// Mean absolute error, `mean_t |f_t - a_t|`; an error when the slices
/// differ in length or are empty.
///
/// ```
/// use rnn::tasks::forecast::mae;
/// assert_eq!(mae(&[1.0, 5.0], &[1.0, 1.0]).unwrap(), 2.0); // (0 + 4) / 2
/// assert!(mae(&[], &[]).is_err());
/// ```
pub fn mae(forecast: &[f64], actual: &[f64]) -> Result<f64> {
    check_pairs(forecast, actual)?;
    let n = forecast.len() as f64;
    Ok(forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a).abs())
        .sum::<f64>()
        / n)
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
    let m = mae(&train[s..], &train[..train.len() - s]).ok()?;
    (m > 0.0).then_some(m)
}

/// The naive forecast from `history`: the last value, `h` times; an error
/// for an empty history (there is no last value) or more values than
/// memory holds.
///
/// ```
/// use rnn::tasks::forecast::naive;
/// assert_eq!(naive(&[1.0, 5.0], 2)?, [5.0, 5.0]);
/// assert!(naive(&[], 2).is_err());
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn naive(history: &[f64], h: usize) -> Result<Vec<f64>> {
    let Some(&last) = history.last() else {
        return Err(Error::argument(
            "history",
            "at least one value",
            "an empty slice",
        ));
    };
    crate::memory::try_filled(|| format!("a naive forecast of {h} steps"), h, last)
}

/// The seasonal-naive forecast from `history`: lead `k` (1-based) gets the
/// value one or more whole seasons before it: `y[n+k-1]` is forecast by
/// `y[n+k-1 - S*ceil(k/S)]`. Falls back to [`naive`] when the history is
/// shorter than one season (`season` 0 is taken as 1); errors as [`naive`].
///
/// ```
/// use rnn::tasks::forecast::seasonal_naive;
/// assert_eq!(seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 5, 3)?, [2.0, 3.0, 4.0, 2.0, 3.0]);
/// assert!(seasonal_naive(&[], 1, 12).is_err());
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn seasonal_naive(history: &[f64], h: usize, season: usize) -> Result<Vec<f64>> {
    let (n, s) = (history.len(), season.max(1));
    if n < s {
        return naive(history, h);
    }
    let mut out =
        crate::memory::try_with_capacity(|| format!("a seasonal naive forecast of {h} steps"), h)?;
    out.extend((1..=h).map(|k| history[n + k - 1 - s * k.div_ceil(s)]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let f = [1.0, 2.0, 4.0];
        let a = [2.0, 2.0, 1.0];
        assert!((rmse(&f, &a).unwrap() - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mae(&f, &a).unwrap() - 4.0 / 3.0).abs() < 1e-12);
        // lengths that do not pair up, or nothing to score: errors naming the slice
        let e = rmse(&[1.0; 4], &[0.0]).unwrap_err().to_string();
        assert!(
            e.contains("actual") && e.contains("(4)") && e.contains("1 values"),
            "{e}"
        );
        assert!(mae(&[0.0], &[1.0, 2.0]).is_err());
        assert!(rmse(&[], &[]).unwrap_err().to_string().contains("forecast"));
        // naive in-sample MAE of 1, 3, 2, 6: (2 + 1 + 4) / 3
        let scale = mase_scale(&[1.0, 3.0, 2.0, 6.0], 1).unwrap();
        assert!((scale - 7.0 / 3.0).abs() < 1e-12);
        // seasonal (S = 2): (|2-1| + |6-3|) / 2 = 2
        assert!((mase_scale(&[1.0, 3.0, 2.0, 6.0], 2).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(naive(&[1.0, 5.0], 2).unwrap(), [5.0, 5.0]);
        assert_eq!(
            seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 5, 3).unwrap(),
            [2.0, 3.0, 4.0, 2.0, 3.0]
        );
        // a history shorter than a season: the naive forecast
        assert_eq!(seasonal_naive(&[1.0, 2.0], 2, 12).unwrap(), [2.0, 2.0]);
        // no history: no last value to repeat (it gave zeros)
        let e = naive(&[], 3).unwrap_err().to_string();
        assert!(e.contains("history") && e.contains("empty"), "{e}");
        assert!(seasonal_naive(&[], 3, 4).is_err());
    }
}
