//! The CLI's one error type and its exit codes: 2 for bad input or usage, 1
//! for any other failure, 130 for a training stopped early by Ctrl-C or
//! SIGTERM (what a shell reports for a process SIGINT ended).

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
    /// A training that an interrupt (Ctrl-C, SIGTERM) stopped early, its
    /// model kept: what was kept and how to go on.
    #[error("{0}")]
    Interrupted(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Lib(e) if !e.is_bad_input() => 1,
            CliError::Lib(_) | CliError::Usage(_) => 2,
            CliError::Failure(_) => 1,
            CliError::Interrupted(_) => 130,
        }
    }
}

/// The CLI's result type.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Ends the process on a command-line parse error. A value that is not one
/// of a flag's possible values (a typed enum: `--schedule`, `--optimizer`,
/// `--cell`...) is one line naming the flag and exits 2, like the CLI's own
/// bad-input errors: `error: --schedule linear: expected plateau or cosine`.
/// Help and version are clap's own output; every other usage error
/// (unknown or repeated flags, missing arguments) is one line too.
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
                logln!("error: {flag}: expected {valid}, got an empty string");
            } else {
                logln!("error: {flag} {value}: expected {valid}");
            }
            std::process::exit(2);
        }
    }
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    logln!("{}", one_line(&e.render().to_string()));
    std::process::exit(2);
}

/// clap's usage error (the error, indented items, a tip, the usage line and
/// "For more information") as the one line every other error is:
/// `error: unexpected argument '--fil' found (tip: a similar argument exists:
/// '--fill'); see 'rnn forecast --help'`.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let mut msg = lines
        .next()
        .unwrap_or("error: bad usage")
        .trim_end()
        .to_string();
    let (mut items, mut tip, mut usage) = (Vec::new(), None, None);
    for l in lines.map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = l.strip_prefix("tip: ") {
            tip = Some(t);
        } else if let Some(u) = l.strip_prefix("Usage: ") {
            usage = Some(u);
        } else if !l.starts_with("For more information") && usage.is_none() {
            items.push(l);
        }
    }
    if !items.is_empty() {
        msg = format!("{msg} {}", items.join(", "));
    }
    if let Some(t) = tip {
        msg = format!("{msg} (tip: {t})");
    }
    // the command of the usage line: its words before the first flag or
    // operand; without one (a value error), the command line's
    let cmd = match usage {
        Some(u) => u
            .split_whitespace()
            .take_while(|w| !w.starts_with(['[', '<', '-']))
            .collect::<Vec<_>>()
            .join(" "),
        None => command_path(std::env::args().skip(1)),
    };
    format!("{msg}; see '{cmd} --help'")
}

/// `rnn` and the subcommands named in `args` (the command line after the
/// program), as far as they name one: `rnn train lm` for `train lm --data
/// x --steps abc`.
fn command_path(args: impl Iterator<Item = String>) -> String {
    use clap::CommandFactory;
    let mut cmd = crate::Cli::command();
    let mut path = vec!["rnn".to_string()];
    for a in args {
        let Some(sub) = cmd.find_subcommand(&a).cloned() else {
            break;
        };
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_usage_errors_become_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --model <MODEL>\n  --data <DATA>\n\nUsage: rnn forecast --model <MODEL> --data <DATA>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(rendered),
            "error: the following required arguments were not provided: --model <MODEL>, --data <DATA>; see 'rnn forecast --help'"
        );
        let rendered = "error: unexpected argument '--fil' found\n\n  tip: a similar argument exists: '--fill'\n\nUsage: rnn forecast --model <MODEL> --data <DATA> --fill <FILL>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(rendered),
            "error: unexpected argument '--fil' found (tip: a similar argument exists: '--fill'); see 'rnn forecast --help'"
        );
    }

    /// A value error has no usage line: the command line names the command
    /// (it said `see 'rnn --help'`).
    #[test]
    fn the_command_of_a_value_error_comes_from_the_command_line() {
        let path = |a: &[&str]| super::command_path(a.iter().map(|s| s.to_string()));
        assert_eq!(path(&["generate", "--len", "abc"]), "rnn generate");
        assert_eq!(path(&["train", "lm", "--steps", "x"]), "rnn train lm");
        assert_eq!(path(&["reference", "case.st", "-o", "x"]), "rnn reference");
        assert_eq!(path(&["--help"]), "rnn");
    }
}
