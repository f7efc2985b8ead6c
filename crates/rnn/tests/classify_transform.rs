//! The asinh transform of heavy-tailed dimensions: when it is taken, that
//! the model stores and reapplies it, and that a model saved without it
//! still loads.

use rnn::tasks::classify::{
    heavy_tailed, Classifier, Dataset, Encoded, Fill, Norm, Normaliser, TrainConfig, Trainer,
    Transform,
};
use rnn::tasks::Budget;
use std::path::Path;

/// Counts: most series a few units, one series ending in three days of
/// 20000; a second dimension of evenly spread values.
fn counts() -> Dataset {
    let mut text = String::new();
    for i in 0..20 {
        let big = i == 7;
        let a: Vec<String> = (0..30)
            .map(|t| {
                let v = if big && t >= 27 {
                    20000
                } else {
                    (t * (i % 4)) % 5
                };
                v.to_string()
            })
            .collect();
        let b: Vec<String> = (0..30).map(|t| ((t + i) % 7).to_string()).collect();
        text += &format!("{}:{}:{}\n", a.join(","), b.join(","), i % 2);
    }
    Dataset::parse_ts(Path::new("counts.ts"), &text, Fill::Linear, None).unwrap()
}

#[test]
fn auto_transforms_only_the_heavy_tailed_dimension() {
    let d = counts();
    let column = |k: usize| -> Vec<f64> {
        d.sequences
            .iter()
            .flat_map(|s| s.values.iter().skip(k).step_by(2).copied())
            .collect()
    };
    assert!(heavy_tailed(&column(0)));
    assert!(!heavy_tailed(&column(1)));
    let auto = Normaliser::fit_with(Norm::Dimension, Transform::Auto, &d);
    assert_eq!(auto.transformed(), [0]);
    assert_eq!((auto.center[0], auto.unit[0]), (1.0, 1.0));
    let all = Normaliser::fit_with(Norm::Dimension, Transform::Asinh, &d);
    assert_eq!(all.transformed(), [0, 1]);
    let none = Normaliser::fit_with(Norm::Dimension, Transform::None, &d);
    assert_eq!(none, Normaliser::fit(Norm::Dimension, &d));
    assert!(none.transformed().is_empty() && none.center.is_empty());
    // the untouched dimension is z-scored the same either way
    let (x, y) = (
        auto.apply(&d.sequences[3]).unwrap(),
        none.apply(&d.sequences[3]).unwrap(),
    );
    for t in 0..30 {
        assert_eq!(x[2 * t + 1], y[2 * t + 1]);
    }
    // after the transform the small series spread over a good part of a unit
    let z = auto.apply(&d.sequences[3]).unwrap();
    let v: Vec<f64> = z.iter().step_by(2).copied().collect();
    let range =
        v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
    let raw: Vec<f64> = y.iter().step_by(2).copied().collect();
    let raw_range =
        raw.iter().cloned().fold(f64::MIN, f64::max) - raw.iter().cloned().fold(f64::MAX, f64::min);
    assert!(range > 0.5 && raw_range < 0.2, "{range} {raw_range}");
    // and the series of the data still z-score to mean 0, sd 1 overall
    let enc = Encoded::new(&d, &auto, 1).unwrap();
    let first: Vec<f64> = enc
        .inputs
        .iter()
        .flat_map(|s| s.iter().step_by(2).map(|&v| f64::from(v)))
        .collect();
    let m = first.iter().sum::<f64>() / first.len() as f64;
    assert!(m.abs() < 1e-6, "{m}");
}

#[test]
fn the_model_keeps_the_transform_and_old_models_load() {
    let d = counts();
    let dir = std::env::temp_dir().join(format!("rnn-classify-transform-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = TrainConfig {
        // the transform applies under the dimension z-score (the automatic
        // normalisation would take `scaled` on these squeezed counts)
        norm: Norm::Dimension,
        hidden: 4,
        ensemble: 1,
        pool: Some(rnn::nn::pool::Pool::Max),
        stride: Some(3),
        ..TrainConfig::default()
    };
    Trainer::from_data(cfg, d.clone(), None, &dir)
        .unwrap()
        .fit(Budget::Epochs(1), &mut ())
        .unwrap();
    let model = Classifier::load(&dir).unwrap();
    assert_eq!(model.meta.normaliser.transformed(), [0]);
    // the metadata is JSON: the moments come back within rounding
    let fitted = Normaliser::fit_with(Norm::Dimension, Transform::Auto, &d);
    let kept = &model.meta.normaliser;
    assert_eq!((&kept.center, &kept.unit), (&fitted.center, &fitted.unit));
    for (a, b) in kept
        .std
        .iter()
        .chain(&kept.mean)
        .zip(fitted.std.iter().chain(&fitted.mean))
    {
        assert!((a - b).abs() < 1e-12, "{a} {b}");
    }
    // metadata written before the transform existed has no center or unit
    let mut json: serde_json::Value = serde_json::from_str(&model.meta.to_json().unwrap()).unwrap();
    assert!(json["normaliser"].get("unit").is_some());
    json["normaliser"].as_object_mut().unwrap().remove("center");
    json["normaliser"].as_object_mut().unwrap().remove("unit");
    let old: rnn::tasks::classify::ClassifyMeta = serde_json::from_value(json).unwrap();
    assert!(old.normaliser.transformed().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
