//! A [`Stream`]'s carried state in a file, so a state lives across
//! processes (`rnn step --state FILE`): safetensors holding `h` (and `c`)
//! `[L, B, H]` with the model's config and weight hash, so the state of
//! another model is refused.

use crate::io::{TensorFile, TensorWriter};
use crate::nn::stream::{model_hash, Stream, STATE_FORMAT};
use crate::{Error, Float, Model, Result, State};
use std::path::Path;

impl<'m, T: Float> Stream<'m, T> {
    /// Writes the carried state to `path` atomically as safetensors: `h`
    /// (and `c` for the LSTM) `[L, B, H]` in the model's dtype, with metadata
    /// `format` ([`STATE_FORMAT`]), `config` (the model config as JSON) and
    /// `model_hash` ([`model_hash`] of the weights).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.state_file()?.write(path)
    }

    /// [`Stream::save`] staged beside `path`, put in place by
    /// [`crate::io::Staged::commit`].
    pub fn stage(&self, path: impl AsRef<Path>) -> Result<crate::io::Staged> {
        self.state_file()?.stage(path)
    }

    /// The carried state as a safetensors file ([`Stream::save`]).
    fn state_file(&self) -> Result<TensorWriter> {
        let c = &self.model().config;
        let (l, b, h) = (c.num_layers, self.batch(), c.hidden_size);
        let mut w = TensorWriter::new();
        w.add::<T>("h", &[l, b, h], &self.state().h);
        if self.model().config.cell.has_memory() {
            w.add::<T>("c", &[l, b, h], &self.state().c);
        }
        w.meta("format", STATE_FORMAT);
        w.meta(
            "config",
            serde_json::to_string(&self.model().config)
                .map_err(|e| Error::Config(e.to_string()))?,
        );
        w.meta("model_hash", model_hash(self.model()));
        Ok(w)
    }

    /// Reads a state saved by [`Stream::save`] for `model`: the file must
    /// hold this model's config and weight hash (else an error naming the
    /// file says it belongs to another model), and `h` (and `c`) `[L, B, H]`
    /// of finite values; `B` is read from the file.
    pub fn load(model: &'m Model<T>, path: impl AsRef<Path>) -> Result<Self> {
        let f = TensorFile::read(path)?;
        let format = f.meta("format")?;
        if format != STATE_FORMAT {
            let expected = match format == crate::tasks::forecast::HISTORY_FORMAT {
                true => format!(
                    "{STATE_FORMAT}: this is a forecaster's history, not a language model's state"
                ),
                false => STATE_FORMAT.to_string(),
            };
            return Err(f.bad_meta("format", format, &expected));
        }
        let own = serde_json::to_string(&model.config).map_err(|e| Error::Config(e.to_string()))?;
        let cfg = f.meta("config")?;
        let parsed = serde_json::from_str::<crate::ModelConfig>(cfg);
        let brief = |c: &crate::ModelConfig| {
            format!(
                "{}, {} inputs, {} hidden, {} layer(s)",
                c.cell.name(),
                c.input_size,
                c.hidden_size,
                c.num_layers
            )
        };
        match &parsed {
            // said in a few words (both configs as JSON made a line of 400
            // characters)
            Ok(c) if *c != model.config => {
                return Err(Error::Data {
                    path: f.path().to_path_buf(),
                    reason: format!(
                        "the state of another model ({}), not of this one ({}); remove it to start from zeros",
                        brief(c),
                        brief(&model.config)
                    ),
                })
            }
            _ => {}
        }
        if parsed.is_err() {
            let shown: String = cfg.chars().take(200).collect();
            return Err(f.bad_meta(
                "config",
                &shown,
                &format!("the state of another model: this model's config is {own}"),
            ));
        }
        let own_hash = model_hash(model);
        f.expect_meta(
            "model_hash",
            &own_hash,
            &format!("the state of another model: this model's weights hash to {own_hash}"),
        )?;
        let (l, h) = (model.config.num_layers, model.config.hidden_size);
        let read = |name: &str| -> Result<(usize, Vec<T>)> {
            let t = f.f64(name)?;
            match t.shape[..] {
                [tl, tb, th] if tl == l && th == h && tb >= 1 => {
                    f.check_finite(name, &t.data, "a finite state")?;
                    Ok((tb, t.data.into_iter().map(T::of).collect()))
                }
                _ => Err(f.bad_shape(name, &t.shape, format!("[L, B, H] = [{l}, B, {h}]"))),
            }
        };
        let (batch, hv) = read("h")?;
        let c = if model.config.cell.has_memory() {
            let (cb, cv) = read("c")?;
            if cb != batch {
                return Err(f.bad_shape("c", &[l, cb, h], format!("[{l}, {batch}, {h}] as h")));
            }
            cv
        } else if f.has("c") {
            // its own shape, not [] (the CLI sweep of session 55)
            let shape = f.shape("c")?;
            return Err(f.bad_shape("c", &shape, "no 'c' tensor: the cell has no memory".into()));
        } else {
            Vec::new()
        };
        Stream::batched(model, batch)?.with_state(State { h: hv, c })
    }

    /// [`Stream::load`] when `path` exists, else one stream (`B = 1`) from
    /// the zero state. Returns whether the state came from the file.
    pub fn open(model: &'m Model<T>, path: impl AsRef<Path>) -> Result<(Self, bool)> {
        match Self::load(model, path.as_ref()) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok((Stream::new(model)?, false))
            }
            other => other.map(|s| (s, true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;

    /// A forecaster's history given as a language model's state is named as
    /// such (it read only "'format' = rnn-forecast-history/1 is not valid").
    #[test]
    fn a_forecasters_history_is_named_as_not_a_state() {
        let dir = std::env::temp_dir().join(format!("rnn-state-kind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.state");
        let mut w = TensorWriter::new();
        w.add::<f64>("history", &[2], &[1.0, 2.0]);
        w.meta("format", crate::tasks::forecast::HISTORY_FORMAT);
        w.write(&path).unwrap();
        let model = Model::<f32>::new(ModelConfig::elman(3, 4, 3), 1).unwrap();
        let err = Stream::load(&model, &path).unwrap_err().to_string();
        assert!(
            err.contains("this is a forecaster's history, not a language model's state"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
