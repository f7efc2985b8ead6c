//! [`Classifier`]: a trained sequence classifier (an ensemble of one or more
//! networks with their metadata), saved to and loaded from a model
//! directory, and its class probabilities.

use super::batch::{length_groups, Encoded};
use super::data::{Dataset, Sequence};
use super::meta::{ClassifyMeta, META_KEY, TASK};
use super::nearest::{self, group_weights};
use super::reservoir::{Readout, Reservoir};
use crate::io::model_file::ModelFile;
use crate::nn::layer::Input;
use crate::nn::loss::softmax;
use crate::nn::many_to_one::ManyToOne;
use crate::{Error, Model, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// One sequence's prediction.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// The sequence's id (CSV series id, or 1-based position in a `.ts` file).
    pub id: String,
    /// The most probable class label.
    pub label: String,
    /// The probability of each class, in the order of the model's classes.
    pub probabilities: Vec<f64>,
}

/// The extra tensor holding the training frames of the 1-NN baselines.
const BASELINE: &str = "baseline.values";

/// Sequences per forward pass when predicting.
const PREDICT_BATCH: usize = 64;

/// A loaded classifier: metadata, the networks of its ensemble (all with the
/// same architecture), its reservoirs with their readouts (by default as
/// many as networks; [`super::ReservoirUse`]) and the training sequences of
/// the 1-NN baselines.
///
/// ```
/// use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
/// use rnn::tasks::Budget;
/// let dir = std::env::temp_dir().join(format!("rnn-doc-classifier-{}", std::process::id()));
/// let text = "@classLabel true lo hi\n@data\n0,0,1:lo\n0,1,0:lo\n5,6,5:hi\n6,5,6:hi\n";
/// let data = Dataset::parse_ts(std::path::Path::new("toy.ts"), text, Fill::Linear, None)?;
/// let cfg = TrainConfig { hidden: 4, val_frac: 0.0, ensemble: 1, ..TrainConfig::default() };
/// Trainer::from_data(cfg, data.clone(), None, &dir)?.fit(Budget::Epochs(2), &mut ())?;
///
/// let model = Classifier::load(&dir)?;
/// let p = model.probabilities(&data)?; // [N, C]
/// assert_eq!(p.len(), 4 * 2);
/// assert!((p[0] + p[1] - 1.0).abs() < 1e-6);
/// assert_eq!(model.labels(&data)?.len(), 4); // a class label per sequence
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Classifier {
    /// Classes, input encoding, pooling and how each member was trained.
    pub meta: ClassifyMeta,
    /// The networks; their softmax outputs are averaged (empty when the
    /// classifier has reservoirs only).
    pub members: Vec<Model<f32>>,
    /// The reservoirs ([`ClassifyMeta::reservoir`] says how they were
    /// drawn); their readouts' probabilities are averaged.
    pub reservoirs: Vec<Reservoir>,
    /// One readout per reservoir.
    pub readouts: Vec<Readout>,
    /// The training frames of the 1-NN baselines, `[frames, D]`.
    pub baseline: Vec<f32>,
}

impl Classifier {
    /// Loads `dir/model.safetensors`, which must hold a classifier.
    pub fn load(dir: &Path) -> Result<Classifier> {
        let mf = ModelFile::load_task(dir, TASK)?;
        let meta = ClassifyMeta::from_file(&mf, dir)?;
        // the normaliser must fit the frames and the network's inputs
        let metadata_error = |value: String, expected: String| Error::Metadata {
            path: dir.join(crate::io::model_file::MODEL_FILE),
            key: META_KEY.into(),
            value,
            expected,
        };
        // two classes of one name printed as one label, whichever was meant
        // (edited metadata, the library sweep of session 53, finding 20)
        if let Some((k, c)) = meta
            .classes
            .iter()
            .enumerate()
            .find(|(k, c)| meta.classes[..*k].contains(c))
        {
            return Err(metadata_error(
                format!("classes[{k}] {c:?}, a second time"),
                "distinct class labels".into(),
            ));
        }
        if let Err(what) = meta.normaliser.check(meta.dims) {
            return Err(metadata_error(
                what,
                "a normaliser with one entry per dimension".into(),
            ));
        }
        let per_frame = meta.normaliser.width(meta.dims);
        // a reservoirs-only file's main model is the first reservoir, which
        // reads twice the values when it reads the differences too
        let main_width = match (&meta.reservoir, meta.members.is_empty()) {
            (Some(r), true) => r.config.input_width(meta.stride * per_frame),
            _ => meta.stride * per_frame,
        };
        if mf.model.config.input_size != main_width {
            return Err(metadata_error(
                format!("stride {}, {per_frame} values per frame", meta.stride),
                format!(
                    "inputs that add up to the network's input size {}",
                    mf.model.config.input_size
                ),
            ));
        }
        // the file's main model is the first network, or with reservoirs
        // only the first reservoir
        let mut members = Vec::new();
        if !meta.members.is_empty() {
            members.push(mf.model.clone());
        }
        for k in 1..meta.members.len() {
            let mut m = Model::<f32>::zeros(mf.model.config.clone())?;
            for e in m.layout.clone() {
                let data = mf.extra(dir, &format!("member{k}.{}", e.name), &e.shape)?;
                m.params[e.range()].copy_from_slice(data);
            }
            members.push(m);
        }
        let frames: usize = meta.baseline_steps.iter().sum();
        let baseline = mf.extra(dir, BASELINE, &[frames, meta.dims])?.to_vec();
        if meta.baseline_classes.len() != meta.baseline_steps.len()
            || meta
                .baseline_classes
                .iter()
                .any(|&c| c >= meta.classes.len())
            || mf.model.config.output_size != meta.classes.len()
        {
            return Err(Error::Metadata {
                path: dir.join(crate::io::model_file::MODEL_FILE),
                key: META_KEY.into(),
                value: format!(
                    "{} classes, {} baseline labels (largest {}) for {} sequences",
                    meta.classes.len(),
                    meta.baseline_classes.len(),
                    meta.baseline_classes.iter().max().map_or("-".into(), |c| c.to_string()),
                    meta.baseline_steps.len()
                ),
                expected: format!(
                    "as many classes as the network's {} outputs, and a label below that for each baseline sequence",
                    mf.model.config.output_size
                ),
            });
        }
        let (reservoirs, readouts) = match &meta.reservoir {
            None => (Vec::new(), Vec::new()),
            Some(r) => {
                let (c, f, n) = (meta.classes.len(), r.config.features(), r.config.units);
                let width = r.config.input_width(r.stride * per_frame);
                if n == 0 || r.stride == 0 || !(r.config.leak > 0.0 && r.config.leak <= 1.0) {
                    return Err(metadata_error(
                        format!(
                            "reservoirs of {n} units, stride {}, leak {}",
                            r.stride, r.config.leak
                        ),
                        "units, a stride of at least 1 and a leak in (0, 1]".into(),
                    ));
                }
                let get = |name: String, shape: &[usize]| -> Result<Vec<f32>> {
                    Ok(mf.extra(dir, &name, shape)?.to_vec())
                };
                let wide = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
                let mut reservoirs = Vec::with_capacity(r.readouts.len());
                let mut readouts = Vec::with_capacity(r.readouts.len());
                for (k, info) in r.readouts.iter().enumerate() {
                    reservoirs.push(Reservoir {
                        w_ih: get(format!("reservoir{k}.weight_ih_l0"), &[n, width])?,
                        w_hh: get(format!("reservoir{k}.weight_hh_l0"), &[n, n])?,
                        bias: get(format!("reservoir{k}.bias_ih_l0"), &[n])?,
                        leak: r.config.leak as f32,
                        width,
                        differences: r.config.differences,
                        spread: r.config.spread,
                        units: n,
                    });
                    readouts.push(Readout {
                        weight: wide(get(format!("readout{k}.weight"), &[c, f])?),
                        bias: wide(get(format!("readout{k}.bias"), &[c])?),
                        mean: wide(get(format!("readout{k}.mean"), &[f])?),
                        scale: wide(get(format!("readout{k}.scale"), &[f])?),
                        temperature: info.temperature,
                        lambda: info.lambda,
                        loo_accuracy: info.loo_accuracy,
                        loo_loss: info.loo_loss.unwrap_or(f64::NAN),
                    });
                }
                (reservoirs, readouts)
            }
        };
        // the estimates that weight the groups, and the member's beta: a
        // value out of range would weight or score silently wrong
        let fraction = |v: f64| (0.0..=1.0).contains(&v);
        let mut bad = meta
            .members
            .iter()
            .enumerate()
            .filter_map(|(k, m)| m.val_accuracy.map(|a| (k, a)))
            .filter(|&(_, a)| !fraction(a))
            .map(|(k, a)| format!("members[{k}].val_accuracy {a}"));
        let mut first = bad.next();
        if let Some(r) = &meta.reservoir {
            first = first.or_else(|| {
                r.readouts
                    .iter()
                    .enumerate()
                    .find(|(_, o)| !fraction(o.loo_accuracy))
                    .map(|(k, o)| {
                        format!("reservoir.readouts[{k}].loo_accuracy {}", o.loo_accuracy)
                    })
            });
        }
        if let Some(n) = &meta.nearest {
            if !fraction(n.loo_accuracy) {
                first = first.or(Some(format!("nearest.loo_accuracy {}", n.loo_accuracy)));
            }
            if !(n.beta.is_finite() && n.beta > 0.0) {
                first = first.or(Some(format!("nearest.beta {}", n.beta)));
            }
        }
        if let Some(value) = first {
            return Err(metadata_error(
                value,
                "accuracies in [0, 1] and a positive, finite beta".into(),
            ));
        }
        if members.is_empty() && reservoirs.is_empty() {
            return Err(metadata_error(
                "no network and no reservoir".into(),
                "at least one network or reservoir".into(),
            ));
        }
        Ok(Classifier {
            meta,
            members,
            reservoirs,
            readouts,
            baseline,
        })
    }

    /// Writes the classifier to `dir/model.safetensors` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let c = self.meta.classes.len();
        let first = match (self.members.first(), self.reservoirs.first()) {
            (Some(m), _) => m.clone(),
            // reservoirs only: the first one is the file's model
            (None, Some(r)) => r.to_model(c)?,
            (None, None) => {
                return Err(Error::Config(
                    "a classifier needs at least one network or reservoir".into(),
                ))
            }
        };
        let mut extra = BTreeMap::new();
        for (k, (r, o)) in self.reservoirs.iter().zip(&self.readouts).enumerate() {
            let (n, f) = (r.units, o.features());
            let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let mut put = |name: String, shape: Vec<usize>, v: Vec<f32>| {
                extra.insert(name, (shape, v));
            };
            put(
                format!("reservoir{k}.weight_ih_l0"),
                vec![n, r.width],
                r.w_ih.clone(),
            );
            put(
                format!("reservoir{k}.weight_hh_l0"),
                vec![n, n],
                r.w_hh.clone(),
            );
            put(format!("reservoir{k}.bias_ih_l0"), vec![n], r.bias.clone());
            put(
                format!("readout{k}.weight"),
                vec![o.bias.len(), f],
                f32s(&o.weight),
            );
            put(
                format!("readout{k}.bias"),
                vec![o.bias.len()],
                f32s(&o.bias),
            );
            put(format!("readout{k}.mean"), vec![f], f32s(&o.mean));
            put(format!("readout{k}.scale"), vec![f], f32s(&o.scale));
        }
        for (k, m) in self.members.iter().enumerate().skip(1) {
            for e in &m.layout {
                let name = format!("member{k}.{}", e.name);
                extra.insert(name, (e.shape.clone(), m.params[e.range()].to_vec()));
            }
        }
        let frames = self.baseline.len() / self.meta.dims.max(1);
        extra.insert(
            BASELINE.to_string(),
            (vec![frames, self.meta.dims], self.baseline.clone()),
        );
        let mut meta = BTreeMap::new();
        meta.insert(META_KEY.to_string(), self.meta.to_json()?);
        if !self.meta.finished {
            meta.insert(crate::io::UNFINISHED_KEY.into(), "true".into());
        }
        ModelFile {
            task: TASK,
            model: first,
            extra,
            meta,
        }
        .save(dir)
    }

    /// Reads a `.ts` or long CSV file the way the model reads data (its
    /// fill, its number of dimensions, a CSV header's columns by the names
    /// of the training file's).
    pub fn read(&self, path: &Path) -> Result<Dataset> {
        Dataset::read_named(
            path,
            self.meta.fill,
            Some(self.meta.dims),
            &self.meta.columns,
        )
    }

    /// A warning when `data` (read by [`Classifier::read`]) may be a file
    /// with one value column fewer and a label: read without labels, its
    /// last value column is constant within every series and each of its
    /// values is one of the model's classes, as a label column would be
    /// (the layout is told apart by the column count alone).
    ///
    /// ```
    /// use rnn::tasks::classify::{Classifier, Dataset, Fill, TrainConfig, Trainer};
    /// use rnn::tasks::Budget;
    /// let dir = std::env::temp_dir().join(format!("rnn-doc-layout-{}", std::process::id()));
    /// let train = "s,t,x,y,c\n1,0,0.1,5,1\n1,1,0.2,6,1\n2,0,0.9,5,3\n2,1,0.8,4,3\n";
    /// let data = Dataset::parse_csv("train.csv".as_ref(), train, Fill::Linear, None)?;
    /// let cfg = TrainConfig { hidden: 4, ensemble: 1, ..TrainConfig::default() };
    /// Trainer::from_data(cfg, data, None, &dir)?.fit(Budget::Epochs(1), &mut ())?;
    /// let model = Classifier::load(&dir)?;
    /// // one feature and its label: read as the model's two features
    /// let test = "s,t,x,c\n7,0,0.1,1\n7,1,0.2,1\n8,0,0.9,3\n";
    /// let d = Dataset::parse_csv("test.csv".as_ref(), test, Fill::Linear, Some(2))?;
    /// assert!(model.layout_warning(&d).unwrap().contains("holds class labels"));
    /// // two features that vary: no warning
    /// let fine = "s,t,x,y\n7,0,0.1,5\n7,1,0.2,6\n";
    /// let d = Dataset::parse_csv("fine.csv".as_ref(), fine, Fill::Linear, Some(2))?;
    /// assert!(model.layout_warning(&d).is_none());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn layout_warning(&self, data: &Dataset) -> Option<String> {
        let d = data.dims;
        if data.is_empty() || d == 0 || data.sequences.iter().any(|s| s.label.is_some()) {
            return None;
        }
        let class_of = |v: f64| {
            self.meta
                .classes
                .iter()
                .find(|c| c.trim().parse::<f64>().ok() == Some(v))
        };
        let mut seen = std::collections::BTreeSet::new();
        for s in &data.sequences {
            let mut last = s.values.iter().skip(d - 1).step_by(d);
            let first = *last.next()?;
            if last.any(|&v| v != first) {
                return None;
            }
            seen.insert(class_of(first)?.as_str());
        }
        let features = match d - 1 {
            0 => "no feature".to_string(),
            1 => "1 feature".to_string(),
            k => format!("{k} features"),
        };
        Some(format!(
            "{}: the last value column is constant within every series and holds class labels of the model ({}): if it is the label, the file has {features} and the model reads {d}",
            data.path.display(),
            seen.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }

    /// [`Error::Data`] naming `data`'s file unless its frames have the
    /// model's number of values.
    pub(crate) fn check_dims(&self, data: &Dataset) -> Result<()> {
        if data.dims != self.meta.dims {
            return Err(Error::Data {
                path: data.path.clone(),
                reason: format!(
                    "{} values per frame, but the model reads {}",
                    data.dims, self.meta.dims
                ),
            });
        }
        Ok(())
    }

    /// The class probabilities of every sequence, `[N, C]`: per group (the
    /// networks: the mean of their softmax outputs; the reservoirs: the
    /// mean of their readouts'; the nearest-neighbour member,
    /// [`super::distance_probabilities`]), weighted by [`Classifier::weights`].
    pub fn probabilities(&self, data: &Dataset) -> Result<Vec<f64>> {
        self.check_dims(data)?;
        self.probabilities_with(data, None)
    }

    /// The nearest-neighbour member's per-class nearest training sequence
    /// for every sequence of `data` (`nearest::distances`), `None` without
    /// the member. `data` must have the model's dims.
    pub(super) fn member_distances(&self, data: &Dataset) -> Option<Vec<Vec<(f64, usize)>>> {
        let near = self.meta.nearest.as_ref()?;
        let train = self.baseline_set();
        let (tc, d) = (&self.meta.baseline_classes, self.meta.dims);
        let c = self.meta.classes.len();
        Some(nearest::distances(near, &train, tc, c, &data.sequences, d))
    }

    /// [`Classifier::probabilities`] with the member's distances `rows`
    /// when already computed (`member_distances`; `None`: computed here
    /// when the classifier has the member). `data` must have the model's
    /// dims.
    pub(super) fn probabilities_with(
        &self,
        data: &Dataset,
        rows: Option<&[Vec<(f64, usize)>]>,
    ) -> Result<Vec<f64>> {
        let computed;
        let rows = match rows {
            Some(r) => Some(r),
            None => {
                computed = self.member_distances(data);
                computed.as_deref()
            }
        };
        if self.readouts.len() != self.reservoirs.len() {
            return Err(Error::Config(format!(
                "a classifier needs one readout per reservoir, got {} readouts for {} reservoirs",
                self.readouts.len(),
                self.reservoirs.len()
            )));
        }
        let c = self.meta.classes.len();
        let mut groups = Vec::with_capacity(3);
        if !self.members.is_empty() {
            groups.push(self.network_probabilities(data)?);
        }
        if let (Some(r), false) = (&self.meta.reservoir, self.reservoirs.is_empty()) {
            let enc = Encoded::new(data, &self.meta.normaliser, r.stride)?;
            let idx: Vec<usize> = (0..data.len()).collect();
            let mut p = vec![0f64; data.len() * c];
            for (res, readout) in self.reservoirs.iter().zip(&self.readouts) {
                let probs = readout.raw_probabilities(&res.features(&enc, &idx)?);
                p.iter_mut().zip(probs).for_each(|(acc, v)| *acc += v);
            }
            let inv = 1.0 / self.reservoirs.len() as f64;
            p.iter_mut().for_each(|v| *v *= inv);
            groups.push(p);
        }
        if let (Some(near), Some(rows)) = (&self.meta.nearest, rows) {
            groups.push(nearest::probabilities(near, rows));
            // weighted by the groups' estimated accuracies
            let mut out = vec![0f64; data.len() * c];
            for (g, (_, w)) in groups.iter().zip(self.weights()) {
                out.iter_mut().zip(g).for_each(|(a, v)| *a += w * v);
            }
            return Ok(out);
        }
        // files without the member: the plain mean of the groups
        let inv = 1.0 / groups.len().max(1) as f64;
        let mut out = groups.pop().unwrap_or_default();
        for g in groups {
            out.iter_mut().zip(g).for_each(|(a, v)| *a += v);
        }
        out.iter_mut().for_each(|v| *v *= inv);
        Ok(out)
    }

    /// Each group of the ensemble with its estimated accuracy: `networks`
    /// (their mean validation accuracy; `None` when one has none),
    /// `reservoirs` (their readouts' mean leave-one-out accuracy) and `dtw`
    /// (the nearest-neighbour member's leave-one-out accuracy), those the
    /// classifier has, in that order.
    pub fn estimates(&self) -> Vec<(&'static str, Option<f64>)> {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let mut out = Vec::with_capacity(3);
        if !self.members.is_empty() {
            let acc: Option<Vec<f64>> = self.meta.members.iter().map(|m| m.val_accuracy).collect();
            out.push(("networks", acc.filter(|a| !a.is_empty()).map(|a| mean(&a))));
        }
        if !self.reservoirs.is_empty() {
            let acc: Vec<f64> = self.readouts.iter().map(|r| r.loo_accuracy).collect();
            out.push(("reservoirs", Some(mean(&acc))));
        }
        if let Some(n) = &self.meta.nearest {
            out.push(("dtw", Some(n.loo_accuracy)));
        }
        out
    }

    /// The weight of each group in [`Classifier::probabilities`], in the
    /// order of [`Classifier::estimates`], summing to 1: with the
    /// nearest-neighbour member, [`super::group_weights`] of the estimates;
    /// without it (files before the twenty-eighth session), equal.
    pub fn weights(&self) -> Vec<(&'static str, f64)> {
        let est = self.estimates();
        let acc: Vec<Option<f64>> = match self.meta.nearest {
            Some(_) => est.iter().map(|e| e.1).collect(),
            None => vec![None; est.len()],
        };
        est.iter().map(|e| e.0).zip(group_weights(&acc)).collect()
    }

    /// The mean of the networks' softmax outputs, `[N, C]`.
    fn network_probabilities(&self, data: &Dataset) -> Result<Vec<f64>> {
        let enc = Encoded::new(data, &self.meta.normaliser, self.meta.stride)?;
        let c = self.meta.classes.len();
        let mut p = vec![0f64; data.len() * c];
        let groups = length_groups(&enc.steps, PREDICT_BATCH);
        for m in &self.members {
            let head = ManyToOne::with_pool(m, self.meta.pool);
            for chunk in &groups {
                let b = enc.batch(chunk)?;
                let logits =
                    head.predict(Input::Dense(&b.x), b.steps, chunk.len(), Some(&b.lengths))?;
                for (row, &i) in softmax(&logits, c).chunks_exact(c).zip(chunk) {
                    for (acc, &v) in p[i * c..(i + 1) * c].iter_mut().zip(row) {
                        *acc += f64::from(v);
                    }
                }
            }
        }
        let inv = 1.0 / self.members.len() as f64;
        p.iter_mut().for_each(|v| *v *= inv);
        Ok(p)
    }

    /// The most probable class of every sequence (index into `meta.classes`).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<usize>> {
        let c = self.meta.classes.len();
        Ok(argmax_rows(&self.probabilities(data)?, c))
    }

    /// The most probable class label of every sequence.
    pub fn labels(&self, data: &Dataset) -> Result<Vec<String>> {
        Ok(self
            .predictions(data)?
            .into_iter()
            .map(|p| p.label)
            .collect())
    }

    /// Every sequence's id, most probable class label and class
    /// probabilities (what `rnn classify --json` prints).
    pub fn predictions(&self, data: &Dataset) -> Result<Vec<Prediction>> {
        let c = self.meta.classes.len();
        let p = self.probabilities(data)?;
        let best = argmax_rows(&p, c);
        Ok(data
            .sequences
            .iter()
            .zip(p.chunks_exact(c).zip(best))
            .map(|(s, (row, k))| Prediction {
                id: s.id.clone(),
                label: self.meta.classes[k].clone(),
                probabilities: row.to_vec(),
            })
            .collect())
    }

    /// What `rnn classify` prints for `data`: one class label per line, or
    /// with `json` one JSON object `{"classes": [...], "predictions": [{"id",
    /// "label", "probabilities"}, ...]}` and a newline.
    pub fn classify_text(&self, data: &Dataset, json: bool) -> Result<String> {
        let preds = self.predictions(data)?;
        Ok(if json {
            // `label` is the predicted class, not the file's: `predicted` says so
            let preds: Vec<serde_json::Value> = preds
                .iter()
                .map(|p| {
                    serde_json::json!({"id": p.id, "label": p.label, "predicted": p.label,
                        "probabilities": p.probabilities})
                })
                .collect();
            let v = serde_json::json!({"classes": self.meta.classes, "predictions": preds});
            format!("{v}\n")
        } else {
            preds.iter().map(|p| format!("{}\n", p.label)).collect()
        })
    }

    /// The training sequences kept for the 1-NN baselines, as read (filled,
    /// not normalised), labelled with their classes.
    pub fn baseline_set(&self) -> Vec<Sequence> {
        let d = self.meta.dims;
        let mut at = 0;
        let mut out = Vec::with_capacity(self.meta.baseline_steps.len());
        for (i, (&t, &c)) in self
            .meta
            .baseline_steps
            .iter()
            .zip(&self.meta.baseline_classes)
            .enumerate()
        {
            let values = self.baseline[at * d..(at + t) * d]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            at += t;
            out.push(Sequence {
                values,
                steps: t,
                label: Some(self.meta.classes[c].clone()),
                line: 0,
                id: (i + 1).to_string(),
            });
        }
        out
    }
}

/// The index of the largest value of each row of `[N, C]` (the first on ties).
pub(super) fn argmax_rows(p: &[f64], c: usize) -> Vec<usize> {
    p.chunks_exact(c)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                    if v > best.1 {
                        (k, v)
                    } else {
                        best
                    }
                })
                .0
        })
        .collect()
}
