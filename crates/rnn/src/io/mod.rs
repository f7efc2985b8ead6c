//! Files: safetensors reading and writing, atomic writes, model files.

mod flow_log;
mod metrics;
pub mod model_file;
mod plot;
mod run_dir;
mod stream_state;
mod tensors;

pub use flow_log::FlowLog;
pub use metrics::MetricsLog;
pub use plot::{plot_lines, plot_panels, LossPlot, PlotStyle, Series, CURVES};
pub use run_dir::{
    prepare_run_dir, remove_stale_temp_files, settle_run_dir, OutMode, Settled, REPLACED, RUN_FILES,
};
pub use tensors::*;

/// The bytes read from `path` as UTF-8 text; otherwise an
/// [`crate::Error::Parse`] naming the line and column (in bytes) of the
/// first invalid byte.
///
/// ```
/// let e = rnn::io::utf8_text(std::path::Path::new("t.txt"), b"ok\nfa\xe7ade".to_vec());
/// assert_eq!(e.unwrap_err().to_string(), "t.txt:2: not UTF-8: invalid byte 0xe7 at column 3 (byte offset 5)");
/// ```
pub fn utf8_text(path: &std::path::Path, bytes: Vec<u8>) -> crate::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = &bytes[..at];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        crate::Error::Parse {
            path: path.to_path_buf(),
            line,
            reason: format!(
                "not UTF-8: invalid byte 0x{:02x} at column {column} (byte offset {at})",
                bytes[at]
            ),
        }
    })
}

/// Refuses to write over a file that is already at `path` unless `replace`
/// (a command's `--force`): what a user made, or an input given again as
/// the output by mistake, is never overwritten silently.
///
/// ```
/// let here = std::env::temp_dir().join("rnn-doc-refuse-existing.txt");
/// std::fs::write(&here, "mine").unwrap();
/// let err = rnn::io::refuse_existing(&here, false).unwrap_err();
/// assert!(err.to_string().contains("already exists (use --force to replace it)"));
/// assert!(rnn::io::refuse_existing(&here, true).is_ok());
/// # std::fs::remove_file(&here).unwrap();
/// ```
///
/// # Errors
///
/// [`crate::Error::Data`] naming `path` when it exists and `replace` is false.
pub fn refuse_existing(path: &std::path::Path, replace: bool) -> crate::Result<()> {
    if replace || !path.exists() {
        return Ok(());
    }
    Err(crate::Error::Data {
        path: path.to_path_buf(),
        reason: "already exists (use --force to replace it)".into(),
    })
}

/// Writes `text` to standard output. A reader that stops early (`rnn ... |
/// head`) is not an error: the rest is dropped. Other failures are an
/// [`crate::Error::Io`] on `stdout`.
///
/// ```
/// rnn::io::print_out("").unwrap();
/// ```
pub fn print_out(text: &str) -> crate::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::Error::io("stdout", e)),
        _ => Ok(()),
    }
}
