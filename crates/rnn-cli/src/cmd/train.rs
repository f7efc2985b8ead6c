//! `rnn train {lm,tag,forecast}`.

use crate::error::CliResult;
use clap::{Args, Subcommand};

/// Train a model for one task.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(subcommand)]
    task: TrainTask,
}

#[derive(Subcommand, Debug)]
enum TrainTask {
    /// A character-level language model on a text file.
    Lm(super::lm::TrainLmArgs),
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> CliResult {
    match &args.task {
        TrainTask::Lm(a) => super::lm::train(a).map(|_| ()),
    }
}
