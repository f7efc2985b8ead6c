//! Reading and writing safetensors files, with errors that name the file and
//! tensor, and atomic writes (temporary file, fsync, rename).

use crate::{Error, Float, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
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

/// A file written (and synced) beside its destination but not yet in its
/// place: [`Staged::commit`] renames it over the destination; dropped
/// without a commit, it is removed and the destination keeps what it held.
/// For a result that must be shown before a state moves on (`rnn step`):
/// stage the state (which fails, with nothing shown, when it cannot be
/// written), show the result, then commit.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("rnn-staged-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("state.bin");
/// std::fs::write(&path, b"old")?;
/// let staged = rnn::io::stage_atomic(&path, b"new")?;
/// assert_eq!(std::fs::read(&path)?, b"old"); // not yet in place
/// drop(staged); // given up: the old file stays, the staged one is gone
/// assert_eq!(std::fs::read(&path)?, b"old");
/// rnn::io::stage_atomic(&path, b"new")?.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"new");
/// assert_eq!(std::fs::read_dir(&dir)?.count(), 1);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Staged {
    /// The file written.
    tmp: PathBuf,
    /// Where it goes.
    path: PathBuf,
    /// The destination's folder (synced after the rename).
    dir: PathBuf,
    /// Whether it was renamed into place.
    done: bool,
    /// The bytes, when the destination is a device, FIFO or socket
    /// ([`is_special`]): written into it at the commit, nothing staged.
    direct: Option<Vec<u8>>,
}

impl Staged {
    /// Renames the staged file over its destination and syncs the folder;
    /// writes into a device or FIFO; links a file that must still be absent
    /// ([`crate::io::refuse_existing`] without `--force`) into place.
    ///
    /// # Errors
    ///
    /// An [`Error::Io`] naming the destination when the rename or write
    /// fails, an [`Error::Data`] when a file that must be absent exists
    /// (the staged file is then removed).
    pub fn commit(mut self) -> Result<()> {
        if is_expected_new(&self.path) {
            return self.commit_new();
        }
        if let Some(bytes) = self.direct.take() {
            self.done = true;
            return std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .and_then(|mut f| f.write_all(&bytes))
                .map_err(|e| Error::io(&self.path, e));
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        self.done = true;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Staged {
    /// [`Staged::commit`] of a file that must still be absent
    /// ([`expect_new`]): linked into place, which fails when the name
    /// exists (a rename would replace it), then the staged name removed.
    /// On a file system without hard links, renamed after a last check.
    fn commit_new(mut self) -> Result<()> {
        let taken = || Error::Data {
            path: self.path.clone(),
            reason: "already exists: written by another program since this command started \
                     (use --force to replace it)"
                .into(),
        };
        match std::fs::hard_link(&self.tmp, &self.path) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(taken()),
            Err(_) if self.path.exists() => return Err(taken()),
            Err(_) => {
                std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?
            }
        }
        self.done = true;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        // written: this program's own file from now on
        if let Ok(mut v) = EXPECTED_NEW.lock() {
            v.retain(|p| *p != self.path);
        }
        Ok(())
    }
}

/// The outputs [`crate::io::refuse_existing`] found absent without
/// `--force`: their commit must not replace a file made meanwhile.
static EXPECTED_NEW: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Marks `path` as an output that must still be absent when it is written.
pub(crate) fn expect_new(path: &Path) {
    if let Ok(mut v) = EXPECTED_NEW.lock() {
        v.push(through_links(path));
    }
}

/// Whether `path` (the resolved destination) was marked by [`expect_new`].
fn is_expected_new(path: &Path) -> bool {
    EXPECTED_NEW
        .lock()
        .is_ok_and(|v| v.iter().any(|p| p == path))
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done && self.direct.is_none() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to a temporary file in `path`'s folder and syncs it: the
/// first half of [`write_atomic`] ([`Staged`]).
///
/// # Errors
///
/// An [`Error::Io`] naming `path` when the file cannot be written (a
/// missing or read-only folder, a full disk); nothing is left behind.
///
/// A symbolic link is written through (its target replaced, the link
/// kept: renamed over, the link became a file and its target went stale),
/// and a device, FIFO or socket (`-o /dev/null`) is written into at the
/// commit, never replaced by a file.
pub fn stage_atomic(path: &Path, bytes: &[u8]) -> Result<Staged> {
    let path = &through_links(path);
    if std::fs::metadata(path).is_ok_and(|m| is_special(&m)) {
        return Ok(Staged {
            tmp: PathBuf::new(),
            path: path.to_path_buf(),
            dir: PathBuf::new(),
            done: false,
            direct: Some(bytes.to_vec()),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let staged = Staged {
        tmp,
        path: path.to_path_buf(),
        dir,
        done: false,
        direct: None,
    };
    (|| {
        let mut f = std::fs::File::create(&staged.tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .map_err(|e| Error::io(path, e))?; // dropping `staged` removes what was written
    Ok(staged)
}

/// Whether a file is neither a regular file nor a folder (a device, FIFO
/// or socket): written into, never replaced.
pub(crate) fn is_special(m: &std::fs::Metadata) -> bool {
    !m.is_file() && !m.is_dir()
}

/// `path`, or the file a symbolic link at `path` points to (through every
/// link; a dangling link's target as it names it).
pub(crate) fn through_links(path: &Path) -> PathBuf {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !link {
        return path.to_path_buf();
    }
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match std::fs::read_link(path) {
        Ok(to) if to.is_absolute() => to,
        Ok(to) => path.parent().map_or(to.clone(), |d| d.join(&to)),
        Err(_) => path.to_path_buf(),
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new
/// one, never a mix: temporary file in the same folder, fsync, rename, fsync
/// of the folder ([`stage_atomic`], then [`Staged::commit`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    stage_atomic(path, bytes)?.commit()
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

    /// An empty folder of this test process named after `name`.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A symbolic link is written through: its target gets the bytes and
    /// the link stays a link (the rename replaced the link with a file and
    /// left its target stale: `rnn step --state LINK` then resumed from the
    /// old state when given the target's name).
    #[test]
    fn a_write_through_a_link_replaces_its_target_and_keeps_the_link() {
        let d = scratch("rnn-link-write");
        std::fs::create_dir_all(d.join("real")).unwrap();
        std::fs::write(d.join("real/state.bin"), b"old").unwrap();
        std::os::unix::fs::symlink("real/state.bin", d.join("link.bin")).unwrap();
        write_atomic(&d.join("link.bin"), b"new").unwrap();
        assert!(std::fs::symlink_metadata(d.join("link.bin"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(d.join("real/state.bin")).unwrap(), b"new");
        // a dangling link: its target is made
        std::os::unix::fs::symlink("real/new.bin", d.join("dangling.bin")).unwrap();
        write_atomic(&d.join("dangling.bin"), b"made").unwrap();
        assert_eq!(std::fs::read(d.join("real/new.bin")).unwrap(), b"made");
        assert_eq!(std::fs::read_dir(d.join("real")).unwrap().count(), 2); // no temporary left
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A FIFO (as a device: `-o /dev/null`) is written into, not replaced by
    /// a file: the rename turned the machine's /dev/null into a regular
    /// file of safetensors bytes under `rnn reference -o /dev/null --force`.
    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let d = scratch("rnn-fifo-write");
        let fifo = d.join("out.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        crate::io::refuse_existing(&fifo, false).unwrap(); // no --force needed
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// An output found absent without --force is not replaced when another
    /// program writes it before this one does (two `rnn export -o same`
    /// at once both said "wrote" and one replaced the other).
    #[test]
    fn an_output_made_meanwhile_by_another_program_is_not_replaced() {
        let d = scratch("rnn-new-only");
        let out = d.join("out.onnx");
        crate::io::refuse_existing(&out, false).unwrap();
        std::fs::write(&out, b"the other program's").unwrap();
        let e = write_atomic(&out, b"ours").unwrap_err().to_string();
        assert!(
            e.contains("already exists: written by another program"),
            "{e}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"the other program's");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1); // no temporary left
                                                               // absent still: written
        std::fs::remove_file(&out).unwrap();
        write_atomic(&out, b"ours").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"ours");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
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
