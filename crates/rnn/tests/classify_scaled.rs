//! The scaled normalisation: each series z-scored by itself, with its level
//! and log scale as inputs of their own, taken by default when the dimension
//! z-score squeezes the typical series (amplitudes spanning orders of
//! magnitude, as PLAID's appliance currents).

use rnn::tasks::classify::{
    squeezed, Classifier, Dataset, Encoded, Fill, Norm, Normaliser, ReservoirUse, TrainConfig,
    Trainer, Transform,
};
use rnn::tasks::Budget;
use std::path::Path;

/// `n` series of 24 frames: class 0 a sine cycle, class 1 a square wave,
/// each times an amplitude from 1e-3 to 1e3 (ten to the power of a number
/// spread evenly over -3..3, unrelated to the class). `shift` moves the
/// amplitudes so a test set differs from the training set.
fn waves(n: usize, shift: f64) -> Dataset {
    let mut text = String::new();
    for i in 0..n {
        let class = i % 2;
        let amp = 10f64.powf(-3.0 + 6.0 * ((i as f64 * 0.618 + shift) % 1.0));
        let v: Vec<String> = (0..24)
            .map(|t| {
                let phase = t as f64 / 24.0 * std::f64::consts::TAU;
                let x = if class == 0 {
                    phase.sin()
                } else {
                    phase.sin().signum()
                };
                format!("{:.6e}", amp * x)
            })
            .collect();
        text += &format!("{}:{class}\n", v.join(","));
    }
    Dataset::parse_ts(Path::new("waves.ts"), &text, Fill::Linear, None).unwrap()
}

#[test]
fn auto_takes_scaled_only_for_squeezed_series() {
    let d = waves(40, 0.0);
    assert!(squeezed(&d));
    let n = Normaliser::fit_with(Norm::Auto, Transform::Auto, &d);
    assert_eq!(n.norm, Norm::Scaled);
    // the asinh transform is not taken as well: the scale input spans the range
    assert!(n.transformed().is_empty());
    // series of one common scale (each z-scored already, as the UCR sets) are not squeezed
    let mut text = String::new();
    for i in 0..10 {
        let v: Vec<String> = (0..8)
            .map(|t| format!("{}", ((t + i) % 4) as f64 - 1.5))
            .collect();
        text += &format!("{}:{}\n", v.join(","), i % 2);
    }
    let even = Dataset::parse_ts(Path::new("even.ts"), &text, Fill::Linear, None).unwrap();
    assert!(!squeezed(&even));
    assert_eq!(
        Normaliser::fit_with(Norm::Auto, Transform::Auto, &even).norm,
        Norm::Dimension
    );
}

#[test]
fn scaled_frames_are_shape_level_scale_and_compressed_value() {
    // Two series of two frames, one dimension: [1, 3] and [10, 30].
    // Dimension: mean (1 + 3 + 10 + 30) / 4 = 11, population variance
    // (100 + 64 + 1 + 361) / 4 = 131.5. Series stds 1 and 10, floor
    // 1e-3 * sqrt(131.5); log scales ln(1 + floor) and ln(10 + floor), whose
    // mean and population sd over the two series are their midpoint and half
    // their difference, so the scale inputs are -1 and +1. Shapes [-1, 1];
    // levels (2 - 11) / sqrt(131.5) and (20 - 11) / sqrt(131.5).
    // Compressed values: asinh_unit of [1, 3, 10, 30] is c = 10 (the upper
    // median) and u = 7 (the smallest of the nonzero |x - 10| = 9, 7, 20);
    // asinh((x - 10) / 7) = asinh(-9/7), asinh(-1), 0, asinh(20/7),
    // z-scored by their mean and population sd.
    let d = Dataset::parse_ts(Path::new("t.ts"), "1,3:a\n10,30:b\n", Fill::Linear, None).unwrap();
    let n = Normaliser::fit_with(Norm::Scaled, Transform::Auto, &d);
    let sd = 131.5f64.sqrt();
    assert_eq!(n.width(1), 4);
    let v = [
        (-9.0f64 / 7.0).asinh(),
        (-1.0f64).asinh(),
        0.0,
        (20.0f64 / 7.0).asinh(),
    ];
    let vm = v.iter().sum::<f64>() / 4.0;
    let vs = (v.iter().map(|x| (x - vm) * (x - vm)).sum::<f64>() / 4.0).sqrt();
    let z = |i: usize| (v[i] - vm) / vs;
    let a = n.apply(&d.sequences[0]).unwrap();
    let b = n.apply(&d.sequences[1]).unwrap();
    let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
    let want_a = [-1.0, -9.0 / sd, -1.0, z(0), 1.0, -9.0 / sd, -1.0, z(1)];
    let want_b = [-1.0, 9.0 / sd, 1.0, z(2), 1.0, 9.0 / sd, 1.0, z(3)];
    assert_eq!((a.len(), b.len()), (8, 8));
    for (got, want) in a.iter().zip(want_a).chain(b.iter().zip(want_b)) {
        assert!(close(*got, want), "{a:?} {b:?}");
    }
    // grouped two frames per step: one step of 8 inputs
    let enc = Encoded::new(&d, &n, 2).unwrap();
    assert_eq!((enc.width, enc.inputs[0].len()), (8, 8));
    // a normaliser saved before the compressed value (no value_* keys)
    // keeps three inputs per dimension: the first three of each frame
    let mut json = serde_json::to_value(&n).unwrap();
    for key in ["value_center", "value_unit", "value_mean", "value_std"] {
        assert!(json.as_object_mut().unwrap().remove(key).is_some(), "{key}");
    }
    let old: Normaliser = serde_json::from_value(json).unwrap();
    assert_eq!(old.width(1), 3);
    assert!(old.check(1).is_ok());
    let a3 = old.apply(&d.sequences[0]).unwrap();
    assert_eq!(a3.len(), 6);
    for (got, want) in a3.iter().zip([0, 1, 2, 4, 5, 6].map(|i| want_a[i])) {
        assert!(close(*got, want), "{a3:?}");
    }
}

#[test]
fn squeezed_series_are_learned_with_the_default_and_not_without() {
    // Sine against square waves, amplitudes over six orders of magnitude:
    // z-scored per dimension, all but the largest series are flat lines
    // under the input noise, so the network can only guess them; scaled,
    // every series keeps its shape.
    let (train, test) = (waves(60, 0.0), waves(40, 0.37));
    let accuracy = |norm: Norm| {
        let dir = std::env::temp_dir().join(format!(
            "rnn-classify-scaled-{}-{}",
            norm.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = TrainConfig {
            norm,
            hidden: 8,
            ensemble: 1,
            pool: Some(rnn::nn::pool::Pool::Max),
            stride: Some(2),
            seed: 1,
            // the network's inputs are what this is about: a reservoir of
            // the grid's saturating input scale can still tell the shapes
            // apart after the dimension's z-score (0.875 here), and the
            // 1-NN DTW member reads the values as they are (0.975 with it)
            reservoir: ReservoirUse::Off,
            dtw_member: false,
            ..TrainConfig::default()
        };
        Trainer::from_data(cfg, train.clone(), None, &dir)
            .unwrap()
            .fit(Budget::Epochs(60), &mut ())
            .unwrap();
        let model = Classifier::load(&dir).unwrap();
        assert_eq!(
            model.meta.normaliser.norm,
            if norm == Norm::Auto {
                Norm::Scaled
            } else {
                norm
            }
        );
        let acc = model.evaluate(&test).unwrap().scores.accuracy;
        std::fs::remove_dir_all(&dir).unwrap();
        acc
    };
    let (auto, dimension) = (accuracy(Norm::Auto), accuracy(Norm::Dimension));
    assert!(auto >= 0.95, "scaled: {auto}");
    assert!(dimension <= 0.8, "dimension z-score: {dimension}");
}

#[test]
fn a_model_whose_normaliser_does_not_fit_is_an_error_not_a_panic() {
    use rnn::io::model_file::ModelFile;
    let dir = std::env::temp_dir().join(format!("rnn-classify-scaled-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 1,
        pool: Some(rnn::nn::pool::Pool::Max),
        stride: Some(3),
        ..TrainConfig::default()
    };
    let data = waves(20, 0.0);
    Trainer::from_data(cfg, data.clone(), None, &dir)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    assert_eq!(
        Classifier::load(&dir).unwrap().meta.normaliser.norm,
        Norm::Scaled
    );
    // the same file with one edit of the classifier's metadata
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut mf = ModelFile::load(&dir).unwrap();
        let mut meta: serde_json::Value = serde_json::from_str(&mf.meta["classify"]).unwrap();
        edit(&mut meta);
        mf.meta.insert("classify".into(), meta.to_string());
        let bad = dir.join("bad");
        mf.save(&bad).unwrap();
        let err = Classifier::load(&bad).map(|_| ()).unwrap_err().to_string();
        std::fs::remove_dir_all(&bad).unwrap();
        err
    };
    let e = edited(&|m| {
        m["normaliser"].as_object_mut().unwrap().remove("scale_std");
    });
    assert!(e.contains("scale_std: 0 values for 1 dimension"), "{e}");
    let e = edited(&|m| {
        m["normaliser"].as_object_mut().unwrap().remove("value_std");
    });
    assert!(e.contains("value_std: 0 values for 1 dimension"), "{e}");
    let e = edited(&|m| m["normaliser"]["value_unit"] = serde_json::json!([0.0]));
    assert!(
        e.contains("value_unit: 0 is not a finite positive number"),
        "{e}"
    );
    let e = edited(&|m| m["normaliser"]["std"] = serde_json::json!([-1.0]));
    assert!(e.contains("std: -1 is not a finite positive number"), "{e}");
    let e = edited(&|m| m["normaliser"]["norm"] = serde_json::json!("dimension"));
    assert!(
        e.contains("1 values per frame") && e.contains("input size 12"),
        "{e}"
    );
    let e = edited(&|m| m["normaliser"]["norm"] = serde_json::json!("auto"));
    assert!(e.contains("auto is resolved when fitted"), "{e}");
    // a class list that disagrees with the network is named with its counts
    // (the message showed the value as "")
    let e = edited(&|m| m["classes"].as_array_mut().unwrap().push("extra".into()));
    assert!(
        e.contains("'classify' = \"3 classes, 20 baseline labels (largest 1) for 20 sequences\"")
            && e.contains("the network's 2 outputs"),
        "{e}"
    );
    // two classes of one name printed both as that name (session 53's
    // sweep, finding 20)
    let e = edited(&|m| {
        let first = m["classes"][0].clone();
        m["classes"][1] = first;
    });
    assert!(
        e.contains("a second time") && e.contains("distinct class labels"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
