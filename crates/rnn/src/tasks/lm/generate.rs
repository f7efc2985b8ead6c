//! Sampling text from a language model.

use super::vocab::Vocab;
use crate::nn::layer::Input;
use crate::nn::loss::OutputKind;
use crate::nn::model::infer::Inference;
use crate::nn::model::{Batch, Model};
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How to sample text from a language model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Characters to generate.
    pub len: usize,
    /// Divides the logits (below 1: more conservative).
    pub temperature: f64,
    /// Keep only the k most likely characters (0 = all).
    pub top_k: usize,
    /// Nucleus sampling: keep only the most likely characters whose
    /// probabilities (after the temperature and `top_k`) first add up to
    /// at least `top_p`, in (0, 1] (1 = all).
    pub top_p: f64,
    /// Seed of the sampler.
    pub seed: u64,
}

/// Samples `s.len` characters after `prime`, calling `emit` with each one.
/// The prime is fed through the model first (a newline when empty).
///
/// # Errors
///
/// A temperature that is not a positive finite number, a `top_p` outside
/// (0, 1]; a model that cannot
/// sample text from `vocab`: not a softmax output, bidirectional, or whose
/// input and output sizes are not both the vocabulary's size; a prime id
/// the model does not take.
pub fn generate(
    model: &Model<f32>,
    vocab: &Vocab,
    prime: &[usize],
    s: Sampling,
    mut emit: impl FnMut(char),
) -> Result<()> {
    generate_while(model, vocab, prime, s, |c| {
        emit(c);
        true
    })
}

/// [`generate`] that stops early when `emit` returns `false` (a reader
/// that went away: `rnn generate --len 1000000 | head` stops with `head`):
/// the same characters up to there.
///
/// ```
/// use rnn::tasks::lm::{generate_while, Sampling, Vocab};
/// use rnn::{Model, ModelConfig};
/// let vocab = Vocab::from_text("ab\n");
/// let model = Model::<f32>::new(ModelConfig::elman(3, 4, 3), 1).unwrap();
/// let s = Sampling { len: 50, ..Sampling::default() };
/// let mut out = String::new();
/// generate_while(&model, &vocab, &[], s, |c| {
///     out.push(c);
///     out.len() < 10 // ten characters are enough
/// })
/// .unwrap();
/// assert_eq!(out.len(), 10);
/// ```
pub fn generate_while(
    model: &Model<f32>,
    vocab: &Vocab,
    prime: &[usize],
    s: Sampling,
    mut emit: impl FnMut(char) -> bool,
) -> Result<()> {
    let Sampling {
        len,
        temperature,
        top_k,
        top_p,
        seed,
    } = s;
    check_sampler(model, vocab, temperature, top_p)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = model.zero_state(1);
    let start = [vocab.id('\n').unwrap_or(0)];
    let prime = if prime.is_empty() { &start[..] } else { prime };
    let v = model.config.output_size;
    let mut inf = Inference::new(); // forward only, buffers reused per character
    model.infer(
        Batch::new(Input::Ids(prime), prime.len(), 1).with_state(&state),
        &mut inf,
    )?;
    let mut logits = inf.logits[(prime.len() - 1) * v..].to_vec();
    std::mem::swap(&mut state, &mut inf.state);
    let mut probs = vec![0.0f64; v];
    let mut order: Vec<usize> = Vec::with_capacity(v);
    for k in 0..len {
        crate::error::finite_outputs(&logits, |_| {
            format!("the logits after {} characters", prime.len() + k)
        })?;
        // p_i ∝ exp(o_i / temperature), restricted to the top k
        let shift = crate::nn::stream::logit_shift(logits.iter().map(|&o| o as f64), temperature);
        let scaled: Vec<f64> = logits
            .iter()
            .map(|&o| (o as f64 - shift) / temperature)
            .collect();
        let mut keep = vec![true; v];
        if top_k > 0 && top_k < v {
            let mut sorted = scaled.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let cut = sorted[top_k - 1];
            let mut kept = 0;
            for (k, &s) in keep.iter_mut().zip(&scaled) {
                *k = s >= cut && kept < top_k;
                kept += usize::from(*k);
            }
        }
        let m = scaled
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(s, _)| *s)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        for ((p, &s), &k) in probs.iter_mut().zip(&scaled).zip(&keep) {
            *p = if k { (s - m).exp() } else { 0.0 };
            z += *p;
        }
        if top_p < 1.0 {
            z = nucleus(&mut probs, z, top_p, &mut order);
        }
        let mut r = rng.random::<f64>() * z;
        let mut next = v - 1;
        for (i, &p) in probs.iter().enumerate() {
            if r < p {
                next = i;
                break;
            }
            r -= p;
        }
        if !emit(vocab.chars[next]) {
            break;
        }
        // `next` < O = I (checked with the prime): no check per character
        model.infer_unchecked(
            Batch::new(Input::Ids(&[next]), 1, 1).with_state(&state),
            &mut inf,
        );
        logits.copy_from_slice(&inf.logits);
        std::mem::swap(&mut state, &mut inf.state);
    }
    Ok(())
}

/// Nucleus sampling over unnormalised probabilities `probs` (summing to
/// `z`): keeps the most likely ones, in order of probability (ties by
/// index), up to and including the first whose running sum reaches
/// `top_p * z`, zeroes the rest and returns the sum kept. `order` is
/// scratch space.
///
/// ```text
/// probs 0.1 0.5 0.3 0.1 (z = 1), top_p 0.7: 0.5, then 0.5 + 0.3 = 0.8 >= 0.7
/// -> 0 0.5 0.3 0, returns 0.8
/// ```
fn nucleus(probs: &mut [f64], z: f64, top_p: f64, order: &mut Vec<usize>) -> f64 {
    order.clear();
    order.extend(0..probs.len());
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let (mut kept, mut cut) = (0.0, order.len());
    for (n, &i) in order.iter().enumerate() {
        kept += probs[i];
        if kept >= top_p * z {
            cut = n + 1;
            break;
        }
    }
    for &i in &order[cut..] {
        probs[i] = 0.0;
    }
    kept
}

/// What sampling needs: a positive finite temperature and a unidirectional
/// softmax model whose sampled classes (`< O`) are characters of `vocab` and
/// inputs it takes back (`O = I = vocab.len()`).
fn check_sampler(model: &Model<f32>, vocab: &Vocab, temperature: f64, top_p: f64) -> Result<()> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(Error::Value {
            what: "temperature".into(),
            value: temperature.to_string(),
            expected: "a positive finite number".into(),
        });
    }
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(Error::Value {
            what: "top_p".into(),
            value: top_p.to_string(),
            expected: "a number in (0, 1]".into(),
        });
    }
    let c = &model.config;
    if c.output != OutputKind::Softmax {
        return Err(Error::argument(
            "model",
            "a softmax output (a distribution over the characters)",
            "an identity output",
        ));
    }
    if c.bidirectional {
        return Err(Error::argument(
            "model",
            "a unidirectional model (a character cannot see the ones after it)",
            "a bidirectional one",
        ));
    }
    if c.input_size != vocab.len() || c.output_size != vocab.len() {
        return Err(Error::argument(
            "vocab",
            format!(
                "as many characters as the model's input size {} and output size {}",
                c.input_size, c.output_size
            ),
            format!("{} characters", vocab.len()),
        ));
    }
    Ok(())
}

impl Default for Sampling {
    /// `rnn generate`'s defaults: 500 characters at temperature 1 from all
    /// characters (top_k 0, top_p 1), seed 0.
    fn default() -> Self {
        Sampling {
            len: 500,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;

    #[test]
    fn nucleus_keeps_the_likeliest_up_to_top_p() {
        let mut order = Vec::new();
        // 0.5, then 0.5 + 0.3 = 0.8 >= 0.7: those two (the example in its comment)
        let mut p = vec![0.1, 0.5, 0.3, 0.1];
        let z = nucleus(&mut p, 1.0, 0.7, &mut order);
        assert_eq!((p, z), (vec![0.0, 0.5, 0.3, 0.0], 0.8));
        // unnormalised: the same shares of z = 10
        let mut p = vec![1.0, 5.0, 3.0, 1.0];
        assert_eq!(nucleus(&mut p, 10.0, 0.7, &mut order), 8.0);
        assert_eq!(p, [0.0, 5.0, 3.0, 0.0]);
        // exactly reached: no more; ties by index; a tiny top_p keeps one
        let mut p = vec![0.25, 0.25, 0.5];
        nucleus(&mut p, 1.0, 0.75, &mut order);
        assert_eq!(p, [0.25, 0.0, 0.5]);
        let mut p = vec![0.4, 0.2, 0.4];
        nucleus(&mut p, 1.0, 1e-12, &mut order);
        assert_eq!(p, [0.4, 0.0, 0.0]);
    }

    /// Sampled text with `s` from a fixed random model over "abcdefgh".
    fn sample(s: Sampling) -> String {
        let vocab = Vocab::from_text("abcdefgh");
        let model = Model::<f32>::new(ModelConfig::elman(8, 16, 8), 3).unwrap();
        let mut out = String::new();
        generate(&model, &vocab, &[0], s, |c| out.push(c)).unwrap();
        out
    }

    #[test]
    fn a_tiny_top_p_is_greedy_and_a_middling_one_differs() {
        let s = Sampling {
            len: 200,
            seed: 5,
            ..Sampling::default()
        };
        let plain = sample(s); // top_p 1, the default
                               // a tiny nucleus is the most likely character: top_k 1, whatever the seed
        let greedy = sample(Sampling { top_k: 1, ..s });
        for seed in [5, 6] {
            assert_eq!(
                sample(Sampling {
                    top_p: 1e-9,
                    seed,
                    ..s
                }),
                greedy
            );
        }
        // a temperature so small that o / t overflows is greedy too (it
        // drew the last character every time: "hhhh")
        for temperature in [1e-310, 3e-308, 1e-300] {
            assert_eq!(sample(Sampling { temperature, ..s }), greedy);
        }
        // a middling one samples among fewer characters than all
        let some = sample(Sampling { top_p: 0.5, ..s });
        assert_ne!(some, plain);
        assert_ne!(some, greedy);
    }
}
