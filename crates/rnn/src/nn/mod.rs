//! The network: cells, the recurrent layer (one time loop), losses and the
//! [`Model`] that stacks layers under a linear readout.

pub mod cell;
pub mod flow;
pub mod layer;
pub mod loss;
pub mod many_to_one;
pub mod model;
pub mod pool;
pub mod stream;

pub use model::{Batch, Model, ModelConfig, State};
