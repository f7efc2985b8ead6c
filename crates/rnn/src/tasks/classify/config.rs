//! [`TrainConfig`]: every setting of a classification run, with the CLI's
//! defaults, and its checks.

use super::fill::Fill;
use super::normalise::{Norm, Transform};
use crate::nn::cell::{Activation, CellKind, CellName};
use crate::nn::pool::Pool;
use crate::{Error, Result};

/// How the validation part of each network is drawn from the training file
/// (see [`TrainConfig::split`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Split {
    /// A stratified random part per network ([`super::stratified_split`]).
    Random,
    /// Stratified cross-validation folds ([`super::fold_split`]).
    Folds,
}

/// Whether the classifier adds reservoirs (echo-state networks, see
/// [`super::Reservoir`]) to its trained networks (see
/// [`TrainConfig::reservoir`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReservoirUse {
    /// Networks and reservoirs, `ensemble` of each; the classifier's
    /// probabilities are the mean of the networks' and the reservoirs'.
    Mix,
    /// Networks only.
    Off,
    /// Reservoirs only: no network is trained (seconds instead of minutes).
    Only,
}

/// The settings of `rnn train classify`, one field per flag (errors name the
/// flag; with the `clap` feature this is the command's flag set).
/// [`TrainConfig::default`] gives the CLI's defaults.
///
/// ```
/// use rnn::tasks::classify::TrainConfig;
/// let mut cfg = TrainConfig::default();
/// assert_eq!((cfg.hidden, cfg.ensemble), (64, 5));
/// assert!(cfg.validate().is_ok());
/// cfg.dropout = 1.0;
/// assert_eq!(cfg.validate().unwrap_err().to_string(), "--dropout 1: expected a number in [0, 1)");
/// // a noise spread below 0, or one whose inputs would overflow, names its flag
/// let e = |c: TrainConfig| c.validate().unwrap_err().to_string();
/// assert_eq!(e(TrainConfig { noise: -1.0, ..Default::default() }), "--noise -1: expected a number from 0 to 100");
/// assert_eq!(e(TrainConfig { scale: f64::NAN, ..Default::default() }), "--scale NaN: expected a number from 0 to 5");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TrainConfig {
    /// Missing values (`?`) inside a series: linear (interpolate), ffill
    /// (previous value) or none (an error).
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_enum,
            hide_possible_values = true,
            default_value = "linear"
        )
    )]
    pub fill: Fill,
    /// Input normalisation: dimension (z-score each dimension with the
    /// training set's mean and std), series (each series by itself), scaled
    /// (each series by itself, plus its level and log scale as two more
    /// inputs per dimension), none, or auto (scaled when the typical
    /// training series spans less than a tenth of its dimension's standard
    /// deviation, else dimension).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, hide_possible_values = true, default_value = "auto")
    )]
    pub norm: Norm,
    /// Transform of each value before the normalisation: asinh (a
    /// logarithm for large deviations from the training median, linear for
    /// small ones), none, or auto (asinh on the heavy-tailed dimensions
    /// only: those where a hundredth of the values makes most of the
    /// standard deviation, the others spreading less than half of it; none
    /// when the normalisation is scaled).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, hide_possible_values = true, default_value = "auto")
    )]
    pub transform: Transform,
    /// Frames read per network step [default: chosen on validation between
    /// enough to keep the longest training sequence within 64 steps and
    /// within 16 steps].
    #[cfg_attr(feature = "clap", arg(long))]
    pub stride: Option<usize>,
    /// Cell: elman, lstm or gru.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, hide_possible_values = true, default_value = "gru")
    )]
    pub cell: CellName,
    /// Elman nonlinearity: tanh, relu or sigmoid.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, hide_possible_values = true, default_value = "tanh")
    )]
    pub activation: Activation,
    /// Hidden units per layer and direction.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 64))]
    pub hidden: usize,
    /// Stacked recurrent layers.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub layers: usize,
    /// Read each sequence in both directions (true or false).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = true, action = clap::ArgAction::Set))]
    pub bidirectional: bool,
    /// What the class is read from: last (each direction's final state),
    /// mean or max (of the outputs over the valid steps) [default: chosen
    /// on validation among max, last and mean].
    #[cfg_attr(feature = "clap", arg(long, value_enum, hide_possible_values = true))]
    pub pool: Option<Pool>,
    /// Dropout on every layer's output while training.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub dropout: f64,
    /// Standard deviation of Gaussian noise added to the normalised inputs
    /// while training (0: none).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub noise: f64,
    /// Learning rate (Adam, or AdamW with --weight-decay).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3e-3))]
    pub lr: f64,
    /// Decoupled weight decay (AdamW); 0 uses Adam.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
    pub weight_decay: f64,
    /// Clip the gradient norm to this value.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0))]
    pub clip: f64,
    /// Sequences per minibatch.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 16))]
    pub batch: usize,
    /// Stop a network when its validation loss has not improved for this
    /// many epochs (never before twice this many epochs).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 40))]
    pub patience: usize,
    /// Without --dev: share of each class of the training file held out for
    /// validation and early stopping (0: none, keep the last epoch).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.2))]
    pub val_frac: f64,
    /// Without --dev, how each network's validation part is drawn: random
    /// (a stratified random part per network, drawn with its seed) or folds
    /// (stratified cross-validation folds, about 1/val-frac of them: the
    /// networks hold out different folds, so together they validate, and
    /// train on, every sequence).
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_enum,
            hide_possible_values = true,
            default_value = "random"
        )
    )]
    pub split: Split,
    /// Largest share of a training sequence's steps randomly cut off its
    /// ends each time it is read in training (0: none).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
    pub crop: f64,
    /// Standard deviation of the log of a random gain multiplying each
    /// training sequence's normalised inputs each time it is read (0: none).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
    pub scale: f64,
    /// Seed of the first network (weights, shuffling, noise, dropout,
    /// validation split); the others' seeds are derived from it.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Networks trained, each with its own seed and validation split, and
    /// averaged (--jobs of them at once).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub ensemble: usize,
    /// Reservoirs (echo-state networks: random recurrent weights never
    /// trained, a ridge readout fitted in closed form) beside the trained
    /// networks: mix (as many as networks; their probabilities combined
    /// with the networks' as --dtw-member says: weighted by estimated
    /// accuracy with the member, else averaged), off (networks only) or
    /// only (reservoirs only, no network trained).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, hide_possible_values = true, default_value = "mix")
    )]
    pub reservoir: ReservoirUse,
    /// Units of the reservoir.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 300))]
    pub reservoir_units: usize,
    /// The reservoirs' leak `a`, in (0, 1] (without it: chosen from 0.3,
    /// 0.1 and 1 by the readouts' leave-one-out accuracy).
    #[cfg_attr(feature = "clap", arg(long))]
    pub reservoir_leak: Option<f64>,
    /// The reservoirs' input scale, `U` uniform in `±scale` (without it:
    /// chosen from 0.5, 0.1 and 1.5 the same way).
    #[cfg_attr(feature = "clap", arg(long))]
    pub reservoir_input_scale: Option<f64>,
    /// Whether the reservoirs also read each step's change `x_t - x_{t-1}`,
    /// true or false (without it: both tried the same way).
    #[cfg_attr(feature = "clap", arg(long, value_name = "BOOL"))]
    pub reservoir_differences: Option<bool>,
    /// Whether the ensemble also holds the 1-NN DTW member (nearest
    /// training sequences by dynamic time warping, turned into
    /// probabilities), true or false; with it the networks', reservoirs'
    /// and member's probabilities are weighted by their estimated
    /// accuracies (validation, leave-one-out) to the fourth power.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)
    )]
    pub dtw_member: bool,
    /// Networks trained at once, each on one thread (0: one per core);
    /// the model is the same whatever the number. With --diagnostics one
    /// at a time.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub jobs: usize,
    /// After each epoch, measure the network's gradient flow through time
    /// on the validation sequences into diagnostics.jsonl (rows of every
    /// network, with its `member` number), gradient-flow.svg and
    /// spectral-radius.svg (the first network's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub diagnostics: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            fill: Fill::Linear,
            norm: Norm::Auto,
            transform: Transform::Auto,
            stride: None,
            cell: CellName::Gru,
            activation: Activation::Tanh,
            hidden: 64,
            layers: 1,
            bidirectional: true,
            pool: None,
            dropout: 0.1,
            noise: 0.1,
            lr: 3e-3,
            weight_decay: 0.0,
            clip: 1.0,
            batch: 16,
            patience: 40,
            val_frac: 0.2,
            split: Split::Random,
            crop: 0.0,
            scale: 0.0,
            seed: 0,
            ensemble: 5,
            reservoir: ReservoirUse::Mix,
            reservoir_units: 300,
            reservoir_leak: None,
            reservoir_input_scale: None,
            reservoir_differences: None,
            dtw_member: true,
            jobs: 0,
            diagnostics: false,
        }
    }
}

impl TrainConfig {
    /// With the default `stride`, the most steps the network reads per sequence.
    pub const AUTO_STEPS: usize = 64;

    /// The seed of network `k` (0-based) of the ensemble: `seed` for the
    /// first, then seeds derived from `seed` and `k` (so ensembles of
    /// different seeds share no network).
    ///
    /// ```
    /// use rnn::tasks::classify::TrainConfig;
    /// let (a, b) = (TrainConfig { seed: 1, ..Default::default() }, TrainConfig { seed: 2, ..Default::default() });
    /// assert_eq!(a.member_seed(0), 1);
    /// assert_ne!(a.member_seed(1), b.member_seed(0));
    /// assert_ne!(a.member_seed(1), b.member_seed(1));
    /// ```
    pub fn member_seed(&self, k: usize) -> u64 {
        if k == 0 {
            return self.seed;
        }
        // splitmix64 of (seed, k)
        let mut z = self
            .seed
            .wrapping_add((k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Threads for `networks` networks trained at once: `jobs`, or with 0
    /// one per core, never more than `networks`, at least 1.
    ///
    /// ```
    /// use rnn::tasks::classify::TrainConfig;
    /// let cfg = TrainConfig { jobs: 3, ..TrainConfig::default() };
    /// assert_eq!((cfg.jobs_for(5), cfg.jobs_for(2), cfg.jobs_for(0)), (3, 2, 1));
    /// ```
    pub fn jobs_for(&self, networks: usize) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            j => j,
        }
        .min(networks)
        .max(1)
    }

    /// The training and validation parts of network `member` (0-based) of
    /// the ensemble when validating on a part of the training file whose
    /// sequences have classes `labels`: [`super::fold_split`] into
    /// `round(1 / val_frac)` folds (at least 2) or [`super::stratified_split`]
    /// with the network's seed. `val_frac` 0: no validation.
    ///
    /// ```
    /// use rnn::tasks::classify::{Split, TrainConfig};
    /// let labels = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    /// let cfg = TrainConfig { split: Split::Folds, ..TrainConfig::default() };
    /// let vals: Vec<Vec<usize>> = (0..5).map(|k| cfg.split_for(&labels, k).1).collect();
    /// assert!(vals.iter().all(|v| v.len() == 2));
    /// let mut all = vals.concat();
    /// all.sort();
    /// assert_eq!(all, (0..10).collect::<Vec<_>>()); // five folds: each sequence once
    /// let random = TrainConfig::default();
    /// assert_eq!(random.split, Split::Random);
    /// assert_eq!(random.split_for(&labels, 0).1.len(), 2);
    /// ```
    pub fn split_for(&self, labels: &[usize], member: usize) -> (Vec<usize>, Vec<usize>) {
        if self.val_frac <= 0.0 {
            return ((0..labels.len()).collect(), Vec::new());
        }
        match self.split {
            Split::Folds => {
                let folds = ((1.0 / self.val_frac).round() as usize).max(2);
                super::fold_split(labels, folds, member, self.seed)
            }
            Split::Random => {
                super::stratified_split(labels, self.val_frac, self.member_seed(member))
            }
        }
    }

    /// The cell with its activation.
    pub fn cell_kind(&self) -> CellKind {
        CellKind::from_name(self.cell, self.activation)
    }

    /// Frames per step for training sequences of at most `max_frames` frames.
    ///
    /// ```
    /// use rnn::tasks::classify::TrainConfig;
    /// let cfg = TrainConfig::default();
    /// assert_eq!((cfg.stride_for(29), cfg.stride_for(150)), (1, 3));
    /// ```
    pub fn stride_for(&self, max_frames: usize) -> usize {
        self.stride
            .unwrap_or_else(|| max_frames.div_ceil(Self::AUTO_STEPS))
            .max(1)
    }

    /// Checks every setting that does not depend on the data; the error
    /// names the flag, the value and what is expected.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::Config(s));
        for (flag, v) in [
            ("--hidden", self.hidden),
            ("--layers", self.layers),
            ("--batch", self.batch),
            ("--ensemble", self.ensemble),
            ("--stride", self.stride.unwrap_or(1)),
            ("--reservoir-units", self.reservoir_units),
        ] {
            if v == 0 {
                return bad(format!("{flag} 0: expected at least 1"));
            }
        }
        for (flag, v, max) in [
            ("--hidden", self.hidden, 4096),
            ("--layers", self.layers, 16),
            ("--ensemble", self.ensemble, 100),
            ("--reservoir-units", self.reservoir_units, 4096),
        ] {
            if v > max {
                return bad(format!("{flag} {v}: expected 1 to {max}"));
            }
        }
        if let Some(a) = self.reservoir_leak {
            if !(a > 0.0 && a <= 1.0) {
                return bad(format!("--reservoir-leak {a}: expected a number in (0, 1]"));
            }
        }
        if let Some(v) = self.reservoir_input_scale {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!(
                    "--reservoir-input-scale {v}: expected a positive finite number"
                ));
            }
        }
        for (flag, v) in [("--lr", self.lr), ("--clip", self.clip)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{flag} {v}: expected a positive finite number"));
            }
        }
        for (flag, v, hi) in [
            ("--dropout", self.dropout, 1.0),
            ("--val-frac", self.val_frac, 0.9),
            ("--crop", self.crop, 0.9),
        ] {
            if !(0.0..hi).contains(&v) {
                return bad(format!("{flag} {v}: expected a number in [0, {hi})"));
            }
        }
        // both act on normalised inputs (unit spread): a noise of 100 or a
        // log-gain spread of 5 is already far past any use, and beyond them
        // the inputs overflow (a gain of exp(800 z) is infinite)
        for (flag, v, hi) in [("--noise", self.noise, 100.0), ("--scale", self.scale, 5.0)] {
            if !(0.0..=hi).contains(&v) {
                return bad(format!("{flag} {v}: expected a number from 0 to {hi}"));
            }
        }
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return bad(format!(
                "--weight-decay {}: expected a number >= 0",
                self.weight_decay
            ));
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "clap"))]
mod tests {
    use super::TrainConfig;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        config: TrainConfig,
    }

    #[test]
    fn the_flags_defaults_are_the_library_defaults() {
        assert_eq!(Flags::parse_from(["rnn"]).config, TrainConfig::default());
        let f = Flags::parse_from([
            "rnn",
            "--bidirectional",
            "false",
            "--pool",
            "last",
            "--stride",
            "2",
        ]);
        assert!(!f.config.bidirectional);
        assert_eq!(f.config.stride, Some(2));
    }
}
