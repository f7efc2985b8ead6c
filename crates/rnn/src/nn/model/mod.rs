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

use crate::nn::cell::CellKind;
use crate::nn::layer::{Input, LayerGrads, LayerParams};
use crate::{Error, Float, Result};
use rand::{Rng, SeedableRng};

mod backward;
mod check;
mod config;
mod dropout;
mod forward;
pub mod infer;
mod parallel;
mod params;
pub mod prepared;

pub(crate) use check::finite;
pub use config::ModelConfig;
pub(crate) use dropout::fill_mask;
pub use dropout::{dropout_masks, locked_dropout_masks};
pub use forward::Forward;
pub use params::{param_layout, ParamEntry};

/// Initial or final recurrent state of every layer and direction.
///
/// ```
/// use rnn::{Batch, Input, Model, ModelConfig, State};
/// let cfg = ModelConfig { cell: rnn::CellKind::Lstm, num_layers: 2, ..ModelConfig::elman(5, 3, 5) };
/// let model = Model::<f64>::new(cfg, 0).unwrap();
/// let s: State<f64> = model.zero_state(4); // B = 4
/// assert_eq!(s.h.len(), 2 * 4 * 3); // [L*D, B, H]
/// assert_eq!(s.c.len(), 2 * 4 * 3); // the LSTM's memory, same shape
/// let fwd = model.forward(Batch::new(Input::Ids(&[0, 1, 2, 3]), 1, 4).with_state(&s)).unwrap();
/// assert_eq!(model.final_state(&fwd).h.len(), s.h.len());
/// ```
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
///
/// ```
/// use rnn::{Batch, Input, Model, ModelConfig};
/// let model = Model::<f64>::new(ModelConfig::elman(2, 4, 3), 0).unwrap();
/// let x = [0.5; 3 * 2 * 2]; // dense [T = 3, B = 2, I = 2]
/// // sequence 1 ends after 2 steps: its last row is padding
/// let batch = Batch::new(Input::Dense(&x), 3, 2).with_lengths(&[3, 2]);
/// let fwd = model.forward(batch).unwrap();
/// let o = 3; // O
/// assert!(fwd.logits[(2 * 2 + 1) * o..].iter().all(|&v| v == 0.0)); // t = 2, b = 1
/// // a length past T is an error naming it
/// let bad = Batch::new(Input::Dense(&x), 3, 2).with_lengths(&[3, 4]);
/// assert!(model.forward(bad).unwrap_err().to_string().starts_with("lengths[1]"));
/// ```
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
    /// Training with dropout: one inverted-dropout mask `[T, B, D*H]` per
    /// layer, each entry 0 or `1/(1-p)` (see [`dropout_masks`]), applied to
    /// every layer's output (between layers and before the readout) by
    /// [`Model::forward`], [`Model::loss_and_grads`] and
    /// [`Model::loss_and_grads_parallel`], and to its gradient by
    /// [`Model::backward`]. `None`: no dropout (and for inference).
    pub masks: Option<&'a [Vec<T>]>,
    /// [`Model::infer`]: split the batch across the threads of the pool
    /// (each thread a contiguous part with sequential products; the same
    /// numbers as one part up to the order of sums). `false`: one part.
    pub split: bool,
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
            masks: None,
            split: false,
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

    /// The same batch with dropout: one mask `[T, B, D*H]` per layer (see
    /// [`Batch::masks`]).
    pub fn with_dropout(self, masks: &'a [Vec<T>]) -> Self {
        Batch {
            masks: Some(masks),
            ..self
        }
    }

    /// The same batch, split across threads by [`Model::infer`] (see
    /// [`Batch::split`]).
    pub fn split_across_threads(self) -> Self {
        Batch {
            split: true,
            ..self
        }
    }
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
    ///
    /// A config with a zero size, sizes whose parameter count overflows, or
    /// more parameters than can be allocated is an error, never a panic.
    ///
    /// ```
    /// use rnn::{Model, ModelConfig};
    /// let model = Model::<f32>::new(ModelConfig::elman(65, 100, 65), 0).unwrap();
    /// assert_eq!(model.params.len(), model.config.param_count().unwrap());
    /// assert_eq!(model.param("rnn.weight_hh_l0").unwrap().len(), 100 * 100); // [H, H]
    /// assert!(Model::<f32>::new(ModelConfig::elman(65, 1 << 63, 65), 0).is_err());
    /// ```
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        let (layout, mut params) = Self::allocate(&config)?;
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
        let (layout, params) = Self::allocate(&config)?;
        Ok(Model {
            config,
            layout,
            params,
        })
    }

    /// Validates `config` and allocates its layout and zero parameters,
    /// with an error (not an abort) when they cannot be allocated.
    fn allocate(config: &ModelConfig) -> Result<(Vec<ParamEntry>, Vec<T>)> {
        config.validate()?;
        // refused before allocating: a model the machine cannot hold
        let bytes = config.param_count_f64() * std::mem::size_of::<T>() as f64;
        if let Some((need, available)) = crate::memory::shortfall(bytes) {
            return Err(Error::argument(
                "config",
                format!("a model that fits in the {available} of memory available"),
                format!(
                    "{:.1e} parameters (hidden_size {}, num_layers {}), about {need}",
                    config.param_count_f64(),
                    config.hidden_size,
                    config.num_layers
                ),
            ));
        }
        let n = config.param_count()?;
        let too_big = |what: &str, count: usize| {
            Error::argument(
                "config",
                format!("{what} that can be allocated"),
                format!("{count} {what}"),
            )
        };
        let mut params = Vec::new();
        params
            .try_reserve_exact(n)
            .map_err(|_| too_big("parameters", n))?;
        params.resize(n, T::zero());
        // weight_ih, weight_hh, bias_ih[, bias_hh] per layer and direction, then the head
        let entries = (config.num_layers)
            .checked_mul(config.directions() * 4)
            .and_then(|v| v.checked_add(2))
            .unwrap_or(usize::MAX);
        let mut layout: Vec<ParamEntry> = Vec::new();
        layout
            .try_reserve_exact(entries)
            .map_err(|_| too_big("parameter tensors", entries))?;
        layout.extend(param_layout(config));
        Ok((layout, params))
    }

    /// The entry of the parameter named `name`.
    pub fn entry(&self, name: &str) -> Option<&ParamEntry> {
        self.layout.iter().find(|e| e.name == name)
    }

    /// The values of parameter `name`: `None` when the layout has no such
    /// tensor, or when its range lies outside `params` (a model whose
    /// public fields were edited apart).
    pub fn param(&self, name: &str) -> Option<&[T]> {
        self.entry(name).and_then(|e| self.params.get(e.range()))
    }

    /// The values of parameter `name`, mutable (`None` as for
    /// [`Model::param`]).
    pub fn param_mut(&mut self, name: &str) -> Option<&mut [T]> {
        let r = self.entry(name)?.range();
        self.params.get_mut(r)
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
    /// let mut e = rnn::Model::<f64>::new(rnn::ModelConfig::elman(3, 2, 3), 0).unwrap();
    /// assert_eq!(e.set_forget_bias(1.0).unwrap_err().to_string(),
    ///     "forget-gate bias (--forget-bias): expected an lstm cell (the others have no forget gate), got a model of elman cells");
    /// assert!(m.set_forget_bias(f64::NAN).unwrap_err().to_string().contains("expected a finite number, got NaN"));
    /// ```
    pub fn set_forget_bias(&mut self, value: T) -> Result<()> {
        if !value.f64().is_finite() {
            return Err(Error::Argument {
                arg: "forget-gate bias (--forget-bias)".into(),
                expected: "a finite number".into(),
                got: value.f64().to_string(),
            });
        }
        if self.config.cell != CellKind::Lstm {
            return Err(Error::Argument {
                arg: "forget-gate bias (--forget-bias)".into(),
                expected: "an lstm cell (the others have no forget gate)".into(),
                got: format!("a model of {} cells", self.config.cell.name()),
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

    /// The zero state for a batch of `batch`: `h` (and `c` for the LSTM)
    /// `[L*D, B, H]` of zeros.
    ///
    /// For a batch size from outside the program use
    /// [`Model::try_zero_state`]: this one aborts (allocation failure) or
    /// panics (capacity overflow) when the state cannot be allocated.
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

    /// [`Model::zero_state`], with an error instead of an abort when it
    /// cannot be had: sizes whose product overflows
    /// ([`Error::Argument`] naming `batch`), or a state that does not fit
    /// in the memory available or that the allocator refuses
    /// ([`Error::Memory`]).
    ///
    /// ```
    /// let m = rnn::Model::<f64>::new(rnn::ModelConfig::elman(3, 4, 3), 0).unwrap();
    /// assert_eq!(m.try_zero_state(2).unwrap(), m.zero_state(2));
    /// assert!(m.try_zero_state(1 << 40).is_err()); // 32 TB
    /// assert!(m.try_zero_state(usize::MAX).unwrap_err().to_string().starts_with("batch"));
    /// ```
    pub fn try_zero_state(&self, batch: usize) -> Result<State<T>> {
        let cfg = &self.config;
        let (ld, h) = (
            cfg.num_layers.saturating_mul(cfg.directions()),
            cfg.hidden_size,
        );
        let n = check::product("batch", &[ld, batch, h])?;
        let blocks = if cfg.cell.has_memory() { 2.0 } else { 1.0 };
        let what = || {
            format!("the zero state of B = {batch} sequences ([L*D, B, H] = [{ld}, {batch}, {h}])")
        };
        crate::memory::ensure_fits(what, blocks * n as f64 * std::mem::size_of::<T>() as f64)?;
        Ok(State {
            h: crate::memory::try_filled(what, n, T::zero())?,
            c: if cfg.cell.has_memory() {
                crate::memory::try_filled(what, n, T::zero())?
            } else {
                Vec::new()
            },
        })
    }
}
