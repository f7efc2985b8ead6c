//! Micro-benchmarks of the pieces of one training iteration, at the shapes of
//! `rnn bench` (S: B=1 H=100, M: B=32 H=256 T=100, L: B=64 H=1024 T=100; V=65):
//! one recurrent step forward and backward, the batched projections (GEMMs)
//! and a whole `loss_and_grads` call.
//!
//! Run with `cargo bench -p rnn --bench kernels [-- FILTER]`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rnn::kernels::gemm;
use rnn::nn::cell::{Activation, CellKind};
use rnn::nn::layer::{Input, LayerGrads, LayerParams, Recurrent};
use rnn::nn::loss::{Reduction, Targets};
use rnn::nn::model::Batch;
use rnn::{Model, ModelConfig};
use std::hint::black_box;

const V: usize = 65;

/// `(name, B, H, T)`.
const SHAPES: [(&str, usize, usize, usize); 3] =
    [("S", 1, 100, 25), ("M", 32, 256, 100), ("L", 64, 1024, 100)];

fn filled(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104729) % 2001) as f32 / 1000.0 - 1.0) * 0.05)
        .collect()
}

fn ids(n: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 31 + 7) % V).collect()
}

/// One time step (T = 1) of an Elman tanh layer, forward and backward.
fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("step");
    for (name, b, h, _) in SHAPES {
        let layer = Recurrent {
            cell: CellKind::Elman {
                activation: Activation::Tanh,
            },
            input_size: V,
            hidden: h,
            reverse: false,
        };
        let (w_ih, w_hh, b_ih, b_hh) = (
            filled(h * V, 1),
            filled(h * h, 2),
            filled(h, 3),
            filled(h, 4),
        );
        let p = LayerParams {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: &b_ih,
            b_hh: Some(&b_hh),
        };
        let x = ids(b);
        let h0 = filled(b * h, 5);
        g.throughput(Throughput::Elements(b as u64));
        g.bench_function(BenchmarkId::new("forward", name), |bench| {
            bench.iter(|| layer.forward(&p, Input::Ids(&x), 1, b, Some(&h0), None, None))
        });
        let cache = layer.forward(&p, Input::Ids(&x), 1, b, Some(&h0), None, None);
        let dh = filled(b * h, 6);
        let (mut gw_ih, mut gw_hh, mut gb_ih, mut gb_hh) = (
            vec![0f32; h * V],
            vec![0f32; h * h],
            vec![0f32; h],
            vec![0f32; h],
        );
        g.bench_function(BenchmarkId::new("backward", name), |bench| {
            bench.iter(|| {
                let mut lg = LayerGrads {
                    w_ih: &mut gw_ih,
                    w_hh: &mut gw_hh,
                    b_ih: &mut gb_ih,
                    b_hh: Some(&mut gb_hh),
                };
                layer.backward(
                    &p,
                    &cache,
                    Input::Ids(&x),
                    1,
                    b,
                    None,
                    &dh,
                    None,
                    None,
                    &mut lg,
                    None,
                )
            })
        });
    }
    g.finish();
}

/// The matrix products of one iteration at the M and L shapes.
fn projections(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20);
    for (name, b, h, t) in &SHAPES[1..] {
        let (b, h, t) = (*b, *h, *t);
        let rows = b * t;
        let w = filled(h * h, 1);
        let s = filled(rows * h, 2);
        let d = filled(rows * h, 3);
        let vw = filled(V * h, 4);
        let dl = filled(rows * V, 5);
        let mut out = vec![0f32; rows * h.max(V)];
        let mut gw = vec![0f32; h * h];
        let mut gv = vec![0f32; V * h];
        // gh = s_{t-1} W^T   [B, H] x [H, H]
        g.throughput(Throughput::Elements((2 * b * h * h) as u64));
        g.bench_function(BenchmarkId::new("recurrent_step", name), |bench| {
            bench.iter(|| gemm(b, h, h, &s, false, &w, true, &mut out, true))
        });
        // dE/ds_{t-1} = delta_t W   [B, H] x [H, H]
        g.bench_function(BenchmarkId::new("recurrent_step_back", name), |bench| {
            bench.iter(|| gemm(b, h, h, &d, false, &w, false, &mut out, true))
        });
        // dW = sum_t delta_t s_{t-1}^T   [H, T*B] x [T*B, H]
        g.throughput(Throughput::Elements((2 * rows * h * h) as u64));
        g.bench_function(BenchmarkId::new("dW_all_steps", name), |bench| {
            bench.iter(|| gemm(h, h, rows, &d, true, &s, false, &mut gw, true))
        });
        // logits = S V^T   [T*B, H] x [H, O]
        g.throughput(Throughput::Elements((2 * rows * h * V) as u64));
        g.bench_function(BenchmarkId::new("readout", name), |bench| {
            bench.iter(|| gemm(rows, V, h, &s, false, &vw, true, &mut out, false))
        });
        // dV = dE/do^T S   [O, T*B] x [T*B, H]
        g.bench_function(BenchmarkId::new("readout_dV", name), |bench| {
            bench.iter(|| gemm(V, h, rows, &dl, true, &s, false, &mut gv, true))
        });
        // dE/ds = dE/do V   [T*B, O] x [O, H]
        g.bench_function(BenchmarkId::new("readout_ds", name), |bench| {
            bench.iter(|| gemm(rows, h, V, &dl, false, &vw, false, &mut out, false))
        });
    }
    g.finish();
}

/// A whole forward + loss + BPTT call on the S and M shapes.
fn iteration(c: &mut Criterion) {
    let mut g = c.benchmark_group("loss_and_grads");
    g.sample_size(20);
    for (name, b, h, t) in &SHAPES[..2] {
        let (b, h, t) = (*b, *h, *t);
        let model = Model::<f32>::new(ModelConfig::elman(V, h, V), 0).expect("valid config");
        let (x, y) = (ids(t * b), ids(t * b + 1)[1..].to_vec());
        let mut grads = vec![0f32; model.params.len()];
        g.throughput(Throughput::Elements((t * b) as u64));
        g.bench_function(BenchmarkId::new("forward_only", name), |bench| {
            bench.iter(|| {
                black_box(
                    model
                        .forward(Batch::new(Input::Ids(&x), t, b))
                        .unwrap()
                        .logits,
                )
            })
        });
        g.bench_function(*name, |bench| {
            bench.iter(|| {
                let (e, _, _) = model
                    .loss_and_grads(
                        Batch::new(Input::Ids(&x), t, b),
                        Targets::Classes(&y),
                        Reduction::Mean,
                        &mut grads,
                    )
                    .unwrap();
                black_box(e)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, step, projections, iteration);
criterion_main!(benches);
