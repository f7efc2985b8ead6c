//! Tagging metrics: token accuracy and entity-level precision, recall and F1
//! with the semantics of the CoNLL shared tasks' `conlleval` script.
//!
//! An entity (chunk) is a maximal span of tags `B-X I-X ...` of one type `X`.
//! As in `conlleval`, an `I-X` after `O` or after a tag of another type starts
//! a new entity; `E-` and `S-` (IOBES) tags are understood too. A predicted
//! entity is correct only when its span and type both equal a gold entity's.

use serde::Serialize;
use std::collections::BTreeMap;

/// One entity: tokens `start..end` of a sentence, of type `kind`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Chunk {
    /// First token.
    pub start: usize,
    /// One past the last token.
    pub end: usize,
    /// The entity type (the tag after `B-`/`I-`).
    pub kind: String,
}

/// Splits a tag into its chunk prefix and type: `B-person` → `("B", "person")`,
/// `O` → `("O", "")`. A tag with no hyphen is its own prefix with no type.
fn split(tag: &str) -> (&str, &str) {
    match tag.split_once('-') {
        Some((p, t)) if matches!(p, "B" | "I" | "E" | "S") => (p, t),
        _ => (tag, ""),
    }
}

fn ends(prev: &str, tag: &str, prev_type: &str, ty: &str) -> bool {
    match (prev, tag) {
        ("B" | "I", "B" | "S" | "O") => true,
        ("E" | "S", _) => true,
        _ => prev != "O" && prev != "." && prev_type != ty,
    }
}

fn starts(prev: &str, tag: &str, prev_type: &str, ty: &str) -> bool {
    match (prev, tag) {
        (_, "B" | "S") => true,
        ("E" | "S" | "O", "E" | "I") => true,
        _ => tag != "O" && tag != "." && prev_type != ty,
    }
}

/// The entities of one sentence's tags, with `conlleval`'s rules.
///
/// ```
/// use rnn::tasks::tag::metrics::chunks;
/// // "I-loc" after O starts an entity; "I-per" after "I-loc" starts another.
/// let c = chunks(&["O", "I-loc", "I-loc", "I-per", "B-per", "O"]);
/// let spans: Vec<_> = c.iter().map(|c| (c.start, c.end, c.kind.as_str())).collect();
/// assert_eq!(spans, [(1, 3, "loc"), (3, 4, "per"), (4, 5, "per")]);
/// ```
pub fn chunks<S: AsRef<str>>(tags: &[S]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let (mut prev, mut prev_type) = ("O", "");
    let mut open: Option<(usize, String)> = None;
    for (i, t) in tags.iter().enumerate() {
        let (p, ty) = split(t.as_ref());
        // a tag without a chunk prefix (e.g. a POS tag) is outside every chunk
        let (p, ty) = if ty.is_empty() && p != "O" {
            ("O", "")
        } else {
            (p, ty)
        };
        if ends(prev, p, prev_type, ty) {
            if let Some((s, k)) = open.take() {
                out.push(Chunk {
                    start: s,
                    end: i,
                    kind: k,
                });
            }
        }
        if starts(prev, p, prev_type, ty) {
            open = Some((i, ty.to_string()));
        }
        (prev, prev_type) = (p, ty);
    }
    if let Some((s, k)) = open {
        out.push(Chunk {
            start: s,
            end: tags.len(),
            kind: k,
        });
    }
    out
}

/// Whether tagged sentences follow IOB1 (CoNLL-2003's own files: an entity
/// starts with `I-X`, and `B-X` only marks one that follows another of type
/// `X` directly) rather than BIO (every entity starts with `B-X`): more of
/// their entities start with `I-` than with `B-`. A few `I-X` after `O` in
/// a BIO file (annotation slips) do not make it IOB1.
///
/// ```
/// use rnn::tasks::tag::metrics::is_iob1;
/// let iob1 = [vec!["I-PER", "I-PER", "O", "I-LOC"], vec!["I-ORG", "B-ORG", "O"]];
/// assert!(is_iob1(iob1.iter().map(|s| s.as_slice())));
/// let bio = [vec!["B-PER", "I-PER", "O", "B-LOC"], vec!["O", "I-ORG"]];
/// assert!(!is_iob1(bio.iter().map(|s| s.as_slice())));
/// ```
pub fn is_iob1<'a, S: AsRef<str> + 'a>(sentences: impl IntoIterator<Item = &'a [S]>) -> bool {
    let (mut by_i, mut by_b) = (0usize, 0usize);
    for tags in sentences {
        for c in chunks(tags) {
            match split(tags[c.start].as_ref()).0 {
                "I" => by_i += 1,
                "B" => by_b += 1,
                _ => {}
            }
        }
    }
    by_i > by_b
}

/// Whether a tag set is a chunk (BIO/IOBES) tag set: every tag is `O` or has a
/// `B-`, `I-`, `E-` or `S-` prefix, and at least one has.
pub fn is_chunk_tagset<S: AsRef<str>>(tags: &[S]) -> bool {
    let mut any = false;
    for t in tags {
        match split(t.as_ref()) {
            ("O", _) => {}
            (_, "") => return false,
            _ => any = true,
        }
    }
    any
}

/// Gold, predicted and correct entity counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Entities in the gold tags.
    pub gold: usize,
    /// Entities in the predicted tags.
    pub predicted: usize,
    /// Predicted entities with exactly a gold entity's span and type.
    pub correct: usize,
}

/// Precision, recall and F1 as fractions in 0..1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Prf {
    /// correct / predicted (0 when nothing was predicted).
    pub precision: f64,
    /// correct / gold (0 when there is no gold entity).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

impl Counts {
    /// Precision, recall and F1 from the counts.
    pub fn prf(&self) -> Prf {
        let div = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (p, r) = (
            div(self.correct, self.predicted),
            div(self.correct, self.gold),
        );
        let f1 = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        Prf {
            precision: p,
            recall: r,
            f1,
        }
    }
}

/// Accumulated token and entity counts over a data set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Tokens seen.
    pub tokens: usize,
    /// Tokens whose predicted tag equals the gold tag.
    pub correct_tokens: usize,
    /// Entity counts per type.
    pub per_type: BTreeMap<String, Counts>,
}

impl Evaluation {
    /// Adds one sentence (gold and predicted tags, same length).
    pub fn add<S: AsRef<str>, P: AsRef<str>>(&mut self, gold: &[S], pred: &[P]) {
        debug_assert_eq!(gold.len(), pred.len());
        self.tokens += gold.len();
        self.correct_tokens += gold
            .iter()
            .zip(pred)
            .filter(|(g, p)| g.as_ref() == p.as_ref())
            .count();
        let (g, p) = (chunks(gold), chunks(pred));
        for c in &g {
            self.per_type.entry(c.kind.clone()).or_default().gold += 1;
        }
        for c in &p {
            let e = self.per_type.entry(c.kind.clone()).or_default();
            e.predicted += 1;
            if g.binary_search(c).is_ok() {
                e.correct += 1;
            }
        }
    }

    /// Token accuracy in 0..1 (0 for no tokens).
    pub fn accuracy(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.correct_tokens as f64 / self.tokens as f64
        }
    }

    /// Counts summed over all types.
    pub fn total(&self) -> Counts {
        self.per_type
            .values()
            .fold(Counts::default(), |a, c| Counts {
                gold: a.gold + c.gold,
                predicted: a.predicted + c.predicted,
                correct: a.correct + c.correct,
            })
    }

    /// Micro-averaged precision, recall and F1 over all entities.
    pub fn micro(&self) -> Prf {
        self.total().prf()
    }

    /// A `conlleval`-style report (percentages).
    pub fn report(&self) -> String {
        let t = self.total();
        let m = t.prf();
        let mut s = format!(
            "processed {} tokens with {} phrases; found: {} phrases; correct: {}.\n",
            self.tokens, t.gold, t.predicted, t.correct
        );
        s += &format!(
            "accuracy: {:6.2}%; precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}\n",
            100.0 * self.accuracy(),
            100.0 * m.precision,
            100.0 * m.recall,
            100.0 * m.f1
        );
        for (k, c) in &self.per_type {
            let p = c.prf();
            s += &format!(
                "{:>17}: precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}  {}\n",
                k,
                100.0 * p.precision,
                100.0 * p.recall,
                100.0 * p.f1,
                c.predicted
            );
        }
        s
    }

    /// The figures as JSON: `accuracy`, `precision`, `recall`, `f1` (fractions)
    /// and `per_type` (each with its counts and fractions).
    pub fn to_json(&self) -> serde_json::Value {
        let m = self.micro();
        let per_type: serde_json::Map<String, serde_json::Value> = self
            .per_type
            .iter()
            .map(|(k, c)| {
                let p = c.prf();
                (
                    k.clone(),
                    serde_json::json!({
                        "precision": p.precision, "recall": p.recall, "f1": p.f1,
                        "gold": c.gold, "predicted": c.predicted, "correct": c.correct,
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "tokens": self.tokens,
            "accuracy": self.accuracy(),
            "precision": m.precision,
            "recall": m.recall,
            "f1": m.f1,
            "per_type": per_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(tags: &[&str]) -> Vec<(usize, usize, String)> {
        chunks(tags)
            .into_iter()
            .map(|c| (c.start, c.end, c.kind))
            .collect()
    }

    #[test]
    fn chunk_rules() {
        assert_eq!(
            spans(&["B-a", "I-a", "O", "B-b"]),
            [(0, 2, "a".into()), (3, 4, "b".into())]
        );
        // I- after O starts an entity; I- of another type starts a new one
        assert_eq!(
            spans(&["I-a", "I-b", "I-b"]),
            [(0, 1, "a".into()), (1, 3, "b".into())]
        );
        // B- right after B- of the same type: two entities
        assert_eq!(
            spans(&["B-a", "B-a"]),
            [(0, 1, "a".into()), (1, 2, "a".into())]
        );
        // POS tags have no chunks
        assert!(spans(&["nn", "vb", "O"]).is_empty());
        assert!(is_chunk_tagset(&["O", "B-x", "I-x"]));
        assert!(!is_chunk_tagset(&["nn", "O"]));
        assert!(!is_chunk_tagset(&["O"]));
    }

    #[test]
    fn hand_counted_scores() {
        let mut e = Evaluation::default();
        // sentence 1, gold entities: per[0,2) loc[3,4)
        // predicted: per[0,1) (wrong span), loc[3,4) (correct)
        e.add(
            &["B-per", "I-per", "O", "B-loc"],
            &["B-per", "O", "O", "B-loc"],
        );
        // sentence 2, gold: org[1,3)   predicted: I-org after O starts org[1,3): correct;
        // plus a spurious per[4,5)
        e.add(
            &["O", "B-org", "I-org", "O", "O"],
            &["O", "I-org", "I-org", "O", "B-per"],
        );
        // gold 3, predicted 4, correct 2: P = 2/4, R = 2/3, F1 = 2PR/(P+R) = (2/3)/(7/6) = 4/7
        let m = e.micro();
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.f1 - 4.0 / 7.0).abs() < 1e-12);
        // tokens: s1 3 of 4 right (I-per→O wrong), s2 3 of 5 (B-org≠I-org, O≠B-per): 6/9
        assert_eq!((e.tokens, e.correct_tokens), (9, 6));
        // per type: per gold 1 pred 2 correct 0 → P 0, R 0, F1 0
        assert_eq!(
            e.per_type["per"],
            Counts {
                gold: 1,
                predicted: 2,
                correct: 0
            }
        );
        assert_eq!(e.per_type["loc"].prf().f1, 1.0);
        assert_eq!(
            e.per_type["org"],
            Counts {
                gold: 1,
                predicted: 1,
                correct: 1
            }
        );
        let j = e.to_json();
        assert!((j["f1"].as_f64().unwrap() - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(j["per_type"]["per"]["f1"].as_f64(), Some(0.0));
        assert!(e.report().contains("found: 4 phrases; correct: 2."));
    }

    #[test]
    fn unknown_gold_tag_counts_as_error() {
        let mut e = Evaluation::default();
        // a gold tag the model never saw ("B-new") can never be predicted
        e.add(&["B-new", "O"], &["O", "O"]);
        assert_eq!(e.correct_tokens, 1);
        assert_eq!(e.micro().recall, 0.0);
        assert_eq!(e.total().gold, 1);
    }
}
