//! Out to ONNX: a model directory's network and head as an ONNX model that
//! onnxruntime (or any runtime with the standard `RNN`, `GRU` and `LSTM`
//! operators) runs to the outputs of `rnn infer`.
//!
//! The graph has one `RNN`/`GRU`/`LSTM` node per layer (weights converted to
//! ONNX's gate order: PyTorch i, f, g, o -> i, o, f, c for the LSTM; r, z, n
//! -> z, r, h with `linear_before_reset = 1` for the GRU; `B = [W_b, R_b]`),
//! layers joined by Transpose + Reshape (`Y` `[T, D, B, H]` -> `[T, B, D*H]`),
//! and the head as MatMul + Add.
//!
//! | input | shape | |
//! | --- | --- | --- |
//! | `x` | `[T, B, I]` float32 | dense inputs; language models take `ids` `[T, B]` int64 instead (one-hot rows by `OneHot`) |
//! | `lengths` | `[B]` int64 | each in `1..=T`; feed `T` everywhere for an unpadded batch |
//! | `h0` | `[L*D, B, H]` float32 | the initial state; zeros are PyTorch's default |
//! | `c0` | `[L*D, B, H]` float32 | LSTM only |
//!
//! Every input is required: ONNX graph inputs are, except initializers that
//! double as inputs, which runtimes treat differently (some fold them into
//! constants, so a fed `h0` would be ignored), and a default `lengths` would
//! depend on `T` and `B`. One graph that every runtime runs the same way is
//! worth the caller passing zeros and full lengths.
//!
//! | output | shape | |
//! | --- | --- | --- |
//! | `output` | `[T, B, D*H]` | the top layer, zeros past each length |
//! | `h_n`, `c_n` (LSTM) | `[L*D, B, H]` | each sequence's state at its own end |
//! | `logits` | `[T, B, O]` | the head, zeros past each length (absent for a model imported without a head) |
//!
//! `T` and `B` are named (dynamic) dimensions. The model's metadata
//! (`metadata_props`) holds `source_task`, `not_exported` (what the model
//! directory holds outside the network: a tagger's features, a forecaster's
//! scaling; see [`crate::interop::outside_the_network`]) and, for a language
//! model, `vocab` (its characters in id order).

mod build;
mod graph;
#[allow(missing_docs, clippy::all)]
pub(crate) mod proto;
mod recurrent;
#[cfg(test)]
mod tests;

use crate::io::model_file::{ModelFile, Task};
use crate::io::write_atomic;
use crate::Result;
use prost::Message;
use std::path::Path;

/// The ONNX operator set the exported graphs use (the default domain).
pub const OPSET: i64 = 14;
/// The ONNX IR version written (the one that goes with opset 14).
pub const IR_VERSION: i64 = 7;

/// Whether the ONNX export of `mf` takes class ids (`ids` `[T, B]` int64)
/// rather than dense inputs `x`: language models read characters by id, and
/// so does a model imported with its `nn.Embedding` folded into the input
/// weights ([`crate::interop::Imported::embedding`]).
pub fn takes_ids(mf: &ModelFile) -> bool {
    mf.task == Task::Lm || (mf.task == Task::Imported && crate::interop::fold::folded_embedding(mf))
}

/// The ONNX model (serialized protobuf) of a model directory's recurrent
/// network and head; see the [module documentation](self) for its inputs
/// and outputs. Every Elman activation exports (ONNX's `RNN` takes Tanh,
/// Relu and Sigmoid).
///
/// ```
/// use rnn::io::model_file::ModelFile;
/// let mf = ModelFile {
///     task: rnn::io::model_file::Task::Forecast,
///     model: rnn::Model::new(rnn::ModelConfig::elman(3, 4, 1), 0)?,
///     extra: Default::default(),
///     meta: Default::default(),
/// };
/// let bytes = rnn::interop::onnx::export_onnx(&mf)?;
/// assert!(bytes.windows(4).any(|w| w == b"Tanh"));
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn export_onnx(mf: &ModelFile) -> Result<Vec<u8>> {
    Ok(build::model_proto(mf)?.encode_to_vec())
}

/// [`export_onnx`] written to `path` atomically (a reader sees the old file
/// or the new one, never a mix).
pub fn write_onnx(mf: &ModelFile, path: &Path) -> Result<()> {
    write_atomic(path, &export_onnx(mf)?)
}
