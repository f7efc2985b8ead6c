//! Run directories: what a training run may write into `--out`, and the
//! checks that keep it from destroying another run or model.
//!
//! A new run refuses a directory that already holds a model or a run (exit
//! code 2 in the CLI), unless told to replace it (`--force`). Replacing
//! moves only the files a run writes aside, into [`REPLACED`] inside the
//! directory, until the new run has written its model: [`settle_run_dir`]
//! then drops them, or, when the new run failed (or was killed) before
//! writing a model, puts them back, so a failed run never costs the user
//! the model it was to replace. Every start also removes stale temporary
//! files left by a write that was killed mid-way (`.NAME.tmp.PID`, see
//! [`crate::io::write_atomic`]).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The files a training run writes into its directory.
pub const RUN_FILES: &[&str] = &[
    "model.safetensors",
    "train_state.safetensors",
    "metrics.jsonl",
    "diagnostics.jsonl",
    "loss.svg",
    "gradient-flow.svg",
    "spectral-radius.svg",
];

/// The folder inside a run directory that holds the replaced run's files
/// while a `--force` run has not yet written its model.
pub const REPLACED: &str = ".replaced";

/// Metadata key of a model file that is the checkpoint of a training still
/// under way, or stopped part-way (`"true"`): a forecaster whose ensemble is
/// not all trained, a classifier without all its members. A `--force` run
/// killed with such a checkpoint gives back the finished model it was to
/// replace ([`settle_run_dir`]).
pub const UNFINISHED_KEY: &str = "unfinished";

/// Whether the model file at `path` says it is unfinished
/// ([`UNFINISHED_KEY`]); reads only its header.
fn unfinished(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut len = [0u8; 8];
    if f.read_exact(&mut len).is_err() {
        return false;
    }
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 {
        return false;
    }
    let mut header = vec![0u8; n as usize];
    if f.read_exact(&mut header).is_err() {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(&header)
        .ok()
        .and_then(|h| {
            h["__metadata__"][UNFINISHED_KEY]
                .as_str()
                .map(|v| v == "true")
        })
        .unwrap_or(false)
}

/// Where the model of `dir` is: `dir`, or `dir/.replaced` while a `--force`
/// run into `dir` has not written its model (under way, or killed: the
/// next training start settles it), so that reading commands keep using
/// the model it is to replace.
pub fn model_dir(dir: &Path) -> PathBuf {
    let aside = dir.join(REPLACED);
    match !dir.join("model.safetensors").exists() && aside.join("model.safetensors").is_file() {
        true => aside,
        false => dir.to_path_buf(),
    }
}

/// The file a run locks in its directory ([`prepare_run_dir`]) for as long
/// as it runs, so that a second run into the same directory is refused
/// instead of mixing its files with the first's.
pub const LOCK: &str = ".rnn.lock";

/// The run directories this process holds locked, by canonical path, with
/// the open lock files (a lock lasts as long as its file is open: until
/// [`release_run_dir`] or the end of the process, however it ends).
static HELD: std::sync::Mutex<Vec<(PathBuf, std::fs::File)>> = std::sync::Mutex::new(Vec::new());

/// Locks `dir` (an existing directory) for this process, or refuses when
/// another process holds it. Locking it again from this process is a no-op.
fn lock_run_dir(dir: &Path) -> Result<()> {
    let key = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.iter().any(|(p, _)| *p == key) {
        return Ok(());
    }
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {
            held.push((key, file));
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Data {
            path: dir.to_path_buf(),
            reason: format!(
                "is in use by another run (it holds {LOCK} locked); wait for it to end, or use another directory"
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Ends this process's lock on `dir` taken by [`prepare_run_dir`] and
/// removes the lock file (nothing when this process does not hold it). A
/// lock not released ends with the process.
pub fn release_run_dir(dir: &Path) {
    let Ok(key) = dir.canonicalize() else {
        return;
    };
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = held.iter().position(|(p, _)| *p == key) {
        // removed while still locked: a run that opens the old file finds
        // it locked, one that comes later makes a new one
        let _ = std::fs::remove_file(dir.join(LOCK));
        held.swap_remove(i);
    }
}

/// How a run uses its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutMode {
    /// A new run: the directory must not hold a model or a run.
    New,
    /// A new run replacing whatever run or model the directory holds
    /// (`--force`): the files of [`RUN_FILES`], `epoch-*` snapshot and
    /// `member-*` ensemble directories are moved into [`REPLACED`] first
    /// (removed or restored by [`settle_run_dir`]); other files are left
    /// alone.
    Replace,
    /// Continuing the run in the directory (`--resume`).
    Resume,
}

impl OutMode {
    /// The mode of a run given `--resume` (a directory) and `--force`.
    pub fn from_flags(resume: bool, force: bool) -> Self {
        match (resume, force) {
            (true, _) => OutMode::Resume,
            (false, true) => OutMode::Replace,
            (false, false) => OutMode::New,
        }
    }
}

/// What an existing directory holds, for the error message: the task of its
/// model when it has one (`"lm"`, `"tag"`, ...), and its run files.
fn describe(dir: &Path, present: &[PathBuf]) -> String {
    let model = dir.join("model.safetensors");
    let task = crate::io::TensorFile::read(&model)
        .ok()
        .and_then(|f| f.metadata().get("task").cloned());
    let names: Vec<String> = present
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    // a checkpoint of a run that stopped part-way (diverged, killed) says so
    let part = match unfinished(&model) {
        true => ": the unfinished checkpoint of a run that stopped part-way",
        false => "",
    };
    match task {
        Some(t) => format!(
            "{} model ({}{part})",
            crate::tasks::insight::a_task(&t),
            names.join(", ")
        ),
        None => format!("a run ({}{part})", names.join(", ")),
    }
}

/// Run files, snapshot and ensemble-member directories present in `dir`.
fn run_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = RUN_FILES
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut snaps: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // an ensemble member's directory even before its model is
                // written (a run killed first leaves it empty)
                p.is_dir()
                    && (name.starts_with("member-")
                        || (name.starts_with("epoch-") && p.join("model.safetensors").exists()))
            })
            .collect();
        snaps.sort();
        out.extend(snaps);
    }
    out
}

/// Removes temporary files (`.NAME.tmp.PID`) that a killed atomic write left
/// in `dir` and in its ensemble members' directories (`member-K`); returns
/// how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("member-") && e.path().is_dir() {
            n += remove_stale_temp_files(&e.path())?;
            continue;
        }
        let stale = name.starts_with('.')
            && name
                .rsplit_once(".tmp.")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if stale && e.path().is_file() {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Prepares `dir` for a run in `mode`: creates it for a new run, refuses
/// (an error naming what is there and the flags to use) a new run into a
/// directory holding a model or a run, moves the run files aside when
/// replacing (call [`settle_run_dir`] when the run ends, whether it
/// succeeded or failed), requires a resumable run (`train_state.safetensors`)
/// when resuming, and removes stale temporary files in every mode. A
/// replaced run left aside by a run that was killed is settled first.
///
/// ```
/// use rnn::io::{prepare_run_dir, settle_run_dir, OutMode, Settled};
/// let dir = std::env::temp_dir().join(format!("rnn-doc-rundir-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// prepare_run_dir(&dir, OutMode::New).unwrap();          // created
/// std::fs::write(dir.join("model.safetensors"), "old").unwrap();
/// let e = prepare_run_dir(&dir, OutMode::New).unwrap_err();
/// assert!(e.to_string().contains("--force"));
/// prepare_run_dir(&dir, OutMode::Replace).unwrap();      // --force: moved aside
/// assert!(!dir.join("model.safetensors").exists());
/// // the new run fails before writing a model: the old one comes back
/// assert_eq!(settle_run_dir(&dir).unwrap(), Settled::Restored);
/// assert_eq!(std::fs::read_to_string(dir.join("model.safetensors")).unwrap(), "old");
/// // a run that writes its model replaces it for good
/// prepare_run_dir(&dir, OutMode::Replace).unwrap();
/// std::fs::write(dir.join("model.safetensors"), "new").unwrap();
/// assert_eq!(settle_run_dir(&dir).unwrap(), Settled::Replaced);
/// assert_eq!(std::fs::read_to_string(dir.join("model.safetensors")).unwrap(), "new");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn prepare_run_dir(dir: &Path, mode: OutMode) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Data {
            path: dir.to_path_buf(),
            reason: "is a file, not a directory".into(),
        });
    }
    // locked before anything is looked at: two runs started together both
    // found the directory free, and wrote into it side by side
    if mode != OutMode::Resume || dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        lock_run_dir(dir)?;
    }
    settle_run_dir(dir)?;
    remove_stale_temp_files(dir)?;
    match mode {
        OutMode::Resume => {
            if !dir.join("train_state.safetensors").is_file() {
                return Err(Error::Data {
                    path: dir.to_path_buf(),
                    reason: "holds no resumable run (no train_state.safetensors)".into(),
                });
            }
        }
        OutMode::New => {
            let present = run_files(dir);
            if !present.is_empty() {
                // only language-model runs leave a train state to resume
                let hint = if dir.join("train_state.safetensors").is_file() {
                    format!(
                        "use 'rnn train lm --resume {}' to continue it or --force to replace it",
                        dir.display()
                    )
                } else {
                    "use --force to replace it, or another directory".to_string()
                };
                return Err(Error::Data {
                    path: dir.to_path_buf(),
                    reason: format!("already holds {}; {hint}", describe(dir, &present)),
                });
            }
        }
        OutMode::Replace => {
            let present = run_files(dir);
            if !present.is_empty() {
                let aside = dir.join(REPLACED);
                std::fs::create_dir(&aside).map_err(|e| Error::io(&aside, e))?;
                for p in present {
                    let to = aside.join(p.file_name().unwrap_or_default());
                    std::fs::rename(&p, &to).map_err(|e| Error::io(&p, e))?;
                }
            }
        }
    }
    Ok(())
}

/// What [`settle_run_dir`] did with a run replaced by `--force`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Nothing was replaced (no [`REPLACED`] folder).
    Nothing,
    /// The new run wrote its model: the replaced files were removed.
    Replaced,
    /// The new run wrote no model: its files were removed and the replaced
    /// ones put back.
    Restored,
}

/// Ends a replacement begun by [`prepare_run_dir`] in [`OutMode::Replace`]:
/// when `dir` holds a `model.safetensors` (the new run got as far as a
/// model) the replaced files are removed; otherwise, or when that model is
/// an unfinished checkpoint ([`UNFINISHED_KEY`]) and the replaced run had a
/// finished model, the new run's files are removed and the replaced ones
/// moved back.
/// Call it when a run ends, on success and on failure; [`prepare_run_dir`]
/// calls it too, for a run that was killed.
pub fn settle_run_dir(dir: &Path) -> Result<Settled> {
    let aside = dir.join(REPLACED);
    if !aside.is_dir() {
        return Ok(Settled::Nothing);
    }
    let remove = |p: &Path| {
        let res = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        res.map_err(|e| Error::io(p, e))
    };
    let new = dir.join("model.safetensors");
    let old = aside.join("model.safetensors");
    let keep_old = unfinished(&new) && old.is_file() && !unfinished(&old);
    if new.is_file() && !keep_old {
        remove(&aside)?;
        return Ok(Settled::Replaced);
    }
    for p in run_files(dir) {
        remove(&p)?;
    }
    let entries = std::fs::read_dir(&aside).map_err(|e| Error::io(&aside, e))?;
    for e in entries {
        let from = e.map_err(|e| Error::io(&aside, e))?.path();
        let to = dir.join(from.file_name().unwrap_or_default());
        std::fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
    }
    remove(&aside)?;
    Ok(Settled::Restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rnn-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_run_refuses_a_model_and_names_its_task() {
        let d = temp("task");
        std::fs::create_dir_all(&d).unwrap();
        let mut w = crate::io::TensorWriter::new();
        w.add::<f32>("x", &[1], &[0.0]);
        w.meta("task", "tag");
        w.write(d.join("model.safetensors")).unwrap();
        let msg = prepare_run_dir(&d, OutMode::New).unwrap_err().to_string();
        assert!(msg.contains("a 'tag' model (model.safetensors)"), "{msg}");
        assert!(
            msg.contains("--force") && !msg.contains("--resume"),
            "{msg}"
        );
        std::fs::write(d.join("train_state.safetensors"), b"x").unwrap();
        let msg = prepare_run_dir(&d, OutMode::New).unwrap_err().to_string();
        assert!(msg.contains("--resume") && msg.contains("--force"), "{msg}");
        assert!(!msg.contains('\n'));
        // the model is untouched
        assert!(d.join("model.safetensors").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn replace_removes_run_files_and_snapshots_only() {
        let d = temp("replace");
        std::fs::create_dir_all(d.join("epoch-3")).unwrap();
        std::fs::write(d.join("epoch-3/model.safetensors"), b"x").unwrap();
        std::fs::write(d.join("loss.svg"), b"<svg/>").unwrap();
        std::fs::write(d.join("notes.txt"), b"mine").unwrap();
        assert!(prepare_run_dir(&d, OutMode::New).is_err());
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        assert!(!d.join("loss.svg").exists() && !d.join("epoch-3").exists());
        assert_eq!(std::fs::read(d.join("notes.txt")).unwrap(), b"mine");
        // the new run writes its model: the old files are gone for good
        std::fs::write(d.join("model.safetensors"), b"new").unwrap();
        assert_eq!(settle_run_dir(&d).unwrap(), Settled::Replaced);
        assert!(!d.join(REPLACED).exists() && !d.join("epoch-3").exists());
        assert_eq!(settle_run_dir(&d).unwrap(), Settled::Nothing);
        std::fs::remove_file(d.join("model.safetensors")).unwrap();
        prepare_run_dir(&d, OutMode::New).unwrap(); // empty of runs now
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_replacing_run_that_fails_or_is_killed_gives_the_old_run_back() {
        let d = temp("restore");
        std::fs::create_dir_all(d.join("member-1")).unwrap();
        std::fs::write(d.join("member-1/model.safetensors"), b"old member").unwrap();
        std::fs::write(d.join("model.safetensors"), b"old").unwrap();
        std::fs::write(d.join("metrics.jsonl"), b"old metrics").unwrap();
        std::fs::write(d.join("notes.txt"), b"mine").unwrap();
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        // the new run writes its metrics and a member, then fails
        std::fs::write(d.join("metrics.jsonl"), b"new metrics").unwrap();
        std::fs::create_dir_all(d.join("member-2")).unwrap();
        std::fs::write(d.join("member-2/model.safetensors"), b"new member").unwrap();
        assert_eq!(settle_run_dir(&d).unwrap(), Settled::Restored);
        let read = |f: &str| std::fs::read(d.join(f)).unwrap();
        assert_eq!(read("model.safetensors"), b"old");
        assert_eq!(read("metrics.jsonl"), b"old metrics");
        assert_eq!(read("member-1/model.safetensors"), b"old member");
        assert_eq!(read("notes.txt"), b"mine");
        assert!(!d.join("member-2").exists() && !d.join(REPLACED).exists());
        // killed before settling: the next start puts the old run back
        // first, and a new run into the directory is refused as before
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        std::fs::write(d.join("metrics.jsonl"), b"killed run").unwrap();
        let msg = prepare_run_dir(&d, OutMode::New).unwrap_err().to_string();
        assert!(msg.contains("already holds"), "{msg}");
        assert_eq!(read("model.safetensors"), b"old");
        assert_eq!(read("metrics.jsonl"), b"old metrics");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unfinished_checkpoint_does_not_replace_a_finished_model() {
        // a model file whose header says it is unfinished (a forecaster's
        // ensemble half trained when the --force run was killed)
        let partial = |path: &Path| {
            let mut w = crate::io::TensorWriter::new();
            w.add::<f32>("x", &[1], &[1.0]);
            w.meta(UNFINISHED_KEY, "true");
            w.write(path).unwrap();
        };
        let d = temp("unfinished");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("model.safetensors"), b"old").unwrap();
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        // while the new run has written nothing, readers find the old model
        assert_eq!(model_dir(&d), d.join(REPLACED));
        std::fs::create_dir_all(d.join("member-3")).unwrap(); // not yet written
        std::fs::write(d.join("member-3/.metrics.jsonl.tmp.99"), b"half").unwrap();
        partial(&d.join("model.safetensors"));
        assert_eq!(model_dir(&d), d);
        // killed: the next start gives the finished model back, and removes
        // the empty member directory and the temporary file in it
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        assert!(!d.join("member-3").exists());
        settle_run_dir(&d).unwrap();
        assert_eq!(std::fs::read(d.join("model.safetensors")).unwrap(), b"old");
        // with no finished model to give back, the new checkpoint is kept
        std::fs::remove_file(d.join("model.safetensors")).unwrap();
        partial(&d.join("model.safetensors"));
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        partial(&d.join("model.safetensors"));
        assert_eq!(settle_run_dir(&d).unwrap(), Settled::Replaced);
        // a new run without --force is refused, the checkpoint named as such
        // (a forecaster that diverged at step 1 left its epoch-0 checkpoint)
        let msg = prepare_run_dir(&d, OutMode::New).unwrap_err().to_string();
        assert!(
            msg.contains("(model.safetensors: the unfinished checkpoint of a run that stopped part-way); use --force"),
            "{msg}"
        );
        // a finished new model replaces the old one
        std::fs::write(d.join("model.safetensors"), b"old").unwrap();
        prepare_run_dir(&d, OutMode::Replace).unwrap();
        std::fs::write(d.join("model.safetensors"), b"new").unwrap();
        assert_eq!(settle_run_dir(&d).unwrap(), Settled::Replaced);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_temp_files_are_removed_and_others_kept() {
        let d = temp("stale");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(".model.safetensors.tmp.12345"), b"half").unwrap();
        std::fs::write(d.join(".hidden"), b"keep").unwrap();
        std::fs::write(d.join("data.tmp.txt"), b"keep").unwrap();
        assert_eq!(remove_stale_temp_files(&d).unwrap(), 1);
        assert!(d.join(".hidden").exists() && d.join("data.tmp.txt").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn resume_needs_a_train_state_and_a_file_is_not_a_dir() {
        let d = temp("resume");
        std::fs::create_dir_all(&d).unwrap();
        let msg = prepare_run_dir(&d, OutMode::Resume)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("train_state.safetensors"), "{msg}");
        let f = d.join("file");
        std::fs::write(&f, b"x").unwrap();
        assert!(prepare_run_dir(&f, OutMode::New)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
