//! Networks of one ensemble trained at once, one per thread
//! ([`Trainer::fit_parallel`]), and where a network's epochs are reported
//! ([`Sink`]): straight into the run's log and progress when networks train
//! one after the other, or kept and merged in member order when several
//! train at once, so `metrics.jsonl` and the model file are the same bytes
//! either way (each network trains on one thread with its own seed: its
//! weights do not depend on what else runs).

use super::Trainer;
use crate::io::{FlowLog, MetricsLog};
use crate::tasks::{Budget, Event, Progress};
use crate::{Model, Result};
use std::ops::Range;
use std::sync::mpsc;
use std::sync::Mutex;

use super::super::meta::MemberInfo;

/// Where [`Trainer::fit_member`] reports each epoch.
pub(super) enum Sink<'a> {
    /// One network at a time: rows into the run's log (and gradient flows,
    /// with `--diagnostics`), events to the progress observer, and the best
    /// weights saved with the finished networks now and then.
    Direct {
        /// The run's `metrics.jsonl`.
        metrics: &'a mut MetricsLog,
        /// The run's `diagnostics.jsonl`, with `--diagnostics`.
        flows: Option<&'a mut FlowLog>,
        /// The caller's observer.
        progress: &'a mut dyn Progress,
    },
    /// Several at once: the rows are kept (their `step` counts this
    /// network's steps only) and each epoch is announced to the reporting
    /// thread.
    Buffered {
        /// This network's metrics rows.
        rows: Vec<serde_json::Value>,
        /// To the thread that owns the progress observer.
        notes: mpsc::Sender<Note>,
    },
}

/// What a network training on another thread tells the reporting one.
pub(super) enum Note {
    /// An epoch finished (the progress bar's step).
    Epoch {
        /// The network (member index).
        member: usize,
        /// Its optimizer steps so far.
        step: u64,
        /// Its training loss.
        loss: f64,
        /// The progress bar's summary.
        summary: String,
    },
    /// A network finished (or failed); `usize` is its member index.
    Done(usize, Box<Result<Fitted>>),
}

/// One trained network.
pub(super) struct Fitted {
    /// Its best weights.
    pub model: Model<f32>,
    /// How it went.
    pub info: MemberInfo,
    /// Whether it stopped early.
    pub early: bool,
    /// Optimizer steps it took.
    pub steps: u64,
    /// The `network k (seed s): ...` line.
    pub line: String,
    /// Its metrics rows (buffered networks only; their `step` counts from 0).
    pub rows: Vec<serde_json::Value>,
}

impl Trainer {
    /// Trains networks `members` with `jobs` threads, each network on one
    /// thread ([`crate::kernels::sequential`]), and returns them in member
    /// order. The calling thread passes each epoch to `progress` (the step
    /// counts every network's steps so far), each network's `network k
    /// (seed s): ...` line once it and the ones before it have finished,
    /// and, as each network finishes, saves the finished networks (in
    /// member order) so a killed run leaves a usable model. The first error, in member order, is returned once
    /// the running networks have stopped; no new one starts after an error.
    pub(super) fn fit_parallel(
        &self,
        members: Range<usize>,
        budget: Budget,
        jobs: usize,
        progress: &mut dyn Progress,
    ) -> Result<Vec<Fitted>> {
        let queue = Mutex::new(members.clone().rev().collect::<Vec<_>>());
        let failed = std::sync::atomic::AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<Note>();
        let mut done: Vec<(usize, Result<Fitted>)> = Vec::with_capacity(members.len());
        std::thread::scope(|s| {
            for _ in 0..jobs.min(members.len()) {
                let tx = tx.clone();
                let (queue, failed) = (&queue, &failed);
                s.spawn(move || loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(member) = next else { break };
                    let mut sink = Sink::Buffered {
                        rows: Vec::new(),
                        notes: tx.clone(),
                    };
                    let r = crate::kernels::sequential(|| {
                        self.fit_member(member, budget, 0, &mut sink)
                    });
                    if r.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let _ = tx.send(Note::Done(member, Box::new(r)));
                });
            }
            drop(tx);
            // each network's steps so far; the next network whose line is due
            let mut steps = vec![0u64; members.end];
            let mut said = members.start;
            for note in rx {
                match note {
                    Note::Epoch {
                        member,
                        step,
                        loss,
                        summary,
                    } => {
                        steps[member] = step;
                        progress.event(&Event::Step {
                            step: self.step + steps.iter().sum::<u64>(),
                            loss,
                            summary: &summary,
                        });
                    }
                    Note::Done(member, r) => {
                        done.push((member, *r));
                        done.sort_by_key(|(m, _)| *m);
                        // the lines of the networks finished so far, in member order
                        while let Some((_, r)) = done.iter().find(|(m, _)| *m == said) {
                            if let Ok(f) = r {
                                progress.event(&Event::Message(&f.line));
                            }
                            said += 1;
                        }
                        let finished: Vec<(&Model<f32>, &MemberInfo)> = done
                            .iter()
                            .filter_map(|(_, r)| r.as_ref().ok())
                            .map(|f| (&f.model, &f.info))
                            .collect();
                        if let Err(e) = self.save(&finished) {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            done.push((usize::MAX, Err(e)));
                        }
                    }
                }
            }
        });
        done.into_iter().map(|(_, r)| r).collect()
    }
}
