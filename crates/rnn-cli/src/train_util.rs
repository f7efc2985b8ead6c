//! What every `rnn train` task shares: the time/epoch budget, the progress
//! bar, metrics.jsonl and the loss plot, flag checks.

use crate::error::{CliError, CliResult};
use indicatif::{ProgressBar, ProgressStyle};
use rnn::io::model_file::write_text;
use rnn::tasks::{Clock, Event};
use std::path::Path;

pub use rnn::tasks::Budget;

/// The budget from `--epochs` / `--minutes` (at most one may be given;
/// `default` otherwise).
pub fn budget_from_flags(
    epochs: Option<usize>,
    minutes: Option<f64>,
    default: Budget,
) -> CliResult<Budget> {
    match (epochs, minutes) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "give --epochs or --minutes, not both".into(),
        )),
        (Some(0), None) => Err(CliError::Usage("--epochs 0: expected at least 1".into())),
        (Some(e), None) => Ok(Budget::Epochs(e)),
        (None, Some(m)) if m.is_finite() && m > 0.0 => Ok(Budget::Minutes(m)),
        (None, Some(m)) => Err(CliError::Usage(format!(
            "--minutes {m}: expected a positive number"
        ))),
        (None, None) => Ok(default),
    }
}

/// Checks a learning rate (or any positive finite flag value).
pub fn positive(flag: &str, v: f64) -> CliResult<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(CliError::Usage(format!(
            "{flag} {v}: expected a positive finite number"
        )))
    }
}

/// Checks a count flag is at least 1.
pub fn at_least_one(flag: &str, v: usize) -> CliResult<usize> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(CliError::Usage(format!("{flag} 0: expected at least 1")))
    }
}

/// Sets the number of threads for the big matrix products.
pub fn set_threads(n: usize) -> CliResult {
    if n == 0 || n > 256 {
        return Err(CliError::Usage(format!("--threads {n}: expected 1 to 256")));
    }
    rnn::kernels::set_threads(n);
    // A second call (tests, repeated runs in one process) keeps the first pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    Ok(())
}

/// The progress bar on stderr: step, smoothed loss, last validation figure,
/// throughput and ETA (hidden when stderr is not a terminal). It is the
/// [`rnn::tasks::Progress`] observer the CLI hands to the library's trainers.
pub struct Progress {
    bar: ProgressBar,
    clock: Clock,
}

impl Progress {
    /// A bar for a run of `total_steps` (epoch or step budgets) or minutes.
    pub fn new(budget: Budget, total_steps: u64) -> Self {
        let bar = match budget {
            Budget::Minutes(m) => ProgressBar::new((m * 60.0) as u64),
            _ => ProgressBar::new(total_steps),
        };
        let template = match budget {
            Budget::Minutes(_) => "{elapsed_precise} [{bar:30}] {pos}/{len}s {msg} ETA {eta}",
            _ => "{elapsed_precise} [{bar:30}] step {pos}/{len} {msg} ETA {eta}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            clock: Clock::start(budget),
        }
    }

    /// Updates the bar after `step` updates.
    pub fn update(&self, step: u64, msg: String) {
        match self.clock.budget() {
            Budget::Minutes(_) => self.bar.set_position(self.clock.elapsed() as u64),
            _ => self.bar.set_position(step),
        }
        self.bar.set_message(msg);
    }

    /// Prints a line above the bar, or plainly when stderr is not a terminal
    /// (the bar is hidden then, and so would be its lines).
    pub fn println(&self, s: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", s.as_ref());
        } else {
            self.bar.println(s);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl rnn::tasks::Progress for Progress {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Start {
                total_steps: Some(n),
            } if !matches!(self.clock.budget(), Budget::Minutes(_)) => self.bar.set_length(*n),
            Event::Start { .. } | Event::Evaluated { .. } => {}
            Event::Step { step, summary, .. } => self.update(*step, summary.to_string()),
            Event::Message(line) => self.println(line),
        }
    }
}

/// `metrics.jsonl` (the library's log of evaluations).
pub use rnn::io::MetricsLog as Metrics;

/// How [`plot_styled`] draws: series colours (in turn), legend corner, the
/// share of the y range left blank above and below, x tick decimals.
pub struct PlotStyle {
    /// Colours of the series, cycled.
    pub colors: &'static [plotters::style::RGBColor],
    /// Legend at the upper left (else upper right).
    pub legend_upper_left: bool,
    /// Padding above and below the data, as a fraction of its y range.
    pub y_pad: f64,
    /// Decimals of the x tick labels (`None`: plotters' own).
    pub x_decimals: Option<usize>,
}

/// Curves of training runs: loss against step or epoch.
pub const CURVES: PlotStyle = PlotStyle {
    colors: &[
        plotters::style::RED,
        plotters::style::BLUE,
        plotters::style::GREEN,
        plotters::style::MAGENTA,
        plotters::style::CYAN,
        plotters::style::BLACK,
    ],
    legend_upper_left: false,
    y_pad: 0.05,
    x_decimals: None,
};

/// Draws named line series into an SVG file, written atomically, in the
/// [`CURVES`] style.
pub fn plot_lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> CliResult {
    plot_styled(path, title, x_label, y_label, series, &CURVES)
}

/// Draws named line series into an SVG file, written atomically. Nothing is
/// written while no point is finite.
pub fn plot_styled(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    style: &PlotStyle,
) -> CliResult {
    use plotters::prelude::*;
    let pts = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !x0.is_finite() {
        return Ok(()); // nothing to draw yet
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * style.y_pad).max(1e-6);
    let mut svg = String::new();
    {
        let fail =
            |e: String| CliError::Failure(format!("{}: cannot draw plot: {e}", path.display()));
        let root = SVGBackend::with_string(&mut svg, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|e| fail(e.to_string()))?;
        let d = style.x_decimals.unwrap_or(0); // used only when set
        let fmt_x = move |x: &f64| format!("{x:.d$}");
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_label).y_desc(y_label);
        if style.x_decimals.is_some() {
            mesh.x_label_formatter(&fmt_x);
        }
        mesh.draw().map_err(|e| fail(e.to_string()))?;
        for (i, (name, s)) in series.iter().enumerate() {
            let c = style.colors[i % style.colors.len()];
            chart
                .draw_series(LineSeries::new(s.iter().copied(), c.stroke_width(2)))
                .map_err(|e| fail(e.to_string()))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        let mut labels = chart.configure_series_labels();
        if style.legend_upper_left {
            labels.position(SeriesLabelPosition::UpperLeft);
        }
        labels
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    write_text(path, &svg)?;
    Ok(())
}
