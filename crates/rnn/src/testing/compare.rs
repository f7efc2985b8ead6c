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
    /// NaN when either side holds a NaN, infinite for another shape.
    pub relative_error: f64,
}

/// Each tensor of `computed` that the case file at `case` holds too, in
/// name order; the case's other tensors (weights, inputs) and computed
/// ones it lacks are left out.
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
        let (diff, scale) = match a.shape == b.shape {
            true => diff_and_scale(&a.data, &b.data),
            false => (f64::INFINITY, 0.0),
        };
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
