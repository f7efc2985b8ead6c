//! `rnn tag` and the tagger part of `rnn eval`: a trained tagger (or an
//! ensemble) loaded, applied to text or scored on tagged data, printed.

use super::choice;
use crate::error::{CliError, CliResult};
use crate::train_util::set_threads;
use clap::Args;
use rnn::tasks::tag::data::{read_conll, read_input, InputFormat};
use rnn::tasks::tag::evaluate::{tagged_json, unknown_tags, unknown_tags_warning};
use rnn::tasks::tag::{Ensemble, Tokenizer};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Tag text with a trained tagger.
#[derive(Args, Debug)]
#[command(
    after_help = "Input: CoNLL (first column used) or plain text, one sentence per line, tokens split on \
                  whitespace and then, by default (--tokenize vocabulary), punctuation and clitics split off \
                  as the model's training data wrote them ('Paris.' -> 'Paris .', \"Germany's\" -> \"Germany 's\" \
                  where the model knows '.' and \"'s\" as words; 'U.S.' and inner marks stay).\nOutput: token<TAB>tag lines, a blank line between sentences.\nExamples:\n  echo 'The Apple is a great company.' | rnn tag --model runs/ner\n  rnn tag --model runs/ner1 --model runs/ner2 --entity-bias 2.5 tweets.txt   # ensemble, more entities\n  rnn tag --model runs/ner --tokenize whitespace pretokenised.txt\n  rnn tag --model runs/ner --json news.txt   # entities with their token spans"
)]
pub struct TagArgs {
    /// The model directory; repeat the flag to tag with an ensemble (the mean
    /// of the models' tag probabilities, or a CRF's marginals, then the same
    /// decoding).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// Input file, or - (default) for standard input.
    pub input: Option<PathBuf>,
    /// Input format: auto (CoNLL when most non-blank lines have a tab, or
    /// have one number of space-separated columns, or a -DOCSTART- line),
    /// conll or plain (or text).
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// How plain text is split into tokens: vocabulary (whitespace, then
    /// punctuation and clitics the model knows as words of their own split
    /// off) or whitespace (every chunk between spaces is one token). CoNLL
    /// input is tokenised already.
    #[arg(long, default_value = "vocabulary")]
    pub tokenize: String,
    /// Add this to the log-probability of every tag but O before decoding (for
    /// a single CRF tagger: to its per-token score of those tags) (> 0: more
    /// entities, higher recall, lower precision).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = crate::cmd::finite_number)]
    pub entity_bias: f64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object instead of token<TAB>tag lines: the tag set and each sentence's input line,
    /// tokens, tags and entities (type, start..end token span, text; null for tags without B-/I- chunks).
    #[arg(long)]
    pub json: bool,
}

/// Runs `rnn tag`.
pub fn tag(a: &TagArgs) -> CliResult {
    set_threads(a.threads)?;
    let format = choice::<InputFormat>("--format", &a.format, false)?;
    let tokenizer = choice::<Tokenizer>("--tokenize", &a.tokenize, false)?;
    let ens = load_ensemble(&a.model, a.entity_bias)?;
    let (path, text) = read_input(a.input.as_deref())?;
    let sentences = ens.read_untagged(&path, &text, format, tokenizer)?;
    let tags = ens.tag(&sentences)?;
    if a.json {
        return Ok(outln!("{}", tagged_json(ens.tags(), &sentences, &tags)?)?);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write = || -> std::io::Result<()> {
        for (i, (s, t)) in sentences.iter().zip(&tags).enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            for (tok, t) in s.tokens.iter().zip(t) {
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

/// Loads the ensemble; a non-finite bias is a flag error.
fn load_ensemble(dirs: &[PathBuf], entity_bias: f64) -> CliResult<Ensemble> {
    if !entity_bias.is_finite() {
        return Err(CliError::Usage(format!(
            "--entity-bias {entity_bias}: expected a finite number"
        )));
    }
    Ok(Ensemble::load(dirs, entity_bias)?)
}

/// `rnn eval` for a tagger (or an ensemble of taggers): a conlleval-style
/// report, or with `json` one JSON object with `accuracy`, `precision`,
/// `recall`, `f1` (fractions; `null` when `chunked` is false, a tag set
/// without B-/I- chunks such as parts of speech), `per_type`, `chunked`,
/// `unknown_tags` and `entity_bias`; one of either per entity bias.
pub fn eval_tag(dirs: &[PathBuf], data: &Path, json: bool, entity_bias: &[f64]) -> CliResult {
    let ens = load_ensemble(dirs, 0.0)?;
    let sentences = read_conll(data)?;
    let unknown = unknown_tags(ens.tags(), &sentences);
    if let Some(w) = unknown_tags_warning(&data.display().to_string(), &unknown) {
        logln!("{w}");
    }
    if let Some(b) = entity_bias.iter().find(|b| !b.is_finite()) {
        return Err(CliError::Usage(format!(
            "--entity-bias {b}: expected finite numbers"
        )));
    }
    let evaluations = ens.evaluate(&sentences, entity_bias)?;
    for (ev, &bias) in evaluations.iter().zip(entity_bias) {
        if json {
            let mut j = ev.to_json();
            j["unknown_tags"] = serde_json::json!(unknown.keys().collect::<BTreeSet<_>>());
            j["entity_bias"] = serde_json::json!(bias);
            j["chunked"] = serde_json::json!(ens.is_chunked());
            if !ens.is_chunked() {
                // tags without B-/I- chunks (parts of speech) have no
                // entities: their scores are undefined, not 0
                for k in ["precision", "recall", "f1"] {
                    j[k] = serde_json::Value::Null;
                }
            }
            outln!("{j}")?;
        } else if ens.is_chunked() {
            if entity_bias.len() > 1 {
                outln!("entity bias {bias}:")?;
            }
            out!("{}", ev.report())?;
        } else {
            outln!(
                "processed {} tokens in {} sentences; accuracy: {:6.2}%",
                ev.tokens,
                sentences.len(),
                100.0 * ev.accuracy()
            )?;
        }
    }
    Ok(())
}
