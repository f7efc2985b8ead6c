//! The per-step product of a recurrent layer with its right-hand matrix
//! packed once per call: `C[m, N] += A[m, K] B[K, N]`, where `B` (`W_hh^T`
//! forward, `W_hh` backward) is the same at every step and `m` (the
//! sequences still running) changes from step to step.
//!
//! A general GEMM packs `B` again on every call; at the M shape that packing
//! (`packA` in faer's kernels) took a sixth of the training time, and it
//! costs the same whether 32 or 2 sequences are still running, so a step's
//! cost did not shrink with its rows. Here `B` is packed once into panels of
//! `NR` columns (`[K, NR]` each, contiguous) and each step only runs the
//! micro-kernel: `MR` rows of `A` by one panel, `K` fused multiply-adds
//! deep, the panel staying in cache across the row blocks.

use super::aligned::{align_to_line, copy_to_line};
use crate::Float;

#[cfg(target_arch = "x86_64")]
use super::tiles::{tile, tile512};

/// Columns per panel: two vectors of eight f32.
pub(crate) const NR: usize = 16;
/// Rows of `A` per micro-kernel call (12 accumulators, 2 panel vectors and
/// one broadcast: 15 of the 16 AVX2 registers).
pub(crate) const MR: usize = 6;
/// Rows of `A` per AVX-512 micro-kernel call, which covers two panels (32
/// columns) at once: 28 accumulators, 2 panel vectors and one broadcast, 31
/// of the 32 AVX-512 registers (2-4 % more GFLOP/s than 12 rows at the
/// bench's step shapes, `examples/kernel_rate`, Xeon with AVX-512).
pub(crate) const MR512: usize = 14;
/// Depth of one pass over `K`: a panel's `[KC, NR]` slice (16 KiB) stays in
/// L1 while every row block runs over it, and `A`'s `[m, KC]` slice in L2
/// while every panel does. Without it, at the L shape (`K` = 4096 backward)
/// each panel (256 KiB) streamed from L2 once per row block and `A` (1 MiB)
/// from L3 once per panel. The products over each slice are added to `C`
/// slice after slice.
pub(crate) const KC: usize = 256;

/// A right-hand matrix `B` `[K, N]` packed into `ceil(N / NR)` panels, each
/// `[K, NR]` row-major (zero past column `N`), starting on a cache line.
#[derive(Debug, Default)]
pub struct PackedRhs<T> {
    k: usize,
    n: usize,
    /// `[ceil(N / NR), K, NR]` from `off`.
    data: Vec<T>,
    /// Where the panels start in `data`: the first element on a 64-byte boundary.
    off: usize,
}

impl<T> PackedRhs<T> {
    /// The panels, `[ceil(N / NR), K, NR]`.
    fn panels(&self) -> &[T] {
        let len = self.n.div_ceil(NR) * self.k * NR;
        &self.data[self.off..][..len]
    }
}

impl<T: Clone> Clone for PackedRhs<T> {
    /// A copy whose panels start on a cache line of its own buffer (a derived
    /// clone would keep the offset of the original's).
    fn clone(&self) -> Self {
        let (data, off) = copy_to_line(self.panels());
        Self {
            k: self.k,
            n: self.n,
            data,
            off,
        }
    }
}

impl<T: Float> PackedRhs<T> {
    /// Packs `b`: `[K, N]` row-major, or, when `trans`, its transpose stored
    /// `[N, K]` row-major. Reuses the buffer.
    pub fn pack(&mut self, b: &[T], k: usize, n: usize, trans: bool) {
        if trans {
            self.pack_by_columns(k, n, |j| &b[j * k..(j + 1) * k]); // row j of B^T
        } else {
            self.pack_columns(b, k, n, 0, n);
        }
    }

    /// The panels' buffer sized for `[K, N]` (contents unspecified): `[ceil(N
    /// / NR), K, NR]`.
    fn panels_mut(&mut self, k: usize, n: usize) -> &mut [T] {
        let len = n.div_ceil(NR) * k * NR;
        self.k = k;
        self.n = n;
        self.data.clear();
        self.off = align_to_line(&mut self.data, len, T::zero());
        &mut self.data[self.off..self.off + len]
    }

    /// Packs `B` `[K, N]` given column by column: `col(j)` is column `j`
    /// (`[K]`; a row of `B^T`, wherever it is stored). As [`PackedRhs::pack`]
    /// with `trans` on a `B^T` whose rows are those slices, without
    /// gathering them first. Reuses the buffer.
    pub(crate) fn pack_by_columns<'b>(&mut self, k: usize, n: usize, col: impl Fn(usize) -> &'b [T])
    where
        T: 'b,
    {
        let data = self.panels_mut(k, n);
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            let (j0, w) = (p * NR, NR.min(n - p * NR));
            for jj in 0..w {
                for (kk, &v) in col(j0 + jj)[..k].iter().enumerate() {
                    panel[kk * NR + jj] = v;
                }
            }
        }
    }

    /// Packs columns `c0..c0 + n` of `b`, stored `[K, ld]` row-major, as
    /// `B` `[K, n]`: [`PackedRhs::pack`] of those columns without gathering
    /// them first. Reuses the buffer.
    pub(crate) fn pack_columns(&mut self, b: &[T], k: usize, ld: usize, c0: usize, n: usize) {
        let data = self.panels_mut(k, n);
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            let (j0, w) = (c0 + p * NR, NR.min(n - p * NR));
            for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
                row[..w].copy_from_slice(&b[kk * ld + j0..kk * ld + j0 + w]);
            }
        }
    }

    /// `K`, the rows of `B`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `N`, the columns of `B`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `C[m, N] += A[m, K] B` for row-major `A` `[m, K]` and `C` `[m, N]`:
    /// the AVX2 micro-kernel for f32 when the CPU has it, else a portable
    /// loop (same products, summed in the same order over `K`).
    pub fn gemm_acc(&self, m: usize, a: &[T], c: &mut [T]) {
        T::packed_gemm_acc(m, self.k, self.n, a, self.panels(), None, c)
    }

    /// `C[m, N] = bias + A[m, K] B` (`bias` `[N]` on every row; `C`'s
    /// contents are not read): the bits of [`PackedRhs::gemm_acc`] after
    /// copying `bias` into every row of `C` (each sum over a slice of `K` is
    /// added to the bias where it would have been added to its copy), without
    /// the copy. The recurrent step's `W_hh s_{t-1} + b_hh`.
    pub fn gemm_bias(&self, m: usize, a: &[T], bias: &[T], c: &mut [T]) {
        assert!(
            bias.len() >= self.n,
            "bias of {} for {} columns",
            bias.len(),
            self.n
        );
        T::packed_gemm_acc(m, self.k, self.n, a, self.panels(), Some(bias), c)
    }
}

/// [`PackedRhs::gemm_acc`] written portably: for every row and column, the
/// products summed over `k` in order, a `KC` (256) slice of `K` at a time (each
/// slice's sum added to `C`; with `bias`, the first slice's to `bias` in place
/// of `C`, [`PackedRhs::gemm_bias`]). `packed` is `[ceil(N / NR), K, NR]`.
pub fn packed_gemm_acc_portable<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    packed: &[T],
    bias: Option<&[T]>,
    c: &mut [T],
) {
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for p in 0..n.div_ceil(NR) {
            let panel = &packed[p * k * NR + k0 * NR..p * k * NR + (k0 + kc) * NR];
            let (j0, w) = (p * NR, NR.min(n - p * NR));
            for i in 0..m {
                let mut acc = [T::zero(); NR];
                for (kk, b) in panel.chunks_exact(NR).enumerate() {
                    let av = a[i * k + k0 + kk];
                    for (s, &bv) in acc.iter_mut().zip(b) {
                        *s = av.mul_add(bv, *s);
                    }
                }
                let row = &mut c[i * n + j0..i * n + j0 + w];
                match bias.filter(|_| k0 == 0) {
                    Some(b) => {
                        for ((cv, &s), &bv) in row.iter_mut().zip(&acc).zip(&b[j0..j0 + w]) {
                            *cv = bv + s;
                        }
                    }
                    None => {
                        for (cv, &s) in row.iter_mut().zip(&acc) {
                            *cv += s;
                        }
                    }
                }
            }
        }
    }
}

/// `C[m, N] += A^T B` written portably, `A` stored `[K, m]` and `B` `[K, N]`
/// row-major: for every element, the products summed over `K` in order, a
/// slice of 256 at a time (each slice's sum added to `C`), as the AVX2 kernel
/// behind [`crate::kernels::gemm`]'s `A^T B` sums them.
pub fn gemm_at_b_acc_portable<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a_t: &[T],
    b: &[T],
    c: &mut [T],
) {
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for kk in k0..k0 + kc {
                    acc = a_t[kk * m + i].mul_add(b[kk * n + j], acc);
                }
                c[i * n + j] += acc;
            }
        }
    }
}

/// [`PackedRhs::gemm_acc`] for f32 with AVX2 and FMA: [`blocked_f32`]
/// with `A` row-major and `B` packed once by the caller.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn packed_gemm_acc_f32_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    blocked_f32::<false>(m, k, n, Lhs::Rows(a), Rhs::Packed(packed), bias, c)
}

/// [`packed_gemm_acc_f32_avx2`] with the AVX-512 micro-kernel (two panels,
/// up to [`MR512`] rows per tile): the same sums bit for bit.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn packed_gemm_acc_f32_avx512(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    blocked_f32::<true>(m, k, n, Lhs::Rows(a), Rhs::Packed(packed), bias, c)
}

/// `C[m, N] += A^T B` for `A` stored `[K, m]` and `B` `[K, N]`, row-major
/// (the weight gradients `dW = sum_t delta_t s_{t-1}^T`, `K` = T*B rows),
/// f32 with AVX2 and FMA: [`blocked_f32`] reading `A` through its
/// transpose and packing `B` a `KC` slice at a time, so neither is copied
/// whole (faer ran this operand order at 49 / 26 GFLOP/s at the bench's M /
/// L shapes, and transposing `A` first cost a copy of it).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemm_at_b_acc_f32_avx2(
    m: usize,
    n: usize,
    k: usize,
    a_t: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    blocked_f32::<false>(m, k, n, Lhs::Cols(a_t), Rhs::Rows(b), None, c)
}

/// [`gemm_at_b_acc_f32_avx2`] with the AVX-512 micro-kernel: the same sums
/// bit for bit.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn gemm_at_b_acc_f32_avx512(
    m: usize,
    n: usize,
    k: usize,
    a_t: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    blocked_f32::<true>(m, k, n, Lhs::Cols(a_t), Rhs::Rows(b), None, c)
}

/// How `A` (`[m, K]` as multiplied) is stored.
#[derive(Clone, Copy)]
enum Lhs<'a> {
    /// `[m, K]` row-major.
    Rows(&'a [f32]),
    /// Its transpose, `[K, m]` row-major.
    Cols(&'a [f32]),
}

/// How `B` (`[K, N]`) is stored.
#[derive(Clone, Copy)]
enum Rhs<'a> {
    /// Packed by [`PackedRhs`]: `[ceil(N / NR), K, NR]`.
    Packed(&'a [f32]),
    /// `[K, N]` row-major, packed here a `KC` slice at a time.
    Rows(&'a [f32]),
}

/// Rows of `A` packed at a time (twelve row blocks): their `[MC, KC]` slice
/// (72 KiB) stays in L2 while every panel of `B` runs over it. For the step
/// products (`m` = the batch, at most a few dozen) it is all of `A`.
const MC: usize = 72;
/// Row blocks a chunk holds at most: [`MC`] rows are twelve blocks of
/// [`MR`], or fewer full ones and the last two of [`row_blocks`] (3 to 5 rows
/// each); only `m` below 3 makes a smaller block, and then it is the only one.
const CHUNK_BLOCKS: usize = 16;

/// `C[m, N] += A B` on f32, the loops of a blocked GEMM:
/// for each [`KC`] slice of `K` (`B`'s slice packed into panels of [`NR`]
/// columns unless already packed), for each group of row blocks covering at
/// most [`MC`] rows (`A`'s slice copied into blocks of [`MR`] rows
/// interleaved by column, `[KC, R]` each, so the micro-kernel's broadcasts
/// read one contiguous stream; a row-major `A` whose `K` is one slice or
/// whose `B` has at most 64 panels is read in place instead), for each
/// panel, each row block is a register tile of `R x NR` sums over the slice, added to `C` at its end. Every
/// element of `C` gets the products of each slice summed in order over `K`,
/// slice after slice, whatever the blocking: the same sums as
/// [`packed_gemm_acc_portable`] bit for bit. With `bias` (`[N]`), the first
/// slice's sums are added to it instead of to `C` (whose contents are then
/// not read): `C = bias + A B`.
///
/// `WIDE` picks the micro-kernel: AVX-512 tiles of up to [`MR512`] rows by
/// two panels, else AVX2 tiles of up to [`MR`] rows by one panel. Inlined
/// into the wrappers, whose target features it is compiled with.
///
/// # Safety
/// The CPU must have AVX2 and FMA, and AVX-512F when `WIDE`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn blocked_f32<const WIDE: bool>(
    m: usize,
    k: usize,
    n: usize,
    a: Lhs,
    b: Rhs,
    bias: Option<&[f32]>,
    c: &mut [f32],
) {
    thread_local! {
        /// `A`'s slice in row blocks: `[blocks, KC, R]`, at most `[MC, KC]`.
        static A_PACKED: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
        /// `B`'s slice in panels, when it comes row-major: `[ceil(N / NR), KC, NR]`.
        static B_PACKED: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    }
    // the buffers are taken out and put back rather than borrowed in a
    // closure: a closure is a function of its own, compiled without the
    // caller's target features, and the intrinsics in it would not inline
    // every operand cut to the size the loops below read through raw
    // pointers, the sizes multiplied out with overflow checked: a wrapped
    // product would let a short slice through (a safe caller's `m` of
    // 2^60 with empty slices read and wrote past them)
    let panels = n.div_ceil(NR);
    let size = |x: usize, y: usize| super::len_of(x, y);
    let (a, b, c) = (
        match a {
            Lhs::Rows(a) => Lhs::Rows(&a[..size(m, k)]),
            Lhs::Cols(a) => Lhs::Cols(&a[..size(k, m)]),
        },
        match b {
            Rhs::Packed(b) => Rhs::Packed(&b[..size(size(panels, k), NR)]),
            Rhs::Rows(b) => Rhs::Rows(&b[..size(k, n)]),
        },
        &mut c[..size(m, n)],
    );
    let bias = bias.map(|b| &b[..n]);
    // A row-major A with K in one slice, or with at most 64 panels to run
    // over, is read where it lies (rows k apart, streams the tiles'
    // broadcasts read in order): the copy was a third of the readout
    // product's time in the bench's M LSTM inference (`examples/kernel_rate`,
    // AMD EPYC with AVX-512: 3200x256x65 at 131 GFLOP/s copied, 194 in place;
    // 6400x1024x65 63 and 150; 32x256x1024 235 and 244). Over several slices
    // and many panels (64x1024x4096) the copy is the faster (239 and 223).
    // Rows a multiple of 4 KiB apart (K = 1024, 2048, ... floats) fall into
    // one set of the L1 data cache (4 KiB per way: 32 KiB in 8 ways on Zen 4,
    // 48 KiB in 12 on Zen 5 and the Xeon), which holds 8 or 12 lines: an
    // AVX-512 tile's 14 rows read in place then evict each other at every
    // line, over and over across the panels. Those are copied from 17 panels
    // on (Zen 4, best of 15 of `examples/kernel_rate`, in place against
    // copied: 64x1024x1024 90 and 106-109 GFLOP/s, 128x1024x1024 87 and
    // 106-110, 6400x1024x1024 77 and 90; at 16 panels and fewer the copy did
    // not pay for itself on a long A: 6400x1024x256 77 and 72, 6400x1024x65
    // 53-65 and 34-39). An AVX2 tile's 6 rows fit a set.
    let aliased = WIDE && (k * std::mem::size_of::<f32>()).is_multiple_of(4096);
    let direct =
        matches!(a, Lhs::Rows(_)) && (k <= KC || panels <= 16 || (panels <= 64 && !aliased));
    let (mut ap, mut bq) = (A_PACKED.take(), B_PACKED.take());
    {
        let (ap, bq) = (&mut ap, &mut bq);
        // grown once to the largest shape; every element read below is
        // written first, so nothing is cleared
        if ap.len() < MC * KC {
            ap.resize(MC * KC, 0.0);
        }
        // B's panels from a cache line, as PackedRhs's
        let bq_off = if matches!(b, Rhs::Rows(_)) {
            align_to_line(bq, panels * KC * NR, 0.0)
        } else {
            0
        };
        let bq = &mut bq[bq_off..];
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            if let Rhs::Rows(b) = b {
                // B[k0..k0+kc, :] into panels [kc, NR], zero past column N,
                // a row of B at a time: read in order (panel by panel, the
                // reads went down B's columns, each row n floats on)
                for kk in 0..kc {
                    let b_row = &b[(k0 + kk) * n..(k0 + kk + 1) * n];
                    for p in 0..panels {
                        let (j0, w) = (p * NR, NR.min(n - p * NR));
                        let row = &mut bq[(p * kc + kk) * NR..(p * kc + kk + 1) * NR];
                        let src = &b_row[j0..j0 + w];
                        if let (Ok(row), Ok(src)) = (
                            <&mut [f32; NR]>::try_from(&mut *row),
                            <&[f32; NR]>::try_from(src),
                        ) {
                            *row = *src; // a full panel row: sixteen floats, no memcpy call
                        } else {
                            row[..w].copy_from_slice(src);
                            row[w..].fill(0.0);
                        }
                    }
                }
            }
            // even blocks for the AVX2 tiles only (see `row_blocks`)
            let mut rest = row_blocks(m, if WIDE { MR512 } else { MR }, !WIDE).peekable();
            while let Some(&(row0, _)) = rest.peek() {
                // the next chunk: the row blocks covering at most MC rows
                // (on the stack: this runs at every step of the time loop)
                let mut buf = [(0usize, 0usize); CHUNK_BLOCKS];
                let mut nb = 0;
                while let Some(&(i, r)) = rest.peek() {
                    if nb == CHUNK_BLOCKS || i + r - row0 > MC {
                        break;
                    }
                    (buf[nb], nb) = ((i, r), nb + 1);
                    rest.next();
                }
                let chunk = &buf[..nb];
                // A[rows of the chunk, k0..k0+kc] into row blocks [kc, r],
                // unless read in place (`direct`)
                for &(i, r) in chunk.iter().filter(|_| !direct) {
                    let dst = &mut ap[(i - row0) * kc..(i - row0 + r) * kc];
                    match a {
                        Lhs::Rows(a) => {
                            for ri in 0..r {
                                let row = &a[(i + ri) * k + k0..(i + ri) * k + k0 + kc];
                                for (kk, &v) in row.iter().enumerate() {
                                    dst[kk * r + ri] = v;
                                }
                            }
                        }
                        Lhs::Cols(a) => {
                            // A[i.., kk] are r consecutive floats of A^T's row kk
                            match r {
                                14 => gather_rows::<14>(dst, a, m, i, k0),
                                13 => gather_rows::<13>(dst, a, m, i, k0),
                                12 => gather_rows::<12>(dst, a, m, i, k0),
                                11 => gather_rows::<11>(dst, a, m, i, k0),
                                10 => gather_rows::<10>(dst, a, m, i, k0),
                                9 => gather_rows::<9>(dst, a, m, i, k0),
                                8 => gather_rows::<8>(dst, a, m, i, k0),
                                7 => gather_rows::<7>(dst, a, m, i, k0),
                                6 => gather_rows::<6>(dst, a, m, i, k0),
                                5 => gather_rows::<5>(dst, a, m, i, k0),
                                4 => gather_rows::<4>(dst, a, m, i, k0),
                                3 => gather_rows::<3>(dst, a, m, i, k0),
                                2 => gather_rows::<2>(dst, a, m, i, k0),
                                _ => gather_rows::<1>(dst, a, m, i, k0),
                            }
                        }
                    }
                }
                // A^T's columns of the next chunk (or of the next slice's
                // first), asked for into L2 now, so that its gather finds
                // them there: at the weight gradients' shapes each row of
                // A^T is another 4 KiB page, which the hardware prefetchers
                // do not follow, and the gather waited for every line
                if let Lhs::Cols(a_t) = a {
                    let end = chunk.last().map_or(m, |&(i, r)| i + r);
                    let (k1, c1) = if end < m { (k0, end) } else { (k0 + kc, 0) };
                    let (kn, cols) = (KC.min(k.saturating_sub(k1)), MC.min(m - c1));
                    prefetch_cols(&a_t[(k1 * m).min(a_t.len())..], m, kn, c1, cols);
                }
                // the row the first slice's sums are added to: bias, or C
                let bias_at = |j0: usize| match bias {
                    Some(b) if k0 == 0 => b.as_ptr().add(j0),
                    _ => std::ptr::null(),
                };
                // block i's A: (its packed slab, or row i of A at column k0; rows k apart)
                let a_at = |i: usize, row0: usize| match a {
                    Lhs::Rows(a) if direct => (a.as_ptr().add(i * k + k0), k),
                    _ => (ap.as_ptr().add((i - row0) * kc), 0),
                };
                let panel_at = |p: usize| match b {
                    Rhs::Packed(pk) => pk.as_ptr().add(p * k * NR + k0 * NR),
                    Rhs::Rows(_) => bq.as_ptr().add(p * kc * NR),
                };
                if WIDE {
                    // panels two at a time: 32 columns per tile
                    for p in (0..panels).step_by(2) {
                        let two = p + 1 < panels;
                        let bp = panel_at(p);
                        let bp1 = if two { panel_at(p + 1) } else { bp };
                        // the next pair's panels, asked for while the
                        // first row block runs over this pair
                        let next = if p + 2 < panels { panel_at(p + 2) } else { bp };
                        let next1 = if p + 3 < panels {
                            panel_at(p + 3)
                        } else {
                            next
                        };
                        let j0 = p * NR;
                        let w = (2 * NR).min(n - j0);
                        for (q, &(i, r)) in chunk.iter().enumerate() {
                            let aq = a_at(i, row0);
                            let cp = c.as_mut_ptr().add(i * n + j0);
                            let pf = if q == 0 {
                                [next, next1]
                            } else {
                                [std::ptr::null(); 2]
                            };
                            // rows read in place `k` apart: the common
                            // depths as constants, so that the tile's row
                            // addresses are fixed offsets from one pointer
                            // (with `k` in a register the compiler adds it
                            // up row by row at every `kk`, integer work that
                            // takes ports from the FMAs on Intel's cores:
                            // `examples/kernel_rate` on the Xeon, four runs
                            // each, 1-6 % more GFLOP/s at 32 x 256 x 1024,
                            // 3-6 % at 16 x 256 x 1024, 5-11 % at the
                            // readout's 3200 x 256 x 65)
                            macro_rules! call {
                                ($r:literal, $p:literal, $d:literal, $l:literal) => {
                                    tile512::<$r, $p, $d, $l>(
                                        kc,
                                        aq,
                                        [bp, bp1],
                                        (cp, bias_at(j0)),
                                        n,
                                        w,
                                        pf,
                                    )
                                };
                            }
                            macro_rules! direct {
                                ($r:literal, $p:literal) => {
                                    match aq.1 {
                                        256 => call!($r, $p, true, 256),
                                        512 => call!($r, $p, true, 512),
                                        1024 => call!($r, $p, true, 1024),
                                        _ => call!($r, $p, true, 0),
                                    }
                                };
                            }
                            macro_rules! wide {
                                ($($r:literal)*) => {
                                    match r {
                                        $($r => match (two, direct) {
                                            (true, true) => direct!($r, 2),
                                            (true, false) => call!($r, 2, false, 0),
                                            (false, true) => direct!($r, 1),
                                            (false, false) => call!($r, 1, false, 0),
                                        },)*
                                        _ => unreachable!("row blocks hold 1 to {MR512} rows"),
                                    }
                                };
                            }
                            wide!(1 2 3 4 5 6 7 8 9 10 11 12 13 14)
                        }
                    }
                } else {
                    for p in 0..panels {
                        let bp = panel_at(p);
                        // the next panel's slice, asked for while the first
                        // row block runs over this one (a line per `kk`)
                        let next = if p + 1 < panels { panel_at(p + 1) } else { bp };
                        let (j0, w) = (p * NR, NR.min(n - p * NR));
                        for (q, &(i, r)) in chunk.iter().enumerate() {
                            // block i's [kc, r] slab, or its rows in place
                            let aq = a_at(i, row0);
                            let cp = c.as_mut_ptr().add(i * n + j0);
                            let pf = if q == 0 { next } else { std::ptr::null() };
                            let c = (cp, bias_at(j0));
                            // the common depths of rows read in place as
                            // constants, as for the AVX-512 tiles above: H
                            // forward, and 3H and 4H (the GRU's and the LSTM's
                            // gate rows) backward, for H = 256 and 1024;
                            // 512 and 2048 besides (`RNN_SIMD=avx2
                            // examples/kernel_rate`, three alternating runs:
                            // 64x3072x1024 104.8-109.2 -> 108.2-114.3 GFLOP/s,
                            // 64x4096x1024 103.8-109.4 -> 105.8-113.9,
                            // 32x768x256 110.9-113.5 -> 114.5-119.3)
                            macro_rules! direct {
                                ($r:literal) => {
                                    match aq.1 {
                                        256 => tile::<$r, true, 256>(kc, aq, bp, c, n, w, pf),
                                        512 => tile::<$r, true, 512>(kc, aq, bp, c, n, w, pf),
                                        768 => tile::<$r, true, 768>(kc, aq, bp, c, n, w, pf),
                                        1024 => tile::<$r, true, 1024>(kc, aq, bp, c, n, w, pf),
                                        2048 => tile::<$r, true, 2048>(kc, aq, bp, c, n, w, pf),
                                        3072 => tile::<$r, true, 3072>(kc, aq, bp, c, n, w, pf),
                                        4096 => tile::<$r, true, 4096>(kc, aq, bp, c, n, w, pf),
                                        _ => tile::<$r, true, 0>(kc, aq, bp, c, n, w, pf),
                                    }
                                };
                            }
                            macro_rules! narrow {
                                ($($r:literal)*) => {
                                    match (r, direct) {
                                        $(($r, true) => direct!($r),
                                        ($r, false) => tile::<$r, false, 0>(kc, aq, bp, c, n, w, pf),)*
                                        _ => unreachable!("row blocks hold 1 to {MR} rows"),
                                    }
                                };
                            }
                            narrow!(1 2 3 4 5 6)
                        }
                    }
                }
            }
        }
    }
    A_PACKED.set(ap);
    B_PACKED.set(bq);
}

/// Asks for `cols` floats from column `col` of each of the first `rows`
/// rows of `a_t` (rows `m` floats apart) to be brought into L2, a line at a
/// time.
#[inline(always)]
fn prefetch_cols(a_t: &[f32], m: usize, rows: usize, col: usize, cols: usize) {
    if cols == 0 {
        return;
    }
    for row in a_t.chunks(m).take(rows) {
        if let Some(part) = row.get(col..col + cols) {
            // a float on every line the part touches: every 16th and the last
            for v in part.iter().step_by(16).chain(part.last()) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: a prefetch is a hint that never faults; the
                // address is that of an element of `a_t`
                unsafe {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
                    _mm_prefetch::<_MM_HINT_T1>(v as *const f32 as *const i8)
                };
            }
        }
    }
}

/// Packs a block of `R` rows of `A` from its transpose `a_t` (`[K, m]`):
/// `dst[kk * R + r] = A[i + r, k0 + kk]`, the `R` floats of `a_t`'s row `k0 +
/// kk` from column `i`, for every `kk` of the slice (`dst.len() / R`). As
/// fixed-size copies: a `memcpy` call per few floats took 6% of the LSTM's
/// training time at the bench's M shape.
#[inline(always)]
fn gather_rows<const R: usize>(dst: &mut [f32], a_t: &[f32], m: usize, i: usize, k0: usize) {
    for (kk, d) in dst.chunks_exact_mut(R).enumerate() {
        let at = (k0 + kk) * m + i;
        if let (Ok(d), Ok(src)) = (
            <&mut [f32; R]>::try_from(d),
            <&[f32; R]>::try_from(&a_t[at..at + R]),
        ) {
            *d = *src;
        }
    }
}

/// The row blocks `(first row, rows)` the micro-kernel covers `m` rows with.
///
/// - AVX-512 (`mr` = [`MR512`], `even` false): blocks of `mr`, the last `mr +
///   1` to `2 mr - 2` rows split in two (a block of 1 or 2 rows keeps too few
///   independent sums to fill both FMA pipes: 32 rows are 14+9+9, not 14+14+4).
/// - AVX2 (`mr` = [`MR`], `even` true): as few blocks as `mr` rows allow,
///   their sizes as even as can be (the first ones a row more): 32 rows are
///   6+6+5+5+5+5, not 6+6+6+6+4+4, whose 4-row blocks (8 sums) just hide the
///   FMA latency. `RNN_SIMD=avx2 examples/kernel_rate`, five alternating
///   runs on the Xeon: 32x256x1024 median 108.9 -> 111.5 GFLOP/s, 32x1024x1024
///   103.4 -> 105.9, 64x1024x1024 and 16x1024x4096 unchanged. The AVX-512
///   tiles lost with even blocks (32x1024x1024 175-180 -> 165-176: fewer
///   14-row tiles, which read the fewest broadcasts per FMA).
fn row_blocks(m: usize, mr: usize, even: bool) -> impl Iterator<Item = (usize, usize)> {
    let blocks = m.div_ceil(mr).max(1);
    let (base, longer) = (m / blocks, m % blocks);
    let mut i = 0;
    std::iter::from_fn(move || {
        let left = m - i;
        let r = match left {
            0 => return None,
            _ if even => base + usize::from(i < longer * (base + 1)),
            l if l > mr && l <= 2 * mr - 2 => left.div_ceil(2),
            _ => left.min(mr),
        };
        i += r;
        Some((i - r, r))
    })
}

#[cfg(test)]
mod tests;
