//! The tasks a model is trained for: character language models ([`lm`]),
//! sequence tagging ([`tag`]), time-series forecasting ([`forecast`]) and
//! sequence classification ([`classify`]); [`insight`] looks inside a
//! trained language model or tagger.

pub mod classify;
mod fill;
pub mod forecast;
pub mod insight;
pub mod lm;
mod run;
pub mod stop;
pub mod tag;
pub(crate) mod view;

pub(crate) use run::{uniform_loss, Rollback};

/// `n` and its noun, singular for 1: `counted(1, "row", "rows")` is
/// `"1 row"`, `counted(3, "row", "rows")` is `"3 rows"`.
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
pub use run::{
    diverged, Budget, Clock, Event, OnDivergence, Plotting, Progress, EXPLODED, MAX_ROLLBACKS,
};
