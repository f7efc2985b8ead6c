//! The work of the PyTorch reference benchmark (`torch_rnn.py`), timed:
//! an RNN over one-hot inputs of V = 65 classes (fed as ids), a linear
//! readout, mean softmax cross-entropy at every step, full BPTT over T steps
//! and one plain SGD step (`p -= lr * g`, lr = 0.01), all in f32. `rnn bench`
//! prints it; criterion benches and other programs can call it too.

use crate::nn::cell::CellKind;
use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Reduction, Targets};
use crate::nn::model::Batch;
use crate::{Error, Inference, Model, ModelConfig, Result};
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// One benchmark shape.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    /// `S`, `M` or `L`; `custom` for a shape of [`BenchConfig::custom`].
    pub name: &'static str,
    /// `B`.
    pub batch: usize,
    /// `V`, the one-hot input classes and the readout's outputs.
    pub vocab: usize,
    /// `H`.
    pub hidden: usize,
    /// `T`.
    pub steps: usize,
    /// Iterations per timed repetition (as in torch_rnn.py).
    pub reps: usize,
}

/// The S, M and L configs of the PyTorch reference script.
pub const CONFIGS: [BenchConfig; 3] = [
    BenchConfig {
        name: "S",
        batch: 1,
        vocab: 65,
        hidden: 100,
        steps: 25,
        reps: 200,
    },
    BenchConfig {
        name: "M",
        batch: 32,
        vocab: 65,
        hidden: 256,
        steps: 100,
        reps: 10,
    },
    BenchConfig {
        name: "L",
        batch: 64,
        vocab: 65,
        hidden: 1024,
        steps: 100,
        reps: 2,
    },
];

impl BenchConfig {
    /// A shape of the caller's choosing, named `custom`, with the
    /// repetitions of [`BenchConfig::reps_for`] (what `bench/torch_shape.py`
    /// runs PyTorch with at the same shape). Every size must be at least 1.
    ///
    /// ```
    /// let c = rnn::testing::bench::BenchConfig::custom(8, 65, 512, 50).unwrap();
    /// assert_eq!((c.name, c.reps), ("custom", 18));
    /// assert!(rnn::testing::bench::BenchConfig::custom(8, 65, 0, 50).is_err());
    /// ```
    pub fn custom(batch: usize, vocab: usize, hidden: usize, steps: usize) -> Result<Self> {
        for (what, v) in [
            ("batch", batch),
            ("vocab", vocab),
            ("hidden", hidden),
            ("steps", steps),
        ] {
            if v == 0 {
                return Err(Error::Argument {
                    arg: what.into(),
                    expected: "a size of at least 1".into(),
                    got: "0".into(),
                });
            }
        }
        Ok(Self {
            name: "custom",
            batch,
            vocab,
            hidden,
            steps,
            reps: Self::reps_for(batch, vocab, hidden, steps),
        })
    }

    /// Iterations per timed repetition at a shape: about as much product work
    /// per repetition as M's 10, between 1 and 200 (S's count), so a
    /// repetition of any shape lasts a similar time:
    /// `round(2.1e9 / (B T H (H + V)))`. M gives 10 and S 200, as
    /// `torch_rnn.py`; L gives 1 (the script runs it twice).
    pub fn reps_for(batch: usize, vocab: usize, hidden: usize, steps: usize) -> usize {
        let work = batch as f64 * steps as f64 * hidden as f64 * (hidden as f64 + vocab as f64);
        (2.1e9 / work).round().clamp(1.0, 200.0) as usize
    }
}

const WARMUP: usize = 3;
const REPETITIONS: usize = 5;
const LR: f32 = 0.01;

/// The sequence lengths of a benchmark batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Lengths {
    /// Every sequence runs all `T` steps.
    #[default]
    Uniform,
    /// Sequence `b` has `1 + (37 b + 11) mod T` steps, as `torch_rnn.py
    /// ... packed` (which runs them through `pack_padded_sequence`); the
    /// token rates count valid tokens only.
    Packed,
}

impl Lengths {
    /// The lowercase name (`uniform`, `packed`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Packed => "packed",
        }
    }

    /// The length of each of the `batch` sequences of `steps` steps: `[B]`.
    pub fn of(self, steps: usize, batch: usize) -> Vec<usize> {
        (0..batch)
            .map(|b| match self {
                Self::Uniform => steps,
                Self::Packed => 1 + (37 * b + 11) % steps.max(1),
            })
            .collect()
    }
}

/// What a benchmark's times are measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Clock {
    /// Elapsed (wall-clock) time, as `torch_rnn.py` measures.
    #[default]
    Wall,
    /// The CPU time of the whole process (all its threads): on a machine
    /// shared with other work it counts only the time this process ran,
    /// so one-thread results stay comparable when the load is not idle.
    Cpu,
}

impl Clock {
    /// The lowercase name (`wall`, `cpu`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Wall => "wall",
            Self::Cpu => "cpu",
        }
    }

    /// Seconds since an arbitrary origin, on this clock.
    fn now(self) -> f64 {
        match self {
            Self::Wall => {
                static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64()
            }
            Self::Cpu => process_cpu_seconds(),
        }
    }
}

/// The CPU time of this process so far (all threads), in seconds.
#[cfg(unix)]
fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Elsewhere the wall clock stands in.
#[cfg(not(unix))]
fn process_cpu_seconds() -> f64 {
    Clock::Wall.now()
}

/// The measured throughput of one config.
pub struct BenchResult {
    /// Training tokens (T*B, or the valid ones for [`Lengths::Packed`]) per second.
    pub train_tok_s: f64,
    /// Forward-only tokens per second, through [`crate::Prepared::infer`]
    /// (the weights laid out once before the timing, as a serving loop
    /// would).
    pub infer_tok_s: f64,
    /// Forward-only tokens per second through [`crate::Model::infer`], which
    /// lays nothing out in advance (the figure `infer_tok_s` was before the
    /// seventeenth session).
    pub infer_plain_tok_s: f64,
    /// GFLOP/s of the training iteration's matrix products.
    pub train_gflops: f64,
    /// GFLOP/s of the forward pass's matrix products.
    pub infer_gflops: f64,
    /// Latency of streaming inference: microseconds per token when one
    /// sequence is fed a token at a time with its state carried
    /// ([`crate::Stream::step`], batch 1, readout included).
    pub stream_us: f64,
}

/// The median over [`REPETITIONS`] of the mean time of one call of `f`
/// (after [`WARMUP`] untimed calls), in seconds.
fn median_time(clock: Clock, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    let mut times: Vec<f64> = (0..REPETITIONS)
        .map(|_| {
            let t0 = clock.now();
            for _ in 0..reps {
                f();
            }
            (clock.now() - t0) / reps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPETITIONS / 2]
}

/// Times training (forward, loss, BPTT, SGD step, the batch split across
/// [`crate::kernels::threads`]) and forward-only inference of config `c` with
/// `cell`: the median over repetitions after a warm-up. A training loss that
/// becomes non-finite is [`Error::Diverged`].
pub fn run_config(c: &BenchConfig, cell: CellKind) -> Result<BenchResult> {
    run_config_lengths(c, cell, Lengths::Uniform, Clock::Wall)
}

/// [`run_config`] with the sequence lengths `lengths` (the batch's
/// `lengths` set, the loss over valid positions only, token rates and GFLOP/s
/// counting valid tokens only), timed on `clock`.
pub fn run_config_lengths(
    c: &BenchConfig,
    cell: CellKind,
    lengths: Lengths,
    clock: Clock,
) -> Result<BenchResult> {
    let config = ModelConfig {
        cell,
        output: OutputKind::Softmax,
        ..ModelConfig::elman(c.vocab, c.hidden, c.vocab)
    };
    config.ensure_trainable("bench", 0, c.steps, c.batch)?;
    let mut model = Model::<f32>::new(config, 0)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let n = c.steps * c.batch;
    let x: Vec<usize> = (0..n).map(|_| rng.random_range(0..c.vocab)).collect(); // [T, B]
    let y: Vec<usize> = (0..n).map(|_| rng.random_range(0..c.vocab)).collect(); // [T, B]
    let lens = lengths.of(c.steps, c.batch); // [B]
    let lens = (lengths == Lengths::Packed).then_some(lens.as_slice());
    let batch = |x| {
        let b = Batch::new(Input::Ids(x), c.steps, c.batch);
        match lens {
            Some(l) => b.with_lengths(l),
            None => b,
        }
    };
    let valid = lens.map_or(n, |l| l.iter().sum());
    let mut grads = vec![0f32; model.params.len()];
    let mut loss = 0f32;
    let mut failed = None;
    let train = median_time(clock, c.reps, || {
        grads.fill(0.0);
        // forward, loss, BPTT; the batch split across the threads
        match model.loss_and_grads_parallel(
            batch(&x),
            Targets::Classes(&y),
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
        return Err(e);
    }
    if !loss.is_finite() {
        return Err(Error::Diverged {
            step: 0,
            value: format!("{loss} in config {}", c.name),
        });
    }
    // forward only, nothing kept for BPTT; the buffers are reused across
    // calls as a serving loop would: through `Model::infer`, and with the
    // weights laid out once (`Prepared`, made outside the timing)
    let mut inf = Inference::new();
    let prepared = model.prepare();
    let mut time_infer = |laid_out: bool| -> Result<f64> {
        let mut failed = None;
        let seconds = median_time(clock, c.reps, || {
            let data = batch(&x).split_across_threads();
            let run = if laid_out {
                prepared.infer(data, &mut inf)
            } else {
                model.infer(data, &mut inf)
            };
            if let Err(e) = run {
                failed = Some(e);
            }
            std::hint::black_box(&inf.logits);
        });
        failed.map_or(Ok(seconds), Err)
    };
    let infer_plain = time_infer(false)?;
    let infer = time_infer(true)?;
    // streaming: one sequence fed one token at a time, the state carried
    // (what `rnn step` and a serving loop do), the sequence's T tokens per call
    let mut stream = crate::Stream::new(&model)?;
    let stream_s = median_time(clock, 1, || {
        stream.reset();
        for t in 0..c.steps {
            if let Err(e) = stream.step(Input::Ids(&x[t * c.batch..t * c.batch + 1])) {
                failed = Some(e);
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let (fwd_flops, train_flops) = flops(c, cell.gates());
    let share = valid as f64 / n as f64; // the products of valid tokens only
    let (fwd_flops, train_flops) = (fwd_flops * share, train_flops * share);
    Ok(BenchResult {
        train_tok_s: valid as f64 / train,
        infer_tok_s: valid as f64 / infer,
        infer_plain_tok_s: valid as f64 / infer_plain,
        train_gflops: train_flops / train * 1e-9,
        infer_gflops: fwd_flops / infer * 1e-9,
        stream_us: stream_s / c.steps as f64 * 1e6,
    })
}

/// The floating-point operations of the matrix products of one forward pass
/// and of one training iteration (forward + backward), for `gates` gate blocks.
///
/// Forward: `W_hh s_{t-1}` (`2 G H H` per row) and the readout (`2 V H`); the
/// one-hot input projection is a gather and costs none. Backward: `dW` and
/// `W^T delta` (`2 G H H` each), `dV` and `V^T dE/do` (`2 V H` each).
fn flops(c: &BenchConfig, gates: usize) -> (f64, f64) {
    let rows = (c.batch * c.steps) as f64;
    let (h, v, g) = (c.hidden as f64, c.vocab as f64, gates as f64);
    let fwd = rows * 2.0 * (g * h * h + v * h);
    (fwd, 3.0 * fwd)
}

/// The measured rate of one matrix product a training iteration of a config
/// runs, on each kernel that can run it.
#[derive(Clone, Debug)]
pub struct ProductRate {
    /// What the product is (`step`, `step_back`, `dW_hh`, `readout`).
    pub name: &'static str,
    /// `C[m, n] (+)= A[m, k] B[k, n]`: `m`.
    pub m: usize,
    /// `k`.
    pub k: usize,
    /// `n`.
    pub n: usize,
    /// GFLOP/s of the general GEMM (faer; threads as set).
    pub gemm_gflops: f64,
    /// GFLOP/s of the packed per-step kernel ([`crate::kernels::PackedRhs`],
    /// one thread), for the step products only.
    pub packed_gflops: Option<f64>,
}

/// Times the matrix products of config `c` with `cell` at their shapes, in
/// f32 on `clock`: the per-step product forward (`[B, H] x [H, G*H]`) and
/// backward (`[B, G*H] x [G*H, H]`) on faer's GEMM and on the packed kernel,
/// `dW_hh` (`[G*H, T*B] x [T*B, H]`) and the readout (`[T*B, H] x [H, V]`).
/// The best of these is what the machine gives a product of this model;
/// [`BenchResult::train_gflops`] over it is the share training reaches.
pub fn products(c: &BenchConfig, cell: CellKind, clock: Clock) -> Vec<ProductRate> {
    use crate::kernels::{gemm, PackedRhs};
    let (b, h, g, v, rows) = (
        c.batch,
        c.hidden,
        cell.gates() * c.hidden,
        c.vocab,
        c.batch * c.steps,
    );
    let filled = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
            .collect()
    };
    // repeat each product until ~0.05 s of work per repetition
    let rate = |m: usize, k: usize, n: usize, f: &mut dyn FnMut()| -> f64 {
        let flop = 2.0 * (m * k * n) as f64;
        let reps = ((5e8 / flop).ceil() as usize).max(1);
        let t = median_time(clock, reps, &mut *f);
        flop / t * 1e-9
    };
    // (name, m, k, n, A stored transposed, a step product)
    let shapes: [(&'static str, usize, usize, usize, bool, bool); 4] = [
        ("step", b, h, g, false, true),
        ("step_back", b, g, h, false, true),
        // dW_hh = delta^T S: delta is stored [T*B, G*H]
        ("dW_hh", g, rows, h, true, false),
        ("readout", rows, h, v, false, false),
    ];
    shapes
        .iter()
        .map(|&(name, m, k, n, trans_a, step)| {
            let (a, bm) = (filled(m * k), filled(k * n));
            let mut out = vec![0f32; m * n];
            let gemm_gflops = rate(m, k, n, &mut || {
                gemm(m, n, k, &a, trans_a, &bm, false, &mut out, true);
                std::hint::black_box(&out);
            });
            let packed_gflops = step.then(|| {
                let mut pk = PackedRhs::<f32>::default();
                pk.pack(&bm, k, n, false);
                rate(m, k, n, &mut || {
                    pk.gemm_acc(m, &a, &mut out);
                    std::hint::black_box(&out);
                })
            });
            ProductRate {
                name,
                m,
                k,
                n,
                gemm_gflops,
                packed_gflops,
            }
        })
        .collect()
}
