//! Data parallelism ([`rnn::dist`]): N shards of a batch sum to the whole
//! batch (f64, 1e-12), and a language model trained by ranks that are
//! threads ([`Local`]) follows one process's run, writes from rank 0 only,
//! and checkpoints a state any number of ranks can resume; so do a tagger
//! and a forecasting ensemble (weights within 1e-4 of one process's).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rnn::dist::{root_verdict, shard, Collective, Local, Single};
use rnn::io::{OutMode, TensorFile};
use rnn::nn::cell::{CellKind, CellName};
use rnn::nn::model::dropout_masks;
use rnn::tasks::lm::{Corpus, TrainConfig, Trainer};
use rnn::tasks::Budget;
use rnn::{Batch, Error, Input, Model, ModelConfig, Reduction, State, Targets};
use std::path::{Path, PathBuf};

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn shards_of_a_batch_sum_to_the_whole_batch_in_f64() {
    let (steps, batch) = (7, 8);
    for cell in [
        CellKind::Lstm,
        CellKind::Gru,
        ModelConfig::elman(1, 1, 1).cell,
    ] {
        let config = ModelConfig {
            cell,
            num_layers: 2,
            ..ModelConfig::elman(5, 6, 5)
        };
        let model = Model::<f64>::new(config.clone(), 4).unwrap();
        let x: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + 3) % 5).collect();
        let y: Vec<usize> = (0..steps * batch).map(|i| (i * 3 + 1) % 5).collect();
        let mut state = model.zero_state(batch);
        for (i, v) in state.h.iter_mut().chain(state.c.iter_mut()).enumerate() {
            *v = (i as f64 * 0.37).sin() * 0.5;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let masks: Vec<Vec<f64>> = dropout_masks(&config, 0.3, steps, batch, &mut rng).unwrap();
        let data = || {
            Batch::new(Input::Ids(&x), steps, batch)
                .with_state(&state)
                .with_dropout(&masks)
        };
        let mut whole = vec![0.0; model.params.len()];
        let (e, whole_state) = model
            .loss_and_grads_parallel(data(), Targets::Classes(&y), Reduction::Mean, &mut whole)
            .unwrap();
        for n in [2, 4, 8] {
            let mut summed = vec![0.0; model.params.len()];
            let (mut e_sum, mut finals, mut ranges) = (0.0, Vec::new(), Vec::new());
            for r in 0..n {
                let s = (r * batch / n, (r + 1) * batch / n);
                let (e_r, st) = model
                    .loss_and_grads_shard(
                        data(),
                        Targets::Classes(&y),
                        Reduction::Mean,
                        s,
                        &mut summed,
                    )
                    .unwrap();
                e_sum += e_r;
                finals.push(st);
                ranges.push(s);
            }
            assert!(
                (e - e_sum).abs() < 1e-12,
                "{cell:?} N={n}: loss {e} vs {e_sum}"
            );
            let d = max_diff(&whole, &summed);
            assert!(d < 1e-12, "{cell:?} N={n}: gradients differ by {d}");
            assert!(
                whole.iter().any(|g| g.abs() > 1e-3),
                "a gradient to compare"
            );
            // each shard's final state is the whole batch's rows
            for (st, &(b0, b1)) in finals.iter().zip(&ranges) {
                let w = whole_state.batch_rows(batch, 6, b0, b1);
                assert!(max_diff(&w.h, &st.h) < 1e-12 && max_diff(&w.c, &st.c) < 1e-12);
            }
        }
    }
}

/// Rows b0..b1 of a [L, B, H] state (the test's own gather).
trait Rows {
    fn batch_rows(&self, batch: usize, hidden: usize, b0: usize, b1: usize) -> State<f64>;
}

impl Rows for State<f64> {
    fn batch_rows(&self, batch: usize, hidden: usize, b0: usize, b1: usize) -> State<f64> {
        let rows = |v: &[f64]| -> Vec<f64> {
            v.chunks(batch * hidden)
                .flat_map(|layer| layer[b0 * hidden..b1 * hidden].to_vec())
                .collect()
        };
        State {
            h: rows(&self.h),
            c: rows(&self.c),
        }
    }
}

#[test]
fn a_bad_shard_and_an_unshareable_batch_are_errors() {
    let model = Model::<f64>::new(ModelConfig::elman(3, 4, 3), 1).unwrap();
    let x = [0, 1, 2, 1];
    let mut g = vec![0.0; model.params.len()];
    let e = model
        .loss_and_grads_shard(
            Batch::new(Input::Ids(&x), 2, 2),
            Targets::Classes(&x),
            Reduction::Mean,
            (1, 3),
            &mut g,
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("shard: expected a range"), "{e}");
    let ranks = Local::group(4);
    assert_eq!(shard(&ranks[3], 8).unwrap(), (6, 8));
    let e = shard(&ranks[0], 6).unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("multiple of the 4 MPI ranks"),
        "{e}"
    );
}

fn corpus() -> Corpus {
    let line = "the cat sat on the mat, and the dog lay by the door; ";
    let text: String = (0..60).map(|i| format!("{line}{i} ")).collect();
    Corpus::new("built-in", text)
}

fn config(batch: usize) -> TrainConfig {
    TrainConfig {
        hidden: 12,
        seq_len: 8,
        batch,
        eval_every: 5,
        dropout: 0.2,
        cell: CellName::Lstm,
        seed: 3,
        ..Default::default()
    }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-dist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `f(rank's collective)` on `n` threads; the results in rank order.
fn on_ranks<R: Send>(n: usize, f: impl Fn(&Local) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let f = &f;
        let hs: Vec<_> = Local::group(n)
            .into_iter()
            .map(|c| s.spawn(move || f(&c)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn tensor(dir: &Path, name: &str) -> Vec<f64> {
    let f = TensorFile::read(dir.join("train_state.safetensors")).unwrap();
    f.f64(name).unwrap().data
}

fn params(dir: &Path) -> Vec<f64> {
    tensor(dir, "params")
}

fn close_to_scale(a: &[f64], b: &[f64], tol: f64) {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let d = max_diff(a, b);
    assert!(d <= tol * scale, "max difference {d} vs scale {scale}");
}

#[test]
fn two_and_four_ranks_follow_one_process_and_only_rank_0_writes() {
    let text = corpus();
    let one = temp("one");
    let mut t = Trainer::open_run(&one, &text, config(8), OutMode::New, &[], &Single).unwrap();
    let s1 = t.fit(Budget::Steps(12), &mut ()).unwrap();
    for n in [2, 4] {
        let dir = temp(&format!("ranks{n}"));
        let summaries = on_ranks(n, |c| {
            // rank 0's directory is the run's; the others are given one they must not touch
            let d = if c.rank() == 0 {
                dir.clone()
            } else {
                temp(&format!("ranks{n}-{}", c.rank()))
            };
            let mut events = 0;
            let mut t = Trainer::open_run(&d, &text, config(8), OutMode::New, &[], c).unwrap();
            let s = t
                .fit_on(
                    Budget::Steps(12),
                    &mut |_: &rnn::tasks::Event| events += 1,
                    c,
                )
                .unwrap();
            (s, events, d)
        });
        for (r, (s, events, d)) in summaries.iter().enumerate() {
            assert_eq!(s.steps, 12);
            assert!(
                (s.best_val - s1.best_val).abs() <= 1e-5 * s1.best_val,
                "{} vs {}",
                s.best_val,
                s1.best_val
            );
            if r > 0 {
                assert_eq!(*events, 0, "rank {r} reports nothing");
                assert!(!d.exists(), "rank {r} wrote {}", d.display());
            }
        }
        close_to_scale(&params(&one), &params(&dir), 1e-4);
        // the checkpoint's carried state is every stream's, as one process's
        for name in ["state.h", "state.c"] {
            let (x, y) = (tensor(&one, name), tensor(&dir, name));
            assert!(x.iter().filter(|v| **v != 0.0).count() > x.len() / 2);
            close_to_scale(&x, &y, 1e-4);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&one).unwrap();
}

#[test]
fn a_checkpoint_resumes_on_another_number_of_ranks() {
    let text = corpus();
    let straight = temp("straight");
    let mut t = Trainer::new(config(4), &text, &straight).unwrap();
    t.fit(Budget::Steps(16), &mut ()).unwrap();
    // 2 ranks to step 10 (a checkpoint at 10), then 1 process, then 4 ranks
    let dir = temp("switch");
    on_ranks(2, |c| {
        let mut t = Trainer::open_run(
            &dir,
            &text,
            TrainConfig {
                max_steps: Some(10),
                ..config(4)
            },
            OutMode::New,
            &[],
            c,
        )
        .unwrap();
        t.fit_on(Budget::Steps(10), &mut (), c).unwrap();
    });
    let mut t = Trainer::open_run(&dir, &text, config(4), OutMode::Resume, &[], &Single).unwrap();
    assert_eq!(t.state().step, 10);
    t.fit(Budget::Steps(13), &mut ()).unwrap();
    let steps = on_ranks(4, |c| {
        let mut t = Trainer::open_run(&dir, &text, config(4), OutMode::Resume, &[], c).unwrap();
        t.fit_on(Budget::Steps(16), &mut (), c).unwrap().steps
    });
    assert_eq!(steps, [16; 4]);
    close_to_scale(&params(&straight), &params(&dir), 1e-4);
    for d in [straight, dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn rank_0_refusing_a_directory_stops_every_rank_before_anything_is_written() {
    let dir = temp("refused");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("metrics.jsonl"), "{}\n").unwrap();
    let text = corpus();
    let results = on_ranks(3, |c| {
        Trainer::open_run(&dir, &text, config(6), OutMode::New, &[], c).map(|_| ())
    });
    let msg = |r: &rnn::Result<()>| r.as_ref().unwrap_err().to_string();
    assert!(msg(&results[0]).contains("--force"), "{}", msg(&results[0]));
    for r in &results[1..] {
        assert!(matches!(
            r,
            Err(Error::OnRank0 {
                bad_input: true,
                ..
            })
        ));
        assert_eq!(msg(r), format!("rank 0: {}", msg(&results[0])));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap(),
        "{}\n"
    );
    // a batch the 4 ranks cannot share is refused by each, before the directory is touched
    let results = on_ranks(4, |c| {
        Trainer::open_run(&dir, &text, config(6), OutMode::Replace, &[], c).map(|_| ())
    });
    assert!(results
        .iter()
        .all(|r| msg(r).contains("multiple of the 4 MPI ranks")));
    assert!(dir.join("metrics.jsonl").exists());
    let verdicts = on_ranks(2, |c| root_verdict(c, || Ok(())));
    assert!(verdicts.iter().all(|v| v.is_ok()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every float tensor of a model directory's `model.safetensors`, by name.
fn model_tensors(dir: &Path) -> Vec<(String, Vec<f64>)> {
    let f = TensorFile::read(dir.join("model.safetensors")).unwrap();
    let mut names = f.names();
    names.sort();
    names
        .into_iter()
        .filter(|n| f.dtype(n).is_ok_and(|d| d.starts_with('F')))
        .map(|n| {
            let v = f.f64(&n).unwrap().data;
            (n, v)
        })
        .collect()
}

/// The two directories' models agree to 1e-4 of each tensor's scale.
fn same_models(a: &Path, b: &Path) {
    let (x, y) = (model_tensors(a), model_tensors(b));
    assert_eq!(x.len(), y.len());
    assert!(x.len() >= 3, "tensors to compare: {}", x.len());
    for ((n, u), (m, v)) in x.iter().zip(&y) {
        assert_eq!(n, m);
        assert!(u.iter().any(|w| *w != 0.0), "{n} is all zeros");
        close_to_scale(u, v, 1e-4);
    }
}

fn last_row(dir: &Path) -> serde_json::Value {
    let m = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    serde_json::from_str(m.lines().last().unwrap()).unwrap()
}

fn sentence(words: &str, tags: &str) -> rnn::tasks::tag::Sentence {
    rnn::tasks::tag::Sentence {
        tokens: words.split(' ').map(String::from).collect(),
        tags: tags.split(' ').map(String::from).collect(),
        line: 1,
    }
}

fn tag_data() -> (
    Vec<rnn::tasks::tag::Sentence>,
    Vec<rnn::tasks::tag::Sentence>,
) {
    let train = [
        ("I saw Bob in Paris", "O O B-per O B-loc"),
        ("Ann Lee ran home", "B-per I-per O O"),
        ("we met Ann in Rome", "O O B-per O B-loc"),
        ("Paris is big", "B-loc O O"),
        ("Bob and Ann", "B-per O B-per"),
        ("they flew to Rome today", "O O O B-loc O"),
        ("Lee", "B-per"),
    ];
    let dev = [
        ("Ann saw Paris", "B-per O B-loc"),
        ("we ran to Bob", "O O O B-per"),
    ];
    let all = |v: &[(&str, &str)]| v.iter().map(|(w, t)| sentence(w, t)).collect();
    (all(&train), all(&dev))
}

/// A CRF tagger with the character encoder, word and input dropout; 7
/// sentences in batches of 2 (the last batch has 1: rank 0's share is empty).
fn tag_config(batch: usize) -> rnn::tasks::tag::TrainConfig {
    let mut c = rnn::tasks::tag::TrainConfig::default();
    c.tagger.rnn.hidden_size = 6;
    c.tagger.rnn.bidirectional = true;
    c.tagger.word_dim = 5;
    c.tagger.crf = true;
    c.tagger.char_dim = 3;
    c.tagger.char_hidden = 3;
    c.optim.input_dropout = 0.2;
    c.optim.word_dropout = 1.0;
    c.batch = batch;
    c.patience = 100;
    c.seed = 5;
    c
}

#[test]
fn a_tagger_on_two_ranks_follows_one_process_and_only_rank_0_writes() {
    use rnn::tasks::tag::Trainer as TagTrainer;
    let (train, dev) = tag_data();
    let one = temp("tag-one");
    let mut t = TagTrainer::new(tag_config(2), train.clone(), dev.clone(), &one).unwrap();
    let s1 = t.fit(Budget::Epochs(4), &mut ()).unwrap();
    let dir = temp("tag-two");
    let runs = on_ranks(2, |c| {
        let d = match c.rank() {
            0 => dir.clone(),
            r => temp(&format!("tag-two-{r}")),
        };
        let mut events = 0;
        let mut t = TagTrainer::new(tag_config(2), train.clone(), dev.clone(), &d).unwrap();
        let s = t
            .fit_on(
                Budget::Epochs(4),
                &mut |_: &rnn::tasks::Event| events += 1,
                c,
            )
            .unwrap();
        (s, events, d)
    });
    for (r, (s, events, d)) in runs.iter().enumerate() {
        assert_eq!(
            (s.steps, s.epochs, s.best_epoch),
            (s1.steps, s1.epochs, s1.best_epoch)
        );
        assert!((s.best_score - s1.best_score).abs() < 1e-12);
        if r > 0 {
            assert_eq!(*events, 0, "rank {r} reports nothing");
            assert!(!d.exists(), "rank {r} wrote {}", d.display());
        }
    }
    assert_eq!(s1.steps, 16);
    same_models(&one, &dir);
    let (a, b) = (last_row(&one), last_row(&dir));
    let (l1, l2) = (
        a["dev_loss"].as_f64().unwrap(),
        b["dev_loss"].as_f64().unwrap(),
    );
    assert!((l1 - l2).abs() <= 1e-4 * l1, "dev loss {l1} vs {l2}");
    // a batch the ranks cannot share is refused by each before anything is written
    let odd = temp("tag-odd");
    let refused = on_ranks(2, |c| {
        let mut t = TagTrainer::new(tag_config(3), train.clone(), dev.clone(), &odd).unwrap();
        t.fit_on(Budget::Epochs(1), &mut (), c)
            .unwrap_err()
            .to_string()
    });
    assert!(
        refused
            .iter()
            .all(|e| e.contains("batch: 3 is out of range")),
        "{refused:?}"
    );
    assert!(!odd.exists());
    for d in [one, dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_forecasting_ensemble_on_two_ranks_follows_one_process() {
    use rnn::tasks::forecast::{
        member_dir, Choose, Series, TrainConfig as FcConfig, Trainer as Fc,
    };
    let values: Vec<f64> = (0..120)
        .map(|i| {
            let noise = ((i as f64 * 12.9898).sin() * 43758.5453).fract();
            5.0 + (i as f64 * 0.5).sin() + 0.5 * noise
        })
        .collect();
    let series = Series::from_values("waves", values);
    let config = || {
        let mut c = FcConfig::new("v", 0, 10);
        c.choose = Choose {
            window: true,
            transform: true,
            diff: true,
        };
        (c.hidden, c.batch, c.ensemble, c.ar_skip, c.seed) = (6, 6, 2, true, 2);
        c.jobs = 2; // one process trains both networks at once; ranks, one after the other
        c
    };
    let one = temp("fc-one");
    let mut t = Fc::from_series(config(), series.clone(), &one).unwrap();
    let s1 = t.fit(Budget::Epochs(4), &mut ()).unwrap();
    let dir = temp("fc-two");
    let runs = on_ranks(2, |c| {
        let d = match c.rank() {
            0 => dir.clone(),
            r => temp(&format!("fc-two-{r}")),
        };
        let mut t = Fc::from_series(config(), series.clone(), &d).unwrap();
        let s = t.fit_on(Budget::Epochs(4), &mut (), c).unwrap();
        (s, d)
    });
    assert!(s1.best_epoch > 0, "trained weights to compare: {s1:?}");
    let v1 = s1.validation.clone().unwrap();
    for (r, (s, d)) in runs.iter().enumerate() {
        assert_eq!(format!("{:?}", s.choice), format!("{:?}", s1.choice));
        assert_eq!(
            (s.steps, s.epochs, s.best_epoch),
            (s1.steps, s1.epochs, s1.best_epoch)
        );
        let (m1, m2) = (s1.best_val_mse.unwrap(), s.best_val_mse.unwrap());
        assert!((m1 - m2).abs() <= 1e-4 * m1, "validation MSE {m1} vs {m2}");
        if r == 0 {
            let v = s.validation.clone().unwrap();
            assert!(
                (v.rmse - v1.rmse).abs() <= 1e-4 * v1.rmse,
                "{v:?} vs {v1:?}"
            );
            let (t1, t2) = (s1.test.as_ref().unwrap(), s.test.as_ref().unwrap());
            assert!((t1.rmse - t2.rmse).abs() <= 1e-4 * t1.rmse);
        } else {
            assert!(
                s.test.is_none() && !d.exists(),
                "rank {r} wrote {}",
                d.display()
            );
        }
    }
    same_models(&one, &dir);
    same_models(&member_dir(&one, 1), &member_dir(&dir, 1));
    for d in [one, dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
