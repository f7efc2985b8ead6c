//! Tests of reading a series from a CSV table.

use super::*;

fn table(text: &str) -> Result<Table> {
    Table::parse(Path::new("t.csv"), text)
}

fn series(text: &str, fill: Fill) -> Result<Series> {
    Series::from_table(&table(text)?, "v", &[], &TimeColumn::Auto, fill)
}

#[test]
fn year_and_month_columns_make_the_labels() {
    // R's layout of Zelig's `approval`: row names, then month and year
    let text = "\"\",\"month\",\"year\",\"v\"\n\"1\",11,2001,5\n\"2\",12,2001,6\n\"3\",1,2002,7\n";
    let s = series(text, Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("year+month"));
    assert_eq!(s.time, ["2001-11", "2001-12", "2002-01"]);
    assert_eq!(super::super::calendar::default_season(&s.time), 12);
    // named, either order, quarters; the name read back from a model
    let t = table("Year,Quarter,v\n1999,4,1\n2000,1,2\n").unwrap();
    for name in ["Year+Quarter", "quarter+year"] {
        let s =
            Series::from_table(&t, "v", &[], &TimeColumn::Named(name.into()), Fill::None).unwrap();
        assert_eq!(
            (s.time_name.as_deref(), s.time.clone()),
            (
                Some("Year+Quarter"),
                vec!["1999Q4".to_string(), "2000Q1".into()]
            )
        );
    }
    // month names (HistData's `Prostitutes`: Year, month "Jan", ...)
    let s = series("Year,month,v\n1812,Dec,1\n1813,jan,2\n", Fill::None).unwrap();
    assert_eq!(s.time, ["1812-12", "1813-01"]);
    // a month out of range: the year column alone, and a warning naming the cell
    let s = series("year,month,v\n2001,12,1\n2002,13,2\n", Fill::None).unwrap();
    assert_eq!(
        (s.time_name.as_deref(), s.time[1].as_str()),
        (Some("year"), "2002")
    );
    assert_eq!(
        s.warnings,
        ["t.csv:3: column \"month\": 13 is not a month from 1 to 12: the columns \"year\" and \"month\" are not joined into time labels"]
    );
    // named, a cell that does not join is an error naming the line and the value
    let named = |text: &str, name: &str| {
        Series::from_table(
            &table(text).unwrap(),
            "v",
            &[],
            &TimeColumn::Named(name.into()),
            Fill::None,
        )
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        named("year,month,v\n2001.5,1,1\n", "year+month"),
        "t.csv:2: column \"year\": \"2001.5\" is not a whole number"
    );
    assert_eq!(
        named("year,month,v\n2001,13,1\n", "year+month"),
        "t.csv:2: column \"month\": 13 is not a month from 1 to 12"
    );
    assert!(named("year,v,w\n2001,1,1\n", "year+v")
        .starts_with("--time \"year+v\": two columns joined by '+'"));
    // without both columns, or with the month as the target, nothing is joined
    let s = series("month,v\n1,5\n2,6\n", Fill::None).unwrap();
    assert_eq!(
        (s.time_name.as_deref(), s.time[1].as_str()),
        (Some("month"), "2")
    );
    let s = Series::from_table(
        &table("year,month\n2001,1\n2002,2\n").unwrap(),
        "month",
        &[],
        &TimeColumn::Auto,
        Fill::None,
    )
    .unwrap();
    assert_eq!(
        (s.time_name.as_deref(), s.time[1].as_str()),
        (Some("year"), "2002")
    );
}

#[test]
fn pandas_index_column() {
    // `Series.to_csv()` of a year-indexed series: the index is the time
    let t = table(",0\n1821,269\n1822,321\n").unwrap();
    let s = Series::from_table(&t, "0", &[], &TimeColumn::Auto, Fill::None).unwrap();
    assert_eq!(
        (s.time_name.as_deref(), s.time.clone()),
        (Some("index"), vec!["1821".to_string(), "1822".to_string()])
    );
    // a frame with a plain row-number index: the time is the next column
    let t = table(",Quarter,v\n0,1970 Q1,0.6\n1,1970 Q2,0.4\n2,1970 Q3,0.9\n").unwrap();
    let s = Series::from_table(&t, "v", &[], &TimeColumn::Auto, Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("Quarter"));
    assert_eq!(s.time[2], "1970 Q3");
    // row numbers and no time column after them: rows are labelled
    let s = series(",v\n1,5\n2,6\n", Fill::None).unwrap();
    assert_eq!(
        (s.time_name, s.time),
        (None, vec!["0".to_string(), "1".to_string()])
    );
    // only the first column may be unnamed
    let e = table("a,,b\n1,2,3\n").unwrap_err().to_string();
    assert_eq!(e, "t.csv:1: header column 2 has no name");
    let e = table(",index\n1,2\n").unwrap_err().to_string();
    assert_eq!(e, "t.csv:1: header column 1 has no name");
    // a separator after every line's last field adds no column, unless a
    // row puts a value there
    let t = table("date,v,\n2001,5,\n2002,6,\n").unwrap();
    assert_eq!((t.columns.len(), t.rows[1].len()), (2, 2));
    let e = table("date,v,\n2001,5,\n2002,6,7\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "t.csv:3: field 3 is \"7\", but the header's column 3 has no name"
    );
    // quoted numbers of one group of three digits: thousands, or three
    // decimals after a decimal comma? Read as thousands, with a warning
    let t = table("date,price\n2010-01,\"100,000\"\n2010-02,\"100,250\"\n").unwrap();
    assert_eq!(t.rows[1][1], "100250");
    assert_eq!(t.warnings.len(), 1);
    assert!(
        t.warnings[0].starts_with("t.csv: column \"price\": every number with a comma is written like \"100,000\", read as a group of thousands (100000)"),
        "{}",
        t.warnings[0]
    );
    // a column that shows its style (a point after the group, two groups): no warning
    let t = table("date,price\n2010-01,\"1,000.5\"\n2010-02,\"1,250,000\"\n").unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // Excel's sep= line, the rows counted from the file's first line
    let e = table("sep=;\ndate;v\n2001;x;y\n").unwrap_err().to_string();
    assert!(
        e.starts_with("t.csv:3: 3 fields, but the header has 2 columns"),
        "{e}"
    );
}

#[test]
fn quoted_header_and_time_column() {
    let t = table("\"YEAR\",\"SUNACTIVITY\"\n1700,5\n1701,11\n").unwrap();
    assert_eq!(t.columns, ["YEAR", "SUNACTIVITY"]);
    let s = Series::from_table(&t, "SUNACTIVITY", &[], &TimeColumn::Auto, Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("YEAR"));
    assert_eq!(s.time, ["1700", "1701"]);
    assert_eq!(s.target, [5.0, 11.0]);
    // quoted fields with commas, doubled quotes and a newline (the csv
    // crate: a quote opens a field only at its start)
    let t = table("a,b,c\n\"a,b\" ,\"say \"\"hi\"\"\",3\n\"x\ny\",2,\"3\"\n").unwrap();
    assert_eq!(t.rows[0], ["a,b", "say \"hi\"", "3"]);
    assert_eq!((t.rows[1][0].as_str(), t.lines[1]), ("x\ny", 3));
    let e = table("a,b\n1,2\n\"open,3\n").unwrap_err().to_string();
    assert_eq!(e, "t.csv:3: unterminated quoted field");
}

#[test]
fn missing_value_error_names_line_and_column() {
    let e = series("date,v\n2000-01,1\n2000-02,\n2000-03,3\n", Fill::None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.csv:3:") && e.contains("\"v\"") && e.contains("missing"),
        "{e}"
    );
    let e = series("date,v\n2000-01,1\n2000-02,abc\n", Fill::Linear)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.csv:3:") && e.contains("\"abc\" is not a number"),
        "{e}"
    );
    // a number too large for f32 (the model's) is named as such, a long
    // cell by its start
    for big in ["1e309", "1e300", "-3.5e38"] {
        let e = series(&format!("date,v\n2000-01,1\n2000-02,{big}\n"), Fill::None)
            .unwrap_err()
            .to_string();
        let want = format!("t.csv:3: column \"v\": \"{big}\" is beyond the range of 32-bit floats (±3.4e38) the model computes in");
        assert!(e.ends_with(&want), "{e}");
    }
    assert!(series("date,v\n2000-01,1\n2000-02,-3.3e38\n", Fill::None).is_ok());
    let long = "x".repeat(100_000);
    let e = series(&format!("date,v\n2000-01,1\n2000-02,{long}\n"), Fill::None)
        .unwrap_err()
        .to_string();
    assert!(
        e.len() < 200 && e.contains(&format!("\"{}…\"", "x".repeat(40))),
        "{e}"
    );
}

#[test]
fn fill_linear_and_ffill() {
    let text = "date,v\n1,NA\n2,1\n3,\n4,\n5,4\n6,\n";
    let s = series(text, Fill::Linear).unwrap();
    assert_eq!(s.target, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
    assert_eq!(s.filled, 4);
    let s = series(text, Fill::Ffill).unwrap();
    assert_eq!(s.target, [1.0, 1.0, 1.0, 1.0, 4.0, 4.0]);
    assert!(series("date,v\n1,\n2,\n", Fill::Ffill).is_err());
}

#[test]
fn bad_files_are_errors() {
    assert!(table("").unwrap_err().to_string().contains("empty file"));
    assert!(table("a,b\n")
        .unwrap_err()
        .to_string()
        .contains("no data rows"));
    assert!(table("a,b\n1,2,3\n")
        .unwrap_err()
        .to_string()
        .contains(":2:"));
    let e = series("x,w\n1,2\n", Fill::None).unwrap_err().to_string();
    assert!(e.contains("\"v\"") && e.contains("x, w"), "{e}");
}

#[test]
fn a_time_column_after_the_target_and_files_of_several_series() {
    // vega-datasets' sf-temps.csv: the target first, the dates after it
    let s = series(
        "v,date\n47.8,2010/01/01 00:00:00\n47.4,2010/01/01 01:00:00\n",
        Fill::None,
    )
    .unwrap();
    assert_eq!(s.time_name.as_deref(), Some("date"));
    assert_eq!(super::super::calendar::default_season(&s.time), 24);
    // a text column first, the dates after it: the dates
    let s = series("site,day,v\na,Jan 1 2000,1\na,Jan 2 2000,2\n", Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("day"));
    // a later column named like a time but of numbers (a weekday) or of
    // labels that are not times is not taken: the first column stays
    let s = series("v,weekday\n1,6\n2,7\n3,1\n", Fill::None).unwrap();
    assert_eq!(s.time_name, None);
    let s = series("site,period,v\na,early,1\nb,late,2\n", Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("site"));
    // several series one after another (vega-datasets' stocks.csv): the
    // order error names the column that changes where time runs back
    let e = series(
        "symbol,date,v\nMSFT,Jan 1 2000,39.81\nMSFT,Feb 1 2000,36.35\nAMZN,Jan 1 2000,64.56\n",
        Fill::None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("t.csv:4: time column \"date\""), "{e}");
    assert!(
        e.contains("column \"symbol\" changes from \"MSFT\" to \"AMZN\" on this row"),
        "{e}"
    );
    // a text column that changes on every row is no series key: no hint
    let e = series(
        "date,note,v\n2000,x1,1\n2001,x2,2\n1999,x3,3\n2000,x4,4\n",
        Fill::None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("t.csv:4: time column \"date\"") && !e.contains("--where"),
        "{e}"
    );
    // a column of numbers with gaps after pandas' or R's row numbers is
    // data, not time labels (R's `airquality`: "", Ozone, ..., Temp)
    let s = series(
        "\"\",\"Ozone\",\"v\"\n\"1\",41,67\n\"2\",36,72\n\"3\",NA,74\n",
        Fill::None,
    )
    .unwrap();
    assert_eq!((s.time_name, s.target), (None, vec![67.0, 72.0, 74.0]));
    // an unnamed index of empty cells (Ecdat's `USFinanceIndustry`:
    // `"",year,...` and `"",1929,...`) is like row numbers: the next column
    let s = series(
        "\"\",\"year\",\"v\"\n\"\",1929,10.7\n\"\",1930,7.4\n",
        Fill::None,
    )
    .unwrap();
    assert_eq!(
        (s.time_name.as_deref(), s.time.clone()),
        (Some("year"), vec!["1929".to_string(), "1930".into()])
    );
    // R's row names, one of them not empty (Ecdat's USFinanceIndustry:
    // "O1" in 1987): the years running forward after them
    let s = series(
        "\"\",\"year\",\"day\",\"v\"\n\"\",1929,7,1\n\"O1\",1930,1,2\n\"\",1931,2,3\n",
        Fill::None,
    )
    .unwrap();
    assert_eq!(s.time_name.as_deref(), Some("year"));
    // but numbers that do not run forward are not (a weekday)
    let s = series("\"\",\"day\",\"v\"\n\"a\",7,1\n\"b\",1,2\n", Fill::None).unwrap();
    assert_eq!(s.time_name.as_deref(), Some("index"));
    // an order error with no such column says nothing more
    let e = series(
        "date,v\n2000-01-02,1\n2000-01-01,2\n2000-01-03,3\n",
        Fill::None,
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains("changes from"), "{e}");
}

#[test]
fn a_file_without_a_header_line() {
    // R's `write.zoo` of one quarterly series writes no header: every line
    // is data, the columns are named by position and the time is column 1
    let t = table("\"1955 Q1\",24030\n\"1955 Q2\",25620\n\"1955 Q3\",26209\n").unwrap();
    assert!(t.headerless);
    assert_eq!(
        (t.columns.clone(), t.lines.clone()),
        (vec!["1".to_string(), "2".to_string()], vec![1, 2, 3])
    );
    let s = Series::from_table(&t, "2", &[], &TimeColumn::Auto, Fill::None).unwrap();
    assert_eq!(s.target, [24030.0, 25620.0, 26209.0]);
    assert_eq!(
        (s.time_name.as_deref(), s.time[0].as_str()),
        (Some("1"), "1955 Q1")
    );
    // a name that is not there: the error says why the names are numbers
    let e = t.column("V1").unwrap_err().to_string();
    assert!(
        e.contains("no header line (its first line is data)") && e.contains("position: 1, 2"),
        "{e}"
    );
    // numbers alone are data too (one column)
    let t = table("5\n6\n7\n").unwrap();
    assert_eq!((t.headerless, t.rows.len()), (true, 3));
    // a header of names stays one: words, a pandas index, pandas' default
    // names 0, 1, ... of a frame's columns, and names beside numbers
    for text in [
        "date,v\n2000,1\n",
        ",0\n1821,269\n",
        "0,1\n2000,5\n",
        "year,2000\n1,2\n",
    ] {
        let t = table(text).unwrap();
        assert!(!t.headerless && t.rows.len() == 1, "{text:?}");
    }
}

#[test]
fn decimal_commas_in_files_separated_by_semicolons() {
    // R's write.csv2: `;` between fields, a comma before the decimals, in
    // the decimal years of the time column as in the values
    let text =
        "\"time\";\"v\";\"note\"\n1950;25,01;a\n1950,08333333333;NA;1,2\n1950,16666666667;-0,5;b\n";
    let t = Table::parse_with(Path::new("eu.csv"), text, b';').unwrap();
    let s = Series::from_table(&t, "v", &[], &TimeColumn::Auto, Fill::Linear).unwrap();
    assert_eq!(s.target, [25.01, 12.255, -0.5]);
    assert_eq!(s.time[1], "1950.08333333333");
    // a column of text keeps its "1,2"
    assert_eq!(t.rows[1][2], "1,2");
    // without a header line, and in exponent form
    let t = Table::parse_with(Path::new("eu.csv"), "2000;1,5e3\n2001;2,25\n", b';').unwrap();
    assert!(t.headerless);
    assert_eq!(
        (t.rows[0][1].as_str(), t.rows[1][1].as_str()),
        ("1.5e3", "2.25")
    );
    // groups of thousands: European in a `;` file, quoted US in a `,` file
    let t = Table::parse_with(Path::new("eu.csv"), "a;b\n1;1.000,5\n2;2\n", b';').unwrap();
    assert_eq!(t.rows[0][1], "1000.5");
    let t = Table::parse(Path::new("us.csv"), "a,b\n1,\"1,234.5\"\n2,2\n").unwrap();
    assert_eq!(t.rows[0][1], "1234.5");
    // what is not a number in one style stays: two commas, a bare comma
    for text in ["a;b\n1;1,2,3\n", "a;b\n1;,5\n"] {
        let t = Table::parse_with(Path::new("x.csv"), text, b';').unwrap();
        assert!(t.rows[0][1].contains(','), "{text:?}");
    }
}
