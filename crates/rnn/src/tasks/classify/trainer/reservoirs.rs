//! The reservoirs a [`Trainer`] adds beside (or instead of) its networks,
//! and the line that says what the saved model holds.

use super::{Summary, Trainer};
use crate::io::model_file::MODEL_FILE;
use crate::tasks::classify::batch::Encoded;
use crate::tasks::classify::meta::{ReadoutInfo, ReservoirMeta};
use crate::tasks::classify::reservoir::{readout_score, Readout, Reservoir, ReservoirConfig};
use crate::tasks::classify::select::Candidate;
use crate::tasks::{Event, Progress};
use crate::Result;

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
        let what = match (c.members.len(), c.reservoirs.len()) {
            (0, r) => plural(r, "reservoir"),
            (n, r) => format!(
                "{}, {early_stopped} stopped early, and {}: probabilities averaged",
                plural(n, "network"),
                plural(r, "reservoir")
            ),
        };
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

    /// Draws `config.ensemble` reservoirs with the networks' seeds, reading
    /// `ceil(frames / ReservoirConfig::MAX_STEPS)` frames per step (or
    /// `given_stride`, the `--stride` given), fits each one's readout to all training sequences
    /// and adds them to the classifier. Each is also scored on its network's
    /// validation part, with a readout fitted on the rest (or on the dev
    /// file), and says so.
    pub(super) fn add_reservoirs(
        &mut self,
        given_stride: Option<usize>,
        progress: &mut impl Progress,
    ) -> Result<()> {
        let cfg = ReservoirConfig {
            units: self.config.reservoir_units,
            ..ReservoirConfig::default()
        };
        let stride = given_stride.unwrap_or_else(|| {
            self.train
                .max_steps()
                .div_ceil(ReservoirConfig::MAX_STEPS)
                .max(1)
        });
        let meta = &self.classifier.meta;
        let classes = meta.classes.len();
        progress.event(&Event::Message(&format!(
            "{} reservoir{} (echo-state networks of {} units, leak {}, spectral radius {}), {stride} frame{} per step",
            self.config.ensemble,
            if self.config.ensemble == 1 { "" } else { "s" },
            cfg.units,
            cfg.leak,
            cfg.spectral_radius,
            if stride == 1 { "" } else { "s" }
        )));
        let enc = Encoded::new(&self.train, &meta.normaliser, stride);
        let dev = match (&self.dev_data, &self.dev) {
            (Some(d), Some((_, labels))) => {
                Some((Encoded::new(d, &meta.normaliser, stride), labels.clone()))
            }
            _ => None,
        };
        let n = self.train.len();
        let all: Vec<usize> = (0..n).collect();
        let f = cfg.features();
        // the features, their standardised copy and the readout's
        // eigenvectors and products, in f64
        let r = n.min(f) as f64;
        let bytes = 8.0 * (4.0 * n as f64 * f as f64 + 2.0 * r * r);
        crate::memory::ensure_fits(
            || {
                format!(
                    "reservoir readouts over {n} training sequences of {f} features (--reservoir off trains networks only)"
                )
            },
            bytes,
        )?;
        let rows = |feats: &[f64], idx: &[usize]| -> Vec<f64> {
            idx.iter()
                .flat_map(|&i| feats[i * f..(i + 1) * f].iter().copied())
                .collect()
        };
        let classes_of =
            |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&i| self.labels[i]).collect() };
        let (mut reservoirs, mut readouts, mut infos) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..self.config.ensemble {
            let seed = self.config.member_seed(k);
            let res = Reservoir::random(&cfg, enc.width, seed)?;
            let feats = res.features(&enc, &all)?; // [n, 6 N]
            let readout = Readout::fit(&feats, n, &self.labels, classes)?;
            let val = match &dev {
                Some((de, dl)) => {
                    let idx: Vec<usize> = (0..dl.len()).collect();
                    Some(readout_score(&readout, &res.features(de, &idx)?, dl))
                }
                None => {
                    let (tr, va) = self.config.split_for(&self.labels, k);
                    if va.is_empty() || tr.len() < 2 {
                        None
                    } else {
                        let part =
                            Readout::fit(&rows(&feats, &tr), tr.len(), &classes_of(&tr), classes)?;
                        Some(readout_score(&part, &rows(&feats, &va), &classes_of(&va)))
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
            });
            reservoirs.push(res);
            readouts.push(readout);
        }
        self.classifier.reservoirs = reservoirs;
        self.classifier.readouts = readouts;
        self.classifier.meta.reservoir = Some(ReservoirMeta {
            config: cfg,
            stride,
            readouts: infos,
        });
        Ok(())
    }
}
