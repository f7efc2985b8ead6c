//! Vectors of f32 lanes for the hand-vectorised kernels: the operations the
//! gate formulas need ([`Vector`]) on 8 lanes with AVX2 + FMA ([`V8`]) and 16
//! lanes with AVX-512F ([`V16`]), so a formula written once over [`Vector`]
//! compiles for either instruction set and puts each lane through the same
//! operations in the same order (the same bits from both).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The methods of [`Vector`] that map one to one onto an intrinsic of the
/// type's instruction set (the same list for both types).
macro_rules! lane_ops {
    ($v:ident, $set1:ident, $add:ident, $sub:ident, $mul:ident, $div:ident,
     $fmadd:ident, $fnmadd:ident, $min:ident, $max:ident) => {
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            $v($set1(x))
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            $v($add(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            $v($sub(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn mul(self, o: Self) -> Self {
            $v($mul(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn div(self, o: Self) -> Self {
            $v($div(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn fmadd(self, b: Self, c: Self) -> Self {
            $v($fmadd(self.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
            $v($fnmadd(self.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn min(self, o: Self) -> Self {
            $v($min(self.0, o.0))
        }
        #[inline(always)]
        unsafe fn max(self, o: Self) -> Self {
            $v($max(self.0, o.0))
        }
    };
}

/// The lane operations the formulas need, on 8 ([`V8`]) or 16 ([`V16`]) f32
/// lanes. Every method is `#[inline(always)]` and must run inside a function
/// compiled with the instruction set of its type (AVX2 + FMA for [`V8`],
/// AVX-512F for [`V16`]).
#[cfg(target_arch = "x86_64")]
pub(crate) trait Vector: Copy {
    /// Lanes.
    const N: usize;
    /// Which lanes a load or store at the end of a row covers.
    type Mask: Copy;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self;
    /// `self + o`.
    unsafe fn add(self, o: Self) -> Self;
    /// `self - o`.
    unsafe fn sub(self, o: Self) -> Self;
    /// `self * o`.
    unsafe fn mul(self, o: Self) -> Self;
    /// `self / o`.
    unsafe fn div(self, o: Self) -> Self;
    /// `self * b + c`, one rounding.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    /// `c - self * b`, one rounding.
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self;
    /// `min(self, o)`; `o` when either is NaN.
    unsafe fn min(self, o: Self) -> Self;
    /// `max(self, o)`; `o` when either is NaN.
    unsafe fn max(self, o: Self) -> Self;
    /// `2^n` from `t = n + round` (`n` an integer in `[-126, 127]` held in
    /// the low mantissa bits of `t`, `round` = 1.5 * 2^23): `(n + 127) << 23`
    /// as the bits of a float.
    unsafe fn pow2(t: Self, round: Self) -> Self;
    /// The lanes of the group with `rest` units left in the row.
    unsafe fn mask(rest: usize) -> Self::Mask;
    /// Loads the lanes of `m` at `p` (the others read as 0).
    unsafe fn load(p: *const f32, m: Self::Mask) -> Self;
    /// Stores the lanes of `m` at `p`.
    unsafe fn store(self, p: *mut f32, m: Self::Mask);
    /// Stores the lanes of `m` at `p`, past the caches (a non-temporal
    /// store) when all lanes are stored and `p` is aligned to the vector,
    /// else as [`Vector::store`]. For values not read again soon; the
    /// caller orders them before another thread reads them (`_mm_sfence`).
    unsafe fn stream(self, p: *mut f32, m: Self::Mask);
}

/// 8 f32 lanes (AVX2 + FMA).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct V8(pub(crate) __m256);

/// 16 f32 lanes (AVX-512F).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct V16(pub(crate) __m512);

/// Which of 8 lanes a load or store covers: all of them, or the first few
/// at the end of a row (masked: AMD's AVX2 masked stores are slow, so the
/// full groups use plain ones).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) enum Lanes {
    All,
    First(__m256i),
}

#[cfg(target_arch = "x86_64")]
impl Vector for V8 {
    const N: usize = 8;
    type Mask = Lanes;
    lane_ops!(
        V8,
        _mm256_set1_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_div_ps,
        _mm256_fmadd_ps,
        _mm256_fnmadd_ps,
        _mm256_min_ps,
        _mm256_max_ps
    );
    #[inline(always)]
    unsafe fn pow2(t: Self, round: Self) -> Self {
        let n = _mm256_sub_epi32(_mm256_castps_si256(t.0), _mm256_castps_si256(round.0));
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(n, _mm256_set1_epi32(127)));
        V8(_mm256_castsi256_ps(bits))
    }
    #[inline(always)]
    unsafe fn mask(rest: usize) -> Lanes {
        if rest >= 8 {
            return Lanes::All;
        }
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        Lanes::First(_mm256_cmpgt_epi32(_mm256_set1_epi32(rest as i32), idx))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, m: Lanes) -> Self {
        V8(match m {
            Lanes::All => _mm256_loadu_ps(p),
            Lanes::First(m) => _mm256_maskload_ps(p, m),
        })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, m: Lanes) {
        match m {
            Lanes::All => _mm256_storeu_ps(p, self.0),
            Lanes::First(m) => _mm256_maskstore_ps(p, m, self.0),
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32, m: Lanes) {
        match m {
            Lanes::All if (p as usize).is_multiple_of(32) => _mm256_stream_ps(p, self.0),
            _ => self.store(p, m),
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Vector for V16 {
    const N: usize = 16;
    type Mask = __mmask16;
    lane_ops!(
        V16,
        _mm512_set1_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_div_ps,
        _mm512_fmadd_ps,
        _mm512_fnmadd_ps,
        _mm512_min_ps,
        _mm512_max_ps
    );
    #[inline(always)]
    unsafe fn pow2(t: Self, round: Self) -> Self {
        let n = _mm512_sub_epi32(_mm512_castps_si512(t.0), _mm512_castps_si512(round.0));
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(n, _mm512_set1_epi32(127)));
        V16(_mm512_castsi512_ps(bits))
    }
    #[inline(always)]
    unsafe fn mask(rest: usize) -> __mmask16 {
        if rest >= 16 {
            0xffff
        } else {
            (1u16 << rest) - 1
        }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, m: __mmask16) -> Self {
        V16(if m == 0xffff {
            _mm512_loadu_ps(p)
        } else {
            _mm512_maskz_loadu_ps(m, p)
        })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, m: __mmask16) {
        if m == 0xffff {
            _mm512_storeu_ps(p, self.0)
        } else {
            _mm512_mask_storeu_ps(p, m, self.0)
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32, m: __mmask16) {
        if m == 0xffff && (p as usize).is_multiple_of(64) {
            _mm512_stream_ps(p, self.0)
        } else {
            self.store(p, m)
        }
    }
}
