//! Gradient flow of a sequence classifier ([`crate::nn::flow`]).
//!
//! The batch: the [`FLOW_SEQUENCES`] longest of the sequences measured (in
//! network steps, after grouping `stride` frames a step) of those at least
//! half as long as the longest one, in their order, each cut to the length
//! of the shortest of them, so that every sequence has the same `T` and
//! each direction's last step (`t = T - 1` forward, `t = 0` backward) is
//! the same step for all of them (as a tagger's sentences). While
//! training the sequences
//! measured are the validation ones (the dev file or the held-out part;
//! the training part without either); [`Classifier::diagnose`] measures a
//! labelled file. The error carried back is the classification loss (the
//! cross-entropy of the softmax readout), which reaches the network
//! through what the readout reads: each direction's final state, or the
//! outputs pooled over every step (`--pool mean`, `max`). The gradient
//! norms are those of the training loss (its mean over the batch, without
//! dropout or input noise).

use super::batch::Encoded;
use super::classifier::Classifier;
use super::data::Dataset;
use crate::nn::flow::{gradient_flow_many_to_one, Flow};
use crate::nn::layer::Input;
use crate::nn::loss::Targets;
use crate::nn::many_to_one::ManyToOne;
use crate::nn::model::Batch;
use crate::nn::pool::Pool;
use crate::{Error, Model, Result};

/// Sequences `B` of the batch the flow is measured on (fewer in small data).
pub const FLOW_SEQUENCES: usize = 8;

/// The flow of `model` (reading through `pool`) on the sequences `idx` of
/// `enc` (classes `labels`, by sequence), see the [module](self); `what`
/// names the data in the error for none.
pub(super) fn flow_on_sequences(
    model: &Model<f32>,
    pool: Pool,
    enc: &Encoded,
    labels: &[usize],
    idx: &[usize],
    what: &str,
) -> Result<Flow> {
    let mut order: Vec<usize> = idx.to_vec();
    // longest first; among equal lengths the earliest (a stable sort)
    order.sort_by_key(|&i| std::cmp::Reverse(enc.steps[i]));
    order.truncate(FLOW_SEQUENCES);
    let longest = order.first().map_or(0, |&i| enc.steps[i]);
    order.retain(|&i| 2 * enc.steps[i] >= longest);
    order.sort_unstable();
    let Some(steps) = order.iter().map(|&i| enc.steps[i]).min() else {
        return Err(Error::argument(what, "at least one sequence", "none"));
    };
    let (b, w) = (order.len(), enc.width);
    let mut x = vec![0f32; steps * b * w]; // [T, B, I]
    for (j, &i) in order.iter().enumerate() {
        for (t, frame) in enc.inputs[i].chunks_exact(w).take(steps).enumerate() {
            x[(t * b + j) * w..(t * b + j + 1) * w].copy_from_slice(frame);
        }
    }
    let y: Vec<usize> = order.iter().map(|&i| labels[i]).collect();
    gradient_flow_many_to_one(
        &ManyToOne::with_pool(model, pool),
        Batch::new(Input::Dense(&x), steps, b),
        Targets::Classes(&y),
    )
}

impl Classifier {
    /// The gradient flow of this classifier's first network on labelled
    /// sequences (read with [`Classifier::read`]; see the [module](self));
    /// `what` names the data in errors.
    ///
    /// ```
    /// use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
    /// use rnn::tasks::Budget;
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-cl-diagnose-{}", std::process::id()));
    /// let text = "@classLabel true lo hi\n@data\n0,0,1,0:lo\n0,1,0:lo\n5,6,5,6:hi\n6,5,6,5,6:hi\n";
    /// let data = Dataset::parse_ts(std::path::Path::new("toy.ts"), text, Fill::Linear, None)?;
    /// let cfg = TrainConfig { hidden: 4, val_frac: 0.0, ensemble: 1, ..TrainConfig::default() };
    /// Trainer::from_data(cfg, data.clone(), None, &dir)?.fit(Budget::Epochs(1), &mut ())?;
    /// let flow = Classifier::load(&dir)?.diagnose(&data, "toy.ts")?;
    /// // every sequence (3 to 5 steps), cut to 3; bidirectional: the backward direction from t = 0
    /// assert_eq!((flow.steps, flow.layers.len(), flow.layers[1].from_step), (3, 2, 0));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rnn::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A classifier of reservoirs only (nothing trained through time), data with
    /// another frame size, a sequence without a label or with one the model
    /// does not know, or no sequence.
    pub fn diagnose(&self, data: &Dataset, what: &str) -> Result<Flow> {
        if self.members.is_empty() {
            return Err(Error::Config(
                "this classifier has reservoirs only (echo-state networks): their recurrent weights were never trained, so there is no gradient flow to diagnose (train with --reservoir mix or off for networks)".into(),
            ));
        }
        self.check_dims(data)?;
        let labels = data.class_ids(&self.meta.classes)?;
        let enc = Encoded::new(data, &self.meta.normaliser, self.meta.stride)?;
        let idx: Vec<usize> = (0..data.len()).collect();
        let first = self
            .members
            .first()
            .ok_or_else(|| Error::Config("a classifier needs at least one network".into()))?;
        flow_on_sequences(first, self.meta.pool, &enc, &labels, &idx, what)
    }
}
