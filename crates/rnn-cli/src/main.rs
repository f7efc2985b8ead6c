//! `rnn`: train and use recurrent neural networks from the command line.

mod cmd;
mod error;
mod train_util;

use clap::{Parser, Subcommand};
use error::CliResult;

/// Recurrent neural networks (Elman, LSTM, GRU) with hand-written BPTT.
#[derive(Parser, Debug)]
#[command(
    name = "rnn",
    version,
    about,
    after_help = "Run with no command to train a small character-level language model on a built-in text."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Recompute a PyTorch reference case (rnn-reference/1, rnn-stack/1).
    Reference(cmd::reference::ReferenceArgs),
    /// Check BPTT against finite differences on a random f64 model.
    Gradcheck(cmd::gradcheck::GradcheckArgs),
    /// Replay a torch.optim trajectory case (rnn-trajectory/1).
    Trajectory(cmd::trajectory::TrajectoryArgs),
    /// Train a model (rnn train tag ...).
    Train(cmd::train::TrainArgs),
    /// Tag text with a trained tagger: token<TAB>tag lines.
    Tag(cmd::tag::TagArgs),
    /// Score a trained model on held-out data.
    Eval(cmd::eval::EvalArgs),
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Some(Command::Reference(a)) => cmd::reference::run(&a),
        Some(Command::Gradcheck(a)) => cmd::gradcheck::run(&a),
        Some(Command::Trajectory(a)) => cmd::trajectory::run(&a),
        Some(Command::Train(a)) => cmd::train::run(&a),
        Some(Command::Tag(a)) => cmd::tag::tag(&a),
        Some(Command::Eval(a)) => cmd::eval::run(&a),
        None => cmd::gradcheck::run(&cmd::gradcheck::GradcheckArgs {
            activation: "tanh".into(),
            output: "softmax".into(),
            cell: "elman".into(),
            layers: 1,
            bidirectional: false,
            seed: 0,
            json: false,
        }),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
