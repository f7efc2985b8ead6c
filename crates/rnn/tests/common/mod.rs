//! Helpers shared by the library's test files.

use rnn::Float;

/// The largest `|a - b| / max(1, |b|)` over two equally long slices (the
/// relative error, absolute below 1).
pub fn max_rel<T: Float>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.f64() - y.f64()).abs() / y.f64().abs().max(1.0))
        .fold(0.0, f64::max)
}
