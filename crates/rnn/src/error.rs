//! The one error type of the `rnn` crate.

use std::path::PathBuf;

/// Everything that can go wrong in the library. Each variant names the file,
/// tensor, shape or value at fault so the CLI can print one clear line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A safetensors file that cannot be parsed (truncated, corrupt header, ...).
    #[error("{path}: not a valid safetensors file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A tensor that a file must hold is absent.
    #[error("{path}: missing tensor '{tensor}'")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
    },
    /// A tensor with the wrong dtype.
    #[error("{path}: tensor '{tensor}' has dtype {got}, expected {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The dtype found.
        got: String,
        /// The dtype(s) accepted.
        expected: String,
    },
    /// A tensor with the wrong shape.
    #[error("{path}: tensor '{tensor}' has shape {got:?}, expected {expected}")]
    Shape {
        /// The file (or a description of the source of the tensor).
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The shape found.
        got: Vec<usize>,
        /// The shape expected, in words (dimension names allowed).
        expected: String,
    },
    /// A metadata key absent or holding a value we do not know.
    #[error("{path}: metadata '{key}' = {value:?} is not valid ({expected})")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// The value found (empty if missing).
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A value out of its allowed range (a class id past the output size, a NaN, ...).
    #[error("{what}: {value} is out of range ({expected})")]
    Value {
        /// What holds the value (a tensor, an option, a line).
        what: String,
        /// The offending value, printed.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A malformed line of a text data file.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Bad data that is not tied to one line (empty file, invalid UTF-8, ...).
    #[error("{path}: {reason}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Text holding characters a language model has never seen.
    #[error("{what}: {count} character(s) not in the model's vocabulary: {list}")]
    UnknownChars {
        /// The text's source (a file, `--prime`).
        what: String,
        /// How many distinct characters are unknown.
        count: usize,
        /// The first of them, quoted.
        list: String,
    },
    /// A bad argument to a library call: a wrong length or shape, an id or a
    /// class out of range, a size that overflows.
    #[error("{arg}: expected {expected}, got {got}")]
    Argument {
        /// The argument at fault, as the caller wrote it (`x`, `lengths[2]`,
        /// `state.h`, `targets`, `grads`, `config.hidden_size`).
        arg: String,
        /// What is accepted.
        expected: String,
        /// What was given.
        got: String,
    },
    /// A configuration that cannot work (unknown optimizer, zero hidden size, ...).
    #[error("{0}")]
    Config(String),
    /// A plot could not be drawn.
    #[error("{path}: cannot draw plot: {reason}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Work that needs more memory than the machine has available (see
    /// [`crate::memory`]), refused before allocating it.
    #[error("{what}: needs about {need} of memory, more than the {available} available")]
    Memory {
        /// What would need it (a model and its sizes, a file).
        what: String,
        /// The estimate, for a person (`44.0 TB`).
        need: String,
        /// What the machine has available, for a person.
        available: String,
    },
    /// A model whose outputs became NaN or infinite on finite inputs
    /// (finite but absurd weights, such as 3e38).
    #[error("{model}: {what} became {value} (the model's weights are finite but too large to compute with; retrain or restore the model)")]
    NonFinite {
        /// The model (its directory or file).
        model: String,
        /// Which output (`the loss`, `the logits at position 3`, `forecast step 2`).
        what: String,
        /// The value printed (`NaN`, `inf`).
        value: String,
    },
    /// Training diverged: the loss became NaN or infinite.
    #[error("loss became {value} at step {step}; the last good checkpoint is kept")]
    Diverged {
        /// The optimizer step at which it happened.
        step: u64,
        /// The loss value printed.
        value: String,
    },
    /// Training diverged before the run had written any model: nothing of
    /// this run was kept (a model it was to replace with `--force` is put
    /// back, see [`crate::io::settle_run_dir`]).
    #[error("loss became {value} at step {step}, before this run had written a model (try a lower --lr)")]
    DivergedUnsaved {
        /// The optimizer step at which it happened.
        step: u64,
        /// The loss value printed.
        value: String,
    },
    /// On a rank other than 0 of a distributed run ([`crate::dist`]): rank
    /// 0 refused or failed what all ranks had to agree on.
    #[error("rank 0: {reason}")]
    OnRank0 {
        /// Rank 0's error, printed.
        reason: String,
        /// Whether rank 0's error was bad input (exit code 2 in the CLI).
        bad_input: bool,
    },
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The [`Error::Parse`] maker of a file's readers: `at(line, reason)`
    /// names `path` and the line (1-based) at fault.
    pub(crate) fn parse_in(path: &std::path::Path) -> impl Fn(usize, String) -> Error + '_ {
        move |line, reason| Error::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        }
    }

    /// An [`Error::Argument`]: `arg` was expected to be `expected` but was `got`.
    pub fn argument(
        arg: impl Into<String>,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Argument {
            arg: arg.into(),
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// The error of a value read from the file at `path` (a model's or a
    /// train state's metadata): a value, argument or configuration error
    /// becomes a [`Error::Data`] naming the file (it named the field alone,
    /// `hidden size: 0 is out of range`, and a user could not tell which
    /// file held it); other errors stay as they are.
    ///
    /// ```
    /// let e = rnn::Error::Config("lr: expected a finite number >= 0, got -1".into());
    /// let e = e.in_file("run/train_state.safetensors");
    /// assert_eq!(e.to_string(), "run/train_state.safetensors: lr: expected a finite number >= 0, got -1");
    /// ```
    pub fn in_file(self, path: impl AsRef<std::path::Path>) -> Self {
        match self {
            e @ (Error::Value { .. } | Error::Argument { .. } | Error::Config(_)) => Error::Data {
                path: path.as_ref().to_path_buf(),
                reason: e.to_string(),
            },
            e => e,
        }
    }

    /// Names the model of an [`Error::NonFinite`] (its directory or file);
    /// any other error is returned as it is.
    ///
    /// ```
    /// let e = rnn::Error::NonFinite { model: "the model".into(), what: "the loss".into(), value: "NaN".into() };
    /// assert!(e.of_model("runs/a").to_string().starts_with("runs/a: the loss became NaN"));
    /// ```
    pub fn of_model(self, model: impl AsRef<std::path::Path>) -> Self {
        match self {
            Error::NonFinite { what, value, .. } => Error::NonFinite {
                model: model.as_ref().display().to_string(),
                what,
                value,
            },
            e => e,
        }
    }

    /// Whether this error is the user's input's fault (exit code 2) rather than
    /// a failure of the run (exit code 1).
    ///
    /// ```
    /// use std::io::{Error as E, ErrorKind};
    /// let missing = rnn::Error::io("data.csv", E::from(ErrorKind::NotFound));
    /// let full = rnn::Error::io("stdout", E::from(ErrorKind::StorageFull));
    /// assert!(missing.is_bad_input() && !full.is_bad_input());
    /// ```
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::OnRank0 { bad_input, .. } => *bad_input,
            // the machine's fault, not the input's: a full disk, a closed pipe
            Error::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::WriteZero
                    | std::io::ErrorKind::OutOfMemory
                    | std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::QuotaExceeded
            ),
            e => !matches!(
                e,
                Error::Diverged { .. } | Error::DivergedUnsaved { .. } | Error::Plot { .. }
            ),
        }
    }
}

/// Checks outputs a model computed: the first NaN or infinity is an
/// [`Error::NonFinite`] for "the model" (callers that know its directory
/// name it with [`Error::of_model`]) saying which output (`what(i)`).
pub(crate) fn finite_outputs<T: crate::Float>(
    values: &[T],
    what: impl FnOnce(usize) -> String,
) -> Result<()> {
    match values.iter().position(|v| !v.f64().is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            model: "the model".into(),
            what: what(i),
            value: values[i].f64().to_string(),
        }),
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
