//! Scoring a language model on a text: mean cross-entropy per character.

use crate::nn::layer::Input;
use crate::nn::loss::log_sum_exp;
use crate::nn::model::infer::Inference;
use crate::nn::model::{Batch, Model};
use crate::{Error, Result};

/// Parallel streams of an evaluation (`rnn eval`, validation during training).
pub const EVAL_STREAMS: usize = 32;
/// Characters per window of an evaluation (the state is carried across windows).
pub const EVAL_WINDOW: usize = 256;

/// A language model's figures on a text.
///
/// ```
/// use rnn::tasks::lm::Evaluation;
/// let e = Evaluation { loss_nats: std::f64::consts::LN_2, chars: 10 };
/// assert!((e.bits_per_char() - 1.0).abs() < 1e-12);
/// assert!((e.perplexity() - 2.0).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy, nats/char.
    pub loss_nats: f64,
    /// Characters predicted.
    pub chars: usize,
}

impl Evaluation {
    /// The loss in bits per character.
    pub fn bits_per_char(&self) -> f64 {
        self.loss_nats / std::f64::consts::LN_2
    }

    /// The perplexity `exp(loss)`.
    pub fn perplexity(&self) -> f64 {
        self.loss_nats.exp()
    }
}

/// Mean cross-entropy in nats per predicted character of `model` over `ids`,
/// cut into `streams` contiguous segments run in parallel (state carried
/// across windows of `window` characters). Returns `(total nats, characters)`;
/// an id the model does not take is an error naming it.
pub fn evaluate(
    model: &Model<f32>,
    ids: &[usize],
    streams: usize,
    window: usize,
) -> Result<(f64, usize)> {
    if ids.len() < 2 {
        return Ok((0.0, 0));
    }
    let b = streams.clamp(1, (ids.len() - 1).max(1));
    let seg = (ids.len() - 1) / b; // each stream predicts `seg` characters
    let v = model.config.output_size;
    let mut state = model.zero_state(b);
    let mut inf = Inference::new(); // forward only, buffers reused per window
    let (mut total, mut count) = (0.0f64, 0usize);
    let mut pos = 0;
    while pos < seg {
        let t = window.min(seg - pos);
        let mut x = vec![0usize; t * b]; // [T, B]
        for s in 0..b {
            for j in 0..t {
                x[j * b + s] = ids[s * seg + pos + j];
            }
        }
        // the streams split across the threads, each from its carried state
        model.infer(
            Batch::new(Input::Ids(&x), t, b)
                .with_state(&state)
                .split_across_threads(),
            &mut inf,
        )?;
        for j in 0..t {
            for s in 0..b {
                let row = &inf.logits[(j * b + s) * v..(j * b + s + 1) * v];
                let y = ids[s * seg + pos + j + 1];
                total += (log_sum_exp(row) - row[y]) as f64; // -log p(y)
                count += 1;
            }
        }
        std::mem::swap(&mut state, &mut inf.state); // carried to the next window
        pos += t;
    }
    if !total.is_finite() {
        return Err(Error::NonFinite {
            model: "the model".into(),
            what: "the loss".into(),
            value: total.to_string(),
        });
    }
    Ok((total, count))
}
