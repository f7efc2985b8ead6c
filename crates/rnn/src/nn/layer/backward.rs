//! BPTT for one direction of one layer: the forward loop of `mod.rs`
//! reversed, carrying `dh_next` (and the LSTM's `dc_next`) from step `t+1`
//! to step `t`; the weight gradient `dW_hh` (and a one-hot input's) summed
//! a chunk of steps at a time inside the loop, a dense input's gradients
//! once it is done.

use super::id_sums::IdSums;
use super::{packed_w_hh, step_packed, Input, LayerCache, LayerGrads, LayerParams, Recurrent};
use crate::kernels::{col_sum_acc, gemm, gemv_t_acc, pool, PackedRhs};
use crate::Float;

/// Rows of `dE/dgh` per product of the weight gradient `dW_hh` during BPTT:
/// one pass over the depth of the blocked product (`kernels::packed`'s
/// `KC`), so summing by chunks reads and writes `dW_hh` no more often than
/// one product over all rows did.
pub(super) const CHUNK_ROWS: usize = 256;

impl Recurrent {
    /// Backpropagation through time: the forward loop reversed.
    ///
    /// An unchecked kernel like [`Recurrent::forward`] (kept public for the
    /// kernel benchmarks): `cache` must come from `forward` on the same
    /// inputs; [`crate::Model`]'s entry points check the shapes.
    ///
    /// `dh_out = dE/dh_t` from above: `[T, B, H]`; `dh_n`, `dc_n`: gradients
    /// w.r.t. the final state `[B, H]` (zero when `None`). Adds the parameter
    /// gradients into `g`, adds `dE/dx` into `dx` (`[T, B, I]`, dense inputs
    /// only) and returns `(dE/dh0, dE/dc0)`, each `[B, H]` (the second empty
    /// unless the cell has a memory).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Float>(
        &self,
        p: &LayerParams<T>,
        cache: &LayerCache<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
        dh_out: &[T],
        dh_n: Option<&[T]>,
        dc_n: Option<&[T]>,
        g: &mut LayerGrads<T>,
        dx: Option<&mut [T]>,
    ) -> (Vec<T>, Vec<T>) {
        self.backward_traced(
            p, cache, x, steps, batch, lengths, dh_out, dh_n, dc_n, g, dx, None,
        )
    }

    /// [`Recurrent::backward`], also adding into `trace[t]` (`[T]`, when
    /// given) the squared norm `sum_b ||dE/ds_t||^2` of the gradient reaching
    /// each step's state (from above and from step t+1): how far back the
    /// error is carried ([`crate::nn::flow`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_traced<T: Float>(
        &self,
        p: &LayerParams<T>,
        cache: &LayerCache<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
        dh_out: &[T],
        dh_n: Option<&[T]>,
        dc_n: Option<&[T]>,
        g: &mut LayerGrads<T>,
        dx: Option<&mut [T]>,
        mut trace: Option<&mut [T]>,
    ) -> (Vec<T>, Vec<T>) {
        let (h, gw) = (self.hidden, self.gate_width());
        let cw = self.cell.cache_width() * h;
        let mem = self.cell.has_memory();
        let bh = batch * h;
        let rows = steps * batch;
        let separate = self.cell.separate_dgh();
        if let Some(l) = lengths {
            // variable lengths: each step's work covers only the sequences
            // still running, the weight gradients summed from a ring of the
            // valid rows (see `sorted.rs`)
            return self.bptt_sorted(
                p, cache, x, steps, batch, l, dh_out, dh_n, dc_n, g, dx, trace,
            );
        }
        let mut dx = dx;
        if trace.is_none() && self.units_split_train::<T>(batch, steps) {
            // a few sequences over a layer larger than L2: each step split
            // by hidden units across two threads (`split_bptt.rs`)
            let d = (dh_out, dh_n, dc_n);
            if let Some(d0) = self.bptt_split(p, cache, x, steps, batch, d, g, &mut dx) {
                return d0;
            }
        }
        let mut dh_next = dh_n.map_or_else(|| vec![T::zero(); bh], |d| d[..bh].to_vec()); // dE/ds_t from step t+1
        let mut dc_next = if mem {
            dc_n.map_or_else(|| vec![T::zero(); bh], |d| d[..bh].to_vec())
        } else {
            Vec::new()
        };
        let mut dc_prev = dc_next.clone();
        let mut direct = vec![T::zero(); bh]; // part of dE/ds_{t-1} that bypasses W
        let mut own = pool::take::<PackedRhs<T>>(); // its buffer as an earlier call left it
        let pk = batch > 1 && step_packed::<T>();
        let packed = if pk {
            packed_w_hh(p.w_hh, gw, h, false, &mut own) // W_hh [G*H, H], packed
        } else {
            &own
        };
        // one-hot inputs: their gradients summed a chunk of steps at a time
        // (below) while the chunk's rows are in cache (`id_sums.rs`)
        let ids = match x {
            Input::Ids(ids) => Some(ids),
            Input::Dense(_) => None,
        };
        let mut sums = ids.map(|_| IdSums::new(self.input_size, gw, rows));
        // dW_hh is summed a chunk of `cs` steps at a time (`CHUNK_ROWS` rows:
        // one pass over the product's depth), right after the chunk's last
        // step, while its rows of dE/dgh_t are in cache: those then need a
        // buffer of one chunk, not of all T*B rows written to memory and read
        // back after the loop; so do one-hot inputs' gradients and dense
        // inputs' dE/db_hh
        let cs = (CHUNK_ROWS / batch.max(1)).clamp(1, steps.max(1));
        // dgi = dE/dxi_t: all rows for dense inputs (read by `dense_grads`
        // after the loop), else one chunk
        let dgi_rows = if ids.is_some() { cs * batch } else { rows };
        // every row of dgi (and dgh) is written by the step's backward_row
        // before it is read: a reused buffer is not zeroed first
        let mut dgi = pool::reused(dgi_rows * gw); // [T | cs, B, G*H]
        let mut dgh = pool::reused(if separate { cs * batch } else { 0 } * gw); // [cs, B, G*H], GRU
        let mut dh = vec![T::zero(); h];
        for k in (0..steps).rev() {
            let t = if self.reverse { steps - 1 - k } else { k };
            // the chunk of loop indices k0..k1 holding k, its steps tlo..thi
            let (k0, k1) = (k - k % cs, (k - k % cs + cs).min(steps));
            let (tlo, thi) = if self.reverse {
                (steps - k1, steps - k0)
            } else {
                (k0, k1)
            };
            // where the step's rows are: in dgi (all steps, or the chunk's)
            // and in dE/dgh_t (the chunk's, or dgi itself)
            let at = if ids.is_some() { t - tlo } else { t } * batch;
            let at_h = if separate { (t - tlo) * batch } else { at };
            for b in 0..batch {
                let (bs, be) = (b * h, (b + 1) * h);
                let r = t * batch + b;
                // dE/ds_t = dE/ds_t (from the output above) + dE/ds_t (from step t+1)
                for j in 0..h {
                    dh[j] = dh_out[r * h + j] + dh_next[bs + j];
                }
                if let Some(tr) = trace.as_deref_mut() {
                    tr[t] += dh.iter().fold(T::zero(), |a, &v| a + v * v);
                }
                let (dcn, dcp): (&[T], &mut [T]) = if mem {
                    (&dc_next[bs..be], &mut dc_prev[bs..be])
                } else {
                    (&[], &mut [])
                };
                // delta_t = dE/da_t through the cell's nonlinearity
                let (gates, hp, cp, ht) = cache.row(t, b, batch, h, cw, self.reverse, steps);
                self.cell.backward_row(
                    &dh,
                    dcn,
                    gates,
                    hp,
                    cp,
                    ht,
                    &mut dgi[(at + b) * gw..(at + b + 1) * gw],
                    if separate {
                        &mut dgh[(at_h + b) * gw..(at_h + b + 1) * gw]
                    } else {
                        &mut []
                    },
                    &mut direct[bs..be],
                    dcp,
                );
            }
            let dgh_all = if separate { &dgh } else { &dgi };
            let dg_t = &dgh_all[at_h * gw..(at_h + batch) * gw]; // delta_t   [B, G*H]

            // dE/ds_{t-1} = W^T delta_t (+ the direct part)   [B, G*H] x [G*H, H]
            dh_next.copy_from_slice(&direct);
            if batch == 1 {
                gemv_t_acc(gw, h, p.w_hh, dg_t, &mut dh_next);
            } else if pk {
                packed.gemm_acc(batch, dg_t, &mut dh_next);
            } else {
                gemm(batch, h, gw, dg_t, false, p.w_hh, false, &mut dh_next, true);
            }
            if mem {
                std::mem::swap(&mut dc_next, &mut dc_prev);
            }
            if k == k0 {
                // dE/dW += sum_t delta_t s_{t-1}^T over the chunk's steps:
                // [G*H, n] x [n, H] for its n = (thi - tlo) B rows
                let n = (thi - tlo) * batch;
                let first = if separate || ids.is_some() {
                    0
                } else {
                    tlo * batch
                };
                let dg = &dgh_all[first * gw..(first + n) * gw];
                let hp = self.prev_states(cache, tlo, thi, steps, bh);
                let one_hot = sums
                    .as_mut()
                    .zip(ids)
                    .map(|(sums, ids)| (sums, &ids[tlo * batch..thi * batch], &dgi[..n * gw]));
                add_block(gw, h, n, dg, hp, one_hot, separate, g);
            }
        }
        pool::keep(own);
        match x {
            Input::Ids(_) => sums.into_iter().for_each(|sums| sums.finish(separate, g)),
            Input::Dense(x) => self.dense_grads(p, x, rows, &dgi, g, dx),
        }
        pool::give_back(dgi);
        pool::give_back(dgh);
        (dh_next, dc_next)
    }

    /// The states `s_{t-1}` entering steps `tlo..thi` of a full batch
    /// (`bh` = `B*H`), in time order: the outputs one step back in the
    /// loop's order (the steps shifted by one), and `s_0` at the first step
    /// (`t = 0`, or `t = T-1` reversed): two blocks of rows `[., B, H]`, the
    /// first or second possibly empty, in the order of the steps' rows.
    pub(super) fn prev_states<'a, T>(
        &self,
        cache: &'a LayerCache<T>,
        tlo: usize,
        thi: usize,
        steps: usize,
        bh: usize,
    ) -> [&'a [T]; 2] {
        match (self.reverse, tlo == 0, thi == steps) {
            (false, true, _) => [&cache.h0, &cache.h[..(thi - 1) * bh]],
            (false, false, _) => [&cache.h[(tlo - 1) * bh..(thi - 1) * bh], &[]],
            (true, _, true) => [&cache.h[(tlo + 1) * bh..thi * bh], &cache.h0],
            (true, _, false) => [&cache.h[(tlo + 1) * bh..(thi + 1) * bh], &[]],
        }
    }

    /// The gradients of dense inputs from `dgi = dE/dxi_t` (`[T*B, G*H]`)
    /// once the time loop is done: `dE/db_ih`, `dE/dW_ih` and, when `dx`,
    /// `dE/dx` added into it (`[T*B, I]`); `dE/db_hh` is the caller's.
    pub(super) fn dense_grads<T: Float>(
        &self,
        p: &LayerParams<T>,
        x: &[T],
        rows: usize,
        dgi: &[T],
        g: &mut LayerGrads<T>,
        dx: Option<&mut [T]>,
    ) {
        let (gw, ni) = (self.gate_width(), self.input_size);
        let dgi = &dgi[..rows * gw];
        // dE/db_ih = sum_t delta_t
        col_sum_acc(rows, gw, dgi, g.b_ih);
        // dE/dU = sum_t delta_t x_t^T
        gemm(gw, ni, rows, dgi, true, x, false, g.w_ih, true);
        // dE/dx_t = U^T delta_t   [T*B, G*H] x [G*H, I]
        if let Some(dx) = dx {
            gemm(rows, ni, gw, dgi, false, p.w_ih, false, dx, true);
        }
    }
}

/// Adds the weight gradients of a block of `n` rows BPTT has run into `g`:
/// `dE/dW_hh += sum_t delta_t s_{t-1}^T` from `dg` (`dE/dgh_t`, `[n, G*H]`)
/// and `hp` (`s_{t-1}`: `[n, H]` in two consecutive blocks of rows, the
/// first or second possibly empty), then a one-hot input's gradients
/// (`one_hot`: its sums, the rows' ids and `dE/dxi_t`, `[n, G*H]`, which is
/// `dg` unless the cell keeps them `separate`) or else `dE/db_hh = sum_t
/// dE/dgh_t` (a dense input's other gradients come after the loop). The
/// full-batch loop calls it for each chunk of steps, the ragged loop for
/// each fill of its ring (`sorted.rs`).
#[allow(clippy::too_many_arguments)]
pub(super) fn add_block<T: Float>(
    gw: usize,
    h: usize,
    n: usize,
    dg: &[T],
    hp: [&[T]; 2],
    one_hot: Option<(&mut IdSums<T>, &[usize], &[T])>,
    separate: bool,
    g: &mut LayerGrads<T>,
) {
    let dg = &dg[..n * gw];
    // [G*H, m] x [m, H] for each block's m rows
    let mut at = 0;
    for block in hp {
        let m = (block.len() / h.max(1)).min(n - at);
        if m > 0 {
            let dgb = &dg[at * gw..(at + m) * gw];
            gemm(gw, h, m, dgb, true, &block[..m * h], false, g.w_hh, true);
        }
        at += m;
    }
    match one_hot {
        Some((sums, ids, dgi)) => sums.add(ids, dgi, separate.then_some(dg), g),
        None => {
            if let Some(gb) = g.b_hh.as_deref_mut() {
                col_sum_acc(n, gw, dg, gb);
            }
        }
    }
}
