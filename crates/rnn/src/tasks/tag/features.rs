//! What a tagger reads from each token: learned features (word, affixes,
//! shape), hashed character n-grams and fixed 0/1 flags, and the
//! [`TaggerSpec`] that describes them all (saved as JSON with the model).

use super::chars::CharSpec;
use super::lexicon::Lexicon;
use serde::{Deserialize, Serialize};

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
        // no n-gram is longer than the word: a huge max_n (a damaged model
        // file) would otherwise loop over empty lengths for ever
        for n in self.min_n..=self.max_n.min(chars.len()) {
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
    /// The training tags follow IOB1 ([`super::metrics::is_iob1`]): decoding
    /// lets an `I-X` start an entity and a `B-X` follow only an `X`, instead
    /// of BIO's `I-X` only after `B-X` or `I-X`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub iob1: bool,
}

impl TaggerSpec {
    /// The size of each input vector: feature and n-gram embeddings, the
    /// character encoder's vector, lexicon matches, then the flags.
    pub fn input_size(&self) -> usize {
        // saturating: sizes from a damaged file never wrap to a small model
        [
            self.ngrams.as_ref().map_or(0, |g| g.dim),
            self.chars
                .as_ref()
                .map_or(0, |c| c.hidden.saturating_mul(2)),
            self.lexicon_width(),
            NUM_FLAGS,
        ]
        .into_iter()
        .chain(self.features.iter().map(|f| f.dim))
        .fold(0usize, usize::saturating_add)
    }

    /// The number of lexicon inputs per token (0 without a lexicon).
    pub fn lexicon_width(&self) -> usize {
        self.lexicon.as_ref().map_or(0, Lexicon::width)
    }
}
