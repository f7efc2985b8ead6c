//! GFLOP/s of the packed step kernel (`PackedRhs::gemm_acc`, f32) at a few
//! shapes, in cache and not, on this thread's CPU time (min of 15): `cargo run --release -p rnn --example kernel_rate`
//! (`SHAPES=32x1024x1024,64x1024x512` for those `m x k x n` instead;
//! `AT_B=1` times the weight-gradient product `Float::gemm_at_b_acc`,
//! `C[m, n] += A^T B` with `A` `[k, m]`, at those shapes; `GEMM=nn`, `nt` or
//! `tn` times `rnn::kernels::gemm`, the products' dispatcher, with `B` or
//! `A` stored transposed as the letters say).
use rnn::kernels::PackedRhs;

/// This thread's CPU time in seconds (so another process on the machine
/// does not count).
fn cpu_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// GFLOP/s of `product` (one call: `flops` floating-point operations), the
/// best of 15 timings of enough calls for about 0.5 GFLOP each.
fn gflops(flops: f64, mut product: impl FnMut()) -> f64 {
    let reps = ((5e8 / flops) as usize).max(1);
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t0 = cpu_now();
        for _ in 0..reps {
            product();
        }
        best = best.min((cpu_now() - t0) / reps as f64);
    }
    flops / best * 1e-9
}

/// GFLOP/s of the step product `C[m, n] += A B` with `B` `[k, n]` packed.
fn rate(m: usize, k: usize, n: usize) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.01).collect();
    let mut pk = PackedRhs::<f32>::default();
    pk.pack(&b, k, n, false);
    let mut c = vec![0f32; m * n];
    let r = gflops(2.0 * (m * k * n) as f64, || pk.gemm_acc(m, &a, &mut c));
    std::hint::black_box(&c);
    r
}

/// GFLOP/s of `C[m, n] += A^T B` (`A` stored `[k, m]`, `B` `[k, n]`): the
/// weight gradients' product after the BPTT loop (0 when this CPU has no
/// hand-written kernel for it).
fn rate_at_b(m: usize, k: usize, n: usize) -> f64 {
    let a_t: Vec<f32> = (0..k * m).map(|i| (i % 7) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.01).collect();
    let mut c = vec![0f32; m * n];
    if !<f32 as rnn::Float>::gemm_at_b_acc(m, n, k, &a_t, &b, &mut c) {
        return 0.0;
    }
    let r = gflops(2.0 * (m * k * n) as f64, || {
        <f32 as rnn::Float>::gemm_at_b_acc(m, n, k, &a_t, &b, &mut c);
    });
    std::hint::black_box(&c);
    r
}

/// GFLOP/s of `rnn::kernels::gemm` (`C[m, n] += op(A) op(B)`) with the
/// operands stored as `how` says: `nn`, `nt` (`B` stored `[n, k]`) or `tn`
/// (`A` stored `[k, m]`).
fn rate_gemm(m: usize, k: usize, n: usize, how: &str) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.01).collect();
    let mut c = vec![0f32; m * n];
    let (ta, tb) = (how.starts_with('t'), how.ends_with('t'));
    let r = gflops(2.0 * (m * k * n) as f64, || {
        rnn::kernels::gemm(m, n, k, &a, ta, &b, tb, &mut c, true)
    });
    std::hint::black_box(&c);
    r
}

fn main() {
    let at_b = std::env::var("AT_B").is_ok();
    let how = std::env::var("GEMM").ok();
    // `SHAPES=32x1024x1024,64x1024x512` times those `m x k x n` instead
    let given: Option<Vec<(usize, usize, usize)>> = std::env::var("SHAPES").ok().map(|s| {
        s.split(',')
            .map(|d| {
                let v: Vec<usize> = d
                    .split('x')
                    .map(|x| x.parse().expect("SHAPES: m x k x n"))
                    .collect();
                (v[0], v[1], v[2])
            })
            .collect()
    });
    let shapes = given.unwrap_or_else(|| {
        vec![
            (72, 256, 256),
            (72, 256, 1024),
            (64, 1024, 4096),
            (64, 4096, 1024),
            (32, 256, 1024),
            (32, 1024, 4096),
        ]
    });
    for &(m, k, n) in &shapes {
        let r = if let Some(how) = how.as_deref() {
            rate_gemm(m, k, n, how)
        } else if at_b {
            rate_at_b(m, k, n)
        } else {
            rate(m, k, n)
        };
        println!("m={m} k={k} n={n}: {r:.1} GFLOP/s");
    }
}
