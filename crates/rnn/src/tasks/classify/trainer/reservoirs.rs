//! The reservoirs a [`Trainer`] adds beside (or instead of) its networks,
//! and the line that says what the saved model holds.

use super::budget::ReservoirPlan;
use super::{Summary, Trainer};
use crate::io::model_file::MODEL_FILE;
use crate::tasks::classify::batch::Encoded;
use crate::tasks::classify::config::ReservoirUse;
use crate::tasks::classify::meta::{ReadoutInfo, ReservoirMeta, ReservoirTrial};
use crate::tasks::classify::reservoir::{
    readout_score, Readout, RecurrentDraw, Reservoir, ReservoirConfig,
};
use crate::tasks::classify::select::Candidate;
use crate::tasks::{Event, Progress};
use crate::{Error, Result};
use rayon::prelude::*;

/// The reservoirs of one setting, one per seed, with their readouts and
/// training features (`[n, F]` each).
#[derive(Default)]
struct Drawn {
    reservoirs: Vec<Reservoir>,
    readouts: Vec<Readout>,
    features: Vec<Vec<f64>>,
}

impl Trainer {
    /// The summary of the saved model, after saying what it holds.
    pub(super) fn wrote(
        &self,
        early_stopped: usize,
        selection: Vec<Candidate>,
        progress: &mut impl Progress,
    ) -> Summary {
        let model_file = self.out.join(MODEL_FILE);
        let c = &self.classifier;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut what = match (c.members.len(), c.reservoirs.len()) {
            (0, r) => plural(r, "reservoir"),
            (n, 0) => format!("{}, {early_stopped} stopped early", plural(n, "network")),
            (n, r) if c.meta.nearest.is_some() => format!(
                "{}, {early_stopped} stopped early, {}",
                plural(n, "network"),
                plural(r, "reservoir")
            ),
            (n, r) => format!(
                "{}, {early_stopped} stopped early, and {}",
                plural(n, "network"),
                plural(r, "reservoir")
            ),
        };
        if c.meta.nearest.is_some() {
            what += " and the 1-NN DTW member: probabilities weighted";
        } else if c.members.len() * c.reservoirs.len() > 0 {
            what += ": probabilities averaged";
        }
        progress.event(&Event::Message(&format!(
            "wrote {} ({what})",
            model_file.display()
        )));
        Summary {
            members: c.meta.members.clone(),
            steps: self.step,
            early_stopped,
            model_file,
            selection,
        }
    }

    /// The reservoirs' config without the chosen settings, the settings to
    /// try (each of the grid's leaks, input scales and differences that
    /// were not given) and the frames per step: `given_stride`, or
    /// `ceil(frames / ReservoirConfig::MAX_STEPS)`.
    pub(super) fn reservoir_setup(
        &self,
        given_stride: Option<usize>,
    ) -> (ReservoirConfig, Vec<ReservoirConfig>, usize) {
        let base = ReservoirConfig {
            units: self.config.reservoir_units,
            ..ReservoirConfig::default()
        };
        // the settings given are fixed, the others tried
        let c = &self.config;
        let grid = base.grid_of(
            &c.reservoir_leak
                .map_or(ReservoirConfig::LEAKS.to_vec(), |v| vec![v]),
            &c.reservoir_input_scale
                .map_or(ReservoirConfig::INPUT_SCALES.to_vec(), |v| vec![v]),
            &c.reservoir_differences
                .map_or(vec![false, true], |v| vec![v]),
        );
        let stride = given_stride.unwrap_or_else(|| {
            self.train
                .max_steps()
                .div_ceil(ReservoirConfig::MAX_STEPS)
                .max(1)
        });
        (base, grid, stride)
    }

    /// Draws `config.ensemble` reservoirs with the networks' seeds for each
    /// setting of [`ReservoirConfig::grid`], reading `ceil(frames /
    /// ReservoirConfig::MAX_STEPS)` frames per step (or `given_stride`, the
    /// `--stride` given), fits each one's readout to all training sequences
    /// and keeps the setting whose readouts have the highest mean
    /// leave-one-out accuracy (the lower mean leave-one-out cross-entropy on
    /// ties): that score never looks at a sequence the readout was fitted
    /// to, so choosing by it is honest where the networks' early-stopped
    /// validation score is not. The kept reservoirs are added to the
    /// classifier; each is also scored on its network's validation part,
    /// with a readout fitted on the rest (or on the dev file), and says so.
    /// With `auto` (the default budget) the grid may be cut to its first
    /// setting or to none ([`Trainer::plan_reservoirs`]); beside networks
    /// a stop ([`crate::tasks::stop`], Ctrl-C) requested before they start
    /// adds none, and one requested while the grid runs ends it after the
    /// setting being drawn, the settings tried choosing. Returns whether
    /// reservoirs were added.
    pub(super) fn add_reservoirs(
        &mut self,
        given_stride: Option<usize>,
        auto: bool,
        progress: &mut impl Progress,
    ) -> Result<bool> {
        if self.config.reservoir == ReservoirUse::Mix && crate::tasks::stop::requested() {
            // interrupted (Ctrl-C): none beside the networks (seconds of fitting)
            let note = "interrupted: no reservoirs are added to the networks";
            progress.event(&Event::Message(note));
            return Ok(false);
        }
        let (base, mut grid, stride) = self.reservoir_setup(given_stride);
        if auto && self.config.reservoir == ReservoirUse::Mix {
            match self.plan_reservoirs(given_stride) {
                ReservoirPlan::Grid => {}
                ReservoirPlan::First(note) => {
                    progress.event(&Event::Message(&note));
                    grid.truncate(1);
                }
                ReservoirPlan::Skip(note) => {
                    progress.event(&Event::Message(&note));
                    return Ok(false);
                }
            }
        }
        // the distinct values of one field over the settings tried, in order
        let list = |field: &dyn Fn(&ReservoirConfig) -> String| {
            let mut seen: Vec<String> = Vec::new();
            for g in &grid {
                let v = field(g);
                if !seen.contains(&v) {
                    seen.push(v);
                }
            }
            seen.join(", ")
        };
        let differences = match list(&|g| g.differences.to_string()).as_str() {
            "false, true" => "off and on",
            "true, false" => "on and off",
            "true" => "on",
            _ => "off",
        };
        let meta = &self.classifier.meta;
        let classes = meta.classes.len();
        let ensemble = self.config.ensemble;
        progress.event(&Event::Message(&format!(
            "{ensemble} reservoir{} (echo-state networks of {} units, spectral radius {}) for each of {} setting{} (leak {}, input scale {}, differences {}), {stride} frame{} per step",
            if ensemble == 1 { "" } else { "s" },
            base.units,
            base.spectral_radius,
            grid.len(),
            if grid.len() == 1 { "" } else { "s" },
            list(&|g| g.leak.to_string()),
            list(&|g| g.input_scale.to_string()),
            differences,
            if stride == 1 { "" } else { "s" }
        )));
        let enc = Encoded::new(&self.train, &meta.normaliser, stride)?;
        let dev = match (&self.dev_data, &self.dev) {
            (Some(d), Some((_, labels))) => {
                Some((Encoded::new(d, &meta.normaliser, stride)?, labels.clone()))
            }
            _ => None,
        };
        let n = self.train.len();
        let all: Vec<usize> = (0..n).collect();
        let f = base.features();
        // the features of the kept setting's reservoirs and of the one
        // tried, their standardised copy and the readout's eigenvectors and
        // products, in f64
        let r = n.min(f) as f64;
        let bytes = 8.0 * ((2.0 * ensemble as f64 + 2.0) * n as f64 * f as f64 + 2.0 * r * r);
        crate::memory::ensure_fits(
            || {
                format!(
                    "reservoir readouts over {n} training sequences of {f} features (--reservoir off trains networks only)"
                )
            },
            bytes,
        )?;
        // one recurrent weight matrix per seed, shared by every setting
        let draws = (0..ensemble)
            .map(|k| RecurrentDraw::new(&base, self.config.member_seed(k)))
            .collect::<Result<Vec<_>>>()?;
        let mut best: Option<(ReservoirConfig, f64, f64, Drawn)> = None;
        let mut tried = Vec::with_capacity(grid.len());
        // the draws of a setting at once, `--jobs` of them (each one's
        // features and readout do not depend on how many run)
        let pool = thread_pool(self.config.jobs_for(draws.len()))?;
        let settings = grid.len();
        for cfg in grid {
            if !tried.is_empty() && crate::tasks::stop::requested() {
                // interrupted (Ctrl-C, SIGTERM): the settings tried so far
                // choose, as a smaller grid would (each took its own
                // seconds to minutes: the rest of the grid is not waited for)
                let n = tried.len();
                progress.event(&Event::Message(&format!(
                    "interrupted: the reservoirs keep the best of the {n} setting{} tried (of {settings})",
                    if n == 1 { "" } else { "s" }
                )));
                break;
            }
            let mut drawn = Drawn::default();
            let fitted = pool.install(|| {
                draws
                    .par_iter()
                    .map(|draw| {
                        // each draw on one thread: its products (faer's
                        // too, which follow the pool they run in) split
                        // the same way whatever `--jobs` is
                        one_thread()?.install(|| {
                            let res = Reservoir::from_draw(draw, &cfg, enc.width)?;
                            let feats = res.features(&enc, &all)?; // [n, F]
                            let readout = Readout::fit(&feats, n, &self.labels, classes)?;
                            Ok((res, feats, readout))
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })?;
            for (res, feats, readout) in fitted {
                drawn.readouts.push(readout);
                drawn.reservoirs.push(res);
                drawn.features.push(feats);
            }
            let mean = |v: &dyn Fn(&Readout) -> f64| {
                drawn.readouts.iter().map(v).sum::<f64>() / drawn.readouts.len().max(1) as f64
            };
            let (acc, loss) = (mean(&|r| r.loo_accuracy), mean(&|r| r.loo_loss));
            tried.push(ReservoirTrial {
                leak: cfg.leak,
                input_scale: cfg.input_scale,
                differences: cfg.differences,
                loo_accuracy: acc,
                loo_loss: loss,
            });
            if best
                .as_ref()
                .is_none_or(|b| acc > b.1 + 1e-12 || (acc > b.1 - 1e-12 && loss < b.2))
            {
                best = Some((cfg, acc, loss, drawn));
            }
        }
        let (
            cfg,
            acc,
            loss,
            Drawn {
                reservoirs,
                readouts,
                features,
            },
        ) = best.ok_or_else(|| Error::Config("no reservoir setting to try".into()))?;
        let on_off = |b: bool| if b { "on" } else { "off" };
        // with every setting given there was nothing to choose
        let first = if tried.len() > 1 {
            format!(
                "; the first setting, leak {}, input scale {}, differences {}: {:.2} %, {:.4}",
                tried[0].leak,
                tried[0].input_scale,
                on_off(tried[0].differences),
                100.0 * tried[0].loo_accuracy,
                tried[0].loo_loss,
            )
        } else {
            String::new()
        };
        progress.event(&Event::Message(&format!(
            "reservoirs {} leak {}, input scale {}, differences {} (mean leave-one-out accuracy {:.2} %, cross-entropy {loss:.4}{first})",
            if tried.len() > 1 { "chose" } else { "have" },
            cfg.leak,
            cfg.input_scale,
            on_off(cfg.differences),
            100.0 * acc,
        )));
        let rows = |feats: &[f64], idx: &[usize]| -> Vec<f64> {
            idx.iter()
                .flat_map(|&i| feats[i * f..(i + 1) * f].iter().copied())
                .collect()
        };
        let classes_of =
            |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| self.labels[i]).collect() };
        let mut infos = Vec::new();
        for (k, ((res, readout), feats)) in
            reservoirs.iter().zip(&readouts).zip(&features).enumerate()
        {
            let seed = self.config.member_seed(k);
            let val = match &dev {
                Some((de, dl)) => {
                    let idx: Vec<usize> = (0..dl.len()).collect();
                    Some(readout_score(readout, &res.features(de, &idx)?, dl)?)
                }
                None => {
                    let (tr, va) = self.config.split_for(&self.labels, k);
                    if va.is_empty() || tr.len() < 2 {
                        None
                    } else {
                        let part =
                            Readout::fit(&rows(feats, &tr), tr.len(), &classes_of(&tr), classes)?;
                        Some(readout_score(&part, &rows(feats, &va), &classes_of(&va))?)
                    }
                }
            };
            progress.event(&Event::Message(&format!(
                "reservoir {} (seed {seed}): ridge penalty {:.3e}, leave-one-out accuracy {:.2} %{}",
                k + 1,
                readout.lambda,
                100.0 * readout.loo_accuracy,
                match val {
                    Some((a, l)) => format!("; validation loss {l:.4}, accuracy {:.2} %", 100.0 * a),
                    None => String::new(),
                }
            )));
            infos.push(ReadoutInfo {
                seed,
                val_accuracy: val.map(|v| v.0),
                val_loss: val.map(|v| v.1),
                lambda: readout.lambda,
                temperature: readout.temperature,
                loo_accuracy: readout.loo_accuracy,
                loo_loss: Some(readout.loo_loss),
            });
        }
        self.classifier.reservoirs = reservoirs;
        self.classifier.readouts = readouts;
        self.classifier.meta.reservoir = Some(ReservoirMeta {
            config: cfg,
            stride,
            readouts: infos,
            tried,
        });
        Ok(true)
    }
}

/// A rayon pool of `n` threads.
fn thread_pool(n: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| Error::Config(format!("a pool of {n} threads could not be started: {e}")))
}

/// A pool of one thread, for work whose sums must not depend on the threads.
fn one_thread() -> Result<rayon::ThreadPool> {
    thread_pool(1)
}
