//! [`EvalReport`]: a forecast model and the naive baselines scored on the
//! last rows of a series, block by block.

use super::baselines::{mae, mase_scale, naive, rmse, seasonal_naive};
use super::meta::Strategy;
use super::predict::Forecaster;
use super::series::Series;
use super::windows::eval_origins;
use crate::{Error, Result};
use serde::Serialize;

/// The scores of a model and the baselines on the last rows of a series (the
/// JSON object of `rnn eval --json`).
///
/// ```
/// use rnn::tasks::forecast::{Forecaster, Series, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-eval-{}", std::process::id()));
/// let series = Series::from_values("v", (0..50).map(|i| (i % 5) as f64).collect());
/// let mut cfg = TrainConfig::new("v", 5, 10);
/// (cfg.hidden, cfg.horizon) = (4, 4);
/// Trainer::from_series(cfg, series.clone(), &dir)?.fit(Budget::Epochs(1), &mut ())?;
/// let model = Forecaster::load(&dir)?;
/// // the last 10 rows (the model's test block) in blocks of 4, 4 and 2 rows
/// let r = model.evaluate(&series, None, Some(5))?;
/// assert_eq!((r.points, r.horizon, r.season), (10, 4, 5));
/// assert_eq!(r.seasonal_naive_rmse, 0.0); // the series repeats every 5 rows
/// assert!(model.evaluate(&series, Some(50), None).is_err()); // no rows before the block
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Test rows scored.
    pub points: usize,
    /// Model RMSE.
    pub rmse: f64,
    /// Model MAE.
    pub mae: f64,
    /// Model MASE (None when the scale is zero or undefined).
    pub mase: Option<f64>,
    /// Naive (last value) RMSE.
    pub naive_rmse: f64,
    /// Naive MAE.
    pub naive_mae: f64,
    /// Naive MASE.
    pub naive_mase: Option<f64>,
    /// Seasonal-naive RMSE.
    pub seasonal_naive_rmse: f64,
    /// Seasonal-naive MAE.
    pub seasonal_naive_mae: f64,
    /// Seasonal-naive MASE.
    pub seasonal_naive_mase: Option<f64>,
    /// The model's horizon: the length of the forecast blocks.
    pub horizon: usize,
    /// The season of the seasonal-naive baseline and MASE.
    pub season: usize,
    /// The model's strategy.
    pub strategy: Strategy,
}

impl Forecaster {
    /// Forecasts the last `test` rows of `series` (default: the model's
    /// `--test`) in consecutive blocks of the model's horizon, each from all
    /// the rows before it, and scores the forecasts, the naive and the
    /// seasonal-naive forecasts (season: default the model's) on them. MASE
    /// divides by the in-sample MAE of the seasonal-naive forecast over the
    /// rows before the test block.
    pub fn evaluate(
        &self,
        series: &Series,
        test: Option<usize>,
        season: Option<usize>,
    ) -> Result<EvalReport> {
        let meta = &self.meta;
        let test = match test {
            Some(0) => {
                return Err(Error::Config(format!(
                    "--test 0: expected at least 1 row to evaluate on (the model was trained with --test {}; omit --test to use it)",
                    meta.test
                )))
            }
            Some(t) => t,
            None if meta.test == 0 => {
                return Err(Error::Config(
                    "the model was trained with --test 0: give --test N".into(),
                ))
            }
            None => meta.test,
        };
        let season = match season {
            Some(0) => return Err(Error::Config("--season 0: expected at least 1".into())),
            Some(s) => s,
            None => meta.season,
        };
        let n = series.len();
        if test == 0 || test >= n {
            return Err(Error::Config(format!(
                "--test {test}: expected 1 to {} (the data has {n} rows)",
                n.saturating_sub(1)
            )));
        }
        let y = &series.target;
        let (mut f, mut nv, mut sn, mut act) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (origin, len) in eval_origins(n, test, meta.horizon) {
            f.extend(self.forecast_at(series, origin, len)?);
            nv.extend(naive(&y[..origin], len));
            sn.extend(seasonal_naive(&y[..origin], len, season));
            act.extend_from_slice(&y[origin..origin + len]);
        }
        let scale = mase_scale(&y[..n - test], season);
        let mase = |v: f64| scale.map(|s| v / s);
        let (m, nm, sm) = (mae(&f, &act), mae(&nv, &act), mae(&sn, &act));
        Ok(EvalReport {
            points: act.len(),
            rmse: rmse(&f, &act),
            mae: m,
            mase: mase(m),
            naive_rmse: rmse(&nv, &act),
            naive_mae: nm,
            naive_mase: mase(nm),
            seasonal_naive_rmse: rmse(&sn, &act),
            seasonal_naive_mae: sm,
            seasonal_naive_mase: mase(sm),
            horizon: meta.horizon,
            season,
            strategy: meta.strategy,
        })
    }
}
