//! Month labels in the styles other than ISO's `YYYY-MM` that spreadsheets
//! and statistics offices write (`1986M01`, `Jan 1986`, `Jan-86`, `1/86`):
//! read as months and written back in the same style.

use super::{Kind, Stamp};

/// How a month label is written (the labels after a series are written the
/// same way).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum MonthStyle {
    /// `1986-01` (read from `1986/01` too).
    Iso,
    /// `1986M01` or `1986m1`, as EViews, the IMF and Eurostat write months:
    /// the letter, and whether the month is written with a leading zero
    /// (`01`; months 10-12 do not tell, see [`super::extend_time`]).
    Letter(char, bool),
    /// `Jan 1986`, `Jan-86`, `January 1986`: the separator, whether the name
    /// is written in full and whether the year has two digits.
    Name(char, bool, bool),
    /// `1/86`, `01/1986`: whether the month is written with a leading zero
    /// and whether the year has two digits.
    Slash(bool, bool),
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The month (1-12) a name gives: in full or its first three letters, any
/// case (`Jan`, `january`).
pub(crate) fn month_of_name(name: &str) -> Option<usize> {
    let name = name.trim();
    MONTH_NAMES
        .iter()
        .position(|full| {
            name.eq_ignore_ascii_case(full)
                || (name.len() == 3 && name.eq_ignore_ascii_case(&full[..3]))
        })
        .map(|m| m + 1)
}

/// A year written with two digits, as POSIX `strptime`'s `%y` reads it:
/// 69-99 are 1969-1999, 00-68 are 2000-2068.
fn full_year(y: &str) -> Option<i64> {
    let v = y.parse::<i64>().ok()?;
    match y.len() {
        2 if y.bytes().all(|b| b.is_ascii_digit()) => {
            Some(if v >= 69 { 1900 + v } else { 2000 + v })
        }
        4 if y.bytes().all(|b| b.is_ascii_digit()) => Some(v),
        _ => None,
    }
}

/// A month label in one of the [`MonthStyle`]s other than ISO.
pub(super) fn month_label(s: &str) -> Option<Stamp> {
    let stamp = |style, y: i64, m: i64| {
        (1..=12).contains(&m).then_some(Stamp {
            kind: Kind::Month(style),
            v: y * 12 + m - 1,
        })
    };
    let digits = |t: &str| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit());
    // 1986M01, 1986m1
    if let Some(i) = s.find(['M', 'm']).filter(|&i| i == 4) {
        let (y, m) = (&s[..4], &s[i + 1..]);
        let letter = s[4..].chars().next()?;
        if digits(m) && y.bytes().all(|b| b.is_ascii_digit()) {
            let zero = m.len() == 2 && m.starts_with('0');
            return stamp(
                MonthStyle::Letter(letter, zero),
                y.parse().ok()?,
                m.parse().ok()?,
            );
        }
    }
    // 1/86, 01/1986
    if let Some((m, y)) = s.split_once('/') {
        if digits(m) {
            let style = MonthStyle::Slash(m.len() == 2 && m.starts_with('0'), y.len() == 2);
            return stamp(style, full_year(y)?, m.parse().ok()?);
        }
    }
    // Jan 1986, Jan-86, January 1986
    let (name, y, sep) = s
        .split_once(' ')
        .map(|(a, b)| (a, b, ' '))
        .or_else(|| s.split_once('-').map(|(a, b)| (a, b, '-')))?;
    let m = month_of_name(name)?;
    let style = MonthStyle::Name(sep, name.len() > 3, y.len() == 2);
    stamp(style, full_year(y)?, m as i64)
}

/// The label of month `v` (months since year 0) written in `style`.
pub(super) fn format_month(style: MonthStyle, v: i64) -> String {
    let (y, m) = (v.div_euclid(12), v.rem_euclid(12) + 1);
    let year = |short: bool| match short {
        true => format!("{:02}", y.rem_euclid(100)),
        false => y.to_string(),
    };
    match style {
        MonthStyle::Iso => format!("{y}-{m:02}"),
        MonthStyle::Letter(c, true) => format!("{y}{c}{m:02}"),
        MonthStyle::Letter(c, false) => format!("{y}{c}{m}"),
        MonthStyle::Slash(pad, short) => match pad {
            true => format!("{m:02}/{}", year(short)),
            false => format!("{m}/{}", year(short)),
        },
        MonthStyle::Name(sep, full, short) => {
            let name = MONTH_NAMES[(m - 1) as usize];
            let name = if full { name } else { &name[..3] };
            format!("{name}{sep}{}", year(short))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        check_time_order, default_season, extend_time, parse_stamp, time_axis, uneven_time_step,
    };

    #[test]
    fn months_in_the_styles_of_spreadsheets_and_statistics_offices() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // each style: the season, the order check and the labels after it,
        // written the same way (December to January across the year)
        for (labels, next) in [
            (l(&["1986M12", "1987M01"]), ["1987M02", "1987M03"]),
            (l(&["1986m7", "1986m8"]), ["1986m9", "1986m10"]),
            (l(&["1986M11", "1986M12"]), ["1987M1", "1987M2"]),
            (l(&["Nov 1986", "Dec 1986"]), ["Jan 1987", "Feb 1987"]),
            (l(&["Nov-86", "Dec-86"]), ["Jan-87", "Feb-87"]),
            (
                l(&["November 1999", "December 1999"]),
                ["January 2000", "February 2000"],
            ),
            (l(&["12/86", "01/87"]), ["02/87", "03/87"]),
            (l(&["11/1986", "12/1986"]), ["1/1987", "2/1987"]),
            // lower-case names are read; the labels after them are capitalised
            (l(&["dec-98", "jan-99"]), ["Feb-99", "Mar-99"]),
        ] {
            assert_eq!(default_season(&labels), 12, "{labels:?}");
            assert!(check_time_order(&labels, false).is_ok(), "{labels:?}");
            assert_eq!(uneven_time_step(&labels, false), None, "{labels:?}");
            assert_eq!(extend_time(&labels, 2).unwrap(), next, "{labels:?}");
        }
        // boot's acme: `1/86` ... `12/90`, months one apart; a gap is said in months
        let acme = l(&["11/86", "12/86", "1/87", "2/87"]);
        assert_eq!(
            (
                default_season(&acme),
                extend_time(&acme, 1).unwrap()[0].as_str()
            ),
            (12, "3/87")
        );
        // after December, the style of the column's other months
        let end = l(&["10/90", "11/90", "12/90"]);
        assert_eq!(
            extend_time(&l(&["9/90", "10/90", "11/90", "12/90"]), 1).unwrap(),
            ["1/91"]
        );
        assert_eq!(
            extend_time(&l(&["09/90", "10/90", "11/90", "12/90"]), 1).unwrap(),
            ["01/91"]
        );
        assert_eq!(extend_time(&end, 1).unwrap(), ["1/91"]);
        let (row, why) =
            uneven_time_step(&l(&["Jan 2001", "Feb 2001", "Apr 2001"]), false).unwrap();
        assert_eq!(row, 2);
        assert!(why.contains("is 2 month(s) after \"Feb 2001\""), "{why}");
        // `May` is a full name and an abbreviation: one column all the same
        let may = l(&["April 2001", "May 2001", "June 2001"]);
        assert_eq!(
            (
                uneven_time_step(&may, false),
                extend_time(&may, 1).unwrap()[0].as_str()
            ),
            (None, "July 2001")
        );
        // days of a year without it (`MM/DD`) are not months: the column does
        // not run forward in them, so it stays text as it was before months
        // in this style were read (no order error)
        let days = l(&["01/30", "01/31", "02/01"]);
        assert_eq!(
            (check_time_order(&days, false), default_season(&days)),
            (Ok(()), 1)
        );
        assert_eq!(extend_time(&days, 1).unwrap(), ["02/01+1"]);
        // two-digit years as strptime's %y: 69-99 the 1900s, 00-68 the 2000s
        assert_eq!(time_axis(&l(&["Jan-69", "Jan-68"])), [1969.0, 2068.0]);
        // not months: a 13th month, a name that is not one, a date with a day
        for bad in ["13/86", "Foo 1986", "1986M13", "1/2/86"] {
            assert_eq!(parse_stamp(bad), None, "{bad}");
        }
    }
}
