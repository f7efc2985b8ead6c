//! The checks every public entry point of [`Model`] runs before the unchecked
//! fast paths: shapes, ids, lengths, state shapes, targets, masks, gradient
//! buffers, with checked arithmetic. Each failure is an
//! [`Error::Argument`] naming the argument, what was expected and what it got.

use crate::nn::layer::Input;
use crate::nn::loss::{OutputKind, Targets};
use crate::nn::model::{Batch, Forward, Model, State};
use crate::{Error, Float, Result};

/// `a * b * ...` or an error naming `arg` when it overflows.
pub(crate) fn product(arg: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |n, &f| n.checked_mul(f))
        .ok_or_else(|| {
            Error::argument(
                arg,
                "sizes whose product fits in a usize",
                format!("{factors:?} (overflows)"),
            )
        })
}

/// `len` must equal `want`, described as `shape`.
fn len_is(arg: &str, len: usize, want: usize, shape: &str) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(Error::argument(
            arg,
            format!("{shape} = {want} values"),
            format!("{len} values"),
        ))
    }
}

/// Every value of `v` is finite, or an error naming the first that is not
/// (`x[17]: expected a finite value, got NaN`). One pass, no allocation.
pub(crate) fn finite<T: Float>(arg: &str, v: &[T]) -> Result<()> {
    match v.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(j) => Err(Error::argument(
            format!("{arg}[{j}]"),
            "a finite value",
            format!("{:?}", v[j].f64()),
        )),
    }
}

impl<T: Float> Model<T> {
    /// The model's public fields agree: `config` is valid, `layout` is the
    /// layout [`crate::nn::model::param_layout`] gives for it (the number of
    /// tensors, each one's shape and offset; the names are not compared) and
    /// `params` holds exactly its values. O(layers), no allocation: every
    /// checked entry point runs it, so a model edited through its public
    /// fields (`params.truncate`, `config.hidden_size = ..`, `layout.clear()`)
    /// is an error, not a panic.
    pub(crate) fn check_model(&self) -> Result<()> {
        let cfg = &self.config;
        cfg.validate()?;
        let per = if cfg.bias_hh { 4 } else { 3 };
        let nd = cfg.directions();
        let tensors = cfg.num_layers * nd * per + 2; // fits: validate counted the parameters
        if self.layout.len() != tensors {
            return Err(Error::argument(
                "model.layout",
                format!("{tensors} parameter tensors, as model.config lays them out"),
                format!("{} tensors", self.layout.len()),
            ));
        }
        let gh = cfg.cell.gates() * cfg.hidden_size;
        let mut offset = 0usize;
        for (j, e) in self.layout.iter().enumerate() {
            let (a, b) = if j + 2 >= tensors {
                let head = [cfg.output_size, nd * cfg.hidden_size];
                (head[0], (j + 2 == tensors).then_some(head[1]))
            } else {
                let (k, i) = (j / per / nd, j % per);
                match i {
                    0 => (gh, Some(cfg.layer(k, 0).input_size)),
                    1 => (gh, Some(cfg.hidden_size)),
                    _ => (gh, None),
                }
            };
            let shape_ok = match b {
                Some(b) => e.shape.as_slice() == [a, b],
                None => e.shape.as_slice() == [a],
            };
            if !shape_ok || e.offset != offset {
                return Err(Error::argument(
                    format!("model.layout[{j}] ({})", e.name),
                    format!(
                        "shape {:?} at offset {offset}, as model.config lays it out",
                        match b {
                            Some(b) => vec![a, b],
                            None => vec![a],
                        }
                    ),
                    format!("shape {:?} at offset {}", e.shape, e.offset),
                ));
            }
            offset += e.len();
        }
        if self.params.len() != offset {
            return Err(Error::argument(
                "model.params",
                format!("{offset} values, as model.config and model.layout lay them out"),
                format!("{} values", self.params.len()),
            ));
        }
        Ok(())
    }

    /// [`Model::check_model`] and the tensors' names too (they are what a
    /// saved or exported file holds): for writers, not the training loop,
    /// as it lays the config out again.
    pub(crate) fn check_model_named(&self) -> Result<()> {
        self.check_model()?;
        let want = crate::nn::model::param_layout(&self.config);
        match want
            .iter()
            .zip(&self.layout)
            .position(|(a, b)| a.name != b.name)
        {
            None => Ok(()),
            Some(j) => Err(Error::argument(
                format!("model.layout[{j}]"),
                format!("the tensor {:?}, as model.config lays it out", want[j].name),
                format!("{:?}", self.layout[j].name),
            )),
        }
    }

    /// Checks a batch: `T >= 1`, `B >= 1`, the input's length and ids, the
    /// lengths (each in `1..=T`) and the initial state's shape.
    pub(crate) fn check_batch(&self, data: &Batch<T>) -> Result<()> {
        self.check_model()?;
        let cfg = &self.config;
        let (steps, batch) = (data.steps, data.batch);
        if steps == 0 {
            return Err(Error::argument("steps", "T >= 1", 0));
        }
        if batch == 0 {
            return Err(Error::argument("batch", "B >= 1", 0));
        }
        let rows = product("steps * batch", &[steps, batch])?;
        // the widest buffer of a pass: a layer's gates (or their cache) over
        // both directions, the readout, or the input
        let gates = cfg.cell.gates().max(cfg.cell.cache_width());
        product(
            "steps * batch",
            &[rows, gates, cfg.directions(), cfg.hidden_size],
        )?;
        product("steps * batch", &[rows, cfg.output_size])?;
        let i = cfg.input_size;
        match data.x {
            Input::Dense(x) => {
                let want = product("x", &[rows, i])?;
                len_is(
                    "x",
                    x.len(),
                    want,
                    &format!("[T, B, I] = [{steps}, {batch}, {i}]"),
                )?;
                finite("x", x)?;
            }
            Input::Ids(ids) => {
                len_is(
                    "x",
                    ids.len(),
                    rows,
                    &format!("ids [T, B] = [{steps}, {batch}]"),
                )?;
                if let Some((r, &id)) = ids.iter().enumerate().find(|(_, &id)| id >= i) {
                    return Err(Error::argument(
                        format!("x[{r}]"),
                        format!("a class id < I = {i}"),
                        id,
                    ));
                }
            }
        }
        self.check_lengths(data.lengths, steps, batch)?;
        if let Some(s) = data.state {
            self.check_state("state", s, batch)?;
        }
        Ok(())
    }

    /// `lengths`: `[B]`, each in `1..=T`.
    pub(crate) fn check_lengths(
        &self,
        lengths: Option<&[usize]>,
        steps: usize,
        batch: usize,
    ) -> Result<()> {
        let Some(l) = lengths else { return Ok(()) };
        if l.len() != batch {
            return Err(Error::argument(
                "lengths",
                format!("one length per sequence, B = {batch}"),
                format!("{} lengths", l.len()),
            ));
        }
        if let Some((b, &n)) = l.iter().enumerate().find(|(_, &n)| n == 0 || n > steps) {
            return Err(Error::argument(
                format!("lengths[{b}]"),
                format!("a length in 1..={steps} (T)"),
                n,
            ));
        }
        Ok(())
    }

    /// A state `[L*D, B, H]`: `h` always, `c` for the LSTM (empty means zeros),
    /// empty for the other cells.
    pub(crate) fn check_state(&self, arg: &str, s: &State<T>, batch: usize) -> Result<()> {
        let cfg = &self.config;
        let ld = cfg.num_layers * cfg.directions();
        let h = cfg.hidden_size;
        let n = product(arg, &[ld, batch, h])?;
        let shape = format!("[L*D, B, H] = [{ld}, {batch}, {h}]");
        let name_h = format!("{arg}.h");
        len_is(&name_h, s.h.len(), n, &shape)?;
        finite(&name_h, &s.h)?;
        if cfg.cell.has_memory() {
            if !s.c.is_empty() {
                let name_c = format!("{arg}.c");
                len_is(&name_c, s.c.len(), n, &shape)?;
                finite(&name_c, &s.c)?;
            }
        } else if !s.c.is_empty() {
            return Err(Error::argument(
                format!("{arg}.c"),
                format!(
                    "no memory c for a {} cell (only the LSTM has one)",
                    cfg.cell.name()
                ),
                format!("{} values", s.c.len()),
            ));
        }
        Ok(())
    }

    /// Targets for `rows` rows (`T*B`, or `B` many-to-one): class ids `< O`
    /// for a softmax output, `rows * O` finite values for an identity output.
    /// Rows where `counted(r)` is false (padding) are not read, so not checked.
    pub(crate) fn check_targets(
        &self,
        targets: Targets<T>,
        rows: usize,
        shape: &str,
        counted: impl Fn(usize) -> bool,
    ) -> Result<()> {
        let o = self.config.output_size;
        match (self.config.output, targets) {
            (OutputKind::Softmax, Targets::Classes(y)) => {
                len_is("targets", y.len(), rows, &format!("class ids {shape}"))?;
                if let Some((r, &c)) = y.iter().enumerate().find(|&(r, &c)| c >= o && counted(r)) {
                    return Err(Error::argument(
                        format!("targets[{r}]"),
                        format!("a class id < O = {o}"),
                        c,
                    ));
                }
            }
            (OutputKind::Identity, Targets::Values(y)) => {
                let want = product("targets", &[rows, o])?;
                len_is(
                    "targets",
                    y.len(),
                    want,
                    &format!("values {shape} x O = {o}"),
                )?;
                if let Some((j, v)) = y
                    .iter()
                    .enumerate()
                    .find(|&(j, v)| !v.is_finite() && counted(j / o))
                {
                    return Err(Error::argument(
                        format!("targets[{j}]"),
                        "a finite value",
                        format!("{v:?}"),
                    ));
                }
            }
            (kind, _) => return Err(crate::nn::loss::wrong_targets(kind)),
        }
        Ok(())
    }

    /// Dropout masks: one `[T, B, D*H]` mask per layer, finite.
    pub(crate) fn check_masks(
        &self,
        masks: Option<&[Vec<T>]>,
        steps: usize,
        batch: usize,
    ) -> Result<()> {
        let Some(m) = masks else { return Ok(()) };
        let cfg = &self.config;
        if m.len() != cfg.num_layers {
            return Err(Error::argument(
                "masks",
                format!("one mask per layer, L = {}", cfg.num_layers),
                format!("{} masks", m.len()),
            ));
        }
        let dh = cfg.directions() * cfg.hidden_size;
        let want = product("masks", &[steps, batch, dh])?;
        for (k, mk) in m.iter().enumerate() {
            let name = format!("masks[{k}]");
            len_is(
                &name,
                mk.len(),
                want,
                &format!("[T, B, D*H] = [{steps}, {batch}, {dh}]"),
            )?;
            // a NaN mask entry would make every output and gradient NaN
            finite(&name, mk)?;
        }
        Ok(())
    }

    /// A gradient buffer: the length of `params`.
    pub(crate) fn check_grads(&self, grads: &[T]) -> Result<()> {
        len_is(
            "grads",
            grads.len(),
            self.params.len(),
            "one per parameter (params.len())",
        )
    }

    /// A forward pass of this model, of `T` steps and `B` sequences: one
    /// cache per layer and direction with this cell's widths (`h` `[T, B,
    /// H]`, `h0` `[B, H]`, `c_prev` `[T, B, H]` for the LSTM else empty, `gates`
    /// `[T, B, cache_width*H]`, `h_n` `[B, H]`, `c_n` `[B, H]` or empty), the
    /// concatenated outputs of a bidirectional model, the dropout buffers
    /// (none, or one `[T, B, D*H]` per layer) and the logits `[T, B, O]`.
    /// O(layers): only lengths are compared.
    pub(crate) fn check_forward(&self, fwd: &Forward<T>) -> Result<()> {
        self.check_model()?;
        let cfg = &self.config;
        let (h, nd, l) = (cfg.hidden_size, cfg.directions(), cfg.num_layers);
        let ld = l * nd;
        let rows = product("fwd", &[fwd.steps, fwd.batch])?;
        let rh = product("fwd", &[rows, h])?;
        let rdh = product("fwd", &[rh, nd])?;
        let gates = product("fwd", &[rh, cfg.cell.cache_width()])?;
        let bh = product("fwd", &[fwd.batch, h])?;
        let mem = |n: usize| if cfg.cell.has_memory() { n } else { 0 };
        let bad = |what: String, want: usize, got: usize| {
            Err(Error::argument(
                "fwd",
                format!(
                    "a forward pass of this model ({} cells, L = {l}, D = {nd}, H = {h},                      [T, B] = [{}, {}]): {what} of {want} values",
                    cfg.cell.name(),
                    fwd.steps,
                    fwd.batch
                ),
                format!("{got} values"),
            ))
        };
        if fwd.layers.len() != ld {
            return Err(Error::argument(
                "fwd",
                format!("a forward pass of this model ({ld} layer caches, L*D = {l}*{nd})"),
                format!("{} layer caches", fwd.layers.len()),
            ));
        }
        for (j, c) in fwd.layers.iter().enumerate() {
            for (name, got, want) in [
                ("h", c.h.len(), rh),
                ("h0", c.h0.len(), bh),
                ("c_prev", c.c_prev.len(), mem(rh)),
                ("gates", c.gates.len(), gates),
                ("h_n", c.h_n.len(), bh),
                ("c_n", c.c_n.len(), mem(bh)),
            ] {
                if got != want {
                    return bad(format!("layers[{j}].{name}"), want, got);
                }
            }
        }
        let concat = if nd == 2 { l } else { 0 };
        if fwd.concat.len() != concat {
            return Err(Error::argument(
                "fwd",
                format!(
                    "a forward pass of this model ({concat} concatenated layer outputs, D = {nd})"
                ),
                format!("{}", fwd.concat.len()),
            ));
        }
        for (k, v) in fwd.concat.iter().enumerate() {
            if v.len() != rdh {
                return bad(format!("the output of layer {k}"), rdh, v.len());
            }
        }
        for (what, bufs) in [
            ("dropout mask", &fwd.masks),
            ("dropout output", &fwd.dropped),
        ] {
            if !bufs.is_empty() && bufs.len() != l {
                return Err(Error::argument(
                    "fwd",
                    format!("a forward pass of this model (no {what}s, or one per layer, L = {l})"),
                    format!("{} {what}s", bufs.len()),
                ));
            }
            for (k, v) in bufs.iter().enumerate() {
                if v.len() != rdh {
                    return bad(format!("the {what} of layer {k}"), rdh, v.len());
                }
            }
        }
        if fwd.dropped.len() != fwd.masks.len() {
            return Err(Error::argument(
                "fwd",
                "a forward pass of this model (as many dropout outputs as masks)",
                format!("{} masks, {} outputs", fwd.masks.len(), fwd.dropped.len()),
            ));
        }
        let o = product("fwd", &[rows, cfg.output_size])?;
        if fwd.logits.len() != o {
            return bad("logits [T, B, O]".into(), o, fwd.logits.len());
        }
        Ok(())
    }
}
