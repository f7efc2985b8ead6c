//! One module per `rnn` subcommand.

pub mod bench;
pub mod gradcheck;
pub mod reference;
