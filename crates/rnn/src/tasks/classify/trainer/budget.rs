//! The default budget ([`Trainer::fit_default`]): what the training costs,
//! estimated from the data's size before anything is trained, and what is
//! given up when a large training set would take too long.
//!
//! Costs are counted in CPU seconds of the machine the constants were
//! measured on (an Intel Xeon with AVX-512, one thread), from two rates:
//!
//! - a network's epoch: its parameters times the steps of the training
//!   sequences (a forward and backward pass costs about that many fused
//!   multiply-adds, times a constant), [`NETWORK_RATE`] of them a second;
//! - a reservoir: its features, `2 N (N + w)` multiply-adds per step and
//!   direction (`W` is stored dense), [`RESERVOIR_RATE`] a second; its
//!   readout, `n p r + r^3` (`r = min(n, p)`, `p` features: the Gram matrix
//!   and its eigendecomposition), [`READOUT_RATE`] a second.
//!
//! The plan is deterministic: it depends on the data and the settings, not
//! on the clock, so a rerun trains the same model. Small sets (every set of
//! the README's table but PLAID, whose plan was not run here) cost far less than the
//! limits and train exactly as with `--epochs 300`.

use super::Trainer;
use crate::nn::pool::Pool;
use crate::tasks::classify::config::ReservoirUse;
use crate::tasks::classify::select::candidates;
use crate::tasks::Budget;
use crate::{Error, Result};

/// Most epochs per network of the default budget.
pub const DEFAULT_EPOCHS: usize = 300;

/// CPU seconds the default budget lets all networks take together if every
/// one ran to its epoch limit (early stopping usually ends them sooner).
pub const NETWORK_SECONDS: f64 = 420.0;

/// CPU seconds the default budget lets all reservoirs take (features and
/// readouts of every setting tried).
pub const RESERVOIR_SECONDS: f64 = 100.0;

/// Parameter-steps (parameters times sequence steps) a second of one
/// thread's training, forward, backward and validation.
pub const NETWORK_RATE: f64 = 6.4e9;

/// Multiply-adds a second of one thread computing reservoir states.
pub const RESERVOIR_RATE: f64 = 3.4e10;

/// `n p r + r^3` units a second of one thread fitting a readout.
pub const READOUT_RATE: f64 = 1.0e10;

/// Fewest epochs per network worth choosing a pooling and frames per step
/// for: below it the selection's candidates are dropped and the first one
/// trained with all the budget.
pub const SELECT_MIN_EPOCHS: usize = 30;

/// What the default budget decides for a training set, before anything is
/// trained ([`Trainer::default_plan`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DefaultPlan {
    /// The networks'.
    pub networks: NetworkPlan,
    /// The reservoirs' (with `--reservoir mix`, the default).
    pub reservoirs: ReservoirPlan,
}

/// What the default budget decided for the networks.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkPlan {
    /// How many of the candidates to train (all, or the first only).
    pub candidates: usize,
    /// Each network's budget.
    pub budget: Budget,
    /// A line saying what was given up, when anything was.
    pub note: Option<String>,
}

/// What the default budget decided for the reservoirs.
#[derive(Clone, Debug, PartialEq)]
pub enum ReservoirPlan {
    /// Every setting of the grid.
    Grid,
    /// The first setting only (the grid's default leak and input scale);
    /// the line saying so.
    First(String),
    /// None: the networks alone; the line saying so.
    Skip(String),
}

impl Trainer {
    /// What [`Trainer::fit_default`] would do with this training set: the
    /// networks' candidates and budget, and the reservoirs' settings.
    ///
    /// # Errors
    ///
    /// A network of these settings cannot be built.
    pub fn default_plan(&self) -> Result<DefaultPlan> {
        let validates = self.dev.is_some() || !self.config.split_for(&self.labels, 0).1.is_empty();
        let cands = candidates(&self.config, self.train.max_steps(), validates);
        Ok(DefaultPlan {
            networks: self.plan_networks(&cands)?,
            reservoirs: match self.config.reservoir {
                ReservoirUse::Mix => self.plan_reservoirs(self.config.stride),
                _ => ReservoirPlan::Grid,
            },
        })
    }

    /// The steps of all training sequences read `stride` frames per step.
    fn steps_at(&self, stride: usize) -> usize {
        self.train
            .sequences
            .iter()
            .map(|s| s.steps.div_ceil(stride.max(1)))
            .sum()
    }

    /// CPU seconds of one epoch of one network reading `stride` frames per
    /// step: its parameters times the steps of every training sequence,
    /// over [`NETWORK_RATE`].
    ///
    /// # Errors
    ///
    /// A network of these settings cannot be built.
    pub fn epoch_seconds(&self, stride: usize) -> Result<f64> {
        let per_frame = self.enc.width / self.classifier.meta.stride.max(1);
        // the stride named: usize::MAX was reported as a bad input_size
        let built = |why: String| {
            Error::argument(
                "stride",
                format!("a stride the network can be built with ({why})"),
                stride,
            )
        };
        let width = per_frame.checked_mul(stride.max(1)).ok_or_else(|| {
            built(format!(
                "{per_frame} values per frame times the stride overflow"
            ))
        })?;
        let cfg = self.model_config(width);
        let params = cfg.param_count().map_err(|e| built(e.to_string()))? as f64;
        let steps = self.steps_at(stride);
        Ok(params * steps as f64 / NETWORK_RATE)
    }

    /// The default budget of the networks of `candidates` (pool, stride):
    /// [`DEFAULT_EPOCHS`] each when every network running that long stays
    /// within [`NETWORK_SECONDS`]; else fewer epochs for all, as long as
    /// that leaves [`SELECT_MIN_EPOCHS`]; else the first candidate alone,
    /// with the epochs (or, below one epoch, the steps) the limit leaves.
    pub(crate) fn plan_networks(&self, candidates: &[(Pool, usize)]) -> Result<NetworkPlan> {
        let k = self.config.ensemble.max(1) as f64;
        let each: Vec<f64> = candidates
            .iter()
            .map(|&(_, stride)| self.epoch_seconds(stride))
            .collect::<Result<_>>()?;
        let all: f64 = each.iter().sum();
        let epochs = |per_epoch: f64| NETWORK_SECONDS / (k * per_epoch.max(1e-12));
        let e = epochs(all);
        if e >= DEFAULT_EPOCHS as f64 {
            return Ok(NetworkPlan {
                candidates: candidates.len(),
                budget: Budget::Epochs(DEFAULT_EPOCHS),
                note: None,
            });
        }
        let size = format!(
            "a large training set: an epoch of every network takes about {:.0} s of CPU",
            k * all
        );
        if (e >= SELECT_MIN_EPOCHS as f64 || candidates.len() < 2) && e >= 1.0 {
            let e = e.floor() as usize;
            return Ok(NetworkPlan {
                candidates: candidates.len(),
                budget: Budget::Epochs(e),
                note: Some(format!(
                    "{size}, so each network trains at most {e} epochs (the default budget; --epochs or --minutes to set one)"
                )),
            });
        }
        let first = epochs(each.first().copied().unwrap_or(0.0));
        let (budget, what) = if first >= 1.0 {
            let e = (first.floor() as usize).min(DEFAULT_EPOCHS);
            (Budget::Epochs(e), format!("at most {e} epochs"))
        } else {
            // below one epoch: a share of an epoch's minibatches
            let batches = self.train.len().div_ceil(self.config.batch.max(1));
            let s = ((first * batches as f64).floor() as u64).max(1);
            (
                Budget::Steps(s),
                format!("{s} minibatches (less than an epoch)"),
            )
        };
        let chose = if candidates.len() > 1 {
            let (pool, stride) = candidates[0];
            format!(
                "pool and frames per step are not chosen (the first candidate, pool {}, {stride} per step; --pool and --stride to set them) and ",
                pool.name()
            )
        } else {
            String::new()
        };
        Ok(NetworkPlan {
            candidates: 1,
            budget,
            note: Some(format!(
                "{size}, so {chose}each network trains {what} (the default budget; --epochs or --minutes to set one)"
            )),
        })
    }

    /// The default budget of the reservoirs: every setting to try, the
    /// first of them alone, or none, whichever is the most that stays within
    /// [`RESERVOIR_SECONDS`] with `ensemble` reservoirs per setting
    /// (`given_stride`: the `--stride` given, which they read too).
    pub(crate) fn plan_reservoirs(&self, given_stride: Option<usize>) -> ReservoirPlan {
        let (base, grid, stride) = self.reservoir_setup(given_stride);
        let settings = grid.len();
        let k = self.config.ensemble.max(1) as f64;
        let n = self.train.len() as f64;
        let units = base.units as f64;
        let per_frame = (self.enc.width / self.classifier.meta.stride.max(1)) as f64;
        // the widest input a setting reads: values and their changes
        let w = 2.0 * per_frame * stride.max(1) as f64;
        let steps = self.steps_at(stride);
        let features = 2.0 * steps as f64 * units * (units + w) / RESERVOIR_RATE;
        let p = base.features() as f64;
        let r = n.min(p);
        let readout = (n * p * r + r * r * r) / READOUT_RATE;
        let one = features + readout;
        // each kept reservoir's readout is fitted once more on its network's
        // training part, for its validation score
        let grid = k * (settings as f64 * one + readout);
        if grid <= RESERVOIR_SECONDS {
            return ReservoirPlan::Grid;
        }
        let size = format!(
            "{} reservoirs of the {settings} settings would take about {grid:.0} s of CPU",
            k as usize * settings
        );
        if settings > 1 && k * (one + readout) <= RESERVOIR_SECONDS {
            return ReservoirPlan::First(format!(
                "{size}: only the first setting is drawn (the default budget; --reservoir-leak, --reservoir-input-scale and --reservoir-differences to set one, --epochs or --minutes for the whole grid)"
            ));
        }
        ReservoirPlan::Skip(format!(
            "{size}: no reservoirs, the networks alone (the default budget; --reservoir only, --epochs or --minutes to draw them)"
        ))
    }
}
