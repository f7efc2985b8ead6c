//! Missing values: which cells are gaps and how gaps are filled (a
//! forecaster's CSV column; each dimension of a classifier's series).

use serde::{Deserialize, Serialize};

/// How gaps (missing values) in a numeric column or series are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Fill {
    /// A gap is an error naming its line and column.
    #[default]
    None,
    /// Linear interpolation between the neighbouring known values (gaps at
    /// the start or end take the nearest known value).
    Linear,
    /// The last known value (gaps at the start take the first known value).
    Ffill,
}

impl Fill {
    /// Parses `none`, `linear` or `ffill`.
    pub fn parse(s: &str) -> Option<Fill> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Fill::None),
            "linear" => Some(Fill::Linear),
            "ffill" => Some(Fill::Ffill),
            _ => None,
        }
    }

    /// The lowercase name (`none`, `linear`, `ffill`).
    ///
    /// ```
    /// use rnn::tasks::forecast::Fill;
    /// assert_eq!(Fill::parse("FFILL").map(Fill::name), Some("ffill"));
    /// // the classifier's --fill is the same type
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

/// Whether a cell means "no value": empty, `NA`, `N/A`, `NaN`, `null`,
/// `none`, `?`, `-`, or a spreadsheet's `#N/A`.
pub fn is_missing(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty()
        || ["na", "n/a", "#n/a", "nan", "null", "none", "?", "-"]
            .iter()
            .any(|m| c.eq_ignore_ascii_case(m))
}

/// Why a cell that is not a gap gives no value: what the two readers
/// (classification and forecasting files) say of it, the number as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Not a number at all (`abc`).
    NotANumber,
    /// `inf` or `NaN` as written.
    NotFinite,
    /// A number beyond `limit` (1e309 reads as inf in f64; 1e200 is beyond f32).
    Beyond,
}

/// `text` (trimmed) as a number of magnitude at most `limit`.
pub(crate) fn read_number(text: &str, limit: f64) -> Result<f64, Unreadable> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(v) if v.abs() <= limit => Ok(v),
        // `inf`, `NaN`; a number as large as 1e400 is read as inf too
        Ok(v) if v.is_nan() || text.to_ascii_lowercase().contains("inf") => {
            Err(Unreadable::NotFinite)
        }
        Ok(_) => Err(Unreadable::Beyond),
        Err(_) => Err(Unreadable::NotANumber),
    }
}

/// Fills the gaps of a column. Returns the values and how many were filled;
/// an all-missing column is an error.
pub fn fill_gaps(
    values: &[Option<f64>],
    fill: Fill,
) -> std::result::Result<(Vec<f64>, usize), String> {
    let known: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return Err("no values at all".into());
    };
    let val = |i: usize| values[i].unwrap_or(0.0);
    let mut out = Vec::with_capacity(values.len());
    let mut filled = 0;
    let mut prev = first; // last known index at or before i
    for i in 0..values.len() {
        if let Some(v) = values[i] {
            prev = i;
            out.push(v);
            continue;
        }
        filled += 1;
        let v = if i < first {
            val(first)
        } else if i > last || fill == Fill::Ffill {
            val(prev)
        } else {
            // next known index after i
            let next = known[known.partition_point(|&k| k < i)];
            let w = (i - prev) as f64 / (next - prev) as f64;
            val(prev) + w * (val(next) - val(prev))
        };
        out.push(v);
    }
    Ok((out, filled))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_spreadsheets_na_is_missing_its_errors_are_not() {
        assert!(super::is_missing(" #N/A") && super::is_missing("NaN") && super::is_missing(""));
        assert!(!super::is_missing("0") && !super::is_missing("#VALUE!"));
        assert!(crate::tasks::classify::is_missing("#n/a"));
        // one list for both readers; a class label may be "none" or "-"
        assert!(
            crate::tasks::classify::is_missing("-") && crate::tasks::classify::is_missing("None")
        );
    }
}
