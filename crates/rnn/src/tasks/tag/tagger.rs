//! The sequence tagger: token features → stacked (bi)directional RNN →
//! per-token softmax over tags.
//!
//! Each token becomes one dense vector `x_t`, the concatenation of
//!
//! - a learned embedding of the lowercased word (`<unk>` for words unseen in
//!   training, or rarer than the minimum count),
//! - learned embeddings of its lowercased prefixes and suffixes and of its word
//!   shape (`Apple` → `Xx`, `iPhone-7` → `xXx-d`): character-level
//!   information, so unseen words and capitalisation count,
//! - optionally, the mean of learned embeddings of the word's hashed
//!   character n-grams (`<apple>` → `<ap`, `app`, ..., `le>`; fastText-style),
//!   so that an unseen word still shares pieces with seen ones,
//! - optionally, a character-level BiLSTM's reading of the word
//!   ([`super::chars`]),
//! - optionally, fixed 0/1 lexicon (gazetteer) matches ([`super::lexicon`]),
//! - fixed 0/1 flags (capitalised, all caps, has a digit, has a hyphen, ...).
//!
//! The vectors `[T, B, I]` go to a [`Model`] as [`Input::Dense`](crate::nn::layer::Input::Dense); its readout
//! gives one logit row per token. Training minimises the mean cross-entropy
//! over real tokens (padding is masked by `lengths`) and backpropagates into
//! the embeddings through `dE/dx` ([`Model::backward`] with `want_dx`). With
//! a CRF ([`super::crf`]) the logits are its emissions instead, and the loss
//! is the sentence's negative log-likelihood per token.
//!
//! A tagger can also start from another one ([`Tagger::from_pretrained`]):
//! a part-of-speech tagger trained on a large corpus gives a small named-entity
//! task its embeddings and recurrent layers.

use super::chars::CharEncoder;
use super::data::Sentence;
use super::features::{FeatureKind, FeatureSpec, NgramSpec, TaggerSpec};
use super::init::{embedding_rng, init_rows};
use super::lexicon::{Lexicon, LexiconIndex};
use crate::nn::loss::OutputKind;
use crate::nn::model::{Model, ModelConfig};
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// Hyper-parameters for building a new tagger from training data.
#[derive(Clone, Debug, PartialEq)]
pub struct TaggerOptions {
    /// Word embedding size.
    pub word_dim: usize,
    /// Words seen fewer times in training map to `<unk>`.
    pub min_count: usize,
    /// Prefix lengths to embed.
    pub prefixes: Vec<usize>,
    /// Suffix lengths to embed.
    pub suffixes: Vec<usize>,
    /// Embedding size of each prefix and suffix (0: no affixes).
    pub affix_dim: usize,
    /// Embedding size of the word shape (0: none).
    pub shape_dim: usize,
    /// Hashed character n-grams (`None`: not used).
    pub ngrams: Option<NgramSpec>,
    /// A CRF output layer instead of independent per-token softmaxes.
    pub crf: bool,
    /// Character embedding size of the character-level word encoder (0: none).
    pub char_dim: usize,
    /// Hidden size per direction of the character-level encoder's LSTM.
    pub char_hidden: usize,
    /// Lexicon (gazetteer) features (`None`: not used).
    pub lexicon: Option<Lexicon>,
    /// Recurrent cell, hidden size, layers, directions (input and output sizes are set here).
    pub rnn: ModelConfig,
}

impl Default for TaggerOptions {
    fn default() -> Self {
        TaggerOptions {
            word_dim: 64,
            min_count: 1,
            prefixes: vec![2, 3],
            suffixes: vec![2, 3, 4],
            affix_dim: 16,
            shape_dim: 8,
            ngrams: None,
            crf: false,
            char_dim: 0,
            char_hidden: 25,
            lexicon: None,
            rnn: ModelConfig::elman(1, 64, 1),
        }
    }
}

/// A trained or new tagger: feature embeddings, tag set and network.
///
/// ```
/// use rnn::tasks::tag::{Sentence, Stepper, Tagger, TaggerOptions, TrainOptions};
/// let s = |w: &str, t: &str| Sentence {
///     tokens: w.split(' ').map(String::from).collect(),
///     tags: t.split(' ').map(String::from).collect(),
///     line: 1,
/// };
/// let train = vec![s("I like eating apple", "O O O B-fruit"), s("The Apple is great", "O B-corp O O")];
/// let mut tagger = Tagger::new(&train, &TaggerOptions::default(), 7).unwrap();
/// let enc: Vec<_> = train.iter().map(|x| tagger.encode(x)).collect();
/// let mut trainer = Stepper::new(&tagger, &TrainOptions::default(), 7).unwrap();
/// for _ in 0..60 {
///     trainer.step(&mut tagger, &[&enc[0], &enc[1]]).unwrap();
/// }
/// let pred = tagger.predict(&enc, 8).unwrap();
/// assert_eq!(tagger.tag_names(&pred[1]), ["O", "B-corp", "O", "O"]);
/// assert_eq!(tagger.tag(&["The", "Apple", "is", "great"]), ["O", "B-corp", "O", "O"]);
/// // a model directory: saved and loaded, it tags the same
/// let dir = std::env::temp_dir().join(format!("rnn-doc-tagger-{}", std::process::id()));
/// tagger.save(&dir, Default::default()).unwrap();
/// let loaded = Tagger::load(&dir).unwrap();
/// assert_eq!(loaded.predict(&enc, 8).unwrap(), pred);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Tagger {
    /// Features and tags.
    pub spec: TaggerSpec,
    /// Per feature, key → id.
    pub(super) index: Vec<HashMap<String, u32>>,
    /// Tag → id.
    pub(super) tag_index: HashMap<String, usize>,
    /// All embedding tables, flat: feature `f` is `[V_f, dim_f]` at
    /// `offsets[f]`, then the n-gram table `[buckets, dim]` at `ngram_off`.
    pub emb: Vec<f32>,
    pub(super) offsets: Vec<usize>,
    pub(super) ngram_off: usize,
    /// Per feature, training counts of each key (for word dropout; empty after loading).
    pub(super) counts: Vec<Vec<u32>>,
    /// The recurrent network and readout.
    pub model: Model<f32>,
    /// CRF parameters `[O + O*O + O]` (start, transitions, end; see
    /// [`super::crf`]); empty without a CRF.
    pub crf: Vec<f32>,
    /// The character-level word encoder, if used.
    pub chars: Option<CharEncoder>,
    /// The lexicon ready for matching, if used.
    pub(super) lex: Option<LexiconIndex>,
}

/// Per-feature key → id maps, tag → id, embedding table offsets and total size.
type Indexes = (
    Vec<HashMap<String, u32>>,
    HashMap<String, usize>,
    Vec<usize>,
    usize,
);

fn build_index(spec: &TaggerSpec) -> Indexes {
    let index = spec
        .features
        .iter()
        .map(|f| {
            f.vocab
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i as u32))
                .collect()
        })
        .collect();
    let tag_index = spec
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i))
        .collect();
    let (offsets, n) = table_offsets(spec);
    (index, tag_index, offsets, n)
}

/// Where each feature's table starts in the flat embedding buffer, and where
/// the n-gram table follows them (the size of the feature tables).
pub(super) fn table_offsets(spec: &TaggerSpec) -> (Vec<usize>, usize) {
    let mut offsets = Vec::new();
    let mut n = 0;
    for f in &spec.features {
        offsets.push(n);
        n = f.vocab.len().saturating_mul(f.dim).saturating_add(n);
    }
    (offsets, n)
}

/// How often each key of feature `kind` occurs in `train`.
pub(super) fn key_counts(train: &[Sentence], kind: FeatureKind) -> BTreeMap<String, u32> {
    let mut c = BTreeMap::new();
    for s in train {
        for t in &s.tokens {
            *c.entry(kind.key(t)).or_default() += 1;
        }
    }
    c
}

impl Tagger {
    /// A tagger from its parts, with its indexes (features, tags, lexicon)
    /// built from `spec` and zero CRF parameters when `spec` has a CRF.
    pub(super) fn fresh(
        spec: TaggerSpec,
        emb: Vec<f32>,
        counts: Vec<Vec<u32>>,
        model: Model<f32>,
        chars: Option<CharEncoder>,
    ) -> Self {
        let (index, tag_index, offsets, n_feat) = build_index(&spec);
        Tagger {
            crf: new_crf(&spec),
            lex: spec.lexicon.as_ref().map(Lexicon::index),
            spec,
            index,
            tag_index,
            emb,
            offsets,
            ngram_off: n_feat,
            counts,
            model,
            chars,
        }
    }
}

/// Zero CRF parameters for `spec`'s tags when it has a CRF (no preference
/// between tags or transitions), else none.
fn new_crf(spec: &TaggerSpec) -> Vec<f32> {
    if spec.crf {
        vec![0.0; super::crf::num_params(spec.tags.len())]
    } else {
        Vec::new()
    }
}

/// The sorted tag set of `train` (an error when it has no tags).
pub(super) fn tags_of(train: &[Sentence]) -> Result<Vec<String>> {
    let mut tags: Vec<String> = train.iter().flat_map(|s| s.tags.iter().cloned()).collect();
    tags.sort();
    tags.dedup();
    if tags.is_empty() {
        return Err(Error::Config("the training data has no tags".into()));
    }
    Ok(tags)
}

impl Tagger {
    /// A new tagger whose vocabularies and tag set come from `train`, with
    /// random weights drawn from `seed`.
    pub fn new(train: &[Sentence], opts: &TaggerOptions, seed: u64) -> Result<Self> {
        let mut kinds = vec![(FeatureKind::Word, opts.word_dim)];
        if opts.affix_dim > 0 {
            kinds.extend(
                opts.prefixes
                    .iter()
                    .map(|&n| (FeatureKind::Prefix(n), opts.affix_dim)),
            );
            kinds.extend(
                opts.suffixes
                    .iter()
                    .map(|&n| (FeatureKind::Suffix(n), opts.affix_dim)),
            );
        }
        if opts.shape_dim > 0 {
            kinds.push((FeatureKind::Shape, opts.shape_dim));
        }
        if let Some(g) = &opts.ngrams {
            if g.dim == 0 || g.buckets == 0 || g.min_n == 0 || g.min_n > g.max_n {
                return Err(Error::Config(format!(
                    "character n-grams: dim {}, buckets {}, lengths {}..{}: expected dim, buckets >= 1 and 1 <= min <= max",
                    g.dim, g.buckets, g.min_n, g.max_n
                )));
            }
        }
        if opts.word_dim == 0
            || kinds
                .iter()
                .any(|&(k, _)| matches!(k, FeatureKind::Prefix(0) | FeatureKind::Suffix(0)))
        {
            return Err(Error::Config(
                "embedding sizes and affix lengths must be at least 1".into(),
            ));
        }
        let mut features = Vec::new();
        let mut counts = Vec::new();
        for (kind, dim) in kinds {
            let c = key_counts(train, kind);
            let min = if kind == FeatureKind::Word {
                opts.min_count.max(1) as u32
            } else {
                1
            };
            let mut vocab = vec!["<unk>".to_string()];
            let mut cnt = vec![0u32];
            for (k, n) in c {
                if n >= min {
                    vocab.push(k);
                    cnt.push(n);
                }
            }
            features.push(FeatureSpec { kind, dim, vocab });
            counts.push(cnt);
        }
        let chars = match opts.char_dim {
            0 => None,
            d => Some(CharEncoder::new(
                train
                    .iter()
                    .flat_map(|s| s.tokens.iter().map(String::as_str)),
                d,
                opts.char_hidden,
                seed,
            )?),
        };
        let spec = TaggerSpec {
            features,
            tags: tags_of(train)?,
            ngrams: opts.ngrams.clone(),
            crf: opts.crf,
            chars: chars.as_ref().map(|c| c.spec.clone()),
            lexicon: opts.lexicon.clone(),
            iob1: super::metrics::is_iob1(train.iter().map(|s| s.tags.as_slice())),
        };
        let mut cfg = opts.rnn.clone();
        cfg.input_size = spec.input_size();
        cfg.output_size = spec.tags.len();
        cfg.output = OutputKind::Softmax;
        // refused before allocating: what training it needs (Adam's two
        // buffers, a batch of 16 of the longest sentences), and the tables
        let longest = train.iter().map(Sentence::len).max().unwrap_or(1);
        cfg.ensure_trainable("tag", 2, longest, 16)?;
        let (offsets, n_feat) = table_offsets(&spec);
        let ngram_rows = spec
            .ngrams
            .as_ref()
            .map_or(Some(0), |g| g.buckets.checked_mul(g.dim));
        let n = ngram_rows
            .and_then(|r| r.checked_add(n_feat))
            .unwrap_or(usize::MAX);
        crate::memory::ensure_fits(
            || format!("the tagger's embedding tables of {n} values"),
            n as f64 * 4.0 * 4.0, // the table, its gradient and Adam's two buffers
        )?;
        let model = Model::new(cfg, seed)?;
        let mut rng = embedding_rng(seed);
        let mut emb =
            crate::memory::try_filled(|| "the tagger's embedding tables".into(), n, 0.0f32)?;
        for (f, &off) in spec.features.iter().zip(&offsets) {
            init_rows(&mut emb[off..off + f.vocab.len() * f.dim], f.dim, &mut rng);
        }
        if let Some(g) = &spec.ngrams {
            init_rows(&mut emb[n_feat..], g.dim, &mut rng);
        }
        Ok(Tagger::fresh(spec, emb, counts, model, chars))
    }

    /// The size of each input vector.
    pub fn input_size(&self) -> usize {
        self.model.config.input_size
    }

    /// The tag names of tag ids.
    pub fn tag_names(&self, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .map(|&i| self.spec.tags.get(i).cloned().unwrap_or_else(|| "?".into()))
            .collect()
    }

    /// The id of a tag, if the model knows it.
    pub fn tag_id(&self, tag: &str) -> Option<usize> {
        self.tag_index.get(tag).copied()
    }
}
