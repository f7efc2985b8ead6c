//! Time-series forecasting: `rnn train forecast`, `rnn forecast` and the
//! forecast part of `rnn eval`.
//!
//! A model reads `--window` normalised steps of the target (plus any
//! `--features`) and its many-to-one readout gives the next `--horizon`
//! values at once (`--strategy direct`, O = H) or the next value only, fed
//! back `H` times (`--strategy recursive`, O = 1).

use super::eval::EvalArgs;
use super::gradcheck::parse_cell;
use crate::error::{CliError, CliResult};
use crate::train_util::{
    at_least_one, budget_from_flags, plot_lines, plot_styled, positive, set_threads, Budget,
    Metrics, PlotStyle, Progress,
};
use clap::Args;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rnn::io::model_file::ModelFile;
use rnn::nn::layer::Input;
use rnn::nn::loss::{OutputKind, Reduction, Targets};
use rnn::nn::many_to_one::ManyToOne;
use rnn::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use rnn::tasks::forecast::{
    default_season, eval_origins, extend_time, fingerprint, mae, mase_scale, naive, rmse,
    seasonal_naive, time_axis, windows, Fill, Pipeline, Series, TimeColumn, Transform, Window,
};
use rnn::{Error, Model, ModelConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The metadata key holding [`ForecastMeta`] as JSON.
const META_KEY: &str = "forecast";

/// Help text of the forecast part of `rnn eval`.
pub const EVAL_HELP: &str = "\
Forecast models: the last N rows of --data (N = --test, default the --test the
model was trained with) are cut into consecutive blocks of H rows, H = the
model's --horizon (the last block may be shorter). Each block is forecast at
once from all the rows before it (its origin): with H = 1 every test row gets a
one-step-ahead forecast from the true data before it; with H = N there is one
N-step forecast from the origin just before the test block. The naive (last
value before the origin) and seasonal-naive (the value a whole number of
seasons before, taken from before the origin) forecasts are scored on the same
rows. MASE divides each MAE by the in-sample MAE of the seasonal-naive forecast
(naive when the season is 1) over the rows before the test block.

--json prints rmse, mae, mase, naive_rmse, naive_mae, naive_mase,
seasonal_naive_rmse, seasonal_naive_mae, seasonal_naive_mase, points,
horizon, season, strategy.

Taggers: repeat --model to score an ensemble (the mean of the models' tag
probabilities, CRF marginals for CRF taggers); --entity-bias B adds B to the
log-probability of every tag but O (a single CRF tagger: to its per-token
score) before the BIO-constrained decoding (comma-separated values: one report
each, for tuning on dev).

Examples:
  rnn eval --model runs/sunspots --data data/timeseries/sunspots.csv
  rnn eval --model runs/ner1 --model runs/ner2 --data dev.conll --json --entity-bias 0,1,2,3";

/// Everything a forecast model needs besides its weights, stored as JSON in
/// the model file's metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForecastMeta {
    /// Target column name.
    pub target: String,
    /// Feature column names (inputs only).
    pub features: Vec<String>,
    /// Time column name, if any.
    pub time: Option<String>,
    /// How gaps were filled.
    pub fill: Fill,
    /// Input steps per forecast.
    pub window: usize,
    /// Steps forecast at once.
    pub horizon: usize,
    /// "direct" (O = horizon) or "recursive" (O = 1, fed back).
    pub strategy: String,
    /// Rows at the end of the training file held out as the test block.
    pub test: usize,
    /// Fraction of the training part used for validation.
    pub val_frac: f64,
    /// Season of the seasonal-naive baseline and MASE.
    pub season: usize,
    /// Transform, differencing and normalisation fitted on the training part.
    pub pipeline: Pipeline,
    /// Rows of the training file.
    pub data_rows: usize,
    /// Fingerprint of the training file's target values.
    pub data_fingerprint: String,
    /// Rows fitted on (training file minus the test block).
    pub fit_rows: usize,
    /// The training file's name (informational).
    pub data: String,
    /// Seed of the run.
    pub seed: u64,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Validation MSE per value (normalised units) of the kept weights.
    pub best_val_mse: Option<f64>,
}

impl ForecastMeta {
    fn recursive(&self) -> bool {
        self.strategy == "recursive"
    }

    fn time_column(&self) -> TimeColumn {
        match &self.time {
            Some(t) => TimeColumn::Named(t.clone()),
            None => TimeColumn::None,
        }
    }

    fn from_file(mf: &ModelFile, dir: &Path) -> CliResult<Self> {
        let s = mf.meta(dir, META_KEY)?;
        serde_json::from_str(s).map_err(|e| {
            CliError::Lib(Error::Metadata {
                path: dir.join(rnn::io::model_file::MODEL_FILE),
                key: META_KEY.into(),
                value: s.chars().take(60).collect(),
                expected: format!("forecast settings as JSON ({e})"),
            })
        })
    }
}

/// Train a forecasting model on one column of a CSV file.
#[derive(Args, Debug, Clone)]
#[command(after_help = TRAIN_HELP)]
pub struct TrainForecastArgs {
    /// The CSV file (header line first; quoted fields allowed).
    #[arg(long)]
    pub data: PathBuf,
    /// The column to forecast.
    #[arg(long)]
    pub target: String,
    /// Extra input columns, comma-separated (inputs only; not forecast).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// The time column, or "none" [default: the first column if it is named
    /// like date/year/time/month/... or is not numeric].
    #[arg(long)]
    pub time: Option<String>,
    /// Fill gaps (empty, NA, NaN, null cells): none (gaps are errors), linear, ffill.
    #[arg(long, default_value = "none")]
    pub fill: String,
    /// Input steps per forecast.
    #[arg(long)]
    pub window: usize,
    /// Steps to forecast at once.
    #[arg(long, default_value_t = 1)]
    pub horizon: usize,
    /// direct: one output per step of the horizon; recursive: a one-step
    /// model whose forecasts are fed back as inputs.
    #[arg(long, default_value = "direct")]
    pub strategy: String,
    /// The last N rows: never used for fitting or normalisation (scored by `rnn eval`).
    #[arg(long)]
    pub test: usize,
    /// Model directory to write (model.safetensors, metrics.jsonl, loss.svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Transform of the target before differencing: none, log, sqrt (inverted for forecasts).
    #[arg(long, default_value = "none")]
    pub transform: String,
    /// Lags to difference by, in turn, after the transform (e.g. 1,12; inverted for forecasts).
    #[arg(long, value_delimiter = ',')]
    pub diff: Vec<usize>,
    /// Season of the seasonal-naive baseline and MASE [default: 12 for
    /// monthly time labels, 4 for quarterly, else 1].
    #[arg(long)]
    pub season: Option<usize>,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Cell: elman, lstm or gru.
    #[arg(long, default_value = "gru")]
    pub cell: String,
    /// Elman nonlinearity: tanh, relu or sigmoid.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// Passes over the training windows [default: 500, with early stopping].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes instead of --epochs.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Stop when the validation loss has not improved for this many epochs.
    #[arg(long, default_value_t = 50)]
    pub patience: usize,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate (Adam, or AdamW with --weight-decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Decoupled weight decay (AdamW); 0 uses Adam.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Clip the gradient norm to this value.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Windows per minibatch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Fraction of the training part, taken from its end, whose windows are
    /// used for validation and early stopping (0: none, keep the last epoch).
    #[arg(long, default_value_t = 0.1)]
    pub val_frac: f64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

const TRAIN_HELP: &str = "\
Splits: the last --test rows are the test block, never used for fitting or
normalisation. The rest is the training part; windows whose last target row
lies in its final --val-frac are validation windows (early stopping; the best
epoch's weights are saved), the others are fitted.

Inputs: the target is transformed (--transform), differenced by each --diff
lag in turn, and z-scored with the mean and std of the training part; features
are z-scored too. Each window of --window steps is read by the recurrent
network and the readout of its last state gives the forecast (many-to-one).
--strategy direct (default) gives the H = --horizon next values at once;
--strategy recursive gives the next value and feeds it back H times (no
--features then). Forecasts are turned back into target values by undoing the
normalisation, the differencing and the transform. Loss: squared error.

Examples (see docs/forecasting.md for their test scores):
  rnn train forecast --data data/timeseries/sunspots.csv --target SUNACTIVITY \\
      --window 12 --transform sqrt --test 62 --out runs/sunspots
  rnn train forecast --data data/timeseries/airline.csv --target Passengers \\
      --window 24 --horizon 24 --test 24 --transform log --diff 1 --out runs/airline";

fn usage(s: String) -> CliError {
    CliError::Usage(s)
}

/// The `[W, B, I]` inputs and `[B, O]` targets of a minibatch of windows of
/// the encoded series `enc` (`[N, I]`, the target in column 0).
fn batch_of(enc: &[f64], width: usize, wins: &[&Window]) -> (Vec<f32>, Vec<f32>) {
    let (b, steps) = (wins.len(), wins[0].input.len());
    let o = wins[0].target.len();
    let mut x = vec![0f32; steps * b * width]; // [W, B, I]
    let mut y = vec![0f32; b * o]; // [B, O]
    for (j, w) in wins.iter().enumerate() {
        for t in 0..steps {
            let src = (w.input.start + t) * width;
            let dst = (t * b + j) * width;
            for i in 0..width {
                x[dst + i] = enc[src + i] as f32;
            }
        }
        for k in 0..o {
            y[j * o + k] = enc[(w.target.start + k) * width] as f32;
        }
    }
    (x, y)
}

/// Mean squared error per value of the model on `wins` (normalised units).
fn mse_on(model: &Model<f32>, enc: &[f64], width: usize, wins: &[&Window]) -> CliResult<f64> {
    let mut total = 0.0;
    let mut count = 0usize;
    for chunk in wins.chunks(256) {
        let (x, y) = batch_of(enc, width, chunk);
        let out = ManyToOne::new(model).predict(
            Input::Dense(&x),
            chunk[0].input.len(),
            chunk.len(),
            None,
        )?;
        for (o, t) in out.iter().zip(&y) {
            let d = f64::from(*o - *t);
            total += d * d;
        }
        count += y.len();
    }
    Ok(total / count.max(1) as f64)
}

/// Reads the series a forecast model was trained on (same columns, time
/// column and gap filling).
fn read_for_model(meta: &ForecastMeta, data: &Path) -> CliResult<Series> {
    Ok(Series::read(
        data,
        &meta.target,
        &meta.features,
        &meta.time_column(),
        meta.fill,
    )?)
}

/// Forecasts the `h` rows after row `origin` of `series` from rows `0..origin`.
fn forecast_at(
    model: &Model<f32>,
    meta: &ForecastMeta,
    series: &Series,
    origin: usize,
    h: usize,
) -> CliResult<Vec<f64>> {
    let p = &meta.pipeline;
    let need = meta.window.saturating_add(p.lost());
    if origin < need {
        return Err(CliError::Lib(Error::Data {
            path: series.path.clone(),
            reason: format!(
                "a forecast from row {origin} needs at least {need} rows before it (window {} + {} lost to differencing)",
                meta.window,
                p.lost()
            ),
        }));
    }
    let hist = &series.target[..origin];
    let feats: Vec<Vec<f64>> = series
        .features
        .iter()
        .map(|f| f[..origin].to_vec())
        .collect();
    let width = 1 + feats.len();
    let enc = p.encode(hist, &feats)?; // [origin - lost, I]
    let w = meta.window;
    let head = ManyToOne::new(model);
    let mut win: Vec<f32> = enc[enc.len() - w * width..]
        .iter()
        .map(|&v| v as f32)
        .collect(); // [W, 1, I]
    let pred: Vec<f64> = if meta.recursive() {
        let mut out = Vec::with_capacity(h);
        for _ in 0..h {
            let next = head.predict(Input::Dense(&win), w, 1, None)?[0];
            out.push(f64::from(next));
            win.drain(..width);
            win.push(next);
        }
        out
    } else {
        let o = head.predict(Input::Dense(&win), w, 1, None)?;
        o[..h.min(o.len())].iter().map(|&v| f64::from(v)).collect()
    };
    Ok(p.decode(hist, &pred)?)
}

/// Runs `rnn train forecast`.
pub fn train_forecast(args: &TrainForecastArgs) -> CliResult {
    set_threads(args.threads)?;
    let a = args;
    for (flag, v) in [
        ("--window", a.window),
        ("--horizon", a.horizon),
        ("--hidden", a.hidden),
        ("--layers", a.layers),
        ("--batch", a.batch),
    ] {
        at_least_one(flag, v)?;
    }
    for (flag, v, max) in [("--hidden", a.hidden, 4096), ("--layers", a.layers, 16)] {
        if v > max {
            return Err(usage(format!("{flag} {v}: expected 1 to {max}")));
        }
    }
    if a.diff.contains(&0) {
        return Err(usage("--diff 0: lags must be at least 1".into()));
    }
    let lr = positive("--lr", a.lr)?;
    positive("--clip", a.clip)?;
    if !(0.0..0.9).contains(&a.val_frac) {
        return Err(usage(format!(
            "--val-frac {}: expected a number in [0, 0.9)",
            a.val_frac
        )));
    }
    if !a.weight_decay.is_finite() || a.weight_decay < 0.0 {
        return Err(usage(format!(
            "--weight-decay {}: expected a number >= 0",
            a.weight_decay
        )));
    }
    let recursive = match a.strategy.as_str() {
        "direct" => false,
        "recursive" => true,
        s => {
            return Err(usage(format!(
                "--strategy {s:?}: expected direct or recursive"
            )))
        }
    };
    if recursive && !a.features.is_empty() {
        return Err(usage(
            "--strategy recursive cannot be used with --features (future feature values are unknown)".into(),
        ));
    }
    let fill = Fill::parse(&a.fill).ok_or_else(|| {
        usage(format!(
            "--fill {:?}: expected none, linear or ffill",
            a.fill
        ))
    })?;
    let transform = Transform::parse(&a.transform).ok_or_else(|| {
        usage(format!(
            "--transform {:?}: expected none, log or sqrt",
            a.transform
        ))
    })?;
    let cell = parse_cell(&a.cell, &a.activation)?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(500))?;
    let time = match a.time.as_deref() {
        None => TimeColumn::Auto,
        Some(t) if t.eq_ignore_ascii_case("none") => TimeColumn::None,
        Some(t) => TimeColumn::Named(t.to_string()),
    };

    let series = Series::read(&a.data, &a.target, &a.features, &time, fill)?;
    let n = series.len();
    let season = match a.season {
        Some(0) => return Err(usage("--season 0: expected at least 1".into())),
        Some(s) => s,
        None => default_season(&series.time),
    };
    let model_h = if recursive { 1 } else { a.horizon };
    let lost = a.diff.iter().fold(0usize, |t, &l| t.saturating_add(l));
    let min_fit = a.window.saturating_add(lost).saturating_add(model_h);
    if a.test >= n || n - a.test < min_fit {
        return Err(CliError::Lib(Error::Data {
            path: a.data.clone(),
            reason: format!(
                "{n} rows: too few for --test {} plus --window {} + horizon {model_h}{} ({} rows needed)",
                a.test,
                a.window,
                if lost > 0 { format!(" + {lost} lost to --diff") } else { String::new() },
                a.test.saturating_add(min_fit)
            ),
        }));
    }
    let fit_rows = n - a.test;
    let fit_feats: Vec<Vec<f64>> = series
        .features
        .iter()
        .map(|f| f[..fit_rows].to_vec())
        .collect();
    let pipeline = Pipeline::fit(
        &series.target[..fit_rows],
        &fit_feats,
        transform,
        &a.diff,
        (&series.target_name, &series.feature_names),
    )?;
    let width = 1 + fit_feats.len();
    let enc = pipeline.encode(&series.target[..fit_rows], &fit_feats)?; // [M, I]
    let m = enc.len() / width;
    let all = windows(m, a.window, model_h);
    let val_rows = if a.val_frac > 0.0 {
        ((a.val_frac * m as f64).round() as usize).max(1)
    } else {
        0
    };
    let (val, train): (Vec<&Window>, Vec<&Window>) =
        all.iter().partition(|w| w.target.end > m - val_rows);
    if train.is_empty() {
        return Err(CliError::Lib(Error::Data {
            path: a.data.clone(),
            reason: format!(
                "no training windows left: {fit_rows} training rows, {val_rows} of them for validation, each window needs {} (lower --window, --horizon or --val-frac)",
                a.window + model_h
            ),
        }));
    }

    let mut cfg = ModelConfig::elman(width, a.hidden, model_h);
    cfg.cell = cell;
    cfg.num_layers = a.layers;
    cfg.output = OutputKind::Identity;
    let mut model = Model::<f32>::new(cfg, a.seed)?;
    let opt_cfg = if a.weight_decay > 0.0 {
        OptimizerConfig::from_args(
            "adamw",
            &serde_json::json!({"lr": lr, "weight_decay": a.weight_decay}),
        )?
    } else {
        OptimizerConfig::from_args("adam", &serde_json::json!({"lr": lr}))?
    };
    let mut opt = Optimizer::<f32>::new(opt_cfg, model.params.len());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed_f0ca);

    let mut meta = ForecastMeta {
        target: series.target_name.clone(),
        features: series.feature_names.clone(),
        time: series.time_name.clone(),
        fill,
        window: a.window,
        horizon: a.horizon,
        strategy: if recursive { "recursive" } else { "direct" }.into(),
        test: a.test,
        val_frac: a.val_frac,
        season,
        pipeline,
        data_rows: n,
        data_fingerprint: fingerprint(&series.target),
        fit_rows,
        data: a
            .data
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        seed: a.seed,
        best_epoch: 0,
        best_val_mse: None,
    };
    let save = |model: &Model<f32>, meta: &ForecastMeta| -> CliResult {
        let mut m = BTreeMap::new();
        m.insert(
            META_KEY.to_string(),
            serde_json::to_string(meta).map_err(|e| CliError::Failure(e.to_string()))?,
        );
        ModelFile {
            task: "forecast".into(),
            model: model.clone(),
            extra: BTreeMap::new(),
            meta: m,
        }
        .save(&a.out)?;
        Ok(())
    };

    eprintln!(
        "{}: {n} rows; fitting on the first {fit_rows} ({} training windows, {} validation windows), test block of {} rows; \
         strategy {} ({} output{}); {} parameters",
        a.data.display(),
        train.len(),
        val.len(),
        a.test,
        meta.strategy,
        model_h,
        if model_h == 1 { "" } else { "s" },
        model.params.len()
    );
    if series.filled > 0 {
        eprintln!("filled {} missing values ({})", series.filled, a.fill);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let mut metrics = Metrics::open(&a.out, false);
    let per_epoch = train.len().div_ceil(a.batch);
    let total = match budget {
        Budget::Epochs(e) => (e * per_epoch) as u64,
        Budget::Steps(s) => s,
        Budget::Minutes(_) => 0,
    };
    let progress = Progress::new(budget, total);
    let mut order: Vec<&Window> = train.clone();
    let mut grads = vec![0f32; model.params.len()];
    let mut best = f64::INFINITY;
    let mut step = 0u64;
    let mut epoch = 0usize;
    let mut stop_reason = "budget reached";
    loop {
        epoch += 1;
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for chunk in order.chunks(a.batch) {
            let (x, y) = batch_of(&enc, width, chunk);
            grads.fill(0.0);
            let (loss, _) = ManyToOne::new(&model).loss_and_grads(
                Input::Dense(&x),
                Targets::Values(&y),
                a.window,
                chunk.len(),
                None,
                Reduction::Mean,
                &mut grads,
            )?;
            if !loss.is_finite() {
                progress.finish();
                return Err(Error::Diverged {
                    step,
                    value: loss.to_string(),
                }
                .into());
            }
            sum += f64::from(loss) * chunk.len() as f64;
            clip_grad_norm(&mut grads, a.clip);
            opt.step(&mut model.params, &grads);
            step += 1;
        }
        // loss = mean over windows of 0.5 ||o - y||^2  ->  MSE per value
        let train_mse = 2.0 * sum / (train.len() * model_h) as f64;
        let val_mse = (!val.is_empty())
            .then(|| mse_on(&model, &enc, width, &val))
            .transpose()?;
        let improved = match val_mse {
            Some(v) => v < best,
            None => true,
        };
        if improved {
            best = val_mse.unwrap_or(train_mse);
            meta.best_epoch = epoch;
            meta.best_val_mse = val_mse;
            save(&model, &meta)?;
        }
        metrics.push(serde_json::json!({
            "epoch": epoch,
            "step": step,
            "train_mse": train_mse,
            "val_mse": val_mse,
            "best_epoch": meta.best_epoch,
            "elapsed_s": progress.elapsed(),
        }))?;
        progress.update(
            step,
            format!(
                "epoch {epoch} train {train_mse:.4} val {}",
                val_mse.map_or("-".into(), |v| format!("{v:.4}"))
            ),
        );
        if epoch % 20 == 0 {
            plot_loss(&a.out, &metrics)?;
        }
        if val_mse.is_some() && epoch - meta.best_epoch >= a.patience {
            stop_reason = "early stopping";
            break;
        }
        if matches!(budget, Budget::Epochs(e) if epoch >= e) || progress.out_of_time() {
            break;
        }
    }
    progress.finish();
    plot_loss(&a.out, &metrics)?;
    eprintln!(
        "stopped after {epoch} epochs ({stop_reason}); kept epoch {} (validation MSE {}); wrote {}",
        meta.best_epoch,
        meta.best_val_mse.map_or("-".into(), |v| format!("{v:.4}")),
        a.out.join(rnn::io::model_file::MODEL_FILE).display()
    );
    if a.test > 0 {
        // score the saved (best) weights on the test block
        let mf = ModelFile::load_task(&a.out, "forecast")?;
        let r = evaluate(&mf.model, &meta, &series, a.test, season)?;
        eprintln!(
            "test ({} rows, horizon {}, {}): RMSE {:.3} MAE {:.3} MASE {}; naive RMSE {:.3}; seasonal naive (S={season}) RMSE {:.3}",
            r.points,
            meta.horizon,
            meta.strategy,
            r.rmse,
            r.mae,
            r.mase.map_or("-".into(), |v| format!("{v:.3}")),
            r.naive_rmse,
            r.seasonal_naive_rmse
        );
    }
    Ok(())
}

fn plot_loss(dir: &Path, metrics: &Metrics) -> CliResult {
    let mut series = vec![("train MSE", metrics.series("epoch", "train_mse"))];
    let val = metrics.series("epoch", "val_mse");
    if !val.is_empty() {
        series.push(("validation MSE", val));
    }
    plot_lines(
        &dir.join("loss.svg"),
        "forecast training (normalised units)",
        "epoch",
        "MSE",
        &series,
    )
}

/// The scores of a model and the baselines on the last rows of a series.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Test rows scored.
    pub points: usize,
    /// Model RMSE.
    pub rmse: f64,
    /// Model MAE.
    pub mae: f64,
    /// Model MASE (None when the scale is zero or undefined).
    pub mase: Option<f64>,
    /// Naive (last value) RMSE.
    pub naive_rmse: f64,
    /// Naive MAE.
    pub naive_mae: f64,
    /// Naive MASE.
    pub naive_mase: Option<f64>,
    /// Seasonal-naive RMSE.
    pub seasonal_naive_rmse: f64,
    /// Seasonal-naive MAE.
    pub seasonal_naive_mae: f64,
    /// Seasonal-naive MASE.
    pub seasonal_naive_mase: Option<f64>,
}

/// Forecasts the last `test` rows of `series` block by block (see
/// [`EVAL_HELP`]) and scores the model and the baselines.
pub fn evaluate(
    model: &Model<f32>,
    meta: &ForecastMeta,
    series: &Series,
    test: usize,
    season: usize,
) -> CliResult<EvalReport> {
    let n = series.len();
    if test == 0 || test >= n {
        return Err(usage(format!(
            "--test {test}: expected 1 to {} (the data has {n} rows)",
            n.saturating_sub(1)
        )));
    }
    let y = &series.target;
    let (mut f, mut nv, mut sn, mut act) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (origin, len) in eval_origins(n, test, meta.horizon) {
        f.extend(forecast_at(model, meta, series, origin, len)?);
        nv.extend(naive(&y[..origin], len));
        sn.extend(seasonal_naive(&y[..origin], len, season));
        act.extend_from_slice(&y[origin..origin + len]);
    }
    let scale = mase_scale(&y[..n - test], season);
    let mase = |v: f64| scale.map(|s| v / s);
    let (m, nm, sm) = (mae(&f, &act), mae(&nv, &act), mae(&sn, &act));
    Ok(EvalReport {
        points: act.len(),
        rmse: rmse(&f, &act),
        mae: m,
        mase: mase(m),
        naive_rmse: rmse(&nv, &act),
        naive_mae: nm,
        naive_mase: mase(nm),
        seasonal_naive_rmse: rmse(&sn, &act),
        seasonal_naive_mae: sm,
        seasonal_naive_mase: mase(sm),
    })
}

/// The forecast part of `rnn eval`.
pub fn eval_forecast(args: &EvalArgs) -> CliResult {
    let mf = ModelFile::load_task(args.first_model(), "forecast")?;
    let meta = ForecastMeta::from_file(&mf, args.first_model())?;
    let series = read_for_model(&meta, &args.data)?;
    let test = args.test.unwrap_or(meta.test);
    if test == 0 {
        return Err(usage(
            "the model was trained with --test 0: give --test N".into(),
        ));
    }
    let season = match args.season {
        Some(0) => return Err(usage("--season 0: expected at least 1".into())),
        Some(s) => s,
        None => meta.season,
    };
    let r = evaluate(&mf.model, &meta, &series, test, season)?;
    if args.json {
        let mut v = serde_json::to_value(&r).map_err(|e| CliError::Failure(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("horizon".into(), meta.horizon.into());
            o.insert("season".into(), season.into());
            o.insert("strategy".into(), meta.strategy.clone().into());
        }
        println!("{v}");
    } else {
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "{} test rows of {}, forecast in blocks of {} ({} strategy), season {season}",
            r.points,
            args.data.display(),
            meta.horizon,
            meta.strategy
        );
        println!(
            "{:<16} {:>10} {:>10} {:>8}",
            "forecast", "RMSE", "MAE", "MASE"
        );
        println!(
            "{:<16} {:>10.4} {:>10.4} {:>8}",
            "model",
            r.rmse,
            r.mae,
            fmt(r.mase)
        );
        println!(
            "{:<16} {:>10.4} {:>10.4} {:>8}",
            "naive",
            r.naive_rmse,
            r.naive_mae,
            fmt(r.naive_mase)
        );
        println!(
            "{:<16} {:>10.4} {:>10.4} {:>8}",
            "seasonal naive",
            r.seasonal_naive_rmse,
            r.seasonal_naive_mae,
            fmt(r.seasonal_naive_mase)
        );
    }
    Ok(())
}

/// Forecast the steps after the end of a series with a trained model.
#[derive(Args, Debug)]
#[command(after_help = FORECAST_HELP)]
pub struct ForecastArgs {
    /// The model directory (from `rnn train forecast`).
    #[arg(long)]
    pub model: PathBuf,
    /// The CSV file with the history (same columns as the training file).
    #[arg(long)]
    pub data: PathBuf,
    /// Steps to forecast [default: the model's horizon; a direct model cannot
    /// forecast further than its horizon].
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Treat the last K rows of --data as unknown: forecast from the row
    /// before them and show them as actuals (0: forecast after the end).
    #[arg(long)]
    pub holdout: Option<usize>,
    /// Also draw history, forecast and actuals into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

const FORECAST_HELP: &str = "\
Prints CSV `time,forecast` (or `time,forecast,actual`) to stdout.

Where the forecast starts (its origin):
  - with --holdout K: after row N-K of the N rows of --data; the K held-out
    rows are the actuals;
  - otherwise, when --data is the training file plus more rows (its first rows
    hold exactly the training file's target values): right after the rows of
    the training file, and the extra rows are the actuals;
  - otherwise: after the last row of --data (no actual column).
Only the rows before the origin are read. The actual column is printed when the
origin is before the end of --data; it is empty for steps past the end.
Times past the end of the data continue the last time step (years, months,
quarters, dates) or read LAST+1, LAST+2, ...

Examples:
  rnn forecast --model runs/airline --data data/timeseries/airline.csv --holdout 24 --plot airline.svg
  rnn forecast --model runs/sunspots --data data/timeseries/sunspots.csv --horizon 1";

/// Runs `rnn forecast`.
pub fn run_forecast(args: &ForecastArgs) -> CliResult {
    let mf = ModelFile::load_task(&args.model, "forecast")?;
    let meta = ForecastMeta::from_file(&mf, &args.model)?;
    let series = read_for_model(&meta, &args.data)?;
    let n = series.len();
    let h = args.horizon.unwrap_or(meta.horizon);
    if h == 0 {
        return Err(usage("--horizon 0: expected at least 1".into()));
    }
    if !meta.recursive() && h > meta.horizon {
        return Err(usage(format!(
            "--horizon {h}: this model forecasts at most {} steps (it was trained with --strategy direct --horizon {})",
            meta.horizon, meta.horizon
        )));
    }
    let extends = n > meta.data_rows
        && fingerprint(&series.target[..meta.data_rows]) == meta.data_fingerprint;
    let origin = match args.holdout {
        Some(k) if k >= n => {
            return Err(usage(format!("--holdout {k}: the data has only {n} rows")))
        }
        Some(k) => n - k,
        None if extends => meta.data_rows,
        None => n,
    };
    let f = forecast_at(&mf.model, &meta, &series, origin, h)?;
    let future = extend_time(&series.time, (origin + h).saturating_sub(n));
    let label = |i: usize| {
        if i < n {
            series.time[i].clone()
        } else {
            future[i - n].clone()
        }
    };
    let with_actual = origin < n;
    eprintln!(
        "forecasting {h} step{} after {} ({} strategy{})",
        if h == 1 { "" } else { "s" },
        if origin == 0 {
            "the start".to_string()
        } else {
            format!("row {origin} ({})", series.time[origin - 1])
        },
        meta.strategy,
        if extends && args.holdout.is_none() {
            "; the data extends the training file: its extra rows are the actuals"
        } else {
            ""
        }
    );
    let mut out = String::from(if with_actual {
        "time,forecast,actual\n"
    } else {
        "time,forecast\n"
    });
    for (k, v) in f.iter().enumerate() {
        let i = origin + k;
        out += &format!("{},{}", label(i), fmt_num(*v));
        if with_actual {
            out += ",";
            if i < n {
                out += &fmt_num(series.target[i]);
            }
        }
        out += "\n";
    }
    print!("{out}");
    if let Some(path) = &args.plot {
        let axis = time_axis(
            &series
                .time
                .iter()
                .cloned()
                .chain(future.iter().cloned())
                .collect::<Vec<_>>(),
        );
        let from = origin.saturating_sub((5 * h).max(2 * meta.window).max(60));
        let history: Vec<(f64, f64)> = (from..origin)
            .map(|i| (axis[i], series.target[i]))
            .collect();
        // the forecast line starts at the last known value
        let mut fc: Vec<(f64, f64)> = history.last().copied().into_iter().collect();
        fc.extend(f.iter().enumerate().map(|(k, &v)| (axis[origin + k], v)));
        let mut lines = vec![("history", history), ("forecast", fc)];
        if with_actual {
            let end = (origin + h).min(n);
            let mut act: Vec<(f64, f64)> = origin
                .checked_sub(1)
                .map(|i| (axis[i], series.target[i]))
                .into_iter()
                .collect();
            act.extend((origin..end).map(|i| (axis[i], series.target[i])));
            lines.push(("actual", act));
        }
        let title = format!("{}: {h}-step forecast ({})", meta.target, meta.strategy);
        plot_forecast(
            path,
            &title,
            meta.time.as_deref().unwrap_or("row"),
            &meta.target,
            &lines,
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws history (black), forecast (blue) and actuals (green) into an SVG
/// file, legend at the upper left, written atomically.
fn plot_forecast(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> CliResult {
    let xs = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let style = PlotStyle {
        colors: &[
            plotters::style::BLACK,
            plotters::style::BLUE,
            plotters::style::GREEN,
        ],
        legend_upper_left: true,
        y_pad: 0.08,
        // whole years or months; decimals for short fractional spans
        x_decimals: Some(if x1 - x0 >= 8.0 { 0 } else { 2 }),
    };
    plot_styled(path, title, x_label, y_label, series, &style)
}

/// A number with up to 6 significant decimals and no trailing zeros.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
            "--target", "value", "--window", "12", "--test", "24", "--hidden", "8", "--epochs",
            "40", "--lr", "0.01",
        ];
        for (strategy, horizon) in [("direct", "3"), ("recursive", "3")] {
            let mut extra = common.to_vec();
            extra.extend(["--strategy", strategy, "--horizon", horizon]);
            train_forecast(&train_args(&data, &out, &extra)).unwrap();
            let mf = ModelFile::load_task(&out, "forecast").unwrap();
            let meta = ForecastMeta::from_file(&mf, &out).unwrap();
            assert_eq!(meta.strategy, strategy);
            let series = read_for_model(&meta, &data).unwrap();
            let r = evaluate(&mf.model, &meta, &series, 24, 1).unwrap();
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
            let mf = ModelFile::load_task(&dir.join(out), "forecast").unwrap();
            let meta = ForecastMeta::from_file(&mf, &dir.join(out)).unwrap();
            (mf.model.params, meta.pipeline)
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
}
