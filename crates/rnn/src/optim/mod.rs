//! Gradient-descent optimizers with `torch.optim` semantics and defaults,
//! gradient clipping with `torch.nn.utils` semantics, and learning-rate
//! schedules ([`schedule`]).
//!
//! Every optimizer here is elementwise, so it runs over the model's flat
//! parameter buffer in one loop; its state is one or two buffers of the same
//! length plus a step counter.

use crate::{Error, Float, Result};
use serde::{Deserialize, Serialize};

mod name;
mod rows;
pub mod schedule;
mod update;
pub use rows::{RowLayout, RowOptimizer, Touched};
pub use update::flush_below;

pub use name::OptimizerName;
pub use schedule::{Schedule, ScheduleName};

/// An optimizer and its hyper-parameters. Defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum OptimizerConfig {
    /// `torch.optim.SGD`.
    #[serde(rename = "SGD")]
    Sgd {
        /// Learning rate (PyTorch default 1e-3).
        lr: f64,
        /// Momentum factor (0).
        momentum: f64,
        /// Dampening for momentum (0).
        dampening: f64,
        /// Nesterov momentum (false).
        nesterov: bool,
        /// L2 penalty added to the gradient (0).
        weight_decay: f64,
    },
    /// `torch.optim.Adagrad`.
    Adagrad {
        /// Learning rate (1e-2).
        lr: f64,
        /// Learning-rate decay (0).
        lr_decay: f64,
        /// L2 penalty (0).
        weight_decay: f64,
        /// Initial value of the sum of squares (0).
        initial_accumulator_value: f64,
        /// Term added to the denominator (1e-10).
        eps: f64,
    },
    /// `torch.optim.RMSprop`.
    #[serde(rename = "RMSprop")]
    RmsProp {
        /// Learning rate (1e-2).
        lr: f64,
        /// Smoothing constant (0.99).
        alpha: f64,
        /// Term added to the denominator (1e-8).
        eps: f64,
        /// L2 penalty (0).
        weight_decay: f64,
        /// Momentum factor (0).
        momentum: f64,
        /// Normalise by the estimated variance (false).
        centered: bool,
    },
    /// `torch.optim.Adam` (L2 penalty added to the gradient).
    Adam {
        /// Learning rate (1e-3).
        lr: f64,
        /// Coefficients of the running averages ((0.9, 0.999)).
        betas: (f64, f64),
        /// Term added to the denominator (1e-8).
        eps: f64,
        /// L2 penalty (0).
        weight_decay: f64,
        /// Use the maximum of past squared-gradient averages (false).
        amsgrad: bool,
    },
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW {
        /// Learning rate (1e-3).
        lr: f64,
        /// Coefficients of the running averages ((0.9, 0.999)).
        betas: (f64, f64),
        /// Term added to the denominator (1e-8).
        eps: f64,
        /// Decoupled weight decay (1e-2).
        weight_decay: f64,
        /// Use the maximum of past squared-gradient averages (false).
        amsgrad: bool,
    },
}

/// The names accepted by [`OptimizerConfig::from_args`].
pub const OPTIMIZERS: &str = "sgd, adagrad, rmsprop, adam, adamw";

impl OptimizerConfig {
    /// The optimizer `name` (case-insensitive: SGD, Adagrad, RMSprop, Adam,
    /// AdamW) with PyTorch's defaults, overridden by the torch.optim keyword
    /// arguments in `args` (a JSON object). An argument the optimizer does not
    /// take, or a value of the wrong type or range, is an error.
    pub fn from_args(name: &str, args: &serde_json::Value) -> Result<Self> {
        let obj = match args {
            serde_json::Value::Object(m) => m.clone(),
            serde_json::Value::Null => Default::default(),
            v => {
                return Err(Error::Config(format!(
                    "optimizer arguments must be a JSON object, got {v}"
                )))
            }
        };
        let num = |k: &str, d: f64| -> Result<f64> {
            match obj.get(k) {
                None => Ok(d),
                Some(v) => v
                    .as_f64()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "optimizer argument {k} = {v}: expected a finite number >= 0"
                        ))
                    }),
            }
        };
        let flag = |k: &str| -> Result<bool> {
            match obj.get(k) {
                None => Ok(false),
                Some(v) => v.as_bool().ok_or_else(|| {
                    Error::Config(format!(
                        "optimizer argument {k} = {v}: expected true or false"
                    ))
                }),
            }
        };
        let betas = || -> Result<(f64, f64)> {
            match obj.get("betas") {
                None => Ok((0.9, 0.999)),
                Some(v) => match v
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_f64()).collect::<Vec<_>>())
                    .as_deref()
                {
                    Some([Some(b1), Some(b2)])
                        if (0.0..1.0).contains(b1) && (0.0..1.0).contains(b2) =>
                    {
                        Ok((*b1, *b2))
                    }
                    _ => Err(Error::Config(format!(
                        "optimizer argument betas = {v}: expected [b1, b2] with each in [0, 1)"
                    ))),
                },
            }
        };
        let (cfg, allowed): (Self, &[&str]) = match name.to_ascii_lowercase().as_str() {
            "sgd" => (
                Self::Sgd {
                    lr: num("lr", 1e-3)?,
                    momentum: num("momentum", 0.0)?,
                    dampening: num("dampening", 0.0)?,
                    nesterov: flag("nesterov")?,
                    weight_decay: num("weight_decay", 0.0)?,
                },
                &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
            ),
            "adagrad" => (
                Self::Adagrad {
                    lr: num("lr", 1e-2)?,
                    lr_decay: num("lr_decay", 0.0)?,
                    weight_decay: num("weight_decay", 0.0)?,
                    initial_accumulator_value: num("initial_accumulator_value", 0.0)?,
                    eps: num("eps", 1e-10)?,
                },
                &[
                    "lr",
                    "lr_decay",
                    "weight_decay",
                    "initial_accumulator_value",
                    "eps",
                ],
            ),
            "rmsprop" => (
                Self::RmsProp {
                    lr: num("lr", 1e-2)?,
                    alpha: num("alpha", 0.99)?,
                    eps: num("eps", 1e-8)?,
                    weight_decay: num("weight_decay", 0.0)?,
                    momentum: num("momentum", 0.0)?,
                    centered: flag("centered")?,
                },
                &["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
            ),
            "adam" | "adamw" => {
                let adamw = name.eq_ignore_ascii_case("adamw");
                let (lr, betas, eps, amsgrad) = (
                    num("lr", 1e-3)?,
                    betas()?,
                    num("eps", 1e-8)?,
                    flag("amsgrad")?,
                );
                let weight_decay = num("weight_decay", if adamw { 1e-2 } else { 0.0 })?;
                let c = if adamw {
                    Self::AdamW {
                        lr,
                        betas,
                        eps,
                        weight_decay,
                        amsgrad,
                    }
                } else {
                    Self::Adam {
                        lr,
                        betas,
                        eps,
                        weight_decay,
                        amsgrad,
                    }
                };
                (c, &["lr", "betas", "eps", "weight_decay", "amsgrad"])
            }
            _ => {
                return Err(Error::Config(format!(
                    "unknown optimizer {name:?}: expected one of {OPTIMIZERS}"
                )))
            }
        };
        if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::Config(format!(
                "optimizer {name} does not take argument {k:?} (it takes {})",
                allowed.join(", ")
            )));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the ranges [`OptimizerConfig::from_args`] accepts (so a
    /// config deserialized or built by hand can be checked too): every
    /// number finite and `>= 0`; `eps > 0` (with 0, a parameter whose
    /// gradients are all 0 becomes 0/0 = NaN); RMSprop's `alpha` and SGD's
    /// `dampening` in `[0, 1]`; Adam's betas in `[0, 1)`; SGD nesterov with
    /// momentum > 0 and dampening 0. The error names the argument and its
    /// value.
    ///
    /// ```
    /// use rnn::optim::OptimizerConfig;
    /// use serde_json::json;
    /// let e = OptimizerConfig::from_args("adam", &json!({"eps": 0.0})).unwrap_err();
    /// assert_eq!(e.to_string(), "optimizer argument eps = 0: expected a finite number > 0");
    /// assert!(OptimizerConfig::from_args("rmsprop", &json!({"alpha": 5.0})).is_err());
    /// assert!(OptimizerConfig::from_args("sgd", &json!({"dampening": 1.5})).is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |k: &str, v: f64, expected: &str| {
            // `{v}`: NaN and inf as such (JSON has neither: it would print null)
            Err(Error::Config(format!(
                "optimizer argument {k} = {v}: expected {expected}"
            )))
        };
        let nonneg = "a finite number >= 0";
        let mut numbers: Vec<(&str, f64)> = vec![("lr", self.lr())];
        let mut eps = None;
        match *self {
            Self::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
                ..
            } => {
                numbers.extend([("momentum", momentum), ("weight_decay", weight_decay)]);
                if !(0.0..=1.0).contains(&dampening) {
                    return bad("dampening", dampening, "a number in [0, 1]");
                }
                if nesterov && (momentum <= 0.0 || dampening != 0.0) {
                    return Err(Error::Config(
                        "SGD nesterov needs momentum > 0 and dampening = 0".into(),
                    ));
                }
            }
            Self::Adagrad {
                lr_decay,
                weight_decay,
                initial_accumulator_value,
                eps: e,
                ..
            } => {
                numbers.extend([
                    ("lr_decay", lr_decay),
                    ("weight_decay", weight_decay),
                    ("initial_accumulator_value", initial_accumulator_value),
                ]);
                eps = Some(e);
            }
            Self::RmsProp {
                alpha,
                eps: e,
                weight_decay,
                momentum,
                ..
            } => {
                numbers.extend([("weight_decay", weight_decay), ("momentum", momentum)]);
                if !(0.0..=1.0).contains(&alpha) {
                    return bad("alpha", alpha, "a number in [0, 1]");
                }
                eps = Some(e);
            }
            Self::Adam {
                betas,
                eps: e,
                weight_decay,
                ..
            }
            | Self::AdamW {
                betas,
                eps: e,
                weight_decay,
                ..
            } => {
                numbers.push(("weight_decay", weight_decay));
                for (k, b) in [("betas[0]", betas.0), ("betas[1]", betas.1)] {
                    if !(0.0..1.0).contains(&b) {
                        return bad(k, b, "a number in [0, 1)");
                    }
                }
                eps = Some(e);
            }
        }
        if let Some(&(k, v)) = numbers.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return bad(k, v, nonneg);
        }
        match eps {
            Some(e) if !(e.is_finite() && e > 0.0) => bad("eps", e, "a finite number > 0"),
            _ => Ok(()),
        }
    }

    /// The optimizer's name as `--optimizer` takes it (`sgd`, `adagrad`,
    /// `rmsprop`, `adam`, `adamw`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adagrad { .. } => "adagrad",
            Self::RmsProp { .. } => "rmsprop",
            Self::Adam { .. } => "adam",
            Self::AdamW { .. } => "adamw",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            Self::Sgd { lr, .. }
            | Self::Adagrad { lr, .. }
            | Self::RmsProp { lr, .. }
            | Self::Adam { lr, .. }
            | Self::AdamW { lr, .. } => lr,
        }
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, new: f64) {
        match self {
            Self::Sgd { lr, .. }
            | Self::Adagrad { lr, .. }
            | Self::RmsProp { lr, .. }
            | Self::Adam { lr, .. }
            | Self::AdamW { lr, .. } => *lr = new,
        }
    }

    /// How many state buffers (each as long as the parameters) it keeps.
    pub fn buffers(&self) -> usize {
        match *self {
            Self::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            Self::Adagrad { .. } => 1,
            Self::RmsProp {
                momentum, centered, ..
            } => 1 + usize::from(momentum > 0.0) + usize::from(centered),
            Self::Adam { amsgrad, .. } | Self::AdamW { amsgrad, .. } => 2 + usize::from(amsgrad),
        }
    }
}

/// An optimizer with its state.
#[derive(Clone, Debug)]
pub struct Optimizer<T> {
    /// Hyper-parameters.
    pub config: OptimizerConfig,
    /// Updates applied so far.
    pub steps: u64,
    /// State buffers, each `[P]` (momentum, squared averages, ...).
    pub state: Vec<Vec<T>>,
}

impl<T: Float> Optimizer<T> {
    /// A fresh optimizer for `n` parameters.
    pub fn new(config: OptimizerConfig, n: usize) -> Self {
        let init = match config {
            OptimizerConfig::Adagrad {
                initial_accumulator_value,
                ..
            } => T::of(initial_accumulator_value),
            _ => T::zero(),
        };
        let state = (0..config.buffers()).map(|_| vec![init; n]).collect();
        Optimizer {
            config,
            steps: 0,
            state,
        }
    }

    /// One update `θ ← θ - lr · (direction)` from `grads = dE/dθ`.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] before anything changes when `grads` is not as
    /// long as `params`, when the optimizer's state was built for another
    /// number of parameters or holds the wrong number of buffers (see
    /// [`Optimizer::new`]), or when the learning rate is not a finite
    /// number `>= 0` (after [`OptimizerConfig::set_lr`]).
    ///
    /// ```
    /// use rnn::optim::{Optimizer, OptimizerName};
    /// let mut opt = Optimizer::<f64>::new(OptimizerName::Adam.config(1e-3, None).unwrap(), 2);
    /// let mut p = vec![1.0; 5];
    /// let e = opt.step(&mut p, &[0.1; 5]).unwrap_err().to_string();
    /// assert_eq!(e, "params: expected 2 values, as the optimizer's state was built for, got 5 values");
    /// assert_eq!(p, [1.0; 5]); // unchanged
    /// ```
    pub fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<()> {
        self.check_step(params, grads)?;
        self.step_unchecked(params, grads);
        Ok(())
    }

    /// What [`Optimizer::step`] refuses: O(1), before any change.
    fn check_step(&self, params: &[T], grads: &[T]) -> Result<()> {
        if grads.len() != params.len() {
            return Err(Error::argument(
                "grads",
                format!("one per parameter, {} values (params.len())", params.len()),
                format!("{} values", grads.len()),
            ));
        }
        let buffers = self.config.buffers();
        if self.state.len() != buffers {
            return Err(Error::argument(
                "optimizer.state",
                format!("{buffers} buffers for {}", self.config.name()),
                format!("{} buffers", self.state.len()),
            ));
        }
        if let Some(b) = self.state.iter().find(|b| b.len() != params.len()) {
            return Err(Error::argument(
                "params",
                format!("{} values, as the optimizer's state was built for", b.len()),
                format!("{} values", params.len()),
            ));
        }
        let lr = self.config.lr();
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::argument("lr", "a finite number >= 0", lr));
        }
        Ok(())
    }

    /// [`Optimizer::step`] without the checks: every buffer of `state` is
    /// as long as `params` and `grads`. The updates themselves are in
    /// `update.rs`, one function per optimizer.
    fn step_unchecked(&mut self, params: &mut [T], grads: &[T]) {
        self.steps += 1;
        let t = self.steps;
        let state = &mut self.state[..];
        match self.config {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => {
                let sgd = update::Sgd {
                    lr,
                    momentum,
                    dampening,
                    nesterov,
                    weight_decay,
                };
                sgd.step(t == 1, params, grads, state.first_mut().map(|b| &mut b[..]));
            }
            OptimizerConfig::Adagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                ..
            } => {
                // γ_t = γ / (1 + (t - 1) η)
                let clr = lr / (1.0 + (t - 1) as f64 * lr_decay);
                update::adagrad(clr, weight_decay, eps, params, grads, &mut state[0]);
            }
            OptimizerConfig::RmsProp {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                let rms = update::RmsProp {
                    lr,
                    alpha,
                    eps,
                    weight_decay,
                    momentum,
                };
                let (sq, rest) = state.split_at_mut(1);
                let (buf, rest) = rest.split_at_mut(usize::from(momentum > 0.0));
                let avg = centered.then(|| &mut rest[0][..]);
                rms.step(
                    params,
                    grads,
                    &mut sq[0],
                    buf.first_mut().map(|b| &mut b[..]),
                    avg,
                );
            }
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => {
                let (adam, decoupled) = adam_at(&self.config, t).expect("an Adam config");
                adam.step_range(decoupled, params, grads, state, 0..params.len());
            }
        }
    }
}

/// Adam's or AdamW's update at step `t` (`None` for the other
/// optimizers), and whether it is AdamW's.
fn adam_at(config: &OptimizerConfig, t: u64) -> Option<(update::Adam, bool)> {
    let (lr, betas, eps, weight_decay, decoupled) = match *config {
        OptimizerConfig::Adam {
            lr,
            betas,
            eps,
            weight_decay,
            ..
        } => (lr, betas, eps, weight_decay, false),
        OptimizerConfig::AdamW {
            lr,
            betas,
            eps,
            weight_decay,
            ..
        } => (lr, betas, eps, weight_decay, true),
        _ => return None,
    };
    // β^t by powi while t fits an i32 (the bits of the reference
    // trajectories), past it by powf: `t as i32` wrapped negative at 2^31
    // steps and the weights became NaN (library sweep of session 53)
    let pow = |b: f64| i32::try_from(t).map_or_else(|_| b.powf(t as f64), |t| b.powi(t));
    let adam = update::Adam {
        step_size: lr / (1.0 - pow(betas.0)),  // γ/(1-β1^t)
        bc2_sqrt: (1.0 - pow(betas.1)).sqrt(), // sqrt(1 - β2^t)
        betas,
        eps,
        weight_decay,
        decay: 1.0 - lr * weight_decay,
    };
    Some((adam, decoupled))
}

/// A clipping bound: a number `>= 0`, `inf` for none. A negative bound
/// would flip the gradients' signs, a NaN silently not clip.
fn check_bound(arg: &str, bound: f64) -> Result<()> {
    if bound >= 0.0 {
        Ok(())
    } else {
        Err(Error::argument(
            arg,
            "a bound >= 0 (inf: no clipping)",
            bound,
        ))
    }
}

/// Scales all gradients by `max_norm / (‖g‖ + 1e-6)` when that is below 1
/// (`torch.nn.utils.clip_grad_norm_`). Returns the total norm before clipping.
///
/// # Errors
///
/// [`Error::Argument`] naming `max_norm` when it is negative or NaN (the
/// gradients are left as they are); `inf` clips nothing.
///
/// ```
/// let mut g = [3.0f64, 4.0];
/// assert!(rnn::optim::clip_grad_norm(&mut g, -1.0).is_err());
/// assert_eq!(g, [3.0, 4.0]);
/// ```
pub fn clip_grad_norm<T: Float>(grads: &mut [T], max_norm: f64) -> Result<f64> {
    check_bound("max_norm", max_norm)?;
    let mut total = grads.iter().map(|g| g.f64() * g.f64()).sum::<f64>().sqrt();
    if total.is_infinite() && grads.iter().all(|g| g.f64().is_finite()) {
        // finite gradients whose squares overflow (f64 past 1e154): the norm
        // again over the largest magnitude (it zeroed them: 1e200 / inf)
        let big = grads.iter().map(|g| g.f64().abs()).fold(0.0, f64::max);
        let sum = grads
            .iter()
            .map(|g| (g.f64() / big) * (g.f64() / big))
            .sum::<f64>();
        total = big * sum.sqrt();
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = T::of(coef);
        grads.iter_mut().for_each(|g| *g *= c);
    }
    Ok(total)
}

/// Clamps every gradient entry to `[-clip, clip]` (`clip_grad_value_`).
///
/// # Errors
///
/// [`Error::Argument`] naming `clip` when it is negative or NaN (the
/// gradients are left as they are).
pub fn clip_grad_value<T: Float>(grads: &mut [T], clip: f64) -> Result<()> {
    check_bound("clip", clip)?;
    let (lo, hi) = (T::of(-clip), T::of(clip));
    grads.iter_mut().for_each(|g| *g = g.max(lo).min(hi));
    Ok(())
}

#[cfg(test)]
mod tests;
