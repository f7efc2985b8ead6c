//! What a classifier stores besides its first network's weights:
//! [`ClassifyMeta`], kept as JSON under the metadata key [`META_KEY`] of
//! `model.safetensors`.

use super::fill::Fill;
use super::normalise::Normaliser;
use super::reservoir::ReservoirConfig;
use super::select::Candidate;
use crate::io::model_file::{ModelFile, Task};
use crate::nn::pool::Pool;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The metadata key holding [`ClassifyMeta`] as JSON.
pub const META_KEY: &str = "classify";

/// The task name of classifier model files.
pub const TASK: Task = Task::Classify;

/// How one network of an ensemble was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Its seed (weights, shuffling, dropout, validation split).
    pub seed: u64,
    /// Epochs it ran.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Validation loss (mean cross-entropy) of the kept weights.
    pub val_loss: Option<f64>,
    /// Validation accuracy of the kept weights, in [0, 1].
    pub val_accuracy: Option<f64>,
}

/// Everything a classifier needs besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyMeta {
    /// The class labels; output `k` of the networks is `classes[k]`.
    pub classes: Vec<String>,
    /// `D`: values per frame.
    pub dims: usize,
    /// Frames read per network step.
    pub stride: usize,
    /// How missing values are filled when reading data for the model.
    pub fill: Fill,
    /// The input normalisation fitted on the training file.
    pub normaliser: Normaliser,
    /// What the class is read from.
    pub pool: Pool,
    /// One entry per network of the ensemble (the file holds them all;
    /// empty for reservoirs only).
    pub members: Vec<MemberInfo>,
    /// The training file's name (informational).
    pub train_file: String,
    /// Training sequences per class (the majority-class baseline).
    pub class_counts: Vec<usize>,
    /// Whether validation used a dev file (else a split of the training file).
    pub dev: bool,
    /// Steps of each training sequence kept for the 1-NN baselines (their
    /// frames are the model file's `baseline.values` tensor, `[frames, D]`).
    pub baseline_steps: Vec<usize>,
    /// Class of each of those sequences.
    pub baseline_classes: Vec<usize>,
    /// The configurations tried when `pool` and `stride` were chosen on
    /// validation, with their scores (empty when they were given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<Candidate>,
    /// The reservoirs beside (or instead of) the networks, when there are
    /// any (their tensors are the model file's `reservoir{k}.*` and
    /// `readout{k}.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservoir: Option<ReservoirMeta>,
    /// The nearest-neighbour member ([`super::distance_probabilities`]), when the
    /// classifier has one; then the groups are weighted by their estimated
    /// accuracies ([`super::group_weights`]), else averaged (files before
    /// the twenty-eighth session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<NearestMeta>,
    /// False in the files written while training goes on (a network at a
    /// time, before the reservoirs and the 1-NN DTW member), true once the
    /// classifier is complete (older files: true). A file left false is
    /// what a training stopped part-way (killed) left behind
    /// ([`ClassifyMeta::unfinished`]).
    #[serde(default = "finished_before")]
    pub finished: bool,
    /// The value columns' names in the training file's header (a long CSV
    /// file's; empty otherwise, and in files before the fiftieth session):
    /// other CSV files with a header are read by these names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// Files from before [`ClassifyMeta::finished`] were written at the end.
fn finished_before() -> bool {
    true
}

/// The 1-NN DTW member of a classifier ([`super::distance_probabilities`]), fitted on the
/// training sequences the model file keeps for the baselines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearestMeta {
    /// The DTW band in frames; `None` (JSON `null`) for the full window.
    pub band: Option<usize>,
    /// How sharply the probabilities follow the relative distances.
    pub beta: f64,
    /// Leave-one-out 1-NN accuracy over the training sequences, in [0, 1].
    pub loo_accuracy: f64,
    /// Leave-one-out cross-entropy of the probabilities at `beta`.
    pub loo_loss: f64,
}

/// How a classifier's reservoirs were drawn and read out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReservoirMeta {
    /// The reservoirs' settings (their leak is needed to run them).
    pub config: ReservoirConfig,
    /// Frames per reservoir step (the networks have their own, `stride`).
    pub stride: usize,
    /// Per reservoir: its seed, its readout's penalty, temperature and
    /// scores.
    pub readouts: Vec<ReadoutInfo>,
    /// The settings tried before `config` was chosen, with their mean
    /// leave-one-out scores (empty in files of the fourteenth session,
    /// which tried one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<ReservoirTrial>,
}

/// One setting of the reservoirs' grid and how its readouts scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReservoirTrial {
    /// The leak `a`.
    pub leak: f64,
    /// The input scale.
    pub input_scale: f64,
    /// Whether the differences were read too.
    pub differences: bool,
    /// Mean leave-one-out accuracy of the reservoirs' readouts, in [0, 1].
    pub loo_accuracy: f64,
    /// Their mean leave-one-out cross-entropy.
    pub loo_loss: f64,
}

/// One reservoir and its fitted readout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadoutInfo {
    /// The reservoir's seed (the network of the same number has the same
    /// seed and validation split).
    pub seed: u64,
    /// Validation accuracy of the readout fitted without the validation
    /// part, in [0, 1].
    pub val_accuracy: Option<f64>,
    /// Its validation loss (mean cross-entropy).
    pub val_loss: Option<f64>,
    /// The ridge penalty.
    pub lambda: f64,
    /// The softmax temperature.
    pub temperature: f64,
    /// Leave-one-out accuracy, in [0, 1].
    pub loo_accuracy: f64,
    /// Leave-one-out cross-entropy (absent from files of the fourteenth
    /// session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loo_loss: Option<f64>,
}

impl ClassifyMeta {
    /// When the file is what a training stopped part-way left behind, the
    /// warning to show its user (`name` the model's directory).
    pub fn unfinished(&self, name: &str) -> Option<String> {
        (!self.finished).then(|| {
            let mut has = vec![format!("{} network(s)", self.members.len())];
            if self.reservoir.is_some() {
                has.push("the reservoirs".into());
            }
            if self.nearest.is_some() {
                has.push("the 1-NN DTW member".into());
            }
            format!(
                "{name}: the last checkpoint of a training that was stopped part-way (it holds {}); train again with --force for a finished model",
                has.join(", ")
            )
        })
    }

    /// Reads the metadata of a loaded model file from directory `dir` (used
    /// in error messages).
    pub fn from_file(mf: &ModelFile, dir: &Path) -> Result<Self> {
        mf.meta_json(dir, META_KEY, "classifier settings")
    }

    /// The metadata as the JSON text stored in the model file.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Config(format!("classify metadata: {e}")))
    }
}
