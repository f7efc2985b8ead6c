//! The large buffers of a training iteration (the forward caches, `dE/dxi`)
//! come from a per-thread pool and are not zeroed before use: every value
//! is written before it is read, but for padding positions, whose outputs
//! alone are zeroed (the only values read there). Checked here by running an
//! iteration on a thread whose pooled buffers hold an earlier iteration's
//! values (other data, other lengths) and comparing it, bit for bit, with the
//! same iteration on a fresh thread (whose buffers start as zeros), and by
//! the outputs at padding positions of a forward pass on such a thread.

use rnn::nn::cell::CellKind;
use rnn::nn::layer::Input;
use rnn::nn::loss::{Reduction, Targets};
use rnn::nn::model::Batch;
use rnn::{Model, ModelConfig};

/// T = 64, B = 16, H = 256: every cache of the forward pass and `dE/dxi`
/// holds at least 1 MiB, the size from which the pool keeps buffers.
const T: usize = 64;
const B: usize = 16;
const V: usize = 7;

fn model(cell: CellKind) -> Model<f32> {
    let config = ModelConfig {
        cell,
        num_layers: 2,
        ..ModelConfig::elman(V, 256, V)
    };
    Model::<f32>::new(config, 11).expect("valid config")
}

/// Loss and gradients of one iteration on ids and classes made from `seed`,
/// with `lengths` (padding) or without.
fn iteration(m: &Model<f32>, seed: usize, lengths: Option<&[usize]>) -> (f32, Vec<f32>) {
    let ids: Vec<usize> = (0..T * B).map(|i| (i * 5 + seed * 3) % V).collect();
    let classes: Vec<usize> = (0..T * B).map(|i| (i * 3 + seed) % V).collect();
    let data = Batch {
        lengths,
        ..Batch::new(Input::Ids(&ids), T, B)
    };
    let mut g = vec![0f32; m.params.len()];
    let (e, _, _) = m
        .loss_and_grads(data, Targets::Classes(&classes), Reduction::Mean, &mut g)
        .expect("valid batch");
    (e, g)
}

#[test]
fn pooled_buffers_from_an_earlier_iteration_change_nothing() {
    let lengths: Vec<usize> = (0..B).map(|b| 1 + (37 * b + 11) % T).collect();
    for cell in [
        ModelConfig::elman(V, 8, V).cell,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        let m = model(cell);
        let fresh = std::thread::scope(|s| s.spawn(|| iteration(&m, 2, None)).join().unwrap());
        let fresh_ragged =
            std::thread::scope(|s| s.spawn(|| iteration(&m, 5, Some(&lengths))).join().unwrap());
        let (after, after_ragged, padding) = std::thread::scope(|s| {
            s.spawn(|| {
                iteration(&m, 1, None); // fills the pooled buffers
                iteration(&m, 3, Some(&lengths)); // with padding
                iteration(&m, 4, None);
                let after = iteration(&m, 2, None);
                iteration(&m, 6, None);
                let after_ragged = iteration(&m, 5, Some(&lengths));
                // the outputs of a padded forward pass on pooled buffers
                iteration(&m, 7, None);
                let ids: Vec<usize> = (0..T * B).map(|i| (i * 3 + 1) % V).collect();
                let fwd = m
                    .forward(Batch::new(Input::Ids(&ids), T, B).with_lengths(&lengths))
                    .expect("valid batch");
                let mut padding = Vec::new(); // every value past a length
                for k in 0..2 {
                    let out = m.layer_output(&fwd, k).expect("two layers");
                    let w = out.len() / (T * B);
                    for (b, &l) in lengths.iter().enumerate() {
                        for t in l..T {
                            padding.extend_from_slice(&out[(t * B + b) * w..(t * B + b + 1) * w]);
                        }
                    }
                }
                (after, after_ragged, padding)
            })
            .join()
            .unwrap()
        });
        assert!(fresh.1.iter().any(|&g| g != 0.0), "{cell:?}: no gradient");
        assert_eq!(fresh.0.to_bits(), after.0.to_bits(), "{cell:?}: loss");
        assert!(fresh.1 == after.1, "{cell:?}: gradients differ");
        assert_eq!(
            fresh_ragged.0.to_bits(),
            after_ragged.0.to_bits(),
            "{cell:?}: padded loss"
        );
        assert!(
            fresh_ragged.1 == after_ragged.1,
            "{cell:?}: padded gradients differ"
        );
        assert!(!padding.is_empty());
        assert!(
            padding.iter().all(|&v| v == 0.0),
            "{cell:?}: outputs past a length not zero"
        );
    }
}

/// Dense inputs: BPTT keeps `dE/dxi_t` of every row for the input weights'
/// gradients after the loop, a pooled buffer whose padding rows it zeroes
/// (the bias gradient sums every row). An iteration with padding after one
/// that filled the pool (through `loss_and_grads_parallel`, one thread: the
/// caches given back too) gives the bits of one on a fresh thread.
#[test]
fn pooled_buffers_leave_dense_inputs_gradients_with_padding_alone() {
    let ni = 16;
    let lengths: Vec<usize> = (0..B).map(|b| 1 + (37 * b + 11) % T).collect();
    for cell in [ModelConfig::elman(ni, 8, V).cell, CellKind::Gru] {
        let m = Model::<f32>::new(
            ModelConfig {
                cell,
                ..ModelConfig::elman(ni, 256, V)
            },
            12,
        )
        .expect("valid config");
        let run = |seed: usize, lengths: Option<&[usize]>| {
            let x: Vec<f32> = (0..T * B * ni)
                .map(|i| ((i * 7 + seed * 5) % 11) as f32 / 5.0 - 1.0)
                .collect();
            let classes: Vec<usize> = (0..T * B).map(|i| (i * 3 + seed) % V).collect();
            let data = Batch {
                lengths,
                ..Batch::new(Input::Dense(&x), T, B)
            };
            let mut g = vec![0f32; m.params.len()];
            // as training runs it: the forward caches go back to the pool
            let (e, _) = m
                .loss_and_grads_parallel(data, Targets::Classes(&classes), Reduction::Mean, &mut g)
                .expect("valid batch");
            (e, g)
        };
        let fresh = std::thread::scope(|s| s.spawn(|| run(2, Some(&lengths))).join().unwrap());
        let after = std::thread::scope(|s| {
            s.spawn(|| {
                run(1, None); // fills the pooled buffers, dE/dxi_t every row
                run(2, Some(&lengths))
            })
            .join()
            .unwrap()
        });
        assert_eq!(fresh.0.to_bits(), after.0.to_bits(), "{cell:?}: loss");
        assert!(fresh.1 == after.1, "{cell:?}: gradients differ");
    }
}
