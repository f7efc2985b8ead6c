//! `rnn visualize`: a language model's hidden units or a tagger's tags over a text, as one HTML page.

use crate::error::CliResult;
use clap::Args;
use std::path::PathBuf;

/// Write one self-contained HTML page showing a language model's hidden units, or a tagger's tags, over a text.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn visualize --model runs/shakespeare --text sample.txt -o view.html\n  rnn visualize --model runs/ner --text news.txt -o tags.html"
)]
pub struct VisualizeArgs {
    /// The model directory (a language model or a tagger).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to show (its first 4,000 characters; for a tagger its first 3,000 tokens, one sentence per line or CoNLL).
    #[arg(long)]
    pub text: PathBuf,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print what was written as one JSON object (model, task, text, output, bytes) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &VisualizeArgs) -> CliResult {
    let w = rnn::tasks::insight::write_view(&a.model, &a.text, &a.output, a.force)?;
    if a.json {
        let v = serde_json::json!({
            "model": a.model.display().to_string(),
            "task": w.task.to_string(),
            "text": a.text.display().to_string(),
            "output": a.output.display().to_string(),
            "bytes": w.bytes,
        });
        outln!("{v}")?;
    } else {
        logln!("wrote {}", a.output.display());
    }
    Ok(())
}
