//! BPTT on two threads, split by hidden units: training of a few sequences
//! over a layer larger than a core's L2, or of one sequence over a large
//! layer (`Recurrent::units_split_train` says when).
//!
//! Split by sequences, each of two threads reads all of `W_hh` at every
//! step, forward and backward, for its few rows: at `H` = 512 the LSTM's
//! `W_hh` is 4 MiB, twice a core's L2, and at `H` = 2048 it is 64 MiB, so
//! two threads each streaming it from memory were slower than one thread
//! (BENCHMARKS.md, forty-fifth session). Split by hidden units, each thread
//! reads half. The forward pass is `split.rs`'s loop keeping the gate
//! values; here each of the two threads owns units `[u0, u1)` and per step
//!
//! ```text
//! dE/ds_t[u]  = dh_out_t[u] + dh_next[u]                        its units
//! delta_t[q, u], dE/dc_{t-1}[u] = cell backward of its units     (every gate q)
//!   -- meet: delta_t whole for both --
//! dh_next[u]  = direct[u] + sum_{q,v} delta_t[q, v] W_hh[qH + v, u]   its columns of W_hh
//! ```
//!
//! The one meeting a step is the only exchange: `dh_next`, `dc_next` and the
//! part of `dE/ds_{t-1}` that bypasses `W_hh` are each half's own units.
//! The weight gradient `dW_hh += sum_t delta_t s_{t-1}^T` is cut by its rows:
//! each half sums its units' rows of every gate (a chunk of steps at a time,
//! as the one-thread loop does) from its own deltas, so the halves never
//! write the same gradient; so is `dE/db_hh`. The input's gradients (`W_ih`,
//! `b_ih`, `dE/dx`) come after the loop from all rows of `dE/dxi_t`, as the
//! one-thread loop's dense inputs' do.
//!
//! For a batch, each unit's `delta_t` and `dh_next` go through the same
//! operations as in the one-thread loop (the same cell formulas, the same
//! packed product's column sums over `K`), so they are the same bits; for
//! one sequence the one-thread loop's product is a matrix-vector one, the
//! same sums in another order. The weight gradients are the same sums,
//! grouped by gate rows.

use super::backward::CHUNK_ROWS;
use super::id_sums::IdSums;
use super::{Input, LayerCache, LayerGrads, LayerParams, Recurrent};
use crate::kernels::pair::{run_pair, Meet, Round, Shared};
use crate::kernels::{col_sum_acc, gemm, pool, PackedRhs};
use crate::Float;

/// One half's buffers (`n` = its units, `G` gates, `B` sequences).
#[derive(Debug, Default)]
struct Half<T> {
    /// Its columns of `W_hh` (`[G*H, n]`) packed: the right-hand side of
    /// `dh_next = delta_t W_hh[:, u0..u1]`.
    packed: PackedRhs<T>,
    /// `dE/ds_t` from step `t+1`, its units: `[B, n]`.
    dh_next: Vec<T>,
    /// `dE/dc_t` from step `t+1` (LSTM): `[B, n]`.
    dc_next: Vec<T>,
    /// The step's `dE/dc_{t-1}` (LSTM), swapped into `dc_next`: `[B, n]`.
    dc_prev: Vec<T>,
    /// The part of `dE/ds_{t-1}` that bypasses `W_hh` (GRU): `[B, n]`.
    direct: Vec<T>,
    /// `dE/ds_t` of one row: `[n]`.
    dh: Vec<T>,
    /// One row's gate values, its units, gate after gate: `[cache_width*n]`.
    cache: Vec<T>,
    /// One row's `dE/dxi_t` and (GRU) `dE/dgh_t`, its units: `[G*n]`.
    dgi: Vec<T>,
    dgh: Vec<T>,
    /// `dE/dgh_t` of a chunk's rows, gate by gate: `[G, chunk rows, n]`,
    /// for its rows of `dW_hh`.
    chunk: Vec<T>,
}

impl Recurrent {
    /// BPTT of `batch` sequences of `steps` steps each (no padding), split
    /// by hidden units across this thread and the partner thread (module
    /// docs). Arguments as [`Recurrent::backward`], with `(dh_out, dh_n,
    /// dc_n)` in `d` and `dx` taken from its option once the loop has run.
    /// Returns `(dE/dh0, dE/dc0)` as `backward` does, or `None` (nothing
    /// written) when the partner declines or `H` is too small to split.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bptt_split<T: Float>(
        &self,
        p: &LayerParams<T>,
        cache: &LayerCache<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        (dh_out, dh_n, dc_n): (&[T], Option<&[T]>, Option<&[T]>),
        g: &mut LayerGrads<T>,
        dx: &mut Option<&mut [T]>,
    ) -> Option<(Vec<T>, Vec<T>)> {
        let cut = self.split_cut()?;
        let (h, gw, ng) = (self.hidden, self.gate_width(), self.cell.gates());
        let cw = self.cell.cache_width() * h;
        let mem = self.cell.has_memory();
        let separate = self.cell.separate_dgh();
        let (rows, bh) = (steps * batch, batch * h);
        // steps per chunk of dW_hh (as the one-thread loop: `CHUNK_ROWS` rows)
        let cs = (CHUNK_ROWS / batch).clamp(1, steps.max(1));
        // dE/dxi_t of every row, each half writing its units' columns:
        // [T, B, G*H], read by the step products (the cells whose dE/dgh_t
        // is it) and by the input's gradients after the loop
        let mut dgi_all = pool::reused(rows * gw);
        // GRU: dE/dgh_t of the step, its rows for the product, in two
        // buffers taken in turn (one half may write step t-1's while the
        // other still reads step t's): [2, B, G*H]
        let mut dgh_step = pool::reused(if separate { 2 * batch * gw } else { 0 });
        let mut halves = pool::take::<[Half<T>; 2]>();
        let (dgi_s, dgh_s) = (Shared::new(&mut dgi_all), Shared::new(&mut dgh_step));
        let halves_s = Shared::new(halves.as_mut_slice());
        let w_hh_s = Shared::new(&mut *g.w_hh); // [G*H, H]: each half its rows
        let mut no_bias: [T; 0] = [];
        let b_hh_s = Shared::new(g.b_hh.as_deref_mut().unwrap_or(&mut no_bias)); // [G*H]
        let ran = run_pair(|half, meet: &Meet, round: &mut Round| {
            let (u0, u1) = if half == 0 { (0, cut) } else { (cut, h) };
            let n = u1 - u0;
            // SAFETY: each half takes its own element of `halves`.
            let hb = unsafe { &mut halves_s.get_mut(half, 1)[0] };
            crate::kernels::sequential(|| {
                // its columns of W_hh, packed: [G*H, n]
                hb.packed.pack_columns(p.w_hh, gw, h, u0, n);
                let own = |v: Option<&[T]>, buf: &mut Vec<T>| {
                    buf.clear();
                    match v {
                        Some(v) => (0..batch)
                            .for_each(|b| buf.extend_from_slice(&v[b * h + u0..b * h + u1])),
                        None => buf.resize(batch * n, T::zero()),
                    }
                };
                own(dh_n, &mut hb.dh_next); // [B, n]
                if mem {
                    own(dc_n, &mut hb.dc_next); // [B, n]
                } else {
                    hb.dc_next.clear();
                }
                hb.dc_prev.clone_from(&hb.dc_next);
                hb.direct.resize(batch * n, T::zero());
                hb.dh.resize(n, T::zero());
                hb.cache.resize(cw / h * n, T::zero());
                hb.dgi.resize(ng * n, T::zero());
                hb.dgh.resize(if separate { ng * n } else { 0 }, T::zero());
                let chunk_rows = cs * batch;
                hb.chunk.resize(ng * chunk_rows * n, T::zero());
                for k in (0..steps).rev() {
                    let t = if self.reverse { steps - 1 - k } else { k };
                    // the chunk of loop indices k0..k1 holding k, its steps tlo..thi
                    let (k0, k1) = (k - k % cs, (k - k % cs + cs).min(steps));
                    let (tlo, thi) = if self.reverse {
                        (steps - k1, steps - k0)
                    } else {
                        (k0, k1)
                    };
                    for b in 0..batch {
                        let r = t * batch + b;
                        let (bs, be) = (b * n, (b + 1) * n);
                        // dE/ds_t = dE/ds_t (from the output above) + dE/ds_t (from step t+1)
                        for j in 0..n {
                            hb.dh[j] = dh_out[r * h + u0 + j] + hb.dh_next[bs + j];
                        }
                        let (gates, hp, cp, ht) =
                            cache.row(t, b, batch, h, cw, self.reverse, steps);
                        // its units' gate values, gate after gate
                        for (q, part) in hb.cache.chunks_exact_mut(n).enumerate() {
                            part.copy_from_slice(&gates[q * h + u0..q * h + u1]);
                        }
                        let (dcn, dcp): (&[T], &mut [T]) = if mem {
                            (&hb.dc_next[bs..be], &mut hb.dc_prev[bs..be])
                        } else {
                            (&[], &mut [])
                        };
                        // delta_t = dE/da_t through the cell's nonlinearity, its units
                        self.cell.backward_row(
                            &hb.dh,
                            dcn,
                            &hb.cache,
                            &hp[u0..u1],
                            if mem { &cp[u0..u1] } else { &[] },
                            &ht[u0..u1],
                            &mut hb.dgi,
                            &mut hb.dgh,
                            &mut hb.direct[bs..be],
                            dcp,
                        );
                        let dg_own = if separate { &hb.dgh } else { &hb.dgi };
                        let at = (t - tlo) * batch + b; // its row in the chunk
                        for q in 0..ng {
                            let (src, col) = (q * n..(q + 1) * n, q * h + u0);
                            // SAFETY: this half's columns of row r, written by
                            // it alone; the other half reads them after the
                            // meeting below.
                            unsafe { dgi_s.get_mut(r * gw + col, n) }
                                .copy_from_slice(&hb.dgi[src.clone()]);
                            if separate {
                                let row = (k % 2 * batch + b) * gw;
                                // SAFETY: as above; the buffer of step t is
                                // written again two steps on, after the other
                                // half's next meeting, so after it read it.
                                unsafe { dgh_s.get_mut(row + col, n) }
                                    .copy_from_slice(&hb.dgh[src.clone()]);
                            }
                            let dst = (q * chunk_rows + at) * n;
                            hb.chunk[dst..dst + n].copy_from_slice(&dg_own[src]);
                        }
                    }
                    // delta_t whole for both
                    meet.wait(round);

                    // delta_t   [B, G*H]
                    // SAFETY: written before the meeting, by both halves.
                    let dg_t = unsafe {
                        if separate {
                            dgh_s.get(k % 2 * batch * gw, batch * gw)
                        } else {
                            dgi_s.get(t * batch * gw, batch * gw)
                        }
                    };
                    // dE/ds_{t-1} = W^T delta_t (+ the direct part), its units:
                    // [B, G*H] x [G*H, n]
                    hb.dh_next.copy_from_slice(&hb.direct);
                    hb.packed.gemm_acc(batch, dg_t, &mut hb.dh_next);
                    if mem {
                        std::mem::swap(&mut hb.dc_next, &mut hb.dc_prev);
                    }
                    if k == k0 {
                        // dE/dW_hh, dE/db_hh += the chunk's rows, its rows of every gate
                        let m = (thi - tlo) * batch;
                        let hp = self.prev_states(cache, tlo, thi, steps, bh);
                        let b_hh = p.b_hh.map(|_| &b_hh_s);
                        self.half_block_grads(
                            (u0, u1),
                            &hb.chunk,
                            chunk_rows,
                            m,
                            hp,
                            &w_hh_s,
                            b_hh,
                        );
                    }
                }
            });
        });
        if !ran {
            pool::give_back(dgi_all);
            pool::give_back(dgh_step);
            pool::keep(halves);
            return None;
        }
        // dE/dh0, dE/dc0: [B, H] from each half's units
        let mut dh0 = vec![T::zero(); bh];
        let mut dc0 = vec![T::zero(); if mem { bh } else { 0 }];
        for (half, hb) in halves.iter().enumerate() {
            let (u0, u1) = if half == 0 { (0, cut) } else { (cut, h) };
            let n = u1 - u0;
            for b in 0..batch {
                dh0[b * h + u0..b * h + u1].copy_from_slice(&hb.dh_next[b * n..(b + 1) * n]);
                if mem {
                    dc0[b * h + u0..b * h + u1].copy_from_slice(&hb.dc_next[b * n..(b + 1) * n]);
                }
            }
        }
        pool::keep(halves);
        // the input's gradients from every row of dE/dxi_t (dE/db_hh is done)
        let mut gi = LayerGrads {
            w_ih: &mut *g.w_ih,
            w_hh: &mut *g.w_hh,
            b_ih: &mut *g.b_ih,
            b_hh: None,
        };
        match x {
            Input::Ids(ids) => {
                let mut sums = IdSums::new(self.input_size, gw, rows);
                sums.add(&ids[..rows], &dgi_all, None, &mut gi);
                sums.finish(separate, &mut gi);
            }
            Input::Dense(x) => self.dense_grads(p, x, rows, &dgi_all, &mut gi, dx.take()),
        }
        pool::give_back(dgi_all);
        pool::give_back(dgh_step);
        Some((dh0, dc0))
    }

    /// Adds one half's share of a chunk of `m` rows to the weight
    /// gradients: for every gate `q`, rows `q*H + u0..q*H + u1` of
    /// `dE/dW_hh += sum_t delta_t s_{t-1}^T` (`[n, m] x [m, H]`, from the
    /// half's `dE/dgh_t` of the chunk, `chunk`: `[G, chunk_rows, n]`, and
    /// `hp`, the rows' `s_{t-1}` in two blocks: see
    /// [`Recurrent::prev_states`]) and of `dE/db_hh = sum_t dE/dgh_t` when
    /// the layer has that bias. `w_hh`: `[G*H, H]`, `b_hh`: `[G*H]`, each
    /// half writing only its rows.
    #[allow(clippy::too_many_arguments)]
    fn half_block_grads<T: Float>(
        &self,
        (u0, u1): (usize, usize),
        chunk: &[T],
        chunk_rows: usize,
        m: usize,
        hp: [&[T]; 2],
        w_hh: &Shared<T>,
        b_hh: Option<&Shared<T>>,
    ) {
        let (h, n) = (self.hidden, u1 - u0);
        for q in 0..self.cell.gates() {
            let dq = &chunk[q * chunk_rows * n..][..m * n]; // [m, n]

            // SAFETY: rows q*H + u0..u1 of dW_hh: this half's alone.
            let dw = unsafe { w_hh.get_mut((q * h + u0) * h, n * h) };
            let mut from = 0;
            for block in hp {
                let rows = (block.len() / h).min(m - from);
                if rows > 0 {
                    // dW_hh[q, u0..u1] += dq^T s_{t-1}   [n, rows] x [rows, H]
                    let (a, s) = (&dq[from * n..(from + rows) * n], &block[..rows * h]);
                    gemm(n, h, rows, a, true, s, false, dw, true);
                }
                from += rows;
            }
            if let Some(b_hh) = b_hh {
                // dE/db_hh[q, u0..u1] += sum_t dE/dgh_t
                // SAFETY: as dW_hh's rows.
                col_sum_acc(m, n, dq, unsafe { b_hh.get_mut(q * h + u0, n) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::split::tests::{pattern, test_params, test_weights};
    use super::super::split::{HalfScratch, TrainKept};
    use super::*;
    use crate::kernels::pair::tests::{two_cores, TURN};
    use crate::nn::cell::{Activation, CellKind};

    /// The gradients of one layer: `[W_ih, W_hh, b_ih, b_hh]`, zeroed.
    fn zero_grads<T: Float>(layer: &Recurrent, two_biases: bool) -> [Vec<T>; 4] {
        let gw = layer.gate_width();
        [
            vec![T::zero(); gw * layer.input_size],
            vec![T::zero(); gw * layer.hidden],
            vec![T::zero(); gw],
            vec![T::zero(); if two_biases { gw } else { 0 }],
        ]
    }

    fn as_grads<T>(g: &mut [Vec<T>; 4]) -> LayerGrads<'_, T> {
        let [w_ih, w_hh, b_ih, b_hh] = g;
        LayerGrads {
            w_ih,
            w_hh,
            b_ih,
            b_hh: (!b_hh.is_empty()).then_some(b_hh.as_mut_slice()),
        }
    }

    /// One layer trained on one thread and split by units (`split.rs`'s
    /// forward keeping the gate values, then [`Recurrent::bptt_split`] on
    /// the one-thread forward's cache): the forward's outputs, gate values,
    /// memories and final state are the same bits; so are, for a batch,
    /// `dE/dh0`, `dE/dc0` and, for dense inputs, `dE/dx` (each unit's
    /// `delta_t` goes through the same operations); the weight and bias
    /// gradients, summed by gate rows, and one sequence's (whose one-thread
    /// product is a matrix-vector one) agree within 1e-5 of their largest
    /// value. Every cell,
    /// both directions, with and without `b_hh`, ids or dense inputs, from
    /// zero final-state gradients or given ones, an even cut (16: 8 and 8)
    /// and an uneven one (37: 16 and 21), `dW_hh` summed in one chunk of
    /// steps or several (`steps * batch` above `CHUNK_ROWS`).
    #[allow(clippy::too_many_arguments)]
    fn check(
        cell: CellKind,
        hidden: usize,
        reverse: bool,
        two_biases: bool,
        batch: usize,
        steps: usize,
        ids: bool,
        ends: bool,
    ) {
        type T = f32;
        let ni = 7;
        let layer = Recurrent {
            cell,
            input_size: ni,
            hidden,
            reverse,
        };
        let (mem, rows) = (cell.has_memory(), steps * batch);
        let cw = cell.cache_width() * hidden;
        let weights = test_weights::<T>(&layer);
        let p = test_params(&weights, two_biases);
        let x_dense = pattern::<T>(rows * ni, 5, 1.0); // [T, B, I]
        let x_ids: Vec<usize> = (0..rows).map(|r| (r * 5 + 1) % ni).collect(); // [T, B]
        let x = if ids {
            Input::Ids(&x_ids)
        } else {
            Input::Dense(&x_dense)
        };
        let h0 = pattern::<T>(batch * hidden, 6, 0.5); // [B, H]
        let c0 = pattern::<T>(if mem { batch * hidden } else { 0 }, 7, 0.5);
        let what = format!(
            "{cell:?} H={hidden} reverse={reverse} b_hh={two_biases} B={batch} T={steps} \
             ids={ids} ends={ends}"
        );

        // forward: one thread, then split
        let c0_opt = mem.then_some(c0.as_slice());
        let one = crate::kernels::sequential(|| {
            layer.forward(&p, x, steps, batch, Some(&h0), c0_opt, None)
        });
        let mut xi = Vec::new();
        let table_ids = match x {
            Input::Ids(ids) => {
                layer.ids_table_into(&p, &mut xi); // [I, G*H], read at the ids
                Some(ids)
            }
            Input::Dense(_) => {
                layer.input_projection_into(&p, x, rows, &mut xi); // [T*B, G*H]
                None
            }
        };
        let mut two = LayerCache {
            h: vec![0.0; rows * hidden],
            h0: h0.clone(),
            c_prev: vec![0.0; if mem { rows * hidden } else { 0 }],
            gates: vec![0.0; rows * cw],
            h_n: h0.clone(),
            c_n: c0.clone(),
        };
        let mut halves: [HalfScratch<T>; 2] = Default::default();
        let LayerCache {
            h,
            c_prev,
            gates,
            h_n,
            c_n,
            ..
        } = &mut two;
        let keep = TrainKept { gates, c_prev };
        let ran = layer.forward_split(
            &p,
            &xi,
            table_ids,
            steps,
            batch,
            h_n,
            c_n,
            h,
            keep,
            &mut halves,
        );
        assert_eq!(
            ran,
            two_cores(),
            "{what}: the forward split ran (with two cores)"
        );
        if !ran {
            return;
        }
        assert!(one.h == two.h, "{what}: outputs");
        assert!(one.gates == two.gates, "{what}: gate values");
        assert!(one.c_prev == two.c_prev, "{what}: c_(t-1)");
        assert!(
            one.h_n == two.h_n && one.c_n == two.c_n,
            "{what}: final state"
        );

        // BPTT on the one-thread forward's cache: one thread, then split
        let dh_out = pattern::<T>(rows * hidden, 8, 0.3); // [T, B, H]
        let dh_n = pattern::<T>(batch * hidden, 9, 0.2);
        let dc_n = pattern::<T>(if mem { batch * hidden } else { 0 }, 10, 0.2);
        let (dh_n, dc_n) = match ends {
            true => (Some(dh_n.as_slice()), mem.then_some(dc_n.as_slice())),
            false => (None, None),
        };
        let mut g_one = zero_grads::<T>(&layer, two_biases);
        let mut dx_one = vec![0.0; rows * ni];
        let dx_want = (!ids).then_some(dx_one.as_mut_slice());
        let (dh0_one, dc0_one) = crate::kernels::sequential(|| {
            let mut g = as_grads(&mut g_one);
            layer.backward(
                &p, &one, x, steps, batch, None, &dh_out, dh_n, dc_n, &mut g, dx_want,
            )
        });
        let mut g_two = zero_grads::<T>(&layer, two_biases);
        let mut dx_two = vec![0.0; rows * ni];
        let mut dx_want = (!ids).then_some(dx_two.as_mut_slice());
        let (dh0_two, dc0_two) = layer
            .bptt_split(
                &p,
                &one,
                x,
                steps,
                batch,
                (&dh_out, dh_n, dc_n),
                &mut as_grads(&mut g_two),
                &mut dx_want,
            )
            .unwrap_or_else(|| panic!("{what}: the BPTT split ran"));
        let near = |name: &str, a: &[T], b: &[T]| {
            let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(a.is_empty() || scale > 0.0, "{what}: {name} is zero");
            for (k, (u, v)) in a.iter().zip(b).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-5 * scale,
                    "{what}: {name}[{k}] {u} one thread, {v} split"
                );
            }
        };
        if batch > 1 {
            assert!(dh0_one == dh0_two, "{what}: dE/dh0");
            assert!(dc0_one == dc0_two, "{what}: dE/dc0");
            assert!(dx_one == dx_two, "{what}: dE/dx");
        } else {
            // one sequence: the one-thread loop's product is a matrix-vector
            // one (`gemv_t_acc`), another order of the same sums
            near("dE/dh0", &dh0_one, &dh0_two);
            near("dE/dc0", &dc0_one, &dc0_two);
            if !ids {
                near("dE/dx", &dx_one, &dx_two);
            }
        }
        for (name, (a, b)) in ["dW_ih", "dW_hh", "db_ih", "db_hh"]
            .iter()
            .zip(g_one.iter().zip(&g_two))
        {
            near(name, a, b);
        }
    }

    #[test]
    fn split_bptt_matches_one_thread() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        if !super::super::step_packed::<f32>() {
            return; // the split needs the packed kernel (`units_split_train`)
        }
        let cells = [
            CellKind::Lstm,
            CellKind::Gru,
            CellKind::Elman {
                activation: Activation::Tanh,
            },
        ];
        for cell in cells {
            for (hidden, reverse, two_biases) in
                [(37, false, true), (16, true, true), (37, true, false)]
            {
                for (batch, steps, ids, ends) in [
                    (3, 11, false, false),
                    (5, 60, true, true),
                    (2, 9, true, false),
                    (4, 70, false, true),
                    (1, 30, true, true),
                    (1, 12, false, false),
                ] {
                    check(cell, hidden, reverse, two_biases, batch, steps, ids, ends);
                }
            }
        }
    }
}
