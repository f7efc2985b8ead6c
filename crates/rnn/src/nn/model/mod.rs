//! A recurrent network: stacked (optionally bidirectional) recurrent layers and
//! a linear readout, with all parameters in one flat buffer.
//!
//! Parameter names are PyTorch's `state_dict` names for `nn.RNN`/`nn.LSTM`/
//! `nn.GRU` followed by `nn.Linear` named `head`:
//!
//! | name | shape | seed's symbol |
//! | --- | --- | --- |
//! | `rnn.weight_ih_l{k}[_reverse]` | `[G*H, I]` (layer 0) or `[G*H, D*H]` | U |
//! | `rnn.weight_hh_l{k}[_reverse]` | `[G*H, H]` | W |
//! | `rnn.bias_ih_l{k}[_reverse]` | `[G*H]` | b (with one bias) |
//! | `rnn.bias_hh_l{k}[_reverse]` | `[G*H]` | part of b (PyTorch keeps two) |
//! | `head.weight` | `[O, D*H]` | V |
//! | `head.bias` | `[O]` | c |

use crate::kernels::{col_sum_acc, gemm};
use crate::nn::cell::{Activation, CellKind};
use crate::nn::layer::{Input, LayerCache, LayerGrads, LayerParams, Recurrent};
use crate::nn::loss::{loss_and_grad, OutputKind, Reduction, Targets};
use crate::nn::model::infer::Inference;
use crate::{Error, Float, Result};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub mod infer;

/// The architecture of a [`Model`]. Defaults follow PyTorch where it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The recurrent cell (default Elman with tanh, as `nn.RNN`).
    pub cell: CellKind,
    /// `I`: input vector size, or number of classes for id inputs.
    pub input_size: usize,
    /// `H`: hidden units per direction.
    pub hidden_size: usize,
    /// Stacked layers (`num_layers`, default 1).
    pub num_layers: usize,
    /// Two directions per layer, outputs concatenated forward then backward (default false).
    pub bidirectional: bool,
    /// `O`: outputs of the readout.
    pub output_size: usize,
    /// The output function and loss (softmax + cross-entropy, or identity + squared error).
    pub output: OutputKind,
    /// PyTorch's second bias `bias_hh` (default true). `false` gives the seed's
    /// model with the single bias `b` (= `bias_ih`).
    pub bias_hh: bool,
}

impl ModelConfig {
    /// An Elman network with PyTorch's defaults for everything not given.
    pub fn elman(input_size: usize, hidden_size: usize, output_size: usize) -> Self {
        ModelConfig {
            cell: CellKind::Elman {
                activation: Activation::Tanh,
            },
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
            output_size,
            output: OutputKind::Softmax,
            bias_hh: true,
        }
    }

    /// `D`: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Checks that every size is positive.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("input size", self.input_size),
            ("hidden size", self.hidden_size),
            ("number of layers", self.num_layers),
            ("output size", self.output_size),
        ] {
            if v == 0 {
                return Err(Error::Value {
                    what: what.into(),
                    value: "0".into(),
                    expected: "at least 1".into(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn layer(&self, k: usize, d: usize) -> Recurrent {
        Recurrent {
            cell: self.cell,
            input_size: if k == 0 {
                self.input_size
            } else {
                self.directions() * self.hidden_size
            },
            hidden: self.hidden_size,
            reverse: d == 1,
        }
    }
}

/// One named parameter tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamEntry {
    /// PyTorch `state_dict` name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Offset of the first element in the flat buffer.
    pub offset: usize,
}

impl ParamEntry {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The element range in the flat buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Lays out the parameters of `config`: per layer and direction
/// `weight_ih, weight_hh, bias_ih[, bias_hh]`, then `head.weight, head.bias`.
pub fn param_layout(config: &ModelConfig) -> Vec<ParamEntry> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut push = |name: String, shape: Vec<usize>| {
        let e = ParamEntry {
            name,
            shape,
            offset,
        };
        offset += e.len();
        out.push(e);
    };
    let gh = config.cell.gates() * config.hidden_size;
    for k in 0..config.num_layers {
        for d in 0..config.directions() {
            let sfx = if d == 1 { "_reverse" } else { "" };
            let l = config.layer(k, d);
            push(format!("rnn.weight_ih_l{k}{sfx}"), vec![gh, l.input_size]);
            push(
                format!("rnn.weight_hh_l{k}{sfx}"),
                vec![gh, config.hidden_size],
            );
            push(format!("rnn.bias_ih_l{k}{sfx}"), vec![gh]);
            if config.bias_hh {
                push(format!("rnn.bias_hh_l{k}{sfx}"), vec![gh]);
            }
        }
    }
    let dh = config.directions() * config.hidden_size;
    push("head.weight".into(), vec![config.output_size, dh]);
    push("head.bias".into(), vec![config.output_size]);
    out
}

/// Initial or final recurrent state of every layer and direction.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct State<T> {
    /// `h`: `[L*D, B, H]`, PyTorch order (layer-major, direction-minor).
    pub h: Vec<T>,
    /// `c` (LSTM only, else empty): `[L*D, B, H]`.
    pub c: Vec<T>,
}

/// One batch of sequences as the network reads it: the input of
/// [`Model::forward`], [`Model::loss_and_grads`], [`Model::infer`] and their
/// variants. Build one with [`Batch::new`] (zero initial state, full
/// lengths), then [`Batch::with_state`] and [`Batch::with_lengths`], or set
/// the fields directly.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a, T> {
    /// Inputs: `[T, B, I]` dense or `[T, B]` ids.
    pub x: Input<'a, T>,
    /// Time steps `T`.
    pub steps: usize,
    /// Sequences `B`.
    pub batch: usize,
    /// Initial state `h0` (and `c0`), each `[L*D, B, H]` (zeros when `None`).
    pub state: Option<&'a State<T>>,
    /// Length of each sequence `[B]`, each in `1..=T` (all `T` when `None`).
    pub lengths: Option<&'a [usize]>,
}

impl<'a, T> Batch<'a, T> {
    /// `batch` sequences of `steps` steps each, from the zero state.
    pub fn new(x: Input<'a, T>, steps: usize, batch: usize) -> Self {
        Batch {
            x,
            steps,
            batch,
            state: None,
            lengths: None,
        }
    }

    /// The same batch starting from `state` (`[L*D, B, H]`).
    pub fn with_state(self, state: &'a State<T>) -> Self {
        Batch {
            state: Some(state),
            ..self
        }
    }

    /// The same batch with sequence `b` ending after `lengths[b]` steps.
    pub fn with_lengths(self, lengths: &'a [usize]) -> Self {
        Batch {
            lengths: Some(lengths),
            ..self
        }
    }
}

/// What [`Model::forward`] computes and keeps for [`Model::backward`].
#[derive(Clone, Debug)]
pub struct Forward<T> {
    /// `T`.
    pub steps: usize,
    /// `B`.
    pub batch: usize,
    /// Per layer and direction (index `k*D + d`), the layer's cache.
    pub layers: Vec<LayerCache<T>>,
    /// Per layer, the concatenated outputs `[T, B, D*H]` (empty when D = 1:
    /// the layer cache's `h` is the output).
    concat: Vec<Vec<T>>,
    /// Dropout: per layer, the mask `[T, B, D*H]` on its output (0 or
    /// `1/(1-p)`) and the masked output the next layer or the readout reads
    /// (both empty without dropout).
    masks: Vec<Vec<T>>,
    dropped: Vec<Vec<T>>,
    /// Readout `o_t = V s_t + c`: `[T, B, O]`, zero past each length.
    pub logits: Vec<T>,
}

/// A recurrent network with its parameters.
#[derive(Clone, Debug)]
pub struct Model<T> {
    /// The architecture.
    pub config: ModelConfig,
    /// Where each named tensor lives in `params`.
    pub layout: Vec<ParamEntry>,
    /// All parameters, flat.
    pub params: Vec<T>,
}

impl<T: Float> Model<T> {
    /// A model initialised like PyTorch: every recurrent parameter from
    /// U(-1/sqrt(H), 1/sqrt(H)), the readout from U(-1/sqrt(D*H), 1/sqrt(D*H))
    /// (`nn.Linear`'s default), drawn from a ChaCha8 RNG seeded with `seed`.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let layout = param_layout(&config);
        let n = layout.last().map_or(0, |e| e.offset + e.len());
        let mut params = vec![T::zero(); n];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let k_rnn = 1.0 / (config.hidden_size as f64).sqrt();
        let k_head = 1.0 / ((config.directions() * config.hidden_size) as f64).sqrt();
        for e in &layout {
            let k = if e.name.starts_with("head.") {
                k_head
            } else {
                k_rnn
            };
            for v in &mut params[e.range()] {
                *v = T::of(rng.random_range(-k..k));
            }
        }
        Ok(Model {
            config,
            layout,
            params,
        })
    }

    /// A model with all-zero parameters (to be filled by the caller).
    pub fn zeros(config: ModelConfig) -> Result<Self> {
        config.validate()?;
        let layout = param_layout(&config);
        let n = layout.last().map_or(0, |e| e.offset + e.len());
        Ok(Model {
            config,
            layout,
            params: vec![T::zero(); n],
        })
    }

    /// The entry of the parameter named `name`.
    pub fn entry(&self, name: &str) -> Option<&ParamEntry> {
        self.layout.iter().find(|e| e.name == name)
    }

    /// The values of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&[T]> {
        self.entry(name).map(|e| &self.params[e.range()])
    }

    /// The values of parameter `name`, mutable.
    pub fn param_mut(&mut self, name: &str) -> Option<&mut [T]> {
        let r = self.entry(name)?.range();
        Some(&mut self.params[r])
    }

    fn per_layer(&self) -> usize {
        if self.config.bias_hh {
            4
        } else {
            3
        }
    }

    pub(crate) fn layer_params<'a>(&self, flat: &'a [T], k: usize, d: usize) -> LayerParams<'a, T> {
        let i = (k * self.config.directions() + d) * self.per_layer();
        let s = |j: usize| &flat[self.layout[i + j].range()];
        LayerParams {
            w_ih: s(0),
            w_hh: s(1),
            b_ih: s(2),
            b_hh: self.config.bias_hh.then(|| s(3)),
        }
    }

    fn layer_grads<'a>(&self, flat: &'a mut [T], k: usize, d: usize) -> LayerGrads<'a, T> {
        let i = (k * self.config.directions() + d) * self.per_layer();
        let start = self.layout[i].offset;
        let end = self.layout[i + self.per_layer() - 1].range().end;
        let region = &mut flat[start..end];
        let (w_ih, rest) = region.split_at_mut(self.layout[i].len());
        let (w_hh, rest) = rest.split_at_mut(self.layout[i + 1].len());
        let (b_ih, rest) = rest.split_at_mut(self.layout[i + 2].len());
        LayerGrads {
            w_ih,
            w_hh,
            b_ih,
            b_hh: self.config.bias_hh.then_some(rest),
        }
    }

    pub(crate) fn head(&self) -> (&[T], &[T]) {
        let n = self.layout.len();
        (
            &self.params[self.layout[n - 2].range()],
            &self.params[self.layout[n - 1].range()],
        )
    }

    /// Sets every LSTM layer's forget-gate bias to `value` (`bias_ih` rows
    /// `H..2H` = value, `bias_hh` rows `H..2H` = 0, so `b_if + b_hf = value`):
    /// with a positive value the cell starts out remembering, the usual
    /// remedy for slow early LSTM training (Jozefowicz et al., 2015). Other
    /// cells have no forget gate; an error names the cell.
    ///
    /// ```
    /// let config = rnn::ModelConfig { cell: rnn::nn::cell::CellKind::Lstm, ..rnn::ModelConfig::elman(3, 2, 3) };
    /// let mut m = rnn::Model::<f64>::new(config, 0).unwrap();
    /// m.set_forget_bias(1.0).unwrap();
    /// let b = m.param("rnn.bias_ih_l0").unwrap(); // [4H]: gates i, f, g, o
    /// assert_eq!(&b[2..4], &[1.0, 1.0]);
    /// ```
    pub fn set_forget_bias(&mut self, value: T) -> Result<()> {
        if self.config.cell != CellKind::Lstm {
            return Err(Error::Value {
                what: "forget-gate bias".into(),
                value: self.config.cell.name().into(),
                expected: "an lstm cell".into(),
            });
        }
        let h = self.config.hidden_size;
        let names: Vec<(String, T)> = self
            .layout
            .iter()
            .filter_map(|e| {
                if e.name.starts_with("rnn.bias_ih") {
                    Some((e.name.clone(), value))
                } else if e.name.starts_with("rnn.bias_hh") {
                    Some((e.name.clone(), T::zero()))
                } else {
                    None
                }
            })
            .collect();
        for (name, v) in names {
            if let Some(b) = self.param_mut(&name) {
                b[h..2 * h].fill(v); // gate order i, f, g, o: f is rows H..2H
            }
        }
        Ok(())
    }

    /// The zero state for a batch of `batch`.
    pub fn zero_state(&self, batch: usize) -> State<T> {
        let n = self.config.num_layers * self.config.directions() * batch * self.config.hidden_size;
        State {
            h: vec![T::zero(); n],
            c: if self.config.cell.has_memory() {
                vec![T::zero(); n]
            } else {
                Vec::new()
            },
        }
    }

    /// The output of layer `k`: `[T, B, D*H]`.
    pub fn layer_output<'a>(&self, fwd: &'a Forward<T>, k: usize) -> &'a [T] {
        if self.config.bidirectional {
            &fwd.concat[k]
        } else {
            &fwd.layers[k].h
        }
    }

    /// What layer `k + 1` (or, for the top layer, the readout) reads from
    /// layer `k`: its output, masked when training with dropout. `[T, B, D*H]`.
    fn layer_feed<'a>(&self, fwd: &'a Forward<T>, k: usize) -> &'a [T] {
        if fwd.dropped.is_empty() {
            self.layer_output(fwd, k)
        } else {
            &fwd.dropped[k]
        }
    }

    /// The final state of every layer and direction (at each sequence's own end).
    pub fn final_state(&self, fwd: &Forward<T>) -> State<T> {
        State {
            h: fwd
                .layers
                .iter()
                .flat_map(|c| c.h_n.iter().copied())
                .collect(),
            c: fwd
                .layers
                .iter()
                .flat_map(|c| c.c_n.iter().copied())
                .collect(),
        }
    }

    /// Runs the network on `data` (inputs, initial state and lengths: see
    /// [`Batch`]): stacked layers, then the readout `o_t = V s_t + c`.
    pub fn forward(&self, data: Batch<T>) -> Forward<T> {
        self.forward_masked(data, None)
    }

    /// [`Model::forward`] with inverted dropout on every layer's output
    /// (between layers and before the readout): `masks[k]` is `[T, B, D*H]`,
    /// each entry 0 or `1/(1-p)` (see [`dropout_masks`]). [`Model::backward`]
    /// applies the same masks to the gradients.
    pub fn forward_masked(&self, data: Batch<T>, masks: Option<&[Vec<T>]>) -> Forward<T> {
        let Batch {
            x,
            steps,
            batch,
            state,
            lengths,
        } = data;
        let cfg = &self.config;
        let (h, nd) = (cfg.hidden_size, cfg.directions());
        let bh = batch * h;
        let mut fwd = Forward {
            steps,
            batch,
            layers: Vec::with_capacity(cfg.num_layers * nd),
            concat: Vec::new(),
            masks: Vec::new(),
            dropped: Vec::new(),
            logits: Vec::new(),
        };
        for k in 0..cfg.num_layers {
            for d in 0..nd {
                let idx = k * nd + d;
                let input = if k == 0 {
                    x
                } else {
                    Input::Dense(self.layer_feed(&fwd, k - 1))
                };
                let h0 = state.map(|s| &s.h[idx * bh..(idx + 1) * bh]);
                let c0 = state
                    .filter(|s| !s.c.is_empty())
                    .map(|s| &s.c[idx * bh..(idx + 1) * bh]);
                let lp = self.layer_params(&self.params, k, d);
                let cache = cfg
                    .layer(k, d)
                    .forward(&lp, input, steps, batch, h0, c0, lengths);
                fwd.layers.push(cache);
            }
            if nd == 2 {
                // out_t = [h_t (forward) ; h_t (backward)]   [T, B, 2H]
                let (f, b) = (&fwd.layers[k * 2].h, &fwd.layers[k * 2 + 1].h);
                let mut cat = vec![T::zero(); steps * batch * 2 * h];
                for (r, row) in cat.chunks_exact_mut(2 * h).enumerate() {
                    row[..h].copy_from_slice(&f[r * h..(r + 1) * h]);
                    row[h..].copy_from_slice(&b[r * h..(r + 1) * h]);
                }
                fwd.concat.push(cat);
            }
            if let Some(m) = masks {
                // dropout: out~_t = m_t * out_t   [T, B, D*H]
                let out = self.layer_output(&fwd, k);
                let kept = out.iter().zip(&m[k]).map(|(&v, &mk)| v * mk).collect();
                fwd.dropped.push(kept);
            }
        }
        if let Some(m) = masks {
            fwd.masks = m.to_vec();
        }
        // o_t = V s_t + c   [T*B, D*H] x [D*H, O]
        let (v, c) = self.head();
        let (o, dh) = (cfg.output_size, nd * h);
        let rows = steps * batch;
        let mut logits = vec![T::zero(); rows * o];
        for row in logits.chunks_exact_mut(o) {
            row.copy_from_slice(c);
        }
        let top = self.layer_feed(&fwd, cfg.num_layers - 1);
        gemm(rows, o, dh, top, false, v, true, &mut logits, true);
        if let Some(l) = lengths {
            for (r, row) in logits.chunks_exact_mut(o).enumerate() {
                if r / batch >= l[r % batch] {
                    row.fill(T::zero());
                }
            }
        }
        fwd.logits = logits;
        fwd
    }

    /// BPTT through the whole network for the upstream gradient `dlogits =
    /// dE/do` (`[T, B, O]`, zero at padding) and, optionally, the gradient of
    /// the final state. Adds every parameter gradient into `grads` (same
    /// layout as `params`). Returns `dE/d(initial state)` and, when `want_dx`
    /// and the input is dense, `dE/dx` `[T, B, I]`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        fwd: &Forward<T>,
        x: Input<T>,
        lengths: Option<&[usize]>,
        dlogits: &[T],
        dstate_n: Option<&State<T>>,
        grads: &mut [T],
        want_dx: bool,
    ) -> (State<T>, Option<Vec<T>>) {
        let cfg = &self.config;
        let (steps, batch) = (fwd.steps, fwd.batch);
        let (h, nd, o) = (cfg.hidden_size, cfg.directions(), cfg.output_size);
        let (rows, bh, dh) = (steps * batch, batch * h, nd * h);
        let nl = self.layout.len();
        let (vr, cr) = (self.layout[nl - 2].range(), self.layout[nl - 1].range());
        let top = self.layer_feed(fwd, cfg.num_layers - 1);
        // dE/dV = sum_t (dE/do_t) s_t^T   [O, T*B] x [T*B, D*H]
        gemm(
            o,
            dh,
            rows,
            dlogits,
            true,
            top,
            false,
            &mut grads[vr.clone()],
            true,
        );
        // dE/dc = sum_t dE/do_t
        col_sum_acc(rows, o, dlogits, &mut grads[cr]);
        // dE/ds_t = V^T dE/do_t   [T*B, O] x [O, D*H]
        let mut dout = vec![T::zero(); rows * dh];
        gemm(
            rows,
            dh,
            o,
            dlogits,
            false,
            &self.params[vr],
            false,
            &mut dout,
            false,
        );
        if !fwd.masks.is_empty() {
            // dropout before the readout: dE/dout_t = m_t * dE/dout~_t
            mask_in_place(&mut dout, &fwd.masks[cfg.num_layers - 1]);
        }

        let mut d0 = self.zero_state(batch);
        let mut dx_out = None;
        let mut dir_grad = vec![T::zero(); if nd == 2 { rows * h } else { 0 }];
        for k in (0..cfg.num_layers).rev() {
            let input = if k == 0 {
                x
            } else {
                Input::Dense(self.layer_feed(fwd, k - 1))
            };
            let need_dx = k > 0 || want_dx;
            let in_size = cfg.layer(k, 0).input_size;
            let mut dx = vec![T::zero(); if need_dx { rows * in_size } else { 0 }];
            for d in 0..nd {
                let idx = k * nd + d;
                let upstream: &[T] = if nd == 1 {
                    &dout
                } else {
                    // this direction's half of dE/dout_t
                    for (r, row) in dir_grad.chunks_exact_mut(h).enumerate() {
                        row.copy_from_slice(&dout[r * dh + d * h..r * dh + (d + 1) * h]);
                    }
                    &dir_grad
                };
                let dhn = dstate_n.map(|s| &s.h[idx * bh..(idx + 1) * bh]);
                let dcn = dstate_n
                    .filter(|s| !s.c.is_empty())
                    .map(|s| &s.c[idx * bh..(idx + 1) * bh]);
                let lp = self.layer_params(&self.params, k, d);
                let mut lg = self.layer_grads(grads, k, d);
                let (dh0, dc0) = cfg.layer(k, d).backward(
                    &lp,
                    &fwd.layers[idx],
                    input,
                    steps,
                    batch,
                    lengths,
                    upstream,
                    dhn,
                    dcn,
                    &mut lg,
                    need_dx.then_some(dx.as_mut_slice()),
                );
                d0.h[idx * bh..(idx + 1) * bh].copy_from_slice(&dh0);
                if !dc0.is_empty() {
                    d0.c[idx * bh..(idx + 1) * bh].copy_from_slice(&dc0);
                }
            }
            if k > 0 {
                if !fwd.masks.is_empty() {
                    // dropout between layers: dE/dout_{k-1} = m * dE/dout~_{k-1}
                    mask_in_place(&mut dx, &fwd.masks[k - 1]);
                }
                dout = dx;
            } else if want_dx && matches!(x, Input::Dense(_)) {
                dx_out = Some(dx);
            }
        }
        (d0, dx_out)
    }

    /// Forward, loss and backward in one call on `data` (see [`Batch`]):
    /// returns `E`, the forward pass and `dE/d(initial state)`, and adds
    /// `dE/dθ` into `grads`. Targets are class ids `[T, B]` (softmax) or
    /// values `[T, B, O]` (identity); padding positions are not counted.
    pub fn loss_and_grads(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> (T, Forward<T>, State<T>) {
        self.loss_and_grads_masked(data, targets, None, reduction, grads)
    }

    /// [`Model::loss_and_grads`] with dropout `masks` (see
    /// [`Model::forward_masked`]; `None`: no dropout).
    pub fn loss_and_grads_masked(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        masks: Option<&[Vec<T>]>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> (T, Forward<T>, State<T>) {
        let Batch {
            x,
            steps,
            batch,
            lengths,
            ..
        } = data;
        let fwd = self.forward_masked(data, masks);
        let mask: Option<Vec<bool>> = lengths.map(|l| {
            (0..steps * batch)
                .map(|r| r / batch < l[r % batch])
                .collect()
        });
        let mut dlogits = vec![T::zero(); fwd.logits.len()];
        let loss = loss_and_grad(
            self.config.output,
            &fwd.logits,
            self.config.output_size,
            targets,
            mask.as_deref(),
            reduction,
            &mut dlogits,
        );
        let (d0, _) = self.backward(&fwd, x, lengths, &dlogits, None, grads, false);
        (loss, fwd, d0)
    }

    /// [`Model::loss_and_grads`] with the batch split into contiguous parts,
    /// one per thread ([`crate::kernels::threads`], at most one per sequence).
    ///
    /// The sequences of a batch are independent until the gradients are
    /// summed, so each thread runs forward, loss and BPTT on its own part
    /// (with its rows of the initial state `data.state`) with sequential
    /// products and no synchronisation per step; the parts' gradients are
    /// added at the end (the same sum, in another order). With one thread this
    /// is `loss_and_grads`. `masks`: dropout, as in [`Model::forward_masked`].
    /// Returns `E` and the final state `[L*D, B, H]`, and adds `dE/dθ` into
    /// `grads`.
    pub fn loss_and_grads_parallel(
        &self,
        data: Batch<T>,
        targets: Targets<T>,
        masks: Option<&[Vec<T>]>,
        reduction: Reduction,
        grads: &mut [T],
    ) -> (T, State<T>) {
        let Batch {
            x,
            steps,
            batch,
            state,
            lengths,
        } = data;
        let parts = batch_parts(batch);
        if parts.len() <= 1 {
            let (e, fwd, _) = self.loss_and_grads_masked(data, targets, masks, reduction, grads);
            return (e, self.final_state(&fwd));
        }
        let width = self.config.directions() * self.config.hidden_size;
        let counted = lengths.map_or(steps * batch, |l| l.iter().map(|&n| n.min(steps)).sum());
        // Each part sums its losses; the mean's 1/N is applied once at the end.
        let scale = match reduction {
            Reduction::Sum => T::one(),
            Reduction::Mean => T::one() / T::of(counted.max(1) as f64),
        };
        let o = self.config.output_size;
        let results: Vec<(T, Vec<T>, State<T>)> = parts
            .par_iter()
            .map(|&(b0, b1)| {
                crate::kernels::sequential(|| {
                    let xp = x.batch_part(steps, batch, b0, b1);
                    let tp = match targets {
                        Targets::Classes(y) => {
                            PartTargets::Classes(gather_rows(y, 1, steps, batch, b0, b1))
                        }
                        Targets::Values(y) => {
                            PartTargets::Values(gather_rows(y, o, steps, batch, b0, b1))
                        }
                    };
                    let sp = state.map(|s| s.batch_part(batch, self.config.hidden_size, b0, b1));
                    let mp: Option<Vec<Vec<T>>> = masks.map(|m| {
                        m.iter()
                            .map(|mk| gather_rows(mk, width, steps, batch, b0, b1))
                            .collect()
                    });
                    let mut g = vec![T::zero(); grads.len()];
                    let part = Batch {
                        x: xp.as_input(),
                        steps,
                        batch: b1 - b0,
                        state: sp.as_ref(),
                        lengths: lengths.map(|l| &l[b0..b1]),
                    };
                    let (e, fwd, _) = self.loss_and_grads_masked(
                        part,
                        tp.as_targets(),
                        mp.as_deref(),
                        Reduction::Sum,
                        &mut g,
                    );
                    (e, g, self.final_state(&fwd))
                })
            })
            .collect();
        let mut loss = T::zero();
        for (e, g, _) in &results {
            loss += *e;
            for (acc, &v) in grads.iter_mut().zip(g) {
                *acc += scale * v;
            }
        }
        let finals: Vec<&State<T>> = results.iter().map(|r| &r.2).collect();
        (
            loss * scale,
            State::join(&finals, &parts, batch, self.config.hidden_size),
        )
    }

    /// The readout `o_t` (`[T, B, O]`, zero past each length) of a forward
    /// pass on `data` (see [`Batch`]), with the batch split across threads
    /// like [`Model::loss_and_grads_parallel`]: inference only, nothing kept
    /// for BPTT.
    pub fn logits_parallel(&self, data: Batch<T>) -> Vec<T> {
        let mut inf = Inference::default();
        self.infer_parallel(data, &mut inf);
        inf.logits
    }
}

impl<T: Copy + Default> State<T> {
    /// Sequences `b0..b1` of this `[L*D, B, H]` state, as `[L*D, b1 - b0, H]`.
    pub(crate) fn batch_part(&self, batch: usize, hidden: usize, b0: usize, b1: usize) -> State<T> {
        let part = |v: &[T]| {
            let blocks = v.len() / (batch * hidden).max(1); // L*D
            gather_rows(v, hidden, blocks, batch, b0, b1)
        };
        State {
            h: part(&self.h),
            c: part(&self.c),
        }
    }

    /// The inverse of [`State::batch_part`]: the parts' rows put back in
    /// their places of one `[L*D, B, H]` state.
    pub(crate) fn join(
        parts: &[&State<T>],
        ranges: &[(usize, usize)],
        batch: usize,
        hidden: usize,
    ) -> State<T> {
        let join = |get: &dyn Fn(&State<T>) -> &[T]| {
            let total: usize = parts.iter().map(|p| get(p).len()).sum();
            let mut out = vec![T::default(); total];
            let blocks = total / (batch * hidden).max(1); // L*D
            for (p, &(b0, b1)) in parts.iter().zip(ranges) {
                let (v, w) = (get(p), (b1 - b0) * hidden);
                for k in 0..blocks {
                    out[(k * batch + b0) * hidden..(k * batch + b1) * hidden]
                        .copy_from_slice(&v[k * w..(k + 1) * w]);
                }
            }
            out
        };
        State {
            h: join(&|s| &s.h),
            c: join(&|s| &s.c),
        }
    }
}

/// `v *= m` elementwise (a dropout mask on an activation or its gradient).
fn mask_in_place<T: Float>(v: &mut [T], m: &[T]) {
    for (a, &mk) in v.iter_mut().zip(m) {
        *a *= mk;
    }
}

/// Inverted-dropout masks for [`Model::forward_masked`]: one `[T, B, D*H]`
/// mask per layer of `config`, each entry 0 with probability `p` and
/// `1/(1-p)` otherwise, so the expected masked output equals the output and
/// evaluation needs no rescaling. `p` must be in `[0, 1)`.
///
/// ```
/// use rand::SeedableRng;
/// let config = rnn::ModelConfig { num_layers: 2, ..rnn::ModelConfig::elman(3, 4, 3) };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let masks: Vec<Vec<f32>> = rnn::nn::model::dropout_masks(&config, 0.5, 5, 2, &mut rng);
/// assert_eq!(masks.len(), 2);
/// assert_eq!(masks[0].len(), 5 * 2 * 4); // [T, B, D*H]
/// assert!(masks[1].iter().all(|&m| m == 0.0 || m == 2.0));
/// ```
pub fn dropout_masks<T: Float, R: Rng>(
    config: &ModelConfig,
    p: f64,
    steps: usize,
    batch: usize,
    rng: &mut R,
) -> Vec<Vec<T>> {
    let n = steps * batch * config.directions() * config.hidden_size;
    let keep = T::of(1.0 / (1.0 - p));
    (0..config.num_layers)
        .map(|_| {
            (0..n)
                .map(|_| {
                    if rng.random::<f64>() < p {
                        T::zero()
                    } else {
                        keep
                    }
                })
                .collect()
        })
        .collect()
}

/// Contiguous parts `[b0, b1)` of a batch, one per thread, near-equal in size.
pub(crate) fn batch_parts(batch: usize) -> Vec<(usize, usize)> {
    let n = crate::kernels::threads().min(batch).max(1);
    (0..n)
        .map(|i| (i * batch / n, (i + 1) * batch / n))
        .collect()
}

/// Sequences `b0..b1` of a `[T, B, width]` buffer, as `[T, b1 - b0, width]`.
fn gather_rows<V: Copy>(
    data: &[V],
    width: usize,
    steps: usize,
    batch: usize,
    b0: usize,
    b1: usize,
) -> Vec<V> {
    (0..steps)
        .flat_map(|t| &data[(t * batch + b0) * width..(t * batch + b1) * width])
        .copied()
        .collect()
}

/// An owned part of the input of a batch.
pub(crate) enum PartInput<T> {
    Dense(Vec<T>),
    Ids(Vec<usize>),
}

impl<T> PartInput<T> {
    pub(crate) fn as_input(&self) -> Input<'_, T> {
        match self {
            PartInput::Dense(v) => Input::Dense(v),
            PartInput::Ids(v) => Input::Ids(v),
        }
    }
}

/// An owned part of the targets of a batch.
enum PartTargets<T> {
    Classes(Vec<usize>),
    Values(Vec<T>),
}

impl<T> PartTargets<T> {
    fn as_targets(&self) -> Targets<'_, T> {
        match self {
            PartTargets::Classes(v) => Targets::Classes(v),
            PartTargets::Values(v) => Targets::Values(v),
        }
    }
}

impl<T: Copy> Input<'_, T> {
    /// Sequences `b0..b1` of this `[T, B, ...]` input.
    pub(crate) fn batch_part(
        &self,
        steps: usize,
        batch: usize,
        b0: usize,
        b1: usize,
    ) -> PartInput<T> {
        match *self {
            Input::Ids(ids) => PartInput::Ids(gather_rows(ids, 1, steps, batch, b0, b1)),
            Input::Dense(x) => {
                let width = x.len() / (steps * batch).max(1);
                PartInput::Dense(gather_rows(x, width, steps, batch, b0, b1))
            }
        }
    }
}
