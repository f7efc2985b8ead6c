//! The gate nonlinearities of one row of a cell step, hand-vectorised for f32:
//! with AVX2 and FMA 8 hidden units per iteration, with AVX-512 16; `e^x`,
//! `σ(x)` and `tanh(x)` computed in registers with fused multiply-adds.
//!
//! The same formulas as the portable `f32` ones in [`crate::kernels::float`]
//! (`e^x` by range reduction and its Taylor series to `r^7`, `σ(x) = 1 / (1 +
//! e^{-x})`), with each `a * b + c` one rounding instead of two and no call
//! or branch; `tanh` as a rational function (one division, no exponential).
//! Error bounds, checked against f64 libm over the whole f32 range in this
//! module's tests: `σ` within 2e-7 relative (measured 1.4e-7), `tanh` within
//! 6 ulp (measured 4; exact 0, ±1; NaN in, NaN out). The last units of a row
//! use masked loads and stores, so every unit goes through the same formulas.
//!
//! The formulas and row kernels are written once over [`Vector`]
//! (`kernels::lanes`: 8 lanes [`V8`], 16 lanes [`V16`]) and compiled for each instruction set: each lane
//! goes through the same operations in the same order, so the AVX-512 and
//! AVX2 kernels give the same bits (tested).
//!
//! The row kernels mirror `CellKind::forward_row` (crate::nn::cell) line by
//! line; f64 never comes here (it stays on libm, exact to the 1e-9 reference
//! tests).

#[cfg(target_arch = "x86_64")]
use super::lanes::{Vector, V16, V8};
#[cfg(all(test, target_arch = "x86_64"))]
use std::arch::x86_64::*; // the tests' 8- and 16-lane wrappers

/// Whether the f32 cell steps use these kernels: the CPU has AVX2 and FMA,
/// and `RNN_GATE_KERNEL=portable` does not ask for the portable loops (for
/// measuring one against the other).
pub(crate) fn fast() -> bool {
    static PORTABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let portable =
        *PORTABLE.get_or_init(|| std::env::var("RNN_GATE_KERNEL").as_deref() == Ok("portable"));
    !portable && crate::kernels::has_avx2()
}

/// `e^x`: `x = n ln2 + r`, `|r| <= ln2/2`, `e^r` to `r^7` (truncation below
/// 1e-8 relative), times `2^n` built in the exponent bits. Inputs are
/// clamped to `[-87, 88]` (results stay normal floats); a NaN stays NaN.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn exp_v<V: Vector>(x: V) -> V {
    // max/min return their second operand when either is NaN: x second keeps it
    let x = V::splat(88.0).min(V::splat(-87.0).max(x));
    // adding 1.5 * 2^23 rounds to an integer kept in the low mantissa bits
    let round = V::splat(12_582_912.0);
    let t = x.fmadd(V::splat(std::f32::consts::LOG2_E), round);
    let n = t.sub(round); // round(x / ln 2)
                          // r = x - n ln2, ln2 split in a part exact in f32 and the rest
    let r = n.fnmadd(V::splat(0.693_145_75), x);
    let r = n.fnmadd(V::splat(1.428_606_8e-6), r);
    // e^r = 1 + r (1 + r (1/2 + r (1/6 + ... r/5040))) (Horner, one rounding per step)
    let mut p = V::splat(1.0 / 5040.0);
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.fmadd(r, V::splat(c));
    }
    // n in [-126, 127]: (n + 127) << 23 is the bit pattern of 2^n
    p.mul(V::pow2(t, round))
}

/// `σ(x) = 1 / (1 + e^{-x})`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sigmoid_v<V: Vector>(x: V) -> V {
    let one = V::splat(1.0);
    one.div(one.add(exp_v(V::splat(0.0).sub(x))))
}

/// `tanh(x)`: `x P(x^2) / Q(x^2)` with `P`, `Q` of degree 4 in `x^2` (a
/// rational fit of ours with positive coefficients, so neither sum cancels;
/// relative error 2e-8 in exact arithmetic on `[0, 9]`), `x` clamped to
/// `[-9, 9]` (tanh 9 rounds to 1 in f32) and the result to `[-1, 1]`. One
/// division, no exponential: about a third of the instructions of the
/// exponential form. Measured within 4 ulp of libm in f32 (tests).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tanh_v<V: Vector>(x: V) -> V {
    const P: [f32; 5] = [
        1.0,
        0.133_810_06,
        0.003_495_563_3,
        2.060_861_3e-5,
        1.335_393_2e-8,
    ];
    const Q: [f32; 5] = [
        1.0,
        0.467_143_2,
        0.025_876_89,
        0.000_328_559_14,
        7.776_274_6e-7,
    ];
    // min/max return their second operand when either is NaN: x second keeps it
    let x = V::splat(9.0).min(V::splat(-9.0).max(x));
    let z = x.mul(x);
    let (mut p, mut q) = (V::splat(P[4]), V::splat(Q[4]));
    for d in (0..4).rev() {
        p = p.fmadd(z, V::splat(P[d]));
        q = q.fmadd(z, V::splat(Q[d]));
    }
    let t = x.mul(p).div(q);
    let one = V::splat(1.0);
    one.min(V::splat(-1.0).max(t))
}

/// One LSTM step of one row (PyTorch's gate order i, f, g, o):
/// `xi`, `gh`: `[4H]`; `c_prev`, `h`, `c`: `[H]`; `cache`: `[5H]` (i, f, g,
/// o, tanh(c_t)), or empty when nothing is kept (inference: five stores
/// per vector of units saved, 2-3 % of the bench's M LSTM inference), as
/// `CellKind::forward_row`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lstm_row<V: Vector>(
    xi: &[f32],
    gh: &[f32],
    c_prev: &[f32],
    h: &mut [f32],
    c: &mut [f32],
    cache: &mut [f32],
) {
    let n = h.len();
    assert!(xi.len() >= 4 * n && gh.len() >= 4 * n && c_prev.len() >= n);
    assert!(c.len() >= n && (cache.is_empty() || cache.len() >= 5 * n));
    let keep = !cache.is_empty();
    let (x, g, cp) = (xi.as_ptr(), gh.as_ptr(), c_prev.as_ptr());
    let (hp, cnp, kp) = (h.as_mut_ptr(), c.as_mut_ptr(), cache.as_mut_ptr());
    for j in (0..n).step_by(V::N) {
        let m = V::mask(n - j);
        // the pre-activation of gate block q: W_iq x + b_iq + W_hq h + b_hq
        let pre = |q: usize| V::load(x.add(q * n + j), m).add(V::load(g.add(q * n + j), m));
        let i = sigmoid_v(pre(0)); // i = σ(.)
        let f = sigmoid_v(pre(1)); // f = σ(.)
        let gg = tanh_v(pre(2)); // g = tanh(.)
        let o = sigmoid_v(pre(3)); // o = σ(.)
        let ct = f.fmadd(V::load(cp.add(j), m), i.mul(gg)); // c_t = f ⊙ c_{t-1} + i ⊙ g
        let tc = tanh_v(ct);
        ct.store(cnp.add(j), m);
        o.mul(tc).store(hp.add(j), m); // h_t = o ⊙ tanh(c_t)
        if keep {
            // past the caches: BPTT reads them back only after the whole
            // forward ([T, B, 5H], 16 MB at the bench's M), so they would go
            // to memory anyway, and a plain store first reads each line in
            // (an in-process A/B of the M LSTM's training on the Xeon,
            // AVX-512, medians of 59 batches: +1.6 % and +2.0 %; the AVX2
            // build level; the GRU's four values a unit level or 1 % slower,
            // so its rows store as before)
            for (q, v) in [i, f, gg, o, tc].into_iter().enumerate() {
                v.stream(kp.add(q * n + j), m);
            }
        }
    }
    if keep {
        // the streamed values in order before any later store (another
        // thread may read the cache once this one signals it is done)
        std::arch::x86_64::_mm_sfence();
    }
}

/// One GRU step of one row (PyTorch's gate order r, z, n): `xi`, `gh`:
/// `[3H]`; `h_prev`, `h`: `[H]`; `cache`: `[4H]` (r, z, n, `W_hn h + b_hn`)
/// or empty when nothing is kept, as `CellKind::forward_row`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn gru_row<V: Vector>(
    xi: &[f32],
    gh: &[f32],
    h_prev: &[f32],
    h: &mut [f32],
    cache: &mut [f32],
) {
    let n = h.len();
    assert!(xi.len() >= 3 * n && gh.len() >= 3 * n && h_prev.len() >= n);
    assert!(cache.is_empty() || cache.len() >= 4 * n);
    let keep = !cache.is_empty();
    let (x, g, hpp) = (xi.as_ptr(), gh.as_ptr(), h_prev.as_ptr());
    let (hp, kp) = (h.as_mut_ptr(), cache.as_mut_ptr());
    for j in (0..n).step_by(V::N) {
        let m = V::mask(n - j);
        let r = sigmoid_v(V::load(x.add(j), m).add(V::load(g.add(j), m))); // r = σ(.)
        let z = sigmoid_v(V::load(x.add(n + j), m).add(V::load(g.add(n + j), m))); // z = σ(.)
        let ghn = V::load(g.add(2 * n + j), m); // W_hn h + b_hn

        // n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        let nn = tanh_v(r.fmadd(ghn, V::load(x.add(2 * n + j), m)));
        // h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} = n + z ⊙ (h_{t-1} - n)
        let ht = z.fmadd(V::load(hpp.add(j), m).sub(nn), nn);
        ht.store(hp.add(j), m);
        if keep {
            for (q, v) in [r, z, nn, ghn].into_iter().enumerate() {
                v.store(kp.add(q * n + j), m);
            }
        }
    }
}

/// One tanh Elman step of one row: `h = tanh(xi + gh)`, each `[H]`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tanh_row<V: Vector>(xi: &[f32], gh: &[f32], h: &mut [f32]) {
    let n = h.len();
    assert!(xi.len() >= n && gh.len() >= n);
    let (x, g, hp) = (xi.as_ptr(), gh.as_ptr(), h.as_mut_ptr());
    for j in (0..n).step_by(V::N) {
        let m = V::mask(n - j);
        // s_t = tanh(U x_t + b_ih + W s_{t-1} + b_hh)
        tanh_v(V::load(x.add(j), m).add(V::load(g.add(j), m))).store(hp.add(j), m);
    }
}

/// `out_j = e^{x_j - shift}` for every `j` of `x` (the softmax's
/// exponentials with the row's maximum as `shift`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn exp_row<V: Vector>(x: &[f32], shift: f32, out: &mut [f32]) {
    let n = x.len();
    assert!(out.len() >= n);
    let (xp, op, s) = (x.as_ptr(), out.as_mut_ptr(), V::splat(shift));
    for j in (0..n).step_by(V::N) {
        let m = V::mask(n - j);
        exp_v(V::load(xp.add(j), m).sub(s)).store(op.add(j), m);
    }
}

/// Compiles the row kernels for one instruction set.
macro_rules! row_kernels {
    ($features:literal, $v:ty, $lstm:ident, $gru:ident, $tanh:ident, $exp:ident) => {
        /// [`exp_row`] on this instruction set's lanes.
        ///
        /// # Safety
        /// The CPU must have the instruction set; `out` at least as long as
        /// `x` (checked).
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $exp(x: &[f32], shift: f32, out: &mut [f32]) {
            exp_row::<$v>(x, shift, out)
        }

        /// [`lstm_row`] on this instruction set's lanes.
        ///
        /// # Safety
        /// The CPU must have the instruction set; the slices must have the
        /// lengths [`lstm_row`] states for `H = h.len()` (checked).
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $lstm(
            xi: &[f32],
            gh: &[f32],
            c_prev: &[f32],
            h: &mut [f32],
            c: &mut [f32],
            cache: &mut [f32],
        ) {
            lstm_row::<$v>(xi, gh, c_prev, h, c, cache)
        }

        /// [`gru_row`] on this instruction set's lanes.
        ///
        /// # Safety
        /// As for the LSTM row.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $gru(
            xi: &[f32],
            gh: &[f32],
            h_prev: &[f32],
            h: &mut [f32],
            cache: &mut [f32],
        ) {
            gru_row::<$v>(xi, gh, h_prev, h, cache)
        }

        /// [`tanh_row`] on this instruction set's lanes.
        ///
        /// # Safety
        /// As for the LSTM row.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $tanh(xi: &[f32], gh: &[f32], h: &mut [f32]) {
            tanh_row::<$v>(xi, gh, h)
        }
    };
}

row_kernels!(
    "avx2,fma",
    V8,
    lstm_row_f32_avx2,
    gru_row_f32_avx2,
    tanh_row_f32_avx2,
    exp_row_f32_avx2
);
row_kernels!(
    "avx512f,avx2,fma",
    V16,
    lstm_row_f32_avx512,
    gru_row_f32_avx512,
    tanh_row_f32_avx512,
    exp_row_f32_avx512
);

/// `e^x` on 8 lanes (AVX2 + FMA), for the tests.
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp8(x: __m256) -> __m256 {
    exp_v(V8(x)).0
}

/// `σ(x)` on 8 lanes (AVX2 + FMA), for the tests.
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn sigmoid8(x: __m256) -> __m256 {
    sigmoid_v(V8(x)).0
}

/// `tanh(x)` on 8 lanes (AVX2 + FMA), for the tests.
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn tanh8(x: __m256) -> __m256 {
    tanh_v(V8(x)).0
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Applies an 8-lane function to every element of `xs`.
    fn map8(xs: &[f32], f: unsafe fn(__m256) -> __m256) -> Vec<f32> {
        let mut out = vec![0f32; xs.len()];
        for (x, o) in xs.chunks(8).zip(out.chunks_mut(8)) {
            let mut buf = [0f32; 8];
            buf[..x.len()].copy_from_slice(x);
            // SAFETY: the test only runs where has_avx2() holds (checked by the caller)
            let v = unsafe { f(_mm256_loadu_ps(buf.as_ptr())) };
            unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), v) };
            o.copy_from_slice(&buf[..x.len()]);
        }
        out
    }

    /// Every 97th f32 bit pattern between -30 and 30 (about 22 million
    /// values, all binades from subnormals up), plus the ends of the range.
    fn sweep() -> Vec<f32> {
        let mut v: Vec<f32> = (0..0x41f0_0000u32)
            .step_by(97)
            .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
            .collect();
        v.extend([
            0.0, -0.0, 0.4, -0.4, 9.0, 50.0, -50.0, 87.0, -87.0, 88.0, -89.0, 1e30, -1e30,
        ]);
        v.extend([f32::MAX, f32::MIN, f32::INFINITY, f32::NEG_INFINITY]);
        v
    }

    /// Largest relative error of `got` against `want` (f64), where `want` is
    /// at least `floor` in magnitude, and the largest absolute error below.
    fn errors(xs: &[f32], got: &[f32], want: impl Fn(f64) -> f64, floor: f64) -> (f64, f64) {
        let (mut rel, mut abs) = (0f64, 0f64);
        for (&x, &g) in xs.iter().zip(got) {
            let w = want(x as f64);
            let e = (g as f64 - w).abs();
            if w.abs() >= floor {
                rel = rel.max(e / w.abs());
            } else {
                abs = abs.max(e);
            }
        }
        (rel, abs)
    }

    #[test]
    fn sigmoid8_is_within_2e_7_relative_everywhere() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let xs = sweep();
        let got = map8(&xs, sigmoid8);
        // every value down to the smallest normal result: σ(x) >= e^-88 for x >= -88
        let (rel, abs) = errors(&xs, &got, |x| 1.0 / (1.0 + (-x).exp()), 1e-37);
        assert!(rel < 2e-7, "relative error {rel:e}");
        assert!(abs < 1e-37, "absolute error {abs:e} where σ < 1e-37");
        assert!(got.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn tanh8_is_within_6_ulp_everywhere() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let xs = sweep();
        let got = map8(&xs, tanh8);
        let mut worst = 0u32;
        for (&x, &g) in xs.iter().zip(&got) {
            let w = (x as f64).tanh() as f32; // correctly rounded to within half an ulp

            // the distance in representable floats (+0 and -0 are one point)
            let ordered = |v: f32| {
                let b = (v.to_bits() & 0x7fff_ffff) as i64;
                if v.is_sign_negative() {
                    -b
                } else {
                    b
                }
            };
            let ulp = (ordered(g) - ordered(w)).unsigned_abs() as u32;
            assert!(
                g.signum() == w.signum() || g == 0.0,
                "sign at {x}: {g} vs {w}"
            );
            worst = worst.max(ulp);
        }
        assert!(worst <= 6, "{worst} ulp");
        let (rel, _) = errors(&xs, &got, f64::tanh, 1e-38);
        assert!(rel < 1e-6, "relative error {rel:e}");
        let special = map8(
            &[
                0.0,
                -0.0,
                20.0,
                -20.0,
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
            ],
            tanh8,
        );
        assert_eq!(special[0].to_bits(), 0f32.to_bits());
        assert_eq!(special[1], 0.0);
        assert_eq!(special[2..4], [1.0, -1.0]);
        assert!(special[4].is_nan());
        assert_eq!(special[5..], [1.0, -1.0]);
    }

    #[test]
    fn exp8_is_within_1e_7_relative_on_its_range_and_keeps_nan() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let xs: Vec<f32> = (0..=1_750_000).map(|i| -87.0 + i as f32 * 1e-4).collect();
        let got = map8(&xs, exp8);
        let (rel, _) = errors(&xs, &got, f64::exp, 0.0);
        assert!(rel < 1e-7, "relative error {rel:e}");
        assert!(map8(&[f32::NAN], exp8)[0].is_nan());
        // clamped to [-87, 88]
        assert_eq!(map8(&[-1e9, 1e9], exp8), map8(&[-87.0, 88.0], exp8));
    }

    /// Deterministic values in [-r, r] (an LCG; no test dependency needed).
    fn values(n: usize, seed: u64, r: f64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((((state >> 11) as f64) / (1u64 << 53) as f64 * 2.0 - 1.0) * r) as f32
            })
            .collect()
    }

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// The row kernels against the cell equations evaluated in f64, for row
    /// widths that are multiples of 8, below 8 and in between (the masked
    /// tail), with pre-activations spanning saturation (|a| up to 12).
    #[test]
    fn row_kernels_match_the_cell_equations_in_f64() {
        if !crate::kernels::has_avx2() {
            return;
        }
        for n in [1, 3, 8, 13, 16, 37] {
            let (xi, gh) = (
                values(4 * n, n as u64, 6.0),
                values(4 * n, 99 + n as u64, 6.0),
            );
            let cp = values(n, 7 + n as u64, 3.0);
            let (mut h, mut c) = (vec![0f32; n], vec![0f32; n]);
            // the cache from a cache line, so that whole groups of lanes
            // (n = 8, 16) take the streaming stores
            let mut line = Vec::new();
            let at = crate::kernels::aligned::align_to_line(&mut line, 5 * n, 0f32);
            let cache = &mut line[at..at + 5 * n];
            unsafe { lstm_row_f32_avx2(&xi, &gh, &cp, &mut h, &mut c, cache) };
            let a = |q: usize, j: usize| xi[q * n + j] as f64 + gh[q * n + j] as f64;
            for j in 0..n {
                let (i, f, g, o) = (sig(a(0, j)), sig(a(1, j)), a(2, j).tanh(), sig(a(3, j)));
                let ct = f * cp[j] as f64 + i * g; // c_t = f c_{t-1} + i g
                let want = [i, f, g, o, ct.tanh()];
                for (q, w) in want.iter().enumerate() {
                    assert!(
                        (cache[q * n + j] as f64 - w).abs() < 1e-6,
                        "lstm n={n} j={j} q={q}"
                    );
                }
                assert!(
                    (c[j] as f64 - ct).abs() < 1e-6 * (1.0 + ct.abs()),
                    "lstm c n={n} j={j}"
                );
                assert!(
                    (h[j] as f64 - o * ct.tanh()).abs() < 1e-6,
                    "lstm h n={n} j={j}"
                );
            }
            let hp = values(n, 5 + n as u64, 1.0);
            let (mut h, mut cache) = (vec![0f32; n], vec![0f32; 4 * n]);
            unsafe { gru_row_f32_avx2(&xi[..3 * n], &gh[..3 * n], &hp, &mut h, &mut cache) };
            for j in 0..n {
                let (r, z) = (sig(a(0, j)), sig(a(1, j)));
                let ghn = gh[2 * n + j] as f64;
                let nn = (xi[2 * n + j] as f64 + r * ghn).tanh(); // n = tanh(W_in x + b_in + r (W_hn h + b_hn))
                let want = (1.0 - z) * nn + z * hp[j] as f64; // h = (1 - z) n + z h_{t-1}
                assert!((h[j] as f64 - want).abs() < 1e-6, "gru h n={n} j={j}");
                for (q, w) in [r, z, nn, ghn].iter().enumerate() {
                    assert!(
                        (cache[q * n + j] as f64 - w).abs() < 1e-6,
                        "gru n={n} j={j} q={q}"
                    );
                }
            }
            let mut h = vec![0f32; n];
            unsafe { tanh_row_f32_avx2(&xi[..n], &gh[..n], &mut h) };
            for (j, &hj) in h.iter().enumerate() {
                assert!(
                    (hj as f64 - a(0, j).tanh()).abs() < 1e-6,
                    "tanh n={n} j={j}"
                );
            }
        }
    }

    /// Applies a 16-lane function (AVX-512) to every element of `xs`.
    fn map16(xs: &[f32], f: unsafe fn(__m512) -> __m512) -> Vec<f32> {
        let mut out = vec![0f32; xs.len()];
        for (x, o) in xs.chunks(16).zip(out.chunks_mut(16)) {
            let mut buf = [0f32; 16];
            buf[..x.len()].copy_from_slice(x);
            // SAFETY: called only where AVX-512F is detected
            unsafe { _mm512_storeu_ps(buf.as_mut_ptr(), f(_mm512_loadu_ps(buf.as_ptr()))) };
            o.copy_from_slice(&buf[..x.len()]);
        }
        out
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn exp16(x: __m512) -> __m512 {
        exp_v(V16(x)).0
    }
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn sigmoid16(x: __m512) -> __m512 {
        sigmoid_v(V16(x)).0
    }
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn tanh16(x: __m512) -> __m512 {
        tanh_v(V16(x)).0
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The 16-lane functions give the 8-lane ones' bits on the whole sweep
    /// (NaN, infinities and the clamps included), so the AVX-512 kernels
    /// inherit the error bounds tested above. Runs where the CPU has
    /// AVX-512F (it returns early elsewhere).
    #[test]
    fn avx512_functions_equal_avx2_bit_for_bit() {
        if !(crate::kernels::has_avx2() && std::is_x86_feature_detected!("avx512f")) {
            eprintln!("no AVX-512F on this CPU: nothing to compare");
            return;
        }
        let mut xs = sweep();
        xs.push(f32::NAN);
        type Pair = (unsafe fn(__m256) -> __m256, unsafe fn(__m512) -> __m512);
        let fns: [Pair; 3] = [(exp8, exp16), (sigmoid8, sigmoid16), (tanh8, tanh16)];
        for (q, (f8, f16)) in fns.into_iter().enumerate() {
            assert!(
                bits(&map8(&xs, f8)) == bits(&map16(&xs, f16)),
                "function {q}"
            );
        }
    }

    /// The AVX-512 row kernels give the AVX2 ones' bits, for row widths with
    /// full groups of 16, of 8, and masked tails of both.
    #[test]
    fn avx512_row_kernels_equal_avx2_bit_for_bit() {
        if !(crate::kernels::has_avx2() && std::is_x86_feature_detected!("avx512f")) {
            eprintln!("no AVX-512F on this CPU: nothing to compare");
            return;
        }
        for n in [1, 7, 8, 9, 15, 16, 17, 24, 37, 256] {
            let (xi, gh) = (
                values(4 * n, n as u64, 12.0),
                values(4 * n, 50 + n as u64, 12.0),
            );
            let cp = values(n, 3 + n as u64, 4.0);
            let run = |wide: bool| {
                let (mut h, mut c) = (vec![0f32; n], vec![0f32; n]);
                // the LSTM cache from a cache line: its streaming stores too
                let mut line = Vec::new();
                let at = crate::kernels::aligned::align_to_line(&mut line, 5 * n, 0f32);
                let k = &mut line[at..at + 5 * n];
                let (mut hg, mut kg, mut ht) = (vec![0f32; n], vec![0f32; 4 * n], vec![0f32; n]);
                // SAFETY: AVX2 and FMA, and AVX-512F for `wide` (checked above)
                unsafe {
                    if wide {
                        lstm_row_f32_avx512(&xi, &gh, &cp, &mut h, &mut c, k);
                        gru_row_f32_avx512(&xi[..3 * n], &gh[..3 * n], &cp, &mut hg, &mut kg);
                        tanh_row_f32_avx512(&xi[..n], &gh[..n], &mut ht);
                    } else {
                        lstm_row_f32_avx2(&xi, &gh, &cp, &mut h, &mut c, k);
                        gru_row_f32_avx2(&xi[..3 * n], &gh[..3 * n], &cp, &mut hg, &mut kg);
                        tanh_row_f32_avx2(&xi[..n], &gh[..n], &mut ht);
                    }
                }
                let k = k.to_vec();
                [h, c, k, hg, kg, ht].map(|v| bits(&v))
            };
            assert_eq!(run(true), run(false), "n={n}");
        }
        // the masked tail writes nothing past the row
        let n = 5;
        let (xi, gh) = (values(4 * n, 1, 2.0), values(4 * n, 2, 2.0));
        let mut h = vec![7f32; n + 16];
        // SAFETY: AVX-512F (checked above)
        unsafe { tanh_row_f32_avx512(&xi[..n], &gh[..n], &mut h[..n]) };
        assert!(h[n..].iter().all(|&v| v == 7.0));
    }

    /// The softmax's exponential row `e^{x_j - shift}` against f64 (within
    /// 1e-7 relative, as `exp8`), masked tails leaving what follows alone,
    /// and the AVX-512 build giving the AVX2 build's bits.
    #[test]
    fn exp_rows_match_f64_and_each_other() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let wide = std::is_x86_feature_detected!("avx512f");
        for n in [1, 5, 8, 13, 16, 17, 65, 100] {
            let x = values(n, 7 + n as u64, 30.0);
            let shift = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut got = vec![-1f32; n + 16];
            // SAFETY: AVX2 and FMA (checked above)
            unsafe { exp_row_f32_avx2(&x, shift, &mut got[..n]) };
            assert!(got[n..].iter().all(|&v| v == -1.0), "n={n}: past the row");
            for (j, (&g, &v)) in got.iter().zip(&x).enumerate() {
                let want = ((v - shift) as f64).exp();
                let rel = (g as f64 - want).abs() / want.max(1e-37);
                assert!(rel < 1e-7, "n={n} j={j}: {g} against {want}");
            }
            if wide {
                let mut w = vec![-1f32; n + 16];
                // SAFETY: AVX-512F (checked above)
                unsafe { exp_row_f32_avx512(&x, shift, &mut w[..n]) };
                assert_eq!(bits(&w), bits(&got), "n={n}: AVX-512 against AVX2");
            }
        }
    }

    /// Without a cache (inference) the row kernels give the same state bits
    /// as with one, on both instruction sets.
    #[test]
    fn row_kernels_without_a_cache_give_the_same_states() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let wide = std::is_x86_feature_detected!("avx512f");
        for n in [1, 7, 16, 37, 256] {
            let (xi, gh) = (
                values(4 * n, n as u64, 8.0),
                values(4 * n, 9 + n as u64, 8.0),
            );
            let cp = values(n, 4 + n as u64, 3.0);
            for avx512 in [false, true].into_iter().filter(|&w| !w || wide) {
                let run = |keep: bool| {
                    let (mut h, mut c, mut hg) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
                    let (mut k, mut kg) = match keep {
                        true => (vec![0f32; 5 * n], vec![0f32; 4 * n]),
                        false => (Vec::new(), Vec::new()),
                    };
                    let (x3, g3) = (&xi[..3 * n], &gh[..3 * n]);
                    // SAFETY: AVX2 and FMA, and AVX-512F for `avx512` (checked above)
                    unsafe {
                        if avx512 {
                            lstm_row_f32_avx512(&xi, &gh, &cp, &mut h, &mut c, &mut k);
                            gru_row_f32_avx512(x3, g3, &cp, &mut hg, &mut kg);
                        } else {
                            lstm_row_f32_avx2(&xi, &gh, &cp, &mut h, &mut c, &mut k);
                            gru_row_f32_avx2(x3, g3, &cp, &mut hg, &mut kg);
                        }
                    }
                    [h, c, hg].map(|v| bits(&v))
                };
                assert_eq!(run(true), run(false), "n={n} avx512={avx512}");
            }
        }
    }

    /// The masked tail writes nothing past the row.
    #[test]
    fn row_kernels_leave_what_follows_the_row_alone() {
        if !crate::kernels::has_avx2() {
            return;
        }
        let n = 5;
        let (xi, gh) = (values(4 * n, 1, 2.0), values(4 * n, 2, 2.0));
        let mut h = vec![7f32; n + 8];
        unsafe { tanh_row_f32_avx2(&xi[..n], &gh[..n], &mut h[..n]) };
        assert!(h[n..].iter().all(|&v| v == 7.0));
        let (mut c, mut cache) = (vec![7f32; n + 8], vec![7f32; 5 * n + 8]);
        unsafe {
            lstm_row_f32_avx2(
                &xi,
                &gh,
                &xi[..n],
                &mut h[..n],
                &mut c[..n],
                &mut cache[..5 * n],
            )
        };
        assert!(h[n..]
            .iter()
            .chain(&c[n..])
            .chain(&cache[5 * n..])
            .all(|&v| v == 7.0));
    }
}
