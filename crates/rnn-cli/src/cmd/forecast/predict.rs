//! `rnn forecast`: CSV `time,forecast[,actual],lower,upper` to stdout from a
//! trained model, optionally drawn into an SVG file (laid out by
//! `Forecaster::report`).

use crate::error::CliResult;
use clap::Args;
use rnn::tasks::forecast::Forecaster;
use std::path::{Path, PathBuf};

/// The forecaster's reading of `data` (its target, features and time
/// column), with what reading found odd (uneven time steps) printed as
/// warnings to stderr: for `rnn forecast` and `rnn eval`. A row filter the
/// model stored (no `--where` in `reading`) that fails says where it came
/// from and how to read every row.
pub fn read_series(
    fc: &Forecaster,
    data: &Path,
    reading: &super::Reading,
) -> CliResult<rnn::tasks::forecast::Series> {
    let stored = reading.rows.is_none() && fc.meta.rows.is_some();
    let series = fc.read_series(data).map_err(|e| match e {
        rnn::Error::Data { path, reason } if stored && reason.starts_with("--where ") => {
            rnn::Error::Data {
                path,
                reason: format!(
                    "{reason}; the model was trained with this --where (--where all reads every row)"
                ),
            }
        }
        e => e,
    })?;
    for w in &series.warnings {
        logln!("warning: {w}");
    }
    Ok(series)
}

/// Forecast the steps after the end of a series with a trained model.
#[derive(Args, Debug)]
#[command(after_help = FORECAST_HELP)]
pub struct ForecastArgs {
    /// The model directory (from `rnn train forecast`).
    #[arg(long)]
    pub model: PathBuf,
    /// The CSV file with the history (same columns as the training file).
    #[arg(long)]
    pub data: PathBuf,
    /// Steps to forecast [default: the model's horizon; a direct model cannot
    /// forecast further than its horizon].
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Treat the last K rows of --data as unknown: forecast from the row
    /// before them and show them as actuals (0: forecast after the end).
    #[arg(long)]
    pub holdout: Option<usize>,
    /// Also draw history, forecast and actuals into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Replace the --plot file if it already exists.
    #[arg(long)]
    pub force: bool,
    /// --where, --fill, --delimiter.
    #[command(flatten)]
    pub reading: super::Reading,
    /// Print one JSON object instead of CSV: origin, horizon, strategy, level and the steps (time,
    /// forecast, actual, lower, upper; null where the CSV's field is empty or absent).
    #[arg(long)]
    pub json: bool,
}

const FORECAST_HELP: &str = "\
Prints CSV `time,forecast` (or `time,forecast,actual`) to stdout, then the
bounds of a 90% interval per step (`lower,upper`: calibrated on the validation
block's errors, wider where the ensemble's networks disagree).

Where the forecast starts (its origin):
  - with --holdout K: after row N-K of the N rows of --data; the K held-out
    rows are the actuals;
  - otherwise, when --data is the training file plus more rows (its first rows
    hold exactly the training file's target values): right after the rows of
    the training file, and the extra rows are the actuals;
  - otherwise: after the last row of --data (no actual column).
Only the rows before the origin are read. The actual column is printed when the
origin is before the end of --data; it is empty for steps past the end.
Times past the end of the data continue the last time step (years, months,
quarters, dates) or read LAST+1, LAST+2, ...

Examples:
  rnn forecast --model runs/airline --data data/timeseries/airline.csv --holdout 24 --plot airline.svg
  rnn forecast --model runs/sunspots --data data/timeseries/sunspots.csv --horizon 1
  rnn forecast --model runs/airline --data data/timeseries/airline.csv --json";

/// Runs `rnn forecast`.
pub fn run_forecast(args: &ForecastArgs) -> CliResult {
    if let Some(path) = &args.plot {
        let model = rnn::io::model_inputs(&args.model);
        let mut inputs: Vec<&std::path::Path> = model.iter().map(|p| p.as_path()).collect();
        inputs.push(&args.data);
        rnn::io::refuse_output(path, args.force, &inputs)?;
    }
    let reading = &args.reading;
    let fc = super::load_forecaster(&args.model, reading)?;
    let series = read_series(&fc, &args.data, reading)?;
    let r = fc.report(&series, args.horizon, args.holdout)?;
    // the plot first: a path it cannot be written to fails before a
    // complete result reaches stdout
    if let Some(path) = &args.plot {
        r.plot(path)?;
    }
    logln!("{}", r.note);
    if let Some(path) = &args.plot {
        logln!("wrote {}", path.display());
    }
    if args.json {
        outln!("{}", r.json)?;
    } else {
        rnn::io::print_out(&r.csv)?;
    }
    Ok(())
}
