//! The classifier's use of the cores and its default budget: networks
//! trained at once (`jobs`) give the model and the metrics of networks
//! trained one after the other, byte for byte; the default budget leaves a
//! small training set alone and cuts a large one down to what its limits
//! allow, from the data's size alone.

use rnn::tasks::classify::budget::{
    ReservoirPlan, DEFAULT_EPOCHS, NETWORK_SECONDS, SELECT_MIN_EPOCHS,
};
use rnn::tasks::classify::{Dataset, Fill, ReservoirUse, TrainConfig, Trainer};
use rnn::tasks::Budget;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-budget-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `n` series of `frames` values: class "up" drifts upwards, "down"
/// downwards, both under uniform noise in [-1, 1] (a fixed generator).
fn drifting(n: usize, frames: usize) -> Dataset {
    let mut state = 0x00b0_d9e7_u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 30) as f64 - 1.0
    };
    let mut text = String::new();
    for i in 0..n {
        let up = i % 2 == 0;
        let v: Vec<String> = (0..frames)
            .map(|t| {
                let drift = 0.05 * t as f64 * if up { 1.0 } else { -1.0 };
                format!("{:.4}", drift + uniform())
            })
            .collect();
        text += &format!("{}:{}\n", v.join(","), if up { "up" } else { "down" });
    }
    Dataset::parse_ts(Path::new("drift.ts"), &text, Fill::Linear, None).unwrap()
}

/// The rows of `dir/metrics.jsonl` without their clock readings.
fn rows_without_clock(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

#[test]
fn networks_trained_at_once_give_the_model_of_one_after_the_other() {
    let cfg = |jobs| TrainConfig {
        hidden: 6,
        ensemble: 3,
        seed: 11,
        // the pooling and frames per step chosen too: 6 candidates of 3
        // networks each, and the reservoirs beside them
        reservoir: ReservoirUse::Mix,
        reservoir_units: 20,
        jobs,
        ..TrainConfig::default()
    };
    let (one, three) = (tmp("jobs1"), tmp("jobs3"));
    let mut lines = Vec::new();
    for (dir, jobs) in [(&one, 1), (&three, 3)] {
        let mut said = Vec::new();
        let mut progress = |e: &rnn::tasks::Event| {
            if let rnn::tasks::Event::Message(m) = e {
                said.push(m.replace(&dir.display().to_string(), "DIR"));
            }
        };
        let s = Trainer::from_data(cfg(jobs), drifting(24, 20), None, dir)
            .unwrap()
            .fit(Budget::Epochs(4), &mut progress)
            .unwrap();
        assert_eq!(s.members.len(), 3);
        assert_eq!(s.selection.len(), 6, "every candidate was trained");
        lines.push(said);
    }
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(read(&one) == read(&three), "the model files differ");
    let (a, b) = (rows_without_clock(&one), rows_without_clock(&three));
    assert_eq!(a.len(), 6 * 3 * 4, "a row per epoch of every network");
    assert_eq!(a, b);
    // the steps count on from one network to the next, as one after the other
    let steps: Vec<u64> = a.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    // the same lines, in the same order
    assert_eq!(lines[0], lines[1]);
    for d in [one, three] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_default_budget_leaves_a_small_set_alone() {
    let cfg = TrainConfig {
        hidden: 6,
        ensemble: 2,
        seed: 3,
        reservoir_units: 20,
        patience: 3,
        ..TrainConfig::default()
    };
    let data = drifting(30, 24);
    let trainer = Trainer::from_data(cfg.clone(), data.clone(), None, &tmp("unused")).unwrap();
    let plan = trainer.default_plan().unwrap();
    assert_eq!(plan.networks.budget, Budget::Epochs(DEFAULT_EPOCHS));
    assert_eq!(plan.networks.candidates, 6);
    assert_eq!(plan.networks.note, None);
    assert_eq!(plan.reservoirs, ReservoirPlan::Grid);
    // and the model is that of an explicit budget of DEFAULT_EPOCHS
    let (auto, given) = (tmp("auto"), tmp("given"));
    Trainer::from_data(cfg.clone(), data.clone(), None, &auto)
        .unwrap()
        .fit_default(&mut ())
        .unwrap();
    Trainer::from_data(cfg, data, None, &given)
        .unwrap()
        .fit(Budget::Epochs(DEFAULT_EPOCHS), &mut ())
        .unwrap();
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(read(&auto) == read(&given));
    for d in [auto, given] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_default_budget_cuts_a_large_set_down_to_its_limits() {
    // 3,000 series of 400 frames: an epoch of a default network (a
    // bidirectional GRU of 64 units over 64 steps) is far more than a small
    // set's whole training
    let trainer = Trainer::from_data(
        TrainConfig::default(),
        drifting(3000, 400),
        None,
        &tmp("large"),
    )
    .unwrap();
    let plan = trainer.default_plan().unwrap();
    let n = &plan.networks;
    // too few epochs left for 6 candidates: the first one alone
    assert_eq!(n.candidates, 1, "{n:?}");
    let Budget::Epochs(e) = n.budget else {
        panic!("an epoch budget expected: {n:?}")
    };
    // every network at its limit stays within the limit, and one more
    // epoch each would not
    let stride = trainer.meta().stride;
    let epoch = trainer.epoch_seconds(stride).unwrap();
    let k = TrainConfig::default().ensemble as f64;
    assert!(
        k * e as f64 * epoch <= NETWORK_SECONDS,
        "{e} epochs of {epoch} s"
    );
    assert!(k * (e + 1) as f64 * epoch > NETWORK_SECONDS);
    // a stride past any network: named as the stride, not as an input size
    let err = trainer.epoch_seconds(usize::MAX).unwrap_err().to_string();
    assert!(
        err.starts_with("stride: expected a stride the network can be built with"),
        "{err}"
    );
    assert!(e < DEFAULT_EPOCHS);
    let note = n.note.as_deref().unwrap_or("");
    assert!(
        note.contains("pool and frames per step are not chosen")
            && note.contains(&format!("at most {e} epochs")),
        "{note}"
    );
    // 90 reservoirs over 1.2 million steps do not fit: fewer or none
    assert!(
        !matches!(plan.reservoirs, ReservoirPlan::Grid),
        "{:?}",
        plan.reservoirs
    );
    // a medium set keeps its candidates but trains fewer epochs
    let medium = Trainer::from_data(
        TrainConfig::default(),
        drifting(500, 400),
        None,
        &tmp("medium"),
    )
    .unwrap();
    let m = medium.default_plan().unwrap().networks;
    match m.budget {
        Budget::Epochs(e) if (SELECT_MIN_EPOCHS..DEFAULT_EPOCHS).contains(&e) => {
            assert_eq!(m.candidates, 6)
        }
        other => panic!("fewer epochs and every candidate expected, got {other:?} ({m:?})"),
    }
}

#[test]
fn the_reservoir_plan_holds_after_the_networks_are_chosen() {
    // 120 series of 60 frames: small for the networks (every candidate
    // trains, 300 epochs at most), but reservoirs of 3,000 units over their
    // 7,200 steps cost about 3.8 s of CPU a draw: the grid's 2 x 18 draws
    // exceed the limit, the first setting's 2 do not
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 2,
        seed: 5,
        patience: 2,
        reservoir_units: 3000,
        ..TrainConfig::default()
    };
    let data = drifting(120, 60);
    let dir = tmp("first-setting");
    let mut trainer = Trainer::from_data(cfg, data, None, &dir).unwrap();
    let plan = trainer.default_plan().unwrap();
    assert_eq!(plan.networks.candidates, 6, "{:?}", plan.networks);
    assert_eq!(plan.networks.budget, Budget::Epochs(DEFAULT_EPOCHS));
    let ReservoirPlan::First(note) = &plan.reservoirs else {
        panic!("the first setting alone expected: {:?}", plan.reservoirs)
    };
    assert!(note.contains("only the first setting is drawn"), "{note}");
    // the selection replaces the trainer's configuration with the chosen
    // candidate's; the plan must still hold for the reservoirs after it
    let mut said = Vec::new();
    let mut progress = |e: &rnn::tasks::Event| {
        if let rnn::tasks::Event::Message(m) = e {
            said.push(m.to_string());
        }
    };
    let s = trainer.fit_default(&mut progress).unwrap();
    assert_eq!(s.selection.len(), 6, "every candidate was trained");
    assert!(said.iter().any(|m| m == note), "{said:#?}");
    assert!(
        !said.iter().any(|m| m.contains("for each of 18 settings")),
        "the whole grid was drawn: {said:#?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
