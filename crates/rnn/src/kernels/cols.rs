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
//! The columns are read in passes ([`pass`]): as few as the registers
//! allow, the registers shared out evenly between them (at `N` = 400 with
//! AVX2, five passes of 10 registers rather than four of 12 and one of 2,
//! whose two chains of sums waited on the FMA latency at every row).
//! `A` is laid out in panels ([`to_panels`]), one per pass: each pass's
//! columns of the `K` rows stored one after the other, so each pass over `A`
//! reads one contiguous stream. Row-major, a pass read a few lines of each
//! of the `K` rows: with AVX2 (five passes at `N` = 400) that took 1.22 us
//! per product against 0.93 us in panels and 1.12 us for the row-major
//! product, on an AMD EPYC (Zen 5) with `RNN_SIMD=avx2` (BENCHMARKS.md,
//! twentieth session).
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

/// This CPU's column kernel: its lanes per register and its widest block
/// ([`WIDE512`] registers of 16 lanes, or [`WIDE256`] of 8); `(1,
/// usize::MAX)`, one pass over every column, on CPUs with neither (no kernel
/// reads that layout then).
fn geometry() -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::has_avx512() {
            return (V16::N, WIDE512);
        }
        if super::has_avx2() {
            return (V8::N, WIDE256);
        }
    }
    (1, usize::MAX)
}

/// How many passes the kernel makes over `A` for `N` columns with `lanes`
/// lanes per register and at most `wide` registers of sums: as few as
/// `wide` allows (0 for `N` = 0).
fn pass_count(n: usize, lanes: usize, wide: usize) -> usize {
    n.div_ceil(lanes).div_ceil(wide)
}

/// Pass `p` of [`pass_count`]: its first column and its number of columns.
/// The registers are shared out as evenly as can be, and only the last
/// pass's last register may be part full. `N` = 400 with 8 lanes and at
/// most 12 registers: 50 registers in 5 passes of 10, where it was 4 of 12
/// and a fifth of 2, whose 2 chains of sums wait on the FMA latency at every
/// row; `N` = 300 with 16 lanes: one pass of 19 registers, where it was
/// five of 4. `rnn bench --config S --threads 1` inference, alternating
/// runs on an Intel Xeon (BENCHMARKS.md, fifty-third session): LSTM with
/// `RNN_SIMD=avx2` 565-581k -> 582-602k tok/s, GRU with AVX-512 630-648k ->
/// 744-745k.
fn pass(n: usize, lanes: usize, wide: usize, p: usize) -> (usize, usize) {
    let regs = n.div_ceil(lanes);
    let count = pass_count(n, lanes, wide);
    let (each, more) = (regs / count, regs % count);
    // the first `more` passes take one register more
    let r0 = p * each + p.min(more);
    let r1 = r0 + each + usize::from(p < more);
    (r0 * lanes, (r1 * lanes).min(n) - r0 * lanes)
}

/// `a` (`[K, N]` row-major) in panels, into `out`: one panel per pass of
/// the kernel ([`pass`]), each holding its columns of every row, row after
/// row (`[K, w_p]` row-major), and the panels following one another. The
/// layout [`gemv_cols_acc_f32`] reads.
pub(crate) fn to_panels<T: Copy>(a: &[T], k: usize, n: usize, out: &mut Vec<T>) {
    let (lanes, wide) = geometry();
    panels_of(a, k, n, lanes, wide, out);
}

/// [`to_panels`] for the passes of `lanes` lanes and at most `wide`
/// registers (the tests lay out the AVX2 build's panels on any CPU).
fn panels_of<T: Copy>(a: &[T], k: usize, n: usize, lanes: usize, wide: usize, out: &mut Vec<T>) {
    out.clear();
    out.reserve(k * n);
    for p in 0..pass_count(n, lanes, wide) {
        let (j0, w) = pass(n, lanes, wide, p);
        for row in a[..super::len_of(k, n)].chunks_exact(n).take(k) {
            out.extend_from_slice(&row[j0..j0 + w]);
        }
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

/// One pass: the `W` columns of `y` in `R` accumulators while all `K` rows
/// of `A` stream past; with `MASKED` the last register holds the `W % V::N`
/// columns left (`last` its mask), else every register is full (`R*V::N`
/// = `W`). With `FMA` each term is one fused multiply-add, else a
/// multiplication and an addition. `A` (the pass's first column) is read
/// with a row stride of `lda` (`N` row-major, `W` in panels).
///
/// # Safety
/// The instruction set of `V`; `a` `[K, lda]` from the pass's first column
/// with `W <= lda`, `x` `[K]`, `y` the pass's `W` outputs.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block<V: Vector, const R: usize, const MASKED: bool, const FMA: bool>(
    lda: usize,
    a: *const f32,
    x: &[f32],
    y: *mut f32,
    last: V::Mask,
) {
    let mut acc = [V::splat(0.0); R];
    // the full registers' one all-lanes mask, which the loads resolve to
    // plain ones at compile time (an array of masks kept the sums in memory)
    let all = V::mask(V::N);
    // row k of A, stepped by a pointer: `k * lda` multiplied out at every
    // row took an integer multiply on a port the FMAs use (`rnn bench` LSTM
    // S inference with AVX2, 5 passes of 10 registers, alternating runs:
    // 606k and 620k tok/s, 640k and 672k without it)
    let mut row = a;
    for &xk in x {
        let xv = V::splat(xk);
        for (i, acc_i) in acc.iter_mut().enumerate() {
            let m = if MASKED && i == R - 1 { last } else { all };
            // acc_j = A[k, j] x[k] + acc_j, one rounding (or two)
            *acc_i = term::<V, FMA>(V::load(row.add(i * V::N), m), xv, *acc_i);
        }
        row = row.wrapping_add(lda);
    }
    for (i, acc_i) in acc.iter().enumerate() {
        let m = if MASKED && i == R - 1 { last } else { all };
        let p = y.add(i * V::N);
        // y_j += acc_j
        V::load(p, m).add(*acc_i).store(p, m);
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

/// [`block`] for a pass of `w` columns: `ceil(w / V::N)` registers (1 to
/// 25), the last masked when `w` is not a whole number of them.
///
/// # Safety
/// As [`block`], `w <= 25 * V::N`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn run<V: Vector, const FMA: bool>(
    w: usize,
    lda: usize,
    a: *const f32,
    x: &[f32],
    y: *mut f32,
) {
    let rest = w % V::N;
    let last = V::mask(rest);
    macro_rules! widths {
        ($($r:literal)*) => {
            match (w.div_ceil(V::N), rest != 0) {
                $(
                    ($r, false) => block::<V, $r, false, FMA>(lda, a, x, y, last),
                    ($r, true) => block::<V, $r, true, FMA>(lda, a, x, y, last),
                )*
                _ => unreachable!("a pass of {w} columns is wider than 25 registers"),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25)
}

/// The passes of [`pass`] over all of `A`: row-major (pass `p` at column
/// `j0`, stride `N`), or with `PANELS` in the panels of [`to_panels`] (pass
/// `p` the panel `[K, w_p]` at offset `K*j0`); with `from_last`, the last
/// pass first.
///
/// # Safety
/// As [`block`], `a` `[K*N]`; `WIDE` at most 25.
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
    let count = pass_count(n, V::N, WIDE);
    for q in 0..count {
        let p = if from_last { count - 1 - q } else { q };
        let (j0, w) = pass(n, V::N, WIDE, p);
        if PANELS {
            run::<V, FMA>(w, w, ap.add(k * j0), x, yp.add(j0));
        } else {
            run::<V, FMA>(w, n, ap.add(j0), x, yp.add(j0));
        }
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
        // and every width up to 420: every block size, masked or not
        let shapes = shapes.into_iter().chain((1..=420).map(|n| (3, n)));
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
            // the AVX2 build in its own panels, whatever this CPU's are
            let mut panels = Vec::new();
            panels_of(&a, k, n, V8::N, WIDE256, &mut panels);
            for from_last in [false, true] {
                let mut two = y0.clone();
                // SAFETY: AVX2 and FMA (available); lengths exact.
                unsafe { cols_avx2::<true, true>(k, n, &panels, &x, &mut two, from_last) };
                assert_eq!(bits(&two), bits(&want), "AVX2 panels k={k} n={n}");
            }
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

    /// The passes written out for the shapes the layers use (registers
    /// counted by hand: `ceil(N / lanes)` shared out over
    /// `ceil(registers / wide)` passes), and for every `N` up to 2,000 they
    /// cover the columns in order, none wider than `wide` registers, their
    /// register counts within one of each other, and only the last pass
    /// ending part way through a register.
    #[test]
    fn passes_share_the_registers_out_evenly() {
        let all = |n, lanes, wide| -> Vec<(usize, usize)> {
            (0..pass_count(n, lanes, wide))
                .map(|p| pass(n, lanes, wide, p))
                .collect()
        };
        // LSTM H = 100 with AVX2: 50 registers, 5 passes of 10
        let want: Vec<_> = (0..5).map(|p| (p * 80, 80)).collect();
        assert_eq!(all(400, 8, 12), want);
        // with AVX-512: 25 registers, one pass
        assert_eq!(all(400, 16, 25), [(0, 400)]);
        // GRU H = 100 with AVX-512: 19 registers, the last 12 lanes of 16
        assert_eq!(all(300, 16, 25), [(0, 300)]);
        // Elman H = 100 with AVX2: 13 registers, 7 then 6 (4 lanes of the last)
        assert_eq!(all(100, 8, 12), [(0, 56), (56, 44)]);
        // LSTM H = 256 with AVX-512: 64 registers, 22, 21 and 21
        assert_eq!(all(1024, 16, 25), [(0, 352), (352, 336), (688, 336)]);
        assert!(all(0, 8, 12).is_empty());
        for (lanes, wide) in [(8, 12), (16, 25), (8, 1), (1, usize::MAX)] {
            for n in 1..2000 {
                let passes = all(n, lanes, wide);
                let regs: Vec<usize> = passes.iter().map(|&(_, w)| w.div_ceil(lanes)).collect();
                let (lo, hi) = (regs.iter().min().unwrap(), regs.iter().max().unwrap());
                assert!(
                    *hi <= wide && hi - lo <= 1,
                    "n={n} lanes={lanes}: {passes:?}"
                );
                let mut next = 0;
                for (p, &(j0, w)) in passes.iter().enumerate() {
                    assert_eq!(j0, next, "n={n}: pass {p} starts at {j0}");
                    assert!(
                        w > 0 && (p + 1 == passes.len() || w % lanes == 0),
                        "n={n}: {passes:?}"
                    );
                    next = j0 + w;
                }
                assert_eq!(next, n, "n={n}: {passes:?}");
            }
        }
    }

    /// The panels hold each column's `K` values in order, one panel per
    /// pass, row after row: written out for five passes' width (and the
    /// empty cases).
    #[test]
    fn panels_are_runs_of_columns_row_after_row() {
        let (lanes, wide) = geometry();
        if wide == usize::MAX {
            return;
        }
        let (k, n) = (3, 4 * lanes * wide + 5);
        let a: Vec<usize> = (0..k * n).collect(); // a[r, c] = r*n + c
        let mut out = Vec::new();
        to_panels(&a, k, n, &mut out);
        let mut want = Vec::new();
        for p in 0..pass_count(n, lanes, wide) {
            let (j0, w) = pass(n, lanes, wide, p);
            for r in 0..k {
                for c in j0..j0 + w {
                    want.push(r * n + c);
                }
            }
        }
        assert_eq!(pass_count(n, lanes, wide), 5);
        assert_eq!(out, want);
        // the second panel starts at its pass's first column
        let (j1, _) = pass(n, lanes, wide, 1);
        assert_eq!(&out[k * j1..k * j1 + 2], &[j1, j1 + 1]);
        // one pass: the row-major matrix itself
        let n = lanes * wide - 3;
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
