//! The character-level language model: `rnn train lm`, `rnn generate`, and
//! `rnn eval` on language models.

use crate::cmd::gradcheck::parse_cell;
use crate::error::{CliError, CliResult};
use crate::train_util::{
    at_least_one, budget_from_flags, plot_lines, positive, set_threads, Budget, Metrics, Progress,
};
use clap::Args;
use rnn::io::model_file::ModelFile;
use rnn::nn::loss::OutputKind;
use rnn::optim::OptimizerConfig;
use rnn::tasks::lm::{
    evaluate, generate, read_text, vocab_meta, vocab_of, LmData, LmTrainConfig, LmTrainer, Sampling,
};
use rnn::{Error, ModelConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The resumable training state inside a run directory.
pub const STATE_FILE: &str = "train_state.safetensors";
const EVAL_STREAMS: usize = 32;
const EVAL_WINDOW: usize = 256;

/// Train a character-level language model on a UTF-8 text file.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  rnn train lm --data tinyshakespeare.txt --out runs/shakespeare --hidden 512 --minutes 15\n  \
                  rnn train lm --data tinyshakespeare.txt --out runs/lstm --cell lstm --layers 2 --hidden 384 --minutes 15 --schedule cosine --dropout 0.2 --lr 5e-3 --optimizer adamw --weight-decay 0.1\n  \
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
    /// Hidden units per layer.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Stacked layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Cell: elman, lstm or gru.
    #[arg(long, default_value = "elman")]
    pub cell: String,
    /// Elman nonlinearity: tanh, relu or sigmoid.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
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
    /// LSTM only: start every forget-gate bias at this value (e.g. 1) instead
    /// of PyTorch's random init.
    #[arg(long, allow_negative_numbers = true)]
    pub forget_bias: Option<f64>,
    /// Optimizer: sgd, adagrad, rmsprop, adam or adamw.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
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
    /// Learning-rate schedule: `plateau` (decay by --lr-decay when validation
    /// stalls) or `cosine` (from --lr down to --lr/10 over the budget: the
    /// steps of --steps/--epochs, or the time of --minutes of this run; a
    /// resumed run follows the cosine of the budget it is given).
    #[arg(long, default_value = "plateau")]
    pub schedule: String,
    /// Multiply the learning rate by this when validation stops improving.
    #[arg(long, default_value_t = 0.5)]
    pub lr_decay: f64,
    /// Evaluations without improvement before the learning rate decays.
    #[arg(long, default_value_t = 2)]
    pub patience: u64,
    /// Threads for the large matrix products.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Print the final summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Don't draw the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What a finished training run reports.
#[derive(Debug, Clone)]
pub struct LmSummary {
    /// Best validation loss, nats/char.
    pub best_val: f64,
    /// Steps taken in all.
    pub steps: u64,
    /// Seconds of this run.
    pub seconds: f64,
}

fn bad(flag: &str, v: impl std::fmt::Display, expected: &str) -> CliError {
    CliError::Usage(format!("{flag} {v}: expected {expected}"))
}

/// Scheduling state kept in train_state.safetensors beside the trainer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Schedule {
    /// Best validation loss at a scheduled evaluation (drives the lr decay).
    best_sched: f64,
    /// Best validation loss of the saved model.
    best_saved: f64,
    /// Scheduled evaluations since the last improvement.
    bad_evals: u64,
    /// The peak learning rate of a cosine schedule (`None`: plateau decay).
    #[serde(default)]
    cosine_from: Option<f64>,
}

/// The cosine schedule's learning rate at `frac` (0 to 1) of the budget:
/// `lr = lr_min + (lr_0 - lr_min) (1 + cos(pi frac)) / 2`, `lr_min = lr_0 / 10`.
fn cosine_lr(lr0: f64, frac: f64) -> f64 {
    let min = lr0 / 10.0;
    min + (lr0 - min) * 0.5 * (1.0 + (std::f64::consts::PI * frac.clamp(0.0, 1.0)).cos())
}

/// Runs `rnn train lm`.
pub fn train(a: &TrainLmArgs) -> CliResult<LmSummary> {
    let dir = match (&a.out, &a.resume) {
        (Some(o), Some(r)) if o != r => {
            return Err(CliError::Usage(
                "--out and --resume name different directories".into(),
            ))
        }
        (Some(d), _) | (None, Some(d)) => d.clone(),
        (None, None) => return Err(CliError::Usage("give --out DIR (or --resume DIR)".into())),
    };
    at_least_one("--seq-len", a.seq_len)?;
    at_least_one("--batch", a.batch)?;
    at_least_one("--hidden", a.hidden)?;
    at_least_one("--eval-every", a.eval_every as usize)?;
    if !(1..=8).contains(&a.layers) {
        return Err(bad("--layers", a.layers, "1 to 8"));
    }
    positive("--lr", a.lr)?;
    if !(a.clip.is_finite() && a.clip >= 0.0) {
        return Err(bad("--clip", a.clip, "a number >= 0 (0 = off)"));
    }
    if !(a.val_frac.is_finite() && (0.0..0.9).contains(&a.val_frac) && a.val_frac > 0.0) {
        return Err(bad("--val-frac", a.val_frac, "a fraction in (0, 0.9)"));
    }
    if a.forget_bias.is_some_and(|b| !b.is_finite()) {
        return Err(bad(
            "--forget-bias",
            a.forget_bias.unwrap_or(0.0),
            "a finite number",
        ));
    }
    if !(0.0..1.0).contains(&a.dropout) {
        return Err(bad("--dropout", a.dropout, "a probability in [0, 1)"));
    }
    if !(a.lr_decay > 0.0 && a.lr_decay <= 1.0) {
        return Err(bad("--lr-decay", a.lr_decay, "a factor in (0, 1]"));
    }
    let cosine = match a.schedule.as_str() {
        "plateau" => false,
        "cosine" => true,
        other => return Err(bad("--schedule", other, "plateau or cosine")),
    };
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(1))?;
    set_threads(a.threads)?;
    let cell = parse_cell(&a.cell, &a.activation)?;
    let mut opt_args = serde_json::json!({ "lr": a.lr });
    if let Some(wd) = a.weight_decay {
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(bad("--weight-decay", wd, "a finite number >= 0"));
        }
        opt_args["weight_decay"] = serde_json::json!(wd);
    }
    let optimizer = OptimizerConfig::from_args(&a.optimizer, &opt_args)
        .map_err(|e| CliError::Usage(format!("--optimizer: {e}")))?;

    let text = read_text(&a.data)?;
    let resuming = a.resume.is_some();
    let (mut tr, mut sched, data) = if resuming {
        let (tr, meta) = LmTrainer::load_state(&dir.join(STATE_FILE))?;
        let data = LmData::new(
            &text,
            &a.data,
            tr.cfg.val_frac,
            tr.cfg.seq_len,
            tr.cfg.batch,
        )?;
        if meta.get("vocab") != Some(&vocab_meta(&data.vocab)) {
            return Err(CliError::Lib(Error::Data {
                path: a.data.clone(),
                reason: format!(
                    "its characters differ from those of the run being resumed in {}",
                    dir.display()
                ),
            }));
        }
        let sched: Schedule = meta
            .get("schedule")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                CliError::Lib(Error::Data {
                    path: dir.join(STATE_FILE),
                    reason: "no schedule metadata".into(),
                })
            })?;
        (tr, sched, data)
    } else {
        let data = LmData::new(&text, &a.data, a.val_frac, a.seq_len, a.batch)?;
        let v = data.vocab.len();
        let mut config = ModelConfig::elman(v, a.hidden, v);
        config.cell = cell;
        config.num_layers = a.layers;
        config.output = OutputKind::Softmax;
        let cfg = LmTrainConfig {
            seq_len: a.seq_len,
            batch: a.batch,
            optimizer,
            clip: (a.clip > 0.0).then_some(a.clip),
            seed: a.seed,
            val_frac: a.val_frac,
            dropout: a.dropout,
            forget_bias: a.forget_bias,
        };
        let sched = Schedule {
            best_sched: f64::MAX, // not INFINITY: JSON has no infinity
            best_saved: f64::MAX,
            bad_evals: 0,
            cosine_from: cosine.then_some(a.lr),
        };
        (LmTrainer::new(config, cfg)?, sched, data)
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let per_epoch = tr.windows_per_epoch(data.train.len());
    let target_steps = match (a.steps, budget) {
        (Some(s), _) => Some(s),
        (None, Budget::Epochs(e)) => Some(e as u64 * per_epoch),
        (None, Budget::Steps(s)) => Some(s),
        (None, Budget::Minutes(_)) => None,
    };
    let progress = Progress::new(budget, target_steps.unwrap_or(0));
    if a.quiet {
        progress.finish();
    }
    let mut metrics = Metrics::open(&dir, resuming);
    let tokens_per_step = (tr.cfg.seq_len * tr.cfg.batch) as f64;
    let start_step = tr.step;
    let mut smooth: Option<f64> = None;
    let mut last_val = f64::NAN;
    let mut meta = BTreeMap::new();
    meta.insert("vocab".to_string(), vocab_meta(&data.vocab));
    progress.println(format!(
        "training {} H={} layers={} on {} chars ({} vocab), {} windows/epoch of {}x{}",
        tr.model.config.cell.name(),
        tr.model.config.hidden_size,
        tr.model.config.num_layers,
        data.train.len(),
        data.vocab.len(),
        per_epoch,
        tr.cfg.batch,
        tr.cfg.seq_len
    ));
    loop {
        let done = target_steps.is_some_and(|t| tr.step >= t) || progress.out_of_time();
        let scheduled = tr.step > start_step && tr.step % a.eval_every == 0;
        if scheduled || (done && tr.step > start_step) {
            let (nats, n) = evaluate(&tr.model, &data.val, EVAL_STREAMS, EVAL_WINDOW);
            let val = nats / n.max(1) as f64;
            last_val = val;
            if val < sched.best_saved {
                sched.best_saved = val;
                let mut m = meta.clone();
                m.insert("train".into(), serde_json::json!({"data": a.data, "step": tr.step, "val_loss_nats": val, "train": tr.cfg}).to_string());
                ModelFile {
                    task: "lm".into(),
                    model: tr.model.clone(),
                    extra: BTreeMap::new(),
                    meta: m,
                }
                .save(&dir)?;
            }
            if scheduled && sched.cosine_from.is_none() {
                // Only scheduled evaluations steer the learning rate, so that a
                // stop-and-resume follows the same schedule as one long run.
                if val < sched.best_sched {
                    sched.best_sched = val;
                    sched.bad_evals = 0;
                } else {
                    sched.bad_evals += 1;
                    if sched.bad_evals >= a.patience {
                        let lr = tr.opt.config.lr() * a.lr_decay;
                        tr.opt.config.set_lr(lr);
                        sched.bad_evals = 0;
                        progress.println(format!(
                            "step {}: validation stalled, learning rate now {lr:.3e}",
                            tr.step
                        ));
                    }
                }
            }
            let secs = progress.elapsed();
            metrics.push(serde_json::json!({
                "step": tr.step, "epoch": tr.epoch, "train_loss": smooth, "val_loss": val,
                "val_bits_per_char": val / std::f64::consts::LN_2, "lr": tr.opt.config.lr(),
                "elapsed_s": secs, "tokens_per_s": (tr.step - start_step) as f64 * tokens_per_step / secs.max(1e-9),
            }))?;
            let mut m = meta.clone();
            m.insert(
                "schedule".into(),
                serde_json::to_string(&sched).unwrap_or_default(),
            );
            tr.save_state(&dir.join(STATE_FILE), &m)?;
            plot_lines(
                &dir.join("loss.svg"),
                "language model: loss (nats/char)",
                "step",
                "loss",
                &[
                    ("train (smoothed)", metrics.series("step", "train_loss")),
                    ("validation", metrics.series("step", "val_loss")),
                ],
            )?;
        }
        if done {
            break;
        }
        if let Some(lr0) = sched.cosine_from {
            let frac = match (progress.time_fraction(), target_steps) {
                (Some(f), _) => f,
                (None, Some(t)) => tr.step as f64 / t.max(1) as f64,
                (None, None) => 0.0,
            };
            tr.opt.config.set_lr(cosine_lr(lr0, frac));
        }
        let loss = tr.train_step(&data.train)?;
        smooth = Some(smooth.map_or(loss, |s| 0.98 * s + 0.02 * loss));
        if tr.step % 10 == 0 {
            let secs = progress.elapsed();
            progress.update(
                tr.step - start_step,
                format!(
                    "loss {:.3} val {:.3} {:.0} tok/s epoch {}",
                    smooth.unwrap_or(f64::NAN),
                    last_val,
                    (tr.step - start_step) as f64 * tokens_per_step / secs.max(1e-9),
                    tr.epoch
                ),
            );
        }
    }
    progress.finish();
    let summary = LmSummary {
        best_val: sched.best_saved,
        steps: tr.step,
        seconds: progress.elapsed(),
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({"best_val_loss_nats": summary.best_val, "best_val_bits_per_char": summary.best_val / std::f64::consts::LN_2,
                "steps": summary.steps, "seconds": summary.seconds, "model": dir})
        );
    } else {
        println!(
            "best validation loss {:.4} nats/char ({:.4} bits/char) after {} steps, {:.0} s; model in {}",
            summary.best_val,
            summary.best_val / std::f64::consts::LN_2,
            summary.steps,
            summary.seconds,
            dir.display()
        );
    }
    Ok(summary)
}

/// Generate text from a language model.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rnn generate --model runs/shakespeare --prime \"ROMEO:\" --len 500 --temperature 0.8"
)]
pub struct GenerateArgs {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Text to start from (fed through the model first; printed too).
    #[arg(long, default_value = "")]
    pub prime: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub len: usize,
    /// Softmax temperature (lower: more conservative).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Sample only among the k most likely characters (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `rnn generate`: streams text to stdout.
pub fn generate_cmd(a: &GenerateArgs) -> CliResult {
    positive("--temperature", a.temperature)?;
    let mf = ModelFile::load_task(&a.model, "lm")?;
    let vocab = vocab_of(&mf, &a.model)?;
    let prime = vocab.encode(&a.prime, "--prime")?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut write_err = None;
    let _ = write!(out, "{}", a.prime);
    let sampling = Sampling {
        len: a.len,
        temperature: a.temperature,
        top_k: a.top_k,
        seed: a.seed,
    };
    generate(&mf.model, &vocab, &prime, sampling, |c| {
        let mut buf = [0u8; 4];
        if write_err.is_none() {
            if let Err(e) = out
                .write_all(c.encode_utf8(&mut buf).as_bytes())
                .and_then(|_| if c == '\n' { out.flush() } else { Ok(()) })
            {
                write_err = Some(e);
            }
        }
    });
    let _ = writeln!(out);
    let _ = out.flush();
    match write_err {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failure(format!("writing to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Language-model figures on a text.
#[derive(Debug, Clone, Copy)]
pub struct LmEval {
    /// Mean cross-entropy, nats/char.
    pub loss_nats: f64,
    /// Characters predicted.
    pub chars: usize,
}

/// Evaluates a loaded language model on `data`.
pub fn eval_text(dir: &Path, mf: &ModelFile, data: &Path) -> CliResult<LmEval> {
    let vocab = vocab_of(mf, dir)?;
    let text = read_text(data)?;
    let ids = vocab.encode(&text, &data.display().to_string())?;
    if ids.len() < 2 {
        return Err(CliError::Lib(Error::Data {
            path: data.to_path_buf(),
            reason: "needs at least 2 characters".into(),
        }));
    }
    let (nats, n) = evaluate(&mf.model, &ids, EVAL_STREAMS, EVAL_WINDOW);
    Ok(LmEval {
        loss_nats: nats / n as f64,
        chars: n,
    })
}

/// `rnn eval` for language models.
pub fn eval(dir: &Path, mf: ModelFile, data: &Path, json: bool) -> CliResult {
    let r = eval_text(dir, &mf, data)?;
    let bpc = r.loss_nats / std::f64::consts::LN_2;
    let ppl = r.loss_nats.exp();
    if json {
        println!(
            "{}",
            serde_json::json!({"loss_nats": r.loss_nats, "bits_per_char": bpc, "perplexity": ppl, "chars": r.chars})
        );
    } else {
        println!(
            "loss {:.4} nats/char, {:.4} bits/char, perplexity {:.3} over {} characters",
            r.loss_nats, bpc, ppl, r.chars
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cosine_lr;

    #[test]
    fn cosine_runs_from_lr_to_a_tenth() {
        // frac 0: cos 0 = 1, lr = lr_0; frac 1: cos pi = -1, lr = lr_0/10;
        // frac 1/2: cos(pi/2) = 0, lr = (lr_0 + lr_0/10)/2 = 0.55 lr_0.
        assert!((cosine_lr(2e-3, 0.0) - 2e-3).abs() < 1e-15);
        assert!((cosine_lr(2e-3, 1.0) - 2e-4).abs() < 1e-15);
        assert!((cosine_lr(2e-3, 0.5) - 1.1e-3).abs() < 1e-15);
        assert!(cosine_lr(2e-3, 0.3) > cosine_lr(2e-3, 0.7));
        assert!(
            (cosine_lr(2e-3, 7.0) - 2e-4).abs() < 1e-15,
            "clamped past the end"
        );
    }
}
