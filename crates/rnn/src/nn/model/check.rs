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
    /// Checks a batch: `T >= 1`, `B >= 1`, the input's length and ids, the
    /// lengths (each in `1..=T`) and the initial state's shape.
    pub(crate) fn check_batch(&self, data: &Batch<T>) -> Result<()> {
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
        len_is(&format!("{arg}.h"), s.h.len(), n, &shape)?;
        finite(&format!("{arg}.h"), &s.h)?;
        if cfg.cell.has_memory() {
            if !s.c.is_empty() {
                len_is(&format!("{arg}.c"), s.c.len(), n, &shape)?;
                finite(&format!("{arg}.c"), &s.c)?;
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
            (OutputKind::Softmax, Targets::Values(_)) => {
                return Err(Error::argument(
                    "targets",
                    "class ids (Targets::Classes) for a softmax output",
                    "values (Targets::Values)",
                ))
            }
            (OutputKind::Identity, Targets::Classes(_)) => {
                return Err(Error::argument(
                    "targets",
                    "values (Targets::Values) for an identity output",
                    "class ids (Targets::Classes)",
                ))
            }
        }
        Ok(())
    }

    /// Dropout masks: one `[T, B, D*H]` mask per layer.
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
            len_is(
                &format!("masks[{k}]"),
                mk.len(),
                want,
                &format!("[T, B, D*H] = [{steps}, {batch}, {dh}]"),
            )?;
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

    /// A forward pass of this model, of `T` steps and `B` sequences.
    pub(crate) fn check_forward(&self, fwd: &Forward<T>) -> Result<()> {
        let cfg = &self.config;
        let ld = cfg.num_layers * cfg.directions();
        let rows = product("fwd", &[fwd.steps, fwd.batch])?;
        let ok = fwd.layers.len() == ld
            && fwd
                .layers
                .iter()
                .all(|l| l.h.len() == rows * cfg.hidden_size)
            && fwd.logits.len() == rows * cfg.output_size;
        if ok {
            Ok(())
        } else {
            Err(Error::argument(
                "fwd",
                format!(
                    "a forward pass of this model ({ld} layer caches, logits [T, B, O] = [{}, {}, {}])",
                    fwd.steps, fwd.batch, cfg.output_size
                ),
                format!(
                    "{} layer caches, {} logits",
                    fwd.layers.len(),
                    fwd.logits.len()
                ),
            ))
        }
    }
}
