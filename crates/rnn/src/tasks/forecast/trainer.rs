//! [`Trainer`]: fits a forecasting model on the training part of a series,
//! keeps the weights of the best validation epoch in `model.safetensors` and
//! logs every epoch to `metrics.jsonl`.

use super::calendar::default_season;
use super::config::TrainConfig;
use super::eval::EvalReport;
use super::meta::{fingerprint, ForecastMeta, META_KEY, TASK};
use super::pipeline::Pipeline;
use super::predict::Forecaster;
use super::series::Series;
use super::windows::{batch_of, windows, Window};
use crate::io::model_file::{ModelFile, MODEL_FILE};
use crate::io::MetricsLog;
use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Reduction, Targets};
use crate::nn::many_to_one::ManyToOne;
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::tasks::{Budget, Clock, Event, Progress, Rollback};
use crate::{Error, Model, ModelConfig, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A forecasting run ready to train: the series, its encoding, the windows,
/// the model and its optimizer.
///
/// ```
/// use rnn::tasks::forecast::{Forecaster, Series, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-trainer-{}", std::process::id()));
/// let values: Vec<f64> = (0..80).map(|i| 5.0 + (i as f64 * 0.5).sin()).collect();
/// let series = Series::from_values("sine", values);
/// let mut cfg = TrainConfig::new("v", 8, 10);
/// cfg.hidden = 8;
/// let mut trainer = Trainer::from_series(cfg, series.clone(), &dir)?;
/// let summary = trainer.fit(Budget::Epochs(3), &mut ())?;
/// assert_eq!(summary.epochs, 3);
/// assert_eq!(summary.test.unwrap().points, 10);
/// let model = Forecaster::load(&dir)?;
/// assert_eq!(model.forecast(&series, 1)?.len(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    series: Series,
    out: PathBuf,
    /// The normalised training part, `[M, I]` (the target in column 0).
    enc: Vec<f64>,
    width: usize,
    train: Vec<Window>,
    val: Vec<Window>,
    model: Model<f32>,
    opt: Optimizer<f32>,
    rng: rand_chacha::ChaCha8Rng,
    meta: ForecastMeta,
    epoch: usize,
    step: u64,
    best: f64,
}

/// What a [`Trainer::fit`] did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Epochs run so far.
    pub epochs: usize,
    /// Optimizer steps taken so far.
    pub steps: u64,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// The validation MSE (normalised units) of the kept weights.
    pub best_val_mse: Option<f64>,
    /// Whether early stopping ended the run (else the budget did).
    pub early_stopped: bool,
    /// The saved model file.
    pub model_file: PathBuf,
    /// The saved weights scored on the test block (when there is one).
    pub test: Option<EvalReport>,
}

impl Trainer {
    /// Checks `config`, reads the CSV file `data` and prepares the run that
    /// writes into directory `out`.
    pub fn new(config: TrainConfig, data: &Path, out: &Path) -> Result<Trainer> {
        config.validate()?;
        let c = &config;
        let series = Series::read(data, &c.target, &c.features, &c.time, c.fill)?;
        Trainer::from_series(config, series, out)
    }

    /// Prepares a run on a series already read (its target and features are
    /// used; `config`'s column settings are not).
    pub fn from_series(config: TrainConfig, series: Series, out: &Path) -> Result<Trainer> {
        config.validate()?;
        let a = &config;
        let n = series.len();
        let season = a.season.unwrap_or_else(|| default_season(&series.time));
        let model_h = a.outputs();
        let lost = a.diff.iter().fold(0usize, |t, &l| t.saturating_add(l));
        let min_fit = a.window.saturating_add(lost).saturating_add(model_h);
        if a.test >= n || n - a.test < min_fit {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!(
                    "{n} rows: too few for --test {} plus --window {} + horizon {model_h}{} ({} rows needed)",
                    a.test,
                    a.window,
                    if lost > 0 { format!(" + {lost} lost to --diff") } else { String::new() },
                    a.test.saturating_add(min_fit)
                ),
            });
        }
        let fit_rows = n - a.test;
        let fit_feats: Vec<Vec<f64>> = series
            .features
            .iter()
            .map(|f| f[..fit_rows].to_vec())
            .collect();
        let pipeline = Pipeline::fit(
            &series.target[..fit_rows],
            &fit_feats,
            a.transform,
            &a.diff,
            (&series.target_name, &series.feature_names),
        )?;
        let width = 1 + fit_feats.len();
        let enc = pipeline.encode(&series.target[..fit_rows], &fit_feats)?; // [M, I]
        let m = enc.len() / width;
        let val_rows = if a.val_frac > 0.0 {
            ((a.val_frac * m as f64).round() as usize).max(1)
        } else {
            0
        };
        let (val, train): (Vec<Window>, Vec<Window>) = windows(m, a.window, model_h)
            .into_iter()
            .partition(|w| w.target.end > m - val_rows);
        if train.is_empty() {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!(
                    "no training windows left: {fit_rows} training rows, {val_rows} of them for validation, each window needs {} (lower --window, --horizon or --val-frac)",
                    a.window + model_h
                ),
            });
        }
        let mut cfg = ModelConfig::elman(width, a.hidden, model_h);
        cfg.cell = a.cell_kind();
        cfg.num_layers = a.layers;
        cfg.output = OutputKind::Identity;
        // AdamW's two buffers, a batch of windows, and the validation windows at once
        let batch = a.batch.max(256.min(val.len()));
        cfg.ensure_trainable("forecast", 2, a.window, batch)?;
        let model = Model::<f32>::new(cfg, a.seed)?;
        let opt_cfg = if a.weight_decay > 0.0 {
            OptimizerConfig::from_args(
                "adamw",
                &serde_json::json!({"lr": a.lr, "weight_decay": a.weight_decay}),
            )?
        } else {
            OptimizerConfig::from_args("adam", &serde_json::json!({"lr": a.lr}))?
        };
        let opt = Optimizer::<f32>::new(opt_cfg, model.params.len());
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed_f0ca);
        let meta = ForecastMeta {
            target: series.target_name.clone(),
            features: series.feature_names.clone(),
            time: series.time_name.clone(),
            fill: a.fill,
            window: a.window,
            horizon: a.horizon,
            strategy: a.strategy,
            test: a.test,
            val_frac: a.val_frac,
            season,
            pipeline,
            data_rows: n,
            data_fingerprint: fingerprint(&series.target),
            fit_rows,
            data: series
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            seed: a.seed,
            best_epoch: 0,
            best_val_mse: None,
        };
        Ok(Trainer {
            config,
            series,
            out: out.to_path_buf(),
            enc,
            width,
            train,
            val,
            model,
            opt,
            rng,
            meta,
            epoch: 0,
            step: 0,
            best: f64::INFINITY,
        })
    }

    /// The metadata the model is saved with (best epoch so far included).
    pub fn meta(&self) -> &ForecastMeta {
        &self.meta
    }

    /// The network being trained (the last epoch's weights).
    pub fn model(&self) -> &Model<f32> {
        &self.model
    }

    /// Training and validation windows.
    pub fn window_counts(&self) -> (usize, usize) {
        (self.train.len(), self.val.len())
    }

    fn save(&self) -> Result<()> {
        let mut m = BTreeMap::new();
        m.insert(META_KEY.to_string(), self.meta.to_json()?);
        ModelFile {
            task: TASK,
            model: self.model.clone(),
            extra: BTreeMap::new(),
            meta: m,
        }
        .save(&self.out)
    }

    /// Mean squared error per value of the model on the validation windows
    /// (normalised units).
    fn val_mse(&self) -> Result<f64> {
        let wins: Vec<&Window> = self.val.iter().collect();
        let (mut total, mut count) = (0.0, 0usize);
        for chunk in wins.chunks(256) {
            let (x, y) = batch_of(&self.enc, self.width, chunk);
            let head = ManyToOne::new(&self.model);
            let out = head.predict(Input::Dense(&x), self.config.window, chunk.len(), None)?;
            for (o, t) in out.iter().zip(&y) {
                let d = f64::from(*o - *t);
                total += d * d;
            }
            count += y.len();
        }
        Ok(total / count.max(1) as f64)
    }

    /// Trains until `budget` is used up or the validation loss has not
    /// improved for `patience` epochs. After every epoch a row goes to
    /// `metrics.jsonl` and, when the validation loss improved (every epoch
    /// without validation windows), the weights to `model.safetensors`.
    /// Finally the saved weights are scored on the test block. `progress`
    /// receives a step event and the metrics row per epoch, and the lines the
    /// CLI prints (settings, stop reason, test scores).
    pub fn fit(&mut self, budget: Budget, progress: &mut impl Progress) -> Result<Summary> {
        let budget = budget.validate()?;
        let (n, a) = (self.series.len(), &self.config);
        let model_h = a.outputs();
        progress.event(&Event::Message(&format!(
            "{}: {n} rows; fitting on the first {} ({} training windows, {} validation windows), test block of {} rows; \
             strategy {} ({} output{}); {} parameters",
            self.series.path.display(),
            self.meta.fit_rows,
            self.train.len(),
            self.val.len(),
            a.test,
            a.strategy,
            model_h,
            if model_h == 1 { "" } else { "s" },
            self.model.params.len()
        )));
        if self.series.filled > 0 {
            progress.event(&Event::Message(&format!(
                "filled {} missing values ({})",
                self.series.filled,
                a.fill.name()
            )));
        }
        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
        let mut metrics = MetricsLog::open(&self.out, self.epoch > 0);
        let per_epoch = self.train.len().div_ceil(a.batch);
        let total_steps = match budget {
            Budget::Epochs(e) => Some((e * per_epoch) as u64),
            Budget::Steps(s) => Some(s),
            Budget::Minutes(_) => None,
        };
        progress.event(&Event::Start { total_steps });
        let clock = Clock::start(budget);
        let (first_epoch, first_step) = (self.epoch, self.step);
        let mut order: Vec<Window> = self.train.clone();
        let mut grads = vec![0f32; self.model.params.len()];
        let mut early_stopped = false;
        // the weights and optimizer at the end of the last epoch, to roll back to
        let mut rollback = Rollback::new(self.config.on_divergence);
        rollback.good(|| (self.model.params.clone(), self.opt.clone()));
        loop {
            self.epoch += 1;
            let epoch = self.epoch;
            order.shuffle(&mut self.rng);
            let (mut sum, mut seen) = (0.0, 0usize);
            for chunk in order.chunks(self.config.batch) {
                let wins: Vec<&Window> = chunk.iter().collect();
                let (x, y) = batch_of(&self.enc, self.width, &wins);
                grads.fill(0.0);
                let (loss, _) = ManyToOne::new(&self.model).loss_and_grads(
                    Input::Dense(&x),
                    Targets::Values(&y),
                    self.config.window,
                    chunk.len(),
                    None,
                    Reduction::Mean,
                    &mut grads,
                )?;
                if !loss.is_finite() || grads.iter().any(|g| !g.is_finite()) {
                    // never reaches the weights: stop, or roll back and skip the batch
                    let lr = self.opt.config.lr();
                    let value = if loss.is_finite() {
                        f64::NAN
                    } else {
                        f64::from(loss)
                    };
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
                clip_grad_norm(&mut grads, self.config.clip);
                self.opt.step(&mut self.model.params, &grads);
                self.step += 1;
                if matches!(budget, Budget::Steps(s) if self.step - first_step >= s) {
                    break;
                }
            }
            // loss = mean over windows of 0.5 ||o - y||^2  ->  MSE per value
            rollback.good(|| (self.model.params.clone(), self.opt.clone()));
            let train_mse = 2.0 * sum / (seen * model_h).max(1) as f64;
            let val_mse = if self.val.is_empty() {
                None
            } else {
                Some(self.val_mse()?)
            };
            if val_mse.is_none_or(|v| v < self.best) {
                self.best = val_mse.unwrap_or(train_mse);
                self.meta.best_epoch = epoch;
                self.meta.best_val_mse = val_mse;
                self.save()?;
            }
            let row = serde_json::json!({
                "epoch": epoch,
                "step": self.step,
                "train_mse": train_mse,
                "val_mse": val_mse,
                "best_epoch": self.meta.best_epoch,
                "elapsed_s": clock.elapsed(),
            });
            metrics.push(row.clone())?;
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
            if val_mse.is_some() && epoch - self.meta.best_epoch >= self.config.patience {
                early_stopped = true;
                break;
            }
            let done = match budget {
                Budget::Epochs(e) => epoch - first_epoch >= e,
                Budget::Steps(s) => self.step - first_step >= s,
                Budget::Minutes(_) => clock.out_of_time(),
            };
            if done {
                break;
            }
        }
        let model_file = self.out.join(MODEL_FILE);
        progress.event(&Event::Message(&format!(
            "stopped after {} epochs ({}); kept epoch {} (validation MSE {}); wrote {}",
            self.epoch,
            if early_stopped {
                "early stopping"
            } else {
                "budget reached"
            },
            self.meta.best_epoch,
            self.meta
                .best_val_mse
                .map_or("-".into(), |v| format!("{v:.4}")),
            model_file.display()
        )));
        let test = if self.config.test > 0 {
            // score the saved (best) weights on the test block
            let saved = Forecaster::load(&self.out)?;
            let r = saved.evaluate(&self.series, Some(self.config.test), Some(self.meta.season))?;
            progress.event(&Event::Message(&format!(
                "test ({} rows, horizon {}, {}): RMSE {:.3} MAE {:.3} MASE {}; naive RMSE {:.3}; seasonal naive (S={}) RMSE {:.3}",
                r.points,
                r.horizon,
                r.strategy,
                r.rmse,
                r.mae,
                r.mase.map_or("-".into(), |v| format!("{v:.3}")),
                r.naive_rmse,
                r.season,
                r.seasonal_naive_rmse
            )));
            Some(r)
        } else {
            None
        };
        Ok(Summary {
            epochs: self.epoch,
            steps: self.step,
            best_epoch: self.meta.best_epoch,
            best_val_mse: self.meta.best_val_mse,
            early_stopped,
            model_file,
            test,
        })
    }
}
