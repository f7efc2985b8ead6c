//! One module per `rnn` subcommand.

pub mod gradcheck;
pub mod reference;
pub mod trajectory;
