//! Ctrl-C (SIGINT) or SIGTERM during `rnn train` ends the training as the
//! end of its budget would: the model trained so far is written and usable,
//! a language model's run resumes, and the exit code is 130 with one line
//! saying so. A process started with SIGINT ignored (a background job of a
//! script) keeps ignoring it. (Before, every interrupt killed the trainer
//! at once, losing the work since its last checkpoint.)
#![cfg(unix)]

mod common;
use common::{rnn, tmp};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `rnn args...` (through `sh -c` with `prefix` before it, when
/// given) and waits until a line of its stderr contains `ready`; returns
/// the child and the stderr lines read so far, the rest read on a thread.
fn start(
    prefix: Option<&str>,
    args: &[&str],
    ready: &str,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let bin = env!("CARGO_BIN_EXE_rnn");
    let mut cmd = match prefix {
        None => {
            let mut c = Command::new(bin);
            c.args(args);
            c
        }
        Some(p) => {
            let mut c = Command::new("sh");
            // exec: the signal goes to rnn itself
            c.arg("-c")
                .arg(format!("{p}; exec \"$0\" \"$@\""))
                .arg(bin)
                .args(args);
            c
        }
    };
    // SIGINT as a terminal gives it, whatever this test process inherited
    // (a test run started in the background of a script has it ignored,
    // and so would its children)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if prefix.is_none() {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal() is async-signal-safe, as pre_exec requires
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rnn");
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains(ready) => break,
            Ok(l) => seen.push(l),
            Err(e) => {
                let _ = child.kill();
                panic!("no stderr line with {ready:?} ({e}): {seen:?}");
            }
        }
    }
    (child, rx)
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

/// Waits (at most 120 s) for the child; returns its exit code and stderr lines.
fn finish(mut child: Child, rx: std::sync::mpsc::Receiver<String>) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the training went on after the interrupt");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err: Vec<String> = rx.iter().collect();
    (status.code(), err.join("\n"))
}

/// One line saying what was kept, exit 130, no panic.
fn assert_interrupted(code: Option<i32>, err: &str, dir: &str) {
    assert_eq!(code, Some(130), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: interrupted: training stopped early; the model trained so far is in "
        ) && last.contains(dir),
        "{err}"
    );
}

/// `rnn train lm` of a tiny model on `data` into `out` for ten minutes.
fn lm_args<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    #[rustfmt::skip]
    let args = vec!["train", "lm", "--data", data, "--out", out, "--hidden", "8", "--seq-len", "8",
        "--batch", "4", "--threads", "1", "--minutes", "10"];
    args
}

fn text_file(dir: &std::path::Path) -> String {
    let p = dir.join("text.txt");
    std::fs::write(
        &p,
        "the cat sat on the mat and the dog sat on the log. ".repeat(400),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn ctrl_c_ends_an_lm_run_with_its_model_and_a_run_that_resumes() {
    let dir = tmp("int-lm");
    let data = text_file(&dir);
    let out = dir.join("m");
    let o = out.to_str().unwrap();
    let args = [lm_args(&data, o), vec!["--eval-every", "1000000"]].concat();
    let (child, rx) = start(None, &args, "training elman");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    let (code, err) = finish(child, rx);
    assert_interrupted(code, &err, o);
    assert!(
        err.contains(&format!(
            "rnn train lm --resume {o} --data {data} --minutes 10` goes on"
        )),
        "{err}"
    );
    // the stop was evaluated and checkpointed (no evaluation was due before
    // a million steps): the model and a train state to resume from
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(rows.lines().last().unwrap()).unwrap();
    let stopped = last["step"].as_u64().unwrap();
    assert!(stopped >= 1);
    let e = rnn(&["eval", "--model", o, "--data", &data]);
    assert!(e.status.success(), "{}", common::stderr(&e));
    let more = (stopped + 5).to_string();
    let r = rnn(&[
        "train", "lm", "--resume", o, "--data", &data, "--steps", &more,
    ]);
    assert!(r.status.success(), "{}", common::stderr(&r));
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(rows.lines().last().unwrap()).unwrap();
    assert_eq!(last["step"].as_u64(), Some(stopped + 5));
}

#[test]
fn sigterm_ends_a_forecast_ensemble_with_a_model_that_forecasts() {
    let dir = tmp("int-fc");
    let csv = dir.join("s.csv");
    let mut s = String::from("t,y\n");
    for t in 0..300 {
        let y = 10.0 + (t as f64 * 0.3).sin() * 3.0 + ((t * 7919) % 13) as f64 * 0.1;
        s.push_str(&format!("{t},{y:.4}\n"));
    }
    std::fs::write(&csv, s).unwrap();
    let (c, out) = (csv.to_str().unwrap(), dir.join("f"));
    let o = out.to_str().unwrap();
    #[rustfmt::skip]
    let args = ["train", "forecast", "--data", c, "--target", "y", "--test", "20", "--out", o,
        "--ensemble", "2", "--window", "8", "--epochs", "100000000", "--patience", "100000000",
        "--json"];
    let (mut child, rx) = start(None, &args, "rows; fitting on");
    let mut stdout = child.stdout.take().expect("stdout");
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "-TERM");
    let (code, err) = finish(child, rx);
    assert_interrupted(code, &err, o);
    assert!(err.contains("(interrupted)"), "{err}");
    // --json says so too (mpirun turns the exit code 130 into its own)
    let mut json = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["interrupted"], true, "{v}");
    assert!(out.join("member-1").join("model.safetensors").is_file());
    let f = rnn(&["eval", "--model", o, "--data", c, "--json"]);
    assert!(f.status.success(), "{}", common::stderr(&f));
    let v: serde_json::Value = serde_json::from_slice(&f.stdout).unwrap();
    assert!(v["rmse"].as_f64().is_some_and(f64::is_finite), "{v}");
    assert!(
        !common::stderr(&f).contains("stopped part-way"),
        "a finished model"
    );
}

#[test]
fn an_ignored_sigint_stays_ignored() {
    let dir = tmp("int-ign");
    let data = text_file(&dir);
    let out = dir.join("m");
    let o = out.to_str().unwrap();
    // what a non-interactive shell does for `rnn train ... &`
    let (mut child, rx) = start(Some("trap '' INT"), &lm_args(&data, o), "training elman");
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_secs(2));
    let running = child.try_wait().unwrap().is_none();
    if !running {
        let _ = child.kill();
    }
    assert!(
        running,
        "SIGINT stopped a training that was started with it ignored"
    );
    // SIGTERM (`kill PID` of the script) still ends it as its budget would
    // (it killed the process at once, no model written)
    signal(&child, "-TERM");
    let (code, err) = finish(child, rx);
    assert_interrupted(code, &err, o);
    assert!(out.join("model.safetensors").is_file());
}

#[test]
fn ctrl_c_ends_a_classifier_without_its_other_candidates_and_reservoirs() {
    // (they took 4-6 s after the signal on GunPoint and JapaneseVowels,
    // whose whole trainings take 8-9 s)
    let dir = tmp("int-cl");
    let train = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rnn/tests/fixtures/classify/GunPoint_TRAIN_small.ts");
    let (t, out) = (train.to_str().unwrap(), dir.join("c"));
    let o = out.to_str().unwrap();
    #[rustfmt::skip]
    let args = ["train", "classify", "--train", t, "--out", o, "--epochs", "100000000", "--patience", "100000000"];
    let (child, rx) = start(None, &args, "candidate 1/6");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    let (code, err) = finish(child, rx);
    assert_interrupted(code, &err, o);
    assert!(
        err.contains("interrupted: the other 5 candidate(s) are not trained"),
        "{err}"
    );
    assert!(
        err.contains("interrupted: no reservoirs are added to the networks"),
        "{err}"
    );
    let c = rnn(&["classify", "--model", o, t]);
    assert!(c.status.success(), "{}", common::stderr(&c));
    assert_eq!(String::from_utf8_lossy(&c.stdout).lines().count(), 6);
}
