//! Transfer learning: a new tagger that starts from a trained one
//! ([`Tagger::from_pretrained`]).

use super::data::Sentence;
use super::features::{FeatureSpec, TaggerSpec, NUM_FLAGS};
use super::init::{embedding_rng, init_rows};
use super::lexicon::Lexicon;
use super::tagger::{key_counts, table_offsets, tags_of, Tagger};
use crate::nn::model::{param_layout, Model};
use crate::{Error, Result};

impl Tagger {
    /// A new tagger for the tags of `train` that starts from a trained
    /// tagger `base` (transfer learning, e.g. a part-of-speech tagger trained
    /// on a large corpus as the start of a small named-entity task).
    ///
    /// Kept from `base`: the features (kinds and sizes), every embedding row
    /// (so words known to `base` but absent from `train` keep their learned
    /// vectors instead of becoming `<unk>`), the n-gram table and the
    /// recurrent layers. New: rows for the keys of `train` that `base` does
    /// not know, the tag set and the readout `head.*` (random from `seed`),
    /// a CRF when `crf` is set, and the `lexicon` when given (its inputs get
    /// zero weights in the first layer, so the transferred network starts out
    /// computing what it computed before). `base` with a lexicon keeps it; a
    /// second one is an error.
    pub fn from_pretrained(
        base: &Tagger,
        train: &[Sentence],
        crf: bool,
        lexicon: Option<Lexicon>,
        seed: u64,
    ) -> Result<Self> {
        if lexicon.is_some() && base.spec.lexicon.is_some() {
            return Err(Error::Config(
                "the pretrained tagger already has a lexicon; a second one cannot be added".into(),
            ));
        }
        let tags = tags_of(train)?;
        let mut features = Vec::new();
        let mut counts = Vec::new();
        for (f, idx) in base.spec.features.iter().zip(&base.index) {
            let train_counts = key_counts(train, f.kind);
            let mut vocab = f.vocab.clone();
            vocab.extend(
                train_counts
                    .keys()
                    .filter(|k| !idx.contains_key(*k))
                    .cloned(),
            );
            counts.push(
                vocab
                    .iter()
                    .map(|k| train_counts.get(k).copied().unwrap_or(0))
                    .collect(),
            );
            features.push(FeatureSpec {
                kind: f.kind,
                dim: f.dim,
                vocab,
            });
        }
        let chars = base.chars.as_ref().map(|c| {
            c.extended(
                train
                    .iter()
                    .flat_map(|s| s.tokens.iter().map(String::as_str)),
                seed,
            )
        });
        let spec = TaggerSpec {
            features,
            tags,
            ngrams: base.spec.ngrams.clone(),
            crf,
            chars: chars.as_ref().map(|c| c.spec.clone()),
            lexicon: lexicon.or_else(|| base.spec.lexicon.clone()),
            iob1: super::metrics::is_iob1(train.iter().map(|s| s.tags.as_slice())),
        };
        let mut cfg = base.model.config.clone();
        cfg.output_size = spec.tags.len();
        cfg.input_size = spec.input_size();
        // new lexicon inputs go just before the flags, which stay last
        let added = cfg.input_size - base.model.config.input_size;
        let at = base.model.config.input_size - NUM_FLAGS;
        let mut model = Model::new(cfg, seed)?;
        for e in param_layout(&model.config) {
            if e.name.starts_with("head.") {
                continue;
            }
            let src = base.model.param(&e.name).ok_or_else(|| {
                Error::Config(format!("pretrained tagger has no parameter {}", e.name))
            })?;
            let dst = &mut model.params[e.range()];
            if added > 0 && (e.name == "rnn.weight_ih_l0" || e.name == "rnn.weight_ih_l0_reverse") {
                // [G*H, I_base] -> [G*H, I_base + added]: zero columns at `at`
                let (ib, i_n) = (base.model.config.input_size, e.shape[1]);
                for (d, s) in dst.chunks_mut(i_n).zip(src.chunks(ib)) {
                    d[..at].copy_from_slice(&s[..at]);
                    d[at..at + added].fill(0.0);
                    d[at + added..].copy_from_slice(&s[at..]);
                }
            } else {
                dst.copy_from_slice(src);
            }
        }
        let n_feat = table_offsets(&spec).1;
        let mut rng = embedding_rng(seed);
        let mut emb = Vec::with_capacity(n_feat + base.emb.len() - base.ngram_off);
        for (f, (old, &off)) in spec
            .features
            .iter()
            .zip(base.spec.features.iter().zip(&base.offsets))
        {
            // rows of keys base knows, in base's order, then new keys at random
            emb.extend_from_slice(&base.emb[off..off + old.vocab.len() * f.dim]);
            let known = emb.len();
            emb.resize(known + (f.vocab.len() - old.vocab.len()) * f.dim, 0.0);
            init_rows(&mut emb[known..], f.dim, &mut rng);
        }
        emb.extend_from_slice(&base.emb[base.ngram_off..]);
        Ok(Tagger::fresh(spec, emb, counts, model, chars))
    }
}
