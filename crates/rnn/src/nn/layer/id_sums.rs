//! The input-side gradients of a layer whose inputs are class ids (one-hot
//! `x_t`), summed a block of rows at a time: BPTT hands over each chunk of
//! steps' `dE/dxi_t` rows while they are still in cache.
//!
//! For a one-hot `x_t` with id `k`, `U x_t` is column `k` of `U`, so
//! `dE/dU[:, k] += delta_t` and `dE/db = sum_t delta_t`. Summed after the
//! time loop, these re-read every row of `dE/dxi` (`[T*B, G*H]`, 10 MB for
//! the GRU at the bench's M shape) from memory; summed a chunk at a time they
//! read rows the cell has just written, and `dE/dxi` needs a buffer of one
//! chunk. (Summed at every step instead: the same speed at M, 5-8 % slower
//! training at S, whose steps have one row.)

use crate::kernels::{col_sum_acc, pool, transpose_into};
use crate::nn::layer::LayerGrads;
use crate::Float;

/// Sums of `dE/dxi` rows by id, added into a layer's gradients by
/// [`IdSums::finish`].
pub(super) struct IdSums<T> {
    /// Input classes `I`.
    ni: usize,
    /// Gate width `G*H`.
    gw: usize,
    /// `dE/dU^T` (`[I, G*H]`, row `k` the sum of the rows of id `k`) when the
    /// layer has more rows than classes; else `None` and each row goes
    /// straight into column `k` of `dE/dU` (`[G*H, I]`, a strided add).
    by_id: Option<Vec<T>>,
}

impl<T: Float> IdSums<T> {
    /// Sums for a layer of `ni` classes and gate width `gw` that will be
    /// given `rows` rows in all.
    pub(super) fn new(ni: usize, gw: usize, rows: usize) -> Self {
        Self {
            ni,
            gw,
            by_id: (rows > ni).then(|| pool::zeroed(ni * gw)),
        }
    }

    /// Adds rows of `dgi = dE/dxi` (`[N, G*H]`, `N` = `ids.len()`) of inputs
    /// `ids`, and `dgh = dE/dgh` (same shape; `None` when it is `dgi`).
    /// Biases from these rows here, or from the sums by id in
    /// [`IdSums::finish`].
    pub(super) fn add(
        &mut self,
        ids: &[usize],
        dgi: &[T],
        dgh: Option<&[T]>,
        g: &mut LayerGrads<T>,
    ) {
        let (ni, gw, rows) = (self.ni, self.gw, ids.len());
        let dgi = &dgi[..rows * gw];
        match self.by_id.as_mut() {
            Some(du_t) => {
                // row k of dU^T += delta_t   (x_t = one_hot(k))
                for (row, &id) in dgi.chunks_exact(gw).zip(ids) {
                    for (acc, &d) in du_t[id * gw..(id + 1) * gw].iter_mut().zip(row) {
                        *acc += d;
                    }
                }
                // dE/db_hh = sum_t dE/dgh_t, when it is not dE/dxi_t (then
                // it comes out of the sums by id, as dE/db_ih does)
                if let (Some(gb), Some(dgh)) = (g.b_hh.as_deref_mut(), dgh) {
                    col_sum_acc(rows, gw, dgh, gb);
                }
            }
            None => {
                // dU[:, k] += delta_t   (x_t = one_hot(k)), few rows: in place
                for (row, &id) in dgi.chunks_exact(gw).zip(ids) {
                    for (gi, &d) in row.iter().enumerate() {
                        g.w_ih[gi * ni + id] += d;
                    }
                }
                // dE/db_ih = sum_t delta_t; dE/db_hh = sum_t dE/dgh_t
                col_sum_acc(rows, gw, dgi, g.b_ih);
                if let Some(gb) = g.b_hh.as_deref_mut() {
                    col_sum_acc(rows, gw, dgh.unwrap_or(dgi), gb);
                }
            }
        }
    }

    /// Adds what the sums by id give: `dE/dU`, `dE/db_ih` (the sum of the
    /// rows of `dU^T`: `I` rows read, not `T*B`) and `dE/db_hh` when the
    /// cell's `dE/dgh` is its `dE/dxi` (`separate` false).
    pub(super) fn finish(self, separate: bool, g: &mut LayerGrads<T>) {
        let Some(du_t) = self.by_id else {
            return;
        };
        let (ni, gw) = (self.ni, self.gw);
        col_sum_acc(ni, gw, &du_t, g.b_ih);
        if let (Some(gb), false) = (g.b_hh.as_deref_mut(), separate) {
            col_sum_acc(ni, gw, &du_t, gb);
        }
        let mut du = pool::reused(0);
        transpose_into(&du_t, ni, gw, &mut du); // [G*H, I]
        for (acc, &d) in g.w_ih.iter_mut().zip(&du) {
            *acc += d;
        }
        pool::give_back(du);
        pool::give_back(du_t);
    }
}
