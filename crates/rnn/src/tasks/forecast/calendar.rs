//! Time-label arithmetic: labels (years, `YYYY-MM`, `YYYY-Qn`, dates) as
//! points on an axis, continued past the end of a series, and the default
//! season they imply.

/// A time label understood as a point on a numeric axis.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stamp {
    /// A plain integer (a year, an index).
    Int(i64),
    /// `YYYY-MM`: months since year 0.
    Month(i64),
    /// `YYYY-Qn`: quarters since year 0.
    Quarter(i64),
    /// `YYYY-MM-DD` (dashes) or `YYYYMMDD` (compact): days since 1970-01-01.
    Day(i64, bool),
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn parse_stamp(s: &str) -> Option<Stamp> {
    let s = s.trim();
    let nums: Vec<&str> = s.split(['-', '/']).collect();
    let int = |t: &str| t.parse::<i64>().ok();
    match nums.as_slice() {
        [y] if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) => {
            let v = int(y)?;
            let (yy, mm, dd) = (v / 10000, v / 100 % 100, v % 100);
            if (1..=12).contains(&mm) && (1..=31).contains(&dd) {
                Some(Stamp::Day(days_from_civil(yy, mm, dd), true))
            } else {
                Some(Stamp::Int(v))
            }
        }
        [y] => {
            if let Some((yy, q)) = y.split_once(['Q', 'q']) {
                let (yy, q) = (int(yy)?, int(q)?);
                if !(1..=4).contains(&q) {
                    return None;
                }
                return Some(Stamp::Quarter(yy * 4 + q - 1));
            }
            int(y).map(Stamp::Int)
        }
        [y, q] if q.starts_with(['Q', 'q']) => {
            let (y, q) = (int(y)?, int(&q[1..])?);
            if !(1..=4).contains(&q) {
                return None;
            }
            Some(Stamp::Quarter(y * 4 + q - 1))
        }
        [y, m] => {
            let (yy, m) = (int(y)?, int(m)?);
            if y.len() != 4 || !(1..=12).contains(&m) {
                return None;
            }
            Some(Stamp::Month(yy * 12 + m - 1))
        }
        [y, m, d] => {
            let (y, m, d) = (int(y)?, int(m)?, int(d)?);
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                return None;
            }
            Some(Stamp::Day(days_from_civil(y, m, d), false))
        }
        _ => None,
    }
}

fn stamp_value(s: Stamp) -> f64 {
    match s {
        Stamp::Int(v) => v as f64,
        Stamp::Month(m) => m as f64 / 12.0,
        Stamp::Quarter(q) => q as f64 / 4.0,
        Stamp::Day(d, _) => 1970.0 + d as f64 / 365.2425,
    }
}

fn format_stamp(s: Stamp) -> String {
    match s {
        Stamp::Int(v) => v.to_string(),
        Stamp::Month(m) => format!("{}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
        Stamp::Quarter(q) => format!("{}-Q{}", q.div_euclid(4), q.rem_euclid(4) + 1),
        Stamp::Day(d, compact) => {
            let (y, m, dd) = civil_from_days(d);
            if compact {
                format!("{y}{m:02}{dd:02}")
            } else {
                format!("{y}-{m:02}-{dd:02}")
            }
        }
    }
}

fn same_kind(a: Stamp, b: Stamp) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

fn stamp_index(s: Stamp) -> i64 {
    match s {
        Stamp::Int(v) | Stamp::Month(v) | Stamp::Quarter(v) | Stamp::Day(v, _) => v,
    }
}

fn with_index(s: Stamp, v: i64) -> Stamp {
    match s {
        Stamp::Int(_) => Stamp::Int(v),
        Stamp::Month(_) => Stamp::Month(v),
        Stamp::Quarter(_) => Stamp::Quarter(v),
        Stamp::Day(_, c) => Stamp::Day(v, c),
    }
}

/// Positions of the labels on a numeric axis (years for dates, months and
/// quarters; the value for integers; the row index when labels are not all
/// understood).
pub fn time_axis(labels: &[String]) -> Vec<f64> {
    let stamps: Option<Vec<Stamp>> = labels.iter().map(|l| parse_stamp(l)).collect();
    match stamps {
        Some(s) if s.windows(2).all(|w| same_kind(w[0], w[1])) => {
            s.into_iter().map(stamp_value).collect()
        }
        _ => (0..labels.len()).map(|i| i as f64).collect(),
    }
}

/// The labels of the `k` steps after the last label, continuing the last step
/// (a year after a year, a month after a month, the same number of days);
/// `last+1`, `last+2`, ... when the labels are not understood.
pub fn extend_time(labels: &[String], k: usize) -> Vec<String> {
    let n = labels.len();
    let parsed = |i: usize| labels.get(i).and_then(|l| parse_stamp(l));
    if n >= 2 {
        if let (Some(a), Some(b)) = (parsed(n - 2), parsed(n - 1)) {
            let step = stamp_index(b) - stamp_index(a);
            if same_kind(a, b) && step > 0 {
                return (1..=k as i64)
                    .map(|j| format_stamp(with_index(b, stamp_index(b) + j * step)))
                    .collect();
            }
        }
    }
    let last = labels.last().map_or("", String::as_str);
    (1..=k).map(|j| format!("{last}+{j}")).collect()
}

/// The default season for seasonal-naive forecasts and MASE: 12 when the
/// labels are monthly (`YYYY-MM`, or dates 28–31 days apart), 4 when
/// quarterly (`YYYY-Qn`, or dates 89–92 days apart), 1 otherwise.
pub fn default_season(labels: &[String]) -> usize {
    let stamps: Option<Vec<Stamp>> = labels.iter().take(50).map(|l| parse_stamp(l)).collect();
    let Some(s) = stamps.filter(|s| s.len() >= 2) else {
        return 1;
    };
    match (s[0], s[1]) {
        (Stamp::Month(_), Stamp::Month(_)) => 12,
        (Stamp::Quarter(_), Stamp::Quarter(_)) => 4,
        (Stamp::Day(a, _), Stamp::Day(b, _)) if (28..=31).contains(&(b - a)) => 12,
        (Stamp::Day(a, _), Stamp::Day(b, _)) if (89..=92).contains(&(b - a)) => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_labels() {
        let m: Vec<String> = ["1960-11", "1960-12"].map(String::from).to_vec();
        assert_eq!(extend_time(&m, 2), ["1961-01", "1961-02"]);
        assert_eq!(default_season(&m), 12);
        let y: Vec<String> = ["2007", "2008"].map(String::from).to_vec();
        assert_eq!(extend_time(&y, 1), ["2009"]);
        assert_eq!(default_season(&y), 1);
        let d: Vec<String> = ["19580419", "19580426"].map(String::from).to_vec();
        assert_eq!(extend_time(&d, 1), ["19580503"]);
        let q: Vec<String> = ["1999-Q4", "2000-Q1"].map(String::from).to_vec();
        assert_eq!(extend_time(&q, 1), ["2000-Q2"]);
        assert_eq!(default_season(&q), 4);
        let x: Vec<String> = ["a", "b"].map(String::from).to_vec();
        assert_eq!(extend_time(&x, 1), ["b+1"]);
        assert!((time_axis(&m)[1] - time_axis(&m)[0] - 1.0 / 12.0).abs() < 1e-9);
    }
}
