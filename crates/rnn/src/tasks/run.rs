//! What every task's trainer shares: the budget of a `fit`, the clock that
//! enforces it, and the progress events a caller (the CLI's progress bar, a
//! logger, a test) receives while it runs.

use crate::io::{LossPlot, MetricsLog};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

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

    /// Whether a minutes budget has run out (never for the other budgets),
    /// or a stop was requested ([`crate::tasks::stop`]: Ctrl-C), whatever
    /// the budget. Compared in seconds as `f64`: any finite budget, however
    /// large (a `Duration` of 10^20 minutes overflows).
    ///
    /// ```
    /// use rnn::tasks::{Budget, Clock};
    /// assert!(!Clock::start(Budget::Minutes(1e20)).out_of_time());
    /// let short = Clock::start(Budget::Minutes(1e-9)); // 60 ns
    /// std::thread::sleep(std::time::Duration::from_millis(1));
    /// assert!(short.out_of_time());
    /// assert!(!Clock::start(Budget::Epochs(1)).out_of_time());
    /// assert!(Clock::start(Budget::Minutes(f64::NAN)).out_of_time());
    /// ```
    pub fn out_of_time(&self) -> bool {
        if super::stop::requested() {
            return true;
        }
        match self.budget {
            // a NaN budget (a clock started without `Budget::validate`) is
            // out of time at once, as its `time_fraction` says, instead of
            // never (session 53's sweep)
            Budget::Minutes(m) => m.is_nan() || self.elapsed() >= m * 60.0,
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
    /// Whether any event came (a quiet rank of a distributed run hears none).
    heard: bool,
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
            heard: false,
        }
    }

    /// Draws the plot once more (unless no event came: a rank other than 0
    /// of a distributed run writes nothing) and returns the first error of
    /// any drawing.
    ///
    /// # Errors
    ///
    /// As [`LossPlot::draw`].
    pub fn finish(mut self) -> Result<()> {
        if self.heard {
            self.draw();
        }
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
        self.heard = true;
        if let Event::Evaluated { row } = event {
            self.rows.push((*row).clone());
            if self.plot.due(row) {
                self.draw();
            }
        }
        self.inner.event(event);
    }
}

/// How many times the loss of a model that knows nothing a training loss
/// may reach before the run counts as diverged, as if it had become
/// infinite ([`diverged`]).
pub const EXPLODED: f64 = 100.0;

/// Whether a step's training loss (or a validation loss) says the run
/// diverged, and the text naming it: a loss that is not finite, or one
/// above [`EXPLODED`] times `null`, the loss of a model that knows nothing
/// (a uniform guess for a cross-entropy, `ln C` over `C` classes; predicting
/// no correction for a forecaster's squared error), that is at least 1.
/// Weights blown up by an absurd learning rate give losses of 10^30 long
/// before one overflows, and which comes first depends on the order of the
/// sums (one thread or two): counting both as divergence stops such a run
/// alike either way, where before a finite 3e31 was trained on and saved
/// with exit 0. No model being trained comes near: a cross-entropy over 65
/// characters would be above 417 nats a character (the model giving the
/// right one a probability below e^-417), and a forecaster's errors above
/// 14 standard deviations on every window of a batch.
///
/// ```
/// use rnn::tasks::diverged;
/// let uniform = 65f64.ln(); // 4.1744
/// assert_eq!(diverged(2.1, uniform), None);
/// assert_eq!(diverged(f64::NAN, uniform).as_deref(), Some("NaN"));
/// assert_eq!(
///     diverged(3.4e31, uniform).as_deref(),
///     Some("3.4000e31 (over 100 times the 4.1744 of a model that knows nothing)")
/// );
/// // a null loss below 1 (few classes, a well-predicted series) counts as 1
/// assert!(diverged(90.0, 2f64.ln()).is_none());
/// assert_eq!(
///     diverged(101.0, 0.07).as_deref(),
///     Some("1.0100e2 (over 100, the least bound; a model that knows nothing has 0.0700)")
/// );
/// // a null that is no loss gives the least bound
/// assert!(diverged(101.0, f64::INFINITY).is_some() && diverged(101.0, f64::NAN).is_some());
/// assert_eq!(
///     diverged(500.0, -3.0).as_deref(),
///     Some("5.0000e2 (over 100, the least bound)")
/// );
/// ```
pub fn diverged(loss: f64, null: f64) -> Option<String> {
    if !loss.is_finite() {
        return Some(loss.to_string());
    }
    // a null loss that is no loss (NaN, infinite, negative) bounds nothing:
    // the least bound instead (an infinite null turned the check off, a
    // negative one was printed as what a model knowing nothing has)
    if !(null.is_finite() && null >= 0.0) {
        return (loss > EXPLODED).then(|| format!("{loss:.4e} (over {EXPLODED}, the least bound)"));
    }
    (loss > EXPLODED * null.max(1.0)).then(|| match null >= 1.0 {
        true => format!("{loss:.4e} (over {EXPLODED} times the {null:.4} of a model that knows nothing)"),
        false => format!(
            "{loss:.4e} (over {EXPLODED}, the least bound; a model that knows nothing has {null:.4})"
        ),
    })
}

/// What a trainer does when a step's loss (or gradient) is not finite, or
/// the loss is past any trained model's ([`diverged`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OnDivergence {
    /// Stop with [`Error::Diverged`], the files of the last good state kept.
    #[default]
    Stop,
    /// Go back to the last good state (the weights and optimizer of the
    /// last checkpoint or evaluation), halve the learning rate, skip the
    /// offending batch and go on; give up after [`MAX_ROLLBACKS`] rollbacks
    /// to the same good state (none recorded in between).
    Rollback,
}

/// Rollbacks to the same good state (no new one recorded in between: a
/// language model's evaluation, the end of an epoch) after which
/// [`OnDivergence::Rollback`] gives up. (Counted from the last successful
/// step until session 51, a run whose every update blew the weights up
/// never gave up: the step after a rollback, taken from the good weights,
/// succeeded, and its update made the next step diverge again.)
pub const MAX_ROLLBACKS: u32 = 3;

/// A trainer's last good state and the rollbacks since: what every
/// trainer's `fit` shares for [`OnDivergence`]. `S` is whatever the trainer
/// restores (weights and optimizer state).
#[derive(Clone, Debug)]
pub(crate) struct Rollback<S> {
    policy: OnDivergence,
    good: Option<S>,
    /// Rollbacks to `good` so far.
    in_a_row: u32,
    /// Whether a step succeeded since the last rollback or good state: a
    /// good state recorded without one is the same state again.
    moved: bool,
    /// The step and loss of the last rollback ([`Rollback::unsaved`]).
    last: Option<(u64, String)>,
}

impl<S> Rollback<S> {
    /// No good state yet.
    pub(crate) fn new(policy: OnDivergence) -> Self {
        Rollback {
            policy,
            good: None,
            in_a_row: 0,
            moved: false,
            last: None,
        }
    }

    /// Records a good state (taken only under [`OnDivergence::Rollback`]);
    /// the count of rollbacks starts again when a step succeeded since the
    /// last one (an epoch whose every batch was rolled back ends on the
    /// same state it went back to).
    pub(crate) fn good(&mut self, state: impl FnOnce() -> S) {
        if self.policy == OnDivergence::Rollback {
            self.good = Some(state());
            if self.moved {
                self.in_a_row = 0;
            }
            self.moved = false;
        }
    }

    /// A step succeeded (its update applied).
    pub(crate) fn stepped(&mut self) {
        self.moved = true;
    }

    /// A step's loss was `value` at `step` (as [`diverged`] names it): under [`OnDivergence::Stop`],
    /// or after [`MAX_ROLLBACKS`] rollbacks to the same good state, the
    /// [`Error::Diverged`] that ends the run; else the state to restore, the
    /// factor to multiply the learning rate by (1/2) and a line for the log
    /// (`lr` is the learning rate the step used).
    pub(crate) fn diverged(
        &mut self,
        step: u64,
        value: String,
        lr: f64,
    ) -> Result<(&S, f64, String)> {
        self.go_back(step, value, lr, ", batch skipped")
    }

    /// [`Rollback::diverged`] for weights whose loss on held-out data
    /// (`data`: "the validation text", "the dev set") is `value` (a text
    /// such as `NaN`) after `step`: the same stop or rollback (no batch is
    /// skipped: the step's batch was fine).
    pub(crate) fn diverged_on(
        &mut self,
        step: u64,
        value: &str,
        data: &str,
        lr: f64,
    ) -> Result<(&S, f64, String)> {
        self.go_back(step, format!("{value} on {data}"), lr, "")
    }

    fn go_back(
        &mut self,
        step: u64,
        value: String,
        lr: f64,
        skipped: &str,
    ) -> Result<(&S, f64, String)> {
        let stop = |value: String| Err(Error::Diverged { step, value });
        if self.good.is_none() || self.policy != OnDivergence::Rollback {
            return stop(value);
        }
        if self.in_a_row >= MAX_ROLLBACKS {
            return stop(format!(
                "{value} again after {MAX_ROLLBACKS} rollbacks to the last good state (learning rate down to {lr:.3e})"
            ));
        }
        self.in_a_row += 1;
        self.moved = false;
        let line = format!(
            "step {step}: loss became {value}; rolled back to the last good state, learning rate halved to {:.3e}{skipped} (rollback {} of {MAX_ROLLBACKS})",
            lr * 0.5,
            self.in_a_row
        );
        self.last = Some((step, value.clone()));
        let good = self.good.as_ref().ok_or(Error::Diverged { step, value })?;
        Ok((good, 0.5, line))
    }

    /// For a run that ends without having saved a model after rolling
    /// back: the [`Error::Diverged`] of its last rollback (`None` when it
    /// never rolled back).
    pub(crate) fn unsaved(&mut self) -> Option<Error> {
        let (step, value) = self.last.take()?;
        Some(Error::Diverged { step, value })
    }
}

/// The loss of a uniform guess over `classes` classes (at least two):
/// `ln C`, the cross-entropy of a model that knows nothing ([`diverged`]).
pub(crate) fn uniform_loss(classes: usize) -> f64 {
    (classes.max(2) as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_gives_up_after_three_to_the_same_state() {
        let mut r = Rollback::new(OnDivergence::Rollback);
        // no good state yet: nothing to go back to
        assert!(matches!(
            r.diverged(1, "NaN".into(), 1.0),
            Err(Error::Diverged { step: 1, .. })
        ));
        r.good(|| 7);
        for k in 1..=3 {
            let (s, factor, line) = r.diverged(10 + k, "inf".into(), 1.0).unwrap();
            assert_eq!((*s, factor), (7, 0.5));
            assert!(line.contains(&format!("rollback {k} of 3")), "{line}");
        }
        let e = r.diverged(20, "NaN".into(), 0.125).unwrap_err().to_string();
        assert_eq!(e, "loss became NaN again after 3 rollbacks to the last good state (learning rate down to 1.250e-1) at step 20; the last good checkpoint is kept");
        // a good state recorded with no step since is the same one: the
        // count goes on
        r.good(|| 8);
        assert!(r.diverged(21, "NaN".into(), 1.0).is_err());
        // a new good state after a successful step starts the count again,
        // and is the one restored
        let mut r = Rollback::new(OnDivergence::Rollback);
        r.good(|| 7);
        for k in 1..=3 {
            r.diverged(10 + k, "inf".into(), 1.0).unwrap();
        }
        r.stepped();
        r.good(|| 8);
        let (s, _, line) = r.diverged(21, "NaN".into(), 1.0).unwrap();
        assert_eq!(*s, 8);
        assert!(line.contains("rollback 1 of 3"), "{line}");
        // the last rollback is the error of a run that saved nothing
        let e = r.unsaved().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("loss became NaN at step 21; the last good checkpoint is kept")
        );
        assert!(Rollback::<u8>::new(OnDivergence::Rollback)
            .unsaved()
            .is_none());
        // stop never rolls back and never keeps a state
        let mut s = Rollback::new(OnDivergence::Stop);
        s.good(|| 1);
        assert!(s.good.is_none());
        assert_eq!(
            s.diverged(3, "NaN".into(), 1.0).unwrap_err().to_string(),
            "loss became NaN at step 3; the last good checkpoint is kept"
        );
    }
}
