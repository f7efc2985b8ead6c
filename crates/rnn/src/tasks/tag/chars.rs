//! A character-level word encoder: each word's characters are embedded and
//! read by a bidirectional LSTM; the word's vector is the forward direction's
//! last state concatenated with the backward direction's last state (the one
//! after reading the first character), as in Lample et al. (2016).
//!
//! ```text
//! c_1 .. c_m            the word's characters (at most MAX_CHARS), ids into the vocabulary
//! z_k = C[c_k]          [dc]      C: the character embeddings [Vc, dc]
//! (h_fwd, h_bwd) = BiLSTM(z_1 .. z_m) final states   [hc] each
//! r = [h_fwd ; h_bwd]   [2*hc]    the word's character vector
//! ```
//!
//! Gradients flow back from `dE/dr` through the LSTM ([`Model::backward`]
//! with the final-state gradient) into `C`.

use super::init::init_rows;
use crate::nn::cell::CellKind;
use crate::nn::layer::Input;
use crate::nn::model::infer::Inference;
use crate::nn::model::{param_layout, Batch, Forward, Model, ModelConfig, State};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Characters read per word (longer words are cut after this many).
pub const MAX_CHARS: usize = 24;

/// The character encoder's description (saved as part of the tagger's JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CharSpec {
    /// Character embedding size `dc`.
    pub dim: usize,
    /// LSTM hidden size per direction `hc`; the word vector has `2 * hc`.
    pub hidden: usize,
    /// Characters by id; id 0 is the unknown character.
    pub vocab: Vec<char>,
}

/// Character embeddings and the bidirectional LSTM that reads them.
#[derive(Clone, Debug)]
pub struct CharEncoder {
    /// Sizes and vocabulary.
    pub spec: CharSpec,
    index: HashMap<char, u32>,
    /// Character embeddings `[Vc, dc]`.
    pub emb: Vec<f32>,
    /// The bidirectional LSTM (`input dc`, `hidden hc`; its one-unit readout is unused).
    pub rnn: Model<f32>,
}

/// What [`CharEncoder::forward`] keeps for the backward pass.
#[derive(Debug)]
pub struct CharCache {
    ids: Vec<u32>,       // [Tc, Nw] character ids (0 past a word's end)
    x: Vec<f32>,         // [Tc, Nw, dc] embedded characters
    lengths: Vec<usize>, // [Nw]
    fwd: Forward<f32>,
}

fn rnn_config(spec: &CharSpec) -> ModelConfig {
    let mut cfg = ModelConfig::elman(spec.dim, spec.hidden, 1);
    cfg.cell = CellKind::Lstm;
    cfg.bidirectional = true;
    cfg
}

/// The random stream of new character embedding rows for `seed`.
fn char_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xc4a3)
}

impl CharEncoder {
    /// A new encoder whose vocabulary is every character of `words`, with
    /// random weights from `seed`.
    pub fn new<'a>(
        words: impl Iterator<Item = &'a str>,
        dim: usize,
        hidden: usize,
        seed: u64,
    ) -> Result<Self> {
        if dim == 0 || hidden == 0 {
            return Err(Error::Config(format!(
                "character encoder: embedding size {dim}, hidden size {hidden}: expected both >= 1"
            )));
        }
        let set: BTreeSet<char> = words.flat_map(str::chars).collect();
        let mut vocab = vec!['\u{0}'];
        vocab.extend(set.into_iter().filter(|&c| c != '\u{0}'));
        let spec = CharSpec { dim, hidden, vocab };
        // (an error names the encoder's options, not the inner config's
        // `hidden_size`, which a user would read as the tagger's)
        let rnn = Model::new(rnn_config(&spec), seed ^ 0xc4a2).map_err(|e| {
            Error::Config(format!(
                "character encoder: embedding size {dim}, hidden size {hidden}: {e}"
            ))
        })?;
        let mut emb = vec![0.0; spec.vocab.len() * dim];
        init_rows(&mut emb, dim, &mut char_rng(seed));
        Ok(Self::assemble(spec, emb, rnn))
    }

    fn assemble(spec: CharSpec, emb: Vec<f32>, rnn: Model<f32>) -> Self {
        let index = spec
            .vocab
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        CharEncoder {
            spec,
            index,
            emb,
            rnn,
        }
    }

    /// This encoder with the characters of `words` it does not know added
    /// (random rows from `seed`), for training on new data.
    pub fn extended<'a>(&self, words: impl Iterator<Item = &'a str>, seed: u64) -> Self {
        let new: BTreeSet<char> = words
            .flat_map(str::chars)
            .filter(|c| !self.index.contains_key(c))
            .collect();
        let mut spec = self.spec.clone();
        spec.vocab.extend(new);
        let mut emb = self.emb.clone();
        let known = emb.len();
        emb.resize(spec.vocab.len() * spec.dim, 0.0);
        init_rows(&mut emb[known..], spec.dim, &mut char_rng(seed));
        Self::assemble(spec, emb, self.rnn.clone())
    }

    /// The size of a word's vector, `2 * hc`.
    pub fn out_size(&self) -> usize {
        2 * self.spec.hidden
    }

    /// The character ids of `word` (at most [`MAX_CHARS`], at least one).
    pub fn ids(&self, word: &str) -> Vec<u32> {
        let mut v: Vec<u32> = word
            .chars()
            .take(MAX_CHARS)
            .map(|c| self.index.get(&c).copied().unwrap_or(0))
            .collect();
        if v.is_empty() {
            v.push(0);
        }
        v
    }

    /// The LSTM's inputs for `words`: ids `[Tc, Nw]`, embeddings
    /// `z = C[c]` `[Tc, Nw, dc]`, lengths `[Nw]` and `Tc`.
    fn embed(&self, words: &[&[u32]]) -> (Vec<u32>, Vec<f32>, Vec<usize>, usize) {
        let (nw, dc) = (words.len(), self.spec.dim);
        let lengths: Vec<usize> = words.iter().map(|w| w.len().max(1)).collect();
        let tc = lengths.iter().copied().max().unwrap_or(1);
        let mut ids = vec![0u32; tc * nw]; // [Tc, Nw]
        let mut x = vec![0.0f32; tc * nw * dc]; // [Tc, Nw, dc]
        for (k, w) in words.iter().enumerate() {
            for (t, &c) in w.iter().enumerate() {
                ids[t * nw + k] = c;
                // z = C[c]
                x[(t * nw + k) * dc..][..dc].copy_from_slice(&self.emb[c as usize * dc..][..dc]);
            }
        }
        (ids, x, lengths, tc)
    }

    /// `r_k = [h_fwd(k) ; h_bwd(k)]` `[Nw, 2*hc]` from the final state `h`
    /// `[2, Nw, hc]`.
    fn join_directions(&self, h: &[f32], nw: usize) -> Vec<f32> {
        let hc = self.spec.hidden;
        let mut out = vec![0.0f32; nw * 2 * hc];
        for k in 0..nw {
            for d in 0..2 {
                out[k * 2 * hc + d * hc..][..hc].copy_from_slice(&h[(d * nw + k) * hc..][..hc]);
            }
        }
        out
    }

    /// The vectors `[Nw, 2*hc]` of `words` (character ids from
    /// [`CharEncoder::ids`]), and the cache for [`CharEncoder::backward`].
    pub fn forward(&self, words: &[&[u32]]) -> (Vec<f32>, CharCache) {
        let (ids, x, lengths, tc) = self.embed(words);
        let fwd = self.rnn.forward_unchecked(
            Batch::new(Input::Dense(&x), tc, words.len()).with_lengths(&lengths),
        );
        let out = self.join_directions(&self.rnn.final_state(&fwd).h, words.len());
        let cache = CharCache {
            ids,
            x,
            lengths,
            fwd,
        };
        (out, cache)
    }

    /// The vectors of [`CharEncoder::forward`] alone, for inference: nothing
    /// is kept for backpropagation.
    pub fn encode(&self, words: &[&[u32]]) -> Vec<f32> {
        let (_, x, lengths, tc) = self.embed(words);
        let mut inf = Inference::new();
        self.rnn.infer_unchecked(
            Batch::new(Input::Dense(&x), tc, words.len()).with_lengths(&lengths),
            &mut inf,
        );
        self.join_directions(&inf.state.h, words.len())
    }

    /// Backward of [`CharEncoder::forward`]: from `dE/dr` (`[Nw, 2*hc]`),
    /// *adds* `dE/dC` into `g_emb` (`[Vc, dc]`) and the LSTM's gradients into
    /// `g_rnn` (laid out like `self.rnn.params`).
    pub fn backward(&self, cache: &CharCache, d_out: &[f32], g_emb: &mut [f32], g_rnn: &mut [f32]) {
        let (dc, hc) = (self.spec.dim, self.spec.hidden);
        let nw = cache.lengths.len();
        let tc = cache.fwd.steps;
        // dE/dh_n [2, Nw, hc] from dE/dr; the cell states get no gradient
        let mut dh = vec![0.0f32; 2 * nw * hc];
        for k in 0..nw {
            for d in 0..2 {
                dh[(d * nw + k) * hc..][..hc].copy_from_slice(&d_out[k * 2 * hc + d * hc..][..hc]);
            }
        }
        let dstate = State {
            c: vec![0.0; dh.len()],
            h: dh,
        };
        let dlogits = vec![0.0f32; tc * nw]; // the unused readout
        let (_, dx) = self.rnn.backward_unchecked(
            &cache.fwd,
            Input::Dense(&cache.x),
            Some(&cache.lengths),
            &dlogits,
            Some(&dstate),
            g_rnn,
            true,
        );
        // dE/dC[c] += dE/dz_{t,k} for every real character position holding c
        if let Some(dx) = dx {
            for k in 0..nw {
                for t in 0..cache.lengths[k] {
                    let c = cache.ids[t * nw + k] as usize;
                    let src = &dx[(t * nw + k) * dc..][..dc];
                    for (g, v) in g_emb[c * dc..][..dc].iter_mut().zip(src) {
                        *g += v;
                    }
                }
            }
        }
    }

    /// The tensors to save: `embed.char.weight` and the LSTM's parameters
    /// under `char_rnn.` + their PyTorch names.
    pub fn tensors(&self) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
        let mut out = BTreeMap::new();
        out.insert(
            "embed.char.weight".to_string(),
            (vec![self.spec.vocab.len(), self.spec.dim], self.emb.clone()),
        );
        for e in param_layout(&self.rnn.config) {
            if let Some(name) = e.name.strip_prefix("rnn.") {
                out.insert(
                    format!("char_rnn.{name}"),
                    (e.shape.clone(), self.rnn.params[e.range()].to_vec()),
                );
            }
        }
        out
    }

    /// Rebuilds an encoder from `spec` and the tensors of
    /// [`CharEncoder::tensors`], looked up by `get(name, shape)`.
    pub fn from_tensors(
        spec: CharSpec,
        mut get: impl FnMut(&str, &[usize]) -> Result<Vec<f32>>,
    ) -> Result<Self> {
        if spec.vocab.is_empty() || spec.dim == 0 || spec.hidden == 0 {
            return Err(Error::Config(format!(
                "character encoder: {} characters, embedding size {}, hidden size {}: expected all >= 1",
                spec.vocab.len(),
                spec.dim,
                spec.hidden
            )));
        }
        let emb = get("embed.char.weight", &[spec.vocab.len(), spec.dim])?;
        let mut rnn = Model::zeros(rnn_config(&spec))?;
        for e in param_layout(&rnn.config) {
            if let Some(name) = e.name.strip_prefix("rnn.") {
                let v = get(&format!("char_rnn.{name}"), &e.shape)?;
                rnn.params[e.range()].copy_from_slice(&v);
            }
        }
        Ok(Self::assemble(spec, emb, rnn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(enc: &CharEncoder, words: &[&[u32]], w: &[f32]) -> f32 {
        // E = sum_k sum_j w_j r_kj: a linear probe of the word vectors
        let (r, _) = enc.forward(words);
        r.iter().zip(w.iter().cycle()).map(|(a, b)| a * b).sum()
    }

    #[test]
    fn gradients_match_finite_differences_and_padding_is_inert() {
        let words = ["Apple", "ox", "iPhone7"];
        let mut enc = CharEncoder::new(words.iter().copied(), 3, 4, 1).unwrap();
        let ids: Vec<Vec<u32>> = words.iter().map(|w| enc.ids(w)).collect();
        let refs: Vec<&[u32]> = ids.iter().map(|v| &v[..]).collect();
        let w = [0.7f32, -1.1, 0.4, 0.9, -0.3, 1.3, 0.2, -0.8];
        let (r, cache) = enc.forward(&refs);
        assert_eq!(r.len(), 3 * 8);
        // a word alone gives the same vector as inside the padded batch
        let (alone, _) = enc.forward(&refs[1..2]);
        for (a, b) in alone.iter().zip(&r[8..16]) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let d_out: Vec<f32> = (0..r.len()).map(|i| w[i % w.len()]).collect();
        let mut g_emb = vec![0.0; enc.emb.len()];
        let mut g_rnn = vec![0.0; enc.rnn.params.len()];
        enc.backward(&cache, &d_out, &mut g_emb, &mut g_rnn);
        let eps = 1e-2f32;
        let close = |fd: f32, g: f32| (fd - g).abs() <= 2e-3 + 2e-2 * g.abs();
        for (i, &g) in g_emb.iter().enumerate() {
            let v = enc.emb[i];
            enc.emb[i] = v + eps;
            let up = loss(&enc, &refs, &w);
            enc.emb[i] = v - eps;
            let down = loss(&enc, &refs, &w);
            enc.emb[i] = v;
            let fd = (up - down) / (2.0 * eps);
            assert!(close(fd, g), "emb {i}: fd {fd} vs {g}");
        }
        let mut checked = 0;
        for (i, &g) in g_rnn.iter().enumerate() {
            let v = enc.rnn.params[i];
            enc.rnn.params[i] = v + eps;
            let up = loss(&enc, &refs, &w);
            enc.rnn.params[i] = v - eps;
            let down = loss(&enc, &refs, &w);
            enc.rnn.params[i] = v;
            let fd = (up - down) / (2.0 * eps);
            assert!(close(fd, g), "rnn {i}: fd {fd} vs {g}");
            checked += usize::from(g != 0.0);
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn encode_gives_the_vectors_of_forward() {
        let words = ["Apple", "ox", "iPhone7", ""];
        let enc = CharEncoder::new(words.iter().copied(), 3, 4, 2).unwrap();
        let ids: Vec<Vec<u32>> = words.iter().map(|w| enc.ids(w)).collect();
        let refs: Vec<&[u32]> = ids.iter().map(|v| &v[..]).collect();
        let (r, _) = enc.forward(&refs);
        let e = enc.encode(&refs);
        assert_eq!(e.len(), r.len());
        for (a, b) in e.iter().zip(&r) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn save_load_and_extend() {
        let enc = CharEncoder::new(["ab", "c"].into_iter(), 2, 3, 4).unwrap();
        let t = enc.tensors();
        let back = CharEncoder::from_tensors(enc.spec.clone(), |name, shape| {
            let (s, v) = &t[name];
            assert_eq!(s, shape, "{name}");
            Ok(v.clone())
        })
        .unwrap();
        assert_eq!(back.emb, enc.emb);
        assert_eq!(back.ids("abz"), [1, 2, 0]);
        let (a, _) = enc.forward(&[&[1, 2]]);
        let (b, _) = back.forward(&[&[1, 2]]);
        assert_eq!(a, b);
        let ext = enc.extended(["cz"].into_iter(), 4);
        assert_eq!(ext.ids("abz"), [1, 2, 4]);
        assert_eq!(ext.emb[..enc.emb.len()], enc.emb[..]);
        assert_eq!(ext.emb.len(), 5 * 2);
    }
}
