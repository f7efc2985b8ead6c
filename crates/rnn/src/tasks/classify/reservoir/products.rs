//! A reservoir's input products `U x_t + b`: computed for all of a
//! sequence's steps at once, or for a long sequence a block at a time as
//! each direction's run reaches it, so that memory stays within a block
//! (a sequence of 2,000,000 steps and 300 units would need 2.4 GB at once).

use super::Reservoir;
use crate::tasks::classify::batch::Encoded;
use std::ops::Range;

impl Reservoir {
    /// Steps `rows` of one sequence `x` `[T, I]` as the reservoir reads
    /// them: `x` itself, or with the differences `[x_t, x_t - x_{t-1}]`
    /// `[T, 2 I]` (`x_{-1} = x_0`: no change before the first step).
    fn inputs<'a>(&self, x: &'a [f32], rows: Range<usize>) -> std::borrow::Cow<'a, [f32]> {
        let i = self.data_width();
        if !self.differences {
            return std::borrow::Cow::Borrowed(&x[rows.start * i..rows.end * i]);
        }
        let mut v = Vec::with_capacity(rows.len() * 2 * i);
        for t in rows {
            let now = &x[t * i..(t + 1) * i];
            let before = &x[t.saturating_sub(1) * i..(t.saturating_sub(1) + 1) * i];
            v.extend_from_slice(now);
            v.extend(now.iter().zip(before).map(|(a, b)| a - b));
        }
        std::borrow::Cow::Owned(v)
    }

    /// `U x_t + b` for steps `rows` of sequence `q` of `enc`: `[rows, N]`.
    fn products(&self, enc: &Encoded, q: usize, rows: Range<usize>) -> Vec<f32> {
        let n = self.units;
        let x = self.inputs(&enc.inputs[q], rows.clone());
        let mut p = vec![0f32; rows.len() * n];
        crate::kernels::gemm(
            rows.len(),
            n,
            self.width,
            &x,
            false,
            &self.w_ih,
            true,
            &mut p,
            false,
        );
        for row in p.chunks_exact_mut(n) {
            row.iter_mut().zip(&self.bias).for_each(|(p, b)| *p += b);
        }
        p
    }

    /// Steps of a sequence's input products kept at once: a longer
    /// sequence's are computed a block of this many steps at a time, as each
    /// direction's run reaches them (by the module's private `InputProducts`).
    pub const PRODUCT_BLOCK: usize = 4096;
}

/// `U x_t + b` of one sequence of an [`Encoded`] set for a reservoir's
/// runs: all its steps `[T, N]` when it has at most a block's
/// ([`Reservoir::PRODUCT_BLOCK`]), else the block of steps the run
/// is in, computed when the run reaches it (so a sequence of millions of
/// steps needs a block's memory, not `T N` values).
pub(super) struct InputProducts {
    /// The sequence in the set.
    seq: usize,
    /// Its steps.
    steps: usize,
    /// The first step held.
    start: usize,
    /// Steps `start..start + rows.len() / N`: `[rows, N]`.
    rows: Vec<f32>,
    /// Steps per block.
    block: usize,
}

impl InputProducts {
    /// The first block of `block` steps (or all) of sequence `seq`'s products.
    pub(super) fn new(res: &Reservoir, enc: &Encoded, seq: usize, block: usize) -> Self {
        let steps = enc.steps[seq];
        let block = block.max(1);
        InputProducts {
            seq,
            steps,
            start: 0,
            rows: res.products(enc, seq, 0..steps.min(block)),
            block,
        }
    }

    /// Step `t`'s products `[N]`, computing its block when not held: the
    /// block from `t` on (forwards) or ending at `t` (`reverse`).
    pub(super) fn row(
        &mut self,
        res: &Reservoir,
        enc: &Encoded,
        t: usize,
        reverse: bool,
    ) -> &[f32] {
        let n = res.units;
        if t < self.start || t >= self.start + self.rows.len() / n {
            let k = self.block;
            let start = if reverse {
                (t + 1).saturating_sub(k)
            } else {
                t
            };
            let end = (start + k).min(self.steps);
            self.rows = res.products(enc, self.seq, start..end);
            self.start = start;
        }
        let r = t - self.start;
        &self.rows[r * n..(r + 1) * n]
    }
}

#[cfg(test)]
mod tests {
    use super::super::{noise, ReservoirConfig};
    use super::*;
    use crate::tasks::classify::{Dataset, Fill, Norm, Normaliser};

    /// Long sequences' input products are computed a block at a time, as
    /// each direction reaches them; the features must be those of the
    /// products computed all at once. Blocks of 7 steps over sequences of
    /// 1 to 69 steps: one block, a block and a bit, many blocks, in both
    /// directions, with and without the differences (which read the step
    /// before a block's first).
    #[test]
    fn input_products_in_blocks_give_the_features_of_all_at_once() {
        let text: String = (0..12)
            .map(|i| {
                let steps = [1, 6, 7, 8, 13, 14, 15, 29, 50, 64, 68, 69][i];
                let v: Vec<String> = (0..steps)
                    .map(|t| format!("{:.3}", noise(31 * i + t)))
                    .collect();
                format!("{}:c{}\n", v.join(","), i % 2)
            })
            .collect();
        let d = Dataset::parse_ts(std::path::Path::new("t.ts"), &text, Fill::Linear, None).unwrap();
        let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 1).unwrap();
        let idx: Vec<usize> = (0..12).collect();
        for differences in [false, true] {
            let cfg = ReservoirConfig {
                units: 20,
                differences,
                ..ReservoirConfig::default()
            };
            let res = Reservoir::random(&cfg, 1, 8).unwrap();
            let whole = res.features_in_blocks(&enc, &idx, usize::MAX).unwrap();
            for block in [1, 7] {
                let parts = res.features_in_blocks(&enc, &idx, block).unwrap();
                for (k, (a, b)) in parts.iter().zip(&whole).enumerate() {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "differences {differences}, block {block}: feature {k}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
