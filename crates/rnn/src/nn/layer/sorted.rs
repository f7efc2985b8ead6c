//! The time loop and BPTT of a layer over sequences of different lengths,
//! with the per-step work following the sequences still running.
//!
//! Position `t` of sequence `b` is valid when `t < lengths[b]`, in either
//! direction, so the sequences valid at step `t` are the first `n_t` of the
//! batch sorted by decreasing length. The loops keep the running state in
//! that order (`[B, H]`, sorted once per call): the step product reads the
//! first `n_t` rows as one contiguous `[n_t, H]` block and the cell runs on
//! those rows only. A valid token then costs what it costs at full length,
//! where the padded loop paid the product and the cell for all `B` rows at
//! every step. Every buffer the caller sees (outputs, caches, gradients)
//! keeps its `[T, B, ...]` layout in batch order, with the same values as
//! the padded loop gave (up to the rounding of the smaller products and of
//! the weight gradients' sums by chunk), but the gate values at padding
//! positions, which nothing reads (unspecified there; the outputs are zero).

use super::backward::{add_block, CHUNK_ROWS};
use super::id_sums::IdSums;
use super::{
    packed_w_hh, step_packed, Input, LayerCache, LayerGrads, LayerParams, LayerScratch, Recurrent,
    StepSink,
};
use crate::kernels::{gemm, gemv_t_acc, pool, transpose_into, PackedRhs};
use crate::Float;

/// `order`: the sequences `0..B` by decreasing length (ties in batch order),
/// so those valid at step `t` are `order[..active(t)]`.
pub(super) fn sort_by_length(lengths: &[usize], order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..lengths.len());
    order.sort_unstable_by_key(|&b| (std::cmp::Reverse(lengths[b]), b)); // no allocation
}

/// How many sequences are still running at step `t`: `#{b : t < lengths[b]}`.
#[inline]
pub(super) fn active(lengths: &[usize], order: &[usize], t: usize) -> usize {
    order.partition_point(|&b| t < lengths[b])
}

/// Copies row `order[i]` of `src` (`[B, w]`) to row `i` of `dst`, resized to
/// `[B, w]`.
pub(super) fn gather<T: Float>(src: &[T], order: &[usize], w: usize, dst: &mut Vec<T>) {
    dst.clear();
    for &b in order {
        dst.extend_from_slice(&src[b * w..(b + 1) * w]);
    }
}

/// The inverse of [`gather`]: row `i` of `src` to row `order[i]` of `dst`.
pub(super) fn scatter<T: Float>(src: &[T], order: &[usize], w: usize, dst: &mut [T]) {
    for (i, &b) in order.iter().enumerate() {
        dst[b * w..(b + 1) * w].copy_from_slice(&src[i * w..(i + 1) * w]);
    }
}

impl Recurrent {
    /// The loop of [`Recurrent::run`] for variable `lengths` (`[B]`, each
    /// `<= T`), arguments as there, after the input projection (`scratch.xi`
    /// holds it; `table_ids`: the ids when its rows are those of the table
    /// `U^T + b_ih`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn run_sorted<T: Float, S: StepSink<T>>(
        &self,
        p: &LayerParams<T>,
        table_ids: Option<&[usize]>,
        steps: usize,
        batch: usize,
        lengths: &[usize],
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        stride: usize,
        offset: usize,
        scratch: &mut LayerScratch<T>,
        sink: &mut S,
    ) {
        let (hs, gw) = (self.hidden, self.gate_width());
        let mem = self.cell.has_memory();
        let LayerScratch {
            xi,
            gh,
            w_hh_t,
            c_new,
            order,
            h_sorted,
            c_sorted,
            packed,
            ..
        } = scratch;
        gh.resize(batch * gw, T::zero()); // [B, G*H]
        c_new.resize(if mem { hs } else { 0 }, T::zero()); // [H]
        let pk = batch > 1 && step_packed::<T>();
        let packed: &PackedRhs<T> = if pk {
            packed_w_hh(p.w_hh, hs, gw, true, packed) // W_hh^T [H, G*H], packed
        } else {
            packed
        };
        if !pk && batch > 1 {
            transpose_into(p.w_hh, gw, hs, w_hh_t); // [H, G*H]
        }
        sort_by_length(&lengths[..batch], order);
        gather(h, order, hs, h_sorted); // s_0 in sorted order: [B, H]
        if mem {
            gather(c, order, hs, c_sorted); // [B, H]
        }
        for k in 0..steps {
            let t = if self.reverse { steps - 1 - k } else { k };
            let n = active(lengths, order, t);
            // remember c_{t-1} of every row for BPTT (inference: nothing;
            // s_{t-1} is the previous step's output, or the kept s_0); rows
            // past their length carry their memory
            if S::KEEPS && mem {
                for (i, &b) in order.iter().enumerate() {
                    sink.keep_row(t * batch + b, &c_sorted[i * hs..(i + 1) * hs]);
                }
            }
            if n == 0 {
                continue;
            }
            // gh = s_{t-1} W^T + b_hh for the n running rows   [n, H] x [H, G*H]
            let gh = &mut gh[..n * gw];
            match p.b_hh {
                // b_hh added in the packed product's tiles (not copied first)
                Some(_) if n > 1 && pk => {}
                Some(bhh) => gh.chunks_exact_mut(gw).for_each(|r| r.copy_from_slice(bhh)),
                None => gh.fill(T::zero()),
            }
            if n == 1 {
                T::gemv_acc(gw, hs, p.w_hh, &h_sorted[..hs], gh);
            } else if pk {
                match p.b_hh {
                    Some(bhh) => packed.gemm_bias(n, &h_sorted[..n * hs], bhh, gh),
                    None => packed.gemm_acc(n, &h_sorted[..n * hs], gh),
                }
            } else {
                gemm(
                    n,
                    gw,
                    hs,
                    &h_sorted[..n * hs],
                    false,
                    w_hh_t,
                    false,
                    gh,
                    true,
                );
            }
            for (i, &b) in order[..n].iter().enumerate() {
                let r = t * batch + b;
                let xr = table_ids.map_or(r, |ids| ids[r]);
                let at = (t * batch + b) * stride + offset;
                let ht = &mut out[at..at + hs];
                let hp = &mut h_sorted[i * hs..(i + 1) * hs];
                let cp: &mut [T] = if mem {
                    &mut c_sorted[i * hs..(i + 1) * hs]
                } else {
                    &mut []
                };
                // h_t (and c_t) of row r; gate values to the sink's buffer
                self.cell.forward_row(
                    &xi[xr * gw..(xr + 1) * gw],
                    &gh[i * gw..(i + 1) * gw],
                    hp,
                    cp,
                    ht,
                    c_new,
                    sink.gates(r),
                );
                hp.copy_from_slice(ht);
                if mem {
                    cp.copy_from_slice(c_new);
                }
            }
        }
        // the final state of each sequence, at its own end, in batch order
        scatter(h_sorted, order, hs, h);
        if mem {
            scatter(c_sorted, order, hs, c);
        }
    }

    /// The time loop of [`Recurrent::backward`] for variable `lengths`
    /// (`[B]`, each `<= T`), arguments as there: adds the parameter
    /// gradients into `g` and `dE/dx` into `dx` (dense inputs), adds
    /// `||dE/ds_t||^2` of the running rows into `trace[t]` when given (as
    /// [`Recurrent::backward_traced`]) and returns `(dE/dh0, dE/dc0)`.
    ///
    /// The valid rows' `dE/dgh_t` and `s_{t-1}` (and a one-hot input's
    /// `dE/dxi_t` and ids) go into a ring of rows in the order the loop runs
    /// them, which the step product reads as one block; each time the ring
    /// holds [`CHUNK_ROWS`] rows or more, `dW_hh` (and the one-hot input's
    /// gradients, or a dense input's `dE/db_hh`) are summed from it while
    /// its rows are in cache, as the padded loop sums its chunks of steps.
    /// Only a dense input's `dE/dxi_t` is kept for every row (`[T*B, G*H]`,
    /// zero at padding), for [`Recurrent::dense_grads`] after the loop.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bptt_sorted<T: Float>(
        &self,
        p: &LayerParams<T>,
        cache: &LayerCache<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: &[usize],
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
        let separate = self.cell.separate_dgh();
        let bh = batch * h;
        let rows = steps * batch;
        let mut order = Vec::with_capacity(batch);
        sort_by_length(&lengths[..batch], &mut order);
        let valid: usize = lengths[..batch].iter().map(|&l| l.min(steps)).sum();
        // dE/ds_t from step t+1 and dE/dc_t, rows in sorted order: [B, H]
        let mut dh_next = Vec::with_capacity(bh);
        let zeros = vec![T::zero(); bh];
        gather(dh_n.unwrap_or(&zeros), &order, h, &mut dh_next);
        let mut dc_next = Vec::new();
        if mem {
            gather(dc_n.unwrap_or(&zeros), &order, h, &mut dc_next);
        }
        let mut dc_prev = dc_next.clone(); // [B, H] (LSTM)
        let mut dh = vec![T::zero(); h];
        let mut own = pool::take::<PackedRhs<T>>(); // its buffer as an earlier call left it
        let pk = batch > 1 && step_packed::<T>();
        let packed = if pk {
            packed_w_hh(p.w_hh, gw, h, false, &mut own) // W_hh [G*H, H], packed
        } else {
            &own
        };
        let ids = match x {
            Input::Ids(ids) => Some(ids),
            Input::Dense(_) => None,
        };
        // a dense input's dE/dxi_t of every row, zero at padding: [T, B, G*H]
        let mut dgi_all = pool::reused(if ids.is_none() { rows * gw } else { 0 });
        zero_padding(&mut dgi_all, steps, batch, lengths, gw);
        // the ring: at most CHUNK_ROWS - 1 rows before a step adds its n <= B
        let cap = CHUNK_ROWS + batch;
        let mut ring = Ring {
            dg: pool::reused(cap * gw), // dE/dgh_t   [cap, G*H]
            // a one-hot input's dE/dxi_t when it is not dE/dgh_t (GRU)
            di: pool::reused(if separate && ids.is_some() {
                cap * gw
            } else {
                0
            }),
            hp: pool::reused(cap * h), // s_{t-1}   [cap, H]
            ids: Vec::with_capacity(if ids.is_some() { cap } else { 0 }),
            rows: 0,
        };
        let mut sums = ids.map(|_| IdSums::new(self.input_size, gw, valid));
        for k in (0..steps).rev() {
            let t = if self.reverse { steps - 1 - k } else { k };
            let n = active(lengths, &order, t);
            if n == 0 {
                continue; // every state passes through, so does its gradient
            }
            let at = ring.rows;
            for (i, &b) in order[..n].iter().enumerate() {
                let r = t * batch + b;
                let (bs, be) = (i * h, (i + 1) * h);
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
                // the row's dE/dxi_t and dE/dgh_t: ring row q, or row r of
                // a dense input's dE/dxi_t
                let (rq, rg) = ((at + i) * gw..(at + i + 1) * gw, r * gw..(r + 1) * gw);
                let (dgi, dgh): (&mut [T], &mut [T]) = match (ids.is_some(), separate) {
                    (true, false) => (&mut ring.dg[rq.clone()], &mut []),
                    (true, true) => (&mut ring.di[rq.clone()], &mut ring.dg[rq.clone()]),
                    (false, false) => (&mut dgi_all[rg.clone()], &mut []),
                    (false, true) => (&mut dgi_all[rg.clone()], &mut ring.dg[rq.clone()]),
                };
                // delta_t = dE/da_t through the cell's nonlinearity; the part
                // of dE/ds_{t-1} that bypasses W goes straight to dh_next
                let len = lengths[b];
                let (gates, hp, cp, ht) = cache.row(t, b, batch, h, cw, self.reverse, len);
                self.cell.backward_row(
                    &dh,
                    dcn,
                    gates,
                    hp,
                    cp,
                    ht,
                    dgi,
                    dgh,
                    &mut dh_next[bs..be],
                    dcp,
                );
                if ids.is_none() && !separate {
                    ring.dg[rq].copy_from_slice(&dgi_all[rg]); // delta_t is dE/dxi_t
                }
                ring.hp[(at + i) * h..(at + i + 1) * h].copy_from_slice(hp);
                if let Some(ids) = ids {
                    ring.ids.push(ids[r]);
                }
            }
            // dE/ds_{t-1} = W^T delta_t (+ the direct part), running rows only
            //   [n, G*H] x [G*H, H]
            let dg_t = &ring.dg[at * gw..(at + n) * gw];
            if n == 1 {
                gemv_t_acc(gw, h, p.w_hh, dg_t, &mut dh_next[..h]);
            } else if pk {
                packed.gemm_acc(n, dg_t, &mut dh_next[..n * h]);
            } else {
                gemm(
                    n,
                    h,
                    gw,
                    dg_t,
                    false,
                    p.w_hh,
                    false,
                    &mut dh_next[..n * h],
                    true,
                );
            }
            if mem {
                dc_next[..n * h].copy_from_slice(&dc_prev[..n * h]);
            }
            ring.rows += n;
            if ring.rows >= CHUNK_ROWS {
                ring.sum_into(gw, h, separate, sums.as_mut(), g);
            }
        }
        ring.sum_into(gw, h, separate, sums.as_mut(), g);
        pool::keep(own);
        match x {
            Input::Ids(_) => sums.into_iter().for_each(|sums| sums.finish(separate, g)),
            Input::Dense(x) => self.dense_grads(p, x, rows, &dgi_all, g, dx),
        }
        for v in [dgi_all, ring.dg, ring.di, ring.hp] {
            pool::give_back(v);
        }
        // dE/d(initial state), in batch order
        let mut dh0 = vec![T::zero(); bh];
        scatter(&dh_next, &order, h, &mut dh0);
        let mut dc0 = Vec::new();
        if mem {
            dc0 = vec![T::zero(); bh];
            scatter(&dc_next, &order, h, &mut dc0);
        }
        (dh0, dc0)
    }
}

/// The rows [`Recurrent::bptt_sorted`] has run since it last summed the
/// weight gradients, in the order it ran them.
struct Ring<T> {
    /// `dE/dgh_t`: `[rows, G*H]` in use.
    dg: Vec<T>,
    /// A one-hot input's `dE/dxi_t` when it is not `dE/dgh_t` (GRU), else
    /// empty: `[rows, G*H]` in use.
    di: Vec<T>,
    /// `s_{t-1}`: `[rows, H]` in use.
    hp: Vec<T>,
    /// A one-hot input's ids of the rows, else empty: `[rows]`.
    ids: Vec<usize>,
    /// Rows in use.
    rows: usize,
}

impl<T: Float> Ring<T> {
    /// Adds the rows' weight gradients into `g` ([`add_block`]: `dW_hh`,
    /// and a one-hot input's gradients (`sums`) or else `dE/db_hh`), and
    /// empties the ring.
    fn sum_into(
        &mut self,
        gw: usize,
        h: usize,
        separate: bool,
        sums: Option<&mut IdSums<T>>,
        g: &mut LayerGrads<T>,
    ) {
        let n = self.rows;
        if n == 0 {
            return;
        }
        let dg = &self.dg[..n * gw];
        // a one-hot input's dE/dxi_t rows (kept apart only for one-hot inputs)
        let one_hot = sums.map(|sums| {
            let dgi = if separate { &self.di[..n * gw] } else { dg };
            (sums, &self.ids[..], dgi)
        });
        add_block(gw, h, n, dg, [&self.hp, &[]], one_hot, separate, g);
        self.ids.clear();
        self.rows = 0;
    }
}

/// Zeroes the rows of `buf` (`[T, B, w]`, empty: nothing) past each
/// sequence's length.
pub(super) fn zero_padding<T: Float>(
    buf: &mut [T],
    steps: usize,
    batch: usize,
    lengths: &[usize],
    w: usize,
) {
    if buf.is_empty() {
        return;
    }
    for (b, &l) in lengths[..batch].iter().enumerate() {
        for t in l.min(steps)..steps {
            buf[(t * batch + b) * w..(t * batch + b + 1) * w].fill(T::zero());
        }
    }
}
