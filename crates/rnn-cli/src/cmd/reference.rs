//! `rnn reference`: recompute a PyTorch reference case from its weights and inputs.

use crate::error::CliResult;
use clap::Args;
use std::path::PathBuf;

/// Recompute a reference case (formats rnn-reference/1 and rnn-stack/1) in f64
/// from its weights and inputs only, and write every output and gradient.
#[derive(Args, Debug)]
#[command(
    after_help = "Prints how the tensors written compare with the case's own values (the largest relative \
                  error, max |ours - case| / max |case|, and the tensor it is in).\n\nExamples:\n  \
                  rnn reference crates/rnn/tests/fixtures/reference/elman_tanh_softmax.safetensors -o out.safetensors\n  \
                  rnn reference case.safetensors -o out.safetensors --json   # each tensor's errors as one object"
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
    /// Print one JSON object instead of the line: output, tensors (how many written), checked (per tensor the
    /// case holds too: name, max_abs_diff, relative_error), worst (the check with the largest relative error,
    /// null when the case holds none of the tensors).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &ReferenceArgs) -> CliResult {
    rnn::io::refuse_output(&args.output, args.force, &[&args.case])?;
    let w = rnn::testing::reference::run_file(&args.case)?;
    write_and_report(&args.case, &args.output, &w, args.json)
}

/// Compares the tensors `w` with the values the case file holds (a
/// malformed case is an error before anything is written), writes them to
/// `output` and prints how they compare: a line, or with `json` one object.
pub(crate) fn write_and_report(
    case: &std::path::Path,
    output: &std::path::Path,
    w: &rnn::io::TensorWriter,
    json: bool,
) -> CliResult {
    let checks = rnn::testing::compare::against_case(case, w)?;
    w.write(output)?;
    logln!("wrote {}", output.display());
    let worst = rnn::testing::compare::worst(&checks);
    if json {
        let j = serde_json::json!({
            "output": output, "tensors": w.len(), "checked": checks, "worst": worst,
        });
        return Ok(outln!("{j}")?);
    }
    match worst {
        Some(c) => outln!(
            "{} tensors (f64) -> {}; against the case's {} of them: largest relative error {:.2e} ({}, max |diff| {:.2e})",
            w.len(),
            output.display(),
            checks.len(),
            c.relative_error,
            c.name,
            c.max_abs_diff
        )?,
        None => outln!(
            "{} tensors (f64) -> {}; the case holds none of them to compare with",
            w.len(),
            output.display()
        )?,
    }
    Ok(())
}
