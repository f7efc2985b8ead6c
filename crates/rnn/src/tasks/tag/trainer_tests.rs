//! Tests of the epoch loop ([`super::trainer::Trainer::fit`]): what it
//! writes, when it stops, and the errors of bad settings.

use super::data::Sentence;
use super::trainer::{Keep, TrainConfig, Trainer};
use super::Tagger;
use crate::tasks::{Budget, Event};
use std::path::PathBuf;

fn s(words: &str, tags: &str) -> Sentence {
    Sentence {
        tokens: words.split(' ').map(String::from).collect(),
        tags: tags.split(' ').map(String::from).collect(),
        line: 1,
    }
}

fn data() -> Vec<Sentence> {
    vec![
        s("I like eating apple", "O O O B-fruit"),
        s("The Apple is great", "O B-corp O O"),
        s("an apple a day", "O B-fruit O O"),
        s("Apple sells phones", "B-corp O O"),
        s("we ate an apple pie", "O O O B-fruit O"),
    ]
}

fn small() -> TrainConfig {
    let mut c = TrainConfig::default();
    c.tagger.rnn.hidden_size = 6;
    c.tagger.word_dim = 6;
    c.batch = 2; // 5 sentences: 3 batches per epoch
    c.seed = 3;
    c
}

fn out(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-tag-trainer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn rows(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn keeps_the_best_epoch_and_snapshots() {
    let dir = out("best");
    let mut c = small();
    c.snapshots_from = 1;
    c.patience = 100;
    let mut t = Trainer::new(c, data(), data(), &dir).unwrap();
    let (mut steps, mut evaluated) = (0, 0);
    let summary = t
        .fit(Budget::Epochs(4), &mut |e: &Event| match e {
            Event::Step { .. } => steps += 1,
            Event::Evaluated { .. } => evaluated += 1,
            _ => {}
        })
        .unwrap();
    assert_eq!(
        (summary.epochs, summary.steps, steps, evaluated),
        (4, 12, 12, 4)
    );
    let rows = rows(&dir);
    assert_eq!(rows.len(), 4);
    // "best" marks exactly the epochs that raised the score, the last of them is the kept model
    let best: Vec<u64> = rows
        .iter()
        .filter(|r| r["best"] == true)
        .map(|r| r["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(best.last().copied(), Some(summary.best_epoch as u64));
    let kept = Tagger::load(&dir).unwrap();
    let snap = Tagger::load(&dir.join(format!("epoch-{}", summary.best_epoch))).unwrap();
    assert_eq!(kept.model.params, snap.model.params);
    assert_eq!(kept.emb, snap.emb);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn step_budget_and_keep_last() {
    let dir = out("last");
    let mut c = small();
    c.keep = Keep::Last;
    let mut t = Trainer::new(c, data(), data(), &dir).unwrap();
    let summary = t.fit(Budget::Steps(4), &mut ()).unwrap();
    // 3 batches per epoch: the second epoch ends after its first batch
    assert_eq!((summary.steps, summary.epochs), (4, 2));
    assert_eq!(summary.kept_epoch, 2, "the last epoch's model");
    assert_eq!(rows(&dir)[1]["step"], 4);
    let kept = Tagger::load(&dir).unwrap();
    assert_eq!(
        kept.model.params,
        t.tagger().model.params,
        "the last epoch's model"
    );
    assert!(t.fit(Budget::Epochs(1), &mut ()).is_err(), "fit runs once");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With `Keep::Last` the model file holds the last epoch, which need not
/// be the best: the summary says which epoch it holds (the CLI's result
/// line said only "best dev f1 26.89% at epoch 6; model in runs/ner" for a
/// file of epoch 30, dev F1 22.96%: the tenth sweep).
#[test]
fn the_summary_names_the_epoch_the_model_file_holds() {
    for (keep, kept) in [(Keep::Last, 3), (Keep::Best, 1)] {
        let dir = out("kept");
        let mut c = small();
        c.keep = keep;
        // a zero learning rate never improves on the first epoch's score
        c.optim.optimizer.set_lr(0.0);
        c.patience = 10;
        let mut t = Trainer::new(c, data(), data(), &dir).unwrap();
        let summary = t.fit(Budget::Epochs(3), &mut ()).unwrap();
        assert_eq!((summary.epochs, summary.best_epoch), (3, 1));
        assert_eq!(summary.kept_epoch, kept, "{keep:?}");
        assert_eq!(summary.kept_score, summary.best_score, "the same weights");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn early_stopping_decays_the_learning_rate() {
    let dir = out("stop");
    let mut c = small();
    c.patience = 1;
    // a zero learning rate never improves on the first epoch's score
    c.optim.optimizer.set_lr(0.0);
    let mut t = Trainer::new(c, data(), data(), &dir).unwrap();
    let mut lines = Vec::new();
    let summary = t
        .fit(Budget::Epochs(10), &mut |e: &Event| {
            if let Event::Message(m) = e {
                lines.push(m.to_string());
            }
        })
        .unwrap();
    assert!(summary.stopped_early);
    assert_eq!((summary.epochs, summary.best_epoch), (2, 1));
    assert_eq!(
        lines.last().unwrap(),
        "no better dev f1 for 1 epoch: stopping"
    );
    assert!(
        lines[0].starts_with("train: 5 sentences, 20 tokens, 3 tags"),
        "{}",
        lines[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_are_errors() {
    let dir = out("bad");
    let mut c = small();
    c.batch = 0;
    let e = Trainer::new(c, data(), data(), &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch"), "{e}");
    let mut c = small();
    c.lr_decay = 1.5;
    let e = Trainer::new(c, data(), data(), &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lr_decay: 1.5"), "{e}");
    let mut c = small();
    (c.init_from, c.tagger.char_dim) = (Some(dir.clone()), 4);
    assert!(Trainer::new(c, data(), data(), &dir).is_err());
    let mut t = Trainer::new(small(), data(), data(), &dir).unwrap();
    assert!(t.fit(Budget::Epochs(0), &mut ()).is_err());
    assert!(!dir.exists(), "nothing written before a valid budget");
}

/// `diagnostics`: one diagnostics.jsonl row per epoch, the flow of the
/// tagger as it is after that epoch (the last row is what the saved final
/// tagger measures on the dev data), and training itself unchanged.
#[test]
fn diagnostics_record_the_flow_of_each_epoch_without_changing_training() {
    let (plain_dir, diag_dir) = (out("plain"), out("diag"));
    let mut c = small();
    c.tagger.rnn.bidirectional = true;
    c.keep = Keep::Last;
    let mut t = Trainer::new(c.clone(), data(), data(), &plain_dir).unwrap();
    t.fit(Budget::Epochs(3), &mut ()).unwrap();
    c.diagnostics = true;
    let mut t = Trainer::new(c, data(), data(), &diag_dir).unwrap();
    t.fit(Budget::Epochs(3), &mut ()).unwrap();
    let losses = |d: &std::path::Path| -> Vec<f64> {
        rows(d)
            .iter()
            .map(|r| r["train_loss"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(losses(&plain_dir), losses(&diag_dir));
    assert!(!plain_dir.join("diagnostics.jsonl").exists());
    let flows: Vec<serde_json::Value> = std::fs::read_to_string(diag_dir.join("diagnostics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<u64> = flows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [3, 6, 9]); // 3 batches per epoch
    let last = &flows[2];
    for key in ["steps", "layers", "grad_norms"] {
        assert!(last.get(key).is_some(), "{key}");
    }
    let tagger = Tagger::load(&diag_dir).unwrap();
    let want = serde_json::to_value(tagger.diagnose(&data(), "dev").unwrap()).unwrap();
    // the same numbers, up to the JSON text's round trip
    fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::{Array, Number, Object};
        match (a, b) {
            (Number(x), Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            }
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q)),
            (Object(x), Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
            }
            _ => a == b,
        }
    }
    assert!(close(&last["layers"], &want["layers"]), "{last} vs {want}");
    assert!(close(&last["grad_norms"], &want["grad_norms"]));
    assert!(
        want["grad_norms"]["rnn.weight_hh_l0_reverse"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(last["layers"][1]["from_step"], 0); // the backward direction's last step
    for f in ["gradient-flow.svg", "spectral-radius.svg"] {
        assert!(diag_dir.join(f).is_file(), "{f}");
    }
    for d in [plain_dir, diag_dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn an_equal_score_with_a_lower_dev_loss_is_a_better_epoch() {
    // dev sentences with no entity: F1 is 0 at every epoch, while the dev
    // loss falls as training goes; each epoch of lower loss is kept, none
    // counts as stale, and the learning rate is not decayed
    let dir = out("ties");
    let dev = vec![s("I like eating", "O O O"), s("we ate", "O O")];
    let mut c = small();
    c.patience = 2;
    let mut t = Trainer::new(c, data(), dev, &dir).unwrap();
    let summary = t.fit(Budget::Epochs(6), &mut ()).unwrap();
    let rows = rows(&dir);
    let losses: Vec<f64> = rows
        .iter()
        .map(|r| r["dev_loss"].as_f64().unwrap())
        .collect();
    assert!(rows.iter().all(|r| r["dev_f1"] == 0.0), "{rows:?}");
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert!(!summary.stopped_early);
    assert_eq!((summary.epochs, summary.best_epoch), (6, 6));
    assert!(rows.iter().all(|r| r["best"] == true));
    assert!(rows.iter().all(|r| r["lr"] == rows[0]["lr"]), "no decay");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A dev set none of whose tokens has a tag of the training data (another
/// task's: NER beside POS) scored 0 % with a dev loss of 0.0000 over no
/// token, and early stopping ran on nothing (the CLI sweep of session 55);
/// a dev set with some unseen tags is still taken (they count as errors).
#[test]
fn a_dev_set_sharing_no_tag_with_training_is_refused() {
    let dev = vec![s("walk the dog", "VB DT NN"), s("apples", "NNS")];
    let e = Trainer::new(small(), data(), dev, &out("other-task"))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("dev data: none of its 4 tokens has a tag of the training data (its tags \"DT\", \"NN\", \"NNS\", \"VB\"; the training's \"B-corp\", \"B-fruit\", \"O\"): the dev set of another task?")
    );
    let some = vec![s("walk the dog", "O O B-pet")];
    assert!(Trainer::new(small(), data(), some, &out("some-unseen")).is_ok());
}
