//! A forecaster fed values as they arrive (`rnn step` on a forecast model):
//! the recent values are kept in a state file, and every call appends the
//! new ones and forecasts from the last window.

use crate::io::{TensorFile, TensorWriter};
use crate::nn::stream::model_hash;
use crate::tasks::forecast::{Forecaster, Series};
use crate::{Error, Result};
use std::path::Path;

/// The format tag of a forecaster's history file.
pub const HISTORY_FORMAT: &str = "rnn-forecast-history/1";

impl Forecaster {
    /// How many of the latest values a forecast reads: the window (or the
    /// ARMA model's, when longer) plus the rows lost to differencing.
    pub fn history_needed(&self) -> usize {
        let arma = self.meta.choice.as_ref().and_then(|c| c.arma_window);
        let window = self.meta.window.max(arma.unwrap_or(0));
        window.saturating_add(self.meta.pipeline.lost())
    }

    /// Appends `new` values (finite; the model must have no feature columns)
    /// to `history`, keeps the latest [`Forecaster::history_needed`] of them,
    /// and forecasts the `horizon` steps after them; `Ok(None)` while fewer
    /// values than needed have arrived.
    ///
    /// ```no_run
    /// let f = rnn::tasks::forecast::Forecaster::load("runs/airline".as_ref())?;
    /// let mut history = Vec::new();
    /// let next = f.step(&mut history, &[112.0, 118.0, 132.0], 1)?; // None until a window is full
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn step(
        &self,
        history: &mut Vec<f64>,
        new: &[f64],
        horizon: usize,
    ) -> Result<Option<Vec<f64>>> {
        if !self.meta.features.is_empty() {
            return Err(Error::Config(format!(
                "this forecaster also reads feature columns ({}); stepping takes target values only",
                self.meta.features.join(", ")
            )));
        }
        // each value checked as itself, the caller's `history` first (its
        // errors named a file row, "data row 1 (time 0)"; a new value's the
        // window's row it would have taken: "row 25")
        let transform = self.meta.pipeline.transform;
        for (name, values) in [("history", &history[..]), ("values", new)] {
            for (i, &v) in values.iter().enumerate() {
                let expected = if !v.is_finite() {
                    "a finite number"
                } else if v.abs() > f32::MAX as f64 {
                    "within the range of 32-bit floats (±3.4e38) the model computes in"
                } else if transform.apply(v).is_none() {
                    transform.domain()
                } else {
                    continue;
                };
                return Err(Error::argument(
                    format!("{name}[{i}]"),
                    expected,
                    v.to_string(),
                ));
            }
        }
        self.check_horizon(horizon)?;
        history.extend_from_slice(new);
        let keep = self.history_needed();
        if history.len() > keep {
            history.drain(..history.len() - keep);
        }
        if history.len() < keep {
            return Ok(None);
        }
        let series = Series::from_values(&self.meta.target, history.clone());
        self.forecast(&series, horizon).map(Some)
    }

    /// Reads a history saved by [`Forecaster::save_history`] for this model
    /// (empty when `path` does not exist); another model's history, or a
    /// damaged file, is an error naming the file.
    pub fn load_history(&self, path: &Path) -> Result<Vec<f64>> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let f = TensorFile::read(path)?;
        let format = f.meta("format")?;
        if format != HISTORY_FORMAT {
            let expected = match format == crate::nn::stream::STATE_FORMAT {
                true => format!("{HISTORY_FORMAT}: this is a language model's state, not a forecaster's history"),
                false => HISTORY_FORMAT.to_string(),
            };
            return Err(f.bad_meta("format", format, &expected));
        }
        let own = model_hash(&self.model);
        f.expect_meta(
            "model_hash",
            &own,
            &format!("the history of another model: this model's weights hash to {own}"),
        )?;
        // files written before it have only the first network's hash
        if f.metadata().contains_key("forecaster_hash") {
            let whole = self.history_hash();
            f.expect_meta(
                "forecaster_hash",
                &whole,
                &format!("the history of another model: this model's networks and training series hash to {whole}"),
            )?;
        }
        let t = f.f64("history")?;
        if t.shape.len() != 1 {
            return Err(f.bad_shape("history", &t.shape, "[N]".into()));
        }
        f.check_finite("history", &t.data, "a finite value")?;
        Ok(t.data)
    }

    /// Writes `history` (f64 `[N]`) with this model's weight hash, atomically.
    pub fn save_history(&self, path: &Path, history: &[f64]) -> Result<()> {
        self.history_file(history).write(path)
    }

    /// [`Forecaster::save_history`] staged beside `path`, put in place by
    /// [`crate::io::Staged::commit`].
    pub fn stage_history(&self, path: &Path, history: &[f64]) -> Result<crate::io::Staged> {
        self.history_file(history).stage(path)
    }

    fn history_file(&self, history: &[f64]) -> TensorWriter {
        let mut w = TensorWriter::new();
        w.add::<f64>("history", &[history.len()], history);
        w.meta("format", HISTORY_FORMAT);
        w.meta("model_hash", model_hash(&self.model));
        w.meta("forecaster_hash", self.history_hash());
        w
    }

    /// What a history file is checked against, beside the first network's
    /// `model_hash`: FNV-1a of every network's weights and the fingerprint
    /// of the training file's target values, as `"fnv1a64:<16 hex
    /// digits>"`. Two forecasters of other series whose networks kept the
    /// same weights (the same seed, both stopped at epoch 0: the AR base
    /// alone) took each other's history, and one forecast the other's
    /// values 6 times too high (the CLI sweep of session 55).
    pub fn history_hash(&self) -> String {
        let mut hash = crate::nn::stream::FNV1A64_START;
        for m in std::iter::once(&self.model).chain(&self.members) {
            hash = crate::nn::stream::fnv1a64(hash, m.params.iter().flat_map(|v| v.to_le_bytes()));
        }
        hash = crate::nn::stream::fnv1a64(hash, self.meta.data_fingerprint.bytes());
        format!("fnv1a64:{hash:016x}")
    }
}
