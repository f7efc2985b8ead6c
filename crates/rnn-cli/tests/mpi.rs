//! `rnn train lm`, `tag` and `forecast` under `mpirun -np 2` (built with
//! `--features mpi`; run by `.ci/run`): two ranks follow one process,
//! refusals and bad batches stop every rank before anything is written, and
//! a rank killed mid-run ends the job with a checkpoint that resumes on 1
//! or 2 ranks.
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
        err.contains("error: --batch: 15 is out of range (a multiple of the 2 MPI ranks"),
        "{err}"
    );
    assert!(!fresh_out.exists());
    // a trainer that is not data-parallel refuses to run twice into the same files
    let classify_out = fresh("classify");
    let r = mpirun(&[
        "train",
        "classify",
        "--train",
        "x.ts",
        "--out",
        s(&classify_out),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: rnn train classify: one process only, not 2 MPI ranks"),
        "{err}"
    );
    assert!(!classify_out.exists());
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

/// Waits (at most 120 s) until the run `job` writes into `dir` has
/// written three rows of metrics (three checkpoints), still running.
fn three_checkpoints(job: &mut Child, dir: &Path) {
    let t = Instant::now();
    let rows =
        || std::fs::read_to_string(dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count());
    while rows() < 3 {
        assert!(t.elapsed() < Duration::from_secs(120), "no checkpoints");
        assert!(job.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    three_checkpoints(&mut job, &dir);
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

/// Every float tensor of `dir/model.safetensors` agrees with `one`'s to
/// 1e-4 of the tensor's largest magnitude (and the two differ at all only
/// by rounding: the same tensors, trained).
fn same_weights(one: &Path, two: &Path) {
    let read = |d: &Path| {
        let f = TensorFile::read(d.join("model.safetensors")).unwrap();
        let mut names = f.names();
        names.sort();
        names
            .into_iter()
            .filter(|n| f.dtype(n).is_ok_and(|t| t.starts_with('F')))
            .map(|n| (f.f64(&n).unwrap().data, n))
            .collect::<Vec<_>>()
    };
    let (a, b) = (read(one), read(two));
    assert_eq!(a.len(), b.len());
    assert!(a.len() >= 3, "{} tensors", a.len());
    for ((x, n), (y, m)) in a.iter().zip(&b) {
        assert_eq!(n, m);
        let scale = x.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        let d = x
            .iter()
            .zip(y)
            .fold(0.0f64, |s, (u, v)| s.max((u - v).abs()));
        assert!(
            scale > 0.0 && d <= 1e-4 * scale,
            "{n}: differs by {d} (scale {scale})"
        );
    }
}

/// `key` of the last row of `dir/metrics.jsonl`.
fn last_metric(dir: &Path, key: &str) -> f64 {
    let m = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(m.lines().last().unwrap()).unwrap();
    row[key].as_f64().unwrap()
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// 1 process, then 2 ranks, of `args` + `--out DIR`; the same weights and
/// last `metric` (1e-4 relative); then the batch `odd` is refused by 2 ranks.
fn one_and_two_ranks(args: &[&str], name: &str, metric: &str, odd: &str) -> (PathBuf, PathBuf) {
    let (a, b) = (fresh(&format!("{name}-one")), fresh(&format!("{name}-two")));
    fn out_in<'a>(args: &[&'a str], out: &'a Path) -> Vec<&'a str> {
        [args, &["--out", s(out)]].concat()
    }
    let with = |out| out_in(args, out);
    ok(one(&with(&a)));
    ok(mpirun(&with(&b)).output().unwrap());
    same_weights(&a, &b);
    let (v1, v2) = (last_metric(&a, metric), last_metric(&b, metric));
    assert!((v1 - v2).abs() <= 1e-4 * v1, "{metric} {v1} vs {v2}");
    // a batch the 2 ranks cannot share: one line, exit 2, nothing written
    let c = fresh(&format!("{name}-odd"));
    let mut bad = with(&c);
    let at = bad.iter().position(|x| *x == "--batch").unwrap() + 1;
    bad[at] = odd;
    let r = mpirun(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(
        lines,
        [format!("error: --batch: {odd} is out of range (a multiple of the 2 MPI ranks, which share each batch equally)")],
        "{err}"
    );
    assert!(!c.exists());
    (a, b)
}

#[test]
fn tag_on_two_ranks_follows_one_process() {
    let (train, dev) = (data("tiny.train.conll"), data("tiny.dev.conll"));
    let args = [
        "train", "tag", "--train", &train, "--dev", &dev, "--epochs", "4", "--batch", "2",
    ];
    let more = [
        "--hidden",
        "8",
        "--emb",
        "8",
        "--crf",
        "--char-dim",
        "4",
        "--dropout",
        "0.2",
        "--threads",
        "1",
        "--seed",
        "3",
        "--keep",
        "last",
    ];
    let (a, b) = one_and_two_ranks(&[&args[..], &more].concat(), "tag", "dev_loss", "3");
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn forecast_on_two_ranks_follows_one_process() {
    let csv = fresh("series.csv");
    let mut text = String::from("t,value\n");
    for i in 0..120 {
        let noise = ((i as f64 * 12.9898).sin() * 43758.5453).fract();
        text += &format!("{i},{}\n", 10.0 + 3.0 * (i as f64 * 0.5).sin() + noise);
    }
    std::fs::write(&csv, text).unwrap();
    let args = [
        "train",
        "forecast",
        "--data",
        s(&csv),
        "--target",
        "value",
        "--test",
        "10",
        "--ensemble",
        "2",
        "--hidden",
        "8",
        "--epochs",
        "5",
        "--batch",
        "8",
        "--threads",
        "1",
    ];
    let (a, b) = one_and_two_ranks(&args, "forecast", "val_mse", "7");
    // the second network of the ensemble, too
    same_weights(&a.join("member-1"), &b.join("member-1"));
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
    std::fs::remove_file(csv).unwrap();
}

/// SIGTERM to rank 0 stops every rank after the step under way, keeping
/// the work (exit 130 through mpirun, `"interrupted": true`); to another
/// rank alone it changes nothing (the ranks stop on rank 0's reading): the
/// run goes to its end and exits 0 (rank 1 exited 130 after such a run).
#[test]
fn sigterm_to_rank_0_stops_every_rank_and_to_another_changes_nothing() {
    let data = text();
    for (rank, stops) in [(1usize, false), (0, true)] {
        let dir = fresh(&format!("sigterm-rank{rank}"));
        let mut job = mpirun(&train_args(s(&data), s(&dir), "3000"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        three_checkpoints(&mut job, &dir);
        let pid = rank_pid(job.id(), rank).expect("the rank's process");
        assert!(Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success());
        let status = wait(&mut job, Duration::from_secs(120));
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut job.stdout.take().unwrap(), &mut stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["interrupted"], stops, "rank {rank}: {v}");
        match stops {
            true => {
                assert_eq!(status.code(), Some(130), "rank {rank}");
                assert!(v["steps"].as_u64().unwrap() < 3000, "{v}");
                assert!(dir.join("model.safetensors").is_file());
            }
            false => {
                assert_eq!(status.code(), Some(0), "rank {rank}");
                assert_eq!(v["steps"], 3000);
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
