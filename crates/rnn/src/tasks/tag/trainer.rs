//! Training a tagger end to end (`rnn train tag`): epochs over length-sorted
//! batches, evaluation on dev data after each epoch, early stopping with
//! learning-rate decay, the best (or last) model and snapshots saved, one
//! `metrics.jsonl` row per epoch.

use super::data::{read_conll, Sentence};
use super::encode::Encoded;
use super::evaluate::{evaluate, unknown_tags, unknown_tags_warning, PREDICT_BATCH};
use super::metrics::is_chunk_tagset;
use super::step::{length_batches, Stepper, TrainOptions};
use super::tagger::{Tagger, TaggerOptions};
use crate::dist::{self, Collective, Single};
use crate::io::{FlowLog, MetricsLog, OutMode};
use crate::nn::cell::CellKind;
use crate::optim::OptimizerConfig;
use crate::tasks::{Budget, Clock, Event, OnDivergence, Progress, Rollback};
use crate::{Error, ModelConfig, Result};
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which model a run leaves in its output directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Keep {
    /// The epoch with the best dev score; epochs that do not improve it
    /// decay the learning rate and count towards early stopping.
    #[default]
    Best,
    /// The final epoch's (for when the dev data is also trained on): a
    /// fixed schedule, no decay, no early stopping.
    Last,
}

/// Everything `rnn train tag` is told besides its data and budget. The
/// defaults are the CLI's.
///
/// ```
/// use rnn::tasks::tag::{Keep, TrainConfig};
/// let mut config = TrainConfig::default();
/// assert_eq!((config.batch, config.patience, config.keep), (16, 4, Keep::Best));
/// assert_eq!(config.tagger.rnn.hidden_size, 100);
/// config.batch = 0;
/// assert!(config.validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Features and network of a new tagger (with `init_from`, only `crf`
    /// and `lexicon` are used; `char_dim` must be 0).
    pub tagger: TaggerOptions,
    /// Optimizer (Adam, lr 2e-3), clipping (5), word dropout (0.25) and
    /// input dropout (0).
    pub optim: TrainOptions,
    /// Sentences per batch (16).
    pub batch: usize,
    /// Learning-rate factor after an epoch that does not improve the dev
    /// score (0.5), in (0, 1].
    pub lr_decay: f64,
    /// Epochs without a better dev score before stopping (4). An epoch
    /// whose score equals the best one's and whose dev loss is lower counts
    /// as better (a small entity set's F1 can stay 0 for epochs while the
    /// loss falls).
    pub patience: usize,
    /// Which model to keep (best).
    pub keep: Keep,
    /// Also save every epoch's model from this epoch on as `OUT/epoch-N`
    /// (0: never).
    pub snapshots_from: usize,
    /// Random seed: initialisation, batch order, dropout (0).
    pub seed: u64,
    /// Start from the trained tagger in this directory (transfer learning,
    /// [`Tagger::from_pretrained`]).
    pub init_from: Option<PathBuf>,
    /// Extra metadata saved in every model file (the CLI records its
    /// arguments as `tag.train_args`).
    pub meta: BTreeMap<String, String>,
    /// What a non-finite loss does: stop (default), or roll back to the
    /// weights of the last epoch with half the learning rate.
    pub on_divergence: OnDivergence,
    /// After each epoch, also measure the gradient flow on the dev data
    /// (the training data when there is none; [`Tagger::diagnose`]) into
    /// `diagnostics.jsonl`, `gradient-flow.svg` and `spectral-radius.svg`.
    pub diagnostics: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let mut rnn = ModelConfig::elman(1, 100, 1);
        rnn.cell = CellKind::Lstm;
        TrainConfig {
            tagger: TaggerOptions {
                rnn,
                ..TaggerOptions::default()
            },
            optim: TrainOptions {
                optimizer: OptimizerConfig::Adam {
                    lr: 2e-3,
                    betas: (0.9, 0.999),
                    eps: 1e-8,
                    weight_decay: 0.0,
                    amsgrad: false,
                },
                ..TrainOptions::default()
            },
            batch: 16,
            lr_decay: 0.5,
            patience: 4,
            keep: Keep::Best,
            snapshots_from: 0,
            seed: 0,
            init_from: None,
            meta: BTreeMap::new(),
            on_divergence: OnDivergence::Stop,
            diagnostics: false,
        }
    }
}

impl TrainConfig {
    /// Checks the loop's settings; the error names the first bad one.
    pub fn validate(&self) -> Result<&Self> {
        let bad = |what: &str, value: String, expected: &str| {
            Err(Error::Value {
                what: what.into(),
                value,
                expected: expected.into(),
            })
        };
        if self.batch == 0 {
            return bad("batch", "0".into(), "at least 1 sentence");
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad("lr_decay", self.lr_decay.to_string(), "a number in (0, 1]");
        }
        if !(self.optim.clip.is_finite() && self.optim.clip >= 0.0) {
            return bad("clip", self.optim.clip.to_string(), "a number >= 0");
        }
        if let (Some(dir), true) = (&self.init_from, self.tagger.char_dim > 0) {
            return bad(
                "char_dim",
                self.tagger.char_dim.to_string(),
                &format!(
                    "0 with init_from {} (the character encoder comes from the base tagger)",
                    dir.display()
                ),
            );
        }
        Ok(self)
    }
}

/// What a finished [`Trainer::fit`] reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `"f1"` for a chunk (BIO) tag set, else `"accuracy"`: what early
    /// stopping and the best model go by.
    pub score_name: &'static str,
    /// The best dev score (a fraction; -inf when no epoch ran).
    pub best_score: f64,
    /// The epoch that reached it (1-based; 0 when no epoch ran).
    pub best_epoch: usize,
    /// Epochs run (the last one possibly cut short by the budget).
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Whether the run ended by early stopping.
    pub stopped_early: bool,
    /// Seconds the run took.
    pub seconds: f64,
    /// The epoch whose weights `model.safetensors` holds: the best one, or
    /// with [`Keep::Last`] the last one run (0 when none was saved).
    pub kept_epoch: usize,
    /// The dev score of that epoch (-inf when none was saved).
    pub kept_score: f64,
}

/// Trains a tagger on tagged sentences, evaluating on dev data after each
/// epoch and writing the model directory `out` (`model.safetensors`,
/// `metrics.jsonl`, `epoch-N/` snapshots; with [`TrainConfig::diagnostics`]
/// `diagnostics.jsonl` and its pictures).
///
/// ```
/// use rnn::tasks::{tag::{Sentence, Tagger, TrainConfig, Trainer}, Budget};
/// let s = |w: &str, t: &str| Sentence {
///     tokens: w.split(' ').map(String::from).collect(),
///     tags: t.split(' ').map(String::from).collect(),
///     line: 1,
/// };
/// let train = vec![s("I like eating apple", "O O O B-fruit"), s("The Apple is great", "O B-corp O O")];
/// let mut config = TrainConfig::default();
/// config.tagger.rnn.hidden_size = 8;
/// config.tagger.word_dim = 8;
/// let out = std::env::temp_dir().join(format!("rnn-doc-tag-trainer-{}", std::process::id()));
/// let mut trainer = Trainer::new(config, train.clone(), train, &out).unwrap();
/// let mut lines = Vec::new();
/// let summary = trainer
///     .fit(Budget::Epochs(2), &mut |e: &rnn::tasks::Event| {
///         if let rnn::tasks::Event::Message(m) = e {
///             lines.push(m.to_string());
///         }
///     })
///     .unwrap();
/// assert_eq!((summary.epochs, summary.score_name), (2, "f1"));
/// assert!(lines.iter().any(|l| l.starts_with("epoch 2: train loss")));
/// let tagger = Tagger::load(&out).unwrap(); // the best epoch's
/// assert_eq!(tagger.tag(&["The", "Apple"]).len(), 2);
/// # std::fs::remove_dir_all(&out).unwrap();
/// ```
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    train: Vec<Sentence>,
    dev: Vec<Sentence>,
    dev_name: String,
    out: PathBuf,
    tagger: Tagger,
    stepper: Stepper,
    /// What the run starts from, when transferring: the base's directory and network.
    base: Option<(PathBuf, ModelConfig)>,
    done: bool,
}

impl Trainer {
    /// A trainer for `train` with `dev` for early stopping, writing to
    /// `out`: a new tagger from `config.tagger`, or one transferred from
    /// `config.init_from`.
    pub fn new(
        config: TrainConfig,
        train: Vec<Sentence>,
        dev: Vec<Sentence>,
        out: &Path,
    ) -> Result<Self> {
        Self::named(config, train, dev, out, "dev data".into())
    }

    /// [`Trainer::new`] whose warnings and errors call the dev set `dev_name`.
    fn named(
        config: TrainConfig,
        train: Vec<Sentence>,
        dev: Vec<Sentence>,
        out: &Path,
        dev_name: String,
    ) -> Result<Self> {
        config.validate()?;
        for (set, sentences) in [("train", &train), ("dev", &dev)] {
            check_tagged(set, sentences)?;
        }
        let seed = config.seed;
        let (tagger, base) = match &config.init_from {
            None => (Tagger::new(&train, &config.tagger, seed)?, None),
            Some(dir) => {
                let b = Tagger::load(dir)?;
                let lexicon = config.tagger.lexicon.clone();
                let t = Tagger::from_pretrained(&b, &train, config.tagger.crf, lexicon, seed)?;
                (t, Some((dir.clone(), b.model.config)))
            }
        };
        // a dev set of another task (an NER file beside POS training) scored
        // 0 % with a dev loss of 0.0000 over no token, and early stopping
        // ran on nothing (the CLI sweep of session 55)
        let dev_tokens: usize = dev.iter().map(Sentence::len).sum();
        let unknown = unknown_tags(&tagger.spec.tags, &dev);
        if dev_tokens > 0 && unknown.values().sum::<usize>() == dev_tokens {
            let few = |tags: Vec<&str>| {
                let quoted: Vec<String> = tags.iter().take(6).map(|t| format!("{t:?}")).collect();
                let more = if tags.len() > 6 { ", ..." } else { "" };
                format!("{}{more}", quoted.join(", "))
            };
            return Err(Error::Config(format!(
                "{dev_name}: none of its {dev_tokens} tokens has a tag of the training data (its tags {}; the training's {}): the dev set of another task?",
                few(unknown.keys().map(String::as_str).collect()),
                few(tagger.spec.tags.iter().map(String::as_str).collect()),
            )));
        }
        let stepper = Stepper::new(&tagger, &config.optim, seed)?;
        Ok(Trainer {
            config,
            train,
            dev,
            dev_name,
            out: out.to_path_buf(),
            tagger,
            stepper,
            base,
            done: false,
        })
    }

    /// Like [`Trainer::new`], reading the CoNLL files `train` (all of them,
    /// in order) and `dev`; warnings name the dev file.
    pub fn from_files<P: AsRef<Path>>(
        config: TrainConfig,
        train: &[P],
        dev: &Path,
        out: &Path,
    ) -> Result<Self> {
        let mut sentences = Vec::new();
        for f in train {
            sentences.extend(read_conll(f.as_ref())?);
        }
        let dev_data = read_conll(dev)?;
        Self::named(config, sentences, dev_data, out, dev.display().to_string())
    }

    /// [`Trainer::from_files`] for a run into `out` as `mode` says (`rnn
    /// train tag`, `--force`: [`OutMode::Replace`]), opened by every rank of
    /// `comm` alike ([`dist::open_run_dir`]): a batch the ranks cannot
    /// share is refused first, then rank 0 alone checks and prepares `out`
    /// and its verdict is shared before anything is read or written.
    pub fn open_run<P: AsRef<Path>>(
        config: TrainConfig,
        train: &[P],
        dev: &Path,
        out: &Path,
        mode: OutMode,
        comm: &dyn Collective,
    ) -> Result<Self> {
        dist::open_run_dir(comm, out, mode, Some(config.batch))?;
        Self::from_files(config, train, dev, out)
    }

    /// The tagger being trained (its current weights).
    pub fn tagger(&self) -> &Tagger {
        &self.tagger
    }

    /// Trains within `budget`, reporting to `progress`: a [`Event::Message`]
    /// line for the setup, each epoch and early stopping (the lines `rnn
    /// train tag` prints), [`Event::Step`] per batch and [`Event::Evaluated`]
    /// per epoch. Runs once per trainer. A non-finite loss ends the run with
    /// [`Error::Diverged`].
    pub fn fit(&mut self, budget: Budget, progress: &mut impl Progress) -> Result<Summary> {
        self.fit_on(budget, progress, &Single)
    }

    /// [`Trainer::fit`] as one rank of a data-parallel job ([`crate::dist`]):
    /// every rank of `comm` calls it on the same data, draws the same
    /// batches and dropout, and runs its share of every batch's sentences
    /// ([`Stepper::step_on`]); the gradients are summed by one all-reduce
    /// per step and every rank applies the same update. Rank 0 alone
    /// evaluates on the dev data (its score is shared, so every rank
    /// decays, stops and rolls back alike), writes the files and reports to
    /// `progress`; the others' `progress` hears nothing. With one process
    /// this is `fit`.
    ///
    /// # Errors
    ///
    /// As `fit`; [`Error::Value`] when the batch is not a multiple of the
    /// number of ranks; [`Error::OnRank0`] on the other ranks when rank 0's
    /// evaluation or writing failed.
    pub fn fit_on(
        &mut self,
        budget: Budget,
        progress: &mut impl Progress,
        comm: &dyn Collective,
    ) -> Result<Summary> {
        let budget = budget.validate()?;
        dist::shard(comm, self.config.batch)?;
        if self.done {
            return Err(Error::Config("Trainer::fit runs once per trainer".into()));
        }
        self.done = true;
        let root = comm.rank() == 0;
        let mut quiet = ();
        let progress: &mut dyn Progress = if root { progress } else { &mut quiet };
        let (cfg, tagger, train, dev) = (&self.config, &mut self.tagger, &self.train, &self.dev);
        let say = |progress: &mut dyn FnMut(&Event), line: String| progress(&Event::Message(&line));
        let mut emit = |e: &Event| progress.event(e);
        if let Some((dir, c)) = &self.base {
            say(&mut emit, format!(
                "starting from {}: its features and network ({:?}, {} layer(s), {}, hidden {}); feature and network flags ignored",
                dir.display(),
                c.cell,
                c.num_layers,
                if c.bidirectional { "bidirectional" } else { "unidirectional" },
                c.hidden_size
            ));
        }
        if let Some(w) = unknown_tags_warning(&self.dev_name, &unknown_tags(&tagger.spec.tags, dev))
        {
            say(&mut emit, w);
        }
        let chunked = is_chunk_tagset(&tagger.spec.tags);
        let score_name = if chunked { "f1" } else { "accuracy" };
        let train_enc: Vec<Encoded> = train.iter().map(|s| tagger.encode(s)).collect();
        let dev_enc: Vec<Encoded> = dev.iter().map(|s| tagger.encode(s)).collect();
        let train_tokens: usize = train.iter().map(Sentence::len).sum();
        say(&mut emit, format!(
            "train: {} sentences, {} tokens, {} tags ({}); dev: {} sentences; words {}, input {}, parameters {} + {} embedding",
            train.len(),
            train_tokens,
            tagger.spec.tags.len(),
            if chunked { "entities, early stopping on F1" } else { "early stopping on accuracy" },
            dev.len(),
            tagger.spec.features[0].vocab.len(),
            tagger.input_size(),
            tagger.model.params.len(),
            tagger.emb.len()
        ));

        // the clock starts with the training, after the setup (as the CLI's bar always did)
        let clock = Clock::start(budget);
        let late = || dist::shared_time(comm, &clock).0;
        let out = &self.out;
        if root {
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        }
        let mut metrics = MetricsLog::open(out, false);
        let mut flows = cfg.diagnostics.then(|| FlowLog::open(out, false));
        let batches_per_epoch = train.len().div_ceil(cfg.batch) as u64;
        let (max_epochs, max_steps) = match budget {
            Budget::Epochs(e) => (e, u64::MAX),
            Budget::Steps(s) => (usize::MAX, s),
            Budget::Minutes(_) => (usize::MAX, u64::MAX),
        };
        emit(&Event::Start {
            total_steps: match budget {
                Budget::Epochs(e) => Some(e as u64 * batches_per_epoch),
                Budget::Steps(s) => Some(s),
                Budget::Minutes(_) => None,
            },
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        let lengths: Vec<usize> = train_enc.iter().map(|e| e.len).collect();
        let keep_last = cfg.keep == Keep::Last;
        let mut s = Summary {
            score_name,
            best_score: f64::NEG_INFINITY,
            best_epoch: 0,
            epochs: 0,
            steps: 0,
            stopped_early: false,
            seconds: 0.0,
            kept_epoch: 0,
            kept_score: f64::NEG_INFINITY,
        };
        let (mut stale, mut step, mut summary) = (0usize, 0u64, String::new());
        // the dev loss of the best epoch: between epochs of equal score (a
        // small NER set's F1 stays 0 while every token is tagged O and the
        // loss still falls) the lower dev loss is the better epoch
        let mut best_loss = f64::INFINITY;
        let mut epoch = 0;
        // the weights and optimizers at the end of the last epoch, to roll back to
        let mut rollback = Rollback::new(cfg.on_divergence);
        rollback.good(|| (tagger.clone(), self.stepper.optimizers()));
        // losses per token are judged against a uniform guess over the tags
        let uniform = crate::tasks::uniform_loss(tagger.spec.tags.len());
        // a minutes budget spent before the first epoch still trains one
        // (cut short after its first step): a run always leaves a model
        while epoch < max_epochs && step < max_steps && (epoch == 0 || !late()) {
            epoch += 1;
            let (mut loss_sum, mut tok, mut smooth) = (0.0f64, 0usize, f64::NAN);
            for b in length_batches(&lengths, cfg.batch, &mut rng) {
                let refs: Vec<&Encoded> = b.iter().map(|&i| &train_enc[i]).collect();
                let (l, n) = self.stepper.step_on(tagger, &refs, comm)?;
                if let Some(value) = crate::tasks::diverged(l / n.max(1) as f64, uniform) {
                    let lr = self.stepper.lr();
                    let ((good, opt), factor, line) = rollback.diverged(step, value, lr)?;
                    *tagger = good.clone();
                    self.stepper.set_optimizers(opt);
                    self.stepper.set_lr(lr * factor);
                    say(&mut emit, line);
                    continue; // the batch is skipped
                }
                rollback.stepped();
                loss_sum += l;
                tok += n;
                step += 1;
                let per = l / n.max(1) as f64;
                smooth = if smooth.is_nan() {
                    per
                } else {
                    0.98 * smooth + 0.02 * per
                };
                if step % 20 == 0 || summary.is_empty() {
                    let best = s.best_score;
                    summary =
                        format!("epoch {epoch} loss {smooth:.4} best dev {score_name} {best:.4}");
                }
                emit(&Event::Step {
                    step,
                    loss: per,
                    summary: &summary,
                });
                if late() || step >= max_steps {
                    break;
                }
            }
            // rank 0 evaluates, writes and reports; every rank goes by its score
            let train_loss = loss_sum / tok.max(1) as f64;
            let best_score = s.best_score;
            let mut root_loss = f64::NAN;
            let score = dist::from_root(comm, || {
                let (pred, dev_loss, dev_n) = tagger.predict_with_loss_own(&dev_enc, PREDICT_BATCH);
                let ev = evaluate(&tagger.spec.tags, dev, &pred);
                let m = ev.micro();
                let score = if chunked { m.f1 } else { ev.accuracy() };
                let dev_loss = dev_loss / dev_n.max(1) as f64;
                root_loss = dev_loss;
                if crate::tasks::diverged(dev_loss, uniform).is_some() {
                    // weights that diverge on the dev set are neither
                    // logged nor saved: every rank judges them below
                    return Ok(f64::NAN);
                }
                let improved = score > best_score || (score == best_score && dev_loss < best_loss);
                let row = serde_json::json!({
                    "epoch": epoch, "step": step, "seconds": clock.elapsed(), "lr": self.stepper.lr(),
                    "train_loss": train_loss, "dev_loss": dev_loss,
                    "dev_accuracy": ev.accuracy(), "dev_precision": m.precision, "dev_recall": m.recall, "dev_f1": m.f1,
                    "best": improved,
                });
                metrics.push(row.clone())?;
                if let Some(log) = flows.as_mut() {
                    let (on, what) = match dev.is_empty() {
                        false => (dev, self.dev_name.as_str()),
                        true => (train, "training data"),
                    };
                    log.push(step, &tagger.diagnose(on, what)?)?;
                }
                emit(&Event::Evaluated { row: &row });
                say(&mut emit, format!(
                    "epoch {epoch}: train loss {train_loss:.4}, dev loss {dev_loss:.4}, dev accuracy {:.2}%{}{} ({:.0}s)",
                    100.0 * ev.accuracy(),
                    if chunked { format!(", dev F1 {:.2}", 100.0 * m.f1) } else { String::new() },
                    if improved { ", saved" } else { "" },
                    clock.elapsed()
                ));
                let mut epoch_meta = cfg.meta.clone();
                epoch_meta.insert(
                    "tag.dev_score".into(),
                    format!("{{\"{score_name}\": {score}, \"epoch\": {epoch}}}"),
                );
                if improved || keep_last {
                    tagger.save(out, epoch_meta.clone())?;
                }
                if cfg.snapshots_from > 0 && epoch >= cfg.snapshots_from {
                    tagger.save(&out.join(format!("epoch-{epoch}")), epoch_meta)?;
                }
                Ok(score)
            })?;
            let dev_loss = dist::from_root(comm, || Ok(root_loss))?;
            if let Some(value) = crate::tasks::diverged(dev_loss, uniform) {
                // stop, or with OnDivergence::Rollback go back to the end
                // of the last good epoch (as for a training loss)
                let lr = self.stepper.lr();
                let ((good, opt), factor, line) =
                    rollback.diverged_on(step, &value, "the dev set", lr)?;
                *tagger = good.clone();
                self.stepper.set_optimizers(opt);
                self.stepper.set_lr(lr * factor);
                say(&mut emit, line);
                continue;
            }
            let improved = score > s.best_score || (score == s.best_score && dev_loss < best_loss);
            s.epochs = epoch;
            rollback.good(|| (tagger.clone(), self.stepper.optimizers()));
            if improved || keep_last {
                // saved above (by rank 0)
                (s.kept_epoch, s.kept_score) = (epoch, score);
            }
            if improved {
                s.best_score = score;
                best_loss = dev_loss;
                s.best_epoch = epoch;
                stale = 0;
            } else if !keep_last {
                // with Keep::Last the schedule is fixed: no decay, no early stop
                stale += 1;
                self.stepper.set_lr(self.stepper.lr() * cfg.lr_decay);
                if stale >= cfg.patience {
                    say(
                        &mut emit,
                        format!(
                            "no better dev {score_name} for {}: stopping",
                            crate::tasks::counted(stale, "epoch", "epochs")
                        ),
                    );
                    s.stopped_early = true;
                    break;
                }
            }
        }
        s.steps = step;
        s.seconds = clock.elapsed();
        if let (0, Some(e)) = (s.best_epoch, rollback.unsaved()) {
            // every epoch diverged (rolled back each time): no model was saved
            return Err(e);
        }
        Ok(s)
    }
}

/// Every sentence of a training or development set has one tag per token
/// (its fields are public: a sentence built by hand with fewer tags made
/// `fit` index past them and panic, one with more was scored on the first
/// few; the library sweep of session 53).
fn check_tagged(set: &str, sentences: &[Sentence]) -> Result<()> {
    match sentences
        .iter()
        .enumerate()
        .find(|(_, s)| s.tags.len() != s.tokens.len())
    {
        Some((i, s)) => Err(Error::Argument {
            arg: format!("{set}[{i}]"),
            expected: format!("one tag per token ({} tokens)", s.tokens.len()),
            got: format!("{} tags (the sentence of line {})", s.tags.len(), s.line),
        }),
        None => Ok(()),
    }
}
