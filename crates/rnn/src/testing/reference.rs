//! Reference cases: files of PyTorch-computed ground truth (formats
//! `rnn-reference/1` and `rnn-stack/1`, see `tests/fixtures/reference/README.md`).
//!
//! A case is parsed into a [`Case`] (weights, inputs, targets, architecture),
//! then [`Case::evaluate`] recomputes every output and gradient from the
//! weights and inputs alone, in `f32` or `f64`. Expected tensors in the file
//! are never read here.

use crate::io::{F64Tensor, TensorFile, TensorWriter};
use crate::nn::cell::{Activation, CellKind};
use crate::nn::layer::Input;
use crate::nn::loss::{softmax, OutputKind, Reduction, Targets};
use crate::nn::model::{Batch, Model, ModelConfig, State};
use crate::{Error, Float, Result};
use std::collections::BTreeMap;

/// Which of the two case formats a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `rnn-reference/1`: one Elman layer, seed's names U, W, b, V, c.
    Reference,
    /// `rnn-stack/1`: stacked/bidirectional/variable-length, PyTorch names.
    Stack,
}

/// A parsed reference case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The file's format.
    pub format: Format,
    /// The architecture.
    pub config: ModelConfig,
    /// Parameters by PyTorch name, in the model's layout.
    pub params: Vec<f64>,
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// Inputs `[T, B, I]`.
    pub x: Vec<f64>,
    /// Initial state `[L*D, B, H]` (and `c0` for LSTM).
    pub state: State<f64>,
    /// Class ids `[T, B]` (softmax) ...
    pub classes: Vec<usize>,
    /// ... or target values `[T, B, O]` (identity).
    pub values: Vec<f64>,
    /// Valid length of each sequence (stack format).
    pub lengths: Option<Vec<usize>>,
    /// How the loss is reduced.
    pub reduction: Reduction,
}

fn expect_meta<'a>(f: &'a TensorFile, key: &str, allowed: &[&str]) -> Result<&'a str> {
    let v = f.meta(key)?;
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(f.bad_meta(key, v, &format!("expected one of {}", allowed.join(", "))))
    }
}

fn dims(f: &TensorFile, name: &str, rank: usize, what: &str) -> Result<F64Tensor> {
    let t = f.f64(name)?;
    if t.shape.len() != rank || t.shape.contains(&0) {
        return Err(f.bad_shape(name, &t.shape, what.into()));
    }
    Ok(t)
}

fn check_shape(
    f: &TensorFile,
    name: &str,
    got: &[usize],
    want: &[usize],
    what: &str,
) -> Result<()> {
    if got != want {
        return Err(f.bad_shape(name, got, format!("{want:?} ({what})")));
    }
    Ok(())
}

/// Class ids of tensor `name`, `[T, B]`, each in `0..classes` where counted.
fn class_ids(
    f: &TensorFile,
    name: &str,
    steps: usize,
    batch: usize,
    classes: usize,
    lengths: Option<&[usize]>,
) -> Result<Vec<usize>> {
    let (shape, ids) = f.i64(name)?;
    check_shape(f, name, &shape, &[steps, batch], "[T, B]")?;
    ids.iter()
        .enumerate()
        .map(|(r, &id)| {
            let counted = lengths.is_none_or(|l| r / batch < l[r % batch]);
            if !counted {
                Ok(0)
            } else if id < 0 || id as usize >= classes {
                Err(Error::Value {
                    what: format!(
                        "{}: tensor '{name}' at [{}, {}]",
                        f.path().display(),
                        r / batch,
                        r % batch
                    ),
                    value: id.to_string(),
                    expected: format!("a class id in 0..{classes}"),
                })
            } else {
                Ok(id as usize)
            }
        })
        .collect()
}

fn finite(f: &TensorFile, name: &str, data: &[f64]) -> Result<()> {
    f.check_finite(name, data, "a finite number")
}

impl Case {
    /// Parses a case file of either format, validating every tensor's dtype and shape.
    pub fn parse(f: &TensorFile) -> Result<Case> {
        match expect_meta(
            f,
            "format",
            &["rnn-reference/1", "rnn-stack/1", "rnn-trajectory/1"],
        )? {
            "rnn-stack/1" => Self::parse_stack(f),
            _ => Self::parse_reference(f),
        }
    }

    /// Parses the seed-model part shared by `rnn-reference/1` and `rnn-trajectory/1`.
    pub fn parse_reference(f: &TensorFile) -> Result<Case> {
        expect_meta(f, "cell", &["elman"])?;
        let act = Activation::parse(expect_meta(f, "activation", &["tanh", "relu", "sigmoid"])?)
            .unwrap_or_default();
        let output = match expect_meta(f, "output", &["softmax", "identity"])? {
            "softmax" => OutputKind::Softmax,
            _ => OutputKind::Identity,
        };
        let want_loss = if output == OutputKind::Softmax {
            "cross_entropy"
        } else {
            "squared_error"
        };
        expect_meta(f, "loss", &[want_loss])?;
        let reduction = match expect_meta(f, "reduction", &["sum", "mean"])? {
            "sum" => Reduction::Sum,
            _ => Reduction::Mean,
        };
        let u = dims(f, "U", 2, "[H, I]")?;
        let (h, i) = (u.shape[0], u.shape[1]);
        let v = dims(f, "V", 2, "[O, H]")?;
        let o = v.shape[0];
        check_shape(f, "V", &v.shape, &[o, h], "[O, H]")?;
        let w = f
            .f64_shaped("W", &[h, h])
            .map_err(|e| shape_hint(e, "[H, H]"))?;
        let b = f.f64_shaped("b", &[h]).map_err(|e| shape_hint(e, "[H]"))?;
        let c = f.f64_shaped("c", &[o]).map_err(|e| shape_hint(e, "[O]"))?;
        let x = dims(f, "x", 3, "[T, B, I]")?;
        let (steps, batch) = (x.shape[0], x.shape[1]);
        check_shape(f, "x", &x.shape, &[steps, batch, i], "[T, B, I]")?;
        let h0 = if f.has("h0") {
            f.f64_shaped("h0", &[batch, h])?
        } else {
            vec![0.0; batch * h]
        };
        let mut config = ModelConfig::elman(i, h, o);
        config.cell = CellKind::Elman { activation: act };
        config.output = output;
        config.bias_hh = false;
        let mut model = Model::<f64>::zeros(config)?;
        for (name, data) in [
            ("rnn.weight_ih_l0", &u.data),
            ("rnn.weight_hh_l0", &w),
            ("rnn.bias_ih_l0", &b),
            ("head.weight", &v.data),
            ("head.bias", &c),
        ] {
            if let Some(p) = model.param_mut(name) {
                p.copy_from_slice(data);
            }
        }
        for (name, data) in [
            ("U", &u.data),
            ("W", &w),
            ("b", &b),
            ("V", &v.data),
            ("c", &c),
            ("x", &x.data),
            ("h0", &h0),
        ] {
            finite(f, name, data)?;
        }
        let (classes, values) = match output {
            OutputKind::Softmax => (class_ids(f, "y", steps, batch, o, None)?, Vec::new()),
            OutputKind::Identity => {
                let y = f
                    .f64_shaped("y", &[steps, batch, o])
                    .map_err(|e| shape_hint(e, "[T, B, O]"))?;
                finite(f, "y", &y)?;
                (Vec::new(), y)
            }
        };
        Ok(Case {
            format: Format::Reference,
            config: model.config,
            params: model.params,
            steps,
            batch,
            x: x.data,
            state: State {
                h: h0,
                c: Vec::new(),
            },
            classes,
            values,
            lengths: None,
            reduction,
        })
    }

    fn parse_stack(f: &TensorFile) -> Result<Case> {
        let cell = match expect_meta(f, "cell", &["elman", "lstm", "gru"])? {
            "lstm" => CellKind::Lstm,
            "gru" => CellKind::Gru,
            _ => CellKind::Elman {
                activation: Activation::parse(expect_meta(
                    f,
                    "activation",
                    &["tanh", "relu", "sigmoid"],
                )?)
                .unwrap_or_default(),
            },
        };
        let layers_s = f.meta("num_layers")?;
        let num_layers: usize = layers_s
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| f.bad_meta("num_layers", layers_s, "a whole number >= 1"))?;
        let bidirectional = expect_meta(f, "bidirectional", &["true", "false"])? == "true";
        expect_meta(f, "output", &["softmax"])?;
        expect_meta(f, "loss", &["cross_entropy"])?;
        let g = cell.gates();
        let whh = dims(f, "rnn.weight_hh_l0", 2, "[G*H, H]")?;
        let h = whh.shape[1];
        check_shape(
            f,
            "rnn.weight_hh_l0",
            &whh.shape,
            &[g * h, h],
            &format!("[{g}*H, H] for a {} cell", cell.name()),
        )?;
        let wih = dims(f, "rnn.weight_ih_l0", 2, "[G*H, I]")?;
        let i = wih.shape[1];
        let hw = dims(f, "head.weight", 2, "[O, D*H]")?;
        let o = hw.shape[0];
        let config = ModelConfig {
            cell,
            input_size: i,
            hidden_size: h,
            num_layers,
            bidirectional,
            output_size: o,
            output: OutputKind::Softmax,
            bias_hh: true,
        };
        let mut model = Model::<f64>::zeros(config)?;
        for e in model.layout.clone() {
            let data = f.f64_shaped(&e.name, &e.shape)?;
            finite(f, &e.name, &data)?;
            model.params[e.range()].copy_from_slice(&data);
        }
        let x = dims(f, "x", 3, "[T, B, I]")?;
        let (steps, batch) = (x.shape[0], x.shape[1]);
        check_shape(f, "x", &x.shape, &[steps, batch, i], "[T, B, I]")?;
        finite(f, "x", &x.data)?;
        let lengths = if f.has("lengths") {
            let (shape, l) = f.i64("lengths")?;
            check_shape(f, "lengths", &shape, &[batch], "[B]")?;
            let l = l
                .iter()
                .enumerate()
                .map(|(b, &n)| {
                    if n >= 1 && n as usize <= steps {
                        Ok(n as usize)
                    } else {
                        Err(Error::Value {
                            what: format!("{}: tensor 'lengths' at [{b}]", f.path().display()),
                            value: n.to_string(),
                            expected: format!("a length in 1..={steps}"),
                        })
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Some(l)
        } else {
            None
        };
        let n_state = num_layers * config_dirs(bidirectional) * batch * h;
        let st_shape = [num_layers * config_dirs(bidirectional), batch, h];
        let h0 = if f.has("h0") {
            f.f64_shaped("h0", &st_shape)?
        } else {
            vec![0.0; n_state]
        };
        let c0 = if !cell.has_memory() {
            Vec::new()
        } else if f.has("c0") {
            f.f64_shaped("c0", &st_shape)?
        } else {
            vec![0.0; n_state]
        };
        let classes = class_ids(f, "y", steps, batch, o, lengths.as_deref())?;
        Ok(Case {
            format: Format::Stack,
            config: model.config,
            params: model.params,
            steps,
            batch,
            x: x.data,
            state: State { h: h0, c: c0 },
            classes,
            values: Vec::new(),
            lengths,
            reduction: Reduction::Sum,
        })
    }

    /// The case's model with its weights, in scalar type `T`.
    pub fn model<T: Float>(&self) -> Model<T> {
        let mut m = Model::<T>::zeros(self.config.clone()).expect("validated config");
        for (d, &s) in m.params.iter_mut().zip(&self.params) {
            *d = T::of(s);
        }
        m
    }

    /// Recomputes every output and gradient in scalar type `T`; returns them
    /// as `f64` tensors by output name.
    pub fn evaluate<T: Float>(&self) -> BTreeMap<String, F64Tensor> {
        let model = self.model::<T>();
        let cast = |v: &[f64]| v.iter().map(|&a| T::of(a)).collect::<Vec<T>>();
        let x = cast(&self.x);
        let values = cast(&self.values);
        let state = State {
            h: cast(&self.state.h),
            c: cast(&self.state.c),
        };
        let targets = match self.config.output {
            OutputKind::Softmax => Targets::Classes(&self.classes),
            OutputKind::Identity => Targets::Values(&values),
        };
        let mut grads = vec![T::zero(); model.params.len()];
        let data = Batch {
            x: Input::Dense(&x),
            steps: self.steps,
            batch: self.batch,
            state: Some(&state),
            lengths: self.lengths.as_deref(),
            masks: None,
            split: false,
        };
        let (loss, fwd, d0) =
            model.loss_and_grads_unchecked(data, targets, self.reduction, &mut grads);
        let (t, b, h, o) = (
            self.steps,
            self.batch,
            self.config.hidden_size,
            self.config.output_size,
        );
        let mut out = BTreeMap::new();
        let mut put = |name: &str, shape: Vec<usize>, data: &[T]| {
            out.insert(
                name.to_string(),
                F64Tensor {
                    shape,
                    data: data.iter().map(|v| v.f64()).collect(),
                },
            );
        };
        put("loss", vec![], &[loss]);
        let grad_of = |name: &str| &grads[model.entry(name).expect("layout").range()];
        match self.format {
            Format::Reference => {
                put("s", vec![t, b, h], &fwd.layers[0].h);
                put("o", vec![t, b, o], &fwd.logits);
                let p = match self.config.output {
                    OutputKind::Softmax => softmax(&fwd.logits, o),
                    OutputKind::Identity => fwd.logits.clone(),
                };
                put("p", vec![t, b, o], &p);
                put(
                    "dU",
                    vec![h, self.config.input_size],
                    grad_of("rnn.weight_ih_l0"),
                );
                put("dW", vec![h, h], grad_of("rnn.weight_hh_l0"));
                put("db", vec![h], grad_of("rnn.bias_ih_l0"));
                put("dV", vec![o, h], grad_of("head.weight"));
                put("dc", vec![o], grad_of("head.bias"));
                put("dh0", vec![b, h], &d0.h);
            }
            Format::Stack => {
                let ld = self.config.num_layers * self.config.directions();
                let dh = self.config.directions() * h;
                put(
                    "out",
                    vec![t, b, dh],
                    model.output_of(&fwd, self.config.num_layers - 1),
                );
                put("logits", vec![t, b, o], &fwd.logits);
                let fin = model.final_state(&fwd);
                put("h_n", vec![ld, b, h], &fin.h);
                put("grad.h0", vec![ld, b, h], &d0.h);
                if self.config.cell.has_memory() {
                    put("c_n", vec![ld, b, h], &fin.c);
                    put("grad.c0", vec![ld, b, h], &d0.c);
                }
                for e in &model.layout {
                    put(
                        &format!("grad.{}", e.name),
                        e.shape.clone(),
                        grad_of(&e.name),
                    );
                }
            }
        }
        out
    }
}

fn config_dirs(bidirectional: bool) -> usize {
    if bidirectional {
        2
    } else {
        1
    }
}

fn shape_hint(e: Error, what: &str) -> Error {
    match e {
        Error::Shape {
            path,
            tensor,
            got,
            expected,
        } => Error::Shape {
            path,
            tensor,
            got,
            expected: format!("{expected} ({what})"),
        },
        e => e,
    }
}

/// Reads a case file, recomputes it in `f64` and returns the tensors to write.
pub fn run_file(path: &std::path::Path) -> Result<TensorWriter> {
    let f = TensorFile::read(path)?;
    if f.meta("format")? == "rnn-trajectory/1" {
        return Err(f.bad_meta(
            "format",
            "rnn-trajectory/1",
            "use `rnn trajectory` for trajectory cases",
        ));
    }
    let case = Case::parse(&f)?;
    let mut w = TensorWriter::new();
    for (name, t) in case.evaluate::<f64>() {
        w.add::<f64>(name, &t.shape, &t.data);
    }
    w.meta("format", f.meta("format")?);
    w.meta(
        "generated_by",
        format!("rnn {} (f64)", env!("CARGO_PKG_VERSION")),
    );
    Ok(w)
}

/// `max |got - expected| / max |expected|` over a tensor (the reference
/// README's relative error); `max |got - expected|` when expected is all zero.
/// A NaN on either side makes it NaN and tensors of other lengths make it
/// infinite, so that `error < tolerance` fails for them (a NaN output was
/// skipped by the maximum and scored 0, and the pairs of a shorter tensor
/// were scored alone).
///
/// ```
/// use rnn::testing::reference::relative_error;
/// assert_eq!(relative_error(&[1.0, 2.5], &[1.0, 2.0]), 0.25);
/// assert!(relative_error(&[f64::NAN], &[1.0]).is_nan());
/// assert_eq!(relative_error(&[1.0, 2.0], &[1.0]), f64::INFINITY);
/// ```
pub fn relative_error(got: &[f64], expected: &[f64]) -> f64 {
    let (diff, scale) = diff_and_scale(got, expected);
    if scale > 0.0 {
        diff / scale
    } else {
        diff
    }
}

/// `(max_i |got_i - expected_i|, max_i |expected_i|)`, NaN when a value on
/// either side is NaN (`f64::max` would skip it), the difference infinite
/// when the lengths differ.
pub fn diff_and_scale(got: &[f64], expected: &[f64]) -> (f64, f64) {
    // the larger, or NaN when either is
    let max_nan = |m: f64, v: f64| {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    };
    let diff = if got.len() == expected.len() {
        got.iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, max_nan)
    } else {
        f64::INFINITY
    };
    let scale = expected.iter().map(|v| v.abs()).fold(0.0, max_nan);
    (diff, scale)
}
