//! The UEA/UCR archive's `.ts` format.
//!
//! ```text
//! # comments (or % ones) and blank lines anywhere
//! @problemName GunPoint          header fields: all optional, any order
//! @univariate true               (@dimensions N, @equalLength, @seriesLength N,
//! @classLabel true 1 2            @missing, @timeStamps; others are ignored)
//! @data
//! 0.1,0.2,?,0.4:1,1,1,2:1        one series per line: each dimension's values,
//! ```                            dimensions separated by `:`, the label last
//!
//! `?` marks a missing value. With `@timeStamps true` each value is written
//! `(time,value)`; the times are dropped. Without a `@classLabel` line the
//! last field is a label when the line has one field more than the
//! dimensions (from `@dimensions`, `@univariate`, or the model), or, when
//! neither says, whenever a line has at least two fields.

use super::data::{parse_value, Dataset, RawSequence};
use super::fill::Fill;
use crate::tasks::counted;
use crate::{Error, Result};
use std::path::Path;

/// What the header lines declared.
#[derive(Default)]
struct Header {
    problem: Option<String>,
    timestamps: bool,
    univariate: Option<bool>,
    dims: Option<usize>,
    equal_length: Option<bool>,
    length: Option<usize>,
    /// `@missing`, when given.
    missing: Option<bool>,
    /// `Some(None)`: `@classLabel false`; `Some(Some(labels))`: declared.
    labels: Option<Option<Vec<String>>>,
}

/// Splits on `sep` outside parentheses (time stamps may hold `:`/`,`).
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn boolean(v: &str) -> std::result::Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got '{v}'")),
    }
}

fn count(v: &str) -> std::result::Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got '{v}'")),
    }
}

impl Header {
    /// Reads one `@key value` line; `Ok(true)` for `@data`.
    fn read(&mut self, line: &str) -> std::result::Result<bool, String> {
        let (key, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let first = rest.split_whitespace().next().unwrap_or("");
        let name = key.to_ascii_lowercase();
        let ctx = |e: String| format!("{key}: {e}");
        match name.as_str() {
            "@data" => return Ok(true),
            "@problemname" => self.problem = Some(rest.to_string()),
            "@timestamps" => self.timestamps = boolean(first).map_err(ctx)?,
            "@missing" => self.missing = Some(boolean(first).map_err(ctx)?),
            "@univariate" => self.univariate = Some(boolean(first).map_err(ctx)?),
            "@dimension" | "@dimensions" => self.dims = Some(count(first).map_err(ctx)?),
            "@equallength" => self.equal_length = Some(boolean(first).map_err(ctx)?),
            "@serieslength" => self.length = Some(count(first).map_err(ctx)?),
            "@classlabel" => {
                let mut words = rest.split_whitespace();
                let on = boolean(words.next().unwrap_or("")).map_err(ctx)?;
                let labels: Vec<String> = words.map(String::from).collect();
                if on && labels.is_empty() {
                    return Err(format!("{key} true: expected the class labels after it"));
                }
                let mut seen = labels.clone();
                seen.sort();
                if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                    return Err(format!(
                        "{key}: class label '{}' listed twice (the labels are separated by spaces: a label cannot hold one; the long CSV layout's can)",
                        w[0]
                    ));
                }
                self.labels = Some(on.then_some(labels));
            }
            "@targetlabel" if boolean(first).unwrap_or(false) => {
                return Err(format!(
                    "{key} true: a regression file; classification needs @classLabel"
                ))
            }
            _ => {}
        }
        Ok(false)
    }

    /// The dimensions the header declares, checked for consistency.
    fn declared_dims(&self) -> std::result::Result<Option<usize>, String> {
        match (self.univariate, self.dims) {
            (Some(true), Some(d)) if d != 1 => Err(format!(
                "@univariate true but @dimensions {d}: the header contradicts itself"
            )),
            (Some(true), _) => Ok(Some(1)),
            (_, d) => Ok(d),
        }
    }
}

/// One dimension's values.
fn parse_dimension(s: &str, timestamps: bool) -> std::result::Result<Vec<Option<f64>>, String> {
    if !timestamps {
        return s.split(',').map(parse_value).collect();
    }
    split_outside(s, ',')
        .into_iter()
        .map(|cell| {
            let inner = cell
                .trim()
                .strip_prefix('(')
                .and_then(|c| c.strip_suffix(')'))
                .ok_or_else(|| format!("'{}' is not a (time,value) pair", cell.trim()))?;
            let value = inner.rsplit_once(',').map_or(inner, |(_, v)| v);
            parse_value(value)
        })
        .collect()
}

impl Dataset {
    /// Parses `.ts` text (see the module documentation); `path`
    /// names the file in errors, which are one line naming the line at
    /// fault. `dims`: the frame size a model expects, if any.
    pub fn parse_ts(path: &Path, text: &str, fill: Fill, dims: Option<usize>) -> Result<Dataset> {
        let err = Error::parse_in(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut h = Header::default();
        let (mut in_data, mut saw_header) = (false, false);
        // (dimensions, labelled, line) fixed by the first series
        let mut layout: Option<(usize, bool, usize)> = None;
        // what fixed the layout on its first line (for the mismatch error)
        let mut source = "the header says";
        let mut raw = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let (n, t) = (i + 1, line.trim());
            // `#` comments, and `%` ones (sktime's files: UnitTest's header)
            if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
                continue;
            }
            if t.starts_with('@') {
                if in_data {
                    return Err(err(n, format!("header line '{t}' after @data")));
                }
                saw_header = true;
                in_data = h.read(t).map_err(|e| err(n, e))?;
                continue;
            }
            if saw_header && !in_data {
                return Err(err(n, "a series before @data (header lines start with @; the series follow a line @data)".into()));
            }
            in_data = true;
            let fields = split_outside(t, ':');
            let (d, labelled, first) = match layout {
                Some(l) => l,
                None => {
                    let declared = h.declared_dims().map_err(|e| err(n, e))?;
                    let l =
                        infer_layout(&h, declared.or(dims), fields.len()).map_err(|e| err(n, e))?;
                    if let (None, true, Some(last)) = (&h.labels, l.1, fields.last()) {
                        // no header said there are labels
                        list_label(last, fields.len(), dims).map_err(|e| err(n, e))?;
                    }
                    if let (Some(want), Some(got)) = (dims, declared) {
                        if want != got {
                            return Err(err(
                                n,
                                format!(
                                    "the header declares {got} dimension{}; the model reads {want}",
                                    if got == 1 { "" } else { "s" }
                                ),
                            ));
                        }
                    }
                    layout = Some((l.0, l.1, n));
                    source = if declared.is_some() {
                        "the header says"
                    } else if dims.is_some() {
                        "the model reads"
                    } else {
                        "this line"
                    };
                    (l.0, l.1, n)
                }
            };
            if fields.len() != d + usize::from(labelled) {
                let what = if labelled { " and a label" } else { "" };
                return Err(err(
                    n,
                    format!(
                        "{} separated by ':', expected {d} dimension{}{what} (as {})",
                        counted(fields.len(), "field", "fields"),
                        if d == 1 { "" } else { "s" },
                        if first == n {
                            source.to_string()
                        } else {
                            format!("line {first}")
                        }
                    ),
                ));
            }
            let mut dims_values = Vec::with_capacity(d);
            for (k, f) in fields[..d].iter().enumerate() {
                let v = parse_dimension(f, h.timestamps)
                    .map_err(|e| err(n, format!("dimension {}: {e}", k + 1)))?;
                if let Some(prev) = dims_values.first().map(Vec::len).filter(|&p| p != v.len()) {
                    return Err(err(n, format!(
                        "dimension {} has {} but dimension 1 has {prev} (the dimensions of a series must have the same length)",
                        k + 1,
                        counted(v.len(), "value", "values")
                    )));
                }
                dims_values.push(v);
            }
            let steps = dims_values[0].len();
            // @equalLength true: every series as long as the first (the
            // data's own length; a @seriesLength that disagrees with all of
            // them is a slip of the header, warned about below: UEA's
            // EyesOpenShut says 127 over series of 128)
            if h.equal_length == Some(true) {
                if let Some(first) = raw.first().filter(|r: &&RawSequence| r.steps != steps) {
                    return Err(err(
                        n,
                        format!(
                            "{}, but the header says @equalLength true with series of {} (line {})",
                            counted(steps, "step", "steps"),
                            first.steps,
                            first.line
                        ),
                    ));
                }
            }
            let label = if labelled {
                let l = fields[d].trim().to_string();
                if l.is_empty() {
                    return Err(err(n, "empty class label".into()));
                }
                if let Some(Some(declared)) = &h.labels {
                    if !declared.contains(&l) {
                        return Err(err(
                            n,
                            format!(
                                "class label '{l}' is not declared by @classLabel ({})",
                                declared.join(" ")
                            ),
                        ));
                    }
                }
                Some(l)
            } else {
                None
            };
            let values = (0..steps)
                .flat_map(|t| dims_values.iter().map(move |v| v[t]))
                .collect();
            raw.push(RawSequence {
                values,
                steps,
                label,
                line: n,
                id: (raw.len() + 1).to_string(),
            });
        }
        let Some((d, _, _)) = layout else {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "no series (expected lines of values after @data)".into(),
            });
        };
        let declared = h.labels.clone().flatten();
        // @seriesLength against the data: with @equalLength false the
        // series may differ (the header's length is then not checked)
        let mut header_slip = None;
        if let Some(w) = h.length.filter(|_| h.equal_length != Some(false)) {
            let first = raw.first().map_or(w, |r| r.steps);
            if raw.iter().all(|r| r.steps == first) {
                if first != w {
                    header_slip = Some(format!(
                        "{}: the header says @seriesLength {w}, but every series has {first} steps: read as they are",
                        path.display()
                    ));
                }
            } else if let Some(r) = raw.iter().find(|r| r.steps != w) {
                return Err(err(
                    r.line,
                    format!(
                        "{}, but the header says @seriesLength {w}",
                        counted(r.steps, "step", "steps")
                    ),
                ));
            }
        }
        let mut data = Dataset::from_raw(path, raw, d, fill, declared, h.problem.clone())?;
        data.warnings.extend(header_slip);
        if h.missing == Some(false) && data.filled > 0 {
            data.warnings.push(format!(
                "{}: the header says @missing false, but values are missing (? or NaN): filled ({})",
                path.display(),
                fill.name()
            ));
        }
        Ok(data)
    }
}

/// An error when `last`, the field read as the label of a series of
/// `fields` fields, is a list of numbers: one more dimension, not a class
/// (`dims`: the model's, if any).
fn list_label(last: &str, fields: usize, dims: Option<usize>) -> std::result::Result<(), String> {
    let parts: Vec<&str> = last.split(',').map(str::trim).collect();
    let numeric = |p: &&str| *p == "?" || p.parse::<f64>().is_ok();
    if parts.len() < 2 || !parts.iter().all(numeric) {
        return Ok(());
    }
    let why = match dims {
        Some(d) => format!(
            ": {}, but the model reads {d}",
            counted(fields, "dimension", "dimensions")
        ),
        None => " (a series ends in ':' and its class label)".into(),
    };
    Err(format!(
        "{} separated by ':', the last a list of {} numbers, not a label{why}",
        counted(fields, "field", "fields"),
        parts.len()
    ))
}

/// The dimensions and whether lines end in a label, from the header,
/// the expected dimensions and the first series' field count.
fn infer_layout(
    h: &Header,
    dims: Option<usize>,
    fields: usize,
) -> std::result::Result<(usize, bool), String> {
    let plural = |d: usize| if d == 1 { "" } else { "s" };
    match (&h.labels, dims) {
        (Some(Some(_)), Some(d)) => Ok((d, true)),
        (Some(Some(_)), None) if fields >= 2 => Ok((fields - 1, true)),
        (Some(Some(_)), None) => Err(
            "one field, but @classLabel true needs the values and a label separated by ':'".into(),
        ),
        (Some(None), Some(d)) => Ok((d, false)),
        (Some(None), None) => Ok((fields, false)),
        (None, Some(d)) if fields == d + 1 => Ok((d, true)),
        (None, Some(d)) if fields == d => Ok((d, false)),
        (None, Some(d)) => Err(format!(
            "{} separated by ':', expected {d} dimension{} (and a label)",
            counted(fields, "field", "fields"),
            plural(d)
        )),
        (None, None) if fields >= 2 => Ok((fields - 1, true)),
        (None, None) => Ok((1, false)),
    }
}
