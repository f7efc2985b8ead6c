//! Sums of squares in `f64` (gradient norms), over a whole slice or over
//! the parts of it that can be non-zero.

use super::linalg::{hsum, lanes, LANES};
use crate::Float;

/// The sum of the squares of a slice, in `f64` (so `f32` squares neither
/// overflow nor round), in `LANES` independent lanes so the compiler can
/// vectorise it: the same sum whatever the CPU's vector width. For `f32`
/// values it is finite exactly when every value is (a square is at most
/// 1.2e77); `f64` values above 1e154 overflow it.
///
/// ```
/// assert_eq!(rnn::kernels::sum_squares_f64(&[3.0f32, 4.0, 12.0]), 169.0);
/// assert!(!rnn::kernels::sum_squares_f64(&[1.0f32, f32::NAN]).is_finite());
/// ```
#[inline(always)]
pub fn sum_squares_f64<T: Float>(a: &[T]) -> f64 {
    let ac = a.chunks_exact(LANES);
    let tail = ac.remainder();
    let mut acc = [0.0f64; LANES];
    for av in ac {
        let av = lanes(av);
        for l in 0..LANES {
            acc[l] += av[l].f64() * av[l].f64();
        }
    }
    tail.iter().fold(hsum(&acc), |s, &v| s + v.f64() * v.f64())
}

/// [`sum_squares_f64`] of a slice that is zero outside `ranges`
/// (increasing, disjoint), reading only those: each value goes to the lane
/// and in the order the whole slice's sum gives it, and the zeros left out
/// add nothing, so the result is the same to the bit (a gradient that is
/// non-zero only in the embedding rows a batch used).
///
/// ```
/// use rnn::kernels::{sum_squares_f64, sum_squares_f64_in};
/// let mut a = vec![0.0f32; 21];
/// a[3..6].copy_from_slice(&[0.1, 0.2, 0.3]);
/// a[17..20].copy_from_slice(&[1e-3, 7.0, 0.7]);
/// assert_eq!(sum_squares_f64_in(&a, [3..6, 17..20]).to_bits(), sum_squares_f64(&a).to_bits());
/// ```
pub fn sum_squares_f64_in<T: Float>(
    a: &[T],
    ranges: impl IntoIterator<Item = std::ops::Range<usize>>,
) -> f64 {
    // the lanes cover the whole chunks of LANES values, then the tail
    // follows one value after another
    let body = a.len() / LANES * LANES;
    let mut acc = [0.0f64; LANES];
    let mut tail = [0.0f64; LANES];
    for r in ranges {
        let (r0, r1) = (r.start, r.end.min(a.len()));
        let mut i = r0;
        while i < r1.min(body) && i % LANES != 0 {
            acc[i % LANES] += a[i].f64() * a[i].f64();
            i += 1;
        }
        let whole = (r1.min(body) - i.min(r1.min(body))) / LANES * LANES;
        for av in a[i..i + whole].chunks_exact(LANES) {
            let av = lanes(av);
            for l in 0..LANES {
                acc[l] += av[l].f64() * av[l].f64();
            }
        }
        i += whole;
        while i < r1 {
            if i < body {
                acc[i % LANES] += a[i].f64() * a[i].f64();
            } else {
                tail[i - body] = a[i].f64() * a[i].f64();
            }
            i += 1;
        }
    }
    tail.iter().fold(hsum(&acc), |s, &v| s + v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Random slices, zero outside random increasing ranges (some crossing
    /// a chunk of eight, some in the tail): the sum over the ranges is the
    /// whole slice's, to the bit.
    #[test]
    fn the_sum_over_ranges_is_the_whole_sum() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let n = rng.random_range(0..120usize);
            let mut a = vec![0.0f32; n];
            let mut ranges = Vec::new();
            let mut i = 0;
            while i < n {
                i += rng.random_range(0..10usize);
                let len = rng.random_range(0..12usize).min(n.saturating_sub(i));
                if i < n {
                    for x in &mut a[i..i + len] {
                        *x = (rng.random::<f32>() - 0.5) * 10f32.powi(rng.random_range(-6..6));
                    }
                    ranges.push(i..i + len);
                }
                i += len + 1;
            }
            let whole = sum_squares_f64(&a);
            let part = sum_squares_f64_in(&a, ranges.iter().cloned());
            assert_eq!(part.to_bits(), whole.to_bits(), "n {n}, ranges {ranges:?}");
            let in_f64: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
            assert_eq!(
                sum_squares_f64_in(&in_f64, ranges).to_bits(),
                sum_squares_f64(&in_f64).to_bits()
            );
        }
    }
}
