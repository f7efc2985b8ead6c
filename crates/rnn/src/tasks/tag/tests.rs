//! Unit tests of the tagger: features, transfer, lexicon, CRF and Viterbi,
//! ensembles, gradients of the embeddings and the character encoder.

use super::data::Sentence;
use super::encode::Encoded;
use super::ensemble::Ensemble;
use super::features::*;
use super::lexicon::Lexicon;
use super::predict::decode;
use super::step::EMB;
use super::step::{Stepper, TrainOptions};
use super::tagger::{Tagger, TaggerOptions};
use crate::nn::model::{param_layout, ModelConfig};
use std::collections::BTreeMap;

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
    let mut tr = Stepper::new(&base, &TrainOptions::default(), 3).unwrap();
    for _ in 0..5 {
        tr.step(&mut base, &[&enc[0], &enc[1]]).unwrap();
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
    let mut tr = Stepper::new(&t, &TrainOptions::default(), 1).unwrap();
    let mut t = t;
    let (l0, n) = tr.step(&mut t, &[&e]).unwrap();
    for _ in 0..30 {
        tr.step(&mut t, &[&e]).unwrap();
    }
    let (l1, _) = tr.step(&mut t, &[&e]).unwrap();
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
        let mut tr = Stepper::new(&t, &topts, 5).unwrap();
        let refs: Vec<&Encoded> = enc.iter().collect();
        for _ in 0..150 {
            tr.step(&mut t, &refs).unwrap();
        }
        let test_enc: Vec<_> = test.iter().map(|x| t.encode(x)).collect();
        let tags: Vec<String> = t
            .predict(&test_enc, 8)
            .unwrap()
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
    assert_eq!(
        loaded.predict(&enc, 8).unwrap(),
        t.predict(&enc, 8).unwrap()
    );
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
    let (a, _) = with.logits(&[&enc]).unwrap();
    let (b, _) = plain.logits(&[&plain.encode(&ner[0])]).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
    // but the lexicon's weights train
    let mut tr = Stepper::new(&with, &TrainOptions::default(), 1).unwrap();
    tr.step(&mut with, &[&enc]).unwrap();
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
    assert_eq!(one.predict(&train, 8), a.predict(&enc, 8).unwrap());
    // two members: decoded from the mean of their probabilities
    let pa = a.probabilities(&enc, 8).unwrap();
    let pb = b
        .probabilities(&train.iter().map(|x| b.encode(x)).collect::<Vec<_>>(), 8)
        .unwrap();
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
    // lengths past the word's add nothing, and a huge one (a damaged model
    // file) returns at once: <ab> still has 2 trigrams and 1 four-gram
    let huge = NgramSpec {
        max_n: usize::MAX,
        ..g.clone()
    };
    assert_eq!(
        huge.buckets_of("ab"),
        NgramSpec { max_n: 5, ..g }.buckets_of("ab")
    );
    assert_eq!(huge.buckets_of("ab").len(), 3);
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
    let mut tr = Stepper::new(&tagger, &topts, 5).unwrap();
    tr.gradients(&tagger, &batch);
    let g = tr.g[EMB].clone();
    let ngram_from = tagger.ngram_off;
    let (mut checked, mut ngram_checked) = (0, 0);
    let eps = 1e-2f32;
    assert_eq!(g.len(), tagger.emb.len());
    for (i, &gi) in g.iter().enumerate() {
        if gi == 0.0 && i < ngram_from {
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
            (fd - gi).abs() <= 2e-3 + 2e-2 * gi.abs(),
            "entry {i} (n-grams from {ngram_from}): finite difference {fd}, gradient {gi}"
        );
        checked += 1;
        if i >= ngram_from && gi != 0.0 {
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
        let mut tr = Stepper::new(t, &topts, 9).unwrap();
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
    assert_eq!(
        back.logits(&[&enc_back[0]]).unwrap().0,
        tagger.logits(&[&enc[0]]).unwrap().0
    );
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
    let mut tr = Stepper::new(&t, &TrainOptions::default(), 4).unwrap();
    for _ in 0..5 {
        tr.step(&mut t, &[&enc[0], &enc[1]]).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("rnn-crf-{}", std::process::id()));
    t.save(&dir, BTreeMap::new()).unwrap();
    let mut ens = Ensemble::new(vec![Tagger::load(&dir).unwrap()]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(ens.predict(&train, 8), t.predict(&enc, 8).unwrap());
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

#[test]
fn iob1_training_tags_get_iob1_transitions() {
    // CoNLL-2003's own files: entities start with I-; B- only between two
    // adjacent entities of one type ("I-a B-a")
    let train = vec![
        s("w w w w", "I-a I-a O I-b"),
        s("w w w", "I-a B-a O"),
        s("w w", "O I-b"),
    ];
    let t = Tagger::new(&train, &TaggerOptions::default(), 0).unwrap();
    assert!(t.spec.iob1);
    let tags = &t.spec.tags; // B-a, I-a, I-b, O
    let allowed = t.transitions().unwrap();
    let id = |x: &str| tags.iter().position(|t| t == x).unwrap();
    let o = tags.len();
    let ok = |prev: Option<&str>, next: &str| allowed[prev.map_or(o, id) * o + id(next)];
    // an I- tag may start an entity anywhere: at the start, after O, after another type
    assert!(ok(None, "I-a") && ok(Some("O"), "I-a") && ok(Some("I-b"), "I-a"));
    // B-a only right after an a entity
    assert!(ok(Some("I-a"), "B-a") && ok(Some("B-a"), "B-a"));
    assert!(!ok(None, "B-a") && !ok(Some("O"), "B-a") && !ok(Some("I-b"), "B-a"));
    // BIO tags of the same set keep BIO's rule (I-a only after B-a or I-a)
    let bio = vec![s("w w w", "B-a I-a O"), s("w w", "O B-a"), s("w", "I-a")];
    let t = Tagger::new(&bio, &TaggerOptions::default(), 0).unwrap();
    assert!(!t.spec.iob1);
    let allowed = t.transitions().unwrap();
    let (b, i, oo) = (0, 1, 2); // B-a, I-a, O
    assert!(!allowed[oo * 3 + i] && !allowed[3 * 3 + i] && allowed[b * 3 + i]);
    assert!(allowed[oo * 3 + b] && allowed[3 * 3 + b]);
}
