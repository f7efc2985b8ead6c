//! Tests of the choice of window, transform, differencing and base.

use super::*;
use crate::tasks::forecast::Choose;

#[test]
fn origins_of_the_validation_block() {
    // 20 fitted rows, the last 4 validate: one-step origins 16..=19
    assert_eq!(val_origins(20, 4, 1, 3), [16, 17, 18, 19]);
    // 3-step blocks ending in rows 16..20: origins 14..=17
    assert_eq!(val_origins(20, 4, 3, 3), [14, 15, 16, 17]);
    // not before `need` rows of history
    assert_eq!(val_origins(20, 4, 3, 16), [16, 17]);
    assert!(val_origins(20, 0, 1, 1).is_empty());
    assert_eq!(val_rows(0.1, 247), 25);
}

#[test]
fn the_grid_finds_the_structure_of_the_series() {
    // a pattern repeating every 6 rows plus a little noise (sd 0.058):
    // windows under 6 cannot follow it, longer ones average the noise
    let mut state = 7u64;
    let y: Vec<f64> = (0..120)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            10.0 + [0.0, 3.0, 5.0, 2.0, -1.0, -4.0][i % 6] + 0.2 * u
        })
        .collect();
    let mut cfg = TrainConfig::new("v", 1, 0);
    cfg.choose = Choose::all();
    let c = choose(&y, &[], &cfg, 6, ("v", &[])).unwrap();
    assert!(c.val_rmse.unwrap() < 0.1 && c.window >= 6, "{c:?}");
    // log and sqrt only where their domain allows: 11 windows (6 and 12
    // among them) x 3 transforms x 3 differencings
    assert_eq!(c.candidates, 11 * 3 * 3);
    let low = y.iter().cloned().fold(f64::INFINITY, f64::min);
    let with_zero: Vec<f64> = y.iter().map(|v| v - low).collect(); // min 0
    let c = choose(&with_zero, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(c.candidates, 11 * 2 * 2); // none, sqrt x none, 1
    let negative: Vec<f64> = y.iter().map(|v| v - 10.0).collect();
    let c = choose(&negative, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(c.candidates, 11 * 2);
    // positive training rows, a 0 and a negative value later in the file
    // (its test block): neither log nor sqrt is offered
    let mut domain = y.clone();
    domain.push(0.0);
    let c = choose_within(&y, &domain, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(c.candidates, 11 * 2 * 2); // none, sqrt x none, 1
    domain.push(-0.2);
    let c = choose_within(&y, &domain, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(c.candidates, 11 * 2);
    // only the window chosen: the others as given
    cfg.choose = Choose {
        window: true,
        ..Choose::default()
    };
    let c = choose(&y, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!((c.transform, c.candidates), (Transform::None, 11));
    // a constant series: the pipeline's own error
    let e = choose(&[5.0; 50], &[], &cfg, 1, ("v", &[])).unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
}

/// A seeded uniform number in [-0.5, 0.5).
fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

#[test]
fn the_backtest_pools_the_blocks_before_the_validation_block() {
    // the score over three folds is the pooled score of three one-block
    // scores, each on the series cut f blocks before its end
    let mut state = 11u64;
    let mut y = vec![0.0, 0.0];
    for t in 2..150 {
        let v = 1.2 * y[t - 1] - 0.5 * y[t - 2] + noise(&mut state);
        y.push(v);
    }
    let p = Pipeline::fit(&y, &[], Transform::None, &[1], ("v", &[])).unwrap();
    let val = 15;
    let three = score_cell(&y, &[], &p, 3, &[], 1, (1, val, 3)).unwrap();
    let one = |f: usize| {
        let cut = &y[..y.len() - f * val];
        score_cell(cut, &[], &p, 3, &[], 1, (1, val, 1)).unwrap()
    };
    let pooled = ((one(0).powi(2) + one(1).powi(2) + one(2).powi(2)) / 3.0).sqrt();
    assert!((three - pooled).abs() < 1e-12, "{three} {pooled}");
    assert!(one(0) != one(1) && one(1) != one(2));
    // folds that run out of windows are left out: 34 rows, blocks of 15,
    // 3 windows before the second block
    let short = &y[..34];
    let p = Pipeline::fit(short, &[], Transform::None, &[], ("v", &[])).unwrap();
    let a = score_cell(short, &[], &p, 1, &[], 1, (1, val, 3));
    assert_eq!(a, score_cell(short, &[], &p, 1, &[], 1, (1, val, 1)));
    assert!(a.is_some());
}

#[test]
fn seasonal_cells_by_hand() {
    assert!(seasonal_cells(1).is_empty());
    let c = seasonal_cells(12);
    // k = 2, 3, 4 seasons, q = 0..=3 short lags each
    assert_eq!(c.len(), 12);
    assert_eq!(c[0], (24, vec![12, 24]));
    assert_eq!(c[3], (24, vec![1, 2, 3, 12, 13, 14, 15, 24]));
    assert_eq!(c[11].0, 48);
    // quarters: q up to 2; weeks: only 2 seasons (104, the grid's 2s)
    assert_eq!(seasonal_cells(4)[2], (8, vec![1, 2, 4, 5, 6, 8]));
    assert_eq!(seasonal_cells(4).len(), 9);
    let w = seasonal_cells(52);
    assert_eq!(w.len(), 4);
    assert!(w.iter().all(|(win, _)| *win == 104));
}

#[test]
fn a_seasonal_ar_is_chosen_for_a_seasonal_ar_series() {
    // y_t = 0.9 y_{t-12} + noise around a level: two seasonal lags say it
    // with 2 coefficients where a dense window needs 12 or more
    let mut state = 5u64;
    let mut y: Vec<f64> = (0..12).map(|i| 10.0 + (i as f64).sin() * 3.0).collect();
    for t in 12..400 {
        let v = 1.0 + 0.9 * y[t - 12] + 0.3 * noise(&mut state);
        y.push(v);
    }
    let mut cfg = TrainConfig::new("v", 1, 0);
    cfg.choose = Choose::all();
    let c = choose(&y, &[], &cfg, 12, ("v", &[])).unwrap();
    assert!(c.lags.contains(&12) && c.lags.len() <= 4, "{c:?}");
    assert_eq!(
        c.window,
        12 * c.lags.iter().filter(|&&l| l % 12 == 0).count()
    );
    assert_eq!(
        (c.candidates, c.seasonal_candidates),
        (11 * 3 * 3, 12 * 3 * 3)
    );
    // with a feature column only the grid's windows are scored
    let f = vec![(0..400).map(|i| (i % 7) as f64).collect::<Vec<f64>>()];
    let c = choose(&y, &f, &cfg, 12, ("v", &["f".to_string()])).unwrap();
    assert!(c.lags.is_empty() && c.seasonal_candidates == 0, "{c:?}");
}

#[test]
fn naive_errors_by_hand() {
    let y = [1.0, 2.0, 4.0, 7.0, 11.0, 16.0, 22.0];
    // origin 4 (forecast from rows 0..4), leads 0 and 1: naive 7
    let pts = [(4, 0, 0.0), (4, 1, 0.0)];
    let e = naive_errors(&y, &pts, 1).unwrap();
    assert_eq!(e, [(7.0f64 - 11.0).powi(2), (7.0f64 - 16.0).powi(2)]);
    // season 2: lead 1 takes row 2 (4), lead 2 row 3 (7)
    let e = naive_errors(&y, &pts, 2).unwrap();
    assert_eq!(e, [(4.0f64 - 11.0).powi(2), (7.0f64 - 16.0).powi(2)]);
    // season 5 reaches before the first row
    assert!(naive_errors(&y, &pts, 5).is_none());
}

#[test]
fn a_random_walk_keeps_the_naive_forecast_and_an_ar_series_its_ar() {
    // a random walk: no cell's gain over the naive forecast is clear
    let mut state = 17u64;
    let mut y = vec![100.0];
    for _ in 1..160 {
        let v = y.last().unwrap() + noise(&mut state);
        y.push(v);
    }
    let mut cfg = TrainConfig::new("v", 1, 0);
    cfg.choose = Choose::all();
    let c = choose(&y, &[], &cfg, 1, ("v", &[])).unwrap();
    assert!(c.naive && c.diff == [1] && c.lags.is_empty(), "{c:?}");
    assert_eq!(c.val_rmse, c.naive_rmse);
    // its base forecast is the last value: a zero change, encoded
    let p = Pipeline::fit(&y, &[], c.transform, &c.diff, ("v", &[])).unwrap();
    let enc = p.encode(&y, &[]).unwrap();
    let wins = windows(enc.len(), c.window, 1).unwrap();
    let refs: Vec<&Window> = wins.iter().collect();
    let base = fit_base(&enc, 1, &refs, &Some(c.clone()), &p).unwrap();
    let next = linear_forecast(&base, &enc, 1, c.window, enc.len(), 1);
    let back = p.decode(&y, &next).unwrap();
    assert!((back[0] - y[159]).abs() < 1e-9, "{back:?} {}", y[159]);
    // a stationary AR(2) around 50: the AR's gain is clear, no naive base
    let mut z = vec![50.0, 50.0];
    for t in 2..160 {
        let v = 50.0 + 1.2 * (z[t - 1] - 50.0) - 0.5 * (z[t - 2] - 50.0) + noise(&mut state);
        z.push(v);
    }
    let c = choose(&z, &[], &cfg, 1, ("v", &[])).unwrap();
    assert!(
        !c.naive && c.naive_rmse.unwrap() > c.val_rmse.unwrap(),
        "{c:?}"
    );
    // differencing given: no naive choice is offered
    cfg.choose.diff = false;
    let c = choose(&y, &[], &cfg, 1, ("v", &[])).unwrap();
    assert!(!c.naive && c.naive_rmse.is_none(), "{c:?}");
}

#[test]
fn a_local_level_series_chooses_the_level_base() {
    // y_t = m_t + e_t, m_t = m_{t-1} + n_t, e and n uniform with sd
    // 0.289 and 0.087 (q = 0.09): the steady-state smoothing weight is
    // (-q + sqrt(q² + 4q)) / 2 = 0.26, the naive forecast's error
    // variance (2 + q) var(e), the level's var(e) / (1 - alpha) = 1.35
    // var(e)
    let mut state = 23u64;
    let (mut m, mut y) = (50.0, Vec::new());
    for _ in 0..300 {
        m += 0.3 * noise(&mut state);
        y.push(m + noise(&mut state));
    }
    let mut cfg = TrainConfig::new("v", 1, 0);
    cfg.choose = Choose::all();
    let c = choose(&y, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(
        (c.base, c.base()),
        (Some(Base::Level), Base::Level),
        "{c:?}"
    );
    assert!(!c.naive && c.diff == [1] && c.lags.is_empty(), "{c:?}");
    let alpha = c.alpha.unwrap();
    assert!((0.1..0.45).contains(&alpha), "{c:?}");
    assert!(
        c.level_rmse.unwrap() < 0.98 * c.naive_rmse.unwrap(),
        "{c:?}"
    );
    assert_eq!(c.val_rmse, c.level_rmse);
    // (1 - alpha)^W <= 0.05 < (1 - alpha)^(W - 1), the window the base needs
    let theta: f64 = 1.0 - alpha;
    assert!(theta.powi(c.window as i32) <= 0.05 && theta.powi(c.window as i32 - 1) > 0.05);
    // the saved choice reads back the same, and its base is the
    // smoothing as a linear model on the window
    let back: Choice = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let p = Pipeline::fit(&y, &[], c.transform, &c.diff, ("v", &[])).unwrap();
    let enc = p.encode(&y, &[]).unwrap();
    let wins = windows(enc.len(), c.window, 1).unwrap();
    let refs: Vec<&Window> = wins.iter().collect();
    let base = fit_base(&enc, 1, &refs, &Some(c.clone()), &p).unwrap();
    assert_eq!(base, Level::ses(alpha).linear(c.window, 1, 1, &p).unwrap());
    // the AR(2) series of the test above still keeps its AR
    let mut z = vec![50.0, 50.0];
    for t in 2..300 {
        let v = 50.0 + 1.2 * (z[t - 1] - 50.0) - 0.5 * (z[t - 2] - 50.0) + noise(&mut state);
        z.push(v);
    }
    let c = choose(&z, &[], &cfg, 1, ("v", &[])).unwrap();
    assert_eq!(c.base, Some(Base::Ar), "{c:?}");
    assert!(c.level_rmse.unwrap() > c.val_rmse.unwrap(), "{c:?}");
}
