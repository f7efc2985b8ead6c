//! Ending a training early from outside it: what `rnn train` does on
//! Ctrl-C (SIGINT) or SIGTERM. [`request`] makes every training of the
//! process end at its next check as if its budget had run out: the language
//! model's and tagger's trainers after the step they are taking, the
//! forecaster's and classifier's networks after their epoch. Each then does
//! what the end of its budget does (evaluate, keep the best model, write
//! the files a `--resume` reads), so no work a checkpoint could hold is lost.
//!
//! The request is process-wide, as the signal it stands for: a program that
//! trains again after a stop calls [`clear`] first.
//!
//! ```
//! use rnn::tasks::{stop, Budget, Clock};
//! let clock = Clock::start(Budget::Epochs(10));
//! assert!(!clock.out_of_time());
//! stop::request();
//! assert!(stop::requested() && clock.out_of_time());
//! stop::clear();
//! assert!(!clock.out_of_time());
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every training of the process to stop at its next check.
/// Safe to call from any thread (a signal handler's thread too).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested (and not [`clear`]ed since).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Withdraws a request, so that the next training runs its whole budget.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
