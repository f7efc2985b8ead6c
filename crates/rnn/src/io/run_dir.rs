//! Run directories: what a training run may write into `--out`, and the
//! checks that keep it from destroying another run or model.
//!
//! A new run refuses a directory that already holds a model or a run (exit
//! code 2 in the CLI), unless told to replace it (`--force`), and then removes
//! only the files a run writes. Every start also removes stale temporary files
//! left by a write that was killed mid-way (`.NAME.tmp.PID`, see
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

/// How a run uses its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutMode {
    /// A new run: the directory must not hold a model or a run.
    New,
    /// A new run replacing whatever run or model the directory holds
    /// (`--force`): the files of [`RUN_FILES`], `epoch-*` snapshot and
    /// `member-*` ensemble directories are removed first; other files are
    /// left alone.
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
    match task {
        Some(t) => format!("a '{t}' model ({})", names.join(", ")),
        None => format!("a run ({})", names.join(", ")),
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
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("epoch-") || n.starts_with("member-"))
                    && p.join("model.safetensors").exists()
            })
            .collect();
        snaps.sort();
        out.extend(snaps);
    }
    out
}

/// Removes temporary files (`.NAME.tmp.PID`) that a killed atomic write left
/// in `dir`; returns how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
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
/// directory holding a model or a run, clears the run files when replacing,
/// requires a resumable run (`train_state.safetensors`) when resuming, and
/// removes stale temporary files in every mode.
///
/// ```
/// use rnn::io::{prepare_run_dir, OutMode};
/// let dir = std::env::temp_dir().join(format!("rnn-doc-rundir-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// prepare_run_dir(&dir, OutMode::New).unwrap();          // created
/// std::fs::write(dir.join("metrics.jsonl"), "{}\n").unwrap();
/// let e = prepare_run_dir(&dir, OutMode::New).unwrap_err();
/// assert!(e.to_string().contains("--force"));
/// prepare_run_dir(&dir, OutMode::Replace).unwrap();      // --force: cleared
/// assert!(!dir.join("metrics.jsonl").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn prepare_run_dir(dir: &Path, mode: OutMode) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Data {
            path: dir.to_path_buf(),
            reason: "is a file, not a directory".into(),
        });
    }
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
            for p in run_files(dir) {
                let res = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                res.map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    remove_stale_temp_files(dir)?;
    Ok(())
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
        prepare_run_dir(&d, OutMode::New).unwrap(); // empty of runs now
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
