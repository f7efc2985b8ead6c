//! The register tiles of the packed product ([`super::packed`]): `R` rows of
//! `A` by one panel of `B` (AVX2, [`tile`]) or two (AVX-512, [`tile512`]),
//! each sum taken over `kk` in order and added to `C` (or to the bias) at the
//! end. The blocked loops around them, which choose the rows, panels and
//! slices, are in `packed.rs`; here is only the arithmetic of one tile.

use super::packed::NR;

/// Where a tile finds `A[r, kk]`: with `D` (direct) in row `r` of `A`
/// itself, rows `lda` apart; else in the block packed `[K, R]`.
///
/// # Safety
/// `a` must point at `A` laid out as `D` says, with row `r` and column `kk`
/// inside it.
#[inline(always)]
unsafe fn a_elem<const R: usize, const D: bool>(
    a: *const f32,
    lda: usize,
    r: usize,
    kk: usize,
) -> *const f32 {
    if D {
        a.add(r * lda + kk)
    } else {
        a.add(kk * R + r)
    }
}

/// Row `r` of `C` (rows `ldc` apart) and what a tile's sums for it are
/// added to: that row itself, or the bias when it is not null.
///
/// # Safety
/// `c` must point at a `C` with row `r` inside it.
#[inline(always)]
unsafe fn row_and_base(
    c: *mut f32,
    bias: *const f32,
    r: usize,
    ldc: usize,
) -> (*mut f32, *const f32) {
    let cr = c.add(r * ldc);
    (cr, if bias.is_null() { cr } else { bias })
}

/// `C[R, w] += A[R, K] P[K, w]` for one panel `P` (`[K, NR]`), `R <= MR`;
/// with `pf` not null, also asks for the `k` lines of the next panel's slice
/// at `pf` (one per `kk`, into L2) while the sums run: at the L shape the
/// step product's right-hand matrix (16 MiB) comes from L3, and without it
/// the first row block over each panel waited for it.
///
/// `c` is `(C, bias)`: with `bias` not null the sums are added to its `w`
/// floats (the same for every row) and stored to `C`, whose contents are not
/// read.
///
/// # Safety
/// AVX2 and FMA; `a` is `(A, lda)`: with `D`, `A`'s `R` rows of `k` floats
/// each, `lda` apart (`A[r, kk] = a[r * lda + kk]`), else `k * R` floats
/// (`A`'s `R` rows interleaved: `a[kk * R + r] = A[r, kk]`; `lda` unused),
/// `bp` at `k * NR` floats, `C` at `R` rows of
/// `w <= NR` floats (`ldc` apart), `bias` null or at `w` floats; `pf` null or
/// at `k * NR` floats. `L` not 0 is `lda` as a constant (the caller's `lda`
/// must then equal it), as in [`tile512`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn tile<const R: usize, const D: bool, const L: usize>(
    k: usize,
    a: (*const f32, usize),
    bp: *const f32,
    c: (*mut f32, *const f32),
    ldc: usize,
    w: usize,
    pf: *const f32,
) {
    if pf.is_null() {
        tile_sums::<R, false, D, L>(k, a, bp, c, ldc, w, pf)
    } else {
        tile_sums::<R, true, D, L>(k, a, bp, c, ldc, w, pf)
    }
}

/// [`tile`], with the prefetches when `PF`.
///
/// # Safety
/// As [`tile`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tile_sums<const R: usize, const PF: bool, const D: bool, const L: usize>(
    k: usize,
    (a, lda): (*const f32, usize),
    bp: *const f32,
    (c, bias): (*mut f32, *const f32),
    ldc: usize,
    w: usize,
    pf: *const f32,
) {
    use std::arch::x86_64::*;
    debug_assert!(L == 0 || L == lda);
    let lda = if L == 0 { lda } else { L };
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for kk in 0..k {
        if PF {
            // a panel row is NR = 16 floats: one 64-byte line
            _mm_prefetch::<_MM_HINT_T1>(pf.add(kk * NR) as *const i8);
        }
        let b0 = _mm256_loadu_ps(bp.add(kk * NR));
        let b1 = _mm256_loadu_ps(bp.add(kk * NR + 8));
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = _mm256_broadcast_ss(&*a_elem::<R, D>(a, lda, r, kk));
            acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
            acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let (cr, base) = row_and_base(c, bias, r, ldc);
        if w == NR {
            _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(base), acc[0]));
            _mm256_storeu_ps(
                cr.add(8),
                _mm256_add_ps(_mm256_loadu_ps(base.add(8)), acc[1]),
            );
        } else {
            let mut sums = [0f32; NR];
            _mm256_storeu_ps(sums.as_mut_ptr(), acc[0]);
            _mm256_storeu_ps(sums.as_mut_ptr().add(8), acc[1]);
            for (jj, &s) in sums[..w].iter().enumerate() {
                *cr.add(jj) = *base.add(jj) + s;
            }
        }
    }
}

/// The AVX-512 tile: `C[R, w] += A[R, K] [P_0 P_1][K, w]` for `P` panels
/// (`bp[..P]`, `[K, NR]` each; `w <= P * NR` columns), `R <= MR512`, one
/// 16-float register per panel row. Each sum is taken over `kk` in order from
/// zero and added to `C` at the end, as in [`tile`]: the same bits. With `pf`
/// not null, also asks for the `k` lines of each of the two panels at `pf`
/// (into L2). `c` is `(C, bias)` as in [`tile`]. `L` not 0 is `lda` as a
/// constant (the caller's `lda` must then equal it): the rows' addresses
/// become fixed offsets from `a`.
///
/// # Safety
/// AVX-512F; pointers as [`tile`]'s, `bp[q]` for `q < P` at `k * NR` floats.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn tile512<const R: usize, const P: usize, const D: bool, const L: usize>(
    k: usize,
    (a, lda): (*const f32, usize),
    bp: [*const f32; 2],
    (c, bias): (*mut f32, *const f32),
    ldc: usize,
    w: usize,
    pf: [*const f32; 2],
) {
    use std::arch::x86_64::*;
    debug_assert!(L == 0 || L == lda);
    let lda = if L == 0 { lda } else { L };
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    let prefetch = !pf[0].is_null();
    for kk in 0..k {
        if prefetch {
            _mm_prefetch::<_MM_HINT_T1>(pf[0].add(kk * NR) as *const i8);
            _mm_prefetch::<_MM_HINT_T1>(pf[1].add(kk * NR) as *const i8);
        }
        let mut b = [_mm512_setzero_ps(); P];
        for (q, b) in b.iter_mut().enumerate() {
            *b = _mm512_loadu_ps(bp[q].add(kk * NR));
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(*a_elem::<R, D>(a, lda, r, kk));
            for (q, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_fmadd_ps(av, b[q], *acc);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let (cr, base) = row_and_base(c, bias, r, ldc);
        for (q, &acc) in acc.iter().enumerate() {
            let (cq, bq) = (cr.add(q * NR), base.add(q * NR));
            let left = w.saturating_sub(q * NR);
            if left >= NR {
                _mm512_storeu_ps(cq, _mm512_add_ps(_mm512_loadu_ps(bq), acc));
            } else if left > 0 {
                let mask: __mmask16 = (1u16 << left) - 1;
                let old = _mm512_maskz_loadu_ps(mask, bq);
                _mm512_mask_storeu_ps(cq, mask, _mm512_add_ps(old, acc));
            }
        }
    }
}
