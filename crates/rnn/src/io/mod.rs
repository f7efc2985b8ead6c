//! Files: safetensors reading and writing, atomic writes, model files.

pub mod model_file;
mod tensors;

pub use tensors::*;
