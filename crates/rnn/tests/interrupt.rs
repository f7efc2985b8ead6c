//! A stop requested while a training runs ([`rnn::tasks::stop`], what
//! `rnn train` does on Ctrl-C) ends it as the end of its budget would: the
//! run's files are written at the step it stopped at, and a resume goes on
//! to where one uninterrupted run ends, bit for bit. (Its own test binary:
//! the request is process-wide, and would stop other tests' trainings.)

mod common;
use rnn::optim::{OptimizerName, Schedule};
use rnn::tasks::lm::{Corpus, TrainConfig, Trainer};
use rnn::tasks::{stop, Budget, Event};

fn corpus() -> Corpus {
    common::words(11)
}

fn config() -> TrainConfig {
    TrainConfig {
        hidden: 10,
        seq_len: 8,
        batch: 4,
        dropout: 0.1,
        lr: 0.5,
        optimizer: OptimizerName::Adam,
        eval_every: 4,
        schedule: Schedule::Plateau {
            decay: 0.5,
            patience: 1,
        },
        seed: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn a_stopped_lm_run_keeps_its_step_and_resumes_to_the_uninterrupted_end() {
    let text = corpus();
    let tmp = |n: &str| {
        let d = std::env::temp_dir().join(format!("rnn-interrupt-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    };
    let (a, b) = (tmp("a"), tmp("b"));
    let mut first = Trainer::new(config(), &text, &a).unwrap();
    // the stop comes at step 10 (a step no evaluation is scheduled at)
    let summary = first
        .fit(Budget::Steps(30), &mut |e: &Event| {
            if let Event::Step { step: 10, .. } = e {
                stop::request();
            }
        })
        .unwrap();
    assert_eq!(summary.steps, 10, "stopped at the step it was taking");
    // the run's files hold that step: its metrics row, its train state
    let rows = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(rows.lines().last().unwrap()).unwrap();
    assert_eq!(last["step"], 10);
    stop::clear();
    let mut resumed = Trainer::resume(&a, &text, &config()).unwrap();
    assert_eq!(resumed.state().step, 10);
    let rs = resumed.fit(Budget::Steps(30), &mut ()).unwrap();
    assert_eq!(rs.steps, 30);
    let mut whole = Trainer::new(config(), &text, &b).unwrap();
    let ws = whole.fit(Budget::Steps(30), &mut ()).unwrap();
    assert_eq!(resumed.model().params, whole.model().params);
    assert_eq!(resumed.state().opt.state, whole.state().opt.state);
    assert_eq!(rs.best_val, ws.best_val);
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}
