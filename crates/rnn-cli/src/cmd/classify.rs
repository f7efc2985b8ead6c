//! `rnn train classify`, `rnn classify` and the classifier part of `rnn
//! eval`: the flags are the library's [`TrainConfig`], the library does the rest.

use crate::error::CliResult;
use crate::train_util::{budget_from_flags, set_threads, Budget, Progress};
use clap::Args;
use rnn::io::{print_out, OutMode};
use rnn::tasks::classify::{Classifier, DtwWindow, TrainConfig, Trainer};
use std::path::{Path, PathBuf};

/// Train a sequence classifier on a `.ts` (UEA/UCR), UCR `.tsv`, `.arff` or long CSV file.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn train classify --train GunPoint_TRAIN.ts --out runs/gunpoint --seed 1\n  \
                  rnn train classify --train JapaneseVowels_TRAIN.ts --out runs/vowels --reservoir off   # networks only\n  \
                  rnn train classify --train series.csv --out runs/mine --cell lstm --pool mean   # long CSV: series_id,step,features...,label"
)]
pub struct TrainClassifyArgs {
    /// Training sequences: a .ts file, a UCR .tsv file (label<TAB>values, NaN padding; also commas or spaces, by content for other names), a Weka .arff file, or a .csv file of rows series_id,step,features...,label.
    #[arg(long)]
    pub train: PathBuf,
    /// Validation sequences for early stopping [default: a stratified part of --train].
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Model directory to write (model.safetensors, metrics.jsonl).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a model or run already in the output directory.
    #[arg(long)]
    pub force: bool,
    /// Most epochs per network [default: 300, with early stopping; fewer on a large training set, and the
    /// selection of pooling and frames per step and the reservoirs cut down, so a run takes minutes].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes, shared by the networks, instead of --epochs.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Threads of one network (each minibatch is split between them) when networks train one at a time
    /// (--jobs 1 or --diagnostics); with several at once (--jobs) each has one thread.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print the result as one JSON object (model, classes, pool, stride, members, steps, early_stopped,
    /// selection, estimates, weights, seconds, interrupted) instead of a line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: TrainConfig,
}

/// Runs `rnn train classify`.
pub fn train(a: &TrainClassifyArgs) -> CliResult {
    let clock = std::time::Instant::now();
    set_threads(a.threads)?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(300))?;
    let mut trainer = Trainer::new(a.config.clone(), &a.train, a.dev.as_deref(), &a.out)?;
    rnn::io::prepare_run_dir(&a.out, OutMode::from_flags(false, a.force))?;
    let mut bar = Progress::new(budget, 0);
    // without --epochs or --minutes: the default budget, scaled down on large sets
    let fitted = match (a.epochs, a.minutes) {
        (None, None) => trainer.fit_default(&mut bar),
        _ => trainer.fit(budget, &mut bar),
    };
    bar.finish();
    let summary = fitted?;
    // the result, on stdout: what the saved file holds
    let model = trainer.classifier();
    let seconds = clock.elapsed().as_secs_f64();
    let (est, weights) = (model.estimates(), model.weights());
    let meta = &model.meta;
    if a.json {
        let j = serde_json::json!({
            "model": a.out, "classes": meta.classes, "pool": meta.pool, "stride": meta.stride,
            "members": meta.members, "steps": summary.steps, "early_stopped": summary.early_stopped,
            "selection": summary.selection,
            "estimates": est.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "weights": weights.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "seconds": seconds, "interrupted": rnn::tasks::stop::requested(),
        });
        return Ok(outln!("{j}")?);
    }
    let groups: Vec<String> = est
        .iter()
        .zip(&weights)
        .map(|((name, acc), (_, w))| {
            let acc = acc.map_or("-".to_string(), |v| format!("{:.2} %", 100.0 * v));
            format!("{name} {acc} (weight {w:.3})")
        })
        .collect();
    Ok(outln!(
        "estimated accuracy: {}; pool {}, {} frame{} per step; model in {} ({seconds:.0}s)",
        groups.join(", "),
        meta.pool,
        meta.stride,
        if meta.stride == 1 { "" } else { "s" },
        a.out.display()
    )?)
}

/// Print the class of every sequence of a `.ts`, UCR `.tsv`, `.arff` or long CSV file, one per line.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  rnn classify --model runs/gunpoint GunPoint_TEST.ts\n  \
                  rnn classify --model runs/gunpoint GunPoint_TEST.ts --json   # ids, labels, probabilities"
)]
pub struct ClassifyArgs {
    /// The model directory (from `rnn train classify`).
    #[arg(long)]
    pub model: PathBuf,
    /// The sequences (labels in the file, if any, are ignored).
    pub file: PathBuf,
    /// Print one JSON object: the classes and each sequence's id, predicted class (as `label` and `predicted`) and probabilities.
    #[arg(long)]
    pub json: bool,
}

/// Runs `rnn classify`.
pub fn run(a: &ClassifyArgs) -> CliResult {
    let model = load(&a.model)?;
    let text = model.classify_text(&read(&model, &a.file)?, a.json)?;
    Ok(print_out(&text)?)
}

/// The classifier in `dir`, with a warning on stderr when it is what a
/// training stopped part-way left behind.
fn load(dir: &Path) -> CliResult<Classifier> {
    let model = Classifier::load(dir)?;
    if let Some(w) = model.meta.unfinished(&dir.display().to_string()) {
        logln!("warning: {w}");
    }
    Ok(model)
}

/// `path` read as `model` reads data, with the reader's warnings
/// ([`rnn::tasks::classify::Dataset::warnings`]) on stderr, and one when its
/// layout may be one column off ([`Classifier::layout_warning`]).
fn read(model: &Classifier, path: &Path) -> CliResult<rnn::tasks::classify::Dataset> {
    let data = model.read(path)?;
    for w in &data.warnings {
        logln!("warning: {w}");
    }
    if data.filled > 0 {
        // said, as in training: a series mostly of `?` is classified from
        // what the fill made of it
        logln!(
            "note: {}: filled {} missing value{} ({}, as the model was trained)",
            path.display(),
            data.filled,
            if data.filled == 1 { "" } else { "s" },
            model.meta.fill.name()
        );
    }
    if let Some(w) = model.layout_warning(&data) {
        logln!("warning: {w}");
    }
    Ok(data)
}

/// The classifier part of `rnn eval`: the library's report as a table or JSON.
pub fn eval(dir: &Path, data: &Path, json: bool, window: DtwWindow) -> CliResult {
    let model = load(dir)?;
    let report = model.evaluate_with(&read(&model, data)?, window)?;
    if !report.unseen_classes.is_empty() {
        let n: usize = report.scores.per_class[report.classes.len()..]
            .iter()
            .map(|c| c.support)
            .sum();
        logln!(
            "warning: {}: class label(s) '{}' are none of the model's classes ({}): their {n} sequence(s) are scored as errors",
            data.display(),
            report.unseen_classes.join("', '"),
            report.classes.join(", ")
        );
    }
    Ok(print_out(&report.text(json))?)
}
