//! Optimizer trajectories (format `rnn-trajectory/1`): repeated forward, BPTT,
//! optional clipping and one optimizer update on a fixed batch, compared with
//! `torch.optim`.

use crate::io::{TensorFile, TensorWriter};
use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Targets};
use crate::nn::model::Batch;
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::testing::reference::Case;
use crate::{Float, Result};

/// A parsed trajectory case.
#[derive(Clone, Debug)]
pub struct Trajectory {
    /// The model, batch and loss (reduction `mean`).
    pub case: Case,
    /// The optimizer with its arguments.
    pub optimizer: OptimizerConfig,
    /// Global-norm clipping threshold, if any.
    pub clip: Option<f64>,
    /// Number of updates.
    pub steps: usize,
}

/// The result of running a trajectory.
#[derive(Clone, Debug)]
pub struct TrajectoryResult {
    /// Loss before each update: `[steps]`.
    pub losses: Vec<f64>,
    /// `(seed name, shape, final values)` for U, W, b, V, c.
    pub finals: Vec<(&'static str, Vec<usize>, Vec<f64>)>,
}

impl Trajectory {
    /// Parses a trajectory file.
    pub fn parse(f: &TensorFile) -> Result<Self> {
        let fmt = f.meta("format")?;
        if fmt != "rnn-trajectory/1" {
            return Err(f.bad_meta("format", fmt, "expected rnn-trajectory/1"));
        }
        let case = Case::parse_reference(f)?;
        let name = f.meta("optimizer")?;
        let args_s = f
            .metadata()
            .get("optimizer_args")
            .map(String::as_str)
            .unwrap_or("{}");
        let args: serde_json::Value = serde_json::from_str(args_s)
            .map_err(|e| f.bad_meta("optimizer_args", args_s, &format!("a JSON object ({e})")))?;
        let optimizer = OptimizerConfig::from_args(name, &args).map_err(|e| {
            f.bad_meta(
                "optimizer/optimizer_args",
                &format!("{name} {args_s}"),
                &e.to_string(),
            )
        })?;
        let clip_s = f
            .metadata()
            .get("clip_grad_norm")
            .map(String::as_str)
            .unwrap_or("none");
        let clip = match clip_s {
            "none" | "" => None,
            s => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| f.bad_meta("clip_grad_norm", s, "a positive number or none"))?,
            ),
        };
        let steps_s = f.meta("steps")?;
        let steps = steps_s
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= 1_000_000)
            .ok_or_else(|| {
                f.bad_meta(
                    "steps",
                    steps_s,
                    "a whole number of updates, at most 1000000",
                )
            })?;
        Ok(Trajectory {
            case,
            optimizer,
            clip,
            steps,
        })
    }

    /// Runs the trajectory in scalar type `T`.
    ///
    /// # Errors
    ///
    /// An optimizer step that fails ([`Optimizer::step`]).
    pub fn run<T: Float>(&self) -> Result<TrajectoryResult> {
        let c = &self.case;
        let mut model = c.model::<T>();
        let x: Vec<T> = c.x.iter().map(|&v| T::of(v)).collect();
        let values: Vec<T> = c.values.iter().map(|&v| T::of(v)).collect();
        let state = crate::nn::model::State {
            h: c.state.h.iter().map(|&v| T::of(v)).collect(),
            c: Vec::new(),
        };
        let mut opt = Optimizer::<T>::new(self.optimizer.clone(), model.params.len());
        let mut grads = vec![T::zero(); model.params.len()];
        let mut losses = Vec::with_capacity(self.steps);
        for _ in 0..self.steps {
            grads.fill(T::zero());
            let targets = match c.config.output {
                OutputKind::Softmax => Targets::Classes(&c.classes),
                OutputKind::Identity => Targets::Values(&values),
            };
            let (loss, _, _) = model.loss_and_grads_unchecked(
                Batch::new(Input::Dense(&x), c.steps, c.batch).with_state(&state),
                targets,
                c.reduction,
                &mut grads,
            );
            losses.push(loss.f64());
            if let Some(max_norm) = self.clip {
                clip_grad_norm(&mut grads, max_norm)?;
            }
            opt.step(&mut model.params, &grads)?;
        }
        let finals = [
            ("U", "rnn.weight_ih_l0"),
            ("W", "rnn.weight_hh_l0"),
            ("b", "rnn.bias_ih_l0"),
            ("V", "head.weight"),
            ("c", "head.bias"),
        ]
        .into_iter()
        .map(|(seed, name)| {
            let e = model.entry(name).expect("layout has the seed's tensors");
            (
                seed,
                e.shape.clone(),
                model.params[e.range()].iter().map(|v| v.f64()).collect(),
            )
        })
        .collect();
        Ok(TrajectoryResult { losses, finals })
    }
}

/// Reads a trajectory file, runs it in `f64` and returns `losses` and every `*_final` tensor.
pub fn run_file(path: &std::path::Path) -> Result<TensorWriter> {
    let f = TensorFile::read(path)?;
    let r = Trajectory::parse(&f)?.run::<f64>()?;
    let mut w = TensorWriter::new();
    w.add::<f64>("losses", &[r.losses.len()], &r.losses);
    for (name, shape, data) in &r.finals {
        w.add::<f64>(format!("{name}_final"), shape, data);
    }
    w.meta("format", "rnn-trajectory/1");
    w.meta(
        "generated_by",
        format!("rnn {} (f64)", env!("CARGO_PKG_VERSION")),
    );
    Ok(w)
}
