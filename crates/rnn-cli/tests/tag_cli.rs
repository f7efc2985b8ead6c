//! End-to-end checks of `rnn train tag`, `rnn tag` and `rnn eval` on tiny
//! hand-made files, including bad input: one clear line, non-zero exit, no panic.

use std::path::Path;

mod common;
use common::{assert_bad_input, fresh as tmp, rnn_with as rnn, stderr};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// `rnn train tag --train TRAIN --dev tiny.dev.conll --out OUT EXTRA...`
fn train_tag(train: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let (dev, out) = (data("tiny.dev.conll"), out.display().to_string());
    let mut args = vec![
        "train", "tag", "--train", train, "--dev", &dev, "--out", &out,
    ];
    args.extend_from_slice(extra);
    rnn(&args, None)
}

#[test]
fn train_tag_eval_roundtrip_and_bad_input() {
    let out = tmp("model");
    let tiny = data("tiny.train.conll");
    let o = train_tag(
        &tiny,
        &out,
        &[
            "--bidirectional",
            "--hidden",
            "8",
            "--emb",
            "8",
            "--epochs",
            "3",
            "--seed",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // a tag seen only in dev is reported, not fatal
    assert!(stderr(&o).contains("B-place"), "{}", stderr(&o));
    for f in ["model.safetensors", "metrics.jsonl", "loss.svg"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // the result is on stdout (the log on stderr)
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(
        line.starts_with("best dev f1 ") && line.contains("model in"),
        "{line}"
    );
    let m = out.to_str().unwrap();
    // --json: one object of the same figures
    let again = tmp("model-json");
    let o = train_tag(
        &tiny,
        &again,
        &["--hidden", "8", "--emb", "8", "--epochs", "2", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["score_name"], "f1");
    assert_eq!(v["epochs"], 2);
    assert!(
        (0.0..=1.0).contains(&v["best_score"].as_f64().unwrap()),
        "{v}"
    );

    // plain text on stdin: token<TAB>tag, blank line between sentences
    let o = rnn(&["tag", "--model", m], Some("I like apple\nThe Apple is\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let blocks: Vec<&str> = text.trim_end().split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{text}");
    assert!(blocks[0].starts_with("I\t"), "{text}");
    assert_eq!(blocks[1].lines().count(), 3);

    // CoNLL input: the first column is used
    let o = rnn(&["tag", "--model", m, &data("tiny.dev.conll")], None);
    assert!(o.status.success());
    assert!(String::from_utf8(o.stdout).unwrap().contains("York\t"));

    // eval --json: fractions, per type; the unknown dev tag counts as an error
    let o = rnn(
        &[
            "eval",
            "--model",
            m,
            "--data",
            &data("tiny.dev.conll"),
            "--json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["accuracy", "precision", "recall", "f1"] {
        let v = j[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{k} {v}");
    }
    assert!(j["per_type"].get("place").is_some(), "{j}");
    assert_eq!(j["chunked"], true);
    assert!(
        j["accuracy"].as_f64().unwrap() < 1.0,
        "B-place/I-place can never be right"
    );
    assert!(stderr(&o).contains("B-place"));
    let o = rnn(
        &["eval", "--model", m, "--data", &data("tiny.dev.conll")],
        None,
    );
    assert!(String::from_utf8(o.stdout).unwrap().contains("FB1"));

    // an ensemble of one model twice scores exactly like the model alone
    let dev = data("tiny.dev.conll");
    let eval_json = |models: &[&str]| {
        let mut args = vec!["eval"];
        for m in models {
            args.extend(["--model", m]);
        }
        args.extend(["--data", &dev, "--json"]);
        let o = rnn(&args, None);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(eval_json(&[m]), eval_json(&[m, m]));
    // several entity biases: one JSON line each, in order
    let o = rnn(
        &[
            "eval",
            "--model",
            m,
            "--data",
            &dev,
            "--json",
            "--entity-bias=-50,0,50",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["f1"], eval_json(&[m])["f1"]);
    // -50: nothing predicted; +50: every token is an entity
    assert_eq!(lines[0]["precision"].as_f64(), Some(0.0), "{}", lines[0]);
    let predicted = |j: &serde_json::Value| -> u64 {
        j["per_type"]
            .as_object()
            .unwrap()
            .values()
            .map(|t| t["predicted"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(predicted(&lines[0]), 0, "{}", lines[0]);
    assert!(predicted(&lines[2]) >= predicted(&lines[1]), "{}", lines[2]);
    // the dev data has O tokens, and at +50 no token is O
    assert_eq!(lines[2]["accuracy"].as_f64(), Some(0.0), "{}", lines[2]);
    let o = rnn(&["tag", "--model", m, "--model", m], Some("I like apple\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 3);

    // an entity bias past f64's range is named as typed, not as `inf`
    let o = rnn(
        &["tag", "--model", m, "--entity-bias", "1e309"],
        Some("apple\n"),
    );
    assert_bad_input(&o, "'1e309'");
    assert_bad_input(&o, "expected a finite number");
    let o = rnn(
        &[
            "eval",
            "--model",
            m,
            "--data",
            &dev,
            "--entity-bias=0,-1e309",
        ],
        None,
    );
    assert_bad_input(&o, "'-1e309'");

    // bad input
    let train = |f: &str| train_tag(f, &tmp("bad"), &["--epochs", "1"]);
    assert_bad_input(&train(&data("empty.conll")), "no sentences");
    assert_bad_input(
        &train(&data("notag.conll")),
        "notag.conll:2: token \"notag\" has no tag column",
    );
    let long = tmp("long.conll");
    std::fs::write(
        &long,
        (0..1001).map(|i| format!("w{i}\tO\n")).collect::<String>(),
    )
    .unwrap();
    assert_bad_input(
        &train(long.to_str().unwrap()),
        "longer than the limit of 1000 tokens",
    );
    assert_bad_input(&rnn(&["tag", "--model", m], Some("")), "no sentences");
    assert_bad_input(
        &rnn(&["tag", "--model", "/nonexistent/model"], Some("a\n")),
        "not a model directory",
    );

    // a model directory of another task
    let other = tmp("lm");
    let mf = rnn::io::model_file::ModelFile {
        task: rnn::Task::Lm,
        model: rnn::Model::<f32>::new(rnn::ModelConfig::elman(3, 4, 3), 0).unwrap(),
        extra: Default::default(),
        meta: Default::default(),
    };
    mf.save(&other).unwrap();
    assert_bad_input(
        &rnn(&["tag", "--model", other.to_str().unwrap()], Some("a b\n")),
        "holds a 'lm' model",
    );
    assert_bad_input(
        &rnn(
            &[
                "eval",
                "--model",
                other.to_str().unwrap(),
                "--data",
                &data("tiny.dev.conll"),
            ],
            None,
        ),
        // eval dispatches to the language model, which finds no vocabulary
        "metadata 'vocab'",
    );
    assert_bad_input(
        &rnn(
            &[
                "eval",
                "--model",
                other.to_str().unwrap(),
                "--model",
                other.to_str().unwrap(),
                "--data",
                &data("tiny.dev.conll"),
            ],
            None,
        ),
        "only supported for taggers",
    );

    // transfer: start from the trained tagger; its network wins over the flags;
    // with a CRF output layer
    let tr = tmp("transfer");
    let transfer = |from: &str, out: &Path| {
        let flags = [
            "--init-from",
            from,
            "--hidden",
            "16",
            "--epochs",
            "2",
            "--crf",
        ];
        train_tag(&tiny, out, &flags)
    };
    let o = transfer(m, &tr);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("starting from"), "{}", stderr(&o));
    // the flag left unused is said to be, once (--crf and --epochs are used)
    let warned: Vec<&str> = std::str::from_utf8(&o.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("warning: --"))
        .collect();
    assert_eq!(
        warned,
        [format!("warning: --hidden is not used: with --init-from {m} the features and the network come from the base tagger")],
    );
    let t = rnn::tasks::tag::tagger::Tagger::load(&tr).unwrap();
    assert_eq!(
        t.model.config.hidden_size, 8,
        "hidden size of the base model"
    );
    assert!(t.model.config.bidirectional);
    let o = t.spec.tags.len();
    assert_eq!(t.crf.len(), o + o * o + o, "start, transitions, end");
    assert!(t.crf.iter().any(|&v| v != 0.0), "the CRF was trained");
    // one CRF model (Viterbi) and two (mean marginals) both score
    let crf_dir = tr.to_str().unwrap();
    for j in [eval_json(&[crf_dir]), eval_json(&[crf_dir, crf_dir])] {
        assert!((0.0..=1.0).contains(&j["f1"].as_f64().unwrap()), "{j}");
    }
    assert_bad_input(
        &transfer(other.to_str().unwrap(), &tmp("t2")),
        "holds a 'lm' model",
    );
    assert_bad_input(
        &transfer("/nonexistent/model", &tmp("t3")),
        "not a model directory",
    );
    assert_bad_input(
        &train_tag(&tiny, &tmp("t4"), &["--init-from", m, "--char-dim", "8"]),
        "--char-dim 8 with --init-from",
    );

    // a lexicon: added to the transferred tagger and saved in the model; bad files named
    let lex_dir = tmp("lexicon");
    std::fs::create_dir_all(&lex_dir).unwrap();
    let (lex, bad_lex) = (lex_dir.join("lex.tsv"), lex_dir.join("bad.tsv"));
    std::fs::write(&lex, "city\tparis\ncity\tnew york\nfirst-name\tann\n").unwrap();
    std::fs::write(&bad_lex, "city\tparis\ncity paris\n").unwrap();
    let (lex, bad_lex) = (lex.to_str().unwrap(), bad_lex.to_str().unwrap());
    let lx = tmp("lex-model");
    let o = train_tag(
        &tiny,
        &lx,
        &["--init-from", m, "--epochs", "1", "--lexicon", lex],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = rnn::tasks::tag::tagger::Tagger::load(&lx).unwrap();
    let cats: Vec<_> = t.spec.lexicon.as_ref().unwrap().entries.keys().collect();
    assert_eq!(cats, ["city", "first-name"]);
    assert_eq!(t.spec.lexicon_width(), 4);
    assert_bad_input(
        &train_tag(&tiny, &tmp("t5"), &["--epochs", "1", "--lexicon", bad_lex]),
        &format!("{bad_lex}:2: expected `category<TAB>phrase`"),
    );
    assert_bad_input(
        &train_tag(&tiny, &tmp("t6"), &["--lexicon", "/nonexistent/lex.tsv"]),
        "/nonexistent/lex.tsv",
    );
    assert_bad_input(
        &train_tag(
            &tiny,
            &tmp("t7"),
            &["--init-from", lx.to_str().unwrap(), "--lexicon", lex],
        ),
        "already has a lexicon",
    );

    // character n-grams, a character BiLSTM and per-epoch snapshots, voting as an ensemble
    let ng = tmp("ngram");
    let o = train_tag(
        &tiny,
        &ng,
        &[
            "--hidden",
            "8",
            "--emb",
            "8",
            "--ngram-dim",
            "4",
            "--ngram-buckets",
            "100",
            "--epochs",
            "3",
            "--keep",
            "last",
            "--snapshots-from",
            "2",
            "--char-dim",
            "3",
            "--char-hidden",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = rnn::tasks::tag::tagger::Tagger::load(&ng).unwrap();
    assert_eq!(
        t.chars.as_ref().map(|c| c.out_size()),
        Some(4),
        "character BiLSTM"
    );
    assert!(!ng.join("epoch-1").exists());
    let (e2, e3) = (ng.join("epoch-2"), ng.join("epoch-3"));
    let j = eval_json(&[e2.to_str().unwrap(), e3.to_str().unwrap()]);
    assert!(j["f1"].as_f64().is_some(), "{j}");
    // the last snapshot is the kept model
    assert_eq!(
        eval_json(&[e3.to_str().unwrap()]),
        eval_json(&[ng.to_str().unwrap()])
    );

    for d in [out, other, long, ng] {
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_file(&d);
    }
}

#[test]
fn a_part_of_speech_tagger_has_accuracy_and_no_entity_scores() {
    // tags without B-/I- chunks: entity precision, recall and F1 are
    // undefined (null), not 0
    let dir = tmp("pos");
    std::fs::create_dir_all(&dir).unwrap();
    let pos = dir.join("pos.conll");
    let sents = [
        "the DT\ncat NN\nsat VB\n",
        "a DT\ndog NN\nran VB\n",
        "the DT\ndog NN\nsat VB\n",
    ];
    std::fs::write(&pos, sents.join("\n").replace(' ', "\t")).unwrap();
    let (p, out) = (pos.to_str().unwrap(), dir.join("m"));
    let o = train_tiny(p, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = out.to_str().unwrap();
    let o = rnn(&["eval", "--model", m, "--data", p, "--json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["chunked"], false, "{j}");
    assert_eq!(j["tokens"], 9);
    assert!(
        (0.0..=1.0).contains(&j["accuracy"].as_f64().unwrap()),
        "{j}"
    );
    for k in ["precision", "recall", "f1"] {
        assert!(j[k].is_null(), "{k}: {j}");
    }
    let o = rnn(&["eval", "--model", m, "--data", p], None);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("processed 9 tokens in 3 sentences; accuracy: "),
        "{text}"
    );
    // rnn tag --json: parts of speech have no entities (null, not [])
    let o = rnn(&["tag", "--model", m, "--json"], Some("the cat sat\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["tags"], serde_json::json!(["DT", "NN", "VB"]), "{j}");
    assert_eq!(
        j["sentences"][0]["tokens"],
        serde_json::json!(["the", "cat", "sat"])
    );
    assert_eq!(j["sentences"][0]["tags"].as_array().map(Vec::len), Some(3));
    assert!(j["sentences"][0]["entities"].is_null(), "{j}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_paragraph_per_line_is_tagged_whole() {
    // text to tag has no sentence limit (tagged training data keeps 1,000)
    let dir = tmp("long-line");
    std::fs::create_dir_all(&dir).unwrap();
    let (train, out) = (dir.join("t.conll"), dir.join("m"));
    std::fs::write(&train, "the\tDT\ncat\tNN\n\na\tDT\ndog\tNN\n").unwrap();
    let t = train.to_str().unwrap();
    let o = train_tiny(t, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let line: String = (0..1500)
        .map(|i| if i % 2 == 0 { "the " } else { "cat " })
        .collect();
    let o = rnn(
        &["tag", "--model", out.to_str().unwrap()],
        Some(&format!("{line}\n")),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tagged = String::from_utf8(o.stdout).unwrap();
    assert_eq!(tagged.lines().filter(|l| !l.is_empty()).count(), 1500);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Raw text is split as the training data were tokenised: punctuation and
/// clitics that the model knows as words of their own come off the words
/// they are written against (`Paris.` -> `Paris .`), and a model that never
/// saw them apart keeps them on (`--tokenize whitespace` always does).
#[test]
fn raw_text_is_split_as_the_training_data_were() {
    let dir = tmp("tokenize");
    std::fs::create_dir_all(&dir).unwrap();
    let (apart, joined) = (dir.join("apart.conll"), dir.join("joined.conll"));
    std::fs::write(&apart, "Anna\tB-per\nlives\tO\nin\tO\nParis\tB-loc\n.\tO\n\nAnna\tB-per\n's\tO\ncat\tO\n,\tO\nhi\tO\n").unwrap();
    std::fs::write(&joined, "Anna\tB-per\nlives\tO\nin\tO\nParis.\tB-loc\n").unwrap();
    let tokens = |model: &Path, extra: &[&str], text: &str| {
        let mut args = vec!["tag", "--model", model.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = rnn(&args, Some(text));
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        out.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (m_apart, m_joined) = (dir.join("m-apart"), dir.join("m-joined"));
    for (t, m) in [(&apart, &m_apart), (&joined, &m_joined)] {
        let o = train_tiny(t.to_str().unwrap(), m);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let text = "Anna's cat lives in (Paris), U.S.\n";
    assert_eq!(
        tokens(&m_apart, &[], text),
        ["Anna", "'s", "cat", "lives", "in", "(Paris)", ",", "U.S."],
        "( and ) are not in this vocabulary: they stay"
    );
    assert_eq!(
        tokens(&m_apart, &["--tokenize", "whitespace"], text),
        ["Anna's", "cat", "lives", "in", "(Paris),", "U.S."]
    );
    assert_eq!(
        tokens(&m_joined, &[], "in Paris. Paris, x.\n"),
        ["in", "Paris.", "Paris,", "x."]
    );
    // CoNLL input is never split
    assert_eq!(tokens(&m_apart, &[], "Paris.\tO\nx\tO\n"), ["Paris.", "x"]);
    // --json: the same tokens, their tags, and the entities the tags make
    let o = rnn(
        &["tag", "--model", m_apart.to_str().unwrap(), "--json"],
        Some("hi\nAnna lives in Paris.\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &j["sentences"][1];
    assert_eq!(
        (&s["line"], &s["tokens"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(["Anna", "lives", "in", "Paris", "."])
        )
    );
    let tags: Vec<&str> = s["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut want = Vec::new(); // the entities by hand: B-X starts one, I-X continues it
    for (i, t) in tags.iter().enumerate() {
        match t.split_once('-') {
            Some(("B", ty)) => want.push((ty.to_string(), i, i + 1)),
            Some(("I", ty)) if want.last().is_some_and(|w| w.0 == ty && w.2 == i) => {
                want.last_mut().unwrap().2 = i + 1
            }
            Some((_, ty)) => want.push((ty.to_string(), i, i + 1)),
            None => {}
        }
    }
    let toks = ["Anna", "lives", "in", "Paris", "."];
    let got: Vec<(String, usize, usize)> = s["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (a, b) = (
                e["start"].as_u64().unwrap() as usize,
                e["end"].as_u64().unwrap() as usize,
            );
            assert_eq!(e["text"], toks[a..b].join(" "), "{e}");
            (e["type"].as_str().unwrap().to_string(), a, b)
        })
        .collect();
    assert_eq!(got, want, "{tags:?}");
    assert_bad_input(
        &rnn(
            &[
                "tag",
                "--model",
                m_apart.to_str().unwrap(),
                "--tokenize",
                "spaces",
            ],
            Some("a\n"),
        ),
        "--tokenize",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rnn train tag` of a tagger of 4 units on file `t`, also its dev file, for one epoch, into `out`.
fn train_tiny(t: &str, out: &Path) -> std::process::Output {
    let o = out.to_str().unwrap();
    #[rustfmt::skip]
    let args = ["train", "tag", "--train", t, "--dev", t, "--out", o, "--hidden", "4", "--emb", "4", "--epochs", "1"];
    rnn(&args, None)
}

/// The same training gives the same model file whatever directory it is
/// written to and whether `--force` or `--json` is given (the arguments
/// kept in the file, `tag.train_args`, held `--out`, `--force`, `--json`
/// and `--threads`).
#[test]
fn a_tagger_file_does_not_depend_on_where_or_how_the_run_reports() {
    let tiny = data("tiny.train.conll");
    let (a, b) = (tmp("tag-bytes-a"), tmp("tag-bytes-b"));
    let base = [
        "--hidden",
        "4",
        "--emb",
        "4",
        "--epochs",
        "1",
        "--threads",
        "1",
    ];
    let o = train_tag(&tiny, &a, &base);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::create_dir_all(&b).unwrap();
    let o = train_tag(&tiny, &b, &[&base[..], &["--force", "--json"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(read(&a) == read(&b), "the two model files differ");
}
