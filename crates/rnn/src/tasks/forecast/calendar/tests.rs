//! Tests of the time labels: parsing, the default season, extending a column.

use super::*;

#[test]
fn time_labels() {
    let m: Vec<String> = ["1960-11", "1960-12"].map(String::from).to_vec();
    assert_eq!(extend_time(&m, 2).unwrap(), ["1961-01", "1961-02"]);
    assert_eq!(default_season(&m), 12);
    let y: Vec<String> = ["2007", "2008"].map(String::from).to_vec();
    assert_eq!(extend_time(&y, 1).unwrap(), ["2009"]);
    assert_eq!(default_season(&y), 1);
    let d: Vec<String> = ["19580419", "19580426"].map(String::from).to_vec();
    assert_eq!(extend_time(&d, 1).unwrap(), ["19580503"]);
    let q: Vec<String> = ["1999-Q4", "2000-Q1"].map(String::from).to_vec();
    assert_eq!(extend_time(&q, 1).unwrap(), ["2000-Q2"]);
    assert_eq!(default_season(&q), 4);
    // as R's and pandas' `Period` print them
    let q: Vec<String> = ["1999 Q4", "2000 Q1"].map(String::from).to_vec();
    assert_eq!(extend_time(&q, 2).unwrap(), ["2000 Q2", "2000 Q3"]);
    assert_eq!(default_season(&q), 4);
    let x: Vec<String> = ["a", "b"].map(String::from).to_vec();
    assert_eq!(extend_time(&x, 1).unwrap(), ["b+1"]);
    assert!((time_axis(&m)[1] - time_axis(&m)[0] - 1.0 / 12.0).abs() < 1e-9);
}

#[test]
fn common_label_forms() {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // quarters both ways, months, month starts and ends as dates
    assert_eq!(
        extend_time(&l(&["1999Q4", "2000Q1"]), 2).unwrap(),
        ["2000Q2", "2000Q3"]
    );
    assert_eq!(default_season(&l(&["1999Q4", "2000Q1"])), 4);
    assert_eq!(default_season(&l(&["1999-q4", "2000-q1"])), 4);
    let ms = l(&["1949-11-01", "1949-12-01"]);
    assert_eq!(extend_time(&ms, 2).unwrap(), ["1950-01-01", "1950-02-01"]);
    assert_eq!(default_season(&ms), 12);
    let me = l(&["2019-12-31", "2020-01-31"]);
    assert_eq!(extend_time(&me, 2).unwrap(), ["2020-02-29", "2020-03-31"]);
    let qd = l(&["2020-01-01", "2020-04-01"]);
    assert_eq!(
        (
            default_season(&qd),
            extend_time(&qd, 1).unwrap()[0].as_str()
        ),
        (4, "2020-07-01")
    );
    // weekly and daily dates; slashes kept
    let w = l(&["2001/12/24", "2001/12/31"]);
    assert_eq!(
        (default_season(&w), extend_time(&w, 1).unwrap()[0].as_str()),
        (52, "2002/01/07")
    );
    assert_eq!(default_season(&l(&["2001-12-24", "2001-12-25"])), 7);
    // date-times: naive, UTC (Z) and with an offset, hourly and daily
    let h = l(&["2020-02-28T23:00:00", "2020-02-29T00:00:00"]);
    assert_eq!(
        (default_season(&h), extend_time(&h, 1).unwrap()[0].as_str()),
        (24, "2020-02-29T01:00:00")
    );
    let z = l(&["2020-01-01 00:30Z", "2020-01-01 01:00Z"]);
    assert_eq!(
        (default_season(&z), extend_time(&z, 1).unwrap()[0].as_str()),
        (48, "2020-01-01 01:30Z")
    );
    let o = l(&["2020-01-01T23:00:00-05:00", "2020-01-02T23:00:00-05:00"]);
    assert_eq!(default_season(&o), 7);
    assert_eq!(extend_time(&o, 1).unwrap(), ["2020-01-03T23:00:00-05:00"]);
    // one axis: an hour is 1/24 of a day; years are years
    let ax = time_axis(&h);
    assert!((ax[1] - ax[0] - 1.0 / (24.0 * 365.2425)).abs() < 1e-9);
    assert_eq!(time_axis(&l(&["1700", "1701"])), [1700.0, 1701.0]);
    // mixed or unknown labels: row positions, no season
    assert_eq!(time_axis(&l(&["2000", "2000-02"])), [0.0, 1.0]);
    assert_eq!(default_season(&l(&["2020-13", "2020-14"])), 1);
}

#[test]
fn decimal_years_as_r_writes_them() {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // `write.csv(data.frame(time = time(nottem), ...))`: monthly from 1920
    let m = l(&["1920", "1920.08333333333", "1920.16666666667", "1920.25"]);
    assert_eq!(default_season(&m), 12);
    assert!(check_time_order(&m, false).is_ok());
    assert_eq!(uneven_time_step(&m, false), None);
    assert_eq!(
        extend_time(&m, 9).unwrap(),
        [
            "1920.33333333333",
            "1920.41666666667",
            "1920.5",
            "1920.58333333333",
            "1920.66666666667",
            "1920.75",
            "1920.83333333333",
            "1920.91666666667",
            "1921"
        ]
    );
    let ax = time_axis(&m);
    assert!((ax[3] - 1920.25).abs() < 1e-12 && (ax[1] - ax[0] - 1.0 / 12.0).abs() < 1e-12);
    // quarterly (UKgas), with the year alone at each first quarter
    let q = l(&["1985.5", "1985.75", "1986", "1986.25"]);
    assert_eq!(default_season(&q), 4);
    assert_eq!(extend_time(&q, 3).unwrap(), ["1986.5", "1986.75", "1987"]);
    // a quarter left out is said, in quarters
    let gap = l(&["1986", "1986.25", "1986.75", "1987"]);
    let (row, why) = uneven_time_step(&gap, false).unwrap();
    assert_eq!(row, 2);
    assert!(why.contains("is 2 quarter(s) after \"1986.25\""), "{why}");
    // weekly (frequency 52); days of a weekly cycle, hours of a daily one
    let w = l(&["2001", "2001.01923076923", "2001.03846153846"]);
    assert_eq!(default_season(&w), 52);
    let d = l(&["1", "1.14285714285714", "1.28571428571429"]);
    assert_eq!(default_season(&d), 7);
    assert_eq!(extend_time(&d, 1).unwrap(), ["1.42857142857143"]);
    let h = l(&["3.95833333333333", "4", "4.04166666666667"]);
    assert_eq!(
        (default_season(&h), extend_time(&h, 1).unwrap()[0].as_str()),
        (24, "4.08333333333333")
    );
    // a step back is named, a label that is not a number too
    let back = l(&["1920", "1920.08333333333", "1920"]);
    assert_eq!(check_time_order(&back, false).unwrap_err().0, 2);
    let bad = l(&["1920", "1920.08333333333", "x", "1920.25"]);
    assert_eq!(check_time_order(&bad, false).unwrap_err().0, 2);
    // other fractions are measurements, not calendars: no season
    assert_eq!(default_season(&l(&["0.1", "0.2", "0.3"])), 1);
    assert_eq!(default_season(&l(&["1.5", "2", "2.5"])), 1);
    assert_eq!(default_season(&l(&["1920.1", "1920.2"])), 1);
    // whole years stay integers; one stray fraction is not a calendar
    assert_eq!(default_season(&l(&["1920", "1921"])), 1);
    assert_eq!(default_season(&l(&["1920", "1920.3", "1920.25"])), 1);
}

#[test]
fn unix_times_iso_weeks_and_two_digit_years() {
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Unix seconds of the first of each month, 00:00 UTC: monthly, season
    // 12, continued by months (2020-01-01, 2020-02-01 after 2019-12-01)
    let m = l(&["1572566400", "1575158400"]); // 2019-11-01, 2019-12-01
    assert_eq!(default_season(&m), 12);
    assert_eq!(extend_time(&m, 2).unwrap(), ["1577836800", "1580515200"]);
    assert_eq!(uneven_time_step(&m, true), None);
    // milliseconds, daily: season 7, continued by days
    let d = l(&["1577836800000", "1577923200000"]);
    assert_eq!(default_season(&d), 7);
    assert_eq!(extend_time(&d, 1).unwrap(), ["1578009600000"]);
    // hourly seconds: 24
    assert_eq!(default_season(&l(&["1577836800", "1577840400"])), 24);
    // integers that are not Unix times stay integers: years, an index,
    // large counts that do not rise by whole minutes
    assert_eq!(extend_time(&l(&["1999", "2000"]), 1).unwrap(), ["2001"]);
    assert_eq!(default_season(&l(&["1577836800", "1577836861"])), 1);
    assert_eq!(
        extend_time(&l(&["1577836800", "1577836861"]), 1).unwrap(),
        ["1577836922"]
    );
    // ISO weeks across a year of 53 weeks
    let w = l(&["2020-W52", "2020-W53"]);
    assert_eq!(default_season(&w), 52);
    assert_eq!(extend_time(&w, 2).unwrap(), ["2021-W01", "2021-W02"]);
    let (row, why) = uneven_time_step(&l(&["2021-W01", "2021-W02", "2021-W04"]), true).unwrap();
    assert_eq!(row, 2);
    assert!(why.contains("2 week(s) after"), "{why}");
    // Excel's US short dates, two-digit years: monthly, not years 1 to 12
    let us = l(&["11/1/10", "12/1/10", "1/1/11"]);
    assert_eq!(check_time_order(&us, true), Ok(()));
    assert_eq!(default_season(&us), 12);
    assert_eq!(extend_time(&us, 2).unwrap(), ["2/1/11", "3/1/11"]);
    // weekly, month first
    assert_eq!(default_season(&l(&["1/6/20", "1/13/20", "1/20/20"])), 52);
    // day first with dots
    assert_eq!(
        extend_time(&l(&["30.12.99", "31.12.99"]), 1).unwrap(),
        ["01.01.00"]
    );
}
