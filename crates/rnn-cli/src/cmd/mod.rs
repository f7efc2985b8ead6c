//! One module per `rnn` subcommand.

pub mod bench;
pub mod classify;
pub mod demo;
pub mod diagnose;
pub mod eval;
pub mod export;
pub mod forecast;
pub mod generate;
pub mod gradcheck;
pub mod import;
pub mod infer;
pub mod lm;
pub mod reference;
pub mod step;
pub mod tag;
pub mod train;
pub mod trajectory;
pub mod visualize;

/// A flag's number as typed, refused unless finite (clap's error then shows
/// the text given: `1e309`, not the `inf` it would parse to).
pub fn finite_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("expected a finite number".into()),
        Err(e) => Err(format!("expected a number ({e})")),
    }
}
