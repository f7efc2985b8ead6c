//! The forward pass: stacked layers, then the readout, keeping everything
//! BPTT needs.

use crate::kernels::{gemm, pool};
use crate::nn::layer::{Input, LayerCache};
use crate::nn::model::{Batch, Model, State};
use crate::{Error, Float, Result};

/// What [`Model::forward`] computes and keeps for [`Model::backward`].
#[derive(Clone, Debug)]
pub struct Forward<T> {
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// Per layer and direction (index `k*D + d`), the layer's cache.
    pub layers: Vec<LayerCache<T>>,
    /// Per layer, the concatenated outputs `[T, B, D*H]` (empty when D = 1:
    /// the layer cache's `h` is the output).
    pub(super) concat: Vec<Vec<T>>,
    /// Dropout: per layer, the mask `[T, B, D*H]` on its output (0 or
    /// `1/(1-p)`) and the masked output the next layer or the readout reads
    /// (both empty without dropout).
    pub(super) masks: Vec<Vec<T>>,
    pub(super) dropped: Vec<Vec<T>>,
    /// Readout `o_t = V s_t + c`: `[T, B, O]`, zero past each length.
    pub logits: Vec<T>,
}

impl<T: Float> Forward<T> {
    /// Hands the caches' large buffers to this thread's next forward pass
    /// (see `kernels::pool`) instead of back to the allocator: for training
    /// loops, once BPTT has read them.
    pub(crate) fn give_back(self) {
        for layer in self.layers {
            for v in [layer.h, layer.c_prev, layer.gates] {
                pool::give_back(v);
            }
        }
    }
}

impl<T: Float> Model<T> {
    /// The output of layer `k` of `fwd`, a forward pass of this model:
    /// `[T, B, D*H]`. An error naming `k` when it is not below the number
    /// of layers (of the model and of `fwd`).
    ///
    /// ```
    /// use rnn::{Batch, Input, Model, ModelConfig};
    /// let m = Model::<f64>::new(ModelConfig::elman(3, 4, 3), 0).unwrap();
    /// let fwd = m.forward(Batch::new(Input::Ids(&[0, 2]), 2, 1)).unwrap();
    /// assert_eq!(m.layer_output(&fwd, 0).unwrap().len(), 2 * 4); // [T, B, H]
    /// let e = m.layer_output(&fwd, 5).unwrap_err();
    /// assert_eq!(e.to_string(), "k: expected a layer below 1, got 5");
    /// ```
    pub fn layer_output<'a>(&self, fwd: &'a Forward<T>, k: usize) -> Result<&'a [T]> {
        let have = match self.config.bidirectional {
            true => fwd.concat.len(),
            false => fwd.layers.len(),
        };
        let layers = self.config.num_layers.min(have);
        if k >= layers {
            return Err(Error::argument("k", format!("a layer below {layers}"), k));
        }
        Ok(self.output_of(fwd, k))
    }

    /// [`Model::layer_output`] unchecked, for the crate's own forward
    /// passes (`k` below the layers it ran).
    pub(crate) fn output_of<'a>(&self, fwd: &'a Forward<T>, k: usize) -> &'a [T] {
        if self.config.bidirectional {
            &fwd.concat[k]
        } else {
            &fwd.layers[k].h
        }
    }

    /// What layer `k + 1` (or, for the top layer, the readout) reads from
    /// layer `k`: its output, masked when training with dropout. `[T, B, D*H]`.
    pub(crate) fn layer_feed<'a>(&self, fwd: &'a Forward<T>, k: usize) -> &'a [T] {
        if fwd.dropped.is_empty() {
            self.output_of(fwd, k)
        } else {
            &fwd.dropped[k]
        }
    }

    /// The final state of every layer and direction (at each sequence's own end).
    pub fn final_state(&self, fwd: &Forward<T>) -> State<T> {
        State {
            h: fwd
                .layers
                .iter()
                .flat_map(|c| c.h_n.iter().copied())
                .collect(),
            c: fwd
                .layers
                .iter()
                .flat_map(|c| c.c_n.iter().copied())
                .collect(),
        }
    }

    /// Runs the network on `data` (inputs, initial state and lengths: see
    /// [`Batch`]): stacked layers, then the readout `o_t = V s_t + c`
    /// (`logits`: `[T, B, O]`), keeping per layer what BPTT needs.
    ///
    /// # Errors
    ///
    /// An [`crate::Error::Argument`] naming the argument at fault when `data`
    /// is not a valid batch for this model (see [`Batch`]).
    ///
    /// ```
    /// use rnn::{Batch, Input, Model, ModelConfig};
    /// let model = Model::<f64>::new(ModelConfig::elman(5, 8, 5), 1).unwrap();
    /// let fwd = model.forward(Batch::new(Input::Ids(&[0, 1, 2, 3]), 2, 2)).unwrap();
    /// assert_eq!(fwd.logits.len(), 2 * 2 * 5); // [T, B, O]
    /// // a class id >= I is an error naming the input
    /// let bad = model.forward(Batch::new(Input::Ids(&[0, 1, 2, 5]), 2, 2)).unwrap_err();
    /// assert!(bad.to_string().starts_with("x[3]"));
    /// ```
    pub fn forward(&self, data: Batch<T>) -> Result<Forward<T>> {
        self.check_batch(&data)?;
        self.check_masks(data.masks, data.steps, data.batch)?;
        Ok(self.forward_unchecked(data))
    }

    /// [`Model::forward`] without the checks, for callers that built the
    /// batch themselves. With `data.masks`, inverted dropout on every
    /// layer's output (between layers and before the readout), which
    /// [`Model::backward`] applies to the gradients too.
    pub(crate) fn forward_unchecked(&self, data: Batch<T>) -> Forward<T> {
        let Batch {
            x,
            steps,
            batch,
            state,
            lengths,
            masks,
            ..
        } = data;
        let cfg = &self.config;
        let (h, nd) = (cfg.hidden_size, cfg.directions());
        let bh = batch * h;
        let mut fwd = Forward {
            steps,
            batch,
            layers: Vec::with_capacity(cfg.num_layers * nd),
            concat: Vec::new(),
            masks: Vec::new(),
            dropped: Vec::new(),
            logits: Vec::new(),
        };
        for k in 0..cfg.num_layers {
            for d in 0..nd {
                let idx = k * nd + d;
                let input = if k == 0 {
                    x
                } else {
                    Input::Dense(self.layer_feed(&fwd, k - 1))
                };
                let h0 = state.map(|s| &s.h[idx * bh..(idx + 1) * bh]);
                let c0 = state
                    .filter(|s| !s.c.is_empty())
                    .map(|s| &s.c[idx * bh..(idx + 1) * bh]);
                let lp = self.layer_params(&self.params, k, d);
                let cache = cfg
                    .layer(k, d)
                    .forward(&lp, input, steps, batch, h0, c0, lengths);
                fwd.layers.push(cache);
            }
            if nd == 2 {
                // out_t = [h_t (forward) ; h_t (backward)]   [T, B, 2H]
                let (f, b) = (&fwd.layers[k * 2].h, &fwd.layers[k * 2 + 1].h);
                let mut cat = vec![T::zero(); steps * batch * 2 * h];
                for (r, row) in cat.chunks_exact_mut(2 * h).enumerate() {
                    row[..h].copy_from_slice(&f[r * h..(r + 1) * h]);
                    row[h..].copy_from_slice(&b[r * h..(r + 1) * h]);
                }
                fwd.concat.push(cat);
            }
            if let Some(m) = masks {
                // dropout: out~_t = m_t * out_t   [T, B, D*H]
                let out = self.output_of(&fwd, k);
                let kept = out.iter().zip(&m[k]).map(|(&v, &mk)| v * mk).collect();
                fwd.dropped.push(kept);
            }
        }
        if let Some(m) = masks {
            fwd.masks = m.to_vec();
        }
        // o_t = V s_t + c   [T*B, D*H] x [D*H, O]
        let (v, c) = self.head();
        let (o, dh) = (cfg.output_size, nd * h);
        let rows = steps * batch;
        let mut logits = vec![T::zero(); rows * o];
        for row in logits.chunks_exact_mut(o) {
            row.copy_from_slice(c);
        }
        let top = self.layer_feed(&fwd, cfg.num_layers - 1);
        gemm(rows, o, dh, top, false, v, true, &mut logits, true);
        if let Some(l) = lengths {
            for (r, row) in logits.chunks_exact_mut(o).enumerate() {
                if r / batch >= l[r % batch] {
                    row.fill(T::zero());
                }
            }
        }
        fwd.logits = logits;
        fwd
    }
}
