//! Character-level language modelling: vocabulary, batching into parallel
//! streams with truncated BPTT, the training state (resumable bit for bit),
//! evaluation and sampling.

use crate::io::model_file::ModelFile;
use crate::io::{TensorFile, TensorWriter};
use crate::nn::layer::Input;
use crate::nn::loss::{log_sum_exp, Reduction, Targets};
use crate::nn::model::infer::Inference;
use crate::nn::model::{dropout_masks, Batch, Model, ModelConfig, State};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The characters a model knows: Unicode scalar values, sorted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// Id `i` is `chars[i]`.
    pub chars: Vec<char>,
}

impl Vocab {
    /// The sorted set of characters of `text`.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        chars.sort_unstable();
        Vocab { chars }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The id of `c`.
    pub fn id(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// Ids of every character of `text`, or an error listing the characters
    /// (up to 20) the vocabulary does not have; `what` names the text.
    pub fn encode(&self, text: &str, what: &str) -> Result<Vec<usize>> {
        let mut missing = std::collections::BTreeSet::new();
        let ids: Vec<usize> = text
            .chars()
            .map(|c| {
                self.id(c).unwrap_or_else(|| {
                    missing.insert(c);
                    0
                })
            })
            .collect();
        if missing.is_empty() {
            Ok(ids)
        } else {
            let list: Vec<String> = missing.iter().take(20).map(|c| format!("{c:?}")).collect();
            Err(Error::UnknownChars {
                what: what.into(),
                count: missing.len(),
                list: list.join(" "),
            })
        }
    }
}

/// Reads a UTF-8 text file; invalid bytes are an error with their byte offset.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        reason: format!(
            "not UTF-8: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// Hyper-parameters of language-model training (stored with the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LmTrainConfig {
    /// Truncated-BPTT window `T` (default 64).
    pub seq_len: usize,
    /// Parallel streams `B` (default 32).
    pub batch: usize,
    /// The optimizer (default Adam, lr 2e-3).
    pub optimizer: OptimizerConfig,
    /// Global-norm clipping threshold (default 5; `None`: off).
    pub clip: Option<f64>,
    /// Seed of initialisation and stream offsets.
    pub seed: u64,
    /// Fraction of the text (at its end) held out for validation (default 0.1).
    pub val_frac: f64,
    /// Dropout probability on every layer's output, between layers and
    /// before the readout, during training only (default 0).
    #[serde(default)]
    pub dropout: f64,
    /// LSTM only: the initial forget-gate bias (`None`: PyTorch's init).
    #[serde(default)]
    pub forget_bias: Option<f64>,
}

/// The training text split into ids.
#[derive(Clone, Debug)]
pub struct LmData {
    /// The vocabulary (of the whole file).
    pub vocab: Vocab,
    /// Training ids (the first `1 - val_frac` of the text).
    pub train: Vec<usize>,
    /// Validation ids (the rest).
    pub val: Vec<usize>,
}

impl LmData {
    /// Splits `text` (read from `path`) for training with windows of `seq_len` over `batch` streams.
    pub fn new(
        text: &str,
        path: &Path,
        val_frac: f64,
        seq_len: usize,
        batch: usize,
    ) -> Result<Self> {
        let vocab = Vocab::from_text(text);
        let ids = vocab.encode(text, &path.display().to_string())?;
        let n_val = (ids.len() as f64 * val_frac).floor() as usize;
        let n_train = ids.len() - n_val;
        let need = batch * (2 * seq_len) + 1;
        if ids.is_empty() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "the file is empty".into(),
            });
        }
        if n_train < need {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "too short: {n_train} training characters, but {batch} streams of windows of {seq_len} need at least {need} (lower --batch or --seq-len)"
                ),
            });
        }
        if val_frac > 0.0 && n_val < 2 {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!("too short to hold out a validation part of {val_frac} (it would have {n_val} characters)"),
            });
        }
        Ok(LmData {
            vocab,
            train: ids[..n_train].to_vec(),
            val: ids[n_train..].to_vec(),
        })
    }
}

/// Everything that changes during training, so a run can stop and resume bit for bit.
#[derive(Clone, Debug)]
pub struct LmTrainer {
    /// The model being trained (f32).
    pub model: Model<f32>,
    /// Its optimizer and state.
    pub opt: Optimizer<f32>,
    /// Training hyper-parameters.
    pub cfg: LmTrainConfig,
    /// Optimizer steps taken.
    pub step: u64,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Next window within the epoch.
    pub window: u64,
    /// This epoch's stream offset (in `0..seq_len`).
    pub offset: usize,
    /// Hidden state carried between windows (detached): `[L*D, B, H]`.
    pub state: State<f32>,
    /// Draws each epoch's offset.
    pub rng: ChaCha8Rng,
    grads: Vec<f32>,
}

impl LmTrainer {
    /// A fresh trainer: model initialised from `cfg.seed`.
    pub fn new(config: ModelConfig, cfg: LmTrainConfig) -> Result<Self> {
        let mut model = Model::<f32>::new(config, cfg.seed)?;
        if let Some(b) = cfg.forget_bias {
            model.set_forget_bias(b as f32)?;
        }
        let opt = Optimizer::new(cfg.optimizer.clone(), model.params.len());
        let state = model.zero_state(cfg.batch);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(0x6c6d));
        let offset = rng.random_range(0..cfg.seq_len);
        let grads = vec![0.0; model.params.len()];
        Ok(LmTrainer {
            model,
            opt,
            cfg,
            step: 0,
            epoch: 0,
            window: 0,
            offset,
            state,
            rng,
            grads,
        })
    }

    /// Windows per epoch: each stream covers `(N - 1) / B` characters.
    pub fn windows_per_epoch(&self, n_train: usize) -> u64 {
        let seg = (n_train - 1) / self.cfg.batch;
        ((seg - self.cfg.seq_len) / self.cfg.seq_len) as u64
    }

    /// One optimizer step on the next window of every stream. Returns the
    /// mean cross-entropy (nats/char) of the window before the update; a
    /// non-finite loss is an error and leaves the weights untouched.
    pub fn train_step(&mut self, train: &[usize]) -> Result<f64> {
        let (t, b) = (self.cfg.seq_len, self.cfg.batch);
        let seg = (train.len() - 1) / b;
        let mut x = vec![0usize; t * b]; // [T, B]
        let mut y = vec![0usize; t * b]; // [T, B]
        for s in 0..b {
            let start = s * seg + self.offset + self.window as usize * t;
            for j in 0..t {
                x[j * b + s] = train[start + j]; // x_t = char t
                y[j * b + s] = train[start + j + 1]; // y_t = char t + 1
            }
        }
        let masks: Option<Vec<Vec<f32>>> = (self.cfg.dropout > 0.0)
            .then(|| dropout_masks(&self.model.config, self.cfg.dropout, t, b, &mut self.rng));
        self.grads.fill(0.0);
        // forward, loss and BPTT, the streams split across the threads
        let (loss, state) = self.model.loss_and_grads_parallel(
            Batch::new(Input::Ids(&x), t, b).with_state(&self.state),
            Targets::Classes(&y),
            masks.as_deref(),
            Reduction::Mean,
            &mut self.grads,
        )?;
        if !loss.is_finite() || self.grads.iter().any(|g| !g.is_finite()) {
            return Err(Error::Diverged {
                step: self.step + 1,
                value: loss.to_string(),
            });
        }
        if let Some(c) = self.cfg.clip {
            clip_grad_norm(&mut self.grads, c);
        }
        self.opt.step(&mut self.model.params, &self.grads);
        self.state = state; // carried, detached
        self.step += 1;
        self.window += 1;
        if self.window >= self.windows_per_epoch(train.len()) {
            self.epoch += 1;
            self.window = 0;
            self.offset = self.rng.random_range(0..t); // a fresh offset each epoch
            self.state = self.model.zero_state(b);
        }
        Ok(loss as f64)
    }

    /// Saves everything needed to resume into `path` (atomically).
    pub fn save_state(&self, path: &Path, extra_meta: &BTreeMap<String, String>) -> Result<()> {
        let mut w = TensorWriter::new();
        let n = self.model.params.len();
        w.add::<f32>("params", &[n], &self.model.params);
        for (i, buf) in self.opt.state.iter().enumerate() {
            w.add::<f32>(format!("opt.{i}"), &[n], buf);
        }
        w.add::<f32>("state.h", &[self.state.h.len()], &self.state.h);
        w.add::<f32>("state.c", &[self.state.c.len()], &self.state.c);
        w.meta("format", "rnn-lm-train-state/1");
        w.meta("model_config", json(&self.model.config));
        w.meta("train_config", json(&self.cfg));
        w.meta("optimizer_now", json(&self.opt.config));
        w.meta("rng", json(&self.rng));
        w.meta(
            "position",
            serde_json::json!({"step": self.step, "epoch": self.epoch, "window": self.window, "offset": self.offset, "opt_steps": self.opt.steps})
                .to_string(),
        );
        for (k, v) in extra_meta {
            w.meta(k.clone(), v.clone());
        }
        w.write(path)
    }

    /// Restores a trainer saved by [`LmTrainer::save_state`]; returns the
    /// extra metadata too.
    pub fn load_state(path: &Path) -> Result<(Self, BTreeMap<String, String>)> {
        let f = TensorFile::read(path)?;
        let fmt = f.meta("format")?;
        if fmt != "rnn-lm-train-state/1" {
            return Err(f.bad_meta("format", fmt, "rnn-lm-train-state/1"));
        }
        fn parse<T: serde::de::DeserializeOwned>(f: &TensorFile, key: &str) -> Result<T> {
            let s = f.meta(key)?;
            serde_json::from_str(s).map_err(|e| f.bad_meta(key, s, &e.to_string()))
        }
        let config: ModelConfig = parse(&f, "model_config")?;
        let cfg: LmTrainConfig = parse(&f, "train_config")?;
        let mut t = LmTrainer::new(config, cfg)?;
        t.opt.config = parse(&f, "optimizer_now")?;
        t.rng = parse(&f, "rng")?;
        let pos: serde_json::Value = parse(&f, "position")?;
        let get = |k: &str| {
            pos.get(k)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| f.bad_meta("position", &pos.to_string(), &format!("needs {k}")))
        };
        (t.step, t.epoch, t.window, t.offset, t.opt.steps) = (
            get("step")?,
            get("epoch")?,
            get("window")?,
            get("offset")? as usize,
            get("opt_steps")?,
        );
        let n = t.model.params.len();
        let read = |name: &str, len: usize| -> Result<Vec<f32>> {
            Ok(f.f64_shaped(name, &[len])?
                .into_iter()
                .map(|v| v as f32)
                .collect())
        };
        t.model.params = read("params", n)?;
        for i in 0..t.opt.state.len() {
            t.opt.state[i] = read(&format!("opt.{i}"), n)?;
        }
        t.state.h = read("state.h", t.state.h.len())?;
        t.state.c = read("state.c", t.state.c.len())?;
        let meta = f
            .metadata()
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "format"
                        | "model_config"
                        | "train_config"
                        | "optimizer_now"
                        | "rng"
                        | "position"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok((t, meta))
    }
}

/// A JSON string of `v` for metadata (these types always serialise).
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Mean cross-entropy in nats per predicted character of `model` over `ids`,
/// cut into `streams` contiguous segments run in parallel (state carried
/// across windows of `window` characters). Returns `(total nats, characters)`.
pub fn evaluate(model: &Model<f32>, ids: &[usize], streams: usize, window: usize) -> (f64, usize) {
    if ids.len() < 2 {
        return (0.0, 0);
    }
    let b = streams.clamp(1, (ids.len() - 1).max(1));
    let seg = (ids.len() - 1) / b; // each stream predicts `seg` characters
    let v = model.config.output_size;
    let mut state = model.zero_state(b);
    let mut inf = Inference::new(); // forward only, buffers reused per window
    let (mut total, mut count) = (0.0f64, 0usize);
    let mut pos = 0;
    while pos < seg {
        let t = window.min(seg - pos);
        let mut x = vec![0usize; t * b]; // [T, B]
        for s in 0..b {
            for j in 0..t {
                x[j * b + s] = ids[s * seg + pos + j];
            }
        }
        // the streams split across the threads, each from its carried state
        model.infer_parallel_unchecked(
            Batch::new(Input::Ids(&x), t, b).with_state(&state),
            &mut inf,
        );
        for j in 0..t {
            for s in 0..b {
                let row = &inf.logits[(j * b + s) * v..(j * b + s + 1) * v];
                let y = ids[s * seg + pos + j + 1];
                total += (log_sum_exp(row) - row[y]) as f64; // -log p(y)
                count += 1;
            }
        }
        std::mem::swap(&mut state, &mut inf.state); // carried to the next window
        pos += t;
    }
    (total, count)
}

/// How to sample text from a language model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Characters to generate.
    pub len: usize,
    /// Divides the logits (below 1: more conservative).
    pub temperature: f64,
    /// Keep only the k most likely characters (0 = all).
    pub top_k: usize,
    /// Seed of the sampler.
    pub seed: u64,
}

/// Samples `s.len` characters after `prime`, calling `emit` with each one.
/// The prime is fed through the model first (a newline when empty).
pub fn generate(
    model: &Model<f32>,
    vocab: &Vocab,
    prime: &[usize],
    s: Sampling,
    mut emit: impl FnMut(char),
) {
    let Sampling {
        len,
        temperature,
        top_k,
        seed,
    } = s;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = model.zero_state(1);
    let start = [vocab.id('\n').unwrap_or(0)];
    let prime = if prime.is_empty() { &start[..] } else { prime };
    let v = model.config.output_size;
    let mut inf = Inference::new(); // forward only, buffers reused per character
    model.infer_unchecked(
        Batch::new(Input::Ids(prime), prime.len(), 1).with_state(&state),
        &mut inf,
    );
    let mut logits = inf.logits[(prime.len() - 1) * v..].to_vec();
    std::mem::swap(&mut state, &mut inf.state);
    let mut probs = vec![0.0f64; v];
    for _ in 0..len {
        // p_i ∝ exp(o_i / temperature), restricted to the top k
        let scaled: Vec<f64> = logits.iter().map(|&o| o as f64 / temperature).collect();
        let mut keep = vec![true; v];
        if top_k > 0 && top_k < v {
            let mut sorted = scaled.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let cut = sorted[top_k - 1];
            let mut kept = 0;
            for (k, &s) in keep.iter_mut().zip(&scaled) {
                *k = s >= cut && kept < top_k;
                kept += usize::from(*k);
            }
        }
        let m = scaled
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(s, _)| *s)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        for ((p, &s), &k) in probs.iter_mut().zip(&scaled).zip(&keep) {
            *p = if k { (s - m).exp() } else { 0.0 };
            z += *p;
        }
        let mut r = rng.random::<f64>() * z;
        let mut next = v - 1;
        for (i, &p) in probs.iter().enumerate() {
            if r < p {
                next = i;
                break;
            }
            r -= p;
        }
        emit(vocab.chars[next]);
        model.infer_unchecked(
            Batch::new(Input::Ids(&[next]), 1, 1).with_state(&state),
            &mut inf,
        );
        logits.copy_from_slice(&inf.logits);
        std::mem::swap(&mut state, &mut inf.state);
    }
}

/// The vocabulary stored in a language model's file.
pub fn vocab_of(mf: &ModelFile, dir: &Path) -> Result<Vocab> {
    let s = mf.meta(dir, "vocab")?;
    let chars: Vec<char> = serde_json::from_str::<String>(s)
        .map(|s| s.chars().collect())
        .map_err(|e| Error::Metadata {
            path: dir.join(crate::io::model_file::MODEL_FILE),
            key: "vocab".into(),
            value: s.chars().take(40).collect(),
            expected: format!("a JSON string of characters ({e})"),
        })?;
    let vocab = Vocab { chars };
    if vocab.len() != mf.model.config.output_size || vocab.len() != mf.model.config.input_size {
        return Err(Error::Metadata {
            path: dir.join(crate::io::model_file::MODEL_FILE),
            key: "vocab".into(),
            value: format!("{} characters", vocab.len()),
            expected: format!(
                "as many characters as the model's input/output size {}",
                mf.model.config.output_size
            ),
        });
    }
    Ok(vocab)
}

/// The `vocab` metadata value for `vocab`.
pub fn vocab_meta(vocab: &Vocab) -> String {
    serde_json::to_string(&vocab.chars.iter().collect::<String>()).unwrap_or_default()
}
