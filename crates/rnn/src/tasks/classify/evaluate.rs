//! Scoring a classifier on labelled data: accuracy, macro F1, per-class
//! precision and recall, the confusion matrix, and the baselines computed on
//! the same split ([`EvalReport`]).

use super::baselines::{majority, nearest_neighbour, Distance};
use super::classifier::{argmax_rows, Classifier};
use super::data::Dataset;
use super::dtw::DtwWindow;
use super::nearest::nearest_classes;
use crate::{Error, Result};
use serde::Serialize;

/// One class's scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassScore {
    /// The class label.
    pub class: String,
    /// Of the sequences predicted as this class, the share that are (0 when none are).
    pub precision: f64,
    /// Of the sequences of this class, the share predicted as it (0 when there are none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Sequences of this class.
    pub support: usize,
}

/// Accuracy, macro F1, per-class scores and the confusion matrix of
/// predictions against the truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// Share of correct predictions, in [0, 1].
    pub accuracy: f64,
    /// Mean F1 over the classes that occur in the truth or the predictions.
    pub macro_f1: f64,
    /// One entry per class of the model.
    pub per_class: Vec<ClassScore>,
    /// `confusion[true][predicted]`: sequence counts.
    pub confusion: Vec<Vec<usize>>,
}

/// Scores `pred` against `truth` (class indices into `classes`); an error
/// when their lengths differ or an index is not a class's.
///
/// ```
/// use rnn::tasks::classify::scores;
/// let classes = ["a".to_string(), "b".to_string(), "c".to_string()];
/// let s = scores(&[0, 0, 1, 1], &[0, 1, 1, 1], &classes)?;
/// assert_eq!(s.accuracy, 0.75);
/// assert_eq!(s.confusion, [[1, 1, 0], [0, 2, 0], [0, 0, 0]]);
/// assert_eq!((s.per_class[0].precision, s.per_class[0].recall), (1.0, 0.5));
/// assert_eq!((s.per_class[1].precision, s.per_class[1].recall), (2.0 / 3.0, 1.0));
/// // F1 of a = 2/3, of b = 0.8; c never occurs and is left out of the mean
/// assert!((s.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
/// // one prediction for three sequences
/// let e = scores(&[0, 0, 0], &[0], &classes).unwrap_err();
/// assert_eq!(e.to_string(), "pred: expected one class per sequence of truth (3), got 1 classes");
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn scores(truth: &[usize], pred: &[usize], classes: &[String]) -> Result<Scores> {
    let c = classes.len();
    if pred.len() != truth.len() {
        return Err(Error::argument(
            "pred",
            format!("one class per sequence of truth ({})", truth.len()),
            format!("{} classes", pred.len()),
        ));
    }
    for (name, ids) in [("truth", truth), ("pred", pred)] {
        if let Some(i) = ids.iter().position(|&k| k >= c) {
            return Err(Error::argument(
                format!("{name}[{i}]"),
                format!("a class below {c}"),
                ids[i],
            ));
        }
    }
    let mut confusion = vec![vec![0usize; c]; c];
    for (&t, &p) in truth.iter().zip(pred) {
        confusion[t][p] += 1;
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut per_class = Vec::with_capacity(c);
    let (mut f1_sum, mut counted) = (0.0, 0usize);
    for (k, class) in classes.iter().enumerate() {
        let hit = confusion[k][k];
        let support: usize = confusion[k].iter().sum();
        let predicted: usize = confusion.iter().map(|row| row[k]).sum();
        let (precision, recall) = (ratio(hit, predicted), ratio(hit, support));
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if support + predicted > 0 {
            f1_sum += f1;
            counted += 1;
        }
        per_class.push(ClassScore {
            class: class.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let correct = (0..c).map(|k| confusion[k][k]).sum();
    Ok(Scores {
        accuracy: ratio(correct, truth.len()),
        macro_f1: f1_sum / counted.max(1) as f64,
        per_class,
        confusion,
    })
}

/// What `rnn eval` reports for a classifier (`--json` prints it as one
/// object with these keys).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// The file scored.
    pub file: String,
    /// Sequences scored.
    pub sequences: usize,
    /// Networks in the ensemble.
    pub networks: usize,
    /// Reservoirs (echo-state networks) in the ensemble beside them.
    pub reservoirs: usize,
    /// The model's class labels; `per_class` and the confusion matrix
    /// hold these, then `unseen_classes`.
    pub classes: Vec<String>,
    /// Labels of the file that are none of the model's classes (in the
    /// order they first occur): scored as classes of their own that are
    /// never predicted, so their sequences count as errors (as a tagger's
    /// unseen tags do). Empty (left out of the JSON) when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen_classes: Vec<String>,
    /// The network's accuracy, macro F1, per-class scores and confusion
    /// matrix (top-level keys of the JSON).
    #[serde(flatten)]
    pub scores: Scores,
    /// The most frequent class of the training file.
    pub majority_class: String,
    /// Accuracy of always predicting it.
    pub majority_accuracy: f64,
    /// Accuracy of the 1-nearest-neighbour classifier over the training
    /// sequences with dynamic time warping (values as read, not normalised).
    pub nn_dtw_accuracy: f64,
    /// The DTW baseline's band in frames ([`DtwWindow::band`]); `None`
    /// (JSON `null`) for the full window.
    pub dtw_band: Option<usize>,
    /// The same as a fraction of the longest sequence's length (1 for the
    /// full window).
    pub dtw_window: f64,
    /// The same with the Euclidean distance; `None` when lengths differ.
    pub nn_euclidean_accuracy: Option<f64>,
    /// The weight of each group of the ensemble in its probabilities
    /// (`networks`, `reservoirs`, `dtw`: [`Classifier::weights`]), summing
    /// to 1.
    pub weights: std::collections::BTreeMap<String, f64>,
}

impl EvalReport {
    /// The report as the JSON object `rnn eval --json` prints (the fields
    /// above as keys, `scores` flattened into the top level).
    pub fn to_json(&self) -> serde_json::Value {
        // plain strings, numbers and lists: serialising cannot fail
        serde_json::to_value(self).unwrap_or_default()
    }

    /// What `rnn eval` prints: the table ([`std::fmt::Display`]), or with
    /// `json` the JSON object and a newline.
    pub fn text(&self, json: bool) -> String {
        if json {
            format!("{}\n", self.to_json())
        } else {
            self.to_string()
        }
    }
}

impl Classifier {
    /// Scores the classifier on labelled `data` and computes the majority
    /// and 1-NN baselines on the same sequences, the DTW one at
    /// [`DtwWindow::Auto`] ([`Classifier::evaluate_with`]).
    pub fn evaluate(&self, data: &Dataset) -> Result<EvalReport> {
        self.evaluate_with(data, DtwWindow::Auto)
    }

    /// [`Classifier::evaluate`] with the DTW baseline's warping window
    /// given.
    pub fn evaluate_with(&self, data: &Dataset, window: DtwWindow) -> Result<EvalReport> {
        let classes = &self.meta.classes;
        // labels the model has never seen: scored as classes of their own
        // that nothing predicts (a label that is a model class's number,
        // `1.0` for `1`, is that class, as `class_ids` reads it)
        let unseen = data.unseen_labels(classes);
        let all: Vec<String> = classes.iter().chain(&unseen).cloned().collect();
        let truth = data.class_ids(&all)?;
        self.check_dims(data)?;
        let maj = majority(&self.meta.class_counts);
        let acc = |p: &[usize]| scores(&truth, p, &all).map(|s| s.accuracy);
        let train = self.baseline_set();
        let (tc, d) = (&self.meta.baseline_classes, self.meta.dims);
        let steps = |s: &[super::data::Sequence]| s.iter().map(|q| q.steps).collect::<Vec<_>>();
        let band = window.band(&steps(&train), &steps(&data.sequences));
        let longest = train.iter().chain(&data.sequences).map(|q| q.steps).max();
        let dtw_window = match (band, longest) {
            (Some(b), Some(l)) if l > 0 => b as f64 / l as f64,
            _ => 1.0,
        };
        // the member's per-class nearest answer the 1-NN baseline too when
        // both search the same band: one search instead of two
        let rows = self.member_distances(data);
        let shared = match (&self.meta.nearest, &rows) {
            (Some(n), Some(rows)) if n.band == band => Some(nearest_classes(rows)),
            _ => None,
        };
        let pred = argmax_rows(
            &self.probabilities_with(data, rows.as_deref())?,
            classes.len(),
        );
        let first = tc.first().copied().unwrap_or(0);
        let dtw = match shared {
            Some(near) => near.into_iter().map(|k| k.unwrap_or(first)).collect(),
            None => {
                let distance = band.map_or(Distance::Dtw, Distance::DtwBand);
                nearest_neighbour(&train, tc, &data.sequences, d, distance)?.unwrap_or_default()
            }
        };
        let ed = nearest_neighbour(&train, tc, &data.sequences, d, Distance::Euclidean)?;
        Ok(EvalReport {
            file: data.path.display().to_string(),
            sequences: data.len(),
            networks: self.members.len(),
            reservoirs: self.reservoirs.len(),
            classes: classes.clone(),
            unseen_classes: unseen,
            scores: scores(&truth, &pred, &all)?,
            majority_class: classes[maj].clone(),
            majority_accuracy: acc(&vec![maj; truth.len()])?,
            nn_dtw_accuracy: acc(&dtw)?,
            dtw_band: band,
            dtw_window,
            nn_euclidean_accuracy: ed.map(|p| acc(&p)).transpose()?,
            weights: self
                .weights()
                .into_iter()
                .map(|(g, w)| (g.to_string(), w))
                .collect(),
        })
    }
}

/// The report as `rnn eval` prints it: a summary line, accuracy and macro
/// F1, a per-class table, the confusion matrix and the baselines.
impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.scores;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let ensemble = match (self.networks, self.reservoirs) {
            (n, 0) => plural(n, "network"),
            (0, r) => plural(r, "reservoir"),
            (n, r) => format!("{} and {}", plural(n, "network"), plural(r, "reservoir")),
        };
        writeln!(
            f,
            "{} sequences of {}, {} classes, {ensemble}",
            self.sequences,
            self.file,
            self.classes.len(),
        )?;
        writeln!(f, "accuracy {:.4}  macro F1 {:.4}", s.accuracy, s.macro_f1)?;
        let w = self
            .classes
            .iter()
            .chain(&self.unseen_classes)
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(
            f,
            "{:<w$} {:>9} {:>9} {:>9} {:>8}",
            "class", "precision", "recall", "F1", "support"
        )?;
        for c in &s.per_class {
            writeln!(
                f,
                "{:<w$} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                c.class, c.precision, c.recall, c.f1, c.support
            )?;
        }
        writeln!(
            f,
            "confusion (rows: true class, columns: predicted, in the order above)"
        )?;
        for row in &s.confusion {
            let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
            writeln!(f, "{}", cells.join(" "))?;
        }
        let ed = self
            .nn_euclidean_accuracy
            .map_or("- (lengths differ)".into(), |a| format!("{a:.4}"));
        writeln!(
            f,
            "baselines: majority class ({}) {:.4}, 1-NN DTW {:.4}, 1-NN Euclidean {ed}",
            self.majority_class, self.majority_accuracy, self.nn_dtw_accuracy
        )?;
        if let Some(b) = self.dtw_band {
            writeln!(
                f,
                "1-NN DTW within a band of {b} frames ({:.1} % of the longest sequence; --dtw-window full for the full window)",
                100.0 * self.dtw_window
            )?;
        }
        if self.weights.contains_key("dtw") {
            let parts: Vec<String> = ["networks", "reservoirs", "dtw"]
                .iter()
                .filter_map(|g| self.weights.get(*g).map(|w| format!("{g} {w:.3}")))
                .collect();
            writeln!(
                f,
                "weights of the ensemble's groups (estimated accuracy^4): {}",
                parts.join(", ")
            )?;
        }
        Ok(())
    }
}
