//! Reading `torch.save` files without running them.
//!
//! A `.pt`/`.pth` file written by `torch.save(module.state_dict(), path)` is a
//! zip archive: `ARCHIVE/data.pkl` (a pickle of an `OrderedDict` of tensors),
//! one `ARCHIVE/data/KEY` file of raw little-endian bytes per storage, and
//! `ARCHIVE/byteorder`. (PyTorch before 1.6, and `torch.save(...,
//! _use_new_zipfile_serialization=False)` since, write the legacy format
//! instead: the same pickle among four others, then the storages' bytes in
//! the file itself; both are read.) A pickle is a program for a stack machine that may
//! call any Python function it names; this reader is a stack machine that
//! knows only the opcodes a state_dict needs and accepts only the globals
//! PyTorch's `weights_only` unpickler allows for one (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the
//! `torch.*Storage` types). Any other global (`os.system`, ...) is refused
//! with an error naming it, before anything could run: nothing is ever run.

mod machine;

use crate::kernels::float::f16_to_f64;
use crate::{Error, Result};
use machine::{Machine, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An error about the file at `path` (its layout, not one pickle's bytes).
fn data_err(path: &Path, reason: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        reason,
    }
}

/// The element type of a stored tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageDtype {
    /// `torch.float32` (`FloatStorage`).
    F32,
    /// `torch.float64` (`DoubleStorage`).
    F64,
    /// `torch.float16` (`HalfStorage`).
    F16,
    /// `torch.bfloat16` (`BFloat16Storage`).
    BF16,
    /// `torch.int64` (`LongStorage`).
    I64,
    /// `torch.int32` (`IntStorage`).
    I32,
    /// `torch.int16` (`ShortStorage`).
    I16,
    /// `torch.int8` (`CharStorage`).
    I8,
    /// `torch.uint8` (`ByteStorage`).
    U8,
    /// `torch.bool` (`BoolStorage`): 0 or 1.
    Bool,
    /// `torch.complex64` (`ComplexFloatStorage`): read as the real parts.
    C64,
    /// `torch.complex128` (`ComplexDoubleStorage`): read as the real parts.
    C128,
}

impl StorageDtype {
    fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::F32,
            "DoubleStorage" => Self::F64,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            "ComplexFloatStorage" => Self::C64,
            "ComplexDoubleStorage" => Self::C128,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::C128 => 16,
            Self::F64 | Self::I64 | Self::C64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    /// Whether it holds real floating-point numbers (what weights are).
    pub fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F64 | Self::F16 | Self::BF16)
    }

    /// Decodes one little-endian element as `f64` (f16 and bf16 exactly).
    fn decode(self, b: &[u8]) -> f64 {
        let a2 = |b: &[u8]| [b[0], b[1]];
        let a4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
        let a8 = |b: &[u8]| [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            Self::F32 => f32::from_le_bytes(a4(b)) as f64,
            Self::F64 => f64::from_le_bytes(a8(b)),
            Self::I64 => i64::from_le_bytes(a8(b)) as f64,
            Self::I32 => i32::from_le_bytes(a4(b)) as f64,
            Self::I16 => i16::from_le_bytes(a2(b)) as f64,
            Self::I8 => b[0] as i8 as f64,
            Self::U8 | Self::Bool => b[0] as f64,
            // the real part comes first
            Self::C64 => f32::from_le_bytes(a4(b)) as f64,
            Self::C128 => f64::from_le_bytes(a8(b)),
            // bf16 is the top half of an f32
            Self::BF16 => f32::from_bits((u16::from_le_bytes(a2(b)) as u32) << 16) as f64,
            Self::F16 => f16_to_f64(u16::from_le_bytes(a2(b))),
        }
    }
}

/// One tensor of a state_dict, read from a `.pt` file.
#[derive(Clone, Debug, PartialEq)]
pub struct PtTensor {
    /// The dtype it was stored in.
    pub dtype: StorageDtype,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major, as f64 (every stored dtype converts exactly).
    pub data: Vec<f64>,
}

/// Reads a state_dict saved by `torch.save` (a zip archive, or PyTorch's
/// legacy format before 1.6) from `path`:
/// tensor names in the file's order, each with its dtype, shape and values.
/// Refuses (an error naming it) any pickle global outside the state_dict
/// allowlist, and a file holding no mapping of names to tensors (see
/// [`read_pt_bytes`] for checkpoints that hold one beside other entries).
pub fn read_pt(path: &Path) -> Result<Vec<(String, PtTensor)>> {
    let bytes = crate::io::read_file(path)?;
    read_pt_bytes(path, &bytes)
}

/// The first pickle of a file written by `torch.save(...,
/// _use_new_zipfile_serialization=False)` (PyTorch's format before 1.6):
/// protocol 2, the 10-byte integer 0x1950a86a20f9469cfc6c, STOP.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";

/// [`read_pt`] on the bytes of a file (`path` names it in errors): a zip
/// archive (`torch.save` since PyTorch 1.6) or the legacy format before it
/// (five pickles, then each storage as an 8-byte element count and its raw
/// bytes). The state_dict is the pickle's mapping of names to tensors, or,
/// in a checkpoint (`torch.save({"epoch": 5, "model_state_dict":
/// model.state_dict(), "optimizer_state_dict": ...})`), the one entry of
/// the top-level mapping that is such a mapping; with several (a model and
/// its moving average, an encoder and a decoder) their tensors are all
/// read, each name prefixed by its entry's key and a dot
/// (`ema.lstm.weight_ih_l0`), so that `--rnn-prefix` chooses.
pub fn read_pt_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<(String, PtTensor)>> {
    let data_err = |reason: String| data_err(path, reason);
    if bytes.starts_with(LEGACY_MAGIC) {
        return read_legacy(path, bytes);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        data_err(format!(
            "not a torch.save file: neither a zip archive ({e}) nor the legacy format of PyTorch before 1.6"
        ))
    })?;
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    let pkl = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") || n.as_str() == "data.pkl")
        .cloned()
        .ok_or_else(|| data_err("no data.pkl in the archive: not a torch.save file".into()))?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    // torch.jit.save: the module's code beside its pickled objects
    if names
        .iter()
        .any(|n| n.starts_with(&format!("{prefix}code/")))
    {
        return Err(data_err(
            "a TorchScript archive (torch.jit.save), which pickles the module's objects, not a state_dict; in PyTorch, torch.jit.load it and torch.save(module.state_dict(), ...)".into(),
        ));
    }
    let mut read_entry = |name: &str| -> Result<Vec<u8>> {
        let mut f = zip
            .by_name(name)
            .map_err(|e| data_err(format!("archive entry {name}: {e}")))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| data_err(format!("archive entry {name}: {e}")))?;
        Ok(buf)
    };
    if let Ok(order) = read_entry(&format!("{prefix}byteorder")) {
        if order.trim_ascii() != b"little" {
            return Err(data_err(format!(
                "byte order {:?}: only little-endian files are supported",
                String::from_utf8_lossy(&order)
            )));
        }
    }
    let bytes = read_entry(&pkl)?;
    let pkl_path = PathBuf::from(format!("{}:{pkl}", path.display()));
    let root = Machine::new(&pkl_path, "data.pkl", &bytes, 0).run()?;
    tensors_of(path, root, |key| {
        read_entry(&format!("{prefix}data/{key}")).map(std::borrow::Cow::Owned)
    })
}

/// The legacy format: the magic number's pickle, then pickles of the
/// protocol version (1001), the writer's `sys_info` (byte order), the
/// object, and the sorted list of storage keys; then, for each key in that
/// order, the storage's element count (8 bytes, little-endian) and its
/// elements.
fn read_legacy(path: &Path, bytes: &[u8]) -> Result<Vec<(String, PtTensor)>> {
    let data_err = |reason: String| data_err(path, reason);
    const LABELS: [&str; 4] = [
        "legacy pickle 2 (protocol version)",
        "legacy pickle 3 (sys_info)",
        "legacy pickle 4 (the state_dict)",
        "legacy pickle 5 (storage keys)",
    ];
    let mut pos = LEGACY_MAGIC.len();
    let mut values = Vec::with_capacity(4);
    for label in LABELS {
        let mut m = Machine::new(path, label, bytes, pos);
        values.push(m.run()?);
        pos = m.pos();
    }
    let [version, info, root, keys] = <[Value; 4]>::try_from(values)
        .map_err(|_| data_err("the legacy format's pickles are incomplete".into()))?;
    if !matches!(version, Value::Int(1001)) {
        return Err(data_err(format!(
            "legacy format protocol version {version:?}, expected 1001"
        )));
    }
    if let Value::Dict(items) = &info {
        let little = items
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == "little_endian"));
        if let Some((_, v)) = little {
            if !matches!(v, Value::Bool(true)) {
                return Err(data_err(
                    "written big-endian: only little-endian files are supported".into(),
                ));
            }
        }
    }
    let Value::List(keys) = keys else {
        return Err(data_err(format!(
            "legacy format: the storage keys are {keys:?}, not a list"
        )));
    };
    // each storage's element size, from the tensors that use it
    let mut sizes: HashMap<String, usize> = HashMap::new();
    let mut todo = vec![&root];
    while let Some(v) = todo.pop() {
        match v {
            Value::Tensor { dtype, key, .. } => {
                sizes.insert(key.clone(), dtype.size());
            }
            v => v.push_children(&mut todo),
        }
    }
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(data_err(format!("legacy format: a storage key {key:?}")));
        };
        let short = || {
            data_err(format!(
                "legacy format: storage '{key}' runs past the end of the file"
            ))
        };
        let count = bytes.get(pos..pos + 8).ok_or_else(short)?;
        let count = u64::from_le_bytes(count.try_into().map_err(|_| short())?);
        let size = sizes.get(&key).copied().unwrap_or(1);
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(size))
            .ok_or_else(short)?;
        let data = bytes
            .get(pos + 8..)
            .and_then(|b| b.get(..len))
            .ok_or_else(short)?;
        storages.insert(key, data);
        pos += 8 + len;
    }
    tensors_of(path, root, |key| {
        storages
            .get(key)
            .map(|b| std::borrow::Cow::Borrowed(*b))
            .ok_or_else(|| {
                data_err(format!(
                    "legacy format: no storage '{key}' after the pickles"
                ))
            })
    })
}

/// Whether a dict's `items` make a state_dict: not empty, names to tensors.
fn holds_only_tensors(items: &[(Value, Value)]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|(k, v)| matches!((k, v), (Value::Str(_), Value::Tensor { .. })))
}

/// Whether `v` is a state_dict: a non-empty mapping of names to tensors.
fn is_state_dict(v: &Value) -> bool {
    matches!(v, Value::Dict(items) if holds_only_tensors(items))
}

/// The state_dicts held in `items` under string keys, `depth` levels down
/// at most, each with its path of keys joined by dots after `path`, in the
/// file's order. A state_dict's own entries are not searched.
fn collect_state_dicts(
    path: &str,
    items: Vec<(Value, Value)>,
    depth: usize,
    out: &mut Vec<(String, Vec<(Value, Value)>)>,
) {
    for (k, v) in items {
        let Value::Str(key) = k else { continue };
        let at = if path.is_empty() {
            key
        } else {
            format!("{path}.{key}")
        };
        if is_state_dict(&v) {
            if let Value::Dict(inner) = v {
                out.push((at, inner));
            }
        } else if let (Value::Dict(inner), true) = (v, depth > 1) {
            collect_state_dicts(&at, inner, depth - 1, out);
        }
    }
}

/// The tensors of the state_dict in `root` (see [`read_pt_bytes`]), their
/// values gathered from the storages `storage` hands out by key.
///
/// `root` itself when it is a state_dict; else, in a checkpoint, the
/// state_dicts it holds under string keys up to three levels down
/// (`{"checkpoint": {"model": ...}}`; with several, each tensor's name
/// prefixed by its path of keys and a dot); the other entries (the epoch,
/// the loss as a 0-d tensor, an optimizer's state, whose tensors sit under
/// integer keys) are left out.
fn tensors_of<'b>(
    path: &Path,
    root: Value,
    mut storage: impl FnMut(&str) -> Result<std::borrow::Cow<'b, [u8]>>,
) -> Result<Vec<(String, PtTensor)>> {
    let data_err = |reason: String| data_err(path, reason);
    let Value::Dict(items) = root else {
        return Err(data_err(
            "the pickle holds no state_dict (a mapping of names to tensors); save model.state_dict(), not the model".into(),
        ));
    };
    let entries: Vec<(String, Value)> = if holds_only_tensors(&items) {
        items
            .into_iter()
            .filter_map(|(k, v)| match k {
                Value::Str(name) => Some((name, v)),
                _ => None, // a state_dict's keys are strings
            })
            .collect()
    } else {
        // what the error names if no state_dict is found: the first entry
        // that is not a tensor
        let first_other = items.iter().find_map(|(k, v)| match (k, v) {
            (_, Value::Tensor { .. }) => None,
            (Value::Str(k), _) => Some(format!("'{k}'")),
            (k, _) => Some(format!("{k:?}")),
        });
        let mut found = Vec::new();
        collect_state_dicts("", items, 3, &mut found);
        if found.is_empty() {
            return Err(data_err(format!(
                "no state_dict in the file: its entry {} is not a tensor, and no entry (nor an entry's entry, three levels down) is a mapping of names to tensors; save model.state_dict(), or a dict holding it",
                first_other.unwrap_or_else(|| "list".into())
            )));
        }
        let several = found.len() > 1;
        let mut out = Vec::new();
        for (at, inner) in found {
            for (k, v) in inner {
                if let Value::Str(name) = k {
                    out.push((
                        if several {
                            format!("{at}.{name}")
                        } else {
                            name
                        },
                        v,
                    ));
                }
            }
        }
        out
    };
    let mut out = Vec::with_capacity(entries.len());
    for (name, v) in entries {
        let Value::Tensor {
            dtype,
            key,
            offset,
            shape,
            stride,
        } = v
        else {
            continue; // a state_dict holds tensors only
        };
        let raw = storage(&key)?;
        let what = || format!("tensor '{name}' of shape {shape:?} in {}", path.display());
        let data = gather(&raw, dtype, offset, &shape, &stride, what)?.ok_or_else(|| {
            data_err(format!(
                "tensor '{name}': shape {shape:?}, stride {stride:?} and offset {offset} run past its storage of {} bytes",
                raw.len()
            ))
        })?;
        out.push((name, PtTensor { dtype, shape, data }));
    }
    Ok(out)
}

/// The elements of a strided view of a storage, row-major; `None` when the
/// view reaches past the storage, an [`Error::Memory`] naming `what` when
/// its elements do not fit in memory (a stride of 0 repeats one stored
/// value over a shape of any size: a file of a kilobyte can describe
/// 2^40 elements).
fn gather(
    raw: &[u8],
    dtype: StorageDtype,
    offset: usize,
    shape: &[usize],
    stride: &[usize],
    what: impl FnOnce() -> String,
) -> Result<Option<Vec<f64>>> {
    if shape.len() != stride.len() {
        return Ok(None);
    }
    if shape.contains(&0) {
        return Ok(Some(Vec::new()));
    }
    let elems = raw.len() / dtype.size();
    // the furthest element must lie inside the storage
    let last = shape
        .iter()
        .zip(stride)
        .try_fold(offset, |a, (&d, &s)| a.checked_add((d - 1).checked_mul(s)?));
    if last.is_none_or(|last| last >= elems) {
        return Ok(None);
    }
    // more elements than usize counts cannot fit either
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let mut out = crate::memory::try_with_capacity(what, n.unwrap_or(usize::MAX))?;
    let n = n.unwrap_or(0); // None asked for usize::MAX values, refused above
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let e = offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(dtype.decode(&raw[e * dtype.size()..(e + 1) * dtype.size()]));
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_bfloat_decode_exactly() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333251953125); // nearest half to 1/3
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24)); // smallest subnormal
        assert_eq!(StorageDtype::BF16.decode(&[0x80, 0x3f]), 1.0); // 0x3f80
    }

    #[test]
    fn strided_views_are_gathered_row_major() {
        // storage 0..6 as f32; a [3, 2] view with stride (1, 3) is the transpose of [2, 3]
        let raw: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        let what = || "t".to_string();
        let t = gather(&raw, StorageDtype::F32, 0, &[3, 2], &[1, 3], what).unwrap();
        assert_eq!(t.unwrap(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let t = gather(&raw, StorageDtype::F32, 1, &[2, 3], &[3, 1], what).unwrap();
        assert!(t.is_none());
        // a stride of 0 repeats one value: 2^40 of them do not fit in memory,
        // 2^30 x 2^30 are more than usize counts; both refused, not aborted
        let e = gather(&raw, StorageDtype::F32, 0, &[1 << 40], &[0], what).unwrap_err();
        assert!(e.to_string().contains("memory"), "{e}");
        assert!(gather(
            &raw,
            StorageDtype::F32,
            0,
            &[1 << 32, 1 << 32],
            &[0, 0],
            what
        )
        .is_err());
        // and a few of them are the value repeated
        let t = gather(&raw, StorageDtype::F32, 2, &[2, 2], &[0, 0], what).unwrap();
        assert_eq!(t.unwrap(), vec![2.0; 4]);
    }
}
