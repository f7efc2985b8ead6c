//! BPTT for one direction of one layer: the forward loop of `mod.rs`
//! reversed, carrying `dh_next` (and the LSTM's `dc_next`) from step `t+1`
//! to step `t`, then the input-side gradients once the loop is done.

use super::{packed_w_hh, step_packed, Input, LayerCache, LayerGrads, LayerParams, Recurrent};
use crate::kernels::{col_sum_acc, gemm, gemv_t_acc, pool, transpose, PackedRhs};
use crate::Float;

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
        // without padding, every row of dgi (and dgh) is written by the
        // step's backward_row before it is read: a reused buffer is not
        // zeroed first
        let take = if lengths.is_none() {
            pool::reused
        } else {
            pool::zeroed
        };
        let mut dgi = take(rows * gw); // dE/dxi_t   [T, B, G*H]
                                       // dE/dgh_t   [T, B, G*H]: its own buffer for the GRU, else dgi itself
        let separate = self.cell.separate_dgh();
        let mut dgh = take(if separate { rows * gw } else { 0 });
        if let Some(l) = lengths {
            // variable lengths: each step's work covers only the sequences
            // still running, dW_hh one product over the valid rows (see
            // `sorted.rs`)
            let d0 = self.bptt_sorted(
                p, cache, steps, batch, l, dh_out, dh_n, dc_n, &mut dgi, &mut dgh, g.w_hh, trace,
            );
            self.input_grads(p, x, rows, &dgi, &dgh, g, dx);
            pool::give_back(dgi);
            pool::give_back(dgh);
            return d0;
        }
        let mut dh_next = dh_n.map_or_else(|| vec![T::zero(); bh], |d| d[..bh].to_vec()); // dE/ds_t from step t+1
        let mut dc_next = if mem {
            dc_n.map_or_else(|| vec![T::zero(); bh], |d| d[..bh].to_vec())
        } else {
            Vec::new()
        };
        let mut dc_prev = dc_next.clone();
        let mut direct = vec![T::zero(); bh]; // part of dE/ds_{t-1} that bypasses W
        let mut own = PackedRhs::default();
        let pk = batch > 1 && step_packed::<T>();
        let packed = if pk {
            packed_w_hh(p.w_hh, gw, h, false, &mut own) // W_hh [G*H, H], packed
        } else {
            &own
        };
        let mut dh = vec![T::zero(); h];
        for k in (0..steps).rev() {
            let t = if self.reverse { steps - 1 - k } else { k };
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
                let (gates, hp, cp, ht) = cache.row(r, h, cw);
                self.cell.backward_row(
                    &dh,
                    dcn,
                    gates,
                    hp,
                    cp,
                    ht,
                    &mut dgi[r * gw..(r + 1) * gw],
                    if separate {
                        &mut dgh[r * gw..(r + 1) * gw]
                    } else {
                        &mut []
                    },
                    &mut direct[bs..be],
                    dcp,
                );
            }
            // dE/ds_{t-1} = W^T delta_t (+ the direct part)   [B, G*H] x [G*H, H]
            dh_next.copy_from_slice(&direct);
            let dgh_all = if separate { &dgh } else { &dgi };
            let dg_t = &dgh_all[t * batch * gw..(t + 1) * batch * gw];
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
        }
        // dE/dW = sum_t delta_t s_{t-1}^T, one product over all T*B rows
        let dgh_all = if separate { &dgh } else { &dgi };
        gemm(
            gw,
            h,
            rows,
            dgh_all,
            true,
            &cache.h_prev,
            false,
            g.w_hh,
            true,
        );
        self.input_grads(p, x, rows, &dgi, &dgh, g, dx);
        pool::give_back(dgi);
        pool::give_back(dgh);
        (dh_next, dc_next)
    }

    /// The gradients BPTT gets from `dgi = dE/dxi_t` and `dgh = dE/dgh_t`
    /// (`[T*B, G*H]` each, `dgh` empty when it is `dgi`) once the time loop
    /// is done: the biases, `W_ih` and `dE/dx` (dense inputs, when `dx`).
    #[allow(clippy::too_many_arguments)]
    fn input_grads<T: Float>(
        &self,
        p: &LayerParams<T>,
        x: Input<T>,
        rows: usize,
        dgi: &[T],
        dgh: &[T],
        g: &mut LayerGrads<T>,
        dx: Option<&mut [T]>,
    ) {
        let (gw, ni) = (self.gate_width(), self.input_size);
        let separate = self.cell.separate_dgh();
        let dgh = if separate { dgh } else { dgi };
        let dgi = &dgi[..rows * gw];
        // the one-hot case with more rows than classes sums dgi by id first
        // (below), and its biases' sums from those ni rows
        let by_id = matches!(x, Input::Ids(_)) && rows > ni;
        if !by_id {
            // dE/db_hh = sum_t delta_t
            if let Some(gb) = g.b_hh.as_deref_mut() {
                col_sum_acc(rows, gw, dgh, gb);
            }
            // dE/db_ih = sum_t delta_t
            col_sum_acc(rows, gw, dgi, g.b_ih);
        }
        match x {
            // dE/dU = sum_t delta_t x_t^T
            Input::Dense(x) => gemm(gw, ni, rows, dgi, true, x, false, g.w_ih, true),
            // for one-hot x_t: delta_t is added to column x_t of dU, i.e.
            // to row x_t of dU^T (contiguous), transposed back once (when
            // there are more rows than classes; else written in place)
            Input::Ids(ids) if rows > ni => {
                let mut du_t = vec![T::zero(); ni * gw]; // [I, G*H]
                for (row, &id) in dgi.chunks_exact(gw).zip(ids) {
                    for (acc, &d) in du_t[id * gw..(id + 1) * gw].iter_mut().zip(row) {
                        *acc += d;
                    }
                }
                // dE/db_ih = sum_t delta_t = the sum of du_t's rows (every
                // row of dgi went to one of them): ni rows read, not T*B
                col_sum_acc(ni, gw, &du_t, g.b_ih);
                // dE/db_hh: the same sums where dE/dgh_t = dE/dxi_t
                if let Some(gb) = g.b_hh.as_deref_mut() {
                    if separate {
                        col_sum_acc(rows, gw, dgh, gb);
                    } else {
                        col_sum_acc(ni, gw, &du_t, gb);
                    }
                }
                let du = transpose(&du_t, ni, gw); // [G*H, I]
                for (acc, &d) in g.w_ih.iter_mut().zip(&du) {
                    *acc += d;
                }
            }
            Input::Ids(ids) => {
                for (row, &id) in dgi.chunks_exact(gw).zip(ids) {
                    for (gi, &d) in row.iter().enumerate() {
                        g.w_ih[gi * ni + id] += d;
                    }
                }
            }
        }
        // dE/dx_t = U^T delta_t   [T*B, G*H] x [G*H, I]
        if let (Some(dx), Input::Dense(_)) = (dx, x) {
            gemm(rows, ni, gw, dgi, false, p.w_ih, false, dx, true);
        }
    }
}
