//! PyTorch and ONNX in and out: read a `state_dict` saved by PyTorch
//! (`.safetensors` or `.pt`) into a [`crate::Model`], run a model on tensors
//! from a file with PyTorch's conventions, and write a model back as a
//! `state_dict` or as an ONNX model ([`onnx`]).

mod export;
mod fold;
mod import;
mod infer;
pub mod onnx;
pub mod pickle;
mod projected;
mod state_dict;

pub use export::{export_pytorch, outside_the_network, NOT_EXPORTED_KEY};
pub use fold::{Projection, PROJECTION_KEY};
pub use import::{
    import_file, import_state_dict, read_state_dict, ImportOptions, Imported, NamedTensor,
    HAS_HEAD_KEY, IMPORTED_TASK, NAMES_KEY,
};
pub use infer::{InferInput, InferOutput, OutputTensor};
pub use onnx::{export_onnx, write_onnx};
