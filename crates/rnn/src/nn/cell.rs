//! Recurrent cells: the per-step nonlinearity of Elman, LSTM and GRU layers.
//!
//! A layer computes, for every step, the two affine parts of the gates
//!
//! ```text
//! xi_t = W_ih x_t + b_ih        [B, G*H]   (all steps at once, before the loop)
//! gh_t = W_hh h_{t-1} + b_hh    [B, G*H]   (one product per step)
//! ```
//!
//! and hands them to the cell, which applies its gate equations. The cell's
//! backward turns `dE/dh_t` into the gradients of both affine parts, so the
//! layer's BPTT loop is the same for every cell (see [`crate::nn::layer`]).

use crate::Float;
use serde::{Deserialize, Serialize};

/// The elementwise nonlinearity `f` of an Elman cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Activation {
    /// `tanh(a)`, PyTorch's default.
    #[default]
    Tanh,
    /// `max(a, 0)`.
    Relu,
    /// `1 / (1 + exp(-a))`.
    Sigmoid,
}

impl Activation {
    /// Parses "tanh", "relu" or "sigmoid".
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tanh" => Some(Self::Tanh),
            "relu" => Some(Self::Relu),
            "sigmoid" => Some(Self::Sigmoid),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Sigmoid => "sigmoid",
        }
    }

    /// `f(a)`.
    #[inline(always)]
    pub fn apply<T: Float>(self, a: T) -> T {
        match self {
            Self::Tanh => a.tanh_fast(),
            Self::Relu => a.max(T::zero()),
            Self::Sigmoid => sigmoid(a),
        }
    }

    /// `f'(a)` written in terms of the output `h = f(a)`:
    /// tanh' = 1 - h^2, sigmoid' = h (1 - h), relu' = `[h > 0]` (0 at a = 0, as PyTorch).
    #[inline(always)]
    pub fn derivative_from_output<T: Float>(self, h: T) -> T {
        match self {
            Self::Tanh => T::one() - h * h,
            Self::Relu => {
                if h > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Self::Sigmoid => h * (T::one() - h),
        }
    }
}

/// The logistic function `σ(a) = 1 / (1 + e^{-a})`.
#[inline(always)]
pub fn sigmoid<T: Float>(a: T) -> T {
    T::one() / (T::one() + (-a).exp_fast())
}

/// The name of a cell, without its settings: what `--cell` takes
/// (`elman`, `lstm`, `gru`). [`CellKind::from_name`] adds the Elman
/// activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CellName {
    /// The Elman cell (`nn.RNN`); `rnn` is accepted for it.
    #[default]
    #[cfg_attr(feature = "clap", value(alias = "rnn"))]
    Elman,
    /// Long short-term memory (`nn.LSTM`).
    Lstm,
    /// Gated recurrent unit (`nn.GRU`).
    Gru,
}

impl CellName {
    /// Parses `elman` (or `rnn`), `lstm` or `gru`, in any case.
    ///
    /// ```
    /// use rnn::nn::cell::CellName;
    /// assert_eq!(CellName::parse("LSTM"), Some(CellName::Lstm));
    /// assert_eq!(CellName::parse("rnn"), Some(CellName::Elman));
    /// assert_eq!(CellName::parse("transformer"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "elman" | "rnn" => Some(Self::Elman),
            "lstm" => Some(Self::Lstm),
            "gru" => Some(Self::Gru),
            _ => None,
        }
    }
}

/// Which recurrent cell a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum CellKind {
    /// `h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`: the seed's `s_t = f(U x_t + W s_{t-1} + b)`.
    Elman {
        /// The nonlinearity `f`.
        activation: Activation,
    },
    /// Long short-term memory, PyTorch's gate order i, f, g, o.
    Lstm,
    /// Gated recurrent unit, PyTorch's gate order r, z, n.
    Gru,
}

impl CellKind {
    /// The cell named `name`; `activation` is used by the Elman cell only.
    ///
    /// ```
    /// use rnn::{Activation, CellKind, nn::cell::CellName};
    /// let c = CellKind::from_name(CellName::Elman, Activation::Relu);
    /// assert_eq!(c, CellKind::Elman { activation: Activation::Relu });
    /// assert_eq!(CellKind::from_name(CellName::Gru, Activation::Relu), CellKind::Gru);
    /// ```
    pub fn from_name(name: CellName, activation: Activation) -> Self {
        match name {
            CellName::Elman => Self::Elman { activation },
            CellName::Lstm => Self::Lstm,
            CellName::Gru => Self::Gru,
        }
    }

    /// The number of gate blocks G: `weight_ih` is `[G*H, I]`.
    pub fn gates(self) -> usize {
        match self {
            Self::Elman { .. } => 1,
            Self::Lstm => 4,
            Self::Gru => 3,
        }
    }

    /// Whether the cell carries a memory `c` beside `h` (LSTM).
    pub fn has_memory(self) -> bool {
        matches!(self, Self::Lstm)
    }

    /// Floats cached per row and step for the backward pass, in units of H.
    pub fn cache_width(self) -> usize {
        match self {
            Self::Elman { .. } => 0,
            Self::Lstm => 5, // i, f, g, o, tanh(c_t)
            Self::Gru => 4,  // r, z, n, W_hn h_{t-1} + b_hn
        }
    }

    /// Whether `dE/dgh_t` differs from `dE/dxi_t` (GRU: `b_hn` and `W_hn h`
    /// sit inside `r ⊙ (.)`), so BPTT keeps a second `[T, B, G*H]` buffer.
    pub fn separate_dgh(self) -> bool {
        matches!(self, Self::Gru)
    }

    /// The name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Elman { .. } => "elman",
            Self::Lstm => "lstm",
            Self::Gru => "gru",
        }
    }

    /// One step of the cell for one row (one sequence of the batch).
    ///
    /// `xi`, `gh`: `[G*H]`; `h_prev`, `c_prev`, `h`, `c`: `[H]`; `cache`:
    /// `[cache_width*H]`, the gate values BPTT reads, or empty when they
    /// are not kept (inference).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn forward_row<T: Float>(
        self,
        xi: &[T],
        gh: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &mut [T],
        c: &mut [T],
        cache: &mut [T],
    ) {
        // the same step with the gate math in registers (f32, AVX2 + FMA:
        // `crate::kernels::gates`), when the type and CPU have it
        let fast = match self {
            Self::Lstm => T::lstm_row(xi, gh, c_prev, h, c, cache),
            Self::Gru => T::gru_row(xi, gh, h_prev, h, cache),
            Self::Elman {
                activation: Activation::Tanh,
            } => T::tanh_row(xi, gh, h),
            Self::Elman { .. } => false,
        };
        if fast {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { self.forward_row_avx2(xi, gh, h_prev, c_prev, h, c, cache) };
        }
        self.forward_row_impl(xi, gh, h_prev, c_prev, h, c, cache)
    }

    /// [`CellKind::forward_row`] compiled for AVX2 (8 f32 lanes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn forward_row_avx2<T: Float>(
        self,
        xi: &[T],
        gh: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &mut [T],
        c: &mut [T],
        cache: &mut [T],
    ) {
        self.forward_row_impl(xi, gh, h_prev, c_prev, h, c, cache)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_row_impl<T: Float>(
        self,
        xi: &[T],
        gh: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &mut [T],
        c: &mut [T],
        cache: &mut [T],
    ) {
        let n = h.len();
        match self {
            Self::Elman { activation } => {
                for ((hj, &x), &g) in h.iter_mut().zip(&xi[..n]).zip(&gh[..n]) {
                    // s_t = f(U x_t + b_ih + W s_{t-1} + b_hh)
                    *hj = activation.apply(x + g);
                }
            }
            Self::Lstm => {
                let keep = !cache.is_empty();
                let cache = if keep { &mut cache[..5 * n] } else { cache };
                let (ci, rest) = cache.split_at_mut(if keep { n } else { 0 });
                let (cf, rest) = rest.split_at_mut(ci.len());
                let (cg, rest) = rest.split_at_mut(ci.len());
                let (co, ctc) = rest.split_at_mut(ci.len());
                for j in 0..n {
                    let i = sigmoid(xi[j] + gh[j]); // i = σ(W_ii x + b_ii + W_hi h + b_hi)
                    let f = sigmoid(xi[n + j] + gh[n + j]); // f = σ(...)
                    let g = (xi[2 * n + j] + gh[2 * n + j]).tanh_fast(); // g = tanh(...)
                    let o = sigmoid(xi[3 * n + j] + gh[3 * n + j]); // o = σ(...)
                    let ct = f * c_prev[j] + i * g; // c_t = f ⊙ c_{t-1} + i ⊙ g
                    let tc = ct.tanh_fast();
                    c[j] = ct;
                    h[j] = o * tc; // h_t = o ⊙ tanh(c_t)
                    if keep {
                        (ci[j], cf[j], cg[j], co[j], ctc[j]) = (i, f, g, o, tc);
                    }
                }
            }
            Self::Gru => {
                let keep = !cache.is_empty();
                let cache = if keep { &mut cache[..4 * n] } else { cache };
                let (cr, rest) = cache.split_at_mut(if keep { n } else { 0 });
                let (cz, rest) = rest.split_at_mut(cr.len());
                let (cn, cgn) = rest.split_at_mut(cr.len());
                for j in 0..n {
                    let r = sigmoid(xi[j] + gh[j]); // r = σ(W_ir x + b_ir + W_hr h + b_hr)
                    let z = sigmoid(xi[n + j] + gh[n + j]); // z = σ(...)
                    let ghn = gh[2 * n + j]; // W_hn h + b_hn
                    let nn = (xi[2 * n + j] + r * ghn).tanh_fast(); // n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                    h[j] = (T::one() - z) * nn + z * h_prev[j]; // h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
                    if keep {
                        (cr[j], cz[j], cn[j], cgn[j]) = (r, z, nn, ghn);
                    }
                }
            }
        }
    }

    /// The backward of [`CellKind::forward_row`] for one row.
    ///
    /// Inputs: `dh = dE/dh_t` `[H]` (everything flowing into `h_t`), `dc = dE/dc_t`
    /// from the next step (LSTM), the forward's `cache`, `h_prev`, `c_prev` and
    /// output `h`. Writes `dgi = dE/dxi_t` `[G*H]`; only the GRU, whose n gate
    /// puts `r ⊙` in front of `gh`, also writes a different `dgh = dE/dgh_t`
    /// `[G*H]` (see [`CellKind::separate_dgh`]; the other cells leave it alone,
    /// it may be empty, and `dE/dgh_t = dE/dxi_t`). Sets `dh_prev` to the part
    /// of `dE/dh_{t-1}` that bypasses `W_hh` (GRU's `z ⊙ h_{t-1}`), and for the
    /// LSTM sets `dc_prev = dE/dc_{t-1}` (other cells leave `dc`, `dc_prev`
    /// untouched; they may be empty).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn backward_row<T: Float>(
        self,
        dh: &[T],
        dc: &[T],
        cache: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &[T],
        dgi: &mut [T],
        dgh: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            return unsafe {
                self.backward_row_avx512(
                    dh, dc, cache, h_prev, c_prev, h, dgi, dgh, dh_prev, dc_prev,
                )
            };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe {
                self.backward_row_avx2(dh, dc, cache, h_prev, c_prev, h, dgi, dgh, dh_prev, dc_prev)
            };
        }
        self.backward_row_impl(dh, dc, cache, h_prev, c_prev, h, dgi, dgh, dh_prev, dc_prev)
    }

    /// [`CellKind::backward_row`] compiled for AVX2 (8 f32 lanes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn backward_row_avx2<T: Float>(
        self,
        dh: &[T],
        dc: &[T],
        cache: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &[T],
        dgi: &mut [T],
        dgh: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    ) {
        self.backward_row_impl(dh, dc, cache, h_prev, c_prev, h, dgi, dgh, dh_prev, dc_prev)
    }

    /// [`CellKind::backward_row`] compiled for AVX-512 (16 f32 lanes): the
    /// same element-wise operations as the AVX2 build, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn backward_row_avx512<T: Float>(
        self,
        dh: &[T],
        dc: &[T],
        cache: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &[T],
        dgi: &mut [T],
        dgh: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    ) {
        self.backward_row_impl(dh, dc, cache, h_prev, c_prev, h, dgi, dgh, dh_prev, dc_prev)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn backward_row_impl<T: Float>(
        self,
        dh: &[T],
        dc: &[T],
        cache: &[T],
        h_prev: &[T],
        c_prev: &[T],
        h: &[T],
        dgi: &mut [T],
        dgh: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    ) {
        let n = dh.len();
        match self {
            Self::Elman { activation } => {
                let (h, dgi, dh_prev) = (&h[..n], &mut dgi[..n], &mut dh_prev[..n]);
                for j in 0..n {
                    // delta_t = dE/da_t = dE/ds_t ⊙ f'(a_t), with a_t = U x_t + W s_{t-1} + b
                    dgi[j] = dh[j] * activation.derivative_from_output(h[j]);
                    dh_prev[j] = T::zero();
                }
            }
            Self::Lstm => {
                let (ci, rest) = cache.split_at(n);
                let (cf, rest) = rest.split_at(n);
                let (cg, rest) = rest.split_at(n);
                let (co, ctc) = rest.split_at(n);
                // every slice cut to n up front: with the lengths known equal
                // the loop is vectorised without a scalar copy behind a
                // length check (which is what ran: a third of the LSTM's
                // backward gate time at the bench's M shape)
                let (ctc, dh, dc, c_prev) = (&ctc[..n], &dh[..n], &dc[..n], &c_prev[..n]);
                let (dgi_i, rest) = dgi[..4 * n].split_at_mut(n);
                let (dgi_f, rest) = rest.split_at_mut(n);
                let (dgi_g, dgi_o) = rest.split_at_mut(n);
                let (dc_prev, dh_prev) = (&mut dc_prev[..n], &mut dh_prev[..n]);
                let one = T::one();
                for j in 0..n {
                    let (i, f, g, o, tc) = (ci[j], cf[j], cg[j], co[j], ctc[j]);
                    // dE/dc_t = dc_next + dh ⊙ o ⊙ (1 - tanh^2(c_t))
                    let dct = dc[j] + dh[j] * o * (one - tc * tc);
                    let di = dct * g * i * (one - i); // through i = σ(.)
                    let df = dct * c_prev[j] * f * (one - f); // through f = σ(.)
                    let dg = dct * i * (one - g * g); // through g = tanh(.)
                    let d_o = dh[j] * tc * o * (one - o); // through o = σ(.)
                    dgi_i[j] = di;
                    dgi_f[j] = df;
                    dgi_g[j] = dg;
                    dgi_o[j] = d_o;
                    dc_prev[j] = dct * f; // dE/dc_{t-1} = dE/dc_t ⊙ f
                    dh_prev[j] = T::zero();
                }
            }
            Self::Gru => {
                let (cr, rest) = cache.split_at(n);
                let (cz, rest) = rest.split_at(n);
                let (cn, cgn) = rest.split_at(n);
                // cut to n up front, as the LSTM's
                let (cgn, dh, h_prev) = (&cgn[..n], &dh[..n], &h_prev[..n]);
                let (dgi_r, rest) = dgi[..3 * n].split_at_mut(n);
                let (dgi_z, dgi_n) = rest.split_at_mut(n);
                let (dgh_r, rest) = dgh[..3 * n].split_at_mut(n);
                let (dgh_z, dgh_n) = rest.split_at_mut(n);
                let dh_prev = &mut dh_prev[..n];
                let one = T::one();
                for j in 0..n {
                    let (r, z, nn, ghn) = (cr[j], cz[j], cn[j], cgn[j]);
                    let dn = dh[j] * (one - z) * (one - nn * nn); // dE/d(pre-tanh of n)
                    let dz = dh[j] * (h_prev[j] - nn) * z * (one - z); // h = n + z (h_prev - n)
                    let dr = dn * ghn * r * (one - r); // n's pre-activation holds r ⊙ ghn
                    dgi_r[j] = dr;
                    dgi_z[j] = dz;
                    dgi_n[j] = dn;
                    dgh_r[j] = dr;
                    dgh_z[j] = dz;
                    dgh_n[j] = dn * r; // b_hn and W_hn h sit inside r ⊙ (.)
                    dh_prev[j] = dh[j] * z; // direct path h_t = ... + z ⊙ h_{t-1}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a cache (inference) a step gives the state of the step with
    /// one, bit for bit, and the cached gate values are the cell's equations:
    /// f64 (the portable loop) and f32 (the vectorised kernels where the CPU
    /// has them), LSTM and GRU.
    #[test]
    fn a_step_without_a_cache_gives_the_same_state() {
        fn check<T: Float + std::fmt::Debug>() {
            let n = 21;
            let v = |k: usize, s: f64| -> Vec<T> {
                (0..k)
                    .map(|i| T::of(((i * 37 + 11) % 23) as f64 / 23.0 * s - s / 2.0))
                    .collect()
            };
            let (xi, gh, hp, cp) = (v(4 * n, 6.0), v(4 * n, 3.0), v(n, 1.8), v(n, 4.0));
            for cell in [CellKind::Lstm, CellKind::Gru] {
                let run = |keep: bool| {
                    let (mut h, mut c) = (vec![T::zero(); n], vec![T::zero(); n]);
                    let mut cache = vec![T::zero(); if keep { cell.cache_width() * n } else { 0 }];
                    let c_prev: &[T] = if cell.has_memory() { &cp } else { &[] };
                    cell.forward_row(&xi, &gh, &hp, c_prev, &mut h, &mut c, &mut cache);
                    (h, c, cache)
                };
                let (kept, bare) = (run(true), run(false));
                assert_eq!((&kept.0, &kept.1), (&bare.0, &bare.1), "{}", cell.name());
                assert!(bare.2.is_empty());
                // the first cached gate: i (LSTM) or r (GRU) = σ(xi + gh)
                for j in 0..n {
                    let want = sigmoid(xi[j] + gh[j]).f64();
                    assert!(
                        (kept.2[j].f64() - want).abs() < 1e-6,
                        "{} j={j}",
                        cell.name()
                    );
                }
            }
        }
        check::<f64>();
        check::<f32>();
    }
}
