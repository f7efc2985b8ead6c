//! [`Prepared`]: a model borrowed for repeated inference, its weights laid
//! out once.
//!
//! [`Model::infer`] builds what it needs from the weights on every call (or
//! does without): a call over one sequence of class ids gathers each step's
//! `W_ih x_t` as a column of `W_ih` (stride `I`) and multiplies `W_hh` row
//! by row. A model that serves many calls (generating text, tagging
//! sentence after sentence, `rnn bench`'s inference) lays its weights out
//! once instead, as oneDNN does for PyTorch's LSTM inference: the table
//! `W_ih^T + b_ih` (a step's input projection is one contiguous row) and
//! `W_hh^T` (the batch-1 step product read down its columns,
//! `kernels/cols.rs`), and `W_hh^T` and the readout's `V^T` packed into
//! the panels of `kernels::packed` for batches. The borrow keeps the weights from changing while
//! the layouts live, so they cannot go stale.

use super::infer::Inference;
use super::{Batch, Model};
use crate::kernels::PackedRhs;
use crate::nn::layer::{step_packed, LayerPrep};
use crate::{Float, Result};

/// A [`Model`] with its weights laid out once for inference
/// ([`Model::prepare`]). Its [`Prepared::infer`] computes what
/// [`Model::infer`] computes: the same bits in f64, and in f32 the same up
/// to rounding (batch-1 step products summed in another order); the same
/// bits on one thread and two.
#[derive(Clone, Debug)]
pub struct Prepared<'a, T> {
    /// The model whose weights these are.
    model: &'a Model<T>,
    /// One per layer and direction, in the order of the parameters.
    pub(super) layers: Vec<LayerPrep<T>>,
    /// The readout's `V^T` (`[D*H, O]`) packed into panels for the readout
    /// product of many rows; empty where [`step_packed`] does not choose
    /// that kernel.
    pub(super) head: PackedRhs<T>,
}

impl<T: Float> Model<T> {
    /// Lays the weights out for repeated inference: per layer and direction
    /// `W_ih^T + b_ih` (first layer) and, in f32 with AVX2, `W_hh^T` (for
    /// batch 1, its split halves' columns, and packed for batches); the
    /// readout's `V^T` packed. Costs copies of the weights, in time and in
    /// memory: one of `W_ih` and of `V`, up to three of each `W_hh`.
    ///
    /// ```
    /// use rnn::{Batch, CellKind, Inference, Input, Model, ModelConfig};
    /// let config = ModelConfig { cell: CellKind::Lstm, ..ModelConfig::elman(5, 16, 5) };
    /// let model = Model::<f32>::new(config, 1).unwrap();
    /// let prepared = model.prepare();
    /// let mut inf = Inference::new();
    /// let ids = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]; // [T = 10, B = 1]
    /// prepared.infer(Batch::new(Input::Ids(&ids), 10, 1), &mut inf).unwrap();
    /// let mut plain = Inference::new();
    /// model.infer(Batch::new(Input::Ids(&ids), 10, 1), &mut plain).unwrap();
    /// for (a, b) in inf.logits.iter().zip(&plain.logits) {
    ///     assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0));
    /// }
    /// ```
    ///
    /// A model whose `params`, `layout` and `config` disagree (edited
    /// through its public fields) gets no layouts: its
    /// [`Prepared::infer`] is the error [`Model::infer`] gives it.
    pub fn prepare(&self) -> Prepared<'_, T> {
        if self.check_model().is_err() {
            return Prepared {
                model: self,
                layers: Vec::new(),
                head: PackedRhs::default(),
            };
        }
        let cfg = &self.config;
        let nd = cfg.directions();
        let mut layers = Vec::with_capacity(cfg.num_layers * nd);
        for k in 0..cfg.num_layers {
            for d in 0..nd {
                let p = self.layer_params(&self.params, k, d);
                // only the first layer can read class ids
                layers.push(cfg.layer(k, d).prepare(&p, k == 0));
            }
        }
        let mut head = PackedRhs::default();
        if step_packed::<T>() {
            let (v, _) = self.head(); // [O, D*H]
            head.pack(v, nd * cfg.hidden_size, cfg.output_size, true); // V^T [D*H, O]
        }
        Prepared {
            model: self,
            layers,
            head,
        }
    }
}

impl<T: Float> Prepared<'_, T> {
    /// The model these layouts belong to.
    pub fn model(&self) -> &Model<T> {
        self.model
    }

    /// [`Model::infer`] reading the prepared layouts: the same arguments,
    /// checks, errors and results (see [`Prepared`] on the last bits).
    ///
    /// # Errors
    /// As [`Model::infer`].
    pub fn infer(&self, data: Batch<T>, inf: &mut Inference<T>) -> Result<()> {
        self.model.infer_with(data, inf, Some(self))
    }
}
