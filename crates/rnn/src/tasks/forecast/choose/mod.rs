//! Choosing the window, transform and differencing on the validation block
//! and the blocks before it (the rows right before the test block, never the
//! test block) with a cheap proxy: for every cell of a small grid an AR(p)
//! model ([`Linear`], p = the window; or a seasonal AR on a few lags of it)
//! is fitted by least squares on the windows before each block and scored
//! on the block in target units (a rolling-origin backtest). The network is then trained once
//! per seed with the winning cell: a grid of networks would cost the grid's
//! size times the training, the proxy costs milliseconds and does not depend
//! on the seed.

use super::config::TrainConfig;
use super::gain::clear_gain;
use super::level::Level;
use super::linear::Linear;
use super::meta::{Base, Choice};
use super::pipeline::{Pipeline, Transform};
use super::windows::{windows, Window};
use crate::{Error, Result};

/// Rows of the validation block at the end of `rows` fitted rows:
/// `round(val_frac * rows)`, at least 1 and at most `rows` (0 when
/// `val_frac` is 0, negative or NaN).
///
/// ```
/// use rnn::tasks::forecast::val_rows;
/// assert_eq!(val_rows(0.2, 48), 10);
/// assert_eq!(val_rows(0.001, 48), 1);
/// assert_eq!(val_rows(2.0, 10), 10); // not 20 rows of 10
/// assert_eq!(val_rows(f64::NAN, 10), 0);
/// ```
pub fn val_rows(val_frac: f64, rows: usize) -> usize {
    if val_frac > 0.0 {
        ((val_frac * rows as f64).round() as usize).clamp(1, rows.max(1))
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
        return lin.outputs_of(&x)[..h].to_vec();
    }
    let mut out = Vec::with_capacity(h);
    for _ in 0..h {
        let next = lin.outputs_of(&x)[0];
        out.push(next);
        x.drain(..width);
        x.push(next);
    }
    out
}

/// A point of the backtest: the forecast origin, the lead (0 = the first
/// step) and the squared error in target units.
pub(super) type Point = (usize, usize, f64);

/// One grid cell (AR(p) on `lags` of the window, all of them when empty)
/// scored by a rolling-origin backtest: fold f (0 = the validation block)
/// is the block of `val` rows ending `f * val` rows before the end of the
/// training rows; the AR is fitted on the windows whose targets end before
/// the block and forecasts the block's origins. Returns the RMSE pooled
/// over the folds (up to `folds`; an earlier fold without enough windows
/// ends them); `None` when the cell does not fit the data.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn score_cell(
    y: &[f64],
    feats: &[Vec<f64>],
    p: &Pipeline,
    window: usize,
    lags: &[usize],
    outputs: usize,
    fold: (usize, usize, usize),
) -> Option<f64> {
    let points = backtest_cell(y, feats, p, window, lags, outputs, fold)?;
    pooled_rmse(&points)
}

/// The root mean of the squared errors of `points`; `None` without points
/// or when it is not finite.
fn pooled_rmse(points: &[Point]) -> Option<f64> {
    let se: f64 = points.iter().map(|p| p.2).sum();
    let rmse = (se / points.len().max(1) as f64).sqrt();
    (!points.is_empty() && rmse.is_finite()).then_some(rmse)
}

/// The points [`score_cell`] pools.
#[allow(clippy::too_many_arguments)]
fn backtest_cell(
    y: &[f64],
    feats: &[Vec<f64>],
    p: &Pipeline,
    window: usize,
    lags: &[usize],
    outputs: usize,
    (h, val, folds): (usize, usize, usize),
) -> Option<Vec<Point>> {
    let width = 1 + feats.len();
    let lost = p.lost();
    let enc = p.encode(y, feats).ok()?;
    let m = enc.len() / width;
    let fit_rows = y.len();
    let params = coefficients(window, lags, width);
    let all = windows(m, window, outputs).ok()?;
    let mut points = Vec::new();
    for f in 0..folds.max(1) {
        let Some(start) = fit_rows.checked_sub((f + 1) * val) else {
            break;
        };
        let train: Vec<&Window> = all
            .iter()
            .filter(|w| w.target.end + lost <= start)
            .collect();
        if train.len() < 2 * (params + 1) + 5 {
            if f == 0 {
                return None;
            }
            break;
        }
        let lin = Linear::fit_lags(&enc, width, &train, lags)?;
        for o in val_origins(start + val, val, h, window + lost) {
            let pred = linear_forecast(&lin, &enc, width, window, o - lost, h);
            let back = p.decode(&y[..o], &pred).ok()?;
            for (i, (f, a)) in back.iter().zip(&y[o..o + h]).enumerate() {
                points.push((o, i, (f - a) * (f - a)));
            }
        }
    }
    Some(points)
}

/// The squared errors of the naive forecast (`season` 1: the last value
/// before the origin) or the seasonal naive one (for lead k the value
/// `season * ceil(k / season)` rows before the target) at `points`; `None`
/// when a point has no such value.
fn naive_errors(y: &[f64], points: &[Point], season: usize) -> Option<Vec<f64>> {
    points
        .iter()
        .map(|&(o, i, _)| {
            let back = season * (i + 1).div_ceil(season);
            let from = (o + i).checked_sub(back)?;
            Some((y[from] - y[o + i]).powi(2))
        })
        .collect()
}

/// The base forecast (in encoded units) the networks correct and the
/// forecast intervals are scaled by, fitted on windows `wins` of `enc`
/// (`[M, I]`): the AR(p) on the choice's lags ([`Linear::fit_lags`]), or
/// with a naive choice ([`Choice::naive`]) the model whose every output is
/// the encoded zero change of `pipeline` (the naive or seasonal naive
/// forecast). `None` without windows.
pub(crate) fn fit_base(
    enc: &[f64],
    width: usize,
    wins: &[&Window],
    choice: &Option<Choice>,
    pipeline: &Pipeline,
) -> Option<Linear> {
    if let Some(level) = choice.as_ref().and_then(Choice::level) {
        let first = wins.first()?;
        let window = first.input.len();
        return level
            .linear(window, width, first.target.len(), pipeline)
            .ok();
    }
    match choice {
        Some(c) if c.naive => {
            let first = wins.first()?;
            let inputs = first.input.len() * width;
            Linear::constant(inputs, first.target.len(), -pipeline.mean / pipeline.std).ok()
        }
        _ => Linear::fit_lags(enc, width, wins, choice.as_ref().map_or(&[], |c| &c.lags)),
    }
}

/// The AR coefficients (besides the intercept) of a cell: every input of
/// the window (`width` per step), or only `lags` when given.
fn coefficients(window: usize, lags: &[usize], width: usize) -> usize {
    if lags.is_empty() {
        window * width
    } else {
        lags.len()
    }
}

/// Blocks of the rolling-origin backtest that scores the grid: the
/// validation block and the two blocks of its size before it. One short
/// block is a noisy judge (on airline, Nile and elec_equip the AR of the
/// cell best on it did worse on the test block than the one three blocks
/// pick); three folds triple the points at the cost of three fits per cell.
pub const CHOICE_FOLDS: usize = 3;

/// Seasons (at most) the seasonal AR cells reach back.
const SEASONAL_SPAN: usize = 4;

/// The seasonal AR cells of season `s`: `(window, lags)` with the short
/// lags 1..=q (q from 0 to 3, at most s/2), the seasonal lags s, 2s, ..., ks
/// and their neighbours s+1..s+q (the lags of a multiplicative seasonal AR),
/// window ks, for k from 2 to 4 while ks is at most `max(48, 2s)` (the
/// longest window of the grid, so the network's window, and its training
/// time, stays within what the grid allows).
pub(crate) fn seasonal_cells(s: usize) -> Vec<(usize, Vec<usize>)> {
    let mut cells = Vec::new();
    if s < 2 {
        return cells;
    }
    for k in (2..=SEASONAL_SPAN).filter(|&k| k * s <= longest_window(s)) {
        for q in 0..=3usize.min(s / 2) {
            let mut lags: Vec<usize> = (1..=q).chain((1..=k).map(|j| j * s)).collect();
            lags.extend((1..=q).map(|j| s + j));
            lags.sort_unstable();
            lags.dedup();
            cells.push((k * s, lags));
        }
    }
    cells
}

/// [`choose_within`] with the training rows as the domain.
#[cfg(test)]
pub(crate) fn choose(
    y: &[f64],
    feats: &[Vec<f64>],
    cfg: &TrainConfig,
    season: usize,
    names: (&str, &[String]),
) -> Result<Choice> {
    choose_within(y, y, feats, cfg, season, names)
}

/// Chooses what `cfg.choose` asks for on the training rows `y` (and
/// `feats`, `[F][N]`), season `season`; the rest is taken from `cfg`. Cells
/// whose pipeline cannot be fitted (a constant series, too few rows) are
/// skipped; when none is left, the error of the first cell is returned.
/// Without features and with a season above 1, the seasonal AR cells
/// ([`seasonal_cells`]) join the grid's windows. Each cell is scored by the
/// rolling-origin backtest of [`CHOICE_FOLDS`] blocks; of the cells within
/// 2 % of the best RMSE the one with the fewest AR coefficients (the
/// smallest window) wins (then the lowest RMSE).
///
/// Log and sqrt are offered only where every value of `domain` (all the rows
/// the model will read, `y` among them: the file's test block too, whose
/// values it forecasts from) is in their domain. Without that, a series positive on
/// its training rows and with a 0 or a negative value in its test block
/// (ggplot2's `economics`, `psavert` -0.2 in 2001) could choose log, and
/// `rnn eval` then stopped at that value.
pub(crate) fn choose_within(
    y: &[f64],
    domain: &[f64],
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
        if domain.iter().all(|&v| v > 0.0) {
            transforms.push(Transform::Log);
        }
        if domain.iter().all(|&v| v >= 0.0) {
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
    let (mut scored, mut first_err) = (Vec::<(Choice, Vec<Point>)>::new(), None);
    let (mut candidates, mut seasonal) = (0, 0);
    for &t in &transforms {
        for d in &diffs {
            // a differencing the grid offers but the rows cannot bear is
            // left out, not reported (the user did not ask for it)
            if cfg.choose.diff && y.len() < d.iter().sum::<usize>() + 2 {
                continue;
            }
            let p = match Pipeline::fit(y, feats, t, d, names) {
                Ok(p) => p,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            // the grid's windows (every lag), then the seasonal AR cells
            let mut cells: Vec<(usize, Vec<usize>)> =
                wins.iter().map(|&w| (w, Vec::new())).collect();
            if cfg.choose.window && feats.is_empty() {
                cells.extend(seasonal_cells(season));
            }
            for (w, lags) in cells {
                match lags.is_empty() {
                    true => candidates += 1,
                    false => seasonal += 1,
                }
                let fold = (h, val, CHOICE_FOLDS);
                let Some(points) = backtest_cell(y, feats, &p, w, &lags, outputs, fold) else {
                    continue;
                };
                let Some(rmse) = pooled_rmse(&points) else {
                    continue;
                };
                let c = Choice {
                    window: w,
                    transform: t,
                    diff: d.clone(),
                    candidates: 0,
                    val_rmse: Some(rmse),
                    seasonal_candidates: 0,
                    lags,
                    naive: false,
                    naive_rmse: None,
                    base: None,
                    alpha: None,
                    level_rmse: None,
                    arma: None,
                    arma_window: None,
                    combined_rmse: None,
                    single_rmse: None,
                };
                scored.push((c, points));
            }
        }
    }
    let width = 1 + feats.len();
    let Some((best, points)) = parsimonious(&scored, width) else {
        return Err(first_err.unwrap_or_else(|| {
            Error::Config(format!(
                "{} training rows: too few to choose --window, --transform or --diff on a validation block of {val} row{} (give them, or use more rows)",
                y.len(),
                if val == 1 { "" } else { "s" }
            ))
        }));
    };
    let mut best = best.clone();
    (best.candidates, best.seasonal_candidates) = (candidates, seasonal);
    if cfg.choose.diff {
        let lv = LevelSet {
            feats,
            names,
            h,
            val,
            outputs,
        };
        best = choose_base(y, best, points, &scored, width, &lv);
        if cfg.choose.window && feats.is_empty() {
            best = super::combine::combine_arma(y, best, points, &lv, season);
        }
    }
    Ok(best)
}

/// Of the `scored` cells within 2 % of the best RMSE, the one with the
/// fewest AR coefficients (the smallest window), then the best RMSE (a
/// small validation block cannot tell closer cells apart).
fn parsimonious(scored: &[(Choice, Vec<Point>)], width: usize) -> Option<&(Choice, Vec<Point>)> {
    let rmse = |c: &Choice| c.val_rmse.unwrap_or(f64::INFINITY);
    let params = |c: &Choice| coefficients(c.window, &c.lags, width);
    let top = scored
        .iter()
        .map(|s| rmse(&s.0))
        .fold(f64::INFINITY, f64::min);
    scored
        .iter()
        .filter(|s| rmse(&s.0) <= top * 1.02)
        .min_by(|(a, _), (b, _)| {
            (params(a), rmse(a))
                .partial_cmp(&(params(b), rmse(b)))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
}

/// What [`level_errors`] and the ARMA combination need besides the series: features and their
/// names, horizon, validation rows and outputs of the grid.
pub(super) struct LevelSet<'a> {
    pub(super) feats: &'a [Vec<f64>],
    pub(super) names: (&'a str, &'a [String]),
    pub(super) h: usize,
    pub(super) val: usize,
    pub(super) outputs: usize,
}

/// The grid's longest window for season `season`: 48 steps or two seasons
/// (the seasonal cells' reach too).
pub(super) fn longest_window(season: usize) -> usize {
    48.max(2 * season)
}

impl LevelSet<'_> {
    /// The backtest fold whose block holds the targets `o..o+h` of the
    /// training rows `rows` (0 = the validation block) and the first row of
    /// that block; `None` past the rows.
    pub(super) fn fold_of(&self, rows: usize, o: usize) -> Option<(usize, usize)> {
        let f = rows.checked_sub(o + self.h)? / self.val.max(1);
        Some((f, rows.checked_sub((f + 1) * self.val)?))
    }
}

/// The root mean of squared errors `e` (0 without any).
pub(super) fn rms(e: &[f64]) -> f64 {
    (e.iter().sum::<f64>() / e.len().max(1) as f64).sqrt()
}

/// The squared errors of the local level ([`Level::fit`], simple
/// exponential smoothing) of the series `y` encoded by `p` (with
/// differencing 1) at the backtest `points`: at each point it is fitted on the
/// transformed rows before the point's block (as the AR cells are fitted on
/// the windows before it) and forecasts from its origin as the [`Linear`]
/// the networks would correct. Its window is the smallest that leaves out
/// at most 5 % of the weight ([`Level::window`], fitted on all of `y`), at
/// least `min_window`, at most 48 and what the earliest point's history
/// allows. Returns the model fitted on all of `y`, the window and the
/// errors; `None` when a fit fails.
fn level_errors(
    y: &[f64],
    p: &Pipeline,
    min_window: usize,
    points: &[Point],
    lv: &LevelSet,
) -> Option<(Level, usize, Vec<f64>)> {
    let z = p.transformed(y).ok()?;
    let full = Level::fit(&z)?;
    let first = points.iter().map(|pt| pt.0).min()?;
    let cap = first.checked_sub(p.lost())?.min(48);
    let window = full.window(cap).max(min_window).min(cap);
    if window == 0 {
        return None;
    }
    let width = 1 + lv.feats.len();
    let enc = p.encode(y, lv.feats).ok()?;
    let (mut fold, mut lin) = (usize::MAX, None);
    let mut errs = Vec::with_capacity(points.len());
    for &(o, i, _) in points {
        // the fold whose block holds the targets o..o+h
        let (f, start) = lv.fold_of(y.len(), o)?;
        if f != fold || lin.is_none() {
            let l = Level::fit(&z[..start])?;
            (fold, lin) = (f, Some(l.linear(window, width, lv.outputs, p).ok()?));
        }
        let pred = linear_forecast(lin.as_ref()?, &enc, width, window, o - p.lost(), lv.h);
        let back = p.decode(&y[..o], &pred).ok()?;
        errs.push((back[i] - y[o + i]).powi(2));
    }
    Some((full, window, errs))
}

/// The share of the old RMSE a new forecast must come under to be kept over
/// it (2 % lower): the bases here and the ARMA combination
/// ([`super::combine`]).
pub(super) const KEEP_BELOW: f64 = 0.98;

/// Whether the forecast with squared errors `new` is kept over the one
/// with `old` (the same points): its gain is clear ([`clear_gain`]) and its
/// RMSE at least 2 % lower (the grid's tolerance in [`parsimonious`]: a
/// consistent but tiny gain, as of a level whose `alpha` is just under 1
/// over the naive forecast, is no reason for a more complex base).
fn better(old: &[f64], new: &[f64]) -> bool {
    let gains: Vec<f64> = old.iter().zip(new).map(|(a, b)| a - b).collect();
    clear_gain(&gains) && rms(new) < KEEP_BELOW * rms(old)
}

/// The base forecast the networks correct, chosen on the points `best`
/// (the grid's winner) was scored on, the simpler preferred unless the
/// gain is clear ([`better`]): from the naive forecast (the last value, a
/// random walk: the null), to the local level ([`Level`], simple
/// exponential smoothing, on the transform and window of the best cell
/// with differencing 1), to the AR of `best`, each kept only when
/// [`better`] than the one kept before. A grid of a hundred
/// or more cells scored on a few dozen points picks its winner partly by
/// luck; on a near-random-walk series the winner can be a mean-reverting
/// level model that the backtest cannot tell from the random walk, and then
/// the random walk, or its smoothed version, is the safer forecast. With
/// the naive or level base the choice has differencing 1 (by
/// [`parsimonious`] among those cells), no AR lags, and the window is long
/// enough for the smoothing. (The seasonal naive forecast is no such null:
/// a seasonal AR with a coefficient near 1 is the right model where it is
/// hard to tell from it, and the grid's seasonal cells answer that
/// question.)
fn choose_base(
    y: &[f64],
    mut best: Choice,
    points: &[Point],
    scored: &[(Choice, Vec<Point>)],
    width: usize,
    lv: &LevelSet,
) -> Choice {
    let Some(naive) = naive_errors(y, points, 1) else {
        return best;
    };
    best.naive_rmse = Some(rms(&naive));
    let same: Vec<(Choice, Vec<Point>)> = scored
        .iter()
        .filter(|(c, _)| c.diff == [1])
        .cloned()
        .collect();
    let Some((cell, _)) = parsimonious(&same, width) else {
        return best;
    };
    // the errors of the base kept so far, its model and window
    let mut kept: (Vec<f64>, Option<(Level, usize)>) = (naive, None);
    let level = Pipeline::fit(y, lv.feats, cell.transform, &[1], lv.names)
        .ok()
        .and_then(|p| level_errors(y, &p, cell.window, points, lv));
    if let Some((l, w, errs)) = level {
        best.level_rmse = Some(rms(&errs));
        if better(&kept.0, &errs) {
            kept = (errs, Some((l, w)));
        }
    }
    let ar: Vec<f64> = points.iter().map(|p| p.2).collect();
    if better(&kept.0, &ar) {
        best.base = Some(Base::Ar);
        return best;
    }
    let common = Choice {
        window: cell.window,
        transform: cell.transform,
        diff: vec![1],
        val_rmse: Some(rms(&kept.0)),
        lags: Vec::new(),
        ..best
    };
    match kept.1 {
        None => Choice {
            naive: true,
            base: Some(Base::Naive),
            ..common
        },
        Some((l, window)) => Choice {
            window,
            base: Some(Base::Level),
            alpha: Some(l.alpha),
            ..common
        },
    }
}

#[cfg(test)]
mod tests;
