//! Training a language model for a budget: the schedule, evaluation
//! cadence, best-model saving, checkpointing for `--resume`, divergence
//! handling and the metrics rows (what `rnn train lm` runs).

use super::config::TrainConfig;
use super::data::{Corpus, LmData};
use super::diagnose::flow_on_ids;
use super::evaluate::{evaluate_sample, EVAL_STREAMS, EVAL_WINDOW};
use super::model::TASK;
use super::resume::{check_given, check_model_beside, saved_config, RunOptions};
use super::state::{StepConfig, TrainState};
use crate::dist::{self, Collective, Single};
use crate::io::model_file::ModelFile;
use crate::io::OutMode;
use crate::io::{FlowLog, MetricsLog};
use crate::nn::model::Model;
use crate::optim::schedule::{cosine_lr_to, Plateau, Schedule};
use crate::optim::Optimizer;
use crate::tasks::{uniform_loss, Budget, Clock, Event, Progress, Rollback};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The resumable training state inside a run directory.
pub const STATE_FILE: &str = "train_state.safetensors";

/// The schedule's state, kept in train_state.safetensors (metadata
/// `schedule`) beside the trainer's.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    /// Best validation loss at a scheduled evaluation (drives the lr decay).
    best_sched: f64,
    /// Best validation loss of the saved model.
    best_saved: f64,
    /// Scheduled evaluations since the last improvement.
    bad_evals: u64,
    /// The peak learning rate of a cosine schedule (`None`: plateau decay).
    #[serde(default)]
    cosine_from: Option<f64>,
    /// The options that shape the run (`None` in files of older runs).
    #[serde(default)]
    options: Option<RunOptions>,
    /// What rollbacks multiplied the learning rate by (a cosine schedule
    /// sets it each step, so the factor is kept apart).
    #[serde(default = "one")]
    lr_scale: f64,
    /// The smoothed training loss at the checkpoint (`train_loss` of the
    /// metrics), so that a resumed run's rows are those of one long run
    /// (`None` before the first step, and in files of older runs).
    #[serde(default)]
    train_loss: Option<f64>,
}

/// Goes back to `good` (the weights and optimizer of the last checkpoint)
/// after a divergence at learning rate `lr`, which becomes `lr * factor`;
/// the factor is kept for the schedule's later rates.
fn roll_back(
    tr: &mut TrainState,
    sched: &mut RunState,
    good: &(Vec<f32>, Optimizer<f32>),
    lr: f64,
    factor: f64,
) {
    let (params, opt) = good;
    tr.model.params.clone_from(params);
    tr.opt.clone_from(opt);
    tr.opt.config.set_lr(lr * factor);
    sched.lr_scale *= factor;
}

fn one() -> f64 {
    1.0
}

/// What a finished [`Trainer::fit`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Best validation loss, nats/char (of the saved model).
    pub best_val: f64,
    /// Steps taken in all (counting those before a resume).
    pub steps: u64,
    /// Seconds of this run.
    pub seconds: f64,
}

/// Trains a character-level language model into a run directory:
/// `model.safetensors` (the best by validation), `metrics.jsonl` (one row
/// per evaluation) and `train_state.safetensors` (to resume bit for bit).
///
/// ```
/// use rnn::tasks::lm::{Corpus, LanguageModel, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-trainer-{}", std::process::id()));
/// let text = Corpus::new("built-in", "the cat sat on the mat. ".repeat(40));
/// let config = TrainConfig { hidden: 8, seq_len: 8, batch: 4, eval_every: 5, ..Default::default() };
/// let mut trainer = Trainer::new(config.clone(), &text, &dir).unwrap();
/// let summary = trainer.fit(Budget::Steps(5), &mut ()).unwrap();
/// assert_eq!(summary.steps, 5);
/// // carry on from the checkpoint, to 10 steps in all
/// let mut again = Trainer::resume(&dir, &text, &config).unwrap();
/// assert_eq!(again.fit(Budget::Steps(10), &mut ()).unwrap().steps, 10);
/// let lm = LanguageModel::load(&dir).unwrap();
/// assert!(lm.evaluate("the mat sat", "text").unwrap().loss_nats > 0.0);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Trainer {
    config: TrainConfig,
    state: TrainState,
    data: LmData,
    source: PathBuf,
    dir: PathBuf,
    run: RunState,
    keep_metrics: bool,
}

impl Trainer {
    /// A fresh run on `text` into the directory `dir` (created by
    /// [`Trainer::fit`]; files already there are replaced).
    pub fn new(config: TrainConfig, text: &Corpus, dir: impl AsRef<Path>) -> Result<Self> {
        config.validate()?;
        let optimizer = config.optimizer.config(config.lr, config.weight_decay)?;
        let data = LmData::new(
            &text.text,
            &text.path,
            config.val_frac,
            config.seq_len,
            config.batch,
        )?;
        let step = StepConfig {
            seq_len: config.seq_len,
            batch: config.batch,
            optimizer,
            clip: config.clip.filter(|&c| c > 0.0),
            seed: config.seed,
            val_frac: config.val_frac,
            dropout: config.dropout,
            weight_drop: config.weight_drop,
            locked_dropout: config.locked_dropout,
            forget_bias: config.forget_bias,
        };
        let model = config.model_config(data.vocab.len());
        // refused before allocating: the training batch by TrainState::new
        // (the message names the sizes --batch and --seq-len set), then the
        // evaluation's EVAL_STREAMS x EVAL_WINDOW at once
        let buffers = step.optimizer.buffers();
        let state = TrainState::new(model, step)?;
        let model = &state.model.config;
        model.ensure_trainable("lm", buffers, EVAL_WINDOW, EVAL_STREAMS)?;
        let run = RunState {
            best_sched: f64::MAX, // not INFINITY: JSON has no infinity
            best_saved: f64::MAX,
            bad_evals: 0,
            cosine_from: matches!(config.schedule, Schedule::Cosine).then_some(config.lr),
            options: Some(RunOptions::of(&config)),
            lr_scale: 1.0,
            train_loss: None,
        };
        Ok(Trainer {
            config,
            state,
            data,
            source: text.path.clone(),
            dir: dir.as_ref().to_path_buf(),
            run,
            keep_metrics: false,
        })
    }

    /// Continues the run saved in `dir` on the same `text`, with every
    /// option the run was saved with: model, optimizer, data split, RNG,
    /// evaluation cadence, schedule and divergence policy (runs saved before
    /// these options were kept take `config`'s `eval_every`, schedule and
    /// `on_divergence`). Of `config` only `max_steps` (the budget) is used.
    pub fn resume(dir: impl AsRef<Path>, text: &Corpus, config: &TrainConfig) -> Result<Self> {
        Self::resume_given(dir, text, config, &[])
    }

    /// [`Trainer::resume`], where the options named in `given` (fields of
    /// [`TrainConfig`], see [`super::RESUME_FIELDS`]) were given by the user
    /// and must agree with the saved run: the first that does not is an
    /// error naming its flag and both values (`--hidden 999: the run being
    /// resumed in D has --hidden 8 ...`).
    pub fn resume_given(
        dir: impl AsRef<Path>,
        text: &Corpus,
        config: &TrainConfig,
        given: &[&str],
    ) -> Result<Self> {
        // the given options alone: a flag left out takes the saved run's value
        config.validate_fields()?;
        let dir = dir.as_ref();
        let path = dir.join(STATE_FILE);
        let (state, meta) = TrainState::load_state(&path)?;
        let run: RunState = meta
            .get("schedule")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| Error::Data {
                path: path.clone(),
                reason: "no schedule metadata".into(),
            })?;
        // the state must be the run's whose model is beside it
        check_model_beside(dir, &path, &state, run.best_saved)?;
        let options = run.options.unwrap_or(RunOptions {
            schedule: match (run.cosine_from, config.schedule) {
                (Some(_), _) => Schedule::Cosine,
                (None, Schedule::Cosine) => Schedule::default(),
                (None, s) => s,
            },
            // runs older than the options were validated on all the text
            val_chars: None,
            ..RunOptions::of(config)
        });
        let saved = saved_config(&state, &options, config);
        check_given(dir, config, &saved, given)?;
        saved.validate().map_err(|e| e.in_file(&path))?;
        let data = LmData::new(
            &text.text,
            &text.path,
            state.cfg.val_frac,
            state.cfg.seq_len,
            state.cfg.batch,
        )?;
        if meta.get("vocab") != Some(&data.vocab.to_meta()) {
            return Err(Error::Data {
                path: text.path.clone(),
                reason: format!(
                    "its characters differ from those of the run being resumed in {}",
                    dir.display()
                ),
            });
        }
        // the saved position must lie inside this epoch of these data
        let per_epoch = state.windows_per_epoch(data.train.len());
        if state.window >= per_epoch {
            return Err(Error::Data {
                path: path.clone(),
                reason: format!(
                    "position: window {} of an epoch of {per_epoch} windows (a damaged or edited file)",
                    state.window
                ),
            });
        }
        Ok(Trainer {
            config: saved,
            state,
            data,
            source: text.path.clone(),
            dir: dir.to_path_buf(),
            run,
            keep_metrics: true,
        })
    }

    /// A run into `dir` as `mode` says (`rnn train lm`): the directory is
    /// checked and prepared ([`crate::io::prepare_run_dir`]) by rank 0 of `comm` alone,
    /// its verdict shared before any rank goes on ([`dist::open_run_dir`]);
    /// then a fresh [`Trainer::new`], or [`Trainer::resume_given`] for
    /// [`OutMode::Resume`]. A batch that the ranks cannot share equally is
    /// refused first, before anything is written.
    pub fn open_run(
        dir: impl AsRef<Path>,
        text: &Corpus,
        config: TrainConfig,
        mode: OutMode,
        given: &[&str],
        comm: &dyn Collective,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        let batch = (mode != OutMode::Resume).then_some(config.batch);
        dist::open_run_dir(comm, dir, mode, batch)?;
        let trainer = match mode {
            OutMode::Resume => Trainer::resume_given(dir, text, &config, given)?,
            _ => Trainer::new(config, text, dir)?,
        };
        dist::shard(comm, trainer.state.cfg.batch)?;
        Ok(trainer)
    }

    /// The model being trained (its latest weights, not necessarily the
    /// saved best).
    pub fn model(&self) -> &Model<f32> {
        &self.state.model
    }

    /// The training state: weights, optimizer, position, RNG.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// The data split: vocabulary, training and validation ids.
    pub fn data(&self) -> &LmData {
        &self.data
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the run follows (on a resume: with the saved
    /// schedule kind).
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Best validation loss of the saved model so far (`f64::MAX` before
    /// the first evaluation).
    pub fn best_val(&self) -> f64 {
        self.run.best_saved
    }

    /// Trains until the budget is spent (epochs and steps count from the
    /// start of the run, across resumes; minutes from this call), evaluating
    /// every `eval_every` steps and at the end. Each evaluation saves the
    /// model when it is the best so far, appends a row to `metrics.jsonl`
    /// and writes `train_state.safetensors`; `progress` hears of it all. A
    /// non-finite loss stops with [`Error::Diverged`], the files of the last
    /// evaluation kept. Events: [`Event::Start`] with this call's steps to go
    /// (when the budget fixes them), a [`Event::Step`] every 10 steps (its
    /// `step` counts this call's steps), [`Event::Evaluated`] after each
    /// evaluation's files are written, [`Event::Message`] for the run's
    /// description and each learning-rate decay.
    pub fn fit(&mut self, budget: Budget, progress: &mut impl Progress) -> Result<Summary> {
        self.fit_on(budget, progress, &Single)
    }

    /// [`Trainer::fit`] as one rank of a data-parallel job ([`crate::dist`]):
    /// every rank of `comm` calls it on the same run, each computing its
    /// share of every batch ([`TrainState::train_step_on`]). Rank 0 alone
    /// evaluates (its validation loss is shared, so all ranks follow the
    /// same schedule), writes the run's files and reports to `progress`;
    /// the other ranks' `progress` hears nothing. With one process this is
    /// `fit`.
    ///
    /// # Errors
    ///
    /// As `fit`; [`Error::Value`] when the batch is not a multiple of the
    /// number of ranks; [`Error::OnRank0`] on the other ranks when rank 0's
    /// evaluation failed.
    pub fn fit_on(
        &mut self,
        budget: Budget,
        progress: &mut impl Progress,
        comm: &dyn Collective,
    ) -> Result<Summary> {
        let budget = budget.validate()?;
        dist::shard(comm, self.state.cfg.batch)?;
        let (root, shared) = (comm.rank() == 0, comm.size() > 1);
        let mut quiet = ();
        let progress: &mut dyn Progress = if root { progress } else { &mut quiet };
        let dir = self.dir.clone();
        if root {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let tr = &mut self.state;
        let data = &self.data;
        let per_epoch = tr.windows_per_epoch(data.train.len());
        let target_steps = match (self.config.max_steps, budget) {
            (Some(s), _) => Some(s),
            (None, Budget::Epochs(e)) => Some(e as u64 * per_epoch),
            (None, Budget::Steps(s)) => Some(s),
            (None, Budget::Minutes(_)) => None,
        };
        let clock = Clock::start(budget);
        let start_step = tr.step;
        progress.event(&Event::Start {
            total_steps: target_steps.map(|t| t.saturating_sub(start_step)),
        });
        let mut metrics = MetricsLog::open(&dir, self.keep_metrics);
        let mut flows = self
            .config
            .diagnostics
            .then(|| FlowLog::open(&dir, self.keep_metrics));
        // rows past the checkpoint (a run stopped between writing a row and
        // its checkpoint) are written again as the run goes over those steps
        metrics.drop_after("step", start_step as f64);
        if let Some(f) = flows.as_mut() {
            f.drop_after(start_step);
        }
        self.keep_metrics = true;
        let tokens_per_step = (tr.cfg.seq_len * tr.cfg.batch) as f64;
        // a resumed run carries on the smoothed loss of its checkpoint and
        // the time of its last row (the row written at the checkpoint)
        let mut smooth: Option<f64> = self.run.train_loss;
        let elapsed_before = match start_step {
            0 => 0.0,
            _ => metrics.last_value("elapsed_s").unwrap_or(0.0),
        };
        let mut last_val = f64::NAN;
        let mut meta = BTreeMap::new();
        meta.insert("vocab".to_string(), data.vocab.to_meta());
        progress.event(&Event::Message(&format!(
            "training {} H={} layers={} on {} chars ({} vocab), {} windows/epoch of {}x{}",
            tr.model.config.cell.name(),
            tr.model.config.hidden_size,
            tr.model.config.num_layers,
            data.train.len(),
            data.vocab.len(),
            per_epoch,
            tr.cfg.batch,
            tr.cfg.seq_len
        )));
        let val_chars = self.config.val_chars;
        let held_out = data.val.len().saturating_sub(1); // characters to predict
        if let Some(m) = val_chars.filter(|&m| m < held_out) {
            progress.event(&Event::Message(&format!(
                "validating on {m} of the {held_out} held-out characters, in evenly spread parts (--val-chars; 0: all of them)"
            )));
        }
        let sched = &mut self.run;
        let (eval_every, floor) = (self.config.eval_every, self.config.lr_floor);
        let save_state = |tr: &mut TrainState, sched: &RunState| {
            tr.share_state(comm)?;
            if !root {
                return Ok(());
            }
            let mut m = meta.clone();
            m.insert(
                "schedule".into(),
                serde_json::to_string(sched).unwrap_or_default(),
            );
            tr.save_state(&dir.join(STATE_FILE), &m)
        };
        if tr.step == 0 {
            // a checkpoint before the first step: a run killed before its
            // first evaluation can still be resumed
            save_state(tr, sched)?;
        }
        // the weights and optimizer of the last checkpoint, to roll back to
        let mut rollback = Rollback::new(self.config.on_divergence);
        let mut evaluated = None;
        rollback.good(|| (tr.model.params.clone(), tr.opt.clone()));
        loop {
            let (late, frac) = match shared {
                true => dist::shared_time(comm, &clock),
                false => (clock.out_of_time(), None),
            };
            // a minutes budget spent before the first step still takes one
            // (and evaluates it): a run always leaves a model
            let done = target_steps.is_some_and(|t| tr.step >= t) || (late && tr.step > start_step);
            // (a step is evaluated once: a batch skipped after a rollback
            // leaves the step where it was)
            let fresh = tr.step > start_step && evaluated != Some(tr.step);
            let scheduled = fresh && tr.step.is_multiple_of(eval_every);
            if scheduled || (done && fresh) {
                evaluated = Some(tr.step);
                // (a non-finite loss is a value every rank receives alike)
                let val = dist::from_root(comm, || {
                    match evaluate_sample(
                        &tr.model,
                        &data.val,
                        EVAL_STREAMS,
                        EVAL_WINDOW,
                        val_chars,
                    ) {
                        Ok((nats, n)) => Ok(nats / n.max(1) as f64),
                        Err(Error::NonFinite { value, .. }) => {
                            Ok(value.parse().unwrap_or(f64::NAN))
                        }
                        Err(e) => Err(e),
                    }
                })?;
                if let Some(value) = crate::tasks::diverged(val, uniform_loss(data.vocab.len())) {
                    // weights that diverge on the validation text: stop, or
                    // with OnDivergence::Rollback go back to the last
                    // checkpoint's (as for a training loss)
                    let lr = tr.opt.config.lr();
                    let (good, factor, line) =
                        rollback.diverged_on(tr.step, &value, "the validation text", lr)?;
                    roll_back(tr, sched, good, lr, factor);
                    progress.event(&Event::Message(&line));
                    continue;
                }
                last_val = val;
                let better = val < sched.best_saved;
                if better {
                    sched.best_saved = val;
                }
                if better && root {
                    let mut m = meta.clone();
                    let train = serde_json::json!({"data": self.source, "step": tr.step,
                        "val_loss_nats": val, "train": tr.cfg});
                    m.insert("train".into(), train.to_string());
                    ModelFile {
                        task: TASK,
                        model: tr.model.clone(),
                        extra: BTreeMap::new(),
                        meta: m,
                    }
                    .save(&dir)?;
                }
                if let (true, Schedule::Plateau { patience, .. }) = (
                    scheduled && sched.cosine_from.is_none(),
                    self.config.schedule,
                ) {
                    // Only scheduled evaluations steer the learning rate, so that a
                    // stop-and-resume follows the same schedule as one long run.
                    let mut plateau = Plateau {
                        best: sched.best_sched,
                        bad_evals: sched.bad_evals,
                    };
                    let stalled = plateau.observe(val, patience);
                    (sched.best_sched, sched.bad_evals) = (plateau.best, plateau.bad_evals);
                    // a decay smaller than PLATEAU_EPS is skipped, as PyTorch does
                    if let Some(lr) = stalled
                        .then(|| self.config.schedule.decayed(tr.opt.config.lr()))
                        .flatten()
                    {
                        tr.opt.config.set_lr(lr);
                        progress.event(&Event::Message(&format!(
                            "step {}: validation stalled, learning rate now {lr:.3e}",
                            tr.step
                        )));
                    }
                }
                let secs = clock.elapsed();
                let row = serde_json::json!({
                    "step": tr.step, "epoch": tr.epoch, "train_loss": smooth, "val_loss": val,
                    "val_bits_per_char": val / std::f64::consts::LN_2, "lr": tr.opt.config.lr(),
                    "elapsed_s": elapsed_before + secs,
                    "tokens_per_s": (tr.step - start_step) as f64 * tokens_per_step / secs.max(1e-9),
                });
                if root {
                    metrics.push(row.clone())?;
                }
                if let Some(log) = flows.as_mut().filter(|_| root) {
                    log.push(
                        tr.step,
                        &flow_on_ids(&tr.model, &data.val, "validation text")?,
                    )?;
                }
                sched.train_loss = smooth;
                save_state(tr, sched)?;
                rollback.good(|| (tr.model.params.clone(), tr.opt.clone()));
                progress.event(&Event::Evaluated { row: &row });
            }
            if done {
                break;
            }
            if let Some(lr0) = sched.cosine_from {
                let frac = match (frac.or_else(|| clock.time_fraction()), target_steps) {
                    (Some(f), _) => f,
                    (None, Some(t)) => tr.step as f64 / t.max(1) as f64,
                    (None, None) => 0.0,
                };
                // linear warmup over the first `warmup` steps, then the cosine
                let ramp = match self.config.warmup {
                    0 => 1.0,
                    w => ((tr.step + 1) as f64 / w as f64).min(1.0),
                };
                tr.opt
                    .config
                    .set_lr(cosine_lr_to(lr0, floor, frac) * sched.lr_scale * ramp);
            }
            let loss = match tr.train_step_on(&data.train, comm) {
                Err(Error::Diverged { step, value }) => {
                    // a non-finite loss never reaches the weights; with
                    // OnDivergence::Rollback go back to the last checkpoint's
                    let lr = tr.opt.config.lr();
                    let (good, factor, line) = rollback.diverged(step, value, lr)?;
                    roll_back(tr, sched, good, lr, factor);
                    tr.skip_window(data.train.len());
                    progress.event(&Event::Message(&line));
                    continue;
                }
                r => r?,
            };
            rollback.stepped();
            smooth = Some(smooth.map_or(loss, |s| 0.98 * s + 0.02 * loss));
            if tr.step.is_multiple_of(10) {
                let secs = clock.elapsed();
                let summary = format!(
                    "loss {:.3} val {:.3} {:.0} tok/s epoch {}",
                    smooth.unwrap_or(f64::NAN),
                    last_val,
                    (tr.step - start_step) as f64 * tokens_per_step / secs.max(1e-9),
                    tr.epoch
                );
                progress.event(&Event::Step {
                    step: tr.step - start_step,
                    loss,
                    summary: &summary,
                });
            }
        }
        if let (true, Some(e)) = (sched.best_saved == f64::MAX, rollback.unsaved()) {
            // every evaluation diverged (rolled back each time): no model
            return Err(e);
        }
        Ok(Summary {
            best_val: sched.best_saved,
            steps: tr.step,
            seconds: clock.elapsed(),
        })
    }
}
