//! `rnn eval`: score a trained model on held-out data, dispatching on the
//! model directory's task.

use crate::error::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;

/// Evaluate a model directory on a data file.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// The data to score (for tag models: CoNLL token<TAB>tag).
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &EvalArgs) -> CliResult {
    let task = rnn::checkpoint::ModelFile::load(&a.model)?.task;
    match task.as_str() {
        "tag" => super::tag::eval_tag(&a.model, &a.data, a.json),
        _ => Err(CliError::Usage(format!(
            "rnn eval: {task} models are not supported yet"
        ))),
    }
}
