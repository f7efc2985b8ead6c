//! `rnn step`: feeds the next chunk of a stream (stdin) to a language model,
//! with the recurrent state carried across invocations in a file
//! ([`rnn::Stream::open`] / [`rnn::Stream::save`]).

use crate::error::{CliError, CliResult};
use crate::train_util::positive;
use clap::Args;
use rand::SeedableRng;
use rnn::io::model_file::{ModelFile, Task};
use rnn::tasks::lm::vocab_of;
use rnn::{Input, Stream};
use std::io::Read;
use std::path::PathBuf;

/// How many of the most likely next characters are printed.
const TOP: usize = 5;

/// Characters fed to the model at a time: the chunk on stdin goes in
/// pieces, the state carried from one to the next, so the memory a step
/// takes does not grow with its input (fed whole, 4 million characters took
/// 3 GB for a model of 128 units, the logits and states of every step
/// held at once).
const FEED: usize = 1 << 14;

/// The sampler's seed for `--seed seed` from the stream's `state`: the
/// seed mixed (FNV-1a) with the state's bits, so that a continued stream
/// draws afresh (the same draws at every call made each continuation
/// repeat the last one), and the same state and seed draw the same text.
fn sampler_seed(seed: u64, state: &rnn::nn::model::State<f32>) -> u64 {
    use rnn::nn::stream::{fnv1a64, FNV1A64_START};
    let bytes = state
        .h
        .iter()
        .chain(&state.c)
        .flat_map(|v| v.to_bits().to_le_bytes());
    fnv1a64(FNV1A64_START ^ seed, bytes)
}

/// Feed the next chunk of text (stdin) to a language model, keeping its state in a file.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "The chunk is stdin exactly, newlines included (use printf or echo -n). \
                  Without --generate, prints the 5 most likely next characters and their \
                  probabilities. A forecaster reads values separated by spaces, newlines or \
                  its training file's --delimiter (a comma by default; with ';' or a tab, \
                  43,2 is a decimal comma as in that file).\n\n\
                  Examples:\n  \
                  printf 'Call me ' | rnn step --model runs/mobydick --state me.state\n  \
                  printf 'Ish' | rnn step --model runs/mobydick --state me.state --generate 80 --temperature 0.7\n  \
                  rnn step --model runs/mobydick --state me.state --generate 80 < /dev/null   # continue\n  \
                  rm me.state   # start again from zeros\n  \
                  cut -d, -f2 airline.csv | tail -n 25 | rnn step --model runs/airline --state air.state   # a forecaster: its latest values in, the forecast out
  \
                  echo 432 | rnn step --model runs/airline --state air.state   # the next value: the next forecast"
)]
pub struct StepArgs {
    /// The model directory (a language model from `rnn train lm`, or a
    /// forecaster from `rnn train forecast`: values in, forecast out).
    #[arg(long)]
    pub model: PathBuf,
    /// The stream's state (safetensors): read if the file exists, else the
    /// stream starts from zeros; replaced atomically by the state after the
    /// chunk (and the generated characters).
    #[arg(long)]
    pub state: PathBuf,
    /// After the chunk, sample this many characters and print them instead
    /// of the top 5; they are fed too, so the next step continues after them.
    #[arg(long)]
    pub generate: Option<usize>,
    /// Softmax temperature of --generate (lower: more conservative).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Seed of the sampler of --generate. A stream started by this call
    /// draws as `rnn generate` with the same prime and seed; a stream
    /// continued from its state file mixes the seed with that state, so
    /// each continuation draws afresh (the same state and seed draw the same).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object: {"fed", "top": [{"char", "prob"}]} or {"fed", "generated"};
    /// for a forecaster {"fed", "forecast"}, with "held" and "needed" (and a null
    /// forecast) while the state holds too few values.
    #[arg(long)]
    pub json: bool,
    /// Forecasters: steps to forecast (default: the model's --horizon).
    #[arg(long)]
    pub horizon: Option<usize>,
}

/// Runs `rnn step`.
pub fn run(a: &StepArgs) -> CliResult {
    positive("--temperature", a.temperature)?;
    // one step at a time on the state files of a directory (the lock on the
    // directory itself, held until the step ends): steps run together each
    // read the same state and wrote their own next one, and all but one
    // input was lost
    let dir = a.state.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(std::path::Path::new("."));
    // (a directory that cannot be opened holds no state to race for: the
    // state file's own error, naming it, comes below)
    let _turn = match std::fs::File::open(dir) {
        Ok(d) => Some(d.lock().map(|()| d).map_err(|e| rnn::Error::io(dir, e))?),
        Err(_) => None,
    };
    let mf = ModelFile::load(&a.model)?;
    // flags of the other kind of model are refused, not ignored
    let lm_flags = [
        ("--generate", a.generate.is_some()),
        ("--temperature", a.temperature != 1.0),
        ("--seed", a.seed != 0),
    ];
    match mf.task {
        Task::Lm if a.horizon.is_some() => {
            return Err(CliError::Usage(
                "rnn step: --horizon is for forecasters, not 'lm' models".into(),
            ))
        }
        Task::Lm => {}
        Task::Forecast => {
            if let Some((flag, _)) = lm_flags.iter().find(|f| f.1) {
                return Err(CliError::Usage(format!(
                    "rnn step: {flag} is for language models, not 'forecast' models"
                )));
            }
            return step_forecast(a);
        }
        task => {
            return Err(CliError::Usage(format!(
                "{}: holds a '{task}' model; rnn step takes language models ('lm') and forecasters ('forecast')",
                a.model.display()
            )))
        }
    }
    let vocab = vocab_of(&mf, &a.model)?;
    let text = read_stdin()?;
    let ids = vocab.encode(&text, "stdin")?;
    let (mut stream, from_file) = Stream::open(&mf.model, &a.state)?;
    let named = |e: rnn::Error| e.of_model(&a.model);
    if stream.batch() != 1 {
        return Err(CliError::Usage(format!(
            "{}: holds the state of {} streams; rnn step carries one",
            a.state.display(),
            stream.batch()
        )));
    }
    if ids.is_empty() && !from_file {
        return Err(CliError::Usage(format!(
            "stdin is empty and {} does not exist: there is nothing to predict from \
             (feed at least one character)",
            a.state.display()
        )));
    }
    for piece in ids.chunks(FEED) {
        stream.feed(Input::Ids(piece)).map_err(named)?;
    }
    let report = match a.generate {
        Some(n) => {
            // a stream started here draws as `rnn generate` does with the
            // same prime and seed; one continued from its file, afresh
            let seed = match from_file {
                true => sampler_seed(a.seed, stream.state()),
                false => a.seed,
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let drawn = stream
                .generate(n, a.temperature, &mut rng)
                .map_err(|e| match e {
                    // the library names its argument; the user gave a flag
                    rnn::Error::Memory {
                        need, available, ..
                    } => rnn::Error::Memory {
                        what: format!("--generate {n}"),
                        need,
                        available,
                    },
                    e => named(e),
                })?;
            let text: String = drawn.iter().map(|&i| vocab.chars[i]).collect();
            if a.json {
                serde_json::json!({"fed": ids.len(), "generated": text}).to_string()
            } else {
                text
            }
        }
        None => {
            let p = stream.probabilities().map_err(named)?;
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&i, &j| p[j].total_cmp(&p[i]).then(i.cmp(&j)));
            order.truncate(TOP);
            if a.json {
                let top: Vec<_> = order
                    .iter()
                    .map(|&i| serde_json::json!({"char": vocab.chars[i].to_string(), "prob": p[i]}))
                    .collect();
                serde_json::json!({"fed": ids.len(), "top": top}).to_string()
            } else {
                let lines: Vec<String> = order
                    .iter()
                    .map(|&i| format!("{:?}\t{:.6}", vocab.chars[i], p[i]))
                    .collect();
                lines.join("\n")
            }
        }
    };
    // the new state written beside the old first (a folder that cannot take
    // it is an error before anything is shown), then the output, then the
    // state put in place: output that could not be written (a full disk)
    // leaves the state as it was, so the step can be run again (a reader
    // that went away took what it wanted: the state moves on)
    let staged = stream.stage(&a.state)?;
    print_then(&report, &a.state)?;
    Ok(staged.commit()?)
}

/// Writes `report` and a newline to stdout ([`rnn::io::print_out`]); a
/// failure other than a reader that went away is an error saying that
/// `state` was not changed.
fn print_then(report: &str, state: &std::path::Path) -> CliResult {
    rnn::io::print_out(&format!("{report}\n"))
        .map_err(|e| CliError::Failure(format!("{e}; {} was not changed", state.display())))
}

/// All of stdin as UTF-8; invalid bytes are an error with their offset.
fn read_stdin() -> CliResult<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Failure(format!("reading stdin: {e}")))?;
    // a UTF-8 byte-order mark is not text (a file saved by some editors,
    // piped in): dropped, as the file readers drop it
    let bom = usize::from(bytes.starts_with(b"\xEF\xBB\xBF")) * 3;
    String::from_utf8(bytes[bom..].to_vec()).map_err(|e| {
        CliError::Usage(format!(
            "stdin: not UTF-8: invalid byte at offset {}",
            bom + e.utf8_error().valid_up_to()
        ))
    })
}

/// A forecaster: stdin holds the next values (separated by spaces,
/// newlines or the training file's delimiter, `,` by default; with `;` or
/// a tab there, `43,2` is a decimal comma as in that file); the state file
/// keeps the latest ones the model reads; prints the forecast of the next
/// `--horizon` steps once a window is full.
fn step_forecast(a: &StepArgs) -> CliResult {
    let f = rnn::tasks::forecast::Forecaster::load(&a.model)?;
    crate::cmd::forecast::warn_unfinished(&f);
    let text = read_stdin()?;
    let (mut values, mut typed) = (Vec::new(), Vec::new());
    // a model read from a file with `;` between fields and decimal commas
    // took `43,2` for the two values 43 and 2 (the CLI sweep of session 55)
    let delimiter = f.meta.delimiter;
    for (i, tok) in text
        .split(|c: char| c.is_whitespace() || c == char::from(delimiter))
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let v = rnn::tasks::forecast::read_value(tok, delimiter).ok_or_else(|| {
            CliError::Usage(format!("stdin: value {} {tok:?} is not a number", i + 1))
        })?;
        if !v.is_finite() {
            return Err(CliError::Usage(format!(
                "stdin: value {} {tok:?} is not a finite number",
                i + 1
            )));
        }
        values.push(v);
        typed.push(tok);
    }
    let mut history = f.load_history(&a.state)?;
    let horizon = a.horizon.unwrap_or(f.meta.horizon);
    // a value the model refuses is named as the user typed it: stdin's
    let forecast = f
        .step(&mut history, &values, horizon)
        .map_err(|e| match e {
            rnn::Error::Argument { arg, expected, got } if arg.starts_with("values[") => {
                let i: Option<usize> = arg["values[".len()..arg.len() - 1].parse().ok();
                let tok = i.and_then(|i| typed.get(i)).copied().unwrap_or(&got);
                CliError::Usage(format!(
                    "stdin: value {} {tok:?} is out of range ({expected})",
                    i.map_or(0, |i| i + 1)
                ))
            }
            e => e.into(),
        })?;
    let report = match forecast {
        None => {
            f.save_history(&a.state, &history)?;
            let needed = f.history_needed() - history.len();
            logln!(
                "{} holds {} value(s); the model reads the last {}: feed {needed} more for a forecast",
                a.state.display(),
                history.len(),
                f.history_needed(),
            );
            if a.json {
                outln!(
                    "{}",
                    serde_json::json!({"fed": values.len(), "held": history.len(), "needed": needed, "forecast": null})
                )?;
            }
            return Ok(());
        }
        Some(fc) if a.json => serde_json::json!({"fed": values.len(), "forecast": fc}).to_string(),
        Some(fc) => fc
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let staged = f.stage_history(&a.state, &history)?;
    print_then(&report, &a.state)?;
    Ok(staged.commit()?)
}
