//! [`ModelConfig`]: the architecture of a model.

use crate::nn::cell::{Activation, CellKind};
use crate::nn::layer::Recurrent;
use crate::nn::loss::OutputKind;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The architecture of a [`Model`](crate::Model). Defaults follow PyTorch where it has one.
///
/// ```
/// use rnn::{CellKind, ModelConfig, OutputKind};
/// // a 2-layer bidirectional GRU regressor: I = 3 inputs, H = 16, O = 1 output
/// let cfg = ModelConfig {
///     cell: CellKind::Gru,
///     num_layers: 2,
///     bidirectional: true,
///     output: OutputKind::Identity,
///     ..ModelConfig::elman(3, 16, 1)
/// };
/// assert_eq!(cfg.directions(), 2);
/// cfg.validate().unwrap();
/// assert!(ModelConfig { hidden_size: 0, ..cfg }.validate().is_err());
/// ```
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

    /// Checks that every size is positive and that every size derived from
    /// them (`G*H`, `D*H`, each parameter tensor, the parameter count) fits in
    /// a `usize`; see [`ModelConfig::param_count`].
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
        self.param_count().map(|_| ())
    }

    /// The number of parameters, computed with checked arithmetic: an
    /// [`Error::Argument`] names the size that overflows.
    ///
    /// ```
    /// let c = rnn::ModelConfig::elman(3, 4, 2);
    /// assert_eq!(c.param_count().unwrap(), 4 * 3 + 4 * 4 + 4 + 4 + 2 * 4 + 2);
    /// let huge = rnn::ModelConfig::elman(3, 1 << 63, 2);
    /// assert!(huge.param_count().unwrap_err().to_string().contains("hidden_size"));
    /// ```
    pub fn param_count(&self) -> Result<usize> {
        let overflow = |what: &str| {
            Error::argument(
                format!("config.{what}"),
                "sizes whose parameter count fits in a usize",
                format!(
                    "input_size {}, hidden_size {}, num_layers {}, output_size {} (overflows)",
                    self.input_size, self.hidden_size, self.num_layers, self.output_size
                ),
            )
        };
        let h = self.hidden_size;
        let gh = self
            .cell
            .gates()
            .checked_mul(h)
            .ok_or_else(|| overflow("hidden_size"))?;
        let dh = self
            .directions()
            .checked_mul(h)
            .ok_or_else(|| overflow("hidden_size"))?;
        let biases = if self.bias_hh { 2 } else { 1 };
        // one direction of layer k: G*H*I_k + G*H*(H + biases)
        let recur = h
            .checked_add(biases)
            .and_then(|v| v.checked_mul(gh))
            .ok_or_else(|| overflow("hidden_size"))?;
        let first = self
            .input_size
            .checked_mul(gh)
            .and_then(|v| v.checked_add(recur))
            .ok_or_else(|| overflow("input_size"))?;
        let rest = dh
            .checked_mul(gh)
            .and_then(|v| v.checked_add(recur))
            .ok_or_else(|| overflow("hidden_size"))?;
        let layers = rest
            .checked_mul(self.num_layers.saturating_sub(1))
            .and_then(|v| v.checked_add(if self.num_layers == 0 { 0 } else { first }))
            .and_then(|v| v.checked_mul(self.directions()))
            .ok_or_else(|| overflow("num_layers"))?;
        // head: O*(D*H + 1)
        let head = dh
            .checked_add(1)
            .and_then(|v| v.checked_mul(self.output_size))
            .ok_or_else(|| overflow("output_size"))?;
        layers
            .checked_add(head)
            .ok_or_else(|| overflow("output_size"))
    }

    /// The number of parameters in floating point: never overflows, so a
    /// configuration from a damaged file still gets a figure (for
    /// [`crate::memory::ensure_fits`]).
    ///
    /// ```
    /// let c = rnn::ModelConfig::elman(3, 4, 2);
    /// assert_eq!(c.param_count_f64(), c.param_count().unwrap() as f64);
    /// assert!(rnn::ModelConfig::elman(3, 1 << 40, 2).param_count_f64() > 1e24);
    /// ```
    pub fn param_count_f64(&self) -> f64 {
        let (i, h, o) = (
            self.input_size as f64,
            self.hidden_size as f64,
            self.output_size as f64,
        );
        let (g, d, l) = (
            self.cell.gates() as f64,
            self.directions() as f64,
            self.num_layers as f64,
        );
        let b = if self.bias_hh { 2.0 } else { 1.0 };
        let recur = g * h * (h + b);
        let layers = if self.num_layers == 0 {
            0.0
        } else {
            d * (g * h * i + recur + (l - 1.0) * (g * h * d * h + recur))
        };
        layers + o * (d * h + 1.0)
    }

    /// An estimate of the bytes that training this model (f32) takes: the
    /// weights, their gradients, `optimizer_buffers` optimizer buffers, a
    /// checkpoint being written (weights and optimizer, twice over while
    /// serialised), and the activations of one forward and backward pass
    /// over `steps` x `batch` (inputs, gates, states and their gradients per
    /// layer and direction; readout outputs and their gradients).
    ///
    /// ```
    /// let c = rnn::ModelConfig::elman(60, 1_000_000, 60);
    /// assert!(c.training_bytes(2, 64, 32) > 1e13); // 4e12 bytes of weights alone
    /// ```
    pub fn training_bytes(&self, optimizer_buffers: usize, steps: usize, batch: usize) -> f64 {
        let p = self.param_count_f64();
        let k = optimizer_buffers as f64;
        let (h, o) = (self.hidden_size as f64, self.output_size as f64);
        let gh = self.cell.gates() as f64 * h;
        let (d, l) = (self.directions() as f64, self.num_layers as f64);
        let per_position =
            l * d * (3.0 * gh + 4.0 * h) + self.input_size.min(1 << 20) as f64 + 2.0 * o;
        let activations = steps as f64 * batch as f64 * per_position;
        4.0 * (p * (2.0 + k) + 2.0 * p * (1.0 + k) + activations)
    }

    /// Refuses (before allocating) a model whose training would need more
    /// memory than the machine has ([`ModelConfig::training_bytes`],
    /// [`crate::memory::ensure_fits`]); the error names `task` and the sizes.
    pub fn ensure_trainable(
        &self,
        task: &str,
        optimizer_buffers: usize,
        steps: usize,
        batch: usize,
    ) -> Result<()> {
        crate::memory::ensure_fits(
            || {
                format!(
                    // the batch and steps named: a batch of usize::MAX was
                    // blamed on the model's sizes alone (session 53's sweep)
                    "training a '{task}' model of {:.1e} parameters (hidden {}, {} layer(s), input {}, output {}) on batches of {batch} sequence(s) of {steps} step(s)",
                    self.param_count_f64(),
                    self.hidden_size,
                    self.num_layers,
                    self.input_size,
                    self.output_size
                )
            },
            self.training_bytes(optimizer_buffers, steps, batch),
        )
    }

    pub(crate) fn layer(&self, k: usize, d: usize) -> Recurrent {
        Recurrent {
            cell: self.cell,
            input_size: if k == 0 {
                self.input_size
            } else {
                self.directions().saturating_mul(self.hidden_size)
            },
            hidden: self.hidden_size,
            reverse: d == 1,
        }
    }
}
