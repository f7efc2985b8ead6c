//! What `rnn train lm` is told: [`TrainConfig`], with its checks.

use crate::nn::cell::{Activation, CellKind, CellName};
use crate::nn::loss::OutputKind;
use crate::nn::model::ModelConfig;
use crate::optim::schedule::Schedule;
use crate::optim::OptimizerName;
use crate::tasks::OnDivergence;
use crate::{Error, Result};

/// Everything `rnn train lm` is told: the model, the data split, the
/// optimizer and schedule, the evaluation cadence. Defaults are the CLI's.
///
/// ```
/// use rnn::tasks::lm::TrainConfig;
/// let c = TrainConfig::default();
/// assert_eq!((c.hidden, c.seq_len, c.batch, c.eval_every), (256, 64, 32, 200));
/// assert_eq!((c.lr, c.clip, c.val_frac), (2e-3, Some(5.0), 0.1));
/// assert!(c.validate().is_ok());
/// let bad = TrainConfig { seq_len: 0, ..TrainConfig::default() };
/// assert_eq!(bad.validate().unwrap_err().to_string(),
///     "seq_len: 0 is out of range (at least 1)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Hidden units per layer (256).
    pub hidden: usize,
    /// Stacked layers, 1 to 8 (1).
    pub layers: usize,
    /// The cell (Elman).
    pub cell: CellName,
    /// The Elman nonlinearity (tanh).
    pub activation: Activation,
    /// Truncated-BPTT window: characters per step and stream (64).
    pub seq_len: usize,
    /// Parallel streams per batch (32).
    pub batch: usize,
    /// Dropout probability on each layer's output, training only (0).
    pub dropout: f64,
    /// DropConnect on the recurrent weights, training only (0): each
    /// window, every entry of every `weight_hh` is dropped with this
    /// probability (the rest scaled by `1/(1-p)`), the same mask at every
    /// step of the window (AWD-LSTM's weight drop).
    pub weight_drop: f64,
    /// Locked dropout (false): `dropout`'s mask drawn once per window and
    /// stream, the same at every step (AWD-LSTM's locked dropout), instead
    /// of a fresh mask at every step.
    pub locked_dropout: bool,
    /// LSTM only: every forget-gate bias starts at this (`None`: PyTorch's init).
    pub forget_bias: Option<f64>,
    /// The optimizer (Adam).
    pub optimizer: OptimizerName,
    /// Learning rate (2e-3).
    pub lr: f64,
    /// Weight decay of the optimizer (`None`: PyTorch's, 0 or AdamW's 0.01).
    pub weight_decay: Option<f64>,
    /// Clip the global gradient norm to this (5; `None`: off).
    pub clip: Option<f64>,
    /// Seed of initialisation, data offsets and dropout (0).
    pub seed: u64,
    /// Fraction of the text, at its end, held out for validation (0.1).
    pub val_frac: f64,
    /// Evaluate on the validation text every this many steps (200).
    pub eval_every: u64,
    /// Validate on at most this many characters of the validation text
    /// ([`DEFAULT_VAL_CHARS`]; `None`: all of it): a longer one is scored on
    /// evenly spread parts ([`super::evaluate_sample`]), so that on a large
    /// corpus an evaluation does not cost more than the steps between two.
    /// `rnn eval` scores a whole text whatever this is.
    pub val_chars: Option<usize>,
    /// The learning-rate schedule (plateau: decay 0.5, patience 2).
    pub schedule: Schedule,
    /// A cosine schedule ends at this share of `lr` (0.1; 0: down to zero).
    pub lr_floor: f64,
    /// Cosine schedule only: over the first this many optimizer steps the
    /// learning rate rises linearly, `(step + 1) / warmup` of the
    /// schedule's (0: no warmup). Lets a higher peak `lr` start without
    /// Adam's first large updates throwing the network off.
    pub warmup: u64,
    /// Stop once this many optimizer steps are taken in all, counting those
    /// before a resume, whatever the budget (`None`: the budget decides).
    pub max_steps: Option<u64>,
    /// At each evaluation, also measure the gradient flow on the validation
    /// text ([`crate::nn::flow`]) into `diagnostics.jsonl`,
    /// `gradient-flow.svg` and `spectral-radius.svg`.
    pub diagnostics: bool,
    /// What a non-finite loss does: stop (default), or roll back to the
    /// last checkpoint's weights with half the learning rate.
    pub on_divergence: OnDivergence,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: 256,
            layers: 1,
            cell: CellName::Elman,
            activation: Activation::Tanh,
            seq_len: 64,
            batch: 32,
            dropout: 0.0,
            weight_drop: 0.0,
            locked_dropout: false,
            forget_bias: None,
            optimizer: OptimizerName::Adam,
            lr: 2e-3,
            weight_decay: None,
            clip: Some(5.0),
            seed: 0,
            val_frac: 0.1,
            eval_every: 200,
            val_chars: Some(DEFAULT_VAL_CHARS),
            schedule: Schedule::default(),
            lr_floor: crate::optim::schedule::COSINE_FLOOR,
            warmup: 0,
            max_steps: None,
            diagnostics: false,
            on_divergence: OnDivergence::Stop,
        }
    }
}

/// Characters of the validation text a training evaluates on by default
/// (262,144 = 256 Ki; [`TrainConfig::val_chars`]): a tenth of a text up to
/// 2.6 MB (tinyshakespeare, Moby-Dick) is all scored; of a 45 MB text
/// 6 % (about a fifth of the compute of the default 200 steps between
/// evaluations).
pub const DEFAULT_VAL_CHARS: usize = 262_144;

fn out_of_range(what: &str, value: impl ToString, expected: &str) -> Error {
    Error::Value {
        what: what.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

impl TrainConfig {
    /// Checks every field and how they go together; the error names the
    /// first bad one.
    pub fn validate(&self) -> Result<()> {
        self.validate_fields()?;
        if self.locked_dropout && self.dropout == 0.0 {
            // it only changes how dropout's masks are drawn
            return Err(Error::Config(
                "locked_dropout (--locked-dropout): expected a dropout above 0 to lock, got dropout 0"
                    .into(),
            ));
        }
        if self.warmup > 0 && !matches!(self.schedule, Schedule::Cosine) {
            return Err(Error::Config(format!(
                "warmup (--warmup): {} steps need the cosine schedule (--schedule cosine), got the plateau schedule",
                self.warmup
            )));
        }
        Ok(())
    }

    /// Checks each field by itself (what a resume checks of the options
    /// given, before they meet the saved run's).
    pub(super) fn validate_fields(&self) -> Result<()> {
        for (what, v) in [
            ("seq_len", self.seq_len),
            ("batch", self.batch),
            ("hidden", self.hidden),
            ("eval_every", self.eval_every as usize),
        ] {
            if v == 0 {
                return Err(out_of_range(what, v, "at least 1"));
            }
        }
        if self.max_steps == Some(0) {
            return Err(out_of_range("max_steps", 0, "at least 1"));
        }
        if self.val_chars == Some(0) {
            return Err(out_of_range("val_chars", 0, "at least 1 (None: all)"));
        }
        if !(1..=8).contains(&self.layers) {
            return Err(out_of_range("layers", self.layers, "1 to 8"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(out_of_range("lr", self.lr, "a positive finite number"));
        }
        super::state::check_shared_fields(
            self.clip,
            self.val_frac,
            self.forget_bias,
            self.dropout,
            self.weight_drop,
        )?;
        if !(0.0..=1.0).contains(&self.lr_floor) {
            return Err(out_of_range(
                "lr_floor",
                self.lr_floor,
                "a share of lr in [0, 1]",
            ));
        }
        if let Some(wd) = self.weight_decay.filter(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(out_of_range("weight_decay", wd, "a finite number >= 0"));
        }
        self.schedule.validate()
    }

    /// The model for a vocabulary of `v` characters.
    pub(super) fn model_config(&self, v: usize) -> ModelConfig {
        let mut config = ModelConfig::elman(v, self.hidden, v);
        config.cell = CellKind::from_name(self.cell, self.activation);
        config.num_layers = self.layers;
        config.output = OutputKind::Softmax;
        config
    }
}
