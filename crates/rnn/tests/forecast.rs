//! The forecasting task from the library: budgets, progress events, files
//! written and the errors of a loaded model.

use rnn::io::MetricsLog;
use rnn::tasks::forecast::{Forecaster, Series, Strategy, TrainConfig, Trainer};
use rnn::tasks::{Budget, Event};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-forecast-lib-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sine(n: usize) -> Series {
    let v = (0..n).map(|i| 10.0 + (i as f64 * 0.7).sin()).collect();
    Series::from_values("sine", v)
}

fn small(window: usize, test: usize) -> TrainConfig {
    let mut cfg = TrainConfig::new("sine", window, test);
    (cfg.hidden, cfg.batch) = (4, 4);
    cfg
}

#[test]
fn a_steps_budget_stops_after_that_many_steps() {
    let out = dir("steps");
    // 60 rows - 6 test = 54 fitted rows: 48 windows, 5 of them for validation
    let mut t = Trainer::from_series(small(6, 6), sine(60), &out).unwrap();
    assert_eq!(t.window_counts(), (43, 5));
    let s = t.fit(Budget::Steps(5), &mut ()).unwrap();
    assert_eq!((s.steps, s.epochs), (5, 1));
    let log = MetricsLog::open(&out, true);
    assert_eq!(log.rows().len(), 1);
    assert_eq!(log.rows()[0]["step"], 5);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn progress_gets_the_settings_one_step_and_one_row_per_epoch_and_the_scores() {
    let out = dir("events");
    let mut t = Trainer::from_series(small(6, 6), sine(60), &out).unwrap();
    let (mut messages, mut steps, mut rows, mut start) = (Vec::new(), 0, 0, None);
    let mut seen = |e: &Event| match e {
        Event::Start { total_steps } => start = *total_steps,
        Event::Step { .. } => steps += 1,
        Event::Evaluated { .. } => rows += 1,
        Event::Message(m) => messages.push(m.to_string()),
    };
    let s = t.fit(Budget::Epochs(3), &mut seen).unwrap();
    // 43 training windows in batches of 4: 11 steps per epoch
    assert_eq!((start, steps, rows, s.steps), (Some(33), 3, 3, 33));
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].starts_with("sine: 60 rows; fitting on the first 54"));
    assert!(messages[1].starts_with("stopped after 3 epochs (budget reached)"));
    assert!(messages[2].starts_with("test (6 rows, horizon 1, direct)"));
    assert_eq!(s.test.unwrap().points, 6);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_loaded_model_checks_its_arguments() {
    let out = dir("errors");
    let mut cfg = small(6, 6);
    cfg.horizon = 2;
    Trainer::from_series(cfg, sine(60), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    assert_eq!((m.meta.strategy, m.meta.horizon), (Strategy::Direct, 2));
    let s = sine(60);
    let err = |r: rnn::Result<Vec<f64>>| r.unwrap_err().to_string();
    assert_eq!(err(m.forecast(&s, 0)), "--horizon 0: expected at least 1");
    assert!(err(m.forecast(&s, 3)).contains("at most 2 steps"));
    assert!(err(m.forecast_at(&s, 61, 1)).contains("forecast origin: 61"));
    assert!(err(m.forecast_at(&s, 5, 1)).contains("needs at least 6 rows"));
    let mut with_feature = s.clone();
    with_feature.features.push(vec![0.0; 60]);
    assert!(err(m.forecast(&with_feature, 1)).contains("the model's 0 feature columns"));
    // the origin after a series that extends the training data is its end
    let mut longer = sine(65);
    longer.target[..60].copy_from_slice(&s.target);
    let o = m.origin(&longer, None).unwrap();
    assert_eq!((o.row, o.extends), (60, true));
    assert_eq!(m.origin(&longer, Some(10)).unwrap().row, 55);
    assert!(m.origin(&longer, Some(65)).is_err());
    std::fs::remove_dir_all(&out).unwrap();
}
