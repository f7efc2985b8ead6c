//! `rnn`: train and use recurrent neural networks from the command line.
#![allow(rustdoc::invalid_html_tags)] // doc comments here are --help text: `token<TAB>tag`

/// `println!` for results: writes to stdout through [`rnn::io::print_out`]
/// and returns its `Result` (a full disk is an error, a reader that went
/// away is not), where `println!` would panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        rnn::io::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for results, as [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        rnn::io::print_out(&format!($($arg)*))
    };
}

/// `eprintln!` for progress and logs: a stderr that went away (its reader
/// closed: `2>&1 | head`, a closed terminal, an mpirun that exited) is
/// ignored and the command goes on, where `eprintln!` panicked (exit 101,
/// no model saved since the last checkpoint, the run's lock left behind).
macro_rules! logln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cmd;
mod error;
mod train_util;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use error::CliResult;

/// Blocks of 4 KiB to 64 MiB on a cache line (`rnn::kernels::LineAligned`):
/// the per-call buffers the AVX-512 kernels read and write in 64-byte vectors.
#[global_allocator]
static ALLOC: rnn::kernels::LineAligned = rnn::kernels::LineAligned;

/// Recurrent neural networks (Elman, LSTM, GRU) with hand-written BPTT.
#[derive(Parser, Debug)]
#[command(
    name = "rnn",
    version,
    about = "Recurrent neural networks (Elman, LSTM, GRU) with hand-written BPTT.",
    after_help = "Run with no command to train a small character-level language model on a built-in text.\n\nExamples:\n  rnn                                   # the demo: about a minute, then bits/char and a sample\n  rnn train lm --data tinyshakespeare.txt --out runs/shakespeare\n  rnn generate --model runs/shakespeare --prime \"ROMEO:\" --len 300\n  rnn train --help                      # the four tasks: lm, tag, forecast, classify"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model: lm (language model), tag (sequence labelling), forecast (time series), classify (sequences).
    Train(cmd::train::TrainArgs),
    /// Generate text from a language model.
    Generate(cmd::generate::GenerateArgs),
    /// Evaluate a model on a data file.
    Eval(cmd::eval::EvalArgs),
    /// Recompute a PyTorch reference case (rnn-reference/1, rnn-stack/1).
    Reference(cmd::reference::ReferenceArgs),
    /// Check BPTT against finite differences on a random f64 model.
    Gradcheck(cmd::gradcheck::GradcheckArgs),
    /// Replay a torch.optim trajectory case (rnn-trajectory/1).
    Trajectory(cmd::trajectory::TrajectoryArgs),
    /// Forecast the steps after the end of a time series (CSV to stdout).
    Forecast(cmd::forecast::ForecastArgs),
    /// Time training and inference on the PyTorch benchmark's S, M and L configs.
    Bench(cmd::bench::BenchArgs),
    /// Tag text with a trained tagger: token<TAB>tag lines.
    Tag(cmd::tag::TagArgs),
    /// Import a PyTorch state_dict (.safetensors or .pt) as a model directory.
    Import(cmd::import::ImportArgs),
    /// Run a model's network on tensors from a file (PyTorch's conventions).
    Infer(cmd::infer::InferArgs),
    /// Export a model's network and head (PyTorch state_dict or ONNX).
    Export(cmd::export::ExportArgs),
    /// Feed the next chunk on stdin to a language model (text) or forecaster (values), its state kept in a file.
    Step(cmd::step::StepArgs),
    /// How far back a language model, tagger, forecaster or classifier carries the error (gradient flow through time).
    Diagnose(cmd::diagnose::DiagnoseArgs),
    /// Write an HTML page of a language model's hidden units or a tagger's tags over a text.
    Visualize(cmd::visualize::VisualizeArgs),
    /// Print the class of each sequence of a .ts, UCR .tsv, .arff or long CSV file.
    Classify(cmd::classify::ClassifyArgs),
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Some(Command::Train(a)) => cmd::train::run(&a),
        Some(Command::Generate(a)) => cmd::generate::generate_cmd(&a),
        Some(Command::Eval(a)) => cmd::eval::run(&a),
        Some(Command::Reference(a)) => cmd::reference::run(&a),
        Some(Command::Gradcheck(a)) => cmd::gradcheck::run(&a),
        Some(Command::Trajectory(a)) => cmd::trajectory::run(&a),
        Some(Command::Forecast(a)) => cmd::forecast::run_forecast(&a),
        None => cmd::demo::run(),
        Some(Command::Bench(a)) => cmd::bench::run(&a),
        Some(Command::Tag(a)) => cmd::tag::tag(&a),
        Some(Command::Import(a)) => cmd::import::run(&a),
        Some(Command::Infer(a)) => cmd::infer::run(&a),
        Some(Command::Export(a)) => cmd::export::run(&a),
        Some(Command::Step(a)) => cmd::step::run(&a),
        Some(Command::Diagnose(a)) => cmd::diagnose::run(&a),
        Some(Command::Visualize(a)) => cmd::visualize::run(&a),
        Some(Command::Classify(a)) => cmd::classify::run(&a),
    }
}

/// `cmd` and every command under it reading `-1` as a value (so `--len -1`
/// is refused by the flag's own check, naming the flag), not as an unknown
/// option.
fn negatives_as_values(cmd: clap::Command) -> clap::Command {
    cmd.allow_negative_numbers(true)
        .mut_subcommands(negatives_as_values)
}

fn main() {
    let matches = negatives_as_values(Cli::command())
        .try_get_matches()
        .unwrap_or_else(|e| error::exit_on_parse_error(e));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| error::exit_on_parse_error(e));
    if let (Some(Command::Train(a)), Some(("train", m))) = (&mut cli.command, matches.subcommand())
    {
        cmd::train::note_given(a, m);
    }
    // a job of several processes needs the MPI build, and a training: said
    // once (by rank 0); each rank of another command would repeat it whole
    // (`rnn eval` printed one JSON object per rank)
    let launched = rnn::dist::launched(|k| std::env::var(k).ok());
    let refused = match &cli.command {
        Some(Command::Train(_)) => rnn::dist::refuse_launch_without_mpi().err().map(|e| e.to_string()),
        _ => launched.map(|(n, _)| {
            format!("this command runs as one process, not as {n} MPI ranks (under mpirun, only `rnn train lm`, `tag` and `forecast` are data-parallel)")
        }),
    };
    if let Some(e) = refused {
        if launched.is_some_and(|(_, r)| r == 0) {
            logln!("error: {e}");
        }
        std::process::exit(2);
    }
    // the last output may still sit in stdout's buffer (no newline after it)
    if let Err(e) = run(cli).and_then(|()| Ok(rnn::io::flush_out()?)) {
        logln!("error: {e}");
        std::process::exit(e.exit_code()); // without MPI's finish: mpirun ends the job
    }
    rnn::dist::finish();
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command and group (`rnn train` and each task under it) ends
    /// its `--help` with at least one example line starting `rnn `, the
    /// command's own name in it.
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let after = sub
                    .get_after_help()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let has = after.contains("Example")
                    && after.lines().any(|l| l.trim_start().starts_with(&path));
                if !has {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "rnn", &mut missing);
        assert!(missing.is_empty(), "no example in --help: {missing:?}");
    }
}
