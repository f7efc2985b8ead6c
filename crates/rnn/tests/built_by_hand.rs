//! Values a caller builds through public fields (a tagged sentence, an
//! encoded sentence, a dist buffer) are refused with an error naming the
//! field, never indexed past their end: each case panicked before the
//! library sweep of session 53 (docs/runs/qa-s53).

use rnn::tasks::tag::{evaluate::tagged_json, Sentence, Tagger, TaggerOptions};
use rnn::tasks::tag::{TrainConfig, Trainer};
use rnn::tasks::Budget;

fn s(words: &str, tags: &str, line: usize) -> Sentence {
    Sentence {
        tokens: words.split(' ').map(String::from).collect(),
        tags: tags
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        line,
    }
}

fn train() -> Vec<Sentence> {
    vec![
        s("I like eating apple", "O O O B-fruit", 1),
        s("The Apple is great", "O B-corp O O", 6),
    ]
}

#[test]
fn a_training_sentence_without_one_tag_per_token_is_refused_naming_it() {
    let out = std::env::temp_dir().join(format!("rnn-by-hand-{}", std::process::id()));
    let mut cfg = TrainConfig::default();
    cfg.tagger.rnn.hidden_size = 4;
    for (train_set, dev_set, want) in [
        // fewer tags than tokens in training: fit indexed past the tags
        (
            [train(), vec![s("a dog ran", "O", 11)]].concat(),
            train(),
            "train[2]: expected one tag per token (3 tokens), got 1 tags (the sentence of line 11)",
        ),
        // more tags than tokens in the dev set: scored on the first few
        (
            train(),
            [train(), vec![s("a dog", "O O O", 12)]].concat(),
            "dev[2]: expected one tag per token (2 tokens), got 3 tags (the sentence of line 12)",
        ),
    ] {
        let Err(e) = Trainer::new(cfg.clone(), train_set, dev_set, &out) else {
            panic!("{want}: not refused");
        };
        assert_eq!(e.to_string(), want);
    }
    // the same sets with one tag per token train
    let mut t = Trainer::new(cfg, train(), train(), &out).unwrap();
    t.fit(Budget::Epochs(1), &mut ()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn tagged_json_needs_one_tag_per_token() {
    let set = ["B-corp".to_string(), "I-corp".into(), "O".into()];
    let one = [s("Apple Park", "", 3)];
    let three = vec![vec!["B-corp".to_string(), "I-corp".into(), "I-corp".into()]];
    let e = tagged_json(&set, &one, &three).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tags[0]: expected one tag per token (2), got 3"
    );
    let e = tagged_json(&set, &one, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tags: expected one list per sentence (1), got 0"
    );
    assert!(tagged_json(&set, &one, &[three[0][..2].to_vec()]).is_ok());
}

#[test]
fn a_tagger_refuses_another_taggers_encoding() {
    let opts = TaggerOptions::default();
    let small = Tagger::new(&train()[..1], &opts, 1).unwrap();
    let big = Tagger::new(
        &[train(), vec![s("Bob and Ann saw Paris", "O O O O O", 9)]].concat(),
        &opts,
        1,
    )
    .unwrap();
    // big's encoding of words small never saw: ids past small's tables
    let foreign = big.encode(&s("Bob saw Paris", "", 1));
    let own = small.encode(&s("Bob saw Paris", "", 1));
    assert!(small.predict(std::slice::from_ref(&own), 4).is_ok());
    let e = small
        .predict(&[own.clone(), foreign.clone()], 4)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("data[1].ids: expected ids below this tagger's"),
        "{e}"
    );
    assert!(small
        .probabilities(std::slice::from_ref(&foreign), 4)
        .is_err());
    assert!(small
        .predict_with_loss(std::slice::from_ref(&foreign), 4)
        .is_err());
    assert!(small.logits(&[&foreign]).is_err());
    // a length that its ids do not have
    let mut long = own.clone();
    long.len += 1;
    let e = small.predict(&[long], 4).unwrap_err().to_string();
    assert!(e.starts_with("data[0].ids: expected "), "{e}");
    // tags of the wrong count or past the tag set
    let mut tags = own.clone();
    tags.tags = vec![0; own.len + 1];
    assert!(small
        .predict(&[tags.clone()], 4)
        .unwrap_err()
        .to_string()
        .starts_with("data[0].tags"));
    tags.tags = vec![99; own.len];
    assert!(small
        .predict(&[tags], 4)
        .unwrap_err()
        .to_string()
        .starts_with("data[0].tags"));
}
