//! Numeric kernels: matrix products (faer for GEMM, hand-written
//! matrix-vector products with runtime SIMD dispatch), thread settings and the
//! [`Float`] trait that makes every layer generic over `f32` and `f64`.

pub(crate) mod aligned;
mod cache;
pub(crate) mod cols;
pub mod float;
pub(crate) mod gates;
pub(crate) mod lanes;
mod linalg;
mod line_alloc;
pub mod packed;
pub(crate) mod pair;
pub mod peak;
pub(crate) mod pool;
pub(crate) mod shared;
mod squares;
#[cfg(target_arch = "x86_64")]
mod tiles;

pub use cache::l2_bytes;
pub use float::Float;
pub use linalg::*;
pub use line_alloc::LineAligned;
pub use packed::PackedRhs;
pub use pair::pair_jobs;
pub use peak::fma_peak_gflops;
pub use squares::{sum_squares_f64, sum_squares_f64_in};

/// `rows * cols`, the length a kernel cuts a slice to before it reads the
/// slice through raw pointers or hands it to faer as a `[rows, cols]`
/// matrix: panics when the product overflows, which would otherwise let a
/// short slice through (`m` = 2^60 with empty slices read and wrote past
/// them).
#[track_caller]
pub(crate) fn len_of(rows: usize, cols: usize) -> usize {
    rows.checked_mul(cols)
        .unwrap_or_else(|| panic!("a matrix of {rows} x {cols} elements: the size overflows"))
}
