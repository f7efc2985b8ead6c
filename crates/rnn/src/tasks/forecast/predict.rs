//! [`Forecaster`]: a trained forecast model (metadata and weights) and its
//! forecasts, direct or recursive, turned back into target values.

use super::choose::linear_forecast;
use super::meta::{fingerprint, ForecastMeta, TASK};
use super::series::Series;
use crate::io::model_file::ModelFile;
use crate::nn::layer::Input;
use crate::nn::many_to_one::ManyToOne;
use crate::{Error, Model, Result};
use std::path::{Path, PathBuf};

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
    /// The network (identity readout of the last state); the ensemble's
    /// first.
    pub model: Model<f32>,
    /// Its directory, named by errors.
    name: String,
    /// The ensemble's other networks (`member-1`, `member-2`, ...), empty
    /// for a single network.
    pub members: Vec<Model<f32>>,
}

/// A forecast with its interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// The ensemble mean per step.
    pub mean: Vec<f64>,
    /// Lower bounds per step (empty when the model has no interval data).
    pub lower: Vec<f64>,
    /// Upper bounds per step (likewise).
    pub upper: Vec<f64>,
    /// The nominal coverage of the intervals (e.g. 0.9).
    pub level: Option<f64>,
}

/// A forecast of `horizon` steps whose step `step` (from 2) left the range
/// of the 32-bit floats the networks compute in, at `value`.
fn past_f32(horizon: usize, step: usize, value: f64) -> Error {
    Error::Config(format!(
        "--horizon {horizon}: the forecast leaves the range of 32-bit floats (±3.4e38) the model computes in at step {step} ({value:.3e}): forecast at most {} steps",
        step - 1
    ))
}

/// The first step (from 1) of decoded forecast `values` past the range of
/// f32, with its value.
fn first_past_f32(values: &[f64]) -> Option<(usize, f64)> {
    values
        .iter()
        .position(|v| !v.is_finite() || v.abs() > f64::from(f32::MAX))
        .map(|k| (k + 1, values[k]))
}

/// One network's forecast in normalised units, or the first step (from 1)
/// at which it left f32's range and the value there.
enum Outcome {
    Values(Vec<f64>),
    Past(usize, f64),
}

/// The directory of ensemble member `k` (1, 2, ...) of the model in `dir`.
pub fn member_dir(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("member-{k}"))
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
        // the members beside the file read (set aside by a --force run)
        let dir = &crate::io::model_dir(dir);
        let meta = ForecastMeta::from_file(&mf, dir)?;
        let mut members = Vec::new();
        for k in 1..meta.ensemble {
            let md = member_dir(dir, k);
            // a training stopped part-way (killed, a full disk) may have
            // written the first network's checkpoint before the others':
            // those it wrote make the model, as far as it got
            if !meta.finished && !md.join(crate::io::model_file::MODEL_FILE).is_file() {
                continue;
            }
            let mk = ModelFile::load_task(&md, TASK)?;
            let m = ForecastMeta::from_file(&mk, &md)?;
            if (m.window, &m.pipeline, &m.data_fingerprint)
                != (meta.window, &meta.pipeline, &meta.data_fingerprint)
            {
                return Err(Error::Data {
                    path: md,
                    reason: format!(
                        "is not a member of the ensemble in {} (another window, normalisation or training file)",
                        dir.display()
                    ),
                });
            }
            members.push(mk.model);
        }
        Ok(Forecaster {
            meta,
            model: mf.model,
            name: dir.display().to_string(),
            members,
        })
    }

    /// When the model is the checkpoint of a training stopped part-way
    /// ([`ForecastMeta::finished`] false), the warning to show its user:
    /// what it lacks and how to get the finished model.
    pub fn unfinished(&self) -> Option<String> {
        let held = 1 + self.members.len();
        let networks = match held < self.meta.ensemble {
            true => format!(", {held} of its {} networks", self.meta.ensemble),
            false => String::new(),
        };
        (!self.meta.finished).then(|| {
            format!(
                "{}: the last checkpoint of a training that was stopped part-way (best epoch {}{networks}): its validation scores, intervals and correction were never made; train again with --force for a finished model",
                self.name, self.meta.best_epoch
            )
        })
    }

    /// Reads a CSV file with the model's columns (see [`ForecastMeta::read_series`]).
    ///
    /// Rows whose time labels step otherwise than the training file's (a
    /// model of monthly data given daily rows) are read all the same, each
    /// row one step of the training series, and warned of in
    /// `series.warnings`.
    pub fn read_series(&self, data: &Path) -> Result<Series> {
        let mut series = self.meta.read_series(data)?;
        series.check_domain(self.meta.pipeline.transform)?;
        let step = series
            .time_name
            .as_ref()
            .and_then(|_| super::calendar::time_step_at(&series.time));
        if let (Some(trained), Some((step, i))) = (&self.meta.time_step, step) {
            if *trained != step {
                series.warnings.push(format!(
                    "{}: its rows step by {step} (time labels {:?}, {:?}), the training file's by {trained}: the model reads each row as one step of the training file's",
                    data.display(),
                    series.time[i].trim(),
                    series.time[i + 1].trim()
                ));
            }
        }
        Ok(series)
    }

    /// Checks that the model can forecast `horizon` steps: at least one, at
    /// most its horizon when it is direct, and few enough for memory.
    pub fn check_horizon(&self, horizon: usize) -> Result<()> {
        if horizon == 0 {
            return Err(Error::Config("--horizon 0: expected at least 1".into()));
        }
        let h = self.meta.horizon;
        if !self.meta.recursive() && horizon > h {
            return Err(Error::Config(format!(
                "--horizon {horizon}: this model forecasts at most {} (it was trained with --strategy direct --horizon {h})",
                crate::tasks::counted(h, "step", "steps")
            )));
        }
        // the ARMA model's forecast weights are computed lead by lead, for
        // at most MAX_LAGS leads (`Arma::linear`): refused here, before any
        // network step, naming the flag (it was `outputs`, after them all)
        let lags = super::level::MAX_LAGS;
        if let Some(a) = self.meta.choice.as_ref().and_then(|c| c.arma.as_ref()) {
            if horizon > lags {
                return Err(Error::Config(format!(
                    "--horizon {horizon}: this model averages its forecasts with {}, whose forecast weights are computed for at most {lags} steps ahead: forecast at most {lags} steps",
                    a.describe()
                )));
            }
        }
        // per step: each network's forecast, the mean, the bounds and the
        // report's line (under a hundred bytes in all)
        let per_step = 8.0 * (self.members.len() as f64 + 1.0) + 100.0;
        crate::memory::ensure_fits(|| format!("--horizon {horizon}"), horizon as f64 * per_step)
    }

    /// The forecast origin for `series`: with `holdout` K, K rows before its
    /// end; otherwise the end of the training file when `series` is that
    /// file plus more rows (its first rows hold exactly the training file's
    /// target values); otherwise its end.
    pub fn origin(&self, series: &Series, holdout: Option<usize>) -> Result<Origin> {
        series.check_shape()?;
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

    /// Checks a forecast of `horizon` rows from row `origin` of `series`,
    /// which needs `need` rows before it, and encodes rows `0..origin`:
    /// `[origin - lost, I]`.
    pub(super) fn encoded(
        &self,
        series: &Series,
        origin: usize,
        horizon: usize,
        need: usize,
    ) -> Result<Vec<f64>> {
        self.check_horizon(horizon)?;
        series.check_shape()?;
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
        if origin < need {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!(
                    "a forecast from row {origin} needs at least {need} rows before it (window {} + {} lost to differencing)",
                    need - p.lost(),
                    p.lost()
                ),
            });
        }
        let hist = &series.target[..origin];
        // a NaN, an infinity or a value past f32's range in the history
        // would come out as a NaN (or a meaningless) forecast blamed on the
        // weights: refused here, naming the column and row
        if let Some(why) = series.bad_value(origin) {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!("{why} (in the forecast's history)"),
            });
        }
        let feats: Vec<Vec<f64>> = series
            .features
            .iter()
            .map(|f| f[..origin].to_vec())
            .collect();
        p.encode(hist, &feats)
    }

    /// One network's normalised forecast of `horizon` steps after the encoded
    /// rows `enc` (`[M, I]`) of the target values `hist`.
    fn network(
        &self,
        model: &Model<f32>,
        enc: &[f64],
        hist: &[f64],
        horizon: usize,
    ) -> Result<Outcome> {
        let meta = &self.meta;
        let width = 1 + meta.features.len();
        let w = meta.window;
        let head = ManyToOne::new(model);
        let mut win: Vec<f32> = enc[enc.len() - w * width..]
            .iter()
            .map(|&v| v as f32)
            .collect(); // [W, 1, I]
                        // with the AR skip the network gives the correction to AR(p)
        let ar = |win: &[f32], k: usize| match (&meta.ar, meta.ar_skip) {
            (Some(ar), true) => {
                let x: Vec<f64> = win.iter().map(|&v| f64::from(v)).collect();
                ar.outputs_of(&x)[k]
            }
            _ => 0.0,
        };
        // the share of the correction kept (1 without the AR skip)
        let share = if meta.ar_skip { meta.correction } else { 1.0 };
        let choice = meta.choice.as_ref();
        let arma = choice.and_then(|c| c.arma.as_ref().zip(c.arma_window));
        let mut out = if meta.recursive() {
            let mut out = Vec::with_capacity(horizon);
            // the decoded forecast is checked at 4,096 steps, then at each
            // doubling (its cost stays under that of the steps): the
            // transform and differencing undone can leave f32's range long
            // before the networks' own values do (a log model's forecast of
            // 10 million steps ran 21 s before the error). With an ARMA
            // model the horizon is at most 4,096 (`check_horizon`).
            let mut check_at = if arma.is_none() { 4096 } else { usize::MAX };
            for _ in 0..horizon {
                let net = share as f32 * head.predict(Input::Dense(&win), w, 1, None)?[0];
                let next = if meta.ar_skip {
                    (f64::from(net) + ar(&win, 0)) as f32
                } else {
                    net
                };
                if !next.is_finite() && !out.is_empty() {
                    // each step fed the last: growth compounds until f32
                    // overflows (a log model's forecast of 10 million steps
                    // ran 33 s, then blamed the weights)
                    return Ok(Outcome::Past(out.len() + 1, f64::from(next)));
                }
                out.push(f64::from(next));
                if !next.is_finite() {
                    break; // the first step: the weights' fault, named by the caller
                }
                if out.len() == check_at {
                    check_at = check_at.saturating_mul(2);
                    let values = meta.pipeline.decode(hist, &out)?;
                    // a first step past the range is the weights' fault,
                    // named by the caller after the loop
                    match first_past_f32(&values) {
                        Some((step, v)) if step > 1 => return Ok(Outcome::Past(step, v)),
                        _ => {}
                    }
                }
                win.drain(..width);
                win.push(next);
            }
            out
        } else {
            let o = head.predict(Input::Dense(&win), w, 1, None)?;
            o[..horizon.min(o.len())]
                .iter()
                .enumerate()
                .map(|(k, &v)| share * f64::from(v) + ar(&win, k))
                .collect()
        };
        // the forecast combination with the ARMA model, on its own window
        if let Some((a, wa)) = arma {
            let x = &enc[enc.len() - wa * width..];
            let arma = a.linear(wa, width, horizon)?.outputs_of(x);
            for (v, a) in out.iter_mut().zip(&arma) {
                *v = 0.5 * (*v + a); // (network + ARMA) / 2
            }
        }
        Ok(Outcome::Values(out))
    }

    /// Each network's forecast of the `horizon` rows from row `origin` of
    /// `series` on, in target units, reading only rows `0..origin` (the last
    /// `window` of them, after differencing): `[K][horizon]`.
    pub fn member_forecasts_at(
        &self,
        series: &Series,
        origin: usize,
        horizon: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let enc = self.encoded(series, origin, horizon, self.history_needed())?;
        let hist = &series.target[..origin];
        // the earliest step any network leaves f32's range at: the most
        // steps the ensemble can forecast (each network is run to its own)
        let mut past: Option<(usize, f64)> = None;
        let mut all = Vec::with_capacity(1 + self.members.len());
        for (k, m) in std::iter::once(&self.model)
            .chain(&self.members)
            .enumerate()
        {
            // non-finite outputs are an error naming the model (member k's directory)
            let name = match k {
                0 => self.name.clone(),
                k => member_dir(Path::new(&self.name), k).display().to_string(),
            };
            let named = |e: Error| e.of_model(&name);
            let pred = match self.network(m, &enc, hist, horizon)? {
                Outcome::Values(pred) => pred,
                Outcome::Past(step, v) => {
                    past = past.filter(|p| p.0 <= step).or(Some((step, v)));
                    continue;
                }
            };
            crate::error::finite_outputs(&pred, |k| {
                format!("forecast step {} (normalised)", k + 1)
            })
            .map_err(named)?;
            let values = self.meta.pipeline.decode(hist, &pred)?;
            crate::error::finite_outputs(&values[..1], |k| format!("forecast step {}", k + 1))
                .map_err(named)?;
            // later steps past f32's range: the horizon's doing (a log
            // model's 60,000 steps printed 4.6e270 with exit 0)
            match first_past_f32(&values) {
                Some((step, v)) => past = past.filter(|p| p.0 <= step).or(Some((step, v))),
                None => all.push(values),
            }
        }
        match past {
            Some((step, v)) => Err(past_f32(horizon, step, v)),
            None => Ok(all),
        }
    }

    /// Forecasts the `horizon` rows from row `origin` of `series` on, reading
    /// only rows `0..origin`: the mean of the ensemble's forecasts.
    pub fn forecast_at(&self, series: &Series, origin: usize, horizon: usize) -> Result<Vec<f64>> {
        let mut all = self.member_forecasts_at(series, origin, horizon)?;
        if all.len() == 1 {
            return Ok(all.remove(0));
        }
        let k = all.len() as f64;
        Ok((0..horizon)
            .map(|i| all.iter().map(|f| f[i]).sum::<f64>() / k)
            .collect())
    }

    /// The forecast of [`Forecaster::forecast_at`] with an interval per step
    /// (see [`crate::tasks::forecast::Interval::bounds`]: calibrated on the
    /// validation block, wider where the ensemble disagrees). Without
    /// interval data (no validation block) the bounds are empty.
    pub fn forecast_interval_at(
        &self,
        series: &Series,
        origin: usize,
        horizon: usize,
    ) -> Result<Forecast> {
        let all = self.member_forecasts_at(series, origin, horizon)?;
        let k = all.len() as f64;
        let mean: Vec<f64> = (0..horizon)
            .map(|i| all.iter().map(|f| f[i]).sum::<f64>() / k)
            .collect();
        let Some(iv) = self
            .meta
            .interval
            .as_ref()
            .filter(|iv| !iv.residual.is_empty())
        else {
            return Ok(Forecast {
                mean,
                lower: Vec::new(),
                upper: Vec::new(),
                level: None,
            });
        };
        let t = self.meta.pipeline.transform;
        let (mut lower, mut upper) = (Vec::new(), Vec::new());
        for (i, &m) in mean.iter().enumerate() {
            let members: Vec<f64> = all.iter().map(|f| f[i]).collect();
            let (lo, hi) = iv.bounds(t, m, &members, i);
            lower.push(lo);
            upper.push(hi);
        }
        Ok(Forecast {
            mean,
            lower,
            upper,
            level: Some(iv.level),
        })
    }

    /// The AR(p) baseline's forecast (see [`crate::tasks::forecast::Linear`]),
    /// like [`Forecaster::forecast_at`]; `None` for models saved without it.
    pub fn ar_forecast_at(
        &self,
        series: &Series,
        origin: usize,
        horizon: usize,
    ) -> Result<Option<Vec<f64>>> {
        let Some(ar) = &self.meta.ar else {
            return Ok(None);
        };
        let need = self.meta.window + self.meta.pipeline.lost();
        let enc = self.encoded(series, origin, horizon, need)?;
        let width = 1 + self.meta.features.len();
        let m = enc.len() / width;
        let pred = linear_forecast(ar, &enc, width, self.meta.window, m, horizon);
        self.meta
            .pipeline
            .decode(&series.target[..origin], &pred)
            .map(Some)
    }
}
