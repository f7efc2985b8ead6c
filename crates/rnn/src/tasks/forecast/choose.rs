//! Choosing the window, transform and differencing on the validation block
//! (the rows right before the test block, never the test block) with a cheap
//! proxy: for every cell of a small grid an AR(p) model ([`Linear`], p = the
//! window) is fitted by least squares on the training windows and scored on
//! the validation block in target units. The network is then trained once
//! per seed with the winning cell: a grid of networks would cost the grid's
//! size times the training, the proxy costs milliseconds and does not depend
//! on the seed.

use super::config::TrainConfig;
use super::linear::Linear;
use super::meta::Choice;
use super::pipeline::{Pipeline, Transform};
use super::windows::{windows, Window};
use crate::{Error, Result};

/// Rows of the validation block at the end of `rows` fitted rows:
/// `round(val_frac * rows)`, at least 1 (0 when `val_frac` is 0).
pub fn val_rows(val_frac: f64, rows: usize) -> usize {
    if val_frac > 0.0 {
        ((val_frac * rows as f64).round() as usize).max(1)
    } else {
        0
    }
}

/// The forecast origins of the validation block: every origin `o` from
/// which a block of `h` rows, forecast from at least `need` rows, ends inside
/// the last `val` of the `fit_rows` rows.
pub fn val_origins(fit_rows: usize, val: usize, h: usize, need: usize) -> Vec<usize> {
    if fit_rows < h || val == 0 {
        return Vec::new();
    }
    let lo = need.max((fit_rows - val + 1).saturating_sub(h));
    (lo..=fit_rows - h).collect()
}

/// Forecasts `h` rows after raw row `origin` with the linear model on the
/// encoded series `enc` (`[M, I]`, row j = raw row j + lost): all at once
/// (direct) or one at a time, fed back (recursive). Normalised units.
pub(crate) fn linear_forecast(
    lin: &Linear,
    enc: &[f64],
    width: usize,
    window: usize,
    start: usize,
    h: usize,
) -> Vec<f64> {
    let mut x: Vec<f64> = enc[(start - window) * width..start * width].to_vec();
    if lin.outputs >= h {
        return lin.predict(&x)[..h].to_vec();
    }
    let mut out = Vec::with_capacity(h);
    for _ in 0..h {
        let next = lin.predict(&x)[0];
        out.push(next);
        x.drain(..width);
        x.push(next);
    }
    out
}

/// One grid cell fitted on the training windows and scored on the validation
/// block: `(rmse, points)`; `None` when the cell does not fit the data.
fn score_cell(
    y: &[f64],
    feats: &[Vec<f64>],
    p: &Pipeline,
    window: usize,
    outputs: usize,
    h: usize,
    val: usize,
) -> Option<f64> {
    let width = 1 + feats.len();
    let lost = p.lost();
    let enc = p.encode(y, feats).ok()?;
    let m = enc.len() / width;
    let fit_rows = y.len();
    let train: Vec<Window> = windows(m, window, outputs)
        .into_iter()
        .filter(|w| w.target.end + lost + val <= fit_rows)
        .collect();
    if train.len() < 2 * (window * width + 1) + 5 {
        return None;
    }
    let lin = Linear::fit(&enc, width, &train.iter().collect::<Vec<_>>())?;
    let (mut se, mut count) = (0.0, 0usize);
    for o in val_origins(fit_rows, val, h, window + lost) {
        let pred = linear_forecast(&lin, &enc, width, window, o - lost, h);
        let back = p.decode(&y[..o], &pred).ok()?;
        for (f, a) in back.iter().zip(&y[o..o + h]) {
            se += (f - a) * (f - a);
        }
        count += h;
    }
    let rmse = (se / count.max(1) as f64).sqrt();
    (count > 0 && rmse.is_finite()).then_some(rmse)
}

/// Chooses what `cfg.choose` asks for on the training rows `y` (and
/// `feats`, `[F][N]`), season `season`; the rest is taken from `cfg`. Cells
/// whose pipeline cannot be fitted (a constant series, too few rows) are
/// skipped; when none is left, the error of the first cell is returned. Of
/// the cells within 2 % of the best validation RMSE the one with the smallest
/// window wins (then the lowest RMSE).
pub(crate) fn choose(
    y: &[f64],
    feats: &[Vec<f64>],
    cfg: &TrainConfig,
    season: usize,
    names: (&str, &[String]),
) -> Result<Choice> {
    let val = val_rows(cfg.val_frac, y.len());
    if val == 0 {
        return Err(Error::Config(
            "--val-frac 0: choosing --window, --transform or --diff needs a validation block (give them, or --val-frac > 0)"
                .into(),
        ));
    }
    let mut wins = vec![cfg.window];
    if cfg.choose.window {
        wins = vec![1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48];
        if season > 1 {
            wins.extend([season, 2 * season]);
        }
        wins.sort_unstable();
        wins.dedup();
    }
    // each transform where its domain allows: log for positive series,
    // sqrt for series without negative values
    let mut transforms = vec![cfg.transform];
    if cfg.choose.transform {
        transforms = vec![Transform::None];
        if y.iter().all(|&v| v > 0.0) {
            transforms.push(Transform::Log);
        }
        if y.iter().all(|&v| v >= 0.0) {
            transforms.push(Transform::Sqrt);
        }
    }
    let mut diffs = vec![cfg.diff.clone()];
    if cfg.choose.diff {
        diffs = vec![vec![], vec![1]];
        if season > 1 {
            diffs.push(vec![season]);
        }
    }
    let outputs = cfg.outputs();
    let h = cfg.horizon;
    let (mut scored, mut first_err, mut candidates) = (Vec::<Choice>::new(), None, 0);
    for &t in &transforms {
        for d in &diffs {
            let p = match Pipeline::fit(y, feats, t, d, names) {
                Ok(p) => p,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            for &w in &wins {
                candidates += 1;
                let Some(rmse) = score_cell(y, feats, &p, w, outputs, h, val) else {
                    continue;
                };
                scored.push(Choice {
                    window: w,
                    transform: t,
                    diff: d.clone(),
                    candidates: 0,
                    val_rmse: Some(rmse),
                });
            }
        }
    }
    // parsimony: the smallest window within 2 % of the best score (a small
    // validation block cannot tell closer cells apart), then the best score
    let rmse = |c: &Choice| c.val_rmse.unwrap_or(f64::INFINITY);
    let top = scored.iter().map(rmse).fold(f64::INFINITY, f64::min);
    let best = scored
        .into_iter()
        .filter(|c| rmse(c) <= top * 1.02)
        .min_by(|a, b| {
            (a.window, rmse(a))
                .partial_cmp(&(b.window, rmse(b)))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    match (best, first_err) {
        (Some(mut b), _) => {
            b.candidates = candidates;
            Ok(b)
        }
        (None, Some(e)) => Err(e),
        (None, None) => Err(Error::Config(format!(
            "{} training rows: too few to choose --window, --transform or --diff on a validation block of {val} rows (give them, or use more rows)",
            y.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
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
}
