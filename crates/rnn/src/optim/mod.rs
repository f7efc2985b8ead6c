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
pub mod schedule;

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
        if let Self::Sgd {
            nesterov: true,
            momentum,
            dampening,
            ..
        } = cfg
        {
            if momentum <= 0.0 || dampening != 0.0 {
                return Err(Error::Config(
                    "SGD nesterov needs momentum > 0 and dampening = 0".into(),
                ));
            }
        }
        Ok(cfg)
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
    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        self.steps += 1;
        let t = self.steps;
        let first = t == 1;
        match self.config.clone() {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => {
                let (lr, mu, damp, wd) = (
                    T::of(lr),
                    T::of(momentum),
                    T::of(1.0 - dampening),
                    T::of(weight_decay),
                );
                for (i, (p, &g0)) in params.iter_mut().zip(grads).enumerate() {
                    let mut g = g0 + wd * *p; // g = ∇ + λθ
                    if momentum != 0.0 {
                        let buf = &mut self.state[0][i];
                        // b_1 = g, b_t = μ b_{t-1} + (1 - τ) g
                        *buf = if first { g } else { mu * *buf + damp * g };
                        g = if nesterov { g + mu * *buf } else { *buf };
                    }
                    *p -= lr * g; // θ = θ - γ g
                }
            }
            OptimizerConfig::Adagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                ..
            } => {
                // γ_t = γ / (1 + (t - 1) η)
                let clr = T::of(lr / (1.0 + (t - 1) as f64 * lr_decay));
                let (wd, eps) = (T::of(weight_decay), T::of(eps));
                for (i, (p, &g0)) in params.iter_mut().zip(grads).enumerate() {
                    let g = g0 + wd * *p;
                    let s = &mut self.state[0][i];
                    *s += g * g; // state_sum += g^2
                    *p -= clr * g / (s.sqrt() + eps); // θ = θ - γ_t g / (sqrt(state_sum) + ε)
                }
            }
            OptimizerConfig::RmsProp {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                let (lr, a, wd, eps, mu) = (
                    T::of(lr),
                    T::of(alpha),
                    T::of(weight_decay),
                    T::of(eps),
                    T::of(momentum),
                );
                let one = T::one();
                let (sq, rest) = self.state.split_at_mut(1);
                let (buf, rest) = if momentum > 0.0 {
                    rest.split_at_mut(1)
                } else {
                    rest.split_at_mut(0)
                };
                for (i, (p, &g0)) in params.iter_mut().zip(grads).enumerate() {
                    let g = g0 + wd * *p;
                    let v = &mut sq[0][i];
                    *v = a * *v + (one - a) * g * g; // v = α v + (1 - α) g^2
                    let avg = if centered {
                        let ga = &mut rest[0][i];
                        *ga = a * *ga + (one - a) * g; // ḡ = α ḡ + (1 - α) g
                        (*v - *ga * *ga).sqrt() + eps
                    } else {
                        v.sqrt() + eps
                    };
                    if momentum > 0.0 {
                        let b = &mut buf[0][i];
                        *b = mu * *b + g / avg; // b = μ b + g / (sqrt(v) + ε)
                        *p -= lr * *b;
                    } else {
                        *p -= lr * g / avg;
                    }
                }
            }
            OptimizerConfig::Adam {
                lr,
                betas,
                eps,
                weight_decay,
                amsgrad,
            }
            | OptimizerConfig::AdamW {
                lr,
                betas,
                eps,
                weight_decay,
                amsgrad,
            } => {
                let decoupled = matches!(self.config, OptimizerConfig::AdamW { .. });
                let (b1, b2) = (T::of(betas.0), T::of(betas.1));
                let one = T::one();
                let bc1 = 1.0 - betas.0.powi(t as i32); // 1 - β1^t
                let bc2_sqrt = T::of((1.0 - betas.1.powi(t as i32)).sqrt()); // sqrt(1 - β2^t)
                let step_size = T::of(lr / bc1);
                let (eps, wd, decay) = (
                    T::of(eps),
                    T::of(weight_decay),
                    T::of(1.0 - lr * weight_decay),
                );
                let (m, rest) = self.state.split_at_mut(1);
                let (v, vmax) = rest.split_at_mut(1);
                for (i, (p, &g0)) in params.iter_mut().zip(grads).enumerate() {
                    let g = if decoupled {
                        *p *= decay; // AdamW: θ = θ (1 - γ λ)
                        g0
                    } else {
                        g0 + wd * *p // Adam: g = ∇ + λ θ
                    };
                    let (mi, vi) = (&mut m[0][i], &mut v[0][i]);
                    *mi += (one - b1) * (g - *mi); // m = β1 m + (1 - β1) g   (torch's lerp)
                    *vi = b2 * *vi + (one - b2) * g * g; // v = β2 v + (1 - β2) g^2
                    let vhat = if amsgrad {
                        let vm = &mut vmax[0][i];
                        *vm = vm.max(*vi);
                        *vm
                    } else {
                        *vi
                    };
                    // θ = θ - γ/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)
                    *p -= step_size * *mi / (vhat.sqrt() / bc2_sqrt + eps);
                }
            }
        }
    }
}

/// Scales all gradients by `max_norm / (‖g‖ + 1e-6)` when that is below 1
/// (`torch.nn.utils.clip_grad_norm_`). Returns the total norm before clipping.
pub fn clip_grad_norm<T: Float>(grads: &mut [T], max_norm: f64) -> f64 {
    let total = grads.iter().map(|g| g.f64() * g.f64()).sum::<f64>().sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = T::of(coef);
        grads.iter_mut().for_each(|g| *g *= c);
    }
    total
}

/// Clamps every gradient entry to `[-clip, clip]` (`clip_grad_value_`).
pub fn clip_grad_value<T: Float>(grads: &mut [T], clip: f64) {
    let (lo, hi) = (T::of(-clip), T::of(clip));
    grads.iter_mut().for_each(|g| *g = g.max(lo).min(hi));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_arguments_and_names_are_errors() {
        assert!(OptimizerConfig::from_args("adam", &json!({"lr": 0.1, "momentum": 0.9})).is_err());
        assert!(OptimizerConfig::from_args("lbfgs", &json!({})).is_err());
        assert!(OptimizerConfig::from_args("sgd", &json!({"lr": -1.0})).is_err());
        let c = OptimizerConfig::from_args("AdamW", &json!({})).unwrap();
        assert_eq!(
            c,
            OptimizerConfig::AdamW {
                lr: 1e-3,
                betas: (0.9, 0.999),
                eps: 1e-8,
                weight_decay: 1e-2,
                amsgrad: false
            }
        );
    }

    #[test]
    fn sgd_momentum_by_hand() {
        // θ0 = 1, g = 2 each step, lr 0.1, μ 0.9: b1 = 2, θ1 = 0.8; b2 = 0.9*2 + 2 = 3.8, θ2 = 0.8 - 0.38 = 0.42
        let cfg = OptimizerConfig::from_args("sgd", &json!({"lr": 0.1, "momentum": 0.9})).unwrap();
        let mut opt = Optimizer::<f64>::new(cfg, 1);
        let mut p = [1.0f64];
        opt.step(&mut p, &[2.0]);
        assert!((p[0] - 0.8).abs() < 1e-15);
        opt.step(&mut p, &[2.0]);
        assert!((p[0] - 0.42).abs() < 1e-15);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // bias correction makes the first Adam step ±lr whatever the gradient's scale
        let cfg = OptimizerConfig::from_args("adam", &json!({"lr": 0.01})).unwrap();
        let mut opt = Optimizer::<f64>::new(cfg, 2);
        let mut p = [0.0f64, 0.0];
        opt.step(&mut p, &[1e3, -1e-3]);
        assert!((p[0] + 0.01).abs() < 1e-9 && (p[1] - 0.01).abs() < 1e-6);
    }

    #[test]
    fn clipping() {
        let mut g = [3.0f64, 4.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        assert!((g[0] - 3.0 / (5.0 + 1e-6)).abs() < 1e-15);
        let mut g = [3.0f64, -4.0, 0.5];
        clip_grad_value(&mut g, 1.0);
        assert_eq!(g, [1.0, -1.0, 0.5]);
    }
}
