//! Values a caller builds through public fields (a tagged sentence, an
//! encoded sentence, a dist buffer) are refused with an error naming the
//! field, never indexed past their end: each case panicked before the
//! library sweep of session 53 (docs/runs/qa-s53).

use rnn::tasks::tag::{evaluate::tagged_json, Sentence, Tagger, TaggerOptions};
use rnn::tasks::tag::{TrainConfig, Trainer};
use rnn::tasks::Budget;

fn s(words: &str, tags: &str, line: usize) -> Sentence {
    Sentence {
        tokens: words.split(' ').map(String::from).collect(),
        tags: tags
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        line,
    }
}

fn train() -> Vec<Sentence> {
    vec![
        s("I like eating apple", "O O O B-fruit", 1),
        s("The Apple is great", "O B-corp O O", 6),
    ]
}

#[test]
fn a_training_sentence_without_one_tag_per_token_is_refused_naming_it() {
    let out = std::env::temp_dir().join(format!("rnn-by-hand-{}", std::process::id()));
    let mut cfg = TrainConfig::default();
    cfg.tagger.rnn.hidden_size = 4;
    for (train_set, dev_set, want) in [
        // fewer tags than tokens in training: fit indexed past the tags
        (
            [train(), vec![s("a dog ran", "O", 11)]].concat(),
            train(),
            "train[2]: expected one tag per token (3 tokens), got 1 tags (the sentence of line 11)",
        ),
        // more tags than tokens in the dev set: scored on the first few
        (
            train(),
            [train(), vec![s("a dog", "O O O", 12)]].concat(),
            "dev[2]: expected one tag per token (2 tokens), got 3 tags (the sentence of line 12)",
        ),
    ] {
        let Err(e) = Trainer::new(cfg.clone(), train_set, dev_set, &out) else {
            panic!("{want}: not refused");
        };
        assert_eq!(e.to_string(), want);
    }
    // the same sets with one tag per token train
    let mut t = Trainer::new(cfg, train(), train(), &out).unwrap();
    t.fit(Budget::Epochs(1), &mut ()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn tagged_json_needs_one_tag_per_token() {
    let set = ["B-corp".to_string(), "I-corp".into(), "O".into()];
    let one = [s("Apple Park", "", 3)];
    let three = vec![vec!["B-corp".to_string(), "I-corp".into(), "I-corp".into()]];
    let e = tagged_json(&set, &one, &three).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tags[0]: expected one tag per token (2), got 3"
    );
    let e = tagged_json(&set, &one, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tags: expected one list per sentence (1), got 0"
    );
    assert!(tagged_json(&set, &one, &[three[0][..2].to_vec()]).is_ok());
}

#[test]
fn a_tagger_refuses_another_taggers_encoding() {
    let opts = TaggerOptions::default();
    let small = Tagger::new(&train()[..1], &opts, 1).unwrap();
    let big = Tagger::new(
        &[train(), vec![s("Bob and Ann saw Paris", "O O O O O", 9)]].concat(),
        &opts,
        1,
    )
    .unwrap();
    // big's encoding of words small never saw: ids past small's tables
    let foreign = big.encode(&s("Bob saw Paris", "", 1));
    let own = small.encode(&s("Bob saw Paris", "", 1));
    assert!(small.predict(std::slice::from_ref(&own), 4).is_ok());
    let e = small
        .predict(&[own.clone(), foreign.clone()], 4)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("data[1].ids: expected ids below this tagger's"),
        "{e}"
    );
    assert!(small
        .probabilities(std::slice::from_ref(&foreign), 4)
        .is_err());
    assert!(small
        .predict_with_loss(std::slice::from_ref(&foreign), 4)
        .is_err());
    assert!(small.logits(&[&foreign]).is_err());
    // a length that its ids do not have
    let mut long = own.clone();
    long.len += 1;
    let e = small.predict(&[long], 4).unwrap_err().to_string();
    assert!(e.starts_with("data[0].ids: expected "), "{e}");
    // tags of the wrong count or past the tag set
    let mut tags = own.clone();
    tags.tags = vec![0; own.len + 1];
    assert!(small
        .predict(&[tags.clone()], 4)
        .unwrap_err()
        .to_string()
        .starts_with("data[0].tags"));
    tags.tags = vec![99; own.len];
    assert!(small
        .predict(&[tags], 4)
        .unwrap_err()
        .to_string()
        .starts_with("data[0].tags"));
}

/// The rest of session 53's sweep (findings 15-26 of docs/runs/qa-s53/lib.md):
/// each call below returned `Ok` with nonsense, or an error naming the wrong
/// thing, before session 54.
mod sweep_s53_rest {
    use rnn::interop::InferInput;
    use rnn::io::write_atomic;
    use rnn::optim::OptimizerConfig;
    use rnn::tasks::forecast::{Arma, Forecaster, Level, Pipeline, Series, TrainConfig, Trainer};
    use rnn::tasks::lm::{StepConfig, TrainState};
    use rnn::tasks::Budget;
    use rnn::{Model, ModelConfig};
    use std::path::{Path, PathBuf};

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rnn-by-hand-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn sine(n: usize) -> Series {
        let v = (0..n).map(|i| 10.0 + (i as f64 * 0.7).sin()).collect();
        Series::from_values("sine", v)
    }

    /// A forecaster of window 6 trained for two steps in `out`.
    fn forecaster(out: &Path) -> Forecaster {
        let mut cfg = TrainConfig::new("sine", 6, 6);
        (cfg.hidden, cfg.batch) = (4, 4);
        let mut t = Trainer::from_series(cfg, sine(60), out).unwrap();
        t.fit(Budget::Steps(2), &mut ()).unwrap();
        Forecaster::load(out).unwrap()
    }

    #[test]
    fn a_step_config_built_by_hand_is_checked_before_training() {
        let ok = StepConfig {
            seq_len: 4,
            batch: 2,
            optimizer: OptimizerConfig::from_args("adam", &serde_json::json!({})).unwrap(),
            clip: Some(5.0),
            seed: 1,
            val_frac: 0.1,
            dropout: 0.0,
            forget_bias: None,
            weight_drop: 0.0,
            locked_dropout: false,
        };
        let m = ModelConfig::elman(3, 4, 3);
        assert!(TrainState::new(m.clone(), ok.clone()).is_ok());
        for (bad, want) in [
            (
                StepConfig {
                    dropout: f64::NAN,
                    ..ok.clone()
                },
                "dropout: NaN is out of range (a probability in [0, 1))",
            ),
            (
                StepConfig {
                    weight_drop: -1.0,
                    ..ok.clone()
                },
                "weight_drop: -1 is out of range (a probability in [0, 1))",
            ),
            (
                StepConfig {
                    val_frac: 2.0,
                    ..ok.clone()
                },
                "val_frac: 2 is out of range (a fraction in (0, 0.9))",
            ),
        ] {
            let e = TrainState::new(m.clone(), bad).unwrap_err().to_string();
            assert_eq!(e, want);
        }
    }

    #[test]
    fn a_report_refuses_an_actual_that_is_no_number() {
        // `"actual": null` meant "past the end of the data"; a NaN inside it
        // printed the same
        let out = dir("nan-actual");
        let f = forecaster(&out);
        // the last 3 rows held out: one step forecast from row 57
        let mut s = sine(60);
        s.target[57] = f64::NAN;
        let e = f.report(&s, None, Some(3)).unwrap_err().to_string();
        assert!(
            e.contains("series.target[57] (time 57), an actual of the forecast: NaN is not a finite number"),
            "{e}"
        );
        // outside the forecast's rows it is not read
        s.target[57] = 10.0;
        s.target[59] = f64::NAN;
        assert!(f.report(&s, None, Some(3)).is_ok());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_bad_value_in_the_callers_history_is_named_as_such() {
        let out = dir("history");
        let f = forecaster(&out);
        let mut history = vec![10.0; f.history_needed()];
        history[1] = f64::NAN;
        let e = f.step(&mut history, &[10.5], 1).unwrap_err().to_string();
        assert!(
            e.contains("history[1]") && e.contains("a finite number"),
            "{e}"
        );
        assert!(!e.contains("row"), "{e}");
        history[1] = 10.0;
        let e = f
            .step(&mut history, &[f64::INFINITY], 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("values[0]"), "{e}");
        assert!(f.step(&mut history, &[10.5], 1).unwrap().is_some());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn infer_inputs_and_outputs_that_disagree_are_refused() {
        let m = Model::<f32>::new(ModelConfig::elman(3, 2, 3), 1).unwrap();
        let both = InferInput {
            steps: 2,
            batch: 1,
            x: vec![0.0; 6],
            ids: vec![0, 1],
            lengths: None,
            state: None,
        };
        let e = both.run(&m, true).unwrap_err().to_string();
        assert!(e.contains("6 values of x and 2 ids"), "{e}");
        let ids = InferInput {
            x: Vec::new(),
            ..both
        };
        let out = ids.run(&m, true).unwrap();
        assert_eq!(out.tensors(&m, 2, 1).unwrap().len(), 3);
        // T and B swapped gave h_n [1, 2, 1] for a model of 2 units, Ok; a
        // T of 3 for 2 steps an output of [3, 1, 1]
        for (t, b) in [(1, 2), (3, 1)] {
            let e = out.tensors(&m, t, b).unwrap_err().to_string();
            assert!(e.contains(&format!("T = {t}, B = {b}")), "{e}");
        }
        assert!(out.write(&dir("infer.safetensors"), &m, 1, 2).is_err());
    }

    #[test]
    fn linear_forecasts_of_fields_out_of_range_are_refused() {
        let ar = Arma {
            p: 1,
            q: 0,
            sp: 0,
            sq: 0,
            season: 1,
            coef: vec![0.5],
            aic: 0.0,
        };
        assert!(ar.linear(3, 1, 2).is_ok());
        for (w, width, o, what) in [
            (0, 1, 1, "window"),
            (3, 0, 1, "width"),
            (3, 1, 0, "outputs"),
        ] {
            let e = ar.linear(w, width, o).unwrap_err().to_string();
            assert!(e.starts_with(what), "{e}");
        }
        let nan = Arma {
            coef: vec![f64::NAN],
            ..ar.clone()
        };
        assert!(nan
            .linear(3, 1, 1)
            .unwrap_err()
            .to_string()
            .contains("coef[0]"));
        let seasonal = Arma {
            p: 0,
            sp: 1,
            season: 0,
            ..ar
        };
        assert!(seasonal
            .linear(3, 1, 1)
            .unwrap_err()
            .to_string()
            .contains("season"));
        let y = [1.0, 2.0, 4.0, 3.0, 5.0, 6.0];
        let mut p = Pipeline::fit(
            &y,
            &[],
            rnn::tasks::forecast::Transform::None,
            &[1],
            ("y", &[]),
        )
        .unwrap();
        assert!(Level::ses(0.5).linear(5, 1, 1, &p).is_ok());
        p.std = 0.0; // an infinite coefficient, Ok
        let e = Level::ses(0.5).linear(5, 1, 1, &p).unwrap_err().to_string();
        assert!(e.contains("std 0"), "{e}");
    }

    #[test]
    fn an_empty_path_is_named() {
        let e = write_atomic(Path::new(""), b"x").unwrap_err().to_string();
        assert!(e.contains("path") && e.contains("an empty path"), "{e}");
    }
}
