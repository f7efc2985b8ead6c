//! The character-level language model: `rnn train lm` (flags -> [`TrainConfig`]
//! -> the library's [`Trainer`]), `rnn generate`, and `rnn eval` on language models.

use crate::error::{CliError, CliResult};
use crate::train_util::{at_least_one, budget_from_flags, positive, set_threads, Budget, Progress};
use clap::Args;
use rnn::io::model_file::ModelFile;
use rnn::io::OutMode;
use rnn::nn::cell::{Activation, CellName};
use rnn::optim::{OptimizerName, Schedule, ScheduleName};
use rnn::tasks::lm::{Corpus, LanguageModel, Summary, TrainConfig, Trainer, LOSS_PLOT};
use rnn::tasks::Plotting;
use std::path::{Path, PathBuf};

/// Train a character-level language model on a UTF-8 text file.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  rnn train lm --data tinyshakespeare.txt --out runs/shakespeare --hidden 512 --minutes 15\n  \
                  rnn train lm --data tinyshakespeare.txt --out runs/lstm --cell lstm --layers 2 --hidden 384 --minutes 15 --schedule cosine --dropout 0.2 --lr 1e-2 --warmup 500 --optimizer adamw --weight-decay 0.2 --lr-floor 0\n  \
                  rnn train lm --resume runs/lstm --data tinyshakespeare.txt --minutes 5"
)]
pub struct TrainLmArgs {
    /// The training text (UTF-8); its last --val-frac is held out for validation.
    #[arg(long)]
    pub data: PathBuf,
    /// The run directory: model.safetensors (best by validation), metrics.jsonl, loss.svg, train_state.safetensors.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (weights, optimizer, RNG and data position).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Replace a model or run already in the output directory (without it,
    /// such a directory is refused).
    #[arg(long)]
    pub force: bool,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Stacked layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Cell: elman, lstm or gru.
    #[arg(long, value_enum, default_value = "elman")]
    pub cell: CellName,
    /// Elman nonlinearity: tanh, relu or sigmoid.
    #[arg(long, value_enum, default_value = "tanh")]
    pub activation: Activation,
    /// Truncated-BPTT window (characters per step and stream).
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Parallel streams per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Dropout probability on each layer's output (between layers and before
    /// the readout), training only.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// DropConnect on the recurrent weights (AWD-LSTM's weight drop): each
    /// window drops every entry of every weight_hh with this probability,
    /// the same entries at every step; training only.
    #[arg(long, default_value_t = 0.0)]
    pub weight_drop: f64,
    /// Locked dropout: draw --dropout's mask once per window and stream, the
    /// same at every step (AWD-LSTM's locked dropout), instead of afresh at
    /// every step.
    #[arg(long)]
    pub locked_dropout: bool,
    /// LSTM only: start every forget-gate bias at this value (e.g. 1) instead
    /// of PyTorch's random init.
    #[arg(long, allow_negative_numbers = true)]
    pub forget_bias: Option<f64>,
    /// Optimizer: sgd, adagrad, rmsprop, adam or adamw.
    #[arg(long, value_enum, ignore_case = true, default_value = "adam")]
    pub optimizer: OptimizerName,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-3, allow_negative_numbers = true)]
    pub lr: f64,
    /// Weight decay of the optimizer (an L2 term for sgd, adagrad, rmsprop
    /// and adam; decoupled for adamw). Default: PyTorch's (0; adamw 0.01).
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Clip the global gradient norm to this (0 = off).
    #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
    pub clip: f64,
    /// Passes over the training text.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes (instead of --epochs).
    #[arg(long, allow_negative_numbers = true)]
    pub minutes: Option<f64>,
    /// Stop after this many optimizer steps in all (overrides --epochs; counts across --resume).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Seed of initialisation and data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the text at its end used for validation.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub val_frac: f64,
    /// Evaluate on the validation text every this many steps.
    #[arg(long, default_value_t = 200)]
    pub eval_every: u64,
    /// Validate on at most this many characters of the held-out text, in evenly spread parts, so that on a
    /// large corpus evaluating costs less than the steps between evaluations (0: all of it; `rnn eval`
    /// always scores all of a text).
    #[arg(long, default_value_t = rnn::tasks::lm::DEFAULT_VAL_CHARS)]
    pub val_chars: usize,
    /// Learning-rate schedule: `plateau` (decay by --lr-decay when validation
    /// stalls) or `cosine` (from --lr down to --lr/10 over the budget: the
    /// steps of --steps/--epochs, or the time of --minutes of this run; a
    /// resumed run follows the cosine of the budget it is given).
    #[arg(long, value_enum, default_value = "plateau")]
    pub schedule: ScheduleName,
    /// Multiply the learning rate by this when validation stops improving
    /// (not when that would change it by 1e-8 or less, as PyTorch's
    /// ReduceLROnPlateau).
    #[arg(long, default_value_t = 0.5)]
    pub lr_decay: f64,
    /// Evaluations without improvement before the learning rate decays.
    #[arg(long, default_value_t = 2)]
    pub patience: u64,
    /// --schedule cosine: end at this share of --lr (0: down to zero).
    #[arg(long, default_value_t = 0.1)]
    pub lr_floor: f64,
    /// --schedule cosine: raise the learning rate linearly over the first this many steps (0: none).
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// On a NaN/infinite loss, or one over 100 times a know-nothing model's: stop, or rollback (to the last good weights, half the learning rate, the batch skipped; gives up after 3 rollbacks to the same weights).
    #[arg(long, value_enum, hide_possible_values = true, default_value = "stop")]
    pub on_divergence: rnn::tasks::OnDivergence,
    /// Threads for the large matrix products.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Print the final summary as one JSON object (best_val_loss_nats, best_val_bits_per_char, steps,
    /// seconds, model, interrupted: true when Ctrl-C or SIGTERM ended the training early).
    #[arg(long)]
    pub json: bool,
    /// Don't draw the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// At each evaluation, measure the gradient flow through time into
    /// diagnostics.jsonl, gradient-flow.svg and spectral-radius.svg.
    #[arg(long)]
    pub diagnostics: bool,
}

fn bad(flag: &str, v: impl std::fmt::Display, expected: &str) -> CliError {
    CliError::Usage(format!("{flag} {v}: expected {expected}"))
}

impl TrainLmArgs {
    /// Checks the flags and turns them into the library's configuration
    /// (`max_steps` from `--steps`; resuming, the saved run keeps its kind of
    /// schedule and a plateau's decay and patience are always the flags').
    pub fn config(&self) -> CliResult<TrainConfig> {
        at_least_one("--seq-len", self.seq_len)?;
        at_least_one("--batch", self.batch)?;
        at_least_one("--hidden", self.hidden)?;
        if let Some(s) = self.steps {
            at_least_one("--steps", s as usize)?;
        }
        at_least_one("--eval-every", self.eval_every as usize)?;
        if !(1..=8).contains(&self.layers) {
            return Err(bad("--layers", self.layers, "1 to 8"));
        }
        positive("--lr", self.lr)?;
        let (c, vf, d, ld) = (self.clip, self.val_frac, self.dropout, self.lr_decay);
        let fb = self.forget_bias.unwrap_or(0.0);
        let wd = self.weight_decay.unwrap_or(0.0);
        let wdp = self.weight_drop;
        #[rustfmt::skip]
        let checks = [
            ("--clip", c.is_finite() && c >= 0.0, c, "a number >= 0 (0 = off)"),
            ("--val-frac", vf.is_finite() && vf > 0.0 && vf < 0.9, vf, "a fraction in (0, 0.9)"),
            ("--forget-bias", fb.abs() <= f64::from(f32::MAX), fb, "a finite number within the 32-bit floats the weights are (±3.4e38)"),
            ("--dropout", (0.0..1.0).contains(&d), d, "a probability in [0, 1)"),
            ("--weight-drop", (0.0..1.0).contains(&wdp), wdp, "a probability in [0, 1)"),
            ("--lr-decay", ld > 0.0 && ld <= 1.0, ld, "a factor in (0, 1]"),
            ("--lr-floor", (0.0..=1.0).contains(&self.lr_floor), self.lr_floor, "a share of --lr in [0, 1]"),
            ("--weight-decay", wd.is_finite() && wd >= 0.0, wd, "a finite number >= 0"),
        ];
        if let Some((flag, _, v, expected)) = checks.into_iter().find(|c| !c.1) {
            // 1e300 in full is 301 digits
            let shown = if v.abs() >= 1e16 {
                format!("{v:e}")
            } else {
                v.to_string()
            };
            return Err(bad(flag, shown, expected));
        }
        Ok(TrainConfig {
            hidden: self.hidden,
            layers: self.layers,
            cell: self.cell,
            activation: self.activation,
            seq_len: self.seq_len,
            batch: self.batch,
            dropout: self.dropout,
            weight_drop: self.weight_drop,
            locked_dropout: self.locked_dropout,
            forget_bias: self.forget_bias,
            optimizer: self.optimizer,
            lr: self.lr,
            weight_decay: self.weight_decay,
            clip: Some(self.clip),
            seed: self.seed,
            val_frac: self.val_frac,
            eval_every: self.eval_every,
            val_chars: (self.val_chars > 0).then_some(self.val_chars),
            schedule: Schedule::from_name(self.schedule, self.lr_decay, self.patience),
            lr_floor: self.lr_floor,
            warmup: self.warmup,
            max_steps: self.steps,
            diagnostics: self.diagnostics,
            on_divergence: self.on_divergence,
        })
    }
}

/// Runs `rnn train lm`.
pub fn train(a: &TrainLmArgs) -> CliResult<Summary> {
    let dir = match (&a.out, &a.resume) {
        (Some(o), Some(r)) if o != r => {
            return Err(CliError::Usage(
                "--out and --resume name different directories".into(),
            ))
        }
        (Some(d), _) | (None, Some(d)) => d.clone(),
        (None, None) => return Err(CliError::Usage("give --out DIR (or --resume DIR)".into())),
    };
    let config = a.config()?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(1))?;
    set_threads(a.threads)?;
    let text = Corpus::read(&a.data)?;
    let (mode, world) = (
        OutMode::from_flags(a.resume.is_some(), a.force),
        rnn::dist::world(),
    );
    let trainer = Trainer::open_run(&dir, &text, config, mode, &given_flags(), world)?;
    // steps count from the start of the run: a resumed run already past
    // them has nothing to do, and says so
    let at = trainer.state().step;
    if let Some(s) = a.steps {
        if a.resume.is_some() && at >= s {
            logln!(
                "note: the run in {} is at step {at}, already past --steps {s} (which counts from the start of the run): nothing to train",
                dir.display()
            );
        }
    }
    let summary = fit(trainer, budget, a.quiet)?;
    print_summary(&summary, &dir, a.json)?;
    Ok(summary)
}

/// The options of `rnn train lm` given on the command line (a resume
/// checks them against the saved run's; the others are taken from it).
fn given_flags() -> Vec<&'static str> {
    use clap::{parser::ValueSource, CommandFactory};
    let m = crate::Cli::command().get_matches();
    let lm = m
        .subcommand_matches("train")
        .and_then(|t| t.subcommand_matches("lm"));
    let given = |f: &&str| lm.is_some_and(|m| m.value_source(f) == Some(ValueSource::CommandLine));
    rnn::tasks::lm::RESUME_FIELDS
        .into_iter()
        .filter(given)
        .collect()
}

/// Prints a finished run's line (or JSON object) to stdout.
pub fn print_summary(summary: &Summary, dir: &Path, json: bool) -> CliResult {
    let bits = summary.best_val / std::f64::consts::LN_2;
    if json {
        outln!(
            "{}",
            serde_json::json!({"best_val_loss_nats": summary.best_val, "best_val_bits_per_char": bits,
                "steps": summary.steps, "seconds": summary.seconds, "model": dir,
                "interrupted": rnn::tasks::stop::requested()})
        )?;
    } else {
        outln!(
            "best validation loss {:.4} nats/char ({bits:.4} bits/char) after {} steps, {:.0} s; model in {}",
            summary.best_val,
            summary.steps,
            summary.seconds,
            dir.display()
        )?;
    }
    Ok(())
}

/// Runs `trainer` for `budget` with the progress bar (none when `quiet`)
/// and the loss plot: what `rnn train lm` and the demo share.
pub fn fit(mut trainer: Trainer, budget: Budget, quiet: bool) -> CliResult<Summary> {
    let mut bar = Progress::new(budget, 0);
    if quiet {
        bar.finish();
    }
    let (dir, resume) = (trainer.dir().to_path_buf(), trainer.state().step > 0);
    let mut obs = Plotting::new(LOSS_PLOT, &dir, resume, &mut bar);
    let summary = trainer.fit_on(budget, &mut obs, rnn::dist::world());
    let plotted = obs.finish();
    bar.finish();
    let summary = summary?;
    plotted?;
    Ok(summary)
}

/// `rnn eval` for language models.
pub fn eval(dir: &Path, mf: ModelFile, data: &Path, json: bool) -> CliResult {
    let lm = LanguageModel::from_file(mf, dir)?;
    // a large text takes minutes: a line every 10 s says how far it is
    let start = std::time::Instant::now();
    let mut shown = 0;
    let mut done = |scored: usize, total: usize| {
        let s = start.elapsed().as_secs();
        if s >= shown + 10 && scored < total {
            shown = s;
            let share = 100.0 * scored as f64 / total.max(1) as f64;
            logln!("scored {scored} of {total} characters ({share:.0} %), {s} s");
        }
    };
    let text = Corpus::read(data)?.text;
    let r = lm.evaluate_with(&text, &data.display().to_string(), &mut done)?;
    let (bpc, ppl) = (r.bits_per_char(), r.perplexity());
    if json {
        outln!(
            "{}",
            serde_json::json!({"loss_nats": r.loss_nats, "bits_per_char": bpc, "perplexity": ppl, "chars": r.chars})
        )?;
    } else {
        outln!(
            "loss {:.4} nats/char, {:.4} bits/char, perplexity {:.3} over {} characters",
            r.loss_nats,
            bpc,
            ppl,
            r.chars
        )?;
    }
    Ok(())
}
