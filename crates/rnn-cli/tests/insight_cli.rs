//! Gradient flow from the command line: `rnn train lm --diagnostics` writes
//! diagnostics.jsonl (one row per evaluation) and its two pictures, `rnn
//! diagnose` measures a trained model on a text, as lines or one JSON object,
//! and `rnn visualize` writes the hidden units over a text as one HTML page.

mod common;
use common::{assert_bad_input, rnn, tmp};

fn text() -> String {
    "the cat sat on the mat. the dog said \"no\" to the cat.\n".repeat(120)
}

#[test]
fn train_with_diagnostics_then_diagnose() {
    let dir = tmp("insight");
    let data = dir.join("text.txt");
    std::fs::write(&data, text()).unwrap();
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let args = [
        "train",
        "lm",
        "--data",
        d,
        "--out",
        o,
        "--hidden",
        "16",
        "--seq-len",
        "16",
        "--batch",
        "4",
        "--steps",
        "30",
        "--eval-every",
        "10",
        "--diagnostics",
        "--quiet",
        "--threads",
        "1",
    ];
    let r = rnn(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("diagnostics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // evaluations at steps 10, 20, 30
    let steps: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![10, 20, 30]);
    for f in ["gradient-flow.svg", "spectral-radius.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{f}");
    }

    let r = rnn(&["diagnose", "--model", o, "--data", d, "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["steps"], 100);
    let layer = &v["layers"][0];
    let g = layer["grad_norm_by_step"].as_array().unwrap();
    assert_eq!(g.len(), 100);
    // the last step's error is largest where it is made, at t = T
    let at = |i: usize| g[i].as_f64().unwrap();
    assert!(at(99) > 0.0 && at(99) >= at(0));
    let radius = layer["spectral_radius"].as_f64().unwrap();
    assert!(radius.is_finite() && radius >= 0.0);
    assert!(v["grad_norms"]["rnn.weight_hh_l0"].as_f64().unwrap() > 0.0);
    let lines = rnn(&["diagnose", "--model", o, "--data", d]);
    let s = String::from_utf8_lossy(&lines.stdout);
    assert!(
        s.contains("layer 0 direction 0:") && s.contains("spectral radius"),
        "{s}"
    );

    // the hidden units over the text, one self-contained page
    let sample = dir.join("sample.txt");
    std::fs::write(&sample, "the \"cat\" sat.\nthe dog").unwrap();
    let view = dir.join("view.html");
    let v = view.to_str().unwrap();
    let r = rnn(&[
        "visualize",
        "--model",
        o,
        "--text",
        sample.to_str().unwrap(),
        "-o",
        v,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(&view).unwrap();
    assert_eq!(html.matches("<span id=\"c").count(), 22); // one per character
    assert!(!html.contains("http") && !html.contains("<script src") && !html.contains("<link"));
    assert!(html.contains("inside quotes: <a") && html.contains("title=\"next: "));
    let again = rnn(&[
        "visualize",
        "--model",
        o,
        "--text",
        sample.to_str().unwrap(),
        "-o",
        v,
    ]);
    assert_bad_input(&again, "already exists");

    // bad input: one line, exit 2
    let missing = dir.join("missing.txt");
    assert_bad_input(
        &rnn(&[
            "diagnose",
            "--model",
            o,
            "--data",
            missing.to_str().unwrap(),
        ]),
        "missing.txt",
    );
    std::fs::write(dir.join("other.txt"), "xyz\u{e9}").unwrap();
    let other = dir.join("other.txt");
    assert_bad_input(
        &rnn(&["diagnose", "--model", o, "--data", other.to_str().unwrap()]),
        "other.txt",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
