//! Time series for forecasting: a CSV reader, gap filling, transforms and
//! normalisation fitted on training data only, sliding windows, forecast
//! origins for evaluation, and the error measures (RMSE, MAE, MASE) with the
//! naive and seasonal-naive baselines.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// A CSV file split into fields: a header and data rows (quotes removed).
#[derive(Clone, Debug)]
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// Column names from the header line.
    pub columns: Vec<String>,
    /// Data rows, each with one field per column.
    pub rows: Vec<Vec<String>>,
    /// The 1-based line number of each data row in the file.
    pub lines: Vec<usize>,
}

/// Splits one CSV line into fields. Fields may be quoted with `"` (a doubled
/// `""` inside quotes is one quote); whitespace around fields is dropped.
fn split_csv_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false; // inside quotes
    let mut was_quoted = false; // this field was quoted
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            fields.push(finish_field(&cur, was_quoted));
            cur.clear();
            was_quoted = false;
        } else if c == '"' && cur.trim().is_empty() && !was_quoted {
            cur.clear();
            quoted = true;
            was_quoted = true;
        } else if was_quoted {
            if !c.is_whitespace() {
                return Err(format!("unexpected {c:?} after a closing quote"));
            }
        } else {
            cur.push(c);
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(finish_field(&cur, was_quoted));
    Ok(fields)
}

fn finish_field(s: &str, quoted: bool) -> String {
    if quoted {
        s.to_string()
    } else {
        s.trim().to_string()
    }
}

impl Table {
    /// Parses CSV text (header line first; blank lines skipped). `path` is
    /// only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Table> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let fields = split_csv_line(raw).map_err(|reason| Error::Parse {
                path: path.to_path_buf(),
                line: line_no,
                reason,
            })?;
            match &header {
                None => {
                    if let Some(j) = fields.iter().position(|f| f.is_empty()) {
                        return Err(Error::Parse {
                            path: path.to_path_buf(),
                            line: line_no,
                            reason: format!("header column {} has no name", j + 1),
                        });
                    }
                    header = Some(fields);
                }
                Some(h) => {
                    if fields.len() != h.len() {
                        return Err(Error::Parse {
                            path: path.to_path_buf(),
                            line: line_no,
                            reason: format!(
                                "{} fields, but the header has {} columns",
                                fields.len(),
                                h.len()
                            ),
                        });
                    }
                    rows.push(fields);
                    lines.push(line_no);
                }
            }
        }
        let Some(columns) = header else {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "empty file: expected a header line and data rows".into(),
            });
        };
        if rows.is_empty() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "no data rows after the header".into(),
            });
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            rows,
            lines,
        })
    }

    /// Reads and parses a CSV file.
    pub fn read(path: &Path) -> Result<Table> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Data {
            path: path.to_path_buf(),
            reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Table::parse(path, &text)
    }

    /// The index of column `name` (exact match first, then ignoring case);
    /// the error lists the columns that exist.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| Error::Data {
                path: self.path.clone(),
                reason: format!(
                    "no column named {name:?}; the columns are: {}",
                    self.columns.join(", ")
                ),
            })
    }
}

/// How gaps (missing values) in a numeric column are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// A gap is an error naming its line and column.
    #[default]
    None,
    /// Linear interpolation between the neighbouring known values (gaps at
    /// the start or end take the nearest known value).
    Linear,
    /// The last known value (gaps at the start take the first known value).
    Ffill,
}

impl Fill {
    /// Parses `none`, `linear` or `ffill`.
    pub fn parse(s: &str) -> Option<Fill> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Fill::None),
            "linear" => Some(Fill::Linear),
            "ffill" => Some(Fill::Ffill),
            _ => None,
        }
    }
}

/// Whether a cell means "no value": empty, `NA`, `N/A`, `NaN`, `null`, `?`.
pub fn is_missing(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty()
        || ["na", "n/a", "nan", "null", "none", "?", "-"]
            .iter()
            .any(|m| c.eq_ignore_ascii_case(m))
}

/// Parses one numeric column; gaps are `None`. Non-numeric text is an error
/// naming the line and column whatever `fill` says; gaps are errors unless
/// `fill` is not [`Fill::None`].
fn numeric_column(table: &Table, col: usize, fill: Fill) -> Result<Vec<Option<f64>>> {
    let name = &table.columns[col];
    let mut out = Vec::with_capacity(table.rows.len());
    for (row, &line) in table.rows.iter().zip(&table.lines) {
        let cell = row[col].trim();
        if is_missing(cell) {
            if fill == Fill::None {
                return Err(Error::Parse {
                    path: table.path.clone(),
                    line,
                    reason: format!(
                        "column {name:?}: missing value {cell:?} (use --fill linear or --fill ffill to fill gaps)"
                    ),
                });
            }
            out.push(None);
            continue;
        }
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(Some(v)),
            _ => {
                return Err(Error::Parse {
                    path: table.path.clone(),
                    line,
                    reason: format!("column {name:?}: {cell:?} is not a number"),
                })
            }
        }
    }
    Ok(out)
}

/// Fills the gaps of a column. Returns the values and how many were filled;
/// an all-missing column is an error.
pub fn fill_gaps(
    values: &[Option<f64>],
    fill: Fill,
) -> std::result::Result<(Vec<f64>, usize), String> {
    let known: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return Err("no values at all".into());
    };
    let val = |i: usize| values[i].unwrap_or(0.0);
    let mut out = Vec::with_capacity(values.len());
    let mut filled = 0;
    let mut prev = first; // last known index at or before i
    for i in 0..values.len() {
        if let Some(v) = values[i] {
            prev = i;
            out.push(v);
            continue;
        }
        filled += 1;
        let v = if i < first {
            val(first)
        } else if i > last || fill == Fill::Ffill {
            val(prev)
        } else {
            // next known index after i
            let next = known[known.partition_point(|&k| k < i)];
            let w = (i - prev) as f64 / (next - prev) as f64;
            val(prev) + w * (val(next) - val(prev))
        };
        out.push(v);
    }
    Ok((out, filled))
}

/// Which column holds the time stamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeColumn {
    /// The first column, if it is not the target or a feature and it is named
    /// like a time (contains date, year, time, month, week, day, period,
    /// quarter) or holds a non-numeric value; otherwise none.
    Auto,
    /// This column.
    Named(String),
    /// No time column: rows are labelled 0, 1, 2, ...
    None,
}

/// A numeric target series, optional input features and time labels.
#[derive(Clone, Debug)]
pub struct Series {
    /// The file read.
    pub path: PathBuf,
    /// The time column's name, if any.
    pub time_name: Option<String>,
    /// One label per row (the row index when there is no time column).
    pub time: Vec<String>,
    /// The target column's name.
    pub target_name: String,
    /// The target values, gaps filled: `[N]`.
    pub target: Vec<f64>,
    /// The feature columns' names.
    pub feature_names: Vec<String>,
    /// The feature values, gaps filled: `[F][N]`.
    pub features: Vec<Vec<f64>>,
    /// Values filled in (all columns).
    pub filled: usize,
}

fn looks_like_time(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "date", "year", "time", "month", "week", "day", "period", "quarter",
    ]
    .iter()
    .any(|k| n.contains(k))
}

impl Series {
    /// Reads `target` (and `features`) from `table`.
    pub fn from_table(
        table: &Table,
        target: &str,
        features: &[String],
        time: &TimeColumn,
        fill: Fill,
    ) -> Result<Series> {
        let tcol = table.column(target)?;
        let fcols = features
            .iter()
            .map(|f| table.column(f))
            .collect::<Result<Vec<_>>>()?;
        if fcols.contains(&tcol) {
            return Err(Error::Config(format!(
                "the target column {target:?} cannot also be a feature"
            )));
        }
        let time_col = match time {
            TimeColumn::None => None,
            TimeColumn::Named(n) => Some(table.column(n)?),
            TimeColumn::Auto => {
                let numeric = table
                    .rows
                    .iter()
                    .all(|r| r[0].trim().parse::<f64>().is_ok());
                (tcol != 0
                    && !fcols.contains(&0)
                    && (looks_like_time(&table.columns[0]) || !numeric))
                    .then_some(0)
            }
        };
        let column = |c: usize| -> Result<(Vec<f64>, usize)> {
            let raw = numeric_column(table, c, fill)?;
            fill_gaps(&raw, fill).map_err(|reason| Error::Data {
                path: table.path.clone(),
                reason: format!("column {:?}: {reason}", table.columns[c]),
            })
        };
        let (y, mut filled) = column(tcol)?;
        let mut feats = Vec::new();
        for &c in &fcols {
            let (v, n) = column(c)?;
            filled += n;
            feats.push(v);
        }
        Ok(Series {
            path: table.path.clone(),
            time_name: time_col.map(|c| table.columns[c].clone()),
            time: match time_col {
                Some(c) => table.rows.iter().map(|r| r[c].trim().to_string()).collect(),
                None => (0..table.rows.len()).map(|i| i.to_string()).collect(),
            },
            target_name: table.columns[tcol].clone(),
            target: y,
            feature_names: fcols.iter().map(|&c| table.columns[c].clone()).collect(),
            features: feats,
            filled,
        })
    }

    /// Reads a CSV file; see [`Series::from_table`].
    pub fn read(
        path: &Path,
        target: &str,
        features: &[String],
        time: &TimeColumn,
        fill: Fill,
    ) -> Result<Series> {
        Series::from_table(&Table::read(path)?, target, features, time, fill)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Transform, differencing and normalisation
// ---------------------------------------------------------------------------

/// An invertible elementwise transform applied to the target before differencing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// `y`.
    #[default]
    None,
    /// `ln y` (needs y > 0).
    Log,
    /// `sqrt y` (needs y >= 0).
    Sqrt,
}

impl Transform {
    /// Parses `none`, `log` or `sqrt`.
    pub fn parse(s: &str) -> Option<Transform> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Transform::None),
            "log" => Some(Transform::Log),
            "sqrt" => Some(Transform::Sqrt),
            _ => None,
        }
    }

    /// Applies the transform; `None` when `y` is outside its domain.
    pub fn apply(self, y: f64) -> Option<f64> {
        match self {
            Transform::None => Some(y),
            Transform::Log => (y > 0.0).then(|| y.ln()),
            Transform::Sqrt => (y >= 0.0).then(|| y.sqrt()),
        }
    }

    /// The inverse.
    pub fn invert(self, z: f64) -> f64 {
        match self {
            Transform::None => z,
            Transform::Log => z.exp(),
            Transform::Sqrt => z.max(0.0) * z.max(0.0),
        }
    }
}

/// `z_t = z_t - z_{t-lag}` for each lag in turn: the result is shorter by the
/// sum of the lags.
pub fn difference(z: &[f64], lags: &[usize]) -> Vec<f64> {
    let mut cur = z.to_vec();
    for &lag in lags {
        cur = (lag..cur.len()).map(|t| cur[t] - cur[t - lag]).collect();
    }
    cur
}

/// The inverse of [`difference`]: given the undifferenced history `z` (up to
/// the forecast origin) and forecasts `d` of the fully differenced series for
/// the next steps, returns the forecasts of `z` for those steps.
pub fn undifference(z: &[f64], lags: &[usize], d: &[f64]) -> Vec<f64> {
    // levels[k] = the history differenced by the first k lags
    let mut levels = vec![z.to_vec()];
    for (k, &lag) in lags.iter().enumerate() {
        let prev = &levels[k];
        let next = (lag..prev.len()).map(|t| prev[t] - prev[t - lag]).collect();
        levels.push(next);
    }
    let mut fut = d.to_vec();
    for k in (0..lags.len()).rev() {
        let lag = lags[k];
        let mut hist = levels[k].clone();
        for &v in &fut {
            let base = hist[hist.len() - lag];
            hist.push(v + base);
        }
        fut = hist[levels[k].len()..].to_vec();
    }
    fut
}

/// How the target (and features) are turned into network inputs, fitted on
/// training data only and stored with the model: transform, then
/// differencing, then z-scoring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Elementwise transform of the target.
    pub transform: Transform,
    /// Lags differenced in turn after the transform (e.g. `[1, 12]`).
    pub diffs: Vec<usize>,
    /// Mean of the transformed, differenced training target.
    pub mean: f64,
    /// Standard deviation of the same.
    pub std: f64,
    /// Mean of each feature over the training rows.
    pub feature_mean: Vec<f64>,
    /// Standard deviation of each feature over the training rows.
    pub feature_std: Vec<f64>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

impl Pipeline {
    /// Rows lost at the start to differencing.
    pub fn lost(&self) -> usize {
        self.diffs.iter().fold(0, |t, &l| t.saturating_add(l))
    }

    /// The transformed target; errors name the first value outside the domain.
    pub fn transformed(&self, y: &[f64]) -> Result<Vec<f64>> {
        y.iter()
            .enumerate()
            .map(|(i, &v)| {
                self.transform.apply(v).ok_or_else(|| Error::Value {
                    what: format!("target value at row {}", i + 1),
                    value: v.to_string(),
                    expected: match self.transform {
                        Transform::Log => "positive for --transform log".into(),
                        _ => "non-negative for --transform sqrt".into(),
                    },
                })
            })
            .collect()
    }

    /// Fits the normalisation on the training rows `y` and `features` (`[F][N]`)
    /// only. A constant (transformed, differenced) target or feature is an
    /// error, as is a series too short for the differencing.
    pub fn fit(
        y: &[f64],
        features: &[Vec<f64>],
        transform: Transform,
        diffs: &[usize],
        names: (&str, &[String]),
    ) -> Result<Pipeline> {
        let mut p = Pipeline {
            transform,
            diffs: diffs.to_vec(),
            mean: 0.0,
            std: 1.0,
            feature_mean: Vec::new(),
            feature_std: Vec::new(),
        };
        if y.len() < p.lost().saturating_add(2) {
            return Err(Error::Config(format!(
                "{} training rows are too few for differencing by {:?}",
                y.len(),
                diffs
            )));
        }
        let d = difference(&p.transformed(y)?, diffs);
        let (m, s) = mean_std(&d);
        if s < 1e-12 * m.abs().max(1.0) {
            return Err(Error::Config(format!(
                "the target column {:?} is constant over the training rows{}: nothing to forecast",
                names.0,
                if diffs.is_empty() {
                    ""
                } else {
                    " after differencing"
                }
            )));
        }
        (p.mean, p.std) = (m, s);
        for (f, name) in features.iter().zip(names.1) {
            let (m, s) = mean_std(f);
            if s < 1e-12 * m.abs().max(1.0) {
                return Err(Error::Config(format!(
                    "the feature column {name:?} is constant over the training rows"
                )));
            }
            p.feature_mean.push(m);
            p.feature_std.push(s);
        }
        Ok(p)
    }

    /// The normalised network inputs for rows `y` (`[N]`) and `features`
    /// (`[F][N]`): `[N - lost, 1 + F]`, the target first. Row `j` is time
    /// step `j + lost` of the input.
    pub fn encode(&self, y: &[f64], features: &[Vec<f64>]) -> Result<Vec<f64>> {
        let d = difference(&self.transformed(y)?, &self.diffs);
        let lost = self.lost();
        let width = 1 + features.len();
        let mut out = Vec::with_capacity(d.len() * width); // [N - lost, 1 + F]
        for (j, v) in d.iter().enumerate() {
            out.push((v - self.mean) / self.std);
            for (k, f) in features.iter().enumerate() {
                out.push((f[j + lost] - self.feature_mean[k]) / self.feature_std[k]);
            }
        }
        Ok(out)
    }

    /// Turns normalised forecasts of the next steps after `history` (the raw
    /// target up to the forecast origin) back into target values.
    pub fn decode(&self, history: &[f64], forecast: &[f64]) -> Result<Vec<f64>> {
        let z = self.transformed(history)?;
        let d: Vec<f64> = forecast.iter().map(|v| v * self.std + self.mean).collect();
        Ok(undifference(&z, &self.diffs, &d)
            .into_iter()
            .map(|v| self.transform.invert(v))
            .collect())
    }
}

// ---------------------------------------------------------------------------
// Windows and evaluation origins
// ---------------------------------------------------------------------------

/// One training example: input rows and target rows of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The `window` input steps.
    pub input: Range<usize>,
    /// The `horizon` steps right after them.
    pub target: Range<usize>,
}

/// Every window of `window` input steps followed by `horizon` target steps
/// inside `0..n`, in order of their start.
pub fn windows(n: usize, window: usize, horizon: usize) -> Vec<Window> {
    if window == 0 || horizon == 0 || n < window.saturating_add(horizon) {
        return Vec::new();
    }
    (0..=n - window - horizon)
        .map(|s| Window {
            input: s..s + window,
            target: s + window..s + window + horizon,
        })
        .collect()
}

/// The forecast origins for evaluating the last `test` rows of a series of
/// `n` rows at horizon `horizon`: the test block is cut into consecutive
/// blocks of `horizon` rows (the last one may be shorter); each block is
/// forecast at once from the data before it. Returns `(origin, len)` pairs:
/// rows `origin..origin+len` are forecast from rows `0..origin`.
pub fn eval_origins(n: usize, test: usize, horizon: usize) -> Vec<(usize, usize)> {
    let start = n.saturating_sub(test);
    (start..n)
        .step_by(horizon.max(1))
        .map(|o| (o, horizon.min(n - o)))
        .collect()
}

// ---------------------------------------------------------------------------
// Error measures and baselines
// ---------------------------------------------------------------------------

/// Root mean squared error.
pub fn rmse(forecast: &[f64], actual: &[f64]) -> f64 {
    let n = forecast.len().max(1) as f64;
    (forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a) * (f - a))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Mean absolute error.
pub fn mae(forecast: &[f64], actual: &[f64]) -> f64 {
    let n = forecast.len().max(1) as f64;
    forecast
        .iter()
        .zip(actual)
        .map(|(f, a)| (f - a).abs())
        .sum::<f64>()
        / n
}

/// The MASE scale: the in-sample MAE of the seasonal-naive forecast with
/// period `season` (the naive forecast when 1) over `train`,
/// `mean_{t >= S} |y_t - y_{t-S}|`. `None` when `train` is too short or the
/// scale is zero.
pub fn mase_scale(train: &[f64], season: usize) -> Option<f64> {
    let s = season.max(1);
    if train.len() <= s {
        return None;
    }
    let m = mae(&train[s..], &train[..train.len() - s]);
    (m > 0.0).then_some(m)
}

/// The naive forecast from `history`: the last value, `h` times.
pub fn naive(history: &[f64], h: usize) -> Vec<f64> {
    vec![history.last().copied().unwrap_or(0.0); h]
}

/// The seasonal-naive forecast from `history`: lead `k` (1-based) gets the
/// value one or more whole seasons before it: `y[n+k-1]` is forecast by
/// `y[n+k-1 - S*ceil(k/S)]`. Falls
/// back to [`naive`] when the history is shorter than one season.
pub fn seasonal_naive(history: &[f64], h: usize, season: usize) -> Vec<f64> {
    let (n, s) = (history.len(), season.max(1));
    if n < s {
        return naive(history, h);
    }
    (1..=h)
        .map(|k| history[n + k - 1 - s * k.div_ceil(s)])
        .collect()
}

// ---------------------------------------------------------------------------
// Time labels
// ---------------------------------------------------------------------------

/// A time label understood as a point on a numeric axis.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stamp {
    /// A plain integer (a year, an index).
    Int(i64),
    /// `YYYY-MM`: months since year 0.
    Month(i64),
    /// `YYYY-Qn`: quarters since year 0.
    Quarter(i64),
    /// `YYYY-MM-DD` (dashes) or `YYYYMMDD` (compact): days since 1970-01-01.
    Day(i64, bool),
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn parse_stamp(s: &str) -> Option<Stamp> {
    let s = s.trim();
    let nums: Vec<&str> = s.split(['-', '/']).collect();
    let int = |t: &str| t.parse::<i64>().ok();
    match nums.as_slice() {
        [y] if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) => {
            let v = int(y)?;
            let (yy, mm, dd) = (v / 10000, v / 100 % 100, v % 100);
            if (1..=12).contains(&mm) && (1..=31).contains(&dd) {
                Some(Stamp::Day(days_from_civil(yy, mm, dd), true))
            } else {
                Some(Stamp::Int(v))
            }
        }
        [y] => {
            if let Some((yy, q)) = y.split_once(['Q', 'q']) {
                let (yy, q) = (int(yy)?, int(q)?);
                if !(1..=4).contains(&q) {
                    return None;
                }
                return Some(Stamp::Quarter(yy * 4 + q - 1));
            }
            int(y).map(Stamp::Int)
        }
        [y, q] if q.starts_with(['Q', 'q']) => {
            let (y, q) = (int(y)?, int(&q[1..])?);
            if !(1..=4).contains(&q) {
                return None;
            }
            Some(Stamp::Quarter(y * 4 + q - 1))
        }
        [y, m] => {
            let (yy, m) = (int(y)?, int(m)?);
            if y.len() != 4 || !(1..=12).contains(&m) {
                return None;
            }
            Some(Stamp::Month(yy * 12 + m - 1))
        }
        [y, m, d] => {
            let (y, m, d) = (int(y)?, int(m)?, int(d)?);
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                return None;
            }
            Some(Stamp::Day(days_from_civil(y, m, d), false))
        }
        _ => None,
    }
}

fn stamp_value(s: Stamp) -> f64 {
    match s {
        Stamp::Int(v) => v as f64,
        Stamp::Month(m) => m as f64 / 12.0,
        Stamp::Quarter(q) => q as f64 / 4.0,
        Stamp::Day(d, _) => 1970.0 + d as f64 / 365.2425,
    }
}

fn format_stamp(s: Stamp) -> String {
    match s {
        Stamp::Int(v) => v.to_string(),
        Stamp::Month(m) => format!("{}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
        Stamp::Quarter(q) => format!("{}-Q{}", q.div_euclid(4), q.rem_euclid(4) + 1),
        Stamp::Day(d, compact) => {
            let (y, m, dd) = civil_from_days(d);
            if compact {
                format!("{y}{m:02}{dd:02}")
            } else {
                format!("{y}-{m:02}-{dd:02}")
            }
        }
    }
}

fn same_kind(a: Stamp, b: Stamp) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

fn stamp_index(s: Stamp) -> i64 {
    match s {
        Stamp::Int(v) | Stamp::Month(v) | Stamp::Quarter(v) | Stamp::Day(v, _) => v,
    }
}

fn with_index(s: Stamp, v: i64) -> Stamp {
    match s {
        Stamp::Int(_) => Stamp::Int(v),
        Stamp::Month(_) => Stamp::Month(v),
        Stamp::Quarter(_) => Stamp::Quarter(v),
        Stamp::Day(_, c) => Stamp::Day(v, c),
    }
}

/// Positions of the labels on a numeric axis (years for dates, months and
/// quarters; the value for integers; the row index when labels are not all
/// understood).
pub fn time_axis(labels: &[String]) -> Vec<f64> {
    let stamps: Option<Vec<Stamp>> = labels.iter().map(|l| parse_stamp(l)).collect();
    match stamps {
        Some(s) if s.windows(2).all(|w| same_kind(w[0], w[1])) => {
            s.into_iter().map(stamp_value).collect()
        }
        _ => (0..labels.len()).map(|i| i as f64).collect(),
    }
}

/// The labels of the `k` steps after the last label, continuing the last step
/// (a year after a year, a month after a month, the same number of days);
/// `last+1`, `last+2`, ... when the labels are not understood.
pub fn extend_time(labels: &[String], k: usize) -> Vec<String> {
    let n = labels.len();
    let parsed = |i: usize| labels.get(i).and_then(|l| parse_stamp(l));
    if n >= 2 {
        if let (Some(a), Some(b)) = (parsed(n - 2), parsed(n - 1)) {
            let step = stamp_index(b) - stamp_index(a);
            if same_kind(a, b) && step > 0 {
                return (1..=k as i64)
                    .map(|j| format_stamp(with_index(b, stamp_index(b) + j * step)))
                    .collect();
            }
        }
    }
    let last = labels.last().map_or("", String::as_str);
    (1..=k).map(|j| format!("{last}+{j}")).collect()
}

/// The default season for seasonal-naive forecasts and MASE: 12 when the
/// labels are monthly (`YYYY-MM`, or dates 28–31 days apart), 4 when
/// quarterly (`YYYY-Qn`, or dates 89–92 days apart), 1 otherwise.
pub fn default_season(labels: &[String]) -> usize {
    let stamps: Option<Vec<Stamp>> = labels.iter().take(50).map(|l| parse_stamp(l)).collect();
    let Some(s) = stamps.filter(|s| s.len() >= 2) else {
        return 1;
    };
    match (s[0], s[1]) {
        (Stamp::Month(_), Stamp::Month(_)) => 12,
        (Stamp::Quarter(_), Stamp::Quarter(_)) => 4,
        (Stamp::Day(a, _), Stamp::Day(b, _)) if (28..=31).contains(&(b - a)) => 12,
        (Stamp::Day(a, _), Stamp::Day(b, _)) if (89..=92).contains(&(b - a)) => 4,
        _ => 1,
    }
}

/// A 64-bit FNV-1a hash of a series' values (to recognise the training data).
pub fn fingerprint(values: &[f64]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for v in values {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table> {
        Table::parse(Path::new("t.csv"), text)
    }

    fn series(text: &str, fill: Fill) -> Result<Series> {
        Series::from_table(&table(text)?, "v", &[], &TimeColumn::Auto, fill)
    }

    #[test]
    fn quoted_header_and_time_column() {
        let t = table("\"YEAR\",\"SUNACTIVITY\"\n1700,5\n1701,11\n").unwrap();
        assert_eq!(t.columns, ["YEAR", "SUNACTIVITY"]);
        let s = Series::from_table(&t, "SUNACTIVITY", &[], &TimeColumn::Auto, Fill::None).unwrap();
        assert_eq!(s.time_name.as_deref(), Some("YEAR"));
        assert_eq!(s.time, ["1700", "1701"]);
        assert_eq!(s.target, [5.0, 11.0]);
        // quoted fields with commas and doubled quotes
        assert_eq!(
            split_csv_line(r#" "a,b" , "say ""hi""",3"#).unwrap(),
            ["a,b", "say \"hi\"", "3"]
        );
        assert!(split_csv_line("\"open").is_err());
    }

    #[test]
    fn missing_value_error_names_line_and_column() {
        let e = series("date,v\n2000-01,1\n2000-02,\n2000-03,3\n", Fill::None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv:3:") && e.contains("\"v\"") && e.contains("missing"),
            "{e}"
        );
        let e = series("date,v\n2000-01,1\n2000-02,abc\n", Fill::Linear)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv:3:") && e.contains("\"abc\" is not a number"),
            "{e}"
        );
    }

    #[test]
    fn fill_linear_and_ffill() {
        let text = "date,v\n1,NA\n2,1\n3,\n4,\n5,4\n6,\n";
        let s = series(text, Fill::Linear).unwrap();
        assert_eq!(s.target, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(s.filled, 4);
        let s = series(text, Fill::Ffill).unwrap();
        assert_eq!(s.target, [1.0, 1.0, 1.0, 1.0, 4.0, 4.0]);
        assert!(series("date,v\n1,\n2,\n", Fill::Ffill).is_err());
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(table("").unwrap_err().to_string().contains("empty file"));
        assert!(table("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
        assert!(table("a,b\n1,2,3\n")
            .unwrap_err()
            .to_string()
            .contains(":2:"));
        let e = series("x,w\n1,2\n", Fill::None).unwrap_err().to_string();
        assert!(e.contains("\"v\"") && e.contains("x, w"), "{e}");
    }

    #[test]
    fn normalisation_is_fitted_on_training_rows_only() {
        let y: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let train = &y[..6]; // 0..5: mean 2.5, std sqrt(35/12)
        let p = Pipeline::fit(train, &[], Transform::None, &[], ("v", &[])).unwrap();
        assert!((p.mean - 2.5).abs() < 1e-12);
        assert!((p.std - (35.0f64 / 12.0).sqrt()).abs() < 1e-12);
        // changing the test rows changes nothing
        let mut y2 = y.clone();
        y2[8] = 1e6;
        let p2 = Pipeline::fit(&y2[..6], &[], Transform::None, &[], ("v", &[])).unwrap();
        assert_eq!(p, p2);
        // constant series
        assert!(
            Pipeline::fit(&[3.0; 8], &[], Transform::None, &[], ("v", &[]))
                .unwrap_err()
                .to_string()
                .contains("constant")
        );
    }

    #[test]
    fn log_and_differences_round_trip() {
        let y: Vec<f64> = (1..=40)
            .map(|i| 100.0 + i as f64 * 3.0 + (i % 12) as f64 * 5.0)
            .collect();
        let p = Pipeline::fit(&y[..30], &[], Transform::Log, &[1, 12], ("v", &[])).unwrap();
        let enc = p.encode(&y, &[]).unwrap();
        assert_eq!(enc.len(), 40 - 13);
        // the encoded future decoded from the history gives the future back
        let back = p.decode(&y[..30], &enc[30 - 13..]).unwrap();
        for (b, t) in back.iter().zip(&y[30..]) {
            assert!((b - t).abs() < 1e-9, "{b} vs {t}");
        }
    }

    #[test]
    fn window_construction() {
        let w = windows(6, 3, 2);
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0],
            Window {
                input: 0..3,
                target: 3..5
            }
        );
        assert_eq!(
            w[1],
            Window {
                input: 1..4,
                target: 4..6
            }
        );
        assert!(windows(4, 3, 2).is_empty());
        assert_eq!(eval_origins(10, 5, 1).len(), 5);
        assert_eq!(eval_origins(10, 5, 2), [(5, 2), (7, 2), (9, 1)]);
        assert_eq!(eval_origins(144, 24, 24), [(120, 24)]);
    }

    #[test]
    fn metrics_by_hand() {
        let f = [1.0, 2.0, 4.0];
        let a = [2.0, 2.0, 1.0];
        assert!((rmse(&f, &a) - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mae(&f, &a) - 4.0 / 3.0).abs() < 1e-12);
        // naive in-sample MAE of 1, 3, 2, 6: (2 + 1 + 4) / 3
        let scale = mase_scale(&[1.0, 3.0, 2.0, 6.0], 1).unwrap();
        assert!((scale - 7.0 / 3.0).abs() < 1e-12);
        // seasonal (S = 2): (|2-1| + |6-3|) / 2 = 2
        assert!((mase_scale(&[1.0, 3.0, 2.0, 6.0], 2).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(naive(&[1.0, 5.0], 2), [5.0, 5.0]);
        assert_eq!(
            seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 5, 3),
            [2.0, 3.0, 4.0, 2.0, 3.0]
        );
    }

    #[test]
    fn time_labels() {
        let m: Vec<String> = ["1960-11", "1960-12"].map(String::from).to_vec();
        assert_eq!(extend_time(&m, 2), ["1961-01", "1961-02"]);
        assert_eq!(default_season(&m), 12);
        let y: Vec<String> = ["2007", "2008"].map(String::from).to_vec();
        assert_eq!(extend_time(&y, 1), ["2009"]);
        assert_eq!(default_season(&y), 1);
        let d: Vec<String> = ["19580419", "19580426"].map(String::from).to_vec();
        assert_eq!(extend_time(&d, 1), ["19580503"]);
        let q: Vec<String> = ["1999-Q4", "2000-Q1"].map(String::from).to_vec();
        assert_eq!(extend_time(&q, 1), ["2000-Q2"]);
        assert_eq!(default_season(&q), 4);
        let x: Vec<String> = ["a", "b"].map(String::from).to_vec();
        assert_eq!(extend_time(&x, 1), ["b+1"]);
        assert!((time_axis(&m)[1] - time_axis(&m)[0] - 1.0 / 12.0).abs() < 1e-9);
    }
}
