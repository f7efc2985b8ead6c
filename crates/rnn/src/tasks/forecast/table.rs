//! The CSV table reader (the `csv` crate): a header record, then data
//! records (quoted fields, also holding the delimiter or newlines; a UTF-8
//! BOM; blank lines skipped; any one-byte delimiter).

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
    /// The 1-based line number of each data row in the file (where its
    /// record starts).
    pub lines: Vec<usize>,
    /// Whether the first column had no name in the header: the index
    /// column pandas' `to_csv` writes (`,0` or `,Quarter,...`). It is then
    /// called `index`.
    pub index: bool,
    /// Whether the file has no header line: its first line was data (every
    /// field a number or a time label, as `write.zoo` in R writes a single
    /// series). The columns are then named by position: `1`, `2`, ...
    pub headerless: bool,
    /// What was read one way where it could have been read another (a
    /// column whose quoted numbers all read as thousands or as three
    /// decimals): shown as warnings, each naming the file and column.
    pub warnings: Vec<String>,
}

/// Whether the fields of a first line are data, not names: each a number
/// (in a style a file separated by `delimiter` may write, `25,01` with `;`)
/// or a time label, at least one a number, and not pandas' default names of
/// a frame's columns (`0,1,2,...`, which are names).
fn is_data_line(fields: &[String], delimiter: u8) -> bool {
    let number = |f: &String| {
        f.parse::<f64>().is_ok_and(f64::is_finite) || super::numbers::is_styled_number(f, delimiter)
    };
    let pandas_names = fields.iter().enumerate().all(|(j, f)| *f == j.to_string());
    fields.iter().any(number)
        && !pandas_names
        && fields
            .iter()
            .all(|f| number(f) || super::calendar::understood(std::slice::from_ref(f)))
}

/// The text of a CSV file's bytes: UTF-8 (a BOM or not); UTF-16 with its
/// BOM (what Excel's "Unicode text" writes); else, when the bytes are not
/// UTF-8, Windows-1252 (what Excel on Windows writes in Western Europe and
/// the Americas: `Température`, `°C`, `€`), in which every byte is a
/// character. A NUL byte without a UTF-16 BOM is an error (a binary file,
/// or UTF-16 without its mark).
///
/// ```
/// # use std::path::Path;
/// use rnn::tasks::forecast::decode_text;
/// let p = Path::new("t.csv");
/// assert_eq!(decode_text(p, b"Temp\xe9rature\n")?, "Température\n"); // Windows-1252
/// assert_eq!(decode_text(p, b"\xff\xfeA\x00\n\x00")?, "A\n"); // UTF-16LE
/// assert!(decode_text(p, b"\x00\x01").is_err());
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn decode_text(path: &Path, bytes: &[u8]) -> Result<String> {
    if let Some(text) = crate::io::bom_text(path, bytes) {
        return text;
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::Data {
            path: path.to_path_buf(),
            reason: format!(
                "a NUL byte at byte {at}: not a text file (UTF-16 needs its byte-order mark)"
            ),
        });
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    })
}

/// The 1-based line of each byte offset of `text`, lines ending in `\n`,
/// `\r\n` or a `\r` alone. A record's offset may point at the line break
/// before it (the csv crate's, after a `\r\n`): breaks are skipped first.
fn line_numbers(text: &str) -> impl Fn(usize) -> usize + '_ {
    let b = text.as_bytes();
    let starts: Vec<usize> = (0..b.len())
        .filter(|&i| b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .map(|i| i + 1)
        .collect();
    move |mut byte| {
        while matches!(b.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        1 + starts.partition_point(|&s| s <= byte)
    }
}

/// The separator an Excel `sep=X` first line names, and the text after
/// that line; `Err` with the line's text when it names no single
/// character (`sep=`, `sep=ab`: read as a header, it gave a
/// field-count error on the next line).
fn excel_separator(text: &str) -> std::result::Result<Option<(u8, &str)>, &str> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim_end_matches('\r');
    let Some(sep) = first.strip_prefix("sep=") else {
        return Ok(None);
    };
    match sep.as_bytes() {
        [d] => Ok(Some((*d, rest))),
        _ => Err(first),
    }
}

impl Table {
    /// Parses comma-separated text (header first; blank lines skipped).
    /// `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Table> {
        Table::parse_with(path, text, b',')
    }

    /// Parses CSV text whose fields are separated by `delimiter` (e.g. `b';'`).
    /// Fields are trimmed; a field may be quoted with `"` (a doubled `""`
    /// inside quotes is one quote) and then hold the delimiter or newlines.
    ///
    /// ```
    /// use rnn::tasks::forecast::Table;
    /// use std::path::Path;
    /// let text = "\u{feff}date;note;v\n2020-01-01;\"two\nlines\";1,5\n2020-01-02;x;2\n";
    /// let t = Table::parse_with(Path::new("d.csv"), text, b';')?;
    /// assert_eq!(t.columns, ["date", "note", "v"]); // the BOM is dropped
    /// assert_eq!(t.rows[0][1], "two\nlines");
    /// assert_eq!(t.lines, [2, 4]); // the second record starts on line 4
    /// // pandas' `to_csv` writes its index under an empty name: `index`
    /// let t = Table::parse(Path::new("p.csv"), ",0\n1821,269\n1822,321\n")?;
    /// assert_eq!((t.columns.clone(), t.index), (vec!["index".to_string(), "0".to_string()], true));
    /// // Excel's `sep=;` line, a separator after every line's last field
    /// let t = Table::parse(Path::new("x.csv"), "sep=;\ndate;v;\n2020-01;1,5;\n")?;
    /// assert_eq!((t.columns.clone(), t.rows[0].clone()), (vec!["date".to_string(), "v".to_string()], vec!["2020-01".to_string(), "1.5".to_string()]));
    /// assert_eq!(t.lines, [3]);
    /// let e = Table::parse(Path::new("x.csv"), "sep=ab\ndate,v\n").unwrap_err();
    /// assert!(e.to_string().contains("\"sep=ab\": Excel's separator line names one character"), "{e}");
    /// // no header line (R's `write.zoo` of one series): columns by position
    /// let t = Table::parse(Path::new("z.csv"), "1955 Q1,24030\n1955 Q2,25620\n")?;
    /// assert_eq!((t.columns.clone(), t.rows.len(), t.headerless), (vec!["1".to_string(), "2".to_string()], 2, true));
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn parse_with(path: &Path, text: &str, delimiter: u8) -> Result<Table> {
        super::check_delimiter(delimiter)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Excel's `sep=;` first line names the separator: it is used, and
        // the line read as a blank one (so that line numbers stay the file's)
        let owned;
        let parse_err = Error::parse_in(path);
        let (text, delimiter) = match excel_separator(text) {
            Ok(Some((d, rest))) => {
                super::check_delimiter(d)?;
                owned = format!("\n{rest}");
                (owned.as_str(), d)
            }
            Ok(None) => (text, delimiter),
            Err(line) => {
                return Err(parse_err(
                    1,
                    format!("{line:?}: Excel's separator line names one character, as in sep=;"),
                ))
            }
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        // line numbers from byte offsets: the csv crate's own count is one
        // short after a CRLF (Excel on Windows) and stays 1 with CR alone
        let line_at = line_numbers(text);
        let mut records = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| line_at(p.byte() as usize));
                parse_err(line, e.to_string())
            })?;
            let start = rec.position().map_or(0, |p| p.byte() as usize);
            records.push((line_at(start), start, rec));
        }
        // an opening quote never closed swallows the rest of the file into
        // the last record: its text then holds an odd number of quotes
        if let Some((line, start, _)) = records.last() {
            if text
                .get(*start..)
                .is_some_and(|t| t.matches('"').count() % 2 == 1)
            {
                return Err(parse_err(*line, "unterminated quoted field".into()));
            }
        }
        let mut header: Option<Vec<String>> = None;
        let (mut index, mut headerless, mut trailing) = (false, false, false);
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for (line, _, rec) in records {
            let fields: Vec<String> = rec.iter().map(str::to_string).collect();
            if fields.len() == 1 && fields[0].is_empty() {
                continue; // a line of blanks
            }
            match &header {
                None if is_data_line(&fields, delimiter) => {
                    header = Some((1..=fields.len()).map(|j| j.to_string()).collect());
                    headerless = true;
                    rows.push(fields);
                    lines.push(line);
                }
                None => {
                    let mut fields = fields;
                    // an unnamed first column is the index pandas writes
                    if fields.len() > 1
                        && fields[0].is_empty()
                        && !fields[1..].iter().any(|f| f.is_empty() || f == "index")
                    {
                        fields[0] = "index".into();
                        index = true;
                    }
                    // a separator after the last name (and, below, after
                    // every row's last field) adds no column
                    if fields.len() > 1 && fields.last().is_some_and(String::is_empty) {
                        fields.pop();
                        trailing = true;
                    }
                    if let Some(j) = fields.iter().position(|f| f.is_empty()) {
                        let reason = format!("header column {} has no name", j + 1);
                        return Err(parse_err(line, reason));
                    }
                    let mut first = std::collections::BTreeMap::new();
                    for (j, name) in fields.iter().enumerate() {
                        if let Some(&k) = first.get(name.as_str()) {
                            let reason = format!(
                                "header column {} '{name}' repeats column {} (column names must be unique)",
                                j + 1,
                                k + 1
                            );
                            return Err(parse_err(line, reason));
                        }
                        first.insert(name.as_str(), j);
                    }
                    header = Some(fields);
                }
                Some(h) => {
                    let mut fields = fields;
                    if trailing && fields.len() == h.len() + 1 {
                        match fields.pop() {
                            Some(extra) if !extra.is_empty() => {
                                let reason = format!(
                                    "field {} is {extra:?}, but the header's column {} has no name",
                                    h.len() + 1,
                                    h.len() + 1
                                );
                                return Err(parse_err(line, reason));
                            }
                            _ => {}
                        }
                    }
                    if fields.len() != h.len() {
                        let reason = format!(
                            "{}, but the header has {}{}",
                            crate::tasks::counted(fields.len(), "field", "fields"),
                            crate::tasks::counted(h.len(), "column", "columns"),
                            separator_hint(h)
                        );
                        return Err(parse_err(line, reason));
                    }
                    rows.push(fields);
                    lines.push(line);
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
        // decimal commas, groups of thousands: plain numbers from here on
        let ambiguous = super::numbers::plain_numbers(&mut rows, delimiter);
        let warnings = ambiguous
            .into_iter()
            .map(|(j, example)| {
                format!(
                    "{}: column {:?}: every number with a comma is written like {example:?}, read as a group of thousands ({}); if the comma is a decimal comma, save the file with ';' between fields and read it with --delimiter ';'",
                    path.display(),
                    columns.get(j).map_or("", String::as_str),
                    example.replace(',', "")
                )
            })
            .collect();
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            rows,
            lines,
            index,
            headerless,
            warnings,
        })
    }

    /// Reads and parses a comma-separated file.
    pub fn read(path: &Path) -> Result<Table> {
        Table::read_with(path, b',')
    }

    /// Reads and parses a CSV file whose fields are separated by `delimiter`.
    pub fn read_with(path: &Path, delimiter: u8) -> Result<Table> {
        let bytes = crate::io::read_file(path)?;
        Table::parse_with(path, &decode_text(path, &bytes)?, delimiter)
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
                reason: if self.headerless {
                    format!(
                        "no column named {name:?}: the file has no header line (its first line is data), so its columns are named by position: {}",
                        self.columns.join(", ")
                    )
                } else {
                    format!(
                        "no column named {name:?}; the columns are: {}{}",
                        self.columns.join(", "),
                        separator_hint(&self.columns)
                    )
                },
            })
    }
}

/// The rows of one series in a file of several (long or "tidy" data such as
/// `symbol,date,price`): those whose `column` holds `value` (`--where
/// symbol=MSFT`). Saved with a forecasting model, so `rnn forecast` and
/// `rnn eval` read the same rows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowFilter {
    /// The column compared (exact name first, then ignoring case).
    pub column: String,
    /// The value kept (compared after trimming, exactly).
    pub value: String,
}

impl std::str::FromStr for RowFilter {
    type Err = Error;

    /// Parses `COLUMN=VALUE` (the first `=` splits; the value may be empty).
    ///
    /// ```
    /// use rnn::tasks::forecast::RowFilter;
    /// let f: RowFilter = "symbol=MSFT".parse()?;
    /// assert_eq!((f.column.as_str(), f.value.as_str()), ("symbol", "MSFT"));
    /// assert!("symbol".parse::<RowFilter>().is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<RowFilter> {
        match s.split_once('=') {
            Some((c, v)) if !c.trim().is_empty() => Ok(RowFilter {
                column: c.trim().to_string(),
                value: v.trim().to_string(),
            }),
            _ => Err(Error::Config(format!(
                "--where {s:?}: expected COLUMN=VALUE (e.g. symbol=MSFT)"
            ))),
        }
    }
}

impl std::fmt::Display for RowFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.column, self.value)
    }
}

impl Table {
    /// Keeps the rows `filter` selects (their line numbers with them). An
    /// error names the column when it is missing, and lists the column's
    /// values when no row holds the one asked for.
    ///
    /// ```
    /// use rnn::tasks::forecast::{RowFilter, Table};
    /// use std::path::Path;
    /// let text = "symbol,date,price\nMSFT,Jan 1 2000,39.81\nAMZN,Jan 1 2000,64.56\nMSFT,Feb 1 2000,36.35\n";
    /// let mut t = Table::parse(Path::new("stocks.csv"), text)?;
    /// t.keep_rows(&"symbol=MSFT".parse()?)?;
    /// assert_eq!((t.rows.len(), t.lines.clone()), (2, vec![2, 4]));
    /// let e = t.keep_rows(&"symbol=IBM".parse()?).unwrap_err().to_string();
    /// assert!(e.contains("no row has \"IBM\" in column \"symbol\" (its values: MSFT)"), "{e}");
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn keep_rows(&mut self, filter: &RowFilter) -> Result<()> {
        let c = self.column(&filter.column)?;
        let keep: Vec<bool> = self
            .rows
            .iter()
            .map(|r| r[c].trim() == filter.value)
            .collect();
        if !keep.contains(&true) {
            let mut values: Vec<&str> = Vec::new();
            for r in &self.rows {
                let v = r[c].trim();
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let more = if values.len() > 10 { ", ..." } else { "" };
            values.truncate(10);
            return Err(Error::Data {
                path: self.path.clone(),
                reason: format!(
                    "--where {filter}: no row has {:?} in column {:?} (its values: {}{more})",
                    filter.value,
                    self.columns[c],
                    values.join(", ")
                ),
            });
        }
        let mut k = keep.iter();
        self.rows.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        self.lines.retain(|_| *k.next().unwrap_or(&false));
        Ok(())
    }
}

/// When the header is one column whose name holds a common separator
/// (`,`, `;`, a tab or `|`), the hint that the file is separated by it and
/// how to say so; else nothing. (A `;`-separated file read with the default
/// `,` has a one-column header such as `date;value`.)
fn separator_hint(columns: &[String]) -> String {
    let [name] = columns else {
        return String::new();
    };
    match [',', ';', '\t', '|'].into_iter().find(|&c| name.contains(c)) {
        Some('\t') => " (the header is one column holding tabs: for a tab-separated file pass --delimiter $'\\t')".into(),
        Some(c) => format!(" (the header is one column holding '{c}': if that separates the fields, pass --delimiter '{c}')"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line numbers hold whatever ends the lines: CRLF (Excel on Windows),
    /// CR alone (old Macs), LF.
    #[test]
    fn errors_name_the_line_whatever_ends_the_lines() {
        let at = line_numbers("a\r\nb\rc\nd");
        assert_eq!((at(0), at(3), at(5), at(7)), (1, 2, 3, 4));
        let p = Path::new("e.csv");
        for end in ["\n", "\r\n", "\r"] {
            let text = ["t,y", "1,2", "2,3", "3,4,5", "4,5"].join(end);
            let e = Table::parse(p, &text).unwrap_err().to_string();
            assert!(e.starts_with("e.csv:4: 3 fields"), "{end:?}: {e}");
        }
    }

    /// A `;` or tab file read with the default `,`: the error says which
    /// separator the header holds and how to pass it; a file read right
    /// gets no hint.
    #[test]
    fn a_wrong_separator_is_named_in_the_error() {
        let p = Path::new("s.csv");
        // "1,5" is a decimal comma: two fields under a one-column header
        let e = Table::parse(p, "date;value\n2000;1,5\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.csv:2: 2 fields, but the header has 1 column ("),
            "{e}"
        );
        assert!(e.contains("pass --delimiter ';'"), "{e}");
        // rows of one field too: the error comes when the column is looked up
        let t = Table::parse(p, "date;value\n2000;1\n2001;2\n").unwrap();
        let e = t.column("value").unwrap_err().to_string();
        assert!(
            e.contains("no column named \"value\"") && e.contains("--delimiter ';'"),
            "{e}"
        );
        let t = Table::parse(p, "date\tvalue\n2000\t1\n").unwrap();
        let e = t.column("value").unwrap_err().to_string();
        assert!(e.contains("--delimiter $'\\t'"), "{e}");
        // read with the right separator: the column is there
        let t = Table::parse_with(p, "date;value\n2000;1,5\n", b';').unwrap();
        assert_eq!(t.column("value").unwrap(), 1);
        // two columns, one missing: no hint about separators
        let e = Table::parse(p, "date,value\n2000,1\n")
            .unwrap()
            .column("v")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("--delimiter"), "{e}");
    }

    /// Files as spreadsheets save them: Windows-1252 (not UTF-8), UTF-16 in
    /// both byte orders with their marks; a NUL without a mark is an error.
    #[test]
    fn text_in_the_encodings_spreadsheets_write() {
        let dir = std::env::temp_dir().join(format!("rnn-enc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "Ann\u{e9}e\tTemp (\u{b0}C)\n2000\t1,5\n2001\t2\n";
        let utf16 = |be: bool| -> Vec<u8> {
            let mut b = if be {
                vec![0xfe, 0xff]
            } else {
                vec![0xff, 0xfe]
            };
            for u in text.encode_utf16() {
                b.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            b
        };
        let latin: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect(); // 1252 = Latin-1 here
        for (name, bytes) in [
            ("le.txt", utf16(false)),
            ("be.txt", utf16(true)),
            ("w.csv", latin),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            let t = Table::read_with(&p, b'\t').unwrap();
            assert_eq!(t.columns, ["Ann\u{e9}e", "Temp (\u{b0}C)"], "{name}");
            assert_eq!(t.rows[0][1], "1.5", "{name}"); // and its decimal comma
        }
        let p = dir.join("nul.csv");
        std::fs::write(&p, b"a\x00,b\n").unwrap();
        let e = Table::read(&p).unwrap_err().to_string();
        assert!(e.contains("a NUL byte at byte 1"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
