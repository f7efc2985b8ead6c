//! Raw text into tokens the way a tagger's training data were tokenised.
//!
//! Tagged corpora (CoNLL-2003, WNUT 2017, the Brown corpus) write punctuation
//! apart from words (`Paris .`, `( Reuters )`, `Germany 's`), so a tagger
//! never saw `Paris.` or `apple,` as one token: read as they are, such words
//! are unknown to it and their entity is often missed. [`Tokenizer`] splits
//! each whitespace-separated chunk of raw text into the tokens the model
//! knows, guided by the model's own word vocabulary rather than by a fixed
//! convention:
//!
//! - a chunk the vocabulary knows (`U.S.`, `:)`, `don't` in a corpus that
//!   keeps it whole) is kept whole;
//! - otherwise opening punctuation (`( [ { " ' ` “ ‘ « ¿ ¡ $ £ €`) is taken
//!   off its front and closing punctuation (`. , ; : ! ? ) ] } " ' ” ’ » … %`)
//!   off its end, one mark at a time (or a run such as `...` or `?!` when the
//!   vocabulary knows the run), but only marks the vocabulary knows as
//!   tokens of their own: a model trained on text with `apple,` as one token
//!   gets its chunks unchanged;
//! - a final period stays on an abbreviation whose letters hold periods
//!   (`U.S.`, `e.g.`) even when the vocabulary does not know it (`U.S` is
//!   no corpus's token); an initial (`J.`) keeps it only when known;
//! - a chunk of marks alone that the vocabulary does not know (`'',`,
//!   `))`) is split into the longest marks it knows, from the front;
//! - an English clitic the vocabulary knows (`'s`, `n't`, `'re`, `'ve`,
//!   `'ll`, `'d`, `'m`, also with `’`) is split off an unknown word
//!   (`Germany's` -> `Germany 's`, `don't` -> `do n't`).
//!
//! Inner punctuation is never split (`3.5`, `e-mail`, `http://a.b/c`), nor
//! are `@user` and `#tag`.
//!
//! ```
//! use rnn::tasks::tag::tokenize::Tokenizer;
//! let vocab = ["paris", ".", ",", "(", ")", "'s", "u.s."];
//! let known = |w: &str| vocab.contains(&w.to_lowercase().as_str());
//! let t = Tokenizer::Vocabulary;
//! assert_eq!(t.split("I saw Paris, (again) and Germany's U.S. base.", known),
//!            ["I", "saw", "Paris", ",", "(", "again", ")", "and", "Germany", "'s", "U.S.", "base", "."]);
//! assert_eq!(Tokenizer::Whitespace.split("Paris, again.", known), ["Paris,", "again."]);
//! ```

/// How `rnn tag` splits a line of raw text into tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Tokenizer {
    /// Whitespace, then punctuation and clitics split off where the model's
    /// vocabulary knows them as tokens of their own (see the module
    /// documentation).
    #[default]
    #[cfg_attr(feature = "clap", value(alias = "auto"))]
    Vocabulary,
    /// Whitespace only: every chunk between spaces is one token.
    Whitespace,
}

/// Marks taken off the front of an unknown chunk.
const OPENING: &[char] = &[
    '(', '[', '{', '"', '\'', '`', '“', '‘', '«', '¿', '¡', '$', '£', '€',
];
/// Marks taken off the end of an unknown chunk.
const CLOSING: &[char] = &[
    '.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '”', '’', '»', '…', '%',
];
/// Marks split off either end of a chunk at most (the rest stay attached),
/// and the longest run of marks looked up whole: each lookup lowercases
/// what it looks up, so a chunk of a hundred thousand `!` costs as much as
/// a short one, not the square of its length.
const MAX_PEELS: usize = 32;
/// See [`MAX_PEELS`], in characters.
const MAX_RUN: usize = 16;
/// English clitics, split off the end of an unknown word (longest first).
const CLITICS: &[&str] = &[
    "n't", "n’t", "'re", "’re", "'ve", "’ve", "'ll", "’ll", "'s", "’s", "'d", "’d", "'m", "’m",
];

impl Tokenizer {
    /// The tokens of one line of raw text; `known` says whether the model's
    /// vocabulary holds a token (the caller decides how: lowercased, say).
    pub fn split(self, line: &str, known: impl Fn(&str) -> bool) -> Vec<&str> {
        match self {
            Tokenizer::Whitespace => line.split_whitespace().collect(),
            Tokenizer::Vocabulary => {
                let mut out = Vec::new();
                for chunk in line.split_whitespace() {
                    split_chunk(chunk, &known, &mut out);
                }
                out
            }
        }
    }
}

/// Splits one whitespace-free chunk into `out` (see the module documentation).
fn split_chunk<'a>(chunk: &'a str, known: &impl Fn(&str) -> bool, out: &mut Vec<&'a str>) {
    if known(chunk) {
        out.push(chunk);
        return;
    }
    if !chunk.chars().any(char::is_alphanumeric) {
        split_marks(chunk, known, out);
        return;
    }
    let mut word = chunk;
    // opening marks, in order (a letter or digit always follows them)
    for _ in 0..MAX_PEELS {
        let Some(cut) = opening_cut(word, known).filter(|_| !known(word)) else {
            break;
        };
        out.push(&word[..cut]);
        word = &word[cut..];
    }
    // closing marks, collected from the end, pushed after the word
    let mut tail = Vec::new();
    for _ in 0..MAX_PEELS {
        let Some(cut) = closing_cut(word, known).filter(|_| !known(word)) else {
            break;
        };
        tail.push(&word[cut..]);
        word = &word[..cut];
    }
    if !known(word) {
        if let Some(cut) = clitic_cut(word, known) {
            out.push(&word[..cut]);
            word = &word[cut..];
        }
    }
    out.push(word);
    out.extend(tail.iter().rev());
}

/// An unknown chunk of marks alone (`'',` `?!` `))`): the longest known
/// prefix again and again; a rest with no known prefix stays whole.
fn split_marks<'a>(chunk: &'a str, known: &impl Fn(&str) -> bool, out: &mut Vec<&'a str>) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .take(MAX_RUN)
            .filter(|&end| known(&rest[..end]))
            .last()
            .unwrap_or(rest.len());
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
}

/// Where the opening mark (or known run of marks, `` `` ``) at the front of
/// `word` ends, if one is to be split off.
fn opening_cut(word: &str, known: &impl Fn(&str) -> bool) -> Option<usize> {
    let run: usize = word
        .chars()
        .take_while(|c| OPENING.contains(c))
        .map(char::len_utf8)
        .sum();
    if run == 0 || run == word.len() {
        return None;
    }
    let first = word.chars().next().map_or(0, char::len_utf8);
    if run > first && word[..run].chars().count() <= MAX_RUN && known(&word[..run]) {
        return Some(run);
    }
    known(&word[..first]).then_some(first)
}

/// Where the closing mark (or known run of marks) at the end of `word`
/// starts, if one is to be split off.
fn closing_cut(word: &str, known: &impl Fn(&str) -> bool) -> Option<usize> {
    let run = word
        .char_indices()
        .rev()
        .take_while(|&(_, c)| CLOSING.contains(&c))
        .last()
        .map(|(i, _)| i)?;
    let last = word.char_indices().next_back().map_or(0, |(i, _)| i);
    if run == 0 {
        return None; // marks alone: split_marks
    }
    if word.ends_with('.') && keeps_period(&word[..last]) {
        return None;
    }
    if last > run && word[run..].chars().count() <= MAX_RUN && known(&word[run..]) {
        return Some(run); // a known run, `...` or `?!`
    }
    known(&word[last..]).then_some(last)
}

/// Whether a final period belongs to the word before it: an abbreviation
/// whose letters hold periods (`U.S`, `e.g`), never a token without it.
fn keeps_period(stem: &str) -> bool {
    stem.contains('.')
        && stem
            .split('.')
            .all(|p| p.chars().count() <= 3 && !p.is_empty())
        && stem.chars().any(char::is_alphabetic)
}

/// Where a known clitic at the end of `word` starts (never at 0).
fn clitic_cut(word: &str, known: &impl Fn(&str) -> bool) -> Option<usize> {
    CLITICS.iter().find_map(|c| {
        let cut = word.len().checked_sub(c.len())?;
        let ok = cut > 0
            && word.is_char_boundary(cut)
            && word[cut..].to_lowercase() == *c
            && known(&word[cut..]);
        ok.then_some(cut)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of lowercased words, as the tagger's word feature keeps them.
    fn vocab(words: &[&str]) -> impl Fn(&str) -> bool {
        let set: std::collections::HashSet<String> = words.iter().map(|w| w.to_string()).collect();
        move |w: &str| set.contains(&w.to_lowercase())
    }

    fn split(line: &str, words: &[&str]) -> Vec<String> {
        Tokenizer::Vocabulary
            .split(line, vocab(words))
            .into_iter()
            .map(String::from)
            .collect()
    }

    const CONLL: &[&str] = &[
        ".", ",", "(", ")", "\"", "'s", "n't", "...", "%", "$", "u.s.", "reuters", "do", ":", "!",
        "?",
    ];

    #[test]
    fn punctuation_the_vocabulary_knows_is_split_off() {
        assert_eq!(
            split("I like apple, and Apple.", CONLL),
            ["I", "like", "apple", ",", "and", "Apple", "."]
        );
        assert_eq!(split("(Reuters)", CONLL), ["(", "Reuters", ")"]);
        assert_eq!(split("\"Hello!\"", CONLL), ["\"", "Hello", "!", "\""]);
        assert_eq!(split("end.)", CONLL), ["end", ".", ")"]);
        assert_eq!(split("wait...", CONLL), ["wait", "..."]);
        assert_eq!(split("up 5%, $30", CONLL), ["up", "5", "%", ",", "$", "30"]);
        assert_eq!(
            split("Really?!", CONLL),
            ["Really", "?", "!"],
            "the run ?! is unknown: one at a time"
        );
    }

    #[test]
    fn what_the_vocabulary_does_not_know_as_a_token_stays_attached() {
        // a model trained on text that kept commas on their words
        assert_eq!(split("apple, pear.", &["."]), ["apple,", "pear", "."]);
        assert_eq!(split("apple, pear.", &[]), ["apple,", "pear."]);
        // known chunks stay whole
        assert_eq!(split("apple, x", &["apple,", ","]), ["apple,", "x"]);
    }

    #[test]
    fn abbreviations_initials_and_inner_marks_stay() {
        assert_eq!(
            split("the U.S. and e.g. this", CONLL),
            ["the", "U.S.", "and", "e.g.", "this"]
        );
        assert_eq!(
            split("J. Smith", CONLL),
            ["J", ".", "Smith"],
            "an unknown initial"
        );
        assert_eq!(
            split("J. Smith", &["j.", "."]),
            ["J.", "Smith"],
            "a known one"
        );
        assert_eq!(split("in the U.S.,", CONLL), ["in", "the", "U.S.", ","]);
        assert_eq!(
            split("3.5 e-mail http://a.b/c.", CONLL),
            ["3.5", "e-mail", "http://a.b/c", "."]
        );
        assert_eq!(split("@user! #tag,", CONLL), ["@user", "!", "#tag", ","]);
        // a sentence ending in a lower-case single letter still loses its period
        assert_eq!(split("plan a.", CONLL), ["plan", "a", "."]);
    }

    #[test]
    fn clitics_split_only_when_known_and_the_word_is_not() {
        assert_eq!(
            split("Germany's don't", CONLL),
            ["Germany", "'s", "do", "n't"]
        );
        assert_eq!(
            split("Germany’s", CONLL),
            ["Germany’s"],
            "’s is not in this vocabulary"
        );
        assert_eq!(split("don't", &["don't", "n't"]), ["don't"]);
        assert_eq!(split("'s", CONLL), ["'s"]);
    }

    use proptest::prelude::*;

    /// Pieces random text is made of: words, marks, clitics, spaces.
    const PIECES: &[&str] = &[
        "Paris",
        "do",
        "U.S.",
        "J.",
        "5",
        "3.5",
        "İstanbul",
        "ß",
        "@x",
        "(",
        ")",
        ",",
        ".",
        "'",
        "''",
        "``",
        "'s",
        "n't",
        "’s",
        "...",
        "?",
        "!",
        ":",
        "$",
        "%",
        "«",
        "»",
        "…",
        "\"",
        " ",
        " ",
        " ",
    ];
    /// Tokens a random vocabulary may hold (lowercased, as the word feature keys them).
    const WORDS: &[&str] = &[
        "paris", "do", "u.s.", "j.", "(", ")", ",", ".", "'", "''", "``", "'s", "n't", "...", "?",
        "!", "?!", ":", "$", "%", "«", "»", "…", "\"", "paris.", "ß",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// On any text and any vocabulary: no panic, no empty token, no
        /// whitespace in a token, and the tokens of each chunk put back
        /// together are the chunk (nothing lost, added or reordered).
        #[test]
        fn tokens_put_back_together_are_the_text(
            pieces in proptest::collection::vec(0..PIECES.len(), 0..24),
            chosen in proptest::collection::vec(any::<bool>(), WORDS.len()),
        ) {
            let text: String = pieces.iter().map(|&i| PIECES[i]).collect();
            let words: Vec<&str> = WORDS.iter().zip(&chosen).filter(|(_, &c)| c).map(|(w, _)| *w).collect();
            let tokens = Tokenizer::Vocabulary.split(&text, vocab(&words));
            prop_assert!(tokens.iter().all(|t| !t.is_empty() && !t.contains(char::is_whitespace)));
            let joined: String = tokens.concat();
            let squeezed: String = text.split_whitespace().collect();
            prop_assert_eq!(joined, squeezed, "{:?} with {:?}", text, words);
        }
    }

    #[test]
    fn marks_alone_and_non_ascii_text() {
        assert_eq!(split("... ( , ?", CONLL), ["...", "(", ",", "?"]);
        // unknown runs of marks alone split into the longest known marks
        assert_eq!(
            split("?! )) .: ...,", CONLL),
            ["?", "!", ")", ")", ".", ":", "...", ","]
        );
        assert_eq!(
            split("[^ ^[", &["["]),
            ["[", "^", "^["],
            "an unknown rest stays whole"
        );
        assert_eq!(
            split("?! :)", &["?!", ":)", "!"]),
            ["?!", ":)"],
            "known runs stay"
        );
        assert_eq!(
            split("-)/ x)", &[")", "/"]),
            ["-)/", "x", ")"],
            "/ is no closing mark"
        );
        assert_eq!(
            split("«Zürich»,", &["«", "»", ","]),
            ["«", "Zürich", "»", ","]
        );
        assert_eq!(
            split("İstanbul's DON'T", CONLL),
            ["İstanbul", "'s", "DO", "N'T"]
        );
        assert!(split("   ", CONLL).is_empty());
        // long chunks: at most 32 marks come off each end of a word, runs of
        // at most 16 are looked up, so the characters looked up grow with
        // the text, not with its square (a line of 90,000 marks took 90 s)
        let long = format!(
            "a{} {}b {}",
            "!".repeat(100_000),
            "(".repeat(100_000),
            "!".repeat(100_000)
        );
        let (calls, chars) = (std::cell::Cell::new(0usize), std::cell::Cell::new(0usize));
        let counted = |w: &str| {
            calls.set(calls.get() + 1);
            chars.set(chars.get() + w.len());
            CONLL.contains(&w.to_lowercase().as_str())
        };
        let tokens = Tokenizer::Vocabulary.split(&long, counted);
        assert_eq!(tokens.concat(), long.replace(' ', ""));
        assert_eq!(tokens[1..33], ["!"; 32]);
        assert_eq!(tokens[33..65], ["("; 32]);
        assert_eq!(tokens.len(), 1 + 32 + 32 + 1 + 100_000);
        assert!(
            chars.get() < 200 * long.len(),
            "{} lookups of {} characters",
            calls.get(),
            chars.get()
        );
    }
}
