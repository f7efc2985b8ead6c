//! [`TrainConfig`]: every setting of a forecasting run, with the CLI's
//! defaults, and its checks.

use super::meta::Strategy;
use super::pipeline::Transform;
use super::series::TimeColumn;
use super::table::RowFilter;
use crate::nn::cell::{Activation, CellKind, CellName};
use crate::tasks::fill::Fill;
use crate::tasks::OnDivergence;
use crate::{Error, Result};

/// The settings of `rnn train forecast`, one field per flag (errors name the
/// flag). [`TrainConfig::new`] gives the CLI's defaults.
///
/// ```
/// use rnn::tasks::forecast::{Strategy, TrainConfig, Transform};
/// let mut cfg = TrainConfig::new("Passengers", 24, 24);
/// cfg.transform = Transform::Log;
/// cfg.diff = vec![1];
/// assert_eq!((cfg.hidden, cfg.strategy, cfg.lr), (32, Strategy::Direct, 3e-3));
/// assert!(cfg.validate().is_ok());
/// cfg.window = 0;
/// assert_eq!(cfg.validate().unwrap_err().to_string(), "--window 0: expected at least 1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The column to forecast (`--target`).
    pub target: String,
    /// Input-only columns (`--features`).
    pub features: Vec<String>,
    /// The time column (`--time`; default [`TimeColumn::Auto`]).
    pub time: TimeColumn,
    /// Gap filling (`--fill`; default none: gaps are errors).
    pub fill: Fill,
    /// Input steps per forecast (`--window`).
    pub window: usize,
    /// Steps forecast at once (`--horizon`; default 1).
    pub horizon: usize,
    /// Direct or recursive (`--strategy`; default direct).
    pub strategy: Strategy,
    /// The last rows held out as the test block (`--test`).
    pub test: usize,
    /// Transform of the target before differencing (`--transform`; default none).
    pub transform: Transform,
    /// Lags to difference by, in turn (`--diff`; default none).
    pub diff: Vec<usize>,
    /// Season of the baselines and MASE, and of the seasonal cells the
    /// defaults choose among (`--season`; default from the time labels,
    /// [`crate::tasks::forecast::default_season`]).
    pub season: Option<usize>,
    /// Hidden units per layer (`--hidden`; default 32).
    pub hidden: usize,
    /// Stacked layers (`--layers`; default 1).
    pub layers: usize,
    /// The cell (`--cell`; default GRU).
    pub cell: CellName,
    /// The Elman nonlinearity (`--activation`; default tanh).
    pub activation: Activation,
    /// Epochs without a better validation loss before stopping (`--patience`; default 50).
    pub patience: usize,
    /// Seed of the weights and the shuffling (`--seed`; default 0).
    pub seed: u64,
    /// Learning rate of Adam / AdamW (`--lr`; default 3e-3).
    pub lr: f64,
    /// Decoupled weight decay; 0 uses Adam (`--weight-decay`; default 0).
    pub weight_decay: f64,
    /// Gradient norm clipping (`--clip`; default 1).
    pub clip: f64,
    /// Windows per minibatch (`--batch`; default 16).
    pub batch: usize,
    /// Share of the training part used for validation (`--val-frac`; default 0.1).
    pub val_frac: f64,
    /// What a non-finite loss does (`--on-divergence`; default stop).
    pub on_divergence: OnDivergence,
    /// The CSV field separator (`--delimiter`; default `,`).
    pub delimiter: u8,
    /// Only the rows whose column holds a value: one series of a file of
    /// several (`--where symbol=MSFT`; default all rows).
    pub rows: Option<RowFilter>,
    /// Networks trained, seeds `seed`, `seed + 1`, ...; forecasts are their
    /// mean (`--ensemble`; the CLI's default 5, [`TrainConfig::new`]'s 1).
    pub ensemble: usize,
    /// What is chosen on the validation block instead of taken from
    /// `window`, `transform` and `diff` (the CLI: whichever flag is not
    /// given; [`TrainConfig::new`]: nothing).
    pub choose: Choose,
    /// Ensemble members trained at once (0: one per core).
    pub jobs: usize,
    /// The network learns a correction on top of the AR(p) baseline fitted
    /// on its training windows (its output layer starts at zero, so it
    /// starts as AR(p); epoch 0 is that baseline). The CLI's default; off
    /// with `--no-ar-skip`; [`TrainConfig::new`]: off.
    pub ar_skip: bool,
    /// After each epoch, measure each network's gradient flow through time
    /// on the validation windows (the training windows without them; see
    /// [`Forecaster::diagnose`](super::Forecaster::diagnose)) into its
    /// directory's `diagnostics.jsonl`, `gradient-flow.svg` and
    /// `spectral-radius.svg`, beside its `metrics.jsonl`
    /// (`--diagnostics`; default off).
    pub diagnostics: bool,
}

impl TrainConfig {
    /// The CLI's defaults: forecasting `target` with the last `test` rows
    /// held out, the window, transform and differencing chosen on the
    /// validation block, an ensemble of 5.
    ///
    /// ```
    /// let cfg = rnn::tasks::forecast::TrainConfig::auto("SUNACTIVITY", 62);
    /// assert!(cfg.choose.window && cfg.choose.diff && cfg.ensemble == 5);
    /// assert!(cfg.validate().is_ok());
    /// ```
    pub fn auto(target: impl Into<String>, test: usize) -> Self {
        TrainConfig {
            ensemble: 5,
            choose: Choose::all(),
            ar_skip: true,
            ..TrainConfig::new(target, 0, test)
        }
    }

    /// Forecasting `target` from `window` steps, with the last `test` rows
    /// held out: the CLI's defaults with this window, no transform, no
    /// differencing and one network.
    pub fn new(target: impl Into<String>, window: usize, test: usize) -> Self {
        TrainConfig {
            target: target.into(),
            features: Vec::new(),
            time: TimeColumn::Auto,
            fill: Fill::None,
            window,
            horizon: 1,
            strategy: Strategy::Direct,
            test,
            transform: Transform::None,
            diff: Vec::new(),
            season: None,
            hidden: 32,
            layers: 1,
            cell: CellName::Gru,
            activation: Activation::Tanh,
            patience: 50,
            seed: 0,
            lr: 3e-3,
            weight_decay: 0.0,
            clip: 1.0,
            batch: 16,
            val_frac: 0.1,
            on_divergence: OnDivergence::Stop,
            delimiter: b',',
            rows: None,
            ensemble: 1,
            choose: Choose::default(),
            jobs: 0,
            ar_skip: false,
            diagnostics: false,
        }
    }

    /// The cell with its activation.
    pub fn cell_kind(&self) -> CellKind {
        CellKind::from_name(self.cell, self.activation)
    }

    /// Outputs of the network: the horizon (direct) or 1 (recursive).
    pub fn outputs(&self) -> usize {
        match self.strategy {
            Strategy::Direct => self.horizon,
            Strategy::Recursive => 1,
        }
    }

    /// Checks every setting that does not depend on the data; the error names
    /// the flag, the value and what is expected.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::Config(s));
        if self.window == 0 && !self.choose.window {
            return bad("--window 0: expected at least 1".into());
        }
        for (flag, v) in [
            ("--ensemble", self.ensemble),
            ("--horizon", self.horizon),
            ("--hidden", self.hidden),
            ("--layers", self.layers),
            ("--batch", self.batch),
        ] {
            if v == 0 {
                return bad(format!("{flag} 0: expected at least 1"));
            }
        }
        for (flag, v, max) in [
            ("--hidden", self.hidden, 4096),
            ("--layers", self.layers, 16),
            ("--ensemble", self.ensemble, 100),
        ] {
            if v > max {
                return bad(format!("{flag} {v}: expected 1 to {max}"));
            }
        }
        if self.diff.contains(&0) {
            return bad("--diff 0: lags must be at least 1".into());
        }
        for (flag, v) in [("--lr", self.lr), ("--clip", self.clip)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{flag} {v}: expected a positive finite number"));
            }
        }
        if !(0.0..0.9).contains(&self.val_frac) {
            return bad(format!(
                "--val-frac {}: expected a number in [0, 0.9)",
                self.val_frac
            ));
        }
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return bad(format!(
                "--weight-decay {}: expected a number >= 0",
                self.weight_decay
            ));
        }
        if self.strategy == Strategy::Recursive && !self.features.is_empty() {
            return bad("--strategy recursive cannot be used with --features (future feature values are unknown)".into());
        }
        check_delimiter(self.delimiter)?;
        if self.season == Some(0) {
            return bad("--season 0: expected at least 1".into());
        }
        Ok(())
    }
}

/// Which settings are chosen on the validation block instead of taken from
/// the [`TrainConfig`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choose {
    /// `--window` (from 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, the season and
    /// twice the season, as long as there are enough training windows).
    pub window: bool,
    /// `--transform` (none; log too when every training value is positive,
    /// sqrt when none is negative).
    pub transform: bool,
    /// `--diff` (none, 1, and the season when it is above 1).
    pub diff: bool,
}

impl Choose {
    /// Choose all three.
    pub fn all() -> Self {
        Choose {
            window: true,
            transform: true,
            diff: true,
        }
    }

    /// Whether anything is chosen.
    pub fn any(self) -> bool {
        self.window || self.transform || self.diff
    }
}

/// Checks a CSV field separator (`--delimiter`): one ASCII character other
/// than a quote, a line break, NUL, or one that can be part of a number or
/// a time label (a letter, a digit, `.`, `-` or `+`: with `1` as the
/// separator, 5162 read as the two fields 5 and 62); the error names the
/// flag and value.
///
/// ```
/// use rnn::tasks::forecast::check_delimiter;
/// assert!(check_delimiter(b';').is_ok() && check_delimiter(b'"').is_err());
/// assert!(check_delimiter(b'1').is_err() && check_delimiter(b'.').is_err());
/// ```
pub fn check_delimiter(delimiter: u8) -> Result<()> {
    let in_values = delimiter.is_ascii_alphanumeric() || b".-+".contains(&delimiter);
    if !delimiter.is_ascii() || b"\"\r\n\0".contains(&delimiter) || in_values {
        return Err(Error::Config(format!(
            "--delimiter {:?}: expected one ASCII character other than a quote, a line break, a letter, a digit, '.', '-' or '+'",
            char::from(delimiter)
        )));
    }
    Ok(())
}
