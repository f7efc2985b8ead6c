//! Tests of the packed step product against f64 and the portable loop.

use super::*;
use crate::kernels::aligned::ALIGN;

/// `C[m, n] += A B` in f64, B `[k, n]` row-major.
fn naive(m: usize, k: usize, n: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|kk| a[i * k + kk] * b[kk * n + j]).sum::<f64>() + 0.5;
        }
    }
    c
}

fn pattern(len: usize, seed: usize) -> Vec<f64> {
    (0..len)
        .map(|i| (((i * 31 + seed * 17) % 97) as f64 - 48.0) / 48.0)
        .collect()
}

/// `C += A^T B` with `A` stored transposed and `B` row-major (the weight
/// gradients): the AVX2 kernel (`K` past one slice, `m` past one chunk of
/// rows, `N` not a multiple of the panel width) against f64 and, bit for
/// bit, the portable loop.
#[test]
fn transposed_a_product_matches_f64_and_the_portable_loop() {
    for &(m, n, k) in &[
        (1, 1, 1),
        (7, 17, 5),
        (80, 40, 600),
        (150, 33, 257),
        (32, 256, 300),
        (13, 48, 40),
        (25, 64, 600),
    ] {
        let (at, b) = (pattern(k * m, 3), pattern(k * n, 4));
        let a: Vec<f64> = (0..m * k).map(|r| at[(r % k) * m + r / k]).collect(); // [m, k]
        let want = naive(m, k, n, &a, &b);
        let (at32, b32): (Vec<f32>, Vec<f32>) = (
            at.iter().map(|&v| v as f32).collect(),
            b.iter().map(|&v| v as f32).collect(),
        );
        let mut slow = vec![0.5f32; m * n];
        gemm_at_b_acc_portable(m, n, k, &at32, &b32, &mut slow);
        for (s, y) in slow.iter().zip(&want) {
            assert!(
                ((*s as f64) - y).abs() < 1e-4 * (1.0 + y.abs()),
                "{s} vs {y}"
            );
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            let mut fast = vec![0.5f32; m * n];
            // SAFETY: the CPU has AVX2 and FMA (checked just above)
            unsafe { gemm_at_b_acc_f32_avx2(m, n, k, &at32, &b32, &mut fast) };
            assert_eq!(fast, slow, "AVX2 and portable differ at {m}x{n}x{k}");
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") && crate::kernels::has_avx2() {
            let mut wide = vec![0.5f32; m * n];
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above)
            unsafe { gemm_at_b_acc_f32_avx512(m, n, k, &at32, &b32, &mut wide) };
            assert_eq!(wide, slow, "AVX-512 and portable differ at {m}x{n}x{k}");
        }
    }
}

/// Row blocks cover `m` rows once, in order, with blocks of at most `mr`
/// rows and none of 1 or 2 rows unless `m` itself is that small.
/// The panels start on a 64-byte line after packing, after repacking
/// into a buffer that grew, and in a clone (which has a buffer of its
/// own), and a clone holds the same panels.
#[test]
fn panels_start_on_a_cache_line_packed_repacked_and_cloned() {
    let mut pk = PackedRhs::<f32>::default();
    for (k, n) in [(3, 5), (256, 1024), (7, 40)] {
        let b: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
        pk.pack(&b, k, n, false);
        assert_eq!(pk.panels().as_ptr() as usize % ALIGN, 0, "{k}x{n}");
        assert_eq!(pk.panels().len(), n.div_ceil(NR) * k * NR);
        // B[1, 2] is row 1, column 2 of panel 0
        assert_eq!(pk.panels()[NR + 2], b[n + 2]);
        let copy = pk.clone();
        assert_eq!(copy.panels().as_ptr() as usize % ALIGN, 0);
        assert_eq!(copy.panels(), pk.panels());
    }
    let empty = PackedRhs::<f64>::default().clone();
    assert!(empty.panels().is_empty());
}

/// Columns `c0..c0+n` of a `[K, ld]` matrix packed in place, and a matrix
/// given column by column, pack as the same columns gathered first: the
/// panels hold `B[kk, j]` at `panel j / NR`, row `kk`, lane `j % NR`, and
/// zeros past `N`.
#[test]
fn columns_packed_in_place_match_the_gathered_matrix() {
    let (k, ld) = (5, 40);
    let big: Vec<f32> = (0..k * ld).map(|i| i as f32 * 0.5 - 3.0).collect();
    for (c0, n) in [(0, 40), (8, 16), (3, 21), (39, 1)] {
        let gathered: Vec<f32> = (0..k)
            .flat_map(|kk| big[kk * ld + c0..kk * ld + c0 + n].to_vec())
            .collect(); // [K, n]
        let mut want = PackedRhs::<f32>::default();
        want.pack(&gathered, k, n, false);
        let mut got = PackedRhs::<f32>::default();
        got.pack_columns(&big, k, ld, c0, n);
        assert_eq!((got.k(), got.n()), (k, n));
        assert_eq!(got.panels(), want.panels(), "columns {c0}..{}", c0 + n);
        // column j of B given as a slice of K values: B^T's rows in another order
        let cols: Vec<Vec<f32>> = (0..n)
            .map(|j| (0..k).map(|kk| gathered[kk * n + j]).collect())
            .collect();
        let mut by = PackedRhs::<f32>::default();
        by.pack_by_columns(k, n, |j| &cols[j]);
        assert_eq!(by.panels(), want.panels(), "by columns, n = {n}");
        let (p, lane) = ((n - 1) / NR, (n - 1) % NR);
        assert_eq!(
            want.panels()[p * k * NR + (k - 1) * NR + lane],
            gathered[(k - 1) * n + n - 1]
        );
        if lane + 1 < NR {
            assert_eq!(want.panels()[p * k * NR + lane + 1], 0.0, "zero past N");
        }
    }
}

#[test]
fn row_blocks_cover_every_row_once_without_tiny_blocks() {
    for (mr, even) in [(MR, true), (MR512, false), (MR, false), (MR512, true)] {
        for m in 1..200 {
            let blocks: Vec<_> = row_blocks(m, mr, even).collect();
            let mut next = 0;
            for &(i, r) in &blocks {
                assert_eq!(i, next, "m={m} mr={mr}");
                assert!(r >= 1 && r <= mr, "m={m} mr={mr}: block of {r}");
                assert!(r >= 3 || m < 3, "m={m} mr={mr}: block of {r}");
                next += r;
            }
            assert_eq!(next, m, "m={m} mr={mr}");
            if even {
                // as few blocks as mr allows, no two more than a row apart
                assert_eq!(blocks.len(), m.div_ceil(mr), "m={m} mr={mr}");
                let sizes = blocks.iter().map(|&(_, r)| r);
                let (lo, hi) = (sizes.clone().min().unwrap(), sizes.max().unwrap());
                assert!(hi - lo <= 1, "m={m} mr={mr}: blocks {blocks:?}");
            }
        }
    }
    // the examples of the documentation
    let sizes = |m, mr, even| row_blocks(m, mr, even).map(|(_, r)| r).collect::<Vec<_>>();
    assert_eq!(sizes(32, MR, true), [6, 6, 5, 5, 5, 5]);
    assert_eq!(sizes(32, MR512, false), [14, 9, 9]);
}

#[test]
fn packed_product_matches_naive_at_odd_shapes_both_layouts_and_paths() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (7, 5, 17),
        (6, 33, 16),
        (13, 64, 40),
        (32, 256, 100),
        (9, 600, 33),
        (16, 256, 1024),
        (25, 300, 80),
        (64, 70, 48),
        // K past one slice and more than 64 panels: A copied into row
        // blocks (every shape above reads row-major A in place)
        (20, 300, 1100),
        // rows 4 KiB apart (K = 1024): from 17 panels on the AVX-512
        // build copies A (the AVX2 one still reads it in place); at 13
        // panels both read in place
        (30, 1024, 300),
        (30, 1024, 200),
        // depths the AVX-512 and AVX2 tiles read in place with the row
        // distance a constant (256, 512, 1024: above too): blocks of 14, 9
        // and 3 rows (AVX2: 6, 5 and 3), two slices of K, an odd panel
        (45, 512, 50),
        (3, 256, 33),
        // the AVX2 tiles' other constant depths (768, 2048, 3072, 4096):
        // blocks of 6 and 5 rows (AVX2) read in place, odd panels
        (13, 768, 40),
        (8, 2048, 17),
        (11, 3072, 20),
        (6, 4096, 33),
    ] {
        let (a, b) = (pattern(m * k, 1), pattern(k * n, 2));
        let want = naive(m, k, n, &a, &b);
        // f64, portable, B given as stored and transposed
        let bt: Vec<f64> = (0..n * k).map(|r| b[(r % k) * n + r / k]).collect();
        for (src, trans) in [(&b, false), (&bt, true)] {
            let mut pk = PackedRhs::<f64>::default();
            pk.pack(src, k, n, trans);
            let mut c = vec![0.5; m * n];
            pk.gemm_acc(m, &a, &mut c);
            for (x, y) in c.iter().zip(&want) {
                // relative: at K = 4096 the sums reach 100, and the slices'
                // partial sums round differently from one running sum
                assert!(
                    (x - y).abs() < 1e-12 * (1.0 + y.abs()),
                    "f64 {m}x{k}x{n} trans={trans}: {x} vs {y}"
                );
            }
        }
        // f32: the dispatched kernel (AVX2 here when the CPU has it) and
        // the portable loop give the same sums as f64 within rounding,
        // and each other exactly (same products, same order over k)
        let (a32, b32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&v| v as f32).collect(),
            b.iter().map(|&v| v as f32).collect(),
        );
        let mut pk = PackedRhs::<f32>::default();
        pk.pack(&b32, k, n, false);
        let mut fast = vec![0.5f32; m * n];
        pk.gemm_acc(m, &a32, &mut fast);
        let mut slow = vec![0.5f32; m * n];
        packed_gemm_acc_portable(m, k, n, &a32, pk.panels(), None, &mut slow);
        for ((f, s), y) in fast.iter().zip(&slow).zip(&want) {
            assert!(
                ((*f as f64) - y).abs() < 1e-4 * (1.0 + y.abs()),
                "f32 {f} vs {y}"
            );
            assert_eq!(f, s, "AVX2 and portable kernels differ at {m}x{k}x{n}");
        }
        // both SIMD builds, whatever the dispatch picked, give the
        // portable loop's bits: the AVX-512 tiles (up to 14 rows by two panels,
        // an odd panel alone) as well as the AVX2 ones
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            let mut narrow = vec![0.5f32; m * n];
            // SAFETY: the CPU has AVX2 and FMA (checked just above)
            unsafe { packed_gemm_acc_f32_avx2(m, k, n, &a32, pk.panels(), None, &mut narrow) };
            assert_eq!(narrow, slow, "AVX2 and portable differ at {m}x{k}x{n}");
            if std::is_x86_feature_detected!("avx512f") {
                let mut wide = vec![0.5f32; m * n];
                // SAFETY: the CPU has AVX-512F too (checked just above)
                unsafe { packed_gemm_acc_f32_avx512(m, k, n, &a32, pk.panels(), None, &mut wide) };
                assert_eq!(wide, slow, "AVX-512 and portable differ at {m}x{k}x{n}");
            }
        }
        // with a bias: the bits of copying it into every row and then
        // accumulating, whatever C held before (NaN here), on every path
        let bias: Vec<f32> = pattern(n, 3).iter().map(|&v| v as f32).collect();
        let mut want32 = bias.repeat(m);
        packed_gemm_acc_portable(m, k, n, &a32, pk.panels(), None, &mut want32);
        let mut got = vec![f32::NAN; m * n];
        pk.gemm_bias(m, &a32, &bias, &mut got);
        assert_eq!(got, want32, "gemm_bias (dispatched) at {m}x{k}x{n}");
        let mut got = vec![f32::NAN; m * n];
        packed_gemm_acc_portable(m, k, n, &a32, pk.panels(), Some(&bias), &mut got);
        assert_eq!(got, want32, "portable with a bias at {m}x{k}x{n}");
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            let mut got = vec![f32::NAN; m * n];
            // SAFETY: the CPU has AVX2 and FMA (checked just above)
            unsafe { packed_gemm_acc_f32_avx2(m, k, n, &a32, pk.panels(), Some(&bias), &mut got) };
            assert_eq!(got, want32, "AVX2 with a bias at {m}x{k}x{n}");
            if std::is_x86_feature_detected!("avx512f") {
                let mut got = vec![f32::NAN; m * n];
                // SAFETY: the CPU has AVX-512F too (checked just above)
                unsafe {
                    packed_gemm_acc_f32_avx512(m, k, n, &a32, pk.panels(), Some(&bias), &mut got)
                };
                assert_eq!(got, want32, "AVX-512 with a bias at {m}x{k}x{n}");
            }
        }
        // f64 (the portable loop) with a bias, against the copy as well
        let bias64 = pattern(n, 3);
        let mut pk64 = PackedRhs::<f64>::default();
        pk64.pack(&b, k, n, false);
        let mut want64 = bias64.repeat(m);
        pk64.gemm_acc(m, &a, &mut want64);
        let mut got = vec![f64::NAN; m * n];
        pk64.gemm_bias(m, &a, &bias64, &mut got);
        assert_eq!(got, want64, "f64 with a bias at {m}x{k}x{n}");
    }
}

/// Sizes whose products overflow are refused before any slice is read: with
/// `m` = 2^60, `m * k` wrapped to 0 in a release build, so the empty slices
/// passed the cut and the AVX-512 and AVX2 tiles read and wrote through raw
/// pointers past them (a segmentation fault from safe code). Each call here
/// must panic with the overflow named, never reach the tiles.
#[test]
fn overflowing_sizes_panic_instead_of_reading_past_the_slices() {
    let mut pk = PackedRhs::<f32>::default();
    pk.pack(&[1.0; 256], 16, 16, false);
    for (what, m) in [("gemm_acc", 1usize << 60), ("gemm_acc", usize::MAX / 3)] {
        let r = std::panic::catch_unwind(|| {
            let mut c: Vec<f32> = Vec::new();
            pk.gemm_acc(m, &[], &mut c);
        });
        let msg = r.expect_err(what);
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        assert!(msg.contains("overflow"), "{what} m={m}: {msg}");
    }
    let r = std::panic::catch_unwind(|| {
        let mut c: Vec<f32> = Vec::new();
        pk.gemm_bias(1 << 60, &[], &[0.0; 16], &mut c);
    });
    assert!(r.is_err(), "gemm_bias");
    // the weight-gradient product (A^T B), whose B is packed here: 2^32 cubed
    let r = std::panic::catch_unwind(|| {
        let mut c: Vec<f32> = Vec::new();
        <f32 as crate::Float>::gemm_at_b_acc(1 << 32, 1 << 32, 1 << 32, &[], &[], &mut c);
    });
    assert!(r.is_err(), "gemm_at_b_acc");
    // the dispatcher and the matrix-vector products check the same way
    let r = std::panic::catch_unwind(|| {
        let mut c: Vec<f32> = Vec::new();
        crate::kernels::gemm(1 << 33, 1 << 33, 4, &[], false, &[], false, &mut c, false);
    });
    assert!(r.is_err(), "gemm");
    let r = std::panic::catch_unwind(|| {
        let mut y = [0f32; 4];
        crate::kernels::gemv_acc(1 << 62, 8, &[], &[0.0; 8], &mut y);
    });
    assert!(r.is_err(), "gemv_acc");
    // no column: nothing to sum, no panic
    crate::kernels::col_sum_acc::<f32>(2, 0, &[], &mut []);
}
