//! Times the forward-only paths at the shapes of `rnn bench`'s S and M
//! configs (Elman tanh, one-hot V = 65, f32, from the zero state):
//! `Model::forward(..).logits` (keeps the BPTT caches) against `Model::infer`
//! with a reused `Inference`, plus the readout product alone as one GEMM and
//! as one gemv per row. Prints the minimum over 30 repetitions (less
//! sensitive to other processes than a median).
//!
//! `cargo run --release -p rnn --example infer_timing -- S` (or `M`, `L`); with
//! `ONLY=1` it just runs `infer` in a loop (`THREADS=2`: the batch split
//! across two threads, as `rnn bench --threads 2`; `PREP=1`: through
//! `Model::prepare` and `Prepared::infer`), with `TRAIN=1` forward, loss and
//! BPTT (one thread), for `perf record`; `CELL=lstm`
//! (or `gru`) times that cell instead of the Elman one. `THREADS=2` without
//! `ONLY` times the two-thread paths (at S: the batch-1 split by hidden
//! units of `nn::layer::split`).

use rnn::nn::layer::Input;
use rnn::nn::model::Batch;
use rnn::{Inference, Model, ModelConfig};
use std::time::Instant;

/// The smallest mean time of one call of `f` over 30 timed batches of `reps`.
fn min_time(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..reps {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..30 {
        let t0 = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t0.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

fn main() -> rnn::Result<()> {
    let (b, h, t) = match std::env::args().nth(1).as_deref() {
        Some("M") => (32, 256, 100),
        Some("L") => (64, 1024, 100),
        _ => (1, 100, 25),
    };
    let reps = match (b, h) {
        (1, _) => 2000,
        (_, 1024) => 1,
        _ => 20,
    };
    let v = 65;
    let cell = match std::env::var("CELL").as_deref() {
        Ok("lstm") => rnn::CellKind::Lstm,
        Ok("gru") => rnn::CellKind::Gru,
        _ => ModelConfig::elman(v, h, v).cell,
    };
    let config = ModelConfig {
        cell,
        ..ModelConfig::elman(v, h, v)
    };
    let model = Model::<f32>::new(config, 0)?;
    let x: Vec<usize> = (0..t * b).map(|i| (i * 7 + 3) % v).collect(); // [T, B]
    let mut inf = Inference::new();
    if std::env::var("TRAIN").is_ok() {
        // forward, loss and BPTT in a loop, one thread, for `perf record`
        let mut grads = vec![0f32; model.params.len()];
        for _ in 0..reps * 10 {
            grads.fill(0.0);
            model.loss_and_grads_parallel(
                Batch::new(Input::Ids(&x), t, b),
                rnn::nn::loss::Targets::Classes(&x),
                rnn::nn::loss::Reduction::Mean,
                &mut grads,
            )?;
        }
        return Ok(());
    }
    if std::env::var("ONLY").is_ok() {
        // `THREADS=n`: the batch split across n threads, as `rnn bench --threads n`
        let threads: usize = std::env::var("THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        rnn::kernels::set_threads(threads);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .ok();
        let prepared = model.prepare();
        let prep = std::env::var("PREP").is_ok();
        for _ in 0..reps * 50 {
            let data = Batch::new(Input::Ids(&x), t, b).split_across_threads();
            if prep {
                prepared.infer(data, &mut inf).unwrap();
            } else {
                model.infer(data, &mut inf).unwrap();
            }
            std::hint::black_box(&inf.logits);
        }
        return Ok(());
    }
    // `THREADS=n` here too: with n > 1 a batch of one is split by hidden
    // units (`nn::layer::split`) where W_hh is larger than L1
    if let Some(n) = std::env::var("THREADS").ok().and_then(|s| s.parse().ok()) {
        rnn::kernels::set_threads(n);
    }
    let fwd = min_time(reps, || {
        std::hint::black_box(
            model
                .forward(Batch::new(Input::Ids(&x), t, b))
                .unwrap()
                .logits,
        );
    });
    let infer = min_time(reps, || {
        model
            .infer(Batch::new(Input::Ids(&x), t, b), &mut inf)
            .unwrap();
        std::hint::black_box(&inf.logits);
    });
    // the readout o = V s alone: [T*B, H] x [H, V]
    let top = vec![0.1f32; t * b * h]; // [T, B, H]
    let w = vec![0.01f32; v * h]; // [V, H]
    let mut logits = vec![0f32; t * b * v]; // [T, B, V]
    let gemm = min_time(reps, || {
        rnn::kernels::gemm(t * b, v, h, &top, false, &w, true, &mut logits, true);
        std::hint::black_box(&logits);
    });
    let gemv = min_time(reps, || {
        for (r, row) in logits.chunks_exact_mut(v).enumerate() {
            <f32 as rnn::Float>::gemv_acc(v, h, &w, &top[r * h..(r + 1) * h], row);
        }
        std::hint::black_box(&logits);
    });
    let tok = (t * b) as f64;
    println!(
        "B={b} H={h} T={t}: forward {:.2} us ({:.0} tok/s), infer {:.2} us ({:.0} tok/s), \
         readout gemm {:.2} us, readout gemv {:.2} us",
        fwd * 1e6,
        tok / fwd,
        infer * 1e6,
        tok / infer,
        gemm * 1e6,
        gemv * 1e6
    );
    Ok(())
}
