//! The language-model trainer from the library: a run stopped and resumed
//! ends where one long run ends, bit for bit; the files it writes load back.

mod common;
use rnn::optim::{OptimizerName, Schedule};
use rnn::tasks::lm::{Corpus, LanguageModel, TrainConfig, Trainer, STATE_FILE};
use rnn::tasks::{Budget, Event};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-lm-trainer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn corpus() -> Corpus {
    common::words(7)
}

/// Dropout and weight drop on, so their masks must come from the saved RNG.
fn config(schedule: Schedule) -> TrainConfig {
    TrainConfig {
        hidden: 12,
        seq_len: 8,
        batch: 4,
        dropout: 0.1,
        weight_drop: 0.2,
        lr: 0.5, // high enough for the plateau schedule to decay
        optimizer: OptimizerName::Adam,
        eval_every: 3,
        schedule,
        seed: 5,
        ..TrainConfig::default()
    }
}

#[test]
fn stop_and_resume_equals_one_run_for_both_schedules() {
    let text = corpus();
    for (i, schedule) in [
        Schedule::Plateau {
            decay: 0.5,
            patience: 1,
        },
        Schedule::Cosine,
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = (tmp(&format!("a{i}")), tmp(&format!("b{i}")));
        let mut first = Trainer::new(config(schedule), &text, &a).unwrap();
        assert_eq!(first.fit(Budget::Steps(10), &mut ()).unwrap().steps, 10);
        let mut resumed = Trainer::resume(&a, &text, &config(schedule)).unwrap();
        assert_eq!(resumed.state().step, 10);
        let rs = resumed.fit(Budget::Steps(20), &mut ()).unwrap();
        let mut whole = Trainer::new(config(schedule), &text, &b).unwrap();
        let mut rows = Vec::new();
        let ws = whole
            .fit(Budget::Steps(20), &mut |e: &Event| {
                if let Event::Evaluated { row } = e {
                    rows.push((*row).clone());
                }
            })
            .unwrap();
        // evaluations at 3, 6, ..., 18 and the end (20)
        let steps: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
        assert_eq!(steps, [3, 6, 9, 12, 15, 18, 20]);
        let lrs: Vec<f64> = rows.iter().map(|r| r["lr"].as_f64().unwrap()).collect();
        // the last rate set is the final one either way
        assert_eq!(resumed.state().opt.config, whole.state().opt.config);
        match schedule {
            Schedule::Plateau { .. } => {
                // the metrics read as one run's: the resumed rows carry on
                // the smoothed training loss (before, it restarted from the
                // first batch after the resume) and the elapsed time
                let read = |d: &PathBuf| -> Vec<serde_json::Value> {
                    std::fs::read_to_string(d.join("metrics.jsonl"))
                        .unwrap()
                        .lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect()
                };
                let (ra, rb) = (read(&a), read(&b));
                let after = |rows: &[serde_json::Value]| -> Vec<(u64, f64)> {
                    rows.iter()
                        .filter(|r| r["step"].as_u64().unwrap() > 10)
                        .map(|r| {
                            (
                                r["step"].as_u64().unwrap(),
                                r["train_loss"].as_f64().unwrap(),
                            )
                        })
                        .collect()
                };
                assert_eq!(after(&ra), after(&rb));
                assert_eq!(after(&ra).len(), 4);
                let secs: Vec<f64> = ra
                    .iter()
                    .map(|r| r["elapsed_s"].as_f64().unwrap())
                    .collect();
                assert!(secs.windows(2).all(|w| w[0] <= w[1]), "{secs:?}");
                assert_eq!(resumed.model().params, whole.model().params);
                assert_eq!(resumed.state().opt.state, whole.state().opt.state);
                assert_eq!(rs.best_val, ws.best_val);
                assert!(lrs.last() < lrs.first(), "the plateau decayed: {lrs:?}");
            }
            Schedule::Cosine => {
                // step s ran at the rate of frac = (s - 1) / 20:
                // 0.05 + 0.45 (1 + cos(pi (s - 1) / 20)) / 2. (A resumed
                // cosine follows the budget it is given, so the first
                // 10 steps of `a` followed a cosine over 10: not comparable.)
                for (&s, &lr) in steps.iter().zip(&lrs) {
                    let frac = (s - 1) as f64 / 20.0;
                    let want = 0.05 + 0.45 * (1.0 + (std::f64::consts::PI * frac).cos()) / 2.0;
                    assert!((lr - want).abs() < 1e-12, "step {s}: {lr} vs {want}");
                }
            }
        }
        // the saved model is the best by validation, and loads back
        let lm = LanguageModel::load(&b).unwrap();
        let held_out = lm.vocab.decode(&whole.data().val);
        let e = lm.evaluate(&held_out, "validation").unwrap();
        assert_eq!(e.loss_nats, ws.best_val);
        assert!(b.join(STATE_FILE).exists() && b.join("metrics.jsonl").exists());
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}

#[test]
fn bad_configs_and_texts_are_errors() {
    let text = corpus();
    let dir = tmp("bad");
    let e = Trainer::new(
        TrainConfig {
            val_frac: 0.95,
            ..config(Schedule::Cosine)
        },
        &text,
        &dir,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "val_frac: 0.95 is out of range (a fraction in (0, 0.9))"
    );
    let short = Corpus::new("short.txt", "hello world");
    let e = Trainer::new(config(Schedule::Cosine), &short, &dir).unwrap_err();
    assert!(e.to_string().starts_with("short.txt: too short"), "{e}");
    assert!(e.is_bad_input());
    // a resume needs the run's files, and the same characters
    assert!(Trainer::resume(&dir, &text, &config(Schedule::Cosine)).is_err());
    let mut t = Trainer::new(config(Schedule::Cosine), &text, &dir).unwrap();
    t.fit(Budget::Steps(3), &mut ()).unwrap();
    let other = Corpus::new("other.txt", text.text.replace('c', "k"));
    let e = Trainer::resume(&dir, &other, &config(Schedule::Cosine)).unwrap_err();
    assert!(e.to_string().contains("characters differ"), "{e}");
    assert!(Trainer::new(config(Schedule::Cosine), &text, &dir)
        .unwrap()
        .fit(Budget::Steps(0), &mut ())
        .is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A saved run whose position or sizes were damaged (edited by hand, a
/// bad copy) is refused on resume with the value named, and its files are
/// left as they were. Before, each of these panicked (an offset or window
/// past the data, a `seq_len` of 0) or aborted on allocation (a huge batch).
#[test]
fn a_damaged_training_state_is_refused_on_resume() {
    let text = corpus();
    let dir = tmp("damaged");
    Trainer::new(config(Schedule::Cosine), &text, &dir)
        .unwrap()
        .fit(Budget::Steps(3), &mut ())
        .unwrap();
    let path = dir.join(STATE_FILE);
    let good = std::fs::read(&path).unwrap();
    // the file with one metadata value's JSON edited, its checksums made
    // to fit (so the checks of the values behind them run)
    let edited = |key: &str, field: &str, value: serde_json::Value| {
        common::edit_metadata(&good, key, |v| v[field] = value)
    };
    for (key, field, value, said) in [
        // windows of 8 characters: an offset of 8 starts past the window
        (
            "position",
            "offset",
            serde_json::json!(8),
            "\"offset 8\" is not valid (an offset below seq_len 8)",
        ),
        (
            "position",
            "window",
            serde_json::json!(1_000_000),
            "position: window 1000000 of an epoch of",
        ),
        (
            "train_config",
            "seq_len",
            serde_json::json!(0),
            "\"seq_len 0, batch 4\" is not valid",
        ),
        // the carried state holds 4 streams of 12 units
        (
            "train_config",
            "batch",
            serde_json::json!(1u64 << 40),
            "(48 values: 1 layer(s) x direction(s) x batch x 12 units)",
        ),
    ] {
        std::fs::write(&path, edited(key, field, value)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Trainer::resume(&dir, &text, &config(Schedule::Cosine)).unwrap_err();
        assert!(e.to_string().contains(said), "{key}.{field}: {e}");
        assert!(e.is_bad_input(), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "the file is kept");
    }
    // a saved option out of range names the file it came from (it named
    // the option alone: "eval_every: 0 is out of range")
    let zero_eval_every = |run: &mut serde_json::Value| {
        *run.pointer_mut("/options/eval_every").unwrap() = serde_json::json!(0);
    };
    std::fs::write(
        &path,
        common::edit_metadata(&good, "schedule", zero_eval_every),
    )
    .unwrap();
    let e = Trainer::resume(&dir, &text, &config(Schedule::Cosine)).unwrap_err();
    let want = format!("{}: eval_every", path.display());
    assert!(e.to_string().starts_with(&want) && e.is_bad_input(), "{e}");
    std::fs::write(&path, &good).unwrap();
    assert_eq!(
        Trainer::resume(&dir, &text, &config(Schedule::Cosine))
            .unwrap()
            .state()
            .step,
        3
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A training step of plain SGD (lr 0.5, no clipping, no weight decay) on
/// windows of 8, with no dropout or weight drop: the tests below turn on
/// what they look at, so a gradient of 0 leaves a weight exactly as it was.
fn plain_sgd_step() -> rnn::tasks::lm::StepConfig {
    rnn::tasks::lm::StepConfig {
        seq_len: 8,
        batch: 4,
        optimizer: OptimizerName::Sgd.config(0.5, None).unwrap(),
        clip: None,
        seed: 3,
        val_frac: 0.1,
        dropout: 0.0,
        forget_bias: None,
        weight_drop: 0.0,
        locked_dropout: false,
    }
}

/// Weight drop (`weight_drop` p): a window's mask zeroes entries of every
/// `weight_hh` for the forward and BPTT, so `dE/dW_ij = M_ij dE/dW'_ij` is
/// exactly 0 where `M_ij` = 0. Under plain SGD with no clipping and no
/// weight decay those entries must come out of the step with their old
/// values (restored, not left at 0), about a fraction p of them (1024
/// entries: the standard deviation of the fraction is 0.016 at p = 0.5, so
/// 0.42-0.58 is 5 of them); without weight drop almost every entry moves.
#[test]
fn weight_drop_leaves_the_dropped_recurrent_weights_where_they_were() {
    use rnn::tasks::lm::{StepConfig, TrainState};
    use rnn::{CellKind, ModelConfig, OutputKind};
    let ids: Vec<usize> = (0..4000usize).map(|i| (i * 7 + i / 3) % 10).collect();
    let unchanged = |p: f64, name: &str| -> f64 {
        let mut model = ModelConfig::elman(10, 16, 10);
        model.cell = CellKind::Lstm;
        model.num_layers = 2;
        model.output = OutputKind::Softmax;
        let step = StepConfig {
            weight_drop: p,
            ..plain_sgd_step()
        };
        let mut st = TrainState::new(model, step).unwrap();
        let before = st.model.param(name).unwrap().to_vec();
        st.train_step(&ids).unwrap();
        let after = st.model.param(name).unwrap();
        assert!(after.iter().all(|v| v.is_finite()));
        let same = before.iter().zip(after).filter(|(a, b)| a == b).count();
        same as f64 / before.len() as f64
    };
    for name in ["rnn.weight_hh_l0", "rnn.weight_hh_l1"] {
        let (off, half) = (unchanged(0.0, name), unchanged(0.5, name));
        assert!(off < 0.02, "{name}: {off} unchanged without weight drop");
        assert!(
            (0.42..0.58).contains(&half),
            "{name}: {half} unchanged at p = 0.5"
        );
    }
    // the input weights are not dropped: they move as without weight drop
    assert!(unchanged(0.5, "rnn.weight_ih_l1") < 0.02);
}

/// A 12-step run of `c` (evaluated every 4 steps) in a fresh directory:
/// the learning rate logged at each evaluation. A resume of it with `other`
/// and the option `given` is refused, naming the option's flag and value
/// (`refusal`, the start of the error).
fn cosine_rates(
    c: TrainConfig,
    name: &str,
    other: TrainConfig,
    given: &str,
    refusal: &str,
) -> Vec<f64> {
    let text = corpus();
    let dir = tmp(name);
    let c = TrainConfig { eval_every: 4, ..c };
    let mut t = Trainer::new(c, &text, &dir).unwrap();
    t.fit(Budget::Steps(12), &mut ()).unwrap();
    let log = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.last().unwrap()["step"], 12);
    let e = Trainer::resume_given(&dir, &text, &other, &[given]).unwrap_err();
    assert!(e.to_string().starts_with(refusal), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    rows.iter().map(|r| r["lr"].as_f64().unwrap()).collect()
}

/// `lr_floor`: a cosine schedule ends at that share of the peak rate. The
/// learning rate logged at the last evaluation of a 12-step run (frac
/// 11/12 when it was set, `(1 + cos(11 pi / 12)) / 2` = 0.0170 of the way
/// from the floor to the peak) is `lr (floor + (1 - floor) 0.0170)`: 0.1170
/// lr with the default floor 0.1, 0.0170 lr with 0; and a resume that gives
/// another floor is refused, naming the flag.
#[test]
fn a_cosine_schedule_ends_at_its_floor() {
    let last_lr = |floor: f64, name: &str| -> f64 {
        let c = TrainConfig {
            lr_floor: floor,
            ..config(Schedule::Cosine)
        };
        let other = TrainConfig {
            lr_floor: 0.5,
            ..c.clone()
        };
        let rates = cosine_rates(
            c,
            name,
            other,
            "lr_floor",
            "--lr-floor 0.5: the run being resumed",
        );
        rates.last().unwrap() / 0.5 // config's lr
    };
    let way = (1.0 + (11.0 * std::f64::consts::PI / 12.0).cos()) / 2.0;
    let (tenth, zero) = (last_lr(0.1, "floor01"), last_lr(0.0, "floor0"));
    assert!(
        (tenth - (0.1 + 0.9 * way)).abs() < 1e-9,
        "{tenth} vs {}",
        0.1 + 0.9 * way
    );
    assert!((zero - way).abs() < 1e-9, "{zero} vs {way}");
}

/// `warmup`: over the first `warmup` steps the cosine rate is scaled by
/// `(step + 1) / warmup`. The rate logged at an evaluation is the one the
/// last step used: at step 4 of a run with warmup 8 it was set before the
/// 4th step (ramp 4/8), so it is half the rate logged without warmup; at
/// steps 8 (ramp 8/8) and 12 the two runs log the same rate. A plateau
/// schedule with a warmup is refused, and so is a resume that gives
/// another warmup.
#[test]
fn warmup_ramps_the_cosine_rate_up_linearly() {
    let rates = |warmup: u64, name: &str| -> Vec<f64> {
        let c = TrainConfig {
            warmup,
            ..config(Schedule::Cosine)
        };
        let other = TrainConfig {
            warmup: 3,
            ..c.clone()
        };
        cosine_rates(
            c,
            name,
            other,
            "warmup",
            "--warmup 3: the run being resumed",
        )
    };
    let (plain, warm) = (rates(0, "warm0"), rates(8, "warm8"));
    assert_eq!(plain.len(), 3, "evaluations at steps 4, 8, 12");
    assert!(
        (warm[0] - 0.5 * plain[0]).abs() < 1e-12,
        "{warm:?} vs {plain:?}"
    );
    assert!(warm[0] > 0.0);
    assert_eq!(warm[1..], plain[1..]);
    let plateau = TrainConfig {
        warmup: 8,
        ..config(Schedule::default())
    };
    let e = plateau.validate().unwrap_err().to_string();
    assert!(
        e.starts_with("warmup (--warmup): 8 steps need the cosine schedule"),
        "{e}"
    );
}

/// Locked dropout (`locked_dropout`): a top-layer unit dropped for a stream
/// is 0 at every step of the window, so with one stream the readout's
/// column for it (`dE/dV_kj = sum_t dE/do_tk s_tj` with `s_tj` = 0 at every
/// t) gets no gradient at all and, under plain SGD without clipping or
/// weight decay, keeps its values: about a fraction p of the 64 columns
/// (standard deviation 0.0625 at p = 0.5, so 0.2-0.8 is 4.8 of them). With
/// a fresh mask at every step a column is dropped at all 8 steps with
/// probability 1/256, so almost none stays.
#[test]
fn locked_dropout_silences_a_dropped_unit_for_the_whole_window() {
    use rnn::tasks::lm::{StepConfig, TrainState};
    use rnn::{ModelConfig, OutputKind};
    let ids: Vec<usize> = (0..4000usize).map(|i| (i * 7 + i / 3) % 10).collect();
    let (v, h) = (10, 64);
    let unchanged_columns = |locked: bool| -> f64 {
        let mut model = ModelConfig::elman(v, h, v);
        model.output = OutputKind::Softmax;
        let step = StepConfig {
            batch: 1,
            dropout: 0.5,
            locked_dropout: locked,
            ..plain_sgd_step()
        };
        let mut st = TrainState::new(model, step).unwrap();
        let before = st.model.param("head.weight").unwrap().to_vec(); // [V, H]
        st.train_step(&ids).unwrap();
        let after = st.model.param("head.weight").unwrap();
        let same = (0..h)
            .filter(|&j| (0..v).all(|k| before[k * h + j] == after[k * h + j]))
            .count();
        same as f64 / h as f64
    };
    let (fresh, locked) = (unchanged_columns(false), unchanged_columns(true));
    assert!(
        fresh < 0.05,
        "{fresh} of the columns unchanged with a fresh mask per step"
    );
    assert!(
        (0.2..0.8).contains(&locked),
        "{locked} of the columns unchanged with locked dropout at p = 0.5"
    );
}

/// A plateau schedule skips a decay that would change the learning rate by
/// 1e-8 or less (PyTorch's `ReduceLROnPlateau` `eps`). With the rate 0.5
/// (high enough for validation to stall) and the factor `1 - 1.5e-8`, a
/// decay would change it by 7.5e-9: every stall leaves it at 0.5. With the
/// factor `1 - 4e-8` (a change of 2e-8) every stall decays it. Before, any
/// factor decayed, so a run that stalls for good kept halving. The stalls are
/// counted from the logged validation losses (a tie is not an improvement),
/// so the test fails if none happened.
#[test]
fn a_plateau_schedule_stops_decaying_at_its_eps() {
    let text = corpus();
    let dir = tmp("plateau-eps");
    let run = |decay: f64| -> (usize, Vec<f64>) {
        let _ = std::fs::remove_dir_all(&dir);
        let c = TrainConfig {
            eval_every: 1,
            ..config(Schedule::Plateau { decay, patience: 1 })
        };
        let mut rows = Vec::new();
        Trainer::new(c, &text, &dir)
            .unwrap()
            .fit(Budget::Steps(30), &mut |e: &Event| {
                if let Event::Evaluated { row } = e {
                    rows.push((*row).clone());
                }
            })
            .unwrap();
        let (mut best, mut stalls) = (f64::MAX, 0);
        for r in &rows {
            let v = r["val_loss"].as_f64().unwrap();
            if v < best {
                best = v;
            } else {
                stalls += 1;
            }
        }
        let lrs = rows.iter().map(|r| r["lr"].as_f64().unwrap()).collect();
        (stalls, lrs)
    };
    let (stalls, lrs) = run(1.0 - 1.5e-8);
    assert!(stalls > 0, "no stall in {} evaluations", lrs.len());
    assert!(lrs.iter().all(|&lr| lr == 0.5), "{lrs:?}");
    let (stalls, lrs) = run(1.0 - 4e-8);
    assert!(stalls > 0, "no stall in {} evaluations", lrs.len());
    assert!(*lrs.last().unwrap() < 0.5, "{lrs:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `generate`, `generate_while`, `evaluate` and `LmData::new` check their
/// arguments: a model that cannot sample from the vocabulary, a temperature
/// that is not positive, target ids past the output, sizes of 0. Each was a
/// panic or a silent result before.
#[test]
fn the_free_functions_check_their_arguments() {
    use rnn::tasks::lm::{evaluate, generate, LmData, Sampling, Vocab};
    use rnn::{Model, ModelConfig, OutputKind};
    let model = |cfg: ModelConfig| Model::<f32>::new(cfg, 0).unwrap();
    let s = Sampling {
        len: 50,
        ..Sampling::default()
    };
    let err = |m: &Model<f32>, v: &Vocab, s: Sampling| {
        generate(m, v, &[0], s, |_| {}).unwrap_err().to_string()
    };
    let abc = Vocab::from_text("abc");
    let good = model(ModelConfig::elman(3, 4, 3));
    let e = err(
        &model(ModelConfig::elman(3, 4, 5)),
        &Vocab::from_text("abcde"),
        s,
    );
    assert!(
        e.starts_with(
            "vocab: expected as many characters as the model's input size 3 and output size 5"
        ),
        "{e}"
    );
    assert!(err(&good, &Vocab::from_text("ab"), s).starts_with("vocab:"));
    assert!(err(&good, &Vocab { chars: vec![] }, s).starts_with("vocab:"));
    let identity = ModelConfig {
        output: OutputKind::Identity,
        ..ModelConfig::elman(3, 4, 3)
    };
    assert!(err(&model(identity.clone()), &abc, s).contains("softmax"));
    let bi = ModelConfig {
        bidirectional: true,
        ..ModelConfig::elman(3, 4, 3)
    };
    assert!(err(&model(bi.clone()), &abc, s).contains("unidirectional"));
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = err(
            &good,
            &abc,
            Sampling {
                temperature: t,
                ..s
            },
        );
        assert!(e.starts_with("temperature:"), "{e}");
    }
    for p in [0.0, -0.5, 1.5, f64::NAN] {
        let e = err(&good, &abc, Sampling { top_p: p, ..s });
        assert!(e.starts_with("top_p:") && e.contains("(0, 1]"), "{e}");
    }
    let mut n = 0;
    generate(&good, &abc, &[0], s, |_| n += 1).unwrap();
    assert_eq!(n, 50);

    // I = 5, O = 3: an id of 4 is an input, not a target
    let wide = model(ModelConfig::elman(5, 4, 3));
    let e = evaluate(&wide, &[0, 4, 4, 4, 1], 1, 100)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("ids[1]: expected a class id < O = 3"), "{e}");
    assert!(evaluate(&wide, &[4, 0, 1, 2], 1, 100).is_ok());
    assert!(evaluate(&model(identity), &[0, 1, 2], 1, 100).is_err());
    assert!(evaluate(&model(bi), &[0, 1, 2], 1, 100).is_err());

    let p = std::path::Path::new("t");
    let text = "abcabcabcabc".repeat(10);
    for (arg, r) in [
        ("val_frac", LmData::new(&text, p, 2.0, 2, 1)),
        ("val_frac", LmData::new(&text, p, 1.0, 2, 1)),
        ("val_frac", LmData::new(&text, p, -1.0, 2, 1)),
        ("val_frac", LmData::new(&text, p, f64::NAN, 2, 1)),
        ("seq_len", LmData::new(&text, p, 0.1, 0, 1)),
        ("batch", LmData::new(&text, p, 0.1, 2, 0)),
    ] {
        let e = r.unwrap_err().to_string();
        assert!(e.starts_with(&format!("{arg}: expected")), "{e}");
    }
    let d = LmData::new(&text, p, 0.1, 2, 1).unwrap();
    assert_eq!((d.train.len(), d.val.len()), (108, 12));
    assert!(LmData::new(&text, p, 0.0, usize::MAX, usize::MAX).is_err());
}

/// A train state of no streams or no window, or a step on ids too few for
/// the window, is an error naming it (they panicked: an empty range, an
/// index past the ids); the count of windows of a text too short for one is
/// 0 (it underflowed).
#[test]
fn train_state_refuses_empty_sizes_and_short_data() {
    use rnn::tasks::lm::{StepConfig, TrainState};
    use rnn::ModelConfig;
    for (seq_len, batch, what) in [(0, 4, "seq_len"), (8, 0, "batch")] {
        let step = StepConfig {
            seq_len,
            batch,
            ..plain_sgd_step()
        };
        let e = TrainState::new(ModelConfig::elman(10, 4, 10), step).unwrap_err();
        assert!(e.to_string().starts_with(what), "{e}");
    }
    // a batch no machine holds is refused before allocating (it aborted)
    for batch in [1 << 40, usize::MAX] {
        let step = StepConfig {
            batch,
            ..plain_sgd_step()
        };
        let e = TrainState::new(ModelConfig::elman(10, 4, 10), step).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("training a 'lm' model of 1.1e2 parameters (hidden 4"),
            "{e}"
        );
        assert!(e.to_string().contains("of memory, more than the"), "{e}");
    }
    let mut st = TrainState::new(ModelConfig::elman(10, 4, 10), plain_sgd_step()).unwrap();
    for short in [&[][..], &[0, 1, 2][..]] {
        let e = st.train_step(short).unwrap_err().to_string();
        assert!(
            e.starts_with("train: expected ids enough for window 0"),
            "{e}"
        );
    }
    assert_eq!(st.windows_per_epoch(0), 0);
    assert_eq!(st.windows_per_epoch(3), 0);
    let ids: Vec<usize> = (0..400).map(|i| i % 10).collect();
    assert!(st.windows_per_epoch(ids.len()) > 0);
    assert!(st.train_step(&ids).unwrap().is_finite());
}

/// A train state whose weights or optimizer buffers are not finite in f32
/// is refused at load, naming the tensor: an edited 1e39 weight resumed as
/// an infinity, and a NaN first moment gave NaN weights one `Ok` step later
/// (the library sweep of session 53). The files are written again with
/// their metadata, so every checksum holds: deliberate edits, not damage.
#[test]
fn a_train_state_with_values_f32_cannot_hold_is_refused_at_load() {
    use rnn::io::{TensorFile, TensorWriter};
    use rnn::tasks::lm::TrainState;
    use rnn::ModelConfig;
    let dir = std::env::temp_dir().join(format!("rnn-state-edit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("train_state.safetensors");
    let adam = rnn::tasks::lm::StepConfig {
        optimizer: OptimizerName::Adam.config(0.01, None).unwrap(),
        ..plain_sgd_step()
    };
    let st = TrainState::new(ModelConfig::elman(10, 4, 10), adam).unwrap();
    st.save_state(&path, &Default::default()).unwrap();
    assert!(TrainState::load_state(&path).is_ok());
    let saved = TensorFile::read(&path).unwrap();
    for (tensor, value, want) in [
        ("params", 1e39, "tensor 'params' element 2: 1e39 is out of range (a value within the range of 32-bit floats (±3.4e38))"),
        ("opt.0", f64::NAN, "tensor 'opt.0' element 2: NaN is out of range (a finite value)"),
    ] {
        let mut w = TensorWriter::new();
        for name in saved.names() {
            let mut t = saved.f64(&name).unwrap();
            if name == tensor {
                t.data[2] = value;
            }
            w.add::<f64>(name, &t.shape, &t.data);
        }
        for (k, v) in saved.metadata() {
            if !k.contains("checksum") {
                w.meta(k.clone(), v.clone());
            }
        }
        std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
        let e = TrainState::load_state(&path).err().map(|e| e.to_string());
        let e = e.expect("refused");
        assert!(e.ends_with(want), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A held-out text longer than `val_chars` is validated on a sample of it
/// (`evaluate_sample`, evenly spread parts): the loss the run keeps is the
/// sample's on the saved model, not the whole text's, and the run says so
/// when it starts. A resume keeps the run's `val_chars` and refuses
/// another one given.
#[test]
fn a_long_held_out_text_is_validated_on_val_chars_of_it() {
    use rnn::tasks::lm::{evaluate, evaluate_sample, EVAL_STREAMS, EVAL_WINDOW};
    let text = corpus();
    let dir = tmp("val-chars");
    let c = TrainConfig {
        val_frac: 0.5, // about 3,000 held-out characters
        val_chars: Some(2048),
        eval_every: 5,
        ..config(Schedule::default())
    };
    let mut trainer = Trainer::new(c.clone(), &text, &dir).unwrap();
    let val = trainer.data().val.clone();
    let held_out = val.len() - 1;
    assert!(held_out > 2048);
    let mut messages = Vec::new();
    let summary = trainer
        .fit(Budget::Steps(5), &mut |e: &Event| {
            if let Event::Message(m) = e {
                messages.push(m.to_string());
            }
        })
        .unwrap();
    let said = format!("validating on 2048 of the {held_out} held-out characters");
    assert!(
        messages.iter().any(|m| m.starts_with(&said)),
        "{messages:?}"
    );
    let lm = LanguageModel::load(&dir).unwrap();
    let (nats, n) =
        evaluate_sample(&lm.model, &val, EVAL_STREAMS, EVAL_WINDOW, Some(2048)).unwrap();
    assert_eq!(n, 2048);
    assert_eq!(summary.best_val, nats / n as f64);
    let (all, n_all) = evaluate(&lm.model, &val, EVAL_STREAMS, EVAL_WINDOW).unwrap();
    assert_eq!(n_all, held_out);
    assert!((all / n_all as f64 - summary.best_val).abs() > 1e-6);
    // resumed with the default in the config given, the run's own is kept
    let resumed = Trainer::resume(&dir, &text, &config(Schedule::default())).unwrap();
    assert_eq!(resumed.config().val_chars, Some(2048));
    let other = TrainConfig {
        val_chars: None,
        ..c
    };
    let e = Trainer::resume_given(&dir, &text, &other, &["val_chars"]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--val-chars 0 (all): the run being resumed in"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
