//! Nothing a user made is lost: a training run refuses an output directory
//! that holds a model or a run unless given --force, and then replaces only
//! the run's files; byte-identical files from identical runs.

mod common;
use common::{assert_bad_input, rnn, tmp};

fn text() -> String {
    "the cat sat on the mat and the dog sat on the log. ".repeat(40)
}

fn train_lm(data: &str, out: &str, extra: &[&str]) -> std::process::Output {
    train_lm_for(data, out, &["--steps", "4", "--eval-every", "2"], extra)
}

/// `rnn train lm` of a tiny model on `data` into `out` for `budget`.
fn train_lm_for(data: &str, out: &str, budget: &[&str], extra: &[&str]) -> std::process::Output {
    #[rustfmt::skip]
    let mut args = vec![
        "train", "lm", "--data", data, "--out", out, "--hidden", "8", "--seq-len", "8",
        "--batch", "4", "--seed", "5", "--threads", "1",
    ];
    args.extend_from_slice(budget);
    args.extend_from_slice(extra);
    rnn(&args)
}

#[test]
fn train_refuses_another_model_and_force_replaces_it() {
    let dir = tmp("refuse");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let (d, out) = (data.to_str().unwrap(), dir.join("run"));
    let o = out.to_str().unwrap();
    let first = train_lm(d, o, &[]);
    assert!(first.status.success(), "{}", common::stderr(&first));
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join(".model.safetensors.tmp.4242"), "half a file").unwrap();

    // a second run into it: refused, naming what is there and the ways out
    let again = train_lm(d, o, &["--lr", "0.01"]);
    assert_bad_input(&again, "already holds a 'lm' model");
    assert!(
        common::stderr(&again).contains("--resume") && common::stderr(&again).contains("--force")
    );
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);
    // tag and forecast refuse it too
    let tag = rnn(&["train", "tag", "--train", d, "--dev", d, "--out", o]);
    assert_eq!(tag.status.code(), Some(2));
    let fc = rnn(&[
        "train", "forecast", "--data", d, "--target", "x", "--window", "3", "--out", o,
    ]);
    assert_eq!(fc.status.code(), Some(2));
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);

    // --force with data that turns out bad (or a run that fails before its
    // model): the run it was to replace is put back, byte for byte
    let before: Vec<Vec<u8>> = [
        "model.safetensors",
        "train_state.safetensors",
        "metrics.jsonl",
    ]
    .iter()
    .map(|f| std::fs::read(out.join(f)).unwrap())
    .collect();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let bad = train_lm(empty.to_str().unwrap(), o, &["--force"]);
    assert_bad_input(&bad, "empty");
    let diverged = train_lm(d, o, &["--force", "--lr", "1e38"]);
    assert_eq!(
        diverged.status.code(),
        Some(1),
        "{}",
        common::stderr(&diverged)
    );
    for (f, b) in [
        "model.safetensors",
        "train_state.safetensors",
        "metrics.jsonl",
    ]
    .iter()
    .zip(&before)
    {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), b, "{f} not restored");
    }
    assert!(!out.join(".replaced").exists());

    // --force replaces the run's files, keeps the user's, clears stale temp files
    let forced = train_lm(d, o, &["--force"]);
    assert!(forced.status.success(), "{}", common::stderr(&forced));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(!out.join(".model.safetensors.tmp.4242").exists());
    // the same command and seed write the same bytes, whatever the directory's name
    let other = dir.join("elsewhere");
    assert!(train_lm(d, other.to_str().unwrap(), &[]).status.success());
    for f in ["model.safetensors", "train_state.safetensors"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(other.join(f)).unwrap(),
            "{f} differs between two identical runs"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_steps_is_a_usage_error_not_a_run() {
    let dir = tmp("zero-steps");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let o = rnn(&["train", "lm", "--data", d, "--out", o, "--steps", "0"]);
    assert_bad_input(&o, "--steps 0: expected at least 1");
    assert!(!out.join("model.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_model_file_is_one_clear_error() {
    let dir = tmp("damaged");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    assert!(train_lm(data.to_str().unwrap(), out.to_str().unwrap(), &[])
        .status
        .success());
    let path = out.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x55; // a byte of the last tensor
    std::fs::write(&path, bytes).unwrap();
    let gen = rnn(&[
        "generate",
        "--model",
        out.to_str().unwrap(),
        "--prime",
        "the",
    ]);
    assert_bad_input(&gen, "checksum");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_value_is_named_as_empty() {
    // clap refuses "" for a path; the message says so (it read "--out : expected")
    assert_bad_input(
        &rnn(&["train", "lm", "--data", "t.txt", "--out", ""]),
        "error: --out: expected a value, got an empty string",
    );
    assert_bad_input(&rnn(&["bench", "--cell", ""]), "error: --cell: expected ");
}

#[test]
fn a_negative_number_is_refused_by_its_flag() {
    // it read "unexpected argument '-1' found", naming no flag
    assert_bad_input(
        &rnn(&["generate", "--model", "m", "--len", "-1"]),
        "error: invalid value '-1' for '--len <LEN>'",
    );
    assert_bad_input(
        &rnn(&["gradcheck", "--layers", "-2"]),
        "error: invalid value '-2' for '--layers <LAYERS>'",
    );
    assert_bad_input(
        &rnn(&[
            "train", "lm", "--data", "t.txt", "--out", "o", "--lr", "-0.1",
        ]),
        "error: --lr -0.1: expected a positive finite number",
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_on_stdout_is_one_error_not_a_panic() {
    // /dev/full: every write fails with ENOSPC, the machine's fault (exit 1)
    let full = std::fs::File::create("/dev/full").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args(["gradcheck"])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        "error: stdout: No space left on device (os error 28)"
    );
}

#[test]
fn resuming_a_run_already_past_its_steps_says_so() {
    let dir = tmp("resume-past");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    assert!(train_lm(d, o, &[]).status.success());
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    // train_lm trains 4 steps; --steps 2 counts from the start of the run
    let args = [
        "train",
        "lm",
        "--data",
        d,
        "--resume",
        o,
        "--steps",
        "2",
        "--threads",
        "1",
    ];
    let again = rnn(&args);
    assert!(again.status.success(), "{}", common::stderr(&again));
    assert!(
        common::stderr(&again).contains("is at step 4, already past --steps 2"),
        "{}",
        common::stderr(&again)
    );
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gradcheck_refuses_an_activation_its_cell_does_not_have() {
    // it checked a GRU and ignored --activation relu
    assert_bad_input(
        &rnn(&["gradcheck", "--cell", "gru", "--activation", "relu"]),
        "error: --activation is for the elman cell; gru has its own gates",
    );
}

/// `rnn` with no command (the demo) writes only into a `$TMPDIR/rnn-demo`
/// it made itself: a directory of that name made by someone else, a user's
/// file in its model directory, or a symlink at the text's name is left as
/// it was (the demo used to delete the model directory and write its text
/// through the symlink, without `--force`).
#[test]
fn the_demo_touches_only_a_directory_it_made() {
    use std::process::Command;
    let demo = |tmpdir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_rnn"))
            .env("TMPDIR", tmpdir)
            .output()
            .expect("run rnn")
    };
    let root = tmp("demo-foreign");
    let dir = root.join("rnn-demo");
    std::fs::create_dir_all(dir.join("model")).unwrap();
    let victim = root.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("mobydick-excerpt.txt")).unwrap();
    std::fs::write(dir.join("model/notes.txt"), "my notes").unwrap();
    // a directory the demo did not make (a symlink where its text goes)
    let out = demo(&root);
    assert_bad_input(&out, "exists and was not made by the demo");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // the demo's own directory (its marker) with a user's file in the model
    // directory: refused too, the file kept
    std::fs::remove_file(dir.join("mobydick-excerpt.txt")).unwrap();
    std::fs::write(dir.join(".rnn-demo"), "").unwrap();
    let out = demo(&root);
    assert_bad_input(&out, "holds 'notes.txt', which a demo run does not write");
    assert_eq!(
        std::fs::read_to_string(dir.join("model/notes.txt")).unwrap(),
        "my notes"
    );
    // a file where the directory goes
    let root = tmp("demo-file");
    std::fs::write(root.join("rnn-demo"), "mine").unwrap();
    assert_bad_input(&demo(&root), "exists and is not a directory");
    assert_eq!(
        std::fs::read_to_string(root.join("rnn-demo")).unwrap(),
        "mine"
    );
}

/// A second run into a directory that a running one holds is refused (two
/// runs started together both found it free, and each wrote its own files
/// over the other's, both ending with exit 0); the lock goes with the run.
#[test]
fn a_second_run_into_a_directory_in_use_is_refused() {
    use std::process::{Command, Stdio};
    let d = tmp("in-use");
    let data = d.join("text.txt");
    std::fs::write(&data, text().repeat(20)).unwrap();
    let out = d.join("run");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    // a first run long enough to be caught running (killed below)
    let mut first = Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args([
            "train", "lm", "--data", data_s, "--out", out_s, "--hidden", "8",
        ])
        .args([
            "--steps",
            "100000000",
            "--eval-every",
            "1000000",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(rnn::io::LOCK);
    let t0 = std::time::Instant::now();
    while !lock.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(lock.exists(), "the first run did not start");
    for extra in [&[][..], &["--force"][..]] {
        let second = train_lm(data_s, out_s, extra);
        assert_bad_input(&second, "is in use by another run");
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // the killed run's lock ended with it: the next run goes on
    let next = train_lm(data_s, out_s, &["--force"]);
    assert_eq!(next.status.code(), Some(0), "{}", common::stderr(&next));
    assert!(!lock.exists(), "a finished run removes its lock file");
}

/// A minutes budget spent before the first step still trains one step and
/// writes the model (it reported "model in DIR" with a loss of f64::MAX
/// and no model written).
#[test]
fn a_budget_too_short_for_a_step_still_leaves_a_model() {
    let d = tmp("tiny-budget");
    let data = d.join("text.txt");
    std::fs::write(&data, text()).unwrap();
    let out = d.join("run");
    let (data, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    let o = train_lm_for(data, out_s, &["--minutes", "0.000001"], &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["steps"], 1, "{j}");
    assert!(j["best_val_loss_nats"].as_f64().unwrap() < 10.0, "{j}");
    assert!(out.join("model.safetensors").is_file());
}

/// Output that stays in stdout's buffer until the exit (a short sample,
/// no newline after it) is flushed and checked: to a full device it is an
/// error (exit 1), not a silent exit 0.
#[test]
fn a_short_output_to_a_full_device_is_an_error() {
    if !std::path::Path::new("/dev/full").exists() {
        return; // Linux's always-full device; nothing to write to elsewhere
    }
    let d = tmp("dev-full");
    let data = d.join("text.txt");
    std::fs::write(&data, text()).unwrap();
    let out = d.join("run");
    let trained = train_lm(data.to_str().unwrap(), out.to_str().unwrap(), &[]);
    assert_eq!(
        trained.status.code(),
        Some(0),
        "{}",
        common::stderr(&trained)
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args(["generate", "--model", out.to_str().unwrap(), "--len", "3"])
        .stdout(full)
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stdout") && err.contains("No space left"),
        "{err}"
    );
}

/// A file larger than the memory can hold is refused by name before it is
/// read (a 4 TB sparse file here; `/dev/zero` was read until the kernel
/// ended the process).
#[test]
fn a_file_larger_than_memory_is_refused_before_it_is_read() {
    let d = tmp("huge-file");
    let huge = d.join("huge.txt");
    let f = std::fs::File::create(&huge).unwrap();
    if f.set_len(1 << 42).is_err() {
        return; // a file system without sparse files that large
    }
    let out = d.join("run");
    let o = rnn(&[
        "train",
        "lm",
        "--data",
        huge.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_bad_input(&o, "of memory available: not read");
    assert!(common::stderr(&o).contains("huge.txt"));
    std::fs::remove_file(&huge).unwrap(); // 4 TB to `ls`, whatever it holds
}

/// Steps run together on one state file each feed their input in turn
/// (they each read the same state and wrote their own next one: of 20
/// characters fed at once, about 3 were kept).
#[test]
fn steps_run_together_on_one_state_lose_no_input() {
    use std::process::{Command, Stdio};
    let d = tmp("steps-together");
    let data = d.join("text.txt");
    std::fs::write(&data, text()).unwrap();
    let model = d.join("lm");
    let trained = train_lm(data.to_str().unwrap(), model.to_str().unwrap(), &[]);
    assert_eq!(
        trained.status.code(),
        Some(0),
        "{}",
        common::stderr(&trained)
    );
    let m = model.to_str().unwrap();
    let step = |state: &std::path::Path, input: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rnn"))
            .args([
                "step",
                "--model",
                m,
                "--state",
                state.to_str().unwrap(),
                "--json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        c
    };
    let shared = d.join("shared.state");
    let runs: Vec<_> = (0..8).map(|_| step(&shared, "a")).collect();
    for r in runs {
        let o = r.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    }
    let json = |c: std::process::Child| -> serde_json::Value {
        serde_json::from_slice(&c.wait_with_output().unwrap().stdout).unwrap()
    };
    let after = json(step(&shared, ""));
    let once = json(step(&d.join("once.state"), "aaaaaaaa"));
    let p = |j: &serde_json::Value| j["top"][0]["prob"].as_f64().unwrap();
    assert!(
        (p(&after) - p(&once)).abs() < 1e-5,
        "{after} against {once}"
    );
}

/// `rnn train lm` of a tiny model on `data` into `out` for `steps` steps,
/// as a command to add to.
fn tiny_lm(data: &std::path::Path, out: &std::path::Path, steps: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"));
    c.args(["train", "lm", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out);
    c.args([
        "--hidden",
        "8",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--steps",
        steps,
    ]);
    c
}

/// A stderr whose reader has gone (`2>&1 | head`, a closed terminal, an
/// mpirun that exited) does not stop a training: its log lines are dropped
/// and it ends with its model and results. Before, the first log line
/// panicked (exit 101, no model, the run's lock left behind).
#[test]
fn a_closed_stderr_does_not_stop_a_training() {
    let dir = tmp("closed-stderr");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    let mut child = tiny_lm(&data, &out, "20")
        .args(["--eval-every", "10", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader goes away before the first line
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(
        (&json["steps"], &json["interrupted"]),
        (&20.into(), &false.into())
    );
    assert!(out.join("model.safetensors").is_file());
    assert!(!out.join(".rnn.lock").exists());
}

/// A build without MPI started by mpirun as one of several ranks refuses
/// to start, once (rank 0 says why, the others exit silently), before
/// touching `--out`: each rank ran the whole training alone into the same
/// directory, and a rank cut short replaced a finished model.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_run_as_several_ranks() {
    let dir = tmp("no-mpi-ranks");
    let data = dir.join("t.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    for (size_var, rank_var) in [
        ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
        ("PMI_SIZE", "PMI_RANK"),
    ] {
        for rank in ["0", "1"] {
            let o = tiny_lm(&data, &out, "4")
                .env(size_var, "2")
                .env(rank_var, rank)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2));
            let err = common::stderr(&o);
            match rank {
                "0" => assert_eq!(
                    err.trim_end(),
                    "error: started as rank 0 of 2 by mpirun, but this rnn was built without MPI, so every rank would run the whole command alone: build it with `cargo build --release --features mpi` (docs/scale-out.md), or run it without mpirun"
                ),
                _ => assert_eq!(err, ""),
            }
            assert!(!out.exists());
        }
    }
    // a job of one process runs as usual
    let one = tiny_lm(&data, &out, "4")
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(0), "{}", common::stderr(&one));
}

/// Under mpirun, a command that is not a data-parallel training refuses
/// to run (rank 0 says why): each rank ran it whole (`rnn eval --json`
/// printed one object per rank).
#[test]
fn other_commands_refuse_to_run_as_several_ranks() {
    for (args, rank, said) in [
        (&["eval", "--model", "m", "--data", "d"][..], "0", true),
        (&["eval", "--model", "m", "--data", "d"][..], "1", false),
        (&["generate", "--model", "m"][..], "0", true),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
            .args(args)
            .env("PMI_SIZE", "3")
            .env("PMI_RANK", rank)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let want = match said {
            true => "error: this command runs as one process, not as 3 MPI ranks (under mpirun, only `rnn train lm`, `tag` and `forecast` are data-parallel)\n",
            false => "",
        };
        assert_eq!(common::stderr(&o), want);
        assert!(o.stdout.is_empty());
    }
}
