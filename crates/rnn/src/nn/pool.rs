//! Pooling over time: one vector per sequence from the top layer's outputs
//! at its valid steps, for many-to-one heads (see
//! [`crate::nn::many_to_one::ManyToOne`]).
//!
//! ```text
//! last:  s_b = [h_fwd at step len_b - 1 ; h_bwd at step 0]   (each direction's final state)
//! mean:  s_b = (1/len_b) sum_{t < len_b} h_t
//! max:   s_b[j] = max_{t < len_b} h_t[j]                      (gradient to the arg max only)
//! ```

use crate::Float;
use serde::{Deserialize, Serialize};

/// How a many-to-one head summarises a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Pool {
    /// The final state of each direction: the forward direction at the
    /// sequence's last step, the backward direction at its first step.
    #[default]
    Last,
    /// The mean of the outputs over the valid steps.
    Mean,
    /// The elementwise maximum of the outputs over the valid steps.
    Max,
}

impl Pool {
    /// The lowercase name (`last`, `mean`, `max`).
    ///
    /// ```
    /// assert_eq!(rnn::nn::pool::Pool::Max.name(), "max");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Pool::Last => "last",
            Pool::Mean => "mean",
            Pool::Max => "max",
        }
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of what is pooled: `[T, B, W]` outputs, `W = D*H`, of a layer
/// with `D` directions of `H` units, and the valid steps of each sequence.
#[derive(Clone, Copy, Debug)]
pub struct PoolShape<'a> {
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// `H`: units per direction (`W / D`).
    pub hidden: usize,
    /// `D`: 1, or 2 when bidirectional.
    pub directions: usize,
    /// `[B]`, each in `1..=T`; `None`: all `T`.
    pub lengths: Option<&'a [usize]>,
}

impl PoolShape<'_> {
    fn width(&self) -> usize {
        self.hidden * self.directions
    }

    fn len(&self, b: usize) -> usize {
        self.lengths.map_or(self.steps, |l| l[b])
    }
}

/// Pooled vectors and, for max pooling, where each maximum was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Pooled<T> {
    /// `[B, W]`.
    pub values: Vec<T>,
    /// Max pooling: the step of each maximum `[B, W]`; empty otherwise.
    pub from: Vec<usize>,
}

/// Pools `out` (`[T, B, W]`) over each sequence's valid steps. Unchecked,
/// so crate-internal: `out` is `[T, B, W]` and each length in `1..=T`
/// ([`crate::nn::many_to_one::ManyToOne`], the public way to pool, checks
/// its batch first).
pub(crate) fn pool_forward<T: Float>(pool: Pool, out: &[T], s: PoolShape) -> Pooled<T> {
    let (w, batch) = (s.width(), s.batch);
    let row = |t: usize, b: usize| &out[(t * batch + b) * w..(t * batch + b + 1) * w];
    let mut values = vec![T::zero(); batch * w]; // [B, W]
    let mut from = Vec::new();
    if pool == Pool::Max {
        from = vec![0usize; batch * w];
    }
    for b in 0..batch {
        let n = s.len(b);
        let v = &mut values[b * w..(b + 1) * w];
        match pool {
            Pool::Last => {
                for (j, x) in v.iter_mut().enumerate() {
                    let t = if j / s.hidden == 0 { n - 1 } else { 0 };
                    *x = row(t, b)[j];
                }
            }
            Pool::Mean => {
                for t in 0..n {
                    for (x, &y) in v.iter_mut().zip(row(t, b)) {
                        *x += y;
                    }
                }
                let inv = T::one() / T::of(n as f64);
                v.iter_mut().for_each(|x| *x *= inv);
            }
            Pool::Max => {
                v.copy_from_slice(row(0, b));
                let f = &mut from[b * w..(b + 1) * w];
                for t in 1..n {
                    for ((x, k), &y) in v.iter_mut().zip(f.iter_mut()).zip(row(t, b)) {
                        if y > *x {
                            (*x, *k) = (y, t);
                        }
                    }
                }
            }
        }
    }
    Pooled { values, from }
}

/// The gradient of the pooled vectors, `dpooled` (`[B, W]`), spread back
/// over the outputs: `[T, B, W]`, zero at padding. Unchecked and
/// crate-internal, as [`pool_forward`].
pub(crate) fn pool_backward<T: Float>(
    pool: Pool,
    pooled: &Pooled<T>,
    dpooled: &[T],
    s: PoolShape,
) -> Vec<T> {
    let (w, batch) = (s.width(), s.batch);
    let mut dout = vec![T::zero(); s.steps * batch * w]; // [T, B, W]
    let at = |t: usize, b: usize, j: usize| (t * batch + b) * w + j;
    for b in 0..batch {
        let n = s.len(b);
        let g = &dpooled[b * w..(b + 1) * w];
        match pool {
            Pool::Last => {
                for (j, &d) in g.iter().enumerate() {
                    let t = if j / s.hidden == 0 { n - 1 } else { 0 };
                    dout[at(t, b, j)] = d;
                }
            }
            Pool::Mean => {
                let inv = T::one() / T::of(n as f64);
                for t in 0..n {
                    for (j, &d) in g.iter().enumerate() {
                        dout[at(t, b, j)] = d * inv;
                    }
                }
            }
            Pool::Max => {
                for (j, &d) in g.iter().enumerate() {
                    dout[at(pooled.from[b * w + j], b, j)] = d;
                }
            }
        }
    }
    dout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pool_over_the_valid_steps() {
        // T = 3, B = 1, one direction of H = 2; the sequence has 2 valid steps
        let out = [1.0, -1.0, 3.0, 0.0, 9.0, 9.0];
        let shape = PoolShape {
            steps: 3,
            batch: 1,
            hidden: 2,
            directions: 1,
            lengths: Some(&[2]),
        };
        assert_eq!(pool_forward(Pool::Last, &out, shape).values, [3.0, 0.0]);
        assert_eq!(pool_forward(Pool::Mean, &out, shape).values, [2.0, -0.5]);
        let max = pool_forward(Pool::Max, &out, shape);
        assert_eq!((max.values, max.from), (vec![3.0, 0.0], vec![1, 1]));
    }

    #[test]
    fn bidirectional_last_reads_each_direction_at_its_own_end() {
        // T = 3, B = 2, D = 2, H = 1; sequence 1 has 2 valid steps
        let out = [
            1.0, 10.0, 2.0, 20.0, // t = 0
            3.0, 30.0, 4.0, 40.0, // t = 1
            5.0, 50.0, 0.0, 0.0, // t = 2 (sequence 1: padding)
        ];
        let s = PoolShape {
            steps: 3,
            batch: 2,
            hidden: 1,
            directions: 2,
            lengths: Some(&[3, 2]),
        };
        let p = pool_forward(Pool::Last, &out, s);
        assert_eq!(p.values, [5.0, 10.0, 4.0, 20.0]);
        let d = pool_backward(Pool::Last, &p, &[1.0, 2.0, 3.0, 4.0], s);
        assert_eq!(
            d,
            [0.0, 2.0, 0.0, 4.0, 0.0, 0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn mean_and_max_ignore_padding() {
        // T = 3, B = 1, W = 1, two valid steps; the padding value is larger
        let out = [-2.0, -4.0, 7.0];
        let s = PoolShape {
            steps: 3,
            batch: 1,
            hidden: 1,
            directions: 1,
            lengths: Some(&[2]),
        };
        let mean = pool_forward(Pool::Mean, &out, s);
        assert_eq!(mean.values, [-3.0]);
        assert_eq!(pool_backward(Pool::Mean, &mean, &[1.0], s), [0.5, 0.5, 0.0]);
        let max = pool_forward(Pool::Max, &out, s);
        assert_eq!(max.values, [-2.0]);
        assert_eq!(pool_backward(Pool::Max, &max, &[1.0], s), [1.0, 0.0, 0.0]);
    }
}
