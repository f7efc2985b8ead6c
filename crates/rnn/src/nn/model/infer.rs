//! Forward passes for inference only: the readout `o_t = V s_t + c` of the
//! network without anything kept for BPTT.
//!
//! [`Model::forward`] keeps, per layer, the outputs, the state entering every
//! step and the gate values ([`crate::nn::layer::LayerCache`]), allocated afresh
//! on each call. Inference needs none of it: [`Model::infer`] runs the same
//! cell steps and products in the same order (so it computes the same
//! numbers) but writes each layer's outputs straight into one of two
//! ping-pong buffers and keeps every buffer in an [`Inference`] that the
//! caller reuses, so repeated calls of one shape do not allocate.

use crate::kernels::gemm;
use crate::nn::layer::{Input, LayerScratch};
use crate::nn::model::parallel::{batch_parts, scatter_rows, split_batch};
use crate::nn::model::{Batch, Model, State};
use crate::Prepared;
use crate::{Float, Result};
use std::sync::Mutex;

/// The results and buffers of [`Model::infer`]; keep one and pass it to every
/// call so the buffers are reused.
#[derive(Clone, Debug, Default)]
pub struct Inference<T> {
    /// The readout `o_t = V s_t + c` of the last call: `[T, B, O]`, zero past
    /// each sequence's length.
    pub logits: Vec<T>,
    /// The final state of every layer and direction after the last call (at
    /// each sequence's own end): `h` and, for the LSTM, `c`, each `[L*D, B, H]`.
    pub state: State<T>,
    /// The outputs of the layer below the one running: `[T, B, D*H]`.
    below: Vec<T>,
    /// The outputs of the layer running (of the top layer at the end):
    /// `[T, B, D*H]`, the directions side by side.
    above: Vec<T>,
    /// The layer loop's own buffers.
    scratch: LayerScratch<T>,
    /// The backward direction's outputs when it runs on a thread of its
    /// own: `[T, B, H]`.
    rev: Vec<T>,
    /// That direction's layer-loop buffers.
    scratch_rev: LayerScratch<T>,
    /// The buffers of each part of a batch split across threads
    /// ([`Batch::split_across_threads`]), kept from call to call.
    parts: Vec<Inference<T>>,
}

impl<T: Float> Inference<T> {
    /// Empty buffers; they grow on the first call.
    pub fn new() -> Self {
        Self::default()
    }

    /// The top layer's outputs of the last call, `[T, B, D*H]` (zero past
    /// each sequence's length), when it ran on one thread (not split across
    /// threads: [`Batch::split_across_threads`]).
    pub(crate) fn top_outputs(&self) -> &[T] {
        &self.above
    }
}

impl<T: Float> Model<T> {
    /// Runs the network for inference on `data` (inputs, initial state and
    /// lengths: see [`Batch`]): the same logits as `self.forward(data).logits`
    /// and the same final state as [`Model::final_state`], into `inf.logits`
    /// (`[T, B, O]`) and `inf.state` (`[L*D, B, H]`), with nothing kept for
    /// BPTT and no allocation once `inf`'s buffers have grown to this shape.
    ///
    /// `data.state` may be a copy of the `inf.state` of a previous call (to
    /// carry the state on), not `inf.state` itself. With
    /// [`Batch::split_across_threads`], the batch is split into contiguous
    /// parts, one per thread ([`crate::kernels::threads`], at most one per
    /// sequence), like [`Model::loss_and_grads_parallel`], each part from its
    /// rows of `data.state`.
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument at fault when `data`
    /// is not a valid batch for this model (see [`Batch`]), or carries
    /// dropout masks (training only); `inf` is then left as it was.
    ///
    /// ```
    /// use rnn::{Batch, Inference, Input, Model, ModelConfig};
    /// let model = Model::<f32>::new(ModelConfig::elman(5, 8, 5), 1).unwrap();
    /// let mut inf = Inference::new();
    /// model.infer(Batch::new(Input::Ids(&[0, 1, 2, 3, 4, 0]), 3, 2), &mut inf).unwrap();
    /// assert_eq!(inf.logits.len(), 3 * 2 * 5); // [T, B, O]
    /// assert_eq!(inf.state.h.len(), 2 * 8); // [L*D, B, H]
    /// // carry the state on into the next chunk
    /// let state = inf.state.clone();
    /// let next = Batch::new(Input::Ids(&[1, 2]), 1, 2).with_state(&state);
    /// model.infer(next, &mut inf).unwrap();
    /// // an ids slice shorter than T*B is an error, whatever `inf` held before
    /// assert!(model.infer(Batch::new(Input::Ids(&[1]), 1, 2), &mut inf).is_err());
    /// ```
    pub fn infer(&self, data: Batch<T>, inf: &mut Inference<T>) -> Result<()> {
        self.infer_with(data, inf, None)
    }

    /// [`Model::infer`] with the weights laid out once (`prep`, from
    /// [`Model::prepare`]), or without.
    pub(crate) fn infer_with(
        &self,
        data: Batch<T>,
        inf: &mut Inference<T>,
        prep: Option<&Prepared<'_, T>>,
    ) -> Result<()> {
        self.check_batch(&data)?;
        if data.masks.is_some() {
            return Err(crate::Error::argument(
                "masks",
                "none for inference (dropout is for training)",
                "dropout masks",
            ));
        }
        if data.split {
            self.infer_parallel_unchecked(data, inf, prep);
        } else {
            self.infer_prepared_unchecked(data, inf, prep);
        }
        Ok(())
    }

    /// [`Model::infer`] without the checks.
    pub(crate) fn infer_unchecked(&self, data: Batch<T>, inf: &mut Inference<T>) {
        self.infer_prepared_unchecked(data, inf, None)
    }

    /// [`Model::infer_with`] without the checks.
    pub(crate) fn infer_prepared_unchecked(
        &self,
        data: Batch<T>,
        inf: &mut Inference<T>,
        prep: Option<&Prepared<'_, T>>,
    ) {
        let Batch {
            x,
            steps,
            batch,
            state,
            lengths,
            ..
        } = data;
        let cfg = &self.config;
        let (h, nd, o) = (cfg.hidden_size, cfg.directions(), cfg.output_size);
        let mem = cfg.cell.has_memory();
        let (rows, bh, dh) = (steps * batch, batch * h, nd * h);
        let n_state = cfg.num_layers * nd * bh;
        let Inference {
            logits,
            state: s,
            below,
            above,
            scratch,
            rev,
            scratch_rev,
            ..
        } = inf;
        // A bidirectional layer's two directions are independent given the
        // layer's input: with two threads to spare they run side by side,
        // each on one thread (a batch of one, e.g. a sentence being tagged,
        // has no batch to split).
        let two_threads =
            nd == 2 && crate::kernels::threads() > 1 && !crate::kernels::in_sequential();
        // the running state starts as h0 (and c0): [L*D, B, H]
        s.h.clear();
        match state {
            Some(s0) => s.h.extend_from_slice(&s0.h[..n_state]),
            None => s.h.resize(n_state, T::zero()),
        }
        s.c.clear();
        if mem {
            match state.filter(|s0| !s0.c.is_empty()) {
                Some(s0) => s.c.extend_from_slice(&s0.c[..n_state]),
                None => s.c.resize(n_state, T::zero()),
            }
        }
        for k in 0..cfg.num_layers {
            // this layer reads the outputs of the one below: swap the buffers
            std::mem::swap(below, above);
            if lengths.is_some() {
                above.clear(); // outputs stay zero at padding, as in `forward`
            }
            above.resize(rows * dh, T::zero()); // [T, B, D*H]
            if two_threads {
                let input = if k == 0 {
                    x
                } else {
                    Input::Dense(&below[..rows * dh])
                };
                let (lp_f, lp_b) = (
                    self.layer_params(&self.params, k, 0),
                    self.layer_params(&self.params, k, 1),
                );
                // the states of directions 0 and 1: rows 2k and 2k+1 of [L*D, B, H]
                let (h_f, h_b) = s.h[2 * k * bh..(2 * k + 2) * bh].split_at_mut(bh);
                let (c_f, c_b): (&mut [T], &mut [T]) = if mem {
                    s.c[2 * k * bh..(2 * k + 2) * bh].split_at_mut(bh)
                } else {
                    (&mut [], &mut [])
                };
                rev.clear(); // zero at padding
                rev.resize(rows * h, T::zero()); // [T, B, H]
                let above_f: &mut [T] = above;
                rayon::join(
                    || {
                        crate::kernels::sequential(|| {
                            // forward direction: columns 0..H of each row
                            cfg.layer(k, 0).infer(
                                &lp_f,
                                input,
                                steps,
                                batch,
                                lengths,
                                h_f,
                                c_f,
                                above_f,
                                dh,
                                0,
                                scratch,
                                prep.map(|pp| &pp.layers[2 * k]),
                            )
                        })
                    },
                    || {
                        crate::kernels::sequential(|| {
                            // backward direction: its own [T, B, H]
                            cfg.layer(k, 1).infer(
                                &lp_b,
                                input,
                                steps,
                                batch,
                                lengths,
                                h_b,
                                c_b,
                                rev,
                                h,
                                0,
                                scratch_rev,
                                prep.map(|pp| &pp.layers[2 * k + 1]),
                            )
                        })
                    },
                );
                // out_t = [h_t (forward) ; h_t (backward)]
                for (row, r) in above.chunks_exact_mut(dh).zip(rev.chunks_exact(h)) {
                    row[h..].copy_from_slice(r);
                }
                continue;
            }
            for d in 0..nd {
                let idx = k * nd + d;
                let input = if k == 0 {
                    x
                } else {
                    Input::Dense(&below[..rows * dh])
                };
                let lp = self.layer_params(&self.params, k, d);
                let hs = &mut s.h[idx * bh..(idx + 1) * bh];
                let cs: &mut [T] = if mem {
                    &mut s.c[idx * bh..(idx + 1) * bh]
                } else {
                    &mut []
                };
                // direction d writes columns d*H..(d+1)*H of each row:
                // out_t = [h_t (forward) ; h_t (backward)]
                cfg.layer(k, d).infer(
                    &lp,
                    input,
                    steps,
                    batch,
                    lengths,
                    hs,
                    cs,
                    above,
                    dh,
                    d * h,
                    scratch,
                    prep.map(|pp| &pp.layers[idx]),
                );
            }
        }
        // o_t = V s_t + c   [T*B, D*H] x [D*H, O]
        let (v, c) = self.head();
        logits.resize(rows * o, T::zero()); // [T, B, O]
        for row in logits.chunks_exact_mut(o) {
            row.copy_from_slice(c);
        }
        match prep {
            // V^T packed once (`Prepared`): the panel kernel of the step products
            Some(pp) if pp.head.k() == dh && pp.head.n() == o => {
                pp.head.gemm_acc(rows, &above[..rows * dh], logits)
            }
            _ => gemm(
                rows,
                o,
                dh,
                &above[..rows * dh],
                false,
                v,
                true,
                logits,
                true,
            ),
        }
        if let Some(l) = lengths {
            for (r, row) in logits.chunks_exact_mut(o).enumerate() {
                if r / batch >= l[r % batch] {
                    row.fill(T::zero());
                }
            }
        }
    }

    /// [`Model::infer`] of a batch split across threads, without the
    /// checks. With one thread this is `infer_unchecked`.
    pub(crate) fn infer_parallel_unchecked(
        &self,
        data: Batch<T>,
        inf: &mut Inference<T>,
        prep: Option<&Prepared<'_, T>>,
    ) {
        let (steps, batch) = (data.steps, data.batch);
        let (o, h) = (self.config.output_size, self.config.hidden_size);
        // a small batch over large layers: each step split by hidden units
        // across two threads (`layer/split.rs`), each reading half of W_hh,
        // instead of each part of the batch reading all of it
        let by_units = self.every_layer(|layer| match data.lengths {
            None => layer.units_split::<T>(batch, steps),
            Some(_) => layer.units_split_sorted::<T>(batch, steps),
        });
        if by_units {
            return self.infer_prepared_unchecked(data, inf, prep);
        }
        // each part runs on buffers of its own, kept in `inf` for the next
        // call: fresh ones were allocated and zero-filled at every call
        let own = batch_parts(batch);
        let mut kept = std::mem::take(&mut inf.parts);
        kept.resize_with(own.len(), Inference::new);
        let kept: Vec<Mutex<Inference<T>>> = kept.into_iter().map(Mutex::new).collect();
        let split = split_batch(self, data, false, prep.is_some(), |(b0, _), part| {
            // split_batch cuts the batch as batch_parts does: one part each
            let k = own.iter().position(|p| p.0 == b0).unwrap_or(0);
            let mut out = kept[k].lock().unwrap_or_else(|e| e.into_inner());
            self.infer_prepared_unchecked(part, &mut out, prep);
        });
        let outs: Vec<Inference<T>> = kept
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let Some((parts, _)) = split else {
            inf.parts = outs;
            return self.infer_prepared_unchecked(data, inf, prep);
        };
        // each part's [T, Bp, O] logits back into [T, B, O]
        inf.logits.resize(steps * batch * o, T::zero());
        let logits: Vec<&[T]> = outs.iter().map(|p| p.logits.as_slice()).collect();
        scatter_rows(&mut inf.logits, &parts, &logits, o, steps, batch);
        // and each part's [L*D, Bp, H] final state into [L*D, B, H]
        let finals: Vec<&State<T>> = outs.iter().map(|p| &p.state).collect();
        inf.state = State::join(&finals, &parts, batch, h);
        inf.parts = outs;
    }
}
