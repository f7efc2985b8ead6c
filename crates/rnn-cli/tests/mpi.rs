//! `rnn train lm` under `mpirun -np 2` (built with `--features mpi`; run by
//! `.ci/run`): two ranks follow one process, refusals and bad batches stop
//! every rank before anything is written, and a rank killed mid-run ends
//! the job with a checkpoint that resumes on 1 or 2 ranks.
#![cfg(feature = "mpi")]

mod common;

use common::fresh;
use rnn::io::TensorFile;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const MPIRUN: &[&str] = &["-np", "2", "--oversubscribe", "--allow-run-as-root"];

fn mpirun(args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(MPIRUN)
        .arg(env!("CARGO_BIN_EXE_rnn"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn one(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args(args)
        .output()
        .expect("run rnn")
}

fn text() -> PathBuf {
    let p = fresh("corpus.txt");
    let line = "It was the best of times, it was the worst of times; the cat sat on the mat. ";
    let body: String = (0..1500).map(|i| format!("{line}{} ", i % 97)).collect();
    std::fs::write(&p, body).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn train_args<'a>(data: &'a str, out: &'a str, steps: &'a str) -> Vec<&'a str> {
    let mut v = vec![
        "train", "lm", "--data", data, "--out", out, "--steps", steps,
    ];
    v.extend([
        "--hidden",
        "48",
        "--seq-len",
        "32",
        "--batch",
        "16",
        "--seed",
        "3",
    ]);
    v.extend(["--threads", "1", "--eval-every", "20", "--quiet", "--json"]);
    v
}

fn state(dir: &Path, name: &str) -> Vec<f64> {
    let f = TensorFile::read(dir.join("train_state.safetensors")).unwrap();
    f.f64(name).unwrap().data
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one summary line (rank 0's): {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

fn ok(out: Output) -> Output {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    out
}

#[test]
fn two_ranks_follow_one_process() {
    let data = text();
    let (a, b) = (fresh("one"), fresh("two"));
    let single = json(&ok(one(&train_args(s(&data), s(&a), "40"))));
    let out = ok(mpirun(&train_args(s(&data), s(&b), "40")).output().unwrap());
    let double = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("training elman").count(),
        1,
        "rank 0 alone reports: {err}"
    );
    let (v1, v2) = (
        single["best_val_loss_nats"].as_f64().unwrap(),
        double["best_val_loss_nats"].as_f64().unwrap(),
    );
    assert!((v1 - v2).abs() <= 1e-4 * v1, "validation loss {v1} vs {v2}");
    assert_eq!(double["steps"], 40);
    let (w1, w2) = (state(&a, "params"), state(&b, "params"));
    let scale = w1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let d = w1
        .iter()
        .zip(&w2)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(d <= 1e-4 * scale, "weights differ by {d} (scale {scale})");
    assert!(w1 != w2 || d == 0.0);
    let mut files: Vec<_> = std::fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "loss.svg",
            "metrics.jsonl",
            "model.safetensors",
            "train_state.safetensors"
        ]
    );
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_refused_directory_or_an_unshareable_batch_stops_every_rank_with_exit_2() {
    let data = text();
    let out = fresh("refused");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("metrics.jsonl"), "{}\n").unwrap();
    let r = mpirun(&train_args(s(&data), s(&out), "5"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert_eq!(
        err.matches("error: ").count(),
        1,
        "one error line (rank 0's): {err}"
    );
    assert!(err.contains("already holds a run (metrics.jsonl)"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(),
        "{}\n"
    );
    let fresh_out = fresh("odd-batch");
    let mut args = train_args(s(&data), s(&fresh_out), "5");
    let at = args.iter().position(|a| *a == "16").unwrap();
    args[at] = "15";
    let r = mpirun(&args).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: batch: 15 is out of range (a multiple of the 2 MPI ranks"),
        "{err}"
    );
    assert!(!fresh_out.exists());
    // a trainer that is not data-parallel refuses to run twice into the same files
    let tag_out = fresh("tag");
    let r = mpirun(&[
        "train",
        "tag",
        "--train",
        "x.conll",
        "--dev",
        "y.conll",
        "--out",
        s(&tag_out),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "error: rnn train tag, forecast and classify: one process only, not 2 MPI ranks"
        ),
        "{err}"
    );
    assert!(!tag_out.exists());
    std::fs::remove_dir_all(out).unwrap();
}

/// The pid of `rank` among the processes mpirun `parent` started.
fn rank_pid(parent: u32, rank: usize) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(") ")
            .next()
            .and_then(|r| r.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let want = format!("OMPI_COMM_WORLD_RANK={rank}");
        if ppid == Some(parent) && env.split(|b| *b == 0).any(|v| v == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("mpirun still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_rank_killed_mid_run_ends_the_job_and_the_checkpoint_resumes_on_1_or_2_ranks() {
    let data = text();
    let dir = fresh("killed");
    let mut args = train_args(s(&data), s(&dir), "100000");
    let at = args.iter().position(|a| *a == "20").unwrap();
    args[at] = "5"; // a checkpoint every 5 steps
    let mut job = mpirun(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let rows =
        || std::fs::read_to_string(dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count());
    while rows() < 3 {
        assert!(t.elapsed() < Duration::from_secs(120), "no checkpoints");
        assert!(job.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rank_pid(job.id(), 1).expect("rank 1's process");
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let status = wait(&mut job, Duration::from_secs(60));
    assert!(
        !status.success(),
        "the job must fail when a rank dies: {status:?}"
    );
    // the checkpoint is whole and resumes: 1 process 10 more steps, then 2 ranks 10 more
    let f = TensorFile::read(dir.join("train_state.safetensors")).unwrap();
    let pos: serde_json::Value = serde_json::from_str(f.meta("position").unwrap()).unwrap();
    let step = pos["step"].as_u64().unwrap();
    assert!(step >= 10 && step % 5 == 0, "checkpoint at step {step}");
    for (n, job) in [(step + 10, false), (step + 20, true)] {
        let to = n.to_string();
        let mut args = vec![
            "train",
            "lm",
            "--data",
            s(&data),
            "--resume",
            s(&dir),
            "--steps",
            &to,
        ];
        args.extend(["--threads", "1", "--quiet", "--json"]);
        let out = ok(if job {
            mpirun(&args).output().unwrap()
        } else {
            one(&args)
        });
        assert_eq!(json(&out)["steps"], n);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
