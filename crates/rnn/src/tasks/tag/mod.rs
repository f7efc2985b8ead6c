//! Sequence labelling (part-of-speech tagging, named-entity recognition):
//! data readers, metrics and the RNN tagger.
//!
//! Modules depend one way: [`data`], [`lexicon`], [`crf`], [`metrics`],
//! [`chars`] and [`tokenize`] know nothing of the tagger; [`features`] describes its inputs;
//! [`tagger`] builds it; the rest add to it (encode, predict, save,
//! transfer, ensemble, step) or use it (trainer, evaluate, diagnose, visualize).

pub mod chars;
pub mod crf;
pub mod data;
pub mod diagnose;
pub mod encode;
pub mod ensemble;
pub mod evaluate;
pub mod features;
mod init;
pub mod lexicon;
pub mod metrics;
pub mod predict;
pub mod save;
pub mod step;
pub mod tagger;
pub mod tokenize;
pub mod trainer;
mod transfer;
pub mod visualize;

#[cfg(test)]
mod dist_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trainer_tests;

pub use data::{InputFormat, Sentence};
pub use diagnose::{flow_batch, FLOW_SENTENCES};
pub use encode::Encoded;
pub use ensemble::Ensemble;
pub use evaluate::{evaluate, unknown_tags};
pub use features::{FeatureKind, FeatureSpec, NgramSpec, TaggerSpec};
pub use step::{length_batches, Stepper, TrainOptions};
pub use tagger::{Tagger, TaggerOptions};
pub use tokenize::Tokenizer;
pub use trainer::{Keep, Summary, TrainConfig, Trainer};
pub use visualize::VIEW_TOKENS;

/// What a tagger run's `loss.svg` shows (see [`crate::tasks::Plotting`]):
/// the training and dev loss per epoch, in the CRF's units when `crf`.
pub fn loss_plot(crf: bool) -> crate::io::LossPlot {
    crate::io::LossPlot {
        title: if crf {
            "tagger loss (CRF negative log-likelihood per token)"
        } else {
            "tagger loss (mean cross-entropy per token)"
        },
        x: "epoch",
        y_label: "loss",
        series: &[("train", "train_loss"), ("dev", "dev_loss")],
        every: 1,
    }
}
