//! SVG line plots, written atomically: a run's loss curves (`loss.svg`,
//! redrawn from its `metrics.jsonl` rows) and any other named series (a
//! forecast against its history).

use crate::io::model_file::write_text;
use crate::{Error, Result};
use plotters::style::RGBColor;
use std::path::Path;

/// How [`plot_lines`] draws: series colours (in turn), legend corner, the
/// share of the y range left blank above and below, x tick decimals.
#[derive(Clone, Copy, Debug)]
pub struct PlotStyle {
    /// Colours of the series, cycled.
    pub colors: &'static [RGBColor],
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

impl PlotStyle {
    /// Series over time: history (black), forecast (blue), actual values
    /// (green), legend at the upper left; x ticks as whole numbers (years,
    /// months) over a span of 8 or more, else with 2 decimals.
    pub fn timeline(x_span: f64) -> PlotStyle {
        PlotStyle {
            colors: &[
                plotters::style::BLACK,
                plotters::style::BLUE,
                plotters::style::GREEN,
            ],
            legend_upper_left: true,
            y_pad: 0.08,
            x_decimals: Some(if x_span >= 8.0 { 0 } else { 2 }),
        }
    }
}

/// Named line series: a legend name and its `(x, y)` points.
pub type Series<'a> = (&'a str, Vec<(f64, f64)>);

/// Draws named line series (`(x, y)` points) into an SVG file at `path`,
/// written atomically. Nothing is written while no point is finite.
///
/// # Errors
///
/// [`Error::Plot`] when drawing fails, [`Error::Io`] when writing does.
pub fn plot_lines(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    series: &[Series],
    style: &PlotStyle,
) -> Result<()> {
    plot_panels(path, &[(title, series.to_vec())], 1, axes, style)
}

/// Draws panels of named line series side by side, `cols` to a row (each
/// panel its own title, axes ranges and legend, like one [`plot_lines`]
/// chart; the colours restart in each), into an SVG file at `path`,
/// written atomically. Nothing is written while no point of any panel is
/// finite; a panel without one is left blank under its title.
///
/// ```
/// use rnn::io::{plot_panels, CURVES};
/// let path = std::env::temp_dir().join(format!("rnn-doc-panels-{}.svg", std::process::id()));
/// let line = |k: f64| vec![(0.0, k), (1.0, 2.0 * k)];
/// let panels = [("left", vec![("a", line(1.0))]), ("right", vec![("a", line(2.0)), ("b", line(3.0))])];
/// plot_panels(&path, &panels, 2, ("x", "y"), &CURVES).unwrap();
/// let svg = std::fs::read_to_string(&path).unwrap();
/// assert!(svg.contains("\nleft\n</text>") && svg.contains("\nright\n</text>"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
///
/// [`Error::Plot`] when drawing fails, [`Error::Io`] when writing does.
pub fn plot_panels(
    path: &Path,
    panels: &[(&str, Vec<Series>)],
    cols: usize,
    axes: (&str, &str),
    style: &PlotStyle,
) -> Result<()> {
    use plotters::prelude::*;
    let finite = |(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
    let any = panels
        .iter()
        .any(|(_, series)| series.iter().any(|(_, s)| s.iter().any(|p| finite(&p))));
    if !any {
        return Ok(()); // nothing to draw yet
    }
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols);
    // one panel: the size of every other chart; several: a bit smaller each
    let (w, h) = if panels.len() == 1 {
        (900, 540)
    } else {
        (700, 420)
    };
    let fail = |e: String| Error::Plot {
        path: path.to_path_buf(),
        reason: e,
    };
    let mut svg = String::new();
    {
        let size = (w * cols as u32, h * rows as u32);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        for (area, (title, series)) in root.split_evenly((rows, cols)).iter().zip(panels) {
            draw_chart(area, title, axes, series, style).map_err(fail)?;
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    write_text(path, &svg)
}

/// One chart of [`plot_panels`] on `area`.
fn draw_chart(
    area: &plotters::drawing::DrawingArea<plotters::backend::SVGBackend, plotters::coord::Shift>,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
    style: &PlotStyle,
) -> std::result::Result<(), String> {
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
        // no point: the title alone
        area.titled(title, ("sans-serif", 22))
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    // an axis whose (padded) range would not have a finite span is drawn
    // in units of 1e10 (plotters' tick search never ends on an infinite
    // span): only values beyond about ±1e307 are
    let (kx, ky) = (
        shrink(x0, x1.max(x0 + 1.0), 0.0),
        shrink(y0, y1, style.y_pad),
    );
    let (sx, sy) = (10f64.powi(kx), 10f64.powi(ky));
    let (x0, mut x1, y0, y1) = (x0 / sx, x1 / sx, y0 / sy, y1 / sy);
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * style.y_pad).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(|e| e.to_string())?;
    let d = style.x_decimals.unwrap_or(0); // used only when set
    let fmt_x = move |x: &f64| format!("{x:.d$}");
    let in_units = |label: &str, k: i32| {
        if k == 0 {
            label.to_string()
        } else {
            format!("{label} (x 1e{k})")
        }
    };
    let (x_label, y_label) = (in_units(x_label, kx), in_units(y_label, ky));
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_label).y_desc(y_label);
    if style.x_decimals.is_some() {
        mesh.x_label_formatter(&fmt_x);
    }
    mesh.draw().map_err(|e| e.to_string())?;
    for (i, (name, s)) in series.iter().enumerate() {
        let c = style.colors[i % style.colors.len()];
        let points = s.iter().map(|&(x, y)| (x / sx, y / sy)); // as they are when kx = ky = 0
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    let mut labels = chart.configure_series_labels();
    if style.legend_upper_left {
        labels.position(SeriesLabelPosition::UpperLeft);
    }
    labels
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The power of ten an axis's values are divided by for drawing: 0 when
/// the range `lo..hi`, padded by `pad` of its span on each side, has finite
/// bounds and a finite span (any range within about ±1e307), else 10.
fn shrink(lo: f64, hi: f64, pad: f64) -> i32 {
    let p = (hi - lo) * pad;
    let (a, b) = (lo - p, hi + p);
    if a.is_finite() && b.is_finite() && (b - a).is_finite() {
        0
    } else {
        10
    }
}

/// What a task's `loss.svg` shows: which `metrics.jsonl` fields, against
/// which one, how often it is redrawn.
#[derive(Clone, Copy, Debug)]
pub struct LossPlot {
    /// The chart's title.
    pub title: &'static str,
    /// The row field on the x axis (`step`, `epoch`).
    pub x: &'static str,
    /// The y axis label.
    pub y_label: &'static str,
    /// `(legend, row field)` of each curve; a curve with no point is left out.
    pub series: &'static [(&'static str, &'static str)],
    /// Redraw after an evaluation whose `x` is a multiple of this (1: every one).
    pub every: u64,
}

impl LossPlot {
    /// The file name inside a run directory.
    pub const FILE: &'static str = "loss.svg";

    /// Draws `dir/loss.svg` from metrics rows.
    ///
    /// ```
    /// use rnn::io::LossPlot;
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-lossplot-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let plot = LossPlot { title: "loss", x: "step", y_label: "nats",
    ///     series: &[("validation", "val_loss")], every: 1 };
    /// let rows = [serde_json::json!({"step": 10, "val_loss": 1.5}),
    ///     serde_json::json!({"step": 20, "val_loss": 1.25})];
    /// plot.draw(&dir, &rows).unwrap();
    /// let svg = std::fs::read_to_string(dir.join(LossPlot::FILE)).unwrap();
    /// assert!(svg.starts_with("<svg") && svg.contains("validation"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`plot_lines`].
    pub fn draw(&self, dir: &Path, rows: &[serde_json::Value]) -> Result<()> {
        let series: Vec<(&str, Vec<(f64, f64)>)> = self
            .series
            .iter()
            .map(|&(name, y)| {
                let xy =
                    |r: &serde_json::Value| Some((r.get(self.x)?.as_f64()?, r.get(y)?.as_f64()?));
                (name, rows.iter().filter_map(xy).collect::<Vec<_>>())
            })
            .filter(|(_, pts)| !pts.is_empty())
            .collect();
        let path = dir.join(Self::FILE);
        plot_lines(&path, self.title, (self.x, self.y_label), &series, &CURVES)
    }

    /// Whether an evaluation row is one after which the plot is redrawn.
    pub fn due(&self, row: &serde_json::Value) -> bool {
        let every = self.every.max(1);
        row.get(self.x)
            .and_then(|v| v.as_u64())
            .is_none_or(|x| x % every == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values spanning more than the largest float (±1e308, 0 to f64::MAX)
    /// are drawn in units of 1e10 and the plot is written: before, the
    /// axis's span overflowed to infinity and plotters' tick search never
    /// returned. A thread and a timeout make a hang a failure.
    #[test]
    fn huge_spans_are_drawn_and_return() {
        let cases: [Vec<(f64, f64)>; 4] = [
            vec![(0.0, 1e308), (1.0, -1e308)],
            vec![(0.0, 0.0), (1.0, f64::MAX)],
            vec![(0.0, 1e308), (1e-308, -1e308)],
            vec![(-f64::MAX, 1.0), (f64::MAX, 2.0)],
        ];
        for (k, pts) in cases.into_iter().enumerate() {
            let path =
                std::env::temp_dir().join(format!("rnn-plot-huge-{}-{k}.svg", std::process::id()));
            let (tx, rx) = std::sync::mpsc::channel();
            let p = path.clone();
            std::thread::spawn(move || {
                let r = plot_lines(&p, "t", ("x", "y"), &[("a", pts)], &CURVES);
                let _ = tx.send(r.map_err(|e| e.to_string()));
            });
            let r = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("case {k}: plot_lines did not return in 60 s"));
            r.unwrap();
            let svg = std::fs::read_to_string(&path).unwrap();
            assert!(svg.contains("x 1e10"), "case {k}: the axis says its unit");
            std::fs::remove_file(&path).unwrap();
        }
        // an ordinary range is drawn as it was, without a unit
        let path = std::env::temp_dir().join(format!("rnn-plot-plain-{}.svg", std::process::id()));
        let pts = vec![(0.0, -3.0e300), (1.0, 3.0e300)];
        plot_lines(&path, "t", ("x", "y"), &[("a", pts)], &CURVES).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("1e10"));
        std::fs::remove_file(&path).unwrap();
    }
}
