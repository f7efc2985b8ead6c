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
pub use run_dir::{prepare_run_dir, remove_stale_temp_files, OutMode, RUN_FILES};
pub use tensors::*;

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
