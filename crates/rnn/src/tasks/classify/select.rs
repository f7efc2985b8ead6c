//! Choosing the settings the training file decides: when `--pool` or
//! `--stride` is not given (and there is validation data), the trainer fits
//! one ensemble per [`candidates`] entry, scores each by its networks'
//! validation accuracy ([`Candidate`]) and keeps the [`best`].
//! Every candidate uses the same member seeds and so the same validation
//! splits: the comparison is paired, and no test data takes part.

use super::config::TrainConfig;
use super::meta::MemberInfo;
use crate::nn::pool::Pool;
use serde::{Deserialize, Serialize};

/// The poolings tried when `--pool` is not given, the first one being the
/// fallback when nothing can be validated.
pub const POOLS: [Pool; 3] = [Pool::Max, Pool::Last, Pool::Mean];

/// The most steps per sequence tried when `--stride` is not given (frames
/// are grouped `ceil(frames / steps)` to a step); the first one is the
/// fallback, [`TrainConfig::AUTO_STEPS`].
pub const STEPS: [usize; 2] = [TrainConfig::AUTO_STEPS, 16];

/// One configuration the selection tried and how its networks did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its pooling.
    pub pool: Pool,
    /// Its frames per step.
    pub stride: usize,
    /// Mean validation accuracy of its networks, in [0, 1].
    pub val_accuracy: f64,
    /// Mean validation loss (cross-entropy) of its networks.
    pub val_loss: f64,
}

impl Candidate {
    /// The candidate `(pool, stride)` scored by the validation results of
    /// its networks (a network without validation counts as accuracy 0 and
    /// loss infinity).
    pub fn scored(pool: Pool, stride: usize, members: &[MemberInfo]) -> Candidate {
        let n = members.len().max(1) as f64;
        Candidate {
            pool,
            stride,
            val_accuracy: members
                .iter()
                .map(|m| m.val_accuracy.unwrap_or(0.0))
                .sum::<f64>()
                / n,
            val_loss: members
                .iter()
                .map(|m| m.val_loss.unwrap_or(f64::INFINITY))
                .sum::<f64>()
                / n,
        }
    }
}

/// The `(pool, stride)` pairs to try for training sequences of at most
/// `max_frames` frames: the given `--pool` or each of [`POOLS`], times the
/// given `--stride` or the distinct strides of [`STEPS`]. Without
/// validation data (`validates` false) only the first pair, the fallback.
///
/// ```
/// use rnn::nn::pool::Pool;
/// use rnn::tasks::classify::{candidates, TrainConfig};
/// let cfg = TrainConfig::default();
/// let c = candidates(&cfg, 150, true);
/// assert_eq!(c.len(), 6);
/// assert_eq!((c[0], c[1]), ((Pool::Max, 3), (Pool::Max, 10)));
/// assert_eq!(candidates(&cfg, 12, true).len(), 3); // 12 frames: one step per frame either way
/// assert_eq!(candidates(&cfg, 150, false), [(Pool::Max, 3)]);
/// let fixed = TrainConfig { pool: Some(Pool::Last), stride: Some(2), ..cfg };
/// assert_eq!(candidates(&fixed, 150, true), [(Pool::Last, 2)]);
/// ```
pub fn candidates(config: &TrainConfig, max_frames: usize, validates: bool) -> Vec<(Pool, usize)> {
    let pools: Vec<Pool> = config.pool.map_or(POOLS.to_vec(), |p| vec![p]);
    let mut strides: Vec<usize> = match config.stride {
        Some(s) => vec![s.max(1)],
        None => STEPS
            .iter()
            .map(|&t| max_frames.div_ceil(t).max(1))
            .collect(),
    };
    strides.dedup();
    let mut out: Vec<(Pool, usize)> = pools
        .iter()
        .flat_map(|&p| strides.iter().map(move |&s| (p, s)))
        .collect();
    if !validates {
        out.truncate(1);
    }
    out
}

/// The index of the best candidate: the highest mean validation accuracy,
/// and on a tie (within 1e-9) the first in the order of [`candidates`], whose
/// first entry is the fallback: a setting is only changed when validation
/// shows a gain. (The loss does not break ties: once every candidate is
/// right on every validation sequence, the differences in its small values
/// say little.)
///
/// ```
/// use rnn::nn::pool::Pool;
/// use rnn::tasks::classify::{best, Candidate};
/// let c = |a, l| Candidate { pool: Pool::Max, stride: 1, val_accuracy: a, val_loss: l };
/// assert_eq!(best(&[c(0.9, 0.2), c(0.95, 0.3)]), 1);
/// assert_eq!(best(&[c(0.9, 0.2), c(0.95, 0.3), c(0.95, 0.1)]), 1);
/// assert_eq!(best(&[c(1.0, 0.2), c(1.0, 0.01)]), 0);
/// ```
pub fn best(candidates: &[Candidate]) -> usize {
    let mut pick = 0;
    for (i, c) in candidates.iter().enumerate() {
        if c.val_accuracy > candidates[pick].val_accuracy + 1e-9 {
            pick = i;
        }
    }
    pick
}
