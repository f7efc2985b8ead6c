//! `rnn step`: a language model's state carried across invocations in a
//! file. Two chunks in two invocations equal one chunk of their
//! concatenation; a missing state file starts from zeros; the state of
//! another model, a corrupt file and bad input are one-line errors (exit 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{assert_bad_input, rnn, rnn_with, tmp};
use rnn::io::model_file::{ModelFile, Task};
use rnn::tasks::lm::vocab_of;
use rnn::{Input, Model, ModelConfig, Stream};

/// A text of `n` characters drawn from a small alphabet, deterministic.
fn text(n: usize) -> String {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran ",
    ];
    let mut s = String::new();
    let mut k = 11usize;
    while s.len() < n {
        k = k.wrapping_mul(1103515245).wrapping_add(12345) % 2147483648;
        s.push_str(words[k % words.len()]);
    }
    s
}

/// Trains a tiny LSTM language model into `dir/model` (a few seconds).
fn train_lm(dir: &Path) -> PathBuf {
    let data = dir.join("text.txt");
    std::fs::write(&data, text(8_000)).unwrap();
    let out = dir.join("model");
    let o = rnn(&[
        "train",
        "lm",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cell",
        "lstm",
        "--hidden",
        "12",
        "--seq-len",
        "16",
        "--batch",
        "4",
        "--steps",
        "30",
        "--eval-every",
        "15",
        "--threads",
        "1",
        "--quiet",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `rnn step --model M --state S extra...` with `chunk` on stdin.
fn step(model: &Path, state: &Path, chunk: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "step",
        "--model",
        model.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rnn_with(&args, Some(chunk))
}

/// The top-5 lines `'c'<TAB>p` of a successful step.
/// A refused step (exit 2, one line naming `needle`) that printed nothing.
fn assert_nothing_shown(o: &Output, needle: &str) {
    assert_bad_input(o, needle);
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn top5(o: &Output) -> Vec<(String, f64)> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<(String, f64)> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let (c, p) = l.split_once('\t').expect("char<TAB>probability");
            (c.to_string(), p.parse().expect("a probability"))
        })
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    lines
}

fn assert_same_top(a: &[(String, f64)], b: &[(String, f64)]) {
    for ((ca, pa), (cb, pb)) in a.iter().zip(b) {
        assert_eq!(ca, cb, "{a:?} vs {b:?}");
        assert!((pa - pb).abs() <= 2e-6, "{a:?} vs {b:?}");
    }
}

/// The library's next-character distribution after `text` from zeros.
fn library_top(model: &Path, text: &str) -> Vec<(String, f64)> {
    let mf = ModelFile::load_task(model, Task::Lm).unwrap();
    let vocab = vocab_of(&mf, model).unwrap();
    let mut s = Stream::new(&mf.model).unwrap();
    s.feed(Input::Ids(&vocab.encode(text, "text").unwrap()))
        .unwrap();
    let p = s.probabilities().unwrap();
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[j].total_cmp(&p[i]));
    order[..5]
        .iter()
        .map(|&i| (format!("{:?}", vocab.chars[i]), p[i]))
        .collect()
}

fn read_h(path: &Path) -> Vec<f64> {
    rnn::io::TensorFile::read(path)
        .unwrap()
        .f64("h")
        .unwrap()
        .data
}

#[test]
fn chunks_across_invocations_equal_one_chunk() {
    let d = tmp("step");
    let model = train_lm(&d);
    let (split, whole) = (d.join("split.state"), d.join("whole.state"));

    // a missing state file starts from zeros: the library's distribution
    // after the same text from the zero state
    let first = top5(&step(&model, &split, "the c", &[]));
    assert_same_top(&first, &library_top(&model, "the c"));
    let probs: f64 = first.iter().map(|(_, p)| p).sum();
    assert!(probs > 0.0 && probs <= 1.0 + 1e-6);
    assert!(
        first.windows(2).all(|w| w[0].1 >= w[1].1),
        "sorted: {first:?}"
    );

    let second = top5(&step(&model, &split, "at sat on ", &[]));
    let once = top5(&step(&model, &whole, "the cat sat on ", &[]));
    assert_same_top(&second, &once);
    assert_same_top(&once, &library_top(&model, "the cat sat on "));
    let (hs, hw) = (read_h(&split), read_h(&whole));
    assert_eq!(hs.len(), 12, "h [L, B, H] = [1, 1, 12]");
    assert!(hs.iter().zip(&hw).all(|(a, b)| (a - b).abs() < 1e-6));

    // a chunk longer than what is fed at a time (16,384 characters) ends
    // where the same text fed in two calls does
    let long = text(40_000);
    let (one, two) = (d.join("one.state"), d.join("two.state"));
    let cut = long.len() / 2 + 7;
    let all = top5(&step(&model, &one, &long, &[]));
    assert_same_top(&all, &library_top(&model, &long)); // fed whole
    top5(&step(&model, &two, &long[..cut], &[]));
    assert_same_top(&all, &top5(&step(&model, &two, &long[cut..], &[])));
    let (h1, h2) = (read_h(&one), read_h(&two));
    assert!(h1.iter().zip(&h2).all(|(a, b)| (a - b).abs() < 1e-6));

    // an empty chunk predicts from the saved state alone
    assert_same_top(&top5(&step(&model, &whole, "", &[])), &once);

    // --json: one object with the same figures
    let j = step(
        &model,
        &d.join("json.state"),
        "the cat sat on ",
        &["--json"],
    );
    assert!(j.status.success());
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["fed"], 15);
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    for (t, (c, p)) in top.iter().zip(&once) {
        assert_eq!(
            &format!("{:?}", t["char"].as_str().unwrap().chars().next().unwrap()),
            c
        );
        assert!((t["prob"].as_f64().unwrap() - p).abs() <= 1e-6);
    }
}

#[test]
fn generate_continues_and_feeds_its_characters() {
    let d = tmp("stepgen");
    let model = train_lm(&d);
    let state = d.join("gen.state");
    let g = step(
        &model,
        &state,
        "the ",
        &["--generate", "40", "--seed", "2", "--temperature", "0.8"],
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let sampled = String::from_utf8(g.stdout).unwrap();
    let sampled = sampled.strip_suffix('\n').unwrap();
    assert_eq!(sampled.chars().count(), 40);
    // the same draws as `rnn generate` from the same prime and seed
    let r = rnn(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prime",
        "the ",
        "--len",
        "40",
        "--seed",
        "2",
        "--temperature",
        "0.8",
    ]);
    assert!(r.status.success());
    assert_eq!(
        String::from_utf8(r.stdout).unwrap(),
        format!("the {sampled}\n")
    );
    // the saved state has seen the sampled characters: the same as feeding them
    let fed = d.join("fed.state");
    top5(&step(&model, &fed, &format!("the {sampled}"), &[]));
    let (a, b) = (read_h(&state), read_h(&fed));
    assert!(
        a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5),
        "{a:?} vs {b:?}"
    );
    // continuing draws afresh (the same draws at every call made each
    // continuation repeat the last), and the same state and seed the same
    let before = std::fs::read(&state).unwrap();
    let gen =
        |state: &Path| String::from_utf8(step(&model, state, "", &["--generate", "30"]).stdout);
    let (c1, c2) = (gen(&state).unwrap(), gen(&state).unwrap());
    assert_ne!(c1, c2);
    std::fs::write(&state, &before).unwrap();
    assert_eq!(gen(&state).unwrap(), c1);
    std::fs::write(&state, &before).unwrap();
    // --json
    let j = step(&model, &state, "", &["--generate", "7", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["generated"].as_str().unwrap().chars().count(), 7);
    assert_eq!(v["fed"], 0);
    // output that cannot be written (a full disk) leaves the state as it was
    #[cfg(target_os = "linux")]
    {
        let before = std::fs::read(&state).unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rnn"))
            .args(["step", "--model", model.to_str().unwrap(), "--state"])
            .arg(&state)
            .args(["--generate", "5"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("was not changed"), "{err}");
        assert_eq!(std::fs::read(&state).unwrap(), before);
        // and the new state written beside it is gone
        let left: Vec<String> = std::fs::read_dir(state.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // a state that cannot be written: an error before anything is shown
    let o = step(
        &model,
        &d.join("no-such-dir/s.state"),
        "the ",
        &["--generate", "5"],
    );
    assert_nothing_shown(&o, "no-such-dir/s.state");
}

#[test]
fn another_models_state_and_bad_input_are_refused() {
    let d = tmp("stepbad");
    let model = train_lm(&d);
    let state = d.join("s.state");
    top5(&step(&model, &state, "the ", &[]));
    let before = std::fs::read(&state).unwrap();

    // the same architecture with other weights, and another architecture
    let mut mf = ModelFile::load_task(&model, Task::Lm).unwrap();
    mf.model.params[0] += 0.25;
    let other = d.join("other");
    mf.save(&other).unwrap();
    let out = step(&other, &state, "cat", &[]);
    assert_bad_input(&out, "s.state");
    assert_bad_input(&out, "another model");
    let config = ModelConfig {
        hidden_size: 5,
        ..mf.model.config.clone()
    };
    mf.model = Model::new(config, 1).unwrap();
    let bigger = d.join("bigger");
    mf.save(&bigger).unwrap();
    assert_bad_input(&step(&bigger, &state, "cat", &[]), "the state of another model (lstm, 15 inputs, 12 hidden, 1 layer(s)), not of this one (lstm, 15 inputs, 5 hidden, 1 layer(s))");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "a refused state is left as it was"
    );

    // a corrupt state file
    let corrupt = d.join("corrupt.state");
    std::fs::write(&corrupt, b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}").unwrap();
    assert_bad_input(&step(&model, &corrupt, "cat", &[]), "corrupt.state");

    // characters the model does not know, an empty chunk with no state yet
    assert_bad_input(&step(&model, &state, "Zebra", &[]), "'Z'");
    assert_bad_input(
        &step(&model, &d.join("new.state"), "", &[]),
        "stdin is empty",
    );
    assert!(!d.join("new.state").exists());
    assert_bad_input(
        &step(
            &model,
            &state,
            "cat",
            &["--generate", "3", "--temperature", "0"],
        ),
        "--temperature",
    );
    // more characters than memory holds: one line naming the flag, no abort
    assert_bad_input(
        &step(&model, &state, "cat", &["--generate", "100000000000000000"]),
        "--generate 100000000000000000: needs about 800.0 PB of memory",
    );
    assert_eq!(std::fs::read(&state).unwrap(), before);
    assert_bad_input(&step(&d.join("nope"), &state, "cat", &[]), "nope");

    // a forecast model file without its forecasting metadata
    let fc = ModelFile {
        task: Task::Forecast,
        model: Model::new(
            ModelConfig {
                output: rnn::OutputKind::Identity,
                ..ModelConfig::elman(1, 4, 1)
            },
            0,
        )
        .unwrap(),
        extra: BTreeMap::new(),
        meta: BTreeMap::new(),
    };
    let fdir = d.join("fc");
    fc.save(&fdir).unwrap();
    assert_bad_input(&step(&fdir, &d.join("f.state"), "1.5\n", &[]), "metadata");

    // a forecaster's flag is refused for a language model
    assert_bad_input(
        &step(&model, &d.join("h.state"), "the", &["--horizon", "3"]),
        "rnn step: --horizon is for forecasters, not 'lm' models",
    );
    // --help shows an example
    let h = rnn(&["step", "--help"]);
    assert!(h.status.success());
    assert!(String::from_utf8_lossy(&h.stdout).contains("printf 'Call me ' | rnn step --model"));
}

/// Trains a tiny forecaster of column `y` of `csv` into `out` (window 8,
/// 4 units, one network, no differencing) with `transform` and `extra`.
fn train_forecaster(csv: &Path, out: &Path, transform: &str, extra: &[&str]) -> PathBuf {
    #[rustfmt::skip]
    let mut args = vec![
        "train", "forecast", "--data", csv.to_str().unwrap(), "--target", "y", "--window", "8",
        "--test", "10", "--hidden", "4",
        // issue 18 made these chosen or 5 by default: the old meaning
        "--transform", transform, "--diff", "0", "--ensemble", "1",
        "--out", out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = rnn(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.to_path_buf()
}

#[test]
fn a_forecaster_steps_through_values_across_calls() {
    let d = tmp("step-forecast");
    let csv = d.join("s.csv");
    let values: Vec<f64> = (0..120)
        .map(|i| 10.0 + (i as f64 * 0.5).sin() * 3.0 + i as f64 * 0.05)
        .collect();
    let mut text = String::from("t,y\n");
    for (i, v) in values.iter().enumerate() {
        text += &format!("{i},{v}\n");
    }
    std::fs::write(&csv, text).unwrap();
    let model = train_forecaster(
        &csv,
        &d.join("m"),
        "none",
        &["--epochs", "3", "--no-ar-skip"],
    );
    let join = |v: &[f64]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // all at once
    let one = d.join("one.state");
    let all = step(&model, &one, &join(&values[..50]), &[]);
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    // in three calls, the first too short for a window: a note, no forecast
    let three = d.join("three.state");
    let short = step(&model, &three, &join(&values[..5]), &[]);
    assert!(short.status.success() && short.stdout.is_empty());
    assert!(String::from_utf8_lossy(&short.stderr).contains("feed 3 more"));
    assert!(step(&model, &three, &join(&values[5..30]), &[])
        .status
        .success());
    let last = step(&model, &three, &join(&values[30..50]), &[]);
    assert_eq!(last.stdout, all.stdout);
    let f: f64 = String::from_utf8_lossy(&all.stdout).trim().parse().unwrap();
    assert!(f.is_finite());
    // a history that cannot be written: an error before the forecast is shown
    let o = step(
        &model,
        &d.join("no-such-dir/h.state"),
        &join(&values[..50]),
        &[],
    );
    assert_nothing_shown(&o, "no-such-dir/h.state");
    // --json while the window is not full: one object, the forecast null
    let j = step(&model, &d.join("j.state"), &join(&values[..5]), &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        (v["fed"].as_u64(), v["held"].as_u64(), v["needed"].as_u64()),
        (Some(5), Some(5), Some(3))
    );
    assert!(v["forecast"].is_null());
    // bad values, another model's history
    assert_bad_input(&step(&model, &one, "1.0 x 2", &[]), "value 2 \"x\"");
    assert_bad_input(
        &step(&model, &one, "1 2 NaN", &[]),
        "stdin: value 3 \"NaN\" is not a finite number",
    );
    // a byte-order mark before the values is dropped, as file readers do
    let marked = step(&model, &d.join("bom.state"), "\u{feff}1 2", &["--json"]);
    assert!(marked.status.success(), "{}", common::stderr(&marked));
    // named as typed on stdin (it was "column .., data row 25 (time 24)":
    // the place in the window the value would have taken)
    assert_bad_input(
        &step(&model, &one, "1 1e39", &[]),
        "stdin: value 2 \"1e39\" is out of range (within the range of 32-bit floats (±3.4e38) the model computes in)",
    );
    // a value outside the model's transform, named as typed too: the same
    // series (all positive) through log
    let logged = train_forecaster(&csv, &d.join("log"), "log", &["--epochs", "2"]);
    assert_bad_input(
        &step(&logged, &d.join("log.state"), "12 0.0", &[]),
        "stdin: value 2 \"0.0\" is out of range (positive for --transform log)",
    );
    // a language model's flags are refused, not ignored
    assert_bad_input(
        &step(&model, &one, "1", &["--generate", "5"]),
        "rnn step: --generate is for language models, not 'forecast' models",
    );
}

/// A forecaster trained on a file with `;` between fields and decimal
/// commas reads `43,2` on stdin as that file does (it took the two values
/// 43 and 2: 48 values fed for 24, a forecast from the wrong window, exit
/// 0; the CLI sweep of session 55); a comma-separated model still reads a
/// comma as a separator.
#[test]
fn a_forecaster_reads_stdin_as_its_training_file_wrote_numbers() {
    let d = tmp("step-decimal-comma");
    let values: Vec<f64> = (0..80)
        .map(|i| 10.0 + (i as f64 * 0.5).sin() * 3.0 + i as f64 * 0.05)
        .map(|v: f64| (v * 10.0).round() / 10.0)
        .collect();
    let mut semi = String::from("t;y\n");
    for (i, v) in values.iter().enumerate() {
        semi += &format!("{i};{}\n", format!("{v:.1}").replace('.', ","));
    }
    let csv = d.join("s.csv");
    std::fs::write(&csv, semi).unwrap();
    let model = train_forecaster(
        &csv,
        &d.join("m"),
        "none",
        &["--epochs", "2", "--delimiter", ";"],
    );
    let last: Vec<f64> = values[60..].to_vec();
    let dotted: Vec<String> = last.iter().map(|v| format!("{v:.1}")).collect();
    let commas: Vec<String> = dotted.iter().map(|v| v.replace('.', ",")).collect();
    let a = step(&model, &d.join("a.state"), &dotted.join("\n"), &["--json"]);
    let b = step(&model, &d.join("b.state"), &commas.join("\n"), &["--json"]);
    let c = step(&model, &d.join("c.state"), &commas.join(";"), &["--json"]);
    for o in [&a, &b, &c] {
        assert!(o.status.success(), "{}", common::stderr(o));
    }
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(json(&a)["fed"], 20);
    assert_eq!(json(&b), json(&a));
    assert_eq!(json(&c), json(&a));
}
