//! `rnn eval`: scores a trained model on data; dispatches on the model's task.

use crate::error::{CliError, CliResult};
use clap::Args;
use rnn::Task;
use std::path::{Path, PathBuf};

/// Help text of the forecast part of `rnn eval`.
const EVAL_HELP: &str = "\
Forecast models: the last N rows of --data (N = --test, default the --test the
model was trained with) are cut into consecutive blocks of H rows, H = the
model's --horizon (the last block may be shorter). Each block is forecast at
once from all the rows before it (its origin): with H = 1 every test row gets a
one-step-ahead forecast from the true data before it; with H = N there is one
N-step forecast from the origin just before the test block. The naive (last
value before the origin) and seasonal-naive (the value a whole number of
seasons before, taken from before the origin) forecasts are scored on the same
rows. MASE divides each MAE by the in-sample MAE of the seasonal-naive forecast
(naive when the season is 1) over the rows before the test block.

The AR(p) baseline (p = the model's window) is fitted by least squares on the
model's training windows. Coverage: the share of test values inside the 90%
forecast intervals.

--json prints rmse, mae, mase, naive_rmse, naive_mae, naive_mase,
seasonal_naive_rmse, seasonal_naive_mae, seasonal_naive_mase, points,
horizon, season, strategy, ar_rmse, ar_mae, ar_mase, coverage,
interval_level, ensemble, window.

Taggers: repeat --model to score an ensemble (the mean of the models' tag
probabilities, CRF marginals for CRF taggers); --entity-bias B adds B to the
log-probability of every tag but O (a single CRF tagger: to its per-token
score) before the BIO-constrained decoding (comma-separated values: one report
each, for tuning on dev).

Classifiers: accuracy, macro F1, per-class precision and recall, the
confusion matrix, and two baselines on the same test file: the majority class
and 1-nearest-neighbour over the training sequences with dynamic time warping
(and Euclidean distance when all lengths are equal). The DTW baseline runs at
full window unless that work exceeds about a minute on two cores (large
training and test files); it then keeps the widest Sakoe-Chiba band that fits
and says so (--dtw-window: auto, full, or a fraction of the longest length).
--json adds dtw_band (frames, null for the full window) and dtw_window (the
band as a fraction of the longest length, 1 for the full window).

Examples:
  rnn eval --model runs/gunpoint --data GunPoint_TEST.ts --json
  rnn eval --model runs/sunspots --data data/timeseries/sunspots.csv
  rnn eval --model runs/ner1 --model runs/ner2 --data dev.conll --json --entity-bias 0,1,2,3";

/// Evaluate a trained model on a data file. What is measured depends on the
/// model's task: language models report loss in nats/char, bits/char and
/// perplexity (every character after the first predicted from all the text
/// before it, as the validation loss of training); forecasters RMSE, MAE and
/// MASE against naive baselines; taggers token accuracy and entity
/// precision, recall and F1 (conlleval; accuracy alone for tags without
/// B-/I- chunks).
#[derive(Args, Debug)]
#[command(after_help = EVAL_HELP)]
pub struct EvalArgs {
    /// The model directory (holding model.safetensors). Taggers: repeat the
    /// flag to score an ensemble (mean of the models' tag probabilities).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// The data file.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of a table (a tagger with several
    /// --entity-bias values: one object per line, one per value, in order).
    #[arg(long)]
    pub json: bool,
    /// tag: add this to the log-probability of every tag but O before
    /// decoding (a single CRF tagger: to its per-token score of those tags;
    /// a positive bias: more entities, higher recall, lower precision). Several
    /// comma-separated values (e.g. 0,1,2 to tune on dev) give one report each.
    #[arg(
        long,
        default_value = "0",
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_parser = crate::cmd::finite_number
    )]
    pub entity_bias: Vec<f64>,
    /// forecast: score the last N rows (default: the model's --test).
    #[arg(long)]
    pub test: Option<usize>,
    /// forecast: season of the seasonal-naive baseline and MASE (default: stored with the model).
    #[arg(long)]
    pub season: Option<usize>,
    /// forecast: --where, --fill, --delimiter.
    #[command(flatten)]
    pub reading: crate::cmd::forecast::Reading,
    /// classify: warping window of the 1-NN DTW baseline: auto (the full
    /// window unless its work exceeds about a minute on two cores, then the
    /// widest band that fits), full, or a fraction of the longest sequence's
    /// length in [0, 1] (e.g. 0.1).
    #[arg(long, default_value = "auto")]
    pub dtw_window: String,
}

impl EvalArgs {
    /// The (first) model directory.
    pub fn first_model(&self) -> &Path {
        &self.model[0]
    }
}

/// Runs the command.
pub fn run(args: &EvalArgs) -> CliResult {
    let mf = rnn::io::model_file::ModelFile::load(args.first_model())?;
    if args.model.len() > 1 && mf.task != Task::Tag {
        return Err(CliError::Usage(format!(
            "rnn eval: several --model directories (an ensemble) are only supported for taggers, not {} models",
            mf.task
        )));
    }
    if args.dtw_window != "auto" && mf.task != Task::Classify {
        return Err(CliError::Usage(format!(
            "rnn eval: --dtw-window is for classifiers, not {} models",
            mf.task
        )));
    }
    let forecast_flags = [
        ("--where", args.reading.rows.is_some()),
        ("--test", args.test.is_some()),
        ("--season", args.season.is_some()),
        ("--fill", args.reading.fill.is_some()),
        ("--delimiter", args.reading.delimiter.is_some()),
    ];
    for (flag, given) in forecast_flags {
        if given && mf.task != Task::Forecast {
            return Err(CliError::Usage(format!(
                "rnn eval: {flag} is for forecasting models, not {} models",
                mf.task
            )));
        }
    }
    if args.entity_bias.iter().any(|&b| b != 0.0) && mf.task != Task::Tag {
        return Err(CliError::Usage(format!(
            "rnn eval: --entity-bias is for taggers, not {} models",
            mf.task
        )));
    }
    match mf.task {
        Task::Forecast => eval_forecast(args),
        Task::Tag => super::tag::eval_tag(&args.model, &args.data, args.json, &args.entity_bias),
        Task::Lm => super::lm::eval(args.first_model(), mf, &args.data, args.json),
        Task::Classify => {
            let window = rnn::tasks::classify::DtwWindow::parse(&args.dtw_window).map_err(|e| {
                CliError::Usage(match e {
                    rnn::Error::Argument { expected, got, .. } => {
                        format!("rnn eval: --dtw-window {got}: expected {expected}")
                    }
                    e => format!("rnn eval: --dtw-window: {e}"),
                })
            })?;
            super::classify::eval(args.first_model(), &args.data, args.json, window)
        }
        Task::Imported => Err(CliError::Usage(
            "rnn eval: imported models have no task to evaluate; use rnn infer".into(),
        )),
    }
}

/// The forecast part of `rnn eval`: the library's scores, as a table or JSON.
fn eval_forecast(args: &EvalArgs) -> CliResult {
    let reading = &args.reading;
    let fc = crate::cmd::forecast::load_forecaster(args.first_model(), reading)?;
    let series = crate::cmd::forecast::read_series(&fc, &args.data, reading)?;
    // without --test and --season an error can only come of the data (too
    // few rows for the model's test block): it names the file
    let r = fc.evaluate(&series, args.test, args.season).map_err(|e| {
        match args.test.or(args.season) {
            None => crate::cmd::forecast::of_data(e, &args.data),
            Some(_) => e,
        }
    })?;
    if r.filled_test_values > 0 {
        logln!(
            "warning: {}: {} of the {} test values were gaps filled by --fill {}, not read: the scores compare forecasts with made-up values",
            args.data.display(),
            r.filled_test_values,
            r.points,
            format!("{:?}", fc.meta.fill).to_lowercase()
        );
    }
    if r.fitted_test_rows > 0 {
        // --test 120 on the training file scored 108 rows the model was
        // fitted on as test rows, without a word (the CLI sweep of session 55)
        logln!(
            "warning: {}: {} of the {} test rows were in the model's training part (this is its training file, fitted on its first {} rows): the scores flatter it; --test {} or less keeps to rows it never saw",
            args.data.display(),
            r.fitted_test_rows,
            r.points,
            fc.meta.fit_rows,
            r.points - r.fitted_test_rows,
        );
    }
    if args.json {
        let v = serde_json::to_value(&r).map_err(|e| CliError::Failure(e.to_string()))?;
        outln!("{v}")?;
        return Ok(());
    }
    out!("{}", r.table(&args.data))?;
    Ok(())
}
