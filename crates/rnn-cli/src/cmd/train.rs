//! `rnn train TASK`: one subcommand per task.

use crate::error::CliResult;
use clap::{Args, Subcommand};

/// Train a model.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(subcommand)]
    task: TrainTask,
}

#[derive(Subcommand, Debug)]
enum TrainTask {
    /// A sequence tagger (part of speech, named entities) on CoNLL data.
    Tag(Box<super::tag::TrainTagArgs>),
}

/// Runs the command.
pub fn run(a: &TrainArgs) -> CliResult {
    match &a.task {
        TrainTask::Tag(t) => super::tag::train(t),
    }
}
