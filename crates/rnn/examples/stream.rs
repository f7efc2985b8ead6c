//! # Streaming a model through its input, chunk by chunk
//!
//! Text (or sensor readings, or keystrokes) often arrives a piece at a time.
//! [`rnn::Stream`] keeps a model's recurrent state between calls, so each new
//! chunk continues where the last one stopped: feeding the chunks one after
//! another gives the same outputs as one call over the whole input.
//!
//! This example trains a small two-layer GRU character model on a built-in
//! text for a few seconds, feeds the text to a `Stream` in chunks of uneven
//! sizes (single characters among them), asserts that every output and the
//! final state equal one call over the whole text, then lets the stream
//! continue the text on its own.
//!
//! Run it: `cargo run --release -p rnn --example stream`

use rand::SeedableRng;
use rnn::nn::cell::CellKind;
use rnn::optim::{Optimizer, OptimizerConfig};
use rnn::{Batch, Inference, Input, Model, ModelConfig, Reduction, Stream, Targets};

const TEXT: &str = "the quick brown fox jumps over the lazy dog. \
                    the lazy dog sleeps in the sun. the quick fox runs. \
                    the sun is warm and the dog is happy. the fox jumps again. ";

fn main() -> rnn::Result<()> {
    let mut chars: Vec<char> = TEXT.chars().collect();
    chars.sort();
    chars.dedup();
    let ids: Vec<usize> = TEXT
        .chars()
        .filter_map(|c| chars.iter().position(|&k| k == c))
        .collect();
    let v = chars.len();

    // 1. a small character model: read one character, predict the next
    let config = ModelConfig {
        cell: CellKind::Gru,
        num_layers: 2,
        ..ModelConfig::elman(v, 32, v)
    };
    let mut model = Model::<f64>::new(config, 0)?;
    let adam = OptimizerConfig::from_args("adam", &serde_json::json!({"lr": 0.01}))?;
    let mut opt = Optimizer::new(adam, model.params.len());
    let mut grads = vec![0.0; model.params.len()];
    let n = ids.len() - 1;
    for step in 0..200 {
        grads.fill(0.0);
        let batch = Batch::new(Input::Ids(&ids[..n]), n, 1);
        let (loss, _, _) = model.loss_and_grads(
            batch,
            Targets::Classes(&ids[1..]),
            Reduction::Mean,
            &mut grads,
        )?;
        opt.step(&mut model.params, &grads)?;
        if step % 50 == 0 {
            println!("training step {step:3}: {loss:.3} nats/char");
        }
    }

    // 2. one call over the whole text: logits [T, 1, V] and the final state
    let mut whole = Inference::new();
    model.infer(Batch::new(Input::Ids(&ids), ids.len(), 1), &mut whole)?;

    // 3. the same text as it might arrive: chunks of 1 to 17 characters
    let mut stream = Stream::new(&model)?;
    let (mut pos, mut chunks, mut worst) = (0, 0, 0.0f64);
    let sizes = [1, 5, 1, 1, 17, 3, 8, 2, 13];
    while pos < ids.len() {
        let len = sizes[chunks % sizes.len()].min(ids.len() - pos);
        let out = stream.feed(Input::Ids(&ids[pos..pos + len]))?; // [len, 1, V]
        let want = &whole.logits[pos * v..(pos + len) * v];
        for (a, b) in out.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
        pos += len;
        chunks += 1;
    }
    for (a, b) in stream.state().h.iter().zip(&whole.state.h) {
        worst = worst.max((a - b).abs());
    }
    assert!(worst < 1e-12, "streamed and whole differ by {worst:e}");
    println!(
        "fed {} characters in {chunks} chunks: the outputs and state equal one call over the whole text (largest difference {worst:.1e})",
        ids.len()
    );

    // 4. the stream carries on: the next characters, sampled one at a time
    // and fed back (the state keeps them too)
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let next = stream.generate(60, 0.5, &mut rng)?;
    let sample: String = next.iter().map(|&i| chars[i]).collect();
    println!("and continues: {sample:?}");
    assert_eq!(sample.chars().count(), 60);
    Ok(())
}
