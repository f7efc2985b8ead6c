//! The step between a column's rows, in words ("1 month", "1 day"), one
//! way for every label form that writes it: so that a model trained on one
//! file can tell when it is given rows of another spacing (a monthly
//! model fed daily rows reads each day as a month).

use super::{date_of, month_step, parse_column, same_kind, time_months, Kind, Stamp};

/// A step between two labels in one unit of each family: calendar months
/// (months, quarters, month-apart dates), days (dates, weeks), seconds
/// (date-times, Unix times, less than a day or not whole days), or a plain
/// integer (years or an index: the labels do not say which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Months(i64),
    Days(i64),
    Seconds(i64),
    Integer(i64),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: i64, one: &str| match n {
            1 => format!("1 {one}"),
            n => format!("{n} {one}s"),
        };
        match *self {
            Step::Months(m) if m % 12 == 0 => write!(f, "{}", plural(m / 12, "year")),
            Step::Months(m) => write!(f, "{}", plural(m, "month")),
            Step::Days(d) => write!(f, "{}", plural(d, "day")),
            Step::Seconds(s) if s % 3600 == 0 => write!(f, "{}", plural(s / 3600, "hour")),
            Step::Seconds(s) if s % 60 == 0 => write!(f, "{}", plural(s / 60, "minute")),
            Step::Seconds(s) => write!(f, "{}", plural(s, "second")),
            Step::Integer(n) => write!(f, "{n} (integer labels)"),
        }
    }
}

/// The step from label `a` to label `b` of the same kind, `None` when they
/// are of different kinds or `b` is not after `a`.
fn step(a: Stamp, b: Stamp) -> Option<Step> {
    if !same_kind(a, b) {
        return None;
    }
    let d = b.v.checked_sub(a.v).filter(|&d| d > 0)?;
    // seconds: whole days are days (a daily date-time column steps as a date one)
    let seconds = |s: i64| match s % 86400 {
        0 => Step::Days(s / 86400),
        _ => Step::Seconds(s),
    };
    Some(match a.kind {
        Kind::Int => Step::Integer(d),
        Kind::Month(_) => Step::Months(d),
        Kind::Quarter(_) => Step::Months(d.checked_mul(3)?),
        Kind::Week => Step::Days(d.checked_mul(7)?),
        Kind::Day(_) => match date_of(a.v)
            .zip(date_of(b.v))
            .and_then(|(x, y)| month_step(x, y))
        {
            Some((m, _)) => Step::Months(m),
            None => Step::Days(d),
        },
        Kind::Time(..) | Kind::Epoch { .. } => match time_months(a, b) {
            Some((_, (m, _))) => Step::Months(m),
            None => seconds(d),
        },
        // decimal years of R's ts: f periods a year
        Kind::Fraction { f, .. } => match f {
            12 => Step::Months(d),
            4 => Step::Months(d.checked_mul(3)?),
            52 => Step::Days(d.checked_mul(7)?),
            7 => Step::Days(d),
            24 => Step::Seconds(d.checked_mul(3600)?),
            _ => return None,
        },
    })
}

/// The usual step between the rows of a column of time labels, in words:
/// the most common step between neighbours among the first 50 labels (the
/// smaller on a tie; a gap or a weekend does not change it), written in one
/// unit per family whatever the labels' form (`2001-02`, `2001Q1`,
/// `2001-02-28`, R's `2001.083`): months (`1 month`, `3 months`, `1 year`
/// for dates a year apart), days (`1 day`, `7 days` for weeks), hours,
/// minutes or seconds, or `N (integer labels)` for years and indexes
/// alike. `None` when the labels are not understood, of mixed forms, or
/// fewer than two.
///
/// ```
/// use rnn::tasks::forecast::time_step;
/// let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert_eq!(time_step(&l(&["2001-01", "2001-02", "2001-03"])).unwrap(), "1 month");
/// assert_eq!(time_step(&l(&["2001-01-31", "2001-02-28"])).unwrap(), "1 month");
/// assert_eq!(time_step(&l(&["1949", "1949.08333333333", "1949.16666666667"])).unwrap(), "1 month");
/// assert_eq!(time_step(&l(&["1960Q3", "1960Q4"])).unwrap(), "3 months");
/// assert_eq!(time_step(&l(&["2001-02-01", "2001-05-01"])).unwrap(), "3 months");
/// // working days: the weekend's 3-day step is the rarer one
/// assert_eq!(time_step(&l(&["2020-04-16", "2020-04-17", "2020-04-20", "2020-04-21"])).unwrap(), "1 day");
/// assert_eq!(time_step(&l(&["2020-W05", "2020-W06"])).unwrap(), "7 days");
/// assert_eq!(time_step(&l(&["2020-01-01 00:00", "2020-01-01 01:00"])).unwrap(), "1 hour");
/// assert_eq!(time_step(&l(&["1700", "1701"])).unwrap(), "1 (integer labels)");
/// assert_eq!(time_step(&l(&["a", "b"])), None);
/// ```
pub fn time_step(labels: &[String]) -> Option<String> {
    time_step_at(labels).map(|(step, _)| step)
}

/// [`time_step`] and the first row `i` whose step to row `i + 1` is that
/// step, so that a message can show two labels that step as it says (the
/// first two may straddle a gap or a weekend).
pub(crate) fn time_step_at(labels: &[String]) -> Option<(String, usize)> {
    let head = &labels[..labels.len().min(50)];
    let stamps: Vec<Stamp> = parse_column(head).into_iter().collect::<Option<_>>()?;
    // each step's count and the first row it is seen at
    let mut counts = std::collections::BTreeMap::new();
    for (i, w) in stamps.windows(2).enumerate() {
        counts.entry(step(w[0], w[1])?).or_insert((0usize, i)).0 += 1;
    }
    // the most common; on a tie the first in order (the smaller step)
    let (s, (_, first)) = counts.iter().rev().max_by_key(|(_, &(n, _))| n)?;
    Some((s.to_string(), *first))
}
