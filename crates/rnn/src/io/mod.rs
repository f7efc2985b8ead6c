//! Files: safetensors reading and writing, atomic writes, model files.

mod atomic;
mod flow_log;
mod metrics;
pub mod model_file;
mod plot;
mod run_dir;
mod stream_state;
mod tensors;

pub use atomic::{stage_atomic, write_atomic, Staged};
pub use flow_log::FlowLog;
pub use metrics::MetricsLog;
pub use plot::{plot_lines, plot_panels, LossPlot, PlotStyle, Series, CURVES};
pub use run_dir::{
    model_dir, prepare_run_dir, release_run_dir, remove_stale_temp_files, settle_run_dir, OutMode,
    Settled, LOCK, REPLACED, RUN_FILES, UNFINISHED_KEY,
};
pub use tensors::*;

/// The bytes of `path`, read whole, unless they would take more than half
/// the memory available: then an error naming it (a device such as
/// `/dev/zero` never ends, and reading it grew until the kernel ended the
/// process; a regular file is measured before it is read).
///
/// ```
/// let p = std::env::temp_dir().join(format!("rnn-doc-read-{}", std::process::id()));
/// std::fs::write(&p, b"abc").unwrap();
/// assert_eq!(rnn::io::read_file(&p).unwrap(), b"abc");
/// # std::fs::remove_file(&p).unwrap();
/// ```
pub fn read_file(path: &std::path::Path) -> crate::Result<Vec<u8>> {
    use std::io::Read;
    let io = |e| crate::Error::io(path, e);
    let file = std::fs::File::open(path).map_err(io)?;
    let cap = crate::memory::available_bytes() / 2;
    let too_large = || crate::Error::Data {
        path: path.to_path_buf(),
        reason: format!(
            "more than half of the {} of memory available: not read",
            crate::memory::human_bytes(2.0 * cap as f64)
        ),
    };
    let meta = file.metadata().map_err(io)?;
    if meta.is_file() && meta.len() > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let n = file
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if n as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The bytes read from `path` as text: UTF-8, or UTF-16 with its
/// byte-order mark (what Windows calls a "Unicode" file; a UTF-8 mark is
/// dropped too); otherwise an [`crate::Error::Parse`] naming the line and
/// column (in bytes) of the first byte that is not UTF-8. (UTF-16 was read
/// by the forecaster's CSV reader only; the other readers said `not UTF-8:
/// invalid byte 0xff at column 1`.)
///
/// ```
/// let p = std::path::Path::new("t.txt");
/// let e = rnn::io::utf8_text(p, b"ok\nfa\xe7ade".to_vec());
/// assert_eq!(e.unwrap_err().to_string(), "t.txt:2: not UTF-8: invalid byte 0xe7 at column 3 (byte offset 5)");
/// assert_eq!(rnn::io::utf8_text(p, b"\xff\xfeA\x00\n\x00".to_vec()).unwrap(), "A\n"); // UTF-16LE
/// assert_eq!(rnn::io::utf8_text(p, b"\xef\xbb\xbfA".to_vec()).unwrap(), "A");
/// assert!(rnn::io::utf8_text(p, b"\xfe\xff\xd8\x00".to_vec()).is_err()); // a lone surrogate
/// ```
pub fn utf8_text(path: &std::path::Path, bytes: Vec<u8>) -> crate::Result<String> {
    if let Some(text) = bom_text(path, &bytes) {
        return text;
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = &bytes[..at];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        crate::Error::Parse {
            path: path.to_path_buf(),
            line,
            reason: format!(
                "not UTF-8: invalid byte 0x{:02x} at column {column} (byte offset {at})",
                bytes[at]
            ),
        }
    })
}

/// `bytes` decoded by the byte-order mark they start with (UTF-8, UTF-16LE
/// or UTF-16BE, the mark dropped), an error when they are not valid in that
/// encoding; `None` without a mark.
pub(crate) fn bom_text(path: &std::path::Path, bytes: &[u8]) -> Option<crate::Result<String>> {
    let (enc, bom) = encoding_rs::Encoding::for_bom(bytes)?;
    let (text, bad) = enc.decode_without_bom_handling(&bytes[bom..]);
    Some(match bad {
        true => Err(crate::Error::Data {
            path: path.to_path_buf(),
            reason: format!("not valid {} text after its byte-order mark", enc.name()),
        }),
        false => Ok(text.into_owned()),
    })
}

/// Refuses to write over a file that is already at `path` unless `replace`
/// (a command's `--force`): what a user made, or an input given again as
/// the output by mistake, is never overwritten silently.
///
/// ```
/// let here = std::env::temp_dir().join("rnn-doc-refuse-existing.txt");
/// std::fs::write(&here, "mine").unwrap();
/// let err = rnn::io::refuse_existing(&here, false).unwrap_err();
/// assert!(err.to_string().contains("already exists (use --force to replace it)"));
/// assert!(rnn::io::refuse_existing(&here, true).is_ok());
/// # std::fs::remove_file(&here).unwrap();
/// // `-` is standard output to most tools: refused, not written as a file
/// let err = rnn::io::refuse_existing(std::path::Path::new("-"), true).unwrap_err();
/// assert_eq!(err.to_string(), "-: is not a file name: this output cannot go to standard output (give a file name)");
/// ```
///
/// # Errors
///
/// [`crate::Error::Data`] naming `path` when it exists and `replace` is
/// false, or when it is `-` (standard output to most tools; a file named
/// `-` was written before).
pub fn refuse_existing(path: &std::path::Path, replace: bool) -> crate::Result<()> {
    if path == std::path::Path::new("-") {
        return Err(crate::Error::Data {
            path: path.to_path_buf(),
            reason:
                "is not a file name: this output cannot go to standard output (give a file name)"
                    .into(),
        });
    }
    // a device or FIFO (`-o /dev/null`) is written into, not replaced
    let special = std::fs::metadata(path).is_ok_and(|m| atomic::is_special(&m));
    if replace || special {
        return Ok(());
    }
    if !path.exists() {
        // still absent when written: another process that made it since
        // (two commands given the same -o) is not replaced either
        atomic::expect_new(path);
        return Ok(());
    }
    Err(crate::Error::Data {
        path: path.to_path_buf(),
        reason: "already exists (use --force to replace it)".into(),
    })
}

/// [`refuse_existing`], and first an error when `path` is one of the files
/// the command reads (`inputs`; a model directory's `model.safetensors`, a
/// case file): `--force` replaces an earlier output, never the input itself
/// (`rnn export -o MODEL/model.safetensors --force` left a model no command
/// could load).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("rnn-refuse-input-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let input = dir.join("case.safetensors");
/// std::fs::write(&input, "case").unwrap();
/// // the same file, however it is spelled
/// let again = dir.join(".").join("case.safetensors");
/// let err = rnn::io::refuse_output(&again, true, &[&input]).unwrap_err();
/// assert!(err.to_string().contains("is an input of this command"), "{err}");
/// assert!(rnn::io::refuse_output(&dir.join("out.safetensors"), false, &[&input]).is_ok());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// [`crate::Error::Data`] naming `path` when it is one of `inputs`, or when
/// it exists and `replace` is false.
pub fn refuse_output(
    path: &std::path::Path,
    replace: bool,
    inputs: &[&std::path::Path],
) -> crate::Result<()> {
    if let Ok(out) = path.canonicalize() {
        if inputs
            .iter()
            .any(|i| i.canonicalize().is_ok_and(|i| i == out))
        {
            return Err(crate::Error::Data {
                path: path.to_path_buf(),
                reason: "is an input of this command: write the output elsewhere (--force replaces earlier outputs, never an input)".into(),
            });
        }
    }
    refuse_existing(path, replace)
}

/// The files of the model in `dir` that a command given `--model dir`
/// reads, the `inputs` of [`refuse_output`]: `dir/model.safetensors` and
/// each ensemble member's `dir/member-K/model.safetensors`. An output
/// written over a member (`rnn forecast --plot
/// DIR/member-1/model.safetensors --force`) left an ensemble no command
/// could load (the CLI sweep of session 55).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("rnn-model-inputs-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("member-1")).unwrap();
/// std::fs::write(dir.join("member-1/model.safetensors"), "member").unwrap();
/// let inputs = rnn::io::model_inputs(&dir);
/// assert_eq!(inputs, [dir.join("model.safetensors"), dir.join("member-1/model.safetensors")]);
/// let refs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
/// let err = rnn::io::refuse_output(&dir.join("member-1/model.safetensors"), true, &refs).unwrap_err();
/// assert!(err.to_string().contains("is an input of this command"), "{err}");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn model_inputs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut members: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("member-"))
        .map(|e| e.path().join("model.safetensors"))
        .filter(|p| p.exists())
        .collect();
    members.sort();
    let mut all = vec![dir.join("model.safetensors")];
    all.extend(members);
    all
}

/// Writes `text` to standard output. A reader that stops early (`rnn ... |
/// head`) is not an error: the rest is dropped. Other failures are an
/// [`crate::Error::Io`] on `stdout`.
///
/// ```
/// rnn::io::print_out("").unwrap();
/// ```
pub fn print_out(text: &str) -> crate::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::Error::io("stdout", e)),
        _ => Ok(()),
    }
}

/// Writes out what [`print_out`] left buffered (a last line without its
/// newline): an error when that fails, as for [`print_out`] (a closed
/// pipe is not one). Without it, the failure went unseen at the exit.
pub fn flush_out() -> crate::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::Error::io("stdout", e)),
        _ => Ok(()),
    }
}
