//! Missing values (`?` in `.ts` files, empty/`NA`/`NaN`/`?` cells in CSV
//! files) inside a series, filled per dimension.

use serde::{Deserialize, Serialize};

/// How missing values inside a series are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Fill {
    /// A missing value is an error naming its line.
    None,
    /// Linear interpolation between the neighbouring known values of the
    /// same dimension; missing values before the first or after the last
    /// known value take that value.
    #[default]
    Linear,
    /// The previous known value (missing values at the start take the first
    /// known value).
    Ffill,
}

impl Fill {
    /// The lowercase name (`none`, `linear`, `ffill`).
    ///
    /// ```
    /// assert_eq!(rnn::tasks::classify::Fill::Linear.name(), "linear");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Fill::None => "none",
            Fill::Linear => "linear",
            Fill::Ffill => "ffill",
        }
    }
}

/// Whether a text value means "missing": `?`, empty, `NA`, `N/A`, `NaN`, `null`.
pub fn is_missing(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty()
        || ["?", "na", "n/a", "nan", "null"]
            .iter()
            .any(|m| c.eq_ignore_ascii_case(m))
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
        let at = |t: usize| values[t * dims + d];
        let known: Vec<usize> = (0..steps).filter(|&t| at(t).is_some()).collect();
        let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
            return Err(format!(
                "dimension {} has no values (all {steps} missing)",
                d + 1
            ));
        };
        if fill == Fill::None && known.len() < steps {
            let t = (0..steps).find(|&t| at(t).is_none()).unwrap_or(0);
            return Err(format!(
                "missing value at step {} of dimension {} (--fill none)",
                t + 1,
                d + 1
            ));
        }
        let val = |t: usize| at(t).unwrap_or(0.0);
        let mut prev = first;
        for t in 0..steps {
            let v = match at(t) {
                Some(v) => {
                    prev = t;
                    v
                }
                None => {
                    filled += 1;
                    if t < first {
                        val(first)
                    } else if t > last || fill == Fill::Ffill {
                        val(prev)
                    } else {
                        let next = known[known.partition_point(|&k| k < t)];
                        let w = (t - prev) as f64 / (next - prev) as f64;
                        val(prev) + w * (val(next) - val(prev))
                    }
                }
            };
            out[t * dims + d] = v;
        }
    }
    Ok((out, filled))
}
