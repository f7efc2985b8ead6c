//! The characters a language model knows, and how they are stored with it.

use crate::io::model_file::{ModelFile, MODEL_FILE};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// The characters a model knows: Unicode scalar values, sorted; id `i` is
/// `chars[i]`.
///
/// ```
/// use rnn::tasks::lm::Vocab;
/// let v = Vocab::from_text("hello");
/// assert_eq!(v.chars, vec!['e', 'h', 'l', 'o']);
/// assert_eq!(v.encode("hole", "prime").unwrap(), vec![1, 3, 2, 0]);
/// assert_eq!(v.decode(&[1, 0, 2, 2, 3]), "hello");
/// let e = v.encode("help!", "prime").unwrap_err();
/// assert_eq!(e.to_string(), "prime: 2 character(s) not in the model's vocabulary: '!' 'p'");
/// // Windows line ends for a model of Unix ones are named as such
/// let e = Vocab::from_text("a\n").encode("a\r\n", "t.txt").unwrap_err();
/// assert!(e.to_string().ends_with("'\\r' (the text has Windows line ends, \\r\\n: the model's text had \\n alone; convert with `dos2unix` or `tr -d '\\r'`)"), "{e}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// Id `i` is `chars[i]`.
    pub chars: Vec<char>,
}

impl Vocab {
    /// The sorted set of characters of `text`.
    pub fn from_text(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect::<BTreeSet<_>>().into_iter().collect();
        Vocab { chars }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The id of `c`: its position in `chars`. A vocabulary built by
    /// [`Vocab::from_text`] is sorted and searched by halves; one built by
    /// hand in another order is still right (a character the halving
    /// misses is looked for in order).
    ///
    /// ```
    /// use rnn::tasks::lm::Vocab;
    /// let v = Vocab { chars: vec!['c', 'a', 'b'] };
    /// assert_eq!((v.id('c'), v.id('a'), v.id('b'), v.id('d')), (Some(0), Some(1), Some(2), None));
    /// ```
    pub fn id(&self, c: char) -> Option<usize> {
        self.chars
            .binary_search(&c)
            .ok()
            .or_else(|| self.chars.iter().position(|&x| x == c))
    }

    /// The first character `chars` holds twice, if any: ids would then be
    /// ambiguous.
    pub(crate) fn repeated(&self) -> Option<char> {
        let mut seen = BTreeSet::new();
        self.chars.iter().copied().find(|&c| !seen.insert(c))
    }

    /// Ids of every character of `text`, or an error listing the characters
    /// (up to 20) the vocabulary does not have; `what` names the text.
    pub fn encode(&self, text: &str, what: &str) -> Result<Vec<usize>> {
        let mut missing = BTreeSet::new();
        let ids: Vec<usize> = text
            .chars()
            .map(|c| {
                self.id(c).unwrap_or_else(|| {
                    missing.insert(c);
                    0
                })
            })
            .collect();
        if missing.is_empty() {
            Ok(ids)
        } else {
            let mut list: Vec<String> = missing.iter().take(20).map(|c| format!("{c:?}")).collect();
            if missing.len() > 20 {
                list.push(format!("... and {} more", missing.len() - 20));
            }
            // a text saved with Windows line ends, for a model of Unix ones
            if missing.contains(&'\r') && self.id('\n').is_some() {
                list.push("(the text has Windows line ends, \\r\\n: the model's text had \\n alone; convert with `dos2unix` or `tr -d '\\r'`)".into());
            }
            Err(Error::UnknownChars {
                what: what.into(),
                count: missing.len(),
                list: list.join(" "),
            })
        }
    }

    /// The characters of `ids` (ids out of range are skipped).
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().filter_map(|&i| self.chars.get(i)).collect()
    }

    /// The vocabulary stored in a language model's file (`dir` names it in
    /// errors); it must have as many characters as the model's input and
    /// output size.
    pub fn of_model(mf: &ModelFile, dir: &Path) -> Result<Self> {
        let s = mf.meta(dir, "vocab")?;
        let chars: Vec<char> = serde_json::from_str::<String>(s)
            .map(|s| s.chars().collect())
            .map_err(|e| Error::Metadata {
                path: dir.join(MODEL_FILE),
                key: "vocab".into(),
                value: s.chars().take(40).collect(),
                expected: format!("a JSON string of characters ({e})"),
            })?;
        let vocab = Vocab { chars };
        if let Some(c) = vocab.repeated() {
            return Err(Error::Metadata {
                path: dir.join(MODEL_FILE),
                key: "vocab".into(),
                value: s.chars().take(40).collect(),
                expected: format!(
                    "each character once, but {c:?} appears more than once (the file is damaged)"
                ),
            });
        }
        let config = &mf.model.config;
        if vocab.len() != config.output_size || vocab.len() != config.input_size {
            return Err(Error::Metadata {
                path: dir.join(MODEL_FILE),
                key: "vocab".into(),
                value: format!("{} characters", vocab.len()),
                expected: format!(
                    "as many characters as the model's input/output size {}",
                    config.output_size
                ),
            });
        }
        Ok(vocab)
    }

    /// The `vocab` metadata value stored with a model: its characters as
    /// one JSON string.
    pub fn to_meta(&self) -> String {
        serde_json::to_string(&self.chars.iter().collect::<String>()).unwrap_or_default()
    }
}

/// The vocabulary stored in a language model's file (see [`Vocab::of_model`]).
pub fn vocab_of(mf: &ModelFile, dir: &Path) -> Result<Vocab> {
    Vocab::of_model(mf, dir)
}

/// The `vocab` metadata value for `vocab` (see [`Vocab::to_meta`]).
pub fn vocab_meta(vocab: &Vocab) -> String {
    vocab.to_meta()
}
