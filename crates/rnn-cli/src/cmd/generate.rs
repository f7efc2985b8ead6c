//! `rnn generate`: sample text from a language model.

use crate::error::{CliError, CliResult};
use crate::train_util::positive;
use clap::Args;
use rnn::tasks::lm::{generate_while, LanguageModel, Sampling};
use std::io::Write;
use std::path::PathBuf;

/// Generate text from a language model.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn generate --model runs/shakespeare --prime \"ROMEO:\" --len 500 --temperature 0.8\n  rnn generate --model runs/shakespeare --prime \"ROMEO:\" --top-p 0.9 --json"
)]
pub struct GenerateArgs {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Text to start from (fed through the model first; printed too).
    #[arg(long, default_value = "")]
    pub prime: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub len: usize,
    /// Softmax temperature (lower: more conservative).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Sample only among the k most likely characters (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling: only among the most likely characters whose probabilities first add up to P, in
    /// (0, 1] (1 = all).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub top_p: f64,
    /// Print one JSON object (prime, text, chars, seed, temperature, top_k, top_p) once the text is sampled,
    /// instead of streaming the text.
    #[arg(long)]
    pub json: bool,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `rnn generate`: streams text to stdout.
pub fn generate_cmd(a: &GenerateArgs) -> CliResult {
    positive("--temperature", a.temperature)?;
    if !(a.top_p > 0.0 && a.top_p <= 1.0) {
        return Err(CliError::Usage(format!(
            "--top-p {}: expected a number in (0, 1]",
            a.top_p
        )));
    }
    let lm = LanguageModel::load(&a.model)?;
    let prime = lm.vocab.encode(&a.prime, "--prime")?;
    let sampling = Sampling {
        len: a.len,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    if a.json {
        let mut text = String::new();
        generate_while(&lm.model, &lm.vocab, &prime, sampling, |c| {
            text.push(c);
            true
        })
        .map_err(|e| e.of_model(&a.model))?;
        let j = serde_json::json!({"prime": a.prime, "text": text, "chars": text.chars().count(),
            "seed": a.seed, "temperature": a.temperature, "top_k": a.top_k, "top_p": a.top_p});
        return Ok(outln!("{j}")?);
    }
    let mut out = std::io::stdout().lock();
    let mut write_err = None;
    let _ = write!(out, "{}", a.prime);
    // a write that fails (the reader went away) stops the sampling
    generate_while(&lm.model, &lm.vocab, &prime, sampling, |c| {
        let mut buf = [0u8; 4];
        if let Err(e) = out
            .write_all(c.encode_utf8(&mut buf).as_bytes())
            .and_then(|_| if c == '\n' { out.flush() } else { Ok(()) })
        {
            write_err = Some(e);
        }
        write_err.is_none()
    })
    .map_err(|e| e.of_model(&a.model))?;
    let _ = writeln!(out).and_then(|_| out.flush());
    match write_err {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failure(format!("writing to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
