//! Choosing the pooling and the frames per step on validation data: a data
//! set only one pooling can solve must get that pooling, settings given by
//! the user are never second-guessed; the reservoirs are added beside the
//! networks, their setting chosen by leave-one-out score.

use rnn::nn::pool::Pool;
use rnn::tasks::classify::{
    distance_probabilities, dtw, Classifier, Dataset, DtwWindow, Fill, ReservoirUse, Summary,
    TrainConfig, Trainer,
};
use rnn::tasks::Budget;
use std::path::{Path, PathBuf};

/// Trains `cfg` on `data` into `dir` for `epochs` epochs per network.
fn train(cfg: TrainConfig, data: Dataset, dir: &Path, epochs: usize) -> Summary {
    Trainer::from_data(cfg, data, None, dir)
        .unwrap()
        .fit(Budget::Epochs(epochs), &mut ())
        .unwrap()
}

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
        // the networks' candidates only (the reservoir's: the test below)
        reservoir: ReservoirUse::Off,
        ..TrainConfig::default()
    };
    assert_eq!(
        (cfg.pool, cfg.stride),
        (None, None),
        "both are chosen by default"
    );
    let summary = train(cfg, last_frame_decides(60, 32), &dir, 40);
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
        let summary = train(cfg, data.clone(), &dir, 2);
        assert!(summary.selection.is_empty());
        let model = Classifier::load(&dir).unwrap();
        assert_eq!((model.meta.pool, model.meta.stride), (pool, stride));
        assert!(model.meta.selection.is_empty());
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert!(!metrics.contains("candidate"), "{metrics}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn mix_weighs_the_networks_the_reservoirs_and_the_dtw_member() {
    // forward-only networks with max pooling cannot find the last frame
    // (above); the reservoirs read their last state both ways, so they can
    let dir = tmp("mix");
    let cfg = TrainConfig {
        hidden: 4,
        bidirectional: false,
        pool: Some(Pool::Max),
        ensemble: 2,
        seed: 4,
        reservoir_units: 40,
        ..TrainConfig::default()
    };
    assert_eq!(cfg.reservoir, ReservoirUse::Mix, "the default");
    let data = last_frame_decides(60, 32);
    let summary = train(cfg.clone(), data.clone(), &dir, 3);
    // the networks' selection is as without reservoirs: max pooling at 1 and 2
    let tried: Vec<(Pool, usize)> = summary
        .selection
        .iter()
        .map(|c| (c.pool, c.stride))
        .collect();
    assert_eq!(tried, [(Pool::Max, 1), (Pool::Max, 2)]);
    let model = Classifier::load(&dir).unwrap();
    let r = model.meta.reservoir.as_ref().expect("reservoirs added");
    assert_eq!(
        (
            model.members.len(),
            model.reservoirs.len(),
            model.readouts.len()
        ),
        (2, 2, 2)
    );
    // the reservoirs read one frame per step (32 frames, within 1024 steps)
    // whatever the networks chose (with this seed, 2 frames per step)
    assert_eq!((r.config.units, r.stride, model.meta.stride), (40, 1, 2));
    // each reservoir has its network's seed and validation split
    let seeds: Vec<u64> = r.readouts.iter().map(|o| o.seed).collect();
    assert_eq!(seeds, [cfg.member_seed(0), cfg.member_seed(1)]);
    assert!(
        r.readouts.iter().all(|o| o.val_accuracy.unwrap() > 0.9),
        "{r:?}"
    );
    // the 1-NN DTW member: its leave-one-out accuracy is plain 1-NN DTW's
    // over the training sequences, each left out in turn
    let near = model.meta.nearest.clone().expect("the member is added");
    let train_set = model.baseline_set();
    let tc = &model.meta.baseline_classes;
    let per_class = |q: &[f64], skip: Option<usize>| -> Vec<f64> {
        let mut best = vec![f64::INFINITY; 2];
        for (i, (s, &c)) in train_set.iter().zip(tc).enumerate() {
            if Some(i) != skip {
                best[c] = best[c].min(dtw(q, &s.values, 1, f64::INFINITY).unwrap());
            }
        }
        best
    };
    let hits = (0..train_set.len())
        .filter(|&i| {
            let d = per_class(&train_set[i].values, Some(i));
            let nearest = if d[1] < d[0] { 1 } else { 0 };
            nearest == tc[i]
        })
        .count();
    assert_eq!(near.loo_accuracy, hits as f64 / train_set.len() as f64);
    assert_eq!(near.band, None, "a small set: the full window");
    // the probabilities are the groups' weighted by their estimated
    // accuracies to the fourth power: the networks' mean validation
    // accuracy, the reservoirs' mean leave-one-out accuracy, the member's
    let fresh = {
        let mut d = last_frame_decides(120, 32);
        d.sequences.drain(..60);
        d
    };
    let alone = |mut c: Classifier| {
        c.meta.nearest = None;
        c
    };
    let nets = alone(Classifier {
        reservoirs: Vec::new(),
        readouts: Vec::new(),
        ..model.clone()
    });
    let res = alone(Classifier {
        members: Vec::new(),
        ..model.clone()
    });
    let (pn, pr) = (
        nets.probabilities(&fresh).unwrap(),
        res.probabilities(&fresh).unwrap(),
    );
    let pd: Vec<f64> = fresh
        .sequences
        .iter()
        .flat_map(|q| distance_probabilities(&per_class(&q.values, None), near.beta))
        .collect();
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let acc = [
        mean(
            model
                .meta
                .members
                .iter()
                .map(|m| m.val_accuracy.unwrap())
                .collect(),
        ),
        mean(r.readouts.iter().map(|o| o.loo_accuracy).collect()),
        near.loo_accuracy,
    ];
    let total: f64 = acc.iter().map(|a| a.powi(4)).sum();
    let w: Vec<f64> = acc.iter().map(|a| a.powi(4) / total).collect();
    let got: Vec<f64> = model.weights().iter().map(|g| g.1).collect();
    assert_eq!(
        model.weights().iter().map(|g| g.0).collect::<Vec<_>>(),
        ["networks", "reservoirs", "dtw"]
    );
    for (a, b) in got.iter().zip(&w) {
        assert!((a - b).abs() < 1e-12, "{got:?} against {w:?}");
    }
    let p = model.probabilities(&fresh).unwrap();
    for (i, m) in p.iter().enumerate() {
        let want = w[0] * pn[i] + w[1] * pr[i] + w[2] * pd[i];
        assert!((m - want).abs() < 1e-12, "{i}: {m} against {want}");
    }
    // `rnn eval`'s 1-NN DTW baseline reuses the member's distances (same
    // band): the same accuracy as plain 1-NN DTW over the training set in
    // training order (the first of equally near ones), and the ensemble's
    // accuracy is that of its probabilities' argmax
    let truth = fresh.class_ids(&model.meta.classes).unwrap();
    let brute_hits = fresh
        .sequences
        .iter()
        .zip(&truth)
        .filter(|(q, &y)| {
            let mut best = (f64::INFINITY, tc[0]);
            for (s, &c) in train_set.iter().zip(tc) {
                let d = dtw(&q.values, &s.values, 1, f64::INFINITY).unwrap();
                if d < best.0 {
                    best = (d, c);
                }
            }
            best.1 == y
        })
        .count();
    let report = model.evaluate(&fresh).unwrap();
    assert_eq!(report.nn_dtw_accuracy, brute_hits as f64 / 60.0);
    let argmax_hits = p
        .chunks_exact(2)
        .zip(&truth)
        .filter(|(row, &y)| usize::from(row[1] > row[0]) == y)
        .count();
    assert_eq!(report.scores.accuracy, argmax_hits as f64 / 60.0);
    // a band other than the member's: the baseline searches on its own,
    // as a classifier without the member does
    let banded = DtwWindow::Fraction(0.1);
    assert_eq!(
        model.evaluate_with(&fresh, banded).unwrap().nn_dtw_accuracy,
        alone(model.clone())
            .evaluate_with(&fresh, banded)
            .unwrap()
            .nn_dtw_accuracy
    );
    // without the member (files of earlier sessions), the plain mean
    let two = alone(model.clone());
    for ((m, a), b) in two.probabilities(&fresh).unwrap().iter().zip(&pn).zip(&pr) {
        assert!((m - (a + b) / 2.0).abs() < 1e-12);
    }
    // the reservoirs alone classify series they have not seen
    let right = res
        .labels(&fresh)
        .unwrap()
        .iter()
        .zip(&fresh.sequences)
        .filter(|(p, s)| Some(*p) == s.label.as_ref())
        .count();
    assert!(right >= 55, "{right} of 60");
    // the file holds what they need: saved again, the same probabilities
    let again = tmp("mix-again");
    model.save(&again).unwrap();
    let back = Classifier::load(&again).unwrap();
    assert_eq!(
        back.probabilities(&fresh).unwrap(),
        model.probabilities(&fresh).unwrap()
    );
    // a file whose reservoirs were lost is refused, naming the tensor
    let broken = Classifier {
        readouts: Vec::new(),
        ..model.clone()
    };
    assert!(broken.probabilities(&fresh).is_err());
    broken.save(&again).unwrap();
    let err = Classifier::load(&again).unwrap_err().to_string();
    assert!(err.contains("reservoir0.weight_ih_l0"), "{err}");
    // estimates and a beta out of range would weight or score silently
    // wrong: refused at load, naming the value
    type Edit = fn(&mut Classifier);
    let edits: [(Edit, &str); 4] = [
        (
            |c| c.meta.nearest.as_mut().unwrap().beta = -1.0,
            "nearest.beta -1",
        ),
        (
            |c| c.meta.nearest.as_mut().unwrap().loo_accuracy = 2.0,
            "nearest.loo_accuracy 2",
        ),
        (
            |c| c.meta.members[1].val_accuracy = Some(1.5),
            "members[1].val_accuracy 1.5",
        ),
        (
            |c| c.meta.reservoir.as_mut().unwrap().readouts[0].loo_accuracy = -0.5,
            "reservoir.readouts[0].loo_accuracy -0.5",
        ),
    ];
    for (edit, named) in edits {
        let mut bad = model.clone();
        edit(&mut bad);
        bad.save(&again).unwrap();
        let err = Classifier::load(&again).unwrap_err().to_string();
        assert!(err.contains(named), "{err}");
    }
    for d in [dir, again] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn reservoirs_only_train_no_network_and_off_adds_none() {
    let data = last_frame_decides(30, 12);
    let base = TrainConfig {
        hidden: 4,
        ensemble: 2,
        reservoir_units: 20,
        ..TrainConfig::default()
    };
    let dir = tmp("only");
    let cfg = TrainConfig {
        reservoir: ReservoirUse::Only,
        ..base.clone()
    };
    let summary = train(cfg, data.clone(), &dir, 2);
    assert_eq!(summary.steps, 0, "no optimizer step");
    assert!(summary.members.is_empty() && summary.selection.is_empty());
    let model = Classifier::load(&dir).unwrap();
    assert!(model.members.is_empty());
    assert_eq!(model.reservoirs.len(), 2);
    let p = model.probabilities(&data).unwrap();
    assert!(p.chunks_exact(2).all(|r| (r[0] + r[1] - 1.0).abs() < 1e-9));
    // nothing was trained through time: no gradient flow to show
    let err = model.diagnose(&data, "last.ts").unwrap_err().to_string();
    assert!(err.contains("reservoirs only"), "{err}");
    let report = model.evaluate(&data).unwrap();
    assert_eq!((report.networks, report.reservoirs), (0, 2));
    assert!(report.to_string().contains(", 2 reservoirs\n"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();

    let cfg = TrainConfig {
        reservoir: ReservoirUse::Off,
        ..base
    };
    let summary = train(cfg.clone(), data.clone(), &dir, 1);
    // 12 frames: one stride, three poolings, and no reservoir
    assert_eq!(summary.selection.len(), 3);
    let model = Classifier::load(&dir).unwrap();
    assert!(model.meta.reservoir.is_none() && model.reservoirs.is_empty());
    assert_eq!(model.members.len(), 2);
    // the networks and the DTW member
    let groups: Vec<&str> = model.weights().iter().map(|g| g.0).collect();
    assert_eq!(groups, ["networks", "dtw"]);
    std::fs::remove_dir_all(&dir).unwrap();
    // --dtw-member false: the networks alone
    let cfg = TrainConfig {
        dtw_member: false,
        ..cfg
    };
    train(cfg, data, &dir, 1);
    let model = Classifier::load(&dir).unwrap();
    assert!(model.meta.nearest.is_none());
    assert_eq!(model.weights(), [("networks", 1.0)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_reservoirs_keep_the_setting_with_the_best_leave_one_out_score() {
    let data = last_frame_decides(30, 12);
    let base = TrainConfig {
        ensemble: 2,
        reservoir_units: 20,
        reservoir: ReservoirUse::Only,
        ..TrainConfig::default()
    };
    let dir = tmp("grid");
    train(base.clone(), data.clone(), &dir, 1);
    let model = Classifier::load(&dir).unwrap();
    let r = model.meta.reservoir.as_ref().unwrap();
    // every setting of the grid tried, the kept one the best: highest mean
    // leave-one-out accuracy, then lowest cross-entropy
    assert_eq!(r.tried.len(), 18);
    let best = r
        .tried
        .iter()
        .fold(
            None::<&rnn::tasks::classify::ReservoirTrial>,
            |b, t| match b {
                Some(b) if b.loo_accuracy > t.loo_accuracy + 1e-12 => Some(b),
                Some(b) if b.loo_accuracy > t.loo_accuracy - 1e-12 && b.loo_loss <= t.loo_loss => {
                    Some(b)
                }
                _ => Some(t),
            },
        )
        .unwrap();
    assert_eq!(
        (r.config.leak, r.config.input_scale, r.config.differences),
        (best.leak, best.input_scale, best.differences)
    );
    // its figures are the kept readouts' means
    let mean = r.readouts.iter().map(|o| o.loo_accuracy).sum::<f64>() / 2.0;
    assert!((mean - best.loo_accuracy).abs() < 1e-12);
    let loss = r.readouts.iter().map(|o| o.loo_loss.unwrap()).sum::<f64>() / 2.0;
    assert!((loss - best.loo_loss).abs() < 1e-12);
    std::fs::remove_dir_all(&dir).unwrap();

    // settings given are not searched; differences double the inputs
    let fixed = TrainConfig {
        reservoir_leak: Some(0.5),
        reservoir_input_scale: Some(0.2),
        reservoir_differences: Some(true),
        ..base.clone()
    };
    train(fixed, data.clone(), &dir, 1);
    let model = Classifier::load(&dir).unwrap();
    let r = model.meta.reservoir.as_ref().unwrap();
    assert_eq!(r.tried.len(), 1);
    assert_eq!(
        (r.config.leak, r.config.input_scale, r.config.differences),
        (0.5, 0.2, true)
    );
    assert!(model
        .reservoirs
        .iter()
        .all(|x| x.width == 2 && x.differences));
    assert!(model.reservoirs[0].w_ih.iter().all(|v| v.abs() <= 0.2));
    let again = tmp("grid-again");
    model.save(&again).unwrap();
    assert_eq!(
        Classifier::load(&again)
            .unwrap()
            .probabilities(&data)
            .unwrap(),
        model.probabilities(&data).unwrap()
    );
    for d in [dir, again] {
        std::fs::remove_dir_all(d).unwrap();
    }
    // out-of-range settings are refused, naming the flag
    for (cfg, flag) in [
        (
            TrainConfig {
                reservoir_leak: Some(0.0),
                ..base.clone()
            },
            "--reservoir-leak 0",
        ),
        (
            TrainConfig {
                reservoir_leak: Some(1.5),
                ..base.clone()
            },
            "--reservoir-leak 1.5",
        ),
        (
            TrainConfig {
                reservoir_input_scale: Some(f64::NAN),
                ..base.clone()
            },
            "--reservoir-input-scale NaN",
        ),
    ] {
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(flag), "{err}");
    }
}
