//! `rnn train tag`, `rnn tag` and the tagger part of `rnn eval`: sequence
//! labelling (part-of-speech tags, named entities) with a stacked
//! (bi)directional RNN over word, affix and word-shape features.

use crate::error::{CliError, CliResult};
use crate::train_util::{
    at_least_one, budget_from_flags, plot_lines, positive, set_threads, Budget, Metrics, Progress,
};
use clap::Args;
use rand::SeedableRng;
use rnn::nn::cell::{Activation, CellKind};
use rnn::optim::OptimizerConfig;
use rnn::tasks::tag::data::{parse_untagged, read_conll, Sentence, TextFormat};
use rnn::tasks::tag::lexicon::Lexicon;
use rnn::tasks::tag::metrics::{is_chunk_tagset, Evaluation};
use rnn::tasks::tag::{
    length_batches, Encoded, Ensemble, NgramSpec, Stepper as Trainer, Tagger, TaggerOptions,
    TrainOptions,
};
use rnn::ModelConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Train a sequence tagger on CoNLL data (token in the first column, tag in the last).
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  rnn train tag --train brown-pos.train.tsv --dev brown-pos.dev.tsv --out runs/pos \\\n      --bidirectional --cell lstm --hidden 100 --minutes 20 --threads 1\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner --ngram-dim 32 \\\n      --keep last --snapshots-from 10   # n-gram features; saves runs/ner/epoch-10 ...\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner2 \\\n      --init-from runs/pos   # transfer: start from the part-of-speech tagger above\n  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner3 \\\n      --init-from runs/pos --crf --lexicon lexicon.tsv   # CRF output, gazetteer inputs"
)]
pub struct TrainTagArgs {
    /// Training data (CoNLL: token<TAB>...<TAB>tag, blank line between
    /// sentences); repeat the flag to train on several files.
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// Development data, evaluated after every epoch (early stopping, best model).
    #[arg(long)]
    pub dev: PathBuf,
    /// Model directory to write (model.safetensors, metrics.jsonl, loss.svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Run each layer in both directions (outputs concatenated forward then backward).
    #[arg(long)]
    pub bidirectional: bool,
    /// Hidden units per direction.
    #[arg(long, default_value_t = 100)]
    pub hidden: usize,
    /// Recurrent cell: elman, lstm or gru.
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
    /// Stop after this many epochs without a better dev score.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Which model to keep: best (by dev score, default) or last (the final
    /// epoch's: use when the dev data is also trained on).
    #[arg(long, default_value = "best")]
    pub keep: String,
    /// Also save the model of every epoch from this one on as OUT/epoch-N
    /// (0: never), e.g. to tag with several of them as an ensemble:
    /// rnn eval --model OUT --model OUT/epoch-20 --model OUT/epoch-15 ...
    #[arg(long, default_value_t = 0)]
    pub snapshots_from: usize,
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

fn parse_cell(s: &str) -> CliResult<CellKind> {
    match s.to_ascii_lowercase().as_str() {
        "elman" | "rnn" => Ok(CellKind::Elman {
            activation: Activation::Tanh,
        }),
        "lstm" => Ok(CellKind::Lstm),
        "gru" => Ok(CellKind::Gru),
        _ => Err(CliError::Usage(format!(
            "--cell {s}: expected elman, lstm or gru"
        ))),
    }
}

/// Prints a line above the progress bar, or plainly when stderr is not a terminal
/// (the bar is hidden then, and so would be its lines).
fn say(progress: &Progress, line: String) {
    if std::io::stderr().is_terminal() {
        progress.println(line);
    } else {
        eprintln!("{line}");
    }
}

/// Tags in `data` that the tagger does not know, with their token counts.
fn unknown_tags(tagger: &Tagger, data: &[Sentence]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in data {
        for t in &s.tags {
            if tagger.tag_id(t).is_none() {
                *out.entry(t.clone()).or_default() += 1;
            }
        }
    }
    out
}

fn warn_unknown(path: &Path, unknown: &BTreeMap<String, usize>) {
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        eprintln!(
            "warning: {}: tags not seen in training, counted as errors: {}",
            path.display(),
            list.join(", ")
        );
    }
}

/// Scores predictions against the gold tags.
fn evaluate(tagger: &Tagger, data: &[Sentence], pred: &[Vec<usize>]) -> Evaluation {
    let mut ev = Evaluation::default();
    for (s, p) in data.iter().zip(pred) {
        ev.add(&s.tags, &tagger.tag_names(p));
    }
    ev
}

/// Runs `rnn train tag`.
pub fn train(a: &TrainTagArgs) -> CliResult {
    set_threads(a.threads)?;
    let budget = budget_from_flags(a.epochs, a.minutes, Budget::Epochs(30))?;
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
    let mut rnn_cfg = ModelConfig::elman(1, a.hidden, 1);
    rnn_cfg.cell = parse_cell(&a.cell)?;
    rnn_cfg.num_layers = a.layers;
    rnn_cfg.bidirectional = a.bidirectional;
    let opts = TaggerOptions {
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
        rnn: rnn_cfg,
    };
    let optimizer = OptimizerConfig::from_args(&a.optimizer, &serde_json::json!({ "lr": lr }))?;
    let topts = TrainOptions {
        optimizer,
        clip: a.clip,
        word_dropout: a.word_dropout,
        input_dropout: a.dropout,
    };

    let keep_last = match a.keep.as_str() {
        "best" => false,
        "last" => true,
        k => {
            return Err(CliError::Usage(format!(
                "--keep {k}: expected best or last"
            )))
        }
    };
    let mut train = Vec::new();
    for f in &a.train {
        train.extend(read_conll(f)?);
    }
    let dev = read_conll(&a.dev)?;
    let mut tagger = match &a.init_from {
        None => Tagger::new(&train, &opts, a.seed)?,
        Some(dir) => {
            if a.char_dim > 0 {
                return Err(CliError::Usage(format!(
                    "--char-dim {} with --init-from {}: the character encoder comes from the base tagger",
                    a.char_dim,
                    dir.display()
                )));
            }
            let base = Tagger::load(dir)?;
            let tagger =
                Tagger::from_pretrained(&base, &train, a.crf, opts.lexicon.clone(), a.seed)?;
            let c = &base.model.config;
            eprintln!(
                "starting from {}: its features and network ({:?}, {} layer(s), {}, hidden {}); feature and network flags ignored",
                dir.display(),
                c.cell,
                c.num_layers,
                if c.bidirectional { "bidirectional" } else { "unidirectional" },
                c.hidden_size
            );
            tagger
        }
    };
    let mut trainer = Trainer::new(&tagger, &topts, a.seed)?;
    warn_unknown(&a.dev, &unknown_tags(&tagger, &dev));
    let chunked = is_chunk_tagset(&tagger.spec.tags);
    let score_name = if chunked { "f1" } else { "accuracy" };
    let train_enc: Vec<Encoded> = train.iter().map(|s| tagger.encode(s)).collect();
    let dev_enc: Vec<Encoded> = dev.iter().map(|s| tagger.encode(s)).collect();
    let train_tokens: usize = train.iter().map(Sentence::len).sum();
    eprintln!(
        "train: {} sentences, {} tokens, {} tags ({}); dev: {} sentences; words {}, input {}, parameters {} + {} embedding",
        train.len(),
        train_tokens,
        tagger.spec.tags.len(),
        if chunked { "entities, early stopping on F1" } else { "early stopping on accuracy" },
        dev.len(),
        tagger.spec.features[0].vocab.len(),
        tagger.input_size(),
        tagger.model.params.len(),
        tagger.emb.len()
    );

    std::fs::create_dir_all(&a.out).map_err(|e| rnn::Error::io(&a.out, e))?;
    let mut metrics = Metrics::open(&a.out, false);
    let batches_per_epoch = train.len().div_ceil(a.batch) as u64;
    let total = match budget {
        Budget::Epochs(e) => e as u64 * batches_per_epoch,
        Budget::Steps(s) => s,
        Budget::Minutes(_) => 0,
    };
    let progress = Progress::new(budget, total);
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let lengths: Vec<usize> = train_enc.iter().map(|e| e.len).collect();
    let mut meta = BTreeMap::new();
    meta.insert("tag.train_args".to_string(), format!("{a:?}"));
    let (mut best, mut best_epoch, mut stale, mut step) = (f64::NEG_INFINITY, 0usize, 0usize, 0u64);
    let max_epochs = match budget {
        Budget::Epochs(e) => e,
        Budget::Minutes(_) | Budget::Steps(_) => usize::MAX,
    };
    let mut epoch = 0;
    while epoch < max_epochs && !progress.out_of_time() {
        epoch += 1;
        let (mut loss_sum, mut tok, mut smooth) = (0.0f64, 0usize, f64::NAN);
        for b in length_batches(&lengths, a.batch, &mut rng) {
            let refs: Vec<&Encoded> = b.iter().map(|&i| &train_enc[i]).collect();
            let (l, n) = trainer.step(&mut tagger, &refs);
            if !l.is_finite() {
                progress.finish();
                return Err(rnn::Error::Diverged {
                    step,
                    value: l.to_string(),
                }
                .into());
            }
            loss_sum += l;
            tok += n;
            step += 1;
            let per = l / n.max(1) as f64;
            smooth = if smooth.is_nan() {
                per
            } else {
                0.98 * smooth + 0.02 * per
            };
            if step % 20 == 0 {
                progress.update(
                    step,
                    format!("epoch {epoch} loss {smooth:.4} best dev {score_name} {best:.4}"),
                );
            }
            if progress.out_of_time() {
                break;
            }
        }
        let (pred, dev_loss, dev_n) = tagger.predict_with_loss(&dev_enc, 64);
        let ev = evaluate(&tagger, &dev, &pred);
        let m = ev.micro();
        let score = if chunked { m.f1 } else { ev.accuracy() };
        let train_loss = loss_sum / tok.max(1) as f64;
        let dev_loss = dev_loss / dev_n.max(1) as f64;
        let improved = score > best;
        metrics.push(serde_json::json!({
            "epoch": epoch, "step": step, "seconds": progress.elapsed(), "lr": trainer.lr(),
            "train_loss": train_loss, "dev_loss": dev_loss,
            "dev_accuracy": ev.accuracy(), "dev_precision": m.precision, "dev_recall": m.recall, "dev_f1": m.f1,
            "best": improved,
        }))?;
        say(&progress, format!(
            "epoch {epoch}: train loss {train_loss:.4}, dev loss {dev_loss:.4}, dev accuracy {:.2}%{}{} ({:.0}s)",
            100.0 * ev.accuracy(),
            if chunked { format!(", dev F1 {:.2}", 100.0 * m.f1) } else { String::new() },
            if improved { ", saved" } else { "" },
            progress.elapsed()
        ));
        let mut epoch_meta = meta.clone();
        epoch_meta.insert(
            "tag.dev_score".into(),
            format!("{{\"{score_name}\": {score}, \"epoch\": {epoch}}}"),
        );
        if improved || keep_last {
            tagger.save(&a.out, epoch_meta.clone())?;
        }
        if a.snapshots_from > 0 && epoch >= a.snapshots_from {
            tagger.save(&a.out.join(format!("epoch-{epoch}")), epoch_meta)?;
        }
        if improved {
            best = score;
            best_epoch = epoch;
            stale = 0;
        } else if !keep_last {
            // with --keep last the schedule is fixed: no decay, no early stop
            stale += 1;
            trainer.set_lr(trainer.lr() * a.lr_decay);
            if stale >= a.patience {
                say(
                    &progress,
                    format!("no better dev {score_name} for {stale} epochs: stopping"),
                );
                break;
            }
        }
        plot_lines(
            &a.out.join("loss.svg"),
            if tagger.crf.is_empty() {
                "tagger loss (mean cross-entropy per token)"
            } else {
                "tagger loss (CRF negative log-likelihood per token)"
            },
            "epoch",
            "loss",
            &[
                ("train", metrics.series("epoch", "train_loss")),
                ("dev", metrics.series("epoch", "dev_loss")),
            ],
        )?;
    }
    progress.finish();
    eprintln!(
        "best dev {score_name} {:.2}% at epoch {best_epoch}; model in {} ({:.0}s)",
        100.0 * best,
        a.out.display(),
        progress.elapsed()
    );
    Ok(())
}

/// Tag text with a trained tagger.
#[derive(Args, Debug)]
#[command(
    after_help = "Input: CoNLL (first column used) or plain text, one sentence per line.\nOutput: token<TAB>tag lines, a blank line between sentences.\nExamples:\n  echo 'The Apple is a great company' | rnn tag --model runs/ner\n  rnn tag --model runs/ner1 --model runs/ner2 --entity-bias 2.5 tweets.txt   # ensemble, more entities"
)]
pub struct TagArgs {
    /// The model directory; repeat the flag to tag with an ensemble (the mean
    /// of the models' tag probabilities, or a CRF's marginals, then the same
    /// decoding).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// Input file, or - (default) for standard input.
    pub input: Option<PathBuf>,
    /// Input format: auto (a tab in any line means CoNLL), conll or plain.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Add this to the log-probability of every tag but O before decoding (for
    /// a single CRF tagger: to its per-token score of those tags) (> 0: more
    /// entities, higher recall, lower precision).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub entity_bias: f64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Runs `rnn tag`.
pub fn tag(a: &TagArgs) -> CliResult {
    set_threads(a.threads)?;
    let format = match a.format.as_str() {
        "auto" => None,
        "conll" => Some(TextFormat::Conll),
        "plain" | "text" => Some(TextFormat::Plain),
        f => {
            return Err(CliError::Usage(format!(
                "--format {f}: expected auto, conll or plain"
            )))
        }
    };
    let ens = load_ensemble(&a.model, a.entity_bias)?;
    let (path, text) = match a.input.as_deref() {
        None => (PathBuf::from("<stdin>"), read_stdin()?),
        Some(p) if p == Path::new("-") => (PathBuf::from("<stdin>"), read_stdin()?),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| rnn::Error::io(p, e))?;
            let text = String::from_utf8(bytes).map_err(|_| rnn::Error::Data {
                path: p.to_path_buf(),
                reason: "not valid UTF-8".into(),
            })?;
            (p.to_path_buf(), text)
        }
    };
    let format = format.unwrap_or_else(|| TextFormat::detect(&text));
    let sentences = parse_untagged(&path, &text, format)?;
    let pred = ens.predict(&sentences, 64);
    let tagger = &ens.members[0];
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write = || -> std::io::Result<()> {
        for (i, (s, p)) in sentences.iter().zip(&pred).enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            for (tok, t) in s.tokens.iter().zip(tagger.tag_names(p)) {
                writeln!(out, "{tok}\t{t}")?;
            }
        }
        out.flush()
    };
    match write() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Failure(format!("cannot write the output: {e}"))),
    }
}

fn read_stdin() -> CliResult<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| rnn::Error::Data {
            path: PathBuf::from("<stdin>"),
            reason: format!("cannot read: {e}"),
        })?;
    Ok(s)
}

/// Loads one tagger per directory as an ensemble (one directory: a single tagger).
fn load_ensemble(dirs: &[PathBuf], entity_bias: f64) -> CliResult<Ensemble> {
    if !entity_bias.is_finite() {
        return Err(CliError::Usage(format!(
            "--entity-bias {entity_bias}: expected a finite number"
        )));
    }
    let members = dirs
        .iter()
        .map(|d| Tagger::load(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ens = Ensemble::new(members)?;
    ens.entity_bias = entity_bias;
    Ok(ens)
}

/// `rnn eval` for a tagger (or an ensemble of taggers): a conlleval-style
/// report, or with `json` one JSON object with `accuracy`, `precision`,
/// `recall`, `f1` (fractions), `per_type` and `entity_bias`; one of either per
/// entity bias.
pub fn eval_tag(dirs: &[PathBuf], data: &Path, json: bool, entity_bias: &[f64]) -> CliResult {
    let ens = load_ensemble(dirs, 0.0)?;
    let tagger = &ens.members[0];
    let sentences = read_conll(data)?;
    let unknown = unknown_tags(tagger, &sentences);
    warn_unknown(data, &unknown);
    if let Some(b) = entity_bias.iter().find(|b| !b.is_finite()) {
        return Err(CliError::Usage(format!(
            "--entity-bias {b}: expected finite numbers"
        )));
    }
    let scores = ens.scores(&sentences, 64);
    for &bias in entity_bias {
        let pred = ens.decode(&scores, bias);
        let ev = evaluate(tagger, &sentences, &pred);
        if json {
            let mut j = ev.to_json();
            j["unknown_tags"] = serde_json::json!(unknown.keys().collect::<BTreeSet<_>>());
            j["entity_bias"] = serde_json::json!(bias);
            println!("{j}");
        } else if is_chunk_tagset(&tagger.spec.tags) {
            if entity_bias.len() > 1 {
                println!("entity bias {bias}:");
            }
            print!("{}", ev.report());
        } else {
            println!(
                "processed {} tokens in {} sentences; accuracy: {:6.2}%",
                ev.tokens,
                sentences.len(),
                100.0 * ev.accuracy()
            );
        }
    }
    Ok(())
}
