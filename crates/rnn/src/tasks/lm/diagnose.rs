//! Gradient flow of a language model on text ([`crate::nn::flow`]): one
//! batch of [`FLOW_STREAMS`] windows of [`FLOW_WINDOW`] characters, each
//! predicting its next characters.

use super::model::LanguageModel;
use crate::nn::flow::{gradient_flow, Flow};
use crate::nn::layer::Input;
use crate::nn::loss::Targets;
use crate::nn::model::{Batch, Model};
use crate::{Error, Result};

/// Steps `T` of the batch the flow is measured on (fewer for short text).
pub const FLOW_WINDOW: usize = 100;
/// Sequences `B` of that batch (fewer for short text).
pub const FLOW_STREAMS: usize = 8;

/// The flow of `model` on `ids`: `B` streams spread over the text, each a
/// window of `T` inputs and the `T` characters that follow them. `what`
/// names the text in the error for one too short (under 2 characters).
pub fn flow_on_ids(model: &Model<f32>, ids: &[usize], what: &str) -> Result<Flow> {
    if ids.len() < 2 {
        return Err(Error::argument(what, "at least 2 characters", ids.len()));
    }
    let steps = FLOW_WINDOW.min(ids.len() - 1);
    // stream b starts at b * stride: the streams spread over the text
    let span = ids.len() - 1 - steps; // the last possible start
    let batch = FLOW_STREAMS.min(span + 1);
    let stride = if batch > 1 { span / (batch - 1) } else { 0 };
    let (mut x, mut y) = (vec![0; steps * batch], vec![0; steps * batch]);
    for t in 0..steps {
        for b in 0..batch {
            let at = b * stride + t; // <= span + steps - 1 = len - 2
            (x[t * batch + b], y[t * batch + b]) = (ids[at], ids[at + 1]);
        }
    }
    gradient_flow(
        model,
        Batch::new(Input::Ids(&x), steps, batch),
        Targets::Classes(&y),
    )
}

impl LanguageModel {
    /// The gradient flow of this model on `text` (see [`flow_on_ids`]);
    /// `what` names the text in errors (unknown characters, too short).
    ///
    /// ```
    /// use rnn::tasks::lm::LanguageModel;
    /// use rnn::tasks::lm::Vocab;
    /// use rnn::{Model, ModelConfig};
    /// let vocab = Vocab::from_text("ab ");
    /// let lm = LanguageModel::new(Model::new(ModelConfig::elman(3, 8, 3), 0).unwrap(), vocab).unwrap();
    /// let flow = lm.diagnose(&"ab ".repeat(50), "text").unwrap();
    /// assert_eq!(flow.steps, 100);
    /// assert_eq!(flow.layers[0].grad_norm_by_step.len(), 100);
    /// ```
    ///
    /// # Errors
    ///
    /// Characters outside the vocabulary, or text under 2 characters.
    pub fn diagnose(&self, text: &str, what: &str) -> Result<Flow> {
        let ids = self.vocab.encode(text, what)?;
        flow_on_ids(&self.model, &ids, what)
    }
}
