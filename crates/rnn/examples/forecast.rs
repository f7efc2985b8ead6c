//! Train a forecaster on a CSV file in the repository and forecast its
//! held-out block: monthly airline passengers 1949-1960, the last 24 months
//! forecast at once from the 120 before them, with the README's settings
//! (`rnn train forecast --data data/timeseries/airline.csv --target Passengers
//! --horizon 24 --test 24 --window 24 --transform log --diff 1`).
//!
//! `cargo run --release -p rnn --example forecast` (no arguments). Asserts
//! that the forecast beats the naive forecast (the last known value) on the
//! held-out block.

use rnn::tasks::forecast::{naive, rmse, Forecaster, TrainConfig, Trainer, Transform};
use rnn::tasks::{Budget, Event};
use std::path::Path;

fn main() -> rnn::Result<()> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/timeseries/airline.csv");
    let out = std::env::temp_dir().join(format!("rnn-example-forecast-{}", std::process::id()));

    // The last 24 rows are the test block: never fitted on, never normalised with.
    let mut cfg = TrainConfig::new("Passengers", 24, 24);
    cfg.horizon = 24; // a direct model: 24 outputs, the next 24 months at once
    cfg.transform = Transform::Log; // multiplicative seasonality becomes additive
    cfg.diff = vec![1]; // month-to-month changes of the log
    let mut trainer = Trainer::new(cfg, &data, &out)?;
    // print the trainer's own lines (settings, stop reason, test scores)
    let mut log = |e: &Event| {
        if let Event::Message(line) = e {
            eprintln!("{line}");
        }
    };
    // early stopping on the validation windows ends the run well before 500 epochs
    let summary = trainer.fit(Budget::Epochs(500), &mut log)?;
    eprintln!("kept epoch {} of {}", summary.best_epoch, summary.epochs);

    // A user's view: load the saved model and forecast the held-out block.
    let model = Forecaster::load(&out)?;
    let series = model.read_series(&data)?;
    let origin = series.len() - 24;
    let forecast = model.forecast_at(&series, origin, 24)?; // reads rows 0..origin only
    let actual = &series.target[origin..];
    println!("month,forecast,actual");
    for (k, (f, a)) in forecast.iter().zip(actual).enumerate() {
        println!("{},{f:.1},{a}", series.time[origin + k]);
    }
    let model_rmse = rmse(&forecast, actual)?;
    let naive_rmse = rmse(&naive(&series.target[..origin], 24)?, actual)?;
    println!("RMSE: model {model_rmse:.2}, naive {naive_rmse:.2}");
    assert!(
        model_rmse < naive_rmse,
        "the model ({model_rmse:.2}) should beat the naive forecast ({naive_rmse:.2})"
    );
    std::fs::remove_dir_all(&out).map_err(|e| rnn::Error::io(&out, e))?;
    Ok(())
}
