//! Train a small character-level language model, save it, load it back and
//! generate text, all through the library: `rnn train lm` and `rnn generate`
//! without the CLI.
//!
//! `cargo run --release -p rnn --example train_char_lm` (no arguments: the
//! text is the first 100,000 characters of the Moby-Dick excerpt built into
//! the repository). About 20 seconds on 2 cores; it checks its results
//! and panics if one is wrong.

use rnn::tasks::lm::{Corpus, LanguageModel, Sampling, TrainConfig, Trainer};
use rnn::tasks::{Budget, Event};

/// The first 300 kB of Moby-Dick (public domain; see crates/rnn-cli/data/README.md).
const MOBY_DICK: &str = include_str!("../../rnn-cli/data/mobydick-excerpt.txt");

fn main() -> rnn::Result<()> {
    let text: String = MOBY_DICK.chars().take(100_000).collect();
    let corpus = Corpus::new("mobydick-excerpt.txt (first 100,000 characters)", text);
    let dir = std::env::temp_dir().join(format!("rnn-example-char-lm-{}", std::process::id()));

    // 1. Train: an Elman RNN, H = 128, truncated BPTT over windows of 64
    //    characters in 32 parallel streams, Adam, validation every 200 steps.
    rnn::kernels::set_threads(2);
    let config = TrainConfig {
        hidden: 128,
        lr: 3e-3,
        eval_every: 200,
        seed: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(config, &corpus, &dir)?;
    let vocab = trainer.data().vocab.clone();
    // the progress observer: print every evaluation (a closure is one)
    let mut progress = |e: &Event| match e {
        Event::Evaluated { row } => println!(
            "step {:>4}: validation {:.3} nats/char",
            row["step"],
            row["val_loss"].as_f64().unwrap_or(f64::NAN)
        ),
        Event::Message(line) => println!("{line}"),
        _ => {}
    };
    let summary = trainer.fit(Budget::Steps(800), &mut progress)?;
    let uniform = (vocab.len() as f64).ln();
    println!(
        "best validation loss {:.3} nats/char after {} steps in {:.0} s (uniform over {} characters: {:.3})",
        summary.best_val, summary.steps, summary.seconds, vocab.len(), uniform
    );
    assert_eq!(summary.steps, 800);
    assert!(
        summary.best_val < 0.7 * uniform,
        "the model learned something: {} vs uniform {uniform}",
        summary.best_val
    );

    // 2. Load the best model from the run directory and score the held-out
    //    text again: the same loss as during training.
    let lm = LanguageModel::load(&dir)?;
    assert_eq!(lm.vocab, vocab);
    let held_out = vocab.decode(&trainer.data().val);
    let again = lm.evaluate(&held_out, "validation text")?;
    println!(
        "loaded from {}: {:.3} nats/char, {:.3} bits/char, perplexity {:.2} on {} characters",
        dir.display(),
        again.loss_nats,
        again.bits_per_char(),
        again.perplexity(),
        again.chars
    );
    assert!(
        (again.loss_nats - summary.best_val).abs() <= 1e-12 * summary.best_val,
        "the saved model is the best one: {} vs {}",
        again.loss_nats,
        summary.best_val
    );

    // 3. Generate: continue a prime, sampling at temperature 0.8.
    let sampling = Sampling {
        len: 300,
        temperature: 0.8,
        top_k: 0,
        top_p: 1.0,
        seed: 7,
    };
    let sample = lm.generate("Call me ", sampling)?;
    println!("\nCall me {sample}\n");
    assert_eq!(sample.chars().count(), 300);
    assert!(sample.chars().all(|c| vocab.id(c).is_some()));
    assert_eq!(
        sample,
        lm.generate("Call me ", sampling)?,
        "the same seed gives the same text"
    );

    std::fs::remove_dir_all(&dir).map_err(|e| rnn::Error::io(&dir, e))?;
    Ok(())
}
