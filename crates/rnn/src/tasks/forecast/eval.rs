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
/// // the longest block leaves the window (5 rows) before it
/// assert!(model.evaluate(&series, Some(45), None).is_ok());
/// let e = model.evaluate(&series, Some(46), None).unwrap_err().to_string();
/// assert_eq!(e, "--test 46: expected 1 to 45 (the data has 50 rows, and a forecast needs 5 rows before it)");
/// // a season the rows before the test block cannot hold twice
/// let e = model.evaluate(&series, None, Some(21)).unwrap_err().to_string();
/// assert_eq!(e, "--season 21: two seasons need 42 rows before the test block, and the data has 40 (at most --season 20 here)");
/// assert!(model.evaluate(&series, None, Some(20)).is_ok());
/// // the model's own --test on too few rows: said to be the model's
/// let short = Series::from_values("v", vec![1.0, 2.0, 3.0]);
/// let e = model.evaluate(&short, None, None).unwrap_err().to_string();
/// assert_eq!(e, "the model's --test 10: the data has 3 rows, and a forecast needs 5 rows before the first row evaluated");
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
    /// AR(p) baseline RMSE (p = the model's window; None for model files
    /// saved without it).
    pub ar_rmse: Option<f64>,
    /// AR(p) MAE.
    pub ar_mae: Option<f64>,
    /// AR(p) MASE.
    pub ar_mase: Option<f64>,
    /// Share of the scored values inside their forecast interval (None
    /// without interval data).
    pub coverage: Option<f64>,
    /// The intervals' nominal coverage (0.9).
    pub interval_level: Option<f64>,
    /// Networks averaged.
    pub ensemble: usize,
    /// Input steps per forecast (the p of AR(p)).
    pub window: usize,
    /// Test values that were gaps filled by `--fill`, not read: scored as if
    /// they had been.
    pub filled_test_values: usize,
    /// Test rows the model was fitted on: the data's first rows are the
    /// training file's target values and the test block reaches into the
    /// rows it was fitted on (`--test` larger than the model's). Scored
    /// like the others, they flatter the model.
    pub fitted_test_rows: usize,
}

impl EvalReport {
    /// The table `rnn eval` prints for a model scored on file `data`: a
    /// heading line, then RMSE, MAE and MASE of the model and each baseline,
    /// then the intervals' coverage.
    pub fn table(&self, data: &std::path::Path) -> String {
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let mut out = format!(
            "{} of {}, forecast in blocks of {} ({} strategy), season {}\n",
            crate::tasks::counted(self.points, "test row", "test rows"),
            data.display(),
            self.horizon,
            self.strategy,
            self.season
        );
        out += &format!(
            "{:<16} {:>10} {:>10} {:>8}\n",
            "forecast", "RMSE", "MAE", "MASE"
        );
        let mut rows = vec![
            ("model".to_string(), self.rmse, self.mae, self.mase),
            (
                "naive".into(),
                self.naive_rmse,
                self.naive_mae,
                self.naive_mase,
            ),
            (
                "seasonal naive".into(),
                self.seasonal_naive_rmse,
                self.seasonal_naive_mae,
                self.seasonal_naive_mase,
            ),
        ];
        if let (Some(r), Some(m)) = (self.ar_rmse, self.ar_mae) {
            rows.push((format!("AR({})", self.window), r, m, self.ar_mase));
        }
        for (name, rmse, mae, mase) in rows {
            out += &format!("{name:<16} {rmse:>10.4} {mae:>10.4} {:>8}\n", fmt(mase));
        }
        if let (Some(c), Some(l)) = (self.coverage, self.interval_level) {
            out += &format!(
                "{:.0}% forecast intervals (ensemble of {}): coverage {:.1}%\n",
                100.0 * l,
                self.ensemble,
                100.0 * c
            );
        }
        out
    }
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
        series.check_shape()?;
        let meta = &self.meta;
        let given = test.is_some();
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
        let given_season = season.is_some();
        let season = match season {
            Some(0) => return Err(Error::Config("--season 0: expected at least 1".into())),
            Some(s) => s,
            None => meta.season,
        };
        let n = series.len();
        // the first forecast needs the model's window (and what
        // differencing loses) of rows before it
        let need = self.history_needed();
        if test == 0 || test.saturating_add(need) > n {
            let flag = match given {
                true => format!("--test {test}"),
                false => format!("the model's --test {test}"),
            };
            return Err(Error::Config(match n > need {
                true => format!(
                    "{flag}: expected 1 to {} (the data has {n} rows, and a forecast needs {need} rows before it)",
                    n - need
                ),
                false => format!(
                    "{flag}: the data has {}, and a forecast needs {need} rows before the first row evaluated",
                    crate::tasks::counted(n, "row", "rows")
                ),
            }));
        }
        if given_season && season > 1 && 2 * season > n - test {
            // the seasonal naive forecast and MASE's scale look a season back
            return Err(Error::Config(format!(
                "--season {season}: two seasons need {} rows before the test block, and the data has {} (at most --season {} here)",
                2 * season,
                n - test,
                (n - test) / 2
            )));
        }
        let y = &series.target;
        let (mut f, mut nv, mut sn, mut act) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut ar, mut inside, mut level) = (Some(Vec::new()), 0usize, None);
        for (origin, len) in eval_origins(n, test, meta.horizon) {
            let fc = self.forecast_interval_at(series, origin, len)?;
            for (i, (lo, hi)) in fc.lower.iter().zip(&fc.upper).enumerate() {
                inside += usize::from((*lo..=*hi).contains(&y[origin + i]));
            }
            level = fc.level;
            f.extend(fc.mean);
            match (self.ar_forecast_at(series, origin, len)?, ar.as_mut()) {
                (Some(a), Some(v)) => v.extend(a),
                _ => ar = None,
            }
            nv.extend(naive(&y[..origin], len)?);
            sn.extend(seasonal_naive(&y[..origin], len, season)?);
            act.extend_from_slice(&y[origin..origin + len]);
        }
        let scale = mase_scale(&y[..n - test], season);
        let mase = |v: f64| scale.map(|s| v / s);
        // (the forecasts pair up with the test block's values by construction)
        let (m, nm, sm) = (mae(&f, &act)?, mae(&nv, &act)?, mae(&sn, &act)?);
        let ar_mae = ar.as_ref().map(|a| mae(a, &act)).transpose()?;
        Ok(EvalReport {
            points: act.len(),
            rmse: rmse(&f, &act)?,
            mae: m,
            mase: mase(m),
            naive_rmse: rmse(&nv, &act)?,
            naive_mae: nm,
            naive_mase: mase(nm),
            seasonal_naive_rmse: rmse(&sn, &act)?,
            seasonal_naive_mae: sm,
            seasonal_naive_mase: mase(sm),
            horizon: meta.horizon,
            season,
            strategy: meta.strategy,
            ar_rmse: ar.as_ref().map(|a| rmse(a, &act)).transpose()?,
            ar_mae,
            ar_mase: ar_mae.and_then(mase),
            coverage: level.map(|_| inside as f64 / act.len().max(1) as f64),
            interval_level: level,
            ensemble: 1 + self.members.len(),
            window: meta.window,
            filled_test_values: series
                .target_filled
                .iter()
                .filter(|&&i| i >= n - test)
                .count(),
            fitted_test_rows: self.fitted_rows_from(series, n - test),
        })
    }

    /// How many rows from `first` on the model was fitted on, when the
    /// first rows of `series` are its training file's target values (else
    /// 0: another series, whose rows it never saw).
    pub fn fitted_rows_from(&self, series: &Series, first: usize) -> usize {
        let (rows, fit) = (self.meta.data_rows, self.meta.fit_rows);
        let same = series.len() >= rows
            && super::meta::fingerprint(&series.target[..rows]) == self.meta.data_fingerprint;
        match same {
            true => fit.saturating_sub(first),
            false => 0,
        }
    }
}
