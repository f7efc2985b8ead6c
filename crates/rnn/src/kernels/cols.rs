//! The batch-1 step product read down the columns: `y[N] += x[K] A[K, N]`
//! with `A = W_hh^T` (`[H, G*H]`, laid out once by [`crate::Prepared`]),
//! for f32 with AVX2 or AVX-512.
//!
//! The row-major product (`gemv_acc`: one dot product per row of `W_hh`)
//! reads eight rows at once, eight streams through L2, and ends every row
//! in a horizontal sum. Here a block of `y` (up to 25 AVX-512 or 12 AVX2
//! registers: 400 or 96 outputs) stays in registers while the rows of `A`
//! stream past it, `x[k]` times a contiguous run of `A[k, ..]`: one stream,
//! no horizontal sums, as many independent FMA chains as registers. At the
//! LSTM's `H` = 100 (`W_hh` 160 KB, in L2) a step took 1.0 us in
//! `rnn bench`'s S inference against 1.34 us for the row-major product, on
//! an AMD EPYC with AVX-512 (BENCHMARKS.md, seventeenth session).
//!
//! Every output is `y[j] + (((0 + A[0, j] x[0]) + A[1, j] x[1]) + ...)`,
//! each `+ A[k, j] x[k]` one fused multiply-add, `k` in order, whatever
//! block or instruction set it falls in: the AVX2 and AVX-512 builds give
//! the same bits, and so does any subset of the columns (the two halves of
//! `nn::layer::split` each run their own units' columns).
//!
//! `A` is laid out in panels ([`to_panels`]): the columns cut into runs
//! of one block's width (400 with AVX-512, 96 with AVX2; the last run takes
//! the remainder), each run's `K` rows stored one after the other, so each pass over `A` reads one
//! contiguous stream. Row-major, a pass read a few lines of each of the `K`
//! rows: with AVX2 (five passes at `N` = 400) that took 1.22 us per product
//! against 0.93 us in panels and 1.12 us for the row-major product, on an
//! AMD EPYC (Zen 5) with `RNN_SIMD=avx2` (BENCHMARKS.md, twentieth session).
//! The panels change which loads feed a sum, not the sum: the same bits.
//!
//! The same loop with each term a multiplication and then an addition (two
//! roundings) is BPTT's batch-1 `dh = W_hh^T dg` ([`gemv_t_acc_f32`]): the
//! sums of `linalg::gemv_t_acc`'s portable loop bit for bit, with as many
//! independent sums in registers as the instruction set holds (that loop,
//! compiled for AVX-512, kept a block of 32 outputs in two registers, two
//! dependent chains, and passed over `W_hh` four times at `H` = 100).

#[cfg(target_arch = "x86_64")]
use super::lanes::{Vector, V16, V8};

/// Whether [`gemv_cols_acc_f32`] has a build for this CPU (AVX2 and FMA).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::has_avx2()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Accumulators of the widest AVX-512 block: 25 registers of 16 outputs.
#[cfg(target_arch = "x86_64")]
const WIDE512: usize = 25;
/// Accumulators of the widest AVX2 block: 12 registers of 8 outputs.
#[cfg(target_arch = "x86_64")]
const WIDE256: usize = 12;

/// The columns of one panel of [`to_panels`]: one pass of the widest block
/// of this CPU's build, [`WIDE512`] or [`WIDE256`] registers (`usize::MAX`,
/// one panel, on CPUs with neither: no kernel reads it then).
pub(crate) fn panel_width() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if super::has_avx512() {
            return WIDE512 * V16::N;
        }
        if super::has_avx2() {
            return WIDE256 * V8::N;
        }
    }
    usize::MAX
}

/// Where panel `j0`'s columns end, for `N` columns in panels of `w`: `w`
/// columns on, except the last panel, which takes the remainder too (`w` to
/// `2w - 1` columns, or all `N` when `N < w`), so that no panel is a narrow
/// strip (`N` = 100 with AVX2's 96 is one panel, read as before; 96 and a
/// panel of four measured 5 % slower in `rnn bench` S inference, Elman).
fn panel_end(j0: usize, n: usize, w: usize) -> usize {
    if n - j0 < w.saturating_mul(2) {
        n
    } else {
        j0 + w
    }
}

/// `a` (`[K, N]` row-major) in panels of [`panel_width`] columns, into
/// `out`: each panel (`j0..`[`panel_end`]) holds its columns of every row,
/// row after row (`[K, w_p]` row-major), and the panels follow one another.
/// The layout [`gemv_cols_acc_f32`] reads.
pub(crate) fn to_panels<T: Copy>(a: &[T], k: usize, n: usize, out: &mut Vec<T>) {
    let w = panel_width();
    out.clear();
    out.reserve(k * n);
    let mut j0 = 0;
    while j0 < n {
        let j1 = panel_end(j0, n, w);
        for row in a[..super::len_of(k, n)].chunks_exact(n).take(k) {
            out.extend_from_slice(&row[j0..j1]);
        }
        j0 = j1;
    }
}

/// `y[N] += x[K] A[K, N]`, `A` in the panels of [`to_panels`], summed as the
/// module says: the AVX-512 build when the CPU has AVX-512F, else the AVX2
/// build. Returns `false`, with `y` untouched, when the CPU has neither
/// ([`available`]).
///
/// # Panics
/// When `a` is shorter than `K*N`, `x` than `K` or `y` than `N`.
///
/// With `from_last` the panels are taken last to first: a step loop that
/// alternates it finds the panel it ended on still in L1 when it starts the
/// next step (each output's sum is the same either way: the panels are
/// disjoint blocks of outputs).
pub(crate) fn gemv_cols_acc_f32(
    k: usize,
    n: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
    from_last: bool,
) -> bool {
    dispatch::<true, true>(k, n, a, x, y, from_last)
}

/// `y[N] += A[K, N]^T x[K]`, i.e. `y[N] += x[K] A[K, N]` with each term a
/// multiplication and then an addition: `y_j + (((0 + x_0 A[0, j]) + x_1 A[1,
/// j]) + ...)`, the sums of `linalg::gemv_t_acc`'s portable loop bit for bit
/// (each output's terms in the order of `k`, two roundings each). AVX-512 when
/// the CPU has it, else AVX2; `false`, with `y` untouched, with neither.
///
/// # Panics
/// When `a` is shorter than `K*N`, `x` than `K` or `y` than `N`.
pub(crate) fn gemv_t_acc_f32(k: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) -> bool {
    dispatch::<false, false>(k, n, a, x, y, false)
}

/// The build of [`panels`] for this CPU, fused (`FMA`) or not, `A` in
/// panels or row-major; `false`, with `y` untouched, when the CPU has
/// neither AVX-512F nor AVX2. With `from_last` (and `PANELS`) the panels
/// last to first.
fn dispatch<const FMA: bool, const PANELS: bool>(
    k: usize,
    n: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
    from_last: bool,
) -> bool {
    let (a, x, y) = (&a[..super::len_of(k, n)], &x[..k], &mut y[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if super::has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA; the slices were cut
            // to K*N, K and N above.
            unsafe { cols_avx512::<FMA, PANELS>(k, n, a, x, y, from_last) };
            return true;
        }
        if super::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; lengths as above.
            unsafe { cols_avx2::<FMA, PANELS>(k, n, a, x, y, from_last) };
            return true;
        }
    }
    let _ = (a, x, y, from_last);
    false
}

/// Columns `j0..j0 + R*V::N` of `y` in `R` accumulators while all `K` rows
/// of `A` stream past; with `MASKED` the lanes past `N` are left out; with
/// `FMA` each term is one fused multiply-add, else a multiplication and an
/// addition. `A` is read with a row stride of `lda` (`N` row-major, the
/// panel's width in panels).
///
/// # Safety
/// The instruction set of `V`; `a` `[K, lda]` with `N <= lda`, `x` `[K]`,
/// `y` `[N]`; without `MASKED`, `j0 + R*V::N <= N`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block<V: Vector, const R: usize, const MASKED: bool, const FMA: bool>(
    n: usize,
    lda: usize,
    a: *const f32,
    x: &[f32],
    y: *mut f32,
    j0: usize,
) {
    let mut acc = [V::splat(0.0); R];
    if MASKED {
        // registers 0..full whole, register `full` the last few columns
        // (one mask), the rest unused
        let left = n - j0;
        let (full, tail) = (left / V::N, V::mask(left % V::N));
        let all = V::mask(V::N);
        for (kk, &xk) in x.iter().enumerate() {
            let xv = V::splat(xk);
            let row = a.add(kk * lda + j0);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                // acc_j = A[k, j] x[k] + acc_j, one rounding (or two)
                if i < full {
                    *acc_i = term::<V, FMA>(V::load(row.add(i * V::N), all), xv, *acc_i);
                } else if i == full {
                    *acc_i = term::<V, FMA>(V::load(row.add(i * V::N), tail), xv, *acc_i);
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate().take(full + 1) {
            let p = y.add(j0 + i * V::N);
            let m = if i < full { all } else { tail };
            // y_j += acc_j
            V::load(p, m).add(*acc_i).store(p, m);
        }
        return;
    }
    // full blocks: one all-lanes mask, which the loads resolve to plain ones
    // at compile time (an array of masks kept the accumulators in memory)
    let all = V::mask(V::N);
    for (kk, &xk) in x.iter().enumerate() {
        let xv = V::splat(xk);
        let row = a.add(kk * lda + j0);
        for (i, acc_i) in acc.iter_mut().enumerate() {
            // acc_j = A[k, j] x[k] + acc_j, one rounding (or two)
            *acc_i = term::<V, FMA>(V::load(row.add(i * V::N), all), xv, *acc_i);
        }
    }
    for (i, acc_i) in acc.iter().enumerate() {
        let p = y.add(j0 + i * V::N);
        // y_j += acc_j
        V::load(p, all).add(*acc_i).store(p, all);
    }
}

/// `acc + a x`: one fused multiply-add with `FMA`, else the product
/// rounded and then the sum.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn term<V: Vector, const FMA: bool>(a: V, x: V, acc: V) -> V {
    if FMA {
        a.fmadd(x, acc)
    } else {
        acc.add(a.mul(x))
    }
}

/// The loop over blocks of `N` columns read with row stride `lda`: `WIDE`
/// registers at a time, then what is left in one masked block of eight
/// registers when it needs five to eight (a pass over `A` per block: at `N`
/// = 100 with 16 lanes one pass with seven sums per row, 1.8 times faster
/// than two passes with four), else in blocks of four (the last masked). (A
/// masked block of 16 or 25 registers for wider remainders measured slower
/// than blocks of four at `N` = 300.)
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cols<V: Vector, const WIDE: usize, const FMA: bool>(
    n: usize,
    lda: usize,
    a: *const f32,
    x: &[f32],
    y: *mut f32,
) {
    let mut j0 = 0;
    while j0 + WIDE * V::N <= n {
        block::<V, WIDE, false, FMA>(n, lda, a, x, y, j0);
        j0 += WIDE * V::N;
    }
    if n - j0 > 4 * V::N && n - j0 <= 8 * V::N && WIDE >= 8 {
        return block::<V, 8, true, FMA>(n, lda, a, x, y, j0);
    }
    while j0 + 4 * V::N <= n {
        block::<V, 4, false, FMA>(n, lda, a, x, y, j0);
        j0 += 4 * V::N;
    }
    if j0 < n {
        block::<V, 4, true, FMA>(n, lda, a, x, y, j0);
    }
}

/// [`cols`] over all of `A`: row-major (one call, stride `N`), or with
/// `PANELS` panel after panel ([`to_panels`]: `max(1, N / w)` panels of `w`
/// = `WIDE*V::N` columns, the last taking the remainder), each `[K, w_p]`
/// row-major at offset `K*j0`; with `from_last`, the last panel first.
///
/// # Safety
/// As [`block`], `a` `[K*N]`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn panels<V: Vector, const WIDE: usize, const FMA: bool, const PANELS: bool>(
    k: usize,
    n: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
    from_last: bool,
) {
    let (ap, yp) = (a.as_ptr(), y.as_mut_ptr());
    if !PANELS {
        return cols::<V, WIDE, FMA>(n, n, ap, x, yp);
    }
    let w = WIDE * V::N;
    let count = (n / w).max(1);
    for q in 0..count {
        let p = if from_last { count - 1 - q } else { q };
        // panel [K, wp] at K*j0: columns j0..j0+wp of y
        let j0 = p * w;
        let wp = panel_end(j0, n, w) - j0;
        cols::<V, WIDE, FMA>(wp, wp, ap.add(k * j0), x, yp.add(j0));
    }
}

/// [`panels`] with AVX-512: 25 accumulators (400 outputs: the LSTM's `4H`
/// at `H` = 100 in one pass), the broadcast and a load, 27 of the 32
/// registers.
///
/// # Safety
/// AVX-512F, AVX2 and FMA; lengths as [`dispatch`] cuts them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn cols_avx512<const FMA: bool, const PANELS: bool>(
    k: usize,
    n: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
    from_last: bool,
) {
    panels::<V16, WIDE512, FMA, PANELS>(k, n, a, x, y, from_last)
}

/// [`panels`] with AVX2: 12 accumulators, the broadcast and a load, 14 of
/// the 16 registers.
///
/// # Safety
/// AVX2 and FMA; lengths as [`dispatch`] cuts them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cols_avx2<const FMA: bool, const PANELS: bool>(
    k: usize,
    n: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
    from_last: bool,
) {
    panels::<V8, WIDE256, FMA, PANELS>(k, n, a, x, y, from_last)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The sum the module states, written out: `y_j + (((0 + a_0j x_0) +
    /// a_1j x_1) + ...)`, each term one `mul_add` (one rounding).
    fn by_hand(k: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) {
        for (j, yj) in y.iter_mut().enumerate().take(n) {
            let mut acc = 0f32;
            for kk in 0..k {
                acc = a[kk * n + j].mul_add(x[kk], acc);
            }
            *yj += acc;
        }
    }

    /// Values spread over several binades, so another order of the sums
    /// would show in the last bits.
    fn pattern(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 31 + seed * 17 + 3) as f32 * 0.37).sin() * (1 + i % 7) as f32)
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    /// Both builds give the bits of the sum written out, for widths that
    /// fill whole blocks, end in a masked register, or are under one
    /// register.
    #[test]
    fn both_builds_are_the_sum_written_out() {
        if !available() {
            return; // no build to check: the layers keep gemv_acc
        }
        let shapes = [
            (100, 400),
            (100, 300),
            (37, 148),
            (16, 5),
            (3, 17),
            (256, 1024),
            (7, 1203),
            (1, 1),
            (5, 0),
        ];
        for (k, n) in shapes {
            let (a, x) = (pattern(k * n, 1), pattern(k, 2));
            let y0 = pattern(n, 3);
            let mut want = y0.clone();
            by_hand(k, n, &a, &x, &mut want);
            let mut two = y0.clone();
            // SAFETY: AVX2 and FMA (available); lengths exact.
            unsafe { cols_avx2::<true, false>(k, n, &a, &x, &mut two, false) };
            assert_eq!(bits(&two), bits(&want), "AVX2 k={k} n={n}");
            if crate::kernels::has_avx512() {
                let mut five = y0.clone();
                // SAFETY: AVX-512F checked just above.
                unsafe { cols_avx512::<true, false>(k, n, &a, &x, &mut five, false) };
                assert_eq!(bits(&five), bits(&want), "AVX-512 k={k} n={n}");
            }
            let mut any = y0.clone();
            assert!(dispatch::<true, false>(k, n, &a, &x, &mut any, false));
            assert_eq!(bits(&any), bits(&want), "dispatch k={k} n={n}");
            let mut panels = Vec::new();
            to_panels(&a, k, n, &mut panels);
            assert_eq!(panels.len(), k * n);
            // in panels, first to last and last to first: the same bits
            for from_last in [false, true] {
                let mut by_panels = y0.clone();
                assert!(gemv_cols_acc_f32(
                    k,
                    n,
                    &panels,
                    &x,
                    &mut by_panels,
                    from_last
                ));
                assert_eq!(
                    bits(&by_panels),
                    bits(&want),
                    "panels k={k} n={n} from_last={from_last}"
                );
            }
        }
    }

    /// The panels hold each column's `K` values in order, panel after panel
    /// of [`panel_width`] columns, the last with the remainder: written out
    /// for a width of three panels and a bit, one and a half (and the empty
    /// cases).
    #[test]
    fn panels_are_runs_of_columns_row_after_row() {
        let w = panel_width();
        if w == usize::MAX {
            return;
        }
        let (k, n) = (3, 3 * w + 5);
        let a: Vec<usize> = (0..k * n).collect(); // a[r, c] = r*n + c
        let mut out = Vec::new();
        to_panels(&a, k, n, &mut out);
        // panels 0..w, w..2w, and 2w..3w+5 (the last takes the remainder)
        let mut want = Vec::new();
        for (j0, j1) in [(0, w), (w, 2 * w), (2 * w, n)] {
            for r in 0..k {
                for c in j0..j1 {
                    want.push(r * n + c);
                }
            }
        }
        assert_eq!(out, want);
        // panel 1 starts at column w
        assert_eq!(&out[k * w..k * w + 2], &[w, w + 1]);
        // under two panels' width: one panel, the row-major matrix itself
        let n = w + w / 2;
        let a: Vec<usize> = (0..k * n).collect();
        to_panels(&a, k, n, &mut out);
        assert_eq!(out, a);
        to_panels(&a[..0], 0, n, &mut out);
        assert!(out.is_empty());
        to_panels(&a[..0], k, 0, &mut out);
        assert!(out.is_empty());
    }

    /// The unfused builds give the bits of `linalg::gemv_t_acc`'s portable
    /// loop (f32 through the generic code: product, then sum), and of the
    /// sum written out with two roundings per term.
    #[test]
    fn unfused_builds_are_the_portable_transposed_product() {
        if !available() {
            return;
        }
        for (k, n) in [
            (400, 100),
            (300, 100),
            (148, 37),
            (5, 16),
            (17, 3),
            (1024, 256),
            (1, 1),
            (0, 5),
        ] {
            let (a, x) = (pattern(k * n, 4), pattern(k, 5));
            let y0 = pattern(n, 6);
            let mut want = y0.clone();
            for (j, yj) in want.iter_mut().enumerate() {
                let mut acc = 0f32;
                for kk in 0..k {
                    acc += x[kk] * a[kk * n + j];
                }
                *yj += acc;
            }
            let mut portable = y0.clone();
            crate::kernels::linalg::gemv_t_acc_portable(k, n, &a, &x, &mut portable);
            assert_eq!(bits(&portable), bits(&want), "portable k={k} n={n}");
            let mut two = y0.clone();
            // SAFETY: AVX2 and FMA (available); lengths exact.
            unsafe { cols_avx2::<false, false>(k, n, &a, &x, &mut two, false) };
            assert_eq!(bits(&two), bits(&want), "AVX2 k={k} n={n}");
            if crate::kernels::has_avx512() {
                let mut five = y0.clone();
                // SAFETY: AVX-512F checked just above.
                unsafe { cols_avx512::<false, false>(k, n, &a, &x, &mut five, false) };
                assert_eq!(bits(&five), bits(&want), "AVX-512 k={k} n={n}");
            }
            let mut any = y0.clone();
            assert!(gemv_t_acc_f32(k, n, &a, &x, &mut any));
            assert_eq!(bits(&any), bits(&want), "dispatch k={k} n={n}");
        }
    }
}
