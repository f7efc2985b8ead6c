//! # An Elman RNN from scratch
//!
//! The seed's equations, one line of code each, as plain loops over `Vec<f64>`:
//!
//! ```text
//! s_t = tanh(U x_t + W s_{t-1} + b)     hidden state    [H]
//! o_t = V s_t + c                       output          [O]
//! p_t = softmax(o_t)                    probabilities   [O]
//! E   = sum_t -log p_t[y_t]             loss
//! ```
//!
//! then backpropagation through time (BPTT): the forward loop read backwards,
//! carrying `dh_next = dE/ds_t` from step `t+1` to step `t`, and a few steps
//! of plain SGD. It learns to predict the next character of a short text.
//! Every gradient is checked against the library's [`rnn::Model`] (the same
//! equations, batched and optimised) to 1e-12, and the loss must fall.
//!
//! Run it: `cargo run --release -p rnn --example elman_from_scratch`

// Index loops are the point here: each line is one term of one equation.
#![allow(clippy::needless_range_loop)]

use rnn::{Batch, Input, Model, ModelConfig, Reduction, Targets};

/// The seed model's parameters, with PyTorch's names in the library.
#[derive(Clone)]
struct Params {
    u: Vec<f64>, // [H, I]  rnn.weight_ih_l0   input  -> hidden
    w: Vec<f64>, // [H, H]  rnn.weight_hh_l0   hidden -> hidden
    b: Vec<f64>, // [H]     rnn.bias_ih_l0     hidden bias
    v: Vec<f64>, // [O, H]  head.weight        hidden -> output
    c: Vec<f64>, // [O]     head.bias          output bias
}

const NAMES: [&str; 5] = [
    "rnn.weight_ih_l0",
    "rnn.weight_hh_l0",
    "rnn.bias_ih_l0",
    "head.weight",
    "head.bias",
];

impl Params {
    fn tensors(&self) -> [&Vec<f64>; 5] {
        [&self.u, &self.w, &self.b, &self.v, &self.c]
    }
    fn tensors_mut(&mut self) -> [&mut Vec<f64>; 5] {
        [
            &mut self.u,
            &mut self.w,
            &mut self.b,
            &mut self.v,
            &mut self.c,
        ]
    }
}

/// `E` and its gradient `dE/dθ` for inputs `x` (one-hot, `[T][I]`) and
/// targets `y` (`[T]` class ids), from the zero state `s_{-1} = 0`.
fn loss_and_grads(p: &Params, x: &[Vec<f64>], y: &[usize]) -> (f64, Params) {
    let (n, h, i, o) = (x.len(), p.b.len(), x[0].len(), p.c.len());

    // ---- forward ----
    let mut s = vec![vec![0.0; h]; n + 1]; // s[t + 1] = s_t; s[0] = s_{-1} = 0
    let mut probs = vec![vec![0.0; o]; n]; // p_t
    let mut loss = 0.0;
    for t in 0..n {
        for j in 0..h {
            let mut a = p.b[j]; //                                    a = b
            for k in 0..i {
                a += p.u[j * i + k] * x[t][k]; //                       + U x_t
            }
            for k in 0..h {
                a += p.w[j * h + k] * s[t][k]; //                       + W s_{t-1}
            }
            s[t + 1][j] = a.tanh(); //                                s_t = tanh(a)
        }
        let mut out = p.c.clone(); //                                 o_t = c
        for j in 0..o {
            for k in 0..h {
                out[j] += p.v[j * h + k] * s[t + 1][k]; //                + V s_t
            }
        }
        let max = out.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = out.iter().map(|oj| (oj - max).exp()).sum();
        for j in 0..o {
            probs[t][j] = (out[j] - max).exp() / z; //                p_t = softmax(o_t)
        }
        loss -= probs[t][y[t]].ln(); //                               E += -log p_t[y_t]
    }

    // ---- BPTT: the same loop, backwards ----
    let mut g = Params {
        u: vec![0.0; h * i],
        w: vec![0.0; h * h],
        b: vec![0.0; h],
        v: vec![0.0; o * h],
        c: vec![0.0; o],
    };
    let mut dh_next = vec![0.0; h]; //                                dE/ds_t through s_{t+1}: none after the end
    for t in (0..n).rev() {
        let mut dout = probs[t].clone();
        dout[y[t]] -= 1.0; //                                         dE/do_t = p_t - onehot(y_t)
        let mut ds = dh_next.clone(); //                              dE/ds_t = dh_next
        for j in 0..o {
            g.c[j] += dout[j]; //                                     dE/dc += dE/do_t
            for k in 0..h {
                g.v[j * h + k] += dout[j] * s[t + 1][k]; //           dE/dV += dE/do_t s_t^T
                ds[k] += p.v[j * h + k] * dout[j]; //                 dE/ds_t += V^T dE/do_t
            }
        }
        let mut da = vec![0.0; h];
        for j in 0..h {
            da[j] = (1.0 - s[t + 1][j] * s[t + 1][j]) * ds[j]; //     dE/da = (1 - s_t^2) dE/ds_t
            g.b[j] += da[j]; //                                       dE/db += dE/da
            for k in 0..i {
                g.u[j * i + k] += da[j] * x[t][k]; //                 dE/dU += dE/da x_t^T
            }
            for k in 0..h {
                g.w[j * h + k] += da[j] * s[t][k]; //                 dE/dW += dE/da s_{t-1}^T
            }
        }
        for k in 0..h {
            dh_next[k] = 0.0;
            for j in 0..h {
                dh_next[k] += p.w[j * h + k] * da[j]; //              dE/ds_{t-1} = W^T dE/da
            }
        }
    }
    (loss, g)
}

fn main() {
    let text = "hello world, hello recurrent world";
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort();
    chars.dedup();
    let one_hot = |ch: char| -> Vec<f64> {
        chars
            .iter()
            .map(|&k| if k == ch { 1.0 } else { 0.0 })
            .collect()
    };
    let id = |ch: char| {
        chars
            .iter()
            .position(|&k| k == ch)
            .expect("a character of the text")
    };
    // read each character, predict the next one
    let n = text.chars().count();
    let x: Vec<Vec<f64>> = text.chars().take(n - 1).map(one_hot).collect();
    let y: Vec<usize> = text.chars().skip(1).map(id).collect();
    let (i, h, o) = (chars.len(), 16, chars.len());

    // the library's seed model: one bias b (no PyTorch bias_hh), initialised
    // like PyTorch; our parameters start as copies of its tensors
    let config = ModelConfig {
        bias_hh: false,
        ..ModelConfig::elman(i, h, o)
    };
    let mut model = Model::<f64>::new(config, 1).expect("a valid config");
    let copy = |name: &str| model.param(name).expect("the seed model's tensor").to_vec();
    let mut p = Params {
        u: copy(NAMES[0]),
        w: copy(NAMES[1]),
        b: copy(NAMES[2]),
        v: copy(NAMES[3]),
        c: copy(NAMES[4]),
    };

    let lr = 0.05;
    let mut losses = Vec::new();
    for step in 0..30 {
        let (loss, grads) = loss_and_grads(&p, &x, &y);

        // the library's loss and gradients at the same parameters
        for (name, ours) in NAMES.iter().zip(p.tensors()) {
            model
                .param_mut(name)
                .expect("a seed tensor")
                .copy_from_slice(ours);
        }
        let flat: Vec<f64> = x.concat(); // [T, B = 1, I]
        let batch = Batch::new(Input::Dense(&flat), x.len(), 1);
        let mut lib = vec![0.0; model.params.len()];
        let (lib_loss, _, _) = model
            .loss_and_grads(batch, Targets::Classes(&y), Reduction::Sum, &mut lib)
            .expect("the inputs were built to fit the model");
        let mut worst = (loss - lib_loss).abs() / lib_loss.abs().max(1.0);
        for (name, ours) in NAMES.iter().zip(grads.tensors()) {
            let theirs = &lib[model.entry(name).expect("a seed tensor").range()];
            for (a, b) in ours.iter().zip(theirs) {
                worst = worst.max((a - b).abs() / b.abs().max(1.0));
            }
        }
        assert!(
            worst < 1e-12,
            "step {step}: ours and rnn::Model's differ by {worst:e}"
        );
        println!("step {step:2}  E = {loss:8.4}  largest difference from rnn::Model: {worst:.1e}");

        // SGD: θ -= lr dE/dθ
        for (theta, grad) in p.tensors_mut().into_iter().zip(grads.tensors()) {
            for (t, g) in theta.iter_mut().zip(grad) {
                *t -= lr * g;
            }
        }
        losses.push(loss);
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(
        last < 0.5 * first,
        "the loss should fall: {first} -> {last}"
    );
    println!("E fell from {first:.4} to {last:.4}; every gradient equals rnn::Model's to 1e-12");
}
