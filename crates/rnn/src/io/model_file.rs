//! Model directories: `model.safetensors` holds the weights under PyTorch
//! names (f32) with the architecture, task and vocabulary as JSON metadata.
//! Files are written atomically, so a killed process never leaves a broken model.

use crate::io::{write_atomic, Checksum, TensorFile, TensorWriter};
use crate::nn::model::{Model, ModelConfig};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The weights file inside a model directory.
pub const MODEL_FILE: &str = "model.safetensors";
/// The format tag written in the metadata.
pub const FORMAT: &str = "rnn-model/1";

/// What a model directory's model does: its `task` metadata entry.
///
/// ```
/// use rnn::io::model_file::Task;
/// assert_eq!(Task::parse("forecast"), Some(Task::Forecast));
/// assert_eq!(Task::Lm.to_string(), "lm");
/// assert_eq!(Task::parse("mystery"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// A character language model (`rnn train lm`).
    Lm,
    /// A sequence tagger (`rnn train tag`).
    Tag,
    /// A time-series forecaster (`rnn train forecast`).
    Forecast,
    /// A sequence classifier (`rnn train classify`).
    Classify,
    /// A network imported from PyTorch (`rnn import`): no task around it.
    Imported,
}

impl Task {
    /// Every task, in the order they are listed in messages.
    pub const ALL: [Task; 5] = [
        Task::Lm,
        Task::Tag,
        Task::Forecast,
        Task::Classify,
        Task::Imported,
    ];

    /// The name written in model files ("lm", "tag", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Lm => "lm",
            Task::Tag => "tag",
            Task::Forecast => "forecast",
            Task::Classify => "classify",
            Task::Imported => "imported",
        }
    }

    /// The task a model file's name stands for, if any.
    pub fn parse(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a model directory's `model.safetensors` holds.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// What the model does.
    pub task: Task,
    /// The recurrent network and readout (`rnn.*`, `head.*`).
    pub model: Model<f32>,
    /// Further tensors (e.g. `embed.weight`), by name: shape and values.
    pub extra: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// Task metadata (JSON strings: vocabulary, normalisation, ...).
    pub meta: BTreeMap<String, String>,
}

impl ModelFile {
    /// Writes `dir/model.safetensors` atomically, creating `dir` if needed.
    ///
    /// # Errors
    ///
    /// A model whose `params`, `layout` and `config` disagree (see
    /// [`Model`]) is refused before anything is written; I/O errors name the
    /// file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.model.check_model_named()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut w = TensorWriter::new();
        for e in &self.model.layout {
            w.add::<f32>(e.name.clone(), &e.shape, &self.model.params[e.range()]);
        }
        for (name, (shape, data)) in &self.extra {
            w.add::<f32>(name.clone(), shape, data);
        }
        for (k, v) in &self.meta {
            w.meta(k.clone(), v.clone());
        }
        w.meta("format", FORMAT);
        w.meta("task", self.task.as_str());
        w.meta(
            "config",
            serde_json::to_string(&self.model.config).map_err(|e| Error::Config(e.to_string()))?,
        );
        write_atomic(&dir.join(MODEL_FILE), &w.to_bytes()?)
    }

    /// Reads `dir/model.safetensors`; every tensor's presence and shape is checked.
    pub fn load(dir: &Path) -> Result<Self> {
        // a --force run into dir that has not written its model yet: the
        // model it is to replace, set aside
        let dir = &crate::io::model_dir(dir);
        if !dir.is_dir() {
            return Err(Error::Data {
                path: dir.to_path_buf(),
                reason: "not a model directory (it does not exist or is not a folder)".into(),
            });
        }
        Self::from_tensor_file(TensorFile::read(dir.join(MODEL_FILE))?)
    }

    /// Reads a model file already parsed (every tensor's presence and shape
    /// is checked, as by [`ModelFile::load`]).
    pub fn from_tensor_file(f: TensorFile) -> Result<Self> {
        if f.checksum() == Checksum::Absent {
            static NOTED: std::sync::Once = std::sync::Once::new();
            NOTED.call_once(|| {
                // (a closed stderr is no reason to fail: not eprintln!, which panics)
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} has no checksum (written before rnn stored one); loaded without verifying its tensor bytes",
                    f.path().display()
                );
            });
        }
        f.expect_meta("format", FORMAT, FORMAT)?;
        let task_s = f.meta("task")?;
        let names: Vec<&str> = Task::ALL.iter().map(|t| t.as_str()).collect();
        let task = Task::parse(task_s)
            .ok_or_else(|| f.bad_meta("task", task_s, &format!("one of {}", names.join(", "))))?;
        let cfg_s = f.meta("config")?;
        let config: ModelConfig = serde_json::from_str(cfg_s)
            .map_err(|e| f.bad_meta("config", cfg_s, &format!("a model configuration ({e})")))?;
        // a damaged or hostile config is refused before anything is allocated
        let params = config.param_count_f64();
        crate::memory::ensure_fits(
            || {
                format!(
                    "{}: a model of {params:.1e} parameters (config hidden_size {}, num_layers {}, input_size {}, output_size {})",
                    f.path().display(),
                    config.hidden_size,
                    config.num_layers,
                    config.input_size,
                    config.output_size
                )
            },
            params * 4.0,
        )?;
        if params > f.value_count() as f64 {
            return Err(f.bad_meta(
                "config",
                cfg_s,
                &format!(
                    "a model of {params:.0} parameters, but the file's tensors hold {} values",
                    f.value_count()
                ),
            ));
        }
        let mut model = Model::<f32>::zeros(config).map_err(|e| e.in_file(f.path()))?;
        // every tensor, weights and extras alike, must be finite, and within
        // f32's range: an F64 value of 1e39 became an infinite weight that
        // loaded (the library sweep of session 53)
        let finite = |name: &str, data: &[f64]| {
            let in_range =
                "a weight within the range of 32-bit floats (±3.4e38) the model computes in";
            f.check_f32(name, data, "a finite weight", in_range)
        };
        for e in model.layout.clone() {
            let data = f.f64_shaped(&e.name, &e.shape)?;
            finite(&e.name, &data)?;
            for (d, s) in model.params[e.range()].iter_mut().zip(data) {
                *d = s as f32;
            }
        }
        let mut extra = BTreeMap::new();
        for name in f.names() {
            if model.entry(&name).is_none() {
                let t = f.f64(&name)?;
                finite(&name, &t.data)?;
                extra.insert(name, (t.shape, t.data.iter().map(|&v| v as f32).collect()));
            }
        }
        let meta = f
            .metadata()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "format" | "task" | "config"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(ModelFile {
            task,
            model,
            extra,
            meta,
        })
    }

    /// Like [`ModelFile::load`], but the model must be for `task`.
    pub fn load_task(dir: &Path, task: Task) -> Result<Self> {
        let m = Self::load(dir)?;
        if m.task != task {
            return Err(Error::Data {
                path: dir.join(MODEL_FILE),
                reason: format!(
                    "holds {} model, but this command needs {} model",
                    crate::tasks::insight::a_task(&m.task.to_string()),
                    crate::tasks::insight::a_task(&task.to_string())
                ),
            });
        }
        Ok(m)
    }

    /// A metadata entry that must be present.
    pub fn meta(&self, dir: &Path, key: &str) -> Result<&str> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Metadata {
                path: dir.join(MODEL_FILE),
                key: key.into(),
                value: String::new(),
                expected: "the key must be present".into(),
            })
    }

    /// Metadata `key` (which must be present) parsed as JSON; the error
    /// names the file, the key and `what` the value should be.
    pub fn meta_json<V: serde::de::DeserializeOwned>(
        &self,
        dir: &Path,
        key: &str,
        what: &str,
    ) -> Result<V> {
        let s = self.meta(dir, key)?;
        serde_json::from_str(s).map_err(|e| Error::Metadata {
            path: dir.join(MODEL_FILE),
            key: key.into(),
            value: s.chars().take(60).collect(),
            expected: format!("{what} as JSON ({e})"),
        })
    }

    /// An extra tensor that must be present with the given shape.
    pub fn extra(&self, dir: &Path, name: &str, shape: &[usize]) -> Result<&[f32]> {
        match self.extra.get(name) {
            None => Err(Error::MissingTensor {
                path: dir.join(MODEL_FILE),
                tensor: name.into(),
            }),
            Some((s, d)) if s == shape => Ok(d),
            Some((s, _)) => Err(Error::Shape {
                path: dir.join(MODEL_FILE),
                tensor: name.into(),
                got: s.clone(),
                expected: format!("{shape:?}"),
            }),
        }
    }
}

/// Writes a text file atomically (metrics, plots).
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floats kept as JSON metadata (a forecaster's scaling and
    /// coefficients, a classifier's validation scores) come back bit for
    /// bit through [`ModelFile::meta_json`]'s parser: serde_json's default
    /// parser is off by one unit in the last place on some values (this
    /// one, a classifier's validation loss, among them), its
    /// `float_roundtrip` feature is exact.
    #[test]
    fn json_floats_come_back_bit_for_bit() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut values = vec![0.054800352674693284_f64, 1e-300, 5e-324, f64::MAX, -0.1];
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // finite doubles of every magnitude: random bits, NaN and the
            // infinities (not JSON numbers) left out
            let v = f64::from_bits(state);
            if v.is_finite() {
                values.push(v);
            }
        }
        for v in values {
            let text = serde_json::to_string(&v).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e} written as {text}");
        }
    }

    #[test]
    fn save_load_roundtrip_and_task_check() {
        let dir = std::env::temp_dir().join(format!("rnn-ckpt-{}", std::process::id()));
        let mut cfg = ModelConfig::elman(5, 4, 5);
        cfg.num_layers = 2;
        cfg.bidirectional = true;
        let model = Model::<f32>::new(cfg, 1).unwrap();
        let mut extra = BTreeMap::new();
        extra.insert(
            "embed.weight".to_string(),
            (vec![2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]),
        );
        let mut meta = BTreeMap::new();
        meta.insert("vocab".to_string(), "[\"a\"]".to_string());
        let mf = ModelFile {
            task: Task::Lm,
            model,
            extra,
            meta,
        };
        mf.save(&dir).unwrap();
        let back = ModelFile::load_task(&dir, Task::Lm).unwrap();
        assert_eq!(back.model.params, mf.model.params);
        assert_eq!(back.model.config, mf.model.config);
        assert_eq!(back.extra, mf.extra);
        assert_eq!(back.meta.get("vocab"), mf.meta.get("vocab"));
        assert!(ModelFile::load_task(&dir, Task::Tag).is_err());
        // a NaN in an extra tensor (embeddings, CRF, ...) is refused by name
        let mut bad = mf.clone();
        bad.extra.get_mut("embed.weight").unwrap().1[4] = f32::NAN;
        bad.save(&dir).unwrap();
        let err = ModelFile::load(&dir).unwrap_err().to_string();
        assert!(err.contains("'embed.weight' element 4"), "{err}");
        // an F64 tensor's value past f32's range is refused by name (it
        // loaded as an infinite weight), written again as F64 with the
        // file's metadata so that every checksum holds
        mf.save(&dir).unwrap();
        let f = TensorFile::read(dir.join(MODEL_FILE)).unwrap();
        let mut w = TensorWriter::new();
        for name in f.names() {
            let mut t = f.f64(&name).unwrap();
            if name == "rnn.weight_hh_l1" {
                t.data[3] = -1e39;
            }
            w.add::<f64>(name, &t.shape, &t.data);
        }
        for (k, v) in f.metadata() {
            if !k.contains("checksum") {
                w.meta(k.clone(), v.clone());
            }
        }
        std::fs::write(dir.join(MODEL_FILE), w.to_bytes().unwrap()).unwrap();
        let err = ModelFile::load(&dir).unwrap_err().to_string();
        assert!(
            err.ends_with("tensor 'rnn.weight_hh_l1' element 3: -1e39 is out of range (a weight within the range of 32-bit floats (±3.4e38) the model computes in)"),
            "{err}"
        );
        // a task this version does not know is named, with the ones it knows
        mf.save(&dir).unwrap();
        let bytes = std::fs::read(dir.join(MODEL_FILE)).unwrap();
        let at = bytes
            .windows(11)
            .position(|w| w == br#""task":"lm""#)
            .unwrap();
        let mut renamed = bytes.clone();
        renamed[at + 8..at + 10].copy_from_slice(b"zz");
        let renamed = crate::io::reseal(&renamed).unwrap(); // edited on purpose
        std::fs::write(dir.join(MODEL_FILE), renamed).unwrap();
        let err = ModelFile::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("'task'")
                && err.contains("zz")
                && err.contains("lm, tag, forecast, classify, imported"),
            "{err}"
        );
        std::fs::write(dir.join(MODEL_FILE), b"garbage").unwrap();
        assert!(matches!(ModelFile::load(&dir), Err(Error::Corrupt { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
