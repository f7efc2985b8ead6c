//! The CPU's own limit for the products: f32 fused multiply-adds per second
//! from registers, nothing loaded or stored, on the lanes the product and
//! gate kernels use (AVX-512 or AVX2, [`super::has_avx512`]).
//!
//! A product's GFLOP/s says little until it is set against what the core
//! can do at all: `rnn bench --products` prints this beside the best
//! product and the training and inference rates, so a figure near the
//! limit reads as such. Twelve independent chains per thread, more than an
//! FMA's latency times the pipes that run it (4 cycles x 2 pipes on the
//! AMD and Intel cores of BENCHMARKS.md), keep every FMA pipe busy.

#[cfg(target_arch = "x86_64")]
use super::lanes::{Vector, V16, V8};

/// Independent chains per thread.
#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

/// `n` rounds of [`CHAINS`] FMAs on `V`'s lanes; returns a lane of the sum so
/// that the loop is not optimised away. `x -> x (1 - 2^-20) + 2^-20` keeps
/// every value at 1 (no overflow, no subnormal slowing the pipes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rounds<V: Vector>(n: usize) -> f32 {
    // values hidden from the optimiser: with constants it may fold the chain
    // (1 maps to 1) and drop the loop, leaving nothing to time
    let (a, b) = std::hint::black_box((1.0 - 1.0 / 1048576.0, 1.0 / 1048576.0));
    let (a, b) = (V::splat(a), V::splat(b));
    let mut acc = [V::splat(std::hint::black_box(1.0)); CHAINS];
    for _ in 0..n {
        for x in acc.iter_mut() {
            *x = x.fmadd(a, b);
        }
    }
    let mut sum = acc[0];
    for x in &acc[1..] {
        sum = sum.add(*x);
    }
    let mut out = [0f32; 16];
    sum.store(out.as_mut_ptr(), V::mask(V::N));
    out[0]
}

/// [`rounds`] on 16 lanes.
///
/// # Safety
/// The CPU must have AVX-512F ([`super::has_avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn rounds512(n: usize) -> f32 {
    rounds::<V16>(n)
}

/// [`rounds`] on 8 lanes.
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`super::has_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rounds256(n: usize) -> f32 {
    rounds::<V8>(n)
}

/// GFLOP/s (an FMA counts two) of `threads` threads running FMA chains at
/// once for about `seconds` each, on the lanes of this CPU's kernels
/// (AVX-512 unless `RNN_SIMD=avx2`, else AVX2); `None` on a CPU with
/// neither (the portable loops have no such limit to show).
pub fn fma_peak_gflops(threads: usize, seconds: f64) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let (run, lanes): (unsafe fn(usize) -> f32, usize) = if super::has_avx512() {
            (rounds512, 16)
        } else if super::has_avx2() {
            (rounds256, 8)
        } else {
            return None;
        };
        // SAFETY: `run` is the build for an instruction set the CPU has (checked above).
        let call = |n: usize| unsafe { run(n) };
        // rounds per second of one thread, from a short trial run
        // (bounded: a loop that takes no time gives no rate, not a hang)
        let mut n: usize = 1 << 16;
        let rate = loop {
            let t0 = std::time::Instant::now();
            std::hint::black_box(call(std::hint::black_box(n)));
            let dt = t0.elapsed().as_secs_f64();
            if dt > 0.02 {
                break n as f64 / dt;
            }
            if n >= 1 << 36 {
                return None;
            }
            n *= 4;
        };
        let n = ((rate * seconds) as usize).max(1);
        let threads = threads.max(1);
        let t0 = std::time::Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(move || std::hint::black_box(call(n)));
            }
        });
        let dt = t0.elapsed().as_secs_f64();
        let flop = (threads * n * CHAINS * lanes * 2) as f64;
        Some(flop / dt * 1e-9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (threads, seconds);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chains compute what they say: 1 stays 1 under `x (1 - e) + e`, so
    /// the sum of the twelve chains' lane is 12 exactly (both sides of each
    /// FMA are exact in binary), and the measured rate is a positive number.
    #[test]
    fn chains_keep_their_values_and_report_a_rate() {
        #[cfg(target_arch = "x86_64")]
        if super::super::has_avx2() {
            // SAFETY: AVX2 and FMA checked just above.
            assert_eq!(unsafe { rounds256(1000) }, 12.0);
            if super::super::has_avx512() {
                // SAFETY: AVX-512F checked just above.
                assert_eq!(unsafe { rounds512(1000) }, 12.0);
            }
            let g = fma_peak_gflops(1, 0.01).expect("a rate on an AVX2 CPU");
            assert!(g.is_finite() && g > 0.0, "{g}");
            return;
        }
        assert!(fma_peak_gflops(1, 0.01).is_none());
    }
}
