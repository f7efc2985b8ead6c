//! One module per `rnn` subcommand.

pub mod eval;
pub mod gradcheck;
pub mod reference;
pub mod tag;
pub mod train;
pub mod trajectory;
