//! `rnn train forecast` and `rnn forecast` from outside: training on a
//! sine beats the naive forecast with both strategies, the forecast plot,
//! one-line errors for bad data and flags, and test rows that never touch
//! the fit.

mod common;
use common::{assert_bad_input, rnn, tmp};
use rnn::tasks::forecast::Forecaster;
use std::path::{Path, PathBuf};

fn train(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "forecast",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rnn(&args)
}

/// A small fixed network on column `value`: the last 4 rows tested, window 6,
/// no transform or differencing, 2 epochs of 4 units, one network.
#[rustfmt::skip]
const TINY: [&str; 16] = [
    "--target", "value", "--test", "4", "--window", "6", "--transform", "none", "--diff", "0",
    "--epochs", "2", "--hidden", "4", "--ensemble", "1",
];

/// [`train`], which must succeed: its stdout.
fn train_ok(data: &Path, out: &Path, extra: &[&str]) -> String {
    let o = train(data, out, extra);
    assert!(o.status.success(), "{}", common::stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn sine_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("t,value\n");
    for i in 0..n {
        let v = 10.0 + 3.0 * (i as f64 * std::f64::consts::TAU / 12.0).sin();
        text += &format!("{i},{v}\n");
    }
    let p = dir.join("sine.csv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn tiny_training_on_a_sine_beats_the_naive_forecast() {
    let dir = tmp("sine");
    let data = sine_csv(&dir, 150);
    let out = dir.join("model");
    let common = [
        "--target",
        "value",
        "--window",
        "12",
        "--test",
        "24",
        "--hidden",
        "8",
        "--epochs",
        "40",
        "--lr",
        "0.01", // issue 18 made these chosen or 5 by default: the old meaning
        "--transform",
        "none",
        "--diff",
        "0",
        "--ensemble",
        "1",
        "--no-ar-skip",
    ];
    for (strategy, horizon) in [("direct", "3"), ("recursive", "3")] {
        let mut extra = common.to_vec();
        extra.extend(["--strategy", strategy, "--horizon", horizon, "--force"]); // the second run replaces the first
        train_ok(&data, &out, &extra);
        let fc = Forecaster::load(&out).unwrap();
        assert_eq!(fc.meta.strategy.name(), strategy);
        let series = fc.read_series(&data).unwrap();
        let r = fc.evaluate(&series, Some(24), Some(1)).unwrap();
        assert_eq!(r.points, 24);
        assert!(
            r.rmse < 0.5 * r.naive_rmse,
            "{strategy}: model RMSE {} vs naive {}",
            r.rmse,
            r.naive_rmse
        );
    }
    assert!(out.join("metrics.jsonl").is_file() && out.join("loss.svg").is_file());
    // the forecast plot: history, forecast and actuals with their legend
    let svg = dir.join("f.svg");
    let f = rnn(&[
        "forecast",
        "--model",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--holdout",
        "3",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(f.status.success(), "{}", common::stderr(&f));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
    for name in ["history", "forecast", "actual"] {
        assert!(text.contains(name), "legend entry {name}");
    }
    // the plot exists now: refused without --force, the file untouched
    let (o, d, p) = (
        out.to_str().unwrap(),
        data.to_str().unwrap(),
        svg.to_str().unwrap(),
    );
    let again = rnn(&["forecast", "--model", o, "--data", d, "--plot", p]);
    common::assert_bad_input(&again, "f.svg: already exists (use --force to replace it)");
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), text);
    // a plot that cannot be written: the error, and no result on stdout
    let nodir = dir.join("no-such-dir").join("f.svg");
    let lost = rnn(&[
        "forecast",
        "--model",
        o,
        "--data",
        d,
        "--plot",
        nodir.to_str().unwrap(),
    ]);
    common::assert_bad_input(&lost, "f.svg");
    assert!(
        lost.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&lost.stdout)
    );
    // a recursive model forecasts any horizon, but not one memory cannot hold
    let huge = rnn(&[
        "forecast",
        "--model",
        o,
        "--data",
        d,
        "--horizon",
        "100000000000000",
    ]);
    common::assert_bad_input(&huge, "--horizon 100000000000000: needs about");
    // eval on a file too short for the model's test block: the file is
    // named; with --test given, the flag is what is wrong and is named alone
    let short = dir.join("short.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&short, text.lines().take(20).collect::<Vec<_>>().join("\n")).unwrap();
    let s = short.to_str().unwrap();
    let o_short = rnn(&["eval", "--model", o, "--data", s]);
    common::assert_bad_input(
        &o_short,
        "short.csv: the model's --test 24: expected 1 to 7 (the data has 19 rows",
    );
    let o_flag = rnn(&["eval", "--model", o, "--data", s, "--test", "0"]);
    common::assert_bad_input(&o_flag, "error: --test 0: expected at least 1 row");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The result goes to stdout: a line of the validation and test scores, or
/// with `--json` one object holding `rnn eval --json`'s test keys.
#[test]
fn the_result_is_a_line_or_one_json_object_on_stdout() {
    let dir = tmp("summary");
    let data = sine_csv(&dir, 80);
    let out = dir.join("model");
    let line = train_ok(&data, &out, &TINY);
    assert!(
        line.starts_with("validation RMSE ")
            && line.contains("(1 network; AR(6) ")
            && line.contains("test RMSE ")
            && line.contains("(4 rows; naive ")
            && line.trim_end().ends_with("s)")
            && line.contains(&format!("model in {}", out.display())),
        "{line}"
    );
    // `rnn train forecast ... --json` into `out`: its object
    let train_json = |out: &Path, extra: &[&str]| {
        let mut args = extra.to_vec();
        args.push("--json");
        serde_json::from_str::<serde_json::Value>(&train_ok(&data, out, &args)).unwrap()
    };
    let mut extra = TINY.to_vec();
    extra.push("--force");
    let v = train_json(&out, &extra);
    assert_eq!(v["test"]["points"], 4, "{v}");
    assert_eq!(v["test"]["window"], 6, "{v}");
    assert!(v["test"]["rmse"].as_f64().unwrap() >= 0.0, "{v}");
    assert!(v["validation"]["naive_rmse"].as_f64().unwrap() > 0.0, "{v}");
    assert!(
        v["choice"].is_null(),
        "window, transform and diff given: nothing chosen: {v}"
    );
    assert_eq!(
        (v["ensemble"].as_u64(), v["epochs"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert_eq!(v["model"], out.to_str().unwrap());
    // rnn forecast --json: the CSV's rows as one object, the same numbers
    let run = |extra: &[&str]| {
        let mut args = vec![
            "forecast",
            "--model",
            out.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--holdout",
            "2",
        ];
        args.extend_from_slice(extra);
        let o = rnn(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let csv = run(&[]);
    let j: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert_eq!(
        (&j["origin"], &j["horizon"], &j["strategy"]),
        (
            &serde_json::json!(78),
            &serde_json::json!(1),
            &serde_json::json!("direct")
        )
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "time,forecast,actual,lower,upper");
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps.len(), rows.len() - 1);
    for (row, step) in rows[1..].iter().zip(steps) {
        let f: Vec<f64> = row.split(',').skip(1).map(|x| x.parse().unwrap()).collect();
        assert_eq!(
            row.split(',').next().unwrap(),
            step["time"].as_str().unwrap()
        );
        for (k, key) in ["forecast", "actual", "lower", "upper"].iter().enumerate() {
            assert!(
                (f[k] - step[key].as_f64().unwrap()).abs() < 1e-6,
                "{key}: {row} vs {step}"
            );
        }
    }
    // chosen on the validation block: the choice is in the object
    #[rustfmt::skip]
    let v = train_json(&dir.join("chosen"), &["--target", "value", "--test", "4", "--epochs", "1", "--hidden", "4", "--ensemble", "1"]);
    assert!(v["choice"]["window"].as_u64().unwrap() >= 1, "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn train_err(csv: &str, extra: &[&str]) -> std::process::Output {
    let dir = tmp(&format!("bad{}", csv.len()));
    let data = dir.join("d.csv");
    std::fs::write(&data, csv).unwrap();
    let mut e = vec!["--test", "2", "--epochs", "1", "--ensemble", "1"]; // issue 18: 5 by default
    if !extra.contains(&"--window") {
        e.extend(["--window", "3"]);
    }
    e.extend(extra);
    let out = train(&data, &dir.join("m"), &e);
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn bad_input_is_one_clear_error_with_exit_code_2() {
    let good: String = (0..20)
        .map(|i| format!("{i},{}\n", (i * 7 % 5) as f64))
        .collect();
    let good = format!("year,v\n{good}");
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            good.clone(),
            vec!["--target", "w"],
            "the columns are: year, v",
        ),
        (
            "year,v\n1,2\n2,3\n3,4\n4,5\n".into(),
            vec!["--target", "v"],
            "too few",
        ),
        (
            "year,v\n".to_string() + &(0..20).map(|i| format!("{i},5\n")).collect::<String>(),
            vec!["--target", "v"],
            "d.csv: the target column \"v\" is constant over the training rows",
        ),
        (
            good.replace("3,1\n", "3,x\n"),
            vec!["--target", "v"],
            ":5: column \"v\": \"x\" is not a number",
        ),
        (
            good.replace("3,1\n", "3,\n"),
            vec!["--target", "v"],
            ":5: column \"v\": missing value",
        ),
        (String::new(), vec!["--target", "v"], "empty file"),
        (
            good.clone(),
            vec!["--target", "v", "--window", "0"],
            "--window 0",
        ),
        (
            good.clone(),
            vec!["--target", "v", "--transform", "log"],
            "d.csv: column \"v\", data row 1 (time 0): 0 is not positive, as --transform log needs",
        ),
        (
            // 20 rows - 2 test = 18 fitted: two seasons of 10 do not fit
            good.clone(),
            vec!["--target", "v", "--season", "10"],
            "--season 10: two seasons need 20 rows, and 18 are fitted (at most --season 9 here)",
        ),
    ];
    for (csv, extra, want) in cases {
        assert_bad_input(&train_err(&csv, &extra), want);
    }
    // monthly rows too few for the grid's seasonal differencing: the choice
    // is what is too few (not a --diff nobody gave), and no directory is left
    let dir = tmp("short-monthly");
    let data = dir.join("m.csv");
    let rows: String = (1..=10)
        .map(|m| format!("2001-{m:02},{}\n", m * m % 7))
        .collect();
    std::fs::write(&data, format!("month,v\n{rows}")).unwrap();
    let out = dir.join("m");
    let o = train(
        &data,
        &out,
        &["--target", "v", "--test", "1", "--ensemble", "1"],
    );
    assert_bad_input(&o, "m.csv: 9 training rows: too few to choose --window, --transform or --diff on a validation block of 1 row (give them");
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_rows_do_not_change_the_fit() {
    let dir = tmp("testrows");
    let data = sine_csv(&dir, 60);
    let text = std::fs::read_to_string(&data).unwrap();
    // the same file with wild values in its last 10 rows
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for l in lines.iter_mut().skip(51) {
        let t = l.split(',').next().unwrap().to_string();
        *l = format!("{t},1000");
    }
    let wild = dir.join("wild.csv");
    std::fs::write(&wild, lines.join("\n")).unwrap();
    let extra = [
        "--target",
        "value",
        "--window",
        "6",
        "--test",
        "10",
        "--hidden",
        "4",
        "--epochs",
        "3",
        "--diff",
        "1",
        "--transform",
        "none",
        "--ensemble",
        "1",
        "--no-ar-skip", // the old meaning (issue 18)
    ];
    let params = |d: &Path, out: &str| {
        train_ok(d, &dir.join(out), &extra);
        let fc = Forecaster::load(&dir.join(out)).unwrap();
        (fc.model.params, fc.meta.pipeline)
    };
    assert_eq!(params(&data, "a"), params(&wild, "b"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn semicolons_a_bom_quoted_newlines_and_zoned_times_with_an_ensemble() {
    let dir = tmp("formats");
    let mut text = String::from("\u{feff}time;note;v\n");
    for i in 0..80 {
        let v = 10.0 + 3.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin();
        let note = if i == 5 {
            "\"two\nlines; quoted\""
        } else {
            "x"
        };
        text += &format!(
            "2021-03-{:02}T{:02}:00:00+01:00;{note};{v}\n",
            1 + i / 24,
            i % 24
        );
    }
    let data = dir.join("d.csv");
    std::fs::write(&data, text).unwrap();
    let out = dir.join("m");
    let flags = [
        "--target",
        "v",
        "--delimiter",
        ";",
        "--test",
        "8",
        "--epochs",
        "2",
        "--hidden",
        "4",
        "--ensemble",
        "2",
    ];
    train_ok(&data, &out, &flags);
    let fc = Forecaster::load(&out).unwrap();
    assert_eq!((fc.meta.season, fc.members.len()), (24, 1)); // hourly labels
    assert!(out.join("member-1").join("model.safetensors").is_file());
    // forecasts after the end continue the times, zone kept, with intervals
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let f = rnn(&["forecast", "--model", o, "--data", d, "--horizon", "1"]);
    assert!(f.status.success(), "{}", common::stderr(&f));
    let csv = String::from_utf8_lossy(&f.stdout).to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,forecast,lower,upper");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells[0], "2021-03-04T08:00:00+01:00");
    let num = |s: &str| s.parse::<f64>().unwrap();
    assert!(
        num(cells[2]) <= num(cells[1]) && num(cells[1]) <= num(cells[3]),
        "{csv}"
    );
    // eval: the old keys and the new ones
    let e = rnn(&["eval", "--model", o, "--data", d, "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    for key in [
        "rmse",
        "naive_rmse",
        "seasonal_naive_mase",
        "ar_rmse",
        "ar_mae",
        "coverage",
    ] {
        assert!(j[key].is_number(), "{key}: {j}");
    }
    assert_eq!(
        (j["ensemble"].as_u64(), j["interval_level"].as_f64()),
        (Some(2), Some(0.9))
    );
    // the same rows written with ',' and a gap: read with --delimiter and
    // --fill in place of the model's own, the same scores
    let commas: String = std::fs::read_to_string(&data)
        .unwrap()
        .replace("\"two\nlines; quoted\"", "y")
        .replace(';', ",");
    let mut rows: Vec<&str> = commas.lines().collect();
    let gap = rows[3].rsplit_once(',').unwrap().0.to_string() + ",NA";
    rows[3] = &gap;
    let other = dir.join("commas.csv");
    std::fs::write(&other, rows.join("\n") + "\n").unwrap();
    let od = other.to_str().unwrap();
    let refused = rnn(&["eval", "--model", o, "--data", od, "--json"]);
    assert_bad_input(&refused, "no column named \"v\"");
    let e2 = rnn(&[
        "eval",
        "--model",
        o,
        "--data",
        od,
        "--json",
        "--delimiter",
        ",",
        "--fill",
        "linear",
    ]);
    assert!(e2.status.success(), "{}", common::stderr(&e2));
    let j2: serde_json::Value = serde_json::from_slice(&e2.stdout).unwrap();
    assert_eq!(j2["rmse"], j["rmse"]);
    let f2 = rnn(&[
        "forecast",
        "--model",
        o,
        "--data",
        od,
        "--horizon",
        "1",
        "--delimiter",
        ",",
        "--fill",
        "linear",
    ]);
    assert_eq!(String::from_utf8_lossy(&f2.stdout), csv);
    // a bad delimiter is a usage error naming the flag
    let bad = train(
        &data,
        &dir.join("m2"),
        &["--target", "v", "--test", "8", "--delimiter", "\""],
    );
    assert_bad_input(&bad, "--delimiter");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_month_left_out_is_a_warning_and_the_rows_are_read_evenly() {
    // 24 months with 2001-06 missing: row 6 of the file (line 7) is two
    // months after the one before; training, `rnn forecast` and `rnn eval`
    // say so on stderr and go on
    let dir = tmp("gap");
    let data = dir.join("gap.csv");
    let rows: String = (0..24)
        .filter(|&k| k != 5)
        .map(|k| format!("{}-{:02},{}\n", 2001 + k / 12, k % 12 + 1, 10 + (k * 7) % 5))
        .collect();
    std::fs::write(&data, format!("month,v\n{rows}")).unwrap();
    let want = format!(
        "warning: {}:7: time column \"month\": time label \"2001-07\" is 2 month(s) after \"2001-05\" on the row before, where the rows are 1 month(s) apart",
        data.display()
    );
    const QUICK: &[&str] = &[
        "--target",
        "v",
        "--window",
        "2",
        "--test",
        "2",
        "--epochs",
        "1",
        "--ensemble",
        "1",
    ];
    let m = dir.join("m");
    let o = train(&data, &m, QUICK);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains(&want), "{}", common::stderr(&o));
    for cmd in ["forecast", "eval"] {
        let args = [
            cmd,
            "--model",
            m.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ];
        let o = rnn(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        assert!(
            common::stderr(&o).contains(&want),
            "{args:?}: {}",
            common::stderr(&o)
        );
    }
    // with the month put back (empty, filled) there is no warning
    let full = std::fs::read_to_string(&data)
        .unwrap()
        .replace("2001-07,", "2001-06,\n2001-07,");
    std::fs::write(&data, full).unwrap();
    let o = train(
        &data,
        &dir.join("m2"),
        &[QUICK, &["--fill", "linear"]].concat(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        !common::stderr(&o).contains("warning"),
        "{}",
        common::stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_series_of_a_long_file_with_where() {
    // two monthly series one after the other, dates as `Jan 1 2000`
    // (vega-datasets' stocks.csv layout)
    let dir = tmp("where");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut text = String::from("symbol,date,price\n");
    for (sym, scale) in [("A", 1.0), ("B", 2.0)] {
        for i in 0..48 {
            let v = 10.0 * scale + 3.0 * (i as f64 * std::f64::consts::TAU / 12.0).sin();
            text += &format!("{sym},{} 1 {},{v}\n", months[i % 12], 2000 + i / 12);
        }
    }
    let data = dir.join("long.csv");
    std::fs::write(&data, text).unwrap();
    let flags = [
        "--target", "price", "--test", "6", "--window", "4", "--epochs", "2",
    ];
    let flags = [&flags[..], &["--hidden", "4", "--ensemble", "1"]].concat();
    // without --where the order error names the column that changes
    let whole = train(&data, &dir.join("m0"), &flags);
    assert_bad_input(
        &whole,
        "column \"symbol\" changes from \"A\" to \"B\" on this row",
    );
    let out = dir.join("m");
    train_ok(
        &data,
        &out,
        &[&flags[..], &["--where", "symbol=B"]].concat(),
    );
    let fc = Forecaster::load(&out).unwrap();
    assert_eq!(
        fc.meta.rows.as_ref().map(|r| r.to_string()).as_deref(),
        Some("symbol=B")
    );
    assert_eq!(fc.meta.season, 12); // the dates are months apart
                                    // eval and forecast read B's rows by themselves; --where A reads A's
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let eval = |extra: &[&str]| {
        let e = rnn(&[&["eval", "--model", o, "--data", d, "--json"][..], extra].concat());
        assert!(e.status.success(), "{}", common::stderr(&e));
        serde_json::from_slice::<serde_json::Value>(&e.stdout).unwrap()
    };
    let (own, b, a) = (
        eval(&[]),
        eval(&["--where", "symbol=B"]),
        eval(&["--where", "symbol=A"]),
    );
    assert_eq!(own, b);
    assert_ne!(own["naive_rmse"], a["naive_rmse"]);
    let f = rnn(&["forecast", "--model", o, "--data", d, "--horizon", "1"]);
    assert!(f.status.success(), "{}", common::stderr(&f));
    let csv = String::from_utf8_lossy(&f.stdout).to_string();
    assert!(
        csv.lines().nth(1).unwrap().starts_with("Jan 1 2004,"),
        "{csv}"
    );
    // a file of A's rows alone: the stored symbol=B says where it came from;
    // --where all reads every row
    let only_a: String = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("B,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let a_csv = dir.join("a.csv");
    std::fs::write(&a_csv, only_a).unwrap();
    let a_path = a_csv.to_str().unwrap();
    assert_bad_input(
        &rnn(&["forecast", "--model", o, "--data", a_path]),
        "no row has \"B\" in column \"symbol\" (its values: A); the model was trained with this --where (--where all reads every row)",
    );
    let all = rnn(&[
        "eval", "--model", o, "--data", a_path, "--json", "--where", "all",
    ]);
    assert!(all.status.success(), "{}", common::stderr(&all));
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(all["naive_rmse"], a["naive_rmse"]);
    // a value no row holds, a column that is not there, no '='
    let none = train(
        &data,
        &dir.join("m1"),
        &[&flags[..], &["--where", "symbol=C"]].concat(),
    );
    assert_bad_input(
        &none,
        "no row has \"C\" in column \"symbol\" (its values: A, B)",
    );
    let col = train(
        &data,
        &dir.join("m2"),
        &[&flags[..], &["--where", "ticker=A"]].concat(),
    );
    assert_bad_input(&col, "no column named \"ticker\"");
    let syntax = train(
        &data,
        &dir.join("m3"),
        &[&flags[..], &["--where", "symbol"]].concat(),
    );
    assert_bad_input(&syntax, "expected COLUMN=VALUE");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_says_when_test_values_were_made_up_by_fill() {
    let dir = tmp("filled-test");
    let data = sine_csv(&dir, 60);
    let text = std::fs::read_to_string(&data).unwrap();
    // the last two values are gaps
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in lines.iter_mut().rev().take(2) {
        *l = format!("{},NA", l.split(',').next().unwrap());
    }
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let out = dir.join("m");
    train_ok(&data, &out, &[&TINY[..], &["--fill", "linear"]].concat());
    let (o, d) = (out.to_str().unwrap(), data.to_str().unwrap());
    let e = rnn(&["eval", "--model", o, "--data", d, "--json"]);
    assert!(e.status.success(), "{}", common::stderr(&e));
    assert!(
        common::stderr(&e)
            .contains("2 of the 4 test values were gaps filled by --fill linear, not read"),
        "{}",
        common::stderr(&e)
    );
    let j: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(j["filled_test_values"], 2, "{j}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stopped_trainings_checkpoint_is_used_with_a_warning() {
    // what a training killed part-way leaves: the model file with
    // `"finished":false` in its settings (made here by editing a finished
    // model, as the library test shows training writes it)
    let dir = tmp("unfinished");
    let data = sine_csv(&dir, 60);
    let out = dir.join("m");
    train_ok(&data, &out, &TINY);
    let (o, d) = (out.to_str().unwrap(), data.to_str().unwrap());
    let quiet = rnn(&["forecast", "--model", o, "--data", d]);
    assert!(quiet.status.success() && !common::stderr(&quiet).contains("warning"));
    let file = out.join("model.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    // safetensors: an 8-byte little-endian header length, the JSON header
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let mark = "\\\"finished\\\":";
    assert!(header.contains(&format!("{mark}true")), "{header}");
    let header = header.replacen(&format!("{mark}true"), &format!("{mark}false"), 1);
    let mut edited = (header.len() as u64).to_le_bytes().to_vec();
    edited.extend_from_slice(header.as_bytes());
    edited.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(&file, rnn::io::reseal(&edited).unwrap()).unwrap();
    for args in [
        vec!["forecast", "--model", o, "--data", d],
        vec!["eval", "--model", o, "--data", d],
    ] {
        let r = rnn(&args);
        let err = common::stderr(&r);
        assert!(r.status.success(), "{err}");
        assert!(!r.stdout.is_empty());
        assert!(
            err.contains("warning: ") && err.contains("stopped part-way"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rnn forecast --plot DIR/member-1/model.safetensors --force` wrote the
/// plot over an ensemble member the command had just read, and `rnn export
/// -o` the same: every file of the model is an input, refused with
/// `--force` too, and the member is left as it was (the CLI sweep of
/// session 55).
#[test]
fn outputs_never_replace_an_ensemble_member() {
    let dir = tmp("onto-member");
    let data = sine_csv(&dir, 60);
    let out = dir.join("model");
    let mut extra = TINY.to_vec();
    extra[15] = "2"; // --ensemble 2
    train_ok(&data, &out, &extra);
    let member = out.join("member-1").join("model.safetensors");
    let before = std::fs::read(&member).unwrap();
    let (m, d, onto) = (
        out.to_str().unwrap(),
        data.to_str().unwrap(),
        member.to_str().unwrap(),
    );
    assert_bad_input(
        &rnn(&[
            "forecast", "--model", m, "--data", d, "--plot", onto, "--force",
        ]),
        "member-1/model.safetensors: is an input of this command",
    );
    assert_bad_input(
        &rnn(&[
            "export", "--model", m, "--format", "pytorch", "-o", onto, "--force",
        ]),
        "member-1/model.safetensors: is an input of this command",
    );
    assert_eq!(std::fs::read(&member).unwrap(), before);
    // a plot elsewhere in the directory is an output like any other
    let plot = out.join("member-1").join("f.svg");
    let f = rnn(&[
        "forecast",
        "--model",
        m,
        "--data",
        d,
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(f.status.success(), "{}", common::stderr(&f));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rnn diagnose` of a forecaster on data with a gap said "use --fill
/// linear or --fill ffill", a flag it refused (the CLI sweep of session
/// 55): it reads a forecaster's data as `rnn forecast` does, --fill,
/// --delimiter and --where included.
#[test]
fn diagnose_takes_the_reading_flags_its_errors_suggest() {
    let dir = tmp("diagnose-fill");
    let data = sine_csv(&dir, 60);
    let out = dir.join("model");
    train_ok(&data, &out, &TINY);
    let text = std::fs::read_to_string(&data).unwrap();
    let gap = dir.join("gap.csv");
    // line 32 of the file (t = 30) becomes a gap; the rest as it was
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[31] = "30,".into();
    std::fs::write(&gap, lines.join("\n") + "\n").unwrap();
    let (m, g) = (out.to_str().unwrap(), gap.to_str().unwrap());
    assert_bad_input(
        &rnn(&["diagnose", "--model", m, "--data", g]),
        "(use --fill linear or --fill ffill to fill gaps)",
    );
    let o = rnn(&[
        "diagnose", "--model", m, "--data", g, "--fill", "linear", "--json",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.is_object());
    let semi = dir.join("semi.csv");
    std::fs::write(&semi, text.replace(',', ";")).unwrap();
    let s = semi.to_str().unwrap();
    assert_bad_input(
        &rnn(&["diagnose", "--model", m, "--data", s]),
        "pass --delimiter ';'",
    );
    let o = rnn(&["diagnose", "--model", m, "--data", s, "--delimiter", ";"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `rnn eval --test 120` of a model on its own training file scored 108
/// rows it was fitted on as test rows without a word (the CLI sweep of
/// session 55): a warning says how many, and `--json` has
/// `fitted_test_rows`.
#[test]
fn eval_says_when_test_rows_were_fitted_on() {
    let dir = tmp("fitted-test-rows");
    let data = sine_csv(&dir, 60);
    let out = dir.join("model");
    train_ok(&data, &out, &TINY); // --test 4: fitted on the first 56 rows
    let (m, d) = (out.to_str().unwrap(), data.to_str().unwrap());
    let own = rnn(&["eval", "--model", m, "--data", d, "--json"]);
    assert!(own.status.success(), "{}", common::stderr(&own));
    assert!(
        !common::stderr(&own).contains("warning"),
        "{}",
        common::stderr(&own)
    );
    let v: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(v["fitted_test_rows"], 0);
    let wide = rnn(&["eval", "--model", m, "--data", d, "--test", "10", "--json"]);
    assert!(wide.status.success(), "{}", common::stderr(&wide));
    assert!(
        common::stderr(&wide).contains("6 of the 10 test rows were in the model's training part (this is its training file, fitted on its first 56 rows): the scores flatter it; --test 4 or less keeps to rows it never saw"),
        "{}",
        common::stderr(&wide)
    );
    let v: serde_json::Value = serde_json::from_slice(&wide.stdout).unwrap();
    assert_eq!(v["fitted_test_rows"], 6);
    // another series of the same length: rows the model never saw
    let other = dir.join("other.csv");
    let text = std::fs::read_to_string(&data).unwrap().replace(",1", ",2");
    std::fs::write(&other, text).unwrap();
    let o = rnn(&[
        "eval",
        "--model",
        m,
        "--data",
        other.to_str().unwrap(),
        "--test",
        "10",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["fitted_test_rows"], 0, "{}", common::stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
