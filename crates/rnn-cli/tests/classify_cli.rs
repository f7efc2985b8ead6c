//! `rnn train classify`, `rnn classify` and `rnn eval` on a classifier, from
//! outside: a small training run on a JapaneseVowels subset scores well
//! above chance, the two file layouts give the same classes, and bad input
//! is one line with exit code 2.

mod common;
use common::{assert_bad_input, rnn, stderr, tmp};
use rnn::tasks::classify::{Dataset, Fill};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rnn/tests/fixtures/classify")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = rnn(args);
    assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn train_eval_and_classify_a_japanese_vowels_subset() {
    let dir = tmp("classify");
    let (train, test) = (
        fixture("JapaneseVowels_TRAIN_small.ts"),
        fixture("JapaneseVowels_TEST_small.ts"),
    );
    let model = dir.join("model");
    let tiny = [
        "--hidden",
        "16",
        "--epochs",
        "30",
        "--ensemble",
        "2",
        "--seed",
        "3",
    ];
    let mut args = vec![
        "train",
        "classify",
        "--train",
        s(&train),
        "--out",
        s(&model),
    ];
    args.extend(tiny);
    // the result on stdout: each group's estimated accuracy and weight
    let line = ok(&args);
    assert!(
        line.starts_with("estimated accuracy: networks ")
            && line.contains("reservoirs ")
            && line.contains(&format!("model in {}", model.display())),
        "{line}"
    );
    // --json: one object of the same, and what the file holds
    let quick = dir.join("quick");
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "train",
        "classify",
        "--train",
        s(&train),
        "--out",
        s(&quick),
        "--hidden",
        "4",
        "--epochs",
        "2",
        "--ensemble",
        "2",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["members"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["classes"].as_array().map(Vec::len), Some(9), "{v}");
    assert_eq!(v["model"], s(&quick));
    let w: f64 = v["weights"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((w - 1.0).abs() < 1e-9, "weights sum to {w}: {v}");
    let est = v["estimates"]["reservoirs"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&est), "{v}");
    // a second run into the same directory is refused without --force
    assert_bad_input(&rnn(&args), "--force");

    // eval --json: accuracy as a fraction, well above chance (1/9), and the baselines
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--json",
    ]))
    .unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.6 && acc <= 1.0, "accuracy {acc}");
    assert_eq!(v["sequences"], 27);
    assert_eq!(v["networks"], 2);
    assert_eq!(v["classes"].as_array().unwrap().len(), 9);
    assert_eq!(v["confusion"].as_array().unwrap().len(), 9);
    assert!(v["nn_dtw_accuracy"].as_f64().unwrap() > 0.6);
    assert!(v["nn_euclidean_accuracy"].is_null(), "lengths differ");
    assert!(v["macro_f1"].as_f64().unwrap() > 0.0);
    // a test file with a class the model never saw (class 1 renamed 'x'):
    // scored as a class of its own that nothing predicts, so its sequences
    // are errors, said on stderr; not refused
    let text = std::fs::read_to_string(&test).unwrap();
    let open: String = text
        .lines()
        .map(|l| match l.strip_suffix(":1") {
            Some(rest) if !l.starts_with('@') => format!("{rest}:x\n"),
            _ if l.starts_with("@classLabel") => "@classLabel true 1 2 3 4 5 6 7 8 9 x\n".into(),
            _ => format!("{l}\n"),
        })
        .collect();
    let open_file = dir.join("open_TEST.ts");
    std::fs::write(&open_file, open).unwrap();
    let o = rnn(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&open_file),
        "--json",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("class label(s) 'x' are none of the model's classes (1, 2, 3, 4, 5, 6, 7, 8, 9): their 3 sequence(s) are scored as errors"),
        "{}",
        common::stderr(&o)
    );
    let w: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(w["unseen_classes"], serde_json::json!(["x"]));
    assert_eq!(w["confusion"].as_array().unwrap().len(), 10);
    // class 1's right answers are now wrong; nothing else changes
    let ones_right = v["confusion"][0][0].as_u64().unwrap() as f64;
    let want = acc - ones_right / 27.0;
    assert!(
        (w["accuracy"].as_f64().unwrap() - want).abs() < 1e-12,
        "{w}"
    );
    assert_eq!(w["per_class"][9]["support"], 3);
    assert_eq!(w["per_class"][9]["recall"], 0.0);
    assert!(v.get("unseen_classes").is_none(), "left out when none");
    // a small set: the full window
    assert!(v["dtw_band"].is_null());
    assert_eq!(v["dtw_window"], 1.0);
    let table = ok(&["eval", "--model", s(&model), "--data", s(&test)]);
    assert!(table.contains(&format!("accuracy {acc:.4}")), "{table}");
    assert!(table.contains("1-NN DTW"), "{table}");
    assert!(!table.contains("within a band"), "{table}");
    // a band asked for: 10 % of the longest of the sequences (26 frames)
    let banded = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--dtw-window",
        "0.1",
    ]);
    assert!(
        banded.contains("1-NN DTW within a band of 3 frames (11.5 % of the longest sequence"),
        "{banded}"
    );
    assert_bad_input(
        &rnn(&["eval", "--model", s(&model), "--data", s(&test), "--dtw-window", "2"]),
        "rnn eval: --dtw-window \"2\": expected auto, full or a fraction of the longest length in [0, 1]",
    );
    // the forecaster's flags are refused, not ignored
    for (flag, value) in [("--test", "5"), ("--season", "3"), ("--where", "a=1")] {
        assert_bad_input(
            &rnn(&[
                "eval",
                "--model",
                s(&model),
                "--data",
                s(&test),
                flag,
                value,
            ]),
            &format!("rnn eval: {flag} is for forecasting models, not classify models"),
        );
    }

    // classify: one label per series, the right one as often as eval says
    let labels = ok(&["classify", "--model", s(&model), s(&test)]);
    let labels: Vec<&str> = labels.lines().collect();
    let data = Dataset::read(&test, Fill::Linear, None).unwrap();
    let truth: Vec<&str> = data
        .sequences
        .iter()
        .map(|q| q.label.as_deref().unwrap())
        .collect();
    let right = labels.iter().zip(&truth).filter(|(a, b)| a == b).count();
    assert_eq!(labels.len(), 27);
    assert!((right as f64 / 27.0 - acc).abs() < 1e-9);

    // the same series as an unlabelled long CSV get the same classes; --json
    // carries each series' id and probabilities
    let mut text = String::from("series_id,step");
    (1..=12).for_each(|k| text += &format!(",c{k}"));
    text += "\n";
    for (i, q) in data.sequences.iter().enumerate().rev() {
        for (t, frame) in q.values.chunks(12).enumerate() {
            let vals: Vec<String> = frame.iter().map(|v| v.to_string()).collect();
            text += &format!("utt{},{t},{}\n", i + 1, vals.join(","));
        }
    }
    let csv = dir.join("test.csv");
    std::fs::write(&csv, text).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["classify", "--model", s(&model), s(&csv), "--json"])).unwrap();
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 27);
    // series come in the order of their first row: reversed here
    for (p, want) in preds.iter().zip(labels.iter().rev()) {
        assert_eq!(p["label"].as_str().unwrap(), *want);
        assert_eq!(p["predicted"], p["label"]);
        let sum: f64 = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
    assert_eq!(preds[0]["id"], "utt27");
    // steps with a gap: the same classes (the frames in the same order), and a warning
    let gapped: String = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(|l| {
            // utt5's steps from 3 on move up by 100
            let f: Vec<&str> = l.splitn(3, ',').collect();
            match f[..] {
                ["utt5", t, rest] if t.parse::<usize>().unwrap() >= 3 => {
                    format!("utt5,{},{rest}\n", t.parse::<usize>().unwrap() + 100)
                }
                _ => format!("{l}\n"),
            }
        })
        .collect();
    std::fs::write(&csv, gapped).unwrap();
    let out = rnn(&["classify", "--model", s(&model), s(&csv), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["predictions"], v["predictions"]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: ")
            && err.contains("series utt5: step 103 (line")
            && err.contains("gaps or not"),
        "{err}"
    );

    // values missing from the file classified: filled as in training, and said
    let text = std::fs::read_to_string(&test).unwrap();
    let at = text.find("@data").unwrap() + "@data\n".len();
    let first_value = at + text[at..].find([',', ':']).unwrap();
    let holed = dir.join("holed.ts");
    std::fs::write(&holed, format!("{}?{}", &text[..at], &text[first_value..])).unwrap();
    let out = rnn(&["classify", "--model", s(&model), s(&holed)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "note: {}: filled 1 missing value (linear, as the model was trained)",
            holed.display()
        )),
        "{}",
        stderr(&out)
    );

    // --dev: validation on another file
    let with_dev = dir.join("with-dev");
    let mut args = vec![
        "train",
        "classify",
        "--train",
        s(&train),
        "--dev",
        s(&test),
        "--out",
        s(&with_dev),
    ];
    args.extend(["--hidden", "8", "--epochs", "2"]);
    ok(&args);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_and_flags_are_one_line_and_exit_2() {
    let dir = tmp("classify-bad");
    let bad = dir.join("bad.ts");
    std::fs::write(&bad, "@dimensions 2\n@data\n1,2:3,4:a\n1,2:3:b\n").unwrap();
    let out = dir.join("m");
    assert_bad_input(
        &rnn(&["train", "classify", "--train", s(&bad), "--out", s(&out)]),
        "bad.ts:4: dimension 2 has 1 value but dimension 1 has 2",
    );
    let good = fixture("JapaneseVowels_TRAIN_small.ts");
    // the good file trained with one bad flag
    let train_with = |flag: &str, value: &str| {
        rnn(&[
            "train",
            "classify",
            "--train",
            s(&good),
            "--out",
            s(&out),
            flag,
            value,
        ])
    };
    assert_bad_input(
        &train_with("--pool", "median"),
        "--pool median: expected last, mean or max",
    );
    assert_bad_input(&train_with("--dropout", "1.5"), "--dropout 1.5");
    // a step wider than the longest sequence (26 frames): an error, not an
    // allocation of 12e12 inputs per step
    for stride in ["27", "1000000000000"] {
        assert_bad_input(
            &train_with("--stride", stride),
            &format!("--stride {stride}: expected at most 26, the frames of the longest training sequence"),
        );
    }
    // a model directory that holds no classifier
    assert_bad_input(
        &rnn(&["classify", "--model", s(&dir), s(&good)]),
        "model.safetensors",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_training_that_diverges_at_once_says_nothing_was_written_and_leaves_no_directory() {
    let dir = tmp("classify-diverge");
    let train = dir.join("t.ts");
    let mut text = String::from("@problemName t\n@classLabel true a b\n@data\n");
    for i in 0..8 {
        let label = if i % 2 == 0 { "a" } else { "b" };
        text += &format!("{i},1,{},3,2:{label}\n", i % 3);
    }
    std::fs::write(&train, text).unwrap();
    let out = dir.join("run");
    let o = rnn(&[
        "train",
        "classify",
        "--train",
        s(&train),
        "--out",
        s(&out),
        "--lr",
        "1e38",
        "--epochs",
        "2",
        "--ensemble",
        "1",
        "--reservoir",
        "off",
        "--threads",
        "1",
    ]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.trim_end()
            .lines()
            .last()
            .unwrap()
            .ends_with("before this run had written a model (try a lower --lr)"),
        "{err}"
    );
    assert!(!out.exists(), "an empty run directory was left");
    std::fs::remove_dir_all(&dir).unwrap();
}
