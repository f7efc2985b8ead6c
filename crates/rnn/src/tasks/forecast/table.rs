//! The CSV table reader: a header line, then data rows split into fields
//! (quoted fields allowed, blank lines skipped).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

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
pub(super) fn split_csv_line(line: &str) -> std::result::Result<Vec<String>, String> {
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
                    let mut first = std::collections::BTreeMap::new();
                    for (j, name) in fields.iter().enumerate() {
                        if let Some(&k) = first.get(name.as_str()) {
                            return Err(Error::Parse {
                                path: path.to_path_buf(),
                                line: line_no,
                                reason: format!(
                                    "header column {} '{name}' repeats column {} (column names must be unique)",
                                    j + 1,
                                    k + 1
                                ),
                            });
                        }
                        first.insert(name.as_str(), j);
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
