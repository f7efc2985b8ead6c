//! `rnn bench`: training and inference throughput on the workloads of the
//! PyTorch reference script (`torch_rnn.py`), printed in the same shape so the
//! two can be compared line by line.
//!
//! The work per iteration is exactly the script's: an Elman tanh layer over
//! one-hot inputs of V = 65 classes (fed as ids, never materialised), a linear
//! readout, mean softmax cross-entropy at every step, full BPTT over T steps
//! and one plain SGD step (`p -= lr * g`, lr = 0.01), all in f32.
//! Inference (`infer_tok_s`) runs through `Model::prepare` (the weights laid
//! out once before the timing, as a serving loop would); `infer_plain_tok_s`
//! through `Model::infer`, which lays nothing out in advance.

use crate::error::{CliError, CliResult};
use clap::Args;
use rnn::nn::cell::{Activation, CellKind, CellName};
use rnn::testing::bench::{products, run_config_lengths, BenchConfig, Clock, Lengths, CONFIGS};

/// Time training (forward, loss, BPTT, SGD step) and forward-only inference on
/// the S, M and L configs of the PyTorch reference benchmark.
#[derive(Args, Debug)]
#[command(after_help = "Configs (B batch, V classes, H hidden, T steps):\n  \
    S  B=1  V=65 H=100  T=25   latency bound (min-char-rnn's shape)\n  \
    M  B=32 V=65 H=256  T=100  a typical char-rnn batch\n  \
    L  B=64 V=65 H=1024 T=100  GEMM bound\n\n\
    infer_tok_s: inference with the weights laid out once (Model::prepare);\n\
    infer_plain_tok_s: through Model::infer, nothing laid out in advance.\n\n\
    --batch, --vocab, --hidden and --steps run one shape of your own, named\n\
    custom (the sizes not given from --config, or from M), with PyTorch's\n\
    side from bench/torch_shape.py at the same sizes.\n\n\
    Examples:\n  rnn bench --config all --threads 2\n  \
    rnn bench --cell lstm --batch 8 --hidden 512 --steps 50")]
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
    /// Sequence lengths: uniform (all T) or packed (sequence b has
    /// 1 + (37b + 11) mod T steps, as torch_rnn.py's packed; tok/s counts
    /// valid tokens).
    #[arg(long, value_enum, default_value = "uniform")]
    pub lengths: Lengths,
    /// Time on the wall clock (as torch_rnn.py) or on the process's CPU
    /// time (comparable on a loaded machine; all threads summed).
    #[arg(long, value_enum, default_value = "wall")]
    pub clock: Clock,
    /// Also time the model's matrix products alone at their shapes (faer's
    /// GEMM and the packed step kernel) and print the share of the best one
    /// that training reaches, and of the CPU's own limit (`peak_gflops`:
    /// FMAs from registers on every thread, AVX-512 or AVX2 lanes); with
    /// --json, as keys of each config (`products`, `best_product_gflops`,
    /// `train_share`, ...).
    #[arg(long)]
    pub products: bool,
    /// Batch size B of a shape of your own (`custom`; the other sizes from
    /// --config, or from M when it is `all`).
    #[arg(long)]
    pub batch: Option<usize>,
    /// One-hot input classes and readout outputs V of a custom shape.
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Hidden units H of a custom shape.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Steps T of a custom shape.
    #[arg(long)]
    pub steps: Option<usize>,
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
    let mut configs: Vec<BenchConfig> = match args.config.to_ascii_uppercase().as_str() {
        "ALL" => CONFIGS.to_vec(),
        name => CONFIGS
            .iter()
            .filter(|c| c.name == name)
            .copied()
            .collect::<Vec<_>>(),
    };
    if configs.is_empty() {
        return Err(CliError::Usage(format!(
            "--config {:?}: expected S, M, L or all",
            args.config
        )));
    }
    let sizes = [args.batch, args.vocab, args.hidden, args.steps];
    if sizes.iter().any(Option::is_some) {
        // a shape of the user's own, the sizes not given from the one config
        // named, or from M
        let base = if configs.len() == 1 {
            configs[0]
        } else {
            CONFIGS[1]
        };
        for (flag, v) in ["--batch", "--vocab", "--hidden", "--steps"]
            .iter()
            .zip(sizes)
        {
            if let Some(v) = v {
                if !(1..=1 << 20).contains(&v) {
                    return Err(CliError::Usage(format!(
                        "{flag} {v}: expected 1 to {}",
                        1 << 20
                    )));
                }
            }
        }
        let custom = BenchConfig::custom(
            args.batch.unwrap_or(base.batch),
            args.vocab.unwrap_or(base.vocab),
            args.hidden.unwrap_or(base.hidden),
            args.steps.unwrap_or(base.steps),
        )?;
        configs = vec![custom];
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
    for c in &configs {
        let r = run_config_lengths(c, cell, args.lengths, args.clock)?;
        let mut row = serde_json::json!({
            "config": c.name, "cell": cell.name(), "threads": args.threads,
            "B": c.batch, "V": c.vocab, "H": c.hidden, "T": c.steps,
            "lengths": args.lengths.name(), "clock": args.clock.name(),
            "train_tok_s": r.train_tok_s, "infer_tok_s": r.infer_tok_s,
            "train_gflops": r.train_gflops, "infer_gflops": r.infer_gflops,
            "stream_us_per_token": r.stream_us,
            "infer_plain_tok_s": r.infer_plain_tok_s,
        });
        if !args.json {
            let mut cell_tag = if args.cell == CellName::Elman {
                String::new()
            } else {
                format!(" cell={}", cell.name())
            };
            if args.lengths != Lengths::Uniform {
                cell_tag += &format!(" lengths={}", args.lengths.name());
            }
            if args.clock != Clock::Wall {
                cell_tag += &format!(" clock={}", args.clock.name());
            }
            outln!(
                "rnn threads={} {} B={} V={} H={} T={}{cell_tag} train_tok_s={:.0} infer_tok_s={:.0} train_gflops={:.1} stream_us_per_token={:.2} infer_plain_tok_s={:.0}",
                args.threads, c.name, c.batch, c.vocab, c.hidden, c.steps,
                r.train_tok_s, r.infer_tok_s, r.train_gflops, r.stream_us, r.infer_plain_tok_s
            )?;
        }
        if args.products {
            let rates = products(c, cell, args.clock);
            let mut best = 0f64;
            let mut listed = Vec::new();
            for p in &rates {
                if args.json {
                    listed.push(serde_json::json!({
                        "name": p.name, "m": p.m, "k": p.k, "n": p.n,
                        "gemm_gflops": p.gemm_gflops, "packed_gflops": p.packed_gflops,
                    }));
                } else {
                    let packed = p
                        .packed_gflops
                        .map_or(String::new(), |g| format!(" packed_gflops={g:.1}"));
                    outln!(
                        "product {} {} m={} k={} n={} gemm_gflops={:.1}{packed}",
                        c.name,
                        p.name,
                        p.m,
                        p.k,
                        p.n,
                        p.gemm_gflops
                    )?;
                }
                best = best.max(p.gemm_gflops).max(p.packed_gflops.unwrap_or(0.0));
            }
            // the CPU's own limit beside them (`kernels::peak`), when it has AVX2;
            // measured per config, next to its products, as a VM's clock drifts
            let peak = rnn::kernels::fma_peak_gflops(args.threads, 0.5);
            if args.json {
                row["products"] = listed.into();
                row["best_product_gflops"] = best.into();
                row["train_share"] = (r.train_gflops / best).into();
                row["infer_share"] = (r.infer_gflops / best).into();
                row["peak_gflops"] = peak.into();
                row["train_peak_share"] = peak.map(|p| r.train_gflops / p).into();
                row["infer_peak_share"] = peak.map(|p| r.infer_gflops / p).into();
            } else {
                let peak = peak.map_or(String::new(), |p| {
                    format!(
                        " peak_gflops={p:.1} train_peak_share={:.2} infer_peak_share={:.2}",
                        r.train_gflops / p,
                        r.infer_gflops / p
                    )
                });
                outln!(
                    "share {} best_product_gflops={best:.1} train_gflops={:.1} train_share={:.2} infer_share={:.2}{peak}",
                    c.name, r.train_gflops, r.train_gflops / best, r.infer_gflops / best
                )?;
            }
        }
        rows.push(row);
    }
    if args.json {
        outln!(
            "{}",
            serde_json::json!({"program": "rnn", "threads": args.threads, "configs": rows})
        )?;
    }
    Ok(())
}
