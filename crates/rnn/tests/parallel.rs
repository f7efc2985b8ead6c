//! The batch-split entry points give the same loss, gradients and logits as
//! the sequential ones (the same sums in another order).

mod common;

use rnn::nn::cell::CellKind;
use rnn::nn::layer::Input;
use rnn::nn::loss::{OutputKind, Reduction, Targets};
use rnn::nn::model::Batch;
use rnn::{Model, ModelConfig};

fn close(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn batch_split_matches_sequential() {
    let _threads = common::threads_held();
    rnn::kernels::set_threads(3);
    let (steps, batch) = (6, 5);
    for cell in [
        ModelConfig::elman(4, 7, 4).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for (output, lengths) in [
            (OutputKind::Softmax, None),
            (OutputKind::Identity, Some(vec![6, 2, 5, 1, 6])),
        ] {
            let config = ModelConfig {
                cell,
                output,
                num_layers: 2,
                bidirectional: true,
                ..ModelConfig::elman(4, 7, 4)
            };
            let model = Model::<f64>::new(config, 1).expect("valid config");
            let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + 3) % 4).collect();
            let classes: Vec<usize> = (0..steps * batch).map(|i| (i * 5 + 1) % 4).collect();
            let values: Vec<f64> = (0..steps * batch * 4)
                .map(|i| (i as f64 * 0.3).sin())
                .collect();
            let targets = match output {
                OutputKind::Softmax => Targets::Classes(&classes),
                OutputKind::Identity => Targets::Values(&values),
            };
            let data = Batch {
                lengths: lengths.as_deref(),
                ..Batch::new(Input::Ids(&ids), steps, batch)
            };
            let mut g_seq = vec![0.0; model.params.len()];
            let (e_seq, fwd, _) = model
                .loss_and_grads(data, targets, Reduction::Mean, &mut g_seq)
                .unwrap();
            let mut g_par = vec![0.0; model.params.len()];
            let (e_par, _) = model
                .loss_and_grads_parallel(data, targets, Reduction::Mean, &mut g_par)
                .unwrap();
            assert!(
                (e_seq - e_par).abs() < 1e-12,
                "{cell:?}: loss {e_seq} vs {e_par}"
            );
            assert!(close(&g_seq, &g_par) < 1e-12, "{cell:?}: gradients differ");
            let mut inf = rnn::Inference::new();
            model.infer(data.split_across_threads(), &mut inf).unwrap();
            let logits = inf.logits;
            assert!(
                close(&fwd.logits, &logits) < 1e-12,
                "{cell:?}: logits differ"
            );
        }
    }
}

/// A carried state (as in truncated BPTT): each part starts from its own rows
/// of the initial state, and the parts' final states are put back in place.
#[test]
fn batch_split_carries_state() {
    let _threads = common::threads_held();
    rnn::kernels::set_threads(2);
    let (steps, batch) = (5, 7);
    for cell in [
        ModelConfig::elman(4, 6, 4).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        let config = ModelConfig {
            cell,
            output: OutputKind::Softmax,
            num_layers: 2,
            ..ModelConfig::elman(4, 6, 4)
        };
        let model = Model::<f64>::new(config, 3).expect("valid config");
        let mut state = model.zero_state(batch);
        for (i, v) in state.h.iter_mut().enumerate() {
            *v = (i as f64 * 0.37).sin() * 0.5;
        }
        for (i, v) in state.c.iter_mut().enumerate() {
            *v = (i as f64 * 0.23).cos() * 0.5;
        }
        let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 3 + 1) % 4).collect();
        let y: Vec<usize> = (0..steps * batch).map(|i| (i * 5 + 2) % 4).collect();
        let data = Batch::new(Input::Ids(&ids), steps, batch);
        let mut g_seq = vec![0.0; model.params.len()];
        let (e_seq, fwd, _) = model
            .loss_and_grads(
                data.with_state(&state),
                Targets::Classes(&y),
                Reduction::Mean,
                &mut g_seq,
            )
            .unwrap();
        let mut g_par = vec![0.0; model.params.len()];
        let (e_par, s_par) = model
            .loss_and_grads_parallel(
                data.with_state(&state),
                Targets::Classes(&y),
                Reduction::Mean,
                &mut g_par,
            )
            .unwrap();
        let s_seq = model.final_state(&fwd);
        assert!(
            (e_seq - e_par).abs() < 1e-12,
            "{cell:?}: loss {e_seq} vs {e_par}"
        );
        assert!(close(&g_seq, &g_par) < 1e-12, "{cell:?}: gradients differ");
        assert!(
            close(&s_seq.h, &s_par.h) < 1e-12,
            "{cell:?}: final h differs"
        );
        assert_eq!(s_seq.c.len(), s_par.c.len());
        assert!(
            close(&s_seq.c, &s_par.c) < 1e-12,
            "{cell:?}: final c differs"
        );
        // the state must matter, or this test would prove nothing
        let mut g0 = vec![0.0; model.params.len()];
        let (e0, _) = model
            .loss_and_grads_parallel(data, Targets::Classes(&y), Reduction::Mean, &mut g0)
            .unwrap();
        assert!(
            (e0 - e_par).abs() > 1e-6,
            "{cell:?}: the state changed nothing"
        );
        let mut inf = rnn::Inference::new();
        model
            .infer(data.with_state(&state).split_across_threads(), &mut inf)
            .unwrap();
        let (logits, s_inf) = (&inf.logits, &inf.state);
        assert!(
            close(&s_seq.c, &s_inf.c) < 1e-12,
            "{cell:?}: inference final c differs"
        );
        assert!(
            close(&fwd.logits, logits) < 1e-12,
            "{cell:?}: logits differ"
        );
        assert!(
            close(&s_seq.h, &s_inf.h) < 1e-12,
            "{cell:?}: inference final h differs"
        );
    }
}

/// Dropout masks are split with the batch: each part uses its own rows.
#[test]
fn batch_split_applies_dropout_masks_per_sequence() {
    let _threads = common::threads_held();
    use rand::SeedableRng;
    rnn::kernels::set_threads(2);
    let (steps, batch) = (4, 5);
    let config = ModelConfig {
        cell: CellKind::Lstm,
        num_layers: 2,
        bidirectional: true,
        ..ModelConfig::elman(4, 6, 4)
    };
    let model = Model::<f64>::new(config.clone(), 2).expect("valid config");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let masks: Vec<Vec<f64>> =
        rnn::nn::model::dropout_masks(&config, 0.3, steps, batch, &mut rng).unwrap();
    let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 3 + 2) % 4).collect();
    let y: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + 1) % 4).collect();
    let mut g_seq = vec![0.0; model.params.len()];
    let data = Batch::new(Input::Ids(&ids), steps, batch);
    let (e_seq, _, _) = model
        .loss_and_grads(
            data.with_dropout(&masks),
            Targets::Classes(&y),
            Reduction::Mean,
            &mut g_seq,
        )
        .unwrap();
    let mut g_par = vec![0.0; model.params.len()];
    let (e_par, _) = model
        .loss_and_grads_parallel(
            data.with_dropout(&masks),
            Targets::Classes(&y),
            Reduction::Mean,
            &mut g_par,
        )
        .unwrap();
    assert!((e_seq - e_par).abs() < 1e-12, "loss {e_seq} vs {e_par}");
    assert!(close(&g_seq, &g_par) < 1e-12, "gradients differ");
}

/// f32 with parts of several sequences each: the parts' step products read
/// `W_hh` packed once by the splitting thread (`kernels::shared`) rather than
/// by each part; loss, gradients and logits still match the sequential pass
/// (f32 sums in another order: within 1e-5 of the largest value).
#[test]
fn batch_split_with_shared_packed_weights_matches_sequential_f32() {
    let _threads = common::threads_held();
    rnn::kernels::set_threads(2);
    let (steps, batch) = (7, 8);
    for cell in [
        ModelConfig::elman(5, 24, 5).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for lengths in [None, Some(vec![7, 3, 5, 1, 7, 2, 6, 4])] {
            let config = ModelConfig {
                cell,
                num_layers: 2,
                bidirectional: true,
                ..ModelConfig::elman(5, 24, 5)
            };
            let model = Model::<f32>::new(config, 3).expect("valid config");
            let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + 3) % 5).collect();
            let classes: Vec<usize> = (0..steps * batch).map(|i| (i * 3 + 1) % 5).collect();
            let data = Batch {
                lengths: lengths.as_deref(),
                ..Batch::new(Input::Ids(&ids), steps, batch)
            };
            let targets = Targets::Classes(&classes);
            let mut g_seq = vec![0f32; model.params.len()];
            let (e_seq, fwd, _) = model
                .loss_and_grads(data, targets, Reduction::Mean, &mut g_seq)
                .unwrap();
            let mut g_par = vec![0f32; model.params.len()];
            let (e_par, _) = model
                .loss_and_grads_parallel(data, targets, Reduction::Mean, &mut g_par)
                .unwrap();
            let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
            let scale = |v: &[f32]| v.iter().fold(1f64, |m, &x| m.max((x as f64).abs()));
            assert!(
                ((e_seq - e_par) as f64).abs() < 1e-5 * (e_seq as f64).abs(),
                "{cell:?}: loss {e_seq} vs {e_par}"
            );
            let gd = close(&widen(&g_seq), &widen(&g_par));
            assert!(
                gd < 1e-5 * scale(&g_seq),
                "{cell:?}: gradients differ by {gd}"
            );
            let mut inf = rnn::Inference::new();
            model.infer(data.split_across_threads(), &mut inf).unwrap();
            let ld = close(&widen(&fwd.logits), &widen(&inf.logits));
            assert!(
                ld < 1e-5 * scale(&fwd.logits),
                "{cell:?}: logits differ by {ld}"
            );
        }
    }
}

/// Inference of a bidirectional model with two threads runs the two
/// directions of each layer side by side (one thread each) when the batch is
/// not split: the logits and final states are those of the run on one
/// thread, bit for bit (each direction computes the same sums in the same
/// order; only where its outputs are written differs), for every cell, ids
/// and dense inputs, one and two layers, a batch of one (a sentence being
/// tagged) and of three with and without padding, a carried state.
#[test]
fn bidirectional_inference_on_two_threads_matches_one_thread() {
    let _threads = common::threads_held();
    rnn::kernels::set_threads(2);
    let (steps, i, h, o) = (7, 3, 5, 4);
    for cell in [
        ModelConfig::elman(i, h, o).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for layers in [1, 2] {
            for (batch, lengths) in [(1, None), (3, None), (3, Some(vec![7, 2, 5]))] {
                let config = ModelConfig {
                    cell,
                    num_layers: layers,
                    bidirectional: true,
                    ..ModelConfig::elman(i, h, o)
                };
                let model = Model::<f64>::new(config, 3).expect("valid config");
                let ids: Vec<usize> = (0..steps * batch).map(|r| (r * 5 + 1) % i).collect();
                let dense: Vec<f64> = (0..steps * batch * i)
                    .map(|r| (r as f64 * 0.7).cos())
                    .collect();
                let mut carried = rnn::Inference::new();
                model
                    .infer(Batch::new(Input::Ids(&ids), steps, batch), &mut carried)
                    .unwrap();
                let state = carried.state.clone();
                for x in [Input::Ids(&ids), Input::Dense(&dense)] {
                    for with_state in [false, true] {
                        let mut data = Batch {
                            lengths: lengths.as_deref(),
                            ..Batch::new(x, steps, batch)
                        };
                        if with_state {
                            data = data.with_state(&state);
                        }
                        let mut one = rnn::Inference::new();
                        rnn::kernels::sequential(|| model.infer(data, &mut one)).unwrap();
                        let mut two = rnn::Inference::new();
                        model.infer(data, &mut two).unwrap();
                        let what = format!("{cell:?} layers {layers} batch {batch} {lengths:?}");
                        assert_eq!(one.logits, two.logits, "{what}: logits");
                        assert_eq!(one.state.h, two.state.h, "{what}: h_n");
                        assert_eq!(one.state.c, two.state.c, "{what}: c_n");
                    }
                }
            }
        }
    }
}

/// A small batch over a layer whose `W_hh` is larger than a core's L2: with
/// two threads, inference splits each step by hidden units (each thread
/// its units' gates, `layer/split.rs`) instead of by sequences. The logits
/// and final states are those of one thread, bit for bit (each unit's sums
/// and cell math are the same), for every cell, one and two layers (the
/// second over the first's dense outputs), one direction and two, with and
/// without the weights laid out once (`prepare`), from the zero state and
/// from a carried one, sequences of one length and of different ones
/// (`layer/split.rs`'s loop over the sequences still running).
#[test]
fn the_split_by_hidden_units_of_small_batches_matches_one_thread() {
    let _threads = common::threads_held();
    let (steps, batch, vocab) = (9, 4, 5);
    for cell in [
        ModelConfig::elman(vocab, 8, vocab).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        let h = units_above_l2(cell);
        for (layers, bidirectional) in [(1, false), (2, true)] {
            let model = layers_of(cell, h, layers, bidirectional, vocab);
            let ids: Vec<usize> = (0..steps * batch).map(|r| (r * 3 + 2) % vocab).collect();
            let state = carried_state(&model, batch);
            let prepared = model.prepare();
            // of equal lengths, and of different ones (a step of one
            // sequence, its product a matrix-vector one, at the end)
            let ragged = [9, 2, 6, 1];
            for (with_state, lengths) in [(false, None), (true, None), (true, Some(&ragged))] {
                let mut data = Batch::new(Input::Ids(&ids), steps, batch);
                if with_state {
                    data = data.with_state(&state);
                }
                if let Some(l) = lengths {
                    data = data.with_lengths(l);
                }
                let what = format!(
                    "{cell:?} H={h} L={layers} bi={bidirectional} state={with_state} lengths={lengths:?}"
                );
                for laid_out in [false, true] {
                    // one thread, then two: the same path but for the split
                    let run = |data, inf: &mut rnn::Inference<f32>| {
                        if laid_out {
                            prepared.infer(data, inf).unwrap();
                        } else {
                            model.infer(data, inf).unwrap();
                        }
                    };
                    rnn::kernels::set_threads(1);
                    let mut one = rnn::Inference::new();
                    run(data, &mut one);
                    rnn::kernels::set_threads(2);
                    let mut two = rnn::Inference::new();
                    run(data.split_across_threads(), &mut two);
                    assert!(
                        one.logits == two.logits,
                        "{what} prepared={laid_out}: logits"
                    );
                    assert!(
                        one.state.h == two.state.h,
                        "{what} prepared={laid_out}: h_n"
                    );
                    assert!(
                        one.state.c == two.state.c,
                        "{what} prepared={laid_out}: c_n"
                    );
                }
            }
        }
    }
}

/// Training of a few sequences over layers larger than a core's L2 at two
/// threads splits each step by hidden units (`layer/split.rs` forward,
/// `layer/split_bptt.rs` BPTT) instead of the batch by sequences: the loss,
/// final state and gradients of one thread, for every cell, one layer and
/// two bidirectional ones (the second over the first's dense outputs), from
/// the zero state and from a carried one. The forward is the same bits; the
/// weight gradients are the same sums grouped by gate rows (within 1e-5 of
/// the largest).
#[test]
fn training_split_by_hidden_units_matches_one_thread() {
    let _threads = common::threads_held();
    let (steps, batch, vocab) = (9, 4, 5);
    for cell in [
        ModelConfig::elman(vocab, 8, vocab).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        let h = units_above_l2(cell);
        for (layers, bidirectional) in [(1, false), (2, true)] {
            let model = layers_of(cell, h, layers, bidirectional, vocab);
            let ids: Vec<usize> = (0..steps * batch).map(|r| (r * 3 + 2) % vocab).collect();
            let next: Vec<usize> = (0..steps * batch).map(|r| (r * 2 + 1) % vocab).collect();
            let state = carried_state(&model, batch);
            for with_state in [false, true] {
                let mut data = Batch::new(Input::Ids(&ids), steps, batch);
                if with_state {
                    data = data.with_state(&state);
                }
                let what =
                    format!("{cell:?} H={h} L={layers} bi={bidirectional} state={with_state}");
                let run = |threads| {
                    rnn::kernels::set_threads(threads);
                    let mut g = vec![0.0f32; model.params.len()];
                    let (e, last) = model
                        .loss_and_grads_parallel(
                            data,
                            Targets::Classes(&next),
                            Reduction::Mean,
                            &mut g,
                        )
                        .unwrap();
                    (e, last, g)
                };
                let (e1, last1, g1) = run(1);
                let (e2, last2, g2) = run(2);
                assert!(
                    (e1 - e2).abs() <= 1e-6 * e1.abs(),
                    "{what}: loss {e1} vs {e2}"
                );
                let far = |a: &[f32], b: &[f32]| {
                    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    a.iter()
                        .zip(b)
                        .fold(0.0f32, |m, (u, v)| m.max((u - v).abs()))
                        / scale.max(1e-30)
                };
                assert!(far(&last1.h, &last2.h) <= 1e-6, "{what}: h_n");
                assert!(far(&last1.c, &last2.c) <= 1e-6, "{what}: c_n");
                assert!(g1.iter().any(|v| *v != 0.0), "{what}: gradients computed");
                assert!(far(&g1, &g2) <= 1e-5, "{what}: gradients {}", far(&g1, &g2));
            }
        }
    }
}

/// The smallest multiple of 8 units whose `W_hh` (`[G*H, H]` f32) exceeds a
/// core's L2: the smallest layer split by units at a few sequences.
fn units_above_l2(cell: CellKind) -> usize {
    let mut h = 8;
    while cell.gates() * h * h * 4 <= rnn::kernels::l2_bytes() {
        h += 8;
    }
    h
}

/// A state other than zero, as truncated BPTT carries over: `[L*D, B, H]`.
fn carried_state(model: &Model<f32>, batch: usize) -> rnn::State<f32> {
    let mut state = model.zero_state(batch);
    for (k, v) in state.h.iter_mut().enumerate() {
        *v = (k as f32 * 0.11).sin() * 0.5;
    }
    for (k, v) in state.c.iter_mut().enumerate() {
        *v = (k as f32 * 0.07).cos() * 0.5;
    }
    state
}

/// A model of `layers` layers of `h` units of `cell` over `vocab` classes.
fn layers_of(
    cell: CellKind,
    h: usize,
    layers: usize,
    bidirectional: bool,
    vocab: usize,
) -> Model<f32> {
    let config = ModelConfig {
        cell,
        num_layers: layers,
        bidirectional,
        ..ModelConfig::elman(vocab, h, vocab)
    };
    Model::<f32>::new(config, 7).expect("valid config")
}

/// Inference split across threads keeps each part's buffers in the
/// caller's `Inference` from call to call (fresh ones were allocated and
/// zero-filled at every call, 4-5 % of LSTM M inference at two threads): a
/// reused `Inference` gives the bits of a fresh one after calls of other
/// batch sizes, lengths (padding left in the kept buffers) and states.
#[test]
fn a_reused_inference_gives_the_bits_of_a_fresh_one_across_split_calls() {
    let _threads = common::threads_held();
    rnn::kernels::set_threads(2);
    for cell in [
        CellKind::Lstm,
        CellKind::Gru,
        ModelConfig::elman(5, 24, 5).cell,
    ] {
        let config = ModelConfig {
            cell,
            num_layers: 2,
            ..ModelConfig::elman(5, 24, 5)
        };
        let model = Model::<f32>::new(config, 5).expect("valid config");
        let mut reused = rnn::Inference::new();
        let mut carried: Option<rnn::State<f32>> = None;
        let calls: [(usize, usize, Option<Vec<usize>>); 5] = [
            (7, 8, Some(vec![7, 3, 5, 1, 7, 2, 6, 4])),
            (9, 6, None),
            (7, 8, None),
            (3, 3, Some(vec![1, 3, 2])),
            (7, 8, None),
        ];
        for (call, (steps, batch, lengths)) in calls.into_iter().enumerate() {
            let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 7 + call + 3) % 5).collect();
            let mut data = Batch {
                lengths: lengths.as_deref(),
                ..Batch::new(Input::Ids(&ids), steps, batch)
            };
            // the last call carries the final state of call 2 (batch 8)
            let state = carried.clone().filter(|_| call == 4);
            if let Some(s) = &state {
                data = data.with_state(s);
            }
            let mut fresh = rnn::Inference::new();
            model
                .infer(data.split_across_threads(), &mut fresh)
                .unwrap();
            model
                .infer(data.split_across_threads(), &mut reused)
                .unwrap();
            let what = format!("{cell:?} call {call}");
            assert_eq!(fresh.logits, reused.logits, "{what}: logits");
            assert_eq!(fresh.state, reused.state, "{what}: final state");
            if call == 2 {
                carried = Some(reused.state.clone());
            }
        }
    }
    rnn::kernels::set_threads(1);
}
