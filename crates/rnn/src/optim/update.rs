//! The optimizers' elementwise updates, one function per optimizer, each one
//! loop over the parameters, their gradients and the state buffers.
//!
//! **Tiny state is zero.** A state value that only decays (momentum, the
//! moving averages of RMSprop and Adam) shrinks by a constant factor every
//! step its parameter gets no gradient: an embedding row of a word absent
//! from the batch, a one-hot input's weights for a rare symbol. Within about
//! 800 such steps Adam's `m` (× 0.9 a step) reaches the subnormal numbers
//! below `f32::MIN_POSITIVE` (1.2e-38), and arithmetic on subnormals runs
//! through a microcode assist on x86, one to two orders of magnitude slower:
//! an Adam step over a tagger's 3.2 M embedding values, each 64-value row
//! getting a gradient one step in 900, took 102.7 ms where dense gradients
//! took 11.4 ms (`examples/optimizer_rate.rs`, before this fix; 2.8 and 3.1
//! ms after, on the Xeon of model 207). So a state value whose
//! magnitude is below [`flush_below`] (`2^24` times the smallest normal
//! number: 2.0e-31 in `f32`, 3.7e-301 in `f64`) is read as 0. What that
//! changes is below what a weight can hold: such an `m` moves its weight by
//! at most `γ/(1 - β1^t) · 2e-31 / ε` (`4e-26` with γ 2e-3 and ε 1e-8 once
//! the bias correction is near 1), under half an ulp of any `f32` weight
//! larger than `1e-18` in magnitude; PyTorch's
//! `torch.set_flush_denormal(True)` makes a like trade in hardware (Rust
//! may not change the floating-point flags, so it is done in the loop). The
//! reference trajectories, far above it, are unchanged to the bit.

use crate::Float;
use std::ops::Range;

/// The magnitude below which a decaying state value is read as 0:
/// `2^24 · T::MIN_POSITIVE` (see the module's documentation).
///
/// ```
/// # use rnn::optim::flush_below;
/// assert_eq!(flush_below::<f32>(), f32::MIN_POSITIVE * 16_777_216.0);
/// assert!(flush_below::<f32>() < 1e-30 && flush_below::<f64>() < 1e-300);
/// ```
pub fn flush_below<T: Float>() -> T {
    T::min_positive_value() * T::of(16_777_216.0)
}

/// `x`, or 0 when `|x| < tiny` (a NaN stays NaN).
#[inline(always)]
fn flush<T: Float>(x: T, tiny: T) -> T {
    if x.abs() < tiny {
        T::zero()
    } else {
        x
    }
}

/// `torch.optim.SGD`'s update.
pub(super) struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

impl Sgd {
    /// One step; `buf` is the momentum buffer (`None` without momentum),
    /// `first` whether this is the first step (the buffer starts as `g`).
    pub fn step<T: Float>(
        &self,
        first: bool,
        params: &mut [T],
        grads: &[T],
        buf: Option<&mut [T]>,
    ) {
        let (lr, mu, damp, wd) = (
            T::of(self.lr),
            T::of(self.momentum),
            T::of(1.0 - self.dampening),
            T::of(self.weight_decay),
        );
        let Some(buf) = buf else {
            for (p, &g0) in params.iter_mut().zip(grads) {
                let g = g0 + wd * *p; // g = ∇ + λθ
                *p -= lr * g; // θ = θ - γ g
            }
            return;
        };
        let tiny = flush_below::<T>();
        for ((p, &g0), b) in params.iter_mut().zip(grads).zip(buf.iter_mut()) {
            let g = g0 + wd * *p; // g = ∇ + λθ

            // b_1 = g, b_t = μ b_{t-1} + (1 - τ) g
            *b = if first {
                g
            } else {
                mu * flush(*b, tiny) + damp * g
            };
            let g = if self.nesterov { g + mu * *b } else { *b };
            *p -= lr * g; // θ = θ - γ g
        }
    }
}

/// `torch.optim.Adagrad`'s update with the step's rate `clr` (its sum of
/// squares only grows: nothing to flush).
pub(super) fn adagrad<T: Float>(
    clr: f64,
    weight_decay: f64,
    eps: f64,
    params: &mut [T],
    grads: &[T],
    sum: &mut [T],
) {
    let (clr, wd, eps) = (T::of(clr), T::of(weight_decay), T::of(eps));
    for ((p, &g0), s) in params.iter_mut().zip(grads).zip(sum.iter_mut()) {
        let g = g0 + wd * *p;
        *s += g * g; // state_sum += g^2
        *p -= clr * g / (s.sqrt() + eps); // θ = θ - γ_t g / (sqrt(state_sum) + ε)
    }
}

/// `torch.optim.RMSprop`'s update.
pub(super) struct RmsProp {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
}

impl RmsProp {
    /// One step; `sq` the squared average, `buf` the momentum buffer (with
    /// momentum), `avg` the gradient average (centered).
    pub fn step<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        sq: &mut [T],
        mut buf: Option<&mut [T]>,
        mut avg: Option<&mut [T]>,
    ) {
        let (lr, a, wd, eps, mu) = (
            T::of(self.lr),
            T::of(self.alpha),
            T::of(self.weight_decay),
            T::of(self.eps),
            T::of(self.momentum),
        );
        let (one, tiny) = (T::one(), flush_below::<T>());
        for (i, ((p, &g0), v)) in params.iter_mut().zip(grads).zip(sq.iter_mut()).enumerate() {
            let g = g0 + wd * *p;
            *v = a * flush(*v, tiny) + (one - a) * g * g; // v = α v + (1 - α) g^2
            let denom = match avg.as_deref_mut() {
                Some(avg) => {
                    let ga = &mut avg[i];
                    // ḡ is read as 0 when ḡ² is, so that v - ḡ² stays >= 0
                    // once v is flushed (ḡ² <= v: a variance)
                    let ga_in = if *ga * *ga < tiny { T::zero() } else { *ga };
                    *ga = a * ga_in + (one - a) * g; // ḡ = α ḡ + (1 - α) g
                    (*v - *ga * *ga).sqrt() + eps
                }
                None => v.sqrt() + eps,
            };
            match buf.as_deref_mut() {
                Some(buf) => {
                    let b = &mut buf[i];
                    *b = mu * flush(*b, tiny) + g / denom; // b = μ b + g / (sqrt(v) + ε)
                    *p -= lr * *b;
                }
                None => *p -= lr * g / denom,
            }
        }
    }
}

/// `torch.optim.Adam`'s and `AdamW`'s update, the step's bias corrections
/// computed by the caller.
pub(super) struct Adam {
    /// γ / (1 - β1^t).
    pub step_size: f64,
    /// sqrt(1 - β2^t).
    pub bc2_sqrt: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    /// 1 - γ λ (AdamW's decay of the weights).
    pub decay: f64,
}

impl Adam {
    /// One step: AdamW's decoupled weight decay when `DECOUPLED`; `vmax`
    /// the running maximum of `v` with AMSGrad.
    pub fn step<T: Float, const DECOUPLED: bool>(
        &self,
        params: &mut [T],
        grads: &[T],
        m: &mut [T],
        v: &mut [T],
        vmax: Option<&mut [T]>,
    ) {
        let (b1, b2) = (T::of(self.betas.0), T::of(self.betas.1));
        let (step_size, bc2_sqrt) = (T::of(self.step_size), T::of(self.bc2_sqrt));
        let (eps, wd, decay) = (T::of(self.eps), T::of(self.weight_decay), T::of(self.decay));
        let (one, tiny) = (T::one(), flush_below::<T>());
        // m and v of one element: returns v̂, the v the step divides by
        let moments = |p: &mut T, g0: T, mi: &mut T, vi: &mut T| {
            let g = if DECOUPLED {
                *p *= decay; // AdamW: θ = θ (1 - γ λ)
                g0
            } else {
                g0 + wd * *p // Adam: g = ∇ + λ θ
            };
            *mi = flush(*mi, tiny);
            *mi += (one - b1) * (g - *mi); // m = β1 m + (1 - β1) g   (torch's lerp)
            *vi = b2 * flush(*vi, tiny) + (one - b2) * g * g; // v = β2 v + (1 - β2) g^2
        };
        // θ = θ - γ/(1-β1^t) · m / (sqrt(v̂)/sqrt(1-β2^t) + ε)
        let update =
            |p: &mut T, mi: T, vhat: T| *p -= step_size * mi / (vhat.sqrt() / bc2_sqrt + eps);
        let elems = params
            .iter_mut()
            .zip(grads)
            .zip(m.iter_mut().zip(v.iter_mut()));
        match vmax {
            None => {
                for ((p, &g0), (mi, vi)) in elems {
                    moments(p, g0, mi, vi);
                    update(p, *mi, *vi);
                }
            }
            Some(vmax) => {
                for (((p, &g0), (mi, vi)), vm) in elems.zip(vmax.iter_mut()) {
                    moments(p, g0, mi, vi);
                    *vm = flush(*vm, tiny).max(*vi); // AMSGrad: v̂ = max(v̂, v)
                    update(p, *mi, *vm);
                }
            }
        }
    }

    /// [`Adam::step`] over `r` of `params`, of `grads` and of each buffer
    /// of `state` (m, v, and v-max with AMSGrad: a third buffer), every one
    /// as long as `params`.
    pub fn step_range<T: Float>(
        &self,
        decoupled: bool,
        params: &mut [T],
        grads: &[T],
        state: &mut [Vec<T>],
        r: Range<usize>,
    ) {
        let (m, rest) = state.split_at_mut(1);
        let (v, vmax) = rest.split_at_mut(1);
        let (p, g) = (&mut params[r.clone()], &grads[r.clone()]);
        let (m, v) = (&mut m[0][r.clone()], &mut v[0][r.clone()]);
        let vmax = vmax.first_mut().map(|b| &mut b[r]);
        if decoupled {
            self.step::<T, true>(p, g, m, v, vmax);
        } else {
            self.step::<T, false>(p, g, m, v, vmax);
        }
    }

    /// `k` steps of [`Adam::step`] with a zero gradient on parameters whose
    /// `m` is 0 and whose weights do not move (no weight decay): only `v`
    /// decays, `v = β2 v + (1 - β2) 0²`, and AMSGrad's `v̂ = max(v̂, v)`
    /// follows. The same operations as the `k` steps, in the same order, so
    /// the same bits: a row of an embedding table left out of `k` batches
    /// is brought up to date when it is next used ([`super::RowOptimizer`]).
    /// The elements of `v` are the inner loop, so it vectorises.
    pub fn idle<T: Float>(&self, k: u64, v: &mut [T], mut vmax: Option<&mut [T]>) {
        let (one, tiny) = (T::one(), flush_below::<T>());
        let b2 = T::of(self.betas.1);
        let g = T::zero();
        let mut left = k;
        while left > 0 {
            // blocks of steps, then a look whether all of v is 0 (it stays 0)
            let n = left.min(256);
            for _ in 0..n {
                for x in v.iter_mut() {
                    *x = b2 * flush(*x, tiny) + (one - b2) * g * g; // v = β2 v + (1 - β2) g^2
                }
                if let Some(vm) = vmax.as_deref_mut() {
                    for (m, &x) in vm.iter_mut().zip(v.iter()) {
                        *m = flush(*m, tiny).max(x); // AMSGrad: v̂ = max(v̂, v)
                    }
                }
            }
            left -= n;
            if left > 0 && v.iter().all(|x| *x == T::zero()) {
                // every later step: v stays 0 and v̂ = max(flush(v̂), 0) = flush(v̂)
                if let Some(vm) = vmax.as_deref_mut() {
                    vm.iter_mut().for_each(|m| *m = flush(*m, tiny));
                }
                return;
            }
        }
    }
}
