//! Atomic writes: a file written and synced beside its destination, then
//! renamed into place ([`write_atomic`], [`Staged`]), so that a reader sees
//! the old file or the new one, never a mix; through symbolic links, into
//! devices and FIFOs, and never over a file another program made since the
//! command checked its output was absent.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

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
        v.push(through_links(path).unwrap_or_else(|_| path.to_path_buf()));
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
    // an empty path failed as ": No such file or directory", naming nothing
    if path.as_os_str().is_empty() {
        return Err(Error::argument("path", "a file name", "an empty path"));
    }
    let path = &through_links(path)?;
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
/// link, as the system would: a dangling chain's last target as its link
/// names it). A loop, or more than 40 links in a row (the system's own
/// limit), is an error: a link to itself was replaced by a file, and the
/// middle link of `a -> b -> c` with `c` missing (the library sweep of
/// session 53).
pub(crate) fn through_links(path: &Path) -> Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..=40 {
        let link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        if !link {
            return Ok(at);
        }
        let to = std::fs::read_link(&at).map_err(|e| Error::Io {
            path: at.clone(),
            source: e,
        })?;
        at = match at.parent() {
            Some(d) if to.is_relative() => d.join(to),
            _ => to,
        };
    }
    Err(Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(
            "a loop of symbolic links (or more than 40 in a row): not written",
        ),
    })
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
                                                                           // a dangling chain a -> b -> c: c is made, both links stay links
                                                                           // (b was replaced by a file)
        std::os::unix::fs::symlink("b.bin", d.join("a.bin")).unwrap();
        std::os::unix::fs::symlink("real/c.bin", d.join("b.bin")).unwrap();
        write_atomic(&d.join("a.bin"), b"chain").unwrap();
        assert_eq!(std::fs::read(d.join("real/c.bin")).unwrap(), b"chain");
        for l in ["a.bin", "b.bin"] {
            assert!(std::fs::symlink_metadata(d.join(l))
                .unwrap()
                .file_type()
                .is_symlink());
        }
        // a link to itself is an error, and stays a link (it was replaced
        // by a file)
        std::os::unix::fs::symlink("self.bin", d.join("self.bin")).unwrap();
        let e = write_atomic(&d.join("self.bin"), b"x")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "self.bin: a loop of symbolic links (or more than 40 in a row): not written"
            ),
            "{e}"
        );
        assert!(std::fs::symlink_metadata(d.join("self.bin"))
            .unwrap()
            .file_type()
            .is_symlink());
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
}
