//! PyTorch in and out: read a `state_dict` saved by PyTorch (`.safetensors`
//! or `.pt`) into a [`crate::Model`], and run a model on tensors from a file
//! with PyTorch's conventions.

mod import;
mod infer;
pub mod pickle;

pub use import::{
    import_file, import_state_dict, read_state_dict, ImportOptions, Imported, NamedTensor,
    HAS_HEAD_KEY, IMPORTED_TASK, NAMES_KEY,
};
pub use infer::{InferInput, InferOutput};
