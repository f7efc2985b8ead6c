//! A padded batch gives exactly the outputs and gradients of the same
//! sequences run one at a time (f64, tolerance 1e-12), for every cell kind,
//! stacked and bidirectional, whatever the padding holds.

use rnn::nn::cell::{Activation, CellKind};
use rnn::nn::layer::Input;
use rnn::nn::loss::{loss_and_grad, OutputKind, Reduction, Targets};
use rnn::nn::model::Batch;
use rnn::{Model, ModelConfig};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

fn check(cell: CellKind, layers: usize, bidirectional: bool) {
    let (i_n, o_n) = (3, 4);
    let mut cfg = ModelConfig::elman(i_n, 5, o_n);
    cfg.cell = cell;
    cfg.num_layers = layers;
    cfg.bidirectional = bidirectional;
    let model = Model::<f64>::new(cfg, 11).unwrap();
    let lengths = [5usize, 2, 4];
    let (steps, batch) = (5, lengths.len());
    // x[t, b, i]: a deterministic pattern; padding holds large garbage
    let val = |t: usize, b: usize, i: usize| ((t * 7 + b * 3 + i) as f64 * 0.37).sin();
    let mut x = vec![1e3; steps * batch * i_n];
    let mut y = vec![0usize; steps * batch];
    let mut mask = vec![false; steps * batch];
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len {
            for i in 0..i_n {
                x[(t * batch + b) * i_n + i] = val(t, b, i);
            }
            y[t * batch + b] = (t + 2 * b) % o_n;
            mask[t * batch + b] = true;
        }
    }
    let fwd = model
        .forward(Batch::new(Input::Dense(&x), steps, batch).with_lengths(&lengths))
        .unwrap();
    let mut dlogits = vec![0.0; fwd.logits.len()];
    let loss = loss_and_grad(
        OutputKind::Softmax,
        &fwd.logits,
        o_n,
        Targets::Classes(&y),
        Some(&mask),
        Reduction::Sum,
        &mut dlogits,
    )
    .unwrap();
    let mut grads = vec![0.0; model.params.len()];
    let (_, dx) = model
        .backward(
            &fwd,
            Input::Dense(&x),
            Some(&lengths),
            &dlogits,
            None,
            &mut grads,
            true,
        )
        .unwrap();
    let dx = dx.unwrap();

    let mut grads_one = vec![0.0; model.params.len()];
    let mut loss_one = 0.0;
    for (b, &len) in lengths.iter().enumerate() {
        let xb: Vec<f64> = (0..len)
            .flat_map(|t| (0..i_n).map(move |i| val(t, b, i)))
            .collect();
        let yb: Vec<usize> = (0..len).map(|t| (t + 2 * b) % o_n).collect();
        let f1 = model
            .forward(Batch::new(Input::Dense(&xb), len, 1))
            .unwrap();
        for t in 0..len {
            for o in 0..o_n {
                let (a, c) = (
                    f1.logits[t * o_n + o],
                    fwd.logits[(t * batch + b) * o_n + o],
                );
                assert!(close(a, c), "{cell:?} logits b={b} t={t}: {a} vs {c}");
            }
        }
        let mut d1 = vec![0.0; f1.logits.len()];
        loss_one += loss_and_grad(
            OutputKind::Softmax,
            &f1.logits,
            o_n,
            Targets::Classes(&yb),
            None,
            Reduction::Sum,
            &mut d1,
        )
        .unwrap();
        let (_, dx1) = model
            .backward(
                &f1,
                Input::Dense(&xb),
                None,
                &d1,
                None,
                &mut grads_one,
                true,
            )
            .unwrap();
        let dx1 = dx1.unwrap();
        for t in 0..steps {
            for i in 0..i_n {
                let got = dx[(t * batch + b) * i_n + i];
                if t < len {
                    assert!(close(got, dx1[t * i_n + i]), "{cell:?} dx b={b} t={t}");
                } else {
                    assert_eq!(got, 0.0, "padding must get no gradient");
                }
            }
        }
    }
    assert!(close(loss, loss_one), "{loss} vs {loss_one}");
    for (k, (a, c)) in grads.iter().zip(&grads_one).enumerate() {
        assert!(
            close(*a, *c),
            "{cell:?} L={layers} bi={bidirectional} grad {k}: {a} vs {c}"
        );
    }
    assert!(grads.iter().any(|g| g.abs() > 1e-6));
}

#[test]
fn padded_batch_equals_one_at_a_time() {
    for cell in [
        CellKind::Elman {
            activation: Activation::Tanh,
        },
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        check(cell, 1, false);
        check(cell, 2, true);
    }
}
