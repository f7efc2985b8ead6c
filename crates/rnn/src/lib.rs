//! # rnn
//!
//! Recurrent neural networks written from first principles: the Elman RNN
//!
//! ```text
//! s_t = f(U x_t + W s_{t-1} + b)      o_t = V s_t + c      p_t = g(o_t)
//! E   = sum_t E_t
//! ```
//!
//! with backpropagation through time written by hand, plus LSTM and GRU cells,
//! stacked and bidirectional layers and variable-length batches, all generic
//! over `f32` and `f64`.
//!
//! ```
//! use rnn::{Batch, Input, Model, ModelConfig, Reduction, Targets};
//! // I = 3 classes in, H = 8 hidden units, O = 3 classes out
//! let model = Model::<f64>::new(ModelConfig::elman(3, 8, 3), 42).unwrap();
//! let ids = [0, 1, 2, 0]; // T = 4 steps, B = 1
//! let next = [1, 2, 0, 1];
//! let mut grads = vec![0.0; model.params.len()];
//! let batch = Batch::new(Input::Ids(&ids), 4, 1);
//! let (loss, _, _) = model.loss_and_grads(batch, Targets::Classes(&next), Reduction::Sum,
//!     &mut grads).unwrap();
//! assert!(loss > 0.0 && grads.iter().any(|g| *g != 0.0));
//! ```
#![warn(missing_docs)]

pub mod dist;
mod error;
pub mod interop;
pub mod io;
pub mod kernels;
pub mod memory;
pub mod nn;
pub mod optim;
pub mod tasks;
pub mod testing;

pub use error::{Error, Result};
pub use io::model_file::Task;
pub use kernels::Float;
pub use nn::cell::{Activation, CellKind};
pub use nn::layer::Input;
pub use nn::loss::{OutputKind, Reduction, Targets};
pub use nn::model::infer::Inference;
pub use nn::model::prepared::Prepared;
pub use nn::model::{Batch, Model, ModelConfig, State};
pub use nn::stream::Stream;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
