//! Many-to-one readout: one output per sequence, read from its final state
//! or from its outputs pooled over time.
//!
//! For sequence regression (forecasting) and sequence classification the loss
//! only looks at `o = V s + c` once per sequence, where `s` is the final state
//! (at its own length when the batch has variable lengths; [`Pool::Last`])
//! or the mean or maximum of the top layer's outputs over the valid steps
//! ([`Pool::Mean`], [`Pool::Max`]; see [`crate::nn::pool`]). The gradient
//! `dE/ds` goes back to the steps `s` was read from, and BPTT carries it
//! through the whole sequence.

use crate::kernels::{col_sum_acc, gemm};
use crate::nn::layer::Input;
use crate::nn::loss::{loss_and_grad_unchecked, Reduction, Targets};
use crate::nn::model::infer::Inference;
use crate::nn::model::{Batch, Forward, Model};
use crate::nn::pool::{pool_backward, pool_forward, Pool, PoolShape, Pooled};
use crate::{Float, Result};

/// A model used many-to-one: the readout of the last state of each
/// sequence, or of its outputs pooled over time ([`ManyToOne::with_pool`]).
///
/// ```
/// use rnn::{Input, Model, ModelConfig, OutputKind, Reduction, Targets};
/// use rnn::nn::many_to_one::ManyToOne;
/// // I = 1 value per step, H = 8 hidden units, O = 2 outputs per sequence
/// let mut cfg = ModelConfig::elman(1, 8, 2);
/// cfg.output = OutputKind::Identity;
/// let model = Model::<f64>::new(cfg, 7).unwrap();
/// let head = ManyToOne::new(&model);
/// let x = [0.1, 0.5, 0.2, 0.4, 0.3, 0.3]; // [T = 3, B = 2, I = 1]
/// let y = [0.3, 0.2, 0.1, 0.0]; // [B, O]
/// let out = head.predict(Input::Dense(&x), 3, 2, None).unwrap(); // [B, O]
/// assert_eq!(out.len(), 4);
/// let mut grads = vec![0.0; model.params.len()];
/// let (loss, same) = head.loss_and_grads(Input::Dense(&x), Targets::Values(&y), 3, 2,
///     None, Reduction::Mean, &mut grads).unwrap();
/// assert_eq!(same, out);
/// assert!(loss > 0.0 && grads.iter().any(|g| *g != 0.0));
/// // the readout of the mean output over time instead of the last state
/// use rnn::nn::pool::Pool;
/// let mean = ManyToOne::with_pool(&model, Pool::Mean).predict(Input::Dense(&x), 3, 2, None).unwrap();
/// assert_ne!(mean, out);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ManyToOne<'a, T> {
    /// The network whose readout is used.
    pub model: &'a Model<T>,
    /// What the readout reads (default: each direction's final state).
    pub pool: Pool,
}

impl<'a, T: Float> ManyToOne<'a, T> {
    /// Wraps `model`: the readout of each sequence's final state.
    pub fn new(model: &'a Model<T>) -> Self {
        Self::with_pool(model, Pool::Last)
    }

    /// Wraps `model`: the readout of each sequence's outputs pooled by `pool`.
    pub fn with_pool(model: &'a Model<T>, pool: Pool) -> Self {
        ManyToOne { model, pool }
    }

    /// Whether the output is the per-step readout at the last step (one
    /// direction, [`Pool::Last`]): read from the forward pass's logits.
    fn reads_last_logits(&self) -> bool {
        self.pool == Pool::Last && !self.model.config.bidirectional
    }

    fn pool_shape<'l>(&self, fwd: &Forward<T>, lengths: Option<&'l [usize]>) -> PoolShape<'l> {
        self.shape(fwd.steps, fwd.batch, lengths)
    }

    /// The pooling shape of a batch of `steps` x `batch` with `lengths`.
    fn shape<'l>(&self, steps: usize, batch: usize, lengths: Option<&'l [usize]>) -> PoolShape<'l> {
        PoolShape {
            steps,
            batch,
            hidden: self.model.config.hidden_size,
            directions: self.model.config.directions(),
            lengths,
        }
    }

    /// The pooled top-layer outputs and their readout `[B, O]`.
    fn pooled_outputs(&self, fwd: &Forward<T>, lengths: Option<&[usize]>) -> (Pooled<T>, Vec<T>) {
        let top = self.model.layer_feed(fwd, self.model.config.num_layers - 1); // [T, B, W]
        self.pool_and_read(top, fwd.steps, fwd.batch, lengths)
    }

    /// The top-layer outputs `top` (`[T, B, W]`) pooled, and their readout
    /// `[B, O]`.
    fn pool_and_read(
        &self,
        top: &[T],
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
    ) -> (Pooled<T>, Vec<T>) {
        let cfg = &self.model.config;
        let pooled = pool_forward(self.pool, top, self.shape(steps, batch, lengths)); // [B, W]
        let (v, c) = self.model.head();
        let (o, w) = (cfg.output_size, cfg.directions() * cfg.hidden_size);
        let mut out = vec![T::zero(); batch * o]; // [B, O]
        for row in out.chunks_exact_mut(o) {
            row.copy_from_slice(c);
        }
        // o_b = V s_b + c   [B, W] x [W, O]
        gemm(batch, o, w, &pooled.values, false, v, true, &mut out, true);
        (pooled, out)
    }

    /// The step holding sequence `b`'s last state.
    fn last_step(steps: usize, lengths: Option<&[usize]>, b: usize) -> usize {
        lengths.map_or(steps, |l| l[b]) - 1
    }

    /// Picks `o_T` of each sequence out of a forward pass: `[B, O]`.
    /// `lengths` are those of the forward pass's batch (`[B]`, each in
    /// `1..=T`).
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] when `fwd` is not a forward pass of
    /// this model or `lengths` do not fit it.
    pub fn last_outputs(&self, fwd: &Forward<T>, lengths: Option<&[usize]>) -> Result<Vec<T>> {
        self.model.check_forward(fwd)?;
        self.model.check_lengths(lengths, fwd.steps, fwd.batch)?;
        Ok(self.last_outputs_unchecked(fwd, lengths))
    }

    fn last_outputs_unchecked(&self, fwd: &Forward<T>, lengths: Option<&[usize]>) -> Vec<T> {
        self.last_rows(&fwd.logits, fwd.steps, fwd.batch, lengths)
    }

    /// The rows of `logits` (`[T, B, O]`) at each sequence's last step: `[B, O]`.
    fn last_rows(
        &self,
        logits: &[T],
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
    ) -> Vec<T> {
        let o = self.model.config.output_size;
        let mut out = vec![T::zero(); batch * o]; // [B, O]
        for (b, row) in out.chunks_exact_mut(o).enumerate() {
            let r = Self::last_step(steps, lengths, b) * batch + b;
            row.copy_from_slice(&logits[r * o..(r + 1) * o]);
        }
        out
    }

    /// The head's output for each sequence, `[B, O]`, for input `x`
    /// (`[T, B, I]` dense or `[T, B]` ids) from the zero state; `lengths`:
    /// `[B]`, each in `1..=T` (all `T` when `None`).
    ///
    /// Runs [`Model::infer`]: nothing is kept for BPTT, so a long batch
    /// needs two `[T, B, D*H]` buffers of layer outputs and the logits
    /// `[T, B, O]`, not every layer's states and gates. The outputs are those
    /// of a forward pass ([`ManyToOne::loss_and_grads`] returns the same).
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument at fault when the
    /// batch does not fit the model (see [`Batch`]).
    pub fn predict(
        &self,
        x: Input<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
    ) -> Result<Vec<T>> {
        let mut data = Batch::new(x, steps, batch);
        data.lengths = lengths;
        let mut inf = Inference::new();
        self.model.infer(data, &mut inf)?;
        Ok(if self.reads_last_logits() {
            self.last_rows(&inf.logits, steps, batch, lengths)
        } else {
            self.pool_and_read(inf.top_outputs(), steps, batch, lengths)
                .1
        })
    }

    /// Forward, loss on the head's output and BPTT: returns `E` and the
    /// outputs `[B, O]`, and adds `dE/dθ` into `grads`.
    ///
    /// Targets are one class id per sequence `[B]` (softmax output) or one
    /// vector per sequence `[B, O]` (identity output, `E_b = 0.5 ||o_T - y||^2`).
    /// [`Reduction::Mean`] divides by `B`. `grads` has the length of the
    /// model's `params`.
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument at fault: a batch
    /// that does not fit the model (see [`Batch`]), targets of the wrong kind
    /// or length, a class `>= O`, a non-finite target, or a gradient buffer
    /// of the wrong length.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_grads(
        &self,
        x: Input<T>,
        targets: Targets<T>,
        steps: usize,
        batch: usize,
        lengths: Option<&[usize]>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> Result<(T, Vec<T>)> {
        let mut data = Batch::new(x, steps, batch);
        data.lengths = lengths;
        self.loss_and_grads_batch(data, targets, reduction, grads)
    }

    /// [`ManyToOne::loss_and_grads`] on a [`Batch`]: its initial state is
    /// used when given, and its dropout masks ([`Batch::masks`]).
    ///
    /// # Errors
    ///
    /// As [`ManyToOne::loss_and_grads`], and masks that are not one
    /// `[T, B, D*H]` mask per layer.
    pub fn loss_and_grads_batch(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> Result<(T, Vec<T>)> {
        let (x, steps, batch, lengths) = (data.x, data.steps, data.batch, data.lengths);
        self.model.check_batch(&data)?;
        self.model
            .check_targets(targets, batch, &format!("[B] = [{batch}]"), |_| true)?;
        self.model.check_masks(data.masks, steps, batch)?;
        self.model.check_grads(grads)?;
        let o = self.model.config.output_size;
        let fwd = self.model.forward_unchecked(data);
        let pooled = (!self.reads_last_logits()).then(|| self.pooled_outputs(&fwd, lengths));
        let out = match &pooled {
            Some((_, out)) => out.clone(),
            None => self.last_outputs_unchecked(&fwd, lengths),
        }; // [B, O]
        let mut dout = vec![T::zero(); batch * o]; // [B, O]
        let loss = loss_and_grad_unchecked(
            self.model.config.output,
            &out,
            o,
            targets,
            None,
            reduction,
            &mut dout,
        );
        if let Some((p, _)) = pooled {
            self.pooled_backward(&fwd, x, lengths, &p, &dout, grads);
            return Ok((loss, out));
        }
        // dE/do_t: zero except at each sequence's last step   [T, B, O]
        let mut dlogits = vec![T::zero(); steps * batch * o];
        for (b, row) in dout.chunks_exact(o).enumerate() {
            let r = Self::last_step(steps, lengths, b) * batch + b;
            dlogits[r * o..(r + 1) * o].copy_from_slice(row);
        }
        self.model
            .backward_unchecked(&fwd, x, lengths, &dlogits, None, grads, false);
        Ok((loss, out))
    }

    /// The readout's gradients for the pooled vectors `p`, then BPTT from
    /// the steps they were read from. `dout`: `dE/do`, `[B, O]`.
    fn pooled_backward(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        p: &Pooled<T>,
        dout: &[T],
        grads: &mut [T],
    ) {
        let cfg = &self.model.config;
        let (batch, o, w) = (
            fwd.batch,
            cfg.output_size,
            cfg.directions() * cfg.hidden_size,
        );
        let nl = self.model.layout.len();
        let (vr, cr) = (
            self.model.layout[nl - 2].range(),
            self.model.layout[nl - 1].range(),
        );
        // dE/dV = sum_b dE/do_b s_b^T   [O, B] x [B, W];  dE/dc = sum_b dE/do_b
        gemm(
            o,
            w,
            batch,
            dout,
            true,
            &p.values,
            false,
            &mut grads[vr],
            true,
        );
        col_sum_acc(batch, o, dout, &mut grads[cr]);
        let dtop = self.spread(fwd, lengths, p, dout);
        self.model
            .backward_top_unchecked(fwd, x, lengths, dtop, None, grads, false);
    }

    /// `dE/d(top outputs)` `[T, B, D*H]` from `dout` = `dE/do` (`[B, O]`) of
    /// the pooled vectors `p`: `dE/ds_b = V^T dE/do_b`, spread back over the
    /// steps they were read from.
    fn spread(
        &self,
        fwd: &Forward<T>,
        lengths: Option<&[usize]>,
        p: &Pooled<T>,
        dout: &[T],
    ) -> Vec<T> {
        let cfg = &self.model.config;
        let (batch, o, w) = (
            fwd.batch,
            cfg.output_size,
            cfg.directions() * cfg.hidden_size,
        );
        let vr = self.model.layout[self.model.layout.len() - 2].range();
        // dE/ds_b = V^T dE/do_b   [B, O] x [O, W]
        let mut dpooled = vec![T::zero(); batch * w];
        gemm(
            batch,
            w,
            o,
            dout,
            false,
            &self.model.params[vr],
            false,
            &mut dpooled,
            false,
        );
        pool_backward(self.pool, p, &dpooled, self.pool_shape(fwd, lengths))
    }

    /// The gradient of the head's loss against `targets` (summed over the
    /// batch) with respect to what it reads, the top layer's outputs: `[T,
    /// B, D*H]`, from a checked forward pass `fwd` of a batch with these
    /// `lengths` and checked targets. What [`crate::nn::flow`] carries back.
    pub(crate) fn top_gradient(
        &self,
        fwd: &Forward<T>,
        lengths: Option<&[usize]>,
        targets: Targets<T>,
    ) -> Vec<T> {
        let o = self.model.config.output_size;
        let (p, out) = self.pooled_outputs(fwd, lengths);
        let mut dout = vec![T::zero(); fwd.batch * o]; // [B, O]
        loss_and_grad_unchecked(
            self.model.config.output,
            &out,
            o,
            targets,
            None,
            Reduction::Sum,
            &mut dout,
        );
        self.spread(fwd, lengths, &p, &dout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::cell::CellKind;
    use crate::nn::loss::OutputKind;
    use crate::ModelConfig;
    use rand::{Rng, SeedableRng};

    fn fd_check(cell: CellKind, layers: usize, bidirectional: bool, output: OutputKind) {
        for pool in [Pool::Last, Pool::Mean, Pool::Max] {
            fd_check_pool(cell, layers, bidirectional, output, pool);
        }
    }

    fn fd_check_pool(
        cell: CellKind,
        layers: usize,
        bidirectional: bool,
        output: OutputKind,
        pool: Pool,
    ) {
        let (steps, batch, inp, o) = (5, 3, 2, 3);
        let mut cfg = ModelConfig::elman(inp, 4, o);
        cfg.cell = cell;
        cfg.num_layers = layers;
        cfg.bidirectional = bidirectional;
        cfg.output = output;
        let mut model = Model::<f64>::new(cfg, 11).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f64> = (0..steps * batch * inp)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let y: Vec<f64> = (0..batch * o)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let classes = [2usize, 0, 1];
        let targets = match output {
            OutputKind::Identity => Targets::Values(&y),
            OutputKind::Softmax => Targets::Classes(&classes),
        };
        let lengths = [5usize, 2, 4];
        // dropout between the layers and before the head, the same masks each call
        let masks: Vec<Vec<f64>> =
            crate::nn::model::dropout_masks(&model.config, 0.3, steps, batch, &mut rng).unwrap();
        for masks in [None, Some(masks.as_slice())] {
            let loss_at = |m: &Model<f64>, g: &mut [f64]| {
                let data = Batch {
                    masks,
                    ..Batch::new(Input::Dense(&x), steps, batch).with_lengths(&lengths)
                };
                ManyToOne::with_pool(m, pool)
                    .loss_and_grads_batch(data, targets, Reduction::Sum, g)
                    .unwrap()
                    .0
            };
            let mut grads = vec![0.0; model.params.len()];
            loss_at(&model, &mut grads);
            let eps = 1e-6;
            let mut scratch = vec![0.0; model.params.len()];
            for (i, &analytic) in grads.iter().enumerate() {
                let keep = model.params[i];
                model.params[i] = keep + eps;
                let up = loss_at(&model, &mut scratch);
                model.params[i] = keep - eps;
                let down = loss_at(&model, &mut scratch);
                model.params[i] = keep;
                let fd = (up - down) / (2.0 * eps);
                // relative error, absolute for tiny gradients
                let err = (fd - analytic).abs() / (fd.abs() + analytic.abs()).max(1e-3);
                assert!(
                    err < 1e-6,
                    "{pool}, dropout {}: param {i}: analytic {analytic} vs finite difference {fd}",
                    masks.is_some()
                );
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_elman_regression() {
        fd_check(
            CellKind::Elman {
                activation: crate::nn::cell::Activation::Tanh,
            },
            1,
            false,
            OutputKind::Identity,
        );
    }

    #[test]
    fn gradient_matches_finite_differences_stacked_gru_and_lstm() {
        fd_check(CellKind::Gru, 2, false, OutputKind::Identity);
        fd_check(CellKind::Lstm, 1, true, OutputKind::Softmax);
        fd_check(CellKind::Gru, 2, true, OutputKind::Softmax);
    }

    /// `predict` runs the inference pass (no BPTT caches); its outputs must
    /// be those the forward pass of `loss_and_grads` reads, for every cell,
    /// depth, direction and pool, on a batch of unequal lengths.
    #[test]
    fn predict_gives_the_outputs_of_the_forward_pass() {
        let (steps, batch, inp, o) = (6, 3, 2, 3);
        let lengths = [6usize, 2, 5];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let x: Vec<f64> = (0..steps * batch * inp)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let relu = CellKind::Elman {
            activation: crate::nn::cell::Activation::Relu,
        };
        for cell in [relu, CellKind::Gru, CellKind::Lstm] {
            for (layers, bidirectional) in [(1, false), (1, true), (2, false), (2, true)] {
                let mut cfg = ModelConfig::elman(inp, 4, o);
                (cfg.cell, cfg.num_layers, cfg.bidirectional) = (cell, layers, bidirectional);
                let model = Model::<f64>::new(cfg, 21).unwrap();
                for pool in [Pool::Last, Pool::Mean, Pool::Max] {
                    let head = ManyToOne::with_pool(&model, pool);
                    let got = head
                        .predict(Input::Dense(&x), steps, batch, Some(&lengths))
                        .unwrap();
                    let mut grads = vec![0.0; model.params.len()];
                    let (_, want) = head
                        .loss_and_grads(
                            Input::Dense(&x),
                            Targets::Classes(&[0, 2, 1]),
                            steps,
                            batch,
                            Some(&lengths),
                            Reduction::Sum,
                            &mut grads,
                        )
                        .unwrap();
                    assert_eq!(got.len(), batch * o);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() < 1e-12,
                            "{cell:?} x{layers} bidirectional {bidirectional} {pool}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reads_the_state_at_each_length() {
        let mut cfg = ModelConfig::elman(1, 3, 1);
        cfg.output = OutputKind::Identity;
        let model = Model::<f64>::new(cfg, 3).unwrap();
        let x = [0.5, 0.5, -0.2, 0.9]; // [T = 2, B = 2, I = 1]
        let both = ManyToOne::new(&model)
            .predict(Input::Dense(&x), 2, 2, Some(&[1, 2]))
            .unwrap();
        // sequence 0 stops after one step: same as running its first step alone
        let alone = ManyToOne::new(&model)
            .predict(Input::Dense(&x[..1]), 1, 1, None)
            .unwrap();
        assert!((both[0] - alone[0]).abs() < 1e-15);
    }
}
