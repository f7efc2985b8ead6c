//! The main job, run when `rnn` gets no command: train a small character-level
//! language model on a built-in public-domain text for about a minute, then
//! report validation bits/char and a generated sample.

use crate::cmd::lm::{fit, print_summary};
use crate::error::{CliError, CliResult};
use crate::train_util::{set_threads, Budget};
use rnn::tasks::lm::{Corpus, LanguageModel, Sampling, TrainConfig, Trainer};

/// The first 300 kB of Moby-Dick (public domain; see data/README.md).
const TEXT: &str = include_str!("../../data/mobydick-excerpt.txt");

/// The file that marks a directory as the demo's own (made by it, so its
/// contents may be replaced on the next run).
const MARKER: &str = ".rnn-demo";
/// What [`MARKER`] says.
const MARKER_TEXT: &[u8] =
    b"made by `rnn` with no command (its demo); it replaces its own run here\n";

/// `$TMPDIR/rnn-demo`, made by the demo (with [`MARKER`]) or refused: a
/// directory of that name that the demo did not make, or a symlink there,
/// is someone else's, and nothing in it is touched.
fn demo_dir() -> CliResult<std::path::PathBuf> {
    let dir = std::env::temp_dir().join("rnn-demo");
    let refuse = |why: &str| {
        CliError::Usage(format!(
            "{}: {why}; the demo writes only into a directory it made itself (move this one away, or train on your own: rnn train lm --data FILE --out DIR)",
            dir.display()
        ))
    };
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(&dir).map_err(|e| rnn::Error::io(&dir, e))?;
            let marker = dir.join(MARKER);
            rnn::io::write_atomic(&marker, MARKER_TEXT)?;
        }
        Err(e) => return Err(rnn::Error::io(&dir, e).into()),
        Ok(m) if !m.is_dir() => return Err(refuse("exists and is not a directory")),
        Ok(_) => {
            let marker = dir.join(MARKER);
            if !std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file()) {
                // made by a demo before the marker, if it holds just what
                // those wrote: the text and the model directory
                let entries = std::fs::read_dir(&dir).map_err(|e| rnn::Error::io(&dir, e))?;
                for entry in entries {
                    let entry = entry.map_err(|e| rnn::Error::io(&dir, e))?;
                    let (name, kind) = (entry.file_name(), entry.file_type().ok());
                    let old = (name == "mobydick-excerpt.txt" && kind.is_some_and(|t| t.is_file()))
                        || (name == "model" && kind.is_some_and(|t| t.is_dir()));
                    if !old {
                        return Err(refuse("exists and was not made by the demo"));
                    }
                }
                rnn::io::write_atomic(&marker, MARKER_TEXT)?;
            }
        }
    }
    Ok(dir)
}

/// Empties the demo's model directory of its previous run's files, or
/// refuses when it holds anything else (a user's file, or a model of
/// another kind trained there with `--force`).
fn clear_previous(out: &std::path::Path) -> CliResult {
    let entries = match std::fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(rnn::Error::io(out, e).into()),
        Ok(entries) => entries,
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| rnn::Error::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // a run's files (`rnn::io::RUN_FILES`) and its lock, not a user's
        let ours = (rnn::io::RUN_FILES.contains(&name.as_str()) || name == rnn::io::LOCK)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !ours {
            return Err(CliError::Usage(format!(
                "{}: holds '{name}', which a demo run does not write; the demo replaces only its own run (move the directory away)",
                out.display()
            )));
        }
        names.push(name);
    }
    if names.iter().any(|n| n == "model.safetensors") && LanguageModel::load(out).is_err() {
        return Err(CliError::Usage(format!(
            "{}: holds a model that is not the demo's language model; the demo replaces only its own run (move the directory away)",
            out.display()
        )));
    }
    for name in names {
        let p = out.join(name);
        std::fs::remove_file(&p).map_err(|e| rnn::Error::io(&p, e))?;
    }
    Ok(())
}

/// Runs the demo.
pub fn run() -> CliResult {
    let dir = demo_dir()?;
    let data = dir.join("mobydick-excerpt.txt");
    // written beside and renamed into place: a symlink of that name is
    // replaced, never written through
    rnn::io::write_atomic(&data, TEXT.as_bytes())?;
    let out = dir.join("model");
    clear_previous(&out)?;
    logln!("rnn demo: training an Elman RNN language model on {} characters of Moby-Dick for about a minute", TEXT.chars().count());
    logln!("(the full tool: `rnn --help`; this run is `rnn train lm --data {} --out {} --hidden 256 --minutes 1`)", data.display(), out.display());
    // `rnn train lm`'s defaults, but validation every 100 steps
    let config = TrainConfig {
        hidden: 256,
        eval_every: 100,
        ..TrainConfig::default()
    };
    set_threads(std::thread::available_parallelism().map_or(1, |n| n.get().min(2)))?;
    let trainer = Trainer::new(config, &Corpus::new(&data, TEXT), &out)?;
    // Ctrl-C ends the minute early and still shows the model's sample
    super::train::stop_on_interrupt();
    let summary = fit(trainer, Budget::Minutes(1.0), false);
    rnn::io::release_run_dir(&out);
    let summary = summary?;
    print_summary(&summary, &out, false)?;
    let lm = LanguageModel::load(&out)?;
    let prime = "Call me ";
    let sampling = Sampling {
        len: 400,
        temperature: 0.7,
        top_k: 0,
        top_p: 1.0,
        seed: 1,
    };
    let sample = format!("{prime}{}", lm.generate(prime, sampling)?);
    outln!(
        "\nvalidation: {:.3} bits/char ({:.3} nats/char); uniform over {} characters would be {:.3} bits/char",
        summary.best_val / std::f64::consts::LN_2,
        summary.best_val,
        lm.vocab.len(),
        (lm.vocab.len() as f64).log2()
    )?;
    outln!("sample (temperature 0.7):\n\n{sample}\n")?;
    outln!(
        "try: rnn generate --model {} --prime \"The whale\" --len 300",
        out.display()
    )?;
    if rnn::tasks::stop::requested() {
        return Err(crate::error::CliError::Interrupted(format!(
            "interrupted: training stopped early; the model trained so far is in {}",
            out.display()
        )));
    }
    Ok(())
}
