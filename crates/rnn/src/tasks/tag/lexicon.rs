//! Lexicon (gazetteer) features: whether a token starts or continues a phrase
//! listed under some category (`city`, `first-name`, a word-frequency band, ...).
//!
//! A lexicon file has one entry per line, `category<TAB>phrase`; phrases are
//! matched case-insensitively, token by token (`new york` matches the tokens
//! `New York`). Per category, matching runs left to right and takes the
//! longest phrase starting at each token that is not already covered. Each
//! token gets `2 C` fixed 0/1 inputs for `C` categories: for category `c`,
//! slot `2c` is 1 when a phrase of `c` starts at the token and slot `2c + 1`
//! when one continues through it.
//!
//! ```
//! use rnn::tasks::tag::lexicon::Lexicon;
//! let lex = Lexicon::parse("city\tnew york\ncity\tyork\nfirst-name\tjordan\n", "inline").unwrap();
//! let toks = ["Jordan", "flew", "to", "New", "York"];
//! let f = lex.index().features(&toks);
//! // categories in order: city, first-name -> [B-city, I-city, B-first, I-first]
//! assert_eq!(&f[0..4], &[0.0, 0.0, 1.0, 0.0]); // Jordan
//! assert_eq!(&f[12..16], &[1.0, 0.0, 0.0, 0.0]); // New: starts "new york"
//! assert_eq!(&f[16..20], &[0.0, 1.0, 0.0, 0.0]); // York: inside it, not a new "york"
//! ```

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Longest phrase, in tokens, a lexicon may hold.
pub const MAX_PHRASE_TOKENS: usize = 8;

/// Phrases by category (saved with the tagger as JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lexicon {
    /// Category → its phrases, lowercased, tokens joined by one space, sorted.
    pub entries: BTreeMap<String, Vec<String>>,
}

impl Lexicon {
    /// Reads a lexicon file (`category<TAB>phrase` lines; blank lines and
    /// lines starting with `#` are skipped).
    pub fn read(path: &Path) -> Result<Self> {
        let text = super::data::read_text(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses lexicon text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let bad = |line: usize, reason: String| Error::Parse {
            path: source.into(),
            line,
            reason,
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (cat, phrase) = line
                .split_once('\t')
                .ok_or_else(|| bad(i + 1, "expected `category<TAB>phrase`, found no tab".into()))?;
            let cat = cat.trim();
            let words: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
            if cat.is_empty() || words.is_empty() {
                return Err(bad(i + 1, "empty category or phrase".into()));
            }
            if words.len() > MAX_PHRASE_TOKENS {
                return Err(bad(
                    i + 1,
                    format!(
                        "phrase of {} tokens is longer than the limit of {MAX_PHRASE_TOKENS}",
                        words.len()
                    ),
                ));
            }
            entries
                .entry(cat.to_string())
                .or_default()
                .push(words.join(" "));
        }
        if entries.is_empty() {
            return Err(Error::Data {
                path: source.into(),
                reason: "the lexicon has no entries".into(),
            });
        }
        for v in entries.values_mut() {
            v.sort();
            v.dedup();
        }
        Ok(Lexicon { entries })
    }

    /// The number of inputs per token (`2 C`).
    pub fn width(&self) -> usize {
        2 * self.entries.len()
    }

    /// The lookup structure for matching.
    pub fn index(&self) -> LexiconIndex {
        let mut map: HashMap<String, Vec<usize>> = HashMap::new();
        let mut max_len = 0;
        for (c, phrases) in self.entries.values().enumerate() {
            for p in phrases {
                max_len = max_len.max(p.split(' ').count());
                map.entry(p.clone()).or_default().push(c);
            }
        }
        LexiconIndex {
            map,
            categories: self.entries.len(),
            max_len,
        }
    }
}

/// A [`Lexicon`] ready for matching: phrase → category numbers.
#[derive(Clone, Debug)]
pub struct LexiconIndex {
    map: HashMap<String, Vec<usize>>,
    categories: usize,
    max_len: usize,
}

impl LexiconIndex {
    /// The features of a sentence's tokens: `[n, 2 C]` of 0/1.
    pub fn features<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<f32> {
        let n = tokens.len();
        let w = 2 * self.categories;
        let mut out = vec![0.0f32; n * w];
        let lower: Vec<String> = tokens.iter().map(|t| t.as_ref().to_lowercase()).collect();
        // covered[c]: the first token not yet inside a match of category c
        let mut covered = vec![0usize; self.categories];
        let mut phrase = String::new();
        for i in 0..n {
            for len in (1..=self.max_len.min(n - i)).rev() {
                phrase.clear();
                for (k, t) in lower[i..i + len].iter().enumerate() {
                    if k > 0 {
                        phrase.push(' ');
                    }
                    phrase.push_str(t);
                }
                let Some(cats) = self.map.get(&phrase) else {
                    continue;
                };
                for &c in cats {
                    if covered[c] > i {
                        continue;
                    }
                    out[i * w + 2 * c] = 1.0;
                    for t in i + 1..i + len {
                        out[t * w + 2 * c + 1] = 1.0;
                    }
                    covered[c] = i + len;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_per_category() {
        // "a b c": category x lists "a b" and "b c", y lists "b". Left to right,
        // x takes "a b" at token 0 (longest there), so "b c" at token 1 overlaps
        // and is skipped; y matches "b" on its own.
        let lex = Lexicon::parse("x\ta b\nx\tB C\ny\tb\n", "t").unwrap();
        let f = lex.index().features(&["A", "b", "c"]);
        #[rustfmt::skip]
        assert_eq!(f, vec![
            1.0, 0.0, 0.0, 0.0, // A: B-x
            0.0, 1.0, 1.0, 0.0, // b: I-x, B-y
            0.0, 0.0, 0.0, 0.0, // c: nothing
        ]);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = Lexicon::parse("# comment\ncity\tparis\ncity paris\n", "lex.tsv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lex.tsv:3: expected `category<TAB>phrase`, found no tab"
        );
        let e = Lexicon::parse("city\t  \n", "lex.tsv").unwrap_err();
        assert!(e.to_string().starts_with("lex.tsv:1: empty"), "{e}");
        let e = Lexicon::parse("\n# nothing\n", "lex.tsv").unwrap_err();
        assert_eq!(e.to_string(), "lex.tsv: the lexicon has no entries");
        let long = format!("c\t{}\n", "w ".repeat(MAX_PHRASE_TOKENS + 1));
        assert!(Lexicon::parse(&long, "l").is_err());
    }
}
