//! Reading tagged sentences (CoNLL columns) and untagged text.
//!
//! CoNLL: one token per line, the token in the first column and its tag in
//! the last (columns split on tabs, or on spaces when a line has no tab); a
//! blank or whitespace-only line ends a sentence (WNUT 2017's training file
//! uses a line holding a single tab); `-DOCSTART-` lines are skipped; CRLF line
//! ends are accepted.

use super::tokenize::Tokenizer;
use crate::{Error, Result};
use std::path::Path;

/// The longest sentence accepted in tagged data (training and evaluation
/// files), in tokens: a longer one is an error rather than a silent
/// truncation (the BPTT buffers grow with the sentence length, and a file
/// that lost its blank lines reads as one sentence). Text to tag has no
/// limit: a paragraph per line is tagged whole.
pub const MAX_SENTENCE_TOKENS: usize = 1000;

/// One sentence: its tokens and, for tagged data, one tag per token.
///
/// ```
/// use rnn::tasks::tag::data::{parse_conll, read_conll, Sentence};
/// use std::path::Path;
/// let text = "The\tO\nApple\tB-corp\n\nI\tO\n";
/// let s: Vec<Sentence> = parse_conll(Path::new("x.conll"), text, true).unwrap();
/// assert_eq!(s[0].tokens, ["The", "Apple"]);
/// assert_eq!((s[0].tags[1].as_str(), s[1].line), ("B-corp", 4));
/// // a file: the same, and errors name it
/// let path = std::env::temp_dir().join(format!("rnn-doc-conll-{}", std::process::id()));
/// std::fs::write(&path, text).unwrap();
/// assert_eq!(read_conll(&path).unwrap(), s);
/// std::fs::write(&path, "notag\n").unwrap();
/// assert!(read_conll(&path).unwrap_err().to_string().contains("has no tag column"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sentence {
    /// The tokens as written.
    pub tokens: Vec<String>,
    /// One tag per token (empty for untagged text).
    pub tags: Vec<String>,
    /// The 1-based line of the first token in its file.
    pub line: usize,
}

impl Sentence {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    /// Whether the sentence has no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = crate::io::read_file(path)?;
    crate::io::utf8_text(path, bytes)
}

fn check_len(path: &Path, s: &Sentence) -> Result<()> {
    if s.len() > MAX_SENTENCE_TOKENS {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: s.line,
            reason: format!(
                "sentence of {} tokens is longer than the limit of {MAX_SENTENCE_TOKENS} tokens",
                s.len()
            ),
        });
    }
    Ok(())
}

fn columns(line: &str) -> Vec<&str> {
    if line.contains('\t') {
        let mut cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        // a tab after the last column (a spreadsheet's export) adds no column
        while cols.len() > 1 && cols.last() == Some(&"") {
            cols.pop();
        }
        cols
    } else {
        line.split_whitespace().collect()
    }
}

/// Parses CoNLL text. With `tagged`, every token line needs a tag column
/// (at least two columns); without, only the first column is used.
pub fn parse_conll(path: &Path, text: &str, tagged: bool) -> Result<Vec<Sentence>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut cur = Sentence::default();
    let finish = |cur: &mut Sentence, out: &mut Vec<Sentence>| -> Result<()> {
        if !cur.is_empty() {
            if tagged {
                check_len(path, cur)?;
            }
            out.push(std::mem::take(cur));
        }
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            finish(&mut cur, &mut out)?;
            continue;
        }
        let cols = columns(line);
        if cols.first() == Some(&"-DOCSTART-") {
            finish(&mut cur, &mut out)?;
            continue;
        }
        let token = cols[0];
        if token.is_empty() {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                reason: "empty token in the first column".into(),
            });
        }
        if cur.is_empty() {
            cur.line = i + 1;
        }
        cur.tokens.push(token.to_string());
        if tagged {
            match cols.last() {
                Some(tag) if cols.len() >= 2 && !tag.is_empty() => cur.tags.push(tag.to_string()),
                _ => {
                    return Err(Error::Parse {
                        path: path.to_path_buf(),
                        line: i + 1,
                        reason: format!(
                            "token {token:?} has no tag column (expected token<TAB>tag)"
                        ),
                    })
                }
            }
        }
    }
    finish(&mut cur, &mut out)?;
    if out.is_empty() {
        return Err(Error::Data {
            path: path.to_path_buf(),
            reason: "no sentences (the file is empty or holds only blank lines)".into(),
        });
    }
    Ok(out)
}

/// Reads a tagged CoNLL file (see the module documentation).
pub fn read_conll(path: &Path) -> Result<Vec<Sentence>> {
    parse_conll(path, &read_text(path)?, true)
}

/// Parses plain text: one sentence per non-blank line, tokens split on whitespace.
pub fn parse_plain(path: &Path, text: &str) -> Result<Vec<Sentence>> {
    parse_plain_with(path, text, Tokenizer::Whitespace, |_| false)
}

/// Parses plain text, one sentence per non-blank line, into the tokens of
/// `tokenizer`; `known` says whether the tagger's vocabulary holds a token
/// (see [`Tokenizer`]).
pub fn parse_plain_with(
    path: &Path,
    text: &str,
    tokenizer: Tokenizer,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<Sentence>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let tokens: Vec<String> = tokenizer
            .split(raw, &known)
            .into_iter()
            .map(str::to_string)
            .collect();
        if tokens.is_empty() {
            continue;
        }
        let s = Sentence {
            tokens,
            tags: Vec::new(),
            line: i + 1,
        };
        out.push(s);
    }
    if out.is_empty() {
        return Err(Error::Data {
            path: path.to_path_buf(),
            reason: "no sentences (the input is empty or holds only blank lines)".into(),
        });
    }
    Ok(out)
}

/// Input formats of `rnn tag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// CoNLL columns; the first column is the token, any others are ignored.
    Conll,
    /// One sentence per line, whitespace-tokenised.
    Plain,
}

impl TextFormat {
    /// Guesses the format: CoNLL when most non-blank lines hold a tab, or,
    /// without tabs, when the file has CoNLL-2003's `-DOCSTART-` line or
    /// when its lines (three or more) all have the same number of columns
    /// separated by spaces, from 2 to 10 (`word POS chunk NER`); otherwise
    /// plain text (a tab pasted into a line of prose does not make the file
    /// CoNLL, and sentences of prose seldom all have one length).
    ///
    /// ```
    /// use rnn::tasks::tag::data::TextFormat;
    /// assert_eq!(TextFormat::detect("New\tB-loc\nYork\tI-loc\n\nhi\tO\n"), TextFormat::Conll);
    /// assert_eq!(TextFormat::detect("EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nBonn NNP I-NP I-LOC\n"), TextFormat::Conll);
    /// assert_eq!(TextFormat::detect("He went home\tlate .\nShe stayed .\nOK .\n"), TextFormat::Plain);
    /// assert_eq!(TextFormat::detect("Angela Merkel visited Paris .\nIt rained .\nWe left early today .\n"), TextFormat::Plain);
    /// ```
    pub fn detect(text: &str) -> Self {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tabbed = lines.iter().filter(|l| l.contains('\t')).count();
        if 2 * tabbed > lines.len() {
            return TextFormat::Conll;
        }
        let fields = |l: &&str| l.split_whitespace().count();
        let docstart = lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some("-DOCSTART-"));
        let uniform = lines.len() >= 3
            && (2..=10).contains(&fields(&lines[0]))
            && lines.iter().all(|l| fields(l) == fields(&lines[0]));
        if tabbed == 0 && (docstart || uniform) {
            TextFormat::Conll
        } else {
            TextFormat::Plain
        }
    }
}

/// The input format a caller asks for: [`InputFormat::Auto`] guesses it
/// from the text ([`TextFormat::detect`]). `rnn tag --format` takes these
/// values (`text` is accepted for `plain`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum InputFormat {
    /// CoNLL if most non-blank lines have a tab or the lines are columns
    /// separated by spaces ([`TextFormat::detect`]), else plain text.
    #[default]
    Auto,
    /// CoNLL columns ([`TextFormat::Conll`]).
    Conll,
    /// One sentence per line ([`TextFormat::Plain`]).
    #[cfg_attr(feature = "clap", value(alias = "text"))]
    Plain,
}

impl InputFormat {
    /// The format of `text`: the chosen one, or the detected one for `Auto`.
    ///
    /// ```
    /// use rnn::tasks::tag::data::{InputFormat, TextFormat};
    /// assert_eq!(InputFormat::Auto.resolve("New\tB-loc\n"), TextFormat::Conll);
    /// assert_eq!(InputFormat::Auto.resolve("I like apple\n"), TextFormat::Plain);
    /// assert_eq!(InputFormat::Plain.resolve("a\tb\n"), TextFormat::Plain);
    /// ```
    pub fn resolve(self, text: &str) -> TextFormat {
        match self {
            InputFormat::Auto => TextFormat::detect(text),
            InputFormat::Conll => TextFormat::Conll,
            InputFormat::Plain => TextFormat::Plain,
        }
    }
}

/// Reads text to tag from `path`, or from standard input when `path` is
/// `None` or `-`; returns the name to report it by (`<stdin>` or the path)
/// and the text.
pub fn read_input(path: Option<&Path>) -> Result<(std::path::PathBuf, String)> {
    use std::io::Read;
    match path {
        Some(p) if p != Path::new("-") => {
            let bytes = crate::io::read_file(p)?;
            Ok((p.to_path_buf(), crate::io::utf8_text(p, bytes)?))
        }
        _ => {
            let stdin = std::path::PathBuf::from("<stdin>");
            let mut s = String::new();
            match std::io::stdin().read_to_string(&mut s) {
                Ok(_) => Ok((stdin, s)),
                Err(e) => Err(Error::Data {
                    path: stdin,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
    }
}

/// Parses untagged input for tagging in the given format (plain text split
/// on whitespace only).
pub fn parse_untagged(path: &Path, text: &str, format: TextFormat) -> Result<Vec<Sentence>> {
    parse_untagged_with(path, text, format, Tokenizer::Whitespace, |_| false)
}

/// Parses untagged input in the given format; plain text is split by
/// `tokenizer` guided by `known` (CoNLL input is tokenised already).
pub fn parse_untagged_with(
    path: &Path,
    text: &str,
    format: TextFormat,
    tokenizer: Tokenizer,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<Sentence>> {
    match format {
        TextFormat::Conll => parse_conll(path, text, false),
        TextFormat::Plain => parse_plain_with(path, text, tokenizer, known),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.conll")
    }

    #[test]
    fn conll_separators_docstart_crlf() {
        let text = "-DOCSTART-\tO\r\n\r\nThe\tat\r\ndog\tnn\r\n\t\r\nbarks\tx\ty\tvbz\r\n  \n\n";
        let s = parse_conll(p(), text, true).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].tokens, ["The", "dog"]);
        assert_eq!(s[0].tags, ["at", "nn"]);
        assert_eq!(s[0].line, 3);
        assert_eq!(s[1].tokens, ["barks"]);
        assert_eq!(s[1].tags, ["vbz"], "the tag is the last column");
    }

    #[test]
    fn a_tab_after_the_tag_adds_no_column() {
        // a spreadsheet's export: "Li<TAB>B-PER<TAB>"
        let s = parse_conll(p(), "Li\tB-PER\t\nWei\tI-PER\t\t\n\n", true).unwrap();
        assert_eq!(s[0].tags, ["B-PER", "I-PER"]);
        // an empty tag column between tabs is still missing
        let e = parse_conll(p(), "Li\t\t\n", true).unwrap_err().to_string();
        assert!(e.contains("no tag"), "{e}");
    }

    #[test]
    fn space_separated_conll_is_detected_as_conll() {
        // CoNLL-2003's layout: word POS chunk NER, separated by spaces
        let conll = "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\n";
        assert_eq!(TextFormat::detect(conll), TextFormat::Conll);
        let two_cols = "Angela B-PER\nMerkel I-PER\nvisited O\n\nParis B-LOC\n";
        assert_eq!(TextFormat::detect(two_cols), TextFormat::Conll);
        let s = parse_conll(p(), two_cols, false).unwrap();
        assert_eq!(s[0].tokens, ["Angela", "Merkel", "visited"]);
        // prose: lines of different lengths, or too few lines to tell
        assert_eq!(
            TextFormat::detect("I like apple pie\nThe Apple is big\nOK then\n"),
            TextFormat::Plain
        );
        assert_eq!(
            TextFormat::detect("Angela Merkel\nvisited Paris\n"),
            TextFormat::Plain
        );
    }

    #[test]
    fn missing_tag_is_a_parse_error_with_line() {
        let err = parse_conll(p(), "a\tx\nb\n", true).unwrap_err();
        match err {
            Error::Parse { line, reason, .. } => {
                assert_eq!(line, 2);
                assert!(reason.contains("no tag"), "{reason}");
            }
            e => panic!("{e}"),
        }
        // untagged reading only needs the token
        assert_eq!(
            parse_conll(p(), "a\tx\nb\n", false).unwrap()[0].tokens,
            ["a", "b"]
        );
    }

    #[test]
    fn empty_and_too_long() {
        assert!(matches!(
            parse_conll(p(), "\n \n\t\n", true),
            Err(Error::Data { .. })
        ));
        let long: String = (0..MAX_SENTENCE_TOKENS + 1)
            .map(|i| format!("w{i}\tx\n"))
            .collect();
        let e = parse_conll(p(), &long, true).unwrap_err().to_string();
        assert!(e.contains("limit of 1000"), "{e}");
        // text to tag (untagged) has no limit: a paragraph per line
        assert_eq!(parse_conll(p(), &long, false).unwrap()[0].len(), 1001);
        let line: String = (0..5000).map(|i| format!("w{i} ")).collect();
        assert_eq!(parse_plain(p(), &line).unwrap()[0].len(), 5000);
        assert!(matches!(
            parse_plain(p(), "\n  \n"),
            Err(Error::Data { .. })
        ));
    }

    #[test]
    fn plain_and_detection() {
        let s = parse_plain(p(), "I like  apple\n\nThe Apple is\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].tokens, ["The", "Apple", "is"]);
        assert_eq!(TextFormat::detect("a b c\n"), TextFormat::Plain);
        assert_eq!(TextFormat::detect("a\tO\n"), TextFormat::Conll);
    }
}
