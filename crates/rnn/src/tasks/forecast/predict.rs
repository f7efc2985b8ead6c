//! [`Forecaster`]: a trained forecast model (metadata and weights) and its
//! forecasts, direct or recursive, turned back into target values.

use super::meta::{fingerprint, ForecastMeta, TASK};
use super::series::Series;
use crate::io::model_file::ModelFile;
use crate::nn::layer::Input;
use crate::nn::many_to_one::ManyToOne;
use crate::{Error, Model, Result};
use std::path::Path;

/// A loaded forecast model: what it was trained on and its network.
///
/// ```
/// use rnn::tasks::forecast::{Forecaster, Series, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-forecaster-{}", std::process::id()));
/// let values: Vec<f64> = (0..60).map(|i| 10.0 + (i % 6) as f64).collect();
/// let series = Series::from_values("v", values);
/// let mut cfg = TrainConfig::new("v", 6, 6);
/// (cfg.hidden, cfg.horizon) = (4, 3);
/// Trainer::from_series(cfg, series.clone(), &dir)?.fit(Budget::Epochs(2), &mut ())?;
///
/// let model = Forecaster::load(&dir)?;
/// assert_eq!(model.forecast(&series, 3)?.len(), 3); // the 3 steps after the end
/// assert!(model.forecast(&series, 4).is_err()); // a direct model stops at its horizon
/// let from_row_50 = model.forecast_at(&series, 50, 2)?; // rows 50 and 51 from rows 0..50
/// assert_eq!(from_row_50.len(), 2);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Forecaster {
    /// Columns, windows, strategy and normalisation of the model.
    pub meta: ForecastMeta,
    /// The network (identity readout of the last state).
    pub model: Model<f32>,
    /// Its directory, named by errors.
    name: String,
}

/// Where the forecast of a series starts (see [`Forecaster::origin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The rows before it are the history; the forecast is of the rows from it on.
    pub row: usize,
    /// The series is the training file plus more rows, and the origin is the
    /// end of the training file.
    pub extends: bool,
}

impl Forecaster {
    /// Loads `dir/model.safetensors`, which must hold a forecast model.
    pub fn load(dir: &Path) -> Result<Forecaster> {
        let mf = ModelFile::load_task(dir, TASK)?;
        let meta = ForecastMeta::from_file(&mf, dir)?;
        Ok(Forecaster {
            meta,
            model: mf.model,
            name: dir.display().to_string(),
        })
    }

    /// Reads a CSV file with the model's columns (see [`ForecastMeta::read_series`]).
    pub fn read_series(&self, data: &Path) -> Result<Series> {
        self.meta.read_series(data)
    }

    /// Checks that the model can forecast `horizon` steps: at least one, and
    /// at most its horizon when it is direct.
    pub fn check_horizon(&self, horizon: usize) -> Result<()> {
        if horizon == 0 {
            return Err(Error::Config("--horizon 0: expected at least 1".into()));
        }
        let h = self.meta.horizon;
        if !self.meta.recursive() && horizon > h {
            return Err(Error::Config(format!(
                "--horizon {horizon}: this model forecasts at most {h} steps (it was trained with --strategy direct --horizon {h})"
            )));
        }
        Ok(())
    }

    /// The forecast origin for `series`: with `holdout` K, K rows before its
    /// end; otherwise the end of the training file when `series` is that
    /// file plus more rows (its first rows hold exactly the training file's
    /// target values); otherwise its end.
    pub fn origin(&self, series: &Series, holdout: Option<usize>) -> Result<Origin> {
        let (n, rows) = (series.len(), self.meta.data_rows);
        let extends = n > rows && fingerprint(&series.target[..rows]) == self.meta.data_fingerprint;
        let row = match holdout {
            Some(k) if k >= n => {
                return Err(Error::Config(format!(
                    "--holdout {k}: the data has only {n} rows"
                )))
            }
            Some(k) => n - k,
            None if extends => rows,
            None => n,
        };
        Ok(Origin { row, extends })
    }

    /// Forecasts the `horizon` steps after the end of `series`.
    pub fn forecast(&self, series: &Series, horizon: usize) -> Result<Vec<f64>> {
        self.forecast_at(series, series.len(), horizon)
    }

    /// Forecasts the `horizon` rows from row `origin` of `series` on, reading
    /// only rows `0..origin` (the last `window` of them, after differencing).
    pub fn forecast_at(&self, series: &Series, origin: usize, horizon: usize) -> Result<Vec<f64>> {
        self.check_horizon(horizon)?;
        let meta = &self.meta;
        if series.features.len() != meta.features.len() {
            return Err(Error::Value {
                what: "series features".into(),
                value: series.features.len().to_string(),
                expected: format!("the model's {} feature columns", meta.features.len()),
            });
        }
        if origin > series.len() {
            return Err(Error::Value {
                what: "forecast origin".into(),
                value: origin.to_string(),
                expected: format!("at most the series' {} rows", series.len()),
            });
        }
        let p = &meta.pipeline;
        let need = meta.window.saturating_add(p.lost());
        if origin < need {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!(
                    "a forecast from row {origin} needs at least {need} rows before it (window {} + {} lost to differencing)",
                    meta.window,
                    p.lost()
                ),
            });
        }
        let hist = &series.target[..origin];
        let feats: Vec<Vec<f64>> = series
            .features
            .iter()
            .map(|f| f[..origin].to_vec())
            .collect();
        let width = 1 + feats.len();
        let enc = p.encode(hist, &feats)?; // [origin - lost, I]
        let w = meta.window;
        let head = ManyToOne::new(&self.model);
        let mut win: Vec<f32> = enc[enc.len() - w * width..]
            .iter()
            .map(|&v| v as f32)
            .collect(); // [W, 1, I]
        let pred: Vec<f64> = if meta.recursive() {
            let mut out = Vec::with_capacity(horizon);
            for _ in 0..horizon {
                let next = head.predict(Input::Dense(&win), w, 1, None)?[0];
                out.push(f64::from(next));
                win.drain(..width);
                win.push(next);
            }
            out
        } else {
            let o = head.predict(Input::Dense(&win), w, 1, None)?;
            o[..horizon.min(o.len())]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        };
        let named = |e: Error| e.of_model(&self.name);
        crate::error::finite_outputs(&pred, |k| format!("forecast step {} (normalised)", k + 1))
            .map_err(named)?;
        let values = p.decode(hist, &pred)?;
        crate::error::finite_outputs(&values, |k| format!("forecast step {}", k + 1))
            .map_err(named)?;
        Ok(values)
    }
}
