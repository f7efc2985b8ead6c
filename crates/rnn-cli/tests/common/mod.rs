//! Helpers shared by the CLI test files: run the `rnn` binary, make scratch
//! paths, and check the one-line bad-input contract.

#![allow(dead_code)] // each test file uses a different subset

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

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

/// A path in the temp directory, unique to this test process, that does not exist.
pub fn fresh(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("rnn-cli-test-{}-{name}", std::process::id()));
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
