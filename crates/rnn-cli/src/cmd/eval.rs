//! `rnn eval`: scores a trained model on data; dispatches on the model's task.

use crate::error::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;

/// Evaluate a trained model on a data file (what is measured depends on the
/// model's task; see `rnn eval --help` for each task's flags).
#[derive(Args, Debug)]
#[command(after_help = super::forecast::EVAL_HELP)]
pub struct EvalArgs {
    /// The model directory (holding model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// The data file.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// forecast: score the last N rows (default: the model's --test).
    #[arg(long)]
    pub test: Option<usize>,
    /// forecast: season of the seasonal-naive baseline and MASE (default: stored with the model).
    #[arg(long)]
    pub season: Option<usize>,
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> CliResult {
    let task = rnn::checkpoint::ModelFile::load(&args.model)?.task;
    match task.as_str() {
        "forecast" => super::forecast::eval_forecast(args),
        _ => Err(CliError::Usage(format!(
            "rnn eval: {task} models are not supported yet"
        ))),
    }
}
