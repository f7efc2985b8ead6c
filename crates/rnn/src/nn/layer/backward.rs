//! BPTT for one direction of one layer: the forward loop of `mod.rs`
//! reversed, carrying `dh_next` (and the LSTM's `dc_next`) from step `t+1`
//! to step `t`, then the input-side gradients once the loop is done.

use super::id_sums::IdSums;
use super::{packed_w_hh, step_packed, Input, LayerCache, LayerGrads, LayerParams, Recurrent};
use crate::kernels::{col_sum_acc, gemm, gemv_t_acc, pool, prefetch, PackedRhs};
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
        let separate = self.cell.separate_dgh();
        if let Some(l) = lengths {
            let mut dgi = take(rows * gw); // dE/dxi_t   [T, B, G*H]
            let mut dgh = take(if separate { rows * gw } else { 0 }); // dE/dgh_t, GRU
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
        let mut own = pool::take::<PackedRhs<T>>(); // its buffer as an earlier call left it
        let pk = batch > 1 && step_packed::<T>();
        let packed = if pk {
            packed_w_hh(p.w_hh, gw, h, false, &mut own) // W_hh [G*H, H], packed
        } else {
            &own
        };
        // one-hot inputs: their gradients summed step by step while the
        // step's rows are in cache (`id_sums.rs`); a GRU's dE/dxi_t then lives
        // one step only (its dW_hh reads dE/dgh_t)
        let ids = match x {
            Input::Ids(ids) => Some(ids),
            Input::Dense(_) => None,
        };
        let mut sums = ids.map(|_| IdSums::new(self.input_size, gw, rows));
        let all_dgi = ids.is_none() || !separate;
        let mut dgi = take(if all_dgi { rows } else { batch } * gw); // dE/dxi_t   [T, B, G*H], or [B, G*H]
        let mut dgh = take(if separate { rows * gw } else { 0 }); // dE/dgh_t   [T, B, G*H]: the GRU's, else dgi
        let mut dh = vec![T::zero(); h];
        for k in (0..steps).rev() {
            let t = if self.reverse { steps - 1 - k } else { k };
            let step = t * batch..(t + 1) * batch; // the step's rows
            let at = if all_dgi { step.start } else { 0 }; // its first row in dgi
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
                    &mut dgi[(at + b) * gw..(at + b + 1) * gw],
                    if separate {
                        &mut dgh[r * gw..(r + 1) * gw]
                    } else {
                        &mut []
                    },
                    &mut direct[bs..be],
                    dcp,
                );
            }
            let dgh_all = if separate { &dgh } else { &dgi };
            if let (Some(sums), Some(ids)) = (sums.as_mut(), ids) {
                let dgh_t = separate.then(|| &dgh[step.start * gw..step.end * gw]);
                sums.add(&ids[step.clone()], &dgi[at * gw..], dgh_t, g);
            }
            // the next step's rows of dE/dgh_t, asked for while this step's
            // product runs: they are written by the cell next, and a store to
            // a line not in cache waits for it (the GRU's 6 floats a unit
            // made its backward cell a fifth of its training time at M)
            if k > 0 {
                let next = if self.reverse { t + 1 } else { t - 1 };
                prefetch(&dgh_all[next * batch * gw..(next + 1) * batch * gw]);
            }
            // dE/ds_{t-1} = W^T delta_t (+ the direct part)   [B, G*H] x [G*H, H]
            dh_next.copy_from_slice(&direct);
            let dg_t = &dgh_all[step.start * gw..step.end * gw];
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
        pool::keep(own);
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
        match sums {
            Some(sums) => sums.finish(separate, g),
            None => self.input_grads(p, x, rows, &dgi, &dgh, g, dx),
        }
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
        let x = match x {
            Input::Ids(ids) => {
                let mut sums = IdSums::new(ni, gw, rows);
                sums.add(&ids[..rows], dgi, separate.then_some(dgh), g);
                return sums.finish(separate, g);
            }
            Input::Dense(x) => x,
        };
        // dE/db_hh = sum_t delta_t
        if let Some(gb) = g.b_hh.as_deref_mut() {
            col_sum_acc(rows, gw, dgh, gb);
        }
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
