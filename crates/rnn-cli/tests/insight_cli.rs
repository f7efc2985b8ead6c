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
    // --json: what was written, one object on stdout
    let j = rnn(&[
        "visualize",
        "--model",
        o,
        "--text",
        sample.to_str().unwrap(),
        "-o",
        v,
        "--force",
        "--json",
    ]);
    assert!(j.status.success(), "{}", String::from_utf8_lossy(&j.stderr));
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(json["task"], "lm");
    assert_eq!(json["output"], v);
    assert_eq!(json["bytes"].as_u64(), Some(html.len() as u64));
    assert_eq!(std::fs::read_to_string(&view).unwrap(), html);
    // `-o -` is refused (it wrote a file named `-` before), --force or not
    for force in [false, true] {
        let mut args = vec![
            "visualize",
            "--model",
            o,
            "--text",
            sample.to_str().unwrap(),
            "-o",
            "-",
        ];
        if force {
            args.push("--force");
        }
        assert_bad_input(&rnn(&args), "-: is not a file name");
    }
    assert!(!std::path::Path::new("-").exists());

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

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// Taggers: `rnn train tag --diagnostics` writes one diagnostics.jsonl row
/// per epoch (the LM's keys, both directions of a bidirectional tagger),
/// `rnn diagnose` measures a tagger on a CoNLL file, and `rnn visualize`
/// shows every token with the tag `rnn tag` gives it.
#[test]
fn tagger_diagnostics_diagnose_and_visualize() {
    let dir = tmp("insight-tag");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let (train, dev) = (fixture("tiny.train.conll"), fixture("tiny.dev.conll"));
    let r = rnn(&[
        "train",
        "tag",
        "--train",
        &train,
        "--dev",
        &dev,
        "--out",
        o,
        "--bidirectional",
        "--hidden",
        "8",
        "--emb",
        "8",
        "--epochs",
        "3",
        "--patience",
        "9",
        "--diagnostics",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("diagnostics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3); // one per epoch
    for row in &rows {
        for key in ["step", "steps", "layers", "grad_norms"] {
            assert!(row.get(key).is_some(), "{key}: {row}");
        }
        let dirs: Vec<u64> = row["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["direction"].as_u64().unwrap())
            .collect();
        assert_eq!(dirs, [0, 1]);
        for key in [
            "grad_norm_by_step",
            "from_step",
            "reach",
            "spectral_radius",
            "saturated",
        ] {
            assert!(row["layers"][1].get(key).is_some(), "{key}");
        }
        assert!(row["grad_norms"]["embed.word.weight"].as_f64().unwrap() > 0.0);
    }
    for f in ["gradient-flow.svg", "spectral-radius.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{f}");
    }

    // diagnose on the training file: its 3 sentences (4, 6, 4 tokens), cut to 4
    let r = rnn(&["diagnose", "--model", o, "--data", &train, "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["steps"], 4);
    assert_eq!(v["layers"][0]["from_step"], 3);
    assert_eq!(v["layers"][1]["from_step"], 0);
    let g = v["layers"][1]["grad_norm_by_step"].as_array().unwrap();
    assert!(g[0].as_f64().unwrap() > 0.0); // E_0 is made at t = 0
    let lines =
        String::from_utf8(rnn(&["diagnose", "--model", o, "--data", &train]).stdout).unwrap();
    assert!(
        lines.contains("layer 0 direction 1: |dE_0/ds_t| "),
        "{lines}"
    );
    // a file without tags is one line naming it, exit 2
    assert_bad_input(
        &rnn(&["diagnose", "--model", o, "--data", &fixture("notag.conll")]),
        "notag.conll",
    );

    // the page: every token, with the tag `rnn tag` predicts for it
    let sample = dir.join("sample.txt");
    std::fs::write(&sample, "Apple Park is big\nI like <apple> & pie\n").unwrap();
    let view = dir.join("tags.html");
    let s = sample.to_str().unwrap();
    let r = rnn(&[
        "visualize",
        "--model",
        o,
        "--text",
        s,
        "-o",
        view.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(&view).unwrap();
    assert!(!html.contains("http") && !html.contains("<script src") && !html.contains("<link"));
    let tagged = String::from_utf8(rnn(&["tag", "--model", o, s]).stdout).unwrap();
    let pairs: Vec<(&str, &str)> = tagged
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    assert_eq!(pairs.len(), 9);
    assert_eq!(html.matches("<span id=\"w").count(), 9);
    for (i, (token, tag)) in pairs.iter().enumerate() {
        let token = token
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let span = format!("<span id=\"w{i}\" class=\"");
        let at = html.find(&span).unwrap_or_else(|| panic!("{span}"));
        let rest = &html[at..];
        let end = rest.find("</span> ").unwrap();
        let el = &rest[..end];
        assert!(el.contains(&format!("data-tag=\"{tag}\"")), "{el} vs {tag}");
        assert!(el.contains(&format!(">{token}")), "{el} vs {token}");
        let title = &el[el.find("title=\"").unwrap()..];
        assert!(
            title.contains(&format!("{tag} ")) && title.contains('%'),
            "{el}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
