//! `rnn diagnose`: the gradient flow of a trained language model, tagger, forecaster or classifier on data.

use crate::error::CliResult;
use clap::Args;
use std::path::PathBuf;

/// Show how far back BPTT carries the error, per layer: the last step's error at each step back, the spectral radius of ds_t/ds_{t-1}, saturated units, gradient norms.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn diagnose --model runs/shakespeare --data tinyshakespeare.txt --json\n  rnn diagnose --model runs/ner --data ner.dev.conll\n  rnn diagnose --model runs/sunspots --data sunspots.csv\n  rnn diagnose --model runs/airline --data airline-gaps.csv --fill linear\n  rnn diagnose --model runs/gunpoint --data GunPoint_TEST.ts"
)]
pub struct DiagnoseArgs {
    /// The model directory (a language model, tagger, forecaster or sequence classifier; of an ensemble, the first network is measured).
    #[arg(long)]
    pub model: PathBuf,
    /// The data to measure on: a text (8 windows of 100 characters spread over it); for a tagger tagged CoNLL (its 8 longest sentences); for a forecaster a series CSV (8 windows spread over it); for a classifier a labelled .ts or CSV file (its 8 longest sequences).
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object (the library's `Flow`).
    #[arg(long)]
    pub json: bool,
    /// --where, --fill, --delimiter.
    #[command(flatten)]
    pub reading: crate::cmd::forecast::Reading,
}

/// Runs the command.
pub fn run(a: &DiagnoseArgs) -> CliResult {
    // a forecaster's data read as `rnn forecast` reads it: the errors of a
    // gap or of another separator say to pass --fill or --delimiter, which
    // this command refused (the CLI sweep of session 55)
    let flow = if a.reading.given() {
        let task = rnn::io::model_file::ModelFile::load(&a.model)?.task;
        if task != rnn::io::model_file::Task::Forecast {
            return Err(crate::error::CliError::Usage(format!(
                "rnn diagnose: --where, --fill and --delimiter are for forecasters, not '{task}' models"
            )));
        }
        let fc = crate::cmd::forecast::load_forecaster(&a.model, &a.reading)?;
        let what = a.data.display().to_string();
        fc.diagnose(&fc.read_series(&a.data)?, &what)?
    } else {
        rnn::tasks::insight::diagnose(&a.model, &a.data)?
    };
    for w in &flow.warnings {
        logln!("warning: {w}");
    }
    Ok(match a.json {
        true => outln!("{}", serde_json::to_value(&flow).unwrap_or_default()),
        false => out!("{}", flow.report()),
    }?)
}
