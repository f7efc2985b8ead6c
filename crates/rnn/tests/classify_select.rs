//! Choosing the pooling and the frames per step on validation data: a data
//! set only one pooling can solve must get that pooling, and settings given
//! by the user are never second-guessed.

use rnn::nn::pool::Pool;
use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
use rnn::tasks::Budget;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-select-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `n` series of `steps` values uniform in [-1, 1], except the last one:
/// +1 for class "pos", -1 for class "neg". Only the final step tells the
/// classes apart, and nothing marks it as final, so a forward-only network
/// that pools its outputs over time (max or mean) cannot find it; one read
/// from its final state (pool last) sees it as its latest input. (A
/// backward direction would read it first and could carry it to every
/// step, so the test reads forward only.)
fn last_frame_decides(n: usize, steps: usize) -> Dataset {
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 30) as f64 - 1.0
    };
    let mut text = String::new();
    for i in 0..n {
        let pos = i % 2 == 0;
        let mut v: Vec<String> = (0..steps - 1)
            .map(|_| format!("{:.4}", uniform()))
            .collect();
        v.push(if pos { "1".into() } else { "-1".into() });
        text += &format!("{}:{}\n", v.join(","), if pos { "pos" } else { "neg" });
    }
    Dataset::parse_ts(Path::new("last.ts"), &text, Fill::Linear, None).unwrap()
}

#[test]
fn the_selection_keeps_the_pooling_the_data_set_favours() {
    let dir = tmp("favour");
    let cfg = TrainConfig {
        hidden: 8,
        bidirectional: false,
        ensemble: 2,
        seed: 4,
        ..TrainConfig::default()
    };
    assert_eq!(
        (cfg.pool, cfg.stride),
        (None, None),
        "both are chosen by default"
    );
    let summary = Trainer::from_data(cfg, last_frame_decides(60, 32), None, &dir)
        .unwrap()
        .fit(Budget::Epochs(40), &mut ())
        .unwrap();
    // 3 poolings x 2 strides (32 frames: within 64 steps at 1, within 16 at 2)
    let tried: Vec<(Pool, usize)> = summary
        .selection
        .iter()
        .map(|c| (c.pool, c.stride))
        .collect();
    assert_eq!(
        tried,
        [
            (Pool::Max, 1),
            (Pool::Max, 2),
            (Pool::Last, 1),
            (Pool::Last, 2),
            (Pool::Mean, 1),
            (Pool::Mean, 2)
        ]
    );
    let model = Classifier::load(&dir).unwrap();
    assert_eq!(model.meta.pool, Pool::Last, "{:?}", summary.selection);
    assert_eq!(
        model.meta.selection, summary.selection,
        "saved with the model"
    );
    assert_eq!(model.members.len(), 2, "the chosen candidate's ensemble");
    let chosen = summary
        .selection
        .iter()
        .find(|c| (c.pool, c.stride) == (model.meta.pool, model.meta.stride))
        .unwrap();
    for c in &summary.selection {
        assert!(
            c.val_accuracy <= chosen.val_accuracy,
            "{c:?} beats {chosen:?}"
        );
        if c.pool != Pool::Last {
            assert!(
                c.val_accuracy + 0.15 < chosen.val_accuracy,
                "{c:?} is close to {chosen:?}"
            );
        }
    }
    assert!(chosen.val_accuracy > 0.9, "{chosen:?}");
    // the kept networks are the chosen candidate's: their validation scores are its scores
    let mean_acc = model
        .meta
        .members
        .iter()
        .map(|m| m.val_accuracy.unwrap())
        .sum::<f64>()
        / 2.0;
    assert!((mean_acc - chosen.val_accuracy).abs() < 1e-12);
    // every epoch of every candidate is in metrics.jsonl, tagged with its candidate
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    for k in 1..=6 {
        assert!(
            metrics.contains(&format!("\"candidate\":{k}")),
            "candidate {k}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn given_settings_or_no_validation_mean_no_selection() {
    let data = last_frame_decides(20, 8);
    let base = TrainConfig {
        hidden: 4,
        ensemble: 1,
        ..TrainConfig::default()
    };
    for (cfg, pool, stride) in [
        (
            TrainConfig {
                pool: Some(Pool::Mean),
                stride: Some(2),
                ..base.clone()
            },
            Pool::Mean,
            2,
        ),
        // without validation data nothing can be compared: max pooling,
        // within 64 steps
        (
            TrainConfig {
                val_frac: 0.0,
                ..base.clone()
            },
            Pool::Max,
            1,
        ),
    ] {
        let dir = tmp("given");
        let summary = Trainer::from_data(cfg, data.clone(), None, &dir)
            .unwrap()
            .fit(Budget::Epochs(2), &mut ())
            .unwrap();
        assert!(summary.selection.is_empty());
        let model = Classifier::load(&dir).unwrap();
        assert_eq!((model.meta.pool, model.meta.stride), (pool, stride));
        assert!(model.meta.selection.is_empty());
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert!(!metrics.contains("candidate"), "{metrics}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
