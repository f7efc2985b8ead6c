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
//! use rnn::{Model, ModelConfig, layer::Input, loss::{Targets, Reduction}, model::Batch};
//! // I = 3 classes in, H = 8 hidden units, O = 3 classes out
//! let model = Model::<f64>::new(ModelConfig::elman(3, 8, 3), 42).unwrap();
//! let ids = [0, 1, 2, 0]; // T = 4 steps, B = 1
//! let next = [1, 2, 0, 1];
//! let mut grads = vec![0.0; model.params.len()];
//! let batch = Batch::new(Input::Ids(&ids), 4, 1);
//! let (loss, _, _) = model.loss_and_grads(batch, Targets::Classes(&next), Reduction::Sum,
//!     &mut grads);
//! assert!(loss > 0.0 && grads.iter().any(|g| *g != 0.0));
//! ```
#![warn(missing_docs)]

pub mod cell;
pub mod checkpoint;
mod error;
mod float;
pub mod gradcheck;
pub mod infer;
pub mod io;
pub mod layer;
pub mod linalg;
pub mod lm;
pub mod loss;
pub mod many_to_one;
pub mod model;
pub mod optim;
pub mod reference;
pub mod tag;
pub mod timeseries;
pub mod trajectory;

pub use error::{Error, Result};
pub use float::Float;
pub use infer::Inference;
pub use model::{Batch, Model, ModelConfig};
