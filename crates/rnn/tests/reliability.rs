//! Issue 16 from the library: a run killed before its first evaluation
//! resumes from the checkpoint of step 0; a resume takes back the run's
//! options and refuses contradicting ones; every trainer rolls back on a
//! diverging learning rate; memory is estimated before allocating.

use rnn::nn::cell::{Activation, CellName};
use rnn::optim::{OptimizerConfig, Schedule};
use rnn::tasks::lm::{Corpus, TrainConfig, Trainer, STATE_FILE};
use rnn::tasks::{Budget, Event, OnDivergence};
use rnn::{Error, ModelConfig};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-reliability-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn text() -> Corpus {
    Corpus::new(
        "t.txt",
        "the cat sat on the mat and the dog ran after it. ".repeat(60),
    )
}

fn config() -> TrainConfig {
    TrainConfig {
        hidden: 8,
        seq_len: 8,
        batch: 4,
        eval_every: 50,
        seed: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn a_run_killed_before_its_first_evaluation_resumes_from_step_0() {
    let (a, b) = (tmp("killed"), tmp("whole"));
    // killed at its 10th step, long before the first evaluation (step 50)
    let killed = std::panic::catch_unwind(|| {
        let mut t = Trainer::new(config(), &text(), &a).unwrap();
        let _ = t.fit(Budget::Steps(60), &mut |e: &Event| {
            if matches!(e, Event::Step { .. }) {
                panic!("killed");
            }
        });
    });
    assert!(killed.is_err());
    assert!(a.join(STATE_FILE).is_file() && !a.join("model.safetensors").exists());
    let mut resumed = Trainer::resume(&a, &text(), &config()).unwrap();
    assert_eq!(resumed.state().step, 0);
    resumed.fit(Budget::Steps(60), &mut ()).unwrap();
    let mut whole = Trainer::new(config(), &text(), &b).unwrap();
    whole.fit(Budget::Steps(60), &mut ()).unwrap();
    for f in ["model.safetensors", STATE_FILE] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

#[test]
fn a_resume_takes_back_the_runs_options_and_refuses_contradicting_ones() {
    let dir = tmp("options");
    let first = TrainConfig {
        eval_every: 3,
        schedule: Schedule::Plateau {
            decay: 0.25,
            patience: 1,
        },
        on_divergence: OnDivergence::Rollback,
        ..config()
    };
    Trainer::new(first, &text(), &dir)
        .unwrap()
        .fit(Budget::Steps(6), &mut ())
        .unwrap();
    // told nothing of them, the resume follows the saved run
    let other = TrainConfig {
        eval_every: 7,
        schedule: Schedule::Cosine,
        hidden: 999,
        ..config()
    };
    let t = Trainer::resume(&dir, &text(), &other).unwrap();
    let c = t.config();
    assert_eq!((c.eval_every, c.hidden), (3, 8));
    assert_eq!(
        c.schedule,
        Schedule::Plateau {
            decay: 0.25,
            patience: 1
        }
    );
    assert_eq!(c.on_divergence, OnDivergence::Rollback);
    // given explicitly, they must agree
    let e = Trainer::resume_given(&dir, &text(), &other, &["eval_every"]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("--eval-every 7: the run being resumed in "),
        "{msg}"
    );
    assert!(msg.contains("has --eval-every 3"), "{msg}");
    let e = Trainer::resume_given(&dir, &text(), &other, &["seq_len", "hidden"]).unwrap_err();
    assert!(e.to_string().starts_with("--hidden 999:"), "{e}");
    let same = TrainConfig {
        activation: Activation::Tanh,
        cell: CellName::Elman,
        ..config()
    };
    assert!(Trainer::resume_given(&dir, &text(), &same, &["hidden", "cell", "activation"]).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Messages a trainer logged.
fn messages(log: &mut Vec<String>) -> impl FnMut(&Event) + '_ {
    |e: &Event| {
        if let Event::Message(m) = e {
            log.push(m.to_string());
        }
    }
}

#[test]
fn the_tagger_and_forecaster_roll_back_then_give_up_on_a_diverging_learning_rate() {
    use rnn::tasks::forecast::{Series, TrainConfig as FcConfig, Trainer as FcTrainer};
    use rnn::tasks::tag::{Sentence, TrainConfig as TagConfig, Trainer as TagTrainer};
    let s = |w: &str, t: &str| Sentence {
        tokens: w.split(' ').map(String::from).collect(),
        tags: t.split(' ').map(String::from).collect(),
        line: 1,
    };
    let train = vec![
        s("I like eating apple", "O O O B-fruit"),
        s("The Apple is great", "O B-corp O O"),
    ];
    for policy in [OnDivergence::Stop, OnDivergence::Rollback] {
        let mut tag = TagConfig::default();
        tag.tagger.rnn.hidden_size = 4;
        tag.tagger.word_dim = 4;
        tag.batch = 1;
        tag.optim.clip = 0.0;
        tag.optim.optimizer =
            OptimizerConfig::from_args("adam", &serde_json::json!({"lr": 1e38})).unwrap();
        tag.on_divergence = policy;
        let out = tmp(&format!("tag-{policy:?}"));
        let mut log = Vec::new();
        let r = TagTrainer::new(tag, train.clone(), train.clone(), &out)
            .unwrap()
            .fit(Budget::Epochs(3), &mut messages(&mut log))
            .map(|_| ());
        check_divergence(r, &log, policy, &out);
        let _ = std::fs::remove_dir_all(&out);

        let values: Vec<f64> = (0..60).map(|i| 5.0 + (i as f64 * 0.5).sin()).collect();
        let mut fc = FcConfig::new("v", 4, 4);
        (fc.hidden, fc.lr, fc.cell, fc.activation) = (4, 1e38, CellName::Elman, Activation::Relu);
        fc.on_divergence = policy;
        let out = tmp(&format!("fc-{policy:?}"));
        let mut log = Vec::new();
        let r = FcTrainer::from_series(fc, Series::from_values("s", values), &out)
            .unwrap()
            .fit(Budget::Epochs(3), &mut messages(&mut log))
            .map(|_| ());
        check_divergence(r, &log, policy, &out);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// Stop: the first divergence ends the run. Rollback: each divergence
/// goes back to the last good weights and halves the learning rate; the run
/// ends when 3 come back to the same good state, or finishes, its saved model finite.
fn check_divergence(r: rnn::Result<()>, log: &[String], policy: OnDivergence, out: &Path) {
    let rolled: Vec<&String> = log.iter().filter(|l| l.contains("rolled back")).collect();
    match (policy, r) {
        (OnDivergence::Stop, Err(e)) => {
            let msg = e.to_string();
            assert!(
                matches!(e, Error::Diverged { .. }) && !e.is_bad_input(),
                "{msg}"
            );
            assert!(rolled.is_empty(), "{log:?}");
            assert!(
                msg.ends_with("; the last good checkpoint is kept") && !msg.contains("again"),
                "{msg}"
            );
        }
        (OnDivergence::Rollback, r) => {
            assert!(!rolled.is_empty(), "{log:?}");
            assert!(
                rolled[0]
                    .contains("learning rate halved to 5.000e37, batch skipped (rollback 1 of 3)"),
                "{}",
                rolled[0]
            );
            for pair in rolled.windows(2) {
                let lr = |l: &str| -> f64 {
                    l.split("halved to ")
                        .nth(1)
                        .unwrap()
                        .split(',')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                // each rollback halves the rate (and a tagger's epoch that
                // did not improve decays it too, unlogged): a power of two
                let ratio = lr(pair[0]) / lr(pair[1]);
                // (the rates as printed, to 4 digits)
                let k = ratio.log2();
                assert!(k > 0.99 && (k - k.round()).abs() < 1e-3, "{pair:?}");
            }
            match r {
                Err(e) => assert!(
                    e.to_string()
                        .contains("again after 3 rollbacks to the last good state"),
                    "{e}"
                ),
                Ok(()) => assert!(rnn::io::model_file::ModelFile::load(out).is_ok()),
            }
        }
        (p, r) => panic!("{p:?}: {r:?}"),
    }
}

#[test]
fn memory_is_estimated_before_allocating() {
    let huge = ModelConfig::elman(60, 1_000_000, 60);
    // 1e12 parameters: 4 TB of weights alone
    assert!(huge.training_bytes(2, 64, 32) > 4e12 * 4.0);
    let e = huge.ensure_trainable("lm", 2, 64, 32).unwrap_err();
    assert!(matches!(e, Error::Memory { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("training a 'lm' model of 1.0e12 parameters (hidden 1000000"),
        "{msg}"
    );
    assert!(
        msg.contains("needs about 40.1 TB of memory, more than the "),
        "{msg}"
    );
    assert!(e.is_bad_input());
    // a small model passes, and the estimate counts what a step keeps
    let small = ModelConfig::elman(60, 64, 60);
    assert!(small.ensure_trainable("lm", 2, 64, 32).is_ok());
    let p = small.param_count().unwrap() as f64;
    assert!(small.training_bytes(2, 64, 32) > 4.0 * p * 4.0);
    assert!(rnn::memory::available_bytes() > 0);
}

/// While a `--force` run into a directory has not written its model (under
/// way, or killed before the next training start settles it), reading
/// commands load the model it is to replace, set aside in `.replaced`: a
/// tagger whose replacing run was killed said "model.safetensors: No such
/// file or directory".
#[test]
fn a_model_being_replaced_is_read_from_where_it_was_set_aside() {
    use rnn::io::model_file::{ModelFile, Task};
    let d = tmp("set-aside");
    let mf = ModelFile {
        task: Task::Forecast,
        model: rnn::Model::new(ModelConfig::elman(2, 3, 1), 1).unwrap(),
        extra: Default::default(),
        meta: Default::default(),
    };
    mf.save(&d).unwrap();
    rnn::io::prepare_run_dir(&d, rnn::io::OutMode::Replace).unwrap();
    rnn::io::release_run_dir(&d);
    assert!(!d.join("model.safetensors").exists());
    let back = ModelFile::load(&d).unwrap();
    assert_eq!(back.model.params, mf.model.params);
    std::fs::remove_dir_all(&d).unwrap();
}

/// A train state copied in from another run is refused, naming both
/// models: it replaced the run's model with its own (hidden 12 over 8) and
/// went on writing metrics after the run's.
#[test]
fn a_resume_refuses_another_runs_state() {
    let (a, b) = (tmp("mine"), tmp("other"));
    Trainer::new(config(), &text(), &a)
        .unwrap()
        .fit(Budget::Steps(60), &mut ())
        .unwrap();
    let other = TrainConfig {
        hidden: 12,
        ..config()
    };
    Trainer::new(other, &text(), &b)
        .unwrap()
        .fit(Budget::Steps(60), &mut ())
        .unwrap();
    // its own state resumes
    assert!(Trainer::resume(&a, &text(), &config()).is_ok());
    std::fs::copy(b.join(STATE_FILE), a.join(STATE_FILE)).unwrap();
    let e = Trainer::resume(&a, &text(), &config())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train_state.safetensors: holds a run of elman x 12 hidden")
            && e.contains("the model beside it is elman x 8 hidden")
            && e.contains("not this run's state"),
        "{e}"
    );
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

/// A train state of another run of the same architecture (another seed) is
/// refused too, told apart by the validation loss of the model it saved:
/// before, it resumed and went on with the other run's weights. A state
/// older than the model beside it (a run stopped between writing its model
/// and its state) still resumes.
#[test]
fn a_resume_refuses_a_state_of_the_same_architecture_from_another_run() {
    let (a, b) = (tmp("mine-same"), tmp("other-same"));
    Trainer::new(config(), &text(), &a)
        .unwrap()
        .fit(Budget::Steps(60), &mut ())
        .unwrap();
    let older = std::fs::read(a.join(STATE_FILE)).unwrap(); // step 60
    let other = TrainConfig {
        seed: 4,
        ..config()
    };
    Trainer::new(other, &text(), &b)
        .unwrap()
        .fit(Budget::Steps(60), &mut ())
        .unwrap();
    std::fs::copy(b.join(STATE_FILE), a.join(STATE_FILE)).unwrap();
    let Err(e) = Trainer::resume(&a, &text(), &config()) else {
        panic!("the other run's state resumed");
    };
    let e = e.to_string();
    assert!(
        e.contains(
            "train_state.safetensors: holds a run at step 60 with a model of validation loss"
        ) && e.contains("but the model beside it was saved at step")
            && e.contains("not this run's state"),
        "{e}"
    );
    // the run's own state goes on to step 120, its model saved at step 100
    // or 120 (validation falls on this text); its step-60 state put back
    // is older than that model, as after a stop between the two writes
    std::fs::write(a.join(STATE_FILE), &older).unwrap();
    Trainer::resume(&a, &text(), &config())
        .unwrap()
        .fit(Budget::Steps(120), &mut ())
        .unwrap();
    let saved = rnn::io::model_file::ModelFile::load(&a).unwrap();
    let train: serde_json::Value = serde_json::from_str(&saved.meta["train"]).unwrap();
    assert!(train["step"].as_u64().unwrap() > 60, "{train}");
    std::fs::write(a.join(STATE_FILE), &older).unwrap();
    assert!(Trainer::resume(&a, &text(), &config()).is_ok());
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}
