//! [`ModelConfig`]: the architecture of a model.

use crate::nn::cell::{Activation, CellKind};
use crate::nn::layer::Recurrent;
use crate::nn::loss::OutputKind;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The architecture of a [`Model`]. Defaults follow PyTorch where it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The recurrent cell (default Elman with tanh, as `nn.RNN`).
    pub cell: CellKind,
    /// `I`: input vector size, or number of classes for id inputs.
    pub input_size: usize,
    /// `H`: hidden units per direction.
    pub hidden_size: usize,
    /// Stacked layers (`num_layers`, default 1).
    pub num_layers: usize,
    /// Two directions per layer, outputs concatenated forward then backward (default false).
    pub bidirectional: bool,
    /// `O`: outputs of the readout.
    pub output_size: usize,
    /// The output function and loss (softmax + cross-entropy, or identity + squared error).
    pub output: OutputKind,
    /// PyTorch's second bias `bias_hh` (default true). `false` gives the seed's
    /// model with the single bias `b` (= `bias_ih`).
    pub bias_hh: bool,
}

impl ModelConfig {
    /// An Elman network with PyTorch's defaults for everything not given.
    pub fn elman(input_size: usize, hidden_size: usize, output_size: usize) -> Self {
        ModelConfig {
            cell: CellKind::Elman {
                activation: Activation::Tanh,
            },
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
            output_size,
            output: OutputKind::Softmax,
            bias_hh: true,
        }
    }

    /// `D`: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Checks that every size is positive.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("input size", self.input_size),
            ("hidden size", self.hidden_size),
            ("number of layers", self.num_layers),
            ("output size", self.output_size),
        ] {
            if v == 0 {
                return Err(Error::Value {
                    what: what.into(),
                    value: "0".into(),
                    expected: "at least 1".into(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn layer(&self, k: usize, d: usize) -> Recurrent {
        Recurrent {
            cell: self.cell,
            input_size: if k == 0 {
                self.input_size
            } else {
                self.directions() * self.hidden_size
            },
            hidden: self.hidden_size,
            reverse: d == 1,
        }
    }
}
