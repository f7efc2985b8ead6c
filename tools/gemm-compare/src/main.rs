//! Measures faer against matrixmultiply (the GEMM under ndarray) on the
//! products an RNN step does, f32, one thread. Run:
//! `cargo run --release --manifest-path tools/gemm-compare/Cargo.toml`
use std::time::Instant;
fn faer_mm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let a = faer::MatRef::from_row_major_slice(a, m, k);
    let b = faer::MatRef::from_row_major_slice(b, n, k).transpose();
    let c = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0f32, faer::Par::Seq);
}
fn mmul(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // b stored [n, k] (transposed use), like W in x W^T
    unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), 1, k as isize, 0.0, c.as_mut_ptr(), n as isize, 1) }
}
fn time(f: &mut dyn FnMut(), flops: f64) -> f64 {
    for _ in 0..3 { f(); }
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let reps = (2e8 / flops).ceil().max(1.0) as usize;
        let t = Instant::now();
        for _ in 0..reps { f(); }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    flops / best / 1e9
}
fn main() {
    for &(m, n, k, what) in &[(1usize, 100usize, 100usize, "S step W s (B=1,H=100)"), (32, 256, 256, "M step (B=32,H=256)"), (3200, 65, 256, "M readout (T*B=3200,V=65,H=256)"), (64, 1024, 1024, "L step (B=64,H=1024)"), (6400, 65, 1024, "L readout"), (1024, 1024, 6400, "L dW = delta^T S (K=T*B)")] {
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; n * k];
        let mut c = vec![0.0f32; m * n];
        let fl = 2.0 * (m * n * k) as f64;
        let g1 = time(&mut || faer_mm(m, n, k, &a, &b, &mut c), fl);
        let g2 = time(&mut || mmul(m, n, k, &a, &b, &mut c), fl);
        println!("{what:<34} [{m}x{k}]x[{k}x{n}]  faer {g1:6.1} GFLOP/s  matrixmultiply {g2:6.1} GFLOP/s  ratio {:.1}x", g1 / g2);
    }
}
