//! `rnn visualize`: a language model's hidden units over a text, as one HTML page.

use crate::error::{CliError, CliResult};
use clap::Args;
use rnn::io::model_file::write_text;
use rnn::tasks::lm::{Corpus, LanguageModel};
use std::path::PathBuf;

/// Write one self-contained HTML page showing a language model's hidden units over a text.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rnn visualize --model runs/shakespeare --text sample.txt -o view.html"
)]
pub struct VisualizeArgs {
    /// The model directory (a language model).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to show (its first 4,000 characters).
    #[arg(long)]
    pub text: PathBuf,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(a: &VisualizeArgs) -> CliResult {
    if a.output.exists() && !a.force {
        return Err(CliError::Usage(format!(
            "{}: already exists (use --force to replace it)",
            a.output.display()
        )));
    }
    let lm = LanguageModel::load(&a.model)?; // language models only, for now
    let text = Corpus::read(&a.text)?.text;
    write_text(
        &a.output,
        &lm.visualize(&text, &a.text.display().to_string())?,
    )?;
    eprintln!("wrote {}", a.output.display());
    Ok(())
}
