//! Gradient flow of a forecaster ([`crate::nn::flow`]): the batch is
//! [`FLOW_WINDOWS`] windows spread evenly over the windows measured (while
//! training, the validation windows, or the training windows when there
//! are none; [`Forecaster::diagnose`]: every window of a series), each its
//! `window` input steps. The error carried back is the squared error of the
//! network's output against the window's targets (less the AR forecast
//! with the AR skip, as the network is trained), which the readout takes
//! from the state at the last window step; the gradient norms are those of
//! the training loss (the mean over the windows).

use super::predict::Forecaster;
use super::series::Series;
use super::windows::{batch_of, windows, Window};
use crate::nn::flow::{gradient_flow_many_to_one, Flow};
use crate::nn::layer::Input;
use crate::nn::loss::Targets;
use crate::nn::many_to_one::ManyToOne;
use crate::nn::model::Batch;
use crate::{Error, Model, Result};

/// Windows `B` of the batch the flow is measured on (fewer when there are
/// fewer).
pub const FLOW_WINDOWS: usize = 8;

/// The `[W, B, I]` inputs and `[B, O]` targets of the windows `wins` of the
/// encoded rows `enc` (`[M, I]`, `I = width`), less the AR forecasts `base`
/// (`[S, O]` by window start; empty: none).
pub(super) fn batch_less_ar(
    enc: &[f64],
    width: usize,
    wins: &[&Window],
    base: &[f64],
) -> (Vec<f32>, Vec<f32>) {
    let (x, mut y) = batch_of(enc, width, wins);
    if !base.is_empty() {
        let o = wins[0].target.len();
        for (j, w) in wins.iter().enumerate() {
            for k in 0..o {
                y[j * o + k] -= base[w.input.start * o + k] as f32;
            }
        }
    }
    (x, y)
}

/// The flow of `model` on [`FLOW_WINDOWS`] of the windows `wins` spread
/// evenly over them (the first and the last included), see the
/// [module](self); `what` names the data in the error for no window.
pub(super) fn flow_on_windows(
    model: &Model<f32>,
    enc: &[f64],
    width: usize,
    wins: &[Window],
    base: &[f64],
    what: &str,
) -> Result<Flow> {
    let n = wins.len();
    let b = FLOW_WINDOWS.min(n);
    if b == 0 {
        return Err(Error::argument(what, "at least one window", "none"));
    }
    let picked: Vec<&Window> = (0..b)
        .map(|i| &wins[if b > 1 { i * (n - 1) / (b - 1) } else { n - 1 }])
        .collect();
    let (x, y) = batch_less_ar(enc, width, &picked, base);
    let steps = picked[0].input.len();
    gradient_flow_many_to_one(
        &ManyToOne::new(model),
        Batch::new(Input::Dense(&x), steps, b),
        Targets::Values(&y),
    )
}

impl Forecaster {
    /// The gradient flow of this model's (first) network on a series read
    /// as its training file was ([`Forecaster::read_series`]): encoded by
    /// the model's pipeline, every window of it a candidate (see the
    /// [module](self)); `what` names the series in errors.
    ///
    /// ```
    /// use rnn::tasks::forecast::{Forecaster, Series, TrainConfig, Trainer};
    /// use rnn::tasks::Budget;
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-fc-diagnose-{}", std::process::id()));
    /// let values: Vec<f64> = (0..60).map(|i| 10.0 + (i % 6) as f64).collect();
    /// let series = Series::from_values("v", values);
    /// let mut cfg = TrainConfig::new("v", 6, 6);
    /// cfg.hidden = 4;
    /// Trainer::from_series(cfg, series.clone(), &dir)?.fit(Budget::Epochs(1), &mut ())?;
    /// let flow = Forecaster::load(&dir)?.diagnose(&series, "v")?;
    /// assert_eq!((flow.steps, flow.layers[0].from_step), (6, 5));
    /// assert!(flow.grad_norms["head.weight"] > 0.0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rnn::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A series without the model's columns, or too short for one window.
    pub fn diagnose(&self, series: &Series, what: &str) -> Result<Flow> {
        let meta = &self.meta;
        let enc = self.encoded(
            series,
            series.len(),
            1,
            self.meta.window + self.meta.pipeline.lost(),
        )?; // [M, I]
        let width = 1 + meta.features.len();
        let o = self.model.config.output_size;
        let wins = windows(enc.len() / width, meta.window, o)?;
        let base: Vec<f64> = match (&meta.ar, meta.ar_skip) {
            (Some(ar), true) if !wins.is_empty() => (0..=wins[wins.len() - 1].input.start)
                .flat_map(|s| ar.outputs_of(&enc[s * width..(s + meta.window) * width]))
                .collect(),
            _ => Vec::new(),
        };
        let mut flow = flow_on_windows(&self.model, &enc, width, &wins, &base, what)?;
        // what reading the series found odd, for the caller to show
        flow.warnings = series.warnings.clone();
        Ok(flow)
    }
}
