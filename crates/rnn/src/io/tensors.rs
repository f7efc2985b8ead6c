//! Reading and writing safetensors files, with errors that name the file and
//! tensor, and atomic writes (temporary file, fsync, rename).

use crate::{Error, Float, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A safetensors file read fully into memory.
#[derive(Debug)]
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: HashMap<String, String>,
}

/// A tensor's values as `f64`, with its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct F64Tensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

impl TensorFile {
    /// Reads and validates `path` (header, offsets, sizes).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::from_bytes(path, bytes)
    }

    /// Parses bytes that came from `path`.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Self> {
        let corrupt = |e: safetensors::SafeTensorError| Error::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        };
        SafeTensors::deserialize(&bytes).map_err(corrupt)?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
        let metadata = meta.metadata().clone().unwrap_or_default();
        Ok(TensorFile {
            path,
            bytes,
            metadata,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All metadata.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// A metadata value, or an error naming the key.
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Metadata {
                path: self.path.clone(),
                key: key.into(),
                value: String::new(),
                expected: "the key must be present".into(),
            })
    }

    /// An error for metadata `key` holding an unusable value.
    pub fn bad_meta(&self, key: &str, value: &str, expected: &str) -> Error {
        Error::Metadata {
            path: self.path.clone(),
            key: key.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// An error naming the first non-finite element of tensor `name`'s
    /// `data`, if any; `expected` says what was wanted ("a finite weight").
    pub fn check_finite(&self, name: &str, data: &[f64], expected: &str) -> Result<()> {
        match data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(Error::Value {
                what: format!("{}: tensor '{name}' element {i}", self.path.display()),
                value: data[i].to_string(),
                expected: expected.into(),
            }),
        }
    }

    fn view(&self, name: &str) -> Result<TensorView<'_>> {
        let st = SafeTensors::deserialize(&self.bytes).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        st.tensor(name).map_err(|_| Error::MissingTensor {
            path: self.path.clone(),
            tensor: name.into(),
        })
    }

    /// Whether the file holds a tensor `name`.
    pub fn has(&self, name: &str) -> bool {
        self.view(name).is_ok()
    }

    /// The names of all tensors.
    pub fn names(&self) -> Vec<String> {
        SafeTensors::deserialize(&self.bytes)
            .map(|st| st.names().into_iter().map(String::from).collect())
            .unwrap_or_default()
    }

    /// An error for tensor `name` having shape `got` where `expected` was needed.
    pub fn bad_shape(&self, name: &str, got: &[usize], expected: String) -> Error {
        Error::Shape {
            path: self.path.clone(),
            tensor: name.into(),
            got: got.to_vec(),
            expected,
        }
    }

    /// Reads a floating tensor (F64 or F32) as `f64`.
    pub fn f64(&self, name: &str) -> Result<F64Tensor> {
        let v = self.view(name)?;
        let data = match v.dtype() {
            Dtype::F64 => decode(v.data(), f64::from_le_bytes),
            Dtype::F32 => decode(v.data(), |b| f32::from_le_bytes(b) as f64),
            d => return Err(self.bad_dtype(name, d, "F64 or F32")),
        };
        Ok(F64Tensor {
            shape: v.shape().to_vec(),
            data,
        })
    }

    fn bad_dtype(&self, name: &str, got: Dtype, expected: &str) -> Error {
        Error::Dtype {
            path: self.path.clone(),
            tensor: name.into(),
            got: format!("{got:?}"),
            expected: expected.into(),
        }
    }

    /// Reads a floating tensor and checks its shape.
    pub fn f64_shaped(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        let t = self.f64(name)?;
        if t.shape != shape {
            return Err(self.bad_shape(name, &t.shape, format!("{shape:?}")));
        }
        Ok(t.data)
    }

    /// Reads an integer tensor (I64 or I32) with its shape.
    pub fn i64(&self, name: &str) -> Result<(Vec<usize>, Vec<i64>)> {
        let v = self.view(name)?;
        let data = match v.dtype() {
            Dtype::I64 => decode(v.data(), i64::from_le_bytes),
            Dtype::I32 => decode(v.data(), |b| i32::from_le_bytes(b) as i64),
            d => return Err(self.bad_dtype(name, d, "I64")),
        };
        Ok((v.shape().to_vec(), data))
    }

    /// The dtype name of tensor `name` ("F64", "I64", ...).
    pub fn dtype(&self, name: &str) -> Result<String> {
        Ok(format!("{:?}", self.view(name)?.dtype()))
    }
}

/// Decodes little-endian values of `N` bytes each (safetensors has already
/// checked that the length is a multiple of `N`).
fn decode<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|b| f(b.try_into().unwrap_or([0; N])))
        .collect()
}

/// Tensors to write, by name (sorted on output, as safetensors does).
#[derive(Default, Debug)]
pub struct TensorWriter {
    tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
    metadata: HashMap<String, String>,
}

impl TensorWriter {
    /// An empty set of tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a float tensor in `T`'s own dtype.
    pub fn add<T: Float>(&mut self, name: impl Into<String>, shape: &[usize], data: &[T]) {
        let dtype = if T::DTYPE == "F64" {
            Dtype::F64
        } else {
            Dtype::F32
        };
        self.tensors.insert(
            name.into(),
            (dtype, shape.to_vec(), T::to_le_bytes_vec(data)),
        );
    }

    /// Adds an I64 tensor.
    pub fn add_i64(&mut self, name: impl Into<String>, shape: &[usize], data: &[i64]) {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .insert(name.into(), (Dtype::I64, shape.to_vec(), bytes));
    }

    /// Sets a metadata entry.
    pub fn meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// The serialised file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut views = Vec::with_capacity(self.tensors.len());
        for (name, (dtype, shape, bytes)) in &self.tensors {
            let v = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| Error::Config(format!("tensor '{name}': {e}")))?;
            views.push((name.clone(), v));
        }
        let meta = (!self.metadata.is_empty()).then(|| self.metadata.clone());
        safetensors::tensor::serialize(views, meta)
            .map_err(|e| Error::Config(format!("cannot serialise tensors: {e}")))
    }

    /// Writes the file atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new
/// one, never a mix: temporary file in the same folder, fsync, rename, fsync
/// of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
