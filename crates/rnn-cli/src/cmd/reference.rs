//! `rnn reference`: recompute a PyTorch reference case from its weights and inputs.

use crate::error::CliResult;
use clap::Args;
use std::path::PathBuf;

/// Recompute a reference case (formats rnn-reference/1 and rnn-stack/1) in f64
/// from its weights and inputs only, and write every output and gradient.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rnn reference tests/fixtures/reference/elman_tanh_softmax.safetensors -o out.safetensors"
)]
pub struct ReferenceArgs {
    /// The case file (.safetensors).
    pub case: PathBuf,
    /// Where to write the computed tensors (F64, same names and shapes as the case's expected ones).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it already exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(args: &ReferenceArgs) -> CliResult {
    rnn::io::refuse_output(&args.output, args.force, &[&args.case])?;
    let w = rnn::testing::reference::run_file(&args.case)?;
    w.write(&args.output)?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}
