//! `rnn train tag`, `rnn tag` and the tagger part of `rnn eval`: flags ->
//! [`rnn::tasks::tag::TrainConfig`] -> one library call -> print. Sequence
//! labelling (part-of-speech tags, named entities) with a stacked
//! (bi)directional RNN over word, affix and word-shape features.

use crate::error::{CliError, CliResult};
use crate::train_util::{at_least_one, budget_from_flags, positive, set_threads, Budget, Progress};
use clap::{Args, ValueEnum};
use rnn::io::OutMode;
use rnn::nn::cell::{Activation, CellKind, CellName};
use rnn::optim::OptimizerConfig;
use rnn::tasks::tag::lexicon::Lexicon;
use rnn::tasks::tag::{
    loss_plot, Keep, NgramSpec, TaggerOptions, TrainConfig, TrainOptions, Trainer,
};
use rnn::tasks::Plotting;
use std::path::PathBuf;

mod predict;
pub use predict::{eval_tag, tag, TagArgs};

/// Train a sequence tagger on CoNLL data (token in the first column, tag in the last).
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  rnn train tag --train brown-pos.train.tsv --dev brown-pos.dev.tsv --out runs/pos \\\n      --bidirectional --cell lstm --hidden 100 --minutes 20 --threads 1\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner --ngram-dim 32 \\\n      --keep last --snapshots-from 10   # n-gram features; saves runs/ner/epoch-10 ...\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner2 \\\n      --init-from runs/pos   # transfer: start from the part-of-speech tagger above\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner3 \\\n      --init-from runs/pos --crf --lexicon lexicon.tsv   # CRF output, gazetteer inputs"
)]
pub struct TrainTagArgs {
    /// Training data (CoNLL: token<TAB>...<TAB>tag, or columns separated
    /// by spaces, blank line between sentences); repeat the flag to train on
    /// several files. Entity tags in BIO, IOBES or IOB1 (CoNLL-2003's own
    /// files, where an entity starts with I-: found from the tags, and
    /// decoded by IOB1's rules).
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// Development data, evaluated after every epoch (early stopping, best model).
    #[arg(long)]
    pub dev: PathBuf,
    /// Model directory to write (model.safetensors, metrics.jsonl, loss.svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a model or run already in the output directory (without it,
    /// such a directory is refused).
    #[arg(long)]
    pub force: bool,
    /// Print the result as one JSON object (best_score, score_name,
    /// best_epoch, epochs, steps, stopped_early, seconds, model, interrupted) instead of a line.
    #[arg(long)]
    pub json: bool,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Run each layer in both directions (outputs concatenated forward then backward).
    #[arg(long)]
    pub bidirectional: bool,
    /// Hidden units per direction.
    #[arg(long, default_value_t = 100)]
    pub hidden: usize,
    /// Recurrent cell: elman (or rnn), lstm or gru, in any case.
    #[arg(long, default_value = "lstm")]
    pub cell: String,
    /// Passes over the training data (default 30; early stopping may end sooner).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Wall-clock budget in minutes instead of --epochs.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Random seed (initialisation, batch order, dropout).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Optimizer: sgd, adagrad, rmsprop, adam, adamw.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Sentences per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Word embedding size.
    #[arg(long, default_value_t = 64)]
    pub emb: usize,
    /// Embedding size of each prefix/suffix feature (0: none).
    #[arg(long, default_value_t = 16)]
    pub affix_dim: usize,
    /// Embedding size of the word-shape feature (0: none).
    #[arg(long, default_value_t = 8)]
    pub shape_dim: usize,
    /// Prefix lengths embedded, comma-separated (empty: none).
    #[arg(long, default_value = "2,3")]
    pub prefixes: String,
    /// Suffix lengths embedded, comma-separated (empty: none).
    #[arg(long, default_value = "2,3,4")]
    pub suffixes: String,
    /// Embedding size of the hashed character n-grams of each word (the mean
    /// of its n-grams' rows; 0: none).
    #[arg(long, default_value_t = 0)]
    pub ngram_dim: usize,
    /// Rows of the hashed n-gram table.
    #[arg(long, default_value_t = 50_000)]
    pub ngram_buckets: usize,
    /// Shortest character n-gram (the word is wrapped in < >).
    #[arg(long, default_value_t = 3)]
    pub ngram_min: usize,
    /// Longest character n-gram.
    #[arg(long, default_value_t = 5)]
    pub ngram_max: usize,
    /// Character embedding size of a character-level BiLSTM over each word,
    /// whose two final states join the word's input vector (0: none).
    #[arg(long, default_value_t = 0)]
    pub char_dim: usize,
    /// Hidden units per direction of the character-level BiLSTM.
    #[arg(long, default_value_t = 25)]
    pub char_hidden: usize,
    /// Words seen fewer times in training are unknown (<unk>).
    #[arg(long, default_value_t = 1)]
    pub min_count: usize,
    /// Word dropout alpha: a word seen c times becomes <unk> with probability alpha/(alpha+c).
    #[arg(long, default_value_t = 0.25)]
    pub word_dropout: f64,
    /// Dropout probability on the input vectors.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f64,
    /// Multiply the learning rate by this after an epoch that does not improve the dev score.
    #[arg(long, default_value_t = 0.5)]
    pub lr_decay: f64,
    /// Stop after this many epochs without a better dev score (an equal
    /// score with a lower dev loss counts as better).
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Which model to keep: best (by dev score, default) or last (the final
    /// epoch's: use when the dev data is also trained on; the result line
    /// then adds its epoch and dev score when it is not the best, `model
    /// (--keep last: epoch 30, dev f1 22.96%) in runs/ner`, and `--json`
    /// gives `kept_epoch` and `kept_score`).
    #[arg(long, default_value = "best")]
    pub keep: String,
    /// Also save the model of every epoch from this one on as OUT/epoch-N
    /// (0: never), e.g. to tag with several of them as an ensemble:
    /// rnn eval --model OUT --model OUT/epoch-20 --model OUT/epoch-15 ...
    #[arg(long, default_value_t = 0)]
    pub snapshots_from: usize,
    /// On a NaN/infinite loss, or one over 100 times a know-nothing model's: stop, or rollback (to the last good weights, half the learning rate, the batch skipped; gives up after 3 rollbacks to the same weights).
    #[arg(long, value_enum, hide_possible_values = true, default_value = "stop")]
    pub on_divergence: rnn::tasks::OnDivergence,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Start from a trained tagger (transfer learning, e.g. a part-of-speech
    /// tagger for a named-entity task): its features, embeddings and recurrent
    /// layers are kept and trained on, the tag set and readout are new. The
    /// feature and network flags (--emb, --affix-dim, --shape-dim, --prefixes,
    /// --suffixes, --ngram-*, --cell, --hidden, --layers, --bidirectional) are
    /// then taken from DIR, every word of the new data gets an embedding row
    /// (--min-count is not applied), and the character encoder is DIR's
    /// (--char-dim with --init-from is an error).
    #[arg(long, value_name = "DIR")]
    pub init_from: Option<PathBuf>,
    /// The flags given on the command line (not defaulted), by their ids
    /// (`hidden`, `ngram_dim`): set by [`crate::cmd::train::note_given`].
    #[arg(skip)]
    pub given: Vec<String>,
    /// A linear-chain CRF on top of the per-token scores: trained by the
    /// sentence log-likelihood, decoded by Viterbi with learned tag transitions.
    #[arg(long)]
    pub crf: bool,
    /// A lexicon (gazetteer) file, one `category<TAB>phrase` per line: each
    /// token gets 0/1 inputs for starting or continuing a listed phrase of
    /// each category (matched case-insensitively, longest first). It is saved
    /// in the model. tools/lexicon/make.py builds one from public name,
    /// place and word-frequency lists.
    #[arg(long, value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// After each epoch, measure the gradient flow through time on the dev data into diagnostics.jsonl, gradient-flow.svg and spectral-radius.svg.
    #[arg(long)]
    pub diagnostics: bool,
}

fn parse_lengths(flag: &str, s: &str) -> CliResult<Vec<usize>> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match x.parse::<usize>() {
            Ok(n) if (1..=10).contains(&n) => Ok(n),
            _ => Err(CliError::Usage(format!(
                "{flag} {s}: expected comma-separated lengths from 1 to 10"
            ))),
        })
        .collect()
}

/// Parses a flag's value with the library enum's own parser (clap's
/// `ValueEnum`, aliases included; in any case when `ignore_case`, as `--cell`
/// always was); a bad value is a one-line usage error listing the names.
pub(crate) fn choice<T: ValueEnum>(flag: &str, s: &str, ignore_case: bool) -> CliResult<T> {
    T::from_str(s, ignore_case).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| Some(v.to_possible_value()?.get_name().to_string()))
            .collect();
        let (last, rest) = names.split_last().expect("enums have variants");
        CliError::Usage(format!(
            "{flag} {s}: expected {} or {last}",
            rest.join(", ")
        ))
    })
}

/// The library's training configuration from the flags.
fn config(a: &TrainTagArgs) -> CliResult<TrainConfig> {
    let lr = positive("--lr", a.lr)?;
    at_least_one("--batch", a.batch)?;
    at_least_one("--hidden", a.hidden)?;
    at_least_one("--layers", a.layers)?;
    at_least_one("--emb", a.emb)?;
    if !(a.lr_decay > 0.0 && a.lr_decay <= 1.0) {
        return Err(CliError::Usage(format!(
            "--lr-decay {}: expected a number in (0, 1]",
            a.lr_decay
        )));
    }
    if !(a.clip.is_finite() && a.clip >= 0.0) {
        return Err(CliError::Usage(format!(
            "--clip {}: expected a number >= 0",
            a.clip
        )));
    }
    if let (Some(dir), true) = (&a.init_from, a.char_dim > 0) {
        return Err(CliError::Usage(format!(
            "--char-dim {} with --init-from {}: the character encoder comes from the base tagger",
            a.char_dim,
            dir.display()
        )));
    }
    let mut c = TrainConfig::default();
    c.tagger.rnn.hidden_size = a.hidden;
    c.tagger.rnn.cell = CellKind::from_name(
        choice::<CellName>("--cell", &a.cell, true)?,
        Activation::Tanh,
    );
    c.tagger.rnn.num_layers = a.layers;
    c.tagger.rnn.bidirectional = a.bidirectional;
    c.tagger = TaggerOptions {
        word_dim: a.emb,
        min_count: a.min_count,
        prefixes: parse_lengths("--prefixes", &a.prefixes)?,
        suffixes: parse_lengths("--suffixes", &a.suffixes)?,
        affix_dim: a.affix_dim,
        shape_dim: a.shape_dim,
        crf: a.crf,
        char_dim: a.char_dim,
        char_hidden: a.char_hidden,
        ngrams: (a.ngram_dim > 0).then_some(NgramSpec {
            dim: a.ngram_dim,
            buckets: a.ngram_buckets,
            min_n: a.ngram_min,
            max_n: a.ngram_max,
        }),
        lexicon: a.lexicon.as_deref().map(Lexicon::read).transpose()?,
        rnn: c.tagger.rnn,
    };
    c.optim = TrainOptions {
        optimizer: OptimizerConfig::from_args(&a.optimizer, &serde_json::json!({ "lr": lr }))?,
        clip: a.clip,
        word_dropout: a.word_dropout,
        input_dropout: a.dropout,
    };
    c.keep = choice::<Keep>("--keep", &a.keep, false)?;
    (c.batch, c.lr_decay, c.patience) = (a.batch, a.lr_decay, a.patience);
    (c.snapshots_from, c.seed) = (a.snapshots_from, a.seed);
    (c.init_from, c.on_divergence, c.diagnostics) =
        (a.init_from.clone(), a.on_divergence, a.diagnostics);
    // the arguments that shape the model: not where it goes or how the run
    // reports and runs (the same training into another directory, with
    // --force, --json or other threads, made other bytes)
    let mut shaping = a.clone();
    (shaping.out, shaping.force, shaping.json, shaping.threads) = (PathBuf::new(), false, false, 0);
    const RUN_ONLY: [&str; 4] = ["out", "force", "json", "threads"];
    shaping.given.retain(|g| !RUN_ONLY.contains(&g.as_str()));
    c.meta
        .insert("tag.train_args".to_string(), format!("{shaping:?}"));
    Ok(c)
}

/// The flags (by id) whose values `--init-from` takes from the base tagger
/// (given with it, they are warned of).
const FROM_BASE: [&str; 15] = [
    "emb",
    "affix_dim",
    "shape_dim",
    "prefixes",
    "suffixes",
    "ngram_dim",
    "ngram_buckets",
    "ngram_min",
    "ngram_max",
    "char_hidden",
    "min_count",
    "cell",
    "hidden",
    "layers",
    "bidirectional",
];

/// Runs `rnn train tag`.
pub fn train(a: &TrainTagArgs) -> CliResult {
    set_threads(a.threads)?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(30))?;
    let config = config(a)?;
    let mode = if a.force {
        OutMode::Replace
    } else {
        OutMode::New
    };
    let world = rnn::dist::world();
    let mut trainer = Trainer::open_run(config, &a.train, &a.dev, &a.out, mode, world)?;
    if let Some(dir) = &a.init_from {
        // the base tagger loaded: flags it overrides are kept working for
        // scripts that pass them, but not silently
        for flag in a.given.iter().filter(|id| FROM_BASE.contains(&id.as_str())) {
            logln!(
                "warning: --{} is not used: with --init-from {} the features and the network come from the base tagger",
                flag.replace('_', "-"),
                dir.display()
            );
        }
    }
    // the progress bar, and the loss plot redrawn after every epoch
    let mut bar = Progress::new(budget, 0);
    let mut obs = Plotting::new(loss_plot(a.crf), &a.out, false, &mut bar);
    let result = trainer.fit_on(budget, &mut obs, world);
    let plotted = obs.finish();
    bar.finish();
    let summary = result?;
    plotted?;
    // the result, on stdout as `rnn train lm`'s
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"best_score": summary.best_score, "score_name": summary.score_name,
                "best_epoch": summary.best_epoch, "epochs": summary.epochs, "steps": summary.steps,
                "stopped_early": summary.stopped_early, "seconds": summary.seconds, "model": a.out,
                "kept_epoch": summary.kept_epoch, "kept_score": summary.kept_score,
                "interrupted": rnn::tasks::stop::requested()})
        )?;
    } else {
        // with --keep last the model is the last epoch's, not the best one's
        let kept = match summary.kept_epoch != summary.best_epoch {
            true => format!(
                " (--keep last: epoch {}, dev {} {:.2}%)",
                summary.kept_epoch,
                summary.score_name,
                100.0 * summary.kept_score
            ),
            false => String::new(),
        };
        outln!(
            "best dev {} {:.2}% at epoch {}; model{kept} in {} ({:.0}s)",
            summary.score_name,
            100.0 * summary.best_score,
            summary.best_epoch,
            a.out.display(),
            summary.seconds
        )?;
    }
    Ok(())
}
