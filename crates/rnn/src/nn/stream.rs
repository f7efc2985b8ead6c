//! Streaming inference: a [`Stream`] carries the recurrent state of a
//! unidirectional model from one call to the next, so a sequence can be fed
//! one step or one chunk at a time, as it arrives.
//!
//! Feeding chunks `x_1 .. x_a`, then `x_{a+1} .. x_b`, ... gives the same
//! outputs and final state as one [`Model::infer`] over their concatenation:
//! the state `s_t = f(U x_t + W s_{t-1} + b)` after a chunk is the `s_0` of
//! the next. A bidirectional model cannot be streamed (its backward direction
//! reads the future), and is refused.
//!
//! A stream's state can be saved to a safetensors file ([`Stream::save`]) and
//! read back by a later process ([`Stream::load`], [`Stream::open`]); the
//! file names the model it belongs to (its config and a hash of its
//! weights), so a state is never continued with another model.

use crate::kernels::gemm;
use crate::nn::layer::Input;
use crate::nn::loss::OutputKind;
use crate::nn::model::infer::Inference;
use crate::nn::model::{param_layout, Batch, Model, State};
use crate::{Error, Float, Result};
use rand::Rng;
use std::path::PathBuf;

/// The `format` metadata of a saved stream state.
pub const STATE_FORMAT: &str = "rnn-stream-state/1";

/// A unidirectional model run incrementally over `B` parallel streams, with
/// the state `s_t` (and the LSTM's `c_t`) carried across calls.
///
/// Shapes: `L` layers, `B` streams, `H` hidden units, `I` inputs (classes
/// for ids), `O` outputs, `T` steps of a chunk.
///
/// ```
/// use rnn::{Input, Model, ModelConfig, Stream};
/// // a character model: I = O = 4 classes, H = 8
/// let model = Model::<f64>::new(ModelConfig::elman(4, 8, 4), 7).unwrap();
/// let text = [0, 3, 1, 2, 2, 0]; // T = 6 ids, one stream
///
/// // one call over the whole input...
/// let mut whole = Stream::new(&model).unwrap();
/// let all = whole.feed(Input::Ids(&text)).unwrap().to_vec(); // [6, 1, 4]
///
/// // ...equals the input fed in pieces: a chunk of 4, then one step at a time
/// let mut s = Stream::new(&model).unwrap();
/// let mut pieces = s.feed(Input::Ids(&text[..4])).unwrap().to_vec(); // [4, 1, 4]
/// for id in &text[4..] {
///     pieces.extend_from_slice(s.step(Input::Ids(&[*id])).unwrap()); // [1, 4]
/// }
/// assert!(all.iter().zip(&pieces).all(|(a, b)| (a - b).abs() < 1e-12));
/// assert_eq!(s.state().h.len(), 8); // [L, B, H]
///
/// // wrong input is an error, not a panic
/// assert!(s.step(Input::Ids(&[4])).is_err()); // id 4 >= I
/// assert!(s.feed(Input::Dense(&[0.5; 6])).is_err()); // not a multiple of B*I = 4
/// ```
#[derive(Clone, Debug)]
pub struct Stream<'m, T> {
    /// The model, borrowed: several streams may share one.
    model: &'m Model<T>,
    /// `B`: parallel streams.
    batch: usize,
    /// The carried state `h` (and `c`): each `[L, B, H]`.
    state: State<T>,
    /// The readout of the carried state, `o = V s + c`: `[B, O]`.
    logits: Vec<T>,
    /// The buffers of [`Model::infer`], reused across calls.
    inf: Inference<T>,
}

impl<'m, T: Float> Stream<'m, T> {
    /// One stream (`B = 1`) of `model` from the zero state. An error if the
    /// model is bidirectional or inconsistent (parameter count, sizes).
    pub fn new(model: &'m Model<T>) -> Result<Self> {
        Self::batched(model, 1)
    }

    /// `batch` parallel streams of `model` from the zero state: `h` (and `c`)
    /// `[L, B, H]` of zeros. A batch whose state cannot be allocated is an
    /// error, not an abort:
    ///
    /// ```
    /// let m = rnn::Model::<f64>::new(rnn::ModelConfig::elman(3, 4, 3), 1).unwrap();
    /// assert_eq!(rnn::Stream::batched(&m, 2).unwrap().state().h.len(), 2 * 4);
    /// let e = rnn::Stream::batched(&m, 1 << 40).unwrap_err().to_string();
    /// assert!(e.contains("needs about 35.2 TB of memory"), "{e}");
    /// assert!(rnn::Stream::batched(&m, 1 << 61).is_err());
    /// assert!(rnn::Stream::batched(&m, usize::MAX).is_err()); // L*B*H overflows
    /// ```
    pub fn batched(model: &'m Model<T>, batch: usize) -> Result<Self> {
        let cfg = &model.config;
        cfg.validate()?;
        if cfg.bidirectional {
            return Err(Error::Config(format!(
                "a stream needs a unidirectional model (a step cannot see the future), \
                 but the model config is bidirectional: {}",
                serde_json::to_string(cfg).unwrap_or_default()
            )));
        }
        let layout = param_layout(cfg);
        let n: usize = layout.iter().map(|e| e.len()).sum();
        if model.params.len() != n || model.layout != layout {
            return Err(Error::Value {
                what: "model parameters".into(),
                value: format!("{} values", model.params.len()),
                expected: format!("{n} values, as the model config lays them out"),
            });
        }
        if batch == 0 {
            return Err(Error::Value {
                what: "stream batch B".into(),
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        state_len(model, batch)?;
        // the state and its readout [B, O], refused (not an abort) when they
        // cannot be allocated
        let state = model.try_zero_state(batch)?;
        let o = model.config.output_size;
        let what = || format!("the readout [B, O] = [{batch}, {o}] of a stream");
        let logits_len = batch.checked_mul(o).ok_or_else(|| {
            Error::argument(
                "batch",
                "B * O that fits in a usize",
                format!("{batch} * {o} (overflows)"),
            )
        })?;
        let mut s = Stream {
            model,
            batch,
            state,
            logits: crate::memory::try_with_capacity(what, logits_len)?,
            inf: Inference::new(),
        };
        s.readout();
        Ok(s)
    }

    /// The same streams starting from `state` (`h`, and `c` for the LSTM,
    /// each `[L, B, H]`; `c` empty for the other cells). A state of another
    /// shape, or with a NaN or infinity, is an error.
    pub fn with_state(mut self, state: State<T>) -> Result<Self> {
        self.set_state(state)?;
        Ok(self)
    }

    /// Replaces the carried state, checked as in [`Stream::with_state`].
    pub fn set_state(&mut self, state: State<T>) -> Result<()> {
        let n = state_len(self.model, self.batch)?;
        let (l, b, h) = self.dims();
        let expected = format!("[L, B, H] = [{l}, {b}, {h}] ({n} values)");
        let c_len = if self.model.config.cell.has_memory() {
            n
        } else {
            0
        };
        for (name, v, len) in [("h", &state.h, n), ("c", &state.c, c_len)] {
            if v.len() != len {
                return Err(Error::Shape {
                    path: PathBuf::from("Stream state"),
                    tensor: name.into(),
                    got: vec![v.len()],
                    expected: if len == 0 {
                        format!("empty (a {} cell has no c)", self.model.config.cell.name())
                    } else {
                        expected.clone()
                    },
                });
            }
            // the check every state given to the model gets (`state.c[i]`)
            crate::nn::model::finite(&format!("state.{name}"), v)?;
        }
        self.state = state;
        self.readout();
        Ok(())
    }

    /// Back to the zero state (the streams' inputs so far are forgotten).
    pub fn reset(&mut self) {
        self.state = self.model.zero_state(self.batch);
        self.readout();
    }

    /// The carried state: `h` (and `c` for the LSTM, else empty), each
    /// `[L, B, H]`, the state after the last step fed.
    pub fn state(&self) -> &State<T> {
        &self.state
    }

    /// The carried state, taking the stream apart.
    pub fn into_state(self) -> State<T> {
        self.state
    }

    /// `B`: the number of parallel streams.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The model being streamed.
    pub fn model(&self) -> &'m Model<T> {
        self.model
    }

    /// The readout of the carried state, `o = V s + c`: `[B, O]`. After a
    /// step or chunk these are its last step's logits (the prediction for
    /// the next step); from the zero state they are `c`.
    pub fn logits(&self) -> &[T] {
        &self.logits
    }

    /// `softmax(o)` of [`Stream::logits`], in `f64`: `[B, O]`, each row the
    /// distribution of the next class. An error for a model whose output is
    /// not a softmax.
    pub fn probabilities(&self) -> Result<Vec<f64>> {
        self.need_softmax("probabilities")?;
        let o = self.model.config.output_size;
        let mut p: Vec<f64> = self.logits.iter().map(|v| v.f64()).collect();
        for row in p.chunks_exact_mut(o) {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
            for v in row.iter_mut() {
                *v = (*v - m).exp() / z; // p_i = e^{o_i} / sum_j e^{o_j}
            }
        }
        crate::error::finite_outputs(&p, |k| format!("probability {} of stream {}", k % o, k / o))?;
        Ok(p)
    }

    /// Feeds one step to every stream: `x` is `[B, I]` dense or `[B]` ids.
    /// Returns the step's outputs `o = V s + c`, `[B, O]`.
    pub fn step(&mut self, x: Input<'_, T>) -> Result<&[T]> {
        let (b, i) = (self.batch, self.model.config.input_size);
        let got = match x {
            Input::Dense(v) => {
                (v.len() != b * i).then(|| (v.len(), format!("[B, I] = [{b}, {i}]")))
            }
            Input::Ids(v) => (v.len() != b).then(|| (v.len(), format!("[B] = [{b}] ids"))),
        };
        if let Some((len, expected)) = got {
            return Err(shape_err("x", len, expected));
        }
        self.run(x, 1, None)
    }

    /// Feeds a chunk of `T >= 1` steps to every stream: `x` is `[T, B, I]`
    /// dense or `[T, B]` ids (`T` is read off its length). Returns the
    /// chunk's outputs `[T, B, O]`; the state carried on is the one after
    /// its last step.
    pub fn feed(&mut self, x: Input<'_, T>) -> Result<&[T]> {
        let steps = self.steps_of(x)?;
        self.run(x, steps, None)
    }

    /// [`Stream::feed`] where stream `b` takes only the first `lengths[b]`
    /// steps of the chunk (`lengths`: `[B]`, each in `1..=T`; the rest is
    /// padding and ignored): each stream carries on from its own last step.
    /// Outputs `[T, B, O]`, zero at padding.
    pub fn feed_with_lengths(&mut self, x: Input<'_, T>, lengths: &[usize]) -> Result<&[T]> {
        let steps = self.steps_of(x)?;
        if lengths.len() != self.batch {
            return Err(shape_err(
                "lengths",
                lengths.len(),
                format!("[B] = [{}]", self.batch),
            ));
        }
        if let Some(b) = lengths.iter().position(|&n| n == 0 || n > steps) {
            return Err(Error::Value {
                what: format!("lengths[{b}]"),
                value: lengths[b].to_string(),
                expected: format!("in 1..={steps}, the chunk's steps"),
            });
        }
        self.run(x, steps, Some(lengths))
    }

    /// Samples `n` steps ahead from a model whose outputs are the classes of
    /// its inputs (a character model: softmax output, `O = I`): each stream
    /// draws its next class from `softmax(o / temperature)` of its current
    /// logits, and the drawn classes are fed as the next step. Returns the
    /// drawn ids, `[n, B]`; the state afterwards includes them.
    pub fn generate<R: Rng>(
        &mut self,
        n: usize,
        temperature: f64,
        rng: &mut R,
    ) -> Result<Vec<usize>> {
        self.need_softmax("generate")?;
        let cfg = &self.model.config;
        if cfg.input_size != cfg.output_size {
            return Err(Error::Config(format!(
                "generate feeds the sampled classes back as inputs, so it needs O = I, \
                 but the model has O = {} and I = {}",
                cfg.output_size, cfg.input_size
            )));
        }
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::Value {
                what: "temperature".into(),
                value: temperature.to_string(),
                expected: "a positive finite number".into(),
            });
        }
        let o = cfg.output_size;
        // [n, B] ids: refused up front (not an abort) when they cannot fit
        let what = || format!("generating n = {n} steps of {} stream(s)", self.batch);
        let bytes = n as f64 * self.batch as f64 * std::mem::size_of::<usize>() as f64;
        crate::memory::ensure_fits(what, bytes)?;
        let mut drawn = crate::memory::try_with_capacity(what, n * self.batch)?;
        let mut next = vec![0usize; self.batch];
        let mut p = vec![0.0f64; o];
        for _ in 0..n {
            crate::error::finite_outputs(&self.logits, |k| {
                format!("logit {} of stream {}", k % o, k / o)
            })?;
            for (b, id) in next.iter_mut().enumerate() {
                let row = &self.logits[b * o..(b + 1) * o];
                *id = sample(row, temperature, &mut p, rng);
            }
            drawn.extend_from_slice(&next);
            self.run(Input::Ids(&next), 1, None)?;
        }
        Ok(drawn)
    }

    /// `(L, B, H)`.
    fn dims(&self) -> (usize, usize, usize) {
        let c = &self.model.config;
        (c.num_layers, self.batch, c.hidden_size)
    }

    /// `T` of a chunk `x`, checking its length and ids.
    fn steps_of(&self, x: Input<'_, T>) -> Result<usize> {
        let (b, i) = (self.batch, self.model.config.input_size);
        let (len, row, expected) = match x {
            Input::Dense(v) => (v.len(), b * i, format!("[T, B, I] = [T, {b}, {i}], T >= 1")),
            Input::Ids(v) => (v.len(), b, format!("[T, B] = [T, {b}] ids, T >= 1")),
        };
        if len == 0 || len % row != 0 {
            return Err(shape_err("x", len, expected));
        }
        Ok(len / row)
    }

    /// Runs `steps` steps (inputs already shape-checked; ids checked here)
    /// from the carried state, carries the final state on and keeps the
    /// readout of each stream's last step.
    fn run(&mut self, x: Input<'_, T>, steps: usize, lengths: Option<&[usize]>) -> Result<&[T]> {
        let i = self.model.config.input_size;
        if let Input::Ids(ids) = x {
            if let Some(r) = ids.iter().position(|&id| id >= i) {
                return Err(Error::Value {
                    what: format!("x id at step {}, stream {}", r / self.batch, r % self.batch),
                    value: ids[r].to_string(),
                    expected: format!("a class id < I = {i}"),
                });
            }
        }
        let (b, o) = (self.batch, self.model.config.output_size);
        let mut data = Batch::new(x, steps, b).with_state(&self.state);
        if let Some(l) = lengths {
            data = data.with_lengths(l);
        }
        // the inputs and the carried state are checked (finite, shapes) by
        // `infer`, and its outputs below, before the stream changes: after
        // an error it carries on from the state it had
        self.model.infer(data, &mut self.inf)?;
        crate::error::finite_outputs(&self.inf.logits[..steps * b * o], |k| {
            format!(
                "output {} of step {}, stream {}",
                k % o,
                k / o / b,
                k / o % b
            )
        })?;
        std::mem::swap(&mut self.state, &mut self.inf.state); // s_0 of the next call
        for s in 0..b {
            let t = lengths.map_or(steps, |l| l[s]) - 1; // the stream's last step
            let r = (t * b + s) * o;
            self.logits[s * o..(s + 1) * o].copy_from_slice(&self.inf.logits[r..r + o]);
        }
        Ok(&self.inf.logits[..steps * b * o])
    }

    /// `o = V s + c` for the top layer's carried `s`: `[B, O]`.
    fn readout(&mut self) {
        let cfg = &self.model.config;
        let (b, h, o) = (self.batch, cfg.hidden_size, cfg.output_size);
        let top = &self.state.h[(cfg.num_layers - 1) * b * h..cfg.num_layers * b * h]; // [B, H]
        let (v, c) = self.model.head();
        self.logits.clear();
        for _ in 0..b {
            self.logits.extend_from_slice(c);
        }
        gemm(b, o, h, top, false, v, true, &mut self.logits, true); // [B, H] x [H, O]
    }

    fn need_softmax(&self, what: &str) -> Result<()> {
        match self.model.config.output {
            OutputKind::Softmax => Ok(()),
            OutputKind::Identity => Err(Error::Config(format!(
                "Stream::{what} needs a model with a softmax output; this one's output is the identity"
            ))),
        }
    }
}

/// `L * B * H` with overflow checked.
fn state_len<T>(model: &Model<T>, batch: usize) -> Result<usize> {
    let c = &model.config;
    c.num_layers
        .checked_mul(batch)
        .and_then(|n| n.checked_mul(c.hidden_size))
        .ok_or_else(|| Error::Value {
            what: "stream state size L*B*H".into(),
            value: format!("{} * {batch} * {}", c.num_layers, c.hidden_size),
            expected: "a size that fits in memory".into(),
        })
}

fn shape_err(arg: &str, len: usize, expected: String) -> Error {
    Error::Argument {
        arg: arg.into(),
        expected,
        got: format!("{len} values"),
    }
}

/// Draws a class from `softmax(o / temperature)` of one row of logits
/// (`p` is scratch of the row's length): the inverse CDF at a uniform draw,
/// as `rnn::tasks::lm::generate` samples, so equal logits and seeds give
/// equal draws.
fn sample<T: Float, R: Rng>(row: &[T], temperature: f64, p: &mut [f64], rng: &mut R) -> usize {
    let shift = logit_shift(row.iter().map(|v| v.f64()), temperature);
    let scaled = |v: T| (v.f64() - shift) / temperature;
    let m = row
        .iter()
        .map(|&v| scaled(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0;
    for (pi, &v) in p.iter_mut().zip(row) {
        *pi = (scaled(v) - m).exp(); // p_i ∝ exp(o_i / temperature)
        z += *pi;
    }
    let mut r = rng.random::<f64>() * z;
    for (i, &pi) in p.iter().enumerate() {
        if r < pi {
            return i;
        }
        r -= pi;
    }
    row.len() - 1
}

/// What every logit loses before it is divided by `temperature`: 0 (the
/// division as written), unless some `o / temperature` overflows (a
/// temperature below about 1e-307, positive and finite as required), then
/// the largest logit, so that its class or classes get `0` and the others
/// `-inf`: the greedy choice, as at temperatures just above. Without it the
/// overflowed logits gave `inf - inf` and the last class was drawn every
/// time ("zzzz" at `--temperature 1e-308`).
pub(crate) fn logit_shift(row: impl Iterator<Item = f64> + Clone, temperature: f64) -> f64 {
    match row.clone().any(|o| (o / temperature).is_infinite()) {
        true => row.fold(f64::NEG_INFINITY, f64::max),
        false => 0.0,
    }
}

/// A hash identifying a model's weights: FNV-1a (64 bits) of its parameters'
/// little-endian bytes in layout order, as `"fnv1a64:<16 hex digits>"`. The
/// same weights in the same dtype always hash the same.
pub fn model_hash<T: Float>(model: &Model<T>) -> String {
    let hash = fnv1a64(FNV1A64_START, T::to_le_bytes_vec(&model.params));
    format!("fnv1a64:{hash:016x}")
}

/// FNV-1a's offset basis: where [`fnv1a64`] starts.
pub const FNV1A64_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a (64 bits) of `bytes` from `hash` ([`FNV1A64_START`], or another
/// start to mix a value in): for each byte, xor it in, multiply by the
/// FNV prime.
///
/// ```
/// use rnn::nn::stream::{fnv1a64, FNV1A64_START};
/// assert_eq!(fnv1a64(FNV1A64_START, []), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(fnv1a64(FNV1A64_START, *b"a"), 0xaf63_dc4c_8601_ec8c); // the published test vector
/// ```
pub fn fnv1a64(hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(hash, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
