//! The restricted unpickler: a stack machine that knows only the opcodes a
//! state_dict's pickle uses and accepts only the globals PyTorch's
//! `weights_only` unpickler allows for one; any other global is refused by
//! name before anything could run.

use super::StorageDtype;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// A value on the unpickler's stack (values are kept whole for the
/// `Debug` text of error messages).
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub(super) enum Value {
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
    /// What calling an [`INERT`] global gave: a value nothing reads.
    Opaque,
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
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.ComplexFloatStorage",
    "torch.ComplexDoubleStorage",
];

/// Globals a checkpoint beside its state_dict commonly names (a metric kept
/// as a NumPy scalar or array, a `torch.Size`, the bytes of a NumPy value
/// under pickle protocol 2) that are let through as inert values: calling
/// one yields [`Value::Opaque`] and nothing is run, so the state_dict beside
/// them can be read.
const INERT: &[&str] = &[
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
    "_codecs.encode",
    "torch.Size",
];

pub(super) struct Machine<'a> {
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
        v.push_children(&mut todo);
    }
    Some(seen)
}

impl Value {
    /// Pushes the values this one holds (a tuple's or list's items, a
    /// dict's keys and values) onto `todo`, for walks over a value's tree.
    pub(super) fn push_children<'v>(&'v self, todo: &mut Vec<&'v Value>) {
        match self {
            Value::Tuple(items) | Value::List(items) => todo.extend(items),
            Value::Dict(pairs) => todo.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
}

impl<'a> Machine<'a> {
    /// A machine reading the pickle that starts at byte `pos` of `bytes`
    /// (`path` and `label` name it in errors), with an empty stack and memo.
    pub(super) fn new(path: &'a Path, label: &'a str, bytes: &'a [u8], pos: usize) -> Self {
        Machine {
            path,
            label,
            bytes,
            pos,
            stack: Vec::new(),
            memo: HashMap::new(),
            copied: 0,
        }
    }

    /// The byte after the last pickle run (its STOP).
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

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
        if let Some(a) = ALLOWED.iter().chain(INERT).find(|a| **a == full) {
            self.stack.push(Value::Global(a));
            return Ok(());
        }
        // a class (capitalised, as Python names them) of a module that is
        // not PyTorch's, NumPy's or the standard library's: the user's model
        let own = !["torch", "collections", "numpy", "builtins", "_codecs"]
            .contains(&module.split('.').next().unwrap_or(""));
        let advice = if own && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            " (a class of your own code: torch.save(model) pickles the whole module, which cannot be read without running that code; save model.state_dict() instead, or a dict holding it and plain numbers)"
        } else {
            ""
        };
        Err(self.err(format!(
            "refused to load global '{full}': a state_dict needs only tensors (allowed: OrderedDict, torch tensor rebuilds and storages); nothing was run{advice}"
        )))
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
            // a NumPy scalar, dtype or bytes, a torch.Size: kept inert
            Value::Global(g) if INERT.contains(&g) => Ok(Value::Opaque),
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

    /// Runs the pickle to its STOP and returns the value it built.
    pub(super) fn run(&mut self) -> Result<Value> {
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
