//! A stop requested while a training runs ([`rnn::tasks::stop`], what
//! `rnn train` does on Ctrl-C) ends it as the end of its budget would: the
//! run's files are written at the step it stopped at, and a resume goes on
//! to where one uninterrupted run ends, bit for bit. (Its own test binary:
//! the request is process-wide, and would stop other tests' trainings; the
//! tests here take [`one_at_a_time`] for the same reason.)

mod common;
use rnn::optim::{OptimizerName, Schedule};
use rnn::tasks::lm::{Corpus, TrainConfig, Trainer};
use rnn::tasks::{stop, Budget, Event};

/// The stop request is process-wide: one test of this file at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    stop::clear();
    guard
}

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
    let _one = one_at_a_time();
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

/// A stop while the reservoirs' grid of settings runs ends the grid after
/// the setting being drawn (each setting of a large set takes seconds to
/// minutes: `--reservoir only` on 3,601 series of 500 steps kept running
/// 10 minutes after a SIGTERM, drawing the other settings): the settings
/// tried choose, the model is written and says so.
#[test]
fn a_stop_during_the_reservoir_grid_keeps_the_settings_tried() {
    use rnn::tasks::classify::{Classifier, Dataset, Fill, ReservoirUse, TrainConfig, Trainer};
    let _one = one_at_a_time();
    // 24 series of 10 steps, two classes by the sign of their mean
    let mut r: u64 = 7;
    let mut text = String::new();
    for i in 0..24 {
        let (sign, label) = if i % 2 == 0 {
            (1.0, "pos")
        } else {
            (-1.0, "neg")
        };
        let values: Vec<String> = (0..10)
            .map(|_| {
                r = r
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!(
                    "{:.4}",
                    sign * 0.5 + (r >> 33) as f64 / (1u64 << 31) as f64 - 1.0
                )
            })
            .collect();
        text += &format!("{}:{label}\n", values.join(","));
    }
    let data =
        Dataset::parse_ts(std::path::Path::new("sign.ts"), &text, Fill::Linear, None).unwrap();
    let cfg = TrainConfig {
        ensemble: 2,
        reservoir_units: 20,
        reservoir: ReservoirUse::Only,
        ..TrainConfig::default()
    };
    let dir = std::env::temp_dir().join(format!("rnn-interrupt-{}-grid", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut said = Vec::new();
    // the stop comes as the grid is announced, before its first setting
    Trainer::from_data(cfg, data, None, &dir)
        .unwrap()
        .fit(Budget::Epochs(1), &mut |e: &Event| {
            if let Event::Message(m) = e {
                if m.contains("for each of 18 settings") {
                    stop::request();
                }
                said.push(m.to_string());
            }
        })
        .unwrap();
    stop::clear();
    assert!(
        said.iter().any(
            |m| m == "interrupted: the reservoirs keep the best of the 1 setting tried (of 18)"
        ),
        "{said:?}"
    );
    let model = Classifier::load(&dir).unwrap();
    assert_eq!(model.reservoirs.len(), 2);
    assert_eq!(model.meta.reservoir.as_ref().unwrap().tried.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
