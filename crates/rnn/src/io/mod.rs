//! Files: safetensors reading and writing, atomic writes, model files.

mod metrics;
pub mod model_file;
mod tensors;

pub use metrics::MetricsLog;
pub use tensors::*;
