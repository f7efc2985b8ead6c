//! `rnn train forecast` and `rnn forecast` through their flags.

use super::predict::fmt_num;
use super::*;
use crate::error::CliError;
use clap::Parser;
use rnn::tasks::forecast::Forecaster;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    a: TrainForecastArgs,
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnn-forecast-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn train_args(data: &Path, out: &Path, extra: &[&str]) -> TrainForecastArgs {
    let mut argv = vec![
        "x".to_string(),
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    Wrap::try_parse_from(argv).unwrap().a
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
        "--target", "value", "--window", "12", "--test", "24", "--hidden", "8", "--epochs", "40",
        "--lr", "0.01",
    ];
    for (strategy, horizon) in [("direct", "3"), ("recursive", "3")] {
        let mut extra = common.to_vec();
        extra.extend(["--strategy", strategy, "--horizon", horizon, "--force"]); // the second run replaces the first
        train_forecast(&train_args(&data, &out, &extra)).unwrap();
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
    run_forecast(&ForecastArgs {
        model: out.clone(),
        data: data.clone(),
        horizon: None,
        holdout: Some(3),
        plot: Some(svg.clone()),
    })
    .unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
    for name in ["history", "forecast", "actual"] {
        assert!(text.contains(name), "legend entry {name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn train_err(csv: &str, extra: &[&str]) -> CliError {
    let dir = tmp(&format!("bad{}", csv.len()));
    let data = dir.join("d.csv");
    std::fs::write(&data, csv).unwrap();
    let mut e = vec!["--test", "2", "--epochs", "1"];
    if !extra.contains(&"--window") {
        e.extend(["--window", "3"]);
    }
    e.extend(extra);
    let err = train_forecast(&train_args(&data, &dir.join("m"), &e)).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    err
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
            "year,v\n".to_string() + &"1,5\n".repeat(20),
            vec!["--target", "v"],
            "constant",
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
            "positive for --transform log",
        ),
    ];
    for (csv, extra, want) in cases {
        let e = train_err(&csv, &extra);
        let msg = e.to_string();
        assert!(
            msg.contains(want),
            "{extra:?}: {msg:?} should contain {want:?}"
        );
        assert_eq!(e.exit_code(), 2, "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
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
        "--target", "value", "--window", "6", "--test", "10", "--hidden", "4", "--epochs", "3",
        "--diff", "1",
    ];
    let params = |d: &Path, out: &str| {
        train_forecast(&train_args(d, &dir.join(out), &extra)).unwrap();
        let fc = Forecaster::load(&dir.join(out)).unwrap();
        (fc.model.params, fc.meta.pipeline)
    };
    assert_eq!(params(&data, "a"), params(&wild, "b"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn number_formatting() {
    assert_eq!(fmt_num(1.5), "1.5");
    assert_eq!(fmt_num(2.0), "2");
    assert_eq!(fmt_num(-0.0000001), "0");
}
