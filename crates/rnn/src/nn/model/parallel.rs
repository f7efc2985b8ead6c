//! Data parallelism over the sequences of a batch: one helper splits a batch
//! into contiguous parts, one per thread, and the parts' results are put back
//! together.

use crate::kernels::shared::Prepacked;
use crate::nn::layer::{step_packed, Input};
use crate::nn::loss::{Reduction, Targets};
use crate::nn::model::{Batch, Model, State};
use crate::{Float, Result};
use rayon::prelude::*;

impl<T: Float> Model<T> {
    /// [`Model::loss_and_grads`] with the batch split into contiguous parts,
    /// one per thread ([`crate::kernels::threads`], at most one per sequence).
    ///
    /// The sequences of a batch are independent until the gradients are
    /// summed, so each thread runs forward, loss and BPTT on its own part
    /// (with its rows of the initial state `data.state`) with sequential
    /// products and no synchronisation per step; the parts' gradients are
    /// added at the end (the same sum, in another order). With one thread this
    /// is `loss_and_grads`. Dropout: `data.masks`, as in [`Batch::masks`].
    /// Returns `E` and the final state `[L*D, B, H]`, and adds `dE/dθ` into
    /// `grads`.
    ///
    /// # Errors
    ///
    /// As [`Model::loss_and_grads`].
    pub fn loss_and_grads_parallel(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> Result<(T, State<T>)> {
        self.check_loss_inputs(&data, targets, grads)?;
        Ok(self.loss_and_grads_parallel_unchecked(data, targets, reduction, grads))
    }

    /// [`Model::loss_and_grads_parallel`] without the checks.
    pub(crate) fn loss_and_grads_parallel_unchecked(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> (T, State<T>) {
        let (steps, batch, lengths, masks) = (data.steps, data.batch, data.lengths, data.masks);
        let width = self.config.directions() * self.config.hidden_size;
        let o = self.config.output_size;
        let part_grads = |(b0, b1): (usize, usize), part: Batch<'_, T>| {
            let tp = match targets {
                Targets::Classes(y) => {
                    PartTargets::Classes(gather_rows(y, 1, steps, batch, b0, b1))
                }
                Targets::Values(y) => PartTargets::Values(gather_rows(y, o, steps, batch, b0, b1)),
            };
            let mp: Option<Vec<Vec<T>>> = masks.map(|m| {
                m.iter()
                    .map(|mk| gather_rows(mk, width, steps, batch, b0, b1))
                    .collect()
            });
            let mut g = vec![T::zero(); grads.len()];
            let part = Batch {
                masks: mp.as_deref(),
                ..part
            };
            let (e, fwd, _) =
                self.loss_and_grads_unchecked(part, tp.as_targets(), Reduction::Sum, &mut g);
            let last = self.final_state(&fwd);
            fwd.give_back(); // to this thread's next iteration
            (e, g, last)
        };
        // a few sequences over large layers: each step split by hidden units
        // across two threads (`layer/split.rs`, `split_bptt.rs`), each
        // reading half of W_hh, instead of each part of the batch reading all
        // of it: the whole batch runs below as one part
        let by_units = lengths.is_none()
            && self.every_layer(|layer| layer.units_split_train::<T>(batch, steps));
        let split = if by_units {
            None
        } else {
            split_batch(self, data, true, false, part_grads)
        };
        let Some((parts, results)) = split else {
            let (e, fwd, _) = self.loss_and_grads_unchecked(data, targets, reduction, grads);
            let last = self.final_state(&fwd);
            fwd.give_back();
            return (e, last);
        };
        let counted = lengths.map_or(steps * batch, |l| l.iter().map(|&n| n.min(steps)).sum());
        // Each part sums its losses; the mean's 1/N is applied once at the end.
        let scale = match reduction {
            Reduction::Sum => T::one(),
            Reduction::Mean => T::one() / T::of(counted.max(1) as f64),
        };
        let mut loss = T::zero();
        for (e, g, _) in &results {
            loss += *e;
            for (acc, &v) in grads.iter_mut().zip(g) {
                *acc += scale * v;
            }
        }
        let finals: Vec<&State<T>> = results.iter().map(|r| &r.2).collect();
        (
            loss * scale,
            State::join(&finals, &parts, batch, self.config.hidden_size),
        )
    }
}

impl<T: Float> Model<T> {
    /// Whether `f` holds for every layer and direction: for the splits by
    /// hidden units (`layer/split_rule.rs`), which replace the split of the
    /// batch only when every layer takes them.
    pub(super) fn every_layer(&self, f: impl Fn(crate::nn::layer::Recurrent) -> bool) -> bool {
        let cfg = &self.config;
        (0..cfg.num_layers).all(|k| (0..cfg.directions()).all(|d| f(cfg.layer(k, d))))
    }
}

impl<T: Float> Model<T> {
    /// The share of sequences `shard = (b0, b1)` in the loss and gradients
    /// of the whole batch: what one rank of a data-parallel job computes
    /// ([`crate::dist`]). `data`, `targets` and `masks` are the whole batch's
    /// (as for [`Model::loss_and_grads_parallel`]); only the shard's
    /// sequences are run, split across the threads. The mean's `1/N` counts
    /// the whole batch, so the shards' losses and gradients sum to the
    /// batch's. Returns the shard's part of `E` and the shard's final state
    /// `[L*D, b1 - b0, H]`, and adds its part of `dE/dθ` into `grads`.
    ///
    /// ```
    /// use rnn::{Batch, Input, Model, ModelConfig, Reduction, Targets};
    /// let model = Model::<f64>::new(ModelConfig::elman(3, 4, 3), 1).unwrap();
    /// let (x, y) = ([0, 1, 2, 1], [1, 2, 0, 0]); // T = 2, B = 2
    /// let batch = || Batch::new(Input::Ids(&x), 2, 2);
    /// let mut whole = vec![0.0; model.params.len()];
    /// let (e, _, _) = model.loss_and_grads(batch(), Targets::Classes(&y), Reduction::Mean, &mut whole).unwrap();
    /// let mut summed = vec![0.0; model.params.len()];
    /// let mut e_sum = 0.0;
    /// for shard in [(0, 1), (1, 2)] {
    ///     let (e, _) = model.loss_and_grads_shard(batch(), Targets::Classes(&y),
    ///         Reduction::Mean, shard, &mut summed).unwrap();
    ///     e_sum += e;
    /// }
    /// assert!((e - e_sum).abs() < 1e-12);
    /// assert!(whole.iter().zip(&summed).all(|(a, b)| (a - b).abs() < 1e-12));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Model::loss_and_grads`]; [`crate::Error::Argument`] for a
    /// shard that is empty or past the batch.
    pub fn loss_and_grads_shard(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        shard: (usize, usize),
        grads: &mut [T],
    ) -> Result<(T, State<T>)> {
        self.check_loss_inputs(&data, targets, grads)?;
        let masks = data.masks;
        let (b0, b1) = shard;
        let (steps, batch) = (data.steps, data.batch);
        if !(b0 < b1 && b1 <= batch) {
            return Err(crate::Error::Argument {
                arg: "shard".into(),
                expected: format!("a range b0..b1 with b0 < b1 <= {batch} (the batch)"),
                got: format!("{b0}..{b1}"),
            });
        }
        let width = self.config.directions() * self.config.hidden_size;
        let o = self.config.output_size;
        let xp = data.x.batch_part(steps, batch, b0, b1);
        let sp = data
            .state
            .map(|s| s.batch_part(batch, self.config.hidden_size, b0, b1));
        let tp = match targets {
            Targets::Classes(y) => PartTargets::Classes(gather_rows(y, 1, steps, batch, b0, b1)),
            Targets::Values(y) => PartTargets::Values(gather_rows(y, o, steps, batch, b0, b1)),
        };
        let mp: Option<Vec<Vec<T>>> = masks.map(|m| {
            m.iter()
                .map(|mk| gather_rows(mk, width, steps, batch, b0, b1))
                .collect()
        });
        let part = Batch {
            state: sp.as_ref(),
            lengths: data.lengths.map(|l| &l[b0..b1]),
            masks: mp.as_deref(),
            ..Batch::new(xp.as_input(), steps, b1 - b0)
        };
        let mut g = vec![T::zero(); grads.len()];
        let (e, state) =
            self.loss_and_grads_parallel_unchecked(part, tp.as_targets(), Reduction::Sum, &mut g);
        let counted = data
            .lengths
            .map_or(steps * batch, |l| l.iter().map(|&n| n.min(steps)).sum());
        let scale = match reduction {
            Reduction::Sum => T::one(),
            Reduction::Mean => T::one() / T::of(counted.max(1) as f64),
        };
        for (acc, v) in grads.iter_mut().zip(g) {
            *acc += scale * v;
        }
        Ok((e * scale, state))
    }
}

impl<T: Float> Model<T> {
    /// Every layer's `W_hh` packed for the step products of all parts of a
    /// split batch (see `kernels::shared`): `W_hh^T` for the forward loop
    /// and, when `backward`, `W_hh` for BPTT's, as the layers would pack them.
    fn prepack(&self, backward: bool) -> Prepacked<T> {
        let mut pre = Prepacked::default();
        let h = self.config.hidden_size;
        for k in 0..self.config.num_layers {
            for d in 0..self.config.directions() {
                let w_hh = self.layer_params(&self.params, k, d).w_hh; // [G*H, H]
                let gw = w_hh.len() / h;
                pre.add(w_hh, h, gw, true); // W_hh^T [H, G*H]
                if backward {
                    pre.add(w_hh, gw, h, false); // W_hh [G*H, H]
                }
            }
        }
        pre
    }
}

/// The parts `(b0, b1)` of a split batch and one result per part.
pub(super) type Split<R> = (Vec<(usize, usize)>, Vec<R>);

/// The one batch split of the crate: runs `f` on contiguous parts of
/// `data`'s batch ([`batch_parts`]), one per thread, each with sequential
/// products ([`crate::kernels::sequential`]). `f` gets the part's range
/// `(b0, b1)` and the part as a batch of its own: inputs `[T, b1 - b0, ...]`,
/// its rows of the initial state (`[L*D, b1 - b0, H]`, `hidden` = `H`) and of
/// the lengths. Returns the ranges and `f`'s results in batch order, or `None`
/// when there is only one part (the caller runs the whole batch itself).
/// `prepared`: the parts read `W_hh` packed by [`crate::Prepared`], so it is
/// not packed again here.
pub(super) fn split_batch<T: Float, R: Send>(
    model: &Model<T>,
    data: Batch<'_, T>,
    backward: bool,
    prepared: bool,
    f: impl Fn((usize, usize), Batch<'_, T>) -> R + Sync,
) -> Option<Split<R>> {
    let hidden = model.config.hidden_size;
    let Batch {
        x,
        steps,
        batch,
        state,
        lengths,
        ..
    } = data;
    let parts = batch_parts(batch);
    if parts.len() <= 1 {
        return None;
    }
    // W_hh packed once for all parts (when each part has the rows to use it)
    let shortest = parts.iter().map(|&(b0, b1)| b1 - b0).min().unwrap_or(0);
    let pre = if shortest > 1 && step_packed::<T>() && !prepared {
        model.prepack(backward)
    } else {
        Prepacked::default()
    };
    let results = parts
        .par_iter()
        .map(|&(b0, b1)| {
            pre.scope(|| {
                crate::kernels::sequential(|| {
                    let xp = x.batch_part(steps, batch, b0, b1);
                    let sp = state.map(|s| s.batch_part(batch, hidden, b0, b1));
                    // no masks (the caller takes its rows of them) and no further split
                    let part = Batch {
                        state: sp.as_ref(),
                        lengths: lengths.map(|l| &l[b0..b1]),
                        ..Batch::new(xp.as_input(), steps, b1 - b0)
                    };
                    f((b0, b1), part)
                })
            })
        })
        .collect();
    Some((parts, results))
}

/// The inverse of [`gather_rows`] for all parts at once: each part's
/// `[T, b1 - b0, width]` rows put back in their places of `out`, `[T, B, width]`.
pub(super) fn scatter_rows<V: Copy>(
    out: &mut [V],
    parts: &[(usize, usize)],
    values: &[&[V]],
    width: usize,
    steps: usize,
    batch: usize,
) {
    for (&(b0, b1), v) in parts.iter().zip(values) {
        let w = (b1 - b0) * width;
        for t in 0..steps {
            out[(t * batch + b0) * width..(t * batch + b1) * width]
                .copy_from_slice(&v[t * w..(t + 1) * w]);
        }
    }
}

impl<T: Copy + Default> State<T> {
    /// Sequences `b0..b1` of this `[L*D, B, H]` state, as `[L*D, b1 - b0, H]`.
    pub(crate) fn batch_part(&self, batch: usize, hidden: usize, b0: usize, b1: usize) -> State<T> {
        let part = |v: &[T]| {
            let blocks = v.len() / (batch * hidden).max(1); // L*D
            gather_rows(v, hidden, blocks, batch, b0, b1)
        };
        State {
            h: part(&self.h),
            c: part(&self.c),
        }
    }

    /// Writes `part` (`[L*D, b1 - b0, H]`) into sequences `b0..b1` of this
    /// `[L*D, B, H]` state.
    pub(crate) fn set_batch_part(
        &mut self,
        part: &State<T>,
        batch: usize,
        hidden: usize,
        b0: usize,
        b1: usize,
    ) {
        let w = (b1 - b0) * hidden;
        for (out, v) in [(&mut self.h, &part.h), (&mut self.c, &part.c)] {
            let blocks = out.len() / (batch * hidden).max(1); // L*D
            for k in 0..blocks {
                out[(k * batch + b0) * hidden..(k * batch + b1) * hidden]
                    .copy_from_slice(&v[k * w..(k + 1) * w]);
            }
        }
    }

    /// Sets every sequence but `b0..b1` of this `[L*D, B, H]` state to
    /// `zero`.
    pub(crate) fn keep_batch_part(
        &mut self,
        batch: usize,
        hidden: usize,
        b0: usize,
        b1: usize,
        zero: T,
    ) {
        for v in [&mut self.h, &mut self.c] {
            for (i, x) in v.iter_mut().enumerate() {
                let s = (i / hidden) % batch.max(1);
                if s < b0 || s >= b1 {
                    *x = zero;
                }
            }
        }
    }

    /// The inverse of [`State::batch_part`]: the parts' rows put back in
    /// their places of one `[L*D, B, H]` state.
    pub(crate) fn join(
        parts: &[&State<T>],
        ranges: &[(usize, usize)],
        batch: usize,
        hidden: usize,
    ) -> State<T> {
        let join = |get: &dyn Fn(&State<T>) -> &[T]| {
            let total: usize = parts.iter().map(|p| get(p).len()).sum();
            let mut out = vec![T::default(); total];
            let blocks = total / (batch * hidden).max(1); // L*D
            for (p, &(b0, b1)) in parts.iter().zip(ranges) {
                let (v, w) = (get(p), (b1 - b0) * hidden);
                for k in 0..blocks {
                    out[(k * batch + b0) * hidden..(k * batch + b1) * hidden]
                        .copy_from_slice(&v[k * w..(k + 1) * w]);
                }
            }
            out
        };
        State {
            h: join(&|s| &s.h),
            c: join(&|s| &s.c),
        }
    }
}

/// Contiguous parts `[b0, b1)` of a batch, one per thread, near-equal in size.
pub(crate) fn batch_parts(batch: usize) -> Vec<(usize, usize)> {
    let n = crate::kernels::threads().min(batch).max(1);
    (0..n)
        .map(|i| (i * batch / n, (i + 1) * batch / n))
        .collect()
}

/// Sequences `b0..b1` of a `[T, B, width]` buffer, as `[T, b1 - b0, width]`.
fn gather_rows<V: Copy>(
    data: &[V],
    width: usize,
    steps: usize,
    batch: usize,
    b0: usize,
    b1: usize,
) -> Vec<V> {
    (0..steps)
        .flat_map(|t| &data[(t * batch + b0) * width..(t * batch + b1) * width])
        .copied()
        .collect()
}

/// An owned part of the input of a batch.
pub(crate) enum PartInput<T> {
    Dense(Vec<T>),
    Ids(Vec<usize>),
}

impl<T> PartInput<T> {
    pub(crate) fn as_input(&self) -> Input<'_, T> {
        match self {
            PartInput::Dense(v) => Input::Dense(v),
            PartInput::Ids(v) => Input::Ids(v),
        }
    }
}

/// An owned part of the targets of a batch.
enum PartTargets<T> {
    Classes(Vec<usize>),
    Values(Vec<T>),
}

impl<T> PartTargets<T> {
    fn as_targets(&self) -> Targets<'_, T> {
        match self {
            PartTargets::Classes(v) => Targets::Classes(v),
            PartTargets::Values(v) => Targets::Values(v),
        }
    }
}

impl<T: Copy> Input<'_, T> {
    /// Sequences `b0..b1` of this `[T, B, ...]` input.
    pub(crate) fn batch_part(
        &self,
        steps: usize,
        batch: usize,
        b0: usize,
        b1: usize,
    ) -> PartInput<T> {
        match *self {
            Input::Ids(ids) => PartInput::Ids(gather_rows(ids, 1, steps, batch, b0, b1)),
            Input::Dense(x) => {
                let width = x.len() / (steps * batch).max(1);
                PartInput::Dense(gather_rows(x, width, steps, batch, b0, b1))
            }
        }
    }
}
