//! Learning-rate schedules: decay on a validation plateau, or a cosine from
//! the initial rate down to a tenth of it over the budget.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The name of a [`Schedule`]: what `--schedule` takes (`plateau`, `cosine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ScheduleName {
    /// Decay when validation stops improving.
    #[default]
    Plateau,
    /// Cosine from the initial learning rate down to a tenth of it.
    Cosine,
}

/// How the learning rate changes during training.
///
/// ```
/// use rnn::optim::schedule::{Schedule, ScheduleName};
/// let s = Schedule::from_name(ScheduleName::Plateau, 0.5, 2);
/// assert_eq!(s, Schedule::Plateau { decay: 0.5, patience: 2 });
/// assert_eq!(s, Schedule::default());
/// assert!(Schedule::Plateau { decay: 1.5, patience: 2 }.validate().is_err());
/// // the cosine runs from lr_0 (frac 0) to lr_0 / 10 (frac 1)
/// assert_eq!(Schedule::Cosine.lr_at(2e-3, 0.0), Some(2e-3));
/// assert!((Schedule::Cosine.lr_at(2e-3, 1.0).unwrap() - 2e-4).abs() < 1e-15);
/// assert_eq!(s.lr_at(2e-3, 0.5), None); // a plateau schedule follows validation instead
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// Multiply the learning rate by `decay` after `patience` evaluations
    /// in a row without a new best validation loss (see [`Plateau`]).
    Plateau {
        /// The factor, in (0, 1] (default 0.5).
        decay: f64,
        /// Evaluations without improvement before a decay (default 2).
        patience: u64,
    },
    /// `lr = lr_min + (lr_0 - lr_min) (1 + cos(pi frac)) / 2` with
    /// `lr_min = lr_0 / 10`, `frac` the share of the budget used.
    Cosine,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Plateau {
            decay: 0.5,
            patience: 2,
        }
    }
}

impl Schedule {
    /// The schedule `name`; `decay` and `patience` apply to a plateau schedule.
    pub fn from_name(name: ScheduleName, decay: f64, patience: u64) -> Self {
        match name {
            ScheduleName::Plateau => Schedule::Plateau { decay, patience },
            ScheduleName::Cosine => Schedule::Cosine,
        }
    }

    /// Its name.
    pub fn name(&self) -> ScheduleName {
        match self {
            Schedule::Plateau { .. } => ScheduleName::Plateau,
            Schedule::Cosine => ScheduleName::Cosine,
        }
    }

    /// Checks the decay factor is in (0, 1]; the error names it.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Schedule::Plateau { decay, .. } if !(decay > 0.0 && decay <= 1.0) => {
                Err(Error::Value {
                    what: "schedule decay".into(),
                    value: decay.to_string(),
                    expected: "a factor in (0, 1]".into(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The learning rate after a plateau schedule's decay of `lr`, or
    /// `None` when the decay would change it by [`PLATEAU_EPS`] or less
    /// (PyTorch's `ReduceLROnPlateau` ignores such updates, its `eps`), or
    /// for a cosine schedule. Without that rule a run that stalls for good
    /// (the one-minute demo's, after about 2,000 steps) halves the rate every
    /// `patience` evaluations, on and on, far below any rate that moves an
    /// f32 weight.
    ///
    /// ```
    /// use rnn::optim::schedule::Schedule;
    /// let s = Schedule::default(); // decay 0.5
    /// assert_eq!(s.decayed(2e-3), Some(1e-3));
    /// assert_eq!(s.decayed(3e-8), Some(1.5e-8)); // a change of 1.5e-8 > 1e-8
    /// assert_eq!(s.decayed(2e-8), None); // a change of 1e-8: kept as it is
    /// assert_eq!(Schedule::Cosine.decayed(2e-3), None);
    /// ```
    pub fn decayed(&self, lr: f64) -> Option<f64> {
        match *self {
            Schedule::Plateau { decay, .. } => {
                let new = lr * decay;
                (lr - new > PLATEAU_EPS).then_some(new)
            }
            Schedule::Cosine => None,
        }
    }

    /// A cosine schedule's learning rate at `frac` (clamped to 0..=1) of the
    /// budget, from the peak `lr0`; `None` for a plateau schedule.
    pub fn lr_at(&self, lr0: f64, frac: f64) -> Option<f64> {
        match self {
            Schedule::Cosine => Some(cosine_lr(lr0, frac)),
            Schedule::Plateau { .. } => None,
        }
    }
}

/// The smallest change a plateau schedule's decay makes to the learning
/// rate (PyTorch's `ReduceLROnPlateau(eps=1e-8)`): see [`Schedule::decayed`].
pub const PLATEAU_EPS: f64 = 1e-8;

/// The cosine schedule's learning rate at `frac` (0 to 1) of the budget:
/// `lr = lr_min + (lr_0 - lr_min) (1 + cos(pi frac)) / 2`, `lr_min = lr_0 / 10`.
pub fn cosine_lr(lr0: f64, frac: f64) -> f64 {
    cosine_lr_to(lr0, COSINE_FLOOR, frac)
}

/// The share of the peak learning rate a cosine schedule ends at unless told
/// otherwise (`--lr-floor`).
pub const COSINE_FLOOR: f64 = 0.1;

/// [`cosine_lr`] ending at `floor * lr_0` instead of a tenth of it
/// (`floor` 0: down to zero).
///
/// ```
/// use rnn::optim::schedule::cosine_lr_to;
/// assert_eq!(cosine_lr_to(2e-3, 0.0, 0.0), 2e-3);
/// assert_eq!(cosine_lr_to(2e-3, 0.0, 1.0), 0.0);
/// assert!((cosine_lr_to(2e-3, 0.0, 0.5) - 1e-3).abs() < 1e-15);
/// // the default floor: the same bits as `cosine_lr`, which divides by ten
/// assert_eq!(cosine_lr_to(7e-3, 0.1, 1.0), 7e-3 / 10.0);
/// assert_ne!(7e-3 / 10.0, 7e-3 * 0.1);
/// ```
pub fn cosine_lr_to(lr0: f64, floor: f64, frac: f64) -> f64 {
    // lr0 / 10 as before for the default (lr0 * 0.1 differs in the last bit
    // for a third of learning rates), so default runs keep their trajectory
    let min = if floor == COSINE_FLOOR {
        lr0 / 10.0
    } else {
        lr0 * floor
    };
    min + (lr0 - min) * 0.5 * (1.0 + (std::f64::consts::PI * frac.clamp(0.0, 1.0)).cos())
}

/// Counts evaluations without a new best loss: the state of a plateau
/// schedule, and of early stopping.
///
/// ```
/// use rnn::optim::schedule::Plateau;
/// let mut p = Plateau::new();
/// assert!(!p.observe(3.0, 2)); // a new best
/// assert!(!p.observe(3.1, 2)); // one bad evaluation
/// assert!(p.observe(3.0, 2)); // two (ties are not improvements): stalled, the count restarts
/// assert_eq!((p.best, p.bad_evals), (3.0, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plateau {
    /// The best loss so far (`f64::MAX` before the first).
    pub best: f64,
    /// Evaluations since the last improvement.
    pub bad_evals: u64,
}

impl Default for Plateau {
    fn default() -> Self {
        Self::new()
    }
}

impl Plateau {
    /// No evaluation yet.
    pub fn new() -> Self {
        Plateau {
            best: f64::MAX, // not INFINITY: JSON has no infinity
            bad_evals: 0,
        }
    }

    /// Records the loss of an evaluation. Returns true when it makes
    /// `patience` evaluations in a row without improvement (and restarts the
    /// count): time to decay the learning rate, or to stop.
    pub fn observe(&mut self, loss: f64, patience: u64) -> bool {
        if loss < self.best {
            self.best = loss;
            self.bad_evals = 0;
            false
        } else {
            self.bad_evals += 1;
            if self.bad_evals >= patience {
                self.bad_evals = 0;
                true
            } else {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_runs_from_lr_to_a_tenth() {
        // frac 0: cos 0 = 1, lr = lr_0; frac 1: cos pi = -1, lr = lr_0/10;
        // frac 1/2: cos(pi/2) = 0, lr = (lr_0 + lr_0/10)/2 = 0.55 lr_0.
        assert!((cosine_lr(2e-3, 0.0) - 2e-3).abs() < 1e-15);
        assert!((cosine_lr(2e-3, 1.0) - 2e-4).abs() < 1e-15);
        assert!((cosine_lr(2e-3, 0.5) - 1.1e-3).abs() < 1e-15);
        assert!(cosine_lr(2e-3, 0.3) > cosine_lr(2e-3, 0.7));
        assert!(
            (cosine_lr(2e-3, 7.0) - 2e-4).abs() < 1e-15,
            "clamped past the end"
        );
    }

    #[test]
    fn plateau_decays_after_patience_bad_evaluations() {
        let mut p = Plateau::new();
        let losses = [5.0, 4.0, 4.5, 4.2, 3.9, 3.9, 3.9, 3.9];
        let stalls: Vec<bool> = losses.iter().map(|&l| p.observe(l, 2)).collect();
        // 4.5 and 4.2 are two bad evaluations after 4.0; 3.9 is a new best,
        // then two ties stall again, and the count restarts.
        assert_eq!(
            stalls,
            [false, false, false, true, false, false, true, false]
        );
        assert_eq!(p.best, 3.9);
    }
}
