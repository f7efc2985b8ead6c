//! `rnn train {lm,tag,forecast,classify}`.

use crate::error::{CliError, CliResult};
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

/// Records in the task's arguments which flags `m` (the matches of
/// `rnn train`) had from the command line, for checks that a default
/// cannot answer (`train tag --init-from` with a network flag).
pub fn note_given(args: &mut TrainArgs, m: &clap::ArgMatches) {
    if let (TrainTask::Tag(a), Some(("tag", m))) = (&mut args.task, m.subcommand()) {
        a.given = m
            .ids()
            .filter(|id| {
                m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.to_string())
            .collect();
    }
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> CliResult {
    if matches!(args.task, TrainTask::Classify(_)) {
        rnn::dist::single_only(rnn::dist::world(), "rnn train classify")?;
    }
    let out = match &args.task {
        TrainTask::Lm(a) => a.out.as_ref().or(a.resume.as_ref()),
        TrainTask::Tag(t) => Some(&t.out),
        TrainTask::Forecast(a) => Some(&a.out),
        TrainTask::Classify(a) => Some(&a.out),
    };
    let existed = out.is_some_and(|d| d.exists());
    let result = match &args.task {
        TrainTask::Lm(a) => super::lm::train(a).map(|_| ()),
        TrainTask::Tag(t) => super::tag::train(t),
        TrainTask::Forecast(a) => super::forecast::train_forecast(a),
        TrainTask::Classify(a) => super::classify::train(a),
    };
    settle(out.map(|p| p.as_path()), existed, result)
}

/// Ends a `--force` replacement of `out` after a run that ended with
/// `result`: the replaced run is dropped once the new one wrote its model,
/// and put back when it did not (rank 0 alone, which prepared the
/// directory). A failed run leaves no empty directory it created (`existed`:
/// whether `out` was there before). A failure to settle is reported when
/// the run itself succeeded.
pub fn settle(out: Option<&std::path::Path>, existed: bool, result: CliResult) -> CliResult {
    let Some(dir) = out.filter(|_| rnn::dist::world().rank() == 0) else {
        return result;
    };
    // a run that diverged before writing its model kept no checkpoint of its
    // own (a train state, when it replaced a run, goes with its other files)
    let unsaved = !dir.join("model.safetensors").is_file()
        && (!dir.join("train_state.safetensors").is_file() || dir.join(rnn::io::REPLACED).is_dir());
    let result = match result {
        Err(CliError::Lib(rnn::Error::Diverged { step, value })) if unsaved => {
            Err(rnn::Error::DivergedUnsaved { step, value }.into())
        }
        r => r,
    };
    let settled = rnn::io::settle_run_dir(dir);
    rnn::io::release_run_dir(dir); // the lock of prepare_run_dir, and its file
    if result.is_err() && !existed {
        let _ = std::fs::remove_dir(dir); // only when empty
    }
    match (result, settled) {
        (Ok(()), Err(e)) => Err(e.into()),
        (result, _) => result,
    }
}
