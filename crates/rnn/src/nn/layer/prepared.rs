//! One layer's weights laid out once for repeated inference
//! ([`crate::Prepared`]): the layouts the per-call paths would otherwise
//! build on every call, or do without.
//!
//! - `W_ih^T + b_ih` (`[I, G*H]`), the table whose row `id` is `W_ih x_t +
//!   b_ih` for a one-hot `x_t`: a contiguous row instead of a column of
//!   `W_ih` gathered with stride `I` (a sixth of `rnn bench`'s S LSTM
//!   inference on an AMD EPYC with AVX-512, seventeenth session). The same
//!   sums as the gather (`W_ih[g, id] + b_ih[g]`), so the same bits.
//! - `W_hh^T` packed into panels (`kernels::packed`) for the step product of
//!   batches, which each call would pack again.
//! - `W_hh^T` (`[H, G*H]`, in the panels of `kernels::cols::to_panels`)
//!   for the batch-1 step product read down its columns (`kernels/cols.rs`),
//!   and the same for each half of the hidden-unit split (`split.rs`), whose
//!   units' columns are not contiguous in the whole.
//! - Each half's columns of `W_hh^T` packed into panels for the split's step
//!   product of a few sequences.

use super::{step_packed, LayerParams, Recurrent};
use crate::kernels::aligned::LineVec;
use crate::kernels::cols::to_panels;
use crate::kernels::{transpose_into, PackedRhs};
use crate::Float;

/// The prepared layouts of one direction of one layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerPrep<T> {
    /// `W_ih^T + b_ih`: `[I, G*H]`; empty above the first layer (its input
    /// is dense). Each of these from a cache line (`kernels/aligned.rs`).
    pub(super) table: LineVec<T>,
    /// `W_hh^T`: `[H, G*H]` in the column kernel's panels
    /// (`kernels::cols::to_panels`); empty where `T` has no column kernel
    /// ([`Float::cols_fast`]).
    pub(super) w_hh_t: LineVec<T>,
    /// For each half of the split (units `0..cut` and `cut..H`), its units'
    /// columns of `W_hh^T`, gate after gate: `[H, G*n]` in the column
    /// kernel's panels; empty where the layer is not split or `T` has no
    /// column kernel.
    pub(super) halves_t: [LineVec<T>; 2],
    /// `W_hh^T` packed for the step product of batches; empty where
    /// [`step_packed`] does not choose that kernel.
    pub(super) packed: PackedRhs<T>,
    /// For each half of the split, its units' columns of `W_hh^T`, gate
    /// after gate (`[H, G*n]`), packed for the step product of batches;
    /// empty where the layer is not split or [`step_packed`] does not
    /// choose that kernel.
    pub(super) halves_packed: [PackedRhs<T>; 2],
}

impl Recurrent {
    /// The layouts of [`LayerPrep`] for this layer's parameters `p`; `ids`:
    /// whether its input is class ids (the first layer of a model over ids).
    pub(crate) fn prepare<T: Float>(&self, p: &LayerParams<T>, ids: bool) -> LayerPrep<T> {
        let (hs, gw, ng) = (self.hidden, self.gate_width(), self.cell.gates());
        let mut out = LayerPrep::default();
        let mut buf = Vec::new();
        if ids {
            self.ids_table_into(p, &mut buf); // [I, G*H]
            out.table = LineVec::from_slice(&buf);
        }
        let cut = self.split_cut().filter(|_| self.split_worth::<T>());
        if step_packed::<T>() {
            out.packed.pack(p.w_hh, hs, gw, true); // W_hh^T [H, G*H], in panels
            if let Some(cut) = cut {
                for (half, units) in [(0, cut), (cut, hs)].into_iter().enumerate() {
                    self.pack_half(p.w_hh, units, &mut out.halves_packed[half]);
                }
            }
        }
        if !T::cols_fast() {
            return out;
        }
        let mut w_t = Vec::new();
        transpose_into(p.w_hh, gw, hs, &mut w_t); // [H, G*H]
        to_panels(&w_t, hs, gw, &mut buf); // in the column kernel's panels
        out.w_hh_t = LineVec::from_slice(&buf);
        if let Some(cut) = cut {
            let mut t = Vec::new();
            for (half, (u0, u1)) in [(0, cut), (cut, hs)].into_iter().enumerate() {
                let n = u1 - u0;
                // [H, G*n]: row k holds W_hh[q*H + u, k] for q, then u
                t.clear();
                t.reserve(hs * ng * n);
                for k in 0..hs {
                    for q in 0..ng {
                        t.extend_from_slice(&w_t[k * gw + q * hs + u0..k * gw + q * hs + u1]);
                    }
                }
                to_panels(&t, hs, ng * n, &mut buf);
                out.halves_t[half] = LineVec::from_slice(&buf);
            }
        }
        out
    }
}
