//! What every task's trainer shares: the budget of a `fit`, the clock that
//! enforces it, and the progress events a caller (the CLI's progress bar, a
//! logger, a test) receives while it runs.

use crate::io::{LossPlot, MetricsLog};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a trainer's `fit` may run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Passes over the training data.
    Epochs(usize),
    /// Minutes of wall-clock time.
    Minutes(f64),
    /// Optimizer steps.
    Steps(u64),
}

impl Budget {
    /// Checks the budget is positive and finite; the error names it.
    ///
    /// ```
    /// use rnn::tasks::Budget;
    /// assert!(Budget::Epochs(3).validate().is_ok());
    /// assert!(Budget::Minutes(f64::NAN).validate().is_err());
    /// assert!(Budget::Steps(0).validate().is_err());
    /// ```
    pub fn validate(self) -> Result<Self> {
        let ok = match self {
            Budget::Epochs(e) => e >= 1,
            Budget::Steps(s) => s >= 1,
            Budget::Minutes(m) => m.is_finite() && m > 0.0,
        };
        if ok {
            Ok(self)
        } else {
            Err(Error::Value {
                what: "budget".into(),
                value: format!("{self:?}"),
                expected: "at least one epoch or step, or a positive finite number of minutes"
                    .into(),
            })
        }
    }
}

/// Wall-clock time of a run against its [`Budget`].
#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    budget: Budget,
}

impl Clock {
    /// Starts the clock now.
    pub fn start(budget: Budget) -> Self {
        Clock {
            start: Instant::now(),
            budget,
        }
    }

    /// The budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether a minutes budget has run out (never for the other budgets).
    pub fn out_of_time(&self) -> bool {
        match self.budget {
            Budget::Minutes(m) => self.start.elapsed() >= Duration::from_secs_f64(m * 60.0),
            _ => false,
        }
    }

    /// With a minutes budget, the share of it used so far (at most 1).
    pub fn time_fraction(&self) -> Option<f64> {
        match self.budget {
            Budget::Minutes(m) => Some((self.elapsed() / (m * 60.0)).min(1.0)),
            _ => None,
        }
    }
}

/// What a trainer reports while it runs.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The run starts: its total optimizer steps when known (epoch and
    /// step budgets), else `None`.
    Start {
        /// Total optimizer steps, when the budget fixes them.
        total_steps: Option<u64>,
    },
    /// An optimizer step was taken.
    Step {
        /// Steps taken so far (this one included).
        step: u64,
        /// The step's training loss (per token or per value).
        loss: f64,
        /// A short summary for a progress bar (smoothed loss, last validation).
        summary: &'a str,
    },
    /// An evaluation finished; `row` is the line written to `metrics.jsonl`.
    Evaluated {
        /// The metrics row.
        row: &'a serde_json::Value,
    },
    /// A line for a person to read (an epoch summary, a note).
    Message(&'a str),
}

/// Receives a trainer's [`Event`]s. Closures `FnMut(&Event)` are progress
/// observers too, and `()` ignores everything.
pub trait Progress {
    /// Called for every event, in order.
    fn event(&mut self, event: &Event);
}

impl Progress for () {
    fn event(&mut self, _: &Event) {}
}

impl<F: FnMut(&Event)> Progress for F {
    fn event(&mut self, event: &Event) {
        self(event)
    }
}

/// A [`Progress`] observer that redraws a run's `loss.svg` after
/// evaluations (as its [`LossPlot`] says) and passes every event on to
/// `inner` (a progress bar, or `()`).
///
/// A failed drawing does not stop the run: the first error is returned by
/// [`Plotting::finish`], after the last drawing.
pub struct Plotting<'a, P: Progress> {
    plot: LossPlot,
    dir: PathBuf,
    rows: Vec<serde_json::Value>,
    inner: &'a mut P,
    error: Option<Error>,
}

impl<'a, P: Progress> Plotting<'a, P> {
    /// Draws into `dir`; a `resume`d run's curves start from the rows
    /// already in its `metrics.jsonl`.
    pub fn new(plot: LossPlot, dir: &Path, resume: bool, inner: &'a mut P) -> Self {
        Plotting {
            plot,
            dir: dir.to_path_buf(),
            rows: MetricsLog::open(dir, resume).rows().to_vec(),
            inner,
            error: None,
        }
    }

    /// Draws the plot once more and returns the first error of any drawing.
    ///
    /// # Errors
    ///
    /// As [`LossPlot::draw`].
    pub fn finish(mut self) -> Result<()> {
        self.draw();
        self.error.map_or(Ok(()), Err)
    }

    fn draw(&mut self) {
        if let Err(e) = self.plot.draw(&self.dir, &self.rows) {
            self.error.get_or_insert(e);
        }
    }
}

impl<P: Progress> Progress for Plotting<'_, P> {
    fn event(&mut self, event: &Event) {
        if let Event::Evaluated { row } = event {
            self.rows.push((*row).clone());
            if self.plot.due(row) {
                self.draw();
            }
        }
        self.inner.event(event);
    }
}
