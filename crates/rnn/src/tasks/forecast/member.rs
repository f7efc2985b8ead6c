//! One network of an ensemble: its weights, optimizer and shuffling, trained
//! on the shared windows; it keeps its best validation epoch in its own
//! `model.safetensors` (with the run's metadata and its own seed) and logs
//! its epochs to its own `metrics.jsonl` (with `--diagnostics`, the
//! gradient flow of each epoch to its own `diagnostics.jsonl`).

use super::config::TrainConfig;
use super::diagnose::{batch_less_ar, flow_on_windows};
use super::meta::{ForecastMeta, META_KEY, TASK};
use super::windows::Window;
use crate::dist::{self, Collective};
use crate::io::model_file::ModelFile;
use crate::io::{FlowLog, MetricsLog};
use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Reduction, Targets};
use crate::nn::many_to_one::ManyToOne;
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::tasks::{Budget, Clock, Event, Progress, Rollback};
use crate::{Error, Float, Model, ModelConfig, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The windows every member trains on.
pub(super) struct Data<'a> {
    pub config: &'a TrainConfig,
    /// The normalised training part, `[M, I]` (the target in column 0).
    pub enc: &'a [f64],
    pub width: usize,
    pub train: &'a [Window],
    pub val: &'a [Window],
    /// The AR forecasts `[S, O]` of the windows by their start: the network
    /// learns what is left (empty: no AR skip).
    pub base: &'a [f64],
}

impl Data<'_> {
    /// The `[W, B, I]` inputs and `[B, O]` targets of a minibatch, less the
    /// AR forecasts with the AR skip.
    fn batch(&self, wins: &[&Window]) -> (Vec<f32>, Vec<f32>) {
        batch_less_ar(self.enc, self.width, wins, self.base)
    }
}

/// A network being trained with its own seed.
#[derive(Debug)]
pub(super) struct Member {
    /// Where its files go.
    pub dir: PathBuf,
    pub model: Model<f32>,
    opt: Optimizer<f32>,
    rng: rand_chacha::ChaCha8Rng,
    /// The run's metadata with this member's seed and best epoch.
    pub meta: ForecastMeta,
    pub epoch: usize,
    pub step: u64,
    best: f64,
    /// Whether its file is the run's own `model.safetensors` (the first
    /// network), which says it is unfinished until the run ends.
    pub top: bool,
}

impl Member {
    /// A new network of `width` inputs seeded by `meta.seed`, refused when
    /// training it (`val_windows` validation windows) would not fit in memory.
    pub fn new(
        a: &TrainConfig,
        width: usize,
        val_windows: usize,
        meta: ForecastMeta,
        dir: PathBuf,
    ) -> Result<Member> {
        let mut cfg = ModelConfig::elman(width, a.hidden, a.outputs());
        cfg.cell = a.cell_kind();
        cfg.num_layers = a.layers;
        cfg.output = OutputKind::Identity;
        // AdamW's two buffers, a batch of windows, and the validation windows at once
        let batch = a.batch.max(256.min(val_windows));
        cfg.ensure_trainable("forecast", 2, a.window, batch)?;
        let mut model = Model::<f32>::new(cfg, meta.seed)?;
        if meta.ar_skip {
            // the correction starts at zero: the network starts as AR(p)
            for e in crate::nn::model::param_layout(&model.config) {
                if e.name.starts_with("head.") {
                    model.params[e.range()].fill(0.0);
                }
            }
        }
        let opt_cfg = if a.weight_decay > 0.0 {
            OptimizerConfig::from_args(
                "adamw",
                &serde_json::json!({"lr": a.lr, "weight_decay": a.weight_decay}),
            )?
        } else {
            OptimizerConfig::from_args("adam", &serde_json::json!({"lr": a.lr}))?
        };
        let opt = Optimizer::<f32>::new(opt_cfg, model.params.len());
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(meta.seed ^ 0x5eed_f0ca);
        Ok(Member {
            dir,
            model,
            opt,
            rng,
            meta,
            epoch: 0,
            step: 0,
            best: f64::INFINITY,
            top: false,
        })
    }

    /// Writes `dir/model.safetensors`: `model` with `meta`.
    pub fn save_model(&self, model: &Model<f32>, meta: &ForecastMeta) -> Result<()> {
        let mut m = BTreeMap::new();
        m.insert(META_KEY.to_string(), meta.to_json()?);
        if self.top && !meta.finished {
            m.insert(crate::io::UNFINISHED_KEY.into(), "true".into());
        }
        ModelFile {
            task: TASK,
            model: model.clone(),
            extra: BTreeMap::new(),
            meta: m,
        }
        .save(&self.dir)
    }

    /// Mean squared error per value of the model on the validation windows
    /// (normalised units).
    fn val_mse(&self, d: &Data) -> Result<f64> {
        let wins: Vec<&Window> = d.val.iter().collect();
        let (mut total, mut count) = (0.0, 0usize);
        for chunk in wins.chunks(256) {
            let (x, y) = d.batch(chunk);
            let head = ManyToOne::new(&self.model);
            let out = head.predict(Input::Dense(&x), d.config.window, chunk.len(), None)?;
            for (o, t) in out.iter().zip(&y) {
                let e = f64::from(*o - *t);
                total += e * e;
            }
            count += y.len();
        }
        Ok(total / count.max(1) as f64)
    }

    /// Trains until `budget` is used up or the validation loss has not
    /// improved for `patience` epochs; returns whether early stopping ended
    /// it. After every epoch a row goes to `metrics.jsonl` and, when the
    /// validation loss improved (every epoch without validation windows),
    /// the weights to `model.safetensors`. `progress` receives the start, a
    /// step event and the metrics row per epoch.
    ///
    /// As a rank of `comm` ([`super::Trainer::fit_on`]): each minibatch's
    /// share of windows, one all-reduce per step; rank 0's validation score
    /// decides for every rank, and rank 0 alone writes.
    pub fn fit(
        &mut self,
        d: &Data,
        budget: Budget,
        progress: &mut dyn Progress,
        comm: &dyn Collective,
    ) -> Result<bool> {
        let a = d.config;
        let model_h = a.outputs();
        if comm.rank() == 0 {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        }
        let mut metrics = MetricsLog::open(&self.dir, self.epoch > 0);
        // the epochs past the checkpoint are trained and written again
        metrics.drop_after("epoch", self.epoch as f64);
        // the gradient flow is measured and written by rank 0 alone
        let mut flows =
            (a.diagnostics && comm.rank() == 0).then(|| FlowLog::open(&self.dir, self.epoch > 0));
        if let Some(f) = flows.as_mut() {
            f.drop_after(self.step);
        }
        let per_epoch = d.train.len().div_ceil(a.batch);
        let total_steps = match budget {
            Budget::Epochs(e) => Some((e * per_epoch) as u64),
            Budget::Steps(s) => Some(s),
            Budget::Minutes(_) => None,
        };
        progress.event(&Event::Start { total_steps });
        let clock = Clock::start(budget);
        let (first_epoch, first_step) = (self.epoch, self.step);
        if self.epoch == 0 && !d.base.is_empty() && !d.val.is_empty() {
            // epoch 0: the AR baseline alone, kept unless an epoch beats it
            self.best = dist::from_root(comm, || {
                self.meta.best_val_mse = Some(self.val_mse(d)?);
                self.save_model(&self.model, &self.meta)?;
                Ok(self.meta.best_val_mse.unwrap_or(f64::INFINITY))
            })?;
            self.meta.best_val_mse = Some(self.best);
        }
        let mut order: Vec<Window> = d.train.to_vec();
        let mut grads = vec![0f32; self.model.params.len()];
        // the weights and optimizer at the end of the last epoch, to roll back to
        let mut rollback = Rollback::new(a.on_divergence);
        rollback.good(|| (self.model.params.clone(), self.opt.clone()));
        loop {
            self.epoch += 1;
            let epoch = self.epoch;
            order.shuffle(&mut self.rng);
            let (mut sum, mut seen) = (0.0, 0usize);
            for chunk in order.chunks(a.batch) {
                // this rank's windows of the minibatch (all of them with one process)
                let (b0, b1) = dist::share(comm, chunk.len());
                let wins: Vec<&Window> = chunk[b0..b1].iter().collect();
                grads.fill(0.0);
                // `null`: the loss of the null model (no correction: the
                // base alone) on the same windows, reduced as the loss is
                let (mut loss, mut null) = (0.0, 0.0);
                if !wins.is_empty() {
                    let (x, y) = d.batch(&wins);
                    let whole = chunk.len();
                    loss = share_loss_and_grads(&self.model, &x, &y, a.window, whole, &mut grads)?;
                    // E = 0.5 ||0 - y||^2 per window, over the minibatch's windows
                    null = 0.5 * y.iter().map(|v| v * v).sum::<f32>() / whole as f32;
                }
                if comm.size() > 1 {
                    let mut l = [loss, null];
                    dist::all_reduce_parts(comm, &mut [&mut grads, &mut l]);
                    (loss, null) = (l[0], l[1]);
                }
                let blown = crate::tasks::diverged(f64::from(loss), f64::from(null));
                if blown.is_some() || grads.iter().any(|g| !g.is_finite()) {
                    // never reaches the weights: stop, or roll back and skip the batch
                    let lr = self.opt.config.lr();
                    let value = blown.unwrap_or_else(|| "NaN".into());
                    let ((params, opt), factor, line) = rollback.diverged(self.step, value, lr)?;
                    self.model.params.clone_from(params);
                    self.opt.clone_from(opt);
                    self.opt.config.set_lr(lr * factor);
                    progress.event(&Event::Message(&line));
                    continue;
                }
                rollback.stepped();
                sum += f64::from(loss) * chunk.len() as f64;
                seen += chunk.len();
                clip_grad_norm(&mut grads, a.clip)?;
                self.opt.step(&mut self.model.params, &grads)?;
                self.step += 1;
                if matches!(budget, Budget::Steps(s) if self.step - first_step >= s) {
                    break;
                }
            }
            // loss = mean over windows of 0.5 ||o - y||^2  ->  MSE per value
            rollback.good(|| (self.model.params.clone(), self.opt.clone()));
            let train_mse = 2.0 * sum / (seen * model_h).max(1) as f64;
            let val_mse = if d.val.is_empty() {
                None
            } else {
                Some(dist::from_root(comm, || self.val_mse(d))?)
            };
            let better = val_mse.is_none_or(|v| v < self.best);
            if better {
                self.best = val_mse.unwrap_or(train_mse);
                self.meta.best_epoch = epoch;
                self.meta.best_val_mse = val_mse;
            }
            let row = serde_json::json!({
                "epoch": epoch,
                "step": self.step,
                "train_mse": train_mse,
                "val_mse": val_mse,
                "best_epoch": self.meta.best_epoch,
                "elapsed_s": clock.elapsed(),
            });
            dist::root_verdict(comm, || {
                if better {
                    self.save_model(&self.model, &self.meta)?;
                }
                metrics.push(row.clone())?;
                if let Some(log) = flows.as_mut() {
                    let (on, what) = match d.val.is_empty() {
                        true => (d.train, "the training windows"),
                        false => (d.val, "the validation windows"),
                    };
                    let flow = flow_on_windows(&self.model, d.enc, d.width, on, d.base, what)?;
                    log.push(self.step, &flow)?;
                }
                Ok(())
            })?;
            let summary = format!(
                "epoch {epoch} train {train_mse:.4} val {}",
                val_mse.map_or("-".into(), |v| format!("{v:.4}"))
            );
            progress.event(&Event::Step {
                step: self.step,
                loss: train_mse,
                summary: &summary,
            });
            progress.event(&Event::Evaluated { row: &row });
            if val_mse.is_some() && epoch - self.meta.best_epoch >= a.patience {
                return Ok(true);
            }
            // (the clock also says when a stop was requested: Ctrl-C)
            let done = dist::shared_time(comm, &clock).0
                || match budget {
                    Budget::Epochs(e) => epoch - first_epoch >= e,
                    Budget::Steps(s) => self.step - first_step >= s,
                    Budget::Minutes(_) => false,
                };
            if done {
                return Ok(false);
            }
        }
    }
}

/// The loss and gradient (added into `grads`) of the windows `x`
/// (`[W, P, I]`) with targets `y` (`[P, O]`) that one rank runs out of a
/// minibatch of `whole` windows: their share of the minibatch's mean loss
/// (the mean itself when `P = whole`), so the ranks' shares sum to the
/// minibatch's loss and gradient.
pub(super) fn share_loss_and_grads<T: Float>(
    model: &Model<T>,
    x: &[T],
    y: &[T],
    window: usize,
    whole: usize,
    grads: &mut [T],
) -> Result<T> {
    let part = y.len() / model.config.output_size.max(1);
    let head = ManyToOne::new(model);
    let run = |reduction, g: &mut [T]| {
        let (x, y) = (Input::Dense(x), Targets::Values(y));
        let (loss, _) = head.loss_and_grads(x, y, window, part, None, reduction, g)?;
        Ok(loss)
    };
    if part == whole {
        return run(Reduction::Mean, grads); // one process: the minibatch's mean
    }
    // the part's sum, over the whole minibatch's count
    let mut g = vec![T::zero(); grads.len()];
    let loss = run(Reduction::Sum, &mut g)?;
    let scale = T::one() / T::of(whole.max(1) as f64);
    for (acc, v) in grads.iter_mut().zip(g) {
        *acc += scale * v;
    }
    Ok(loss * scale)
}

#[cfg(test)]
mod tests {
    use super::share_loss_and_grads;
    use crate::nn::cell::CellKind;
    use crate::nn::loss::OutputKind;
    use crate::{Model, ModelConfig};

    /// Rows b0..b1 of the batch dimension of `[T, B, W]` (the test's own gather).
    fn rows(v: &[f64], t_n: usize, b_n: usize, w: usize, b0: usize, b1: usize) -> Vec<f64> {
        (0..t_n)
            .flat_map(|t| v[(t * b_n + b0) * w..(t * b_n + b1) * w].to_vec())
            .collect()
    }

    #[test]
    fn shares_of_a_minibatch_sum_to_the_whole_minibatch_in_f64() {
        let (window, batch, inputs, outputs) = (6, 7, 3, 2);
        for cell in [CellKind::Gru, CellKind::Lstm] {
            let mut cfg = ModelConfig::elman(inputs, 5, outputs);
            cfg.cell = cell;
            cfg.num_layers = 2;
            cfg.output = OutputKind::Identity;
            let model = Model::<f64>::new(cfg, 3).unwrap();
            let x: Vec<f64> = (0..window * batch * inputs)
                .map(|i| (i as f64 * 0.61).sin())
                .collect();
            let y: Vec<f64> = (0..batch * outputs)
                .map(|i| (i as f64 * 0.37).cos())
                .collect();
            let mut whole = vec![0.0; model.params.len()];
            let e = share_loss_and_grads(&model, &x, &y, window, batch, &mut whole).unwrap();
            assert!(
                whole.iter().any(|g| g.abs() > 1e-3),
                "a gradient to compare"
            );
            // uneven shares (7 windows), as an epoch's short last minibatch gets
            for cuts in [vec![0, 3, 7], vec![0, 2, 4, 7], vec![0, 0, 1, 7]] {
                let mut summed = vec![0.0; model.params.len()];
                let mut e_sum = 0.0;
                for w in cuts.windows(2).filter(|w| w[0] < w[1]) {
                    let (b0, b1) = (w[0], w[1]);
                    let xp = rows(&x, window, batch, inputs, b0, b1);
                    let yp = y[b0 * outputs..b1 * outputs].to_vec();
                    e_sum +=
                        share_loss_and_grads(&model, &xp, &yp, window, batch, &mut summed).unwrap();
                }
                assert!((e - e_sum).abs() < 1e-12, "{cuts:?}: loss {e} vs {e_sum}");
                let d = whole
                    .iter()
                    .zip(&summed)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(d < 1e-12, "{cell:?} {cuts:?}: gradients differ by {d}");
            }
        }
    }
}
