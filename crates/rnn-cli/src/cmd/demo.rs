//! The main job, run when `rnn` gets no command: train a small character-level
//! language model on a built-in public-domain text for about a minute, then
//! report validation bits/char and a generated sample.

use crate::cmd::lm::{fit, print_summary};
use crate::error::CliResult;
use crate::train_util::{set_threads, Budget};
use rnn::tasks::lm::{Corpus, LanguageModel, Sampling, TrainConfig, Trainer};

/// The first 300 kB of Moby-Dick (public domain; see data/README.md).
const TEXT: &str = include_str!("../../data/mobydick-excerpt.txt");

/// Runs the demo.
pub fn run() -> CliResult {
    let dir = std::env::temp_dir().join("rnn-demo");
    std::fs::create_dir_all(&dir).map_err(|e| rnn::Error::io(&dir, e))?;
    let data = dir.join("mobydick-excerpt.txt");
    std::fs::write(&data, TEXT).map_err(|e| rnn::Error::io(&data, e))?;
    let out = dir.join("model");
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("rnn demo: training an Elman RNN language model on {} characters of Moby-Dick for about a minute", TEXT.chars().count());
    eprintln!("(the full tool: `rnn --help`; this run is `rnn train lm --data {} --out {} --hidden 256 --minutes 1`)", data.display(), out.display());
    // `rnn train lm`'s defaults, but validation every 100 steps
    let config = TrainConfig {
        hidden: 256,
        eval_every: 100,
        ..TrainConfig::default()
    };
    set_threads(std::thread::available_parallelism().map_or(1, |n| n.get().min(2)))?;
    let trainer = Trainer::new(config, &Corpus::new(&data, TEXT), &out)?;
    let summary = fit(trainer, Budget::Minutes(1.0), false)?;
    print_summary(&summary, &out, false)?;
    let lm = LanguageModel::load(&out)?;
    let prime = "Call me ";
    let sampling = Sampling {
        len: 400,
        temperature: 0.7,
        top_k: 0,
        seed: 1,
    };
    let sample = format!("{prime}{}", lm.generate(prime, sampling)?);
    outln!(
        "\nvalidation: {:.3} bits/char ({:.3} nats/char); uniform over {} characters would be {:.3} bits/char",
        summary.best_val / std::f64::consts::LN_2,
        summary.best_val,
        lm.vocab.len(),
        (lm.vocab.len() as f64).log2()
    )?;
    outln!("sample (temperature 0.7):\n\n{sample}\n")?;
    outln!(
        "try: rnn generate --model {} --prime \"The whale\" --len 300",
        out.display()
    )?;
    Ok(())
}
