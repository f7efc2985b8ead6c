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
//! The vectors `[T, B, I]` go to a [`Model`] as [`Input::Dense`]; its readout
//! gives one logit row per token. Training minimises the mean cross-entropy
//! over real tokens (padding is masked by `lengths`) and backpropagates into
//! the embeddings through `dE/dx` ([`Model::backward`] with `want_dx`). With
//! a CRF ([`super::crf`]) the logits are its emissions instead, and the loss
//! is the sentence's negative log-likelihood per token.
//!
//! A tagger can also start from another one ([`Tagger::from_pretrained`]):
//! a part-of-speech tagger trained on a large corpus gives a small named-entity
//! task its embeddings and recurrent layers.

use super::chars::{CharCache, CharEncoder, CharSpec};
use super::data::Sentence;
use super::lexicon::{Lexicon, LexiconIndex};
use crate::io::model_file::ModelFile;
use crate::nn::layer::Input;
use crate::nn::loss::{loss_and_grad, softmax, OutputKind, Reduction, Targets};
use crate::nn::model::infer::Inference;
use crate::nn::model::{param_layout, Batch, Model, ModelConfig};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The task name written in tagger model files.
pub const TASK: &str = "tag";
/// Metadata key holding the [`TaggerSpec`] as JSON.
pub const META_KEY: &str = "tagger";
/// A gold tag that the model does not know (seen only in dev or test data).
pub const UNKNOWN_TAG: usize = usize::MAX;
/// The number of fixed 0/1 word-shape flags at the end of each input vector.
pub const NUM_FLAGS: usize = 10;
/// Index of the unknown key in every feature vocabulary.
pub const UNK: u32 = 0;

/// What a learned feature embeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "n")]
pub enum FeatureKind {
    /// The lowercased word.
    Word,
    /// The first `n` characters, lowercased.
    Prefix(usize),
    /// The last `n` characters, lowercased.
    Suffix(usize),
    /// The word shape: upper → `X`, lower → `x`, digit → `d`, others kept,
    /// runs collapsed, at most 8 characters.
    Shape,
}

impl FeatureKind {
    /// The key of `token` for this feature.
    pub fn key(self, token: &str) -> String {
        match self {
            FeatureKind::Word => token.to_lowercase(),
            FeatureKind::Prefix(n) | FeatureKind::Suffix(n) => {
                let lower: Vec<char> = token.to_lowercase().chars().collect();
                if lower.len() < n {
                    // short words get their own keys, apart from real affixes
                    format!("^{}", lower.iter().collect::<String>())
                } else if matches!(self, FeatureKind::Prefix(_)) {
                    lower[..n].iter().collect()
                } else {
                    lower[lower.len() - n..].iter().collect()
                }
            }
            FeatureKind::Shape => {
                let mut s = String::new();
                let mut last = None;
                for c in token.chars() {
                    let m = if c.is_uppercase() {
                        'X'
                    } else if c.is_lowercase() {
                        'x'
                    } else if c.is_numeric() {
                        'd'
                    } else {
                        c
                    };
                    if last != Some(m) {
                        s.push(m);
                        last = Some(m);
                    }
                    if s.chars().count() >= 8 {
                        break;
                    }
                }
                s
            }
        }
    }

    /// A short name for embedding tensors: `word`, `prefix3`, `suffix2`, `shape`.
    pub fn name(self) -> String {
        match self {
            FeatureKind::Word => "word".into(),
            FeatureKind::Prefix(n) => format!("prefix{n}"),
            FeatureKind::Suffix(n) => format!("suffix{n}"),
            FeatureKind::Shape => "shape".into(),
        }
    }
}

/// The fixed flags of a token: `[NUM_FLAGS]` of 0/1.
pub fn flags(token: &str) -> [f32; NUM_FLAGS] {
    let first_upper = token.chars().next().is_some_and(char::is_uppercase);
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    let uppers = token.chars().filter(|c| c.is_uppercase()).count();
    let digits = token.chars().filter(|c| c.is_numeric()).count();
    let alnum = token.chars().filter(|c| c.is_alphanumeric()).count();
    let lower = token.to_lowercase();
    let f = [
        first_upper,
        letters > 0 && uppers == letters,
        token.chars().skip(1).any(char::is_uppercase),
        digits > 0,
        digits > 0 && token.chars().all(|c| c.is_numeric() || ",.:/-".contains(c)),
        token.contains('-'),
        alnum == 0,
        token.starts_with('@'),
        token.starts_with('#'),
        lower.starts_with("http") || lower.starts_with("www."),
    ];
    f.map(|b| if b { 1.0 } else { 0.0 })
}

/// Hashed character n-grams: the word is lowercased and wrapped in `<` `>`,
/// each of its n-grams (`min_n <= n <= max_n`) is hashed (FNV-1a) into one of
/// `buckets` rows of a `[buckets, dim]` table, and the token's feature is the
/// mean of its rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NgramSpec {
    /// Embedding size.
    pub dim: usize,
    /// Rows of the hashed table.
    pub buckets: usize,
    /// Shortest n-gram.
    pub min_n: usize,
    /// Longest n-gram.
    pub max_n: usize,
}

impl NgramSpec {
    /// The bucket of every n-gram of `token` (repeats kept, never empty).
    pub fn buckets_of(&self, token: &str) -> Vec<u32> {
        let chars: Vec<char> = std::iter::once('<')
            .chain(token.to_lowercase().chars())
            .chain(std::iter::once('>'))
            .collect();
        let mut out = Vec::new();
        for n in self.min_n..=self.max_n {
            for w in chars.windows(n) {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for c in w {
                    for b in (*c as u32).to_le_bytes() {
                        h ^= b as u64;
                        h = h.wrapping_mul(0x100_0000_01b3);
                    }
                }
                out.push((h % self.buckets as u64) as u32);
            }
        }
        if out.is_empty() {
            // a word shorter than min_n - 2 characters: the whole of it
            let all = NgramSpec {
                min_n: chars.len(),
                max_n: chars.len(),
                ..self.clone()
            };
            return all.buckets_of(token);
        }
        out
    }
}

/// One learned feature: its vocabulary and embedding size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// What it embeds.
    pub kind: FeatureKind,
    /// Embedding size.
    pub dim: usize,
    /// Keys by id; id 0 is `<unk>`.
    pub vocab: Vec<String>,
}

/// Everything about a tagger besides its weights (saved as JSON metadata).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaggerSpec {
    /// Learned features, in input-vector order.
    pub features: Vec<FeatureSpec>,
    /// Tags by id.
    pub tags: Vec<String>,
    /// Hashed character n-grams (after the features in the input vector), if used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngrams: Option<NgramSpec>,
    /// A linear-chain CRF over the logits ([`super::crf`]): trained by its
    /// sentence log-likelihood, decoded by Viterbi with learned transitions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crf: bool,
    /// The character-level word encoder (its vector follows the n-grams in
    /// the input vector), if used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<CharSpec>,
    /// Lexicon (gazetteer) matches (their `2 C` inputs come just before the
    /// flags), if used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<Lexicon>,
}

impl TaggerSpec {
    /// The size of each input vector: feature and n-gram embeddings, the
    /// character encoder's vector, lexicon matches, then the flags.
    pub fn input_size(&self) -> usize {
        self.features.iter().map(|f| f.dim).sum::<usize>()
            + self.ngrams.as_ref().map_or(0, |g| g.dim)
            + self.chars.as_ref().map_or(0, |c| 2 * c.hidden)
            + self.lexicon_width()
            + NUM_FLAGS
    }

    /// The number of lexicon inputs per token (0 without a lexicon).
    pub fn lexicon_width(&self) -> usize {
        self.lexicon.as_ref().map_or(0, Lexicon::width)
    }
}

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

/// A trained or new tagger: feature embeddings, tag set and network.
///
/// ```
/// use rnn::tasks::tag::{data::Sentence, tagger::{Tagger, TaggerOptions, Trainer, TrainOptions}};
/// let s = |w: &str, t: &str| Sentence {
///     tokens: w.split(' ').map(String::from).collect(),
///     tags: t.split(' ').map(String::from).collect(),
///     line: 1,
/// };
/// let train = vec![s("I like eating apple", "O O O B-fruit"), s("The Apple is great", "O B-corp O O")];
/// let mut tagger = Tagger::new(&train, &TaggerOptions::default(), 7).unwrap();
/// let enc: Vec<_> = train.iter().map(|x| tagger.encode(x)).collect();
/// let mut trainer = Trainer::new(&tagger, &TrainOptions::default(), 7).unwrap();
/// for _ in 0..60 {
///     trainer.step(&mut tagger, &[&enc[0], &enc[1]]);
/// }
/// let pred = tagger.predict(&enc, 8);
/// assert_eq!(tagger.tag_names(&pred[1]), ["O", "B-corp", "O", "O"]);
/// ```
#[derive(Clone, Debug)]
pub struct Tagger {
    /// Features and tags.
    pub spec: TaggerSpec,
    /// Per feature, key → id.
    index: Vec<HashMap<String, u32>>,
    /// Tag → id.
    tag_index: HashMap<String, usize>,
    /// All embedding tables, flat: feature `f` is `[V_f, dim_f]` at
    /// `offsets[f]`, then the n-gram table `[buckets, dim]` at `ngram_off`.
    pub emb: Vec<f32>,
    offsets: Vec<usize>,
    ngram_off: usize,
    /// Per feature, training counts of each key (for word dropout; empty after loading).
    counts: Vec<Vec<u32>>,
    /// The recurrent network and readout.
    pub model: Model<f32>,
    /// CRF parameters `[O + O*O + O]` (start, transitions, end; see
    /// [`super::crf`]); empty without a CRF.
    pub crf: Vec<f32>,
    /// The character-level word encoder, if used.
    pub chars: Option<CharEncoder>,
    /// The lexicon ready for matching, if used.
    lex: Option<LexiconIndex>,
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
fn table_offsets(spec: &TaggerSpec) -> (Vec<usize>, usize) {
    let mut offsets = Vec::new();
    let mut n = 0;
    for f in &spec.features {
        offsets.push(n);
        n += f.vocab.len() * f.dim;
    }
    (offsets, n)
}

/// How often each key of feature `kind` occurs in `train`.
fn key_counts(train: &[Sentence], kind: FeatureKind) -> BTreeMap<String, u32> {
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
    fn fresh(
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

/// The random stream of new embedding rows for `seed`.
fn embedding_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e4b3)
}

/// Fills embedding rows of size `dim` with U(-a, a), a = sqrt(3 / dim): unit
/// variance per vector.
pub(super) fn init_rows(rows: &mut [f32], dim: usize, rng: &mut ChaCha8Rng) {
    let a = (3.0 / dim as f32).sqrt();
    for v in rows {
        *v = rng.random_range(-a..a);
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
fn tags_of(train: &[Sentence]) -> Result<Vec<String>> {
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
        };
        let mut cfg = opts.rnn.clone();
        cfg.input_size = spec.input_size();
        cfg.output_size = spec.tags.len();
        cfg.output = OutputKind::Softmax;
        let model = Model::new(cfg, seed)?;
        let (offsets, n_feat) = table_offsets(&spec);
        let n = n_feat + spec.ngrams.as_ref().map_or(0, |g| g.buckets * g.dim);
        let mut rng = embedding_rng(seed);
        let mut emb = vec![0.0f32; n];
        for (f, &off) in spec.features.iter().zip(&offsets) {
            init_rows(&mut emb[off..off + f.vocab.len() * f.dim], f.dim, &mut rng);
        }
        if let Some(g) = &spec.ngrams {
            init_rows(&mut emb[n_feat..], g.dim, &mut rng);
        }
        Ok(Tagger::fresh(spec, emb, counts, model, chars))
    }

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
    fn inputs(
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

    /// The logits `[T, B, O]` of a batch (no dropout), with `T`.
    pub fn logits(&self, batch: &[&Encoded]) -> (Vec<f32>, usize) {
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
    pub fn predict(&self, data: &[Encoded], batch: usize) -> Vec<Vec<usize>> {
        self.predict_with_loss(data, batch).0
    }

    /// Like [`Tagger::predict`], also returning the summed cross-entropy over
    /// the tokens with known gold tags and their number (with a CRF: the
    /// summed negative log-likelihood of the sentences whose tags are all
    /// known, and their tokens).
    pub fn predict_with_loss(
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
    pub fn probabilities(&self, data: &[Encoded], batch: usize) -> Vec<Vec<f32>> {
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
    fn for_each_sentence(&self, data: &[Encoded], batch: usize, mut f: impl FnMut(usize, &[f32])) {
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.sort_by_key(|&i| data[i].len);
        let o = self.spec.tags.len();
        let mut rows = Vec::new();
        for chunk in order.chunks(batch.max(1)) {
            let refs: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
            let (logits, _) = self.logits(&refs);
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

    /// For BIO tag sets, `allowed[prev * O + next]` (with row `O` = sentence
    /// start); `None` otherwise.
    fn transitions(&self) -> Option<Vec<bool>> {
        let tags = &self.spec.tags;
        if !super::metrics::is_chunk_tagset(tags) {
            return None;
        }
        let o = tags.len();
        let mut a = vec![true; (o + 1) * o];
        for (j, next) in tags.iter().enumerate() {
            if let Some(ty) = next.strip_prefix("I-") {
                for p in 0..=o {
                    let ok =
                        p < o && (tags[p] == format!("B-{ty}") || tags[p] == format!("I-{ty}"));
                    a[p * o + j] = ok;
                }
            }
        }
        Some(a)
    }

    /// Saves the tagger as a model directory (task `tag`).
    pub fn save(&self, dir: &Path, meta: BTreeMap<String, String>) -> Result<()> {
        let mut extra = BTreeMap::new();
        for (f, &off) in self.spec.features.iter().zip(&self.offsets) {
            let n = f.vocab.len() * f.dim;
            extra.insert(
                format!("embed.{}.weight", f.kind.name()),
                (vec![f.vocab.len(), f.dim], self.emb[off..off + n].to_vec()),
            );
        }
        if let Some(g) = &self.spec.ngrams {
            extra.insert(
                "embed.ngram.weight".into(),
                (vec![g.buckets, g.dim], self.emb[self.ngram_off..].to_vec()),
            );
        }
        if let Some(c) = &self.chars {
            extra.extend(c.tensors());
        }
        if !self.crf.is_empty() {
            let mut at = 0;
            for (name, shape) in super::crf::param_names(self.spec.tags.len()) {
                let n: usize = shape.iter().product();
                extra.insert(name.into(), (shape, self.crf[at..at + n].to_vec()));
                at += n;
            }
        }
        let mut meta = meta;
        meta.insert(
            META_KEY.into(),
            serde_json::to_string(&self.spec).map_err(|e| Error::Config(e.to_string()))?,
        );
        ModelFile {
            task: TASK.into(),
            model: self.model.clone(),
            extra,
            meta,
        }
        .save(dir)
    }

    /// Loads a tagger from a model directory; another task's model is an error.
    pub fn load(dir: &Path) -> Result<Self> {
        let mf = ModelFile::load_task(dir, TASK)?;
        Self::from_model_file(dir, mf)
    }

    /// A tagger from an already loaded model file.
    pub fn from_model_file(dir: &Path, mf: ModelFile) -> Result<Self> {
        let raw = mf.meta(dir, META_KEY)?;
        let bad = |why: String| Error::Metadata {
            path: dir.join(crate::io::model_file::MODEL_FILE),
            key: META_KEY.into(),
            value: raw.chars().take(60).collect(),
            expected: why,
        };
        let spec: TaggerSpec =
            serde_json::from_str(raw).map_err(|e| bad(format!("a tagger description ({e})")))?;
        let input = spec.input_size();
        let cfg = &mf.model.config;
        if cfg.input_size != input
            || cfg.output_size != spec.tags.len()
            || spec.features.iter().any(|f| f.vocab.is_empty())
            || spec
                .ngrams
                .as_ref()
                .is_some_and(|g| g.buckets == 0 || g.min_n == 0 || g.min_n > g.max_n)
        {
            return Err(bad(format!(
                "features and tags that match the network (input {}, output {})",
                cfg.input_size, cfg.output_size
            )));
        }
        let mut emb = Vec::with_capacity(table_offsets(&spec).1);
        for f in &spec.features {
            emb.extend_from_slice(mf.extra(
                dir,
                &format!("embed.{}.weight", f.kind.name()),
                &[f.vocab.len(), f.dim],
            )?);
        }
        if let Some(g) = &spec.ngrams {
            emb.extend_from_slice(mf.extra(dir, "embed.ngram.weight", &[g.buckets, g.dim])?);
        }
        let chars = match &spec.chars {
            None => None,
            Some(cs) => Some(CharEncoder::from_tensors(cs.clone(), |name, shape| {
                mf.extra(dir, name, shape).map(<[f32]>::to_vec)
            })?),
        };
        let mut crf = Vec::new();
        if spec.crf {
            for (name, shape) in super::crf::param_names(spec.tags.len()) {
                crf.extend_from_slice(mf.extra(dir, name, &shape)?);
            }
        }
        // no training counts: word dropout needs them, a loaded tagger only tags
        let mut t = Tagger::fresh(spec, emb, Vec::new(), mf.model, chars);
        t.crf = crf;
        Ok(t)
    }
}

/// The best tag path under the per-token log-probabilities `logp [n, O]`:
/// Viterbi over the allowed transitions (`allowed[prev * O + next]`, row `O` =
/// sentence start) or, without constraints, the per-token argmax.
pub fn decode(logp: &[f64], o: usize, allowed: Option<&[bool]>) -> Vec<usize> {
    match allowed {
        Some(a) => super::crf::viterbi(logp, o, None, Some(a)),
        None => logp
            .chunks(o)
            .map(|r| (0..o).fold(0, |b, j| if r[j] > r[b] { j } else { b }))
            .collect(),
    }
}

/// Several taggers with the same tag set, voting by their mean per-token
/// probabilities (each tagger encodes the words with its own vocabularies).
#[derive(Debug)]
pub struct Ensemble {
    /// The members; all have the same tags, in the same order.
    pub members: Vec<Tagger>,
    /// Added to the log-probability of every tag but `O` before decoding
    /// (default 0): > 0 trades precision for recall.
    pub entity_bias: f64,
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
        Ok(Ensemble {
            members,
            entity_bias: 0.0,
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
            for (acc, p) in sum.iter_mut().zip(m.probabilities(&enc, batch)) {
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
pub struct Trainer {
    opts: TrainOptions,
    /// One optimizer per parameter group ([`MODEL`], [`EMB`], [`CRF`], [`CHAR_EMB`], [`CHAR_RNN`]).
    opt: [Optimizer<f32>; GROUPS],
    /// The gradient of each parameter group, laid out like its buffer.
    g: [Vec<f32>; GROUPS],
    rng: ChaCha8Rng,
}

/// Parameter groups of a tagger: recurrent network and readout.
const MODEL: usize = 0;
/// Feature and n-gram embeddings.
const EMB: usize = 1;
/// CRF start, transition and end scores (empty without a CRF).
const CRF: usize = 2;
/// Character embeddings (empty without the character encoder).
const CHAR_EMB: usize = 3;
/// The character encoder's LSTM (empty without it).
const CHAR_RNN: usize = 4;
/// How many parameter groups there are.
const GROUPS: usize = 5;

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

impl Trainer {
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
        Ok(Trainer {
            opts: opts.clone(),
            opt: sizes.map(|n| Optimizer::new(opts.optimizer.clone(), n)),
            g: sizes.map(|n| vec![0.0; n]),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0d20_b0a7),
        })
    }

    /// The optimizers' learning rate.
    pub fn lr(&self) -> f64 {
        self.opt[MODEL].config.lr()
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.iter_mut().for_each(|o| o.config.set_lr(lr));
    }

    /// One update on a batch of tagged sentences (every tag known). Returns the
    /// summed loss (cross-entropy, or with a CRF its negative log-likelihood)
    /// and the number of tokens.
    pub fn step(&mut self, tagger: &mut Tagger, batch: &[&Encoded]) -> (f64, usize) {
        let (loss, tokens) = self.gradients(tagger, batch);
        if self.opts.clip > 0.0 {
            let norm = self
                .g
                .iter()
                .flatten()
                .map(|&g| (g as f64) * (g as f64))
                .sum::<f64>()
                .sqrt();
            let c = self.opts.clip / (norm + 1e-6);
            if c < 1.0 {
                let c = c as f32;
                self.g.iter_mut().flatten().for_each(|g| *g *= c);
            }
        }
        for ((opt, g), p) in self.opt.iter_mut().zip(&self.g).zip(tagger.groups_mut()) {
            opt.step(p, g);
        }
        (loss as f64 * tokens as f64, tokens)
    }

    /// The gradients of the batch's mean loss per token (cross-entropy, or
    /// the CRF's negative log-likelihood; with this step's dropout), left in
    /// `self.g` (every group); returns the mean loss and the number of tokens.
    fn gradients(&mut self, tagger: &Tagger, batch: &[&Encoded]) -> (f32, usize) {
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
        let (x, steps, lengths, char_cache) =
            tagger.inputs(batch, ids.as_deref(), keep.as_deref(), true);
        let b_n = batch.len();
        let model = &tagger.model;
        let fwd = model.forward_unchecked(
            Batch::new(Input::Dense(&x), steps, b_n).with_lengths(&lengths),
            None,
        );
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
        let tokens = mask.iter().filter(|&&m| m).count();
        let mut dlogits = vec![0.0f32; fwd.logits.len()];
        let loss = if tagger.crf.is_empty() {
            loss_and_grad(
                OutputKind::Softmax,
                &fwd.logits,
                model.config.output_size,
                Targets::Classes(&targets),
                Some(&mask),
                Reduction::Mean,
                &mut dlogits,
            )
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
        // dE/d(embedding row) = sum over its uses of the matching slice of dE/dx
        self.g[EMB].fill(0.0);
        self.g[CHAR_EMB].fill(0.0);
        self.g[CHAR_RNN].fill(0.0);
        let cn = tagger.chars.as_ref().map_or(0, CharEncoder::out_size);
        let char_col = i_n - NUM_FLAGS - tagger.spec.lexicon_width() - cn; // where the character vector starts in x
        let mut d_chars = Vec::new(); // dE/dr [Nw, 2*hc], the batch's tokens in order
        if let Some(dx) = dx {
            for (b, e) in batch.iter().enumerate() {
                let eids = ids.as_ref().map_or(&e.ids[..], |v| &v[b][..]);
                for t in 0..e.len {
                    let r = t * b_n + b;
                    let mut col = 0;
                    for (f, spec) in tagger.spec.features.iter().enumerate() {
                        let id = eids[t * nf + f] as usize;
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
        if let (Some(c), Some(cache), false) = (&tagger.chars, &char_cache, d_chars.is_empty()) {
            let [.., g_char_emb, g_char_rnn] = &mut self.g;
            c.backward(cache, &d_chars, g_char_emb, g_char_rnn);
        }
        (loss, tokens)
    }
}

impl Trainer {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tagged sentence from space-separated tokens and tags.
    fn s(words: &str, tags: &str) -> Sentence {
        Sentence {
            tokens: words.split(' ').map(String::from).collect(),
            tags: tags.split(' ').map(String::from).collect(),
            line: 1,
        }
    }

    #[test]
    fn feature_keys() {
        assert_eq!(FeatureKind::Word.key("Apple"), "apple");
        assert_eq!(FeatureKind::Suffix(3).key("Running"), "ing");
        assert_eq!(FeatureKind::Prefix(2).key("Running"), "ru");
        assert_eq!(FeatureKind::Suffix(3).key("is"), "^is");
        assert_eq!(FeatureKind::Shape.key("Apple"), "Xx");
        assert_eq!(FeatureKind::Shape.key("iPhone-7"), "xXx-d");
        assert_eq!(FeatureKind::Shape.key("U.S."), "X.X.");
        let f = flags("Apple");
        assert_eq!(f[0], 1.0);
        assert_eq!(f[1], 0.0);
        assert_eq!(flags("NASA")[1], 1.0);
        assert_eq!(flags("1,000")[4], 1.0);
        assert_eq!(flags("@bob")[7], 1.0);
    }

    #[test]
    fn from_pretrained_keeps_what_base_learned() {
        let pos = vec![
            s("the cat sat", "at nn vbd"),
            s("Bob saw a dog", "np vbd at nn"),
        ];
        let mut opts = TaggerOptions {
            char_dim: 2,
            char_hidden: 2,
            ngrams: Some(NgramSpec {
                dim: 3,
                buckets: 11,
                min_n: 2,
                max_n: 3,
            }),
            ..TaggerOptions::default()
        };
        opts.rnn.bidirectional = true;
        let mut base = Tagger::new(&pos, &opts, 3).unwrap();
        let enc: Vec<_> = pos.iter().map(|x| base.encode(x)).collect();
        let mut tr = Trainer::new(&base, &TrainOptions::default(), 3).unwrap();
        for _ in 0..5 {
            tr.step(&mut base, &[&enc[0], &enc[1]]);
        }
        let ner = vec![s("Alice saw the café", "B-person O O O")];
        let t = Tagger::from_pretrained(&base, &ner, false, None, 9).unwrap();
        // n-gram table and character encoder carried over; 'é' is a new character
        assert_eq!(t.emb[t.ngram_off..], base.emb[base.ngram_off..]);
        let (bc, tc) = (base.chars.as_ref().unwrap(), t.chars.as_ref().unwrap());
        assert_eq!(tc.rnn.params, bc.rnn.params);
        assert_eq!(tc.emb[..bc.emb.len()], bc.emb[..]);
        assert_eq!(
            tc.spec.vocab.len(),
            bc.spec.vocab.len() + 5,
            "A, l, i, f and é are new"
        );
        assert_ne!(tc.ids("é"), [0]);
        assert_eq!(t.spec.tags, ["B-person", "O"]);
        assert_eq!(t.model.config.output_size, 2);
        assert!(t.model.config.bidirectional);
        // every recurrent tensor is base's; the readout is new and sized for 2 tags
        for e in param_layout(&t.model.config) {
            if e.name.starts_with("head.") {
                assert_eq!(e.shape[0], 2, "{}", e.name);
            } else {
                assert_eq!(
                    t.model.param(&e.name),
                    base.model.param(&e.name),
                    "{}",
                    e.name
                );
            }
        }
        // "bob" and "dog" (base only) keep base's rows; "alice" (new) gets a row
        let row = |tg: &Tagger, f: usize, w: &str| -> Vec<f32> {
            let id = tg.index[f][w] as usize;
            let d = tg.spec.features[f].dim;
            tg.emb[tg.offsets[f] + id * d..tg.offsets[f] + (id + 1) * d].to_vec()
        };
        for w in ["bob", "dog"] {
            assert_eq!(row(&t, 0, w), row(&base, 0, w), "{w}");
        }
        assert!(!base.index[0].contains_key("alice"));
        let e = t.encode(&ner[0]);
        assert!(
            e.ids.iter().all(|&i| i != UNK),
            "every key of the new data is known"
        );
        // training counts: only the new data's (base-only "dog" was never seen here)
        assert_eq!(t.counts[0][t.index[0]["dog"] as usize], 0);
        assert_eq!(t.counts[0][t.index[0]["alice"] as usize], 1);
        // and it trains
        let mut tr = Trainer::new(&t, &TrainOptions::default(), 1).unwrap();
        let mut t = t;
        let (l0, n) = tr.step(&mut t, &[&e]);
        for _ in 0..30 {
            tr.step(&mut t, &[&e]);
        }
        let (l1, _) = tr.step(&mut t, &[&e]);
        assert_eq!(n, 4);
        assert!(l1 < 0.5 * l0, "loss {l0} -> {l1}");
    }

    #[test]
    fn lexicon_tags_words_never_seen_in_training() {
        // Subjects are tagged B-per when they are names. The test sentences use
        // new words (eve, fay: listed names; cow, elk: not listed): their word
        // feature is <unk> (learned through word dropout; no affix or shape
        // features here) and their flags are the same, so only the lexicon
        // tells a name from a noun.
        let lex = Lexicon::parse(
            "person\tann\nperson\tbob\nperson\tdan\nperson\tkim\nperson\teve\nperson\tfay\n",
            "test",
        )
        .unwrap();
        let mut train = Vec::new();
        for (w, tag) in [
            ("ann", "B-per"),
            ("bob", "B-per"),
            ("dan", "B-per"),
            ("kim", "B-per"),
            ("dog", "O"),
            ("pig", "O"),
            ("hat", "O"),
            ("cup", "O"),
        ] {
            train.push(s(&format!("{w} is here"), &format!("{tag} O O")));
            train.push(s(&format!("the {w} is here"), &format!("O {tag} O O")));
        }
        let test: Vec<Sentence> = ["eve", "fay", "cow", "elk"]
            .iter()
            .map(|w| s(&format!("{w} is here"), "O O O"))
            .collect();
        let subject_tags = |lexicon: Option<Lexicon>| {
            let opts = TaggerOptions {
                lexicon,
                affix_dim: 0,
                shape_dim: 0,
                ..TaggerOptions::default()
            };
            let mut t = Tagger::new(&train, &opts, 5).unwrap();
            let enc: Vec<_> = train.iter().map(|x| t.encode(x)).collect();
            let topts = TrainOptions {
                word_dropout: 1.0,
                ..TrainOptions::default()
            };
            let mut tr = Trainer::new(&t, &topts, 5).unwrap();
            let refs: Vec<&Encoded> = enc.iter().collect();
            for _ in 0..150 {
                tr.step(&mut t, &refs);
            }
            let test_enc: Vec<_> = test.iter().map(|x| t.encode(x)).collect();
            let tags: Vec<String> = t
                .predict(&test_enc, 8)
                .iter()
                .map(|p| t.tag_names(&p[..1])[0].clone())
                .collect();
            (t, tags)
        };
        let (_, without) = subject_tags(None);
        assert!(
            without[0] == without[2] && without[1] == without[3],
            "without a lexicon a new name and a new noun look the same: {without:?}"
        );
        let (t, with) = subject_tags(Some(lex));
        assert_eq!(with, ["B-per", "B-per", "O", "O"]);
        // the lexicon is saved with the model and used after loading
        let dir = std::env::temp_dir().join(format!("rnn-lex-{}", std::process::id()));
        t.save(&dir, BTreeMap::new()).unwrap();
        let loaded = Tagger::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(loaded.spec.lexicon, t.spec.lexicon);
        let enc: Vec<_> = test.iter().map(|x| loaded.encode(x)).collect();
        assert_eq!(loaded.predict(&enc, 8), t.predict(&enc, 8));
    }

    #[test]
    fn lexicon_added_by_transfer_starts_with_zero_weight() {
        let pos = vec![
            s("the cat sat", "at nn vbd"),
            s("Bob saw a dog", "np vbd at nn"),
        ];
        let mut opts = TaggerOptions::default();
        opts.rnn.bidirectional = true;
        opts.rnn.cell = crate::nn::cell::CellKind::Lstm;
        let base = Tagger::new(&pos, &opts, 3).unwrap();
        let ner = vec![s(
            "Alice saw Bob in New York",
            "B-per O B-per O B-loc I-loc",
        )];
        let lex = Lexicon::parse("loc\tnew york\nper\talice\n", "t").unwrap();
        let plain = Tagger::from_pretrained(&base, &ner, false, None, 9).unwrap();
        let mut with = Tagger::from_pretrained(&base, &ner, false, Some(lex.clone()), 9).unwrap();
        assert_eq!(with.input_size(), plain.input_size() + 4);
        let enc = with.encode(&ner[0]);
        assert_eq!(enc.lex.iter().sum::<f32>(), 3.0, "B-per, B-loc, I-loc");
        // same readout: the zero columns make the logits those of the plain tagger
        for name in ["head.weight", "head.bias"] {
            let src = plain.model.param(name).unwrap().to_vec();
            let e = param_layout(&with.model.config)
                .into_iter()
                .find(|e| e.name == name)
                .unwrap();
            with.model.params[e.range()].copy_from_slice(&src);
        }
        let (a, _) = with.logits(&[&enc]);
        let (b, _) = plain.logits(&[&plain.encode(&ner[0])]);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        // but the lexicon's weights train
        let mut tr = Trainer::new(&with, &TrainOptions::default(), 1).unwrap();
        tr.step(&mut with, &[&enc]);
        let w = with.model.param("rnn.weight_ih_l0").unwrap();
        let i_n = with.input_size();
        let at = i_n - NUM_FLAGS - 4;
        assert!(w
            .chunks(i_n)
            .any(|r| r[at..at + 4].iter().any(|&v| v != 0.0)));
        // a second lexicon on a tagger that has one is refused
        let e = Tagger::from_pretrained(&with, &ner, false, Some(lex), 9).unwrap_err();
        assert!(e.to_string().contains("already has a lexicon"), "{e}");
    }

    #[test]
    fn viterbi_fixes_what_greedy_gets_wrong() {
        // tags (sorted) B-a, B-b, I-a, I-b, O; probabilities chosen so that the
        // greedy argmax is O I-a I-b (two invalid I- tags)
        let tags: Vec<String> = ["B-a", "B-b", "I-a", "I-b", "O"]
            .iter()
            .map(|t| t.to_string())
            .collect();
        let train = vec![Sentence {
            tokens: tags.iter().map(|_| "w".to_string()).collect(),
            tags: tags.clone(),
            line: 1,
        }];
        let t = Tagger::new(&train, &TaggerOptions::default(), 0).unwrap();
        assert_eq!(t.spec.tags, tags);
        let allowed = t.transitions().unwrap();
        let p = [
            [0.30, 0.00, 0.00, 0.00, 0.70], // O
            [0.05, 0.05, 0.60, 0.00, 0.30], // I-a: invalid after O
            [0.00, 0.05, 0.10, 0.50, 0.35], // I-b: invalid after I-a
        ];
        let logp: Vec<f64> = p
            .iter()
            .flatten()
            .map(|&v: &f64| v.max(1e-30).ln())
            .collect();
        assert_eq!(decode(&logp, 5, None), [4, 2, 3]);
        // the best valid path is O O O (.7 * .3 * .35 = .0735; next B-a I-a O = .063)
        let best = decode(&logp, 5, Some(&allowed));
        assert_eq!(best, [4, 4, 4]);
        // brute force over all 125 paths agrees
        let mut top = (f64::NEG_INFINITY, vec![]);
        for a in 0..5 {
            for b in 0..5 {
                for c in 0..5 {
                    let ok = allowed[5 * 5 + a] && allowed[a * 5 + b] && allowed[b * 5 + c];
                    let s = logp[a] + logp[5 + b] + logp[10 + c];
                    if ok && s > top.0 {
                        top = (s, vec![a, b, c]);
                    }
                }
            }
        }
        assert_eq!(best, top.1);
        // with B-a likely at the start and I-a at the end, B-a I-a I-a wins
        let mut logp2 = logp.clone();
        logp2[0] = 0.9f64.ln();
        logp2[4] = 0.1f64.ln();
        logp2[12] = 0.9f64.ln();
        assert_eq!(decode(&logp2, 5, Some(&allowed)), [0, 2, 2]);
    }

    #[test]
    fn ensemble_averages_probabilities() {
        let train = vec![s("I saw Bob", "O O B-per"), s("Ann ran", "B-per O")];
        let a = Tagger::new(&train, &TaggerOptions::default(), 1).unwrap();
        let b = Tagger::new(&train, &TaggerOptions::default(), 2).unwrap();
        let enc: Vec<_> = train.iter().map(|x| a.encode(x)).collect();
        // one member: the same as the tagger alone
        let one = Ensemble::new(vec![a.clone()]).unwrap();
        assert_eq!(one.predict(&train, 8), a.predict(&enc, 8));
        // two members: decoded from the mean of their probabilities
        let pa = a.probabilities(&enc, 8);
        let pb = b.probabilities(&train.iter().map(|x| b.encode(x)).collect::<Vec<_>>(), 8);
        let two = Ensemble::new(vec![a.clone(), b]).unwrap();
        let allowed = a.transitions();
        for (i, got) in two.predict(&train, 8).iter().enumerate() {
            let logp: Vec<f64> = pa[i]
                .iter()
                .zip(&pb[i])
                .map(|(&x, &y)| ((x as f64 + y as f64) / 2.0).ln())
                .collect();
            assert_eq!(got, &decode(&logp, a.spec.tags.len(), allowed.as_deref()));
        }
        // a large entity bias tags every token as an entity, a very negative one none
        let mut biased = Ensemble::new(vec![a.clone()]).unwrap();
        let o_id = a.tag_id("O").unwrap();
        biased.entity_bias = 100.0;
        assert!(biased
            .predict(&train, 8)
            .iter()
            .flatten()
            .all(|&y| y != o_id));
        biased.entity_bias = -100.0;
        assert!(biased
            .predict(&train, 8)
            .iter()
            .flatten()
            .all(|&y| y == o_id));
        // different tag sets cannot vote
        let other = Tagger::new(&[s("x", "B-loc")], &TaggerOptions::default(), 1).unwrap();
        assert!(Ensemble::new(vec![a, other]).is_err());
        assert!(Ensemble::new(vec![]).is_err());
    }

    #[test]
    fn ngram_buckets() {
        let g = NgramSpec {
            dim: 4,
            buckets: 1000,
            min_n: 3,
            max_n: 4,
        };
        // <ab> has 2 trigrams and 1 four-gram; case does not matter
        assert_eq!(g.buckets_of("ab").len(), 3);
        assert_eq!(g.buckets_of("AB"), g.buckets_of("ab"));
        assert!(g.buckets_of("ab").iter().all(|&k| k < 1000));
        // "a" gives only <a> (one trigram); "" falls back to the whole "<>"
        assert_eq!(g.buckets_of("a").len(), 1);
        assert_eq!(g.buckets_of("").len(), 1);
        // shared pieces share buckets
        let (x, y) = (g.buckets_of("london"), g.buckets_of("londoner"));
        assert!(x.iter().filter(|k| y.contains(k)).count() >= 5);
    }

    /// Finite differences of the batch loss against the hand-written gradient
    /// of every embedding entry the batch uses (words, affixes, shape, n-grams).
    #[test]
    fn embedding_gradients_match_finite_differences() {
        let train = vec![
            s("I saw Bob in Paris", "O O B-per O B-loc"),
            s("Ann Lee ran", "B-per I-per O"),
        ];
        let mut rnn = ModelConfig::elman(1, 6, 1);
        rnn.cell = crate::nn::cell::CellKind::Lstm;
        rnn.bidirectional = true;
        let opts = TaggerOptions {
            word_dim: 3,
            affix_dim: 2,
            shape_dim: 2,
            ngrams: Some(NgramSpec {
                dim: 3,
                buckets: 7, // few buckets: collisions, repeated rows
                min_n: 2,
                max_n: 3,
            }),
            rnn,
            ..TaggerOptions::default()
        };
        let mut tagger = Tagger::new(&train, &opts, 5).unwrap();
        let enc: Vec<_> = train.iter().map(|x| tagger.encode(x)).collect();
        let batch: Vec<&Encoded> = enc.iter().collect();
        let topts = TrainOptions {
            word_dropout: 0.0,
            input_dropout: 0.0,
            ..TrainOptions::default()
        };
        let mut tr = Trainer::new(&tagger, &topts, 5).unwrap();
        tr.gradients(&tagger, &batch);
        let g = tr.g[EMB].clone();
        let ngram_from = tagger.ngram_off;
        let (mut checked, mut ngram_checked) = (0, 0);
        let eps = 1e-2f32;
        for i in 0..tagger.emb.len() {
            if g[i] == 0.0 && i < ngram_from {
                continue; // an unused row
            }
            let v = tagger.emb[i];
            tagger.emb[i] = v + eps;
            let up = tr.gradients(&tagger, &batch).0;
            tagger.emb[i] = v - eps;
            let down = tr.gradients(&tagger, &batch).0;
            tagger.emb[i] = v;
            let fd = (up - down) / (2.0 * eps);
            assert!(
                (fd - g[i]).abs() <= 2e-3 + 2e-2 * g[i].abs(),
                "entry {i} (n-grams from {ngram_from}): finite difference {fd}, gradient {}",
                g[i]
            );
            checked += 1;
            if i >= ngram_from && g[i] != 0.0 {
                ngram_checked += 1;
            }
        }
        assert!(
            checked > 50 && ngram_checked >= 15,
            "{checked} {ngram_checked}"
        );
    }

    /// The character encoder inside the tagger: finite differences of the
    /// batch loss (with input dropout, CRF, padding) against the gradients of
    /// its embeddings and LSTM; and it survives a save/load round trip.
    #[test]
    fn char_encoder_gradients_through_the_tagger() {
        let train = vec![
            s("I saw Bob in Paris", "O O B-per O B-loc"),
            s("Ann Lee ran", "B-per I-per O"),
        ];
        let mut rnn = ModelConfig::elman(1, 5, 1);
        rnn.bidirectional = true;
        let opts = TaggerOptions {
            word_dim: 3,
            affix_dim: 0,
            shape_dim: 2,
            char_dim: 2,
            char_hidden: 3,
            crf: true,
            rnn,
            ..TaggerOptions::default()
        };
        let mut tagger = Tagger::new(&train, &opts, 2).unwrap();
        assert_eq!(tagger.input_size(), 3 + 2 + 6 + NUM_FLAGS);
        let enc: Vec<_> = train.iter().map(|x| tagger.encode(x)).collect();
        let batch: Vec<&Encoded> = enc.iter().collect();
        let topts = TrainOptions {
            word_dropout: 0.0,
            input_dropout: 0.3,
            ..TrainOptions::default()
        };
        // the same dropout masks each time: a fresh trainer with one seed
        let grads = |t: &Tagger| {
            let mut tr = Trainer::new(t, &topts, 9).unwrap();
            let (l, _) = tr.gradients(t, &batch);
            let [.., g_char_emb, g_char_rnn] = tr.g;
            (l, g_char_emb, g_char_rnn)
        };
        let (_, g_emb, g_rnn) = grads(&tagger);
        let eps = 1e-2f32;
        let close = |fd: f32, g: f32| (fd - g).abs() <= 2e-3 + 2e-2 * g.abs();
        let mut checked = 0;
        for i in 0..g_emb.len() + g_rnn.len() {
            let ne = g_emb.len();
            fn slot(t: &mut Tagger, i: usize, ne: usize) -> &mut f32 {
                let c = t.chars.as_mut().unwrap();
                if i < ne {
                    &mut c.emb[i]
                } else {
                    &mut c.rnn.params[i - ne]
                }
            }
            let g = if i < ne { g_emb[i] } else { g_rnn[i - ne] };
            let v = *slot(&mut tagger, i, ne);
            *slot(&mut tagger, i, ne) = v + eps;
            let up = grads(&tagger).0;
            *slot(&mut tagger, i, ne) = v - eps;
            let down = grads(&tagger).0;
            *slot(&mut tagger, i, ne) = v;
            let fd = (up - down) / (2.0 * eps);
            assert!(close(fd, g), "char parameter {i}: fd {fd} vs {g}");
            checked += usize::from(g != 0.0);
        }
        assert!(checked > 60, "{checked}");
        let dir = std::env::temp_dir().join(format!("rnn-chars-{}", std::process::id()));
        tagger.save(&dir, BTreeMap::new()).unwrap();
        let back = Tagger::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let enc_back: Vec<_> = train.iter().map(|x| back.encode(x)).collect();
        assert_eq!(back.logits(&[&enc_back[0]]).0, tagger.logits(&[&enc[0]]).0);
    }

    /// A CRF tagger decodes the same way in training (`Tagger::predict`) as
    /// `rnn tag`/`rnn eval` do after a save and load (`Ensemble::predict`),
    /// with bias 0; a large entity bias changes the path.
    #[test]
    fn crf_decoding_is_the_same_after_save_and_load() {
        let train = vec![
            s("I saw Bob in Paris", "O O B-per O B-loc"),
            s("Ann Lee ran to Rome", "B-per I-per O O B-loc"),
        ];
        let opts = TaggerOptions {
            crf: true,
            ..TaggerOptions::default()
        };
        let mut t = Tagger::new(&train, &opts, 4).unwrap();
        let enc: Vec<_> = train.iter().map(|x| t.encode(x)).collect();
        let mut tr = Trainer::new(&t, &TrainOptions::default(), 4).unwrap();
        for _ in 0..5 {
            tr.step(&mut t, &[&enc[0], &enc[1]]);
        }
        let dir = std::env::temp_dir().join(format!("rnn-crf-{}", std::process::id()));
        t.save(&dir, BTreeMap::new()).unwrap();
        let mut ens = Ensemble::new(vec![Tagger::load(&dir).unwrap()]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ens.predict(&train, 8), t.predict(&enc, 8));
        ens.entity_bias = 100.0;
        let o = t.tag_id("O").unwrap();
        assert!(ens.predict(&train, 8).iter().flatten().all(|&y| y != o));
    }

    #[test]
    fn viterbi_respects_bio() {
        // tags: B-a, I-a, O. Token 0 prefers I-a (not allowed at the start).
        let tags = ["B-a", "I-a", "O"];
        let o = 3;
        let mut allowed = vec![true; (o + 1) * o];
        for p in 0..=o {
            allowed[p * o + 1] = p < o && (tags[p] == "B-a" || tags[p] == "I-a");
        }
        let logp = [1.0f64, 2.0, 0.0, 0.0, 3.0, 0.0];
        let path = decode(&logp, o, Some(&allowed));
        assert_eq!(path, [0, 1]);
    }
}
