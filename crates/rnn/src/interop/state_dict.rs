//! A PyTorch `state_dict` file read as named tensors: `.safetensors` or a
//! `.pt` archive (through [`crate::interop::pickle`]), whatever float type
//! the weights are in, before anything is made of the names.

use crate::interop::pickle::read_pt;
use crate::io::TensorFile;
use crate::{Error, Result};
use std::path::Path;

/// One tensor of a state_dict: its shape and values (any float dtype, as f64).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// The name in the state_dict (`lstm.weight_ih_l0`).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

/// Reads a state_dict from `.safetensors` (`safetensors.torch.save_file`) or
/// `.pt`/`.pth` (`torch.save` of a state_dict or of a checkpoint holding
/// one, zip or legacy format, read by a restricted unpickler that runs
/// nothing, see [`crate::interop::pickle`]); the format is recognised by the
/// file's first bytes, not its name. Tensors keep the file's order.
pub fn read_state_dict(path: &Path) -> Result<Vec<NamedTensor>> {
    let mut head = [0u8; 4];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let _ = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    }
    // a zip archive (torch.save since 1.6), or the legacy format's first
    // pickle (protocol 2, then a 10-byte integer: its magic number)
    if &head == b"PK\x03\x04" || &head == b"\x80\x02\x8a\x0a" {
        return Ok(read_pt(path)?
            .into_iter()
            // integer, boolean and complex tensors (a step counter, a mask
            // buffer) are never a recurrent network's weights: left out, as
            // from a safetensors file
            .filter(|(_, t)| t.dtype.is_float())
            .map(|(name, t)| NamedTensor {
                name,
                shape: t.shape,
                data: t.data,
            })
            .collect());
    }
    // an ONNX graph (`rnn export --format onnx`'s own) is named as one
    let onnx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    let f = TensorFile::read(path).map_err(|e| match e {
        Error::Corrupt { path, reason } => Error::Corrupt {
            path,
            reason: match onnx {
                true => format!("{reason} (an ONNX model? rnn import reads a PyTorch state_dict saved by torch.save, a .pt zip, or by safetensors; ONNX is written by rnn export, not read)"),
                false => format!("{reason} (rnn import reads a state_dict saved by torch.save, a .pt zip, or by safetensors; this file is neither)"),
            },
        },
        e => e,
    })?;
    let mut out = Vec::new();
    for name in f.names() {
        // integer and boolean tensors (BatchNorm's num_batches_tracked, ...)
        // are never a recurrent network's weights
        let dtype = f.dtype(&name)?;
        if !(dtype.starts_with('F') || dtype == "BF16") {
            continue;
        }
        let t = f.f64(&name)?;
        out.push(NamedTensor {
            name,
            shape: t.shape,
            data: t.data,
        });
    }
    // `safetensors.torch.save_model` writes a tensor shared under several
    // names (a language model's embedding tied to its decoder) once, and
    // each other name in the metadata as `name -> the name it was written
    // under`: those names are given their tensor back, as `load_model`
    // does, so that a tied embedding is found as from `torch.save`
    let aliases: Vec<NamedTensor> = f
        .metadata()
        .iter()
        .filter(|(alias, _)| !out.iter().any(|t| &t.name == *alias))
        .filter_map(|(alias, kept)| {
            let t = out.iter().find(|t| &t.name == kept)?;
            Some(NamedTensor {
                name: alias.clone(),
                ..t.clone()
            })
        })
        .collect();
    out.extend(aliases);
    Ok(out)
}

/// Every weight of an imported `model`, and every tensor kept `unfolded`,
/// as the model computes with it (32-bit floats): a finite value of the
/// file past f32's range, or a fold's product of large weights, became an
/// infinity that saved but that every command then refused to load (the
/// library sweep of session 53). `names` maps ours to the file's; `what`
/// names the source.
pub(crate) fn check_representable(
    model: &crate::Model<f32>,
    names: &std::collections::BTreeMap<String, String>,
    unfolded: &std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    what: &str,
) -> crate::Result<()> {
    let beyond = "beyond the range of 32-bit floats (±3.4e38) the model computes in";
    let bad = |reason: String| crate::Error::Data {
        path: what.into(),
        reason,
    };
    for e in &model.layout {
        let values = &model.params[e.range()];
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let theirs = names
                .get(&e.name)
                .map_or(String::new(), |n| format!(" (the file's '{n}')"));
            return Err(bad(format!(
                "{}{theirs} element {i} is {}: the file's values are {beyond}",
                e.name, values[i]
            )));
        }
    }
    for (name, (_, data)) in unfolded {
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "'{name}' element {i} is {}: {beyond}",
                data[i]
            )));
        }
    }
    Ok(())
}
