//! What a resumed language-model run takes back from its directory: every
//! option that shapes the run, and the check that options a caller gives
//! explicitly agree with them (`--resume D --hidden 999` is an error naming
//! the flag and both values, not a silently ignored flag).

use super::config::TrainConfig;
use super::state::TrainState;
use crate::nn::cell::{Activation, CellKind, CellName};
use crate::optim::{OptimizerName, Schedule};
use crate::tasks::OnDivergence;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The options of a run that are not part of its step (those are in
/// [`super::StepConfig`]): saved in the train state so a resume follows the
/// same cadence, schedule and divergence policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct RunOptions {
    pub eval_every: u64,
    pub schedule: Schedule,
    pub on_divergence: OnDivergence,
    /// The cosine schedule's last learning rate as a share of the first
    /// (files of older runs: a tenth).
    #[serde(default = "cosine_floor")]
    pub lr_floor: f64,
    /// Steps of linear warmup (files of older runs: none).
    #[serde(default)]
    pub warmup: u64,
    /// Most characters of the validation text an evaluation scores (files
    /// of older runs: `None`, all of it, as they were validated).
    #[serde(default)]
    pub val_chars: Option<usize>,
}

fn cosine_floor() -> f64 {
    crate::optim::schedule::COSINE_FLOOR
}

impl RunOptions {
    pub(super) fn of(config: &TrainConfig) -> Self {
        RunOptions {
            eval_every: config.eval_every,
            schedule: config.schedule,
            on_divergence: config.on_divergence,
            lr_floor: config.lr_floor,
            warmup: config.warmup,
            val_chars: config.val_chars,
        }
    }
}

/// The options [`super::Trainer::resume_given`] checks against the saved
/// run, by field name of [`TrainConfig`] (the flag is `--` and the name
/// with `-` for `_`).
pub const RESUME_FIELDS: [&str; 23] = [
    "hidden",
    "layers",
    "cell",
    "activation",
    "seq_len",
    "batch",
    "dropout",
    "weight_drop",
    "locked_dropout",
    "forget_bias",
    "optimizer",
    "lr",
    "weight_decay",
    "clip",
    "seed",
    "val_frac",
    "eval_every",
    "val_chars",
    "schedule",
    "lr_decay",
    "patience",
    "lr_floor",
    "warmup",
];

/// The run's configuration as saved: its model, step and run options
/// (`max_steps` is the caller's budget, taken from `given`).
pub(super) fn saved_config(
    state: &TrainState,
    options: &RunOptions,
    given: &TrainConfig,
) -> TrainConfig {
    let m = &state.model.config;
    let (cell, activation) = match m.cell {
        CellKind::Elman { activation } => (CellName::Elman, activation),
        CellKind::Lstm => (CellName::Lstm, Activation::Tanh),
        CellKind::Gru => (CellName::Gru, Activation::Tanh),
    };
    let opt = serde_json::to_value(&state.cfg.optimizer).unwrap_or_default();
    let optimizer = [
        OptimizerName::Sgd,
        OptimizerName::Adagrad,
        OptimizerName::Rmsprop,
        OptimizerName::Adam,
        OptimizerName::Adamw,
    ]
    .into_iter()
    .find(|n| Some(n.name()) == opt["name"].as_str().map(str::to_lowercase).as_deref())
    .unwrap_or(given.optimizer);
    let s = &state.cfg;
    TrainConfig {
        hidden: m.hidden_size,
        layers: m.num_layers,
        cell,
        activation,
        seq_len: s.seq_len,
        batch: s.batch,
        dropout: s.dropout,
        weight_drop: s.weight_drop,
        locked_dropout: s.locked_dropout,
        forget_bias: s.forget_bias,
        optimizer,
        lr: s.optimizer.lr(),
        weight_decay: opt["weight_decay"].as_f64(),
        clip: s.clip,
        seed: s.seed,
        val_frac: s.val_frac,
        eval_every: options.eval_every,
        val_chars: options.val_chars,
        schedule: options.schedule,
        lr_floor: options.lr_floor,
        warmup: options.warmup,
        max_steps: given.max_steps,
        on_divergence: options.on_divergence,
        diagnostics: given.diagnostics,
    }
}

/// One option of `c`, as a person reads it (`None`: not an option).
fn field(c: &TrainConfig, name: &str) -> Option<String> {
    let opt = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
    let (decay, patience) = match c.schedule {
        Schedule::Plateau { decay, patience } => (decay.to_string(), patience.to_string()),
        Schedule::Cosine => (
            "none (cosine schedule)".into(),
            "none (cosine schedule)".into(),
        ),
    };
    Some(match name {
        "hidden" => c.hidden.to_string(),
        "layers" => c.layers.to_string(),
        "cell" => CellKind::from_name(c.cell, Activation::Tanh).name().into(),
        "activation" => match c.cell {
            CellName::Elman => c.activation.name().into(),
            _ => Activation::Tanh.name().into(),
        },
        "seq_len" => c.seq_len.to_string(),
        "batch" => c.batch.to_string(),
        "dropout" => c.dropout.to_string(),
        "weight_drop" => c.weight_drop.to_string(),
        "locked_dropout" => c.locked_dropout.to_string(),
        "forget_bias" => opt(c.forget_bias),
        "optimizer" => c.optimizer.name().into(),
        "lr" => c.lr.to_string(),
        "weight_decay" => opt(c.weight_decay),
        "clip" => c
            .clip
            .filter(|&v| v > 0.0)
            .map_or("0 (off)".into(), |v| v.to_string()),
        "seed" => c.seed.to_string(),
        "val_frac" => c.val_frac.to_string(),
        "eval_every" => c.eval_every.to_string(),
        "val_chars" => c.val_chars.map_or("0 (all)".into(), |v| v.to_string()),
        "schedule" => match c.schedule {
            Schedule::Plateau { .. } => "plateau".into(),
            Schedule::Cosine => "cosine".into(),
        },
        "lr_decay" => decay,
        "patience" => patience,
        "lr_floor" => match c.schedule {
            Schedule::Plateau { .. } => "none (plateau schedule)".into(),
            Schedule::Cosine => c.lr_floor.to_string(),
        },
        "warmup" => c.warmup.to_string(),
        _ => return None,
    })
}

/// Checks that the options named in `given` (fields of [`TrainConfig`])
/// have in `config` the values of the run being resumed in `dir`: the
/// first that does not is an error naming its flag and both values.
pub(super) fn check_given(
    dir: &Path,
    config: &TrainConfig,
    saved: &TrainConfig,
    given: &[&str],
) -> Result<()> {
    for &name in given {
        let (want, got) = (field(config, name), field(saved, name));
        if want != got {
            let flag = format!("--{}", name.replace('_', "-"));
            return Err(Error::Config(format!(
                "{flag} {}: the run being resumed in {} has {flag} {} (drop the flag to continue it, or start a new run with --force)",
                want.unwrap_or_else(|| "?".into()),
                dir.display(),
                got.unwrap_or_else(|| "?".into())
            )));
        }
    }
    Ok(())
}

/// Refuses a train state (`state_path`, read as `state`, whose run's saved
/// model scored `best_saved`) that is not the run's whose model is in
/// `dir`: another run's state copied in would go on with its own weights
/// and, at its next better evaluation, replace this run's model.
///
/// - A model of another architecture is told apart by its config.
/// - One of the same architecture by its score: the run writes its model
///   (with the step and validation loss in its `train` metadata) and then
///   its state (with that loss as `best_saved`), so a model written at or
///   before the state's step must have exactly the state's `best_saved`
///   (both written by serde_json, which keeps every f64 bit). A model
///   written after it (a run stopped between the two writes) is the run's.
///   Files without that metadata (written by other programs, or older
///   versions) are not checked.
pub(super) fn check_model_beside(
    dir: &Path,
    state_path: &Path,
    state: &TrainState,
    best_saved: f64,
) -> Result<()> {
    let model = dir.join(crate::io::model_file::MODEL_FILE);
    if !model.is_file() {
        return Ok(());
    }
    let beside = crate::io::model_file::ModelFile::load(dir)?;
    let refuse = |why: String| Error::Data {
        path: state_path.to_path_buf(),
        reason: format!("{why}: not this run's state (a file copied from another run?)"),
    };
    if beside.model.config != state.model.config {
        let c = |m: &crate::ModelConfig| {
            format!(
                "{} x {} hidden, {} layer(s)",
                m.cell.name(),
                m.hidden_size,
                m.num_layers
            )
        };
        return Err(refuse(format!(
            "holds a run of {}, but the model beside it is {}",
            c(&state.model.config),
            c(&beside.model.config)
        )));
    }
    let train: Option<serde_json::Value> = beside
        .meta
        .get("train")
        .and_then(|t| serde_json::from_str(t).ok());
    let field = |k: &str| train.as_ref().and_then(|t| t.get(k));
    let (Some(step), Some(val)) = (
        field("step").and_then(|v| v.as_u64()),
        field("val_loss_nats").and_then(|v| v.as_f64()),
    ) else {
        return Ok(());
    };
    if step <= state.step && val != best_saved {
        let saved = match best_saved {
            f64::MAX => "no model yet".to_string(),
            b => format!("a model of validation loss {b}"),
        };
        return Err(refuse(format!(
            "holds a run at step {} with {saved}, but the model beside it was saved at step {step} with validation loss {val}",
            state.step
        )));
    }
    Ok(())
}
