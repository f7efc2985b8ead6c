//! Character-level language modelling: the vocabulary ([`Vocab`]), the text
//! and its split ([`Corpus`], [`LmData`]), batching into parallel streams
//! with truncated BPTT ([`TrainState`], resumable bit for bit), training for
//! a budget ([`Trainer`], configured by [`TrainConfig`]), evaluation and
//! sampling ([`LanguageModel`]).
//!
//! ```
//! use rnn::tasks::lm::{Corpus, LanguageModel, Sampling, TrainConfig, Trainer};
//! use rnn::tasks::Budget;
//! let dir = std::env::temp_dir().join(format!("rnn-doc-lm-{}", std::process::id()));
//! let text = Corpus::new("built-in", "abcabcabd".repeat(30));
//! let config = TrainConfig { hidden: 8, seq_len: 4, batch: 2, eval_every: 10, ..Default::default() };
//! Trainer::new(config, &text, &dir).unwrap().fit(Budget::Steps(10), &mut ()).unwrap();
//! let lm = LanguageModel::load(&dir).unwrap();
//! let more = lm.generate("ab", Sampling { len: 10, ..Default::default() }).unwrap();
//! assert!(more.chars().all(|c| "abcd".contains(c)));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod config;
mod data;
mod diagnose;
mod evaluate;
mod generate;
mod model;
mod resume;
mod state;
mod trainer;
mod visualize;
mod vocab;

pub use config::{TrainConfig, DEFAULT_VAL_CHARS};
pub use data::{read_text, Corpus, LmData};
pub use diagnose::{flow_on_ids, FLOW_STREAMS, FLOW_WINDOW};
pub use evaluate::{
    evaluate, evaluate_sample, evaluate_sample_with, Evaluation, EVAL_MIN_SEGMENT, EVAL_STREAMS,
    EVAL_WINDOW,
};
pub use generate::{generate, generate_while, Sampling};
pub use model::{LanguageModel, TASK};
pub use resume::RESUME_FIELDS;
pub use state::{StepConfig, TrainState};
pub use trainer::{Summary, Trainer, STATE_FILE};
pub use visualize::VIEW_CHARS;
pub use vocab::{vocab_meta, vocab_of, Vocab};

/// What a language model run's `loss.svg` shows (see [`crate::tasks::Plotting`]).
pub const LOSS_PLOT: crate::io::LossPlot = crate::io::LossPlot {
    title: "language model: loss (nats/char)",
    x: "step",
    y_label: "loss",
    series: &[
        ("train (smoothed)", "train_loss"),
        ("validation", "val_loss"),
    ],
    every: 1,
};
