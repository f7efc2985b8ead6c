//! `rnn trajectory`: replay a torch.optim trajectory case.

use crate::error::CliResult;
use clap::Args;
use std::path::PathBuf;

/// Replay an optimizer trajectory case (format rnn-trajectory/1) in f64: the
/// same batch at every step, forward, BPTT, optional clipping, one update.
/// Writes `losses` and every `*_final` tensor.
#[derive(Args, Debug)]
#[command(
    after_help = "Prints how the tensors written compare with the case's own values (the largest relative \
                  error, max |ours - case| / max |case|, and the tensor it is in).\n\nExamples:\n  \
                  rnn trajectory crates/rnn/tests/fixtures/reference/trajectories/traj_adam.safetensors -o out.safetensors\n  \
                  rnn trajectory case.safetensors -o out.safetensors --json   # each tensor's errors as one object"
)]
pub struct TrajectoryArgs {
    /// The case file (.safetensors).
    pub case: PathBuf,
    /// Where to write `losses` and `U_final` ... `c_final` (F64).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of the line (the keys of `rnn reference --json`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &TrajectoryArgs) -> CliResult {
    rnn::io::refuse_output(&args.output, args.force, &[&args.case])?;
    let w = rnn::testing::trajectory::run_file(&args.case)?;
    super::reference::write_and_report(&args.case, &args.output, &w, args.json)
}
