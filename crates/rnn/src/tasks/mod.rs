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
pub mod tag;
pub(crate) mod view;

pub(crate) use run::Rollback;
pub use run::{Budget, Clock, Event, OnDivergence, Plotting, Progress, MAX_ROLLBACKS};
