//! Helpers shared by the CLI test files: run the `rnn` binary, make scratch
//! paths, and check the one-line bad-input contract.

#![allow(dead_code)] // each test file uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Runs `rnn args...` with `stdin` (or an empty, closed stdin) and collects its output.
pub fn rnn_with(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rnn");
    if let Some(s) = stdin {
        // a command that fails before reading its input (a missing model)
        // may exit first: a broken pipe is then expected, not a test failure
        let written = child.stdin.take().expect("stdin").write_all(s.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for rnn")
}

/// Runs `rnn args...` with an empty stdin.
pub fn rnn(args: &[&str]) -> Output {
    rnn_with(args, None)
}

/// This test process's scratch directory, `target/tmp/rnn-cli-test/PID`
/// (Cargo's `CARGO_TARGET_TMPDIR`, so `cargo clean` removes it). The first
/// call removes the directories of earlier test processes that have ended
/// (on Linux, where `/proc` tells), so runs do not pile up files; the
/// directory of a failed run stays for inspection until the next run.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rnn-cli-test");
        let me = std::process::id();
        if Path::new("/proc/self").exists() {
            for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                let pid = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok());
                if pid.is_some_and(|p| p != me && !Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let root = base.join(me.to_string());
        std::fs::create_dir_all(&root).expect("scratch directory");
        root
    })
}

/// A path in this test process's scratch directory that does not exist.
pub fn fresh(name: &str) -> PathBuf {
    let p = scratch_root().join(name);
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// An empty directory, unique to this test process.
pub fn tmp(name: &str) -> PathBuf {
    let d = fresh(name);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Exit code 2 and exactly one line on stderr that mentions `needle`, no panic.
pub fn assert_bad_input(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(needle),
        "stderr {err:?} should mention {needle:?}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
