//! [`ForecastReport`]: what `rnn forecast` prints and draws — the forecast
//! from the origin the data implies, as CSV with its actuals and interval
//! bounds, a line saying what was forecast, and a plot of it.

use super::calendar::{extend_time, time_axis};
use super::predict::{Forecast, Forecaster, Origin};
use super::series::Series;
use crate::io::{plot_lines, PlotStyle};
use crate::{Error, Result};
use std::path::Path;

/// A forecast laid out for reading (see [`Forecaster::report`]).
#[derive(Clone, Debug)]
pub struct ForecastReport {
    /// Where the forecast starts.
    pub origin: Origin,
    /// The forecast and its interval.
    pub forecast: Forecast,
    /// One line saying what is forecast from where, with the strategy and
    /// the intervals' nominal level (`rnn forecast` prints it to stderr).
    pub note: String,
    /// CSV: the header `time,forecast`, `,actual` when the origin is before
    /// the end of the data, `,lower,upper` when the model has intervals;
    /// then a line per step (an actual past the end of the data is empty).
    pub csv: String,
    /// The same as one JSON object (`rnn forecast --json`): `origin` (rows
    /// before the forecast), `horizon`, `strategy`, `level` (the intervals'
    /// nominal coverage, `null` without intervals) and `steps`, each with
    /// `time`, `forecast`, `lower` and `upper` (`null` without intervals)
    /// and `actual` (`null` past the end of the data or with no actuals).
    pub json: serde_json::Value,
    title: String,
    axes: (String, String),
    /// History, forecast and actuals as (time axis, value) points.
    lines: Vec<(&'static str, Vec<(f64, f64)>)>,
}

impl Forecaster {
    /// Forecasts `horizon` steps (default: the model's horizon) of `series`
    /// from the origin of [`Forecaster::origin`] (`holdout`: K rows before
    /// the end) and lays it out as [`ForecastReport`].
    ///
    /// ```
    /// use rnn::tasks::forecast::{Forecaster, Series, TrainConfig, Trainer};
    /// use rnn::tasks::Budget;
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-report-{}", std::process::id()));
    /// let series = Series::from_values("v", (0..40).map(|i| (i % 4) as f64).collect());
    /// let mut cfg = TrainConfig::new("v", 4, 8);
    /// (cfg.hidden, cfg.horizon) = (4, 2);
    /// Trainer::from_series(cfg, series.clone(), &dir)?.fit(Budget::Epochs(1), &mut ())?;
    /// let r = Forecaster::load(&dir)?.report(&series, None, Some(3))?;
    /// assert_eq!(r.origin.row, 37);
    /// assert!(r.csv.starts_with("time,forecast,actual,lower,upper\n37,"));
    /// assert_eq!(r.csv.lines().count(), 3); // header and 2 steps
    /// assert_eq!(r.json["steps"][0]["time"], "37");
    /// assert_eq!(r.json["steps"][1]["actual"], 2.0); // row 38 of i % 4
    /// assert!(r.note.starts_with("forecasting 2 steps after row 37 (36)"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn report(
        &self,
        series: &Series,
        horizon: Option<usize>,
        holdout: Option<usize>,
    ) -> Result<ForecastReport> {
        let meta = &self.meta;
        let n = series.len();
        let h = horizon.unwrap_or(meta.horizon);
        self.check_horizon(h)?;
        let origin = self.origin(series, holdout)?;
        let o = origin.row;
        let forecast = self.forecast_interval_at(series, o, h)?;
        let future = extend_time(&series.time, (o + h).saturating_sub(n))?;
        let times: Vec<String> = series.time.iter().chain(&future).cloned().collect();
        let with_actual = o < n;
        // an actual that is no number printed as `null`, which says "past
        // the end of the data" (a hand-built series; files are filled)
        if let Some(i) = (o..(o + h).min(n)).find(|&i| !series.target[i].is_finite()) {
            return Err(Error::Data {
                path: series.path.clone(),
                reason: format!(
                    "series.target[{i}] (time {}), an actual of the forecast: {} is not a finite number",
                    series.time[i], series.target[i]
                ),
            });
        }
        let note = format!(
            "forecasting {h} step{} after {} ({} strategy{}{})",
            if h == 1 { "" } else { "s" },
            match o {
                0 => "the start".to_string(),
                o => format!("row {o} ({})", series.time[o - 1]),
            },
            meta.strategy,
            forecast
                .level
                .map_or(String::new(), |l| format!("; {:.0}% intervals", 100.0 * l)),
            if origin.extends && holdout.is_none() {
                "; the data extends the training file: its extra rows are the actuals"
            } else {
                ""
            }
        );
        let mut csv = String::from("time,forecast");
        csv += if with_actual { ",actual" } else { "" };
        csv += if forecast.level.is_some() {
            ",lower,upper\n"
        } else {
            "\n"
        };
        let mut steps = Vec::with_capacity(forecast.mean.len());
        for (k, v) in forecast.mean.iter().enumerate() {
            let i = o + k;
            steps.push(serde_json::json!({
                "time": times[i], "forecast": v,
                "actual": if with_actual { series.target.get(i).copied() } else { None },
                "lower": forecast.lower.get(k), "upper": forecast.upper.get(k),
            }));
            csv += &format!("{},{}", csv_field(&times[i]), fmt_num(*v));
            if with_actual {
                csv += ",";
                csv += &series.target.get(i).map_or(String::new(), |&a| fmt_num(a));
            }
            if let (Some(lo), Some(hi)) = (forecast.lower.get(k), forecast.upper.get(k)) {
                csv += &format!(",{},{}", fmt_num(*lo), fmt_num(*hi));
            }
            csv += "\n";
        }
        // the plot: recent history, the forecast from the last known value, the actuals
        let axis = time_axis(&times);
        let point = |i: usize| (axis[i], series.target[i]);
        let from = o.saturating_sub((5 * h).max(2 * meta.window).max(60));
        let history: Vec<(f64, f64)> = (from..o).map(point).collect();
        let mut line: Vec<(f64, f64)> = history.last().copied().into_iter().collect();
        line.extend(
            forecast
                .mean
                .iter()
                .enumerate()
                .map(|(k, &v)| (axis[o + k], v)),
        );
        let mut lines = vec![("history", history), ("forecast", line)];
        if with_actual {
            let first = o.checked_sub(1).map(point);
            let act = first.into_iter().chain((o..(o + h).min(n)).map(point));
            lines.push(("actual", act.collect()));
        }
        let json = serde_json::json!({
            "origin": o, "horizon": h, "strategy": meta.strategy, "level": forecast.level, "steps": steps,
        });
        Ok(ForecastReport {
            origin,
            forecast,
            note,
            csv,
            json,
            title: format!("{}: {h}-step forecast ({})", meta.target, meta.strategy),
            axes: (
                meta.time.clone().unwrap_or_else(|| "row".into()),
                meta.target.clone(),
            ),
            lines,
        })
    }
}

impl ForecastReport {
    /// Draws history (black), forecast (blue) and actuals (green) into the
    /// SVG file `path`, legend at the upper left, written atomically.
    pub fn plot(&self, path: &Path) -> Result<()> {
        let xs = self.lines.iter().flat_map(|(_, s)| s.iter().map(|p| p.0));
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let style = PlotStyle::timeline(x1 - x0);
        let axes = (self.axes.0.as_str(), self.axes.1.as_str());
        plot_lines(path, &self.title, axes, &self.lines, &style)
    }
}

/// A number with up to 6 significant decimals and no trailing zeros.
///
/// ```
/// use rnn::tasks::forecast::fmt_num;
/// assert_eq!(fmt_num(0.1 + 0.2), "0.3");
/// ```
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A CSV field as RFC 4180 writes it: quoted (quotes doubled) when it
/// holds a comma, a quote or a line break (`"February 28, 2000"`).
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
#[test]
fn number_formatting() {
    assert_eq!(fmt_num(1.5), "1.5");
    assert_eq!(fmt_num(2.0), "2");
    assert_eq!(fmt_num(-0.0000001), "0");
}

#[cfg(test)]
#[test]
fn time_labels_with_commas_are_quoted() {
    assert_eq!(csv_field("2000-01"), "2000-01");
    assert_eq!(csv_field("February 28, 2000"), "\"February 28, 2000\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
}
