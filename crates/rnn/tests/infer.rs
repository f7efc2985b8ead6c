//! The inference-only forward pass (`Model::infer`, whole or split across threads)
//! gives the logits and final state of `Model::forward`, for every cell,
//! stacked and bidirectional layers, ids and dense inputs, padding, a given
//! initial state and one `Inference` reused across all of these shapes.

use rnn::nn::cell::{Activation, CellKind};
use rnn::nn::layer::Input;
use rnn::nn::model::{Batch, State};
use rnn::{Float, Inference, Model, ModelConfig};
mod common;
use common::max_rel;

/// One case: (steps, batch, input classes or width, layers, bidirectional).
const SHAPES: [(usize, usize, usize, usize, bool); 8] = [
    (1, 1, 5, 1, false),
    (25, 1, 65, 1, false), // the S benchmark's shape: fewer rows than classes
    (9, 1, 4, 1, false),   // more rows than classes (the U^T table)
    (6, 5, 4, 1, false),
    (7, 1, 6, 2, false),
    (5, 3, 6, 2, true),
    (4, 1, 3, 1, true),
    (8, 4, 9, 3, false),
];

fn check<T: Float>(tol: f64) {
    let cells = [
        CellKind::Elman {
            activation: Activation::Tanh,
        },
        CellKind::Elman {
            activation: Activation::Relu,
        },
        CellKind::Lstm,
        CellKind::Gru,
    ];
    // one Inference for every case: stale buffers from a larger or unpadded
    // call must not leak into the next
    let mut inf = Inference::<T>::new();
    let mut cases = 0;
    for cell in cells {
        for (si, &(steps, batch, input, layers, bidirectional)) in SHAPES.iter().enumerate() {
            for dense in [false, true] {
                for padded in [false, true] {
                    let config = ModelConfig {
                        cell,
                        num_layers: layers,
                        bidirectional,
                        bias_hh: si % 3 != 1,
                        ..ModelConfig::elman(input, 8 + si % 3, 5)
                    };
                    let model = Model::<T>::new(config, si as u64 + 3).expect("valid config");
                    let n = steps * batch;
                    let ids: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % input).collect();
                    let xs: Vec<T> = (0..n * input)
                        .map(|i| T::of((i as f64 * 0.37).sin()))
                        .collect();
                    let x = if dense {
                        Input::Dense(&xs)
                    } else {
                        Input::Ids(&ids)
                    };
                    let lengths: Option<Vec<usize>> =
                        padded.then(|| (0..batch).map(|b| steps - (b * 2) % steps).collect());
                    let l = lengths.as_deref();
                    // a non-zero initial state on every other case
                    let state = (cases % 2 == 1).then(|| {
                        let z = model.zero_state(batch);
                        State {
                            h: (0..z.h.len())
                                .map(|i| T::of((i as f64 * 0.3).cos() * 0.5))
                                .collect(),
                            c: (0..z.c.len())
                                .map(|i| T::of((i as f64 * 0.7).sin()))
                                .collect(),
                        }
                    });
                    let data = Batch {
                        x,
                        steps,
                        batch,
                        state: state.as_ref(),
                        lengths: l,
                        masks: None,
                        split: false,
                    };
                    let fwd = model.forward(data).unwrap();
                    model.infer(data, &mut inf).unwrap();
                    let what = format!(
                        "{} T={steps} B={batch} L={layers} bi={bidirectional} dense={dense} padded={padded}",
                        cell.name()
                    );
                    let e = max_rel(&inf.logits, &fwd.logits);
                    assert!(e <= tol, "{what}: logits differ by {e}");
                    let want = model.final_state(&fwd);
                    assert!(max_rel(&inf.state.h, &want.h) <= tol, "{what}: h_n");
                    assert!(max_rel(&inf.state.c, &want.c) <= tol, "{what}: c_n");
                    // padding positions are exactly zero, as in forward
                    if let Some(l) = l {
                        let o = model.config.output_size;
                        for (r, row) in inf.logits.chunks_exact(o).enumerate() {
                            if r / batch >= l[r % batch] {
                                assert!(row.iter().all(|&v| v == T::zero()), "{what}: padding");
                            }
                        }
                    }
                    // the batch split across threads, from the zero state
                    rnn::kernels::set_threads(3);
                    let mut par = Inference::new();
                    let data0 = Batch {
                        state: None,
                        ..data
                    };
                    model.infer(data0.split_across_threads(), &mut par).unwrap();
                    rnn::kernels::set_threads(1);
                    let fwd0 = model.forward(data0).unwrap();
                    let e = max_rel(&par.logits, &fwd0.logits);
                    assert!(e <= tol, "{what}: parallel logits differ by {e}");
                    let want = model.final_state(&fwd0);
                    assert!(
                        max_rel(&par.state.h, &want.h) <= tol,
                        "{what}: parallel h_n"
                    );
                    assert!(
                        max_rel(&par.state.c, &want.c) <= tol,
                        "{what}: parallel c_n"
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 4 * SHAPES.len() * 4);
}

#[test]
fn infer_matches_forward_f64() {
    let _threads = common::threads_held();
    check::<f64>(1e-12);
}

#[test]
fn infer_matches_forward_f32() {
    let _threads = common::threads_held();
    check::<f32>(1e-5);
}

#[test]
fn infer_carries_the_state_across_windows() {
    let _threads = common::threads_held();
    // two windows with the state carried = one window over both
    let model = Model::<f64>::new(
        ModelConfig {
            cell: CellKind::Lstm,
            num_layers: 2,
            ..ModelConfig::elman(6, 7, 6)
        },
        9,
    )
    .expect("valid config");
    let ids: Vec<usize> = (0..12).map(|i| (i * 5 + 1) % 6).collect();
    let whole = model.forward(Batch::new(Input::Ids(&ids), 12, 1)).unwrap();
    let mut inf = Inference::new();
    model
        .infer(Batch::new(Input::Ids(&ids[..5]), 5, 1), &mut inf)
        .unwrap();
    let first = inf.logits.clone();
    let carried = inf.state.clone();
    model
        .infer(
            Batch::new(Input::Ids(&ids[5..]), 7, 1).with_state(&carried),
            &mut inf,
        )
        .unwrap();
    let both: Vec<f64> = first.iter().chain(&inf.logits).copied().collect();
    assert!(max_rel(&both, &whole.logits) <= 1e-12);
    assert!(max_rel(&inf.state.h, &model.final_state(&whole).h) <= 1e-12);
}
