//! Weka's `.arff` layout, as the UEA/UCR archive ships every set besides
//! `.ts` (`GunPoint_TRAIN.arff`, `BasicMotions_TRAIN.arff`).
//!
//! ```text
//! % comment                         univariate: one numeric attribute per step,
//! @relation Gun_Point               the class attribute last
//! @attribute att0 numeric
//! @attribute att1 numeric
//! @attribute target {1,2}
//! @data
//! -0.64,-0.63,2
//! ```
//!
//! A multivariate set has one `relational` attribute holding the series:
//! each data line is a quoted string of the dimensions, separated by a
//! written `\n`, each dimension's values separated by commas, then the
//! class (`'0.1,0.2\n1.5,1.4',Walking`). The class attribute's declared
//! values (`{1,2}`) are the classes, in that order. `?` is a missing value;
//! missing values at the end of every dimension pad a shorter series,
//! missing values before them are gaps, filled as `--fill` says. Header
//! keywords are read in any case.

use super::data::{parse_value, Dataset, RawSequence};
use super::fill::Fill;
use crate::{Error, Result};
use std::path::Path;

/// The classes declared by a nominal attribute `{a, b, 'c d'}`, if it is one.
fn nominal(decl: &str) -> Option<Vec<String>> {
    let inner = decl.trim().strip_prefix('{')?.strip_suffix('}')?;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
    Some(
        inner
            .split(',')
            .map(unquote)
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// The quoted string at the start of `t` and the rest after its closing
/// quote, or `None` when `t` does not start with a quote or it is not closed.
fn quoted(t: &str) -> Option<(&str, &str)> {
    let q = t.chars().next().filter(|&c| c == '\'' || c == '"')?;
    let end = t[1..].find(q)? + 1;
    Some((&t[1..end], &t[end + 1..]))
}

impl Dataset {
    /// Parses `.arff` text (see the module documentation); errors are one
    /// line naming the line at fault. `dims`: the frame size a model
    /// expects, if any.
    ///
    /// ```
    /// use rnn::tasks::classify::{Dataset, Fill};
    /// let text = "@relation toy\n@attribute s relational\n@attribute class {walk,run}\n@data\n\
    ///             '1,2,3\\n4,?,6',run\n'7,8\\n9,10',walk\n";
    /// let d = Dataset::parse_arff(std::path::Path::new("toy.arff"), text, Fill::Linear, None)?;
    /// assert_eq!((d.dims, d.len(), d.filled), (2, 2, 1));
    /// assert_eq!(d.sequences[0].values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]); // [T, D]
    /// assert_eq!(d.classes, ["walk", "run"]);
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn parse_arff(path: &Path, text: &str, fill: Fill, dims: Option<usize>) -> Result<Dataset> {
        let err = Error::parse_in(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // (name, type, line) of each attribute, in order
        let mut attrs: Vec<(String, String, usize)> = Vec::new();
        let (mut in_data, mut problem) = (false, None);
        // fixed by the first series: (dimensions, line)
        let mut layout: Option<(usize, usize)> = None;
        let mut declared: Option<Vec<String>> = None;
        // whether the series is one relational attribute (multivariate)
        let mut relational = false;
        let mut raw = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let (n, t) = (i + 1, line.trim());
            if t.is_empty() || t.starts_with('%') {
                continue;
            }
            if !in_data {
                let (key, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                match key.to_ascii_lowercase().as_str() {
                    "@relation" => problem = Some(rest.trim().trim_matches('\'').to_string()),
                    "@attribute" => {
                        let rest = rest.trim();
                        let (name, ty) = match quoted(rest) {
                            Some((q, after)) => (q.to_string(), after.trim()),
                            None => match rest.split_once(char::is_whitespace) {
                                Some((a, b)) => (a.to_string(), b.trim()),
                                None => {
                                    return Err(err(n, format!("@attribute '{rest}' has no type")))
                                }
                            },
                        };
                        attrs.push((name, ty.to_string(), n));
                    }
                    "@data" => {
                        let Some((name, class, line)) = attrs.last() else {
                            return Err(err(n, "@data before any @attribute".into()));
                        };
                        declared = nominal(class);
                        // the class is the last attribute, nominal or a
                        // string: a numeric one made a class of every value
                        // (the CLI sweep of session 55)
                        let ty = class.trim().to_ascii_lowercase();
                        if declared.is_none() && ty != "string" {
                            let nominal_at = attrs
                                .iter()
                                .enumerate()
                                .find(|(_, (_, t, _))| nominal(t).is_some())
                                .map(|(k, (a, _, l))| {
                                    format!(
                                        " (the nominal attribute '{a}' of line {l} is attribute {} of {}: move it last)",
                                        k + 1,
                                        attrs.len()
                                    )
                                })
                                .unwrap_or_default();
                            return Err(err(
                                *line,
                                format!(
                                    "the last attribute '{name}' is {}: the class must be the last attribute, nominal ({{a,b}}) or string{nominal_at}",
                                    ty.split_whitespace().next().unwrap_or("untyped")
                                ),
                            ));
                        }
                        relational = attrs
                            .iter()
                            .any(|(_, ty, _)| ty.trim().eq_ignore_ascii_case("relational"));
                        in_data = true;
                    }
                    // a relational attribute's own attributes end with @end
                    "@end" => {}
                    _ => {
                        return Err(err(
                            n,
                            format!("'{t}' before @data (expected @relation, @attribute or @data)"),
                        ))
                    }
                }
                continue;
            }
            // the frames as dimensions x values, and the label
            let (rows, label): (Vec<Vec<&str>>, &str) = if relational {
                let Some((inside, after)) = quoted(t) else {
                    return Err(err(
                        n,
                        "expected a quoted series ('...\\n...') then the class".into(),
                    ));
                };
                let label = after.trim().strip_prefix(',').unwrap_or(after).trim();
                (
                    inside
                        .split("\\n")
                        .map(|d| d.split(',').collect())
                        .collect(),
                    label,
                )
            } else {
                if t.starts_with('{') {
                    return Err(err(
                        n,
                        "a sparse row ({index value, ...}) is not supported: write the file dense"
                            .into(),
                    ));
                }
                let fields: Vec<&str> = t.split(',').collect();
                if fields.len() != attrs.len() {
                    return Err(err(
                        n,
                        format!(
                            "{} fields, but the header declares {} attributes ({} values and the class)",
                            fields.len(),
                            attrs.len(),
                            attrs.len() - 1
                        ),
                    ));
                }
                let (label, values) = fields.split_last().unwrap_or((&"", &[]));
                (vec![values.to_vec()], label)
            };
            let label = label.trim().trim_matches(|c| c == '\'' || c == '"');
            if label.is_empty() {
                return Err(err(n, "the class is empty".into()));
            }
            // Weka's unknown class: a series to classify (training and
            // `rnn eval` refuse it, naming the line)
            let label = (label != "?").then_some(label);
            if let Some(label) =
                label.filter(|l| declared.as_ref().is_some_and(|c| !c.iter().any(|x| x == l)))
            {
                let c = declared.as_deref().unwrap_or_default();
                return Err(err(
                    n,
                    format!(
                        "class '{label}' is not one of the declared {{{}}}",
                        c.join(",")
                    ),
                ));
            }
            let d = rows.len();
            let (want, first) = *layout.get_or_insert((dims.unwrap_or(d), n));
            if d != want {
                return Err(err(
                    n,
                    match (dims, first == n) {
                        (Some(_), true) => format!(
                            "{}, but the model reads {want}",
                            crate::tasks::counted(d, "dimension", "dimensions")
                        ),
                        _ => format!(
                            "{}, expected {want} (as on line {first})",
                            crate::tasks::counted(d, "dimension", "dimensions")
                        ),
                    },
                ));
            }
            let mut cols = Vec::with_capacity(d);
            for (k, r) in rows.iter().enumerate() {
                let v = r
                    .iter()
                    .enumerate()
                    .map(|(j, f)| {
                        parse_value(f).map_err(|e| {
                            err(n, format!("dimension {}, value {}: {e}", k + 1, j + 1))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                cols.push(v);
            }
            let len = cols[0].len();
            if let Some(k) = cols.iter().position(|c| c.len() != len) {
                return Err(err(
                    n,
                    format!(
                        "dimension {} has {}, dimension 1 has {len}",
                        k + 1,
                        crate::tasks::counted(cols[k].len(), "value", "values")
                    ),
                ));
            }
            // steps missing in every dimension at the end pad a shorter series
            let steps = (0..len)
                .rev()
                .find(|&s| cols.iter().any(|c| c[s].is_some()))
                .map_or(0, |s| s + 1);
            if steps == 0 {
                return Err(err(n, "no values (every value is missing)".into()));
            }
            raw.push(RawSequence {
                values: (0..steps)
                    .flat_map(|s| cols.iter().map(move |c| c[s]))
                    .collect(),
                steps,
                label: label.map(str::to_string),
                line: n,
                id: (raw.len() + 1).to_string(),
            });
        }
        if !in_data {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "no @data line".into(),
            });
        }
        let d = layout.map_or(dims.unwrap_or(1), |l| l.0);
        Dataset::from_raw(path, raw, d, fill, declared, problem)
    }
}
