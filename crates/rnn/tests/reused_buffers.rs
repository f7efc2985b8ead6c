//! The large buffers of a training iteration (the forward caches, `dE/dxi`)
//! come from a per-thread pool and, without padding, are not zeroed before
//! use: every value is written before it is read. Checked here by running an
//! iteration on a thread whose pooled buffers hold an earlier iteration's
//! values (other data, other lengths) and comparing it, bit for bit, with the
//! same iteration on a fresh thread (whose buffers start as zeros).

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
        let after = std::thread::scope(|s| {
            s.spawn(|| {
                iteration(&m, 1, None); // fills the pooled buffers
                iteration(&m, 3, Some(&lengths)); // with padding: zeroed ones
                iteration(&m, 4, None);
                iteration(&m, 2, None)
            })
            .join()
            .unwrap()
        });
        assert!(fresh.1.iter().any(|&g| g != 0.0), "{cell:?}: no gradient");
        assert_eq!(fresh.0.to_bits(), after.0.to_bits(), "{cell:?}: loss");
        assert!(fresh.1 == after.1, "{cell:?}: gradients differ");
    }
}
