//! Dates as spreadsheets and statistics offices outside ISO write them: the
//! month's name (`Jan 1 2000`, `January 1, 2000`, `1 Jan 2000`,
//! `01-Jan-2000`), day and month with dots (`31.01.2000`), and the numeric
//! `1/31/2000` (month first) or `31/1/2000` (day first). One label alone
//! cannot say which of the last two it is (`1/2/2000`), a column can: one
//! format is chosen for the whole column, the one that reads the most of
//! its labels, then writes the most of them back exactly as they are
//! written (`Jan 1` against `Jan 01`), then steps through them in the
//! fewest distinct steps (a month first column of the first of every month
//! steps by 1 month throughout; read day first, its January 1-12 step by a
//! day and then jump). On a full tie, month first. The year has four digits
//! (`1/2/00` is left unread).

use chrono::NaiveDate;

use super::{day, month_step, Stamp};

/// The formats tried, in the order ties go.
const DATE_FORMATS: [&str; 34] = [
    "%b %-d %Y",
    "%b %d %Y",
    "%b %-d, %Y",
    "%b %d, %Y",
    "%B %-d %Y",
    "%B %d %Y",
    "%B %-d, %Y",
    "%B %d, %Y",
    "%-d %b %Y",
    "%d %b %Y",
    "%-d %B %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%-d-%b-%Y",
    "%d.%m.%Y",
    "%-d.%-m.%Y",
    "%m/%d/%Y",
    "%-m/%-d/%Y",
    "%-m/%d/%Y",
    "%m/%-d/%Y",
    "%d/%m/%Y",
    "%-d/%-m/%Y",
    "%-d/%m/%Y",
    "%d/%-m/%Y",
    "%m-%d-%Y",
    "%-m-%-d-%Y",
    "%d-%m-%Y",
    "%-d-%-m-%Y",
    // two-digit years, as Excel's US and European short dates write them
    // (`1/31/10`, `31/01/10`, `31.01.10`)
    "%m/%d/%y",
    "%-m/%-d/%y",
    "%d/%m/%y",
    "%-d/%-m/%y",
    "%d.%m.%y",
    "%-d.%-m.%y",
];

/// The date of `label` in `fmt`, when its year is written with four digits
/// (two for a format with `%y`: 69-99 the 1900s, 00-68 the 2000s).
fn read(label: &str, fmt: &str) -> Option<NaiveDate> {
    let d = NaiveDate::parse_from_str(label, fmt).ok()?;
    let year = d.format(if fmt.contains("%y") { "%y" } else { "%Y" });
    let ends = |sep: char| label.rsplit(sep).next() == Some(&year.to_string());
    match fmt.contains("%y") {
        // the two digits end the label: `1/2/10`, not a four-digit year
        true => (ends('/') || ends('.')).then_some(d),
        false => label.contains(&year.to_string()).then_some(d),
    }
}

/// How many distinct steps the dates take one to the next (whole months
/// when both fall on the same day of the month or on month ends, else
/// days); `usize::MAX` when they do not run forward.
fn distinct_steps(dates: &[(usize, NaiveDate)]) -> usize {
    let mut steps = Vec::new();
    for w in dates.windows(2) {
        let (a, b) = (w[0].1, w[1].1);
        if b <= a {
            return usize::MAX;
        }
        let step = match month_step(a, b) {
            Some((m, _)) => (true, m),
            None => (false, (b - a).num_days()),
        };
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps.len()
}

/// Reads the labels `column` leaves not understood as dates of one format
/// chosen for the column (see the module's comment); labels that format
/// does not read stay not understood.
pub(super) fn dates_by_column(labels: &[String], column: &mut [Option<Stamp>]) {
    let open: Vec<usize> = (0..labels.len())
        .filter(|&i| column[i].is_none() && labels[i].trim().len() <= 40)
        .collect();
    // the first of the first few open labels some format reads (a stray
    // text cell at the top does not hide the dates below it)
    let Some(first) = open.iter().take(5).copied().find(|&i| {
        DATE_FORMATS
            .iter()
            .any(|f| read(labels[i].trim(), f).is_some())
    }) else {
        return;
    };
    // (labels read, labels written back as they are, distinct steps), format, dates
    type Choice = ((usize, usize, usize), &'static str, Vec<(usize, NaiveDate)>);
    let mut best: Option<Choice> = None;
    for fmt in DATE_FORMATS {
        // a format that cannot read the first label is not the column's
        if read(labels[first].trim(), fmt).is_none() {
            continue;
        }
        let dates: Vec<(usize, NaiveDate)> = open
            .iter()
            .filter_map(|&i| read(labels[i].trim(), fmt).map(|d| (i, d)))
            .collect();
        let exact = dates
            .iter()
            .filter(|(i, d)| {
                d.format(fmt)
                    .to_string()
                    .eq_ignore_ascii_case(labels[*i].trim())
            })
            .count();
        let score = (dates.len(), exact, distinct_steps(&dates));
        let better = best.as_ref().is_none_or(|(b, ..)| {
            (score.0, score.1) > (b.0, b.1) || ((score.0, score.1) == (b.0, b.1) && score.2 < b.2)
        });
        if better {
            best = Some((score, fmt, dates));
        }
    }
    if let Some((_, fmt, dates)) = best {
        for (i, d) in dates {
            column[i] = Some(day(d, fmt));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_time_order, default_season, extend_time, parse_column};

    fn l(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dates_in_the_styles_of_spreadsheets_and_other_countries() {
        // (labels, season, the next two labels)
        let cases: [(&[&str], usize, [&str; 2]); 8] = [
            // vega-datasets' stocks.csv: the first of each month
            (
                &["Nov 1 2000", "Dec 1 2000", "Jan 1 2001"],
                12,
                ["Feb 1 2001", "Mar 1 2001"],
            ),
            (
                &["January 31, 2000", "February 29, 2000"],
                12,
                ["March 31, 2000", "April 30, 2000"],
            ),
            (
                &["30 Dec 1999", "31 Dec 1999", "1 Jan 2000"],
                7,
                ["2 Jan 2000", "3 Jan 2000"],
            ),
            (
                &["30-Dec-1999", "31-Dec-1999", "01-Jan-2000"],
                7,
                ["02-Jan-2000", "03-Jan-2000"],
            ),
            (
                &["30.12.1999", "31.12.1999", "01.01.2000"],
                7,
                ["02.01.2000", "03.01.2000"],
            ),
            // month first: 31 is no month
            (
                &["12/30/1999", "12/31/1999", "1/1/2000"],
                7,
                ["1/2/2000", "1/3/2000"],
            ),
            // day first
            (
                &["30/12/1999", "31/12/1999", "01/01/2000"],
                7,
                ["02/01/2000", "03/01/2000"],
            ),
            // weekly, month first, no day above 12 in the labels shown:
            // month first steps by 7 days throughout, day first does not
            (
                &["1/3/2000", "1/10/2000", "1/17/2000"],
                52,
                ["1/24/2000", "1/31/2000"],
            ),
        ];
        for (labels, season, next) in cases {
            let labels = l(labels);
            assert_eq!(default_season(&labels), season, "{labels:?}");
            assert!(check_time_order(&labels, false).is_ok(), "{labels:?}");
            assert_eq!(extend_time(&labels, 2).unwrap(), next, "{labels:?}");
        }
        // the first of every month for a year, either order: the column
        // decides (read day first, a month first column steps a day at a
        // time through January 1-12 and then jumps, and the other way round)
        let month_first: Vec<String> = (1..=12)
            .map(|m| format!("{m}/1/2000"))
            .chain(["1/1/2001".to_string()])
            .collect();
        assert_eq!(default_season(&month_first), 12);
        assert_eq!(extend_time(&month_first, 1).unwrap(), ["2/1/2001"]);
        let day_first: Vec<String> = month_first
            .iter()
            .map(|s| {
                let p: Vec<&str> = s.split('/').collect();
                format!("{}/{}/{}", p[1], p[0], p[2])
            })
            .collect();
        assert_eq!(default_season(&day_first), 12);
        assert_eq!(extend_time(&day_first, 1).unwrap(), ["1/2/2001"]);
        // date-times with slashes (vega-datasets' seattle-temps.csv, sf-temps.csv)
        let hours = l(&["2010/01/01 00:00", "2010/01/01 01:00"]);
        assert_eq!(default_season(&hours), 24);
        assert_eq!(extend_time(&hours, 1).unwrap(), ["2010/01/01 02:00"]);
        let seconds = l(&["2010/12/31 22:00:00", "2010/12/31 23:00:00"]);
        assert_eq!(extend_time(&seconds, 1).unwrap(), ["2011/01/01 00:00:00"]);
    }

    #[test]
    fn what_the_date_styles_leave_unread() {
        // dates that are no dates, text, two-digit years in a style of
        // names (`Jan 1 00`)
        for bad in [
            &["Jan 1 00", "Jan 2 00"][..],
            &["2/30/2000", "2/31/2000"],
            &["Jan 32 2000", "Feb 30 2000"],
            &["apple", "pear"],
        ] {
            let labels = l(bad);
            assert!(
                parse_column(&labels).iter().all(Option::is_none),
                "{labels:?}"
            );
            assert_eq!(default_season(&labels), 1);
        }
        // one format for the column: a label in the other order is not
        // read, and the order check names it
        let mixed = l(&["1/13/2000", "14/1/2000"]);
        let column = parse_column(&mixed);
        assert!(column[0].is_some() && column[1].is_none(), "{column:?}");
        let (row, why) = check_time_order(&mixed, false).unwrap_err();
        assert_eq!(row, 1);
        assert!(why.contains("\"14/1/2000\" is not understood"), "{why}");
        // so is a typo among dates
        let typo = l(&["Jan 30 2000", "Jan 31 2000", "Jan 32 2000"]);
        assert_eq!(check_time_order(&typo, false).unwrap_err().0, 2);
    }
}
