//! Ensembles: several taggers voting by their mean tag probabilities.

use super::data::Sentence;
use super::encode::Encoded;
use super::predict::decode;
use super::tagger::Tagger;
use crate::{Error, Result};

/// Several taggers with the same tag set, voting by their mean per-token
/// probabilities (each tagger encodes the words with its own vocabularies).
///
/// ```
/// use rnn::tasks::tag::{Ensemble, Sentence, Tagger, TaggerOptions};
/// let s = |w: &str, t: &str| Sentence {
///     tokens: w.split(' ').map(String::from).collect(),
///     tags: t.split(' ').map(String::from).collect(),
///     line: 1,
/// };
/// let train = vec![s("I like apple", "O O B-fruit"), s("The Apple is", "O B-corp O")];
/// let opts = TaggerOptions::default();
/// let (a, b) = (Tagger::new(&train, &opts, 1).unwrap(), Tagger::new(&train, &opts, 2).unwrap());
/// let ens = Ensemble::new(vec![a, b]).unwrap();
/// let tags = ens.tag(&train).unwrap(); // tag names per sentence
/// assert_eq!(tags[1].len(), 3);
/// let scores = ens.evaluate(&train, &[0.0, 1.0]).unwrap(); // one per entity bias
/// assert_eq!((scores.len(), scores[0].tokens), (2, 6));
/// ```
#[derive(Debug)]
pub struct Ensemble {
    /// The members; all have the same tags, in the same order.
    pub members: Vec<Tagger>,
    /// Added to the log-probability of every tag but `O` before decoding
    /// (default 0): > 0 trades precision for recall.
    pub entity_bias: f64,
    /// The members' directories (`tagger N` when built in memory), named by errors.
    pub(super) names: Vec<String>,
}

impl Ensemble {
    /// An ensemble of `members` (at least one, all with the same tag set).
    pub fn new(members: Vec<Tagger>) -> Result<Self> {
        let Some(first) = members.first() else {
            return Err(Error::Config(
                "an ensemble needs at least one tagger".into(),
            ));
        };
        if let Some(m) = members.iter().find(|m| m.spec.tags != first.spec.tags) {
            return Err(Error::Config(format!(
                "taggers with different tag sets cannot vote: {} vs {}",
                first.spec.tags.join(","),
                m.spec.tags.join(",")
            )));
        }
        let names = (1..=members.len()).map(|i| format!("tagger {i}")).collect();
        Ok(Ensemble {
            members,
            entity_bias: 0.0,
            names,
        })
    }

    /// The tag names (shared by all members).
    pub fn tags(&self) -> &[String] {
        &self.members[0].spec.tags
    }

    /// The tag ids of every sentence: p(y_t) = mean over members of their
    /// softmax (or CRF marginals), decoded like [`Tagger::predict`] on log p
    /// (plus `entity_bias` for tags other than `O`). A single CRF tagger is
    /// decoded exactly as [`Tagger::predict`] does (Viterbi with its
    /// transitions; the bias is added to the emissions).
    pub fn predict(&self, sentences: &[Sentence], batch: usize) -> Vec<Vec<usize>> {
        self.decode(&self.scores(sentences, batch), self.entity_bias)
    }

    /// [`Ensemble::scores`], every one of them finite: a NaN or infinity is
    /// an [`Error::NonFinite`] naming the first member whose own scores of
    /// that sentence are not finite.
    pub(super) fn checked_scores(
        &self,
        sentences: &[Sentence],
        batch: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let scores = self.scores(sentences, batch);
        for (i, row) in scores.iter().enumerate() {
            if let Err(e) = crate::error::finite_outputs(row, |k| {
                format!(
                    "the score of tag {} at token {} of sentence {}",
                    k % self.tags().len(),
                    k / self.tags().len() + 1,
                    i + 1
                )
            }) {
                let one = &sentences[i..=i];
                let culprit = self.members.iter().position(|m| {
                    let enc = [m.encode(&one[0])];
                    m.probabilities_own(&enc, 1)
                        .iter()
                        .flatten()
                        .any(|v| !v.is_finite())
                });
                return Err(e.of_model(&self.names[culprit.unwrap_or(0)]));
            }
        }
        Ok(scores)
    }

    /// The single CRF member, when the ensemble is one CRF tagger.
    fn single_crf(&self) -> Option<&Tagger> {
        match &self.members[..] {
            [m] if !m.crf.is_empty() => Some(m),
            _ => None,
        }
    }

    /// What [`Ensemble::decode`] decodes, `[n, O]` per sentence: the mean of
    /// the members' tag probabilities, or a single CRF tagger's logits.
    pub fn scores(&self, sentences: &[Sentence], batch: usize) -> Vec<Vec<f64>> {
        if let Some(m) = self.single_crf() {
            let enc: Vec<Encoded> = sentences.iter().map(|s| m.encode(s)).collect();
            let mut out = vec![Vec::new(); enc.len()];
            m.for_each_sentence(&enc, batch, |i, rows| {
                out[i] = rows.iter().map(|&v| v as f64).collect();
            });
            return out;
        }
        self.probabilities(sentences, batch)
    }

    /// The mean of the members' tag probabilities `[n, O]` for every sentence
    /// (what [`Ensemble::scores`] gives unless the ensemble is one CRF tagger).
    fn probabilities(&self, sentences: &[Sentence], batch: usize) -> Vec<Vec<f64>> {
        let o = self.tags().len();
        let mut sum: Vec<Vec<f64>> = sentences.iter().map(|s| vec![0.0; s.len() * o]).collect();
        for m in &self.members {
            let enc: Vec<Encoded> = sentences.iter().map(|s| m.encode(s)).collect();
            for (acc, p) in sum.iter_mut().zip(m.probabilities_own(&enc, batch)) {
                acc.iter_mut().zip(&p).for_each(|(a, &v)| *a += v as f64);
            }
        }
        let k = self.members.len() as f64;
        sum.iter_mut()
            .for_each(|acc| acc.iter_mut().for_each(|v| *v /= k));
        sum
    }

    /// Decodes [`Ensemble::scores`] with `entity_bias` added to the
    /// log-probability (a CRF's emission) of every tag but `O`.
    pub fn decode(&self, scores: &[Vec<f64>], entity_bias: f64) -> Vec<Vec<usize>> {
        let o = self.tags().len();
        let allowed = self.members[0].transitions();
        let bias: Vec<f64> = self
            .tags()
            .iter()
            .map(|t| if t == "O" { 0.0 } else { entity_bias })
            .collect();
        let crf = self.single_crf();
        scores
            .iter()
            .map(|p| {
                let biased = p.iter().enumerate();
                match crf {
                    Some(m) => {
                        let e: Vec<f64> = biased.map(|(i, &v)| v + bias[i % o]).collect();
                        super::crf::viterbi(&e, o, Some(&m.crf), allowed.as_deref())
                    }
                    None => {
                        let logp: Vec<f64> = biased
                            .map(|(i, &v)| v.max(1e-30).ln() + bias[i % o])
                            .collect();
                        decode(&logp, o, allowed.as_deref())
                    }
                }
            })
            .collect()
    }
}
