//! [`Trainer`]: chooses the window, transform and differencing on the
//! validation block (when asked), fits an ensemble of networks on the
//! training part of a series (each keeping the weights of its best validation
//! epoch), fits the AR(p) baseline on the same windows, and saves the
//! validation residuals the forecast intervals are made of.

use super::calendar::default_season;
use super::choose::{choose_within, fit_base, val_origins, val_rows, CHOICE_FOLDS};
use super::config::TrainConfig;
use super::eval::EvalReport;
use super::gain::clear_gain;
use super::interval::calibrate;
use super::member::{Data, Member};
use super::meta::Choice;
use super::meta::{fingerprint, ForecastMeta, ValScores};
use super::pipeline::Pipeline;
use super::predict::{member_dir, Forecaster};
use super::series::Series;
use super::windows::{windows, Window};
use crate::dist::{self, Collective, Single};
use crate::io::model_file::MODEL_FILE;
use crate::io::OutMode;
use crate::tasks::{Budget, Event, Progress};
use crate::{Error, Model, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Window-steps (training windows x window length x epochs) the default
/// budget gives each network: about 10 s of a GRU of 32 units on one core.
const DEFAULT_WORK: f64 = 3e6;

/// Training windows a network sees at least under the default budget
/// (30 epochs of 10,000 windows): the floor of 30 epochs holds up to 10,000
/// training windows and is lowered past them (50,000 hourly rows: 7 epochs,
/// about 9,800 minibatches, where 30 took 12 minutes of 2 cores).
const DEFAULT_MIN_VISITS: usize = 300_000;

/// The epochs of [`Trainer::default_budget`] for `windows` training windows
/// of `window` rows.
///
/// ```
/// use rnn::tasks::forecast::default_epochs;
/// assert_eq!(default_epochs(100, 8), 500); // a short series: early stopping decides
/// assert_eq!(default_epochs(5_000, 24), 30); // 25 epochs of work, held at the floor
/// assert_eq!(default_epochs(10_000, 48), 30);
/// assert_eq!(default_epochs(44_801, 48), 7); // ceil(300,000 / 44,801)
/// assert_eq!(default_epochs(1_000_000, 48), 5);
/// ```
pub fn default_epochs(windows: usize, window: usize) -> usize {
    let work = (windows * window).max(1) as f64;
    let floor = match windows {
        0..=10_000 => 30,
        w => DEFAULT_MIN_VISITS.div_ceil(w).max(5),
    };
    ((DEFAULT_WORK / work) as usize).clamp(floor, 500)
}

/// A forecasting run ready to train: the series, its encoding, the windows,
/// the networks of the ensemble and their optimizers.
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
    /// The ensemble: the first writes into `out`, the others into
    /// `out/member-K`.
    members: Vec<Member>,
    /// The run's metadata (the first network's best epoch; after
    /// [`Trainer::fit`], the AR baseline and the intervals too).
    meta: ForecastMeta,
    choice: Option<Choice>,
    /// The AR forecast of each window `[S, O]` by its start (empty without
    /// the AR skip).
    base: Vec<f64>,
}

/// What a [`Trainer::fit`] did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Epochs run so far (the first network).
    pub epochs: usize,
    /// Optimizer steps taken so far (the first network).
    pub steps: u64,
    /// The epoch whose weights were kept (the first network).
    pub best_epoch: usize,
    /// The validation MSE (normalised units) of the kept weights (the first network).
    pub best_val_mse: Option<f64>,
    /// Whether early stopping ended the run (else the budget did; the first network).
    pub early_stopped: bool,
    /// The saved model file.
    pub model_file: PathBuf,
    /// The saved ensemble scored on the test block (when there is one).
    pub test: Option<EvalReport>,
    /// Networks in the ensemble.
    pub ensemble: usize,
    /// The window, transform and differencing chosen on the validation
    /// block (None when all three were given).
    pub choice: Option<Choice>,
    /// The ensemble, AR and naive forecasts on the validation block.
    pub validation: Option<ValScores>,
}

/// The "too few rows" check of a run with `window` and `lost` rows lost to
/// differencing.
fn check_rows(series: &Series, a: &TrainConfig, window: usize, lost: usize) -> Result<()> {
    let (n, model_h) = (series.len(), a.outputs());
    let min_fit = window.saturating_add(lost).saturating_add(model_h);
    if a.test >= n || n - a.test < min_fit {
        return Err(Error::Data {
            path: series.path.clone(),
            reason: format!(
                "{}: too few for --test {} plus --window {window} + horizon {model_h}{} ({} rows needed)",
                crate::tasks::counted(n, "row", "rows"),
                a.test,
                if lost > 0 { format!(" + {lost} lost to --diff") } else { String::new() },
                a.test.saturating_add(min_fit)
            ),
        });
    }
    Ok(())
}

impl Trainer {
    /// Checks `config`, reads the CSV file `data` and prepares the run that
    /// writes into directory `out`.
    pub fn new(config: TrainConfig, data: &Path, out: &Path) -> Result<Trainer> {
        config.validate()?;
        let c = &config;
        let series = Series::read_rows(
            data,
            c.delimiter,
            c.rows.as_ref(),
            &c.target,
            &c.features,
            &c.time,
            c.fill,
        )?;
        Trainer::from_series(config, series, out)
    }

    /// [`Trainer::new`] for a run into `out` as `mode` says (`rnn train
    /// forecast`, `--force`: [`OutMode::Replace`]), opened by every rank of
    /// `comm` alike ([`dist::open_run_dir`]): a batch the ranks cannot share
    /// is refused first, then rank 0 alone checks and prepares `out` and its
    /// verdict is shared before anything is read or written.
    pub fn open_run(
        config: TrainConfig,
        data: &Path,
        out: &Path,
        mode: OutMode,
        comm: &dyn Collective,
    ) -> Result<Trainer> {
        dist::open_run_dir(comm, out, mode, Some(config.batch))?;
        Trainer::new(config, data, out)
    }

    /// Prepares a run on a series already read (its target and features are
    /// used; `config`'s column settings are not). What `config.choose` asks
    /// for is chosen here, on the validation block of the training part.
    pub fn from_series(mut config: TrainConfig, series: Series, out: &Path) -> Result<Trainer> {
        config.validate()?;
        series.check_values()?;
        if !config.choose.transform {
            series.check_domain(config.transform)?;
        }
        let n = series.len();
        let season = config
            .season
            .unwrap_or_else(|| default_season(&series.time));
        let fit_rows = n.saturating_sub(config.test);
        if let Some(s) = config.season.filter(|&s| s > 1 && 2 * s > fit_rows) {
            // the seasonal naive forecast and MASE's scale look a season back
            return Err(Error::Config(format!(
                "--season {s}: two seasons need {} rows, and {fit_rows} are fitted (at most --season {} here)",
                2 * s,
                fit_rows / 2
            )));
        }
        let fit_feats: Vec<Vec<f64>> = series
            .features
            .iter()
            .map(|f| f[..fit_rows.min(f.len())].to_vec())
            .collect();
        let names = (series.target_name.as_str(), series.feature_names.as_slice());
        let choice = if config.choose.any() {
            let a = &config;
            let w = if a.choose.window { 1 } else { a.window };
            let lost = if a.choose.diff {
                0
            } else {
                a.diff.iter().sum()
            };
            check_rows(&series, a, w, lost)?;
            // the transform's domain: every row, the test block's too
            let (y, all) = (&series.target[..fit_rows], &series.target);
            let c = choose_within(y, all, &fit_feats, a, season, names)?;
            (config.window, config.transform) = (c.window, c.transform);
            config.diff = c.diff.clone();
            Some(c)
        } else {
            None
        };
        let a = &config;
        let lost = a.diff.iter().fold(0usize, |t, &l| t.saturating_add(l));
        check_rows(&series, a, a.window, lost)?;
        let model_h = a.outputs();
        let pipeline = Pipeline::fit(
            &series.target[..fit_rows],
            &fit_feats,
            a.transform,
            &a.diff,
            names,
        )?;
        let width = 1 + fit_feats.len();
        let enc = pipeline.encode(&series.target[..fit_rows], &fit_feats)?; // [M, I]
        let m = enc.len() / width;
        let val_rows = val_rows(a.val_frac, m);
        let (val, train): (Vec<Window>, Vec<Window>) = windows(m, a.window, model_h)?
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
        let train_refs: Vec<&Window> = train.iter().collect();
        let ar = fit_base(&enc, width, &train_refs, &choice, &pipeline);
        let meta = ForecastMeta {
            target: series.target_name.clone(),
            features: series.feature_names.clone(),
            time: series.time_name.clone(),
            time_step: series
                .time_name
                .as_ref()
                .and_then(|_| super::time_step(&series.time)),
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
            delimiter: a.delimiter,
            rows: a.rows.clone(),
            ensemble: a.ensemble,
            choice: choice.clone(),
            ar,
            ar_skip: false,
            correction: 1.0,
            interval: None,
            validation: None,
            finished: false, // until after_training
        };
        let mut meta = meta;
        meta.ar_skip = a.ar_skip && meta.ar.is_some();
        // the AR forecast of every window (by its start), for the skip
        let base = match (&meta.ar, meta.ar_skip) {
            (Some(ar), true) => (0..=m.saturating_sub(a.window + model_h))
                .flat_map(|s| ar.outputs_of(&enc[s * width..(s + a.window) * width]))
                .collect(),
            _ => Vec::new(),
        };
        let members = (0..a.ensemble)
            .map(|k| {
                let mut mm = meta.clone();
                mm.seed = a.seed.wrapping_add(k as u64);
                if k == 0 {
                    let mut first = Member::new(a, width, val.len(), mm, out.to_path_buf())?;
                    first.top = true;
                    Ok(first)
                } else {
                    mm.ensemble = 1; // a member's file is a model of its own
                    Member::new(a, width, val.len(), mm, member_dir(out, k))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Trainer {
            config,
            series,
            out: out.to_path_buf(),
            enc,
            width,
            train,
            val,
            members,
            meta,
            choice,
            base,
        })
    }

    /// The metadata the model is saved with (best epoch so far included).
    pub fn meta(&self) -> &ForecastMeta {
        &self.meta
    }

    /// The (first) network being trained (the last epoch's weights).
    pub fn model(&self) -> &Model<f32> {
        &self.members[0].model
    }

    /// Training and validation windows.
    pub fn window_counts(&self) -> (usize, usize) {
        (self.train.len(), self.val.len())
    }

    /// The settings chosen on the validation block, if any were.
    pub fn choice(&self) -> Option<&Choice> {
        self.choice.as_ref()
    }

    /// The budget of `rnn train forecast` without `--epochs` or `--minutes`:
    /// 500 epochs (with early stopping), fewer for long series so that a
    /// network's training windows x window x epochs stay near 3 million (at
    /// least 30 epochs, and past 10,000 training windows at least the
    /// epochs that show a network 300,000 windows, at least 5).
    pub fn default_budget(&self) -> Budget {
        Budget::Epochs(default_epochs(self.train.len(), self.config.window))
    }

    /// Trains every network of the ensemble until `budget` (each network's;
    /// minutes are shared out) is used up or its validation loss has not
    /// improved for `patience` epochs; the networks run in parallel, one per
    /// core (`jobs`), each on one thread. Each keeps its best epoch in its
    /// `model.safetensors` and logs its epochs to its `metrics.jsonl`. Then
    /// the AR(p) baseline is fitted on the training windows, the ensemble,
    /// AR and naive forecasts are scored on the validation block (their
    /// residuals make the forecast intervals), and the saved ensemble is
    /// scored on the test block. `progress` receives the first network's
    /// step events and metrics rows and the lines the CLI prints (settings,
    /// choice, stop reasons with the validation scores, test scores).
    pub fn fit(&mut self, budget: Budget, progress: &mut impl Progress) -> Result<Summary> {
        self.fit_on(budget, progress, &Single)
    }

    /// [`Trainer::fit`] as one rank of a data-parallel job ([`crate::dist`]):
    /// every rank of `comm` calls it on the same run (the same choices of
    /// window, transform and differencing, made on the same data), trains
    /// the networks one after another, and runs its share of every
    /// minibatch ([`dist::share`]: the same shuffles on every rank); one
    /// all-reduce of the gradient and loss per step gives each rank the
    /// whole minibatch's, and all apply the same update. Rank 0 alone
    /// scores the validation windows (its score is shared, so every rank
    /// keeps and stops alike), writes the files, fits the AR baseline and
    /// the intervals, scores the test block and reports to `progress`; the
    /// others' summary has no test or validation scores. With one process
    /// this is `fit`.
    ///
    /// # Errors
    ///
    /// As `fit`; [`Error::Value`] when the batch is not a multiple of the
    /// number of ranks; [`Error::OnRank0`] on the other ranks when rank 0
    /// failed.
    pub fn fit_on(
        &mut self,
        budget: Budget,
        progress: &mut impl Progress,
        comm: &dyn Collective,
    ) -> Result<Summary> {
        let budget = budget.validate()?;
        dist::shard(comm, self.config.batch)?;
        let root = comm.rank() == 0;
        let mut quiet = ();
        let progress: &mut dyn Progress = if root { progress } else { &mut quiet };
        let (n, a) = (self.series.len(), &self.config);
        let (model_h, k) = (a.outputs(), a.ensemble);
        progress.event(&Event::Message(&format!(
            "{}: {n} rows; fitting on the first {} ({} training windows, {} validation windows), test block of {} rows; \
             strategy {} ({} output{}); {} parameters{}",
            self.series.path.display(),
            self.meta.fit_rows,
            self.train.len(),
            self.val.len(),
            a.test,
            a.strategy,
            model_h,
            if model_h == 1 { "" } else { "s" },
            self.members[0].model.params.len(),
            if k > 1 {
                format!("; an ensemble of {k} networks (seeds {} to {})", a.seed, a.seed.wrapping_add(k as u64 - 1))
            } else {
                String::new()
            }
        )));
        for w in &self.series.warnings {
            progress.event(&Event::Message(&format!("warning: {w}")));
        }
        if self.series.filled > 0 {
            progress.event(&Event::Message(&format!(
                "filled {} ({})",
                crate::tasks::counted(self.series.filled, "missing value", "missing values"),
                a.fill.name()
            )));
        }
        if let Some(c) = &self.choice {
            let val = val_rows(a.val_frac, self.meta.fit_rows);
            progress.event(&Event::Message(&format!(
                "chose {c} on the validation block (the last {val} training rows; AR proxy RMSE {}, {} candidates); \
                 scored by a backtest on up to {CHOICE_FOLDS} blocks of {val} rows{}",
                c.val_rmse.map_or("-".into(), |v| format!("{v:.4}")),
                c.candidates,
                match c.seasonal_candidates {
                    0 => String::new(),
                    n => format!(", with {n} seasonal AR cells"),
                }
            )));
            if let (true, Some(r)) = (c.naive, c.naive_rmse) {
                progress.event(&Event::Message(&format!(
                    "the best AR cell's backtest gain over the naive forecast (RMSE {r:.4}) is not clear: \
                     the networks correct the naive forecast (no AR)"
                )));
            }
            if let (Some(l), Some(n), Some(r)) = (c.level(), c.naive_rmse, c.level_rmse) {
                progress.event(&Event::Message(&format!(
                    "the local level's backtest gain over the naive forecast (RMSE {r:.4} against {n:.4}) is clear \
                     and the best AR cell's over it is not: the networks correct simple exponential smoothing \
                     (alpha {:.3}; no AR)",
                    l.alpha
                )));
            }
            if let (Some(one), Some(two)) = (c.single_rmse, c.combined_rmse) {
                progress.event(&Event::Message(&match &c.arma {
                    Some(a) => format!(
                        "the base averaged with {} (orders by AIC) has backtest RMSE {two:.4} against {one:.4} alone: \
                         every forecast is the average of the networks' and this model's",
                        a.describe()
                    ),
                    None => format!(
                        "the base averaged with an ARMA model (orders by AIC) has backtest RMSE {two:.4} against \
                         {one:.4} alone: not averaged (that needs 2 % lower)"
                    ),
                }));
            }
        }
        if root {
            std::fs::create_dir_all(&self.out).map_err(|e| Error::io(&self.out, e))?;
        }
        // ranks make their collective calls from one thread: one network at a time
        let jobs = match (a.jobs, comm.size()) {
            (_, 2..) => 1,
            (0, _) => std::thread::available_parallelism().map_or(1, |j| j.get()),
            (j, _) => j,
        }
        .clamp(1, k);
        let budget = match budget {
            Budget::Minutes(m) => Budget::Minutes(m / k.div_ceil(jobs) as f64),
            b => b,
        };
        let early = self.fit_members(budget, jobs, progress, comm)?;
        let mut summary = None;
        dist::root_verdict(comm, || {
            summary = Some(self.finish(&early, progress)?);
            Ok(())
        })?;
        Ok(summary.unwrap_or_else(|| self.summary(&early, None)))
    }

    /// Rank 0's end of a run: the AR baseline, validation scores and
    /// intervals ([`Trainer::after_training`]), the stop lines and the test
    /// block's scores.
    fn finish(&mut self, early: &[bool], progress: &mut dyn Progress) -> Result<Summary> {
        let k = self.config.ensemble;
        let post = self.after_training()?;
        for (i, m) in self.members.iter().enumerate() {
            let mut line = format!(
                "stopped after {} ({}); kept epoch {} (validation MSE {}); wrote {}",
                crate::tasks::counted(m.epoch, "epoch", "epochs"),
                if early[i] {
                    "early stopping"
                } else if crate::tasks::stop::requested() {
                    "interrupted"
                } else {
                    "budget reached"
                },
                m.meta.best_epoch,
                m.meta
                    .best_val_mse
                    .map_or("-".into(), |v| format!("{v:.4}")),
                m.dir.join(MODEL_FILE).display()
            );
            if let (true, Some(v)) = (i + 1 == k, &post.meta.validation) {
                line += &validation_note(v, self.meta.window, k);
                if post.meta.ar_skip && post.meta.correction < 1.0 {
                    line += &format!(
                        "; the networks' gain over AR({}) there is not clear: forecasts average the two",
                        self.meta.window
                    );
                }
            }
            progress.event(&Event::Message(&line));
        }
        let test = if self.config.test > 0 {
            // score the saved (best) weights on the test block
            // the season saved with the model (a default may not fit twice
            // into few rows: the seasonal naive forecast then repeats the last value)
            let r = post.evaluate(&self.series, Some(self.config.test), None)?;
            let mut line = format!(
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
            );
            if let Some(ar) = r.ar_rmse {
                line += &format!("; AR({}) RMSE {ar:.3}", self.meta.window);
            }
            if let (Some(c), Some(l)) = (r.coverage, r.interval_level) {
                line += &format!("; {:.0}% interval coverage {:.0}%", 100.0 * l, 100.0 * c);
            }
            progress.event(&Event::Message(&line));
            Some(r)
        } else {
            None
        };
        Ok(self.summary(early, test))
    }

    /// What [`Trainer::fit`] returns.
    fn summary(&self, early: &[bool], test: Option<EvalReport>) -> Summary {
        let m0 = &self.members[0];
        Summary {
            epochs: m0.epoch,
            steps: m0.step,
            best_epoch: m0.meta.best_epoch,
            best_val_mse: m0.meta.best_val_mse,
            early_stopped: early[0],
            model_file: self.out.join(MODEL_FILE),
            test,
            ensemble: self.config.ensemble,
            choice: self.choice.clone(),
            validation: self.meta.validation.clone(),
        }
    }

    /// Trains the networks, `jobs` at a time: the first on this thread
    /// (its events go to `progress`), the others on worker threads. Returns
    /// whether early stopping ended each.
    fn fit_members(
        &mut self,
        budget: Budget,
        jobs: usize,
        progress: &mut dyn Progress,
        comm: &dyn Collective,
    ) -> Result<Vec<bool>> {
        let data = Data {
            config: &self.config,
            enc: &self.enc,
            width: self.width,
            train: &self.train,
            val: &self.val,
            base: &self.base,
        };
        let (first, rest) = self.members.split_at_mut(1);
        let queue: Mutex<Vec<(usize, &mut Member)>> = Mutex::new(
            rest.iter_mut()
                .enumerate()
                .map(|(i, m)| (i + 1, m))
                .rev()
                .collect(),
        );
        let results: Mutex<Vec<(usize, Result<bool>)>> = Mutex::new(Vec::new());
        let work = || loop {
            let next = lock(&queue).pop();
            let Some((i, m)) = next else { break };
            let r = crate::kernels::sequential(|| m.fit(&data, budget, &mut (), comm));
            lock(&results).push((i, r));
        };
        std::thread::scope(|s| {
            for _ in 1..jobs {
                s.spawn(work);
            }
            let r = if jobs > 1 {
                crate::kernels::sequential(|| first[0].fit(&data, budget, progress, comm))
            } else {
                first[0].fit(&data, budget, progress, comm)
            };
            lock(&results).push((0, r));
            work();
        });
        let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Loads the saved ensemble, fits the AR baseline on the training
    /// windows, scores ensemble, AR and naive on the validation block,
    /// calibrates the intervals on it, and saves all of it with the first
    /// network.
    fn after_training(&mut self) -> Result<Forecaster> {
        let mut fc = Forecaster::load(&self.out)?;
        let meta = &fc.meta;
        let fit_rows = meta.fit_rows;
        let mut part = self.series.clone();
        part.target.truncate(fit_rows);
        part.time.truncate(fit_rows);
        part.features.iter_mut().for_each(|f| f.truncate(fit_rows));
        part.target_filled.retain(|&r| r < fit_rows);
        let m = self.enc.len() / self.width;
        let h = meta.horizon;
        let need = fc.history_needed();
        let val = val_rows(self.config.val_frac, m);
        let origins = val_origins(fit_rows, val, h, need);
        // whether the networks' gain over AR(p) is clear: judged without the
        // ARMA model the forecasts are averaged with (its gain is not theirs)
        let combined = fc.meta.choice.as_ref().is_some_and(|c| c.arma.is_some());
        let mut v = if combined {
            let mut alone = fc.clone();
            if let Some(c) = alone.meta.choice.as_mut() {
                (c.arma, c.arma_window) = (None, None);
            }
            val_runs(&alone, &part, &origins, h)?
        } else {
            val_runs(&fc, &part, &origins, h)?
        };
        if fc.meta.ar_skip && !clear_gain(&v.gains) {
            // a gain the validation block cannot tell from noise: average
            // the AR(p) and network forecasts (forecast combination)
            fc.meta.correction = 0.5;
            v = val_runs(&fc, &part, &origins, h)?;
        } else if combined {
            v = val_runs(&fc, &part, &origins, h)?;
        }
        let (se, se_ar, se_naive, runs) = (v.se, v.se_ar, v.se_naive, v.runs);
        let enc = (self.enc.as_slice(), self.width);
        let interval = calibrate(&fc, &part, val.min(fit_rows), &runs, enc)?;
        let meta = &mut fc.meta;
        meta.interval = interval;
        meta.finished = true;
        if !origins.is_empty() {
            let points = origins.len() * h;
            let rms = |s: f64| (s / points as f64).sqrt();
            meta.validation = Some(ValScores {
                points,
                rmse: rms(se),
                ar_rmse: rms(se_ar),
                naive_rmse: rms(se_naive),
            });
        }
        self.members[0].save_model(&fc.model, &fc.meta)?;
        self.meta = fc.meta.clone();
        Ok(fc)
    }
}

/// The ensemble's forecasts of the validation block: squared errors of
/// the ensemble mean, AR(p) and naive forecasts, each member's forecasts
/// per origin, and per value the gain of the ensemble over AR(p)
/// (`(ar - y)² - (ensemble - y)²`).
struct ValRuns {
    se: f64,
    se_ar: f64,
    se_naive: f64,
    runs: Vec<(usize, Vec<Vec<f64>>)>,
    gains: Vec<f64>,
}

/// Forecasts `h` rows from each of `origins` of `part` with `fc`.
fn val_runs(fc: &Forecaster, part: &Series, origins: &[usize], h: usize) -> Result<ValRuns> {
    let y = &part.target;
    let mut v = ValRuns {
        se: 0.0,
        se_ar: 0.0,
        se_naive: 0.0,
        runs: Vec::with_capacity(origins.len()),
        gains: Vec::new(),
    };
    for &o in origins {
        let all = fc.member_forecasts_at(part, o, h)?;
        let f: Vec<f64> = (0..h)
            .map(|i| all.iter().map(|f| f[i]).sum::<f64>() / all.len() as f64)
            .collect();
        let ar = fc.ar_forecast_at(part, o, h)?.unwrap_or_else(|| f.clone());
        for i in 0..h {
            let act = y[o + i];
            v.se += (f[i] - act).powi(2);
            v.se_ar += (ar[i] - act).powi(2);
            v.se_naive += (y[o - 1] - act).powi(2);
            v.gains.push((ar[i] - act).powi(2) - (f[i] - act).powi(2));
        }
        v.runs.push((o, all));
    }
    Ok(v)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the run's last stop line adds: the validation scores, and whether
/// the network does worse than the AR or naive forecast there.
fn validation_note(v: &ValScores, window: usize, k: usize) -> String {
    // worse by more than f32 rounding: networks that learned no correction
    // forecast their base to about 1e-7 and are not called worse than it
    let worse_than = |base: f64| v.rmse > base * (1.0 + 1e-6);
    let mut worse = Vec::new();
    if worse_than(v.ar_rmse) {
        worse.push(format!("AR({window})"));
    }
    if worse_than(v.naive_rmse) {
        worse.push("naive".to_string());
    }
    format!(
        "; validation RMSE {:.4} ({}), AR({window}) {:.4}, naive {:.4}{}",
        v.rmse,
        if k > 1 {
            format!("ensemble of {k}")
        } else {
            "network".to_string()
        },
        v.ar_rmse,
        v.naive_rmse,
        if worse.is_empty() {
            String::new()
        } else {
            format!(
                "; WARNING: the network is worse than {} on the validation block",
                worse.join(" and ")
            )
        }
    )
}

#[cfg(test)]
mod tests {
    use super::{validation_note, ValScores};

    #[test]
    fn a_network_is_called_worse_than_a_baseline_only_beyond_rounding() {
        let v = |rmse: f64| ValScores {
            points: 2,
            rmse,
            ar_rmse: 12.136_9,
            naive_rmse: 12.136_9,
        };
        // telef: the networks kept their first epoch and forecast the naive
        // base, 1e-8 off it in f32
        assert!(!validation_note(&v(12.136_9 * (1.0 + 1e-8)), 3, 5).contains("WARNING"));
        let worse = validation_note(&v(12.2), 3, 5);
        assert!(
            worse.ends_with(
                "; WARNING: the network is worse than AR(3) and naive on the validation block"
            ),
            "{worse}"
        );
    }
}
