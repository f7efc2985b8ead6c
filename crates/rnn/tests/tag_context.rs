//! Context tests for the tagger: the same word ("bank") takes one of two tags
//! depending on a cue word. When the cue comes BEFORE the word, a
//! unidirectional RNN solves it; when it comes AFTER, only a bidirectional
//! one can: the unidirectional tagger stays near chance on "bank".
//!
//! A CRF output layer reaches the future another way, through the tags: when
//! "bank" always shares the tag of the word right after it, a unidirectional
//! tagger with a CRF gets it from the learned transitions, one without stays
//! at chance.

use rand::{Rng, SeedableRng};
use rnn::nn::cell::{Activation, CellKind};
use rnn::tasks::tag::data::Sentence;
use rnn::tasks::tag::{length_batches, Encoded, Stepper, Tagger, TaggerOptions, TrainOptions};
use rnn::ModelConfig;

/// Sentences of filler words with "bank" and a cue ("river" → RIV, "money" →
/// FIN) separated by 0..=2 fillers, the cue before or after "bank".
fn make(n: usize, cue_after: bool, seed: u64) -> Vec<Sentence> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for _ in 0..n {
        let mut toks: Vec<(String, String)> = Vec::new();
        let fill =
            |toks: &mut Vec<(String, String)>, k: usize, rng: &mut rand_chacha::ChaCha8Rng| {
                for _ in 0..k {
                    toks.push((format!("w{}", rng.random_range(0..8)), "F".into()));
                }
            };
        let river = rng.random_bool(0.5);
        let cue = (
            if river { "river" } else { "money" }.to_string(),
            "C".to_string(),
        );
        let bank = (
            "bank".to_string(),
            if river { "RIV" } else { "FIN" }.to_string(),
        );
        let (k0, k1, k2) = (
            rng.random_range(0..3),
            rng.random_range(0..3),
            rng.random_range(0..3),
        );
        fill(&mut toks, k0, &mut rng);
        if cue_after {
            toks.push(bank);
            fill(&mut toks, k1, &mut rng);
            toks.push(cue);
        } else {
            toks.push(cue);
            fill(&mut toks, k1, &mut rng);
            toks.push(bank);
        }
        fill(&mut toks, k2, &mut rng);
        out.push(Sentence {
            tokens: toks.iter().map(|t| t.0.clone()).collect(),
            tags: toks.iter().map(|t| t.1.clone()).collect(),
            line: 1,
        });
    }
    out
}

/// Sentences of fillers (tag F) with "bank" right before "river" (both RIV)
/// or "money" (both FIN): "bank"'s tag is the next token's tag.
fn make_shared_tag(n: usize, seed: u64) -> Vec<Sentence> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let river = rng.random_bool(0.5);
            let tag = if river { "RIV" } else { "FIN" };
            let mut toks: Vec<(String, String)> = Vec::new();
            for _ in 0..rng.random_range(0..3) {
                toks.push((format!("w{}", rng.random_range(0..8)), "F".into()));
            }
            toks.push(("bank".into(), tag.into()));
            toks.push((if river { "river" } else { "money" }.into(), tag.into()));
            for _ in 0..rng.random_range(0..3) {
                toks.push((format!("w{}", rng.random_range(0..8)), "F".into()));
            }
            Sentence {
                tokens: toks.iter().map(|t| t.0.clone()).collect(),
                tags: toks.iter().map(|t| t.1.clone()).collect(),
                line: 1,
            }
        })
        .collect()
}

/// Trains a small tagger and returns its accuracy on "bank" in held-out sentences.
fn bank_accuracy(cue_after: bool, bidirectional: bool) -> f64 {
    let (train, test) = (make(300, cue_after, 1), make(200, cue_after, 2));
    accuracy_on_bank(&train, &test, bidirectional, false)
}

/// Trains a small (bi)directional Elman tagger, with or without a CRF, on
/// `train`; its accuracy on "bank" in `test`.
fn accuracy_on_bank(train: &[Sentence], test: &[Sentence], bidirectional: bool, crf: bool) -> f64 {
    let mut rnn = ModelConfig::elman(1, 16, 1);
    rnn.cell = CellKind::Elman {
        activation: Activation::Tanh,
    };
    rnn.bidirectional = bidirectional;
    let opts = TaggerOptions {
        word_dim: 8,
        min_count: 1,
        prefixes: vec![],
        suffixes: vec![],
        affix_dim: 0,
        shape_dim: 0,
        ngrams: None,
        crf,
        rnn,
        ..TaggerOptions::default()
    };
    let mut tagger = Tagger::new(train, &opts, 3).unwrap();
    let topts = TrainOptions {
        word_dropout: 0.0,
        ..TrainOptions::default()
    };
    let mut trainer = Stepper::new(&tagger, &topts, 3).unwrap();
    let enc: Vec<Encoded> = train.iter().map(|s| tagger.encode(s)).collect();
    let lengths: Vec<usize> = enc.iter().map(|e| e.len).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for _ in 0..25 {
        for b in length_batches(&lengths, 16, &mut rng) {
            let refs: Vec<&Encoded> = b.iter().map(|&i| &enc[i]).collect();
            trainer.step(&mut tagger, &refs).unwrap();
        }
    }
    let test_enc: Vec<Encoded> = test.iter().map(|s| tagger.encode(s)).collect();
    let pred = tagger.predict(&test_enc, 32).unwrap();
    let (mut right, mut n) = (0, 0);
    for (s, p) in test.iter().zip(&pred) {
        let names = tagger.tag_names(p);
        for (i, tok) in s.tokens.iter().enumerate() {
            if tok == "bank" {
                n += 1;
                right += usize::from(names[i] == s.tags[i]);
            }
        }
    }
    right as f64 / n as f64
}

#[test]
fn cue_before_unidirectional_solves_it() {
    let acc = bank_accuracy(false, false);
    assert!(acc > 0.95, "unidirectional, cue before: {acc}");
}

#[test]
fn cue_after_needs_bidirectional() {
    let uni = bank_accuracy(true, false);
    let bi = bank_accuracy(true, true);
    assert!(
        uni < 0.7,
        "unidirectional, cue after, should be near chance: {uni}"
    );
    assert!(bi > 0.95, "bidirectional, cue after: {bi}");
}

#[test]
fn crf_brings_the_next_tag_back_to_a_unidirectional_tagger() {
    let (train, test) = (make_shared_tag(300, 5), make_shared_tag(200, 6));
    let softmax = accuracy_on_bank(&train, &test, false, false);
    let crf = accuracy_on_bank(&train, &test, false, true);
    assert!(
        softmax < 0.7,
        "unidirectional softmax should be near chance: {softmax}"
    );
    assert!(crf > 0.95, "unidirectional CRF: {crf}");
}
