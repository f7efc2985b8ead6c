//! Using a trained tagger: loading one or an ensemble, tagging sentences,
//! and scoring predictions against gold tags (conlleval metrics).

use super::data::{parse_untagged_with, InputFormat, Sentence};
use super::ensemble::Ensemble;
use super::features::FeatureKind;
use super::metrics::{chunks, is_chunk_tagset, Evaluation};
use super::tagger::Tagger;
use super::tokenize::Tokenizer;
use crate::Result;
use std::collections::BTreeMap;
use std::path::Path;

/// Sentences tagged at a time when predicting.
pub const PREDICT_BATCH: usize = 64;

/// Tags in `data` that `tags` does not hold, with their token counts.
pub fn unknown_tags(tags: &[String], data: &[Sentence]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in data {
        for t in &s.tags {
            if !tags.contains(t) {
                *out.entry(t.clone()).or_default() += 1;
            }
        }
    }
    out
}

/// The warning about tags of `data_name` that the tagger does not know
/// (they count as errors), or `None` when there are none.
pub fn unknown_tags_warning(data_name: &str, unknown: &BTreeMap<String, usize>) -> Option<String> {
    if unknown.is_empty() {
        return None;
    }
    let list: Vec<String> = unknown.iter().map(|(t, n)| format!("{t} ({n})")).collect();
    Some(format!(
        "warning: {data_name}: tags not seen in training, counted as errors: {}",
        list.join(", ")
    ))
}

/// Scores predicted tag ids (of a model with tag set `tags`) against the
/// gold tags of `data`.
pub fn evaluate(tags: &[String], data: &[Sentence], pred: &[Vec<usize>]) -> Evaluation {
    let mut ev = Evaluation::default();
    for (s, p) in data.iter().zip(pred) {
        let names: Vec<&str> = p
            .iter()
            .map(|&i| tags.get(i).map_or("?", String::as_str))
            .collect();
        ev.add(&s.tags, &names);
    }
    ev
}

/// Tagged sentences as one JSON object, `rnn tag --json`'s: `tags` (the
/// model's tag set) and `sentences`, each with its input `line`, `tokens`,
/// `tags` and `entities` (`null` for a tag set without B-/I- chunks, such
/// as parts of speech): each entity's `type`, its tokens `start..end` and
/// its `text` (the tokens joined by spaces), by `conlleval`'s rules
/// ([`chunks`]).
///
/// ```
/// use rnn::tasks::tag::{evaluate::tagged_json, Sentence};
/// let s = Sentence { tokens: vec!["Apple".into(), "Park".into(), "opened".into()], tags: vec![], line: 3 };
/// let tags = vec![vec!["B-corp".to_string(), "I-corp".into(), "O".into()]];
/// let set = ["B-corp".to_string(), "I-corp".into(), "O".into()];
/// let j = tagged_json(&set, &[s.clone()], &tags).unwrap();
/// assert_eq!(j["sentences"][0]["entities"][0]["text"], "Apple Park");
/// assert_eq!(j["sentences"][0]["entities"][0]["end"], 2);
/// assert_eq!(j["sentences"][0]["line"], 3);
/// // one list of tags per sentence, one tag per token
/// let e = tagged_json(&set, &[s.clone(), s.clone()], &tags).unwrap_err();
/// assert_eq!(e.to_string(), "tags: expected one list per sentence (2), got 1");
/// let four = vec![vec!["O".to_string(); 4]];
/// let e = tagged_json(&set, &[s], &four).unwrap_err();
/// assert_eq!(e.to_string(), "tags[0]: expected one tag per token (3), got 4");
/// ```
///
/// # Errors
///
/// `tags` not one list per sentence, or a list not one tag per token.
pub fn tagged_json(
    tag_set: &[String],
    sentences: &[Sentence],
    tags: &[Vec<String>],
) -> crate::Result<serde_json::Value> {
    let wrong = |arg: String, expected: String, got: usize| crate::Error::Argument {
        arg,
        expected,
        got: got.to_string(),
    };
    if tags.len() != sentences.len() {
        let want = format!("one list per sentence ({})", sentences.len());
        return Err(wrong("tags".into(), want, tags.len()));
    }
    if let Some((i, (s, t))) = sentences
        .iter()
        .zip(tags)
        .enumerate()
        .find(|(_, (s, t))| t.len() != s.len())
    {
        let want = format!("one tag per token ({})", s.len());
        return Err(wrong(format!("tags[{i}]"), want, t.len()));
    }
    let chunked = is_chunk_tagset(tag_set);
    let rows: Vec<serde_json::Value> = sentences
        .iter()
        .zip(tags)
        .map(|(s, t)| {
            let entities = chunked.then(|| {
                chunks(t)
                    .into_iter()
                    .map(|c| {
                        serde_json::json!({"type": c.kind, "start": c.start, "end": c.end,
                            "text": s.tokens[c.start..c.end].join(" ")})
                    })
                    .collect::<Vec<_>>()
            });
            serde_json::json!({"line": s.line, "tokens": s.tokens, "tags": t, "entities": entities})
        })
        .collect();
    Ok(serde_json::json!({"tags": tag_set, "sentences": rows}))
}

impl Tagger {
    /// The tags of one sentence of tokens.
    pub fn tag<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<String> {
        let s = Sentence {
            tokens: tokens.iter().map(|t| t.as_ref().to_string()).collect(),
            tags: Vec::new(),
            line: 1,
        };
        let pred = self.predict_own(&[self.encode(&s)], 1);
        self.tag_names(&pred[0])
    }

    /// Whether the word vocabulary holds `token` (lowercased, as the word
    /// feature keys it): a word seen in training at least `min_count` times.
    pub fn knows_word(&self, token: &str) -> bool {
        let key = FeatureKind::Word.key(token);
        self.spec
            .features
            .iter()
            .zip(&self.index)
            .any(|(f, idx)| f.kind == FeatureKind::Word && idx.contains_key(&key))
    }
}

impl Ensemble {
    /// Loads one tagger per model directory (one directory: a single
    /// tagger); `entity_bias` must be finite.
    pub fn load<P: AsRef<Path>>(dirs: &[P], entity_bias: f64) -> Result<Self> {
        if !entity_bias.is_finite() {
            return Err(crate::Error::Value {
                what: "entity bias".into(),
                value: entity_bias.to_string(),
                expected: "a finite number".into(),
            });
        }
        let members = dirs
            .iter()
            .map(|d| Tagger::load(d.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut ens = Ensemble::new(members)?;
        ens.entity_bias = entity_bias;
        ens.names = dirs
            .iter()
            .map(|d| d.as_ref().display().to_string())
            .collect();
        Ok(ens)
    }

    /// Whether any member's word vocabulary holds `token` ([`Tagger::knows_word`]).
    pub fn knows_word(&self, token: &str) -> bool {
        self.members.iter().any(|m| m.knows_word(token))
    }

    /// The sentences of untagged `text` (read from `path`, named by errors)
    /// in `format`; plain text is split by `tokenizer`, guided by the
    /// members' word vocabularies ([`Ensemble::knows_word`]).
    ///
    /// ```
    /// use rnn::tasks::tag::{Ensemble, InputFormat, Sentence, Tagger, TaggerOptions, Tokenizer};
    /// let s = |w: &str, t: &str| Sentence {
    ///     tokens: w.split(' ').map(String::from).collect(),
    ///     tags: t.split(' ').map(String::from).collect(),
    ///     line: 1,
    /// };
    /// let train = vec![s("I met Anna .", "O O B-per O"), s("Anna , hi", "B-per O O")];
    /// let ens = Ensemble::new(vec![Tagger::new(&train, &TaggerOptions::default(), 1).unwrap()]).unwrap();
    /// let path = std::path::Path::new("<stdin>");
    /// let got = ens.read_untagged(path, "Hi, Anna.\n", InputFormat::Auto, Tokenizer::Vocabulary).unwrap();
    /// assert_eq!(got[0].tokens, ["Hi", ",", "Anna", "."]);
    /// let got = ens.read_untagged(path, "Hi, Anna.\n", InputFormat::Auto, Tokenizer::Whitespace).unwrap();
    /// assert_eq!(got[0].tokens, ["Hi,", "Anna."]);
    /// ```
    pub fn read_untagged(
        &self,
        path: &Path,
        text: &str,
        format: InputFormat,
        tokenizer: Tokenizer,
    ) -> Result<Vec<Sentence>> {
        parse_untagged_with(path, text, format.resolve(text), tokenizer, |w| {
            self.knows_word(w)
        })
    }

    /// The tag names of every sentence (decoded with `self.entity_bias`); a
    /// member whose scores are not finite (absurd weights) is an error naming it.
    pub fn tag(&self, sentences: &[Sentence]) -> Result<Vec<Vec<String>>> {
        let scores = self.checked_scores(sentences, PREDICT_BATCH)?;
        Ok(self
            .decode(&scores, self.entity_bias)
            .iter()
            .map(|p| self.members[0].tag_names(p))
            .collect())
    }

    /// Scores the ensemble on tagged `data` once per entity bias (the
    /// members run once): one [`Evaluation`] per bias, in order.
    pub fn evaluate(&self, data: &[Sentence], entity_biases: &[f64]) -> Result<Vec<Evaluation>> {
        if let Some(b) = entity_biases.iter().find(|b| !b.is_finite()) {
            return Err(crate::Error::Value {
                what: "entity bias".into(),
                value: b.to_string(),
                expected: "finite numbers".into(),
            });
        }
        let scores = self.checked_scores(data, PREDICT_BATCH)?;
        Ok(entity_biases
            .iter()
            .map(|&bias| evaluate(self.tags(), data, &self.decode(&scores, bias)))
            .collect())
    }

    /// Whether the tag set is a chunk (BIO) tag set, scored by entity F1
    /// (else by token accuracy).
    pub fn is_chunked(&self) -> bool {
        is_chunk_tagset(self.tags())
    }
}
