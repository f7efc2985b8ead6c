//! When a layer's step is split by hidden units across two threads
//! (`split.rs` for inference and the training forward, `split_bptt.rs` for
//! BPTT) rather than a batch by sequences, or not at all: the thresholds,
//! each with what it was read off.

use super::Recurrent;
use crate::Float;

/// The split is tried when `W_hh` has at least this many bytes (64 KiB,
/// above the 48 KiB L1 of the machines measured): a matrix that fits L1 is
/// read at L1 speed by one thread, and the barrier (0.26-0.41 us per step,
/// BENCHMARKS.md, twelfth session) would cost more than the half saved.
pub(crate) const SPLIT_MIN_BYTES: usize = 64 << 10;

/// The split is tried for calls of at least this many steps: handing a call
/// to the partner and taking it back costs about 1.5 us (`rnn bench`'s
/// streaming figure, one step per call, went from 3.7-4.0 to 4.4-5.9 us per
/// token split), a few steps' gain.
pub(crate) const SPLIT_MIN_STEPS: usize = 8;

/// The largest batch whose inference is split by hidden units rather than
/// by sequences, when `W_hh` is larger than a core's L2 ([`units_split`]);
/// `RNN_UNITS_SPLIT_MAX_BATCH` overrides it (0: batches are never split by
/// units), for measuring.
///
/// Measured (BENCHMARKS.md, forty-fifth session): at two threads, `T` = 50,
/// the split by units against the split by sequences gave 1.6-1.9x at `B` =
/// 8 for LSTM and GRU at `H` = 512 and 1024, 1.06-1.20x at `B` = 32, and
/// 0.88-1.06x at 64; with `W_hh` within L2 (`H` = 256, or Elman at 512) it
/// lost at `B` = 16 and above (0.71-0.88x).
///
/// [`units_split`]: Recurrent::units_split
pub(crate) fn split_max_batch() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("RNN_UNITS_SPLIT_MAX_BATCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32)
    })
}

/// Training of one sequence is split by hidden units when its steps times
/// the bytes of `W_hh` reach this (24 MiB: 100 steps of a 256 KiB `W_hh`,
/// 25 of 1 MiB). Measured (BENCHMARKS.md, forty-sixth session; two threads,
/// split against not, train tok/s at `T` = 100 and 25): LSTM `H` = 128
/// (256 KiB) 1.21x and 0.85x, 256 (1 MiB) 1.48x and 1.44x, 384 2.9x and
/// 2.3x; GRU 128 (192 KiB) 1.04x and 0.70x, 256 1.28x and 1.43x; Elman 256
/// (256 KiB) 1.23x and 0.84x, 384 1.36x and 0.96x; below 256 KiB it lost
/// at both lengths but for GRU 192 at 100 steps (1.22x).
pub(crate) const SPLIT_TRAIN_ONE_MIN: usize = 24 << 20;

/// The largest batch whose training is split by hidden units rather than
/// by sequences ([`Recurrent::units_split_train`]), for a layer whose
/// `W_hh` has `w_hh_bytes` (above a core's L2): 16 sequences, 32 when
/// `W_hh` is more than four times L2. `RNN_UNITS_SPLIT_TRAIN_MAX_BATCH`
/// overrides it (0: never), for measuring.
///
/// Measured (BENCHMARKS.md, forty-sixth session; two threads, `T` = 50,
/// L2 2 MiB): training split by units against split by sequences gave
/// 1.4-1.6x at `B` = 8 (LSTM `H` = 512 and 1024, GRU and Elman 1024),
/// 1.06-1.23x at 16; at 32, 1.09-1.13x where `W_hh` is 12-16 MiB (GRU and
/// LSTM at 1024) but 0.87-0.95x for the LSTM at 512 (4 MiB); at 64 it lost
/// (0.81-1.00x).
pub(crate) fn split_train_max_batch(w_hh_bytes: usize) -> usize {
    static MAX: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let forced = *MAX.get_or_init(|| {
        std::env::var("RNN_UNITS_SPLIT_TRAIN_MAX_BATCH")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    forced.unwrap_or(if w_hh_bytes > 4 * crate::kernels::l2_bytes() {
        32
    } else {
        16
    })
}

impl Recurrent {
    /// Where the units are cut in two: half of `H` rounded down to a
    /// multiple of 8 (so the first half's rows of each gate go through the
    /// product kernel in whole groups of eight), or `None` when `H` is too
    /// small to split.
    pub(crate) fn split_cut(&self) -> Option<usize> {
        let cut = self.hidden / 2 / 8 * 8;
        (cut >= 8).then_some(cut)
    }

    /// Whether batch-1 inference of this layer is worth splitting (see
    /// [`SPLIT_MIN_BYTES`]).
    pub(crate) fn split_worth<T: Float>(&self) -> bool {
        self.split_cut().is_some()
            && self.gate_width() * self.hidden * size_of::<T>() >= SPLIT_MIN_BYTES
    }

    /// Whether inference of `batch` sequences of `steps` steps (no padding)
    /// splits the step by hidden units across two threads: threads were
    /// asked for and no other split runs, `W_hh` is worth it
    /// ([`Recurrent::split_worth`]) and the call has steps enough to pay for
    /// the hand-over ([`SPLIT_MIN_STEPS`]); a batch of more than one sequence
    /// also needs exactly two threads (the split uses two; with more, the
    /// split by sequences uses them all, and which is faster was not
    /// measured), the packed step kernel, `W_hh` larger than a core's L2
    /// ([`crate::kernels::l2_bytes`]: split by sequences, each thread would
    /// read all of it from L3 at every step; split by units, half) and at
    /// most [`split_max_batch`] sequences.
    pub(crate) fn units_split<T: Float>(&self, batch: usize, steps: usize) -> bool {
        steps >= SPLIT_MIN_STEPS
            && crate::kernels::threads() > 1
            && !crate::kernels::in_sequential()
            && self.split_worth::<T>()
            && (batch == 1 || self.batch_split_fits::<T>(batch, split_max_batch()))
    }

    /// The conditions of a batch of more than one sequence split by units:
    /// exactly two threads, the packed step kernel, `W_hh` larger than a
    /// core's L2 and at most `max` sequences.
    fn batch_split_fits<T: Float>(&self, batch: usize, max: usize) -> bool {
        let w_hh_bytes = self.gate_width() * self.hidden * size_of::<T>();
        crate::kernels::threads() == 2
            && super::step_packed::<T>()
            && w_hh_bytes > crate::kernels::l2_bytes()
            && batch <= max
    }

    /// Whether training (the forward pass that keeps what BPTT needs, and
    /// BPTT) of `batch` sequences of `steps` steps each, no padding, splits
    /// each step by hidden units across two threads (`split.rs`,
    /// `split_bptt.rs`): as [`Recurrent::units_split`] for a batch, with at
    /// most [`split_train_max_batch`] sequences; one sequence when `steps`
    /// times the bytes of `W_hh` reach [`SPLIT_TRAIN_ONE_MIN`] (and two
    /// threads run, with the packed kernel).
    pub(crate) fn units_split_train<T: Float>(&self, batch: usize, steps: usize) -> bool {
        let w_hh_bytes = self.gate_width() * self.hidden * size_of::<T>();
        let fits = match batch {
            0 => false,
            // one sequence: the time saved per step grows with W_hh, the
            // cost per call (handing over, packing) does not
            1 => {
                crate::kernels::threads() == 2
                    && super::step_packed::<T>()
                    && steps.saturating_mul(w_hh_bytes) >= SPLIT_TRAIN_ONE_MIN
                    && split_train_max_batch(w_hh_bytes) > 0
            }
            _ => self.batch_split_fits::<T>(batch, split_train_max_batch(w_hh_bytes)),
        };
        fits && steps >= SPLIT_MIN_STEPS
            && crate::kernels::threads() > 1
            && !crate::kernels::in_sequential()
            && self.split_worth::<T>()
    }

    /// Whether inference of `batch` sequences of different lengths over
    /// `steps` steps splits each step by hidden units (the loop of
    /// [`Recurrent::infer_split_sorted`]): as [`Recurrent::units_split`],
    /// where a gated cell's batch counts half (the sequences running at a
    /// step are fewer than the batch: half of it on average when the
    /// lengths spread evenly). Measured (BENCHMARKS.md, forty-fifth
    /// session; two threads, `torch_rnn.py`'s lengths, `T` = 100, `H` = 512,
    /// 768 and 1024): LSTM and GRU gained 1.1-1.9x at `B` = 16 and 32 and
    /// 1.05-1.19x at 64 (GRU at `H` = 512 lost 5 % there); Elman gained
    /// 1.3-1.8x at 16, 0.96-1.12x at 32, and lost 10-20 % at 64.
    pub(crate) fn units_split_sorted<T: Float>(&self, batch: usize, steps: usize) -> bool {
        let counted = if self.cell.gates() > 1 {
            batch.div_ceil(2)
        } else {
            batch
        };
        batch > 1 && self.units_split::<T>(counted.max(2), steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::cell::{Activation, CellKind};

    /// Too small to split: 15 units (a cut of at least 8 on each side is
    /// needed); not worth it: `W_hh` within L1 (Elman, `H` = 100: 40 KB).
    #[test]
    fn small_layers_are_not_split() {
        let layer = |cell, hidden| Recurrent {
            cell,
            input_size: 3,
            hidden,
            reverse: false,
        };
        assert_eq!(layer(CellKind::Lstm, 15).split_cut(), None);
        assert_eq!(layer(CellKind::Lstm, 16).split_cut(), Some(8));
        assert_eq!(layer(CellKind::Lstm, 100).split_cut(), Some(48));
        let tanh = CellKind::Elman {
            activation: Activation::Tanh,
        };
        assert!(!layer(tanh, 100).split_worth::<f32>());
        assert!(layer(CellKind::Lstm, 100).split_worth::<f32>());
        assert!(layer(CellKind::Gru, 100).split_worth::<f32>());
    }
}
