//! Reading and writing safetensors files, with errors that name the file and
//! tensor; written atomically ([`super::atomic`]).

use super::atomic::{stage_atomic, write_atomic, Staged};
use crate::{Error, Float, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A safetensors file read fully into memory.
#[derive(Debug)]
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
    checksum: Checksum,
}

/// Whether a file's tensor bytes were checked against the checksum in its
/// metadata (key [`CHECKSUM_KEY`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The file carries a checksum and its tensor bytes match it.
    Verified,
    /// The file carries no checksum (written by PyTorch, or by an older `rnn`).
    Absent,
}

/// The metadata key holding `sha256:<hex>` of a file's tensor bytes (the
/// bytes after the header), written by [`TensorWriter`].
pub const CHECKSUM_KEY: &str = "checksum";

/// The metadata key holding `sha256:<hex>` of the file's other metadata
/// (every key but the two checksums, as the JSON object of the keys in
/// order): a model's configuration, vocabulary and forecasting settings are
/// as much the model as its tensors. Files without it (older ones) load
/// without this check.
pub const METADATA_CHECKSUM_KEY: &str = "metadata_checksum";

/// `sha256:<hex>` of the metadata as [`METADATA_CHECKSUM_KEY`] says,
/// `metadata` holding neither checksum.
fn metadata_tag(metadata: &BTreeMap<String, String>) -> String {
    sha256_tag(&serde_json::to_vec(metadata).unwrap_or_default())
}

/// A safetensors file whose metadata was edited on purpose (a test of a
/// loader's own checks, a repair by hand) with both checksums recomputed
/// for what it now holds: the damaged-file check passes, every check of
/// the values behind it still applies. The header is re-padded to 8 bytes.
///
/// ```
/// use rnn::io::{reseal, TensorFile, TensorWriter};
/// let mut w = TensorWriter::new();
/// w.add::<f32>("x", &[1], &[1.0]);
/// w.meta("task", "lm");
/// let mut edited = w.to_bytes()?;
/// let at = edited.windows(4).position(|b| b == b"\"lm\"").unwrap();
/// edited[at + 1..at + 3].copy_from_slice(b"xx");
/// assert!(TensorFile::from_bytes("m".into(), edited.clone()).is_err());
/// let f = TensorFile::from_bytes("m".into(), reseal(&edited)?)?;
/// assert_eq!(f.metadata()["task"], "xx");
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn reseal(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |reason: &str| Error::Config(format!("reseal: {reason}"));
    let n = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(|b: [u8; 8]| u64::from_le_bytes(b) as usize)
        .ok_or_else(|| bad("shorter than a header length"))?;
    let end = 8usize.checked_add(n).filter(|&e| e <= bytes.len());
    let end = end.ok_or_else(|| bad("the header runs past the end"))?;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..end]).map_err(|e| bad(&e.to_string()))?;
    let mut own: BTreeMap<String, String> = BTreeMap::new();
    if let Some(serde_json::Value::Object(m)) = header.remove("__metadata__") {
        for (k, v) in m {
            let v = v
                .as_str()
                .ok_or_else(|| bad(&format!("metadata '{k}' is not a string")))?;
            own.insert(k, v.to_string());
        }
    }
    sealed(header, own, &bytes[end..])
}

/// A safetensors file of the tensor entries `header` (without
/// `__metadata__`), the metadata `own` (any checksum in it replaced) and
/// the tensor bytes `data`: the metadata gets both checksums, the header
/// is padded to 8 bytes.
fn sealed(
    mut header: serde_json::Map<String, serde_json::Value>,
    mut own: BTreeMap<String, String>,
    data: &[u8],
) -> Result<Vec<u8>> {
    own.remove(CHECKSUM_KEY);
    own.remove(METADATA_CHECKSUM_KEY);
    let mut meta: serde_json::Map<String, serde_json::Value> = own
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    meta.insert(METADATA_CHECKSUM_KEY.into(), metadata_tag(&own).into());
    meta.insert(CHECKSUM_KEY.into(), sha256_tag(data).into());
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut json = serde_json::to_vec(&header)
        .map_err(|e| Error::Config(format!("cannot serialise the header: {e}")))?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    Ok(out)
}

/// `sha256:<hex>` of `bytes`.
fn sha256_tag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
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
        let bytes = crate::io::read_file(&path)?;
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
        let mut metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        // the checksum is the file's integrity, not its content: verified
        // here and not passed on (a reader that re-saves the metadata gets
        // a new one from the writer)
        if let Some(want) = metadata.remove(METADATA_CHECKSUM_KEY) {
            let mut rest = metadata.clone();
            rest.remove(CHECKSUM_KEY);
            let got = metadata_tag(&rest);
            if got != want {
                return Err(Error::Corrupt {
                    path,
                    reason: format!(
                        "metadata does not match the file's checksum (expected {want}, got {got}): the file was damaged or edited after it was written"
                    ),
                });
            }
        }
        let checksum = match metadata.remove(CHECKSUM_KEY) {
            None => Checksum::Absent,
            Some(want) => {
                // the header is an 8-byte length then that many bytes; the
                // tensor bytes follow (deserialize above checked the sizes)
                let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8])) as usize;
                let got = sha256_tag(&bytes[8 + n..]);
                if got != want {
                    return Err(Error::Corrupt {
                        path,
                        reason: format!(
                            "tensor bytes do not match the file's checksum (expected {want}, got {got}): the file was damaged after it was written"
                        ),
                    });
                }
                Checksum::Verified
            }
        };
        Ok(TensorFile {
            path,
            bytes,
            metadata,
            checksum,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All metadata, sorted by key.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Whether the tensor bytes were verified against a stored checksum.
    pub fn checksum(&self) -> Checksum {
        self.checksum
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

    /// Checks that metadata `key` holds `want`; otherwise an error naming the
    /// key, the value found and `expected` (what a right file holds).
    pub fn expect_meta(&self, key: &str, want: &str, expected: &str) -> Result<()> {
        let got = self.meta(key)?;
        if got == want {
            Ok(())
        } else {
            Err(self.bad_meta(key, got, expected))
        }
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
            Some(i) => Err(self.bad_element(name, i, data[i].to_string(), expected)),
        }
    }

    /// [`TensorFile::check_finite`] (`finite` what was wanted), then an
    /// error naming the first element past f32's range (`in_range` what was
    /// wanted): values read as f64 for a model that computes in f32, where
    /// 1e39 became an infinity.
    pub fn check_f32(&self, name: &str, data: &[f64], finite: &str, in_range: &str) -> Result<()> {
        self.check_finite(name, data, finite)?;
        match data.iter().position(|v| v.abs() > f32::MAX as f64) {
            None => Ok(()),
            Some(i) => Err(self.bad_element(name, i, format!("{:e}", data[i]), in_range)),
        }
    }

    /// Element `i` of tensor `name` holds `value`, not what was `expected`.
    fn bad_element(&self, name: &str, i: usize, value: String, expected: &str) -> Error {
        Error::Value {
            what: format!("{}: tensor '{name}' element {i}", self.path.display()),
            value,
            expected: expected.into(),
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

    /// How many values the file's tensors hold in all (bounded by the
    /// file's size: safetensors checked every tensor's bytes).
    pub fn value_count(&self) -> usize {
        SafeTensors::deserialize(&self.bytes)
            .map(|st| {
                st.tensors()
                    .iter()
                    .map(|(_, v)| v.shape().iter().product::<usize>())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Whether the file holds a tensor `name`.
    pub fn has(&self, name: &str) -> bool {
        self.view(name).is_ok()
    }

    /// The names of all tensors, sorted (the safetensors crate lists them
    /// in a hash map's order, which differs from run to run).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = SafeTensors::deserialize(&self.bytes)
            .map(|st| st.names().into_iter().map(String::from).collect())
            .unwrap_or_default();
        names.sort();
        names
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

    /// Reads a floating tensor (F64, F32, F16 or BF16, all exactly) as `f64`.
    pub fn f64(&self, name: &str) -> Result<F64Tensor> {
        let v = self.view(name)?;
        let data = match v.dtype() {
            Dtype::F64 => decode(v.data(), f64::from_le_bytes),
            Dtype::F32 => decode(v.data(), |b| f32::from_le_bytes(b) as f64),
            Dtype::F16 => decode(v.data(), |b| {
                crate::kernels::float::f16_to_f64(u16::from_le_bytes(b))
            }),
            // bf16 is the top half of an f32
            Dtype::BF16 => decode(v.data(), |b| {
                f32::from_bits((u16::from_le_bytes(b) as u32) << 16) as f64
            }),
            d => return Err(self.bad_dtype(name, d, "F64, F32, F16 or BF16")),
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

    /// The shape of tensor `name`, without decoding its values.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.view(name)?.shape().to_vec())
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

/// Tensors to write, by name. The file is byte-reproducible: tensors in name
/// order, metadata sorted by key, and a [`CHECKSUM_KEY`] entry holding the
/// SHA-256 of the tensor bytes, verified by [`TensorFile::read`].
#[derive(Default, Debug)]
pub struct TensorWriter {
    tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
    metadata: BTreeMap<String, String>,
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

    /// How many tensors have been added.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether no tensor has been added.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The metadata entries set so far.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Sets a metadata entry.
    pub fn meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// The serialised file: the safetensors layout (an 8-byte little-endian
    /// header length, a JSON header padded with spaces to a multiple of 8,
    /// the tensor bytes), written here rather than by `safetensors::serialize`
    /// because that orders metadata by a `HashMap`, so two identical runs
    /// would write different bytes.
    ///
    /// ```
    /// let mut w = rnn::io::TensorWriter::new();
    /// w.add::<f32>("b", &[2], &[1.0, 2.0]);
    /// w.add::<f32>("a", &[1], &[3.0]);
    /// w.meta("z", "last");
    /// w.meta("k", "first");
    /// let bytes = w.to_bytes().unwrap();
    /// assert_eq!(bytes, w.to_bytes().unwrap());
    /// let f = rnn::io::TensorFile::from_bytes("mem".into(), bytes).unwrap();
    /// assert_eq!(f.checksum(), rnn::io::Checksum::Verified);
    /// assert_eq!(f.f64("b").unwrap().data, vec![1.0, 2.0]);
    /// assert_eq!(f.meta("k").unwrap(), "first");
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut header = serde_json::Map::new(); // a BTreeMap: keys sorted
        let mut data = Vec::new();
        for (name, (dtype, shape, bytes)) in &self.tensors {
            let n: usize = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| {
                    Error::Config(format!("tensor '{name}': shape {shape:?} overflows"))
                })?;
            if n.checked_mul(dtype.bitsize() / 8) != Some(bytes.len()) {
                return Err(Error::Config(format!(
                    "tensor '{name}': {} bytes for shape {shape:?} of {dtype:?}",
                    bytes.len()
                )));
            }
            let start = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.clone(),
                serde_json::json!({
                    "dtype": format!("{dtype:?}"),
                    "shape": shape,
                    "data_offsets": [start, data.len()],
                }),
            );
        }
        sealed(header, self.metadata.clone(), &data)
    }

    /// Writes the file atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Writes the file beside `path`, not yet in its place: see [`Staged`].
    pub fn stage(&self, path: impl AsRef<Path>) -> Result<Staged> {
        stage_atomic(path.as_ref(), &self.to_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TensorWriter {
        let mut w = TensorWriter::new();
        w.add::<f32>("w", &[2, 2], &[1.0, -2.0, 3.5, 4.0]);
        w.add_i64("ids", &[3], &[0, 7, 2]);
        for (k, v) in [("task", "lm"), ("config", "{}"), ("a", "1")] {
            w.meta(k, v);
        }
        w
    }

    #[test]
    fn same_tensors_same_bytes() {
        // metadata set in another order gives the same file
        let mut w = TensorWriter::new();
        w.add_i64("ids", &[3], &[0, 7, 2]);
        w.add::<f32>("w", &[2, 2], &[1.0, -2.0, 3.5, 4.0]);
        for (k, v) in [("a", "1"), ("config", "{}"), ("task", "lm")] {
            w.meta(k, v);
        }
        assert_eq!(sample().to_bytes().unwrap(), w.to_bytes().unwrap());
    }

    #[test]
    fn readable_by_the_safetensors_crate() {
        let bytes = sample().to_bytes().unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("w").unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(&t.data()[4..8], &(-2.0f32).to_le_bytes());
        assert_eq!(bytes.len() % 8, 0); // header padded to 8, then 16 + 24 bytes
    }

    #[test]
    fn a_flipped_tensor_byte_is_refused() {
        let bytes = sample().to_bytes().unwrap();
        let ok = TensorFile::from_bytes("x.safetensors".into(), bytes.clone()).unwrap();
        assert_eq!(ok.checksum(), Checksum::Verified);
        let mut bad = bytes;
        let last = bad.len() - 1;
        bad[last] ^= 0x10; // inside the tensor data, past the header
        let e = TensorFile::from_bytes("x.safetensors".into(), bad).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("x.safetensors: "), "{msg}");
        assert!(msg.contains("checksum"), "{msg}");
    }

    #[test]
    fn an_edited_metadata_value_is_refused() {
        // a model's settings live in its metadata: one changed digit there
        // (a normalisation std, say) changes every forecast
        let bytes = sample().to_bytes().unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let at = text.find("\"task\":\"lm\"").unwrap() + "\"task\":\"".len();
        let mut bad = bytes;
        bad[at] = b'L';
        let msg = TensorFile::from_bytes("x.safetensors".into(), bad)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("x.safetensors: "), "{msg}");
        assert!(
            msg.contains("metadata does not match the file's checksum"),
            "{msg}"
        );
        // neither checksum is passed on as metadata
        let ok =
            TensorFile::from_bytes("x.safetensors".into(), sample().to_bytes().unwrap()).unwrap();
        assert_eq!(
            ok.metadata().keys().collect::<Vec<_>>(),
            ["a", "config", "task"]
        );
    }

    #[test]
    fn files_without_a_checksum_still_load() {
        // written by the safetensors crate itself, as PyTorch users do
        let data: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![2], &data).unwrap();
        let bytes = safetensors::tensor::serialize([("v", view)], None).unwrap();
        let f = TensorFile::from_bytes("old.safetensors".into(), bytes).unwrap();
        assert_eq!(f.checksum(), Checksum::Absent);
        assert_eq!(f.f64("v").unwrap().data, vec![1.5, 2.5]);
    }
}
