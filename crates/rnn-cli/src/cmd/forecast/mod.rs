//! Time-series forecasting from the command line: `rnn train forecast` (this
//! file) and `rnn forecast` ([`predict`]); `rnn eval` scores forecast models
//! through the library. Flags become a [`TrainConfig`], the library's
//! [`Trainer`] trains, the library draws the loss plot.

mod predict;

pub use predict::{read_series, run_forecast, ForecastArgs};

use crate::error::CliResult;
use crate::train_util::{budget_from_flags, set_threads, Progress};
use clap::Args;
use rnn::io::OutMode;
use rnn::nn::cell::{Activation, CellName};
use rnn::tasks::forecast::{
    Choose, Fill, Forecaster, RowFilter, Strategy, Summary, TimeColumn, TrainConfig, Trainer,
    Transform, LOSS_PLOT,
};
use rnn::tasks::Plotting;
use std::path::{Path, PathBuf};

/// Train a forecasting model on one column of a CSV file.
#[derive(Args, Debug, Clone)]
#[command(after_help = TRAIN_HELP)]
pub struct TrainForecastArgs {
    /// The CSV file (header line first; quoted fields allowed).
    #[arg(long)]
    pub data: PathBuf,
    /// The column to forecast (in a file without a header line, its position: 1, 2, ...).
    #[arg(long)]
    pub target: String,
    /// Extra input columns, comma-separated (inputs only; not forecast).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// The time column, "none", or a year and a month (quarter) column joined
    /// by '+' (`year+month`: labels YYYY-MM) [default: the first column if it
    /// is named like date/year/time/month/... or is not numeric; pandas'
    /// unnamed index column is called "index" and taken unless it holds row
    /// numbers, then the next column is looked at; a year or month column
    /// beside a month or year one: the two joined].
    #[arg(long)]
    pub time: Option<String>,
    /// Fill gaps (empty, NA, NaN, null cells): none (gaps are errors), linear, ffill.
    #[arg(
        long,
        value_enum,
        hide_possible_values = true,
        default_value = "none",
        ignore_case = true
    )]
    pub fill: Fill,
    /// Input steps per forecast [default: chosen on the validation block].
    #[arg(long)]
    pub window: Option<usize>,
    /// Steps to forecast at once.
    #[arg(long, default_value_t = 1)]
    pub horizon: usize,
    /// direct: one output per step of the horizon; recursive: a one-step
    /// model whose forecasts are fed back as inputs.
    #[arg(
        long,
        value_enum,
        hide_possible_values = true,
        default_value = "direct"
    )]
    pub strategy: Strategy,
    /// The last N rows: never used for fitting or normalisation (scored by `rnn eval`).
    #[arg(long)]
    pub test: usize,
    /// Model directory to write (model.safetensors, metrics.jsonl, loss.svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a model or run already in the output directory (without it,
    /// such a directory is refused).
    #[arg(long)]
    pub force: bool,
    /// Transform of the target before differencing: none, log, sqrt (inverted
    /// for forecasts) [default: chosen on the validation block].
    #[arg(long, value_enum, hide_possible_values = true, ignore_case = true)]
    pub transform: Option<Transform>,
    /// Lags to difference by, in turn, after the transform (e.g. 1,12; 0: none;
    /// inverted for forecasts) [default: none, 1 or the season, chosen on the validation block].
    #[arg(long, value_delimiter = ',')]
    pub diff: Vec<usize>,
    /// Networks (seeds --seed, --seed + 1, ...) whose forecasts are averaged.
    #[arg(long, default_value_t = 5)]
    pub ensemble: usize,
    /// The network alone, without the AR(p) skip (by default it learns a correction to AR(p)).
    #[arg(long)]
    pub no_ar_skip: bool,
    /// The CSV field separator (one ASCII character, e.g. ';'). With ';' or a tab, numbers
    /// may write decimal commas (25,01) and groups (1.234,5), as R's write.csv2 and
    /// spreadsheets do.
    #[arg(long, default_value_t = ',')]
    pub delimiter: char,
    /// Only the rows whose column holds this value: one series of a file of
    /// several (long data such as symbol,date,price: --where symbol=MSFT);
    /// saved with the model, so `rnn forecast` and `rnn eval` read the same
    /// rows.
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub rows: Option<String>,
    /// Season: of the seasonal-naive baseline and MASE, and of the seasonal
    /// differencing, AR lags and ARMA terms the defaults choose among
    /// [default: from the time labels: 12 monthly, 4 quarterly, 52 weekly,
    /// 7 daily (5 for working days, weekends left out), the steps in a day
    /// for times less than a day apart, else 1].
    #[arg(long)]
    pub season: Option<usize>,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Cell: elman, lstm or gru.
    #[arg(long, value_enum, hide_possible_values = true, default_value = "gru")]
    pub cell: CellName,
    /// Elman nonlinearity: tanh, relu or sigmoid.
    #[arg(long, value_enum, hide_possible_values = true, default_value = "tanh")]
    pub activation: Activation,
    /// Passes over the training windows [default: 500, with early stopping].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes instead of --epochs.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Stop when the validation loss has not improved for this many epochs.
    #[arg(long, default_value_t = 50)]
    pub patience: usize,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate (Adam, or AdamW with --weight-decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Decoupled weight decay (AdamW); 0 uses Adam.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Clip the gradient norm to this value.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Windows per minibatch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Fraction of the training part, taken from its end, whose windows are
    /// used for validation and early stopping (0: none, keep the last epoch).
    #[arg(long, default_value_t = 0.1)]
    pub val_frac: f64,
    /// On a NaN/infinite loss, or one over 100 times a know-nothing model's: stop, or rollback (to the last good weights, half the learning rate, the batch skipped; gives up after 3 rollbacks to the same weights).
    #[arg(long, value_enum, hide_possible_values = true, default_value = "stop")]
    pub on_divergence: rnn::tasks::OnDivergence,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// After each epoch, measure each network's gradient flow through time on the validation windows into its directory's diagnostics.jsonl, gradient-flow.svg and spectral-radius.svg.
    #[arg(long)]
    pub diagnostics: bool,
    /// Print the result as one JSON object (model, epochs, best_epoch, early_stopped, ensemble, choice,
    /// validation, test: the keys of `rnn eval --json`, seconds, interrupted) instead of a line.
    #[arg(long)]
    pub json: bool,
}

const TRAIN_HELP: &str = "\
Splits: the last --test rows are the test block, never used for fitting or
normalisation. The rest is the training part; windows whose last target row
lies in its final --val-frac are validation windows (early stopping; the best
epoch's weights are saved), the others are fitted.

Inputs: the target is transformed (--transform), differenced by each --diff
lag in turn, and z-scored with the mean and std of the training part; features
are z-scored too. Each window of --window steps is read by the recurrent
network and the readout of its last state gives the forecast (many-to-one).
--strategy direct (default) gives the H = --horizon next values at once;
--strategy recursive gives the next value and feeds it back H times (no
--features then). Forecasts are turned back into target values by undoing the
normalisation, the differencing and the transform. Loss: squared error.

Examples (see docs/forecasting.md for their test scores):
  rnn train forecast --data data/timeseries/sunspots.csv --target SUNACTIVITY \\
      --window 12 --transform sqrt --test 62 --out runs/sunspots
  rnn train forecast --data data/timeseries/airline.csv --target Passengers \\
      --window 24 --horizon 24 --test 24 --transform log --diff 1 --out runs/airline
  rnn train forecast --data stocks.csv --where symbol=MSFT --target price \\
      --test 12 --out runs/msft   # one series of a file of several (symbol,date,price)";

/// `--where COLUMN=VALUE`, parsed by the library (a bad value is one line
/// naming the flag, exit code 2).
pub fn parse_where(s: Option<&str>) -> CliResult<Option<RowFilter>> {
    Ok(s.map(str::parse).transpose()?)
}

/// How `rnn forecast`, `rnn eval` and `rnn diagnose` read a forecaster's
/// data file, each flag in place of what the model stored from its
/// training file when given.
#[derive(Args, Clone, Debug, Default)]
pub struct Reading {
    /// A forecaster's --data: only the rows whose column holds this value,
    /// as COLUMN=VALUE (one series of a file of several) [default: the
    /// model's --where, if it was trained with one; `--where all`: every row].
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub rows: Option<String>,
    /// A forecaster's --data: fill gaps (none, linear, ffill) [default: as the model was trained].
    #[arg(long, value_enum, hide_possible_values = true, ignore_case = true)]
    pub fill: Option<rnn::tasks::forecast::Fill>,
    /// A forecaster's --data: the CSV field separator (one ASCII character) [default: the training file's].
    #[arg(long)]
    pub delimiter: Option<char>,
}

impl Reading {
    /// Whether any of the flags was given.
    pub fn given(&self) -> bool {
        self.rows.is_some() || self.fill.is_some() || self.delimiter.is_some()
    }
}

/// The model in `dir`, reading its data as `reading` says where it says.
/// A checkpoint of a stopped training is used, with a warning on stderr.
pub fn load_forecaster(dir: &std::path::Path, reading: &Reading) -> CliResult<Forecaster> {
    let mut fc = Forecaster::load(dir)?;
    warn_unfinished(&fc);
    match reading.rows.as_deref() {
        Some(all) if all.eq_ignore_ascii_case("all") => fc.meta.rows = None,
        rows => {
            if let Some(rows) = parse_where(rows)? {
                fc.meta.rows = Some(rows);
            }
        }
    }
    if let Some(fill) = reading.fill {
        fc.meta.fill = fill;
    }
    if let Some(d) = reading.delimiter {
        let d = u8::try_from(d).unwrap_or(0);
        rnn::tasks::forecast::check_delimiter(d)?;
        fc.meta.delimiter = d;
    }
    Ok(fc)
}

/// Warns on stderr when `fc` is the checkpoint of a training stopped part-way.
pub fn warn_unfinished(fc: &Forecaster) {
    if let Some(w) = fc.unfinished() {
        logln!("warning: {w}");
    }
}

/// The library's settings from the flags.
fn config(a: &TrainForecastArgs, rows: Option<RowFilter>) -> TrainConfig {
    TrainConfig {
        target: a.target.clone(),
        features: a.features.clone(),
        time: match a.time.as_deref() {
            None => TimeColumn::Auto,
            Some(t) if t.eq_ignore_ascii_case("none") => TimeColumn::None,
            Some(t) => TimeColumn::Named(t.to_string()),
        },
        fill: a.fill,
        window: a.window.unwrap_or(0),
        horizon: a.horizon,
        strategy: a.strategy,
        test: a.test,
        transform: a.transform.unwrap_or_default(),
        diff: a.diff.iter().copied().filter(|&l| l > 0).collect(),
        season: a.season,
        hidden: a.hidden,
        layers: a.layers,
        cell: a.cell,
        activation: a.activation,
        patience: a.patience,
        seed: a.seed,
        lr: a.lr,
        weight_decay: a.weight_decay,
        clip: a.clip,
        batch: a.batch,
        val_frac: a.val_frac,
        on_divergence: a.on_divergence,
        delimiter: u8::try_from(a.delimiter).unwrap_or(0), // checked by the library
        rows,
        ensemble: a.ensemble,
        choose: Choose {
            window: a.window.is_none(),
            transform: a.transform.is_none(),
            diff: a.diff.is_empty(),
        },
        jobs: 0,
        ar_skip: !a.no_ar_skip,
        diagnostics: a.diagnostics,
    }
}

/// A configuration error that comes of the data (a constant target, too
/// few rows for the flags) named by the data file, as a reading error is.
pub fn of_data(e: rnn::Error, data: &Path) -> rnn::Error {
    match e {
        rnn::Error::Config(reason) => rnn::Error::Data {
            path: data.to_path_buf(),
            reason,
        },
        e => e,
    }
}

/// Runs `rnn train forecast`: the progress and the log on stderr, the
/// result (a line or, with `--json`, one object) on stdout from rank 0.
pub fn train_forecast(a: &TrainForecastArgs) -> CliResult {
    let clock = std::time::Instant::now();
    set_threads(a.threads)?;
    let (mode, world) = (OutMode::from_flags(false, a.force), rnn::dist::world());
    let cfg = config(a, parse_where(a.rows.as_deref())?);
    let mut trainer =
        Trainer::open_run(cfg, &a.data, &a.out, mode, world).map_err(|e| of_data(e, &a.data))?;
    let budget = budget_from_flags(a.epochs, a.minutes, trainer.default_budget())?;
    let mut bar = Progress::new(budget, 0);
    let mut obs = Plotting::new(LOSS_PLOT, &a.out, false, &mut bar);
    let fitted = trainer.fit_on(budget, &mut obs, world);
    let plotted = obs.finish();
    bar.finish();
    let summary = fitted?;
    plotted?;
    if world.rank() == 0 {
        print_summary(&summary, &a.out, clock.elapsed().as_secs_f64(), a.json)?;
    }
    Ok(())
}

/// Prints a finished forecaster run's result: the validation scores of the
/// ensemble, AR(p) and naive forecasts, the test scores, the model's place.
fn print_summary(s: &Summary, dir: &Path, seconds: f64, json: bool) -> CliResult {
    if json {
        let j = serde_json::json!({
            "model": dir, "epochs": s.epochs, "steps": s.steps, "best_epoch": s.best_epoch,
            "best_val_mse": s.best_val_mse, "early_stopped": s.early_stopped, "ensemble": s.ensemble,
            "choice": s.choice, "validation": s.validation, "test": s.test, "seconds": seconds,
            "interrupted": rnn::tasks::stop::requested(),
        });
        return Ok(outln!("{j}")?);
    }
    let window = s.test.as_ref().map(|t| t.window);
    let ar = window
        .or(s.choice.as_ref().map(|c| c.window))
        .map_or("AR".to_string(), |p| format!("AR({p})"));
    let mut parts = Vec::new();
    if let Some(v) = &s.validation {
        parts.push(format!(
            "validation RMSE {:.4} ({} network{}; {ar} {:.4}, naive {:.4})",
            v.rmse,
            s.ensemble,
            if s.ensemble == 1 { "" } else { "s" },
            v.ar_rmse,
            v.naive_rmse
        ));
    }
    if let Some(t) = &s.test {
        parts.push(format!(
            "test RMSE {:.4} ({} rows; naive {:.4}, seasonal naive {:.4}{})",
            t.rmse,
            t.points,
            t.naive_rmse,
            t.seasonal_naive_rmse,
            t.ar_rmse
                .map_or(String::new(), |r| format!(", {ar} {r:.4}"))
        ));
    }
    parts.push(format!("model in {} ({seconds:.0}s)", dir.display()));
    Ok(outln!("{}", parts.join("; "))?)
}
