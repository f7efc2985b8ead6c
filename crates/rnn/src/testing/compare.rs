//! How recomputed tensors compare with the values a case file holds: what
//! `rnn reference` and `rnn trajectory` print beside the file they write.

use crate::io::{TensorFile, TensorWriter};
use crate::testing::reference::diff_and_scale;
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// One recomputed tensor against the case's own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorCheck {
    /// The tensor's name (`dW`, `losses`, `U_final`, ...).
    pub name: String,
    /// `max |ours - case|`.
    pub max_abs_diff: f64,
    /// That over `max |case|` ([`crate::testing::reference::relative_error`]):
    /// NaN when the recomputed tensor holds a NaN (a case's own tensor of
    /// another shape, or with a NaN or infinity, is an error).
    pub relative_error: f64,
}

/// Each tensor of `computed` that the case file at `case` holds too, in
/// name order; the case's other tensors (weights, inputs) and computed
/// ones it lacks are left out.
///
/// # Errors
///
/// [`crate::Error::Data`] naming the case file and the tensor when the
/// case's tensor has another shape than the recomputed one, or holds a
/// value that is not finite.
///
/// ```
/// use rnn::io::TensorWriter;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-compare-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let case = dir.join("case.safetensors");
/// let mut c = TensorWriter::new();
/// c.add::<f64>("loss", &[1], &[2.0]);
/// c.add::<f64>("W", &[1], &[0.5]);
/// c.write(&case)?;
/// let mut ours = TensorWriter::new();
/// ours.add::<f64>("loss", &[1], &[2.5]);
/// ours.add::<f64>("extra", &[1], &[1.0]);
/// let checks = rnn::testing::compare::against_case(&case, &ours)?;
/// assert_eq!(checks.len(), 1);
/// assert_eq!((checks[0].max_abs_diff, checks[0].relative_error), (0.5, 0.25));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn against_case(case: &Path, computed: &TensorWriter) -> Result<Vec<TensorCheck>> {
    let theirs = TensorFile::read(case)?;
    let ours = TensorFile::from_bytes("computed".into(), computed.to_bytes()?)?;
    let mut checks = Vec::new();
    for name in ours.names() {
        if !theirs.has(&name) {
            continue;
        }
        let (a, b) = (ours.f64(&name)?, theirs.f64(&name)?);
        // a case whose expected values cannot be compared is malformed (a
        // `steps` that disagrees with its `losses`, an edited tensor): an
        // error, not an infinite or NaN error reported with exit 0
        let bad = |reason: String| crate::Error::Data {
            path: case.to_path_buf(),
            reason,
        };
        if a.shape != b.shape {
            return Err(bad(format!(
                "tensor '{name}' has shape {:?}, expected {:?} (as recomputed from the case's inputs and settings)",
                b.shape, a.shape
            )));
        }
        if let Some(i) = b.data.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor '{name}' element {i}: {} is not a finite number",
                b.data[i]
            )));
        }
        let (diff, scale) = diff_and_scale(&a.data, &b.data);
        let relative_error = if scale > 0.0 { diff / scale } else { diff };
        checks.push(TensorCheck {
            name,
            max_abs_diff: diff,
            relative_error,
        });
    }
    checks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(checks)
}

/// The check with the largest relative error (a NaN counts as the
/// largest), if any.
pub fn worst(checks: &[TensorCheck]) -> Option<&TensorCheck> {
    let key = |c: &TensorCheck| match c.relative_error.is_nan() {
        true => f64::INFINITY,
        false => c.relative_error,
    };
    checks.iter().max_by(|a, b| key(a).total_cmp(&key(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case whose expected tensor has another shape than the recomputed
    /// one, or a NaN, is an error naming the file and the tensor (it was an
    /// infinite or NaN "largest relative error" and exit 0).
    #[test]
    fn a_case_tensor_of_another_shape_or_with_a_nan_is_an_error() {
        let dir = std::env::temp_dir().join(format!("rnn-compare-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let case = dir.join("case.safetensors");
        // `losses` of this shape and these values
        let losses = |shape: usize, v: &[f64]| {
            let mut w = TensorWriter::new();
            w.add::<f64>("losses", &[shape], v);
            w
        };
        let ours = losses(3, &[1.0, 2.0, 3.0]);
        losses(6, &[1.0; 6]).write(&case).unwrap();
        let e = against_case(&case, &ours).unwrap_err().to_string();
        assert!(
            e.ends_with("case.safetensors: tensor 'losses' has shape [6], expected [3] (as recomputed from the case's inputs and settings)"),
            "{e}"
        );
        losses(3, &[1.0, f64::NAN, 3.0]).write(&case).unwrap();
        let e = against_case(&case, &ours).unwrap_err().to_string();
        assert!(
            e.ends_with("case.safetensors: tensor 'losses' element 1: NaN is not a finite number"),
            "{e}"
        );
        // a NaN of ours is reported, not refused: it is what the check is for
        ours.write(&case).unwrap();
        let checks = against_case(&case, &losses(3, &[1.0, f64::NAN, 3.0])).unwrap();
        assert!(worst(&checks).unwrap().relative_error.is_nan());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
