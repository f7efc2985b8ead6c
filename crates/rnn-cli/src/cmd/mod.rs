//! One module per `rnn` subcommand.

pub mod eval;
pub mod forecast;
pub mod gradcheck;
pub mod reference;
pub mod trajectory;
