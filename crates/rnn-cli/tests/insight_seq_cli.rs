//! Gradient flow of many-to-one models from the command line: `rnn train
//! forecast --diagnostics` and `rnn train classify --diagnostics` write one
//! diagnostics.jsonl row per epoch (every layer and direction, finite
//! values) and the two pictures (one gradient-flow panel per layer and
//! direction), without changing what training computes; `rnn diagnose`
//! measures forecaster and classifier directories.

mod common;
use common::{assert_bad_input, rnn, tmp};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn ok(args: &[&str]) -> String {
    let o = rnn(args);
    assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `metrics.jsonl` without the wall-clock field.
fn metrics(dir: &Path) -> Vec<Value> {
    let mut r = rows(&dir.join("metrics.jsonl"));
    for row in &mut r {
        row.as_object_mut().unwrap().remove("elapsed_s");
    }
    r
}

/// Checks one flow (a diagnostics row or `rnn diagnose --json`): `(layer,
/// direction)` entries as `want`, `steps` norms each, every value finite,
/// the forward direction from `T - 1`, the backward one from 0.
fn check_flow(v: &Value, want: &[(u64, u64)], steps: u64) {
    assert_eq!(v["steps"], steps, "{v}");
    let layers = v["layers"].as_array().unwrap();
    let at: Vec<(u64, u64)> = layers
        .iter()
        .map(|l| {
            (
                l["layer"].as_u64().unwrap(),
                l["direction"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(at, want);
    for l in layers {
        let g = l["grad_norm_by_step"].as_array().unwrap();
        assert_eq!(g.len() as u64, steps);
        assert!(g.iter().all(|x| x.as_f64().unwrap().is_finite()));
        assert!(g.iter().any(|x| x.as_f64().unwrap() > 0.0), "{l}");
        let from = if l["direction"] == 1 { 0 } else { steps - 1 };
        assert_eq!(l["from_step"], from);
        assert!(l.get("reach").is_some());
        for key in ["spectral_radius", "saturated"] {
            let x = l[key].as_f64().unwrap();
            assert!(x.is_finite() && x >= 0.0, "{key} {x}");
        }
    }
    let norms = v["grad_norms"].as_object().unwrap();
    assert!(norms.contains_key("head.weight") && norms.contains_key("rnn.weight_hh_l0"));
    assert!(norms.values().all(|x| x.as_f64().unwrap().is_finite()));
}

/// gradient-flow.svg: one panel per layer and direction, titled with it.
fn check_pictures(dir: &Path, want: &[(u64, u64)]) {
    let svg = std::fs::read_to_string(dir.join("gradient-flow.svg")).unwrap();
    assert_eq!(
        svg.matches(": error carried back from t = ").count(),
        want.len()
    );
    for (k, d) in want {
        let title = format!("\nlayer {k} direction {d}: error carried back from t = ");
        assert_eq!(svg.matches(&title).count(), 1, "{title}");
    }
    let radius = std::fs::read_to_string(dir.join("spectral-radius.svg")).unwrap();
    assert!(radius.contains("polyline"));
}

#[test]
fn forecaster_diagnostics_and_diagnose() {
    let dir = tmp("insight-forecast");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/timeseries/sunspots.csv");
    let d = data.to_str().unwrap();
    let (plain, diag) = (dir.join("plain"), dir.join("diag"));
    let run = |out: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "train",
            "forecast",
            "--data",
            d,
            "--target",
            "SUNACTIVITY",
            "--window",
            "10",
            "--transform",
            "none",
            "--diff",
            "0",
            "--test",
            "62",
            "--hidden",
            "6",
            "--layers",
            "2",
            "--ensemble",
            "2",
            "--epochs",
            "2",
            "--out",
        ];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        ok(&args)
    };
    // the same scores printed (the result line ends in the directory and the time)
    let scores = |out: String| out.split("; model in").next().unwrap().to_string();
    let printed = scores(run(&plain, &[]));
    assert!(printed.starts_with("validation RMSE "), "{printed}");
    assert_eq!(scores(run(&diag, &["--diagnostics"])), printed);
    assert!(!plain.join("diagnostics.jsonl").exists());
    let want = [(0, 0), (1, 0)];
    // each network in its own directory, beside its metrics.jsonl
    for sub in ["", "member-1"] {
        assert_eq!(metrics(&diag.join(sub)), metrics(&plain.join(sub)), "{sub}");
        let r = rows(&diag.join(sub).join("diagnostics.jsonl"));
        assert_eq!(r.len(), 2, "{sub}: one row per epoch");
        for (row, m) in r.iter().zip(metrics(&diag.join(sub))) {
            assert_eq!(row["step"], m["step"]);
            assert!(row.get("member").is_none());
            check_flow(row, &want, 10);
        }
        check_pictures(&diag.join(sub), &want);
    }

    let o = diag.to_str().unwrap();
    let v: Value =
        serde_json::from_str(&ok(&["diagnose", "--model", o, "--data", d, "--json"])).unwrap();
    check_flow(&v, &want, 10);
    let lines = ok(&["diagnose", "--model", o, "--data", d]);
    assert!(lines.starts_with("T = 10 steps;"), "{lines}");
    assert!(
        lines.contains("\nlayer 1 direction 0: |dE_T/ds_t| "),
        "{lines}"
    );
    assert!(v.get("warnings").is_none(), "{v}");
    // the same values a month apart, where the training file's were a year
    // apart: measured all the same, and warned of on stderr and in --json
    let text = std::fs::read_to_string(&data).unwrap();
    let monthly: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.split_once(',')) {
            (0, _) | (_, None) => format!("{l}\n"),
            (i, Some((_, v))) => format!("{}-{:02},{v}\n", 1700 + (i - 1) / 12, (i - 1) % 12 + 1),
        })
        .collect();
    let m = dir.join("monthly.csv");
    std::fs::write(&m, monthly).unwrap();
    let r = rnn(&[
        "diagnose",
        "--model",
        o,
        "--data",
        m.to_str().unwrap(),
        "--json",
    ]);
    assert!(r.status.success(), "{}", common::stderr(&r));
    let w = "monthly.csv: its rows step by 1 month (time labels \"1700-01\", \"1700-02\"), the training file's by 1 (integer labels): the model reads each row as one step of the training file's";
    let e = common::stderr(&r);
    assert!(e.starts_with("warning: ") && e.contains(w), "{e}");
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains(w), "{v}");
    // a series too short for one window: one line naming the file, exit 2
    let short = dir.join("short.csv");
    std::fs::write(&short, "YEAR,SUNACTIVITY\n1700,5\n1701,11\n1702,16\n").unwrap();
    assert_bad_input(
        &rnn(&["diagnose", "--model", o, "--data", short.to_str().unwrap()]),
        "short.csv",
    );
}

#[test]
fn classifier_diagnostics_and_diagnose() {
    let dir = tmp("insight-classify");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rnn/tests/fixtures/classify");
    let train = fixtures.join("JapaneseVowels_TRAIN_small.ts");
    let dev = fixtures.join("JapaneseVowels_TEST_small.ts");
    let (t, v) = (train.to_str().unwrap(), dev.to_str().unwrap());
    let (plain, diag) = (dir.join("plain"), dir.join("diag"));
    let run = |out: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "train",
            "classify",
            "--train",
            t,
            "--dev",
            v,
            "--hidden",
            "6",
            "--epochs",
            "1",
            "--ensemble",
            "2",
            "--pool",
            "last",
            "--stride",
            "1",
            "--out",
        ];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        ok(&args)
    };
    run(&plain, &[]);
    run(&diag, &["--diagnostics"]);
    assert_eq!(metrics(&diag), metrics(&plain));
    let want = [(0, 0), (0, 1)]; // bidirectional by default
    let r = rows(&diag.join("diagnostics.jsonl"));
    // one row per epoch of each network, tagged with it as in metrics.jsonl
    let members: Vec<u64> = r
        .iter()
        .map(|row| row["member"].as_u64().unwrap())
        .collect();
    assert_eq!(members, [1, 2]);
    let steps = r[0]["steps"].as_u64().unwrap();
    assert!(steps >= 2);
    for (row, m) in r.iter().zip(metrics(&diag)) {
        assert_eq!((&row["step"], &row["member"]), (&m["step"], &m["member"]));
        check_flow(row, &want, steps);
    }
    check_pictures(&diag, &want);

    // the first network after its only epoch is the one saved: diagnose on
    // the dev file measures what training recorded for it
    let o = diag.to_str().unwrap();
    let mut flow: Value =
        serde_json::from_str(&ok(&["diagnose", "--model", o, "--data", v, "--json"])).unwrap();
    check_flow(&flow, &want, steps);
    let mut first = r[0].clone();
    for key in ["step", "member"] {
        first.as_object_mut().unwrap().remove(key);
    }
    flow.as_object_mut().unwrap().remove("step");
    assert_eq!(flow, first);
    // a file without labels (12 dimensions of 2 frames): one line naming it, exit 2
    let unlabelled = dir.join("nolabel.ts");
    let frames = ["1,2"; 12].join(":");
    std::fs::write(&unlabelled, format!("@classLabel false\n@data\n{frames}\n")).unwrap();
    let out = rnn(&[
        "diagnose",
        "--model",
        o,
        "--data",
        unlabelled.to_str().unwrap(),
    ]);
    assert_bad_input(&out, "nolabel.ts:3: no class label");

    // frames per step chosen (no --stride): each candidate's networks write
    // their rows, tagged with the candidate as in metrics.jsonl
    let mut args = vec![
        "train", "classify", "--train", t, "--dev", v, "--hidden", "6",
    ];
    let chosen = dir.join("chosen");
    args.extend([
        "--epochs",
        "1",
        "--ensemble",
        "2",
        "--pool",
        "last",
        "--diagnostics",
    ]);
    args.extend(["--out", chosen.to_str().unwrap()]);
    ok(&args);
    let (r, m) = (rows(&chosen.join("diagnostics.jsonl")), metrics(&chosen));
    let tags = |rows: &[Value]| -> Vec<(Value, Value)> {
        rows.iter()
            .map(|x| (x["candidate"].clone(), x["member"].clone()))
            .collect()
    };
    assert!(
        r.len() >= 4,
        "{} rows: two candidates of two networks",
        r.len()
    );
    assert_eq!(tags(&r), tags(&m));
}
