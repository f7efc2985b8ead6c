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
