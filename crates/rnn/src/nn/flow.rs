//! Gradient flow through time: what BPTT does to the error on its way back.
//!
//! For one batch, per layer and direction:
//!
//! - `grad_norm_by_step[t] = ||dE_T/ds_t||`: the error of the last step
//!   alone (`E_T`, each sequence's last valid step), carried back to every
//!   step's state (norm over the batch), and `reach`, how many steps back it
//!   stays above `1e-3` of its value at `t = T`;
//! - `spectral_radius`: of the state-to-state Jacobian `ds_t/ds_{t-1}` (for
//!   the LSTM the state is `(h, c)`), by power iteration at each sequence's
//!   last step, averaged over the batch. For Elman with `f' = 1` it is
//!   `W_hh`'s; above 1 the error can grow on its way back, below 1 it fades;
//! - `saturated`: the share of saturated nonlinearity outputs (`|tanh| >
//!   0.99`, sigmoid `< 0.01` or `> 0.99`; relu never saturates);
//!
//! and the norm of the full loss's gradient for every parameter tensor.
//!
//! "The last step" is each direction's own: a bidirectional layer's
//! backward direction reads the sequence from its end down to `t = 0`, so
//! its last step is `t = 0`, its carried error is `E_0` (the loss at the
//! first step alone), and "steps back" count towards larger `t`
//! ([`LayerFlow::from_step`]). (`E_T` never reaches the backward direction
//! beyond its first step: `dE_T/ds_t` is 0 there for `t < T - 1`.)
//!
//! A many-to-one model (a forecaster, a sequence classifier: see
//! [`crate::nn::many_to_one`]) has one loss per sequence, read from its
//! final state or from its outputs pooled over time;
//! [`gradient_flow_many_to_one`] carries that loss back instead of `E_T`
//! (and, in a backward direction, of `E_0`). Read from the final state, it
//! enters each direction at its last step only, as `E_T` does; pooled, it
//! enters at every step, so the carried error need not fade.
//!
//! ```
//! use rnn::nn::flow::gradient_flow;
//! use rnn::{Activation, Batch, CellKind, Input, Model, ModelConfig, Targets};
//! let mut cfg = ModelConfig::elman(3, 4, 3);
//! cfg.cell = CellKind::Elman { activation: Activation::Relu };
//! let mut model = Model::<f64>::new(cfg, 0).unwrap();
//! model.params.iter_mut().for_each(|p| *p = 0.1); // all pre-activations > 0: f' = 1
//! let w = model.param_mut("rnn.weight_hh_l0").unwrap();
//! w.iter_mut().for_each(|p| *p = 0.0);
//! for j in 0..4 { w[j * 4 + j] = 0.5; } // W = 0.5 I
//! let ids = [0usize; 6]; // [T = 6, B = 1]
//! let flow = gradient_flow(&model, Batch::new(Input::Ids(&ids), 6, 1), Targets::Classes(&ids)).unwrap();
//! let g = &flow.layers[0].grad_norm_by_step;
//! assert!((g[4] / g[5] - 0.5).abs() < 1e-12); // the error halves at every step back
//! assert!((flow.layers[0].spectral_radius - 0.5).abs() < 1e-9);
//! ```

use crate::kernels::gemv_t_acc;
use crate::nn::cell::{Activation, CellKind};
use crate::nn::loss::{loss_and_grad_unchecked, Reduction, Targets};
use crate::nn::many_to_one::ManyToOne;
use crate::nn::model::{Batch, Forward, Model};
use crate::{Error, Float, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// Power-iteration products per spectral-radius estimate.
pub const POWER_ITERATIONS: usize = 64;
/// At most this many sequences of the batch enter the spectral radius.
pub const RADIUS_SEQUENCES: usize = 16;

/// Gradient flow of one layer and direction (see the [module](self)).
#[derive(Clone, Debug, Serialize)]
pub struct LayerFlow {
    /// The layer `k` (0 = next to the input).
    pub layer: usize,
    /// 0 forward, 1 backward in time.
    pub direction: usize,
    /// `||dE_T/ds_t||` for `t = 0..T` (norm over the batch). For the
    /// backward direction (1) the error carried is `E_0`'s: see
    /// [`LayerFlow::from_step`].
    pub grad_norm_by_step: Vec<f64>,
    /// The step whose error is carried back: the direction's own last step,
    /// `T - 1` for the forward direction (each sequence's last valid step
    /// when lengths vary), `0` for the backward one, which reads the
    /// sequence from its end to `t = 0`; "back" from it is towards larger
    /// `t`.
    pub from_step: usize,
    /// Steps back from [`LayerFlow::from_step`] at which that norm first
    /// falls below `1e-3` of its value there (`None`: never within the
    /// batch's `T` steps).
    pub reach: Option<usize>,
    /// Spectral radius of `ds_t/ds_{t-1}` at the direction's last step
    /// (`ds_t/ds_{t+1}` at `t = 0` for the backward one), batch average.
    pub spectral_radius: f64,
    /// Share of saturated nonlinearity outputs over the valid steps.
    pub saturated: f64,
}

impl LayerFlow {
    /// `||dE/ds_t||` ordered by steps back from [`LayerFlow::from_step`]:
    /// element `n` is the norm `n` steps before the direction's last step.
    pub fn by_steps_back(&self) -> Vec<f64> {
        let mut g = self.grad_norm_by_step.clone();
        if self.from_step > 0 {
            g.reverse();
        }
        g
    }
}

/// What [`gradient_flow`] measures on one batch.
#[derive(Clone, Debug, Serialize)]
pub struct Flow {
    /// The batch's `T`.
    pub steps: usize,
    /// Per layer and direction (index `k*D + d`).
    pub layers: Vec<LayerFlow>,
    /// `||dE/dθ||` of the mean loss over the batch, per parameter tensor.
    pub grad_norms: std::collections::BTreeMap<String, f64>,
    /// What reading the data found odd without stopping, one line each (a
    /// forecaster's series: uneven time labels, rows of another time step
    /// than the training file's, set by `Forecaster::diagnose`): shown as
    /// warnings; none from [`gradient_flow`] itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Flow {
    /// The lines `rnn diagnose` prints: one per layer and direction (the
    /// carried error at the direction's last step and at its first, the
    /// reach, the spectral radius, the saturation), then one per parameter
    /// tensor's gradient norm.
    ///
    /// ```
    /// use rnn::nn::flow::gradient_flow;
    /// use rnn::{Batch, Input, Model, ModelConfig, Targets};
    /// let model = Model::<f32>::new(ModelConfig::elman(3, 4, 3), 0).unwrap();
    /// let ids = [0usize, 1, 2, 0];
    /// let flow = gradient_flow(&model, Batch::new(Input::Ids(&ids), 4, 1), Targets::Classes(&ids)).unwrap();
    /// let text = flow.report();
    /// assert!(text.starts_with("T = 4 steps; the error of the last step, carried back:\nlayer 0 direction 0: |dE_T/ds_t| "));
    /// assert!(text.contains("\n|dE/d rnn.weight_hh_l0| = "));
    /// ```
    pub fn report(&self) -> String {
        let mut out = format!(
            "T = {}; the error of the last step, carried back:\n",
            crate::tasks::counted(self.steps, "step", "steps")
        );
        for l in &self.layers {
            let g = &l.grad_norm_by_step;
            let reach = match l.reach {
                // a head of zeros (or a loss with no gradient) sends nothing back
                _ if g.iter().all(|&v| v == 0.0) => {
                    "no error reaches this layer (zero at every step)".to_string()
                }
                None => format!("stays above 1e-3 of it over all {} steps", self.steps),
                Some(r) => format!("falls below 1e-3 of it after {r} steps"),
            };
            let (first, last) = (g[0], g[g.len() - 1]);
            let carried = if l.from_step == 0 && l.direction == 1 {
                format!("|dE_0/ds_t| {first:.3e} at t = 0, {last:.3e} at T")
            } else {
                format!("|dE_T/ds_t| {last:.3e} at T, {first:.3e} at t = 0")
            };
            out += &format!(
                "layer {} direction {}: {carried}; {reach}; spectral radius {:.4}; saturated {:.1}%\n",
                l.layer,
                l.direction,
                l.spectral_radius,
                100.0 * l.saturated
            );
        }
        for (name, n) in &self.grad_norms {
            out += &format!("|dE/d {name}| = {n:.4e}\n");
        }
        out
    }
}

/// Measures the gradient flow of `model` on one batch (see the
/// [module](self)); `targets` as for [`Model::loss_and_grads`].
///
/// # Errors
///
/// As [`Model::loss_and_grads`]: a batch or targets that do not fit.
pub fn gradient_flow<T: Float>(
    model: &Model<T>,
    data: Batch<T>,
    targets: Targets<T>,
) -> Result<Flow> {
    let mut grads = vec![T::zero(); model.params.len()];
    let (_, fwd, _) = model.loss_and_grads(data, targets, Reduction::Mean, &mut grads)?;
    Ok(carried(
        model,
        data,
        &fwd,
        targets,
        None,
        tensor_norms(model, &grads),
    ))
}

/// Measures the gradient flow of a many-to-one model (`head`: its network
/// and what its readout reads) on one batch: the error carried back is the
/// head's loss against `targets` (one class id `[B]` or one vector `[B, O]`
/// per sequence, summed over the batch), from wherever the readout reads
/// it; the gradient norms are those of its mean over the batch (see the
/// [module](self)). Dropout masks in `data` are ignored.
///
/// ```
/// use rnn::nn::flow::gradient_flow_many_to_one;
/// use rnn::nn::many_to_one::ManyToOne;
/// use rnn::{Batch, Input, Model, ModelConfig, Targets};
/// // a classifier of 2 classes over [T = 5, B = 2, I = 1] inputs
/// let model = Model::<f64>::new(ModelConfig::elman(1, 4, 2), 0).unwrap();
/// let x = [0.1, -0.2, 0.3, 0.0, 0.5, 0.4, -0.1, 0.2, 0.0, 0.3];
/// let data = Batch::new(Input::Dense(&x), 5, 2);
/// let flow = gradient_flow_many_to_one(&ManyToOne::new(&model), data, Targets::Classes(&[1, 0])).unwrap();
/// let l = &flow.layers[0];
/// assert_eq!((l.from_step, l.grad_norm_by_step.len()), (4, 5));
/// assert!(l.grad_norm_by_step[4] > l.grad_norm_by_step[0]); // a tanh network: the error fades
/// assert!(flow.grad_norms["head.weight"] > 0.0);
/// ```
///
/// # Errors
///
/// As [`ManyToOne::loss_and_grads_batch`]: a batch or targets that do not
/// fit the model.
pub fn gradient_flow_many_to_one<T: Float>(
    head: &ManyToOne<T>,
    data: Batch<T>,
    targets: Targets<T>,
) -> Result<Flow> {
    let model = head.model;
    let data = Batch {
        masks: None,
        ..data
    };
    let mut grads = vec![T::zero(); model.params.len()];
    head.loss_and_grads_batch(data, targets, Reduction::Mean, &mut grads)?;
    let fwd = model.forward(data)?;
    let dtop = head.top_gradient(&fwd, data.lengths, targets);
    let cfg = &model.config;
    let mut traces = vec![vec![T::zero(); data.steps]; cfg.num_layers * cfg.directions()];
    let mut scratch = vec![T::zero(); model.params.len()];
    model.backward_top_traced(
        &fwd,
        data.x,
        data.lengths,
        dtop,
        None,
        &mut scratch,
        false,
        Some(&mut traces),
    );
    Ok(assemble(
        model,
        data,
        &fwd,
        &traces,
        None,
        tensor_norms(model, &grads),
    ))
}

/// [`gradient_flow`] for a model trained on a loss of its own (a tagger's
/// CRF, embeddings under the network): `fwd` is the forward pass of `data`
/// ([`Model::forward`]), `grad_norms` the caller's gradient norms per
/// tensor, and the errors carried back are the output's loss against
/// `targets` (cross-entropy or squared error) at each direction's last
/// step, on the rows `counted` marks (`[T, B]`; `None`: every row), e.g.
/// the tokens whose tag the model knows.
///
/// # Errors
///
/// A batch, forward pass, targets or `counted` that do not fit the model or
/// each other ([`crate::Error::Argument`]).
pub fn gradient_flow_of<T: Float>(
    model: &Model<T>,
    data: Batch<T>,
    fwd: &Forward<T>,
    targets: Targets<T>,
    counted: Option<&[bool]>,
    grad_norms: BTreeMap<String, f64>,
) -> Result<Flow> {
    model.check_batch(&data)?;
    model.check_forward(fwd)?;
    let (steps, batch) = (data.steps, data.batch);
    if (fwd.steps, fwd.batch) != (steps, batch) {
        return Err(Error::argument(
            "fwd",
            format!("the forward pass of the batch, [T, B] = [{steps}, {batch}]"),
            format!("[{}, {}]", fwd.steps, fwd.batch),
        ));
    }
    if let Some(c) = counted.filter(|c| c.len() != steps * batch) {
        return Err(Error::argument(
            "counted",
            format!("one flag per row, [T, B] = [{steps}, {batch}]"),
            format!("{} flags", c.len()),
        ));
    }
    let shape = format!("[T, B] = [{steps}, {batch}]");
    let lengths = data.lengths;
    model.check_targets(targets, steps * batch, &shape, |r| {
        counted.is_none_or(|c| c[r]) && lengths.is_none_or(|l| r / batch < l[r % batch])
    })?;
    Ok(carried(model, data, fwd, targets, counted, grad_norms))
}

/// `||dE/dθ||` per parameter tensor of `model` (its layout's names).
pub(crate) fn tensor_norms<T: Float>(model: &Model<T>, grads: &[T]) -> BTreeMap<String, f64> {
    model
        .layout
        .iter()
        .map(|e| (e.name.clone(), norm(&grads[e.range()])))
        .collect()
}

/// The flow of a checked forward pass (see [`gradient_flow_of`]).
fn carried<T: Float>(
    model: &Model<T>,
    data: Batch<T>,
    fwd: &Forward<T>,
    targets: Targets<T>,
    counted: Option<&[bool]>,
    grad_norms: BTreeMap<String, f64>,
) -> Flow {
    let cfg = &model.config;
    let (steps, batch) = (data.steps, data.batch);
    let rows = steps * batch;
    let last = |b: usize| data.lengths.map_or(steps, |l| l[b]) - 1;
    let counts = |r: usize| counted.is_none_or(|c| c[r]);
    // E_T: the loss at each sequence's last valid step, nothing else
    let at_last: Vec<bool> = (0..rows)
        .map(|r| r / batch == last(r % batch) && counts(r))
        .collect();
    let traces = trace(model, data, fwd, targets, &at_last);
    // the backward direction's last step is t = 0: E_0, carried towards t = T
    let from_first = (cfg.directions() == 2).then(|| {
        let at_first: Vec<bool> = (0..rows).map(|r| r < batch && counts(r)).collect();
        trace(model, data, fwd, targets, &at_first)
    });
    assemble(model, data, fwd, &traces, from_first.as_deref(), grad_norms)
}

/// The [`Flow`] of the squared norms `traces` (`[T]` per layer and
/// direction) of the error carried back, `from_first` (when given) those
/// the backward directions carry instead.
fn assemble<T: Float>(
    model: &Model<T>,
    data: Batch<T>,
    fwd: &Forward<T>,
    traces: &[Vec<T>],
    from_first: Option<&[Vec<T>]>,
    grad_norms: BTreeMap<String, f64>,
) -> Flow {
    let cfg = &model.config;
    let (steps, batch) = (data.steps, data.batch);
    let last = |b: usize| data.lengths.map_or(steps, |l| l[b]) - 1;
    let valid = |t: usize, b: usize| t <= last(b);
    let layers = (0..traces.len())
        .map(|idx| {
            let (k, d) = (idx / cfg.directions(), idx % cfg.directions());
            let source = match (from_first, d) {
                (Some(first), 1) => &first[idx],
                _ => &traces[idx],
            };
            let g: Vec<f64> = source.iter().map(|v| v.f64().sqrt()).collect();
            let from_step = if d == 1 { 0 } else { steps - 1 };
            let at = |back: usize| if d == 1 { back } else { steps - 1 - back };
            let reach = (1..steps).find(|&back| g[at(back)] < 1e-3 * g[from_step]);
            let cache = &fwd.layers[idx];
            let radius = spectral_radius(model, k, d, cache, batch, &last);
            LayerFlow {
                layer: k,
                direction: d,
                grad_norm_by_step: g,
                from_step,
                reach,
                spectral_radius: radius,
                saturated: saturation(cfg.cell, cache, steps, batch, cfg.hidden_size, &valid),
            }
        })
        .collect();
    Flow {
        steps,
        layers,
        grad_norms,
        warnings: Vec::new(),
    }
}

/// `sum_b ||dE/ds_t||^2` per layer and direction and step `t`, where `E` is
/// the loss on the rows `only` marks, carried back by BPTT.
fn trace<T: Float>(
    model: &Model<T>,
    data: Batch<T>,
    fwd: &Forward<T>,
    targets: Targets<T>,
    only: &[bool],
) -> Vec<Vec<T>> {
    let cfg = &model.config;
    let mut dlogits = vec![T::zero(); fwd.logits.len()];
    loss_and_grad_unchecked(
        cfg.output,
        &fwd.logits,
        cfg.output_size,
        targets,
        Some(only),
        Reduction::Sum,
        &mut dlogits,
    );
    let n = cfg.num_layers * cfg.directions();
    let mut traces = vec![vec![T::zero(); data.steps]; n];
    let mut scratch = vec![T::zero(); model.params.len()];
    model.backward_traced(
        fwd,
        data.x,
        data.lengths,
        &dlogits,
        None,
        &mut scratch,
        false,
        Some(&mut traces),
    );
    traces
}

fn norm<T: Float>(v: &[T]) -> f64 {
    v.iter().map(|x| x.f64().powi(2)).sum::<f64>().sqrt()
}

/// The spectral radius of `J = ds_t/ds_{t-1}` at each sequence's last step,
/// averaged over (up to [`RADIUS_SEQUENCES`] of) the batch. Power iteration
/// on `J^T` (same eigenvalues), whose products are one step of BPTT: `u ->
/// W_hh^T (u through the cell's backward) + the part that bypasses W_hh`.
/// The estimate is the geometric mean of `||J^T v|| / ||v||` over the last
/// quarter of the iterations, which converges to `|lambda_max|` also when
/// the dominant eigenvalues are a complex pair; it is low by about
/// `(lambda_2/lambda_1)^48` when the two largest are close.
fn spectral_radius<T: Float>(
    model: &Model<T>,
    k: usize,
    d: usize,
    cache: &crate::nn::layer::LayerCache<T>,
    batch: usize,
    last: &dyn Fn(usize) -> usize,
) -> f64 {
    let layer = model.config.layer(k, d);
    let p = model.layer_params(&model.params, k, d);
    let (h, cell) = (layer.hidden, layer.cell);
    let (gw, cw, mem) = (cell.gates() * h, cell.cache_width() * h, cell.has_memory());
    let separate = cell.separate_dgh();
    let sequences = batch.min(RADIUS_SEQUENCES);
    let mut total = 0.0;
    for b in 0..sequences {
        // the forward direction's last step is t = last(b); the backward one's is t = 0
        let t = if layer.reverse { 0 } else { last(b) };
        let len = last(b) + 1; // the sequence's steps
        let width = if mem { 2 * h } else { h };
        // a fixed start vector with every component nonzero
        let mut v: Vec<T> = (0..width)
            .map(|j| T::of(1.0 + (j % 7) as f64 / 7.0))
            .collect();
        scale_to_unit(&mut v);
        let (mut log_growth, mut counted) = (0.0, 0);
        let mut dgi = vec![T::zero(); gw];
        let mut dgh = vec![T::zero(); if separate { gw } else { 0 }];
        let mut out = vec![T::zero(); width];
        for it in 0..POWER_ITERATIONS {
            let (uh, uc) = v.split_at(h);
            for buf in [&mut dgi, &mut dgh, &mut out] {
                buf.fill(T::zero());
            }
            let (direct, dc_prev) = out.split_at_mut(h);
            let (gates, hp, cp, ht) = cache.row(t, b, batch, h, cw, layer.reverse, len);
            cell.backward_row(
                uh, uc, gates, hp, cp, ht, &mut dgi, &mut dgh, direct, dc_prev,
            );
            // dE/ds_{t-1} = W_hh^T delta_t + the direct part
            gemv_t_acc(gw, h, p.w_hh, if separate { &dgh } else { &dgi }, direct);
            let grown = norm(&out);
            if grown == 0.0 || !grown.is_finite() {
                log_growth = if grown == 0.0 {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                counted = 1;
                break;
            }
            if it >= POWER_ITERATIONS * 3 / 4 {
                log_growth += grown.ln();
                counted += 1;
            }
            std::mem::swap(&mut v, &mut out);
            scale_to_unit(&mut v);
        }
        total += (log_growth / counted as f64).exp();
    }
    total / sequences as f64
}

fn scale_to_unit<T: Float>(v: &mut [T]) {
    let n = norm(v);
    if n > 0.0 {
        let inv = T::of(1.0 / n);
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// The share of saturated nonlinearity outputs over the valid steps: tanh
/// outputs with `|y| > 0.99`, sigmoid outputs below 0.01 or above 0.99.
fn saturation<T: Float>(
    cell: CellKind,
    cache: &crate::nn::layer::LayerCache<T>,
    steps: usize,
    batch: usize,
    h: usize,
    valid: &dyn Fn(usize, usize) -> bool,
) -> f64 {
    let tanh = |y: f64| y.abs() > 0.99;
    let sigm = |y: f64| !(0.01..=0.99).contains(&y);
    // which parts of a row's cache hold which nonlinearity's outputs
    type Saturated = fn(f64) -> bool;
    let (source, kinds): (&[T], Vec<Saturated>) = match cell {
        CellKind::Elman {
            activation: Activation::Tanh,
        } => (&cache.h, vec![tanh]),
        CellKind::Elman {
            activation: Activation::Sigmoid,
        } => (&cache.h, vec![sigm]),
        CellKind::Elman {
            activation: Activation::Relu,
        } => return 0.0,
        // cache: i, f, g, o, tanh(c)
        CellKind::Lstm => (&cache.gates, vec![sigm, sigm, tanh, sigm, tanh]),
        // cache: r, z, n, (W_hn h + b_hn: not an output)
        CellKind::Gru => (&cache.gates, vec![sigm, sigm, tanh]),
    };
    let width = source.len() / (steps * batch);
    let (mut hit, mut all) = (0usize, 0usize);
    for t in 0..steps {
        for b in (0..batch).filter(|&b| valid(t, b)) {
            let row = &source[(t * batch + b) * width..];
            for (part, is_saturated) in kinds.iter().enumerate() {
                for y in &row[part * h..(part + 1) * h] {
                    hit += usize::from(is_saturated(y.f64()));
                }
                all += h;
            }
        }
    }
    if all == 0 {
        0.0
    } else {
        hit as f64 / all as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, ModelConfig};

    /// A head of zeros sends no error back: the report says so, not that
    /// the error "stays above 1e-3 of it" (0 is never below 1e-3 of 0).
    #[test]
    fn a_head_of_zeros_is_reported_as_no_error_reaching_the_layer() {
        let ids = [0usize, 1, 2, 0];
        let flow_of = |m: &Model<f64>| {
            gradient_flow(
                m,
                Batch::new(Input::Ids(&ids), 4, 1),
                Targets::Classes(&ids),
            )
            .unwrap()
        };
        let mut model = Model::<f64>::new(ModelConfig::elman(3, 4, 3), 0).unwrap();
        let drawn = flow_of(&model).report();
        assert!(!drawn.contains("no error reaches"), "{drawn}");
        model.param_mut("head.weight").unwrap().fill(0.0);
        let flow = flow_of(&model);
        assert!(flow.layers[0].grad_norm_by_step.iter().all(|&v| v == 0.0));
        let text = flow.report();
        assert!(
            text.contains("no error reaches this layer (zero at every step)"),
            "{text}"
        );
        assert!(!text.contains("stays above"), "{text}");
    }
}
