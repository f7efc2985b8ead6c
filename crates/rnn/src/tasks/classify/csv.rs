//! The long CSV layout: one row per step of a series.
//!
//! ```text
//! series_id,step,f1,f2,label      a header line (optional: recognised by a
//! walk-1,0,0.5,1.2,walk            non-numeric step field)
//! walk-1,1,0.6,,walk              an empty, ?, NA or NaN cell is missing
//! run-7,0,2.5,0.1,run
//! ```
//!
//! Rows of a series need not be adjacent or in order: they are sorted by
//! their (numeric) step, and read as consecutive frames whatever the steps'
//! spacing; steps with gaps (a difference over 1.5 times the file's median
//! one) are warned of ([`Dataset::warnings`]). Series come in the order of their first row. The
//! label column is the last one and must be the same on every row of a
//! series; files without labels (for prediction) have no label column, told
//! apart by the dimensions the model expects. Fields are split at commas
//! (a field may be wrapped in double quotes, without commas inside).

use super::data::{parse_value, Dataset, RawSequence};
use super::fill::Fill;
use crate::tasks::counted;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(s)
}

/// One series while its rows are collected.
struct Rows {
    first_line: usize,
    label: Option<String>,
    /// (step, line, values)
    rows: Vec<(f64, usize, Vec<Option<f64>>)>,
}

/// When a line of too few columns holds `;`, a tab or `|`: the note that
/// this layout's fields are separated by commas; else nothing.
fn comma_hint(line: &str) -> String {
    match [';', '\t', '|'].into_iter().find(|&c| line.contains(c)) {
        Some('\t') => " (the fields are separated by commas; this line holds tabs)".into(),
        Some(c) => format!(" (the fields are separated by commas; this line holds '{c}')"),
        None => String::new(),
    }
}

impl Dataset {
    /// Parses long-layout CSV text (see the module documentation);
    /// errors are one line naming the line at fault. `dims`: the frame size
    /// a model expects, if any (without it the last column is the label).
    pub fn parse_csv(path: &Path, text: &str, fill: Fill, dims: Option<usize>) -> Result<Dataset> {
        Self::parse_csv_named(path, text, fill, dims, &[])
    }

    /// [`Dataset::parse_csv`] for a model whose training file's header
    /// named its value columns `names` ([`Dataset::columns`]): a file with
    /// a header is read by those names, in the model's order, whatever
    /// order its columns are in; one more column is the label. A name
    /// missing from the header, or columns left over, is an error naming
    /// them. Without a header (or `names` empty), by position.
    ///
    /// ```
    /// use rnn::tasks::classify::{Dataset, Fill};
    /// let names = ["x".to_string(), "y".to_string()];
    /// let text = "id,t,label,y,x\ns,0,up,5,0.1\ns,1,up,6,0.2\n";
    /// let d = Dataset::parse_csv_named("t.csv".as_ref(), text, Fill::Linear, Some(2), &names)?;
    /// assert_eq!(d.sequences[0].values, [0.1, 5.0, 0.2, 6.0]); // x, y
    /// assert_eq!(d.sequences[0].label.as_deref(), Some("up"));
    /// let e = Dataset::parse_csv_named("t.csv".as_ref(), "id,t,x,label\n", Fill::Linear, Some(2), &names);
    /// assert!(e.unwrap_err().to_string().contains("no column 'y'"));
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn parse_csv_named(
        path: &Path,
        text: &str,
        fill: Fill,
        dims: Option<usize>,
        names: &[String],
    ) -> Result<Dataset> {
        let err = Error::parse_in(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut layout: Option<usize> = None; // the columns of every line
                                              // the value columns in the model's order, and the label's column
        let mut picks: Vec<usize> = Vec::new();
        let mut label_col: Option<usize> = None;
        let mut columns: Vec<String> = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut series: HashMap<String, Rows> = HashMap::new();
        let mut first_row = true;
        for (i, line) in text.lines().enumerate() {
            let (n, t) = (i + 1, line.trim());
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = t.split(',').map(unquote).collect();
            let header = first_row && fields.get(1).is_some_and(|s| s.parse::<f64>().is_err());
            first_row = false;
            let cols = match layout {
                Some(c) => c,
                None if header && !names.is_empty() => {
                    (picks, label_col) = by_name(&fields, names).map_err(|e| err(n, e))?;
                    columns = names.to_vec();
                    *layout.insert(fields.len())
                }
                None => {
                    let c = fields.len();
                    let l = match dims {
                        Some(d) if c == d + 3 => (c, true),
                        Some(d) if c == d + 2 => (c, false),
                        Some(d) => return Err(err(n, format!(
                            "{}, expected series_id, step, the model's {d} feature column{} and optionally a label{}", counted(c, "column", "columns"), if d == 1 { "" } else { "s" }, comma_hint(t)
                        ))),
                        None if c >= 4 => (c, true),
                        None => return Err(err(n, format!(
                            "{}, expected series_id,step,features...,label (at least one feature){}", counted(c, "column", "columns"), comma_hint(t)
                        ))),
                    };
                    picks = (2..l.0 - usize::from(l.1)).collect();
                    label_col = l.1.then(|| l.0 - 1);
                    if header {
                        columns = picks.iter().map(|&k| fields[k].to_string()).collect();
                    }
                    *layout.insert(l.0)
                }
            };
            if fields.len() != cols {
                return Err(err(
                    n,
                    format!(
                        "{}, expected {cols} like the first line",
                        counted(fields.len(), "column", "columns")
                    ),
                ));
            }
            if header {
                continue;
            }
            let id = fields[0].to_string();
            if id.is_empty() {
                return Err(err(n, "empty series_id".into()));
            }
            let step = match fields[1].parse::<f64>() {
                Ok(s) if s.is_finite() => s,
                _ => return Err(err(n, format!("step '{}' is not a number", fields[1]))),
            };
            let values = picks
                .iter()
                .map(|&k| {
                    parse_value(fields[k]).map_err(|e| err(n, format!("column {}: {e}", k + 1)))
                })
                .collect::<Result<Vec<_>>>()?;
            let label = label_col.map(|k| fields[k].to_string());
            if label.as_deref() == Some("") {
                return Err(err(n, "empty class label".into()));
            }
            let s = series.entry(id.clone()).or_insert_with(|| {
                order.push(id.clone());
                Rows {
                    first_line: n,
                    label: label.clone(),
                    rows: Vec::new(),
                }
            });
            if s.label != label {
                return Err(err(
                    n,
                    format!(
                        "series {id}: label '{}' differs from '{}' on line {}",
                        label.unwrap_or_default(),
                        s.label.clone().unwrap_or_default(),
                        s.first_line
                    ),
                ));
            }
            s.rows.push((step, n, values));
        }
        if layout.is_none() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "no rows (expected series_id,step,features...,label)".into(),
            });
        }
        let dims = picks.len();
        let mut raw = Vec::with_capacity(order.len());
        // per series, its steps in order and the line of each
        let mut steps: Vec<(String, Vec<(f64, usize)>)> = Vec::with_capacity(order.len());
        for id in order {
            let Some(mut s) = series.remove(&id) else {
                continue;
            };
            s.rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            if let Some(w) = s.rows.windows(2).find(|w| w[0].0 == w[1].0) {
                let (a, b) = (w[0].1.min(w[1].1), w[0].1.max(w[1].1));
                return Err(err(
                    b,
                    format!("series {id}: step {} already on line {a}", w[0].0),
                ));
            }
            steps.push((id.clone(), s.rows.iter().map(|r| (r.0, r.1)).collect()));
            raw.push(RawSequence {
                steps: s.rows.len(),
                values: s.rows.into_iter().flat_map(|r| r.2).collect(),
                label: s.label,
                line: s.first_line,
                id,
            });
        }
        let mut d = Dataset::from_raw(path, raw, dims, fill, None, None)?;
        d.warnings.extend(gap_warning(path, &steps));
        d.columns = columns;
        Ok(d)
    }
}

/// The value columns of a header `fields` (series id, step, then the
/// others) for a model whose value columns were `names`: each name's column
/// in the model's order, and the label's, the one other column (none: a
/// file without labels). The error says which names are missing or which
/// columns are left over.
fn by_name(
    fields: &[&str],
    names: &[String],
) -> std::result::Result<(Vec<usize>, Option<usize>), String> {
    // names quoted and listed: 'a', 'b'
    fn listed<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
        let quoted: Vec<String> = names
            .into_iter()
            .map(|n| format!("'{}'", n.as_ref()))
            .collect();
        quoted.join(", ")
    }
    let mut picks = Vec::with_capacity(names.len());
    for name in names {
        match (2..fields.len()).find(|&k| fields[k] == name) {
            Some(k) => picks.push(k),
            None => {
                return Err(format!(
                    "no column '{name}' in the header (its columns: {}); the model reads the columns {} of its training file, found by name",
                    listed(fields),
                    listed(names)
                ))
            }
        }
    }
    let rest: Vec<usize> = (2..fields.len()).filter(|k| !picks.contains(k)).collect();
    match rest.as_slice() {
        [] => Ok((picks, None)),
        [label] => Ok((picks, Some(*label))),
        more => Err(format!(
            "columns {} are neither the model's value columns ({}) nor one label column",
            listed(more.iter().map(|&k| fields[k])),
            listed(names)
        )),
    }
}

/// The warning for series whose steps have gaps: a step more than 1.5 times
/// the median difference between consecutive steps (over the whole file)
/// after the one before it. `series`: each series' id and its steps (sorted)
/// with their lines.
fn gap_warning(path: &Path, series: &[(String, Vec<(f64, usize)>)]) -> Option<String> {
    let mut diffs: Vec<f64> = series
        .iter()
        .flat_map(|(_, s)| s.windows(2).map(|w| w[1].0 - w[0].0))
        .collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    let usual = diffs[diffs.len() / 2];
    // per series with a gap: its first gap (id, step before, step, line)
    let gapped: Vec<(&str, f64, f64, usize)> = series
        .iter()
        .filter_map(|(id, s)| {
            s.windows(2)
                .find(|w| w[1].0 - w[0].0 > 1.5 * usual)
                .map(|w| (id.as_str(), w[0].0, w[1].0, w[1].1))
        })
        .collect();
    let &(id, before, after, line) = gapped.first()?;
    let more = match gapped.len() - 1 {
        0 => String::new(),
        n => format!(" ({n} more series with gaps)"),
    };
    Some(format!(
        "{}: series {id}: step {after} (line {line}) follows step {before}, where steps are usually {usual} apart{more}; \
         rows are read as consecutive frames, gaps or not",
        path.display()
    ))
}
