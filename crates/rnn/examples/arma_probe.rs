//! The crate's ARMA model ([`Arma`], orders by AIC) alone, under each
//! transform (none, log when the series is positive) and differencing
//! (none, 1, the season, 1 and the season): one-step RMSE on a backtest of
//! three blocks of `max(TEST, 8)` rows before the test block (refitted
//! before each block) and on the test block. A probe for issue 18 (is a
//! seasonal ARIMA with `D = 1` what the defaults lack? docs/forecasting.md,
//! thirty-fourth session), not part of the tool.
//!
//! `cargo run --release -p rnn --example arma_probe -- FILE.csv COLUMN TEST SEASON`
use rnn::tasks::forecast::{Arma, Fill, Pipeline, Series, TimeColumn, Transform};
/// Prints one line per transform and differencing.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let [_, path, col, test, season] = a.as_slice() else {
        return Err("usage: arma_probe FILE.csv COLUMN TEST SEASON".into());
    };
    let (test, season) = (test.parse::<usize>()?, season.parse::<usize>()?);
    let s = Series::read(path.as_ref(), col, &[], &TimeColumn::Auto, Fill::Linear)?;
    let y = &s.target;
    let n = y.len();
    if test == 0 || n < test + 16 {
        return Err(format!("{n} rows: too few for a test block of {test}").into());
    }
    let mut diffs: Vec<Vec<usize>> = vec![vec![], vec![1]];
    if season > 1 {
        diffs.push(vec![season]);
        diffs.push(vec![1, season]);
    }
    for tr in [Transform::None, Transform::Log] {
        if tr == Transform::Log && y.iter().any(|&v| v <= 0.0) {
            continue;
        }
        for d in &diffs {
            // one-step RMSE over rows [a, b) of an ARMA fitted on the rows before a
            let score = |a0: usize, b0: usize| -> Option<(f64, String)> {
                let p = Pipeline::fit(&y[..a0], &[], tr, d, ("v", &[])).ok()?;
                let enc = p.encode(y, &[]).ok()?;
                let lost = p.lost();
                let cap = (a0 / 4)
                    .min(if season > 1 { 4 * season } else { 48 })
                    .max(season + 2);
                let m = Arma::fit(&enc[..a0.checked_sub(lost)?], season, cap)?;
                let wa = m.window(cap);
                let lin = m.linear(wa, 1, 1).ok()?;
                let mut se = 0.0;
                for o in a0..b0 {
                    let x = &enc[(o - lost).checked_sub(wa)?..o - lost];
                    let v = p.decode(&y[..o], &[lin.predict(x).ok()?[0]]).ok()?[0];
                    se += (v - y[o]).powi(2);
                }
                Some((se, m.describe()))
            };
            let Some((se_test, desc)) = score(n - test, n) else {
                continue;
            };
            // the backtest: three blocks of max(test, 8) rows before the test block
            let blk = test.max(8);
            let mut bt = 0.0;
            let mut ok = true;
            for b in 1..=3 {
                let Some(a0) = n.checked_sub(test + b * blk) else {
                    ok = false;
                    break;
                };
                match score(a0, a0 + blk) {
                    Some((se, _)) => bt += se,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            let bt = if ok {
                (bt / (3 * blk) as f64).sqrt()
            } else {
                f64::NAN
            };
            let rmse = (se_test / test as f64).sqrt();
            let m = desc;
            println!(
                "{:5} {:8} {:34} backtest {:12.5} test {:.5}",
                tr.name(),
                format!("{:?}", d),
                m,
                bt,
                rmse
            );
        }
    }
    Ok(())
}
