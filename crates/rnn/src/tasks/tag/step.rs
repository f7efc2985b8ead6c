//! One training step of a tagger: dropout, forward, loss (cross-entropy or
//! CRF), backward into the network, the embeddings and the character
//! encoder, clipping and the optimizer update; and length-sorted batches.

use super::chars::CharEncoder;
use super::encode::Encoded;
use super::features::{FeatureKind, NUM_FLAGS, UNK, UNKNOWN_TAG};
use super::tagger::Tagger;
use crate::dist::{self, Collective, Single};
use crate::kernels::{sum_squares_f64, sum_squares_f64_in};
use crate::nn::layer::Input;
use crate::nn::loss::{loss_and_grad_unchecked, OutputKind, Reduction, Targets};
use crate::nn::model::Batch;
use crate::optim::{Optimizer, OptimizerConfig, RowLayout, RowOptimizer, Touched};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Training hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// The optimizer (default Adam, lr 1e-2).
    pub optimizer: OptimizerConfig,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip: f64,
    /// Word dropout: a training word seen `c` times becomes `<unk>` with
    /// probability `alpha / (alpha + c)`.
    pub word_dropout: f64,
    /// Dropout probability on the input vectors.
    pub input_dropout: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            optimizer: OptimizerConfig::Adam {
                lr: 1e-2,
                betas: (0.9, 0.999),
                eps: 1e-8,
                weight_decay: 0.0,
                amsgrad: false,
            },
            clip: 5.0,
            word_dropout: 0.25,
            input_dropout: 0.0,
        }
    }
}

/// Optimizer state and gradient buffers for training a [`Tagger`].
#[derive(Debug)]
pub struct Stepper {
    opts: TrainOptions,
    /// One optimizer per parameter group ([`MODEL`], [`EMB`], [`CRF`],
    /// [`CHAR_EMB`], [`CHAR_RNN`]); the embeddings' by rows, each step
    /// doing only the work of the rows the batch used and of those whose
    /// state still moves their weights (the dense update's bits).
    opt: Optimizers,
    /// The gradient of each parameter group, laid out like its buffer.
    pub(super) g: [Vec<f32>; GROUPS],
    /// The rows of the embedding tables ([`EMB`]) where `g[EMB]` may be
    /// non-zero, increasing (`None`: anywhere); zero in every other row.
    touched: Option<Vec<usize>>,
    /// Where each feature's rows start among the embedding rows, then
    /// where the n-gram table's start.
    row_base: Vec<usize>,
    rng: ChaCha8Rng,
}

/// The optimizers of a [`Stepper`], one per parameter group (kept and
/// restored together with the weights on a divergence).
pub(super) type Optimizers = [RowOptimizer<f32>; GROUPS];

/// Parameter groups of a tagger: recurrent network and readout.
pub(super) const MODEL: usize = 0;
/// Feature and n-gram embeddings.
pub(super) const EMB: usize = 1;
/// CRF start, transition and end scores (empty without a CRF).
pub(super) const CRF: usize = 2;
/// Character embeddings (empty without the character encoder).
pub(super) const CHAR_EMB: usize = 3;
/// The character encoder's LSTM (empty without it).
pub(super) const CHAR_RNN: usize = 4;
/// How many parameter groups there are.
pub(super) const GROUPS: usize = 5;

impl Tagger {
    /// Every trained parameter buffer, indexed by group ([`MODEL`] ... [`CHAR_RNN`]).
    fn groups_mut(&mut self) -> [&mut [f32]; GROUPS] {
        let (char_emb, char_rnn): (&mut [f32], &mut [f32]) = match &mut self.chars {
            Some(c) => (&mut c.emb, &mut c.rnn.params),
            None => (&mut [], &mut []),
        };
        [
            &mut self.model.params,
            &mut self.emb,
            &mut self.crf,
            char_emb,
            char_rnn,
        ]
    }

    /// The size of each parameter group.
    fn group_sizes(&self) -> [usize; GROUPS] {
        let (ce, cr) = self
            .chars
            .as_ref()
            .map_or((0, 0), |c| (c.emb.len(), c.rnn.params.len()));
        [
            self.model.params.len(),
            self.emb.len(),
            self.crf.len(),
            ce,
            cr,
        ]
    }
}

impl Stepper {
    /// A trainer for `tagger`; `seed` drives dropout.
    pub fn new(tagger: &Tagger, opts: &TrainOptions, seed: u64) -> Result<Self> {
        if !(opts.word_dropout.is_finite() && opts.word_dropout >= 0.0) {
            return Err(Error::Config(format!(
                "word dropout {}: expected a number >= 0",
                opts.word_dropout
            )));
        }
        if !(0.0..1.0).contains(&opts.input_dropout) {
            return Err(Error::Config(format!(
                "input dropout {}: expected a number in [0, 1)",
                opts.input_dropout
            )));
        }
        let sizes = tagger.group_sizes();
        // the embedding rows: each feature's table, then the n-gram table's
        let mut tables: Vec<(usize, usize)> = tagger
            .spec
            .features
            .iter()
            .map(|f| (f.vocab.len(), f.dim))
            .collect();
        if let Some(g) = &tagger.spec.ngrams {
            tables.push(((tagger.emb.len() - tagger.ngram_off) / g.dim.max(1), g.dim));
        }
        let mut row_base = vec![0];
        for &(rows, _) in &tables {
            row_base.push(row_base[row_base.len() - 1] + rows);
        }
        let layout = RowLayout::new(&tables)?;
        // the rows must lie where the tagger reads its tables
        let starts = tables.iter().scan(0, |at, &(rows, dim)| {
            let start = *at;
            *at += rows * dim;
            Some(start)
        });
        let offsets = tagger.offsets.iter().copied();
        let offsets = offsets.chain(tagger.spec.ngrams.as_ref().map(|_| tagger.ngram_off));
        if layout.len() != sizes[EMB] || !starts.eq(offsets) {
            return Err(Error::Config(format!(
                "the embedding tables ({} values) do not lie end to end as their rows ({} values)",
                sizes[EMB],
                layout.len()
            )));
        }
        let mut layouts = sizes.map(RowLayout::whole);
        layouts[EMB] = layout;
        let mut opt = Vec::with_capacity(GROUPS);
        for (n, layout) in sizes.into_iter().zip(layouts) {
            opt.push(RowOptimizer::new(
                Optimizer::new(opts.optimizer.clone(), n),
                layout,
            )?);
        }
        Ok(Stepper {
            opts: opts.clone(),
            opt: opt.try_into().expect("one optimizer per group"),
            g: sizes.map(|n| vec![0.0; n]),
            touched: Some(Vec::new()),
            row_base,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0d20_b0a7),
        })
    }

    /// The optimizers' learning rate.
    pub fn lr(&self) -> f64 {
        self.opt[MODEL].optimizer().config.lr()
    }

    /// The optimizers' state (to restore after a divergence).
    pub(super) fn optimizers(&self) -> Optimizers {
        self.opt.clone()
    }

    /// Restores optimizers taken by [`Stepper::optimizers`].
    pub(super) fn set_optimizers(&mut self, opt: &Optimizers) {
        self.opt.clone_from(opt);
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.iter_mut().for_each(|o| o.set_lr(lr));
    }

    /// The values of the embedding rows `touched` names (all when `None`).
    fn emb_ranges<'a>(
        opt: &'a Optimizers,
        touched: &'a Option<Vec<usize>>,
        n: usize,
    ) -> Box<dyn Iterator<Item = std::ops::Range<usize>> + 'a> {
        match touched {
            Some(rows) => Box::new(rows.iter().map(|&r| opt[EMB].layout().range(r))),
            None => Box::new(std::iter::once(0..n)),
        }
    }

    /// One update on a batch of tagged sentences (every tag known). Returns the
    /// summed loss (cross-entropy, or with a CRF its negative log-likelihood)
    /// and the number of tokens.
    ///
    /// # Errors
    ///
    /// An optimizer step that does not fit the tagger's parameters (a
    /// tagger other than the one this stepper was made for):
    /// [`crate::optim::Optimizer::step`].
    pub fn step(&mut self, tagger: &mut Tagger, batch: &[&Encoded]) -> Result<(f64, usize)> {
        self.step_on(tagger, batch, &Single)
    }

    /// [`Stepper::step`] as one rank of a data-parallel job ([`crate::dist`]):
    /// every rank of `comm` passes the same batch and makes the same random
    /// draws (the whole batch's dropout), runs its contiguous share of the
    /// sentences ([`dist::share`]), and one all-reduce of every parameter
    /// group's gradient and the loss gives each rank the whole batch's, so
    /// all apply the same update. With one process this is `step`.
    pub fn step_on(
        &mut self,
        tagger: &mut Tagger,
        batch: &[&Encoded],
        comm: &dyn Collective,
    ) -> Result<(f64, usize)> {
        let part = dist::share(comm, batch.len());
        let (mut loss, tokens) = self.gradients_part(tagger, batch, part);
        if comm.size() > 1 {
            let mut l = [loss];
            let [g0, g1, g2, g3, g4] = &mut self.g;
            dist::all_reduce_parts(comm, &mut [g0, g1, g2, g3, g4, &mut l]);
            loss = l[0];
            // the other ranks' rows too
            self.touched = None;
        }
        // the gradients' norm, also their finiteness check (vectorised;
        // of the embeddings, only the rows used: zero elsewhere)
        let emb_len = self.g[EMB].len();
        let norm = self
            .g
            .iter()
            .enumerate()
            .map(|(i, g)| match i {
                EMB => sum_squares_f64_in(g, Self::emb_ranges(&self.opt, &self.touched, emb_len)),
                _ => sum_squares_f64(g),
            })
            .sum::<f64>()
            .sqrt();
        if !loss.is_finite() || !norm.is_finite() {
            // a non-finite loss or gradient never reaches the weights
            return Ok((f64::from(loss) * tokens as f64 + f64::NAN, tokens));
        }
        if self.opts.clip > 0.0 {
            let c = self.opts.clip / (norm + 1e-6);
            if c < 1.0 {
                let c = c as f32;
                for (i, g) in self.g.iter_mut().enumerate() {
                    if i == EMB {
                        for r in Self::emb_ranges(&self.opt, &self.touched, emb_len) {
                            g[r].iter_mut().for_each(|g| *g *= c);
                        }
                    } else {
                        g.iter_mut().for_each(|g| *g *= c);
                    }
                }
            }
        }
        let groups = self.opt.iter_mut().zip(&self.g).zip(tagger.groups_mut());
        for (i, ((opt, g), p)) in groups.enumerate() {
            let touched = match (i, &self.touched) {
                (EMB, Some(rows)) => Touched::Rows(rows),
                _ => Touched::All,
            };
            opt.step(p, g, touched)?;
        }
        Ok((loss as f64 * tokens as f64, tokens))
    }

    /// The gradients of the batch's mean loss per token (cross-entropy, or
    /// the CRF's negative log-likelihood; with this step's dropout), left in
    /// `self.g` (every group); returns the mean loss and the number of tokens.
    pub(super) fn gradients(&mut self, tagger: &Tagger, batch: &[&Encoded]) -> (f32, usize) {
        self.gradients_part(tagger, batch, (0, batch.len()))
    }

    /// The share of the sentences `part = (b0, b1)` in
    /// [`Stepper::gradients`] (one rank's, [`Stepper::step_on`]): the random
    /// draws are the whole batch's (word dropout, input dropout masks
    /// `[T, B, I]`), of which the part's rows are used, and the mean counts
    /// every token of the whole batch, so the parts' losses and gradients
    /// sum to the whole batch's. Returns the part's share of the mean loss
    /// and the whole batch's number of tokens.
    pub(super) fn gradients_part(
        &mut self,
        tagger: &Tagger,
        batch: &[&Encoded],
        part: (usize, usize),
    ) -> (f32, usize) {
        let nf = tagger.spec.features.len();
        // word dropout: rare words become <unk> now and then, so <unk> is learned
        let word = tagger
            .spec
            .features
            .iter()
            .position(|f| f.kind == FeatureKind::Word);
        let ids: Option<Vec<Vec<u32>>> = match (
            word,
            self.opts.word_dropout > 0.0 && !tagger.counts.is_empty(),
        ) {
            (Some(w), true) => Some(
                batch
                    .iter()
                    .map(|e| {
                        let mut v = e.ids.clone();
                        for t in 0..e.len {
                            let id = v[t * nf + w] as usize;
                            let c = tagger.counts[w].get(id).copied().unwrap_or(0) as f64;
                            let a = self.opts.word_dropout;
                            if id != 0 && self.rng.random::<f64>() < a / (a + c) {
                                v[t * nf + w] = UNK;
                            }
                        }
                        v
                    })
                    .collect(),
            ),
            _ => None,
        };
        let lengths_max = batch.iter().map(|e| e.len).max().unwrap_or(0);
        let i_n = tagger.input_size();
        let keep: Option<Vec<f32>> = (self.opts.input_dropout > 0.0).then(|| {
            let p = self.opts.input_dropout;
            let s = (1.0 / (1.0 - p)) as f32;
            (0..lengths_max * batch.len() * i_n)
                .map(|_| if self.rng.random::<f64>() < p { 0.0 } else { s })
                .collect()
        });
        // the whole batch's tokens: the mean's denominator on every rank
        let tokens: usize = batch
            .iter()
            .map(|e| {
                e.tags[..e.len]
                    .iter()
                    .filter(|&&y| y != UNKNOWN_TAG)
                    .count()
            })
            .sum();
        let (b_all, (b0, b1)) = (batch.len(), part);
        let whole = part == (0, b_all);
        let batch = &batch[b0..b1];
        let ids = ids.as_deref().map(|v| &v[b0..b1]);
        let keep: Option<Vec<f32>> = match (keep, whole) {
            (Some(k), false) => {
                // the part's rows [T', b1 - b0, I] of the whole batch's mask [T, B, I]
                let t_part = batch.iter().map(|e| e.len).max().unwrap_or(0);
                let rows = (0..t_part).flat_map(|t| (b0..b1).map(move |b| t * b_all + b));
                Some(
                    rows.flat_map(|r| &k[r * i_n..(r + 1) * i_n])
                        .copied()
                        .collect(),
                )
            }
            (k, _) => k,
        };
        if batch.is_empty() {
            self.g.iter_mut().for_each(|g| g.fill(0.0));
            self.touched = Some(Vec::new());
            return (0.0, tokens);
        }
        let (x, steps, lengths, char_cache) = tagger.inputs(batch, ids, keep.as_deref(), true);
        let b_n = batch.len();
        let model = &tagger.model;
        // inputs built by the tagger itself: shapes and lengths hold by construction
        let fwd = model
            .forward_unchecked(Batch::new(Input::Dense(&x), steps, b_n).with_lengths(&lengths));
        let mut targets = vec![0usize; steps * b_n];
        let mut mask = vec![false; steps * b_n];
        for (b, e) in batch.iter().enumerate() {
            for t in 0..e.len {
                let y = e.tags[t];
                if y != UNKNOWN_TAG {
                    targets[t * b_n + b] = y;
                    mask[t * b_n + b] = true;
                }
            }
        }
        let mut dlogits = vec![0.0f32; fwd.logits.len()];
        let loss = if tagger.crf.is_empty() {
            let loss = loss_and_grad_unchecked(
                OutputKind::Softmax,
                &fwd.logits,
                model.config.output_size,
                Targets::Classes(&targets),
                Some(&mask),
                if whole {
                    Reduction::Mean
                } else {
                    Reduction::Sum
                },
                &mut dlogits,
            );
            if whole {
                loss
            } else {
                // a part: the whole batch's mean, 1/tokens
                let scale = 1.0 / tokens.max(1) as f32;
                dlogits.iter_mut().for_each(|d| *d *= scale);
                loss * scale
            }
        } else {
            self.crf_loss(tagger, batch, &fwd.logits, &mut dlogits, tokens)
        };
        self.g[MODEL].fill(0.0);
        let (_, dx) = model.backward_unchecked(
            &fwd,
            Input::Dense(&x),
            Some(&lengths),
            &dlogits,
            None,
            &mut self.g[MODEL],
            true,
        );
        // dE/d(embedding row) = sum over its uses of the matching slice of
        // dE/dx; the rows the last batch used are cleared, the others are 0
        let emb_len = self.g[EMB].len();
        for r in Self::emb_ranges(&self.opt, &self.touched, emb_len) {
            self.g[EMB][r].fill(0.0);
        }
        // the list of the last batch's rows, refilled (no allocation a step)
        let mut touched = self.touched.take().unwrap_or_default();
        touched.clear();
        self.g[CHAR_EMB].fill(0.0);
        self.g[CHAR_RNN].fill(0.0);
        let cn = tagger.chars.as_ref().map_or(0, CharEncoder::out_size);
        let char_col = i_n - NUM_FLAGS - tagger.spec.lexicon_width() - cn; // where the character vector starts in x
        let mut d_chars = Vec::new(); // dE/dr [Nw, 2*hc], the batch's tokens in order
        if let Some(dx) = dx {
            for (b, e) in batch.iter().enumerate() {
                let eids = ids.map_or(&e.ids[..], |v| &v[b][..]);
                for t in 0..e.len {
                    let r = t * b_n + b;
                    let mut col = 0;
                    for (f, spec) in tagger.spec.features.iter().enumerate() {
                        let id = eids[t * nf + f] as usize;
                        touched.push(self.row_base[f] + id);
                        let dst = tagger.offsets[f] + id * spec.dim;
                        for j in 0..spec.dim {
                            let m = keep.as_ref().map_or(1.0, |k| k[r * i_n + col + j]);
                            self.g[EMB][dst + j] += dx[r * i_n + col + j] * m;
                        }
                        col += spec.dim;
                    }
                    if let Some(g) = &tagger.spec.ngrams {
                        // x = (1/K) sum_k G[k]  =>  dE/dG[k] += (1/K) dE/dx, per use
                        let ks = &e.ngrams[e.ngram_at[t]..e.ngram_at[t + 1]];
                        let w = 1.0 / ks.len() as f32;
                        for &k in ks {
                            touched.push(self.row_base[nf] + k as usize);
                            let dst = tagger.ngram_off + k as usize * g.dim;
                            for j in 0..g.dim {
                                let m = keep.as_ref().map_or(1.0, |kp| kp[r * i_n + col + j]);
                                self.g[EMB][dst + j] += w * dx[r * i_n + col + j] * m;
                            }
                        }
                    }
                    // x[char_col..+2hc] = r[word]  =>  dE/dr[word] = that slice of dE/dx
                    for j in char_col..char_col + cn {
                        let m = keep.as_ref().map_or(1.0, |kp| kp[r * i_n + j]);
                        d_chars.push(dx[r * i_n + j] * m);
                    }
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        self.touched = Some(touched);
        if let (Some(c), Some(cache), false) = (&tagger.chars, &char_cache, d_chars.is_empty()) {
            let [.., g_char_emb, g_char_rnn] = &mut self.g;
            c.backward(cache, &d_chars, g_char_emb, g_char_rnn);
        }
        (loss, tokens)
    }
}

impl Stepper {
    /// The CRF's negative log-likelihood of a batch divided by its number of
    /// tokens; writes dE/dlogits (`[T, B, O]`, like `logits`) and fills
    /// `self.g[CRF]`. Sentences with an unknown gold tag are left out.
    fn crf_loss(
        &mut self,
        tagger: &Tagger,
        batch: &[&Encoded],
        logits: &[f32],
        dlogits: &mut [f32],
        tokens: usize,
    ) -> f32 {
        let o = tagger.spec.tags.len();
        let b_n = batch.len();
        let scale = 1.0 / tokens.max(1) as f64;
        self.g[CRF].fill(0.0);
        let mut loss = 0.0;
        let (mut e, mut de) = (Vec::new(), Vec::new());
        for (b, enc) in batch.iter().enumerate() {
            if enc.tags.contains(&UNKNOWN_TAG) {
                continue;
            }
            // gather the sentence's rows [n, O] out of [T, B, O], and back
            e.clear();
            for t in 0..enc.len {
                e.extend_from_slice(&logits[(t * b_n + b) * o..][..o]);
            }
            de.clear();
            de.resize(e.len(), 0.0f32);
            loss += super::crf::nll_and_grad(
                &tagger.crf,
                &e,
                o,
                &enc.tags,
                scale,
                &mut de,
                &mut self.g[CRF],
            );
            for t in 0..enc.len {
                dlogits[(t * b_n + b) * o..][..o].copy_from_slice(&de[t * o..(t + 1) * o]);
            }
        }
        (loss * scale) as f32
    }
}

/// Groups sentence indices into batches of about `batch` sentences of similar
/// length (sorted by length with random tie-breaks), in random batch order.
pub fn length_batches(lengths: &[usize], batch: usize, rng: &mut impl Rng) -> Vec<Vec<usize>> {
    let mut keyed: Vec<(usize, u32, usize)> = lengths
        .iter()
        .enumerate()
        .map(|(i, &l)| (l, rng.random::<u32>(), i))
        .collect();
    keyed.sort_unstable();
    let mut out: Vec<Vec<usize>> = keyed
        .chunks(batch.max(1))
        .map(|c| c.iter().map(|k| k.2).collect())
        .collect();
    out.shuffle(rng);
    out
}
