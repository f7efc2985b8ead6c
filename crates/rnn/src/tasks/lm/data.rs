//! The training text: reading it, and splitting it into training and
//! validation ids.

use super::vocab::Vocab;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Reads a UTF-8 text file; invalid bytes are an error with their byte offset.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = crate::io::read_file(path)?;
    crate::io::utf8_text(path, bytes)
}

/// A text to train on, with the path it came from (recorded with the model
/// and named in errors).
///
/// ```
/// use rnn::tasks::lm::Corpus;
/// let c = Corpus::new("built-in", "to be or not to be");
/// assert_eq!(c.path.to_str(), Some("built-in"));
/// assert!(Corpus::read("/no/such/file.txt").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corpus {
    /// Where the text came from.
    pub path: PathBuf,
    /// The text.
    pub text: String,
}

impl Corpus {
    /// A text held in memory; `path` names it.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Corpus {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Reads a UTF-8 text file (see [`read_text`]).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Ok(Corpus::new(path, read_text(path)?))
    }
}

/// The training text split into ids.
#[derive(Clone, Debug)]
pub struct LmData {
    /// The vocabulary (of the whole file).
    pub vocab: Vocab,
    /// Training ids (the first `1 - val_frac` of the text).
    pub train: Vec<usize>,
    /// Validation ids (the rest).
    pub val: Vec<usize>,
}

impl LmData {
    /// Splits `text` (read from `path`) for training with windows of
    /// `seq_len` over `batch` streams: an error (naming `path`) when it is
    /// empty, too short for the streams, or too short to hold out
    /// validation text. `val_frac` outside `[0, 1)` (or NaN), `seq_len` 0
    /// or `batch` 0 is an [`Error::Argument`] naming it.
    pub fn new(
        text: &str,
        path: &Path,
        val_frac: f64,
        seq_len: usize,
        batch: usize,
    ) -> Result<Self> {
        if !(0.0..1.0).contains(&val_frac) {
            return Err(Error::argument(
                "val_frac",
                "a fraction of the text in [0, 1)",
                val_frac,
            ));
        }
        if seq_len == 0 {
            return Err(Error::argument("seq_len", "at least 1", 0));
        }
        if batch == 0 {
            return Err(Error::argument("batch", "at least 1", 0));
        }
        let vocab = Vocab::from_text(text);
        let ids = vocab.encode(text, &path.display().to_string())?;
        let n_val = (ids.len() as f64 * val_frac).floor() as usize;
        let n_train = ids.len() - n_val;
        // saturating: a size past the text's length is "too short" below
        let need = batch
            .saturating_mul(seq_len.saturating_mul(2))
            .saturating_add(1);
        if ids.is_empty() {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: "the file is empty".into(),
            });
        }
        if n_train < need {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!(
                    "too short: {n_train} training characters, but {batch} streams of windows of {seq_len} need at least {need} (lower --batch or --seq-len)"
                ),
            });
        }
        if val_frac > 0.0 && n_val < 2 {
            return Err(Error::Data {
                path: path.to_path_buf(),
                reason: format!("too short to hold out a validation part of {val_frac} (it would have {n_val} characters)"),
            });
        }
        // the validation part moved out, the training part kept in place:
        // a copy of each held the ids twice (720 MB for a 45 MB text)
        let mut train = ids;
        let val = train.split_off(n_train);
        Ok(LmData { vocab, train, val })
    }
}
