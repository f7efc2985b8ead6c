//! Data-parallel tagging ([`Stepper::step_on`]): the ranks' shares of a
//! batch, each with the whole batch's dropout draws, sum to one process's
//! loss and gradients (every parameter group: network, embeddings, CRF,
//! character encoder).

use super::data::Sentence;
use super::encode::Encoded;
use super::step::{Stepper, TrainOptions};
use super::tagger::{Tagger, TaggerOptions};
use super::NgramSpec;
use crate::dist::{share, Local};
use crate::nn::cell::CellKind;
use crate::nn::model::ModelConfig;

fn s(words: &str, tags: &str) -> Sentence {
    Sentence {
        tokens: words.split(' ').map(String::from).collect(),
        tags: tags.split(' ').map(String::from).collect(),
        line: 1,
    }
}

/// Sentences of unequal lengths (the batch is padded to the longest).
fn sentences() -> Vec<Sentence> {
    vec![
        s("I saw Bob in Paris today", "O O B-per O B-loc O"),
        s("Ann Lee ran", "B-per I-per O"),
        s("we met Ann", "O O B-per"),
        s("Paris is big and old", "B-loc O O O O"),
        s("Bob", "B-per"),
    ]
}

/// The largest difference of two buffers against the first's largest magnitude.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    d / scale.max(f32::MIN_POSITIVE)
}

fn check_shares(opts: &TaggerOptions, topts: &TrainOptions) {
    let train = sentences();
    let tagger = Tagger::new(&train, opts, 4).unwrap();
    let enc: Vec<Encoded> = train.iter().map(|x| tagger.encode(x)).collect();
    let batch: Vec<&Encoded> = enc.iter().collect();
    let mut one = Stepper::new(&tagger, topts, 11).unwrap();
    let (loss, tokens) = one.gradients(&tagger, &batch);
    assert_eq!(tokens, 18);
    for n in [2, 3] {
        let (mut summed, mut loss_sum) = (one.g.clone(), 0.0f32);
        summed.iter_mut().for_each(|g| g.fill(0.0));
        for rank in Local::group(n) {
            // each rank's stepper starts from the same seed, as in a job
            let mut tr = Stepper::new(&tagger, topts, 11).unwrap();
            let (l, t) = tr.gradients_part(&tagger, &batch, share(&rank, batch.len()));
            assert_eq!(t, tokens, "the mean counts the whole batch's tokens");
            loss_sum += l;
            for (acc, g) in summed.iter_mut().zip(&tr.g) {
                acc.iter_mut().zip(g).for_each(|(a, v)| *a += v);
            }
        }
        assert!(
            (loss - loss_sum).abs() <= 1e-6 * loss,
            "N={n}: loss {loss} vs {loss_sum}"
        );
        for (group, (whole, parts)) in one.g.iter().zip(&summed).enumerate() {
            if whole.is_empty() {
                continue;
            }
            assert!(
                whole.iter().any(|g| g.abs() > 1e-4),
                "group {group}: a gradient to compare"
            );
            let d = rel_diff(whole, parts);
            assert!(
                d <= 1e-5,
                "N={n}, group {group}: gradients differ by {d} of their scale"
            );
        }
    }
}

#[test]
fn shares_with_word_and_input_dropout_sum_to_the_whole_batch() {
    let mut rnn = ModelConfig::elman(1, 5, 1);
    rnn.cell = CellKind::Lstm;
    rnn.bidirectional = true;
    rnn.num_layers = 2;
    let opts = TaggerOptions {
        word_dim: 3,
        affix_dim: 2,
        shape_dim: 2,
        ngrams: Some(NgramSpec {
            dim: 3,
            buckets: 11,
            min_n: 2,
            max_n: 3,
        }),
        rnn,
        ..TaggerOptions::default()
    };
    let topts = TrainOptions {
        word_dropout: 2.0, // many words dropped: the draws matter
        input_dropout: 0.3,
        ..TrainOptions::default()
    };
    check_shares(&opts, &topts);
}

#[test]
fn shares_with_a_crf_and_the_character_encoder_sum_to_the_whole_batch() {
    let mut rnn = ModelConfig::elman(1, 5, 1);
    rnn.cell = CellKind::Gru;
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
    let topts = TrainOptions {
        word_dropout: 1.0,
        input_dropout: 0.25,
        ..TrainOptions::default()
    };
    check_shares(&opts, &topts);
}
