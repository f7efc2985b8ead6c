//! Output functions `g` and losses `E_t`, each with its fused backward.

use crate::{Error, Float, Result};
use serde::{Deserialize, Serialize};

/// How per-position losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// `E = sum_t E_t` (the seed's definition).
    #[default]
    Sum,
    /// `E = (1/N) sum_t E_t` over the N counted positions (PyTorch's default).
    Mean,
}

/// The output function `g` and the loss paired with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// `p_t = softmax(o_t)`, `E_t = -log p_t[y_t]` (cross-entropy from logits).
    #[default]
    Softmax,
    /// `p_t = o_t`, `E_t = 0.5 ||o_t - y_t||^2` (squared error).
    Identity,
}

/// Targets of a loss.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    /// One class id per row, `[N]`.
    Classes(&'a [usize]),
    /// One target vector per row, `[N, O]`.
    Values(&'a [T]),
}

/// Row-wise softmax of `[N, O]` logits, numerically stable (max subtracted).
/// `classes >= 1` (the crate's callers pass a model's `O`); crate-internal,
/// as `softmax(_, 0)` had no meaning but a panic.
pub(crate) fn softmax<T: Float>(logits: &[T], classes: usize) -> Vec<T> {
    let mut p = logits.to_vec();
    for row in p.chunks_exact_mut(classes) {
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let mut z = T::zero();
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            z += *v;
        }
        for v in row.iter_mut() {
            *v /= z;
        }
    }
    p
}

/// `out_j = e^{x_j - shift}`: the vectorised row kernel where `T` has one
/// ([`Float::exp_shifted_row`], f32 with AVX2: this loop was 7 % of the
/// bench's S LSTM training in 4-lane SSE), else [`Float::exp_fast`].
#[inline]
fn exp_shifted<T: Float>(x: &[T], shift: T, out: &mut [T]) {
    if !T::exp_shifted_row(x, shift, out) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - shift).exp_fast();
        }
    }
}

/// `log sum_j exp(o_j)` with the max subtracted first, so it never overflows.
#[inline]
pub fn log_sum_exp<T: Float>(row: &[T]) -> T {
    let m = row.iter().copied().fold(T::neg_infinity(), T::max);
    let s: T = row.iter().map(|&v| (v - m).exp_fast()).sum();
    m + s.ln()
}

/// The loss over `N` rows of outputs `o` (`[N, O]`) and its gradient.
///
/// Rows where `mask` is false (padding) contribute nothing and get a zero
/// gradient. Writes `dE/do` into `grad` (`[N, O]`) and returns `E`.
///
/// - Softmax: `E_t = log sum_j e^{o_tj} - o_t[y_t]`; fused backward
///   `dE/do_t = p_t - onehot(y_t)`.
/// - Identity: `E_t = 0.5 ||o_t - y_t||^2`; `dE/do_t = o_t - y_t`.
///
/// With [`Reduction::Mean`] both are divided by the number of counted rows.
///
/// # Errors
///
/// [`Error::Argument`] naming the argument, before anything is written:
/// `outputs` 0 or not dividing `o.len()`, `grad` not as long as `o`, a
/// `mask` that is not one flag per row, targets of the wrong kind for
/// `kind` or the wrong length, or a counted class id `>= outputs`.
///
/// ```
/// use rnn::nn::loss::{loss_and_grad, OutputKind, Reduction, Targets};
/// let mut g = [0.0f64; 3];
/// let e = loss_and_grad(OutputKind::Softmax, &[0.0; 3], 3, Targets::Classes(&[1]), None, Reduction::Sum, &mut g).unwrap();
/// assert!((e - 3f64.ln()).abs() < 1e-12);
/// let bad = loss_and_grad(OutputKind::Softmax, &[0.0; 3], 3, Targets::Classes(&[5]), None, Reduction::Sum, &mut g);
/// assert_eq!(bad.unwrap_err().to_string(), "targets[0]: expected a class id < outputs = 3, got 5");
/// ```
pub fn loss_and_grad<T: Float>(
    kind: OutputKind,
    o: &[T],
    outputs: usize,
    targets: Targets<T>,
    mask: Option<&[bool]>,
    reduction: Reduction,
    grad: &mut [T],
) -> Result<T> {
    if outputs == 0 || !o.len().is_multiple_of(outputs) {
        return Err(Error::argument(
            "outputs",
            format!("O >= 1 dividing the {} outputs o [N, O]", o.len()),
            outputs,
        ));
    }
    let rows = o.len() / outputs;
    let len = |arg: &str, got: usize, want: usize, what: &str| {
        if got == want {
            Ok(())
        } else {
            Err(Error::argument(
                arg,
                format!("{what} = {want} values"),
                format!("{got} values"),
            ))
        }
    };
    len("grad", grad.len(), o.len(), "[N, O], as o")?;
    if let Some(m) = mask {
        len("mask", m.len(), rows, "one flag per row, N")?;
    }
    let counted = |r: usize| mask.is_none_or(|m| m[r]);
    match (kind, targets) {
        (OutputKind::Softmax, Targets::Classes(y)) => {
            len("targets", y.len(), rows, "one class id per row, N")?;
            if let Some((r, &c)) = y
                .iter()
                .enumerate()
                .find(|&(r, &c)| c >= outputs && counted(r))
            {
                return Err(Error::argument(
                    format!("targets[{r}]"),
                    format!("a class id < outputs = {outputs}"),
                    c,
                ));
            }
        }
        (OutputKind::Identity, Targets::Values(y)) => {
            len("targets", y.len(), o.len(), "[N, O], as o")?;
        }
        (kind, _) => return Err(wrong_targets(kind)),
    }
    Ok(loss_and_grad_unchecked(
        kind, o, outputs, targets, mask, reduction, grad,
    ))
}

/// The error for targets of the other kind than `kind` needs: class ids
/// for a softmax output, values for an identity output.
pub(crate) fn wrong_targets(kind: OutputKind) -> Error {
    match kind {
        OutputKind::Softmax => Error::argument(
            "targets",
            "class ids (Targets::Classes) for a softmax output",
            "values (Targets::Values)",
        ),
        OutputKind::Identity => Error::argument(
            "targets",
            "values (Targets::Values) for an identity output",
            "class ids (Targets::Classes)",
        ),
    }
}

/// [`loss_and_grad`] without the checks, for the crate's passes that built
/// their arguments: `outputs >= 1` divides `o.len()`, `grad` is as long as
/// `o`, `mask` has one flag per row, the targets fit `kind` and `o`.
pub(crate) fn loss_and_grad_unchecked<T: Float>(
    kind: OutputKind,
    o: &[T],
    outputs: usize,
    targets: Targets<T>,
    mask: Option<&[bool]>,
    reduction: Reduction,
    grad: &mut [T],
) -> T {
    let rows = o.len() / outputs;
    let counted = mask.map_or(rows, |m| m.iter().filter(|&&v| v).count());
    let scale = match reduction {
        Reduction::Sum => T::one(),
        Reduction::Mean => T::one() / T::of(counted.max(1) as f64),
    };
    let mut total = T::zero();
    for r in 0..rows {
        let (orow, grow) = (
            &o[r * outputs..(r + 1) * outputs],
            &mut grad[r * outputs..(r + 1) * outputs],
        );
        if !mask.is_none_or(|m| m[r]) {
            grow.fill(T::zero());
            continue;
        }
        match (kind, targets) {
            (OutputKind::Softmax, Targets::Classes(y)) => {
                // e_j = exp(o_tj - max_j o_tj), kept in grow (one exp per logit)
                let m = orow.iter().copied().fold(T::neg_infinity(), T::max);
                exp_shifted(orow, m, grow);
                let z = crate::kernels::sum(grow);
                total += m + z.ln() - orow[y[r]]; // E_t = log sum_j e^{o_tj} - o_t[y_t]
                let k = scale / z;
                for gv in grow.iter_mut() {
                    *gv *= k; // p_t = e / z
                }
                grow[y[r]] -= scale; // p_t - onehot(y_t)
            }
            (OutputKind::Identity, Targets::Values(y)) => {
                let yrow = &y[r * outputs..(r + 1) * outputs];
                let mut e = T::zero();
                for ((gv, &ov), &yv) in grow.iter_mut().zip(orow).zip(yrow) {
                    let d = ov - yv;
                    e += d * d;
                    *gv = d * scale; // o_t - y_t
                }
                total += T::of(0.5) * e; // E_t = 0.5 ||o_t - y_t||^2
            }
            (OutputKind::Softmax, Targets::Values(_))
            | (OutputKind::Identity, Targets::Classes(_)) => {
                panic!("loss_and_grad: softmax needs class targets, identity needs value targets")
            }
        }
    }
    total * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_classes() {
        // o = (0, 0, 0): p = 1/3 each, E = ln 3, dE/do = (1/3, 1/3, -2/3) for y = 2
        let mut g = vec![0.0; 3];
        let e = loss_and_grad(
            OutputKind::Softmax,
            &[0.0, 0.0, 0.0],
            3,
            Targets::Classes(&[2]),
            None,
            Reduction::Sum,
            &mut g,
        )
        .unwrap();
        assert!((e - 3f64.ln()).abs() < 1e-15);
        assert!((g[0] - 1.0 / 3.0).abs() < 1e-15 && (g[2] + 2.0 / 3.0).abs() < 1e-15);
    }

    /// Each misuse is an error naming the argument (each was a panic: an
    /// index out of bounds, a division by zero or an explicit `panic!`),
    /// and `grad` is left as it was.
    #[test]
    fn misuses_are_errors_naming_the_argument() {
        let o = [0.0f64; 6]; // [N = 2, O = 3]
        let call = |outputs: usize, t: Targets<f64>, mask: Option<&[bool]>, g: &mut [f64]| {
            let k = match t {
                Targets::Classes(_) => OutputKind::Softmax,
                Targets::Values(_) => OutputKind::Identity,
            };
            loss_and_grad(k, &o, outputs, t, mask, Reduction::Sum, g)
        };
        let arg = |r: Result<f64>| match r.unwrap_err() {
            Error::Argument { arg, .. } => arg,
            e => panic!("{e}"),
        };
        let mut g = [7.0; 6];
        assert_eq!(
            arg(call(3, Targets::Classes(&[0, 5]), None, &mut g)),
            "targets[1]"
        );
        assert_eq!(
            arg(call(0, Targets::Classes(&[0, 0]), None, &mut g)),
            "outputs"
        );
        assert_eq!(
            arg(call(4, Targets::Classes(&[0, 0]), None, &mut g)),
            "outputs"
        );
        assert_eq!(arg(call(3, Targets::Classes(&[]), None, &mut g)), "targets");
        assert_eq!(
            arg(call(3, Targets::Classes(&[0, 0]), None, &mut [])),
            "grad"
        );
        assert_eq!(
            arg(call(3, Targets::Classes(&[0, 0]), Some(&[true]), &mut g)),
            "mask"
        );
        assert_eq!(
            arg(call(3, Targets::Values(&[0.0]), None, &mut g)),
            "targets"
        );
        let wrong_kind = loss_and_grad(
            OutputKind::Softmax,
            &o,
            3,
            Targets::Values(&o),
            None,
            Reduction::Sum,
            &mut g,
        );
        assert_eq!(arg(wrong_kind), "targets");
        assert_eq!(g, [7.0; 6]);
        // a class past O in a masked (padding) row is not read
        call(3, Targets::Classes(&[0, 5]), Some(&[true, false]), &mut g).unwrap();
    }

    #[test]
    fn log_sum_exp_does_not_overflow() {
        let v = log_sum_exp(&[1000.0f64, 1000.0]);
        assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn masked_rows_count_for_nothing() {
        let o = [0.3f64, -0.2, 5.0, 7.0];
        let mut g = vec![9.0; 4];
        let e = loss_and_grad(
            OutputKind::Identity,
            &o,
            2,
            Targets::Values(&[0.3, 0.0, 0.0, 0.0]),
            Some(&[true, false]),
            Reduction::Mean,
            &mut g,
        )
        .unwrap();
        assert!((e - 0.5 * 0.04).abs() < 1e-15);
        assert_eq!(&g[2..], &[0.0, 0.0]);
    }
}
