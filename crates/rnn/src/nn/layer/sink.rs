//! What the layer's time loop keeps of each step: everything BPTT needs
//! when training ([`Keep`]), nothing when inferring ([`Discard`]).

use crate::Float;

/// What the time loop keeps of each step: everything BPTT needs when
/// training ([`Keep`]), nothing when inferring ([`Discard`], whose calls the
/// compiler removes).
pub(super) trait StepSink<T> {
    /// Whether gate values are kept.
    const KEEPS: bool;
    /// Before step `t`: the memory `c_{t-1}` `[B, H]` (empty unless the
    /// cell has one; the state `s_{t-1}` is the previous step's outputs, or
    /// the cache's `h0`).
    fn keep_state(&mut self, t: usize, c_prev: &[T]);
    /// Before the step of row `r = t*B + b`: that row's `c_{t-1}` `[H]`
    /// (empty unless the cell has one).
    fn keep_row(&mut self, r: usize, c_prev: &[T]);
    /// The buffer row `r = t*B + b`'s gate values go to:
    /// `[cache_width*H]`, or empty when nothing is kept (the cell's step
    /// then computes them without storing them).
    fn gates(&mut self, r: usize) -> &mut [T];
    /// The whole buffers, for a loop split by hidden units (`split.rs`):
    /// `None` when nothing is kept.
    fn split_keep(&mut self) -> Option<super::split::TrainKept<'_, T>>;
}

/// The training sink: writes into a [`super::LayerCache`]'s buffers.
pub(super) struct Keep<'a, T> {
    /// `[T, B, H]` (LSTM, else empty).
    pub(super) c_prev: &'a mut [T],
    /// `[T, B, cache_width*H]`.
    pub(super) gates: &'a mut [T],
    /// `B*H`.
    pub(super) bh: usize,
    /// `cache_width*H`.
    pub(super) cw: usize,
}

impl<T: Float> StepSink<T> for Keep<'_, T> {
    const KEEPS: bool = true;
    #[inline(always)]
    fn keep_state(&mut self, t: usize, c_prev: &[T]) {
        let bh = self.bh;
        if !c_prev.is_empty() {
            self.c_prev[t * bh..(t + 1) * bh].copy_from_slice(c_prev);
        }
    }
    #[inline(always)]
    fn keep_row(&mut self, r: usize, c_prev: &[T]) {
        let h = c_prev.len();
        if h > 0 {
            self.c_prev[r * h..(r + 1) * h].copy_from_slice(c_prev);
        }
    }
    #[inline(always)]
    fn gates(&mut self, r: usize) -> &mut [T] {
        &mut self.gates[r * self.cw..(r + 1) * self.cw]
    }
    fn split_keep(&mut self) -> Option<super::split::TrainKept<'_, T>> {
        Some(super::split::TrainKept {
            gates: self.gates,
            c_prev: self.c_prev,
        })
    }
}

/// The inference sink: keeps nothing.
pub(super) struct Discard;

impl<T> StepSink<T> for Discard {
    const KEEPS: bool = false;
    #[inline(always)]
    fn keep_state(&mut self, _t: usize, _c_prev: &[T]) {}
    #[inline(always)]
    fn keep_row(&mut self, _r: usize, _c_prev: &[T]) {}
    #[inline(always)]
    fn gates(&mut self, _r: usize) -> &mut [T] {
        &mut []
    }
    fn split_keep(&mut self) -> Option<super::split::TrainKept<'_, T>> {
        None
    }
}
