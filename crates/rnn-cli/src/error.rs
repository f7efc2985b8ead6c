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

/// Ends the process on a command-line parse error. A value that is not one
/// of a flag's possible values (a typed enum: `--schedule`, `--optimizer`,
/// `--cell`...) is one line naming the flag and exits 2, like the CLI's own
/// bad-input errors: `error: --schedule linear: expected plateau or cosine`.
/// Every other case (help, version, unknown flags) is clap's own output.
pub fn exit_on_parse_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(match v.as_slice() {
            [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
            _ => v.join(""),
        }),
        _ => None,
    };
    if e.kind() == ErrorKind::InvalidValue {
        let arg = text(ContextKind::InvalidArg);
        let value = text(ContextKind::InvalidValue);
        let valid = text(ContextKind::ValidValue);
        if let (Some(arg), Some(value), Some(valid)) = (arg, value, valid) {
            let flag = arg.split_whitespace().next().unwrap_or(&arg);
            if value.is_empty() {
                // clap's "empty value" error: a path or word given as ""
                let valid = if valid.is_empty() { "a value" } else { &valid };
                eprintln!("error: {flag}: expected {valid}, got an empty string");
            } else {
                eprintln!("error: {flag} {value}: expected {valid}");
            }
            std::process::exit(2);
        }
    }
    e.exit()
}
