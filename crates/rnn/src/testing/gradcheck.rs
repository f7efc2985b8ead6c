//! Finite-difference gradient checks of BPTT, in `f64`.

use crate::nn::cell::{Activation, CellKind};
use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Reduction, Targets};
use crate::nn::model::{Batch, Forward, Model, ModelConfig, State};
use rand::{Rng, SeedableRng};

/// The result of checking one parameter tensor.
#[derive(Clone, Debug)]
pub struct TensorCheck {
    /// Parameter name (or `h0`, `c0`, `x`).
    pub name: String,
    /// `max_i |analytic_i - numeric_i| / max(max_i |numeric_i|, 1e-4)` over
    /// the tensor (the reference README's relative error, with a floor on the
    /// scale for tensors of tiny gradients), over the entries whose central
    /// difference is valid (see `kinks`).
    pub max_rel_error: f64,
    /// Entries left out because `θ ± ε` moved a ReLU input across 0 (the
    /// kink, where the loss has no derivative and a central difference
    /// averages the two sides): 0 for every other cell.
    pub kinks: usize,
}

/// A random small problem for a model of `config`: inputs, targets, initial state.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// `[T, B, I]`.
    pub x: Vec<f64>,
    /// Class ids `[T, B]` when the output is softmax.
    pub classes: Vec<usize>,
    /// Targets `[T, B, O]` when the output is identity.
    pub values: Vec<f64>,
    /// Initial state.
    pub state: State<f64>,
    /// Per-sequence lengths.
    pub lengths: Option<Vec<usize>>,
}

impl Problem {
    /// Draws a problem from `seed`.
    pub fn random(
        config: &ModelConfig,
        steps: usize,
        batch: usize,
        varlen: bool,
        seed: u64,
    ) -> Problem {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let n_state = config.num_layers * config.directions() * batch * config.hidden_size;
        let mut r = |n: usize, s: f64| {
            (0..n)
                .map(|_| rng.random_range(-s..s))
                .collect::<Vec<f64>>()
        };
        let x = r(steps * batch * config.input_size, 1.0);
        let values = r(steps * batch * config.output_size, 1.0);
        let h = r(n_state, 0.5);
        let c = if config.cell.has_memory() {
            r(n_state, 0.5)
        } else {
            Vec::new()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xc1a55);
        let classes = (0..steps * batch)
            .map(|_| rng.random_range(0..config.output_size))
            .collect();
        let lengths = varlen.then(|| {
            (0..batch)
                .map(|b| {
                    if b == 0 {
                        steps
                    } else {
                        rng.random_range(1..=steps)
                    }
                })
                .collect()
        });
        Problem {
            steps,
            batch,
            x,
            classes,
            values,
            state: State { h, c },
            lengths,
        }
    }

    /// The loss of `model` on this problem, adding its gradient into `grads`
    /// and returning also `dE/d(initial state)`.
    pub fn loss(
        &self,
        model: &Model<f64>,
        state: &State<f64>,
        grads: &mut [f64],
    ) -> (f64, State<f64>) {
        let (loss, _, d0) = self.run(model, state, grads);
        (loss, d0)
    }

    /// Forward and BPTT of `model` from `state` on this problem: the loss,
    /// the forward pass and `dE/d(initial state)`; the gradient is added
    /// into `grads`.
    fn run(
        &self,
        model: &Model<f64>,
        state: &State<f64>,
        grads: &mut [f64],
    ) -> (f64, Forward<f64>, State<f64>) {
        let targets = match model.config.output {
            OutputKind::Softmax => Targets::Classes(&self.classes),
            OutputKind::Identity => Targets::Values(&self.values),
        };
        let data = Batch {
            x: Input::Dense(&self.x),
            steps: self.steps,
            batch: self.batch,
            state: Some(state),
            lengths: self.lengths.as_deref(),
            masks: None,
            split: false,
        };
        model.loss_and_grads_unchecked(data, targets, Reduction::Sum, grads)
    }

    /// The loss of `model` from `state`, and, for a ReLU cell, which of its
    /// layers' outputs are positive (`[L, T, B, D*H]` flattened; empty for
    /// other cells): two points with different patterns lie on different
    /// sides of a kink.
    fn loss_and_sides(
        &self,
        model: &Model<f64>,
        state: &State<f64>,
        grads: &mut [f64],
    ) -> (f64, Vec<bool>) {
        let (loss, fwd, _) = self.run(model, state, grads);
        let relu = matches!(
            model.config.cell,
            CellKind::Elman {
                activation: Activation::Relu
            }
        );
        let sides = match relu {
            true => (0..model.config.num_layers)
                .flat_map(|k| model.output_of(&fwd, k).iter().map(|&v| v > 0.0))
                .collect(),
            false => Vec::new(),
        };
        (loss, sides)
    }
}

/// Compares BPTT's gradient with central differences `(E(θ+ε) - E(θ-ε)) / 2ε`
/// for every entry of every parameter and of the initial state.
pub fn check(model: &Model<f64>, problem: &Problem, eps: f64) -> Vec<TensorCheck> {
    let mut grads = vec![0.0; model.params.len()];
    let (loss, d0) = problem.loss(model, &problem.state, &mut grads);
    let (_, sides) = problem.loss_and_sides(model, &problem.state, &mut vec![0.0; grads.len()]);
    let floor = scale_floor(loss, eps);
    let mut scratch = vec![0.0; model.params.len()];
    let mut out = Vec::new();
    let mut m = model.clone();
    for e in &model.layout {
        // per entry: dE/dθ_i ≈ (E(θ+ε) - E(θ-ε)) / 2ε, and whether θ ± ε
        // crossed a kink
        let mut numeric = Vec::with_capacity(e.len());
        for i in e.range() {
            let orig = m.params[i];
            m.params[i] = orig + eps;
            let (lp, sp) = problem.loss_and_sides(&m, &problem.state, &mut scratch);
            m.params[i] = orig - eps;
            let (lm, sm) = problem.loss_and_sides(&m, &problem.state, &mut scratch);
            m.params[i] = orig;
            numeric.push(((lp - lm) / (2.0 * eps), sp != sides || sm != sides));
        }
        out.push(tensor_check(&e.name, &grads[e.range()], &numeric, floor));
    }
    let mut state_check =
        |name: &str, which: fn(&mut State<f64>) -> &mut Vec<f64>, analytic: &[f64]| {
            let mut st = problem.state.clone();
            let mut numeric = Vec::with_capacity(analytic.len());
            for i in 0..analytic.len() {
                let orig = which(&mut st)[i];
                which(&mut st)[i] = orig + eps;
                let (lp, sp) = problem.loss_and_sides(model, &st, &mut scratch);
                which(&mut st)[i] = orig - eps;
                let (lm, sm) = problem.loss_and_sides(model, &st, &mut scratch);
                which(&mut st)[i] = orig;
                numeric.push(((lp - lm) / (2.0 * eps), sp != sides || sm != sides));
            }
            out.push(tensor_check(name, analytic, &numeric, floor));
        };
    state_check("h0", |s| &mut s.h, &d0.h);
    if let CellKind::Lstm = model.config.cell {
        state_check("c0", |s| &mut s.c, &d0.c);
    }
    out
}

/// The check of one tensor from its analytic gradient and, per entry, the
/// central difference and whether it crossed a kink (left out).
fn tensor_check(name: &str, analytic: &[f64], numeric: &[(f64, bool)], floor: f64) -> TensorCheck {
    let (a, n): (Vec<f64>, Vec<f64>) = analytic
        .iter()
        .zip(numeric)
        .filter(|(_, (_, kinked))| !kinked)
        .map(|(&a, &(n, _))| (a, n))
        .unzip();
    TensorCheck {
        name: name.into(),
        max_rel_error: fd_error(&a, &n, floor),
        kinks: numeric.iter().filter(|(_, k)| *k).count(),
    }
}

/// The smallest gradient scale [`check`] divides by. A central difference
/// carries the rounding error of `E` over `2 eps`, about
/// `noise = f64::EPSILON * |E| / eps` (2.7e-10 for E = 12, eps = 1e-5), so a
/// tensor whose gradients are all tiny (a one-unit layer at a flat point,
/// say) would fail on rounding alone. Below `1e7 * noise` (and 1e-4) errors
/// are measured against that floor instead. A wrong gradient, off by about
/// its own size `g`, still shows as `g / floor`: far above a 1e-6 tolerance
/// unless `g` itself is below a millionth of the floor.
fn scale_floor(loss: f64, eps: f64) -> f64 {
    let noise = f64::EPSILON * loss.abs().max(1.0) / eps;
    (1e7 * noise).max(1e-4)
}

/// Largest difference between analytic and numeric gradients relative to the
/// larger of the numeric gradient's scale and `floor` (see [`scale_floor`]).
fn fd_error(analytic: &[f64], numeric: &[f64], floor: f64) -> f64 {
    let (diff, scale) = crate::testing::reference::diff_and_scale(analytic, numeric);
    diff / scale.max(floor)
}
