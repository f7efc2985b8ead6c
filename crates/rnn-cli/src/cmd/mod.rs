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
