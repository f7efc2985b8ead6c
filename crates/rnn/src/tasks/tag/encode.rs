//! From sentences to network inputs: [`Encoded`] sentences (feature ids,
//! flags, n-gram buckets, character ids, lexicon matches, tag ids) and the
//! dense input vectors `[T, B, I]` of a batch.

use super::chars::{CharCache, CharEncoder};
use super::data::Sentence;
use super::features::{flags, NUM_FLAGS, UNK, UNKNOWN_TAG};
use super::tagger::Tagger;

/// A sentence turned into feature ids, flags and tag ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded {
    /// Feature ids `[n, F]`.
    pub ids: Vec<u32>,
    /// Flags `[n, NUM_FLAGS]`.
    pub flags: Vec<f32>,
    /// N-gram buckets of all tokens, token `t`'s at `ngrams[ngram_at[t]..ngram_at[t + 1]]`
    /// (both empty without n-grams).
    pub ngrams: Vec<u32>,
    /// `[n + 1]` offsets into `ngrams`.
    pub ngram_at: Vec<usize>,
    /// Character ids of all tokens, token `t`'s at `chars[char_at[t]..char_at[t + 1]]`
    /// (both empty without the character encoder).
    pub chars: Vec<u32>,
    /// `[n + 1]` offsets into `chars`.
    pub char_at: Vec<usize>,
    /// Lexicon matches `[n, 2 C]` (empty without a lexicon).
    pub lex: Vec<f32>,
    /// Tag ids `[n]` ([`UNKNOWN_TAG`] for tags the model does not know);
    /// empty for untagged sentences.
    pub tags: Vec<usize>,
    /// Number of tokens.
    pub len: usize,
}

impl Tagger {
    /// Turns a sentence into feature ids and flags (and tag ids, when tagged).
    pub fn encode(&self, s: &Sentence) -> Encoded {
        let nf = self.spec.features.len();
        let mut ids = Vec::with_capacity(s.len() * nf);
        let mut fl = Vec::with_capacity(s.len() * NUM_FLAGS);
        for t in &s.tokens {
            for (f, idx) in self.spec.features.iter().zip(&self.index) {
                ids.push(idx.get(&f.kind.key(t)).copied().unwrap_or(UNK));
            }
            fl.extend_from_slice(&flags(t));
        }
        let (mut ngrams, mut ngram_at) = (Vec::new(), Vec::new());
        if let Some(g) = &self.spec.ngrams {
            ngram_at.push(0);
            for t in &s.tokens {
                ngrams.extend(g.buckets_of(t));
                ngram_at.push(ngrams.len());
            }
        }
        let (mut chars, mut char_at) = (Vec::new(), Vec::new());
        if let Some(c) = &self.chars {
            char_at.push(0);
            for t in &s.tokens {
                chars.extend(c.ids(t));
                char_at.push(chars.len());
            }
        }
        let lex = self
            .lex
            .as_ref()
            .map_or_else(Vec::new, |l| l.features(&s.tokens));
        let tags = s
            .tags
            .iter()
            .map(|t| self.tag_id(t).unwrap_or(UNKNOWN_TAG))
            .collect();
        Encoded {
            ids,
            flags: fl,
            ngrams,
            ngram_at,
            chars,
            char_at,
            lex,
            tags,
            len: s.len(),
        }
    }

    /// Builds the inputs `[T, B, I]` of a batch, returns them with `T`, the
    /// lengths and, when `train` is set, the character encoder's cache (its
    /// words are the batch's tokens, sentence by sentence). `ids` overrides
    /// the feature ids (word dropout); `keep` scales every input (input
    /// dropout mask, `[T, B, I]`).
    pub(super) fn inputs(
        &self,
        batch: &[&Encoded],
        ids: Option<&[Vec<u32>]>,
        keep: Option<&[f32]>,
        train: bool,
    ) -> (Vec<f32>, usize, Vec<usize>, Option<CharCache>) {
        let lengths: Vec<usize> = batch.iter().map(|e| e.len).collect();
        let steps = lengths.iter().copied().max().unwrap_or(0);
        let (b_n, i_n) = (batch.len(), self.input_size());
        let mut x = vec![0.0f32; steps * b_n * i_n]; // [T, B, I]

        // r [Nw, 2*hc]: the character vectors of all tokens of the batch
        let char_fwd = self.chars.as_ref().map(|c| {
            let words: Vec<&[u32]> = batch
                .iter()
                .flat_map(|e| (0..e.len).map(|t| &e.chars[e.char_at[t]..e.char_at[t + 1]]))
                .collect();
            if train {
                let (r, cache) = c.forward(&words);
                (r, Some(cache))
            } else {
                (c.encode(&words), None)
            }
        });
        let cn = self.chars.as_ref().map_or(0, CharEncoder::out_size);
        let lw = self.spec.lexicon_width();
        let mut word = 0; // index of the token among the batch's tokens
        for (b, e) in batch.iter().enumerate() {
            let eids = ids.map_or(&e.ids[..], |v| &v[b][..]);
            let nf = self.spec.features.len();
            for t in 0..e.len {
                let row = &mut x[(t * b_n + b) * i_n..(t * b_n + b + 1) * i_n];
                let mut col = 0;
                for (f, spec) in self.spec.features.iter().enumerate() {
                    let id = eids[t * nf + f] as usize;
                    let src = &self.emb
                        [self.offsets[f] + id * spec.dim..self.offsets[f] + (id + 1) * spec.dim];
                    row[col..col + spec.dim].copy_from_slice(src);
                    col += spec.dim;
                }
                if let Some(g) = &self.spec.ngrams {
                    // x[col..col+dim] = mean over the token's n-grams k of G[k]
                    let ks = &e.ngrams[e.ngram_at[t]..e.ngram_at[t + 1]];
                    let w = 1.0 / ks.len() as f32;
                    for &k in ks {
                        let src = &self.emb[self.ngram_off + k as usize * g.dim..][..g.dim];
                        for (xv, &gv) in row[col..col + g.dim].iter_mut().zip(src) {
                            *xv += w * gv;
                        }
                    }
                    col += g.dim;
                }
                if let Some((r, _)) = &char_fwd {
                    // x[col..col+2hc] = r[word]
                    row[col..col + cn].copy_from_slice(&r[word * cn..(word + 1) * cn]);
                    col += cn;
                }
                word += 1;
                // x[col..col+2C] = the token's lexicon matches
                row[col..col + lw].copy_from_slice(&e.lex[t * lw..(t + 1) * lw]);
                col += lw;
                row[col..].copy_from_slice(&e.flags[t * NUM_FLAGS..(t + 1) * NUM_FLAGS]);
            }
        }
        if let Some(k) = keep {
            x.iter_mut().zip(k).for_each(|(v, m)| *v *= m);
        }
        (x, steps, lengths, char_fwd.and_then(|(_, c)| c))
    }
}
