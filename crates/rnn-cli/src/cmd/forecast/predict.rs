//! `rnn forecast`: CSV `time,forecast[,actual]` to stdout from a trained
//! model, optionally drawn into an SVG file.

use crate::error::CliResult;
use clap::Args;
use rnn::io::{plot_lines, PlotStyle};
use rnn::tasks::forecast::{extend_time, time_axis, Forecaster, Origin};
use std::path::{Path, PathBuf};

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
}

const FORECAST_HELP: &str = "\
Prints CSV `time,forecast` (or `time,forecast,actual`) to stdout, then the
bounds of a 90% interval per step (`lower,upper`: the ensemble's spread and the
validation residuals).

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
  rnn forecast --model runs/sunspots --data data/timeseries/sunspots.csv --horizon 1";

/// Runs `rnn forecast`.
pub fn run_forecast(args: &ForecastArgs) -> CliResult {
    let fc = Forecaster::load(&args.model)?;
    let meta = &fc.meta;
    let series = fc.read_series(&args.data)?;
    let n = series.len();
    let h = args.horizon.unwrap_or(meta.horizon);
    fc.check_horizon(h)?;
    let Origin {
        row: origin,
        extends,
    } = fc.origin(&series, args.holdout)?;
    let rnn::tasks::forecast::Forecast {
        mean: f,
        lower,
        upper,
        level,
    } = fc.forecast_interval_at(&series, origin, h)?;
    let future = extend_time(&series.time, (origin + h).saturating_sub(n));
    let label = |i: usize| {
        if i < n {
            series.time[i].clone()
        } else {
            future[i - n].clone()
        }
    };
    let with_actual = origin < n;
    eprintln!(
        "forecasting {h} step{} after {} ({} strategy{})",
        if h == 1 { "" } else { "s" },
        if origin == 0 {
            "the start".to_string()
        } else {
            format!("row {origin} ({})", series.time[origin - 1])
        },
        meta.strategy,
        match level {
            Some(l) => format!("; {:.0}% intervals", 100.0 * l),
            None => String::new(),
        } + if extends && args.holdout.is_none() {
            "; the data extends the training file: its extra rows are the actuals"
        } else {
            ""
        }
    );
    let mut out = String::from(if with_actual {
        "time,forecast,actual"
    } else {
        "time,forecast"
    });
    out += if level.is_some() {
        ",lower,upper\n"
    } else {
        "\n"
    };
    for (k, v) in f.iter().enumerate() {
        let i = origin + k;
        out += &format!("{},{}", label(i), fmt_num(*v));
        if with_actual {
            out += ",";
            if i < n {
                out += &fmt_num(series.target[i]);
            }
        }
        if let (Some(lo), Some(hi)) = (lower.get(k), upper.get(k)) {
            out += &format!(",{},{}", fmt_num(*lo), fmt_num(*hi));
        }
        out += "\n";
    }
    print!("{out}");
    if let Some(path) = &args.plot {
        let axis = time_axis(
            &series
                .time
                .iter()
                .cloned()
                .chain(future.iter().cloned())
                .collect::<Vec<_>>(),
        );
        let from = origin.saturating_sub((5 * h).max(2 * meta.window).max(60));
        let history: Vec<(f64, f64)> = (from..origin)
            .map(|i| (axis[i], series.target[i]))
            .collect();
        // the forecast line starts at the last known value
        let mut fc: Vec<(f64, f64)> = history.last().copied().into_iter().collect();
        fc.extend(f.iter().enumerate().map(|(k, &v)| (axis[origin + k], v)));
        let mut lines = vec![("history", history), ("forecast", fc)];
        if with_actual {
            let end = (origin + h).min(n);
            let mut act: Vec<(f64, f64)> = origin
                .checked_sub(1)
                .map(|i| (axis[i], series.target[i]))
                .into_iter()
                .collect();
            act.extend((origin..end).map(|i| (axis[i], series.target[i])));
            lines.push(("actual", act));
        }
        let title = format!("{}: {h}-step forecast ({})", meta.target, meta.strategy);
        plot_forecast(
            path,
            &title,
            meta.time.as_deref().unwrap_or("row"),
            &meta.target,
            &lines,
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws history (black), forecast (blue) and actuals (green) into an SVG
/// file, legend at the upper left, written atomically.
fn plot_forecast(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> CliResult {
    let xs = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let style = PlotStyle::timeline(x1 - x0);
    Ok(plot_lines(path, title, (x_label, y_label), series, &style)?)
}

/// A number with up to 6 significant decimals and no trailing zeros.
pub(super) fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
#[test]
fn number_formatting() {
    assert_eq!(fmt_num(1.5), "1.5");
    assert_eq!(fmt_num(2.0), "2");
    assert_eq!(fmt_num(-0.0000001), "0");
}
