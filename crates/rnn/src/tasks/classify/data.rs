//! [`Dataset`]: labelled (or unlabelled) multivariate sequences read from a
//! `.ts` file ([`super::ts`]), a UCR `.tsv` file ([`super::tsv`]), a Weka
//! `.arff` file ([`super::arff`]) or a long CSV file ([`super::csv`]),
//! missing values filled.

use super::fill::{fill_series, Fill};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// One sequence: `steps` frames of `dims` values and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// The frames, `[T, D]` row-major.
    pub values: Vec<f64>,
    /// `T`, at least 1.
    pub steps: usize,
    /// The class label as written in the file (`None`: the file has none).
    pub label: Option<String>,
    /// The 1-based line of the sequence in its file (its first row in a CSV file).
    pub line: usize,
    /// The series id of a CSV file; the 1-based index of the sequence in a `.ts` file.
    pub id: String,
}

/// Sequences with the same number of dimensions, read from one file.
///
/// ```
/// use rnn::tasks::classify::{Dataset, Fill};
/// let text = "@problemName toy\n@classLabel true a b\n@data\n1,2,?,4:0,0,1,1:a\n5,6:7,8:b\n";
/// let d = Dataset::parse_ts(std::path::Path::new("toy.ts"), text, Fill::Linear, None)?;
/// assert_eq!((d.dims, d.len(), d.filled), (2, 2, 1));
/// assert_eq!(d.sequences[0].values[4], 3.0); // step 3, dimension 1: filled between 2 and 4
/// assert_eq!(d.classes, ["a", "b"]);
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The file read.
    pub path: PathBuf,
    /// `D`: values per frame.
    pub dims: usize,
    /// The sequences in file order.
    pub sequences: Vec<Sequence>,
    /// The class labels: as declared by a `.ts` file's `@classLabel`, else
    /// the distinct labels found (numerically sorted when all are numbers,
    /// else in text order).
    pub classes: Vec<String>,
    /// How many missing values were filled.
    pub filled: usize,
    /// The `.ts` file's `@problemName`, if any.
    pub problem: Option<String>,
    /// What the reader read but a user may not expect, one line each (a
    /// long CSV file whose steps have gaps: [`Dataset::parse_csv`]); empty
    /// for most files.
    pub warnings: Vec<String>,
    /// The value columns' names, from a long CSV file's header (empty for
    /// other files and CSV files without one): a model keeps its training
    /// file's, and reads other files by them ([`Dataset::parse_csv_named`]).
    pub columns: Vec<String>,
}

/// A sequence as parsed, before its missing values are filled.
pub(super) struct RawSequence {
    /// `[T, D]`, `None` where missing.
    pub values: Vec<Option<f64>>,
    pub steps: usize,
    pub label: Option<String>,
    pub line: usize,
    pub id: String,
}

impl Dataset {
    /// Reads a `.csv` file (long layout, see [`Dataset::parse_csv`]), a
    /// `.tsv` file (the UCR archive's layout, see [`Dataset::parse_tsv`]), an
    /// `.arff` file (Weka's, see [`Dataset::parse_arff`]), a file not named
    /// `.ts` in the UCR layout by its content (no `@` header, no `:` on the first series:
    /// the 2015 release's `Coffee_TRAIN`, a numpy `.txt`; see
    /// [`Dataset::parse_tsv`]) or
    /// any other file as `.ts` (see [`Dataset::parse_ts`]). `dims`: the frame
    /// size expected (a trained model's; `None`: as the file says), used to
    /// tell whether the file has labels when its header does not say.
    pub fn read(path: &Path, fill: Fill, dims: Option<usize>) -> Result<Dataset> {
        Self::read_named(path, fill, dims, &[])
    }

    /// [`Dataset::read`] for a model whose training file named its value
    /// columns `names` (a long CSV file's header, [`Dataset::columns`]): a
    /// CSV file with a header is read by those names
    /// ([`Dataset::parse_csv_named`]).
    pub fn read_named(
        path: &Path,
        fill: Fill,
        dims: Option<usize>,
        names: &[String],
    ) -> Result<Dataset> {
        let bytes = crate::io::read_file(path)?;
        let text = crate::io::utf8_text(path, bytes)?;
        let ext = |x: &str| path.extension().is_some_and(|e| e.eq_ignore_ascii_case(x));
        if ext("csv") {
            Self::parse_csv_named(path, &text, fill, dims, names)
        } else if ext("tsv") {
            Self::parse_tsv(path, &text, fill, dims)
        } else if ext("arff") {
            Self::parse_arff(path, &text, fill, dims)
        } else if !ext("ts") && super::tsv::looks_ucr(&text) {
            // the UCR 2015 release (`Coffee_TRAIN`, commas) or a numpy copy
            // (`.txt`, spaces): no `@` header and no `:` on the first series
            Self::parse_tsv(path, &text, fill, dims)
        } else {
            Self::parse_ts(path, &text, fill, dims)
        }
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Whether every sequence has a label.
    pub fn labelled(&self) -> bool {
        self.sequences.iter().all(|s| s.label.is_some())
    }

    /// The longest sequence.
    pub fn max_steps(&self) -> usize {
        self.sequences.iter().map(|s| s.steps).max().unwrap_or(0)
    }

    /// The classes (declared by the file's header) that none of `labels`
    /// (this file's class ids, [`Dataset::class_ids`]) is, said in a line: a
    /// model trained on it can never learn to predict them.
    pub(crate) fn absent_classes(&self, labels: &[usize]) -> Option<String> {
        let mut seen = vec![false; self.classes.len()];
        labels.iter().for_each(|&l| seen[l] = true);
        let absent: Vec<&str> = self
            .classes
            .iter()
            .zip(&seen)
            .filter(|(_, &s)| !s)
            .map(|(c, _)| c.as_str())
            .collect();
        match absent.as_slice() {
            [] => None,
            [c] => Some(format!(
                "class '{c}' is declared but no training series has it: it can never be predicted"
            )),
            cs => Some(format!(
                "classes '{}' are declared but no training series has them: they can never be predicted",
                cs.join("', '")
            )),
        }
    }

    /// The labels of the sequences that [`Dataset::class_ids`] would not
    /// find in `classes`, each once, in the order they first occur.
    pub fn unseen_labels(&self, classes: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sequences {
            if let Some(l) = &s.label {
                let known = classes.iter().any(|c| c == l)
                    || self.class_ids_of(std::slice::from_ref(s), classes).is_ok();
                if !known && !out.contains(l) {
                    out.push(l.clone());
                }
            }
        }
        out
    }

    /// Each sequence's class index in `classes`: the class written the same,
    /// else the one class of the same number (`1.0000000e+00` is class `1`,
    /// as the UCR archive's releases write them); an error names the line
    /// of a sequence without a label or with a label not in `classes`.
    pub fn class_ids(&self, classes: &[String]) -> Result<Vec<usize>> {
        self.class_ids_of(&self.sequences, classes)
    }

    /// [`Dataset::class_ids`] of some of the sequences.
    fn class_ids_of(&self, sequences: &[Sequence], classes: &[String]) -> Result<Vec<usize>> {
        let number = |t: &str| t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let same_number = |l: &str| {
            let v = number(l)?;
            let mut hits = classes
                .iter()
                .enumerate()
                .filter(|(_, c)| number(c) == Some(v));
            match (hits.next(), hits.next()) {
                (Some((k, _)), None) => Some(k),
                _ => None, // none, or ambiguous ("1" and "1.0" both classes)
            }
        };
        sequences
            .iter()
            .map(|s| {
                let reason = match &s.label {
                    None => format!(
                        "no class label (the file was read as {} per frame without labels)",
                        crate::tasks::counted(self.dims, "value", "values")
                    ),
                    Some(l) => match classes
                        .iter()
                        .position(|c| c == l)
                        .or_else(|| same_number(l))
                    {
                        Some(k) => return Ok(k),
                        None => format!(
                            "class label '{l}' is not one of the model's classes ({})",
                            classes.join(", ")
                        ),
                    },
                };
                Err(Error::Parse {
                    path: self.path.clone(),
                    line: s.line,
                    reason,
                })
            })
            .collect()
    }

    /// Fills the raw sequences and collects the classes (`declared`, or
    /// those found).
    pub(super) fn from_raw(
        path: &Path,
        raw: Vec<RawSequence>,
        dims: usize,
        fill: Fill,
        declared: Option<Vec<String>>,
        problem: Option<String>,
    ) -> Result<Dataset> {
        if raw.is_empty() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "no sequences".into(),
            });
        }
        let mut filled = 0;
        let mut sequences = Vec::with_capacity(raw.len());
        for r in raw {
            let (values, n) =
                fill_series(&r.values, dims, fill).map_err(|reason| Error::Parse {
                    path: path.to_path_buf(),
                    line: r.line,
                    reason: format!("series {}: {reason}", r.id),
                })?;
            filled += n;
            sequences.push(Sequence {
                values,
                steps: r.steps,
                label: r.label,
                line: r.line,
                id: r.id,
            });
        }
        let classes = match declared {
            Some(c) => c,
            None => sorted_labels(sequences.iter().filter_map(|s| s.label.clone())),
        };
        let d = Dataset {
            path: path.to_path_buf(),
            dims,
            sequences,
            classes,
            filled,
            problem,
            warnings: Vec::new(),
            columns: Vec::new(),
        };
        if d.labelled() {
            d.class_ids(&d.classes)?;
        }
        Ok(d)
    }
}

/// The distinct labels, numerically sorted when all are numbers, else in
/// text order.
///
/// ```
/// use rnn::tasks::classify::sorted_labels;
/// let l = |v: &[&str]| sorted_labels(v.iter().map(|s| s.to_string()));
/// assert_eq!(l(&["10", "9", "10", "1.5"]), ["1.5", "9", "10"]);
/// assert_eq!(l(&["b", "a", "10"]), ["10", "a", "b"]);
/// ```
pub fn sorted_labels(labels: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = labels.collect();
    v.sort();
    v.dedup();
    let nums: Option<Vec<f64>> = v.iter().map(|s| s.parse::<f64>().ok()).collect();
    if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(v).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        v = pairs.into_iter().map(|p| p.1).collect();
    }
    v
}

/// Parses one value: a number, or `None` for a missing value. A value
/// beyond the range of `f32` (about ±3.4e38, what the model stores its
/// baselines and computes in) is an error naming it as written.
pub(super) fn parse_value(s: &str) -> std::result::Result<Option<f64>, String> {
    if super::fill::is_missing(s) {
        return Ok(None);
    }
    use crate::tasks::fill::{read_number, Unreadable};
    let text = s.trim();
    read_number(text, f32::MAX as f64)
        .map(Some)
        .map_err(|why| match why {
            Unreadable::NotANumber => format!("'{text}' is not a number or '?'"),
            Unreadable::NotFinite => format!("value {text} is not finite"),
            Unreadable::Beyond => format!(
                "value {text} is beyond the range of 32-bit floats (±3.4e38) the model computes in"
            ),
        })
}
