//! Batch-1 inference with two threads is split by hidden units between the
//! calling thread and the library's partner thread (`nn::layer::split`);
//! the logits and final states must be the same bits as with one thread,
//! through `Model::infer`, for ids (the table path: more steps than classes)
//! and dense inputs, stacked and bidirectional layers, and an initial state.
//! The split must have run (`pair_jobs` counts it), or the test would
//! compare one thread with itself.

mod common;

use rnn::nn::layer::Input;
use rnn::nn::model::{Batch, State};
use rnn::{CellKind, Inference, Model, ModelConfig};

fn run(
    model: &Model<f32>,
    x: Input<f32>,
    steps: usize,
    state: Option<&State<f32>>,
) -> Inference<f32> {
    let mut inf = Inference::new();
    let mut batch = Batch::new(x, steps, 1);
    if let Some(s) = state {
        batch = batch.with_state(s);
    }
    model.infer(batch, &mut inf).unwrap();
    inf
}

#[test]
fn batch_one_inference_split_across_two_threads_gives_the_same_bits() {
    let _threads = common::threads_held();
    for (cell, layers, bidirectional) in [
        (CellKind::Lstm, 2, false),
        (CellKind::Gru, 1, false),
        (CellKind::Lstm, 1, true),
    ] {
        let (v, h, steps) = (65, 100, 120);
        let config = ModelConfig {
            cell,
            num_layers: layers,
            bidirectional,
            ..ModelConfig::elman(v, h, v)
        };
        let model = Model::<f32>::new(config, 3).unwrap();
        let ids: Vec<usize> = (0..steps).map(|i| (i * 7 + 3) % v).collect(); // [T, 1]
        let dense: Vec<f32> = (0..steps * v)
            .map(|k| ((k * 13 + 1) as f32 * 0.618).sin())
            .collect();
        for input in [Input::Ids(&ids), Input::Dense(&dense)] {
            rnn::kernels::set_threads(1);
            let one = run(&model, input, steps, None);
            // carry the state on into a second chunk
            let one_more = run(&model, input, steps, Some(&one.state));
            rnn::kernels::set_threads(2);
            let before = rnn::kernels::pair_jobs();
            let two = run(&model, input, steps, None);
            let two_more = run(&model, input, steps, Some(&two.state));
            let jobs = rnn::kernels::pair_jobs() - before;
            rnn::kernels::set_threads(1);
            let what = format!("{cell:?} layers={layers} bidirectional={bidirectional}");
            // bidirectional layers run their two directions on two threads
            // instead (no split inside them)
            // (and with one core there is no partner)
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let expected = if bidirectional || cores < 2 {
                0
            } else {
                2 * layers
            };
            assert_eq!(jobs, expected, "{what}: layer calls split");
            assert!(one.logits == two.logits, "{what}: logits");
            assert!(one.state.h == two.state.h, "{what}: final h");
            assert!(one.state.c == two.state.c, "{what}: final c");
            assert!(
                one_more.logits == two_more.logits,
                "{what}: logits of the second chunk"
            );
            assert!(one.logits.iter().all(|x| x.is_finite()));
        }
    }
}
