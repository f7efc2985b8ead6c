//! The validation folds and the training-time augmentation of the
//! classifier: folds cover every sequence once and keep every class in
//! training; crops stay inside their sequence with the hand-derived set of
//! windows; a run with augmentation still learns the labels.

use rand::{Rng, SeedableRng};
use rnn::nn::pool::Pool;
use rnn::tasks::classify::{
    augment, fold_split, Classifier, Dataset, Encoded, Fill, Norm, Normaliser, Split, TrainConfig,
    Trainer, Window,
};
use rnn::tasks::Budget;
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn folds_validate_each_sequence_once_and_leave_every_class_in_training() {
    // classes of 2, 3, 7 and 1 sequences, interleaved
    let labels = [0, 1, 2, 2, 0, 1, 2, 2, 1, 2, 3, 2, 2];
    for seed in 0..20 {
        let mut seen = vec![0; labels.len()];
        for k in 0..5 {
            let (train, val) = fold_split(&labels, 5, k, seed);
            assert_eq!(train.len() + val.len(), labels.len());
            for &i in &val {
                seen[i] += 1;
                assert!(!train.contains(&i));
            }
            // every class keeps a sequence for training
            for c in 0..4 {
                assert!(
                    train.iter().any(|&i| labels[i] == c),
                    "seed {seed} fold {k} class {c}"
                );
            }
            // 12 validatable sequences over 5 folds: 3, 3, 2, 2, 2
            assert_eq!(val.len(), if k < 2 { 3 } else { 2 }, "seed {seed} fold {k}");
        }
        // the single sequence of class 3 is never held out, the others once
        let expect: Vec<usize> = labels.iter().map(|&c| usize::from(c != 3)).collect();
        assert_eq!(seen, expect, "seed {seed}");
    }
    assert_eq!(fold_split(&labels, 1, 0, 3), ((0..13).collect(), vec![]));
}

#[test]
fn the_config_splits_into_folds_of_one_over_val_frac() {
    let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
    let cfg = TrainConfig {
        val_frac: 0.34,
        split: Split::Folds,
        ..TrainConfig::default()
    };
    // 3 folds of 10; member 3 starts a second round
    let v: Vec<Vec<usize>> = (0..4).map(|k| cfg.split_for(&labels, k).1).collect();
    assert!(v.iter().all(|f| f.len() == 10));
    let first: BTreeSet<usize> = v[..3].concat().into_iter().collect();
    assert_eq!(first.len(), 30);
    assert_ne!(v[3], v[0]);
    let none = TrainConfig {
        val_frac: 0.0,
        ..cfg.clone()
    };
    assert!(none.split_for(&labels, 2).1.is_empty());
    let random = TrainConfig {
        split: Split::Random,
        ..cfg
    };
    assert_eq!(random.split_for(&labels, 0).1.len(), 9); // round(0.34 * 10) of each class
}

#[test]
fn crops_are_the_hand_derived_windows_and_no_augmentation_draws_nothing() {
    let cfg = TrainConfig {
        crop: 0.25,
        ..TrainConfig::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut seen = BTreeSet::new();
    for _ in 0..2000 {
        let (w, g) = augment(&cfg, 4, 9, &mut rng);
        assert_eq!((w.seq, g), (4, 1.0));
        seen.insert((w.start, w.len));
    }
    // 9 steps, crop 0.25: a cut of 0, 1 or 2 steps, split between the ends
    let expect: BTreeSet<(usize, usize)> = [(0, 9), (0, 8), (1, 8), (0, 7), (1, 7), (2, 7)]
        .into_iter()
        .collect();
    assert_eq!(seen, expect);
    // one step is never cut
    assert_eq!(augment(&cfg, 0, 1, &mut rng).0.len, 1);
    // without augmentation the random stream is left as it was
    let plain = TrainConfig::default();
    let (mut a, mut b) = (
        rand_chacha::ChaCha8Rng::seed_from_u64(5),
        rand_chacha::ChaCha8Rng::seed_from_u64(5),
    );
    assert_eq!(
        augment(&plain, 2, 50, &mut a),
        (
            Window {
                seq: 2,
                start: 0,
                len: 50
            },
            1.0
        )
    );
    assert_eq!(a.random::<u64>(), b.random::<u64>());
}

#[test]
fn gains_are_log_normal_with_the_given_spread() {
    let cfg = TrainConfig {
        scale: 0.2,
        ..TrainConfig::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let logs: Vec<f64> = (0..20000)
        .map(|_| f64::from(augment(&cfg, 0, 5, &mut rng).1).ln())
        .collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
    assert!(mean.abs() < 0.01, "{mean}");
    assert!((sd - 0.2).abs() < 0.01, "{sd}");
}

#[test]
fn a_cropped_window_batch_is_padded_with_its_own_length() {
    let d = Dataset::parse_ts(
        Path::new("w.ts"),
        "1,2,3,4,5,6:a\n7,8,9:b\n",
        Fill::Linear,
        None,
    )
    .unwrap();
    // two frames per step: [1 2][3 4][5 6] and [7 8][9 9]
    let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 2).unwrap();
    let b = enc
        .batch_windows(&[
            Window {
                seq: 1,
                start: 1,
                len: 1,
            },
            Window {
                seq: 0,
                start: 1,
                len: 2,
            },
        ])
        .unwrap();
    assert_eq!((b.steps, b.lengths.clone()), (2, vec![1, 2]));
    assert_eq!(b.x, [9.0, 9.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0]);
    // a window past the end is clamped to the sequence
    let c = enc
        .batch_windows(&[Window {
            seq: 1,
            start: 5,
            len: 4,
        }])
        .unwrap();
    assert_eq!((c.lengths.clone(), c.x), (vec![1], vec![9.0, 9.0]));
    // a window of a sequence the set does not have is named, not a panic
    let e = enc
        .batch_windows(&[Window {
            seq: 2,
            start: 0,
            len: 1,
        }])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "windows[0].seq: expected a sequence below 2, got 2"
    );
    // a normaliser fitted to frames of another size (it panicked)
    let ts = |text: &str| Dataset::parse_ts(Path::new("n.ts"), text, Fill::Linear, None).unwrap();
    let (one, two) = (ts("1,2,3:a\n4,5:b\n"), ts("1,2:3,4:a\n4,5:6,7:b\n"));
    let e = Encoded::new(&two, &Normaliser::fit(Norm::Dimension, &one), 1).unwrap_err();
    assert!(e.to_string().starts_with("norm: expected a normaliser for frames of 2 values, got mean: 1 value for 2 dimensions"), "{e}");
}

#[test]
fn training_with_crops_and_gains_keeps_the_labels() {
    // rising against falling series of varying lengths and offsets: a crop
    // or a gain keeps the direction, so the labels stay right
    let mut text = String::new();
    for i in 0..40 {
        let up = i % 3 != 0;
        let n = 12 + i % 7;
        let v: Vec<String> = (0..n)
            .map(|t| {
                let x = if up { t as f64 } else { (n - t) as f64 };
                format!("{:.2}", 0.5 * x + 0.3 * (i % 5) as f64)
            })
            .collect();
        text += &format!("{}:{}\n", v.join(","), if up { "up" } else { "down" });
    }
    let data = Dataset::parse_ts(Path::new("dir.ts"), &text, Fill::Linear, None).unwrap();
    let dir = std::env::temp_dir().join(format!("rnn-augment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = TrainConfig {
        hidden: 8,
        ensemble: 2,
        pool: Some(Pool::Mean),
        stride: Some(1),
        lr: 1e-2,
        crop: 0.3,
        scale: 0.3,
        ..TrainConfig::default()
    };
    let summary = Trainer::from_data(cfg, data.clone(), None, &dir)
        .unwrap()
        .fit(Budget::Epochs(60), &mut ())
        .unwrap();
    for m in &summary.members {
        assert!(m.val_accuracy.unwrap() >= 0.99, "{m:?}");
    }
    let r = Classifier::load(&dir).unwrap().evaluate(&data).unwrap();
    assert_eq!(r.scores.accuracy, 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}
