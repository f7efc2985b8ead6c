//! [`clear_gain`]: whether one forecast's gain over another, value by value,
//! stands out from noise (used to keep the networks' correction on the
//! validation block and to keep a grid cell over the naive forecast in the
//! backtest that chooses it).

/// Whether the gains `d` (per value, e.g. on the validation block the AR(p)
/// squared error less the ensemble's) show a clear gain: their mean is above 1.645 standard
/// errors (a one-sided 5 % test of a positive mean, as Diebold and Mariano
/// compare two forecasts; the values are taken as independent). Fewer than
/// two values show nothing.
///
/// ```
/// use rnn::tasks::forecast::clear_gain;
/// assert!(clear_gain(&[1.0, 1.0, 1.0])); // always better
/// // mean 1, standard error 2.309 / 2 = 1.155: t = 0.87
/// assert!(!clear_gain(&[3.0, -1.0, 3.0, -1.0]));
/// assert!(!clear_gain(&[5.0]) && !clear_gain(&[-1.0, -1.0]));
/// ```
pub fn clear_gain(d: &[f64]) -> bool {
    let n = d.len();
    if n < 2 {
        return false;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    mean > 0.0 && mean > 1.645 * (var / n as f64).sqrt()
}
