//! Training, saving, predicting and scoring sequence classifiers: a task only
//! a network that carries its state over many steps solves, ensembles that
//! average their members, the baselines on hand-made data, and the checks
//! on training data.

mod common;

use rnn::nn::cell::CellName;
use rnn::nn::pool::Pool;
use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
use rnn::tasks::Budget;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-classify-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The messages of training `cfg` on `data` into `out` for `epochs` epochs.
fn fit_messages(cfg: TrainConfig, data: Dataset, out: &Path, epochs: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let mut seen = |e: &rnn::tasks::Event| {
        if let rnn::tasks::Event::Message(m) = e {
            messages.push(m.to_string())
        }
    };
    Trainer::from_data(cfg, data, None, out)
        .unwrap()
        .fit(Budget::Epochs(epochs), &mut seen)
        .unwrap();
    messages
}

fn ts(text: &str) -> Dataset {
    Dataset::parse_ts(Path::new("x.ts"), text, Fill::Linear, None).unwrap()
}

/// `n` series of `steps` values: small noise everywhere, and at step 2 a
/// pulse of +1 (class "up") or -1 (class "down"). Nothing after step 2 tells
/// the classes apart.
fn early_event(n: usize, steps: usize, seed: u64) -> Dataset {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.4
    };
    let mut text = String::new();
    for i in 0..n {
        let up = i % 2 == 0;
        let v: Vec<String> = (0..steps)
            .map(|t| {
                let pulse = if t == 2 {
                    if up {
                        1.0
                    } else {
                        -1.0
                    }
                } else {
                    0.0
                };
                format!("{:.4}", pulse + noise())
            })
            .collect();
        text += &format!("{}:{}\n", v.join(","), if up { "up" } else { "down" });
    }
    ts(&text)
}

#[test]
fn remembers_an_early_event_over_many_steps() {
    let _threads = common::threads_held();
    // one direction, the class read from the final state: the pulse at step 2
    // must be carried through the 45 steps of noise after it
    let (train, test) = (early_event(64, 48, 1), early_event(40, 48, 2));
    let dir = tmp("memory");
    let cfg = TrainConfig {
        hidden: 12,
        bidirectional: false,
        pool: Some(Pool::Last),
        stride: Some(1),
        dropout: 0.0,
        lr: 1e-2,
        val_frac: 0.0,
        ensemble: 1,
        ..TrainConfig::default()
    };
    Trainer::from_data(cfg, train, None, &dir)
        .unwrap()
        .fit(Budget::Epochs(80), &mut ())
        .unwrap();
    let model = Classifier::load(&dir).unwrap();
    assert_eq!(model.meta.stride, 1);
    let r = model.evaluate(&test).unwrap();
    eprintln!(
        "early event: accuracy {}, 1-NN DTW {}, majority {}",
        r.scores.accuracy, r.nn_dtw_accuracy, r.majority_accuracy
    );
    assert!(
        r.scores.accuracy >= 0.9,
        "accuracy {} (majority baseline {})",
        r.scores.accuracy,
        r.majority_accuracy
    );
    assert_eq!(r.majority_accuracy, 0.5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_ensemble_averages_its_members_and_survives_a_save() {
    let _threads = common::threads_held();
    let data = early_event(24, 10, 3);
    let dir = tmp("ensemble");
    let cfg = TrainConfig {
        hidden: 6,
        ensemble: 3,
        cell: CellName::Lstm,
        // networks (the reservoir solves this set and would be kept)
        reservoir: rnn::tasks::classify::ReservoirUse::Off,
        ..TrainConfig::default()
    };
    let summary = Trainer::from_data(cfg.clone(), data.clone(), None, &dir)
        .unwrap()
        .fit(Budget::Epochs(2), &mut ())
        .unwrap();
    let seeds: Vec<u64> = summary.members.iter().map(|m| m.seed).collect();
    assert_eq!(seeds, [0, cfg.member_seed(1), cfg.member_seed(2)]);
    let all = Classifier::load(&dir).unwrap();
    assert_eq!(all.members.len(), 3);
    assert_eq!(all.meta.members, summary.members);
    // a finished training's file says so; the files before it did not (a
    // run killed between two networks left one that is warned of)
    assert!(all.meta.finished && all.meta.unfinished("m").is_none());
    let file = rnn::io::TensorFile::read(dir.join("model.safetensors")).unwrap();
    assert!(!file.metadata().contains_key(rnn::io::UNFINISHED_KEY));
    let part = rnn::tasks::classify::ClassifyMeta {
        finished: false,
        ..all.meta.clone()
    };
    let w = part.unfinished("m").unwrap();
    assert!(
        w.contains("stopped part-way (it holds 3 network(s), the 1-NN DTW member)"),
        "{w}"
    );
    // the ensemble's probabilities are the mean of each member's alone
    let p = all.probabilities(&data).unwrap();
    let mut mean = vec![0.0; p.len()];
    for m in &all.members {
        let one = Classifier {
            members: vec![m.clone()],
            ..all.clone()
        };
        for (acc, v) in mean.iter_mut().zip(one.probabilities(&data).unwrap()) {
            *acc += v / 3.0;
        }
    }
    for (a, b) in p.iter().zip(&mean) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // the members differ (different seeds), and saving keeps every weight
    assert_ne!(all.members[0].params, all.members[1].params);
    let again = tmp("ensemble-again");
    all.save(&again).unwrap();
    let back = Classifier::load(&again).unwrap();
    for (a, b) in back.members.iter().zip(&all.members) {
        assert_eq!(a.params, b.params);
    }
    assert_eq!(
        back.predictions(&data).unwrap(),
        all.predictions(&data).unwrap()
    );
    for d in [dir, again] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn baselines_and_scores_on_hand_made_data() {
    let _threads = common::threads_held();
    // class a: a spike of 3 somewhere; class b: a plateau of 1
    let train = ts("0,0,0,3,0,0:a\n0,0,3,0,0,0:a\n0,1,1,1,1,0:b\n");
    // an early spike: Euclidean-nearest to the plateau (distance 7 against 18),
    // but warping aligns it with a spike (distance 0)
    let test = ts("0,3,0,0,0,0:a\n0,1,1,1,1,0:b\n");
    let dir = tmp("baselines");
    let cfg = TrainConfig {
        hidden: 4,
        val_frac: 0.0,
        ensemble: 1,
        ..TrainConfig::default()
    };
    Trainer::from_data(cfg, train, None, &dir)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let model = Classifier::load(&dir).unwrap();
    let r = model.evaluate(&test).unwrap();
    assert_eq!((r.sequences, r.networks), (2, 1));
    assert_eq!(r.majority_class, "a");
    assert_eq!(r.majority_accuracy, 0.5);
    assert_eq!(r.nn_dtw_accuracy, 1.0);
    assert_eq!(r.nn_euclidean_accuracy, Some(0.5));
    // the report's confusion matrix and per-class scores match the predictions
    let pred = model.predict(&test).unwrap();
    let mut confusion = vec![vec![0; 2]; 2];
    confusion[0][pred[0]] += 1;
    confusion[1][pred[1]] += 1;
    assert_eq!(r.scores.confusion, confusion);
    assert_eq!(r.scores.per_class[0].support, 1);
    // unequal lengths: no Euclidean baseline
    let uneven = ts("0,3,0,0,0:a\n0,1,1,1,1,0,0:b\n");
    assert_eq!(model.evaluate(&uneven).unwrap().nn_euclidean_accuracy, None);
    // --json carries accuracy as a fraction and every figure the issue asks for
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "accuracy",
        "macro_f1",
        "per_class",
        "confusion",
        "majority_accuracy",
        "nn_dtw_accuracy",
        "nn_euclidean_accuracy",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert!((0.0..=1.0).contains(&v["accuracy"].as_f64().unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_training_data_is_refused_with_the_reason() {
    let _threads = common::threads_held();
    let dir = tmp("refused");
    let cfg = TrainConfig::default();
    let one_class = ts("1,2:a\n3,4:a\n");
    let e = Trainer::from_data(cfg.clone(), one_class, None, &dir).unwrap_err();
    assert!(e.to_string().contains("two classes or more"), "{e}");
    let unlabelled = ts("@classLabel false\n@data\n1,2\n3,4\n");
    let e = Trainer::from_data(cfg.clone(), unlabelled, None, &dir).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.ts:3: no class label (the file was read as 1 value per frame without labels)"
    );
    let train = ts("1,2:a\n3,4:b\n");
    let dev = Dataset::parse_ts(Path::new("dev.ts"), "1:2:a\n", Fill::Linear, None).unwrap();
    let e = Trainer::from_data(cfg.clone(), train.clone(), Some(dev), &dir).unwrap_err();
    assert!(
        e.to_string().starts_with("dev.ts: 2 values per frame"),
        "{e}"
    );
    let dev = Dataset::parse_ts(Path::new("dev.ts"), "1,2:c\n", Fill::Linear, None).unwrap();
    let e = Trainer::from_data(cfg.clone(), train.clone(), Some(dev), &dir).unwrap_err();
    assert!(
        e.to_string().starts_with("dev.ts:1: class label 'c'"),
        "{e}"
    );
    let bad = TrainConfig { ensemble: 0, ..cfg };
    let e = Trainer::from_data(bad, train, None, &dir).unwrap_err();
    assert_eq!(e.to_string(), "--ensemble 0: expected at least 1");
    assert!(!dir.exists(), "nothing is written before training");
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let _threads = common::threads_held();
    // dropout masks and noise are drawn per sequence, so splitting each
    // minibatch between threads changes only the order of the gradient sums
    let data = early_event(20, 12, 4);
    let cfg = TrainConfig {
        hidden: 5,
        batch: 7,
        noise: 0.1,
        dropout: 0.2,
        val_frac: 0.0,
        ensemble: 1,
        ..TrainConfig::default()
    };
    let (mut params, mut readouts) = (Vec::new(), Vec::new());
    for threads in [1, 3] {
        rnn::kernels::set_threads(threads);
        let dir = tmp(&format!("threads{threads}"));
        Trainer::from_data(cfg.clone(), data.clone(), None, &dir)
            .unwrap()
            .fit(Budget::Epochs(2), &mut ())
            .unwrap();
        let model = Classifier::load(&dir).unwrap();
        params.push(model.members[0].params.clone());
        readouts.push(model.readouts[0].weight.clone());
        std::fs::remove_dir_all(&dir).unwrap();
    }
    rnn::kernels::set_threads(1);
    // the reservoir's readout (its features are computed per sequence, its
    // ridge in f64) is the same whatever the threads
    assert_eq!(readouts[0], readouts[1]);
    let diff = params[0]
        .iter()
        .zip(&params[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-4, "largest difference {diff}");
}

#[test]
fn a_declared_class_no_training_series_has_is_warned_of() {
    let _threads = common::threads_held();
    let out = tmp("absent-class");
    let mut text = String::from("@classLabel true lo hi never\n@data\n");
    for i in 0..8 {
        let (v, c) = if i % 2 == 0 {
            ("0,0,1,0", "lo")
        } else {
            ("5,6,5,6", "hi")
        };
        text += &format!("{v}:{c}\n");
    }
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 1,
        ..TrainConfig::default()
    };
    let messages = fit_messages(cfg, ts(&text), &out, 1);
    let warned: Vec<&String> = messages
        .iter()
        .filter(|m| m.starts_with("warning"))
        .collect();
    assert_eq!(
        warned,
        ["warning: x.ts: class 'never' is declared but no training series has it: it can never be predicted"],
        "{messages:?}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// The reader's warnings (here: a long CSV file whose series `s1` jumps from
/// step 3 to step 40) reach the training's messages.
#[test]
fn the_readers_warnings_are_training_messages() {
    let _threads = common::threads_held();
    let out = tmp("reader-warnings");
    let mut text = String::new();
    for k in 0..6 {
        let (v, c) = if k % 2 == 0 { (0.0, "lo") } else { (5.0, "hi") };
        for t in 0..4 {
            let step = if k == 1 && t == 3 { 40 } else { t };
            text += &format!("s{k},{step},{},{c}\n", v + t as f64);
        }
    }
    let data = Dataset::parse_csv(Path::new("x.csv"), &text, Fill::Linear, None).unwrap();
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 1,
        ..TrainConfig::default()
    };
    let messages = fit_messages(cfg, data, &out, 1);
    let warned: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("gaps or not"))
        .collect();
    assert_eq!(warned.len(), 1, "{messages:?}");
    assert!(
        warned[0].starts_with("warning: x.csv: series s1: step 40 (line 8) follows step 2"),
        "{warned:?}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_training_loss_that_blows_up_without_validation_is_warned_of() {
    let _threads = common::threads_held();
    // two series, one a class: no validation part, so the last epoch is
    // kept whatever its loss; at --lr 10 it is far above the first (0.70
    // to 10.1 per series)
    let out = tmp("blown");
    let text = "@classLabel true lo hi\n@data\n0,0,1,0,0:lo\n5,6,5,6,5:hi\n";
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 1,
        lr: 1e30,
        ..TrainConfig::default()
    };
    // at 1e30 the second step's loss, 1e30, is a divergence (over 100
    // times the larger of 1 and a uniform guess's ln 2): no model is written
    let absurd = tmp("absurd");
    let e = Trainer::from_data(cfg.clone(), ts(text), None, &absurd)
        .unwrap()
        .fit(Budget::Epochs(2), &mut ())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("(over 100, the least bound; a model that knows nothing has 0.6931) at step 1, before this run had written a model"),
        "{e}"
    );
    let cfg = TrainConfig { lr: 10.0, ..cfg };
    let messages = fit_messages(cfg.clone(), ts(text), &out, 2);
    let line = messages
        .iter()
        .find(|m| m.starts_with("network 1 "))
        .expect("the network's line");
    assert!(
        line.contains("; warning: its training loss rose from ")
            && line.contains("try a lower --lr"),
        "{line}"
    );
    // at the default rate: no warning
    let cfg = TrainConfig {
        lr: TrainConfig::default().lr,
        ..cfg
    };
    let calm = tmp("not-blown");
    let quiet = fit_messages(cfg, ts(text), &calm, 2);
    assert!(!quiet.iter().any(|m| m.contains("rose from")), "{quiet:?}");
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&calm).unwrap();
    let _ = std::fs::remove_dir_all(&absurd);
}
