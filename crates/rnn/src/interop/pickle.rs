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

use crate::kernels::float::f16_to_f64;
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

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
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 => 2,
        }
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

/// A value on the unpickler's stack (values are kept whole for the
/// `Debug` text of error messages).
#[allow(dead_code)]
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// An allowed global: `module.name`.
    Global(&'static str),
    /// A storage reference from a persistent id: dtype and archive key.
    Storage(StorageDtype, String),
    /// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`.
    Tensor {
        dtype: StorageDtype,
        key: String,
        offset: usize,
        shape: Vec<usize>,
        stride: Vec<usize>,
    },
    Mark,
}

/// The globals a state_dict pickle may name (PyTorch's `weights_only` set for one).
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch.FloatStorage",
    "torch.DoubleStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
];

struct Machine<'a> {
    path: &'a Path,
    /// What the bytes are, for errors (`data.pkl`, or `legacy pickle 4
    /// (the state_dict)`).
    label: &'a str,
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Memoised values with their sizes in values ([`size_within`]).
    memo: HashMap<u32, (Value, usize)>,
    /// Values copied out of the memo so far (each read is a deep copy):
    /// refused past [`COPY_BUDGET`], so that a few hundred bytes of nested
    /// memo reads, each doubling the last, cannot fill the memory.
    copied: usize,
}

/// Values the memo may hand out in all, copies counted: a state_dict's
/// pickle reads a few per tensor (a model of ten thousand tensors stays far
/// below); 40 nested lists of two reads each of the list before (485 bytes)
/// asked for 2^40.
const COPY_BUDGET: usize = 1 << 22;

/// The number of values in `v` (itself and everything it holds), or `None`
/// when it exceeds `limit` (the walk stops there).
fn size_within(v: &Value, limit: usize) -> Option<usize> {
    let mut seen = 0usize;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        seen += 1;
        if seen > limit {
            return None;
        }
        match v {
            Value::Tuple(items) | Value::List(items) => todo.extend(items),
            Value::Dict(pairs) => todo.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    Some(seen)
}

impl<'a> Machine<'a> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Data {
            path: self.path.to_path_buf(),
            reason: format!("{} at byte {}: {}", self.label, self.pos, reason.into()),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.err("the pickle ends in the middle of an opcode"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("unterminated text argument"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn string(&mut self, n: usize) -> Result<String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a string that is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(self.err("stack underflow (a malformed pickle)")),
            Some(v) => Ok(v),
        }
    }

    /// Everything above the topmost mark, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let at = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| self.err("no mark on the stack (a malformed pickle)"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        let full = format!("{module}.{name}");
        match ALLOWED.iter().find(|a| **a == full) {
            Some(a) => {
                self.stack.push(Value::Global(a));
                Ok(())
            }
            None => Err(self.err(format!(
                "refused to load global '{full}': a state_dict needs only tensors (allowed: OrderedDict, torch tensor rebuilds and storages); nothing was run"
            ))),
        }
    }

    fn memo_get(&mut self, i: u32) -> Result<()> {
        let size = match self.memo.get(&i) {
            Some(&(_, size)) => size,
            None => return Err(self.err(format!("memo entry {i} read before it was written"))),
        };
        self.copied = self.copied.saturating_add(size);
        if self.copied > COPY_BUDGET {
            return Err(self.over_budget());
        }
        let v = self.memo[&i].0.clone();
        self.stack.push(v);
        Ok(())
    }

    fn memo_put(&mut self, i: u32) -> Result<()> {
        let limit = COPY_BUDGET - self.copied.min(COPY_BUDGET);
        let top = self
            .stack
            .last()
            .ok_or_else(|| self.err("memo store with an empty stack"))?;
        // the walk and the copy are work too: they count against the same budget
        let Some(size) = size_within(top, limit) else {
            return Err(self.over_budget());
        };
        let v = top.clone();
        self.copied += size;
        self.memo.insert(i, (v, size));
        Ok(())
    }

    fn over_budget(&self) -> Error {
        self.err(format!(
            "the pickle's memo reads copy more than {COPY_BUDGET} values (a state_dict needs a few per tensor): not a state_dict, or a pickle built to exhaust memory"
        ))
    }

    fn usize_of(&self, v: &Value, what: &str) -> Result<usize> {
        match v {
            Value::Int(i) if *i >= 0 => Ok(*i as usize),
            _ => Err(self.err(format!(
                "{what}: expected a non-negative integer, got {v:?}"
            ))),
        }
    }

    fn usizes(&self, v: &Value, what: &str) -> Result<Vec<usize>> {
        match v {
            Value::Tuple(items) | Value::List(items) => {
                items.iter().map(|x| self.usize_of(x, what)).collect()
            }
            _ => Err(self.err(format!("{what}: expected a tuple, got {v:?}"))),
        }
    }

    fn reduce(&mut self, f: Value, args: Value) -> Result<Value> {
        let Value::Tuple(args) = args else {
            return Err(self.err("REDUCE with arguments that are not a tuple"));
        };
        match f {
            Value::Global("collections.OrderedDict") => Ok(Value::Dict(Vec::new())),
            Value::Global("torch._utils._rebuild_tensor_v2") => {
                if args.len() < 4 {
                    return Err(self.err("_rebuild_tensor_v2 with fewer than 4 arguments"));
                }
                let Value::Storage(dtype, key) = &args[0] else {
                    return Err(self.err("_rebuild_tensor_v2 without a storage"));
                };
                Ok(Value::Tensor {
                    dtype: *dtype,
                    key: key.clone(),
                    offset: self.usize_of(&args[1], "storage offset")?,
                    shape: self.usizes(&args[2], "tensor size")?,
                    stride: self.usizes(&args[3], "tensor stride")?,
                })
            }
            // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor
            Value::Global("torch._utils._rebuild_parameter") => args
                .into_iter()
                .next()
                .filter(|t| matches!(t, Value::Tensor { .. }))
                .ok_or_else(|| self.err("_rebuild_parameter without a tensor")),
            other => Err(self.err(format!("cannot call {other:?}"))),
        }
    }

    fn persistent(&mut self, pid: Value) -> Result<Value> {
        // ('storage', torch.FloatStorage, key, location, numel)
        let Value::Tuple(t) = pid else {
            return Err(self.err("a persistent id that is not a tuple"));
        };
        match t.as_slice() {
            [Value::Str(kind), Value::Global(g), Value::Str(key), ..] if kind == "storage" => {
                let name = g.rsplit('.').next().unwrap_or("");
                let dtype = StorageDtype::from_storage(name)
                    .ok_or_else(|| self.err(format!("unsupported storage type {g}")))?;
                Ok(Value::Storage(dtype, key.clone()))
            }
            _ => Err(self.err("a persistent id that is not a tensor storage")),
        }
    }

    fn run(&mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO n
                }
                0x95 => {
                    self.take(8)?; // FRAME n
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(Value::Mark),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()? as i64;
                    self.stack.push(Value::Int(v))
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.stack.push(Value::Int(v))
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.stack.push(Value::Int(v))
                }
                0x8a => {
                    // LONG1: n little-endian two's-complement bytes
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return Err(self.err("an integer wider than 64 bits"));
                    }
                    let b = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &x) in b.iter().enumerate() {
                        v |= (x as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v))
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    self.stack.push(Value::Float(v))
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(&module, &name)?
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.global(&m, &n)?,
                        _ => return Err(self.err("STACK_GLOBAL without two strings")),
                    }
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memo_put(i)?
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i)?
                }
                0x94 => {
                    let i = self.memo.len() as u32; // MEMOIZE
                    self.memo_put(i)?
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.memo_get(i)?
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize; // TUPLE1..3
                    if self.stack.len() < n {
                        return Err(self.err("stack underflow (a malformed pickle)"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    if items.iter().any(|v| matches!(v, Value::Mark)) {
                        return Err(self.err("a mark inside a tuple"));
                    }
                    self.stack.push(Value::Tuple(items))
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.stack.push(v)
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = self.reduce(f, args)?;
                    self.stack.push(v)
                }
                b'b' => {
                    // BUILD: the state_dict's `_metadata` (versions); not needed
                    self.pop()?;
                    if self.stack.is_empty() {
                        return Err(self.err("BUILD with nothing to build"));
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::Dict(d)) => d.push((k, v)),
                        _ => return Err(self.err("SETITEM on something that is not a dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.err("SETITEMS with an odd number of items"));
                    }
                    let mut it = items.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    match self.stack.last_mut() {
                        Some(Value::Dict(d)) => d.extend(pairs),
                        _ => return Err(self.err("SETITEMS on something that is not a dict")),
                    }
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::List(l)) => l.push(v),
                        _ => return Err(self.err("APPEND on something that is not a list")),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.stack.last_mut() {
                        Some(Value::List(l)) => l.extend(items),
                        _ => return Err(self.err("APPENDS on something that is not a list")),
                    }
                }
                other => {
                    return Err(self.err(format!(
                        "unsupported pickle opcode 0x{other:02x} (not one a state_dict uses)"
                    )))
                }
            }
        }
    }
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
    let data_err = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason,
    };
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
    let mut m = Machine {
        path: &pkl_path,
        label: "data.pkl",
        bytes: &bytes,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        copied: 0,
    };
    let root = m.run()?;
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
    let data_err = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason,
    };
    const LABELS: [&str; 4] = [
        "legacy pickle 2 (protocol version)",
        "legacy pickle 3 (sys_info)",
        "legacy pickle 4 (the state_dict)",
        "legacy pickle 5 (storage keys)",
    ];
    let mut pos = LEGACY_MAGIC.len();
    let mut values = Vec::with_capacity(4);
    for label in LABELS {
        let mut m = Machine {
            path,
            label,
            bytes,
            pos,
            stack: Vec::new(),
            memo: HashMap::new(),
            copied: 0,
        };
        values.push(m.run()?);
        pos = m.pos;
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
            Value::Tuple(items) | Value::List(items) => todo.extend(items),
            Value::Dict(pairs) => todo.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
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

/// Whether `v` is a state_dict: a non-empty mapping of names to tensors.
fn is_state_dict(v: &Value) -> bool {
    matches!(v, Value::Dict(items) if !items.is_empty()
        && items.iter().all(|(k, v)| matches!((k, v), (Value::Str(_), Value::Tensor { .. }))))
}

/// The tensors of the state_dict in `root` (see [`read_pt_bytes`]), their
/// values gathered from the storages `storage` hands out by key.
fn tensors_of<'b>(
    path: &Path,
    root: Value,
    mut storage: impl FnMut(&str) -> Result<std::borrow::Cow<'b, [u8]>>,
) -> Result<Vec<(String, PtTensor)>> {
    let data_err = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason,
    };
    let Value::Dict(items) = root else {
        return Err(data_err(
            "the pickle holds no state_dict (a mapping of names to tensors); save model.state_dict(), not the model".into(),
        ));
    };
    // a checkpoint: the entries that are state_dicts, named by their keys
    let nested: Vec<(String, Value)> = items
        .iter()
        .filter(|(_, v)| is_state_dict(v))
        .filter_map(|(k, v)| match k {
            Value::Str(k) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect();
    let flat_tensors = items.iter().any(|(_, v)| matches!(v, Value::Tensor { .. }));
    let entries: Vec<(String, Value)> = if !nested.is_empty() && !flat_tensors {
        let prefixed = nested.len() > 1;
        let mut out = Vec::new();
        for (key, dict) in nested {
            let Value::Dict(inner) = dict else { continue };
            for (k, v) in inner {
                if let Value::Str(name) = k {
                    let name = if prefixed {
                        format!("{key}.{name}")
                    } else {
                        name
                    };
                    out.push((name, v));
                }
            }
        }
        out
    } else {
        let mut out = Vec::with_capacity(items.len());
        for (k, v) in items {
            let Value::Str(name) = k else {
                return Err(data_err(format!(
                    "a state_dict key that is not a string: {k:?}"
                )));
            };
            out.push((name, v));
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
            return Err(data_err(format!(
                "state_dict entry '{name}' is not a tensor (and no entry of the file is a state_dict, a mapping of names to tensors)"
            )));
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
