//! `rnn train {lm,tag,forecast,classify}`.

use crate::error::{CliError, CliResult};
use clap::{Args, Subcommand};

/// Train a model for one task.
#[derive(Args, Debug)]
#[command(after_help = "Examples (each task's --help has more):\n  \
                  rnn train lm --data tinyshakespeare.txt --out runs/shakespeare --minutes 5\n  \
                  rnn train tag --train ner.train.conll --dev ner.dev.conll --out runs/ner\n  \
                  rnn train forecast --data sunspots.csv --target SUNACTIVITY --test 62 --out runs/sunspots\n  \
                  rnn train classify --train GunPoint_TRAIN.ts --out runs/gunpoint\n\n\
                  Ctrl-C (or SIGTERM) ends a training as the end of its budget would: the model\n\
                  trained so far is kept (a language model's run resumes with --resume) and the\n\
                  exit code is 130. A second Ctrl-C quits at once.")]
pub struct TrainArgs {
    #[command(subcommand)]
    task: TrainTask,
}

#[derive(Subcommand, Debug)]
enum TrainTask {
    /// A character-level language model on a text file.
    Lm(Box<super::lm::TrainLmArgs>),
    /// A sequence tagger (part of speech, named entities) on CoNLL data.
    Tag(Box<super::tag::TrainTagArgs>),
    /// Time-series forecasting from a CSV column.
    Forecast(Box<super::forecast::TrainForecastArgs>),
    /// Sequence classification from a .ts, UCR .tsv, .arff or long CSV file.
    Classify(Box<super::classify::TrainClassifyArgs>),
}

/// Records in the task's arguments which flags `m` (the matches of
/// `rnn train`) had from the command line, for checks that a default
/// cannot answer (`train tag --init-from` with a network flag).
pub fn note_given(args: &mut TrainArgs, m: &clap::ArgMatches) {
    if let (TrainTask::Tag(a), Some(("tag", m))) = (&mut args.task, m.subcommand()) {
        a.given = m
            .ids()
            .filter(|id| {
                m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.to_string())
            .collect();
    }
}

/// Runs the command.
pub fn run(args: &TrainArgs) -> CliResult {
    if matches!(args.task, TrainTask::Classify(_)) {
        rnn::dist::single_only(rnn::dist::world(), "rnn train classify")?;
    }
    let out = match &args.task {
        TrainTask::Lm(a) => a.out.as_ref().or(a.resume.as_ref()),
        TrainTask::Tag(t) => Some(&t.out),
        TrainTask::Forecast(a) => Some(&a.out),
        TrainTask::Classify(a) => Some(&a.out),
    };
    let existed = out.is_some_and(|d| d.exists());
    stop_on_interrupt();
    let result = match &args.task {
        TrainTask::Lm(a) => super::lm::train(a).map(|_| ()),
        TrainTask::Tag(t) => super::tag::train(t),
        TrainTask::Forecast(a) => super::forecast::train_forecast(a),
        TrainTask::Classify(a) => super::classify::train(a),
    };
    let result = settle(out.map(|p| p.as_path()), existed, result);
    // under MPI the ranks stop on rank 0's reading of the request (a signal
    // to another rank alone changes nothing), so rank 0 alone says so: rank
    // 1 signalled alone exited 130 after a run that went to its end
    let stopped = rnn::tasks::stop::requested() && rnn::dist::world().rank() == 0;
    match (result, out) {
        (Ok(()), Some(dir)) if stopped => {
            let again = match &args.task {
                TrainTask::Lm(a) => {
                    // the budget is the command's, not the run's: given again
                    let budget = match (a.steps, a.epochs, a.minutes) {
                        (Some(s), _, _) => format!(" --steps {s}"),
                        (_, Some(e), _) => format!(" --epochs {e}"),
                        (_, _, Some(m)) => format!(" --minutes {m}"),
                        _ => String::new(),
                    };
                    format!(
                        " (`rnn train lm --resume {} --data {}{budget}` goes on)",
                        shell_word(&dir.display().to_string()),
                        shell_word(&a.data.display().to_string())
                    )
                }
                _ => String::new(),
            };
            Err(CliError::Interrupted(format!(
                "interrupted: training stopped early; the model trained so far is in {}{again}",
                dir.display()
            )))
        }
        (result, _) => result,
    }
}

/// `word` as a shell reads it back: as it is when it is plain, else in
/// single quotes (`'` as `'\''`).
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

/// Makes the first Ctrl-C (or SIGTERM) end the training as the end of its
/// budget would ([`rnn::tasks::stop`]: evaluate, keep the best model, write
/// what `--resume` reads), and a second one quit at once, as before.
pub fn stop_on_interrupt() {
    let ignored = interrupts_ignored();
    // (a second handler is refused: one is enough)
    let _ = ctrlc::set_handler(|| {
        if rnn::tasks::stop::requested() {
            logln!("interrupted again: quitting at once");
            std::process::exit(130);
        }
        rnn::tasks::stop::request();
        logln!(
            "interrupted: stopping after the current step, keeping what was trained (interrupt again to quit at once)"
        );
    });
    if ignored {
        // SIGTERM (`kill PID`) is still handled; SIGINT stays ignored
        ignore_interrupts();
    }
}

/// Ends a `--force` replacement of `out` after a run that ended with
/// `result`: the replaced run is dropped once the new one wrote its model,
/// and put back when it did not (rank 0 alone, which prepared the
/// directory). A failed run leaves no empty directory it created (`existed`:
/// whether `out` was there before). A failure to settle is reported when
/// the run itself succeeded.
pub fn settle(out: Option<&std::path::Path>, existed: bool, result: CliResult) -> CliResult {
    let Some(dir) = out.filter(|_| rnn::dist::world().rank() == 0) else {
        return result;
    };
    // a run that diverged before writing its model says so (a language
    // model's train state of step 0 is no model: `rnn eval` said "No such
    // file" after "the last good checkpoint is kept")
    let unsaved = !dir.join("model.safetensors").is_file();
    let result = match result {
        Err(CliError::Lib(rnn::Error::Diverged { step, value })) if unsaved => {
            Err(rnn::Error::DivergedUnsaved { step, value }.into())
        }
        r => r,
    };
    let settled = rnn::io::settle_run_dir(dir);
    rnn::io::release_run_dir(dir); // the lock of prepare_run_dir, and its file
    if result.is_err() && !existed {
        let _ = std::fs::remove_dir(dir); // only when empty
    }
    match (result, settled) {
        (Ok(()), Err(e)) => Err(e.into()),
        (result, _) => result,
    }
}

/// Whether this process was started with SIGINT ignored: a background job
/// of a non-interactive shell (`rnn train ... &` in a script), which a
/// Ctrl-C meant for the script's foreground command must not stop.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn interrupts_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `old`, a zeroed struct of the right type
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn interrupts_ignored() -> bool {
    false
}

/// Sets SIGINT back to ignored after the handler took it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn ignore_interrupts() {
    // SAFETY: SIG_IGN is a valid disposition for SIGINT
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn ignore_interrupts() {}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_only_when_they_need_it() {
        assert_eq!(shell_word("runs/m-1.2"), "runs/m-1.2");
        assert_eq!(shell_word("my runs/m"), "'my runs/m'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
