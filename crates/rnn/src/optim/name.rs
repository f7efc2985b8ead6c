//! The optimizers by name: what `--optimizer` takes.

use super::OptimizerConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// An optimizer's name (`sgd`, `adagrad`, `rmsprop`, `adam`, `adamw`).
///
/// ```
/// use rnn::optim::{OptimizerConfig, OptimizerName};
/// let c = OptimizerName::Adamw.config(1e-3, None).unwrap();
/// assert!(matches!(c, OptimizerConfig::AdamW { weight_decay, .. } if weight_decay == 1e-2));
/// assert!(OptimizerName::Sgd.config(-1.0, None).is_err());
/// assert_eq!(
///     OptimizerName::Sgd.config(f64::NAN, None).unwrap_err().to_string(),
///     "optimizer sgd: optimizer argument lr = NaN: expected a finite number >= 0"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OptimizerName {
    /// `torch.optim.SGD`.
    Sgd,
    /// `torch.optim.Adagrad`.
    Adagrad,
    /// `torch.optim.RMSprop`.
    Rmsprop,
    /// `torch.optim.Adam`.
    #[default]
    Adam,
    /// `torch.optim.AdamW`.
    Adamw,
}

impl OptimizerName {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Adagrad => "adagrad",
            Self::Rmsprop => "rmsprop",
            Self::Adam => "adam",
            Self::Adamw => "adamw",
        }
    }

    /// The optimizer with PyTorch's defaults but learning rate `lr` and,
    /// when given, `weight_decay` (an L2 term, decoupled for AdamW; default
    /// 0, AdamW 0.01). A negative or non-finite value is an error.
    pub fn config(self, lr: f64, weight_decay: Option<f64>) -> Result<OptimizerConfig> {
        // checked before JSON, which would print a NaN or an infinity as null
        for (k, v) in [("lr", Some(lr)), ("weight_decay", weight_decay)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return Err(Error::Config(format!(
                    "optimizer {}: optimizer argument {k} = {v}: expected a finite number >= 0",
                    self.name()
                )));
            }
        }
        let mut args = serde_json::json!({ "lr": lr });
        if let Some(wd) = weight_decay {
            args["weight_decay"] = serde_json::json!(wd);
        }
        OptimizerConfig::from_args(self.name(), &args).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("optimizer {}: {m}", self.name())),
            e => e,
        })
    }
}
