//! Saving a [`Trainer`]'s classifier as training goes on (each file marked
//! unfinished), and the last save, which marks it finished.

use super::{Summary, Trainer};
use crate::tasks::classify::meta::MemberInfo;
use crate::tasks::{Budget, Progress};
use crate::{Model, Result};

impl Trainer {
    /// The classifier as the last save wrote it: after [`Trainer::fit`],
    /// the finished model of `model.safetensors`.
    pub fn classifier(&self) -> &crate::tasks::classify::Classifier {
        &self.classifier
    }

    /// Saves the finished members plus `more` (each with its info).
    pub(super) fn save(&self, more: &[(&Model<f32>, &MemberInfo)]) -> Result<()> {
        let mut c = self.classifier.clone();
        for (m, info) in more {
            c.members.push((*m).clone());
            c.meta.members.push((*info).clone());
        }
        c.save(&self.out)
    }

    /// [`Trainer::fit`], planned by the default budget when `auto`.
    pub(super) fn fit_planned(
        &mut self,
        budget: Budget,
        auto: bool,
        progress: &mut impl Progress,
    ) -> Result<Summary> {
        let summary = self.fit_stages(budget, auto, progress)?;
        // the files written so far said "not finished" (a run killed in
        // between leaves a classifier without its later parts); this one is
        self.classifier.meta.finished = true;
        self.save(&[])?;
        Ok(summary)
    }
}
