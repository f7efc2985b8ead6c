//! The forecasting task from the library: budgets, progress events, files
//! written and the errors of a loaded model.

mod common;
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

/// A series with a NaN or a value past f32's range is refused before
/// training, naming its column, row and time. Before, a NaN was refused
/// only at `fit` as `targets[0]` (a minibatch index), and values near
/// 1e300 trained into a model file whose settings held an infinity, which
/// the trainer then refused to read back.
#[test]
fn a_series_the_network_cannot_compute_with_is_refused_naming_the_row() {
    let out = dir("bad-values");
    let beyond = "is beyond the range of 32-bit floats (±3.4e38) the model computes in";
    for (row, bad, why) in [
        (7, f64::NAN, "NaN is not a finite number".to_string()),
        (0, 1e300, format!("1e300 {beyond}")),
        (59, -4e38, format!("-4e38 {beyond}")),
    ] {
        let mut s = sine(60);
        s.target[row] = bad;
        let e = Trainer::from_series(small(6, 6), s, &out)
            .expect_err("refused")
            .to_string();
        let want = format!(
            "sine: column \"sine\", data row {} (time {row}): {why}",
            row + 1
        );
        assert_eq!(e, want);
        assert!(!out.exists(), "nothing written for a refused series");
    }
    // values large but within the range train, and the model reads back
    let huge = Series::from_values("sine", sine(60).target.iter().map(|v| v * 1e36).collect());
    let mut t = Trainer::from_series(small(6, 6), huge, &out).unwrap();
    t.fit(Budget::Steps(3), &mut ()).unwrap();
    assert!(Forecaster::load(&out).is_ok());
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
    // one epoch, one test row: singular ("1 epochs", "1 test rows" before)
    let mut one = small(6, 1);
    one.batch = 4;
    let mut t = Trainer::from_series(one, sine(60), &out).unwrap();
    let mut lines = Vec::new();
    let s = t
        .fit(Budget::Epochs(1), &mut |e: &Event| {
            if let Event::Message(m) = e {
                lines.push(m.to_string())
            }
        })
        .unwrap();
    assert!(
        lines[1].starts_with("stopped after 1 epoch (budget reached)"),
        "{lines:?}"
    );
    let table = s.test.unwrap().table(std::path::Path::new("sine.csv"));
    assert!(table.starts_with("1 test row of sine.csv,"), "{table}");
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
    with_feature.feature_names.push("x".into());
    assert!(err(m.forecast(&with_feature, 1)).contains("the model's 0 feature columns"));
    // the origin after a series that extends the training data is its end
    let mut longer = sine(65);
    longer.target[..60].copy_from_slice(&s.target);
    let o = m.origin(&longer, None).unwrap();
    assert_eq!((o.row, o.extends), (60, true));
    assert_eq!(m.origin(&longer, Some(10)).unwrap().row, 55);
    assert!(m.origin(&longer, Some(65)).is_err());
    // a NaN, an infinity or a value past f32's range (which came out as an
    // ordinary-looking forecast) in the history names the column and row,
    // not the model's weights
    let beyond = "is beyond the range of 32-bit floats (±3.4e38) the model computes in";
    for (row, bad, why) in [
        (59, f64::NAN, "NaN is not a finite number"),
        (3, f64::INFINITY, "inf is not a finite number"),
        (59, 1e300, &*format!("1e300 {beyond}")),
    ] {
        let mut hole = s.clone();
        hole.target[row] = bad;
        let e = err(m.forecast(&hole, 1));
        let want = format!(
            "column \"sine\", data row {} (time {row}): {why} (in the forecast's history)",
            row + 1
        );
        assert!(e.contains(&want), "{e}");
        assert!(!e.contains("weights"), "{e}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// A model file's settings that disagree with each other or with the
/// network are refused at load, naming the field and its value. Before,
/// some made `rnn forecast` panic (an AR coefficient too few, a lag of 0,
/// a huge horizon in `rnn eval`) and others loaded and forecast silently
/// wrong (a NaN coefficient, a share of the correction above 1).
#[test]
fn settings_that_do_not_fit_the_model_are_refused_at_load() {
    let out = dir("meta-checks");
    Trainer::from_series(small(6, 6), sine(60), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let (i, o) = (m.model.config.input_size, m.model.config.output_size);
    assert_eq!((i, o), (1, 1));
    assert_eq!(m.meta.check(i, o), Ok(()));
    let ar = m.meta.ar.clone().expect("the AR skip's baseline");
    assert_eq!((ar.inputs, ar.outputs, ar.coef.len()), (6, 1, 7));
    let refused = |edit: &dyn Fn(&mut rnn::tasks::forecast::ForecastMeta)| {
        let mut meta = m.meta.clone();
        edit(&mut meta);
        meta.check(i, o).unwrap_err().0
    };
    // one AR coefficient too few: 6 inputs and the intercept need 7
    assert_eq!(
        refused(&|m| m.ar.as_mut().unwrap().coef.truncate(6)),
        "ar: inputs 6, outputs 1, 6 coefficients"
    );
    assert!(refused(&|m| m.ar.as_mut().unwrap().coef[0] = f64::NAN).starts_with("ar: "));
    assert_eq!(
        refused(&|m| m.pipeline.diffs = vec![0]),
        "pipeline.diffs [0] (lag 0)"
    );
    assert_eq!(refused(&|m| m.window = 61), "window 61"); // 60 rows
    assert_eq!(refused(&|m| m.horizon = 0), "horizon 0 (direct strategy)");
    assert_eq!(refused(&|m| m.correction = 2.0), "correction 2");
    assert!(refused(&|m| m.pipeline.std = 0.0).starts_with("pipeline mean"));
    assert!(refused(&|m| m.features = vec!["x".into()]).starts_with("features [\"x\"]"));
    // a direct horizon of 2 against a network of one output
    assert_eq!(refused(&|m| m.horizon = 2), "horizon 2 (direct strategy)");
    if m.meta.interval.is_some() {
        assert!(refused(&|m| m.interval.as_mut().unwrap().level = 1.5)
            .starts_with("interval: level 1.5"));
    }
    // and through the file: the error names it
    let path = out.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    // edited on purpose: the checksums made to fit, so the check behind them runs
    let edited = common::edit_metadata(&bytes, "forecast", |meta| {
        meta["ar"]["coef"].as_array_mut().unwrap().pop();
    });
    std::fs::write(&path, edited).unwrap();
    let e = Forecaster::load(&out).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("ar: inputs 6, outputs 1, 6 coefficients"),
        "{e}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_ensemble_keeps_every_network_and_averages_their_forecasts() {
    let out = dir("ensemble");
    let mut cfg = small(4, 8);
    cfg.ensemble = 3;
    let mut t = Trainer::from_series(cfg, sine(60), &out).unwrap();
    let s = t.fit(Budget::Epochs(2), &mut ()).unwrap();
    assert_eq!(s.ensemble, 3);
    let m = Forecaster::load(&out).unwrap();
    assert_eq!(m.members.len(), 2);
    // each member directory is a model of its own, seeded 1 and 2
    let m2 = Forecaster::load(&rnn::tasks::forecast::member_dir(&out, 2)).unwrap();
    assert_eq!((m2.meta.seed, m2.meta.ensemble), (1 + 1, 1));
    let series = sine(60);
    let all = m.member_forecasts_at(&series, 50, 1).unwrap();
    assert_eq!(all[2], m2.forecast_at(&series, 50, 1).unwrap());
    let mean = (all[0][0] + all[1][0] + all[2][0]) / 3.0;
    assert!((m.forecast_at(&series, 50, 1).unwrap()[0] - mean).abs() < 1e-12);
    // the interval holds the mean; eval reports its coverage and the AR baseline
    let f = m.forecast_interval_at(&series, 50, 1).unwrap();
    assert_eq!(f.level, Some(0.9));
    assert!(f.lower[0] < f.mean[0] && f.mean[0] < f.upper[0], "{f:?}");
    let r = m.evaluate(&series, None, None).unwrap();
    assert_eq!((r.ensemble, r.window, r.points), (3, 4, 8));
    assert!(r.coverage.is_some_and(|c| (0.0..=1.0).contains(&c)));
    assert!(r.ar_rmse.is_some() && r.ar_mae.is_some());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn the_ar_baseline_is_exact_on_an_ar_series_and_the_skip_starts_from_it() {
    let out = dir("ar");
    // 10 + sin(0.7 t) = 2 cos(0.7) y_{t-1} - y_{t-2} + 20 (1 - cos 0.7): AR(2)
    let series = sine(120);
    let mut cfg = TrainConfig::new("sine", 2, 20);
    (cfg.hidden, cfg.ar_skip, cfg.lr) = (4, true, 1e-9);
    Trainer::from_series(cfg, series.clone(), &out)
        .unwrap()
        .fit(Budget::Steps(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let r = m.evaluate(&series, None, Some(1)).unwrap();
    assert!(r.ar_rmse.unwrap() < 1e-4 * r.naive_rmse, "{r:?}");
    // a correction that has not moved (zero output layer, lr 1e-9): the
    // network's forecast is the AR forecast
    let ar = m.ar_forecast_at(&series, 110, 1).unwrap().unwrap()[0];
    let net = m.forecast_at(&series, 110, 1).unwrap()[0];
    assert!((ar - net).abs() < 1e-3 * ar.abs(), "{ar} vs {net}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn the_defaults_choose_on_the_validation_block_and_say_so() {
    let out = dir("auto");
    // a positive series with trend and a season of 4 (quarterly labels)
    let mut s = Series::from_values(
        "q",
        (0..100)
            .map(|i| (50.0 + i as f64) * [1.0, 1.3, 0.9, 0.7][i % 4])
            .collect(),
    );
    s.time = (0..100)
        .map(|i| format!("{}Q{}", 1990 + i / 4, i % 4 + 1))
        .collect();
    let mut cfg = TrainConfig::auto("q", 12);
    (cfg.hidden, cfg.ensemble) = (4, 2);
    let mut t = Trainer::from_series(cfg, s.clone(), &out).unwrap();
    let mut messages = Vec::new();
    let sum = t
        .fit(Budget::Epochs(2), &mut |e: &Event| {
            if let Event::Message(m) = e {
                messages.push(m.to_string())
            }
        })
        .unwrap();
    let c = sum.choice.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("chose {c}"))),
        "{messages:?}"
    );
    let m = Forecaster::load(&out).unwrap();
    assert_eq!(m.meta.season, 4);
    let saved = m.meta.choice.unwrap();
    assert_eq!(
        (m.meta.window, saved.window, &saved.diff),
        (c.window, c.window, &c.diff)
    );
    // the last stop line compares the validation scores
    let last_stop = messages.iter().rfind(|m| m.starts_with("stopped")).unwrap();
    assert!(last_stop.contains("validation RMSE") && last_stop.contains("naive"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_seasonal_ar_backbone_is_chosen_saved_and_used() {
    let out = dir("seasonal-ar");
    // monthly: y_t = 10 + 0.9 (y_{t-12} - 10) + noise, from a seasonal start
    let mut state = 3u64;
    let mut y: Vec<f64> = (0..12).map(|i| 10.0 + 3.0 * (i as f64).sin()).collect();
    for t in 12..300 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        y.push(10.0 + 0.9 * (y[t - 12] - 10.0) + 0.3 * u);
    }
    let mut s = Series::from_values("m", y);
    s.time = (0..300)
        .map(|i| format!("{}-{:02}", 1990 + i / 12, i % 12 + 1))
        .collect();
    let mut cfg = TrainConfig::auto("m", 24);
    (cfg.hidden, cfg.ensemble) = (4, 1);
    let mut t = Trainer::from_series(cfg, s.clone(), &out).unwrap();
    t.fit(Budget::Epochs(1), &mut ()).unwrap();
    let m = Forecaster::load(&out).unwrap();
    let c = m.meta.choice.clone().unwrap();
    assert!(c.lags.contains(&12) && c.seasonal_candidates > 0, "{c:?}");
    // the saved AR(p) uses those lags only: window row `window - lag`
    let ar = m.meta.ar.as_ref().unwrap();
    assert_eq!(ar.inputs, m.meta.window);
    for r in 0..m.meta.window {
        let used = c.lags.contains(&(m.meta.window - r));
        assert_eq!(ar.coef[r] != 0.0, used, "row {r}: {:?}", ar.coef);
    }
    // and scores far better than the naive forecast on the test block
    let r = m.evaluate(&s, None, None).unwrap();
    assert!(r.ar_rmse.unwrap() < 0.5 * r.naive_rmse, "{r:?}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// Differences of an ARMA(1,1) (phi 0.5, theta -0.9: a strong moving
/// average, which the grid's AR cells follow poorly) summed to a level
/// that crosses zero, so no transform but none is tried: 200 values.
fn arma_series() -> Series {
    let mut state = 9u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut y, mut d, mut a) = (vec![-3.0], 0.0, 0.0);
    for _ in 1..200 {
        let e = noise();
        d = 0.5 * d + e - 0.9 * a;
        a = e;
        y.push(y.last().unwrap() + d);
    }
    Series::from_values("v", y)
}

#[test]
fn an_arma_model_averaged_with_the_networks_is_saved_and_used() {
    let out = dir("arma");
    let s = arma_series();
    let mut cfg = TrainConfig::auto("v", 20);
    (cfg.hidden, cfg.ensemble) = (4, 2);
    let mut t = Trainer::from_series(cfg, s.clone(), &out).unwrap();
    let mut messages = Vec::new();
    t.fit(Budget::Epochs(2), &mut |e: &Event| {
        if let Event::Message(m) = e {
            messages.push(m.to_string())
        }
    })
    .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let c = m.meta.choice.clone().unwrap();
    let (arma, wa) = (c.arma.clone().unwrap(), c.arma_window.unwrap());
    assert!(
        c.combined_rmse.unwrap() < 0.98 * c.single_rmse.unwrap(),
        "{c:?}"
    );
    assert!(
        messages
            .iter()
            .any(|l| l.contains("every forecast is the average")),
        "{messages:?}"
    );
    assert_eq!(
        m.history_needed(),
        m.meta.window.max(wa) + m.meta.pipeline.lost()
    );
    // a forecast is the networks' averaged with the ARMA model's: with no
    // transform the average in normalised units is the average of the values
    let mut alone = m.clone();
    let ch = alone.meta.choice.as_mut().unwrap();
    (ch.arma, ch.arma_window) = (None, None);
    let origin = 180;
    let both = m.forecast_at(&s, origin, 1).unwrap();
    let nets = alone.forecast_at(&s, origin, 1).unwrap();
    let p = &m.meta.pipeline;
    let enc = p.encode(&s.target[..origin], &[]).unwrap();
    let x = &enc[enc.len() - wa..];
    let own = p
        .decode(
            &s.target[..origin],
            &arma.linear(wa, 1, 1).unwrap().predict(x).unwrap(),
        )
        .unwrap();
    assert!(
        (both[0] - 0.5 * (nets[0] + own[0])).abs() < 1e-9,
        "{both:?} {nets:?} {own:?}"
    );
    assert!(
        (both[0] - nets[0]).abs() > 1e-6,
        "the ARMA model changed nothing"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_checkpoint_written_during_training_is_marked_unfinished_until_the_end() {
    // a training killed part-way leaves the checkpoint of its best epoch so
    // far, without validation scores or intervals: loading it must say so
    let out = dir("unfinished");
    let mut t = Trainer::from_series(small(6, 6), sine(60), &out).unwrap();
    let mut during = Vec::new();
    let mut seen = |e: &Event| {
        if let Event::Evaluated { .. } = e {
            let f = Forecaster::load(&out).unwrap();
            during.push((f.meta.finished, f.unfinished()));
            // the file says so in its header too, for a --force run's settling
            let file = rnn::io::TensorFile::read(out.join("model.safetensors")).unwrap();
            assert_eq!(
                file.metadata()
                    .get(rnn::io::UNFINISHED_KEY)
                    .map(String::as_str),
                Some("true")
            );
        }
    };
    t.fit(Budget::Epochs(2), &mut seen).unwrap();
    assert_eq!(during.len(), 2);
    for (finished, warning) in during {
        assert!(!finished);
        let w = warning.expect("a warning");
        assert!(
            w.contains("stopped part-way") && w.contains("--force"),
            "{w}"
        );
    }
    let f = Forecaster::load(&out).unwrap();
    assert!(f.meta.finished && f.unfinished().is_none());
    assert!(f.meta.interval.is_some());
    let file = rnn::io::TensorFile::read(out.join("model.safetensors")).unwrap();
    assert!(!file.metadata().contains_key(rnn::io::UNFINISHED_KEY));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_ensemble_stopped_before_all_its_networks_were_written_loads_those_it_has() {
    // a training killed part-way (or a full disk) may leave the first
    // network's checkpoint with ensemble 3 and only member-1 written: the
    // model is usable, as far as it got, and says so; a finished model
    // missing a member is still an error naming it
    let out = dir("partial-ensemble");
    let mut cfg = small(6, 6);
    cfg.ensemble = 3;
    Trainer::from_series(cfg, sine(60), &out)
        .unwrap()
        .fit(Budget::Epochs(2), &mut ())
        .unwrap();
    std::fs::remove_dir_all(out.join("member-2")).unwrap();
    let e = Forecaster::load(&out).unwrap_err().to_string();
    assert!(e.contains("member-2"), "{e}");
    edit_meta(&out, "finished", false.into());
    let f = Forecaster::load(&out).unwrap();
    assert_eq!(f.members.len(), 1);
    let w = f.unfinished().unwrap();
    assert!(
        w.contains("2 of its 3 networks") && w.contains("--force"),
        "{w}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// Sets `field` of the forecast metadata of the model in `out` to `value`
/// (a file edited by hand, saved with its checksums).
fn edit_meta(out: &std::path::Path, field: &str, value: serde_json::Value) {
    let mut mf = rnn::io::model_file::ModelFile::load(out).unwrap();
    let key = rnn::tasks::forecast::META_KEY;
    let mut meta: serde_json::Value = serde_json::from_str(&mf.meta[key]).unwrap();
    meta[field] = value;
    mf.meta.insert(key.to_string(), meta.to_string());
    mf.save(out).unwrap();
}

#[test]
fn a_season_of_zero_or_a_bad_delimiter_in_a_model_file_is_refused_naming_the_file() {
    // `train forecast --season 0` is refused; the same value in a model file
    // was used (seasonal naive taken as naive), and a bad delimiter there was
    // blamed on a --delimiter flag never given
    let out = dir("meta-season");
    Trainer::from_series(small(6, 6), sine(60), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    edit_meta(&out, "season", 0.into());
    let e = Forecaster::load(&out).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors: metadata 'forecast'") && e.contains("season 0"),
        "{e}"
    );
    edit_meta(&out, "season", 1.into());
    edit_meta(&out, "delimiter", 0.into());
    let e = Forecaster::load(&out).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors: metadata 'forecast'") && e.contains("delimiter"),
        "{e}"
    );
    assert!(!e.contains("--delimiter"), "{e}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// A series whose public columns disagree (a time label, feature values or
/// a filled row for rows it does not have) is an error naming the field at
/// every entry point: `report` indexed `time` by the target's rows and
/// panicked (the library sweep of session 53), and training took it.
#[test]
fn a_series_whose_columns_disagree_is_refused_not_indexed() {
    let out = dir("shape");
    let mut t = Trainer::from_series(small(6, 6), sine(60), &out).unwrap();
    t.fit(Budget::Steps(2), &mut ()).unwrap();
    let f = Forecaster::load(&out).unwrap();
    type Edit = fn(&mut Series);
    let cases: [(Edit, &str); 4] = [
        (
            |s| s.time.truncate(3),
            "series.time has 3 labels: expected one per row (60)",
        ),
        (
            |s| s.time.clear(),
            "series.time has 0 labels: expected one per row (60)",
        ),
        (
            |s| s.target_filled.push(60),
            "series.target_filled names row 60: the series has 60 rows",
        ),
        (
            |s| s.feature_names.push("x".into()),
            "series.feature_names has 1 names for 0 feature columns",
        ),
    ];
    for (edit, want) in cases {
        let mut s = sine(60);
        edit(&mut s);
        let want = format!("sine: {want}");
        assert_eq!(f.report(&s, None, Some(3)).unwrap_err().to_string(), want);
        assert_eq!(f.report(&s, None, None).unwrap_err().to_string(), want);
        assert_eq!(f.forecast(&s, 1).unwrap_err().to_string(), want);
        assert_eq!(f.evaluate(&s, Some(6), None).unwrap_err().to_string(), want);
        assert_eq!(f.diagnose(&s, "x").unwrap_err().to_string(), want);
        let e = Trainer::from_series(small(6, 6), s, &dir("shape-train")).unwrap_err();
        assert_eq!(e.to_string(), want);
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// A history file is another forecaster's when any network's weights or
/// the training series differ: two forecasters of other series whose
/// networks kept the same weights took each other's history, and one
/// forecast the other's values 6 times too high (the CLI sweep of session
/// 55). A file written before `forecaster_hash` (only `model_hash`) is
/// still read.
#[test]
fn a_history_is_refused_by_a_forecaster_of_other_networks_or_another_series() {
    let out = dir("history-hash");
    let mut cfg = small(4, 8);
    cfg.ensemble = 2;
    Trainer::from_series(cfg, sine(60), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let path = out.join("h.state");
    m.save_history(&path, &[10.0, 10.5, 11.0]).unwrap();
    assert_eq!(m.load_history(&path).unwrap(), [10.0, 10.5, 11.0]);
    // the same first network, another training series
    let mut other = m.clone();
    other.meta.data_fingerprint.push('x');
    let e = other.load_history(&path).unwrap_err().to_string();
    assert!(
        e.contains("forecaster_hash") && e.contains("the history of another model"),
        "{e}"
    );
    // the same first network and series, another second network
    let mut other = m.clone();
    other.members[0].params[0] += 1.0;
    assert!(other.load_history(&path).is_err());
    // a file of an older version: model_hash only
    let f = rnn::io::TensorFile::read(&path).unwrap();
    let mut w = rnn::io::TensorWriter::new();
    w.add::<f64>("history", &[3], &f.f64("history").unwrap().data);
    for (k, v) in f.metadata() {
        if k != "forecaster_hash" {
            w.meta(k.clone(), v.clone());
        }
    }
    w.write(&path).unwrap();
    assert_eq!(m.load_history(&path).unwrap(), [10.0, 10.5, 11.0]);
    std::fs::remove_dir_all(&out).unwrap();
}

/// A recursive forecast feeds each step to the next, so a log model's
/// growth compounds: 60,000 steps printed values of 4.6e270 (past the f32
/// the networks compute in) with exit 0, and 10 million ran half a minute
/// and then blamed the weights (the CLI sweep of session 55). The error
/// names --horizon and the last step that fits; that many steps forecast.
#[test]
fn a_recursive_forecast_past_f32_names_the_horizon() {
    let out = dir("past-f32");
    let mut cfg = small(4, 6);
    (cfg.strategy, cfg.ensemble) = (Strategy::Recursive, 3);
    cfg.transform = rnn::tasks::forecast::Transform::Log;
    cfg.diff = vec![1];
    // growing 5 % a step: about 1,700 steps from 20 to f32's 3.4e38
    let grow = |i: usize| (3.0 + 0.05 * i as f64 + 0.01 * (i as f64).sin()).exp();
    let v = (0..60).map(grow).collect();
    Trainer::from_series(cfg, Series::from_values("sine", v), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let series = Series::from_values("sine", (0..60).map(grow).collect());
    let e = m.forecast(&series, 100_000).unwrap_err().to_string();
    let prefix = "--horizon 100000: the forecast leaves the range of 32-bit floats (±3.4e38) the model computes in at step ";
    assert!(e.starts_with(prefix), "{e}");
    let most: usize = e
        .rsplit("forecast at most ")
        .next()
        .unwrap()
        .trim_end_matches(" steps")
        .parse()
        .unwrap();
    assert!((100..100_000).contains(&most), "{e}");
    let f = m.forecast(&series, most).unwrap();
    assert!(f.iter().all(|v| v.abs() <= f64::from(f32::MAX)));
    // the earliest step of any of the ensemble's networks (each runs to its
    // own: the first network's step was named, and a later one's came sooner)
    let e = m.forecast(&series, most + 1).unwrap_err().to_string();
    assert!(e.contains(&format!("at step {} (", most + 1)), "{e}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// A model of monthly rows given daily ones reads each day as a month: the
/// forecast is of the next "month" of a daily file. The training file's
/// step is saved (`time_step`) and data of another step is read with a
/// warning naming both steps; data of the same step, written in another
/// label form (quarters as dates 3 months apart), or without a time
/// column, is not warned of.
#[test]
fn rows_of_another_time_step_than_the_training_files_are_warned_of() {
    let out = dir("time-step");
    std::fs::create_dir_all(&out).unwrap();
    let csv = |name: &str, label: &dyn Fn(usize) -> String| {
        let p = out.join(name);
        let rows: String = (0..60)
            .map(|i| format!("{},{}\n", label(i), 10.0 + (i as f64 * 0.7).sin()))
            .collect();
        std::fs::write(&p, format!("date,sine\n{rows}")).unwrap();
        p
    };
    let month = |i: usize| format!("{}-{:02}", 2000 + i / 12, i % 12 + 1);
    let monthly = csv("monthly.csv", &month);
    let daily = csv("daily.csv", &|i| {
        let d = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i as u64);
        d.to_string()
    });
    let month_ends = csv("month-ends.csv", &|i| {
        let first = chrono::NaiveDate::from_ymd_opt(2000 + i as i32 / 12, i as u32 % 12 + 1, 1);
        (first.unwrap() + chrono::Months::new(1))
            .pred_opt()
            .unwrap()
            .to_string()
    });
    let model = out.join("m");
    let cfg = small(4, 6);
    Trainer::new(cfg, &monthly, &model)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&model).unwrap();
    assert_eq!(m.meta.time_step.as_deref(), Some("1 month"));
    let w = m.read_series(&daily).unwrap().warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].ends_with("daily.csv: its rows step by 1 day (time labels \"2020-01-01\", \"2020-01-02\"), the training file's by 1 month: the model reads each row as one step of the training file's"),
        "{}",
        w[0]
    );
    for same in [&monthly, &month_ends] {
        assert_eq!(m.read_series(same).unwrap().warnings, Vec::<String>::new());
    }
    // working days from a Friday: the first two labels step by 3 days, the
    // rows by 1 day; the message shows two labels a day apart (Mon, Tue)
    use chrono::Datelike;
    let days =
        (0..).map(|i| chrono::NaiveDate::from_ymd_opt(2020, 1, 3).unwrap() + chrono::Days::new(i));
    let labels: Vec<String> = days
        .filter(|d| d.weekday().number_from_monday() <= 5)
        .take(60)
        .map(|d| d.to_string())
        .collect();
    let working = csv("working-days.csv", &|i| labels[i].clone());
    let w = m.read_series(&working).unwrap().warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("its rows step by 1 day (time labels \"2020-01-06\", \"2020-01-07\")"),
        "{}",
        w[0]
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// A recursive forecaster averaged with an ARMA model computes the ARMA's
/// weights of every lead (`Arma::linear`, at most 4,096 leads): a longer
/// --horizon ran every network step first and then failed naming
/// `outputs`, an argument the user never gave. It is refused before any
/// step, naming --horizon and the most steps there are; that many forecast.
#[test]
fn a_horizon_past_the_arma_models_leads_is_refused_first_naming_the_horizon() {
    let out = dir("arma-horizon");
    // the series whose ARMA model the test above sees kept
    let s = arma_series();
    let mut cfg = TrainConfig::auto("v", 20);
    (cfg.hidden, cfg.ensemble, cfg.strategy) = (4, 1, Strategy::Recursive);
    Trainer::from_series(cfg, s.clone(), &out)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let m = Forecaster::load(&out).unwrap();
    let c = m.meta.choice.clone().unwrap();
    assert!(c.arma.is_some() && c.arma_window.is_some(), "{c:?}");
    let e = m.forecast(&s, 4097).unwrap_err().to_string();
    assert!(
        e.starts_with("--horizon 4097: this model averages its forecasts with ARMA(")
            && e.ends_with("whose forecast weights are computed for at most 4096 steps ahead: forecast at most 4096 steps"),
        "{e}"
    );
    assert_eq!(m.forecast(&s, 4096).unwrap().len(), 4096);
    std::fs::remove_dir_all(&out).unwrap();
}
