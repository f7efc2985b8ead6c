//! [`Trainer`]: fits an ensemble of sequence classifiers, one network after
//! the other, each with its own seed and stratified validation split, keeps
//! each network's best validation epoch in `model.safetensors` and logs every
//! epoch to `metrics.jsonl`; then adds its reservoirs (`reservoirs.rs`).
//! One minibatch step and the validation score are `step.rs`.

use super::batch::Encoded;
use super::classifier::Classifier;
use super::config::{ReservoirUse, TrainConfig};
use super::data::Dataset;
use super::diagnose::flow_on_sequences;
use super::meta::{ClassifyMeta, MemberInfo};
use super::normalise::{Norm, Normaliser, Transform};
use super::select::{best, candidates, Candidate, POOLS};
use crate::io::model_file::MODEL_FILE;
use crate::io::{FlowLog, MetricsLog};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::tasks::{Budget, Clock, Event, Progress};
use crate::{Error, Model, ModelConfig, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

pub mod budget;
mod nearest;
mod parallel;
mod reservoirs;
mod save;
mod step;
use budget::DEFAULT_EPOCHS;
use parallel::{Fitted, Note, Sink};
use step::score;

/// A classification run ready to train: the data, its encoding, and the
/// networks trained so far.
///
/// ```
/// use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-classify-{}", std::process::id()));
/// // class "up" rises, class "down" falls; 6 series of each
/// let mut text = String::new();
/// for i in 0..12 {
///     let up = i % 2 == 0;
///     let v: Vec<String> = (0..8).map(|t| {
///         let x = if up { t as f64 } else { 8.0 - t as f64 };
///         format!("{}", x + 0.1 * i as f64)
///     }).collect();
///     text += &format!("{}:{}\n", v.join(","), if up { "up" } else { "down" });
/// }
/// let data = Dataset::parse_ts(std::path::Path::new("toy.ts"), &text, Fill::Linear, None)?;
/// let cfg = TrainConfig { hidden: 8, ensemble: 2, ..TrainConfig::default() };
/// let summary = Trainer::from_data(cfg, data, None, &dir)?.fit(Budget::Epochs(3), &mut ())?;
/// assert_eq!(summary.members.len(), 2);
/// assert_eq!(Classifier::load(&dir)?.members.len(), 2);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    train: Dataset,
    /// Class of each training sequence.
    labels: Vec<usize>,
    enc: Encoded,
    /// The dev file: its encoding and classes.
    dev: Option<(Encoded, Vec<usize>)>,
    /// The dev file as read (each candidate of a selection encodes it anew).
    dev_data: Option<Dataset>,
    /// While choosing: this trainer's candidate (0-based) and how many there are.
    candidate: Option<(usize, usize)>,
    out: PathBuf,
    /// The finished networks and the metadata saved with them.
    classifier: Classifier,
    step: u64,
}

/// What a [`Trainer::fit`] did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// How each network was trained.
    pub members: Vec<MemberInfo>,
    /// Optimizer steps taken by all networks.
    pub steps: u64,
    /// Networks stopped early (the others used their whole budget).
    pub early_stopped: usize,
    /// The saved model file.
    pub model_file: PathBuf,
    /// The configurations tried when pool and stride were chosen (empty
    /// when they were given or nothing could be validated).
    pub selection: Vec<Candidate>,
}

/// Seconds between saves of a network's best weights while it trains (it is
/// always saved when it finishes).
const SAVE_EVERY_S: f64 = 10.0;

impl Trainer {
    /// Checks `config`, reads the training file (and the dev file, if any;
    /// `.ts` or long `.csv`) and prepares the run that writes into directory
    /// `out`.
    pub fn new(config: TrainConfig, train: &Path, dev: Option<&Path>, out: &Path) -> Result<Self> {
        config.validate()?;
        let t = Dataset::read(train, config.fill, None)?;
        let d = dev
            .map(|p| Dataset::read_named(p, config.fill, Some(t.dims), &t.columns))
            .transpose()?;
        Trainer::from_data(config, t, d, out)
    }

    /// Prepares a run on data already read: every training (and dev)
    /// sequence must have a label; the training file must hold two classes
    /// or more.
    pub fn from_data(
        config: TrainConfig,
        train: Dataset,
        dev: Option<Dataset>,
        out: &Path,
    ) -> Result<Self> {
        let dev_data = dev.clone();
        config.validate()?;
        let classes = train.classes.clone();
        let labels = train.class_ids(&classes)?;
        let mut counts = vec![0usize; classes.len()];
        labels.iter().for_each(|&c| counts[c] += 1);
        if counts.iter().filter(|&&n| n > 0).count() < 2 {
            return Err(Error::Data {
                path: train.path.clone(),
                reason: format!(
                    "{} sequences of {} class: classification needs two classes or more",
                    train.len(),
                    counts.iter().filter(|&&n| n > 0).count()
                ),
            });
        }
        let normaliser = Normaliser::fit_with(config.norm, config.transform, &train);
        let stride = config.stride_for(train.max_steps());
        if stride > train.max_steps() {
            // a step wider than every sequence holds only padding past it
            return Err(Error::Config(format!(
                "--stride {stride}: expected at most {}, the frames of the longest training sequence",
                train.max_steps()
            )));
        }
        let enc = Encoded::new(&train, &normaliser, stride)?;
        let dev = match dev {
            Some(d) if d.dims != train.dims => {
                return Err(Error::Data {
                    path: d.path.clone(),
                    reason: format!(
                        "{} values per frame, but the training file has {}",
                        d.dims, train.dims
                    ),
                })
            }
            Some(d) => Some((
                Encoded::new(&d, &normaliser, stride)?,
                d.class_ids(&classes)?,
            )),
            None => None,
        };

        let meta = ClassifyMeta {
            classes: classes.clone(),
            dims: train.dims,
            stride,
            fill: config.fill,
            normaliser,
            pool: config.pool.unwrap_or(POOLS[0]),
            members: Vec::new(),
            train_file: train
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            class_counts: counts,
            dev: dev.is_some(),
            baseline_steps: train.sequences.iter().map(|s| s.steps).collect(),
            baseline_classes: labels.clone(),
            selection: Vec::new(),
            reservoir: None,
            nearest: None,
            finished: false,
            columns: train.columns.clone(),
        };
        let baseline = train
            .sequences
            .iter()
            .flat_map(|s| s.values.iter().map(|&v| v as f32))
            .collect();
        Ok(Trainer {
            config,
            train,
            labels,
            enc,
            dev,
            dev_data,
            candidate: None,
            out: out.to_path_buf(),
            classifier: Classifier {
                meta,
                members: Vec::new(),
                reservoirs: Vec::new(),
                readouts: Vec::new(),
                baseline,
            },
            step: 0,
        })
    }

    /// The metadata the model is saved with.
    pub fn meta(&self) -> &ClassifyMeta {
        &self.classifier.meta
    }

    /// The network of member `k` (0-based) with the classifier's settings.
    fn new_model(&self, seed: u64) -> Result<Model<f32>> {
        Model::<f32>::new(self.model_config(self.enc.width), seed)
    }

    /// The network's config for `width` inputs per step.
    fn model_config(&self, width: usize) -> ModelConfig {
        let c = &self.config;
        let mut cfg = ModelConfig::elman(width, c.hidden, self.classifier.meta.classes.len());
        cfg.cell = c.cell_kind();
        cfg.num_layers = c.layers;
        cfg.bidirectional = c.bidirectional;
        cfg
    }

    /// Trains `config.ensemble` networks one after the other, each until
    /// `budget` (per network; a minutes budget is shared out equally) is used
    /// up or its validation loss has not improved for `patience` epochs.
    /// After every epoch a row is added to `metrics.jsonl`; the best weights
    /// (lowest validation loss; without validation, the last epoch) are kept.
    /// The model file and the metrics are rewritten when a network finishes,
    /// and at most every 10 s while it trains when its best weights changed
    /// (the finished networks plus this one's best so far), so a killed run
    /// leaves a usable model.
    /// `progress` receives a step event and the metrics row per epoch, and
    /// the lines the CLI prints.
    ///
    /// When `pool` or `stride` is not given and there is validation data,
    /// an ensemble is trained for each of [`candidates`] (a minutes budget
    /// is shared between them) and the one whose networks score best on
    /// their validation data ([`best`]) is kept; every candidate's score is
    /// printed and saved in the metadata ([`ClassifyMeta::selection`]).
    ///
    /// Then, with [`ReservoirUse::Mix`] (the default), as many reservoirs
    /// as networks are drawn with the networks' seeds and their readouts
    /// fitted (`reservoir::Reservoir`, `Readout::fit`). [`ReservoirUse::Only`]
    /// trains no network, [`ReservoirUse::Off`] adds no reservoir. Last,
    /// with [`TrainConfig::dtw_member`] (the default), the 1-NN DTW member
    /// ([`super::distance_probabilities`]); the saved classifier weights the groups'
    /// probabilities by their estimated accuracies
    /// ([`Classifier::weights`]), or without the member averages them.
    pub fn fit(&mut self, budget: Budget, progress: &mut impl Progress) -> Result<Summary> {
        self.fit_planned(budget, false, progress)
    }

    /// [`Trainer::fit`] with the default budget (what `rnn train classify`
    /// does without `--epochs` or `--minutes`): at most [`budget::DEFAULT_EPOCHS`]
    /// epochs per network, and on a training set large enough that this
    /// would take long, less, decided from the data's size before anything
    /// is trained (so a rerun trains the same model): fewer epochs for every
    /// network (all networks at their limit within [`budget::NETWORK_SECONDS`] of
    /// CPU), then the first pooling and frames per step without a
    /// selection, then for the reservoirs the first setting only, then none
    /// (their features and readouts within [`budget::RESERVOIR_SECONDS`]). What was
    /// given up is printed. On the small sets of the README's table nothing
    /// is, and the model is that of `fit(Budget::Epochs(300))`.
    pub fn fit_default(&mut self, progress: &mut impl Progress) -> Result<Summary> {
        self.fit_planned(Budget::Epochs(DEFAULT_EPOCHS), true, progress)
    }

    /// [`Trainer::fit_planned`]'s stages: the networks, the reservoirs, the
    /// 1-NN DTW member, each saved as it is done.
    pub(super) fn fit_stages(
        &mut self,
        budget: Budget,
        auto: bool,
        progress: &mut impl Progress,
    ) -> Result<Summary> {
        let budget = budget.validate()?;
        if let Some(note) = self.train.absent_classes(&self.labels) {
            progress.event(&Event::Message(&format!(
                "warning: {}: {note}",
                self.train.path.display()
            )));
        }
        if self.config.reservoir == ReservoirUse::Only {
            std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
            let metrics = MetricsLog::open(&self.out, false);
            self.add_reservoirs(self.config.stride, auto, progress)?;
            // the file's model is the first reservoir: it reads their steps
            self.classifier.meta.stride = self
                .classifier
                .meta
                .reservoir
                .as_ref()
                .map_or(1, |r| r.stride);
            self.add_nearest(progress);
            self.save(&[])?;
            metrics.write()?;
            return Ok(self.wrote(0, Vec::new(), progress));
        }
        // the stride given, if any (the networks' selection replaces the
        // configuration with the chosen candidate's)
        let given_stride = self.config.stride;
        let summary = self.fit_networks(budget, auto, progress)?;
        let reservoirs = self.config.reservoir != ReservoirUse::Off
            && self.add_reservoirs(given_stride, auto, progress)?;
        let nearest = self.add_nearest(progress);
        if !reservoirs && !nearest {
            return Ok(summary);
        }
        self.save(&[])?;
        Ok(self.wrote(summary.early_stopped, summary.selection, progress))
    }

    /// [`Trainer::fit`]'s networks: one ensemble, or one per candidate and
    /// the best kept.
    fn fit_networks(
        &mut self,
        budget: Budget,
        auto: bool,
        progress: &mut impl Progress,
    ) -> Result<Summary> {
        let validates = self.dev.is_some() || !self.config.split_for(&self.labels, 0).1.is_empty();
        let mut cands = candidates(&self.config, self.train.max_steps(), validates);
        let mut budget = budget;
        if auto {
            let plan = self.plan_networks(&cands)?;
            if let Some(note) = &plan.note {
                progress.event(&Event::Message(note));
            }
            cands.truncate(plan.candidates);
            budget = plan.budget;
            // one candidate left: the fallback, which this trainer already is
        }
        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
        let mut metrics = MetricsLog::open(&self.out, false);
        // with a selection, every candidate's networks write their rows
        let mut flows = self
            .config
            .diagnostics
            .then(|| FlowLog::open(&self.out, false));
        if cands.len() < 2 {
            return self.fit_ensemble(budget, &mut metrics, flows.as_mut(), progress);
        }
        let n = cands.len();
        let each = match budget {
            Budget::Minutes(t) => Budget::Minutes(t / n as f64),
            b => b,
        };
        let mut tried = Vec::with_capacity(n);
        let mut fitted = Vec::with_capacity(n);
        for (i, &(pool, stride)) in cands.iter().enumerate() {
            if i > 0 && crate::tasks::stop::requested() {
                // interrupted (Ctrl-C): the choice is made among those trained
                progress.event(&Event::Message(&format!(
                    "interrupted: the other {} candidate(s) are not trained",
                    n - i
                )));
                break;
            }
            progress.event(&Event::Message(&format!(
                "candidate {}/{n}: pool {}, {stride} frame{} per step",
                i + 1,
                pool.name(),
                if stride == 1 { "" } else { "s" }
            )));
            let cfg = TrainConfig {
                pool: Some(pool),
                stride: Some(stride),
                ..self.config.clone()
            };
            let mut t =
                Trainer::from_data(cfg, self.train.clone(), self.dev_data.clone(), &self.out)?;
            t.candidate = Some((i, n));
            t.step = self.step;
            let summary = t.fit_ensemble(each, &mut metrics, flows.as_mut(), progress)?;
            self.step = t.step;
            tried.push(Candidate::scored(pool, stride, &summary.members));
            fitted.push((t.config, t.classifier, summary.early_stopped));
        }
        let pick = best(&tried);
        for (i, c) in tried.iter().enumerate() {
            progress.event(&Event::Message(&format!(
                "{} pool {}, {} per step: validation accuracy {:.2} %, loss {:.4}",
                if i == pick { "chose" } else { "tried" },
                c.pool.name(),
                c.stride,
                100.0 * c.val_accuracy,
                c.val_loss
            )));
        }
        let (config, classifier, early_stopped) = fitted.swap_remove(pick);
        let dev = self.dev_data.take();
        let step = self.step;
        *self = Trainer::from_data(config, self.train.clone(), dev, &self.out)?;
        self.step = step;
        self.classifier = classifier;
        self.classifier.meta.selection = tried.clone();
        self.save(&[])?;
        metrics.write()?;
        let model_file = self.out.join(MODEL_FILE);
        progress.event(&Event::Message(&format!(
            "wrote {} ({} network{}, {early_stopped} stopped early)",
            model_file.display(),
            self.config.ensemble,
            if self.config.ensemble == 1 { "" } else { "s" }
        )));
        Ok(Summary {
            members: self.classifier.meta.members.clone(),
            steps: self.step,
            early_stopped,
            model_file,
            selection: tried,
        })
    }

    /// [`Trainer::fit`] of the one configuration of `self.config` (its
    /// pool and stride as resolved by [`Trainer::from_data`]).
    fn fit_ensemble(
        &mut self,
        budget: Budget,
        metrics: &mut MetricsLog,
        mut flows: Option<&mut FlowLog>,
        progress: &mut impl Progress,
    ) -> Result<Summary> {
        let k = self.config.ensemble;
        let val_n = if self.dev.is_some() {
            0
        } else {
            self.config.split_for(&self.labels, 0).1.len()
        };
        let per_epoch = (self.train.len() - val_n).div_ceil(self.config.batch) as u64;
        let m = &self.classifier.meta;
        progress.event(&Event::Message(&format!(
            "{}: {} sequences of {} class{} ({} frames of {} value{}, {} per step); {} network{}, {} parameters each; validation: {}",
            self.train.path.display(),
            self.train.len(),
            m.classes.len(),
            if m.classes.len() == 1 { "" } else { "es" },
            if self.train.sequences.iter().all(|s| s.steps == self.train.max_steps()) {
                self.train.max_steps().to_string()
            } else {
                format!("{}-{}", self.train.sequences.iter().map(|s| s.steps).min().unwrap_or(0), self.train.max_steps())
            },
            m.dims,
            if m.dims == 1 { "" } else { "s" },
            m.stride,
            k,
            if k == 1 { "" } else { "s" },
            self.new_model(0)?.params.len(),
            if self.dev.is_some() { "the dev file".to_string() } else if val_n == 0 { "none (the last epoch is kept)".to_string() } else { format!("{val_n} sequences held out per network (stratified)") },
        )));
        if m.normaliser.norm == Norm::Scaled {
            // chosen by `--norm auto` (with the measure it read) or given
            let (how, measure) = if self.config.norm == Norm::Auto {
                let spread = super::normalise::series_spread(&self.train);
                let spread: Vec<String> = spread.iter().map(|s| format!("{s:.3}")).collect();
                (
                    "auto",
                    format!(
                        "; the median training series spans {} of its dimension's standard deviation (below {})",
                        spread.join(", "),
                        super::normalise::SQUEEZED
                    ),
                )
            } else {
                ("--norm scaled", String::new())
            };
            progress.event(&Event::Message(&format!(
                "normalisation scaled ({how}): each series z-scored by itself, its level and log scale two more inputs per dimension, and its values compressed by asinh a third{measure}"
            )));
        }
        let t = m.normaliser.transformed();
        if !t.is_empty() {
            let dims: Vec<String> = t.iter().map(|k| (k + 1).to_string()).collect();
            progress.event(&Event::Message(&format!(
                "asinh transform on {} {} ({}): values minus the training median, in units of {}",
                if t.len() == 1 {
                    "dimension"
                } else {
                    "dimensions"
                },
                dims.join(", "),
                if self.config.transform == Transform::Auto {
                    "heavy-tailed"
                } else {
                    "--transform asinh"
                },
                t.iter()
                    .map(|&k| format!("{}", m.normaliser.unit[k]))
                    .collect::<Vec<_>>()
                    .join(", "),
            )));
        }
        if self.train.filled > 0 {
            progress.event(&Event::Message(&format!(
                "filled {} ({})",
                crate::tasks::counted(self.train.filled, "missing value", "missing values"),
                self.config.fill.name()
            )));
        }
        let member_budget = match budget {
            Budget::Minutes(t) => Budget::Minutes(t / k as f64),
            b => b,
        };
        let (candidate, runs) = self.candidate.unwrap_or((0, 1));
        let total_steps = match budget {
            Budget::Epochs(e) => Some(e as u64 * per_epoch * (k * runs) as u64),
            Budget::Steps(s) => Some(s * (k * runs) as u64),
            Budget::Minutes(_) => None,
        };
        if candidate == 0 {
            progress.event(&Event::Start { total_steps });
            // the reader's warnings, once (not again for each candidate)
            let dev_warnings = self.dev_data.iter().flat_map(|d| &d.warnings);
            for w in self.train.warnings.iter().chain(dev_warnings) {
                progress.event(&Event::Message(&format!("warning: {w}")));
            }
        }
        let mut early_stopped = 0;
        let first = self.classifier.members.len();
        let jobs = match flows {
            // the gradient-flow log takes one network at a time
            Some(_) => 1,
            None => self.config.jobs_for(k - first),
        };
        if jobs > 1 {
            // one network per thread; finished ones join in member order
            let budget = match budget {
                Budget::Minutes(t) => Budget::Minutes(t / (k - first).div_ceil(jobs) as f64),
                b => b,
            };
            for mut fitted in self.fit_parallel(first..k, budget, jobs, progress)? {
                for mut row in std::mem::take(&mut fitted.rows) {
                    if let Some(s) = row.get("step").and_then(serde_json::Value::as_u64) {
                        row["step"] = (s + self.step).into();
                    }
                    metrics.record(row);
                }
                early_stopped += usize::from(self.join(fitted));
            }
            self.save(&[])?;
            metrics.write()?;
        }
        for member in self.classifier.members.len()..k {
            let mut sink = Sink::Direct {
                metrics: &mut *metrics,
                flows: flows.as_deref_mut(),
                progress: &mut *progress,
            };
            let fitted = self.fit_member(member, member_budget, self.step, &mut sink)?;
            progress.event(&Event::Message(&fitted.line));
            early_stopped += usize::from(self.join(fitted));
            self.save(&[])?;
            metrics.write()?;
        }
        let model_file = self.out.join(MODEL_FILE);
        if self.candidate.is_none() {
            progress.event(&Event::Message(&format!(
                "wrote {} ({} network{}, {early_stopped} stopped early)",
                model_file.display(),
                k,
                if k == 1 { "" } else { "s" }
            )));
        }
        Ok(Summary {
            members: self.classifier.meta.members.clone(),
            steps: self.step,
            early_stopped,
            model_file,
            selection: Vec::new(),
        })
    }

    /// Adds a trained network to the classifier (and its steps to the
    /// run's); returns whether it stopped early.
    fn join(&mut self, fitted: Fitted) -> bool {
        self.step += fitted.steps;
        self.classifier.members.push(fitted.model);
        self.classifier.meta.members.push(fitted.info);
        fitted.early
    }

    /// Trains network `member`; returns its best weights, how it went and
    /// whether it stopped early.
    fn fit_member(
        &self,
        member: usize,
        budget: Budget,
        first_step: u64,
        sink: &mut Sink,
    ) -> Result<Fitted> {
        let c = self.config.clone();
        let seed = c.member_seed(member);
        let (train_idx, val_idx) = match &self.dev {
            Some(_) => ((0..self.train.len()).collect(), Vec::new()),
            None => c.split_for(&self.labels, member),
        };
        let validates = self.dev.is_some() || !val_idx.is_empty();
        let mut model = self.new_model(seed)?;
        let opt_cfg = if c.weight_decay > 0.0 {
            OptimizerConfig::from_args(
                "adamw",
                &serde_json::json!({"lr": c.lr, "weight_decay": c.weight_decay}),
            )?
        } else {
            OptimizerConfig::from_args("adam", &serde_json::json!({"lr": c.lr}))?
        };
        let mut opt = Optimizer::<f32>::new(opt_cfg, model.params.len());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0c1a_55e5);
        let mut info = MemberInfo {
            seed,
            epochs: 0,
            best_epoch: 0,
            val_loss: None,
            val_accuracy: None,
        };
        let mut best = (f64::INFINITY, model.clone());
        let clock = Clock::start(budget);
        let mut step = first_step;
        let mut order = train_idx;
        let mut early = false;
        let mut grads = vec![0f32; model.params.len()];
        let (mut unsaved, mut last_save) = (false, std::time::Instant::now());
        // the training loss (per sequence) of the first and the last epoch
        let mut losses: Option<(f64, f64)> = None;
        // losses per sequence are judged against a uniform guess over the classes
        let uniform = crate::tasks::uniform_loss(model.config.output_size);
        loop {
            info.epochs += 1;
            let epoch = info.epochs;
            order.shuffle(&mut rng);
            let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
            for chunk in order.chunks(c.batch) {
                let r = self.batch_grads(&model, chunk, &mut rng, &mut grads)?;
                if let Some(value) =
                    crate::tasks::diverged(r.loss / chunk.len().max(1) as f64, uniform)
                {
                    // an earlier network's save is the checkpoint kept
                    return Err(if self.out.join("model.safetensors").is_file() {
                        Error::Diverged { step, value }
                    } else {
                        Error::DivergedUnsaved { step, value }
                    });
                }
                (loss_sum, correct, seen) =
                    (loss_sum + r.loss, correct + r.correct, seen + chunk.len());
                clip_grad_norm(&mut grads, c.clip)?;
                opt.step(&mut model.params, &grads)?;
                step += 1;
                if matches!(budget, Budget::Steps(s) if step - first_step >= s) {
                    break;
                }
            }
            let (train_loss, train_acc) = (loss_sum / seen as f64, correct as f64 / seen as f64);
            losses = Some((losses.map_or(train_loss, |l| l.0), train_loss));
            let val = if validates {
                let (enc, labels, idx) = match &self.dev {
                    Some((e, l)) => (e, l, (0..l.len()).collect()),
                    None => (&self.enc, &self.labels, val_idx.clone()),
                };
                Some(score(&model, self.classifier.meta.pool, enc, labels, &idx)?)
            } else {
                None
            };
            if val.is_none_or(|(l, _)| l < best.0) {
                best = (val.map_or(train_loss, |v| v.0), model.clone());
                info.best_epoch = epoch;
                info.val_loss = val.map(|v| v.0);
                info.val_accuracy = val.map(|v| v.1);
                unsaved = true;
            }
            let mut row = serde_json::json!({
                "member": member + 1,
                "epoch": epoch,
                "step": step,
                "train_loss": train_loss,
                "train_accuracy": train_acc,
                "val_loss": val.map(|v| v.0),
                "val_accuracy": val.map(|v| v.1),
                "best_epoch": info.best_epoch,
                "elapsed_s": clock.elapsed(),
            });
            if let Some((i, _)) = self.candidate {
                row["candidate"] = serde_json::json!(i + 1);
            }
            if let Sink::Direct {
                flows: Some(log), ..
            } = sink
            {
                // the validation sequences; the training ones without them
                let (enc, labels, idx, what) = match &self.dev {
                    Some((e, l)) => (e, l, (0..l.len()).collect(), "the dev file"),
                    None if !val_idx.is_empty() => (
                        &self.enc,
                        &self.labels,
                        val_idx.clone(),
                        "the validation part",
                    ),
                    None => (&self.enc, &self.labels, order.clone(), "the training part"),
                };
                let flow =
                    flow_on_sequences(&model, self.classifier.meta.pool, enc, labels, &idx, what)?;
                let candidate = self.candidate.map(|(i, _)| i + 1);
                log.push_member(member + 1, candidate, step, &flow)?;
            }
            let summary = format!(
                "net {} epoch {epoch} loss {train_loss:.4} val {}",
                member + 1,
                val.map_or("-".into(), |v| format!("{:.4} acc {:.3}", v.0, v.1))
            );
            match sink {
                Sink::Direct {
                    metrics, progress, ..
                } => {
                    metrics.record(row.clone());
                    if unsaved && last_save.elapsed().as_secs_f64() >= SAVE_EVERY_S {
                        // the finished networks and this one's best weights so far
                        self.save(&[(&best.1, &info)])?;
                        metrics.write()?;
                        (unsaved, last_save) = (false, std::time::Instant::now());
                    }
                    progress.event(&Event::Step {
                        step,
                        loss: train_loss,
                        summary: &summary,
                    });
                    progress.event(&Event::Evaluated { row: &row });
                }
                Sink::Buffered { rows, notes } => {
                    rows.push(row);
                    // the reporting thread may have gone on an error elsewhere
                    let _ = notes.send(Note::Epoch {
                        member,
                        step,
                        loss: train_loss,
                        summary,
                    });
                }
            }
            if validates && epoch - info.best_epoch >= c.patience && epoch >= 2 * c.patience {
                early = true;
                break;
            }
            // (the clock also says when a stop was requested: Ctrl-C)
            let done = clock.out_of_time()
                || match budget {
                    Budget::Epochs(e) => epoch >= e,
                    Budget::Steps(s) => step - first_step >= s,
                    Budget::Minutes(_) => false,
                };
            if done {
                break;
            }
        }
        // with no validation part the last epoch is kept, whatever its loss:
        // say when training made it much worse than it started
        let blown = losses.filter(|&(first, last)| !validates && last > 10.0 * first.max(1.0));
        let line = format!(
            "network {} (seed {seed}): {} ({}), kept epoch {}{}{}",
            member + 1,
            crate::tasks::counted(info.epochs, "epoch", "epochs"),
            if early {
                "early stopping"
            } else if crate::tasks::stop::requested() {
                "interrupted"
            } else {
                "budget reached"
            },
            info.best_epoch,
            match (info.val_loss, info.val_accuracy) {
                (Some(l), Some(a)) =>
                    format!(": validation loss {l:.4}, accuracy {:.2} %", 100.0 * a),
                _ => String::new(),
            },
            blown.map_or(String::new(), |(first, last)| format!(
                "; warning: its training loss rose from {first:.4} (epoch 1) to {last:.4e}, and with no validation part the last epoch is kept (try a lower --lr)"
            ))
        );
        Ok(Fitted {
            model: best.1,
            info,
            early,
            steps: step - first_step,
            line,
            rows: match sink {
                Sink::Buffered { rows, .. } => std::mem::take(rows),
                Sink::Direct { .. } => Vec::new(),
            },
        })
    }
}
