//! `rnn eval`: evaluate a model directory on a data file, whatever its task.

use crate::error::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;

/// Evaluate a trained model on a data file. Language models: loss in
/// nats/char, bits/char and perplexity.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rnn eval --model runs/shakespeare --data tinyshakespeare.txt --json"
)]
pub struct EvalArgs {
    /// The model directory (holds model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// The data file to evaluate on.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command: dispatches on the task stored in the model file.
pub fn run(args: &EvalArgs) -> CliResult {
    let mf = rnn::checkpoint::ModelFile::load(&args.model)?;
    match mf.task.as_str() {
        "lm" => super::lm::eval(&args.model, mf, &args.data, args.json),
        task => Err(CliError::Usage(format!(
            "{}: rnn eval does not know task '{task}'",
            args.model.display()
        ))),
    }
}
