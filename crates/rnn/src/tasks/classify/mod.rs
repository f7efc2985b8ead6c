//! Sequence classification: a sequence of frames in, one class out (a
//! gesture tracked in video, a speaker, an activity).
//!
//! Data are `.ts` files of the UEA/UCR archive ([`Dataset::parse_ts`]), the
//! UCR archive's own tab-separated `.tsv` files ([`Dataset::parse_tsv`]),
//! Weka's `.arff` files ([`Dataset::parse_arff`]) or a
//! long CSV layout ([`Dataset::parse_csv`]), univariate or multivariate, of
//! equal or varying lengths, missing values filled inside each series
//! ([`Fill`]). Frames are normalised ([`Normaliser`]), grouped `stride` to a
//! step and batched with their lengths ([`Encoded`]); a stacked, optionally
//! bidirectional recurrent network reads them and its softmax readout of the
//! final state or of the outputs pooled over time
//! ([`crate::nn::pool::Pool`]) gives the class. The [`Trainer`] fits an
//! ensemble of such networks, each with its own seed and stratified
//! validation split for early stopping; when the pooling or the frames per
//! step are not given it fits one ensemble per [`candidates`] entry and keeps
//! the one with the best validation accuracy ([`best`]). Beside the
//! networks it draws as many reservoirs ([`Reservoir`]: echo-state networks,
//! the same cell with random recurrent weights that are never trained, read
//! by a ridge [`Readout`] fitted in closed form). The [`Classifier`] averages
//! the networks' probabilities, the reservoirs' probabilities, and the two,
//! and [`Classifier::evaluate`] scores it against the majority class and
//! 1-nearest-neighbour baselines ([`EvalReport`]).
//!
//! ```no_run
//! use rnn::tasks::classify::{Classifier, TrainConfig, Trainer};
//! use rnn::tasks::Budget;
//! use std::path::Path;
//! let train = Path::new("GunPoint_TRAIN.ts");
//! let mut trainer = Trainer::new(TrainConfig::default(), train, None, Path::new("runs/gunpoint"))?;
//! trainer.fit_default(&mut ())?; // or .fit(Budget::Epochs(300), ..): no scaling down
//! let model = Classifier::load(Path::new("runs/gunpoint"))?;
//! let test = model.read(Path::new("GunPoint_TEST.ts"))?;
//! println!("accuracy {}", model.evaluate(&test)?.scores.accuracy);
//! # Ok::<(), rnn::Error>(())
//! ```

mod arff;
mod augment;
mod baselines;
mod batch;
mod classifier;
mod config;
mod csv;
mod data;
pub mod diagnose;
mod dtw;
mod evaluate;
mod fill;
mod meta;
mod nearest;
mod normalise;
mod reservoir;
mod select;
mod trainer;
mod ts;
mod tsv;

pub use augment::augment;
pub use baselines::{majority, nearest_neighbour, Distance};
pub use batch::{
    fold_split, length_groups, stratified_split, Encoded, Padded, Window, GROUP_STEPS,
};
pub use classifier::{Classifier, Prediction};
pub use config::{ReservoirUse, Split, TrainConfig};
pub use data::{sorted_labels, Dataset, Sequence};
pub use diagnose::FLOW_SEQUENCES;
pub use dtw::{dtw, dtw_band, DtwWindow, DTW_CELLS};
pub use evaluate::{scores, ClassScore, EvalReport, Scores};
pub use fill::{fill_series, is_missing, Fill};
pub use meta::{
    ClassifyMeta, MemberInfo, NearestMeta, ReadoutInfo, ReservoirMeta, ReservoirTrial, META_KEY,
    TASK,
};
pub use nearest::{distance_probabilities, group_weights, BETAS, WEIGHT_POWER};
pub use normalise::{
    asinh_unit, heavy_tailed, series_spread, squeezed, Norm, Normaliser, Transform, BULK_SD,
    SQUEEZED,
};
pub use reservoir::{readout_score, Readout, Reservoir, ReservoirConfig};
pub use select::{best, candidates, Candidate, POOLS, STEPS};
pub use trainer::{budget, Summary, Trainer};
