//! The forward pass of a tagger and decoding: logits, tag probabilities,
//! greedy or constrained (BIO) Viterbi decoding, dev loss.

use super::encode::Encoded;
use super::features::UNKNOWN_TAG;
use super::tagger::Tagger;
use crate::nn::layer::Input;
use crate::nn::loss::softmax;
use crate::nn::model::infer::Inference;
use crate::nn::model::Batch;

impl Tagger {
    /// Checks every sentence with [`Tagger::check_encoded`].
    fn check_all<'a>(&self, data: impl IntoIterator<Item = &'a Encoded>) -> crate::Result<()> {
        data.into_iter()
            .enumerate()
            .try_for_each(|(i, e)| self.check_encoded(e, i))
    }

    /// The logits `[T, B, O]` of a batch (no dropout), with `T`.
    ///
    /// # Errors
    ///
    /// A sentence not encoded by this tagger ([`Tagger::check_encoded`]).
    pub fn logits(&self, batch: &[&Encoded]) -> crate::Result<(Vec<f32>, usize)> {
        self.check_all(batch.iter().copied())?;
        Ok(self.logits_own(batch))
    }

    /// [`Tagger::logits`] of sentences this tagger encoded.
    pub(super) fn logits_own(&self, batch: &[&Encoded]) -> (Vec<f32>, usize) {
        let (x, steps, lengths, _) = self.inputs(batch, None, None, false);
        // forward only: nothing kept for BPTT
        let mut inf = Inference::new();
        self.model.infer_unchecked(
            Batch::new(Input::Dense(&x), steps, batch.len()).with_lengths(&lengths),
            &mut inf,
        );
        (inf.logits, steps)
    }

    /// The most likely tag ids of every sentence, computed in length-sorted
    /// batches of `batch`. For a chunk (BIO) tag set the decoding is
    /// constrained so that `I-X` only follows `B-X` or `I-X`.
    ///
    /// # Errors
    ///
    /// A sentence not encoded by this tagger ([`Tagger::check_encoded`]).
    pub fn predict(&self, data: &[Encoded], batch: usize) -> crate::Result<Vec<Vec<usize>>> {
        self.check_all(data)?;
        Ok(self.predict_own(data, batch))
    }

    /// [`Tagger::predict`] of sentences this tagger encoded.
    pub(super) fn predict_own(&self, data: &[Encoded], batch: usize) -> Vec<Vec<usize>> {
        self.predict_with_loss_own(data, batch).0
    }

    /// Like [`Tagger::predict`], also returning the summed cross-entropy over
    /// the tokens with known gold tags and their number (with a CRF: the
    /// summed negative log-likelihood of the sentences whose tags are all
    /// known, and their tokens).
    ///
    /// # Errors
    ///
    /// A sentence not encoded by this tagger ([`Tagger::check_encoded`]).
    pub fn predict_with_loss(
        &self,
        data: &[Encoded],
        batch: usize,
    ) -> crate::Result<(Vec<Vec<usize>>, f64, usize)> {
        self.check_all(data)?;
        Ok(self.predict_with_loss_own(data, batch))
    }

    /// [`Tagger::predict_with_loss`] of sentences this tagger encoded.
    pub(super) fn predict_with_loss_own(
        &self,
        data: &[Encoded],
        batch: usize,
    ) -> (Vec<Vec<usize>>, f64, usize) {
        let o = self.spec.tags.len();
        let allowed = self.transitions();
        let (mut loss, mut counted) = (0.0f64, 0usize);
        let mut out = vec![Vec::new(); data.len()];
        self.for_each_sentence(data, batch, |i, rows| {
            // rows: logits [n, O]
            if !self.crf.is_empty() {
                let gold = &data[i].tags;
                if !gold.is_empty() && gold.iter().all(|&y| y != UNKNOWN_TAG) {
                    loss += super::crf::nll(&self.crf, rows, o, gold);
                    counted += gold.len();
                }
                let e: Vec<f64> = rows.iter().map(|&v| v as f64).collect();
                out[i] = super::crf::viterbi(&e, o, Some(&self.crf), allowed.as_deref());
                return;
            }
            let mut logp = vec![0.0f64; rows.len()];
            for (t, r) in rows.chunks(o).enumerate() {
                let lse = crate::nn::loss::log_sum_exp(r);
                for (j, &v) in r.iter().enumerate() {
                    logp[t * o + j] = (v - lse) as f64;
                }
                if let Some(&y) = data[i].tags.get(t).filter(|&&y| y != UNKNOWN_TAG) {
                    loss += (lse - r[y]) as f64;
                    counted += 1;
                }
            }
            out[i] = decode(&logp, o, allowed.as_deref());
        });
        (out, loss, counted)
    }

    /// The tag probabilities `[n, O]` of every sentence (softmax of the
    /// logits; with a CRF, its marginals `p(y_t = j | sentence)`).
    ///
    /// # Errors
    ///
    /// A sentence not encoded by this tagger ([`Tagger::check_encoded`]).
    pub fn probabilities(&self, data: &[Encoded], batch: usize) -> crate::Result<Vec<Vec<f32>>> {
        self.check_all(data)?;
        Ok(self.probabilities_own(data, batch))
    }

    /// [`Tagger::probabilities`] of sentences this tagger encoded.
    pub(super) fn probabilities_own(&self, data: &[Encoded], batch: usize) -> Vec<Vec<f32>> {
        let o = self.spec.tags.len();
        let mut out = vec![Vec::new(); data.len()];
        self.for_each_sentence(data, batch, |i, rows| {
            out[i] = if self.crf.is_empty() {
                rows.chunks(o).flat_map(|r| softmax(r, o)).collect()
            } else {
                super::crf::marginals(&self.crf, rows, o)
                    .iter()
                    .map(|&p| p as f32)
                    .collect()
            };
        });
        out
    }

    /// Calls `f(i, logits [n_i, O])` for every sentence `i`, computed in
    /// length-sorted batches of `batch`.
    pub(super) fn for_each_sentence(
        &self,
        data: &[Encoded],
        batch: usize,
        mut f: impl FnMut(usize, &[f32]),
    ) {
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.sort_by_key(|&i| data[i].len);
        let o = self.spec.tags.len();
        let mut rows = Vec::new();
        for chunk in order.chunks(batch.max(1)) {
            let refs: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
            let (logits, _) = self.logits_own(&refs);
            let b_n = refs.len();
            for (b, &i) in chunk.iter().enumerate() {
                rows.clear();
                for t in 0..data[i].len {
                    rows.extend_from_slice(&logits[(t * b_n + b) * o..(t * b_n + b + 1) * o]);
                }
                f(i, &rows);
            }
        }
    }

    /// For chunk tag sets, `allowed[prev * O + next]` (with row `O` =
    /// sentence start) under BIO's rule, or IOB1's when the training tags
    /// followed it ([`TaggerSpec::iob1`](super::features::TaggerSpec)); `None` otherwise.
    pub(super) fn transitions(&self) -> Option<Vec<bool>> {
        let tags = &self.spec.tags;
        if !super::metrics::is_chunk_tagset(tags) {
            return None;
        }
        let o = tags.len();
        let mut a = vec![true; (o + 1) * o];
        // BIO: `I-X` only after `B-X` or `I-X`; IOB1: `B-X` only after
        // `B-X` or `I-X` (it separates two entities of one type), `I-X`
        // anywhere (it starts an entity after anything else)
        let constrained = if self.spec.iob1 { "B-" } else { "I-" };
        for (j, next) in tags.iter().enumerate() {
            if let Some(ty) = next.strip_prefix(constrained) {
                for p in 0..=o {
                    let ok =
                        p < o && (tags[p] == format!("B-{ty}") || tags[p] == format!("I-{ty}"));
                    a[p * o + j] = ok;
                }
            }
        }
        Some(a)
    }
}

/// The best tag path under the per-token log-probabilities `logp [n, O]`:
/// Viterbi over the allowed transitions (`allowed[prev * O + next]`, row `O` =
/// sentence start) or, without constraints, the per-token argmax.
pub(crate) fn decode(logp: &[f64], o: usize, allowed: Option<&[bool]>) -> Vec<usize> {
    match allowed {
        Some(a) => super::crf::viterbi(logp, o, None, Some(a)),
        None => logp
            .chunks(o)
            .map(|r| (0..o).fold(0, |b, j| if r[j] > r[b] { j } else { b }))
            .collect(),
    }
}
