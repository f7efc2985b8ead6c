//! What every `rnn train` task shares: the time/epoch budget, the progress
//! bar, flag checks.

use crate::error::{CliError, CliResult};
use indicatif::{ProgressBar, ProgressStyle};
use rnn::tasks::{Clock, Event};

pub use rnn::tasks::Budget;

/// The budget from `--epochs` / `--minutes` (at most one may be given;
/// `default` otherwise).
pub fn budget_from_flags(
    epochs: Option<usize>,
    minutes: Option<f64>,
    default: Budget,
) -> CliResult<Budget> {
    match (epochs, minutes) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "give --epochs or --minutes, not both".into(),
        )),
        (Some(0), None) => Err(CliError::Usage("--epochs 0: expected at least 1".into())),
        (Some(e), None) => Ok(Budget::Epochs(e)),
        (None, Some(m)) if m.is_finite() && m > 0.0 => Ok(Budget::Minutes(m)),
        (None, Some(m)) => Err(CliError::Usage(format!(
            "--minutes {m}: expected a positive number"
        ))),
        (None, None) => Ok(default),
    }
}

/// Checks a learning rate (or any positive finite flag value).
pub fn positive(flag: &str, v: f64) -> CliResult<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(CliError::Usage(format!(
            "{flag} {v}: expected a positive finite number"
        )))
    }
}

/// Checks a count flag is at least 1.
pub fn at_least_one(flag: &str, v: usize) -> CliResult<usize> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(CliError::Usage(format!("{flag} 0: expected at least 1")))
    }
}

/// Sets the number of threads for the big matrix products.
pub fn set_threads(n: usize) -> CliResult {
    if n == 0 || n > 256 {
        return Err(CliError::Usage(format!("--threads {n}: expected 1 to 256")));
    }
    rnn::kernels::set_threads(n);
    // A second call (tests, repeated runs in one process) keeps the first pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    Ok(())
}

/// The progress bar on stderr: step, smoothed loss, last validation figure,
/// throughput and ETA (hidden when stderr is not a terminal). It is the
/// [`rnn::tasks::Progress`] observer the CLI hands to the library's trainers.
pub struct Progress {
    bar: ProgressBar,
    clock: Clock,
}

impl Progress {
    /// A bar for a run of `total_steps` (epoch or step budgets) or minutes.
    pub fn new(budget: Budget, total_steps: u64) -> Self {
        let bar = match budget {
            Budget::Minutes(m) => ProgressBar::new((m * 60.0) as u64),
            _ => ProgressBar::new(total_steps),
        };
        let template = match budget {
            Budget::Minutes(_) => "{elapsed_precise} [{bar:30}] {pos}/{len}s {msg} ETA {eta}",
            _ => "{elapsed_precise} [{bar:30}] step {pos}/{len} {msg} ETA {eta}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            clock: Clock::start(budget),
        }
    }

    /// Updates the bar after `step` updates.
    pub fn update(&self, step: u64, msg: String) {
        match self.clock.budget() {
            Budget::Minutes(_) => self.bar.set_position(self.clock.elapsed() as u64),
            _ => self.bar.set_position(step),
        }
        self.bar.set_message(msg);
    }

    /// Prints a line above the bar, or plainly when stderr is not a terminal
    /// (the bar is hidden then, and so would be its lines).
    pub fn println(&self, s: impl AsRef<str>) {
        if self.bar.is_hidden() {
            logln!("{}", s.as_ref());
        } else {
            self.bar.println(s);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl rnn::tasks::Progress for Progress {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Start {
                total_steps: Some(n),
            } if !matches!(self.clock.budget(), Budget::Minutes(_)) => self.bar.set_length(*n),
            Event::Start { .. } | Event::Evaluated { .. } => {}
            Event::Step { step, summary, .. } => self.update(*step, summary.to_string()),
            Event::Message(line) => self.println(line),
        }
    }
}
