//! What a forecast model stores besides its weights: [`ForecastMeta`], kept as
//! JSON under the metadata key [`META_KEY`] of `model.safetensors`.

use super::linear::Linear;
use super::pipeline::{Pipeline, Transform};
use super::series::{Series, TimeColumn};
use super::table::RowFilter;
use crate::io::model_file::{ModelFile, Task};
use crate::tasks::fill::Fill;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The metadata key holding [`ForecastMeta`] as JSON.
pub const META_KEY: &str = "forecast";

/// The task name of forecast model files.
pub const TASK: Task = Task::Forecast;

/// How a model forecasts several steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Strategy {
    /// One output per step of the horizon (O = H), all at once.
    #[default]
    Direct,
    /// A one-step model (O = 1) whose forecasts are fed back as inputs.
    Recursive,
}

impl Strategy {
    /// The lowercase name (`direct`, `recursive`).
    ///
    /// ```
    /// use rnn::tasks::forecast::Strategy;
    /// assert_eq!(Strategy::Recursive.name(), "recursive");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::Recursive => "recursive",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a forecast model needs besides its weights, stored as JSON in
/// the model file's metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForecastMeta {
    /// Target column name.
    pub target: String,
    /// Feature column names (inputs only).
    pub features: Vec<String>,
    /// Time column name, if any.
    pub time: Option<String>,
    /// The usual step between the training file's rows, from its time
    /// labels ([`crate::tasks::forecast::time_step`]: `1 month`, `1 day`);
    /// none without a time column, when the labels are not understood,
    /// and in older files. Data of another step is warned of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_step: Option<String>,
    /// How gaps were filled.
    pub fill: Fill,
    /// Input steps per forecast.
    pub window: usize,
    /// Steps forecast at once.
    pub horizon: usize,
    /// Direct (O = horizon) or recursive (O = 1, fed back).
    pub strategy: Strategy,
    /// Rows at the end of the training file held out as the test block.
    pub test: usize,
    /// Fraction of the training part used for validation.
    pub val_frac: f64,
    /// Season of the seasonal-naive baseline and MASE.
    pub season: usize,
    /// Transform, differencing and normalisation fitted on the training part.
    pub pipeline: Pipeline,
    /// Rows of the training file.
    pub data_rows: usize,
    /// Fingerprint of the training file's target values.
    pub data_fingerprint: String,
    /// Rows fitted on (training file minus the test block).
    pub fit_rows: usize,
    /// The training file's name (informational).
    pub data: String,
    /// Seed of the run.
    pub seed: u64,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Validation MSE per value (normalised units) of the kept weights.
    pub best_val_mse: Option<f64>,
    /// The CSV field separator of the training file (`,` in older files).
    #[serde(default = "comma")]
    pub delimiter: u8,
    /// The rows of the training file read (`--where`; none in older files
    /// and without it: all rows).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowFilter>,
    /// Networks in the ensemble: this file's and `member-K/model.safetensors`
    /// for K = 1, 2, ... (1 in older files).
    #[serde(default = "one")]
    pub ensemble: usize,
    /// How window, transform and differencing were chosen.
    #[serde(default)]
    pub choice: Option<Choice>,
    /// The AR(p) baseline fitted on the training windows (encoded units).
    #[serde(default)]
    pub ar: Option<Linear>,
    /// Whether the network's output is added to the AR(p) forecast.
    #[serde(default)]
    pub ar_skip: bool,
    /// With the AR skip, the share of the networks' correction added to the
    /// AR(p) forecast: 1 (all of it; older files too), or 0.5 (the average of
    /// the AR(p) and network forecasts) when the ensemble's gain over AR(p)
    /// on the validation block is not clear (see
    /// [`crate::tasks::forecast::clear_gain`]).
    #[serde(default = "one_f64")]
    pub correction: f64,
    /// The forecast intervals' validation residuals.
    #[serde(default)]
    pub interval: Option<Interval>,
    /// The ensemble, AR and naive forecasts scored on the validation block.
    #[serde(default)]
    pub validation: Option<ValScores>,
    /// False in the checkpoints written while the networks train, true once
    /// training has ended and the validation scores, the correction and the
    /// intervals are in (older files: true). A file left false is what a
    /// training stopped part-way (killed, out of power) left behind.
    #[serde(default = "yes")]
    pub finished: bool,
}

fn yes() -> bool {
    true
}

fn comma() -> u8 {
    b','
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

/// What the forecast intervals are made of (see [`Interval::bounds`]): in
/// transformed units (after `--transform`, before differencing), around the
/// ensemble mean, `quantile * sqrt(scale² + the ensemble's variance)` at
/// each lead, the quantile a split-conformal one of the validation block's
/// errors. Older model files have no quantile: their intervals are normal,
/// `z * sqrt(residual² + the ensemble's variance)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Nominal coverage (0.9).
    pub level: f64,
    /// The standard normal quantile of that coverage (1.645 for 0.9).
    pub z: f64,
    /// Root mean squared validation residual of the ensemble mean per lead
    /// (1, 2, ...; transformed units).
    pub residual: Vec<f64>,
    /// The AR(p) baseline's in-sample RMS error per lead on the training
    /// rows (transformed units): how the error grows with the lead.
    #[serde(default)]
    pub scale: Vec<f64>,
    /// The split-conformal quantile at `level` of the validation errors
    /// divided by `sqrt(scale² + the ensemble's variance)`.
    #[serde(default)]
    pub quantile: Option<f64>,
    /// Validation errors the quantile was taken over.
    #[serde(default)]
    pub calibration_points: usize,
}

/// Root mean squared errors on the validation block, target units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValScores {
    /// Values scored.
    pub points: usize,
    /// The ensemble mean.
    pub rmse: f64,
    /// The AR(p) baseline.
    pub ar_rmse: f64,
    /// The naive forecast.
    pub naive_rmse: f64,
}

impl ForecastMeta {
    /// Whether the model forecasts one step and feeds it back.
    pub fn recursive(&self) -> bool {
        self.strategy == Strategy::Recursive
    }

    /// The time column of the training file (none when it had none).
    pub fn time_column(&self) -> TimeColumn {
        match &self.time {
            Some(t) => TimeColumn::Named(t.clone()),
            None => TimeColumn::None,
        }
    }

    /// Reads the metadata of a loaded model file from directory `dir` (used
    /// in error messages).
    ///
    /// # Errors
    /// [`Error::Metadata`] when the JSON does not parse, or when a value
    /// would make a forecast fail or come out silently wrong (see
    /// [`ForecastMeta::check`]); the error names the field and its value.
    pub fn from_file(mf: &ModelFile, dir: &Path) -> Result<Self> {
        let meta: ForecastMeta = mf.meta_json(dir, META_KEY, "forecast settings")?;
        let cfg = &mf.model.config;
        meta.check(cfg.input_size, cfg.output_size)
            .map_err(|(value, expected)| Error::Metadata {
                path: dir.join(crate::io::model_file::MODEL_FILE),
                key: META_KEY.into(),
                value,
                expected,
            })?;
        Ok(meta)
    }

    /// Checks the settings against each other and against the network's
    /// `inputs` and `outputs`: sizes that agree (the AR baseline's
    /// coefficients, the ARMA model's orders, the normalisation of each
    /// feature), windows and horizons within the training file's rows,
    /// finite numbers, a share of the correction in [0, 1] and an interval
    /// level in (0, 1). What the trainer writes always passes; a file edited
    /// by hand or damaged may not. The error is `(field and value, what was
    /// expected)`.
    pub fn check(
        &self,
        inputs: usize,
        outputs: usize,
    ) -> std::result::Result<(), (String, String)> {
        let bad = |v: String, e: &str| Err((v, e.to_string()));
        let rows = self.data_rows;
        let width = 1 + self.features.len();
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if inputs != width {
            return bad(
                format!("features {:?} ({width} inputs per step)", self.features),
                &format!("the network's {inputs} inputs per step (the target and each feature)"),
            );
        }
        let model_h = if self.recursive() { 1 } else { self.horizon };
        if outputs != model_h {
            return bad(
                format!("horizon {} ({} strategy)", self.horizon, self.strategy),
                &format!("the network's {outputs} outputs (one per step of a direct horizon, 1 for recursive)"),
            );
        }
        for (name, v) in [("window", self.window), ("horizon", self.horizon)] {
            if v == 0 || v > rows {
                return bad(
                    format!("{name} {v}"),
                    &format!("1 to the {rows} rows of the training file (data_rows)"),
                );
            }
        }
        if self.ensemble == 0 {
            return bad("ensemble 0".into(), "at least 1 network");
        }
        if self.season == 0 {
            return bad("season 0".into(), "a season of at least 1 (1: none)");
        }
        if super::check_delimiter(self.delimiter).is_err() {
            return bad(
                format!("delimiter {:?}", char::from(self.delimiter)),
                "one ASCII character other than a quote, a line break, a letter, a digit, '.', '-' or '+'",
            );
        }
        if self.fit_rows > rows {
            return bad(
                format!("fit_rows {}", self.fit_rows),
                &format!("at most data_rows {rows}"),
            );
        }
        if !(0.0..=1.0).contains(&self.correction) {
            return bad(
                format!("correction {}", self.correction),
                "a share in [0, 1]",
            );
        }
        let p = &self.pipeline;
        if let Some(&d) = p.diffs.iter().find(|&&d| d == 0 || d >= rows) {
            return bad(
                format!("pipeline.diffs {:?} (lag {d})", p.diffs),
                &format!("lags from 1 to {}", rows.saturating_sub(1)),
            );
        }
        if !(p.mean.is_finite() && p.std.is_finite() && p.std > 0.0) {
            return bad(
                format!("pipeline mean {} std {}", p.mean, p.std),
                "a finite mean and a positive, finite std",
            );
        }
        let nf = self.features.len();
        if p.feature_mean.len() != nf
            || p.feature_std.len() != nf
            || !finite(&p.feature_mean)
            || p.feature_std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return bad(
                format!(
                    "pipeline.feature_mean {:?} feature_std {:?}",
                    p.feature_mean, p.feature_std
                ),
                &format!("{nf} finite means and {nf} positive, finite stds (one per feature)"),
            );
        }
        if let Some(ar) = &self.ar {
            let (i, o) = (self.window * width, model_h);
            if (ar.inputs, ar.outputs) != (i, o)
                || ar.coef.len() != (i + 1) * o
                || !finite(&ar.coef)
            {
                return bad(
                    format!("ar: inputs {}, outputs {}, {} coefficients", ar.inputs, ar.outputs, ar.coef.len()),
                    &format!("inputs {i} (window x inputs per step), outputs {o}, {} finite coefficients", (i + 1) * o),
                );
            }
        }
        if let Some(c) = &self.choice {
            if let Some(w) = c.arma_window.filter(|&w| w == 0 || w > rows) {
                return bad(
                    format!("choice.arma_window {w}"),
                    &format!("1 to the {rows} rows of the training file"),
                );
            }
            if let Some(a) = &c.arma {
                let n =
                    a.p.saturating_add(a.q)
                        .saturating_add(a.sp)
                        .saturating_add(a.sq);
                if a.coef.len() != n || !finite(&a.coef) || a.season == 0 || a.season > rows {
                    return bad(
                        format!(
                            "choice.arma: orders ({}, {}, {}, {}), season {}, {} coefficients",
                            a.p,
                            a.q,
                            a.sp,
                            a.sq,
                            a.season,
                            a.coef.len()
                        ),
                        &format!(
                            "one finite coefficient per order ({n}) and a season from 1 to {rows}"
                        ),
                    );
                }
            }
        }
        if let Some(iv) = &self.interval {
            let nonneg = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x >= 0.0);
            let fine = iv.level > 0.0
                && iv.level < 1.0
                && iv.z.is_finite()
                && nonneg(&iv.residual)
                && nonneg(&iv.scale)
                && iv.quantile.is_none_or(|q| q.is_finite() && q >= 0.0);
            if !fine {
                return bad(
                    format!("interval: level {}, z {}, quantile {:?}", iv.level, iv.z, iv.quantile),
                    "a level in (0, 1), a finite z, and finite residuals, scales and quantile that are not negative",
                );
            }
        }
        Ok(())
    }

    /// The metadata as the JSON text stored in the model file.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Config(format!("forecast metadata: {e}")))
    }

    /// Reads `data` the way the model's training file was read: same target,
    /// features, time column and gap filling.
    pub fn read_series(&self, data: &Path) -> Result<Series> {
        Series::read_rows(
            data,
            self.delimiter,
            self.rows.as_ref(),
            &self.target,
            &self.features,
            &self.time_column(),
            self.fill,
        )
    }
}

/// A 64-bit FNV-1a hash of a series' values (to recognise the training data).
///
/// ```
/// use rnn::tasks::forecast::fingerprint;
/// assert_eq!(fingerprint(&[]), "cbf29ce484222325");
/// assert_ne!(fingerprint(&[1.0]), fingerprint(&[2.0]));
/// ```
pub fn fingerprint(values: &[f64]) -> String {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes());
    let h = crate::nn::stream::fnv1a64(crate::nn::stream::FNV1A64_START, bytes);
    format!("{h:016x}")
}

/// The settings a run used and how they were chosen (saved with the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Input steps per forecast.
    pub window: usize,
    /// Transform of the target.
    pub transform: Transform,
    /// Differencing lags.
    pub diff: Vec<usize>,
    /// Cells of the window x transform x differencing grid scored (1 when
    /// nothing was chosen).
    pub candidates: usize,
    /// RMSE (target units) of the AR proxy with these settings in the
    /// rolling-origin backtest over the validation block and the blocks
    /// before it (the validation block alone in older files).
    pub val_rmse: Option<f64>,
    /// Seasonal AR cells scored besides the grid (see `lags`; 0 in older
    /// files).
    #[serde(default)]
    pub seasonal_candidates: usize,
    /// The lags of the target the AR(p) baseline uses (1 = the last step of
    /// the window): a few short ones and multiples of the season (a seasonal
    /// AR, see [`crate::tasks::forecast::Linear::fit_lags`]); empty (older
    /// files too): every lag of the window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lags: Vec<usize>,
    /// Whether the base forecast the networks correct is the naive one (the
    /// random walk: `diff` 1, no coefficient, no intercept) instead of an
    /// AR(p). Chosen when the best AR cell's gain over it in the backtest
    /// is not clear (false in older files).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub naive: bool,
    /// The backtest RMSE (target units) of the naive forecast on the points
    /// the best AR cell was scored on, when differencing was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naive_rmse: Option<f64>,
    /// The base forecast the networks correct, when it was chosen in the
    /// backtest (differencing chosen): the AR(p) of the cell, the naive
    /// forecast or the local level ([`crate::tasks::forecast::Level`]).
    /// Absent in older files and when the differencing was given: then
    /// `naive` says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
    /// The local level's smoothing weight (with `base` level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// The backtest RMSE (target units) of the local level (simple
    /// exponential smoothing) on the points the best AR cell was scored on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_rmse: Option<f64>,
    /// The ARMA model every forecast is averaged with (the forecast
    /// combination `(networks + ARMA) / 2`, each network's forecast in
    /// normalised units; [`crate::tasks::forecast::Arma`], orders by AIC),
    /// when the base averaged with it did better than the base alone in the
    /// backtest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arma: Option<super::arma::Arma>,
    /// The steps of history the ARMA model's forecast reads (its window,
    /// which may be longer than the networks').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arma_window: Option<usize>,
    /// The backtest RMSE (target units) of the base averaged with the ARMA
    /// model, when it was scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined_rmse: Option<f64>,
    /// The backtest RMSE of the base alone on the same points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_rmse: Option<f64>,
}

/// Which base forecast the networks correct (the model's "AR(p)").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    /// The AR(p) of the chosen cell, fitted by least squares.
    Ar,
    /// The naive forecast (the last value).
    Naive,
    /// Simple exponential smoothing (a local level).
    Level,
}

impl Choice {
    /// The chosen base: `base`, or for older files [`Base::Naive`] when
    /// `naive`, else [`Base::Ar`].
    ///
    /// ```
    /// use rnn::tasks::forecast::{Base, Choice};
    /// let c: Choice = serde_json::from_str(
    ///     r#"{"window":2,"transform":"log","diff":[1],"candidates":9,"val_rmse":0.5,"naive":true}"#,
    /// ).unwrap();
    /// assert_eq!((c.base, c.base()), (None, Base::Naive));
    /// ```
    pub fn base(&self) -> Base {
        match (self.base, self.naive) {
            (Some(b), _) => b,
            (None, true) => Base::Naive,
            (None, false) => Base::Ar,
        }
    }

    /// The local level of a level base.
    pub fn level(&self) -> Option<super::level::Level> {
        match (self.base(), self.alpha) {
            (Base::Level, Some(alpha)) => Some(super::level::Level::ses(alpha)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let diff = if self.diff.is_empty() {
            "none".to_string()
        } else {
            let d: Vec<String> = self.diff.iter().map(|l| l.to_string()).collect();
            d.join(",")
        };
        write!(
            f,
            "window {}, transform {}, diff {diff}",
            self.window,
            self.transform.name()
        )?;
        if !self.lags.is_empty() {
            let l: Vec<String> = self.lags.iter().map(|l| l.to_string()).collect();
            write!(f, ", AR lags {}", l.join(","))?;
        }
        if self.naive {
            write!(f, ", base naive (no AR)")?;
        }
        if let Some(l) = self.level() {
            write!(f, ", base local level (alpha {:.3}; no AR)", l.alpha)?;
        }
        if let (Some(a), Some(w)) = (&self.arma, self.arma_window) {
            write!(f, ", averaged with {} (window {w})", a.describe())?;
        }
        Ok(())
    }
}
