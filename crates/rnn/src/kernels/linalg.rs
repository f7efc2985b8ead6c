//! Dense matrix products on row-major slices, backed by faer's GEMM.
//!
//! Every activation and parameter in this crate is a row-major `Vec<T>`; these
//! helpers view them as faer matrices without copying.

use crate::Float;
use faer::{Accum, MatMut, MatRef, Par};
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Products with fewer multiply-adds than this stay on one thread: below it
/// the fork/join cost outweighs the gain (measured: a [16,256]x[256,256]
/// product is slower on two threads than on one).
const PAR_MIN_MACS: usize = 1 << 22;

/// Sets how many threads the large matrix products may use (1 = sequential).
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The number of threads set by [`set_threads`].
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

thread_local! {
    /// Set inside [`sequential`]: this thread's products stay on it.
    static SEQUENTIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every matrix product on the calling thread, whatever
/// [`set_threads`] says: for work that is already split across threads (each
/// thread one part of the batch), where nested fork/join would only cost.
pub fn sequential<R>(f: impl FnOnce() -> R) -> R {
    let before = SEQUENTIAL.with(|s| s.replace(true));
    let r = f();
    SEQUENTIAL.with(|s| s.set(before));
    r
}

/// Whether this thread runs inside [`sequential`] (its work is already one
/// of several running in parallel).
pub(crate) fn in_sequential() -> bool {
    SEQUENTIAL.with(Cell::get)
}

fn par_for(macs: usize) -> Par {
    let n = threads();
    if n <= 1 || macs < PAR_MIN_MACS || SEQUENTIAL.with(Cell::get) {
        Par::Seq
    } else {
        Par::Rayon(NonZeroUsize::new(n).expect("n > 1"))
    }
}

/// A row-major `[rows, cols]` matrix view, optionally transposed.
fn view<T: Float>(data: &[T], rows: usize, cols: usize, trans: bool) -> MatRef<'_, T> {
    let m = MatRef::from_row_major_slice(&data[..super::len_of(rows, cols)], rows, cols);
    if trans {
        m.transpose()
    } else {
        m
    }
}

/// `C[m, n] (+)= op(A) op(B)` on row-major slices.
///
/// `op(A)` is `[m, k]`: `A` is stored `[m, k]`, or `[k, m]` when `trans_a`.
/// `op(B)` is `[k, n]`: `B` is stored `[k, n]`, or `[n, k]` when `trans_b`.
/// With `accumulate` the product is added to `C`, otherwise it replaces it.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    trans_a: bool,
    b: &[T],
    trans_b: bool,
    c: &mut [T],
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..super::len_of(m, n)].fill(T::zero());
        }
        return;
    }
    // the products' sizes, overflow refused (as `len_of` refuses each matrix's)
    let macs = super::len_of(super::len_of(m, n), k);
    if trans_a && !trans_b && macs >= AT_B_MIN_MACS {
        // one thread: the blocked kernel of `packed.rs` reads A^T in place
        // (f32 with AVX2); else faer on transposed chunks
        if matches!(par_for(macs), Par::Seq) && T::packed_fast() {
            if !accumulate {
                c[..super::len_of(m, n)].fill(T::zero());
            }
            if T::gemm_at_b_acc(m, n, k, a, b, c) {
                return;
            }
            return gemm_at_b(m, n, k, a, b, c, true);
        }
        return gemm_at_b(m, n, k, a, b, c, accumulate);
    }
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    let a = view(a, ar, ac, trans_a);
    let b = view(b, br, bc, trans_b);
    let c = MatMut::from_row_major_slice_mut(&mut c[..super::len_of(m, n)], m, n);
    let beta = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(c, beta, a, b, T::one(), par_for(macs));
}

/// Products `A^T B` at least this large go through [`gemm_at_b`].
const AT_B_MIN_MACS: usize = 1 << 20;
/// Rows of `A` and `B` (the summed dimension `k`) per pass of [`gemm_at_b`].
const AT_B_CHUNK: usize = 512;

/// `C[m, n] (+)= A^T B` for `A` stored `[k, m]` and `B` `[k, n]`, row-major:
/// the weight gradients' shape (`dW = sum_t delta_t s_t^T`, `k` = T*B
/// rows). faer is slow on that operand order: `dW_hh` of the LSTM at the
/// bench's M shape ran at 49 GFLOP/s against 66 for the same product with
/// `A^T` stored, and at L 26 against 65 (`rnn bench --products`, Zen 3). So
/// `k` is cut into chunks of [`AT_B_CHUNK`] rows, each chunk of `A`
/// transposed into a buffer `[m, chunk]` and multiplied as stored; the
/// buffer stays small whatever `k`.
fn gemm_at_b<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    accumulate: bool,
) {
    // [m, chunk], from this thread's pool: the weight gradients call this
    // once per tensor per batch, with the same sizes every time
    let mut at = crate::kernels::pool::zeroed(m * AT_B_CHUNK.min(k));
    for k0 in (0..k).step_by(AT_B_CHUNK) {
        let kc = AT_B_CHUNK.min(k - k0);
        transpose_into(&a[k0 * m..(k0 + kc) * m], kc, m, &mut at);
        let (bk, acc) = (&b[k0 * n..(k0 + kc) * n], accumulate || k0 > 0);
        gemm(m, n, kc, &at, false, bk, false, c, acc);
    }
    crate::kernels::pool::give_back(at);
}

/// Whether this CPU runs the AVX2 builds of the hand-written kernels (the
/// checks are cached by the standard library, so this is cheap to call).
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the AVX-512 builds of the step product and the gate
/// kernels (16 f32 lanes; AVX-512F with AVX2 and FMA), unless
/// `RNN_SIMD=avx2` asks for the AVX2 builds (to measure one against the
/// other: both give the same sums bit for bit). Cached after the first call.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WIDE.get_or_init(|| {
            std::env::var("RNN_SIMD").as_deref() != Ok("avx2")
                && has_avx2()
                && std::is_x86_feature_detected!("avx512f")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y[rows] += A[rows, cols] x[cols]`: a matrix-vector product written out,
/// faster than a GEMM call for batch 1 where the call overhead dominates.
#[inline]
pub fn gemv_acc<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { gemv_acc_avx2(rows, cols, a, x, y) };
    }
    gemv_acc_impl(rows, cols, a, x, y)
}

/// [`gemv_acc`] for f32 with AVX2 and FMA intrinsics: eight rows at a time,
/// eight independent fused multiply-add chains over the columns, then one
/// horizontal reduction per eight rows. The compiler does not find this from
/// the generic code (it vectorises one row at a time, each ending in a
/// horizontal sum). The last `cols % 8` columns are one masked load per row
/// (not a scalar loop), and the last `rows % 8` rows go four at a time, then
/// one at a time, through the same loop.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemv_acc_f32_avx2(
    rows: usize,
    cols: usize,
    a: &[f32],
    x: &[f32],
    y: &mut [f32],
) {
    use std::arch::x86_64::*;
    let (a, x, y) = (&a[..super::len_of(rows, cols)], &x[..cols], &mut y[..rows]);
    let full = cols - cols % 8;
    // lane l of the last, partial block of columns is read when l < cols % 8
    let rem = (cols % 8) as i32;
    let mask = _mm256_setr_epi32(
        -((0 < rem) as i32),
        -((1 < rem) as i32),
        -((2 < rem) as i32),
        -((3 < rem) as i32),
        -((4 < rem) as i32),
        -((5 < rem) as i32),
        -((6 < rem) as i32),
        -((7 < rem) as i32),
    );
    /// The lane sums of `N` accumulators for rows `r..r + N`: lane l of
    /// `acc[i]` sums `A[r + i, k] x[k]` over the columns `k = l (mod 8)`.
    ///
    /// # Safety
    /// AVX2 and FMA; `r + N <= rows`, `full <= cols`, `full % 8 == 0`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn block<const N: usize>(
        a: &[f32],
        cols: usize,
        r: usize,
        x: &[f32],
        full: usize,
        mask: __m256i,
    ) -> [__m256; N] {
        let mut acc = [_mm256_setzero_ps(); N];
        let mut k = 0;
        while k < full {
            // SAFETY: k + 8 <= full <= cols and r + i < rows: every load is
            // inside `x` and `a`, whose lengths the caller's slicing checked.
            let xv = _mm256_loadu_ps(x.as_ptr().add(k));
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let av = _mm256_loadu_ps(a.as_ptr().add((r + i) * cols + k));
                *acc_i = _mm256_fmadd_ps(av, xv, *acc_i);
            }
            k += 8;
        }
        if full < cols {
            // SAFETY: the masked lanes are the columns full..cols, inside
            // the row; the others are not read.
            let xv = _mm256_maskload_ps(x.as_ptr().add(full), mask);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let av = _mm256_maskload_ps(a.as_ptr().add((r + i) * cols + full), mask);
                *acc_i = _mm256_fmadd_ps(av, xv, *acc_i);
            }
        }
        acc
    }
    /// The sums of the lanes of four accumulators: `[s0, s1, s2, s3]`.
    #[inline(always)]
    unsafe fn reduce4(v: [__m256; 4]) -> __m128 {
        let s01 = _mm256_hadd_ps(v[0], v[1]);
        let s23 = _mm256_hadd_ps(v[2], v[3]);
        let s = _mm256_hadd_ps(s01, s23);
        _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1))
    }
    let mut r = 0;
    while r + 8 <= rows {
        let acc = block::<8>(a, cols, r, x, full, mask);
        let lo = reduce4([acc[0], acc[1], acc[2], acc[3]]);
        let hi = reduce4([acc[4], acc[5], acc[6], acc[7]]);
        // SAFETY: r + 8 <= rows = y.len()
        let yp = y.as_mut_ptr().add(r);
        let sum = _mm256_add_ps(_mm256_loadu_ps(yp), _mm256_set_m128(hi, lo));
        _mm256_storeu_ps(yp, sum);
        r += 8;
    }
    if r + 4 <= rows {
        let acc = block::<4>(a, cols, r, x, full, mask);
        // SAFETY: r + 4 <= rows = y.len()
        let yp = y.as_mut_ptr().add(r);
        _mm_storeu_ps(yp, _mm_add_ps(_mm_loadu_ps(yp), reduce4(acc)));
        r += 4;
    }
    while r < rows {
        let [acc] = block::<1>(a, cols, r, x, full, mask);
        let zero = _mm256_setzero_ps();
        let s = reduce4([acc, zero, zero, zero]);
        y[r] += _mm_cvtss_f32(s);
        r += 1;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_acc_avx2<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    gemv_acc_impl(rows, cols, a, x, y)
}

/// One vectorised dot product per row.
#[inline(always)]
fn gemv_acc_impl<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    let a = &a[..super::len_of(rows, cols)];
    let x = &x[..cols];
    let y = &mut y[..rows];
    for (yr, row) in y.iter_mut().zip(a.chunks_exact(cols)) {
        *yr += dot(row, x);
    }
}

/// `y[cols] += A[rows, cols]^T x[rows]`: each `y[j]` plus the sum over the
/// rows in order of `x[r] * A[r, j]` (a product, then a sum), from zero. For
/// f32 with AVX2 the kernel of `kernels/cols.rs` (the same bits, every
/// output's sum in a register at once).
#[inline]
pub fn gemv_t_acc<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    if T::gemv_t_fast(rows, cols, a, x, y) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
        return unsafe { gemv_t_acc_avx512(rows, cols, a, x, y) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { gemv_t_acc_avx2(rows, cols, a, x, y) };
    }
    gemv_t_acc_impl(rows, cols, a, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_t_acc_avx2<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    gemv_t_acc_impl(rows, cols, a, x, y)
}

/// [`gemv_t_acc`] compiled for AVX-512 (each `y[j]` sums its products in
/// the same order: the same bits as the AVX2 build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gemv_t_acc_avx512<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    gemv_t_acc_impl(rows, cols, a, x, y)
}

/// [`gemv_t_acc`]'s loop without a target feature or a SIMD kernel (for
/// the tests of the kernels that give its bits).
#[cfg(test)]
pub(crate) fn gemv_t_acc_portable<T: Float>(
    rows: usize,
    cols: usize,
    a: &[T],
    x: &[T],
    y: &mut [T],
) {
    gemv_t_acc_impl(rows, cols, a, x, y)
}

/// Register blocking: a block of `y` stays in accumulators while all rows of
/// `A` stream past it, so `y` is loaded and stored once (not once per row).
/// Blocks of `4 * LANES` columns (four AVX2 registers of f32, independent
/// chains that hide the add latency), then of `LANES`, then the last few
/// columns as one overlapping block.
#[inline(always)]
fn gemv_t_acc_impl<T: Float>(rows: usize, cols: usize, a: &[T], x: &[T], y: &mut [T]) {
    let y = &mut y[..cols];
    let a = &a[..super::len_of(rows, cols)];
    let x = &x[..rows];
    let wide = cols - cols % (4 * LANES);
    let narrow = cols - cols % LANES;
    for c0 in (0..wide).step_by(4 * LANES) {
        gemv_t_block::<T, { 4 * LANES }>(a, cols, c0, x, &mut y[c0..c0 + 4 * LANES]);
    }
    for c0 in (wide..narrow).step_by(LANES) {
        gemv_t_block::<T, LANES>(a, cols, c0, x, &mut y[c0..c0 + LANES]);
    }
    if narrow == cols {
        return;
    }
    if cols >= LANES {
        // the last LANES columns as one block, overlapping the previous one:
        // only its lanes past `narrow` are added
        let c0 = cols - LANES;
        let mut last = [T::zero(); LANES];
        gemv_t_block::<T, LANES>(a, cols, c0, x, &mut last);
        for (yj, &v) in y[narrow..].iter_mut().zip(&last[narrow - c0..]) {
            *yj += v;
        }
    } else {
        for (j, yj) in y.iter_mut().enumerate() {
            *yj += x
                .iter()
                .zip(a.chunks_exact(cols))
                .fold(T::zero(), |s, (&xr, row)| s + xr * row[j]);
        }
    }
}

/// `y[0..W] += sum_r x[r] A[r, c0..c0 + W]` with the `W` sums in registers.
#[inline(always)]
fn gemv_t_block<T: Float, const W: usize>(a: &[T], cols: usize, c0: usize, x: &[T], y: &mut [T]) {
    let mut acc = [T::zero(); W];
    for (&xr, row) in x.iter().zip(a.chunks_exact(cols)) {
        let seg: &[T; W] = row[c0..c0 + W].try_into().expect("W columns");
        for l in 0..W {
            acc[l] += xr * seg[l];
        }
    }
    for (yl, al) in y[..W].iter_mut().zip(acc) {
        *yl += al;
    }
}

/// Lanes of the vectorised reductions: 8 accumulators fill one AVX2 register
/// of f32 and hide the add latency.
pub(super) const LANES: usize = 8;

/// A chunk of [`LANES`] values as an array, so the compiler sees its length.
#[inline(always)]
pub(super) fn lanes<T: Float>(c: &[T]) -> &[T; LANES] {
    c.try_into().expect("chunks_exact yields LANES values")
}

/// The sum of the lanes of an accumulator.
#[inline(always)]
pub(super) fn hsum<T: Float>(acc: &[T; LANES]) -> T {
    // a plain left-to-right sum: a pairwise tree here leads LLVM to split the
    // accumulators of the main loop into 2-lane vectors
    acc.iter().fold(T::zero(), |s, &v| s + v)
}

/// The dot product of two equal-length slices, in `LANES` independent lanes
/// so the compiler can vectorise it.
#[inline(always)]
pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (ac, bc) = (a[..n].chunks_exact(LANES), b[..n].chunks_exact(LANES));
    let (at, bt) = (ac.remainder(), bc.remainder());
    let mut acc = [T::zero(); LANES];
    for (av, bv) in ac.zip(bc) {
        let (av, bv) = (lanes(av), lanes(bv));
        for l in 0..LANES {
            acc[l] += av[l] * bv[l];
        }
    }
    let mut s = hsum(&acc);
    for (&x, &y) in at.iter().zip(bt) {
        s += x * y;
    }
    s
}

/// The sum of a slice, in `LANES` independent lanes so the compiler can vectorise it.
#[inline(always)]
pub fn sum<T: Float>(a: &[T]) -> T {
    let ac = a.chunks_exact(LANES);
    let tail = ac.remainder();
    let mut acc = [T::zero(); LANES];
    for av in ac {
        let av = lanes(av);
        for l in 0..LANES {
            acc[l] += av[l];
        }
    }
    tail.iter().fold(hsum(&acc), |s, &v| s + v)
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// The transpose `[cols, rows]` of a row-major `[rows, cols]` matrix, eight
/// rows at a time so each write is a contiguous run of eight values.
pub fn transpose<T: Float>(a: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = Vec::new();
    transpose_into(a, rows, cols, &mut t);
    t
}

/// [`transpose`] into `t`, resized to `[cols, rows]` (every element is
/// overwritten), so a buffer can be reused.
pub fn transpose_into<T: Float>(a: &[T], rows: usize, cols: usize, t: &mut Vec<T>) {
    const BLOCK: usize = 8;
    let a = &a[..super::len_of(rows, cols)];
    t.resize(rows * cols, T::zero());
    let t = &mut t[..super::len_of(rows, cols)];
    for (r0, block) in a
        .chunks(BLOCK * cols)
        .enumerate()
        .map(|(i, b)| (i * BLOCK, b))
    {
        let nb = block.len() / cols;
        for (c, col) in t.chunks_exact_mut(rows).enumerate() {
            for (i, d) in col[r0..r0 + nb].iter_mut().enumerate() {
                *d = block[i * cols + c];
            }
        }
    }
}

/// `out[j] += sum_r A[r, j]`: column sums of a row-major `[rows, cols]` matrix
/// (the gradient of a bias broadcast over rows).
pub fn col_sum_acc<T: Float>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            return unsafe { col_sum_acc_avx512(rows, cols, a, out) };
        }
        if has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { col_sum_acc_avx2(rows, cols, a, out) };
        }
    }
    col_sum_loop(rows, cols, a, out)
}

/// [`col_sum_acc`]'s loop: row after row, each added to `out` element by
/// element (each column's sum in the order of the rows, whatever the vector
/// width the compiler gives the inner loop: the same bits from every build).
#[inline(always)]
fn col_sum_loop<T: Float>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    if cols == 0 {
        return; // no column to sum (chunks of 0 are not a thing)
    }
    for row in a[..super::len_of(rows, cols)].chunks_exact(cols) {
        for (o, &v) in out[..cols].iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// [`col_sum_loop`] compiled for AVX2: the bias gradients' sums in 8 lanes
/// instead of the 4 of the default target (their share of the bench's S LSTM
/// training was about 4 % in `perf`).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn col_sum_acc_avx2<T: Float>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    col_sum_loop(rows, cols, a, out)
}

/// [`col_sum_loop`] compiled for AVX-512 (16 lanes).
///
/// # Safety
/// The CPU must have AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn col_sum_acc_avx512<T: Float>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    col_sum_loop(rows, cols, a, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], ta: bool, b: &[f64], tb: bool) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let av = if ta { a[p * m + i] } else { a[i * k + p] };
                    let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += av * bv;
                }
            }
        }
        c
    }

    #[test]
    fn gemm_matches_naive_for_all_transposes() {
        // the second shape is above AT_B_MIN_MACS, so A^T B goes through
        // gemm_at_b, with a last chunk of k shorter than AT_B_CHUNK
        for (m, n, k) in [(5, 7, 3), (33, 40, 2 * AT_B_CHUNK + 77)] {
            assert!(m * n * k < AT_B_MIN_MACS || k % AT_B_CHUNK != 0);
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
            for ta in [false, true] {
                for tb in [false, true] {
                    let want = naive(m, n, k, &a, ta, &b, tb);
                    let mut c = vec![1.0; m * n];
                    gemm(m, n, k, &a, ta, &b, tb, &mut c, true);
                    for (g, w) in c.iter().zip(&want) {
                        assert!((g - (w + 1.0)).abs() < 1e-12 * (1.0 + w.abs()));
                    }
                    gemm(m, n, k, &a, ta, &b, tb, &mut c, false);
                    for (g, w) in c.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-12 * (1.0 + w.abs()));
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_and_gemv_t_at_odd_sizes() {
        for (r, c) in [(1, 1), (3, 5), (9, 13), (17, 40), (20, 100)] {
            let a: Vec<f64> = (0..r * c).map(|i| (i as f64 * 0.7).sin()).collect();
            let t = transpose(&a, r, c);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(t[j * r + i], a[i * c + j]);
                }
            }
            let x: Vec<f64> = (0..r).map(|i| i as f64 * 0.5 - 1.0).collect();
            let mut y = vec![0.25; c];
            gemv_t_acc(r, c, &a, &x, &mut y);
            let want = naive(c, 1, r, &a, true, &x, false);
            for (g, w) in y.iter().zip(&want) {
                assert!((g - (w + 0.25)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn f32_gemv_matches_f64_at_odd_sizes() {
        for (r, c) in [
            (1, 3),
            (7, 8),
            (8, 9),
            (17, 100),
            (100, 100),
            (33, 5),
            (12, 7),
            (5, 17),
            (65, 100),
            (3, 1),
            (4, 16),
            (9, 33),
            (8, 31),
            (13, 256),
        ] {
            let a: Vec<f64> = (0..r * c).map(|i| (i as f64 * 0.37).sin()).collect();
            let x: Vec<f64> = (0..c).map(|i| (i as f64 * 0.21).cos()).collect();
            let want = naive(r, 1, c, &a, false, &x, false);
            let (a32, x32): (Vec<f32>, Vec<f32>) = (
                a.iter().map(|&v| v as f32).collect(),
                x.iter().map(|&v| v as f32).collect(),
            );
            let mut y = vec![1f32; r];
            <f32 as Float>::gemv_acc(r, c, &a32, &x32, &mut y);
            let mut ys = vec![y];
            // the AVX2 build as well, whatever the dispatch picked
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                let mut y = vec![1f32; r];
                // SAFETY: the CPU has AVX2 and FMA (checked just above)
                unsafe { gemv_acc_f32_avx2(r, c, &a32, &x32, &mut y) };
                ys.push(y);
            }
            for (path, y) in ys.iter().enumerate() {
                for (g, w) in y.iter().zip(&want) {
                    assert!(
                        (*g as f64 - (w + 1.0)).abs() < 1e-4,
                        "path {path}, {r}x{c}: {g} vs {}",
                        w + 1.0
                    );
                }
            }
        }
    }

    #[test]
    fn gemv_matches_gemm() {
        let (r, c) = (9, 13);
        let a: Vec<f64> = (0..r * c).map(|i| (i as f64 * 0.7).sin()).collect();
        let x: Vec<f64> = (0..c).map(|i| i as f64 - 4.0).collect();
        let mut y = vec![0.5; r];
        gemv_acc(r, c, &a, &x, &mut y);
        let want = naive(r, 1, c, &a, false, &x, false);
        for (g, w) in y.iter().zip(&want) {
            assert!((g - (w + 0.5)).abs() < 1e-12);
        }
        let xt: Vec<f64> = (0..r).map(|i| i as f64 * 0.5).collect();
        let mut yt = vec![0.0; c];
        gemv_t_acc(r, c, &a, &xt, &mut yt);
        let want = naive(c, 1, r, &a, true, &xt, false);
        for (g, w) in yt.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
    }
}
