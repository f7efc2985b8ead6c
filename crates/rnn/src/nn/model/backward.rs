//! Backpropagation through time through the whole network, and the
//! forward-loss-backward step.

use crate::kernels::{col_sum_acc, gemm, pool};
use crate::nn::layer::Input;
use crate::nn::loss::{loss_and_grad_unchecked, Reduction, Targets};
use crate::nn::model::dropout::mask_in_place;
use crate::nn::model::{Batch, Forward, Model, State};
use crate::{Error, Float, Result};

impl<T: Float> Model<T> {
    /// BPTT through the whole network for the upstream gradient `dlogits =
    /// dE/do` (`[T, B, O]`, zero at padding) and, optionally, the gradient of
    /// the final state. Adds every parameter gradient into `grads` (same
    /// layout as `params`). Returns `dE/d(initial state)` and, when `want_dx`
    /// and the input is dense, `dE/dx` `[T, B, I]`.
    ///
    /// `x` and `lengths` are those of the batch `fwd` was computed on;
    /// `dlogits` is `[T, B, O]`, `dstate_n` `[L*D, B, H]`, `grads` has the
    /// length of `params`.
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument whose shape, ids or
    /// lengths do not fit the model and `fwd`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        dlogits: &[T],
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
    ) -> Result<(State<T>, Option<Vec<T>>)> {
        self.check_forward(fwd)?;
        let mut data = Batch::new(x, fwd.steps, fwd.batch);
        data.lengths = lengths;
        self.check_batch(&data)?;
        let o = self.config.output_size;
        let want = fwd.steps * fwd.batch * o; // fits: checked with fwd
        if dlogits.len() != want {
            return Err(Error::argument(
                "dlogits",
                format!(
                    "[T, B, O] = [{}, {}, {o}] = {want} values",
                    fwd.steps, fwd.batch
                ),
                format!("{} values", dlogits.len()),
            ));
        }
        if let Some(s) = dstate_n {
            self.check_state("dstate_n", s, fwd.batch)?;
        }
        self.check_grads(grads)?;
        Ok(self.backward_unchecked(fwd, x, lengths, dlogits, dstate_n, grads, want_dx))
    }

    /// [`Model::backward`] without the checks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_unchecked(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        dlogits: &[T],
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
    ) -> (State<T>, Option<Vec<T>>) {
        self.backward_traced(fwd, x, lengths, dlogits, dstate_n, grads, want_dx, None)
    }

    /// [`Model::backward_unchecked`], also adding into `traces[k*D + d][t]`
    /// (when given: one `[T]` buffer per layer and direction) the squared
    /// norm of the gradient reaching each step's state (see
    /// [`Recurrent::backward_traced`](crate::nn::layer::Recurrent)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_traced(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        dlogits: &[T],
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
        traces: Option<&mut [Vec<T>]>,
    ) -> (State<T>, Option<Vec<T>>) {
        let cfg = &self.config;
        let (steps, batch) = (fwd.steps, fwd.batch);
        let (h, nd, o) = (cfg.hidden_size, cfg.directions(), cfg.output_size);
        let (rows, dh) = (steps * batch, nd * h);
        let nl = self.layout.len();
        let (vr, cr) = (self.layout[nl - 2].range(), self.layout[nl - 1].range());
        let top = self.layer_feed(fwd, cfg.num_layers - 1);
        // dE/dV = sum_t (dE/do_t) s_t^T   [O, T*B] x [T*B, D*H]
        gemm(
            o,
            dh,
            rows,
            dlogits,
            true,
            top,
            false,
            &mut grads[vr.clone()],
            true,
        );
        // dE/dc = sum_t dE/do_t
        col_sum_acc(rows, o, dlogits, &mut grads[cr]);
        // dE/ds_t = V^T dE/do_t   [T*B, O] x [O, D*H]
        let mut dout = pool::reused(rows * dh); // every element written below
        gemm(
            rows,
            dh,
            o,
            dlogits,
            false,
            &self.params[vr],
            false,
            &mut dout,
            false,
        );
        self.backward_top_traced(fwd, x, lengths, dout, dstate_n, grads, want_dx, traces)
    }

    /// BPTT below the readout: from `dtop` = dE/d(what the readout reads),
    /// `[T, B, D*H]` (the top layer's output, after its dropout mask), through
    /// every layer. A head other than the per-step readout (pooling, see
    /// [`crate::nn::many_to_one`]) computes its own readout gradients and
    /// starts here. Adds the layers' parameter gradients into `grads`;
    /// returns as [`Model::backward`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_top_unchecked(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        dtop: Vec<T>,
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
    ) -> (State<T>, Option<Vec<T>>) {
        self.backward_top_traced(fwd, x, lengths, dtop, dstate_n, grads, want_dx, None)
    }

    /// [`Model::backward_top_unchecked`] with the gradient-flow `traces` of
    /// [`Model::backward_traced`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_top_traced(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        mut dout: Vec<T>,
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
        mut traces: Option<&mut [Vec<T>]>,
    ) -> (State<T>, Option<Vec<T>>) {
        let cfg = &self.config;
        let (steps, batch) = (fwd.steps, fwd.batch);
        let (h, nd) = (cfg.hidden_size, cfg.directions());
        let (rows, bh, dh) = (steps * batch, batch * h, nd * h);
        if !fwd.masks.is_empty() {
            // dropout before the readout: dE/dout_t = m_t * dE/dout~_t
            mask_in_place(&mut dout, &fwd.masks[cfg.num_layers - 1]);
        }

        let mut d0 = self.zero_state(batch);
        let mut dx_out = None;
        let mut dir_grad = vec![T::zero(); if nd == 2 { rows * h } else { 0 }];
        for k in (0..cfg.num_layers).rev() {
            let input = if k == 0 {
                x
            } else {
                Input::Dense(self.layer_feed(fwd, k - 1))
            };
            let need_dx = k > 0 || want_dx;
            let in_size = cfg.layer(k, 0).input_size;
            let mut dx = pool::zeroed(if need_dx { rows * in_size } else { 0 });
            for d in 0..nd {
                let idx = k * nd + d;
                let upstream: &[T] = if nd == 1 {
                    &dout
                } else {
                    // this direction's half of dE/dout_t
                    for (r, row) in dir_grad.chunks_exact_mut(h).enumerate() {
                        row.copy_from_slice(&dout[r * dh + d * h..r * dh + (d + 1) * h]);
                    }
                    &dir_grad
                };
                let dhn = dstate_n.map(|s| &s.h[idx * bh..(idx + 1) * bh]);
                let dcn = dstate_n
                    .filter(|s| !s.c.is_empty())
                    .map(|s| &s.c[idx * bh..(idx + 1) * bh]);
                let lp = self.layer_params(&self.params, k, d);
                let mut lg = self.layer_grads(grads, k, d);
                let trace = traces.as_deref_mut().map(|t| t[idx].as_mut_slice());
                let (dh0, dc0) = cfg.layer(k, d).backward_traced(
                    &lp,
                    &fwd.layers[idx],
                    input,
                    steps,
                    batch,
                    lengths,
                    upstream,
                    dhn,
                    dcn,
                    &mut lg,
                    need_dx.then_some(dx.as_mut_slice()),
                    trace,
                );
                d0.h[idx * bh..(idx + 1) * bh].copy_from_slice(&dh0);
                if !dc0.is_empty() {
                    d0.c[idx * bh..(idx + 1) * bh].copy_from_slice(&dc0);
                }
            }
            if k > 0 {
                if !fwd.masks.is_empty() {
                    // dropout between layers: dE/dout_{k-1} = m * dE/dout~_{k-1}
                    mask_in_place(&mut dx, &fwd.masks[k - 1]);
                }
                pool::give_back(std::mem::replace(&mut dout, dx));
            } else if want_dx && matches!(x, Input::Dense(_)) {
                dx_out = Some(dx);
            } else {
                pool::give_back(dx);
            }
        }
        pool::give_back(dout);
        (d0, dx_out)
    }

    /// Forward, loss and backward in one call on `data` (see [`Batch`]):
    /// returns `E`, the forward pass and `dE/d(initial state)`, and adds
    /// `dE/dθ` into `grads`. Targets are class ids `[T, B]` (softmax) or
    /// values `[T, B, O]` (identity); padding positions are not counted.
    /// `grads` has the length of `params`.
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument at fault: a batch
    /// that does not fit the model (see [`Batch`]), targets of the wrong kind
    /// or length, a class `>= O`, a non-finite target value, or a gradient
    /// buffer of the wrong length.
    pub fn loss_and_grads(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> Result<(T, Forward<T>, State<T>)> {
        self.check_loss_inputs(&data, targets, grads)?;
        Ok(self.loss_and_grads_unchecked(data, targets, reduction, grads))
    }

    /// Every check of [`Model::loss_and_grads`].
    pub(crate) fn check_loss_inputs(
        &self,
        data: &Batch<T>,
        targets: Targets<T>,
        grads: &[T],
    ) -> Result<()> {
        self.check_batch(data)?;
        let (steps, batch, lengths) = (data.steps, data.batch, data.lengths);
        self.check_targets(
            targets,
            steps * batch,
            &format!("[T, B] = [{steps}, {batch}]"),
            |r| lengths.is_none_or(|l| r / batch < l[r % batch]),
        )?;
        self.check_masks(data.masks, steps, batch)?;
        self.check_grads(grads)
    }

    /// [`Model::loss_and_grads`] without the checks.
    pub(crate) fn loss_and_grads_unchecked(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> (T, Forward<T>, State<T>) {
        let Batch {
            x,
            steps,
            batch,
            lengths,
            ..
        } = data;
        let fwd = self.forward_unchecked(data);
        let mask: Option<Vec<bool>> = lengths.map(|l| {
            (0..steps * batch)
                .map(|r| r / batch < l[r % batch])
                .collect()
        });
        let mut dlogits = pool::reused(fwd.logits.len()); // every row written by the loss
        let loss = loss_and_grad_unchecked(
            self.config.output,
            &fwd.logits,
            self.config.output_size,
            targets,
            mask.as_deref(),
            reduction,
            &mut dlogits,
        );
        let (d0, _) = self.backward_unchecked(&fwd, x, lengths, &dlogits, None, grads, false);
        pool::give_back(dlogits);
        (loss, fwd, d0)
    }
}
