//! One direction of one recurrent layer: the forward loop over time here and
//! BPTT in `backward.rs`, the same loops for every cell kind.
//!
//! Shapes: `T` steps, `B` sequences, `I` inputs, `H` hidden units, `G` gate
//! blocks of the cell (1 Elman, 4 LSTM, 3 GRU). All buffers are row-major and
//! in time order, whichever direction the layer runs.
//!
//! Variable lengths: position `t` of sequence `b` is valid when
//! `t < lengths[b]`. An invalid position leaves the state unchanged (a forward
//! layer carries its final state past the end, a reverse layer keeps its
//! initial state until it reaches the sequence's last token), outputs zero and
//! receives no gradient. So padding never changes a result.
//!
//! One loop per batch shape, each serving training (the `Keep` sink) and
//! inference (`Discard`) alike: the loop below for batches whose sequences
//! all run `T` steps, and `sorted.rs` for sequences of different lengths,
//! whose per-step work shrinks to the sequences still running. The ragged
//! loop would give the same numbers on a full batch, but at a cost the full
//! batch need not pay: its BPTT copies every row's `delta_t` and `s_{t-1}`
//! into a ring for `dW_hh` (the full loop multiplies a chunk of its rows at
//! a time where they lie), and its forward cannot read `s_{t-1}` in place
//! from the previous step's outputs.

mod backward;
mod id_sums;
mod prepared;
mod sink;
mod sorted;
mod split;
mod split_bptt;
mod split_rule;

use crate::kernels::{gemm, pool, shared, transpose_into, PackedRhs};
use crate::nn::cell::CellKind;
use crate::Float;
pub(crate) use prepared::LayerPrep;
use sink::{Discard, Keep, StepSink};

/// The input of a layer: dense vectors or class ids (one-hot vectors, never
/// materialised: `W_ih x_t` for a one-hot `x_t` is a column of `W_ih`).
#[derive(Clone, Copy, Debug)]
pub enum Input<'a, T> {
    /// `[T, B, I]` row-major.
    Dense(&'a [T]),
    /// `[T, B]` class ids, each `< I`.
    Ids(&'a [usize]),
}

/// The parameters of one direction of one layer, borrowed from a model.
#[derive(Clone, Copy, Debug)]
pub struct LayerParams<'a, T> {
    /// `weight_ih` (the seed's U, gates stacked): `[G*H, I]`.
    pub w_ih: &'a [T],
    /// `weight_hh` (the seed's W): `[G*H, H]`.
    pub w_hh: &'a [T],
    /// `bias_ih` (the seed's b when there is one bias): `[G*H]`.
    pub b_ih: &'a [T],
    /// `bias_hh`: `[G*H]`; `None` for the seed's single-bias model.
    pub b_hh: Option<&'a [T]>,
}

/// Gradients of one direction of one layer, same shapes as [`LayerParams`];
/// backward *adds* into them.
#[derive(Debug)]
pub struct LayerGrads<'a, T> {
    /// dE/d weight_ih: `[G*H, I]`.
    pub w_ih: &'a mut [T],
    /// dE/d weight_hh: `[G*H, H]`.
    pub w_hh: &'a mut [T],
    /// dE/d bias_ih: `[G*H]`.
    pub b_ih: &'a mut [T],
    /// dE/d bias_hh: `[G*H]`, when the layer has that bias.
    pub b_hh: Option<&'a mut [T]>,
}

/// What the forward pass keeps for BPTT.
#[derive(Clone, Debug, Default)]
pub struct LayerCache<T> {
    /// Outputs `h_t`: `[T, B, H]`, zero past each sequence's length.
    pub h: Vec<T>,
    /// The initial state `s_0` each sequence started from: `[B, H]`. The
    /// state entering step `t` is the output of the step before it (`h` at
    /// `t-1`, or at `t+1` in a reverse layer), or this at a sequence's first
    /// step (`t = 0`, or its last valid step in a reverse layer): kept once,
    /// not a second `[T, B, H]` copy of the outputs.
    pub h0: Vec<T>,
    /// The memory entering step `t` (LSTM only, else empty): `[T, B, H]`.
    pub c_prev: Vec<T>,
    /// Gate activations the cell needs backward: `[T, B, cache_width*H]`
    /// (unspecified past each sequence's length).
    pub gates: Vec<T>,
    /// Final state of each sequence (at its own end): `[B, H]`.
    pub h_n: Vec<T>,
    /// Final memory (LSTM only, else empty): `[B, H]`.
    pub c_n: Vec<T>,
}

impl<T> LayerCache<T> {
    /// What BPTT reads of row `r = t*B + b` (`batch` = B) of a sequence of
    /// `len` steps: its gate values `[cache_width*H]` (`cw` wide), `s_{t-1}`
    /// (the output of the step before, `t-1` or `t+1` when `reverse`, or the
    /// initial state at the sequence's first step: `t = 0`, or `t = len-1`
    /// reversed), `c_{t-1}` (empty unless the cell has a memory) and `h_t`,
    /// each `[H]`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn row(
        &self,
        t: usize,
        b: usize,
        batch: usize,
        h: usize,
        cw: usize,
        reverse: bool,
        len: usize,
    ) -> (&[T], &[T], &[T], &[T]) {
        let r = t * batch + b;
        let first = if reverse { t + 1 == len } else { t == 0 };
        let c_prev: &[T] = if self.c_prev.is_empty() {
            &[]
        } else {
            &self.c_prev[r * h..(r + 1) * h]
        };
        let h_prev: &[T] = if first {
            &self.h0[b * h..(b + 1) * h]
        } else {
            // the row of the same sequence one step back in the loop's order
            let q = if reverse { r + batch } else { r - batch };
            &self.h[q * h..(q + 1) * h]
        };
        (
            &self.gates[r * cw..(r + 1) * cw],
            h_prev,
            c_prev,
            &self.h[r * h..(r + 1) * h],
        )
    }
}

/// Buffers of [`Recurrent::infer`], kept between calls so inference does not
/// allocate once they have grown to the largest shape seen.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerScratch<T> {
    /// `W_ih x_t + b_ih`: `[T, B, G*H]`.
    xi: Vec<T>,
    /// `W_hh h_{t-1} + b_hh` of one step: `[B, G*H]`.
    gh: Vec<T>,
    /// `W_hh^T` (batches only, for faer's GEMM): `[H, G*H]`.
    w_hh_t: Vec<T>,
    /// `W_hh^T` packed for the step product (batches only, when
    /// [`step_packed`] chooses it).
    packed: PackedRhs<T>,
    /// The new memory of one row (LSTM): `[H]`.
    c_new: Vec<T>,
    /// Variable lengths: the sequences by decreasing length: `[B]`.
    order: Vec<usize>,
    /// Variable lengths: the state in that order: `[B, H]`.
    h_sorted: Vec<T>,
    /// Variable lengths: the memory in that order (LSTM): `[B, H]`.
    c_sorted: Vec<T>,
    /// Batch-1 inference split by hidden units: each thread's buffers.
    halves: [split::HalfScratch<T>; 2],
}

/// One direction of one recurrent layer.
#[derive(Clone, Copy, Debug)]
pub struct Recurrent {
    /// The cell run at every step.
    pub cell: CellKind,
    /// `I`, the size of each input vector (or the number of classes for ids).
    pub input_size: usize,
    /// `H`.
    pub hidden: usize,
    /// Whether the layer runs from the last step to the first.
    pub reverse: bool,
}

/// Whether the step products of a batch (more than one row) run on `W_hh`
/// packed once per call ([`PackedRhs`]) rather than faer's GEMM, which packs
/// it again at every step. `RNN_STEP_KERNEL=faer|packed` overrides the
/// choice (for measuring one against the other).
pub(crate) fn step_packed<T: Float>() -> bool {
    static CHOICE: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
    let forced = *CHOICE.get_or_init(|| match std::env::var("RNN_STEP_KERNEL").as_deref() {
        Ok("faer") => Some(false),
        Ok("packed") => Some(true),
        _ => None,
    });
    T::packed_fast() && forced.unwrap_or(true)
}

/// `W_hh` packed for the step products as [`PackedRhs::pack`]`(w_hh, k, n,
/// trans)` packs it: the copy packed once for every part of a split batch
/// (`kernels::shared`, by `Model::prepack`), else packed into `own`.
fn packed_w_hh<'a, T: Float>(
    w_hh: &'a [T],
    k: usize,
    n: usize,
    trans: bool,
    own: &'a mut PackedRhs<T>,
) -> &'a PackedRhs<T> {
    match shared::find(w_hh, trans) {
        Some(found) => found,
        None => {
            own.pack(w_hh, k, n, trans);
            own
        }
    }
}

impl Recurrent {
    /// `G*H`, the width of the stacked gates.
    fn gate_width(&self) -> usize {
        self.cell.gates() * self.hidden
    }

    /// `xi = W_ih x_t + b_ih` for all `T*B` rows at once, into `xi`, resized
    /// to `[T*B, G*H]` (every element is overwritten). For ids with more rows
    /// than classes the loop reads a table instead (see [`Recurrent::run`]).
    fn input_projection_into<T: Float>(
        &self,
        p: &LayerParams<T>,
        x: Input<T>,
        rows: usize,
        xi: &mut Vec<T>,
    ) {
        let (gw, ni) = (self.gate_width(), self.input_size);
        xi.resize(rows * gw, T::zero());
        let xi = &mut xi[..rows * gw];
        match x {
            // xi = X W_ih^T   [T*B, I] x [I, G*H]
            Input::Dense(x) => gemm(rows, gw, ni, x, false, p.w_ih, true, xi, false),
            // U x_t for one-hot x_t is column id of U: gather it
            Input::Ids(ids) => {
                for (row, &id) in xi.chunks_exact_mut(gw).zip(ids) {
                    for (g, v) in row.iter_mut().enumerate() {
                        *v = p.w_ih[g * ni + id];
                    }
                }
            }
        }
        for row in xi.chunks_exact_mut(gw) {
            for (v, &b) in row.iter_mut().zip(p.b_ih) {
                *v += b; // + b_ih
            }
        }
    }

    /// The table `U^T + b_ih` into `t`, resized to `[I, G*H]`: its row `id`
    /// is `W_ih x_t + b_ih` for a one-hot `x_t` of class `id`, the same sums
    /// as [`Recurrent::input_projection_into`]'s gather.
    fn ids_table_into<T: Float>(&self, p: &LayerParams<T>, t: &mut Vec<T>) {
        let gw = self.gate_width();
        transpose_into(p.w_ih, gw, self.input_size, t); // [I, G*H]
        for row in t.chunks_exact_mut(gw) {
            for (v, &b) in row.iter_mut().zip(p.b_ih) {
                *v += b; // + b_ih
            }
        }
    }

    /// Runs the layer over `steps` x `batch` inputs and keeps what BPTT
    /// needs.
    ///
    /// An unchecked kernel: the shapes are not checked (a wrong one panics or
    /// reads past a sequence); [`crate::Model`]'s entry points check them
    /// before calling it.
    ///
    /// `x`: `[T, B, I]` or ids `[T, B]`, each id `< I`; `h0`, `c0`: `[B, H]`
    /// (zeros when `None`); `lengths`: `[B]`, each `<= T` (all `T` when
    /// `None`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Float>(
        &self,
        p: &LayerParams<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        h0: Option<&[T]>,
        c0: Option<&[T]>,
        lengths: Option<&[usize]>,
    ) -> LayerCache<T> {
        let h = self.hidden;
        let cw = self.cell.cache_width() * h;
        let mem = self.cell.has_memory();
        let bh = batch * h;
        let mem_len = if mem { steps * bh } else { 0 };
        // the large buffers from this thread's free list (`pool`: given back
        // by `Forward::give_back` once BPTT is done), not zeroed first: the
        // loop writes every row of them but the outputs and gate values of
        // padding positions, and only the outputs are read there (zeroed
        // below; BPTT and the gate statistics of `flow` read valid rows)
        let take = pool::reused::<T>;
        let h0 = h0.map_or_else(|| vec![T::zero(); bh], |s| s[..bh].to_vec()); // [B, H]
        let mut out = LayerCache {
            h: take(steps * bh),             // [T, B, H], zero at padding
            c_prev: take(mem_len),           // [T, B, H] (LSTM)
            gates: take(steps * batch * cw), // [T, B, cache_width*H]
            h0: h0.clone(),                  // [B, H]
            h_n: h0,                         // [B, H]: s_0, then the final state
            c_n: if mem {
                c0.map_or_else(|| vec![T::zero(); bh], |s| s[..bh].to_vec()) // [B, H]
            } else {
                Vec::new()
            },
        };
        if let Some(l) = lengths {
            sorted::zero_padding(&mut out.h, steps, batch, l, h);
        }
        let LayerCache {
            h: hs,
            c_prev,
            gates,
            h_n,
            c_n,
            ..
        } = &mut out;
        let mut keep = Keep {
            c_prev,
            gates,
            bh,
            cw,
        };
        // the outputs are the rows of `h` ([T, B, H]: stride H, offset 0)
        let mut scratch = pool::take::<LayerScratch<T>>(); // as an earlier call left it
        self.run(
            p,
            x,
            steps,
            batch,
            lengths,
            h_n,
            c_n,
            hs,
            h,
            0,
            &mut scratch,
            &mut keep,
            None,
        );
        // kept for the next call, but for the input projection (`[T, B, G*H]`
        // for dense inputs): that goes to the buffers BPTT takes its
        // `dE/dxi` from, so holding it does not raise the peak memory
        pool::give_back(std::mem::take(&mut scratch.xi));
        pool::keep(scratch);
        out
    }

    /// The forward loop for inference only: nothing is kept for BPTT, every
    /// buffer comes from `scratch` (reused across calls) and the outputs go
    /// straight into the caller's buffer. The same loop as
    /// [`Recurrent::forward`] (with a sink that keeps nothing), so the outputs
    /// are the same numbers.
    ///
    /// `x`: `[T, B, I]` or ids `[T, B]`; `lengths`: `[B]`, each `<= T` (all
    /// `T` when `None`). `h`: `[B, H]`, the initial state on entry and the
    /// final state (at each sequence's own end) on return; `c` likewise for
    /// the LSTM's memory (empty for the other cells). `h_t` of row `r = t*B +
    /// b` is written to `out[r*stride + offset..][..H]`; nothing is written at
    /// padding positions (the caller zeroes `out` when it wants zeros there).
    /// `prep`: this layer's weights laid out once ([`crate::Prepared`]), read
    /// instead of the per-call layouts (not for padded batches).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn infer<T: Float>(
        &self,
        p: &LayerParams<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        stride: usize,
        offset: usize,
        scratch: &mut LayerScratch<T>,
        prep: Option<&LayerPrep<T>>,
    ) {
        self.run(
            p,
            x,
            steps,
            batch,
            lengths,
            h,
            c,
            out,
            stride,
            offset,
            scratch,
            &mut Discard,
            prep,
        );
    }

    /// The time loop of [`Recurrent::forward`] and [`Recurrent::infer`]:
    ///
    /// ```text
    /// xi_t = W_ih x_t + b_ih                       (all steps at once)
    /// gh_t = W_hh s_{t-1} + b_hh                   (one product per step)
    /// s_t, c_t = cell(xi_t, gh_t, s_{t-1}, c_{t-1})  (row by row)
    /// ```
    ///
    /// Arguments as [`Recurrent::infer`]; `sink` gets s_{t-1} and c_{t-1}
    /// before each step and gives the buffer each row's gate values go to
    /// ([`Keep`] for BPTT, [`Discard`] for inference).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run<T: Float, S: StepSink<T>>(
        &self,
        p: &LayerParams<T>,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
        h: &mut [T],
        c: &mut [T],
        out: &mut [T],
        stride: usize,
        offset: usize,
        scratch: &mut LayerScratch<T>,
        sink: &mut S,
        prep: Option<&LayerPrep<T>>,
    ) {
        let (hs, gw, ni) = (self.hidden, self.gate_width(), self.input_size);
        let mem = self.cell.has_memory();
        let rows = steps * batch;
        let bh = batch * hs;
        // each half's part of W_hh^T for the split by units, as prepared
        let halves_packed = prep
            .filter(|_| !S::KEEPS)
            .map(|pp| &pp.halves_packed)
            .filter(|pk| pk[0].n() > 0);
        // prepared weights (inference of batches without padding only)
        let prep = prep.filter(|_| !S::KEEPS && lengths.is_none());
        let prepared_table = match (prep, x) {
            (Some(pp), Input::Ids(_)) if !pp.table.is_empty() => Some(pp.table.as_slice()),
            _ => None,
        };
        // With more rows than classes, or the table prepared, the rows of xi
        // for ids are rows of the table U^T + b_ih, read in place instead of
        // copied out row by row.
        let table = matches!(x, Input::Ids(_)) && (rows > ni || prepared_table.is_some());
        match (prepared_table, table) {
            (Some(_), _) => {} // read from the prepared table below
            (None, true) => self.ids_table_into(p, &mut scratch.xi), // [I, G*H]
            (None, false) => self.input_projection_into(p, x, rows, &mut scratch.xi), // [T, B, G*H]
        }
        if let Some(l) = lengths {
            // variable lengths: each step's work covers only the sequences
            // still running (see `sorted.rs`)
            let table_ids = match x {
                Input::Ids(ids) if table => Some(ids),
                _ => None,
            };
            // inference of a few sequences over a large layer: the step
            // split by hidden units across two threads (see `split.rs`)
            if !S::KEEPS && self.units_split_sorted::<T>(batch, steps) {
                let LayerScratch {
                    xi,
                    halves,
                    order,
                    h_sorted,
                    c_sorted,
                    ..
                } = &mut *scratch;
                if self.infer_split_sorted(
                    p,
                    xi,
                    table_ids,
                    steps,
                    batch,
                    l,
                    (order, h_sorted, c_sorted),
                    h,
                    c,
                    out,
                    stride,
                    offset,
                    halves,
                    halves_packed,
                ) {
                    return;
                }
            }
            return self.run_sorted(
                p, table_ids, steps, batch, l, h, c, out, stride, offset, scratch, sink,
            );
        }
        // Training a few sequences over a layer larger than L2: the step
        // split by hidden units across two threads as below, keeping what
        // BPTT reads (`split.rs`; BPTT split the same way, `split_bptt.rs`)
        if S::KEEPS && stride == hs && self.units_split_train::<T>(batch, steps) {
            let ids = match x {
                Input::Ids(ids) if table => Some(ids),
                _ => None,
            };
            if let Some(keep) = sink.split_keep() {
                let LayerScratch { xi, halves, .. } = &mut *scratch;
                if self.forward_split(p, xi, ids, steps, batch, h, c, out, keep, halves) {
                    return;
                }
            }
        }
        // One sequence, or a few over a layer larger than L2, inference
        // only: the step split by hidden units across this thread and the
        // partner thread (see `split.rs`, `Recurrent::units_split`), when
        // threads were asked for, no other split runs, W_hh is too large for
        // L1 and there are steps enough to pay for the hand-over (about
        // 1.5 us a call: one step per call, as in streaming, is slower split).
        if !S::KEEPS && self.units_split::<T>(batch, steps) {
            let ids = match x {
                Input::Ids(ids) if table => Some(ids),
                _ => None,
            };
            let LayerScratch { xi, halves, .. } = scratch;
            let xi: &[T] = prepared_table.unwrap_or(xi);
            let halves_t = prep.map(|pp| &pp.halves_t).filter(|t| !t[0].is_empty());
            if self.infer_split(
                p,
                xi,
                ids,
                steps,
                batch,
                h,
                c,
                out,
                stride,
                offset,
                halves,
                halves_t,
                halves_packed,
            ) {
                return;
            }
        }
        let xi_at = |r: usize| match x {
            Input::Ids(ids) if table => ids[r],
            _ => r,
        };
        let LayerScratch {
            xi,
            gh,
            w_hh_t,
            c_new,
            packed,
            ..
        } = scratch;
        let xi: &[T] = prepared_table.unwrap_or(xi);
        // batch 1 with W_hh^T prepared: the step product read down its
        // columns (`kernels/cols.rs`)
        let by_cols = match prep {
            Some(pp) if batch == 1 && !pp.w_hh_t.is_empty() => Some(pp.w_hh_t.as_slice()),
            _ => None,
        };
        gh.resize(batch * gw, T::zero()); // [B, G*H]
        c_new.resize(if mem { hs } else { 0 }, T::zero()); // [H]

        // For batches, W transposed once per call, so the step GEMM has no
        // transposed operand (measured ~8% faster at M and L). Batch 1 reads
        // W as stored: a matrix-vector product, `Float::gemv_acc`.
        let pk = batch > 1 && step_packed::<T>();
        let packed: &PackedRhs<T> = match prep {
            // laid out once (`Prepared`)
            Some(pp) if pk && pp.packed.k() == hs && pp.packed.n() == gw => &pp.packed,
            _ if pk => packed_w_hh(p.w_hh, hs, gw, true, packed), // W_hh^T [H, G*H], packed
            _ => packed,
        };
        if !pk && batch > 1 {
            transpose_into(p.w_hh, gw, hs, w_hh_t); // [H, G*H]
        }
        // Without padding, when the previous step's outputs are one
        // contiguous [B, H] block (one sequence, or one direction, as in
        // training), they are s_{t-1} itself: read in place, and `h` written
        // once at the end (BPTT reads s_{t-1} there too: `LayerCache::row`).
        let in_place = batch == 1 || stride == hs;
        let span = (batch - 1) * stride + hs; // of one step's outputs, from `offset`
        let step_len = batch * stride; // [B, stride]
        for k in 0..steps {
            let t = if self.reverse { steps - 1 - k } else { k };
            // the previous step's outputs and this step's, as disjoint slices
            let (prev, cur): (&[T], &mut [T]) = if !in_place || k == 0 {
                (&[], &mut out[t * step_len..(t + 1) * step_len])
            } else if self.reverse {
                let (lo, hi) = out.split_at_mut((t + 1) * step_len);
                (&hi[..step_len], &mut lo[t * step_len..])
            } else {
                let (lo, hi) = out.split_at_mut(t * step_len);
                (&lo[(t - 1) * step_len..], &mut hi[..step_len])
            };
            // s_{t-1}: [B, H] read in place (rows `stride` apart: B = 1 or
            // stride = H, so one contiguous block) or from `h`
            let s_prev: &[T] = if prev.is_empty() {
                h
            } else {
                &prev[offset..offset + span]
            };
            // remember c_{t-1} for BPTT (inference: nothing; s_{t-1} is
            // the previous step's outputs, or the kept s_0)
            sink.keep_state(t, c);
            // gh = W s_{t-1} + b_hh = s_{t-1} W^T + b_hh   [B, H] x [H, G*H]
            match p.b_hh {
                // b_hh added in the packed product's tiles (not copied first)
                Some(_) if batch > 1 && pk => {}
                Some(bhh) => gh.chunks_exact_mut(gw).for_each(|r| r.copy_from_slice(bhh)),
                None => gh.fill(T::zero()),
            }
            if batch == 1 {
                // gh += s_{t-1} W^T, down the columns of a prepared W^T
                // [H] x [H, G*H]; else W s_{t-1} row by row
                let s = &s_prev[..hs];
                // (the panels of W^T in the other order every other step:
                // the step starts on the panel the last one ended on, still
                // in L1; W_hh is 160 KB at the LSTM's H = 100, in L2)
                let from_last = k % 2 == 1;
                if !by_cols.is_some_and(|w_t| T::gemv_cols_acc(hs, gw, w_t, s, gh, from_last)) {
                    T::gemv_acc(gw, hs, p.w_hh, s, gh);
                }
            } else if pk {
                match p.b_hh {
                    Some(bhh) => packed.gemm_bias(batch, &s_prev[..bh], bhh, gh),
                    None => packed.gemm_acc(batch, &s_prev[..bh], gh),
                }
            } else {
                gemm(batch, gw, hs, s_prev, false, w_hh_t, false, gh, true);
            }
            for b in 0..batch {
                let r = t * batch + b;
                let ht = &mut cur[b * stride + offset..b * stride + offset + hs];
                let cp: &[T] = if mem { &c[b * hs..(b + 1) * hs] } else { &[] };
                let hp: &[T] = if prev.is_empty() {
                    &h[b * hs..(b + 1) * hs]
                } else {
                    &prev[b * stride + offset..b * stride + offset + hs]
                };
                // h_t (and c_t) of row r; gate values to the sink's buffer
                self.cell.forward_row(
                    &xi[xi_at(r) * gw..(xi_at(r) + 1) * gw],
                    &gh[b * gw..(b + 1) * gw],
                    hp,
                    cp,
                    ht,
                    c_new,
                    sink.gates(r),
                );
                if !in_place {
                    h[b * hs..(b + 1) * hs].copy_from_slice(ht);
                }
                if mem {
                    c[b * hs..(b + 1) * hs].copy_from_slice(c_new);
                }
            }
        }
        if in_place && steps > 0 {
            // the final state: the outputs of the last step run
            let t = if self.reverse { 0 } else { steps - 1 };
            for b in 0..batch {
                let at = t * step_len + b * stride + offset;
                h[b * hs..(b + 1) * hs].copy_from_slice(&out[at..at + hs]);
            }
        }
    }
}
