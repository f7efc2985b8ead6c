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
    /// Checks that `e` (sentence `i` of a call) is what [`Tagger::encode`]
    /// of this tagger makes: as many ids, flags, lexicon matches and tags as
    /// its tokens need, every id within this tagger's tables, n-gram and
    /// character offsets in order. [`Encoded`]'s fields are public, and one
    /// made by another tagger indexed past this one's tables (the library
    /// sweep of session 53).
    ///
    /// # Errors
    ///
    /// An [`Error::Argument`](crate::Error::Argument) naming `data[i]` and
    /// the field.
    pub fn check_encoded(&self, e: &Encoded, i: usize) -> crate::Result<()> {
        let bad = |field: &str, expected: String, got: String| {
            Err(crate::Error::Argument {
                arg: format!("data[{i}].{field}"),
                expected,
                got,
            })
        };
        let n = e.len;
        let nf = self.spec.features.len();
        let count =
            |what: &str, per: usize| format!("{} {what} ({n} tokens)", n.saturating_mul(per));
        if e.ids.len() != n.saturating_mul(nf) {
            return bad("ids", count("feature ids", nf), e.ids.len().to_string());
        }
        for (k, &id) in e.ids.iter().enumerate() {
            let vocab = self.spec.features[k % nf].vocab.len();
            if id as usize >= vocab {
                let want =
                    format!("ids below this tagger's {vocab} (not another tagger's encoding)");
                return bad("ids", want, format!("{id} at {k}"));
            }
        }
        if e.flags.len() != n.saturating_mul(NUM_FLAGS) {
            return bad(
                "flags",
                count("flags", NUM_FLAGS),
                e.flags.len().to_string(),
            );
        }
        let lw = self.spec.lexicon_width();
        if e.lex.len() != n.saturating_mul(lw) {
            return bad("lex", count("lexicon values", lw), e.lex.len().to_string());
        }
        if !e.tags.is_empty() && e.tags.len() != n {
            return bad("tags", format!("none or {n}"), e.tags.len().to_string());
        }
        let o = self.spec.tags.len();
        if let Some(&y) = e.tags.iter().find(|&&y| y >= o && y != UNKNOWN_TAG) {
            return bad("tags", format!("tag ids below {o}"), y.to_string());
        }
        // the n-grams' or characters' table (its size and what its ids are)
        // and each token's run of ids, `at` its `n + 1` offsets; no ids at
        // all without the table
        let runs = |fields: (&str, &str),
                    (at, ids): (&[usize], &[u32]),
                    table: Option<(usize, &str)>,
                    none: &str,
                    nonempty: bool| {
            let (at_field, ids_field) = fields;
            let Some((limit, what)) = table else {
                if ids.is_empty() && at.is_empty() {
                    return Ok(());
                }
                return bad(ids_field, none.into(), ids.len().to_string());
            };
            let all = ids.len();
            let ok = at.len() == n + 1
                && at[0] == 0
                && at[n] == all
                && at
                    .windows(2)
                    .all(|w| if nonempty { w[0] < w[1] } else { w[0] <= w[1] });
            if !ok {
                let want = format!("{} rising offsets from 0 to {all}", n + 1);
                return bad(at_field, want, format!("{at:?}"));
            }
            match ids.iter().find(|&&k| k as usize >= limit) {
                Some(&k) => bad(ids_field, format!("{what} below {limit}"), k.to_string()),
                None => Ok(()),
            }
        };
        let ngrams = self.spec.ngrams.as_ref().map(|g| (g.buckets, "buckets"));
        let no_ngrams = "none (this tagger has no n-grams)";
        runs(
            ("ngram_at", "ngrams"),
            (&e.ngram_at, &e.ngrams),
            ngrams,
            no_ngrams,
            false,
        )?;
        let chars = self
            .chars
            .as_ref()
            .map(|c| (c.spec.vocab.len(), "character ids"));
        let no_chars = "none (this tagger reads no characters)";
        runs(
            ("char_at", "chars"),
            (&e.char_at, &e.chars),
            chars,
            no_chars,
            true,
        )?;
        Ok(())
    }

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
