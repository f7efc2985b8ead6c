//! `rnn train {lm,tag,forecast,classify}`.

use crate::error::CliResult;
use clap::{Args, Subcommand};

/// Train a model for one task.
#[derive(Args, Debug)]
#[command(after_help = "Examples (each task's --help has more):\n  \
                  rnn train lm --data tinyshakespeare.txt --out runs/shakespeare --minutes 5\n  \
                  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner\n  \
                  rnn train forecast --data sunspots.csv --target SUNACTIVITY --test 62 --out runs/sunspots\n  \
                  rnn train classify --train GunPoint_TRAIN.ts --out runs/gunpoint")]
pub struct TrainArgs {
    #[command(subcommand)]
    task: TrainTask,
}

#[derive(Subcommand, Debug)]
enum TrainTask {
    /// A character-level language model on a text file.
    Lm(Box<super::lm::TrainLmArgs>),
    /// A sequence tagger (part of speech, named entities) on CoNLL data.
    Tag(Box<super::tag::TrainTagArgs>),
    /// Time-series forecasting from a CSV column.
    Forecast(Box<super::forecast::TrainForecastArgs>),
    /// Sequence classification from a .ts, UCR .tsv, .arff or long CSV file.
    Classify(Box<super::classify::TrainClassifyArgs>),
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> CliResult {
    if matches!(args.task, TrainTask::Classify(_)) {
        rnn::dist::single_only(rnn::dist::world(), "rnn train classify")?;
    }
    match &args.task {
        TrainTask::Lm(a) => super::lm::train(a).map(|_| ()),
        TrainTask::Tag(t) => super::tag::train(t),
        TrainTask::Forecast(a) => super::forecast::train_forecast(a),
        TrainTask::Classify(a) => super::classify::train(a),
    }
}
