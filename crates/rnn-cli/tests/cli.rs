//! The `rnn` binary from outside: exit codes, one-line errors, files written,
//! and the bit-identical resume of language-model training.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_bad_input, rnn, tmp};

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rnn/tests/fixtures/reference")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// A text of `n` characters drawn from a small alphabet, deterministic.
fn text(n: usize) -> String {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran ",
    ];
    let mut s = String::new();
    let mut k = 7usize;
    while s.len() < n {
        k = k.wrapping_mul(1103515245).wrapping_add(12345) % 2147483648;
        s.push_str(words[k % words.len()]);
    }
    s
}

#[test]
fn reference_writes_every_tensor_and_rejects_bad_files() {
    let d = tmp("ref");
    let out = d.join("o.safetensors");
    let ok = rnn(&[
        "reference",
        &fixture("elman_tanh_softmax.safetensors"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let f = rnn::io::TensorFile::read(&out).unwrap();
    for name in ["s", "o", "p", "loss", "dU", "dW", "db", "dV", "dc", "dh0"] {
        assert_eq!(f.dtype(name).unwrap(), "F64", "{name}");
    }
    // the output exists now: refused without --force (naming it), replaced with it
    let o = out.to_str().unwrap();
    let case = fixture("elman_tanh_softmax.safetensors");
    let again = rnn(&["reference", &case, "-o", o]);
    assert_bad_input(
        &again,
        &format!("{o}: already exists (use --force to replace it)"),
    );
    let forced = rnn(&["reference", &case, "-o", o, "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    // the bad inputs below write nowhere
    let out = d.join("never-written.safetensors");
    assert_bad_input(
        &rnn(&[
            "reference",
            "/no/such/case.safetensors",
            "-o",
            out.to_str().unwrap(),
        ]),
        "/no/such/case.safetensors",
    );
    let trunc = d.join("trunc.safetensors");
    let bytes = std::fs::read(fixture("elman_tanh_softmax.safetensors")).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    assert_bad_input(
        &rnn(&[
            "reference",
            trunc.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]),
        "trunc.safetensors",
    );
    let bad_out = rnn(&[
        "reference",
        &fixture("elman_tanh_softmax.safetensors"),
        "-o",
        "/no/such/dir/o.safetensors",
    ]);
    assert_bad_input(&bad_out, "/no/such/dir/o.safetensors");
    // a case without its tensor W
    let mut w = rnn::io::TensorWriter::new();
    let src = rnn::io::TensorFile::read(fixture("elman_tanh_softmax.safetensors")).unwrap();
    for (k, v) in src.metadata() {
        w.meta(k.clone(), v.clone());
    }
    for name in ["U", "b", "V", "c", "x", "h0"] {
        let t = src.f64(name).unwrap();
        w.add::<f64>(name, &t.shape, &t.data);
    }
    let (s, y) = src.i64("y").unwrap();
    w.add_i64("y", &s, &y);
    let missing = d.join("missing.safetensors");
    w.write(&missing).unwrap();
    assert_bad_input(
        &rnn(&[
            "reference",
            missing.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]),
        "'W'",
    );
}

#[test]
fn trajectory_and_gradcheck_run() {
    let d = tmp("traj");
    let out = d.join("t.safetensors");
    let r = rnn(&[
        "trajectory",
        &fixture("trajectories/traj_adam.safetensors"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let f = rnn::io::TensorFile::read(&out).unwrap();
    assert_eq!(f.f64("losses").unwrap().shape, vec![6]);
    let g = rnn(&[
        "gradcheck",
        "--activation",
        "sigmoid",
        "--output",
        "identity",
        "--json",
    ]);
    assert!(g.status.success());
    let v: serde_json::Value = serde_json::from_slice(&g.stdout).unwrap();
    assert!(v["max_rel_error"].as_f64().unwrap() < 1e-6);
    assert_bad_input(&rnn(&["gradcheck", "--activation", "swish"]), "swish");
}

fn read_tensor(path: &Path, name: &str) -> Vec<f64> {
    rnn::io::TensorFile::read(path)
        .unwrap()
        .f64(name)
        .unwrap()
        .data
}

#[test]
fn lm_resume_is_bit_identical_and_generate_eval_work() {
    let d = tmp("lm");
    let data = d.join("text.txt");
    std::fs::write(&data, text(20_000)).unwrap();
    let (a, b) = (d.join("a"), d.join("b"));
    let common = [
        "--hidden",
        "16",
        "--seq-len",
        "16",
        "--batch",
        "4",
        "--eval-every",
        "7",
        "--quiet",
        "--threads",
        "2",
        "--dropout",
        "0.2",
        "--seed",
        "3",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "lm", "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&common);
        let o = rnn(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["--out", a.to_str().unwrap(), "--steps", "20"]);
    run(&["--resume", a.to_str().unwrap(), "--steps", "40"]);
    run(&["--out", b.to_str().unwrap(), "--steps", "40"]);
    for t in ["params", "opt.0", "opt.1", "state.h"] {
        let (x, y) = (
            read_tensor(&a.join("train_state.safetensors"), t),
            read_tensor(&b.join("train_state.safetensors"), t),
        );
        assert!(x == y, "{t} differs after stop/resume");
    }
    assert!(a.join("model.safetensors").exists() && a.join("loss.svg").exists());
    assert_eq!(
        std::fs::read_to_string(a.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        std::fs::read_to_string(b.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count()
            + 1
    );

    let g = rnn(&[
        "generate",
        "--model",
        a.to_str().unwrap(),
        "--prime",
        "the ",
        "--len",
        "50",
        "--seed",
        "1",
    ]);
    assert!(g.status.success());
    let streamed = String::from_utf8(g.stdout).unwrap();
    assert!(streamed.chars().count() >= 54);
    // --json: the same sample in one object (the prime apart)
    let m = a.to_str().unwrap();
    let j = rnn(&[
        "generate", "--model", m, "--prime", "the ", "--len", "50", "--seed", "1", "--json",
    ]);
    assert!(j.status.success(), "{}", common::stderr(&j));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["prime"], "the ");
    assert_eq!(v["chars"], 50);
    assert_eq!(format!("the {}\n", v["text"].as_str().unwrap()), streamed);
    assert_eq!(
        (v["top_k"].as_u64(), v["top_p"].as_f64()),
        (Some(0), Some(1.0))
    );
    // --top-p: a tiny nucleus is the greedy choice, as --top-k 1
    let pick = |extra: &[&str]| {
        let mut args = vec!["generate", "--model", m, "--len", "40", "--json"];
        args.extend_from_slice(extra);
        let o = rnn(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["text"].clone()
    };
    assert_eq!(
        pick(&["--top-p", "1e-9", "--seed", "3"]),
        pick(&["--top-k", "1", "--seed", "4"])
    );
    for bad in ["0", "1.5", "-1", "nan"] {
        assert_bad_input(&rnn(&["generate", "--model", m, "--top-p", bad]), "--top-p");
    }
    // a reader that stops (`| head -c 100`) stops the sampling: ten billion
    // characters would take hours (before, they were sampled to the end
    // with nowhere to go)
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
        .args([
            "generate",
            "--model",
            a.to_str().unwrap(),
            "--len",
            "10000000000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut head).unwrap();
    drop(child.stdout.take()); // the pipe closes
    let waited = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if waited.elapsed().as_secs() > 120 {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = status.expect("rnn generate kept sampling after its reader went away");
    assert!(status.success(), "a closed pipe is not an error: {status}");
    assert_bad_input(
        &rnn(&[
            "generate",
            "--model",
            a.to_str().unwrap(),
            "--prime",
            "Zebra",
        ]),
        "'Z'",
    );
    let e = rnn(&[
        "eval",
        "--model",
        a.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(e.status.success());
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let nats = v["loss_nats"].as_f64().unwrap();
    assert!((v["bits_per_char"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9);
    assert!((v["perplexity"].as_f64().unwrap() - nats.exp()).abs() < 1e-9);
    let alphabet = text(20_000)
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len() as f64;
    assert!(
        nats > 0.0 && nats < alphabet.ln(),
        "a trained model beats uniform over {alphabet} characters: {nats}"
    );
}

#[test]
fn lm_bad_inputs_are_one_line_errors() {
    let d = tmp("lmbad");
    let out = d.join("run");
    let o = out.to_str().unwrap();
    let empty = d.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert_bad_input(
        &rnn(&["train", "lm", "--data", empty.to_str().unwrap(), "--out", o]),
        "empty",
    );
    let short = d.join("short.txt");
    std::fs::write(&short, "hello world").unwrap();
    assert_bad_input(
        &rnn(&["train", "lm", "--data", short.to_str().unwrap(), "--out", o]),
        "too short",
    );
    let latin1 = d.join("latin1.txt");
    let mut bytes = text(5000).into_bytes();
    bytes[1234] = 0xE9;
    std::fs::write(&latin1, &bytes).unwrap();
    assert_bad_input(
        &rnn(&[
            "train",
            "lm",
            "--data",
            latin1.to_str().unwrap(),
            "--out",
            o,
        ]),
        "offset 1234",
    );
    let good = d.join("good.txt");
    std::fs::write(&good, text(20_000)).unwrap();
    let g = good.to_str().unwrap();
    assert_bad_input(
        &rnn(&[
            "train",
            "lm",
            "--data",
            g,
            "--out",
            o,
            "--schedule",
            "linear",
        ]),
        "--schedule linear",
    );
    assert_bad_input(
        &rnn(&["train", "lm", "--data", g, "--out", o, "--seq-len", "0"]),
        "--seq-len",
    );
    assert_bad_input(
        &rnn(&["train", "lm", "--data", g, "--out", o, "--lr", "-1"]),
        "--lr",
    );
    assert_bad_input(
        &rnn(&["train", "lm", "--data", g, "--out", o, "--lr", "NaN"]),
        "--lr",
    );
    assert_bad_input(
        &rnn(&["train", "lm", "--data", g, "--out", o, "--locked-dropout"]),
        "--locked-dropout",
    );
    for wd in ["-0.1", "NaN"] {
        assert_bad_input(
            &rnn(&["train", "lm", "--data", g, "--out", o, "--weight-decay", wd]),
            "--weight-decay",
        );
    }
    assert_bad_input(
        &rnn(&[
            "train",
            "lm",
            "--data",
            g,
            "--out",
            o,
            "--optimizer",
            "lbfgs",
        ]),
        "lbfgs",
    );
    assert_bad_input(
        &rnn(&["generate", "--model", d.join("nope").to_str().unwrap()]),
        "nope",
    );
    let corrupt = d.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(
        corrupt.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",
    )
    .unwrap();
    assert_bad_input(
        &rnn(&["eval", "--model", corrupt.to_str().unwrap(), "--data", g]),
        "model.safetensors",
    );
}

#[test]
fn divergence_stops_with_the_step_and_keeps_the_checkpoint() {
    let d = tmp("nan");
    let data = d.join("text.txt");
    std::fs::write(&data, text(20_000)).unwrap();
    let out = d.join("run");
    // A learning rate of 1000 with SGD and no clipping makes the loss blow
    // up after the first evaluation (at 3e38 the weights of step 1 were
    // saved as the best model, with a validation loss of 7e37: now a
    // divergence, and nothing is saved)
    let o = rnn(&[
        "train",
        "lm",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--hidden",
        "16",
        "--seq-len",
        "16",
        "--batch",
        "4",
        "--optimizer",
        "sgd",
        "--lr",
        "1e3",
        "--clip",
        "0",
        "--steps",
        "50",
        "--eval-every",
        "1",
        "--quiet",
        "--threads",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("at step 2;"), "{err}");
    assert!(
        out.join("model.safetensors").exists(),
        "the last good checkpoint is kept"
    );
    let e = rnn(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    // a relu network whose validation state overflows while its logits are
    // still finite: a divergence on the validation text (it was the error
    // `state.h[6]: expected a finite value, got inf`, exit 2)
    let relu = d.join("relu");
    #[rustfmt::skip]
    let o = rnn(&["train", "lm", "--data", data.to_str().unwrap(), "--out", relu.to_str().unwrap(),
        "--hidden", "16", "--seq-len", "16", "--batch", "4", "--activation", "relu", "--lr", "2",
        "--clip", "0", "--steps", "50", "--eval-every", "1", "--quiet", "--threads", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.ends_with("error: loss became inf on the validation text at step 1, before this run had written a model (try a lower --lr)\n"),
        "{err}"
    );
}

/// The AVX-512 and AVX2 builds of the kernels (the step product, the dW
/// product, the gate rows, the backward rows) sum the same products in the
/// same order, so training gives the same parameters bit for bit whichever
/// the CPU runs: a run forced onto the AVX2 builds (`RNN_SIMD=avx2`) against
/// the default dispatch, for each cell, at sizes with masked tails (hidden 24,
/// batch 13: one 13-row AVX-512 tile, AVX2 tiles of 6, 4 and 3 rows). On a CPU without AVX-512 both
/// runs take the AVX2 builds, and the test only checks determinism.
#[test]
fn simd_builds_train_bit_identical_models() {
    let d = tmp("simd");
    let data = d.join("text.txt");
    std::fs::write(&data, text(8_000)).unwrap();
    for cell in ["lstm", "gru", "elman"] {
        let mut params = Vec::new();
        for simd in ["avx2", "auto"] {
            let out = d.join(format!("{cell}-{simd}"));
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
                .args(["train", "lm", "--data", data.to_str().unwrap()])
                .args(["--out", out.to_str().unwrap(), "--cell", cell])
                .args(["--hidden", "24", "--seq-len", "12", "--batch", "13"])
                .args([
                    "--steps",
                    "6",
                    "--eval-every",
                    "3",
                    "--quiet",
                    "--seed",
                    "5",
                ])
                .env("RNN_SIMD", simd)
                .output()
                .expect("run rnn");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            params.push(read_tensor(&out.join("train_state.safetensors"), "params"));
        }
        assert!(!params[0].is_empty(), "{cell}: no parameters read");
        assert!(
            params[0] == params[1],
            "{cell}: AVX2 and default builds differ"
        );
    }
}

/// `--locked-dropout` is checked against the run it resumes, not alone: a
/// locked run resumes with the flag repeated (its dropout comes from the
/// saved run), and a run without it refuses the flag as a contradiction.
#[test]
fn lm_resume_checks_locked_dropout_against_the_saved_run() {
    let d = tmp("lmlocked");
    let data = d.join("text.txt");
    std::fs::write(&data, text(20_000)).unwrap();
    let g = data.to_str().unwrap();
    let (locked, plain) = (d.join("locked"), d.join("plain"));
    let train = |out: &Path, extra: &[&str]| {
        let mut args = vec!["train", "lm", "--data", g, "--out", out.to_str().unwrap()];
        args.extend_from_slice(&[
            "--hidden",
            "8",
            "--steps",
            "4",
            "--quiet",
            "--dropout",
            "0.2",
        ]);
        args.extend_from_slice(extra);
        let o = rnn(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    train(&locked, &["--locked-dropout"]);
    train(&plain, &[]);
    let resume = |dir: &Path| {
        rnn(&[
            "train",
            "lm",
            "--data",
            g,
            "--resume",
            dir.to_str().unwrap(),
            "--locked-dropout",
            "--steps",
            "8",
            "--quiet",
        ])
    };
    let o = resume(&locked);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_bad_input(&resume(&plain), "has --locked-dropout false");
}

/// `rnn bench --json` is one JSON object on stdout, with `--products` too
/// (it printed its product lines before the object).
#[test]
fn bench_json_with_products_is_one_object() {
    let out = rnn(&["bench", "--config", "S", "--products", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let c = &v["configs"][0];
    assert_eq!(c["config"], "S");
    let products = c["products"].as_array().unwrap();
    assert!(!products.is_empty());
    assert!(products
        .iter()
        .all(|p| p["gemm_gflops"].as_f64().unwrap() > 0.0));
    assert!(c["best_product_gflops"].as_f64().unwrap() > 0.0);
    assert!(c["train_share"].as_f64().unwrap() > 0.0);
}

/// `rnn bench --batch/--vocab/--hidden/--steps` runs one shape of the
/// user's own, named `custom`, the sizes not given taken from `--config`;
/// a size of 0 or one that cannot fit in memory is refused by its flag.
#[test]
fn bench_runs_a_custom_shape_and_refuses_bad_sizes() {
    let out = rnn(&[
        "bench", "--cell", "gru", "--config", "S", "--batch", "3", "--hidden", "8", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let configs = v["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 1);
    let c = &configs[0];
    assert_eq!(c["config"], "custom");
    assert_eq!(c["cell"], "gru");
    // B and H as given, V and T from S (65 classes, 25 steps)
    let sizes: Vec<u64> = ["B", "V", "H", "T"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [3, 65, 8, 25]);
    assert!(c["train_tok_s"].as_f64().unwrap() > 0.0);
    assert_bad_input(
        &rnn(&["bench", "--hidden", "0"]),
        "error: --hidden 0: expected 1 to 1048576",
    );
    assert_bad_input(
        &rnn(&["bench", "--hidden", "1000000", "--batch", "1000000"]),
        "error: training a 'bench' model of 1.0e12 parameters (hidden 1000000",
    );
}

/// `rnn reference CASE -o CASE --force` replaced the case by its outputs:
/// an output that is the command's input is refused, --force or not.
#[test]
fn reference_and_trajectory_never_write_over_their_case() {
    let dir = tmp("onto-case");
    std::fs::create_dir_all(&dir).unwrap();
    let case = dir.join("case.safetensors");
    std::fs::copy(fixture("elman_sigmoid_identity.safetensors"), &case).unwrap();
    let before = std::fs::read(&case).unwrap();
    let c = case.to_str().unwrap();
    for cmd in ["reference", "trajectory"] {
        assert_bad_input(
            &rnn(&[cmd, c, "-o", c, "--force"]),
            "is an input of this command",
        );
    }
    assert_eq!(std::fs::read(&case).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rnn reference` and `rnn trajectory` print how the tensors they write
/// compare with the case's own values: the fixtures within 1e-12, and a
/// case whose expected `dW` was moved by 1e-3 at one element is named with
/// that error (line and `--json`).
#[test]
fn reference_and_trajectory_say_how_far_they_are_from_the_case() {
    let d = tmp("ref-report");
    let out = d.join("o.safetensors");
    let o = out.to_str().unwrap();
    let stdout = |args: &[&str]| {
        let r = rnn(args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8_lossy(&r.stdout).into_owned()
    };
    let case = fixture("elman_tanh_softmax.safetensors");
    let line = stdout(&["reference", &case, "-o", o]);
    let head =
        format!("10 tensors (f64) -> {o}; against the case's 10 of them: largest relative error ");
    assert!(line.starts_with(&head), "{line}");
    let err: f64 = line[head.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(err < 1e-12, "{line}");
    let traj = fixture("trajectories/traj_adam.safetensors");
    let j: serde_json::Value = serde_json::from_str(&stdout(&[
        "trajectory",
        &traj,
        "-o",
        o,
        "--force",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (&j["tensors"], j["checked"].as_array().unwrap().len()),
        (&6.into(), 6),
        "{j}"
    );
    assert!(
        j["worst"]["relative_error"].as_f64().unwrap() < 1e-12,
        "{j}"
    );
    // the case's expected dW moved at one element
    let src = rnn::io::TensorFile::read(&case).unwrap();
    let mut w = rnn::io::TensorWriter::new();
    for (k, v) in src.metadata() {
        if !k.contains("checksum") {
            w.meta(k.clone(), v.clone());
        }
    }
    for name in src.names() {
        match src.f64(&name) {
            Ok(mut t) => {
                if name == "dW" {
                    t.data[3] += 1e-3;
                }
                w.add::<f64>(name, &t.shape, &t.data);
            }
            Err(_) => {
                let (s, v) = src.i64(&name).unwrap();
                w.add_i64(name, &s, &v);
            }
        }
    }
    let moved = d.join("moved.safetensors");
    w.write(&moved).unwrap();
    let line = stdout(&["reference", moved.to_str().unwrap(), "-o", o, "--force"]);
    assert!(line.contains("(dW, max |diff| 1.00e-3)"), "{line}");
    let j: serde_json::Value = serde_json::from_str(&stdout(&[
        "reference",
        moved.to_str().unwrap(),
        "-o",
        o,
        "--force",
        "--json",
    ]))
    .unwrap();
    assert_eq!(j["worst"]["name"], "dW", "{j}");
    assert!(
        (j["worst"]["max_abs_diff"].as_f64().unwrap() - 1e-3).abs() < 1e-12,
        "{j}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Every command's `--help` ends in an example of itself (DEVELOPERS.md:
/// "Every command has `--help` with an example"); the top level's too,
/// which had none (the tenth sweep).
#[test]
fn every_commands_help_has_an_example_of_it() {
    let commands = [
        "",
        "train lm",
        "train tag",
        "train forecast",
        "train classify",
        "generate",
        "tag",
        "forecast",
        "classify",
        "eval",
        "step",
        "infer",
        "import",
        "export",
        "bench",
        "diagnose",
        "visualize",
        "reference",
        "trajectory",
        "gradcheck",
    ];
    for c in commands {
        let mut args: Vec<&str> = c.split_whitespace().collect();
        args.push("--help");
        let o = rnn(&args);
        assert!(o.status.success(), "rnn {c} --help");
        let help = String::from_utf8_lossy(&o.stdout);
        let (_, examples) = help
            .split_once("\nExample")
            .unwrap_or_else(|| panic!("rnn {c} --help has no Example(s): section:\n{help}"));
        let usage = format!("rnn {c}");
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with(usage.trim_end())),
            "rnn {c} --help: no example starts with '{usage}':\n{examples}"
        );
    }
}
