//! Sequence classification from the command line: `rnn train classify`,
//! `rnn classify`, and the classifier part of `rnn eval`. Flags become the
//! library's [`TrainConfig`] (its fields are the flags), the library does
//! the rest.

use crate::error::{CliError, CliResult};
use crate::train_util::{budget_from_flags, set_threads, Budget, Progress};
use clap::Args;
use rnn::io::OutMode;
use rnn::tasks::classify::{Classifier, TrainConfig, Trainer};
use std::path::{Path, PathBuf};

/// Train a sequence classifier on a `.ts` (UEA/UCR) or long CSV file.
#[derive(Args, Debug)]
pub struct TrainClassifyArgs {
    /// Training sequences: a .ts file, or a .csv file of rows series_id,step,features...,label.
    #[arg(long)]
    pub train: PathBuf,
    /// Validation sequences for early stopping [default: a stratified part of --train].
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Model directory to write (model.safetensors, metrics.jsonl).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a model or run already in the output directory.
    #[arg(long)]
    pub force: bool,
    /// Most epochs per network [default: 300, with early stopping].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes, shared by the networks, instead of --epochs.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Threads (each minibatch is split between them).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[command(flatten)]
    pub config: TrainConfig,
}

/// Runs `rnn train classify`.
pub fn train(a: &TrainClassifyArgs) -> CliResult {
    set_threads(a.threads)?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(300))?;
    let mut trainer = Trainer::new(a.config.clone(), &a.train, a.dev.as_deref(), &a.out)?;
    rnn::io::prepare_run_dir(&a.out, OutMode::from_flags(false, a.force))?;
    let mut bar = Progress::new(budget, 0);
    let fitted = trainer.fit(budget, &mut bar);
    bar.finish();
    fitted.map(|_| ()).map_err(CliError::from)
}

/// Print the class of every sequence of a `.ts` or long CSV file, one per line.
#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// The model directory (from `rnn train classify`).
    #[arg(long)]
    pub model: PathBuf,
    /// The sequences (labels in the file, if any, are ignored).
    pub file: PathBuf,
    /// Print one JSON object: the classes and each sequence's id, label and probabilities.
    #[arg(long)]
    pub json: bool,
}

/// Runs `rnn classify`.
pub fn run(a: &ClassifyArgs) -> CliResult {
    let model = Classifier::load(&a.model)?;
    let preds = model.predictions(&model.read(&a.file)?)?;
    let text = if a.json {
        format!(
            "{}\n",
            serde_json::json!({"classes": model.meta.classes, "predictions": preds})
        )
    } else {
        preds.iter().map(|p| format!("{}\n", p.label)).collect()
    };
    // a reader that stops early (`| head`) is not an error
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failure(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// The classifier part of `rnn eval`: the library's report as a table or JSON.
pub fn eval(dir: &Path, data: &Path, json: bool) -> CliResult {
    let model = Classifier::load(dir)?;
    let r = model.evaluate(&model.read(data)?)?;
    if json {
        let v = serde_json::to_value(&r).map_err(|e| CliError::Failure(e.to_string()))?;
        println!("{v}");
    } else {
        print!("{r}");
    }
    Ok(())
}
