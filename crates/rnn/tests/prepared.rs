//! `Prepared::infer` (the weights laid out once: the ids table `W_ih^T +
//! b_ih`, and in f32 with AVX2 `W_hh^T` read down its columns) against
//! `Model::infer`:
//! - f64: the same bits, for every cell, ids and dense inputs, stacked and
//!   bidirectional layers, batches of one and more, padded batches, and a
//!   state carried into a second call (the table holds the same sums as the
//!   gather; f64 has no column kernel);
//! - f32: the same up to rounding (the batch-1 product sums in another
//!   order; batches give the same bits), and the same bits on one thread
//!   and on two (the split by hidden units reads each half's columns of the
//!   same layout);
//! - bad input: the same errors as `Model::infer`.

use rnn::nn::cell::Activation;
use rnn::nn::layer::Input;
use rnn::nn::model::{Batch, State};
use rnn::{CellKind, Float, Inference, Model, ModelConfig};
mod common;
use common::max_rel;

const CELLS: [CellKind; 3] = [
    CellKind::Elman {
        activation: Activation::Tanh,
    },
    CellKind::Lstm,
    CellKind::Gru,
];

fn config(cell: CellKind, v: usize, h: usize, layers: usize, bi: bool) -> ModelConfig {
    ModelConfig {
        cell,
        num_layers: layers,
        bidirectional: bi,
        ..ModelConfig::elman(v, h, v)
    }
}

/// Ids `[T, B]` and a dense input `[T, B, V]` of a fixed pattern.
fn inputs<T: Float>(steps: usize, batch: usize, v: usize) -> (Vec<usize>, Vec<T>) {
    let ids = (0..steps * batch).map(|i| (i * 7 + 3) % v).collect();
    let dense = (0..steps * batch * v)
        .map(|k| T::of(((k * 13 + 1) as f64 * 0.618).sin()))
        .collect();
    (ids, dense)
}

/// One call of `Model::infer` (`prepared` false) or `Prepared::infer`.
fn call<T: Float>(
    model: &Model<T>,
    prepared: bool,
    x: Input<T>,
    steps: usize,
    batch: usize,
    lengths: Option<&[usize]>,
    state: Option<&State<T>>,
) -> Inference<T> {
    let mut inf = Inference::new();
    let mut data = Batch::new(x, steps, batch);
    if let Some(l) = lengths {
        data = data.with_lengths(l);
    }
    if let Some(s) = state {
        data = data.with_state(s);
    }
    if prepared {
        model.prepare().infer(data, &mut inf).unwrap();
    } else {
        model.infer(data, &mut inf).unwrap();
    }
    inf
}

#[test]
fn f64_prepared_inference_is_the_same_bits() {
    let _threads = common::threads_held();
    let (v, h, steps) = (11, 9, 13);
    let mut cases = 0;
    for cell in CELLS {
        for (layers, bi) in [(1, false), (2, false), (1, true)] {
            let model = Model::<f64>::new(config(cell, v, h, layers, bi), 5).unwrap();
            for batch in [1, 3] {
                let (ids, dense) = inputs::<f64>(steps, batch, v);
                let lengths: Vec<usize> = (0..batch).map(|b| steps - 4 * b).collect();
                for x in [Input::Ids(&ids), Input::Dense(&dense)] {
                    for padded in [false, true] {
                        let l = padded.then_some(lengths.as_slice());
                        let what = format!(
                            "{} layers={layers} bi={bi} B={batch} padded={padded} ids={}",
                            cell.name(),
                            matches!(x, Input::Ids(_))
                        );
                        let plain = call(&model, false, x, steps, batch, l, None);
                        let prep = call(&model, true, x, steps, batch, l, None);
                        assert!(plain.logits == prep.logits, "{what}: logits");
                        assert!(plain.state == prep.state, "{what}: final state");
                        // the state carried on into a second call
                        let plain2 = call(&model, false, x, steps, batch, l, Some(&plain.state));
                        let prep2 = call(&model, true, x, steps, batch, l, Some(&prep.state));
                        assert!(plain2.logits == prep2.logits, "{what}: second call");
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 3 * 2 * 2 * 2);
}

#[test]
fn f32_prepared_inference_matches_and_is_the_same_bits_on_two_threads() {
    let _threads = common::threads_held();
    // H = 100: W_hh of the LSTM and GRU is large enough for the split
    // (64 KiB); 37 steps: more than the split's minimum, fewer than the
    // 65 classes (so the unprepared ids path gathers columns)
    let (v, h, steps) = (65, 100, 37);
    for cell in CELLS {
        for (layers, bi) in [(1, false), (2, false), (1, true)] {
            let model = Model::<f32>::new(config(cell, v, h, layers, bi), 9).unwrap();
            for batch in [1, 4] {
                let (ids, dense) = inputs::<f32>(steps, batch, v);
                for x in [Input::Ids(&ids), Input::Dense(&dense)] {
                    let what = format!(
                        "{} layers={layers} bi={bi} B={batch} ids={}",
                        cell.name(),
                        matches!(x, Input::Ids(_))
                    );
                    rnn::kernels::set_threads(1);
                    let plain = call(&model, false, x, steps, batch, None, None);
                    let one = call(&model, true, x, steps, batch, None, None);
                    let one_more = call(&model, true, x, steps, batch, None, Some(&one.state));
                    rnn::kernels::set_threads(2);
                    let before = rnn::kernels::pair_jobs();
                    let two = call(&model, true, x, steps, batch, None, None);
                    let two_more = call(&model, true, x, steps, batch, None, Some(&two.state));
                    let jobs = rnn::kernels::pair_jobs() - before;
                    rnn::kernels::set_threads(1);
                    // the split ran where it should (one sequence, one
                    // direction, W_hh of 64 KiB or more, two cores), or the
                    // bits compared would be one thread's twice
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    let split = batch == 1 && !bi && cores > 1 && cell != CELLS[0];
                    let expected = if split { 2 * layers } else { 0 };
                    assert_eq!(jobs, expected, "{what}: layer calls split");
                    if batch > 1 {
                        // batches: the same packed step product as the
                        // unprepared loop (packed once instead of per call)
                        assert!(one.logits == plain.logits, "{what}: prepared bits");
                        assert!(one.state == plain.state, "{what}: prepared state bits");
                    }
                    let e = max_rel(&one.logits, &plain.logits);
                    assert!(e < 1e-5, "{what}: prepared logits differ by {e}");
                    assert!(max_rel(&one.state.h, &plain.state.h) < 1e-5, "{what}: h");
                    assert!(one.logits == two.logits, "{what}: one thread and two");
                    assert!(one.state == two.state, "{what}: final state, two threads");
                    assert!(one_more.logits == two_more.logits, "{what}: second call");
                    assert!(one.logits.iter().all(|z| z.is_finite()), "{what}");
                }
            }
        }
    }
}

#[test]
fn prepared_inference_refuses_what_model_infer_refuses() {
    let _threads = common::threads_held();
    let model = Model::<f32>::new(config(CellKind::Lstm, 5, 8, 1, false), 1).unwrap();
    let prepared = model.prepare();
    let mut inf = Inference::new();
    // an ids slice shorter than T*B, an id past the classes, a dense input of
    // the wrong width: errors naming the argument, not panics
    for (x, steps) in [
        (Input::Ids(&[1][..]), 2),
        (Input::Ids(&[0, 7][..]), 2),
        (Input::Dense(&[0.5f32; 7][..]), 1),
    ] {
        let want = model.infer(Batch::new(x, steps, 1), &mut inf).unwrap_err();
        let got = prepared
            .infer(Batch::new(x, steps, 1), &mut inf)
            .unwrap_err();
        assert_eq!(got.to_string(), want.to_string());
    }
    assert!(std::ptr::eq(prepared.model(), &model));
}
