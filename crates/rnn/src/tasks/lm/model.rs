//! A trained language model with its vocabulary: load it from a run
//! directory, score a text, continue a prime.

use super::evaluate::{evaluate_sample_with, Evaluation, EVAL_STREAMS, EVAL_WINDOW};
use super::generate::{generate, Sampling};
use super::vocab::Vocab;
use crate::io::model_file::{ModelFile, Task};
use crate::nn::model::Model;
use crate::{Error, Result};
use std::path::Path;

/// The task name stored in a language model's file.
pub const TASK: Task = Task::Lm;

/// A character-level language model and the characters it knows.
///
/// ```
/// use rnn::tasks::lm::{LanguageModel, Sampling, Vocab};
/// use rnn::{Model, ModelConfig};
/// let vocab = Vocab::from_text("ab\n");
/// let model = Model::<f32>::new(ModelConfig::elman(3, 4, 3), 0).unwrap();
/// let lm = LanguageModel::new(model, vocab).unwrap();
/// // an untrained model is about uniform: ln 3 nats/char
/// let e = lm.evaluate("abab\nab", "text").unwrap();
/// assert_eq!(e.chars, 6);
/// assert!((e.loss_nats - 3f64.ln()).abs() < 0.5);
/// let s = lm.generate("ab", Sampling { len: 20, ..Sampling::default() }).unwrap();
/// assert_eq!(s.chars().count(), 20);
/// assert!(s.chars().all(|c| "ab\n".contains(c)));
/// assert!(lm.evaluate("abc", "text").is_err()); // 'c' is not in the vocabulary
/// ```
#[derive(Clone, Debug)]
pub struct LanguageModel {
    /// The network: input and output size = the vocabulary's.
    pub model: Model<f32>,
    /// Its characters.
    pub vocab: Vocab,
    /// Its directory (`"the model"` when built in memory), named by errors.
    name: String,
}

impl LanguageModel {
    /// Pairs a model with its vocabulary; their sizes must agree and no
    /// character may appear twice.
    pub fn new(model: Model<f32>, vocab: Vocab) -> Result<Self> {
        if let Some(twice) = vocab.repeated() {
            return Err(Error::Value {
                what: "vocab".into(),
                value: format!("{twice:?} twice"),
                expected: "each character once (its position is its id)".into(),
            });
        }
        let c = &model.config;
        if c.input_size != vocab.len() || c.output_size != vocab.len() {
            return Err(Error::Value {
                what: "vocab".into(),
                value: format!("{} characters", vocab.len()),
                expected: format!(
                    "as many as the model's input size {} and output size {}",
                    c.input_size, c.output_size
                ),
            });
        }
        Ok(LanguageModel {
            model,
            vocab,
            name: "the model".into(),
        })
    }

    /// Loads the language model saved in the run directory `dir`
    /// (`model.safetensors`, best by validation).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Self::from_file(ModelFile::load_task(dir, TASK)?, dir)
    }

    /// The language model of a loaded model file (`dir` names it in errors).
    pub fn from_file(mf: ModelFile, dir: &Path) -> Result<Self> {
        let vocab = Vocab::of_model(&mf, dir)?;
        Ok(LanguageModel {
            model: mf.model,
            vocab,
            name: dir.display().to_string(),
        })
    }

    /// Mean cross-entropy of predicting each character of `text` from all
    /// those before it, as `rnn eval` and the validation of training measure
    /// it ([`evaluate`](super::evaluate)). `what` names
    /// the text in errors: characters outside the vocabulary, or fewer than 2.
    pub fn evaluate(&self, text: &str, what: &str) -> Result<Evaluation> {
        self.evaluate_with(text, what, &mut |_, _| {})
    }

    /// [`LanguageModel::evaluate`], calling `done(scored, total)` as the
    /// characters are scored ([`evaluate_sample_with`](super::evaluate_sample_with)).
    pub fn evaluate_with(
        &self,
        text: &str,
        what: &str,
        done: &mut dyn FnMut(usize, usize),
    ) -> Result<Evaluation> {
        let ids = self.vocab.encode(text, what)?;
        if ids.len() < 2 {
            return Err(Error::Data {
                path: what.into(),
                reason: "needs at least 2 characters".into(),
            });
        }
        let (nats, n) =
            evaluate_sample_with(&self.model, &ids, EVAL_STREAMS, EVAL_WINDOW, None, done)
                .map_err(|e| e.of_model(&self.name))?;
        Ok(Evaluation {
            loss_nats: nats / n as f64,
            chars: n,
        })
    }

    /// Continues `prime` (a newline when empty) with `s.len` sampled
    /// characters, calling `emit` with each one.
    pub fn generate_with(&self, prime: &str, s: Sampling, emit: impl FnMut(char)) -> Result<()> {
        // before the prime is encoded, as `generate` checks it
        if !(s.temperature.is_finite() && s.temperature > 0.0) {
            return Err(Error::Value {
                what: "temperature".into(),
                value: s.temperature.to_string(),
                expected: "a positive finite number".into(),
            });
        }
        let ids = self.vocab.encode(prime, "prime")?;
        generate(&self.model, &self.vocab, &ids, s, emit).map_err(|e| e.of_model(&self.name))
    }

    /// The `s.len` characters sampled after `prime` (see
    /// [`LanguageModel::generate_with`]).
    pub fn generate(&self, prime: &str, s: Sampling) -> Result<String> {
        // the text is kept whole: a length past the memory is refused first
        // (usize::MAX grew a string until the memory ran out)
        let bytes = s.len as f64 * 4.0; // at most 4 bytes a character
        crate::memory::ensure_fits(|| format!("generating {} characters", s.len), bytes)?;
        let mut out = String::new();
        self.generate_with(prime, s, |c| out.push(c))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ModelConfig;

    fn model() -> Model<f32> {
        Model::new(ModelConfig::elman(3, 4, 3), 0).unwrap()
    }

    /// A vocabulary built by hand in another order than sorted: every one
    /// of its characters is known (before, 'c' first in ['c', 'a', 'b']
    /// was "not in the model's vocabulary", the halving search missing it),
    /// and a character given twice is refused, naming it.
    #[test]
    fn a_hand_built_vocabulary_in_any_order_works_and_a_repeat_is_refused() {
        let lm = LanguageModel::new(
            model(),
            Vocab {
                chars: vec!['c', 'a', 'b'],
            },
        )
        .unwrap();
        let e = lm.evaluate("abcabc", "text").unwrap();
        assert_eq!(e.chars, 5);
        assert!(e.loss_nats.is_finite() && e.loss_nats > 0.0);
        // the same text through the ids by position gives the same loss as a
        // sorted vocabulary with the text's characters renamed to match
        // (c->a, a->b, b->c: ids 1,2,0,... either way)
        let sorted = LanguageModel::new(model(), Vocab::from_text("abc")).unwrap();
        let same = sorted.evaluate("bcabca", "text").unwrap();
        assert_eq!(e.loss_nats, same.loss_nats);
        let twice = LanguageModel::new(
            model(),
            Vocab {
                chars: vec!['a', 'b', 'a'],
            },
        );
        let msg = twice.expect_err("refused").to_string();
        assert!(
            msg.contains("'a' twice") && msg.contains("each character once"),
            "{msg}"
        );
    }

    /// No streams or no window to evaluate with, and a generated text
    /// longer than the memory, are refused (the first two were scored as
    /// if given, the last grew a string until the memory ran out).
    #[test]
    fn empty_sizes_and_endless_text_are_refused() {
        let m = model();
        for (streams, window) in [(0, 100), (1, 0)] {
            let e = super::super::evaluate(&m, &[0, 1, 2, 0, 1], streams, window);
            assert!(e.unwrap_err().to_string().contains("expected at least 1"));
        }
        let lm = LanguageModel::new(m, Vocab::from_text("abc")).unwrap();
        let s = Sampling {
            len: usize::MAX,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 1,
        };
        let e = lm.generate("a", s).unwrap_err().to_string();
        assert!(
            e.starts_with("generating 18446744073709551615 characters: needs about"),
            "{e}"
        );
    }
}
