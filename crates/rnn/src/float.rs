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
}

impl Float for f32 {
    const DTYPE: &'static str = "F32";
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
