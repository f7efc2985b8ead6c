//! The nearest-neighbour member a [`Trainer`] adds last
//! ([`crate::tasks::classify::nearest`]), and the line that says how the
//! ensemble's groups are weighted.

use super::Trainer;
use crate::tasks::classify::nearest;
use crate::tasks::{Event, Progress};

impl Trainer {
    /// With `config.dtw_member`, fits the 1-NN DTW member on the training
    /// sequences (leave-one-out accuracy and `beta`), stores it in the
    /// metadata and says so, with each group's weight; returns whether it
    /// was added. Not added when the networks have no validation accuracy
    /// (nothing to weigh it against; said so).
    pub(super) fn add_nearest(&mut self, progress: &mut impl Progress) -> bool {
        if !self.config.dtw_member {
            return false;
        }
        if self.classifier.estimates().iter().any(|e| e.1.is_none()) {
            progress.event(&Event::Message(
                "no 1-NN DTW member: the networks have no validation accuracy to weigh it against",
            ));
            return false;
        }
        let clock = std::time::Instant::now();
        let train = self.classifier.baseline_set();
        let meta = &self.classifier.meta;
        let near = nearest::fit(
            &train,
            &meta.baseline_classes,
            meta.classes.len(),
            meta.dims,
        );
        let window = match near.band {
            None => "full window".to_string(),
            Some(b) => format!("a band of {b} frames"),
        };
        progress.event(&Event::Message(&format!(
            "1-NN DTW member ({window}): leave-one-out accuracy {:.2} % over {} training sequences, beta {}, cross-entropy {:.4} ({:.1} s)",
            100.0 * near.loo_accuracy,
            train.len(),
            near.beta,
            near.loo_loss,
            clock.elapsed().as_secs_f64()
        )));
        self.classifier.meta.nearest = Some(near);
        let est = self.classifier.estimates();
        let parts: Vec<String> = est
            .iter()
            .zip(self.classifier.weights())
            .map(|((name, acc), (_, w))| {
                format!("{name} {w:.3} ({:.2} %)", 100.0 * acc.unwrap_or(f64::NAN))
            })
            .collect();
        progress.event(&Event::Message(&format!(
            "weights (estimated accuracy^{}): {}",
            nearest::WEIGHT_POWER,
            parts.join(", ")
        )));
        true
    }
}
