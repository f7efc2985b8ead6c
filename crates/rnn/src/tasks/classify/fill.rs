//! Missing values (`?` in `.ts` files, empty/`NA`/`NaN`/`?` cells in CSV
//! files) inside a series, filled per dimension.

use crate::tasks::fill::fill_gaps;
pub use crate::tasks::fill::{is_missing, Fill};

/// Whether a class label means "no label": what [`is_missing`] takes for a
/// missing value, but `none` and `-`, which name classes (an activity
/// "none", a sign "-").
pub(crate) fn is_missing_label(label: &str) -> bool {
    let l = label.trim();
    is_missing(l) && !l.eq_ignore_ascii_case("none") && l != "-"
}

/// Fills the missing values of one series, `[T, D]` row-major with `dims`
/// values per step, dimension by dimension. Returns the values and how many
/// were filled; the error names the first dimension (0-based) that has no
/// value at all, or says a value is missing when `fill` is [`Fill::None`].
///
/// ```
/// use rnn::tasks::classify::{fill_series, Fill};
/// // T = 4 steps of D = 1
/// let v = [Some(1.0), None, Some(3.0), None];
/// assert_eq!(fill_series(&v, 1, Fill::Linear).unwrap(), (vec![1.0, 2.0, 3.0, 3.0], 2));
/// assert_eq!(fill_series(&v, 1, Fill::Ffill).unwrap().0, [1.0, 1.0, 3.0, 3.0]);
/// assert!(fill_series(&[None, None], 1, Fill::Linear).is_err());
/// ```
pub fn fill_series(
    values: &[Option<f64>],
    dims: usize,
    fill: Fill,
) -> std::result::Result<(Vec<f64>, usize), String> {
    let steps = values.len() / dims.max(1);
    let mut out = vec![0.0; values.len()];
    let mut filled = 0;
    for d in 0..dims {
        let column: Vec<Option<f64>> = (0..steps).map(|t| values[t * dims + d]).collect();
        if column.iter().all(Option::is_none) {
            return Err(format!(
                "dimension {} has no values (all {steps} missing)",
                d + 1
            ));
        }
        if fill == Fill::None {
            if let Some(t) = column.iter().position(Option::is_none) {
                return Err(format!(
                    "missing value at step {} of dimension {} (--fill none)",
                    t + 1,
                    d + 1
                ));
            }
        }
        let (col, n) = fill_gaps(&column, fill)?;
        filled += n;
        for (t, v) in col.into_iter().enumerate() {
            out[t * dims + d] = v;
        }
    }
    Ok((out, filled))
}

#[cfg(test)]
mod tests {
    /// A label is missing as a value is, but for `none` and `-`, which can
    /// name classes.
    #[test]
    fn none_and_a_dash_are_labels_not_gaps() {
        use super::is_missing_label;
        assert!(is_missing_label("NaN") && is_missing_label(" ") && is_missing_label("?"));
        assert!(!is_missing_label("none") && !is_missing_label("-") && !is_missing_label("walk"));
        assert!(super::is_missing("none") && super::is_missing("-"));
    }
}
