//! The scalar type every layer is generic over: `f32` for speed, `f64` for
//! exactness checks against the PyTorch reference. One implementation serves both.

use std::fmt::{Debug, Display};

/// A real floating-point scalar usable in every layer, loss and optimizer.
///
/// Implemented for `f32` and `f64`. It combines the arithmetic of
/// [`num_traits::Float`] with faer's [`faer::traits::RealField`] so the same
/// generic code can call the GEMM kernels.
pub trait Float:
    faer::traits::RealField
    + num_traits::Float
    + num_traits::FromPrimitive
    + Copy
    + Default
    + Send
    + Sync
    + Debug
    + Display
    + std::iter::Sum
    + 'static
{
    /// The safetensors dtype name of this scalar ("F32" or "F64").
    const DTYPE: &'static str;
    /// Converts from `f64` (rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn f64(self) -> f64;
    /// Writes the little-endian bytes of a slice.
    fn to_le_bytes_vec(data: &[Self]) -> Vec<u8>;
    /// `tanh(self)` as fast as the type's accuracy allows: exact (libm) for
    /// `f64`, whose results are checked against PyTorch at 1e-9; for `f32` a
    /// branch-free approximation (a few ulp) that the compiler can vectorise.
    fn tanh_fast(self) -> Self;
    /// `e^self`, likewise: libm for `f64`, a vectorisable approximation
    /// (relative error about 1e-7) for `f32`.
    fn exp_fast(self) -> Self;
    /// `y[rows] += A[rows, cols] x[cols]` (row-major `A`), as
    /// [`crate::kernels::gemv_acc`]; `f32` on x86-64 with AVX2 and FMA uses a
    /// hand-vectorised kernel (the step product of batch 1).
    #[inline]
    fn gemv_acc(rows: usize, cols: usize, a: &[Self], x: &[Self], y: &mut [Self]) {
        crate::kernels::gemv_acc(rows, cols, a, x, y)
    }
    /// Whether [`crate::kernels::PackedRhs`] has a fast kernel for this type
    /// on this CPU (f32 with AVX2 and FMA); else the layers use faer's GEMM.
    #[inline]
    fn packed_fast() -> bool {
        false
    }
    /// `C[m, N] += A[m, K] B` with `B` packed by [`crate::kernels::PackedRhs`]
    /// (`packed`: `[ceil(N / 16), K, 16]`), or with `bias` (`[N]`) `C = bias
    /// + A B` (`C` not read); see
    /// [`crate::kernels::packed::packed_gemm_acc_portable`].
    #[inline]
    fn packed_gemm_acc(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        packed: &[Self],
        bias: Option<&[Self]>,
        c: &mut [Self],
    ) {
        crate::kernels::packed::packed_gemm_acc_portable(m, k, n, a, packed, bias, c)
    }
    /// `C[m, n] += A^T B` (`A` stored `[k, m]`, `B` `[k, n]`, row-major) by
    /// the hand-written blocked kernel, if this type has one on this CPU (f32
    /// with AVX2 and FMA: `crate::kernels::packed`); `false` (nothing
    /// written) when it has none.
    #[inline]
    fn gemm_at_b_acc(
        _m: usize,
        _n: usize,
        _k: usize,
        _a_t: &[Self],
        _b: &[Self],
        _c: &mut [Self],
    ) -> bool {
        false
    }
    /// One LSTM step of one row (`xi`, `gh`: `[4H]`; `c_prev`, `h`, `c`:
    /// `[H]`; `cache`: `[5H]`) by a hand-vectorised kernel, if this type has
    /// one on this CPU (f32 with AVX2 and FMA: `crate::kernels::gates`);
    /// `false` (nothing written) when it has none and the caller runs the
    /// portable loop.
    #[inline]
    fn lstm_row(
        _xi: &[Self],
        _gh: &[Self],
        _c_prev: &[Self],
        _h: &mut [Self],
        _c: &mut [Self],
        _cache: &mut [Self],
    ) -> bool {
        false
    }
    /// `out_j = e^{x_j - shift}` for every `j` of `x` (`out` at least as long),
    /// by a SIMD kernel if this type has one on this CPU (f32 with AVX2 and
    /// FMA: the vectorised `e^x` of `kernels/gates.rs`, relative error about
    /// 1e-7; the exponent clamped to `[-87, 88]`); `false`, nothing written,
    /// when it has none and the caller uses [`Float::exp_fast`].
    #[inline]
    fn exp_shifted_row(_x: &[Self], _shift: Self, _out: &mut [Self]) -> bool {
        false
    }
    /// Whether [`Float::gemv_cols_acc`] has a kernel for this type on this
    /// CPU (f32 with AVX2 and FMA).
    #[inline]
    fn cols_fast() -> bool {
        false
    }
    /// `y[N] += x[K] A[K, N]` read down the columns of `A` (the batch-1 step
    /// product with `W_hh` laid out transposed, `kernels/cols.rs`: each
    /// output summed over `k` in order, one fused multiply-add per term),
    /// `A` laid out in that kernel's panels (`kernels::cols::to_panels`).
    /// Returns `false`, with `y` untouched, where [`Float::cols_fast`] is
    /// false: the caller uses [`Float::gemv_acc`]. `from_last` takes the
    /// panels in the other order (the same sums; a step loop alternating it
    /// starts each step on the panel still in cache from the last).
    #[inline]
    fn gemv_cols_acc(
        _k: usize,
        _n: usize,
        _a: &[Self],
        _x: &[Self],
        _y: &mut [Self],
        _from_last: bool,
    ) -> bool {
        false
    }
    /// `y[cols] += A[rows, cols]^T x[rows]` with the sums of
    /// [`crate::kernels::gemv_t_acc`]'s loop, by a SIMD kernel if this type
    /// has one on this CPU (f32 with AVX2 and FMA: `kernels/cols.rs`);
    /// `false`, with `y` untouched, when it has none.
    #[inline]
    fn gemv_t_fast(_rows: usize, _cols: usize, _a: &[Self], _x: &[Self], _y: &mut [Self]) -> bool {
        false
    }
    /// One GRU step of one row (`xi`, `gh`: `[3H]`; `h_prev`, `h`: `[H]`;
    /// `cache`: `[4H]`), as [`Float::lstm_row`].
    #[inline]
    fn gru_row(
        _xi: &[Self],
        _gh: &[Self],
        _h_prev: &[Self],
        _h: &mut [Self],
        _cache: &mut [Self],
    ) -> bool {
        false
    }
    /// One tanh Elman step of one row (`h = tanh(xi + gh)`, each `[H]`), as
    /// [`Float::lstm_row`].
    #[inline]
    fn tanh_row(_xi: &[Self], _gh: &[Self], _h: &mut [Self]) -> bool {
        false
    }
}

impl Float for f32 {
    const DTYPE: &'static str = "F32";
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        tanh_f32(self)
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
    #[inline]
    fn gemv_acc(rows: usize, cols: usize, a: &[Self], x: &[Self], y: &mut [Self]) {
        // AVX2 also where the CPU has AVX-512: a 16-lane build of this
        // product (batch 1, `H` = 100) measured no faster in `rnn bench`'s S
        // config on an AVX-512 Xeon (BENCHMARKS.md, seventh session)
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { crate::kernels::gemv_acc_f32_avx2(rows, cols, a, x, y) };
        }
        crate::kernels::gemv_acc(rows, cols, a, x, y)
    }
    #[inline]
    fn packed_fast() -> bool {
        crate::kernels::has_avx2()
    }
    #[inline]
    fn cols_fast() -> bool {
        crate::kernels::cols::available()
    }
    #[inline]
    fn gemv_cols_acc(
        k: usize,
        n: usize,
        a: &[Self],
        x: &[Self],
        y: &mut [Self],
        from_last: bool,
    ) -> bool {
        crate::kernels::cols::gemv_cols_acc_f32(k, n, a, x, y, from_last)
    }
    #[inline]
    fn gemv_t_fast(rows: usize, cols: usize, a: &[Self], x: &[Self], y: &mut [Self]) -> bool {
        crate::kernels::cols::gemv_t_acc_f32(rows, cols, a, x, y)
    }
    #[inline]
    fn gemm_at_b_acc(
        m: usize,
        n: usize,
        k: usize,
        a_t: &[Self],
        b: &[Self],
        c: &mut [Self],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            unsafe { crate::kernels::packed::gemm_at_b_acc_f32_avx512(m, n, k, a_t, b, c) };
            return true;
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { crate::kernels::packed::gemm_at_b_acc_f32_avx2(m, n, k, a_t, b, c) };
            return true;
        }
        let _ = (m, n, k, a_t, b, c);
        false
    }
    #[inline]
    fn lstm_row(
        xi: &[Self],
        gh: &[Self],
        c_prev: &[Self],
        h: &mut [Self],
        c: &mut [Self],
        cache: &mut [Self],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::gates::fast() {
            // SAFETY: fast() holds only with AVX2 and FMA; the kernel checks the lengths.
            if crate::kernels::has_avx512() {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
                unsafe { crate::kernels::gates::lstm_row_f32_avx512(xi, gh, c_prev, h, c, cache) };
            } else {
                unsafe { crate::kernels::gates::lstm_row_f32_avx2(xi, gh, c_prev, h, c, cache) };
            }
            return true;
        }
        let _ = (xi, gh, c_prev, h, c, cache);
        false
    }
    #[inline]
    fn gru_row(
        xi: &[Self],
        gh: &[Self],
        h_prev: &[Self],
        h: &mut [Self],
        cache: &mut [Self],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::gates::fast() {
            // SAFETY: as in lstm_row.
            if crate::kernels::has_avx512() {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
                unsafe { crate::kernels::gates::gru_row_f32_avx512(xi, gh, h_prev, h, cache) };
            } else {
                unsafe { crate::kernels::gates::gru_row_f32_avx2(xi, gh, h_prev, h, cache) };
            }
            return true;
        }
        let _ = (xi, gh, h_prev, h, cache);
        false
    }
    #[inline]
    fn exp_shifted_row(x: &[Self], shift: Self, out: &mut [Self]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::gates::fast() {
            if crate::kernels::has_avx512() {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just
                // above); the kernel checks the lengths.
                unsafe { crate::kernels::gates::exp_row_f32_avx512(x, shift, out) };
            } else {
                // SAFETY: fast() holds only with AVX2 and FMA.
                unsafe { crate::kernels::gates::exp_row_f32_avx2(x, shift, out) };
            }
            return true;
        }
        let _ = (x, shift, out);
        false
    }
    #[inline]
    fn tanh_row(xi: &[Self], gh: &[Self], h: &mut [Self]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::gates::fast() {
            // SAFETY: as in lstm_row.
            if crate::kernels::has_avx512() {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
                unsafe { crate::kernels::gates::tanh_row_f32_avx512(xi, gh, h) };
            } else {
                unsafe { crate::kernels::gates::tanh_row_f32_avx2(xi, gh, h) };
            }
            return true;
        }
        let _ = (xi, gh, h);
        false
    }
    #[inline]
    fn packed_gemm_acc(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        packed: &[Self],
        bias: Option<&[Self]>,
        c: &mut [Self],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            return unsafe {
                crate::kernels::packed::packed_gemm_acc_f32_avx512(m, k, n, a, packed, bias, c)
            };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe {
                crate::kernels::packed::packed_gemm_acc_f32_avx2(m, k, n, a, packed, bias, c)
            };
        }
        crate::kernels::packed::packed_gemm_acc_portable(m, k, n, a, packed, bias, c)
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    fn to_le_bytes_vec(data: &[Self]) -> Vec<u8> {
        data.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "F64";
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    fn to_le_bytes_vec(data: &[Self]) -> Vec<u8> {
        data.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// `e^y` for `y` in `[-87, 88]` (where `2^n` below stays a normal f32), branch-free: `y = n ln2 + r` with `|r| <= ln2/2`,
/// `e^r` from its Taylor series to `r^7` (relative error below 1e-7 on that
/// interval), times `2^n` built in the exponent bits.
#[inline(always)]
fn exp_core_f32(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in f32 and the rest, so `y - n ln2` loses nothing
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // adding 1.5 * 2^23 rounds to an integer kept in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let t = y * LOG2E + ROUND;
    let n = t - ROUND; // round(y / ln 2)
    let r = (y - n * LN2_HI) - n * LN2_LO;
    // Taylor to r^7 in Estrin's scheme: a shallower dependency chain than
    // Horner's, so consecutive vector iterations overlap
    let (r2, r4) = (r * r, (r * r) * (r * r));
    let p01 = 1.0 + r;
    let p23 = 1.0 / 2.0 + r * (1.0 / 6.0);
    let p45 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    let p = (p01 + p23 * r2) + (p45 + p67 * r2) * r4;
    // n in [-126, 127]: (n + 127) << 23 is the bit pattern of 2^n
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    p * f32::from_bits(((ni + 127) as u32) << 23)
}

/// `e^x` in f32 without branches or calls: 0 below -87, infinity above 88.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    let c = x.clamp(-87.0, 88.0); // (a NaN stays NaN)
    let e = exp_core_f32(c);
    if x < -87.0 {
        0.0
    } else if x > 88.0 {
        f32::INFINITY
    } else {
        e
    }
}

/// `tanh(x)` in f32 without branches or calls, so loops over it vectorise.
///
/// `|x| < 0.4`: the odd Taylor series to `x^13` (truncation below 2e-9
/// relative). Otherwise `tanh|x| = (1 - e) / (1 + e)` with `e = e^{-2|x|}`,
/// where `1 - e >= 0.55` has no cancellation; `|x|` is capped at 40, where
/// tanh is 1 in f32. Measured error: within 3 ulp of libm (see the tests).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // small |x|: x (1 + x^2 (c3 + x^2 (c5 + ...)))
    let z = x * x;
    let (z2, z4) = (z * z, (z * z) * (z * z));
    let q01 = 1.0 + z * (-1.0 / 3.0);
    let q23 = 2.0 / 15.0 + z * (-17.0 / 315.0);
    let q45 = 62.0 / 2835.0 + z * (-1382.0 / 155_925.0);
    let q6 = 21_844.0 / 6_081_075.0;
    let small = x * ((q01 + q23 * z2) + (q45 + q6 * z2) * z4); // (Estrin's scheme)
    let capped = if a > 40.0 { 40.0 } else { a }; // (not f32::min, which would drop a NaN)
    let e = exp_core_f32(-2.0 * capped);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.4 {
        small
    } else {
        large
    }
}

/// IEEE half precision (the bits of an `f16`) to f64, exactly: sign, 5-bit exponent (bias 15), 10-bit fraction.
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24), // subnormal: frac/2^10 * 2^-14
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite f32 of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn tanh_fast_f32_is_within_a_few_ulp() {
        let mut worst = 0;
        let mut x = -12.0f32;
        while x <= 12.0 {
            let (got, want) = (x.tanh_fast(), (x as f64).tanh() as f32);
            if x != 0.0 {
                worst = worst.max(ulps(got, want));
            }
            x += 0.000_731;
        }
        assert!(worst <= 4, "worst error {worst} ulp");
        for &(x, want) in &[(0.0f32, 0.0f32), (1e-30, 1e-30), (50.0, 1.0), (-1e30, -1.0)] {
            assert_eq!(x.tanh_fast(), want, "tanh({x})");
        }
        assert!(f32::NAN.tanh_fast().is_nan());
    }

    #[test]
    fn exp_fast_f32_is_within_a_few_ulp() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (x.exp_fast(), (x as f64).exp() as f32);
            worst = worst.max(ulps(got, want));
            x += 0.003_17;
        }
        assert!(worst <= 4, "worst error {worst} ulp");
        assert_eq!((-100f32).exp_fast(), 0.0);
        assert_eq!(100f32.exp_fast(), f32::INFINITY);
        assert_eq!(0f32.exp_fast(), 1.0);
        assert!(f32::NAN.exp_fast().is_nan());
    }

    #[test]
    fn tanh_fast_f64_is_libm() {
        for x in [-3.0f64, -0.1, 0.0, 0.3, 2.5] {
            assert_eq!(x.tanh_fast(), x.tanh());
        }
    }
}
