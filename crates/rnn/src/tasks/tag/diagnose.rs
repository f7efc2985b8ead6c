//! Gradient flow of a tagger on tagged sentences ([`crate::nn::flow`]).
//!
//! The batch: the [`FLOW_SENTENCES`] longest sentences of the data (in
//! their file order) of those at least half as long as the longest one,
//! each cut to the length of the shortest of them (so `T` is at least half
//! the longest sentence), so
//! that every sequence has the same `T` and each direction's last step (`t
//! = T - 1` forward, `t = 0` backward) is the same step for all of them.
//! The error carried back from the last step is the cross-entropy of its
//! tag (for a CRF tagger: of its scores, the CRF's emissions), on the
//! tokens whose tag the tagger knows; the gradient norms are those of the
//! training loss (cross-entropy or the CRF's, without dropout) for every
//! trained tensor, named as in the model file: the network, the embedding
//! tables, the character encoder and the CRF.

use super::data::Sentence;
use super::encode::Encoded;
use super::features::UNKNOWN_TAG;
use super::step::{Stepper, TrainOptions, CHAR_EMB, CHAR_RNN, CRF, EMB, MODEL};
use super::tagger::Tagger;
use crate::nn::flow::{gradient_flow_of, tensor_norms, Flow};
use crate::nn::layer::Input;
use crate::nn::loss::Targets;
use crate::nn::model::Batch;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Sentences `B` of the batch the flow is measured on (fewer in small data).
pub const FLOW_SENTENCES: usize = 8;

/// The sentences a flow is measured on (see the [module](self)): the
/// longest [`FLOW_SENTENCES`] tagged ones, at least half as long as the
/// longest, in their order, cut to the same length. `what` names the data
/// in the error for having none.
pub fn flow_batch(data: &[Sentence], what: &str) -> Result<Vec<Sentence>> {
    let tagged: Vec<&Sentence> = data
        .iter()
        .filter(|s| !s.is_empty() && s.tags.len() == s.len())
        .collect();
    let mut order: Vec<usize> = (0..tagged.len()).collect();
    // longest first; among equal lengths the earliest (a stable sort)
    order.sort_by_key(|&i| std::cmp::Reverse(tagged[i].len()));
    order.truncate(FLOW_SENTENCES);
    let longest = order.first().map_or(0, |&i| tagged[i].len());
    order.retain(|&i| 2 * tagged[i].len() >= longest);
    order.sort_unstable();
    let Some(steps) = order.iter().map(|&i| tagged[i].len()).min() else {
        return Err(Error::argument(
            what,
            "at least one tagged sentence",
            "none",
        ));
    };
    Ok(order
        .iter()
        .map(|&i| Sentence {
            tokens: tagged[i].tokens[..steps].to_vec(),
            tags: tagged[i].tags[..steps].to_vec(),
            line: tagged[i].line,
        })
        .collect())
}

impl Tagger {
    /// The gradient flow of this tagger on tagged sentences (see the
    /// [module](self)); `what` names the data in errors.
    ///
    /// ```
    /// use rnn::tasks::tag::{Sentence, Tagger, TaggerOptions};
    /// let s = |w: &str, t: &str| Sentence {
    ///     tokens: w.split(' ').map(String::from).collect(),
    ///     tags: t.split(' ').map(String::from).collect(),
    ///     line: 1,
    /// };
    /// let data = vec![s("I like eating apple pie", "O O O B-fruit O"), s("The Apple is great", "O B-corp O O")];
    /// let mut opts = TaggerOptions::default();
    /// opts.rnn.bidirectional = true;
    /// let tagger = Tagger::new(&data, &opts, 7).unwrap();
    /// let flow = tagger.diagnose(&data, "data").unwrap();
    /// assert_eq!(flow.steps, 4); // both sentences, cut to 4 tokens
    /// assert_eq!((flow.layers[1].direction, flow.layers[1].from_step), (1, 0));
    /// assert!(flow.grad_norms["embed.word.weight"] > 0.0);
    /// assert!(tagger.diagnose(&[], "data").is_err());
    /// // plain text read as CoNLL: one token a line, its last word as the tag
    /// let e = tagger.diagnose(&[s("the", "cat")], "text.txt").unwrap_err().to_string();
    /// assert!(e.starts_with("text.txt: no token has a tag of the model ('cat' on line 1"), "{e}");
    /// ```
    ///
    /// # Errors
    ///
    /// No tagged sentence in `data`, or no token with a tag the model knows.
    pub fn diagnose(&self, data: &[Sentence], what: &str) -> Result<Flow> {
        let cut = flow_batch(data, what)?;
        let enc: Vec<Encoded> = cut.iter().map(|s| self.encode(s)).collect();
        let refs: Vec<&Encoded> = enc.iter().collect();
        let (x, steps, _, _) = self.inputs(&refs, None, None, false);
        let batch = refs.len();
        // the tokens with a known tag count, the others carry no error
        let (mut y, mut known) = (vec![0; steps * batch], vec![false; steps * batch]);
        for (b, e) in enc.iter().enumerate() {
            for (t, &tag) in e.tags.iter().enumerate() {
                if tag != UNKNOWN_TAG {
                    (y[t * batch + b], known[t * batch + b]) = (tag, true);
                }
            }
        }
        if !known.contains(&true) {
            // nothing to carry an error back from: text that is not tagged
            // CoNLL (plain text reads as one token per line, its last word as
            // the tag) or tags of another tag set
            let first = cut
                .iter()
                .find_map(|s| s.tags.first().map(|t| (t.clone(), s.line)));
            return Err(Error::Data {
                path: what.into(),
                reason: match first {
                    Some((tag, line)) => format!(
                        "no token has a tag of the model ('{tag}' on line {line} is not one): diagnose needs tagged CoNLL, a token and its tag per line"
                    ),
                    None => "no tagged token".into(),
                },
            });
        }
        // the training loss's gradient, without dropout
        let no_dropout = TrainOptions {
            word_dropout: 0.0,
            input_dropout: 0.0,
            ..TrainOptions::default()
        };
        let mut stepper = Stepper::new(self, &no_dropout, 0)?;
        stepper.gradients(self, &refs);
        let data = Batch::new(Input::Dense(&x), steps, batch);
        let fwd = self.model.forward(data)?;
        let norms = self.tensor_norms(&stepper.g);
        gradient_flow_of(
            &self.model,
            data,
            &fwd,
            Targets::Classes(&y),
            Some(&known),
            norms,
        )
    }

    /// `||g||` of every trained tensor, by its name in the model file, from
    /// the gradients of the parameter groups (see [`Stepper`]).
    fn tensor_norms(&self, g: &[Vec<f32>]) -> BTreeMap<String, f64> {
        let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        let mut out = tensor_norms(&self.model, &g[MODEL]);
        for (f, &off) in self.spec.features.iter().zip(&self.offsets) {
            let n = f.vocab.len() * f.dim;
            let name = format!("embed.{}.weight", f.kind.name());
            out.insert(name, norm(&g[EMB][off..off + n]));
        }
        if self.spec.ngrams.is_some() {
            out.insert("embed.ngram.weight".into(), norm(&g[EMB][self.ngram_off..]));
        }
        if let Some(c) = &self.chars {
            out.insert("embed.char.weight".into(), norm(&g[CHAR_EMB]));
            for (name, n) in tensor_norms(&c.rnn, &g[CHAR_RNN]) {
                if let Some(rest) = name.strip_prefix("rnn.") {
                    out.insert(format!("char_rnn.{rest}"), n);
                }
            }
        }
        let mut at = 0;
        for (name, shape) in super::crf::param_names(self.spec.tags.len()) {
            let n: usize = shape.iter().product();
            if let Some(part) = g[CRF].get(at..at + n) {
                out.insert(name.into(), norm(part));
            }
            at += n;
        }
        out
    }
}
