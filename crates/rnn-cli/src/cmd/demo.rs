//! The main job, run when `rnn` gets no command: train a small character-level
//! language model on a built-in public-domain text for about a minute, then
//! report validation bits/char and a generated sample.

use crate::cmd::lm::{train, TrainLmArgs};
use crate::error::CliResult;
use rnn::io::model_file::ModelFile;
use rnn::tasks::lm::{generate, vocab_of, Sampling, Vocab};

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
    let args = TrainLmArgs {
        data: data.clone(),
        out: Some(out.clone()),
        resume: None,
        hidden: 256,
        layers: 1,
        cell: "elman".into(),
        activation: "tanh".into(),
        seq_len: 64,
        batch: 32,
        optimizer: "adam".into(),
        lr: 2e-3,
        weight_decay: None,
        clip: 5.0,
        epochs: None,
        minutes: Some(1.0),
        steps: None,
        seed: 0,
        val_frac: 0.1,
        eval_every: 100,
        schedule: "plateau".into(),
        dropout: 0.0,
        forget_bias: None,
        lr_decay: 0.5,
        patience: 2,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        json: false,
        quiet: false,
    };
    let summary = train(&args)?;
    let mf = ModelFile::load_task(&out, "lm")?;
    let vocab: Vocab = vocab_of(&mf, &out)?;
    let prime = "Call me ";
    let ids = vocab.encode(prime, "prime")?;
    let mut sample = String::from(prime);
    let sampling = Sampling {
        len: 400,
        temperature: 0.7,
        top_k: 0,
        seed: 1,
    };
    generate(&mf.model, &vocab, &ids, sampling, |c| sample.push(c));
    println!(
        "\nvalidation: {:.3} bits/char ({:.3} nats/char); uniform over {} characters would be {:.3} bits/char",
        summary.best_val / std::f64::consts::LN_2,
        summary.best_val,
        vocab.len(),
        (vocab.len() as f64).log2()
    );
    println!("sample (temperature 0.7):\n\n{sample}\n");
    println!(
        "try: rnn generate --model {} --prime \"The whale\" --len 300",
        out.display()
    );
    Ok(())
}
