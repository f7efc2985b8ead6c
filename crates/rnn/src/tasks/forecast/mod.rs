//! Time-series forecasting: read a CSV column ([`Series`]), train a
//! recurrent network on sliding windows of it ([`Trainer`]), forecast with
//! the saved model ([`Forecaster`]) and score it against the naive baselines
//! ([`EvalReport`]).
//!
//! A model reads `window` normalised steps of the target (plus any features)
//! and its many-to-one readout gives the next `horizon` values at once
//! ([`Strategy::Direct`], O = H) or the next value only, fed back H times
//! ([`Strategy::Recursive`], O = 1). The target is transformed, differenced
//! and z-scored by a [`Pipeline`] fitted on the training part only.
//!
//! ```no_run
//! use rnn::tasks::forecast::{Forecaster, TrainConfig, Trainer, Transform};
//! use rnn::tasks::Budget;
//! use std::path::Path;
//! let mut cfg = TrainConfig::new("Passengers", 24, 24);
//! (cfg.horizon, cfg.transform, cfg.diff) = (24, Transform::Log, vec![1]);
//! let data = Path::new("data/timeseries/airline.csv");
//! let mut trainer = Trainer::new(cfg, data, Path::new("runs/airline"))?;
//! let summary = trainer.fit(Budget::Epochs(500), &mut ())?;
//! println!("test RMSE {:?}", summary.test.map(|r| r.rmse));
//! let model = Forecaster::load(Path::new("runs/airline"))?;
//! let series = model.read_series(data)?;
//! println!("{:?}", model.forecast(&series, 24)?);
//! # Ok::<(), rnn::Error>(())
//! ```

mod arma;
mod baselines;
mod calendar;
mod choose;
mod combine;
mod config;
pub mod diagnose;
mod eval;
mod gain;
mod history;
mod interval;
mod level;
mod linear;
mod member;
mod meta;
mod numbers;
mod pipeline;
mod predict;
mod report;
mod series;
mod table;
mod trainer;
mod windows;

pub use crate::tasks::fill::{fill_gaps, is_missing, Fill};
pub use arma::Arma;
pub use baselines::{mae, mase_scale, naive, rmse, seasonal_naive};
pub use calendar::{
    check_time_order, default_season, extend_time, time_axis, time_step, uneven_time_step,
};
pub use choose::{val_origins, val_rows};
pub use config::{check_delimiter, Choose, TrainConfig};
pub use diagnose::FLOW_WINDOWS;
pub use eval::EvalReport;
pub use gain::clear_gain;
pub use history::HISTORY_FORMAT;
pub use interval::{conformal_quantile, LEVEL};
pub use level::Level;
pub use linear::Linear;
pub use meta::{
    fingerprint, Base, Choice, ForecastMeta, Interval, Strategy, ValScores, META_KEY, TASK,
};
pub use numbers::read_value;
pub use pipeline::{difference, Pipeline, Transform};
pub use predict::{member_dir, Forecast, Forecaster, Origin};
pub use report::{fmt_num, ForecastReport};
pub use series::{Series, TimeColumn};
pub use table::{decode_text, RowFilter, Table};
pub use trainer::{default_epochs, Summary, Trainer};
pub use windows::{eval_origins, windows, Window};

/// What a forecaster run's `loss.svg` shows (see [`crate::tasks::Plotting`]):
/// MSE in normalised units per epoch, redrawn every 20 epochs.
pub const LOSS_PLOT: crate::io::LossPlot = crate::io::LossPlot {
    title: "forecast training (normalised units)",
    x: "epoch",
    y_label: "MSE",
    series: &[("train MSE", "train_mse"), ("validation MSE", "val_mse")],
    every: 20,
};
