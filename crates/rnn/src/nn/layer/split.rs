//! Inference on two threads, split by hidden units: one sequence, and a few
//! over a layer larger than a core's L2; and the forward pass of training
//! split the same way (keeping what BPTT reads: [`TrainKept`]), whose BPTT
//! is `split_bptt.rs`.
//!
//! A batch of one sequence (a sentence being tagged, a stream being
//! generated) has no batch to split across threads, and its step is a
//! matrix-vector product `W_hh s_{t-1}` whose time is the time to read `W_hh`
//! from L2 (`[4H, H]` = 160 KB for the LSTM at `H` = 100, three times L1).
//! Here each of two threads owns a range of hidden units `[u0, u1)` with all
//! their gates: the rows `q*H + u0 .. q*H + u1` of `W_hh` for every gate `q`
//! (half the matrix, read from its own core's cache), and the cell math of
//! those units. Per step each thread
//!
//! ```text
//! gh[q, u] = b_hh[qH + u] + W_hh[qH + u, :] s_{t-1}     u in [u0, u1), every gate q
//! s_t[u], c_t[u] = cell(xi_t[q, u], gh[q, u], s_{t-1}[u], c_{t-1}[u])
//! ```
//!
//! writes its units of `s_t` into the layer's output row of step `t`, and
//! meets the other at a barrier: after it both read the whole `s_t`. Each
//! unit goes through the same operations as in the one-thread loop (the same
//! row dot products, the same cell formulas on each unit), so the outputs
//! are the same bits.
//!
//! A few sequences (up to [`super::split_rule::split_max_batch`]) over a layer whose `W_hh` is
//! larger than a core's L2 are split the same way: split by sequences, each
//! thread would read all of `W_hh` from L3 at every step for its few rows;
//! split by units, each reads half, and multiplies the `[B, H]` states by
//! its half of `W_hh^T` packed (`[H, G*n]`, the packed step kernel's
//! layout), the same sums as the one-thread product's columns. Sequences of
//! different lengths run the loop over the sequences still running
//! (`sorted.rs`), split the same way.

use super::Recurrent;
use crate::kernels::pair::{run_pair, Meet, Round, Shared};
use crate::kernels::PackedRhs;
use crate::nn::layer::LayerParams;
use crate::Float;

/// The buffers of one half: `n` = its number of units, `G` gates.
#[derive(Clone, Debug, Default)]
pub(crate) struct HalfScratch<T> {
    /// Its units' `W_ih x_t + b_ih`, gate after gate: `[G*n]`.
    xi: Vec<T>,
    /// Its units' `W_hh s_{t-1} + b_hh`, gate after gate: `[G*n]`.
    gh: Vec<T>,
    /// Its units' new memory (LSTM): `[n]`.
    c_new: Vec<T>,
    /// A batch's `s_{t-1}` gathered when its rows are not one block: `[B, H]`.
    s_prev: Vec<T>,
    /// Its units' `b_hh`, gate after gate (batches): `[G*n]`.
    b_hh: Vec<T>,
    /// Its part of `W_hh^T` packed (batches, when not prepared): `[H, G*n]`.
    packed: PackedRhs<T>,
    /// Training: one row's gate values of its units, gate after gate:
    /// `[cache_width*n]`.
    cache: Vec<T>,
}

/// The rows a split loop runs: `xi` (`[T*B, G*H]`, or the table `[I, G*H]`
/// read at `ids`), `steps` x `batch`, and for sequences of different
/// lengths, those (`[B]`) and buffers for the running order, `s_0` and `c`
/// in that order.
struct Rows<'a, T> {
    xi: &'a [T],
    ids: Option<&'a [usize]>,
    steps: usize,
    batch: usize,
    ragged: Option<(&'a [usize], SortedBufs<'a, T>)>,
}

/// The running order, `s_0` and `c` in that order.
type SortedBufs<'a, T> = (&'a mut Vec<usize>, &'a mut Vec<T>, &'a mut Vec<T>);

/// Where a split loop's outputs go: row `r` at `out[r*stride + offset..][..H]`;
/// when training, what BPTT reads of each row too (`keep`: see
/// [`TrainKept`]).
struct Kept<'a, T> {
    out: &'a mut [T],
    stride: usize,
    offset: usize,
    keep: Option<TrainKept<'a, T>>,
}

/// What a training forward keeps of each row `r` for BPTT
/// ([`super::LayerCache`]): its gate values `gates[r*cw..][..cw]` (`cw` =
/// `cache_width*H`, gate after gate, each half writing its units of each)
/// and, with a memory, `c_{t-1}` at `c_prev[r*H..][..H]`.
pub(super) struct TrainKept<'a, T> {
    pub(super) gates: &'a mut [T],
    pub(super) c_prev: &'a mut [T],
}

impl Recurrent {
    /// The time loop of [`Recurrent::infer`] for `batch` sequences of
    /// `steps` steps each (no padding), on this thread and the partner
    /// thread ([`crate::kernels::pair`]), each on its range of hidden units
    /// with all their gates. `xi`: `[T*B, G*H]`, or the table `[I, G*H]`
    /// read at `ids[t*B + b]`; `h`, `c`: `[B, H]` (`c` empty without a
    /// memory), the initial state on entry and the final one on return;
    /// `h_t` of sequence `b` goes to `out[(t*B + b)*stride + offset..][..H]`.
    ///
    /// The step product of each half: one sequence, down the columns of its
    /// part of `W_hh^T` (`halves_t`, `[H, G*n]` in the column kernel's
    /// panels, prepared once: [`super::LayerPrep`]), or `W_hh`'s rows one by
    /// one; a batch, its part of `W_hh^T` packed (`halves_packed`, prepared
    /// once, or packed here into the half's scratch) times `s_{t-1}`
    /// (`[B, H]`), as the one-thread loop's packed product does for all the
    /// columns.
    ///
    /// Returns `false`, with `h`, `c` and `out` untouched, when the partner
    /// declines ([`crate::kernels::pair`]: busy with another caller, or
    /// fewer than two cores) or `H` is too small to split
    /// ([`Recurrent::split_cut`]): the caller runs the loop itself.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn infer_split<T: Float>(
        &self,
        p: &LayerParams<T>,
        xi: &[T],
        ids: Option<&[usize]>,
        steps: usize,
        batch: usize,
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        stride: usize,
        offset: usize,
        halves: &mut [HalfScratch<T>; 2],
        halves_t: Option<&[crate::kernels::aligned::LineVec<T>; 2]>,
        halves_packed: Option<&[PackedRhs<T>; 2]>,
    ) -> bool {
        let rows = Rows {
            xi,
            ids,
            steps,
            batch,
            ragged: None,
        };
        let kept = Kept {
            out,
            stride,
            offset,
            keep: None,
        };
        self.split_loop(p, rows, h, c, kept, halves, halves_t, halves_packed)
    }

    /// The time loop of [`Recurrent::forward`] for `batch` sequences of
    /// `steps` steps each (no padding), split as [`Recurrent::infer_split`]
    /// (the same outputs to the bit), keeping what BPTT reads: each row's
    /// gate values in `keep.gates` (`[T*B, cache_width*H]`) and, with a
    /// memory, `c_{t-1}` in `keep.c_prev` (`[T*B, H]`). `xi`, `ids`, `h`,
    /// `c` as for `infer_split`; the outputs go to `out` (`[T, B, H]`).
    /// Returns `false`, nothing written, where `infer_split` does.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_split<T: Float>(
        &self,
        p: &LayerParams<T>,
        xi: &[T],
        ids: Option<&[usize]>,
        steps: usize,
        batch: usize,
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        keep: TrainKept<'_, T>,
        halves: &mut [HalfScratch<T>; 2],
    ) -> bool {
        let rows = Rows {
            xi,
            ids,
            steps,
            batch,
            ragged: None,
        };
        let kept = Kept {
            out,
            stride: self.hidden,
            offset: 0,
            keep: Some(keep),
        };
        self.split_loop(p, rows, h, c, kept, halves, None, None)
    }

    /// Sizes each half's buffers for `batch` rows (`s_prev_len` values of
    /// gathered `s_{t-1}`) and, for a batch, gathers its units' `b_hh` and
    /// packs its part of `W_hh^T` (`[H, G*n]`) unless `prepared` holds this
    /// layer's (returned; `None` where it does not, as for a layer not worth
    /// splitting when it was prepared).
    fn ready_halves<'a, T: Float>(
        &self,
        p: &LayerParams<T>,
        cut: usize,
        batch: usize,
        s_prev_len: usize,
        halves: &mut [HalfScratch<T>; 2],
        prepared: Option<&'a [PackedRhs<T>; 2]>,
    ) -> Option<&'a [PackedRhs<T>; 2]> {
        let (hs, ng) = (self.hidden, self.cell.gates());
        let mem = self.cell.has_memory();
        let prepared = prepared.filter(|pk| {
            pk.iter()
                .zip([ng * cut, ng * (hs - cut)])
                .all(|(pk, n)| pk.k() == hs && pk.n() == n)
        });
        for (half, buf) in halves.iter_mut().enumerate() {
            let (u0, u1) = if half == 0 { (0, cut) } else { (cut, hs) };
            let n = u1 - u0;
            buf.xi.resize(ng * n, T::zero()); // [G*n]
            buf.gh.resize(batch * ng * n, T::zero()); // [B, G*n]
            buf.c_new.resize(if mem { n } else { 0 }, T::zero()); // [n]
            buf.s_prev.resize(s_prev_len, T::zero()); // [B, H] or none
            buf.b_hh.clear();
            if batch > 1 {
                // this half's b_hh, gate after gate: [G*n]
                if let Some(b) = p.b_hh {
                    for q in 0..ng {
                        buf.b_hh.extend_from_slice(&b[q * hs + u0..q * hs + u1]);
                    }
                }
                if prepared.is_none() {
                    self.pack_half(p.w_hh, (u0, u1), &mut buf.packed);
                }
            }
        }
        prepared
    }

    /// Packs units `u0..u1`'s rows of `w_hh` (`[G*H, H]`), gate after gate
    /// (`[G*n, H]`), as the transposed right-hand side `[H, G*n]` of the
    /// split's step product.
    pub(super) fn pack_half<T: Float>(
        &self,
        w_hh: &[T],
        (u0, u1): (usize, usize),
        packed: &mut PackedRhs<T>,
    ) {
        let (hs, n) = (self.hidden, u1 - u0);
        // column j of W_hh^T's part: row q*H + u0 + j % n of W_hh, q = j / n
        let row = |j: usize| {
            let r = j / n * hs + u0 + j % n;
            &w_hh[r * hs..(r + 1) * hs]
        };
        packed.pack_by_columns(hs, self.cell.gates() * n, row);
    }

    /// The cell's step for units `u0..u1` of one row: this half's part of
    /// the row's `xi` (`[G*H]`: gathered into `xi_h`, `[G*n]`), its `gh`
    /// (`[G*n]`) and `s_{t-1}`, `c_{t-1}` (`[n]`, `c` replaced by `c_t`)
    /// give `s_t` of those units in `ht`; `c_new`: `[n]`; `cache`: their
    /// gate values (`[cache_width*n]`, gate after gate), or empty.
    #[allow(clippy::too_many_arguments)]
    fn half_row<T: Float>(
        &self,
        (u0, u1): (usize, usize),
        xi_row: &[T],
        gh: &[T],
        hp: &[T],
        c: &mut [T],
        ht: &mut [T],
        (xi_h, c_new, cache): (&mut [T], &mut [T], &mut [T]),
    ) {
        let (hs, n) = (self.hidden, u1 - u0);
        for q in 0..self.cell.gates() {
            // xi[q] = W_ih x_t + b_ih   (this half's units)
            xi_h[q * n..(q + 1) * n].copy_from_slice(&xi_row[q * hs + u0..q * hs + u1]);
        }
        // s_t, c_t of units u0..u1 (and their gate values, when kept)
        self.cell.forward_row(xi_h, gh, hp, c, ht, c_new, cache);
        if self.cell.has_memory() {
            c.copy_from_slice(c_new);
        }
    }

    /// One sequence's `gh = W_hh s_{t-1} + b_hh` over the rows of units
    /// `u0..u1` of every gate (`gh`: `[G*n]`, gate after gate): `b_hh`
    /// first, then the product by `cols` when it takes it (returns `true`),
    /// else `W_hh`'s rows one by one, the sums of the one-thread loop's
    /// matrix-vector product for these rows.
    fn half_step_one<T: Float>(
        &self,
        p: &LayerParams<T>,
        (u0, u1): (usize, usize),
        s_prev: &[T],
        gh: &mut [T],
        cols: impl FnOnce(&mut [T]) -> bool,
    ) {
        let (hs, ng, n) = (self.hidden, self.cell.gates(), u1 - u0);
        for q in 0..ng {
            // gh[q] = b_hh[q]   (this half's rows; + W_hh[q] s_{t-1} below)
            let rows = q * hs + u0..q * hs + u1;
            match p.b_hh {
                Some(b) => gh[q * n..(q + 1) * n].copy_from_slice(&b[rows]),
                None => gh[q * n..(q + 1) * n].fill(T::zero()),
            }
        }
        if !cols(gh) {
            for q in 0..ng {
                // gh[q] += W_hh[q] s_{t-1}
                let rows = q * hs + u0..q * hs + u1;
                let ghq = &mut gh[q * n..(q + 1) * n];
                T::gemv_acc(n, hs, &p.w_hh[rows.start * hs..rows.end * hs], s_prev, ghq);
            }
        }
    }

    /// The time loop of [`Recurrent::infer`] for sequences of different
    /// `lengths` (`[B]`), as `sorted.rs` runs it on one thread (the
    /// sequences by decreasing length, each step's product over the `n_t`
    /// still running), split by hidden units across this thread and the
    /// partner as [`Recurrent::infer_split`]. `sorted`: buffers for the
    /// order, `s_0` and `c` in that order. The product of a step of one
    /// running sequence is `W_hh`'s rows one by one, of several this half's
    /// part of `W_hh^T` packed (prepared in `halves_packed`, or packed
    /// here), as the one-thread loop's; so the outputs and final states are
    /// its bits. Returns `false`, nothing written, where
    /// [`Recurrent::infer_split`] does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn infer_split_sorted<T: Float>(
        &self,
        p: &LayerParams<T>,
        xi: &[T],
        ids: Option<&[usize]>,
        steps: usize,
        batch: usize,
        lengths: &[usize],
        sorted: SortedBufs<'_, T>,
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        stride: usize,
        offset: usize,
        halves: &mut [HalfScratch<T>; 2],
        halves_packed: Option<&[PackedRhs<T>; 2]>,
    ) -> bool {
        let rows = Rows {
            xi,
            ids,
            steps,
            batch,
            ragged: Some((&lengths[..batch], sorted)),
        };
        let kept = Kept {
            out,
            stride,
            offset,
            keep: None,
        };
        self.split_loop(p, rows, h, c, kept, halves, None, halves_packed)
    }

    /// The loop of [`Recurrent::infer_split`] and
    /// [`Recurrent::infer_split_sorted`]: equal lengths are the sequences in
    /// batch order, every one running at every step; different ones sorted
    /// by decreasing length (the `n_t` running at step `t` first).
    #[allow(clippy::too_many_arguments)]
    fn split_loop<T: Float>(
        &self,
        p: &LayerParams<T>,
        rows: Rows<'_, T>,
        h: &mut [T],
        c: &mut [T],
        kept: Kept<'_, T>,
        halves: &mut [HalfScratch<T>; 2],
        halves_t: Option<&[crate::kernels::aligned::LineVec<T>; 2]>,
        halves_packed: Option<&[PackedRhs<T>; 2]>,
    ) -> bool {
        let Some(cut) = self.split_cut() else {
            return false;
        };
        let Rows {
            xi,
            ids,
            steps,
            batch,
            ragged,
        } = rows;
        let Kept {
            out,
            stride,
            offset,
            keep,
        } = kept;
        let (hs, gw, ng) = (self.hidden, self.gate_width(), self.cell.gates());
        // training: each row's gate values and c_{t-1} (`cw` wide, H wide)
        let cw = self.cell.cache_width() * hs;
        let keep = keep.map(|k| (Shared::new(k.gates), Shared::new(k.c_prev)));
        let mem = self.cell.has_memory();
        // s_{t-1} read in place when a step's rows are one block in batch
        // order (equal lengths, one sequence or rows of width H), else
        // gathered into each half's buffer
        let in_place = ragged.is_none() && (batch == 1 || stride == hs);
        let s_len = if in_place { 0 } else { batch * hs };
        let halves_packed = self.ready_halves(p, cut, batch, s_len, halves, halves_packed);
        // the sequences in running order (batch order for equal lengths),
        // s_0 and c in that order
        type Running<'l, 'o, 'h, 'c, T> = (
            Option<&'l [usize]>,
            Option<&'o [usize]>,
            &'h [T],
            &'c mut [T],
        );
        let (lengths, order, h0, c_run): Running<'_, '_, '_, '_, T> = match ragged {
            None => (None, None, &*h, &mut *c),
            Some((lengths, (order, h_sorted, c_sorted))) => {
                super::sorted::sort_by_length(lengths, order);
                super::sorted::gather(h, order, hs, h_sorted); // [B, H]
                if mem {
                    super::sorted::gather(c, order, hs, c_sorted); // [B, H]
                }
                (Some(lengths), Some(order), h_sorted, c_sorted)
            }
        };
        let seq = |i: usize| order.map_or(i, |o| o[i]); // the i-th running sequence
        let len = |b: usize| lengths.map_or(steps, |l| l[b]);
        let out_s = Shared::new(out); // [T*B, stride]: each step's rows
        let c_s = Shared::new(c_run); // [B, H], running order: each half its own units
        let halves_s = Shared::new(halves.as_mut_slice()); // one each
        let row_at = |r: usize| r * stride + offset;
        let ran = run_pair(|half, meet: &Meet, round: &mut Round| {
            let (u0, u1) = if half == 0 { (0, cut) } else { (cut, hs) };
            let nu = u1 - u0;
            // SAFETY: each half takes its own element of `halves`.
            let HalfScratch {
                xi: xi_h,
                gh,
                c_new,
                s_prev: s_buf,
                b_hh: b_half,
                packed: own_packed,
                cache,
                ..
            } = unsafe { &mut halves_s.get_mut(half, 1)[0] };
            cache.resize(if keep.is_some() { cw / hs * nu } else { 0 }, T::zero());
            let packed: &PackedRhs<T> = halves_packed.map_or(own_packed, |pk| &pk[half]);
            for k in 0..steps {
                let t = if self.reverse { steps - 1 - k } else { k };
                let n = match (lengths, order) {
                    (Some(l), Some(o)) => super::sorted::active(l, o, t),
                    _ => batch,
                };
                if n == 0 {
                    continue; // (both halves: no meeting either)
                }
                // s_{t-1} of the i-th running sequence b: s_0 at its first
                // step (t = 0 forward, its last position backward), else its
                // row of the previous step, which both halves finished
                // writing before the last meeting
                let prev_row = |i: usize| -> &[T] {
                    let b = seq(i);
                    let first = if self.reverse {
                        t + 1 == len(b)
                    } else {
                        t == 0
                    };
                    if first {
                        &h0[i * hs..(i + 1) * hs]
                    } else {
                        let tp = if self.reverse { t + 1 } else { t - 1 };
                        // SAFETY: the rows of step tp are written by no one from here on.
                        unsafe { out_s.get(row_at(tp * batch + b), hs) }
                    }
                };
                // s_{t-1} of the n running sequences: [n, H]
                let s: &[T] = if !in_place {
                    for i in 0..n {
                        s_buf[i * hs..(i + 1) * hs].copy_from_slice(prev_row(i));
                    }
                    &s_buf[..n * hs]
                } else if k == 0 {
                    &h0[..n * hs]
                } else {
                    let tp = if self.reverse { t + 1 } else { t - 1 };
                    // SAFETY: as prev_row; in place, the step's rows are one block.
                    unsafe { out_s.get(row_at(tp * batch), (n - 1) * stride + hs) }
                };
                // gh = W_hh s_{t-1} + b_hh over this half's rows, [n, G*nu]
                let gh = &mut gh[..n * ng * nu];
                if n == 1 {
                    self.half_step_one(p, (u0, u1), &s[..hs], gh, |gh| {
                        // with W_hh^T prepared, down this half's columns of
                        // it ([H, G*n], the same sums as the whole product's
                        // columns)
                        halves_t.is_some_and(|w_t| {
                            T::gemv_cols_acc(hs, ng * nu, &w_t[half], &s[..hs], gh, false)
                        })
                    });
                } else if p.b_hh.is_some() {
                    packed.gemm_bias(n, s, b_half, gh);
                } else {
                    gh.fill(T::zero());
                    packed.gemm_acc(n, s, gh);
                }
                for i in 0..n {
                    let r = t * batch + seq(i);
                    let xr = ids.map_or(r, |ids| ids[r]);
                    // SAFETY: only this half reads or writes its units of c.
                    let c_own: &mut [T] = if mem {
                        unsafe { c_s.get_mut(i * hs + u0, nu) }
                    } else {
                        &mut []
                    };
                    if let (Some((_, c_prev)), true) = (&keep, mem) {
                        // c_{t-1} of this half's units of row r, for BPTT
                        // SAFETY: this half's units of row r, written by it alone.
                        unsafe { c_prev.get_mut(r * hs + u0, nu) }.copy_from_slice(c_own);
                    }
                    // SAFETY: this half's units of row r, written by it alone;
                    // the other half reads row r only after the meeting below.
                    let ht = unsafe { out_s.get_mut(row_at(r) + u0, nu) };
                    self.half_row(
                        (u0, u1),
                        &xi[xr * gw..(xr + 1) * gw],
                        &gh[i * ng * nu..(i + 1) * ng * nu],
                        &prev_row(i)[u0..u1],
                        c_own,
                        ht,
                        (&mut xi_h[..], &mut c_new[..], &mut cache[..]),
                    );
                    if let Some((gates, _)) = &keep {
                        // the row's gate values, gate after gate: this
                        // half's units of each
                        for (q, part) in cache.chunks_exact(nu).enumerate() {
                            // SAFETY: this half's units of row r, written by it alone.
                            let at = r * cw + q * hs + u0;
                            unsafe { gates.get_mut(at, nu) }.copy_from_slice(part);
                        }
                    }
                }
                if k + 1 < steps {
                    meet.wait(round); // s_t whole for both
                }
            }
        });
        if ran {
            // the final state of each sequence, at its own end (s_0 for an
            // empty one), in batch order
            for b in 0..batch {
                if len(b) > 0 {
                    let t = if self.reverse { 0 } else { len(b) - 1 };
                    let at = row_at(t * batch + b);
                    h[b * hs..(b + 1) * hs].copy_from_slice(&out[at..at + hs]);
                }
            }
            if let (true, Some(order)) = (mem, order) {
                // the memories back from running order
                // SAFETY: different lengths: c_s is the sorted copy, not `c`;
                // no one writes it after the loop.
                super::sorted::scatter(unsafe { c_s.get(0, batch * hs) }, order, hs, c);
            }
        }
        ran
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::kernels::pair::tests::{two_cores, TURN};
    use crate::nn::cell::{Activation, CellKind};
    use crate::nn::layer::{Input, LayerScratch};

    /// Deterministic weights of `layer`: `[W_ih, W_hh, b_ih, b_hh]`
    /// (`W_hh` scaled by `2/sqrt(H)`, so the states neither die nor
    /// saturate over the tests' steps).
    pub(in crate::nn::layer) fn test_weights<T: Float>(layer: &Recurrent) -> [Vec<T>; 4] {
        let (gw, hidden) = (layer.gate_width(), layer.hidden);
        [
            pattern::<T>(gw * layer.input_size, 1, 0.5),
            pattern::<T>(gw * hidden, 2, 2.0 / (hidden as f64).sqrt()),
            pattern::<T>(gw, 3, 0.3),
            pattern::<T>(gw, 4, 0.3),
        ]
    }

    /// The layer parameters of [`test_weights`], with `b_hh` or without.
    pub(in crate::nn::layer) fn test_params<T>(
        w: &[Vec<T>; 4],
        two_biases: bool,
    ) -> LayerParams<'_, T> {
        LayerParams {
            w_ih: &w[0],
            w_hh: &w[1],
            b_ih: &w[2],
            b_hh: two_biases.then_some(w[3].as_slice()),
        }
    }

    /// A deterministic pattern in [-scale, scale].
    pub(in crate::nn::layer) fn pattern<T: Float>(n: usize, seed: usize, scale: f64) -> Vec<T> {
        (0..n)
            .map(|k| T::of(scale * ((k * 13 + seed * 7 + 1) as f64 * 0.618).sin()))
            .collect()
    }

    /// One layer over `batch` sequences, split and not: the same outputs,
    /// final state and memory to the bit (each unit goes through the same
    /// operations either way), for every cell, both directions, with and
    /// without `b_hh`, for `H` whose cut is uneven (37: units 0-15 and
    /// 16-36) or at the smallest split (16: 8 and 8), and for batches with
    /// each half's part of `W_hh^T` packed per call or prepared once
    /// (`prepared`), their outputs in rows of width `H` (read in place) or
    /// wider (`wide`: gathered, as a bidirectional layer's directions);
    /// with `lengths`, sequences of those lengths (the loop over the
    /// sequences still running).
    #[allow(clippy::too_many_arguments)]
    fn check<T: Float>(
        cell: CellKind,
        hidden: usize,
        reverse: bool,
        two_biases: bool,
        batch: usize,
        prepared: bool,
        wide: bool,
        lengths: Option<&[usize]>,
    ) {
        let (ni, steps) = (7, 23);
        let layer = Recurrent {
            cell,
            input_size: ni,
            hidden,
            reverse,
        };
        let mem = cell.has_memory();
        let weights = test_weights::<T>(&layer);
        let p = test_params(&weights, two_biases);
        let x = pattern::<T>(steps * batch * ni, 5, 1.0); // [T, B, I]
        let h0 = pattern::<T>(batch * hidden, 6, 0.5); // [B, H]
        let c0 = if mem {
            pattern::<T>(batch * hidden, 7, 0.5)
        } else {
            vec![]
        };
        // wide: the outputs go to columns 3..3+H of rows of width H + 5, as
        // a bidirectional layer's directions do
        let (stride, offset) = if wide { (hidden + 5, 3) } else { (hidden, 0) };
        let mut out_one = vec![T::zero(); steps * batch * stride];
        let (mut h_one, mut c_one) = (h0.clone(), c0.clone());
        let mut scratch = LayerScratch::default();
        crate::kernels::sequential(|| {
            layer.infer(
                &p,
                Input::Dense(&x),
                steps,
                batch,
                lengths,
                &mut h_one,
                &mut c_one,
                &mut out_one,
                stride,
                offset,
                &mut scratch,
                None,
            )
        });
        let mut xi = Vec::new();
        layer.input_projection_into(&p, Input::Dense(&x), steps * batch, &mut xi);
        let prep = layer.prepare(&p, false);
        let halves_packed = Some(&prep.halves_packed).filter(|_| prepared);
        let mut out_two = vec![T::zero(); steps * batch * stride];
        let (mut h_two, mut c_two) = (h0.clone(), c0.clone());
        let mut halves: [HalfScratch<T>; 2] = Default::default();
        let (mut order, mut h_sorted, mut c_sorted) = Default::default();
        let (h2, c2, o2) = (&mut h_two, &mut c_two, &mut out_two);
        let ran = match lengths {
            None => layer.infer_split(
                &p,
                &xi,
                None,
                steps,
                batch,
                h2,
                c2,
                o2,
                stride,
                offset,
                &mut halves,
                None,
                halves_packed,
            ),
            Some(l) => layer.infer_split_sorted(
                &p,
                &xi,
                None,
                steps,
                batch,
                l,
                (&mut order, &mut h_sorted, &mut c_sorted),
                h2,
                c2,
                o2,
                stride,
                offset,
                &mut halves,
                halves_packed,
            ),
        };
        let what = format!(
            "{cell:?} H={hidden} reverse={reverse} b_hh={two_biases} B={batch} \
             prepared={prepared} wide={wide} lengths={lengths:?}"
        );
        assert_eq!(ran, two_cores(), "{what}: the split ran (with two cores)");
        if !ran {
            return;
        }
        assert!(
            out_one.iter().any(|v| *v != T::zero()),
            "{what}: outputs written"
        );
        assert!(out_one == out_two, "{what}: outputs");
        assert!(h_one == h_two, "{what}: final state");
        assert!(c_one == c_two, "{what}: final memory");
    }

    /// Sequences of different lengths (one empty, one of a single step, so
    /// the last steps run one sequence): as [`check`], split and not.
    #[test]
    fn the_split_over_sequences_of_different_lengths_gives_the_same_bits_as_one_thread() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        if !super::super::step_packed::<f32>() {
            return; // the split's batches need the packed kernel (`units_split`)
        }
        let lengths = [17, 0, 23, 1, 4];
        let cells = [
            CellKind::Lstm,
            CellKind::Gru,
            CellKind::Elman {
                activation: Activation::Tanh,
            },
        ];
        for cell in cells {
            for (hidden, reverse, two) in [(100, false, true), (37, true, true), (16, true, false)]
            {
                for (prepared, wide) in [(false, true), (true, false)] {
                    check::<f32>(
                        cell,
                        hidden,
                        reverse,
                        two,
                        5,
                        prepared,
                        wide,
                        Some(&lengths),
                    );
                }
            }
        }
    }

    #[test]
    fn the_split_step_gives_the_same_bits_as_one_thread() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let cells = [
            CellKind::Lstm,
            CellKind::Gru,
            CellKind::Elman {
                activation: Activation::Tanh,
            },
            CellKind::Elman {
                activation: Activation::Relu,
            },
        ];
        for cell in cells {
            for (hidden, reverse, two) in [(100, false, true), (37, true, true), (16, false, false)]
            {
                check::<f32>(cell, hidden, reverse, two, 1, false, true, None);
                check::<f64>(cell, hidden, reverse, two, 1, false, true, None);
                // batches: where the one-thread loop runs the packed kernel
                // too (the split's batches need it: `units_split`)
                if super::super::step_packed::<f32>() {
                    for (batch, prepared, wide) in
                        [(3, false, true), (5, true, false), (2, true, true)]
                    {
                        check::<f32>(cell, hidden, reverse, two, batch, prepared, wide, None);
                    }
                }
            }
        }
    }
}
