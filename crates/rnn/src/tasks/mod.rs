//! The tasks a model is trained for: character language models ([`lm`]),
//! sequence tagging ([`tag`]), time-series forecasting ([`forecast`]) and
//! sequence classification ([`classify`]).

pub mod classify;
pub mod forecast;
pub mod lm;
mod run;
pub mod tag;

pub(crate) use run::Rollback;
pub use run::{Budget, Clock, Event, OnDivergence, Plotting, Progress, MAX_ROLLBACKS};
