//! A numeric target series with its features and time labels, read from a
//! CSV table.

use super::calendar::{check_time_order, understood, uneven_time_step};
use super::pipeline::Transform;
use super::table::{RowFilter, Table};
use crate::tasks::fill::{fill_gaps, is_missing, read_number, Fill, Unreadable};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Parses one numeric column; gaps are `None`. Non-numeric text is an error
/// naming the line and column whatever `fill` says; gaps are errors unless
/// `fill` is not [`Fill::None`].
/// Why a value past `f32`'s range is refused (the reading's and
/// [`Series::check_values`]' words).
const BEYOND: &str = "is beyond the range of 32-bit floats (±3.4e38) the model computes in";

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
        // the network computes in f32: a value past its range would
        // overflow the normalisation's statistics or the model's output
        let why = match read_number(cell, f32::MAX as f64) {
            Ok(v) => {
                out.push(Some(v));
                continue;
            }
            Err(Unreadable::Beyond) => BEYOND,
            Err(Unreadable::NotFinite) => "is not a finite number",
            Err(Unreadable::NotANumber) => "is not a number",
        };
        // a cell of a whole line's length is shown by its start
        let shown: String = match cell.char_indices().nth(40) {
            Some((at, _)) => format!("{}…", &cell[..at]),
            None => cell.to_string(),
        };
        return Err(Error::Parse {
            path: table.path.clone(),
            line,
            reason: format!("column {name:?}: {shown:?} {why}"),
        });
    }
    Ok(out)
}

/// Which column holds the time stamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeColumn {
    /// The first column, if it is not the target or a feature and it is named
    /// like a time (contains date, year, time, month, week, day, period,
    /// quarter) or holds a non-numeric value; otherwise none. An unnamed
    /// first column (pandas' index, [`super::Table::index`]) is the time
    /// column, unless it holds the row numbers (0, 1, 2, ... or 1, 2, 3,
    /// ...): then the second column is taken by the same rule. When that
    /// column (or, without one, the table) is a `year` or `month` (or
    /// `quarter`) column and the table has the other one too, the two make
    /// the labels `YYYY-MM` (`YYYYQn`), named `year+month` (see
    /// [`TimeColumn::Named`]); months may be numbers or names (`Jan`,
    /// `January`). When a cell does not join (not a whole year, not a month
    /// from 1 to 12 or a quarter from 1 to 4) the column found is taken
    /// alone, with a warning naming the cell.
    Auto,
    /// This column; or two joined by `+`, a year column and a month or
    /// quarter one (`year+month`, `Year+Quarter`): labels `YYYY-MM` or
    /// `YYYYQn` (R and Stata frames often keep them apart).
    Named(String),
    /// No time column: rows are labelled 0, 1, 2, ...
    None,
}

/// A numeric target series, optional input features and time labels.
///
/// ```
/// use rnn::tasks::forecast::{Fill, Series, Table, TimeColumn};
/// use std::path::Path;
/// let csv = "Month,Passengers\n1949-01,112\n1949-02,\n1949-03,132\n";
/// let table = Table::parse(Path::new("air.csv"), csv)?;
/// let s = Series::from_table(&table, "Passengers", &[], &TimeColumn::Auto, Fill::Linear)?;
/// assert_eq!(s.time_name.as_deref(), Some("Month")); // named like a time
/// assert_eq!(s.target, [112.0, 122.0, 132.0]); // the gap interpolated
/// assert_eq!(s.filled, 1);
/// // without --fill, a gap is an error naming its line and column
/// let e = Series::from_table(&table, "Passengers", &[], &TimeColumn::Auto, Fill::None);
/// assert!(e.unwrap_err().to_string().starts_with("air.csv:3: column \"Passengers\""));
/// # Ok::<(), rnn::Error>(())
/// ```
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
    /// The rows whose target value was a gap, filled (0-based): a score
    /// on them compares forecasts with made-up values.
    pub target_filled: Vec<usize>,
    /// What reading found odd without stopping, one line each, naming the
    /// file and line (time labels unevenly spaced): shown as warnings.
    pub warnings: Vec<String>,
}

fn looks_like_time(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "date", "year", "time", "month", "week", "day", "period", "quarter",
    ]
    .iter()
    .any(|k| n.contains(k))
}

/// Where the time labels come from: one column, or a year column and a
/// month (12 parts) or quarter (4 parts) column.
#[derive(Clone, Copy)]
enum TimeSource {
    One(usize),
    Joined {
        year: usize,
        part: usize,
        parts: u32,
    },
}

/// When the time runs back at `row` because the file holds several series
/// one after another (long or "tidy" data: `symbol,date,price`), the text
/// column that changes there and keeps its new value on the next row, said
/// as a hint to add to an order error; else nothing.
fn series_change(table: &Table, row: usize, time: TimeSource) -> String {
    let is_time = |c: usize| match time {
        TimeSource::One(t) => c == t,
        TimeSource::Joined { year, part, .. } => c == year || c == part,
    };
    let (Some(before), Some(here)) = (
        row.checked_sub(1).and_then(|r| table.rows.get(r)),
        table.rows.get(row),
    ) else {
        return String::new();
    };
    (0..table.columns.len())
        .find(|&c| {
            !is_time(c)
                && before[c].trim() != here[c].trim()
                && here[c].trim().parse::<f64>().is_err()
                && !is_missing(here[c].trim())
                // a series' key holds for a run of rows (a column of values
                // that change every row, `25,01` then `24,92`, is no key)
                && table
                    .rows
                    .get(row + 1)
                    .is_none_or(|next| next[c].trim() == here[c].trim())
        })
        .map_or_else(String::new, |c| {
            format!(
                " (column {:?} changes from {:?} to {:?} on this row: the file holds several series one after another; keep the rows of one, e.g. with --where {}={})",
                table.columns[c],
                before[c].trim(),
                here[c].trim(),
                table.columns[c],
                here[c].trim()
            )
        })
}

/// The parts of a year a column named `name` counts: 12 for `month`, 4 for
/// `quarter` (any case); `None` for other names.
fn year_parts(name: &str) -> Option<u32> {
    match name.trim().to_ascii_lowercase().as_str() {
        "month" => Some(12),
        "quarter" | "qtr" => Some(4),
        _ => None,
    }
}

/// The labels `YYYY-MM` (12 parts) or `YYYYQn` (4) of the year column
/// `year` and the month or quarter column `part`; the error is the row and
/// what is wrong with its cell.
fn joined_labels(
    table: &Table,
    year: usize,
    part: usize,
    parts: u32,
) -> std::result::Result<Vec<String>, (usize, String)> {
    let whole = |row: usize, col: usize| -> std::result::Result<i64, (usize, String)> {
        let cell = table.rows[row][col].trim();
        cell.parse::<f64>()
            .ok()
            .filter(|v| v.fract() == 0.0 && v.abs() < 1e6)
            .map(|v| v as i64)
            .ok_or_else(|| {
                (
                    row,
                    format!(
                        "column {:?}: {cell:?} is not a whole number",
                        table.columns[col]
                    ),
                )
            })
    };
    (0..table.rows.len())
        .map(|row| {
            let named = (parts == 12)
                .then(|| super::calendar::month_of_name(&table.rows[row][part]))
                .flatten();
            let y = whole(row, year)?;
            let p = match named {
                Some(m) => m as i64,
                None => whole(row, part)?,
            };
            if !(1..=i64::from(parts)).contains(&p) {
                return Err((
                    row,
                    format!(
                        "column {:?}: {p} is not a {} from 1 to {parts}",
                        table.columns[part],
                        if parts == 12 { "month" } else { "quarter" }
                    ),
                ));
            }
            Ok(if parts == 12 {
                format!("{y:04}-{p:02}")
            } else {
                format!("{y:04}Q{p}")
            })
        })
        .collect()
}

/// The year and month (or quarter) columns of `table` for the time name
/// `name` (`year+month`, either order), or, with `name` `None`, the columns
/// named so in the table; `None` when there are not both.
fn joined_source(table: &Table, name: Option<&str>) -> Option<TimeSource> {
    let find = |n: &str| {
        table
            .columns
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(n.trim()))
    };
    let cols: Vec<usize> = match name {
        Some(n) => n.split('+').map(find).collect::<Option<Vec<_>>>()?,
        None => table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.trim().eq_ignore_ascii_case("year") || year_parts(c).is_some())
            .map(|(i, _)| i)
            .collect(),
    };
    let [a, b] = cols[..] else {
        return None;
    };
    let is_year = |c: usize| table.columns[c].trim().eq_ignore_ascii_case("year");
    let (year, part) = if is_year(a) { (a, b) } else { (b, a) };
    let parts = year_parts(&table.columns[part])?;
    is_year(year).then_some(TimeSource::Joined { year, part, parts })
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
        let line = |row: usize| table.lines.get(row).copied().unwrap_or(row + 2);
        // the joined labels the automatic choice checked, kept for below
        let (mut not_joined, mut checked) = (None, None);
        let time_col = match time {
            TimeColumn::None => None,
            TimeColumn::Named(n) => match table.column(n) {
                Ok(c) => Some(TimeSource::One(c)),
                Err(e) => match n.contains('+').then(|| joined_source(table, Some(n))) {
                    Some(Some(j)) => Some(j),
                    Some(None) => {
                        return Err(Error::Config(format!(
                            "--time {n:?}: two columns joined by '+' are a year column and a month or quarter one (e.g. year+month); the columns are: {}",
                            table.columns.join(", ")
                        )))
                    }
                    None => return Err(e),
                },
            },
            TimeColumn::Auto => {
                // numbers, gaps (`NA`) allowed: a data column, not labels
                // (R's `airquality`: an index, then `Ozone` with NA cells)
                let numeric = |c: usize| {
                    table.rows.iter().all(|r| {
                        let v = r[c].trim();
                        v.parse::<f64>().is_ok() || is_missing(v)
                    })
                };
                let free = |c: usize| c != tcol && !fcols.contains(&c);
                // pandas' unnamed index: the time labels of a time-indexed
                // frame (years, dates), or mere row numbers, and then the
                // time column is looked for in the next column
                let row_numbers = table.index
                    && (0..table.rows.len()).all(|i| {
                        let v = table.rows[i][0].trim();
                        v == i.to_string() || v == (i + 1).to_string() || v.is_empty()
                    });
                let first = usize::from(row_numbers);
                let single = (first < table.columns.len()
                    && free(first)
                    && ((table.index && first == 0)
                        || looks_like_time(&table.columns[first])
                        || !numeric(first)))
                .then_some(first);
                // when that column's labels are not times (or there is none),
                // a later column named like a time whose every label is one
                // (`temp,date` with dates; `symbol,date,price`)
                let labels_of = |c: usize| -> Vec<String> {
                    table.rows.iter().map(|r| r[c].trim().to_string()).collect()
                };
                // After an index of row names that are not times (R's
                // `"O1"` among empty names), whole numbers running forward
                // in a column named like a time (a year) are taken too.
                let forward = |c: usize| {
                    let v: Vec<Option<i64>> =
                        table.rows.iter().map(|r| r[c].trim().parse().ok()).collect();
                    v.windows(2).all(|w| matches!(w, [Some(a), Some(b)] if b > a))
                };
                let single = match single {
                    Some(c) if understood(&labels_of(c)) => Some(c),
                    other => (0..table.columns.len())
                        .find(|&c| {
                            free(c)
                                && looks_like_time(&table.columns[c])
                                && (!numeric(c) || (table.index && other == Some(0) && forward(c)))
                                && understood(&labels_of(c))
                        })
                        .or(other),
                };
                // a year and a month (quarter) column, when the column found
                // is one of them or none was found
                let joined = joined_source(table, None).filter(|j| match *j {
                    TimeSource::Joined { year, part, .. } => {
                        free(year) && free(part) && single.is_none_or(|c| c == year || c == part)
                    }
                    TimeSource::One(_) => false,
                });
                // a join that fails falls back to the column found, with a
                // warning naming the cell (a file that loaded before still does)
                match joined {
                    Some(TimeSource::Joined { year, part, parts }) => {
                        match joined_labels(table, year, part, parts) {
                            Ok(l) => {
                                checked = Some(l);
                                joined
                            }
                            Err((row, why)) => {
                                not_joined = Some(format!(
                                    "{}:{}: {why}: the columns {:?} and {:?} are not joined into time labels",
                                    table.path.display(),
                                    line(row),
                                    table.columns[year],
                                    table.columns[part]
                                ));
                                single.map(TimeSource::One)
                            }
                        }
                    }
                    _ => single.map(TimeSource::One),
                }
            }
        };
        if let Some(TimeSource::Joined { year, part, .. }) = time_col {
            if [year, part].contains(&tcol) || fcols.contains(&year) || fcols.contains(&part) {
                return Err(Error::Config(format!(
                    "the time columns {:?} and {:?} cannot also be the target or a feature",
                    table.columns[year], table.columns[part]
                )));
            }
        }
        let filled_column = |c: usize, raw: &[Option<f64>]| -> Result<(Vec<f64>, usize)> {
            fill_gaps(raw, fill).map_err(|reason| Error::Data {
                path: table.path.clone(),
                reason: format!("column {:?}: {reason}", table.columns[c]),
            })
        };
        let column = |c: usize| filled_column(c, &numeric_column(table, c, fill)?);
        let labels: Vec<String> = match time_col {
            Some(TimeSource::One(c)) => {
                table.rows.iter().map(|r| r[c].trim().to_string()).collect()
            }
            Some(TimeSource::Joined { year, part, parts }) => match checked {
                Some(labels) => labels,
                None => joined_labels(table, year, part, parts).map_err(|(row, reason)| {
                    Error::Parse {
                        path: table.path.clone(),
                        line: line(row),
                        reason,
                    }
                })?,
            },
            None => (0..table.rows.len()).map(|i| i.to_string()).collect(),
        };
        let time_name = time_col.map(|t| match t {
            TimeSource::One(c) => table.columns[c].clone(),
            TimeSource::Joined { year, part, .. } => {
                format!("{}+{}", table.columns[year], table.columns[part])
            }
        });
        let mut warnings: Vec<String> = table.warnings.iter().cloned().chain(not_joined).collect();
        if let (Some(t), Some(name)) = (time_col, &time_name) {
            let ints = match t {
                TimeSource::One(c) => {
                    matches!(time, TimeColumn::Named(_)) || looks_like_time(&table.columns[c])
                }
                TimeSource::Joined { .. } => false,
            };
            check_time_order(&labels, ints).map_err(|(row, reason)| Error::Parse {
                path: table.path.clone(),
                line: line(row),
                reason: format!(
                    "time column {name:?}: {reason}{}",
                    series_change(table, row, t)
                ),
            })?;
            if let Some((row, why)) = uneven_time_step(&labels, ints) {
                warnings.push(format!(
                    "{}:{}: time column {name:?}: {why}",
                    table.path.display(),
                    line(row)
                ));
            }
        }
        let raw = numeric_column(table, tcol, fill)?;
        let target_filled = (0..raw.len()).filter(|&i| raw[i].is_none()).collect();
        let (y, mut filled) = filled_column(tcol, &raw)?;
        let mut feats = Vec::new();
        for &c in &fcols {
            let (v, n) = column(c)?;
            filled += n;
            feats.push(v);
        }
        Ok(Series {
            path: table.path.clone(),
            time_name,
            time: labels,
            target_name: table.columns[tcol].clone(),
            target: y,
            feature_names: fcols.iter().map(|&c| table.columns[c].clone()).collect(),
            features: feats,
            filled,
            target_filled,
            warnings,
        })
    }

    /// Reads a comma-separated file; see [`Series::from_table`].
    pub fn read(
        path: &Path,
        target: &str,
        features: &[String],
        time: &TimeColumn,
        fill: Fill,
    ) -> Result<Series> {
        Series::read_delimited(path, b',', target, features, time, fill)
    }

    /// Reads a CSV file whose fields are separated by `delimiter`; see
    /// [`Series::from_table`].
    pub fn read_delimited(
        path: &Path,
        delimiter: u8,
        target: &str,
        features: &[String],
        time: &TimeColumn,
        fill: Fill,
    ) -> Result<Series> {
        Series::read_rows(path, delimiter, None, target, features, time, fill)
    }

    /// [`Series::read_delimited`] of the rows `rows` keeps (one series of a
    /// file of several, [`Table::keep_rows`]); all rows without it.
    pub fn read_rows(
        path: &Path,
        delimiter: u8,
        rows: Option<&RowFilter>,
        target: &str,
        features: &[String],
        time: &TimeColumn,
        fill: Fill,
    ) -> Result<Series> {
        let mut table = Table::read_with(path, delimiter)?;
        if let Some(f) = rows {
            table.keep_rows(f)?;
        }
        Series::from_table(&table, target, features, time, fill)
    }

    /// A series of `values` named `name`, without features; rows are
    /// labelled 0, 1, 2, ... (`name` also stands for the file in errors).
    pub fn from_values(name: &str, values: Vec<f64>) -> Series {
        Series {
            path: PathBuf::from(name),
            time_name: None,
            time: (0..values.len()).map(|i| i.to_string()).collect(),
            target_name: name.to_string(),
            target: values,
            feature_names: Vec::new(),
            features: Vec::new(),
            filled: 0,
            target_filled: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Checks that every target value is in the domain of `transform`
    /// (positive for log, non-negative for sqrt); the error names the file,
    /// the column, the row and its time label.
    ///
    /// ```
    /// use rnn::tasks::forecast::{Series, Transform};
    /// let s = Series::from_values("v", vec![3.0, 0.0, 2.0]);
    /// assert!(s.check_domain(Transform::Sqrt).is_ok());
    /// let e = s.check_domain(Transform::Log).unwrap_err().to_string();
    /// assert_eq!(e, "v: column \"v\", data row 2 (time 1): 0 is not positive, as --transform log needs");
    /// ```
    pub fn check_domain(&self, transform: Transform) -> Result<()> {
        let Some(i) = self
            .target
            .iter()
            .position(|&v| transform.apply(v).is_none())
        else {
            return Ok(());
        };
        let need = match transform {
            Transform::Log => "positive, as --transform log needs",
            _ => "non-negative, as --transform sqrt needs",
        };
        Err(Error::Data {
            path: self.path.clone(),
            reason: format!(
                "{}: {} is not {need}",
                self.cell(&self.target_name, i),
                self.target[i]
            ),
        })
    }

    /// Checks that every target and feature value is finite and within the
    /// range of `f32` (about ±3.4e38, what the network computes in), as
    /// reading a file does; for a series built by [`Series::from_values`]
    /// or by hand. The error names the file, the column, the row and its
    /// time label.
    ///
    /// ```
    /// use rnn::tasks::forecast::Series;
    /// assert!(Series::from_values("v", vec![1.0, -2.5e38]).check_values().is_ok());
    /// let e = Series::from_values("v", vec![1.0, f64::NAN]).check_values().unwrap_err();
    /// assert_eq!(e.to_string(), "v: column \"v\", data row 2 (time 1): NaN is not a finite number");
    /// let e = Series::from_values("v", vec![1e300]).check_values().unwrap_err();
    /// assert!(e.to_string().ends_with("1e300 is beyond the range of 32-bit floats (±3.4e38) the model computes in"));
    /// ```
    pub fn check_values(&self) -> Result<()> {
        self.check_shape()?;
        match self.bad_value(self.len()) {
            Some(reason) => Err(Error::Data {
                path: self.path.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Checks that the columns agree (its fields are public, so a series
    /// made by hand can hold a time label, feature values or a gap's row
    /// number for rows it does not have): one time label per target value,
    /// one name and `N` values per feature column, filled rows below `N`.
    ///
    /// ```
    /// use rnn::tasks::forecast::Series;
    /// let mut s = Series::from_values("v", vec![1.0, 2.0, 3.0]);
    /// assert!(s.check_shape().is_ok());
    /// s.time.truncate(1);
    /// let e = s.check_shape().unwrap_err();
    /// assert_eq!(e.to_string(), "v: series.time has 1 labels: expected one per row (3)");
    /// ```
    pub fn check_shape(&self) -> Result<()> {
        let n = self.len();
        let bad = |reason: String| {
            Err(Error::Data {
                path: self.path.clone(),
                reason,
            })
        };
        if self.time.len() != n {
            return bad(format!(
                "series.time has {} labels: expected one per row ({n})",
                self.time.len()
            ));
        }
        if self.feature_names.len() != self.features.len() {
            return bad(format!(
                "series.feature_names has {} names for {} feature columns",
                self.feature_names.len(),
                self.features.len()
            ));
        }
        if let Some((f, col)) = self.features.iter().enumerate().find(|(_, c)| c.len() != n) {
            return bad(format!(
                "series.features[{f}] has {} values: expected one per row ({n})",
                col.len()
            ));
        }
        if let Some(r) = self.target_filled.iter().find(|&&r| r >= n) {
            return bad(format!(
                "series.target_filled names row {r}: the series has {n} rows"
            ));
        }
        Ok(())
    }

    /// The first target or feature value in rows `0..rows` that is not
    /// finite or is past `f32`'s range, as "column .., data row .. (time
    /// ..): VALUE why"; `None` when every one is fine.
    pub(crate) fn bad_value(&self, rows: usize) -> Option<String> {
        let columns = std::iter::once((&self.target_name, &self.target))
            .chain(self.feature_names.iter().zip(&self.features));
        for (name, values) in columns {
            let values = &values[..rows.min(values.len())];
            let Some(i) = values
                .iter()
                .position(|v| !v.is_finite() || v.abs() > f32::MAX as f64)
            else {
                continue;
            };
            let v = values[i];
            let why = if v.is_finite() {
                BEYOND
            } else {
                "is not a finite number"
            };
            return Some(format!("{}: {v:e} {why}", self.cell(name, i)));
        }
        None
    }

    /// Where value `i` of column `name` is, as errors name it: `column
    /// "v", data row 3 (time 2001)`.
    fn cell(&self, name: &str, i: usize) -> String {
        format!(
            "column {name:?}, data row {} (time {})",
            i + 1,
            self.time.get(i).map_or("?", String::as_str)
        )
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

#[cfg(test)]
mod tests;
