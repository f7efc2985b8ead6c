//! The state of a training run that changes step by step (weights,
//! optimizer, data position, carried hidden state, RNG), one step of
//! truncated BPTT over parallel streams, and its checkpoint file, so a run
//! can stop and resume bit for bit.

use crate::dist::{shard, Collective, Single};
use crate::io::{TensorFile, TensorWriter};
use crate::nn::layer::Input;
use crate::nn::loss::{Reduction, Targets};
use crate::nn::model::{
    dropout_masks, fill_mask, locked_dropout_masks, Batch, Model, ModelConfig, State,
};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// The hyper-parameters of a training step, stored with the run (the
/// `train_config` of `train_state.safetensors`, the `train` of the model
/// file's metadata). [`super::TrainConfig`] builds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepConfig {
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
    /// DropConnect probability on every `weight_hh`, one mask per window,
    /// during training only (default 0).
    #[serde(default)]
    pub weight_drop: f64,
    /// Locked dropout: `dropout`'s mask drawn once per window and stream,
    /// the same at every step ([`locked_dropout_masks`]); `false` (the
    /// default): a fresh mask at every step.
    #[serde(default)]
    pub locked_dropout: bool,
}

/// One `weight_hh` as it was before this window's weight drop: where it
/// lives in the flat buffer, its values, and the mask applied to it (kept
/// from window to window, refilled each time).
#[derive(Clone, Debug)]
struct Dropped {
    range: Range<usize>,
    original: Vec<f32>, // [G*H, H]
    mask: Vec<f32>,     // [G*H, H], each 0 or 1/(1-p)
}

/// What one forward and BPTT pass over a window gives: the mean loss, the
/// carried state (one process), or this rank's rows of it and its streams.
type Pass = (
    f32,
    Option<State<f32>>,
    Option<(State<f32>, (usize, usize))>,
);

/// Everything that changes during training, so a run can stop and resume bit for bit.
#[derive(Clone, Debug)]
pub struct TrainState {
    /// The model being trained (f32).
    pub model: Model<f32>,
    /// Its optimizer and state.
    pub opt: Optimizer<f32>,
    /// Training hyper-parameters.
    pub cfg: StepConfig,
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
    /// The flat gradient, then the loss (the buffer ranks all-reduce).
    grads: Vec<f32>,
    /// Weight drop's buffers, one per `weight_hh` (empty without it).
    dropped: Vec<Dropped>,
}

impl StepConfig {
    /// Checks every field by itself; the error names the first bad one
    /// (what [`super::TrainConfig::validate`] checks of the same fields, for
    /// a `StepConfig` built by hand or read from a file).
    ///
    /// ```
    /// use rnn::optim::OptimizerConfig;
    /// use rnn::tasks::lm::StepConfig;
    /// let ok = StepConfig {
    ///     seq_len: 64, batch: 32, clip: Some(5.0),
    ///     optimizer: OptimizerConfig::from_args("adam", &serde_json::json!({}))?,
    ///     seed: 0, val_frac: 0.1, dropout: 0.2, forget_bias: None, weight_drop: 0.0,
    ///     locked_dropout: false,
    /// };
    /// assert!(ok.validate().is_ok());
    /// let bad = StepConfig { dropout: f64::NAN, ..ok.clone() };
    /// assert_eq!(bad.validate().unwrap_err().to_string(),
    ///     "dropout: NaN is out of range (a probability in [0, 1))");
    /// assert!(StepConfig { weight_drop: -1.0, ..ok }.validate().is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.seq_len == 0 || self.batch == 0 {
            let (what, v) = match self.seq_len {
                0 => ("seq_len", self.seq_len),
                _ => ("batch", self.batch),
            };
            return Err(Error::argument(what, "at least 1", v));
        }
        check_shared_fields(
            self.clip,
            self.val_frac,
            self.forget_bias,
            self.dropout,
            self.weight_drop,
        )?;
        self.optimizer.validate()
    }
}

/// The checks of the fields [`StepConfig`] and [`super::TrainConfig`]
/// share, in this order; the error names the first bad one.
pub(super) fn check_shared_fields(
    clip: Option<f64>,
    val_frac: f64,
    forget_bias: Option<f64>,
    dropout: f64,
    weight_drop: f64,
) -> Result<()> {
    let bad = |what: &str, v: f64, expected: &str| {
        Err(Error::Value {
            what: what.into(),
            // 1e300 in full is 301 digits
            value: if v.abs() >= 1e16 {
                format!("{v:e}")
            } else {
                v.to_string()
            },
            expected: expected.into(),
        })
    };
    if let Some(c) = clip.filter(|c| !(c.is_finite() && *c >= 0.0)) {
        return bad("clip", c, "a number >= 0");
    }
    if !(val_frac.is_finite() && val_frac > 0.0 && val_frac < 0.9) {
        return bad("val_frac", val_frac, "a fraction in (0, 0.9)");
    }
    // the weights are f32: 1e300 became inf and was shown so (the CLI
    // sweep of session 55)
    if let Some(b) = forget_bias.filter(|b| !b.is_finite() || b.abs() > f64::from(f32::MAX)) {
        return bad(
            "forget_bias",
            b,
            "a finite number within the 32-bit floats the weights are (±3.4e38)",
        );
    }
    for (what, v) in [("dropout", dropout), ("weight_drop", weight_drop)] {
        if !(0.0..1.0).contains(&v) {
            return bad(what, v, "a probability in [0, 1)");
        }
    }
    Ok(())
}

impl TrainState {
    /// A fresh trainer: model initialised from `cfg.seed`. An error for a
    /// field of `cfg` out of range ([`StepConfig::validate`]) or a model
    /// and batch the machine cannot hold.
    pub fn new(config: ModelConfig, cfg: StepConfig) -> Result<Self> {
        // a dropout of NaN or a weight drop of -1 trained on (the library
        // sweep of session 53, finding 18)
        cfg.validate()?;
        // before any allocation: a batch of 2^40 streams aborted the process
        // allocating its state (the library sweep of session 53)
        let buffers = cfg.optimizer.buffers();
        config.ensure_trainable("lm", buffers, cfg.seq_len, cfg.batch)?;
        let mut model = Model::<f32>::new(config, cfg.seed)?;
        if let Some(b) = cfg.forget_bias {
            model.set_forget_bias(b as f32)?;
        }
        let opt = Optimizer::new(cfg.optimizer.clone(), model.params.len());
        let state = model.zero_state(cfg.batch);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(0x6c6d));
        let offset = rng.random_range(0..cfg.seq_len);
        let grads = vec![0.0; model.params.len() + 1];
        Ok(TrainState {
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
            dropped: Vec::new(),
        })
    }

    /// Windows per epoch: each stream covers `(N - 1) / B` characters.
    /// 0 when the text is too short for one (it underflowed to about 2^61).
    pub fn windows_per_epoch(&self, n_train: usize) -> u64 {
        let (t, b) = (self.cfg.seq_len.max(1), self.cfg.batch.max(1));
        let seg = n_train.saturating_sub(1) / b;
        (seg.saturating_sub(t) / t) as u64
    }

    /// One optimizer step on the next window of every stream. Returns the
    /// mean cross-entropy (nats/char) of the window before the update; a
    /// non-finite loss is an error and leaves the weights untouched.
    pub fn train_step(&mut self, train: &[usize]) -> Result<f64> {
        self.train_step_on(train, &Single)
    }

    /// [`TrainState::train_step`] as one rank of a data-parallel job: the
    /// same batch and random draws on every rank, each running its
    /// [`shard`] of the streams; one all-reduce of the gradient (and loss)
    /// makes the whole batch's, clipped and applied by every rank alike.
    /// The carried state is kept for this rank's streams only (see
    /// [`TrainState::share_state`]). With one process this is `train_step`.
    ///
    /// # Errors
    ///
    /// As `train_step`; [`Error::Value`] when the batch is not a multiple
    /// of the number of ranks.
    pub fn train_step_on(&mut self, train: &[usize], comm: &dyn Collective) -> Result<f64> {
        let (t, b) = (self.cfg.seq_len, self.cfg.batch);
        let seg = train.len().saturating_sub(1) / b.max(1);
        // the last stream's window and its next characters must lie in `train`
        let last = (b.saturating_sub(1).checked_mul(seg))
            .and_then(|s| s.checked_add(self.offset))
            .and_then(|s| s.checked_add(usize::try_from(self.window).ok()?.checked_mul(t)?))
            .and_then(|s| s.checked_add(t));
        if t == 0 || b == 0 || last.is_none_or(|last| last >= train.len()) {
            return Err(Error::argument(
                "train",
                format!(
                    "ids enough for window {} of {b} streams of {t} (epoch {})",
                    self.window, self.epoch
                ),
                format!("{} ids", train.len()),
            ));
        }
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
            .then(|| {
                let (config, p) = (&self.model.config, self.cfg.dropout);
                match self.cfg.locked_dropout {
                    true => locked_dropout_masks(config, p, t, b, &mut self.rng),
                    false => dropout_masks(config, p, t, b, &mut self.rng),
                }
            })
            .transpose()?;
        // weight drop: W_hh' = W_hh ⊙ M for the whole window (forward and BPTT)
        self.drop_recurrent_weights();
        let pass = self.forward_backward(&x, &y, masks.as_deref(), comm);
        // dE/dW_hh = dE/dW_hh' ⊙ M, and W_hh back as it was (on an error too)
        self.restore_recurrent_weights();
        let (loss, state, part) = pass?;
        let n = self.model.params.len();
        // (the null model: a uniform guess over the V characters)
        let uniform = crate::tasks::uniform_loss(self.model.config.output_size);
        let blown = crate::tasks::diverged(f64::from(loss), uniform);
        if blown.is_some() || self.grads.iter().any(|g| !g.is_finite()) {
            return Err(Error::Diverged {
                step: self.step + 1,
                value: blown.unwrap_or_else(|| loss.to_string()),
            });
        }
        let grads = &mut self.grads[..n];
        if let Some(c) = self.cfg.clip {
            clip_grad_norm(grads, c)?; // the global norm: after the all-reduce
        }
        self.opt.step(&mut self.model.params, grads)?;
        // carried, detached
        if let Some(state) = state {
            self.state = state;
        }
        if let Some((part, (b0, b1))) = part {
            let h = self.model.config.hidden_size;
            self.state.set_batch_part(&part, b, h, b0, b1);
        }
        self.step += 1;
        self.next_window(train.len());
        Ok(loss as f64)
    }

    /// Forward, loss and BPTT over the window `x` -> `y` (`[T, B]` ids),
    /// the gradient (summed over ranks) into `self.grads`.
    fn forward_backward(
        &mut self,
        x: &[usize],
        y: &[usize],
        masks: Option<&[Vec<f32>]>,
        comm: &dyn Collective,
    ) -> Result<Pass> {
        let (t, b) = (self.cfg.seq_len, self.cfg.batch);
        self.grads.fill(0.0);
        let n = self.model.params.len();
        let batch = Batch {
            masks,
            ..Batch::new(Input::Ids(x), t, b).with_state(&self.state)
        };
        let targets = Targets::Classes(y);
        // forward, loss and BPTT, the streams split across the threads
        Ok(if comm.size() == 1 {
            let grads = &mut self.grads[..n];
            let (loss, state) =
                (self.model).loss_and_grads_parallel(batch, targets, Reduction::Mean, grads)?;
            (loss, Some(state), None)
        } else {
            // this rank's streams; the sum over ranks is the whole batch's
            let s = shard(comm, b)?;
            let grads = &mut self.grads[..n];
            let (loss, state) =
                (self.model).loss_and_grads_shard(batch, targets, Reduction::Mean, s, grads)?;
            self.grads[n] = loss;
            comm.all_reduce_sum(&mut self.grads);
            (self.grads[n], None, Some((state, s)))
        })
    }

    /// Draws this window's weight-drop masks (when `weight_drop` > 0) and
    /// applies them in place: `W_hh' = W_hh ⊙ M`, each `M_ij` 0 with
    /// probability `p` and `1/(1-p)` otherwise, so `E[W_hh'] = W_hh`.
    fn drop_recurrent_weights(&mut self) {
        let p = self.cfg.weight_drop;
        if p <= 0.0 {
            return;
        }
        if self.dropped.is_empty() {
            self.dropped = (self.model.layout.iter())
                .filter(|e| e.name.starts_with("rnn.weight_hh_"))
                .map(|e| Dropped {
                    range: e.range(),
                    original: Vec::new(),
                    mask: Vec::new(),
                })
                .collect();
        }
        for d in &mut self.dropped {
            let w = &mut self.model.params[d.range.clone()];
            d.original.clear();
            d.original.extend_from_slice(w);
            fill_mask(&mut d.mask, w.len(), p, &mut self.rng);
            for (v, &m) in w.iter_mut().zip(&d.mask) {
                *v *= m; // W_hh'_ij = W_hh_ij M_ij
            }
        }
    }

    /// Undoes [`Self::drop_recurrent_weights`]: the gradient of the masked
    /// weights becomes that of the weights (`dE/dW_ij = M_ij dE/dW'_ij`)
    /// and the weights get their values back.
    fn restore_recurrent_weights(&mut self) {
        for d in &self.dropped {
            for (g, &m) in self.grads[d.range.clone()].iter_mut().zip(&d.mask) {
                *g *= m; // chain rule through W' = W ⊙ M
            }
            self.model.params[d.range.clone()].copy_from_slice(&d.original);
        }
    }

    /// Makes the carried state whole on every rank of a data-parallel job
    /// (each rank carries its own streams' rows: one all-reduce of the rows
    /// with the others' zeroed), before a checkpoint. Nothing with one
    /// process.
    pub fn share_state(&mut self, comm: &dyn Collective) -> Result<()> {
        if comm.size() == 1 {
            return Ok(());
        }
        let (b0, b1) = shard(comm, self.cfg.batch)?;
        let h = self.model.config.hidden_size;
        self.state.keep_batch_part(self.cfg.batch, h, b0, b1, 0.0);
        comm.all_reduce_sum(&mut self.state.h);
        if !self.state.c.is_empty() {
            comm.all_reduce_sum(&mut self.state.c);
        }
        Ok(())
    }

    /// Moves past the next window without training on it (a batch skipped
    /// after a divergence); the step count stays.
    pub fn skip_window(&mut self, n_train: usize) {
        self.next_window(n_train);
    }

    fn next_window(&mut self, n_train: usize) {
        self.window += 1;
        if self.window >= self.windows_per_epoch(n_train) {
            self.epoch += 1;
            self.window = 0;
            self.offset = self.rng.random_range(0..self.cfg.seq_len); // a fresh offset each epoch
            self.state = self.model.zero_state(self.cfg.batch);
        }
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

    /// Restores a trainer saved by [`TrainState::save_state`]; returns the
    /// extra metadata too.
    pub fn load_state(path: &Path) -> Result<(Self, BTreeMap<String, String>)> {
        let f = TensorFile::read(path)?;
        f.expect_meta("format", "rnn-lm-train-state/1", "rnn-lm-train-state/1")?;
        fn parse<T: serde::de::DeserializeOwned>(f: &TensorFile, key: &str) -> Result<T> {
            let s = f.meta(key)?;
            serde_json::from_str(s).map_err(|e| f.bad_meta(key, s, &e.to_string()))
        }
        let config: ModelConfig = parse(&f, "model_config")?;
        let cfg: StepConfig = parse(&f, "train_config")?;
        // sizes that allocate: checked against the saved carried state
        // ([L*D, B, H] values) before anything is built from them
        if cfg.seq_len == 0 || cfg.batch == 0 {
            return Err(f.bad_meta(
                "train_config",
                &format!("seq_len {}, batch {}", cfg.seq_len, cfg.batch),
                "a seq_len and a batch of at least 1",
            ));
        }
        let saved_h = f.shape("state.h")?.iter().product::<usize>();
        let want_h = (config.num_layers * config.directions())
            .checked_mul(cfg.batch)
            .and_then(|n| n.checked_mul(config.hidden_size));
        if want_h != Some(saved_h) {
            return Err(f.bad_meta(
                "train_config",
                &format!("batch {}", cfg.batch),
                &format!(
                    "the batch of the carried state 'state.h' ({saved_h} values: {} layer(s) x direction(s) x batch x {} units)",
                    config.num_layers * config.directions(),
                    config.hidden_size,
                ),
            ));
        }
        let mut t = TrainState::new(config, cfg).map_err(|e| e.in_file(path))?;
        t.opt.config = parse(&f, "optimizer_now")?;
        // an edited optimizer (a NaN lr, a beta past 1) loaded unchecked
        // (finding 12 of session 53's sweep)
        t.opt.config.validate().map_err(|e| {
            f.bad_meta(
                "optimizer_now",
                &json(&t.opt.config),
                &format!("a valid optimizer ({e})"),
            )
        })?;
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
        if t.offset >= t.cfg.seq_len {
            return Err(f.bad_meta(
                "position",
                &format!("offset {}", t.offset),
                &format!("an offset below seq_len {}", t.cfg.seq_len),
            ));
        }
        let n = t.model.params.len();
        // every value finite in f32, the optimizer's buffers too: an edited
        // 1e39 weight resumed as an infinity and a NaN moment made the next
        // step's weights NaN, each step returning Ok (the library sweep of
        // session 53)
        let read = |name: &str, len: usize| -> Result<Vec<f32>> {
            let data = f.f64_shaped(name, &[len])?;
            let in_range = "a value within the range of 32-bit floats (±3.4e38)";
            f.check_f32(name, &data, "a finite value", in_range)?;
            Ok(data.into_iter().map(|v| v as f32).collect())
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
