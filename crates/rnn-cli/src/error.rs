//! The CLI's one error type and its exit codes: 2 for bad input or usage, 1
//! for any other failure.

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error from the library (bad file, shape, value...).
    #[error(transparent)]
    Lib(#[from] rnn::Error),
    /// A bad flag value or combination.
    #[error("{0}")]
    Usage(String),
    /// A failure that is not the input's fault.
    #[error("{0}")]
    Failure(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Lib(e) if !e.is_bad_input() => 1,
            CliError::Lib(_) | CliError::Usage(_) => 2,
            CliError::Failure(_) => 1,
        }
    }
}

/// The CLI's result type.
pub type CliResult<T = ()> = Result<T, CliError>;
