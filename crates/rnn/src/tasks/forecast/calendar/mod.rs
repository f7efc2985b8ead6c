//! Time-label arithmetic: labels (years, months `YYYY-MM`, `1986M01`,
//! `Jan 1986`, `Jan-86`, `1/86`, quarters `YYYYQn`,
//! `YYYY-Qn` and `YYYY Qn`, ISO dates (`-` or `/`), date-times with or
//! without a UTC offset, dates such as `Jan 1 2000`, `31.01.2000` or
//! `1/31/2000` (the column says which order; also with two-digit years,
//! `1/31/00`), ISO weeks `2020-W05`, Unix times in seconds or milliseconds,
//! decimal years as R's `time()` writes them) as points on
//! an axis, continued past the end of a series, and the default season they
//! imply. Dates and times are parsed, stepped and formatted with `chrono`.

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveDateTime};

mod dates;
mod months;
mod step;

pub(crate) use months::month_of_name;
use months::{format_month, month_label, MonthStyle};
pub use step::time_step;
pub(crate) use step::time_step_at;

/// How a date-time label gives its zone.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Zone {
    /// No offset: a local (naive) date-time.
    Naive,
    /// A trailing `Z` (UTC).
    Utc,
    /// An offset such as `+01:00`, kept for the labels written after it.
    Offset(FixedOffset),
}

/// What a label is, with the format it is written in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A plain integer (a year, an index).
    Int,
    /// A month written as [`MonthStyle`] says: the value counts months
    /// since year 0.
    Month(MonthStyle),
    /// `YYYYQn`, `YYYY-Qn` or `YYYY Qn` (the separator before the `Q`):
    /// quarters since year 0.
    Quarter(&'static str),
    /// A date in this chrono format: days since 0001-01-01.
    Day(&'static str),
    /// A date-time in this chrono format (zone aside): seconds since the
    /// Unix epoch (UTC when the label has an offset).
    Time(&'static str, Zone),
    /// An ISO week `YYYY-Www`: weeks since the Monday of 0001-01-01.
    Week,
    /// Unix time written as an integer, in seconds or (`ms`) milliseconds
    /// ([`epoch_times`]): seconds since the epoch.
    Epoch { ms: bool },
    /// A decimal year `y + k/f` (`1920.08333333333`: R's `time()` of a
    /// monthly `ts`), `f` periods a year (4, 7, 12, 24 or 52), written with up to
    /// `digits` decimals: periods since year 0 (for 7 and 24, cycles of a
    /// week or a day stand for the years). Recognised over a whole
    /// column only (see [`decimal_years`]): one label cannot tell a month
    /// from a quarter (0.25 is both).
    Fraction { f: i64, digits: usize },
}

/// The periods a "year" (a `ts` cycle) that decimal labels may step by:
/// R's usual `ts` frequencies: quarterly, monthly, weekly, and daily or
/// hourly series with a weekly or daily cycle (`ts(x, frequency = 7)`,
/// `frequency = 24`). Other fractions (0.1, 0.5) are more often
/// measurements than calendars and are left as numbers.
const DECIMAL_FREQUENCIES: [i64; 5] = [4, 7, 12, 24, 52];

/// When the labels that are numbers are decimal years (some with a
/// fraction, their smallest step `1/f` for `f` in [`DECIMAL_FREQUENCIES`],
/// each a whole number of periods `1/f`): each label's stamp (`None` for a
/// label that is not a number), read once.
fn decimal_years(labels: &[String]) -> Option<Vec<Option<Stamp>>> {
    let mut column = Vec::with_capacity(labels.len());
    let (mut fractional, mut digits) = (false, 0);
    for l in labels {
        let t = l.trim();
        let Ok(x) = t.parse::<f64>() else {
            column.push(None); // not a number: that row's label is not understood
            continue;
        };
        if !x.is_finite() || t.contains(['e', 'E']) {
            return None;
        }
        if let Some((_, dec)) = t.split_once('.') {
            fractional |= dec.bytes().any(|b| b != b'0');
            digits = digits.max(dec.len());
        }
        column.push(Some(x));
    }
    let xs: Vec<f64> = column.iter().flatten().copied().collect();
    if !fractional || xs.len() < 2 {
        return None;
    }
    let step = xs
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 1e-9)
        .fold(f64::INFINITY, f64::min);
    let f = DECIMAL_FREQUENCIES
        .into_iter()
        .find(|&f| (step * f as f64 - 1.0).abs() < 1e-6)?;
    // R writes 15 significant digits: a whole number of periods to 1e-6
    let whole = |x: f64| ((x * f as f64) - (x * f as f64).round()).abs() < 1e-6;
    if !xs.iter().all(|&x| whole(x)) {
        return None;
    }
    let kind = Kind::Fraction {
        f,
        digits: digits.min(15),
    };
    Some(
        column
            .into_iter()
            .map(|x| {
                x.map(|x| Stamp {
                    kind,
                    v: (x * f as f64).round() as i64,
                })
            })
            .collect(),
    )
}

/// Each label understood on its own ([`parse_stamp`]), or as decimal years
/// when the column is ([`decimal_years`]). Months with a two-digit year
/// (`1/86`, `Jan-86`) could be something else (`01/31` the 31st of
/// January, `Jan-15` its 15th): they are months only when the column runs
/// forward in them, else they are left not understood, as before they were
/// read at all. Last, what is still not understood is tried as dates in the
/// styles of [`dates`] (`Jan 1 2000`, `31.01.2000`, `1/31/2000`), one
/// format for the column.
fn parse_column(labels: &[String]) -> Vec<Option<Stamp>> {
    let short = |s: &Stamp| {
        matches!(
            s.kind,
            Kind::Month(MonthStyle::Slash(_, true) | MonthStyle::Name(_, _, true))
        )
    };
    let mut column = parse_each(labels);
    let months: Vec<i64> = column
        .iter()
        .flatten()
        .filter(|s| short(s))
        .map(|s| s.v)
        .collect();
    if !months.windows(2).all(|w| w[1] > w[0]) {
        for c in column.iter_mut() {
            if c.is_some_and(|s| short(&s)) {
                *c = None;
            }
        }
    }
    dates::dates_by_column(labels, &mut column);
    epoch_times(&mut column);
    column
}

/// [`parse_column`] before its check of months with two-digit years.
fn parse_each(labels: &[String]) -> Vec<Option<Stamp>> {
    decimal_years(labels).unwrap_or_else(|| labels.iter().map(|l| parse_stamp(l)).collect())
}

/// Whether every label of a column is understood as a time (a year, a
/// month, a date, ...): at least one label, none left as text.
pub(crate) fn understood(labels: &[String]) -> bool {
    !labels.is_empty() && parse_column(labels).iter().all(Option::is_some)
}

/// A time label understood as a point on a numeric axis.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stamp {
    kind: Kind,
    v: i64,
}

const DAY_FORMATS: [&str; 2] = ["%Y-%m-%d", "%Y/%m/%d"];
const TIME_FORMATS: [&str; 6] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
];

fn day(d: NaiveDate, fmt: &'static str) -> Stamp {
    Stamp {
        kind: Kind::Day(fmt),
        v: i64::from(d.num_days_from_ce()),
    }
}

fn quarter(y: &str, q: &str, sep: &'static str) -> Option<Stamp> {
    let (y, q) = (y.parse::<i64>().ok()?, q.parse::<i64>().ok()?);
    (y.abs() < 1_000_000 && (1..=4).contains(&q)).then_some(Stamp {
        kind: Kind::Quarter(sep),
        v: y * 4 + q - 1,
    })
}

fn parse_time(s: &str) -> Option<Stamp> {
    let (body, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (s, false),
    };
    for fmt in TIME_FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(body, fmt) {
            let zone = if utc { Zone::Utc } else { Zone::Naive };
            return Some(Stamp {
                kind: Kind::Time(fmt, zone),
                v: t.and_utc().timestamp(),
            });
        }
        if utc {
            continue;
        }
        if let Ok(t) = DateTime::parse_from_str(s, &format!("{fmt}%z")) {
            return Some(Stamp {
                kind: Kind::Time(fmt, Zone::Offset(*t.offset())),
                v: t.timestamp(),
            });
        }
    }
    None
}

fn parse_stamp(s: &str) -> Option<Stamp> {
    let s = s.trim();
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits && s.len() == 8 {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y%m%d") {
            return Some(day(d, "%Y%m%d"));
        }
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(Stamp { kind: Kind::Int, v });
    }
    if let Some((y, q)) = s.split_once("-Q").or_else(|| s.split_once("-q")) {
        return quarter(y, q, "-");
    }
    if let Some((y, q)) = s.split_once(" Q").or_else(|| s.split_once(" q")) {
        return quarter(y, q, " ");
    }
    if let Some((y, q)) = s.split_once(['Q', 'q']) {
        return quarter(y, q, "");
    }
    if let Some((y, m)) = s
        .split_once(['-', '/'])
        .filter(|(y, m)| y.len() == 4 && m.len() <= 2)
    {
        // YYYY-MM: chrono reads dates, so read the first of that month
        let d = NaiveDate::parse_from_str(&format!("{y}-{m}-01"), "%Y-%m-%d").ok()?;
        return Some(Stamp {
            kind: Kind::Month(MonthStyle::Iso),
            v: i64::from(d.year()) * 12 + i64::from(d.month0()),
        });
    }
    if let Some((y, w)) = s.split_once("-W").or_else(|| s.split_once("-w")) {
        return iso_week(y, w);
    }
    // ISO dates start with a four-digit year (chrono's %Y also reads
    // `1/1/10` as the year 1: such labels are spreadsheets' m/d/yy, read by
    // column in `dates`)
    let year4 = s
        .split(['-', '/'])
        .next()
        .is_some_and(|y| y.len() >= 4 && y.bytes().all(|b| b.is_ascii_digit()));
    for fmt in DAY_FORMATS.iter().filter(|_| year4) {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(day(d, fmt));
        }
    }
    month_label(s).or_else(|| parse_time(s).filter(|_| year4))
}

/// `YYYY-Www` (an ISO 8601 week, as Eurostat and the ECDC write them):
/// weeks since the Monday of 0001-01-01.
fn iso_week(y: &str, w: &str) -> Option<Stamp> {
    let (y, w) = (y.parse::<i32>().ok()?, w.parse::<u32>().ok()?);
    let monday = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon)?;
    Some(Stamp {
        kind: Kind::Week,
        // 0001-01-01 (day 1) is a Monday
        v: (i64::from(monday.num_days_from_ce()) - 1) / 7,
    })
}

/// Unix time: a column of integers from 10^8 to 10^10 (1973 to 2286) in
/// seconds, or from 10^11 to 10^13 in milliseconds, rising by whole
/// minutes (a count or an identifier seldom does both), at least two rows.
fn epoch_times(column: &mut [Option<Stamp>]) {
    let ints: Option<Vec<i64>> = column
        .iter()
        .map(|c| c.filter(|s| s.kind == Kind::Int).map(|s| s.v))
        .collect();
    let Some(v) = ints.filter(|v| v.len() >= 2) else {
        return;
    };
    for (ms, lo, hi, minute) in [(false, 1e8, 1e10, 60), (true, 1e11, 1e13, 60_000)] {
        let inside = v.iter().all(|&x| (lo..hi).contains(&(x as f64)));
        let minutes = v
            .windows(2)
            .all(|w| w[1] > w[0] && (w[1] - w[0]) % minute == 0);
        if inside && minutes {
            let scale = if ms { 1000 } else { 1 };
            for (c, &x) in column.iter_mut().zip(&v) {
                *c = Some(Stamp {
                    kind: Kind::Epoch { ms },
                    v: x / scale,
                });
            }
            return;
        }
    }
}

fn date_of(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?)
}

/// Years since year 0 of a day count (0001-01-01 = day 1).
fn day_years(days: i64) -> f64 {
    days as f64 / 365.2425
}

fn stamp_value(s: Stamp) -> f64 {
    match s.kind {
        Kind::Int => s.v as f64,
        Kind::Month(_) => s.v as f64 / 12.0,
        Kind::Quarter(_) => s.v as f64 / 4.0,
        Kind::Day(_) => day_years(s.v),
        Kind::Time(..) | Kind::Epoch { .. } => 1970.0 + s.v as f64 / (365.2425 * 86400.0),
        Kind::Week => day_years(s.v * 7 + 1),
        Kind::Fraction { f, .. } => s.v as f64 / f as f64,
    }
}

fn format_stamp(s: Stamp) -> String {
    match s.kind {
        Kind::Int => s.v.to_string(),
        Kind::Month(style) => format_month(style, s.v),
        Kind::Quarter(sep) => format!("{}{sep}Q{}", s.v.div_euclid(4), s.v.rem_euclid(4) + 1),
        Kind::Day(fmt) => {
            date_of(s.v).map_or_else(|| s.v.to_string(), |d| d.format(fmt).to_string())
        }
        Kind::Epoch { ms } => match ms {
            true => s.v.saturating_mul(1000).to_string(),
            false => s.v.to_string(),
        },
        Kind::Week => date_of(s.v * 7 + 1).map_or_else(
            || s.v.to_string(),
            |d| format!("{}-W{:02}", d.iso_week().year(), d.iso_week().week()),
        ),
        Kind::Time(fmt, zone) => match DateTime::from_timestamp(s.v, 0) {
            None => s.v.to_string(),
            Some(t) => match zone {
                Zone::Naive => t.naive_utc().format(fmt).to_string(),
                Zone::Utc => format!("{}Z", t.naive_utc().format(fmt)),
                Zone::Offset(o) => t.with_timezone(&o).format(&format!("{fmt}%:z")).to_string(),
            },
        },
        // as R writes them: the year alone at its start, else trailing
        // zeros left out
        Kind::Fraction { f, digits } => match s.v.rem_euclid(f) {
            0 => s.v.div_euclid(f).to_string(),
            _ => {
                let t = format!("{:.*}", digits.max(1), s.v as f64 / f as f64);
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            }
        },
    }
}

fn same_kind(a: Stamp, b: Stamp) -> bool {
    match (a.kind, b.kind) {
        (Kind::Time(f, _), Kind::Time(g, _)) => f == g,
        (Kind::Fraction { f, .. }, Kind::Fraction { f: g, .. }) => f == g,
        // months in any style are points on one axis (`May` is a name in
        // full and abbreviated)
        (Kind::Month(_), Kind::Month(_)) => true,
        (x, y) => x == y,
    }
}

/// Whole months from date `a` to date `b` when both fall on the same day of
/// the month or both on the last day of their month.
fn month_step(a: NaiveDate, b: NaiveDate) -> Option<(i64, bool)> {
    let month_end = |d: NaiveDate| d.succ_opt().is_some_and(|n| n.day() == 1);
    let end = month_end(a) && month_end(b);
    if a.day() != b.day() && !end {
        return None;
    }
    let m = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    Some((m(b) - m(a), end)).filter(|(k, _)| *k > 0)
}

/// The date `k` months after `d` (on the last day of the month when `end`).
fn add_months(d: NaiveDate, k: i64, end: bool) -> Option<NaiveDate> {
    let k = u32::try_from(k).ok()?;
    if end {
        let first = d.with_day(1)?.checked_add_months(Months::new(k + 1))?;
        first.pred_opt()
    } else {
        d.checked_add_months(Months::new(k))
    }
}

/// Positions of the labels on a numeric axis (years for dates, date-times,
/// months and quarters; the value for integers; the row index when labels
/// are not all understood, or not all of one kind).
pub fn time_axis(labels: &[String]) -> Vec<f64> {
    let stamps: Option<Vec<Stamp>> = parse_column(labels).into_iter().collect();
    match stamps {
        Some(s) if s.windows(2).all(|w| same_kind(w[0], w[1])) => {
            s.into_iter().map(stamp_value).collect()
        }
        _ => (0..labels.len()).map(|i| i as f64).collect(),
    }
}

/// The labels of the `k` steps after the last label, continuing the last step
/// (a year after a year, a month after a month, the same number of whole
/// months between dates on the same day of the month or month ends, else the
/// same number of days or seconds), in the last label's format (and UTC
/// offset); `last+1`, `last+2`, ... when the labels are not understood.
///
/// ```
/// use rnn::tasks::forecast::extend_time;
/// let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert_eq!(extend_time(&l(&["1960Q3", "1960Q4"]), 1).unwrap(), ["1961Q1"]);
/// assert_eq!(extend_time(&l(&["2020-01-31", "2020-02-29"]), 1).unwrap(), ["2020-03-31"]);
/// let t = l(&["2021-03-27T12:00:00+01:00", "2021-03-28T12:00:00+01:00"]);
/// assert_eq!(extend_time(&t, 1).unwrap(), ["2021-03-29T12:00:00+01:00"]);
/// // working days (a Friday, then a Monday in the column): weekends skipped
/// let w = l(&["2020-04-16", "2020-04-17", "2020-04-20", "2020-04-21"]);
/// assert_eq!(extend_time(&w, 4).unwrap(), ["2020-04-22", "2020-04-23", "2020-04-24", "2020-04-27"]);
/// // past the largest year there is: counted on from the last label
/// assert_eq!(extend_time(&l(&["9223372036854775806", "9223372036854775807"]), 1).unwrap(), ["9223372036854775807+1"]);
/// assert!(extend_time(&w, usize::MAX).is_err()); // more labels than memory holds
/// ```
///
/// An error when `k` labels would not fit in memory.
pub fn extend_time(labels: &[String], k: usize) -> crate::Result<Vec<String>> {
    let last = labels.last().map_or("", String::as_str);
    let bytes = k as f64 * (last.len() as f64 + 48.0);
    crate::memory::ensure_fits(|| format!("{k} time labels"), bytes)?;
    let n = labels.len();
    let column = parse_column(labels);
    let parsed = |i: usize| column.get(i).copied().flatten();
    // months 10-12 do not say whether the column writes `01` or `1`: any
    // label with a leading zero does
    let zero = column.iter().flatten().any(|s| {
        matches!(
            s.kind,
            Kind::Month(MonthStyle::Letter(_, true) | MonthStyle::Slash(true, _))
        )
    });
    let padded = |s: Stamp| match s.kind {
        Kind::Month(MonthStyle::Letter(c, _)) => Stamp {
            kind: Kind::Month(MonthStyle::Letter(c, zero)),
            ..s
        },
        Kind::Month(MonthStyle::Slash(_, short)) => Stamp {
            kind: Kind::Month(MonthStyle::Slash(zero, short)),
            ..s
        },
        _ => s,
    };
    if n >= 2 {
        if let (Some(a), Some(b)) = (parsed(n - 2), parsed(n - 1).map(padded)) {
            // (no step past i64: the labels are counted on instead)
            let step = b.v.checked_sub(a.v).unwrap_or(0);
            // a column of working days goes on with working days: after a
            // Friday comes the Monday, whatever the last step was
            if let (Kind::Day(f), Some(mut d)) = (b.kind, date_of(b.v)) {
                let all: Vec<Stamp> = column.iter().flatten().copied().collect();
                if all.len() == n && working_days(&all) {
                    let mut out = Vec::with_capacity(k);
                    while out.len() < k {
                        let Some(next) = d.succ_opt() else { break };
                        d = next;
                        if d.weekday().number_from_monday() <= 5 {
                            out.push(d.format(f).to_string());
                        }
                    }
                    if out.len() == k {
                        return Ok(out);
                    }
                }
            }
            if same_kind(a, b) && step > 0 {
                let months = match (date_of(a.v), date_of(b.v)) {
                    (Some(da), Some(db)) if matches!(b.kind, Kind::Day(_)) => {
                        month_step(da, db).map(|m| (db, m))
                    }
                    _ => None,
                };
                // date-times (and Unix times) at one time of day whole
                // months apart go on by months at that time of day
                if let Some((tb, (m, end))) = time_months(a, b) {
                    return Ok((1..=k as i64)
                        .map(|j| {
                            add_months(tb.date(), j * m, end)
                                .map(|d| d.and_time(tb.time()).and_utc().timestamp())
                                .map_or_else(
                                    || format!("{}+{j}", labels[n - 1]),
                                    |v| format_stamp(Stamp { v, ..b }),
                                )
                        })
                        .collect());
                }
                // k labels fit in memory: far fewer than i64::MAX
                return Ok((1..=k as i64)
                    .map(|j| match months {
                        Some((db, (m, end))) => add_months(db, j * m, end).map_or_else(
                            || format!("{}+{j}", labels[n - 1]),
                            |d| {
                                d.format(match b.kind {
                                    Kind::Day(f) => f,
                                    _ => "%Y-%m-%d",
                                })
                                .to_string()
                            },
                        ),
                        None => match j.checked_mul(step).and_then(|d| b.v.checked_add(d)) {
                            Some(v) => format_stamp(Stamp { v, ..b }),
                            None => format!("{}+{j}", labels[n - 1]),
                        },
                    })
                    .collect());
            }
        }
    }
    Ok((1..=k).map(|j| format!("{last}+{j}")).collect())
}

/// Checks that time labels run forward, as a series' rows must: when the
/// first label is understood (integers only when `ints` is true, i.e. the
/// column is named like a time or was named by the user), every later label
/// must be understood too and come after the one before it (labels of
/// different forms are not compared). A naive date-time may step back by up
/// to an hour, as local clock times do when daylight saving ends, and an
/// integer (a year) may repeat. On a
/// violation: the 0-based row and the reason. (Uneven steps are not an
/// error: see [`uneven_time_step`].)
///
/// ```
/// use rnn::tasks::forecast::check_time_order;
/// let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert!(check_time_order(&l(&["1949-01", "1949-02"]), true).is_ok());
/// let (row, why) = check_time_order(&l(&["1950", "1949", "1948"]), true).unwrap_err();
/// assert_eq!(row, 1);
/// assert!(why.contains("newest first"), "{why}");
/// assert_eq!(check_time_order(&l(&["1949-01", "1949-0x"]), true).unwrap_err().0, 1);
/// // integers of a column not named like a time (an index) are not checked
/// assert!(check_time_order(&l(&["3", "1"]), false).is_ok());
/// // a year column beside a month column repeats each year
/// assert!(check_time_order(&l(&["1949", "1949", "1950"]), true).is_ok());
/// assert!(check_time_order(&l(&["1949-01", "1949-01"]), true).is_err());
/// ```
pub fn check_time_order(labels: &[String], ints: bool) -> Result<(), (usize, String)> {
    let column = parse_column(labels);
    let Some(first) = column.first().copied().flatten() else {
        return Ok(());
    };
    if first.kind == Kind::Int && !ints {
        return Ok(());
    }
    let mut prev = first;
    for i in 1..labels.len() {
        let Some(s) = column[i] else {
            return Err((
                i,
                format!(
                    "time label {:?} is not understood as a time of the form of {:?} (the first row's)",
                    labels[i].trim(),
                    labels[0].trim()
                ),
            ));
        };
        if same_kind(prev, s) && s.v <= prev.v {
            let dst = matches!(s.kind, Kind::Time(_, Zone::Naive)) && prev.v - s.v <= 3600;
            // a year repeated on the rows of its months or quarters (a `year`
            // column beside a `month` one) is not a step back
            let same_year = s.kind == Kind::Int && s.v == prev.v;
            if !dst && !same_year {
                let newest_first = i == 1 && labels.len() > 2 && s.v < prev.v;
                return Err((
                    i,
                    format!(
                        "time label {:?} is not after {:?} on the row before: rows must run in time order, oldest first{}",
                        labels[i].trim(),
                        labels[i - 1].trim(),
                        if newest_first {
                            " (the file looks newest first: sort it by time)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        prev = s;
    }
    Ok(())
}

/// Whether years (integers), months or quarters are evenly spaced: a row
/// that is not the usual step (the most common one) after the one before, a
/// month left out, shifts every season after it. `None` when they are, or
/// when the labels are not all of one of those forms (dates and date-times
/// are not checked: a series of working days skips weekends; integers only
/// when `ints` is true, as in [`check_time_order`]); else the 0-based row
/// and what is uneven.
///
/// ```
/// use rnn::tasks::forecast::uneven_time_step;
/// let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// let (row, why) = uneven_time_step(&l(&["2001-01", "2001-02", "2001-04", "2001-05"]), true).unwrap();
/// assert_eq!(row, 2);
/// assert!(why.starts_with("time label \"2001-04\" is 2 month(s) after \"2001-02\""), "{why}");
/// assert_eq!(uneven_time_step(&l(&["2001Q1", "2001Q2", "2001Q3"]), true), None);
/// assert_eq!(uneven_time_step(&l(&["2024-01-05", "2024-01-08", "2024-01-09"]), true), None);
/// assert_eq!(uneven_time_step(&l(&["1949", "1949", "1949", "1950"]), true), None);
/// assert_eq!(uneven_time_step(&l(&["1", "2", "5"]), false), None); // an index
/// ```
pub fn uneven_time_step(labels: &[String], ints: bool) -> Option<(usize, String)> {
    let column = parse_column(labels);
    let first = column.first().copied().flatten()?;
    let kind = first.kind;
    let unit = match kind {
        Kind::Int if ints => "",
        Kind::Month(_) | Kind::Fraction { f: 12, .. } => " month(s)",
        Kind::Quarter(_) | Kind::Fraction { f: 4, .. } => " quarter(s)",
        Kind::Fraction { f: 52, .. } | Kind::Week => " week(s)",
        Kind::Fraction { f: 7, .. } => " day(s)",
        Kind::Fraction { f: 24, .. } => " hour(s)",
        _ => return None,
    };
    let stamps: Option<Vec<Stamp>> = column.into_iter().collect();
    // labels of different forms: not compared
    let st = stamps.filter(|s| s.iter().all(|&x| same_kind(x, first)))?;
    let steps: Vec<i64> = st.windows(2).map(|w| w[1].v - w[0].v).collect();
    // the usual step: the most common one (the smallest on a tie)
    let mut counts = std::collections::BTreeMap::new();
    for &d in &steps {
        *counts.entry(d).or_insert(0usize) += 1;
    }
    let (&usual, _) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    if usual <= 0 {
        return None; // a year repeated on the rows of its months: no step to compare
    }
    let j = steps.iter().position(|&d| d != usual)?;
    let (step, fix) = match steps[j] {
        0 => (
            "is the same as".to_string(),
            "remove the row if it is repeated",
        ),
        d => (
            format!("is {d}{unit} after"),
            "to keep the calendar, add the missing rows with empty values and --fill linear",
        ),
    };
    Some((
        j + 1,
        format!(
            "time label {:?} {step} {:?} on the row before, where the rows are {usual}{unit} apart: \
             the rows are read as evenly spaced ({fix})",
            labels[j + 1].trim(),
            labels[j].trim()
        ),
    ))
}

/// The default season for seasonal-naive forecasts, MASE and the choice of
/// differencing, from the step between the first two labels: 12 for months
/// (`YYYY-MM`, dates a month or 28–31 days apart, or decimal years a
/// twelfth apart as R's `time()` writes them: `1920.08333333333`), 4 for
/// quarters (`YYYYQn`, `YYYY-Qn`, dates 3 months or 89–92 days apart, or
/// decimal years `1960.25`), 52 for weekly dates (and decimal years a 52nd
/// apart), 7 for daily ones (5 when the first 50 are working days: none on
/// a weekend, a Friday followed by the Monday; and R's `ts` of frequency 7:
/// `1.14285714285714`),
/// the steps in a day (up to 288) for date-times less than a day apart (24
/// for R's `ts` of frequency 24), else 1 (years, integers, unknown).
///
/// ```
/// use rnn::tasks::forecast::default_season;
/// let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert_eq!(default_season(&l(&["1958-03-29", "1958-04-05"])), 52);
/// assert_eq!(default_season(&l(&["2001Q1", "2001Q2"])), 4);
/// assert_eq!(default_season(&l(&["2020-01-01 00:00", "2020-01-01 01:00"])), 24);
/// // working days (Friday, then Monday): a week of 5 rows
/// assert_eq!(default_season(&l(&["2009-06-04", "2009-06-05", "2009-06-08"])), 5);
/// assert_eq!(default_season(&l(&["2009-06-05", "2009-06-06", "2009-06-07"])), 7);
/// assert_eq!(default_season(&l(&["1700", "1701"])), 1);
/// ```
pub fn default_season(labels: &[String]) -> usize {
    let head = &labels[..labels.len().min(50)];
    let stamps: Option<Vec<Stamp>> = parse_column(head).into_iter().collect();
    let Some(s) = stamps.filter(|s| s.len() >= 2 && same_kind(s[0], s[1])) else {
        return 1;
    };
    let (a, b) = (s[0], s[1]);
    let step = b.v - a.v;
    // date-times a whole number of months apart at one time of day
    let months = time_months(a, b).map(|(_, (m, _))| m);
    match a.kind {
        Kind::Month(_) if step == 1 => 12,
        Kind::Quarter(_) if step == 1 => 4,
        Kind::Fraction { f, .. } if step == 1 => f as usize,
        Kind::Day(_) => {
            let months = date_of(a.v)
                .zip(date_of(b.v))
                .and_then(|(x, y)| month_step(x, y));
            match (months, step) {
                (Some((1, _)), _) | (None, 28..=31) => 12,
                (Some((3, _)), _) | (None, 89..=92) => 4,
                (None, 7) => 52,
                (None, 1) if working_days(&s) => 5,
                (None, 1) => 7,
                _ => 1,
            }
        }
        Kind::Week if step == 1 => 52,
        Kind::Time(..) | Kind::Epoch { .. } if months.is_some() => match months {
            Some(1) => 12,
            Some(3) => 4,
            _ => 1,
        },
        Kind::Time(..) | Kind::Epoch { .. } if step > 0 && step < 86400 && 86400 % step == 0 => {
            let per_day = (86400 / step) as usize;
            if per_day <= 288 {
                per_day
            } else {
                1
            }
        }
        Kind::Time(..) | Kind::Epoch { .. } if step > 0 && step % 86400 == 0 => {
            match step / 86400 {
                1 => 7,
                7 => 52,
                _ => 1,
            }
        }
        _ => 1,
    }
}

/// For two date-times (or Unix times) at the same time of day whole
/// months apart: the second as a UTC date-time, and the months (with
/// [`month_step`]'s month-end flag).
fn time_months(a: Stamp, b: Stamp) -> Option<(NaiveDateTime, (i64, bool))> {
    if !matches!(b.kind, Kind::Time(..) | Kind::Epoch { .. }) || !same_kind(a, b) {
        return None;
    }
    let (ta, tb) = (
        DateTime::from_timestamp(a.v, 0)?.naive_utc(),
        DateTime::from_timestamp(b.v, 0)?.naive_utc(),
    );
    if ta.time() != tb.time() {
        return None;
    }
    month_step(ta.date(), tb.date()).map(|m| (tb, m))
}

/// Whether daily stamps are working days: none on a Saturday or Sunday,
/// and some Friday followed by the Monday (a market's or an office's
/// days, whose week is 5 rows).
fn working_days(s: &[Stamp]) -> bool {
    let dates: Vec<NaiveDate> = s.iter().filter_map(|x| date_of(x.v)).collect();
    dates.len() == s.len()
        && dates.iter().all(|d| d.weekday().number_from_monday() <= 5)
        && dates.windows(2).any(|w| (w[1] - w[0]).num_days() == 3)
}

#[cfg(test)]
mod tests;
