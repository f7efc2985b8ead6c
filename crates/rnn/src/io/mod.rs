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
pub use plot::{plot_lines, LossPlot, PlotStyle, CURVES};
pub use run_dir::{prepare_run_dir, remove_stale_temp_files, OutMode, RUN_FILES};
pub use tensors::*;
