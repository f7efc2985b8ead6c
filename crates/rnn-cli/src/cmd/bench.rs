//! `rnn bench`: training and inference throughput on the workloads of the
//! PyTorch reference script (`torch_rnn.py`), printed in the same shape so the
//! two can be compared line by line.
//!
//! The work per iteration is exactly the script's: an Elman tanh layer over
//! one-hot inputs of V = 65 classes (fed as ids, never materialised), a linear
//! readout, mean softmax cross-entropy at every step, full BPTT over T steps
//! and one plain SGD step (`p -= lr * g`, lr = 0.01), all in f32.

use crate::error::{CliError, CliResult};
use clap::Args;
use rand::{Rng, SeedableRng};
use rnn::nn::cell::{Activation, CellKind, CellName};
use rnn::nn::layer::Input;
use rnn::nn::loss::{OutputKind, Reduction, Targets};
use rnn::nn::model::Batch;
use rnn::{Inference, Model, ModelConfig};
use std::time::Instant;

/// Time training (forward, loss, BPTT, SGD step) and forward-only inference on
/// the S, M and L configs of the PyTorch reference benchmark.
#[derive(Args, Debug)]
#[command(after_help = "Configs (B batch, V classes, H hidden, T steps):\n  \
    S  B=1  V=65 H=100  T=25   latency bound (min-char-rnn's shape)\n  \
    M  B=32 V=65 H=256  T=100  a typical char-rnn batch\n  \
    L  B=64 V=65 H=1024 T=100  GEMM bound\n\n\
    Example:\n  rnn bench --config all --threads 2")]
pub struct BenchArgs {
    /// Which config: S, M, L or all.
    #[arg(long, default_value = "all")]
    pub config: String,
    /// Threads for the matrix products and the batch split (1 = sequential).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object instead of one line per config.
    #[arg(long)]
    pub json: bool,
    /// Cell: elman (tanh), lstm or gru.
    #[arg(long, value_enum, default_value = "elman")]
    pub cell: CellName,
}

/// One benchmark shape.
#[derive(Clone, Copy, Debug)]
struct Config {
    name: &'static str,
    batch: usize,
    vocab: usize,
    hidden: usize,
    steps: usize,
    /// Iterations per timed repetition (as in torch_rnn.py).
    reps: usize,
}

const CONFIGS: [Config; 3] = [
    Config {
        name: "S",
        batch: 1,
        vocab: 65,
        hidden: 100,
        steps: 25,
        reps: 200,
    },
    Config {
        name: "M",
        batch: 32,
        vocab: 65,
        hidden: 256,
        steps: 100,
        reps: 10,
    },
    Config {
        name: "L",
        batch: 64,
        vocab: 65,
        hidden: 1024,
        steps: 100,
        reps: 2,
    },
];

const WARMUP: usize = 3;
const REPETITIONS: usize = 5;
const LR: f32 = 0.01;

/// The measured throughput of one config.
struct Result {
    train_tok_s: f64,
    infer_tok_s: f64,
    train_gflops: f64,
    infer_gflops: f64,
}

/// The median over [`REPETITIONS`] of the mean time of one call of `f`
/// (after [`WARMUP`] untimed calls), in seconds.
fn median_time(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    let mut times: Vec<f64> = (0..REPETITIONS)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..reps {
                f();
            }
            t0.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPETITIONS / 2]
}

fn run_config(c: &Config, cell: rnn::nn::cell::CellKind) -> CliResult<Result> {
    let config = ModelConfig {
        cell,
        output: OutputKind::Softmax,
        ..ModelConfig::elman(c.vocab, c.hidden, c.vocab)
    };
    let mut model = Model::<f32>::new(config, 0)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let n = c.steps * c.batch;
    let x: Vec<usize> = (0..n).map(|_| rng.random_range(0..c.vocab)).collect(); // [T, B]
    let y: Vec<usize> = (0..n).map(|_| rng.random_range(0..c.vocab)).collect(); // [T, B]
    let mut grads = vec![0f32; model.params.len()];
    let mut loss = 0f32;
    let mut failed = None;
    let train = median_time(c.reps, || {
        grads.fill(0.0);
        // forward, loss, BPTT; the batch split across the threads
        match model.loss_and_grads_parallel(
            Batch::new(Input::Ids(&x), c.steps, c.batch),
            Targets::Classes(&y),
            None,
            Reduction::Mean,
            &mut grads,
        ) {
            Ok((e, _)) => loss = e,
            Err(e) => failed = Some(e),
        }
        // plain SGD: p -= lr * g
        for (p, g) in model.params.iter_mut().zip(&grads) {
            *p -= LR * g;
        }
    });
    if let Some(e) = failed.take() {
        return Err(e.into());
    }
    if !loss.is_finite() {
        return Err(CliError::Failure(format!(
            "config {}: the training loss became {loss}",
            c.name
        )));
    }
    // forward only, nothing kept for BPTT; the buffers are reused across
    // calls as a serving loop would
    let mut inf = Inference::new();
    let infer = median_time(c.reps, || {
        if let Err(e) = model.infer_parallel(Batch::new(Input::Ids(&x), c.steps, c.batch), &mut inf)
        {
            failed = Some(e);
        }
        std::hint::black_box(&inf.logits);
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    let (fwd_flops, train_flops) = flops(c, cell.gates());
    Ok(Result {
        train_tok_s: n as f64 / train,
        infer_tok_s: n as f64 / infer,
        train_gflops: train_flops / train * 1e-9,
        infer_gflops: fwd_flops / infer * 1e-9,
    })
}

/// The floating-point operations of the matrix products of one forward pass
/// and of one training iteration (forward + backward), for `gates` gate blocks.
///
/// Forward: `W_hh s_{t-1}` (`2 G H H` per row) and the readout (`2 V H`); the
/// one-hot input projection is a gather and costs none. Backward: `dW` and
/// `W^T delta` (`2 G H H` each), `dV` and `V^T dE/do` (`2 V H` each).
fn flops(c: &Config, gates: usize) -> (f64, f64) {
    let rows = (c.batch * c.steps) as f64;
    let (h, v, g) = (c.hidden as f64, c.vocab as f64, gates as f64);
    let fwd = rows * 2.0 * (g * h * h + v * h);
    (fwd, 3.0 * fwd)
}

/// Makes glibc's malloc keep freed memory for reuse instead of handing it
/// back to the kernel. Each training iteration allocates its caches afresh
/// (megabytes for M and L); by default glibc unmaps or trims them on free, and
/// the next iteration pays a page fault per 4 KiB page again (a fifth of M's
/// time in `perf`). Buffers up to 32 MiB (glibc's largest setting; L's `[T, B,
/// H]` caches are 26 MB) then come from the heap, which is never trimmed.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc parameters; it is called before any
    // other thread of ours exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Runs the command.
pub fn run(args: &BenchArgs) -> CliResult {
    let cell = CellKind::from_name(args.cell, Activation::Tanh);
    let configs: Vec<&Config> = match args.config.to_ascii_uppercase().as_str() {
        "ALL" => CONFIGS.iter().collect(),
        name => CONFIGS
            .iter()
            .filter(|c| c.name == name)
            .collect::<Vec<_>>(),
    };
    if configs.is_empty() {
        return Err(CliError::Usage(format!(
            "--config {:?}: expected S, M, L or all",
            args.config
        )));
    }
    if !(1..=256).contains(&args.threads) {
        return Err(CliError::Usage(format!(
            "--threads {}: expected 1 to 256",
            args.threads
        )));
    }
    keep_freed_memory();
    rnn::kernels::set_threads(args.threads);
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
        .map_err(|e| CliError::Failure(format!("cannot start {} threads: {e}", args.threads)))?;
    let mut rows = Vec::new();
    for c in configs {
        let r = run_config(c, cell)?;
        if args.json {
            rows.push(serde_json::json!({
                "config": c.name, "cell": cell.name(), "threads": args.threads,
                "B": c.batch, "V": c.vocab, "H": c.hidden, "T": c.steps,
                "train_tok_s": r.train_tok_s, "infer_tok_s": r.infer_tok_s,
                "train_gflops": r.train_gflops, "infer_gflops": r.infer_gflops,
            }));
        } else {
            let cell_tag = if args.cell == CellName::Elman {
                String::new()
            } else {
                format!(" cell={}", cell.name())
            };
            println!(
                "rnn threads={} {} B={} V={} H={} T={}{cell_tag} train_tok_s={:.0} infer_tok_s={:.0} train_gflops={:.1}",
                args.threads, c.name, c.batch, c.vocab, c.hidden, c.steps,
                r.train_tok_s, r.infer_tok_s, r.train_gflops
            );
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"program": "rnn", "threads": args.threads, "configs": rows})
        );
    }
    Ok(())
}
