//! Input normalisation: z-scores per dimension fitted on the training set,
//! or per series (alone, or with each series' level and scale as inputs of
//! their own), after an optional compression of heavy-tailed dimensions
//! ([`Transform`]).

use super::data::{Dataset, Sequence};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How frames are scaled before the network reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Norm {
    /// Each dimension z-scored with the mean and standard deviation of all
    /// training frames (fitted once, stored with the model).
    #[default]
    Dimension,
    /// Each dimension of each series z-scored with that series' own mean
    /// and standard deviation (the UCR convention; drops offset and scale).
    Series,
    /// The values as read.
    None,
    /// Each dimension of each series z-scored by itself, plus two more
    /// inputs per dimension, constant over the series: its level (the
    /// series mean as a z-score of the training set's dimension) and its
    /// scale (`ln(series std + floor)`, z-scored over the training series);
    /// and a third that follows the value itself on a logarithmic scale,
    /// `asinh((x - c) / u)` z-scored over the training frames (`c`, `u`:
    /// [`asinh_unit`] of the dimension). Nothing is lost (the values are
    /// level + scale * shape), a series a thousand times smaller than
    /// another keeps its shape, and the step-by-step magnitude is read
    /// directly. (Models saved before the third input have the first two
    /// only.)
    Scaled,
    /// [`Norm::Scaled`] when the typical training series is squeezed by the
    /// dimension z-score ([`squeezed`]), else [`Norm::Dimension`]. Resolved
    /// when fitted: a saved model holds the one taken.
    Auto,
}

impl Norm {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Norm::Dimension => "dimension",
            Norm::Series => "series",
            Norm::None => "none",
            Norm::Scaled => "scaled",
            Norm::Auto => "auto",
        }
    }
}

/// A monotone transform applied to each value of a dimension before it is
/// z-scored.
///
/// Z-scoring divides by the standard deviation, and when a few extreme
/// values make most of it (counts spanning 0 to 20000, say) every other
/// series ends up a small fraction of one unit wide: below the training
/// noise ([`super::TrainConfig::noise`]) and indistinguishable from each
/// other. `asinh((x - c) / u)` keeps small deviations linear and takes the
/// logarithm of large ones, so the typical series keeps its shape and the
/// extreme ones their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Transform {
    /// The values as read.
    #[default]
    None,
    /// `asinh((x - c) / u)` on every dimension, `c` the training median of
    /// the dimension and `u` its [`asinh_unit`].
    Asinh,
    /// [`Transform::Asinh`] on the dimensions that are [`heavy_tailed`] in
    /// the training file, the values as read on the others.
    Auto,
}

impl Transform {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Asinh => "asinh",
            Transform::Auto => "auto",
        }
    }
}

/// The standard deviation, in units of the whole dimension's, below which
/// the values other than the largest hundredth of deviations make a
/// dimension [`heavy_tailed`]: the z-score then squeezes the bulk of the
/// values into less than half a unit because of a few outlying ones. (For
/// Gaussian values that ratio is about 0.97; for the archive sets checked,
/// at least 0.78 on every dimension, and 0.14 for the daily case counts of
/// Covid3Month_disc.)
pub const BULK_SD: f64 = 0.5;

/// Whether `values` (one dimension, every frame of the training file) are
/// heavy-tailed: without the hundredth of them farthest from the mean, their
/// root mean squared deviation from the mean is below [`BULK_SD`] times the
/// standard deviation of all of them.
///
/// ```
/// use rnn::tasks::classify::heavy_tailed;
/// let even: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
/// assert!(!heavy_tailed(&even));
/// let mut spiky: Vec<f64> = (0..990).map(|i| (i % 3) as f64).collect();
/// spiky.extend([1000.0; 10]);
/// assert!(heavy_tailed(&spiky));
/// ```
pub fn heavy_tailed(values: &[f64]) -> bool {
    let n = values.len();
    let top = n.div_ceil(100);
    if n <= top {
        return false;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let mut sq: Vec<f64> = values.iter().map(|v| (v - mean) * (v - mean)).collect();
    let total: f64 = sq.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return false;
    }
    sq.sort_unstable_by(|a, b| b.total_cmp(a));
    let bulk: f64 = sq[top..].iter().sum();
    bulk / ((n - top) as f64) < BULK_SD * BULK_SD * total / n as f64
}

/// The share of its dimension's standard deviation below which the typical
/// training series is [`squeezed`]: the default input noise
/// ([`super::TrainConfig::noise`], 0.1) is then as wide as the series
/// itself. (Measured on the archive sets checked: the median series spans
/// 1.0 of its dimension on the per-series normalised ones, 0.36 to 0.81 on
/// the others, 0.009 on Covid3Month_disc's counts and 0.003 on PLAID's
/// currents.)
pub const SQUEEZED: f64 = 0.1;

/// The median over the training series of each series' own standard
/// deviation in units of the whole dimension's, per dimension `[D]` (1 for
/// a constant dimension).
///
/// ```
/// use rnn::tasks::classify::{series_spread, Dataset, Fill};
/// // two series at 0 and 1000, each swinging by 1: squeezed by the z-score
/// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), "0,2,0,2:a\n999,1001,999,1001:b\n", Fill::Linear, None)?;
/// let s = series_spread(&d);
/// assert!(s[0] > 0.001 && s[0] < 0.01);
/// // a constant second dimension counts as 1, not as squeezed
/// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), "0,2,0,2:5,5,5,5:a\n0,1,0,1:5,5,5,5:b\n", Fill::Linear, None)?;
/// assert_eq!(series_spread(&d)[1], 1.0);
/// # Ok::<(), rnn::Error>(())
/// ```
pub fn series_spread(data: &Dataset) -> Vec<f64> {
    let d = data.dims;
    (0..d)
        .map(|k| {
            let column = || {
                data.sequences
                    .iter()
                    .flat_map(move |s| s.values.iter().skip(k).step_by(d).copied())
            };
            let (_, std) = raw_moments(column());
            if divisor(std) != std {
                // a constant dimension carries no level or scale to squeeze
                return 1.0;
            }
            let all = std;
            let mut own: Vec<f64> = data
                .sequences
                .iter()
                .map(|s| spread(s.values.iter().skip(k).step_by(d).copied()) / all)
                .collect();
            if own.is_empty() {
                return 1.0;
            }
            own.sort_unstable_by(f64::total_cmp);
            own[own.len() / 2]
        })
        .collect()
}

/// Whether the dimension z-score squeezes the typical training series: on
/// some dimension the median [`series_spread`] is below [`SQUEEZED`]. Then
/// the series differ mostly in level or scale (amplitudes spanning orders
/// of magnitude, say), and [`Norm::Auto`] takes [`Norm::Scaled`].
pub fn squeezed(data: &Dataset) -> bool {
    series_spread(data).iter().any(|&s| s < SQUEEZED)
}

/// The median of `values` and the unit of [`Transform::Asinh`]: the 10th
/// percentile of the absolute deviations from the median that are not zero
/// (1 when every value is the median). Deviations below the unit stay
/// nearly linear, larger ones are compressed logarithmically; for integer
/// counts whose median is 0 the unit is 1 and the transform is close to
/// `ln(1 + 2x)`. The unit scales with the data, so the transform of `a x`
/// with `a > 0` is the transform of `x`.
///
/// ```
/// use rnn::tasks::classify::asinh_unit;
/// let mut counts = vec![0.0; 8];
/// counts.extend([1.0, 1.0, 2.0, 3.0, 5.0, 900.0]);
/// assert_eq!(asinh_unit(&counts), (0.0, 1.0));
/// let scaled: Vec<f64> = counts.iter().map(|v| 8.0 * v).collect();
/// assert_eq!(asinh_unit(&scaled), (0.0, 8.0));
/// assert_eq!(asinh_unit(&[3.0, 3.0]), (3.0, 1.0));
/// ```
pub fn asinh_unit(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let mut dev: Vec<f64> = values
        .iter()
        .map(|x| (x - median).abs())
        .filter(|&d| d > 0.0)
        .collect();
    if dev.is_empty() {
        return (median, 1.0);
    }
    dev.sort_unstable_by(f64::total_cmp);
    (median, dev[dev.len() / 10])
}

/// A fitted normalisation.
///
/// ```
/// use rnn::tasks::classify::{Dataset, Fill, Norm, Normaliser, Transform};
/// let text = "1,3:x\n5,7:y\n";
/// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), text, Fill::Linear, None)?;
/// let n = Normaliser::fit(Norm::Dimension, &d);
/// assert_eq!((n.mean[0], n.std[0]), (4.0, 5f64.sqrt()));
/// assert_eq!(n.apply(&d.sequences[1])?[0], 1.0 / 5f64.sqrt());
/// // frames of 3 values for a normaliser of 1 (it panicked)
/// let mut wide = d.sequences[1].clone();
/// wide.values = vec![1.0; 6];
/// assert!(n.apply(&wide).is_err());
/// let s = Normaliser::fit(Norm::Series, &d);
/// assert_eq!(s.apply(&d.sequences[1])?, [-1.0, 1.0]);
/// // asinh first: median 5, unit 2 (the 10th percentile of |x - 5| = 4, 2, 2)
/// let a = Normaliser::fit_with(Norm::None, Transform::Asinh, &d);
/// assert_eq!((a.center.clone(), a.unit.clone()), (vec![5.0], vec![2.0]));
/// assert_eq!(a.apply(&d.sequences[1])?, [0.0, 1f64.asinh()]);
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    /// The kind.
    pub norm: Norm,
    /// [`Norm::Dimension`]: the training mean of each dimension `[D]`.
    pub mean: Vec<f64>,
    /// [`Norm::Dimension`]: the training standard deviation `[D]` (1 for a
    /// constant dimension).
    pub std: Vec<f64>,
    /// Per dimension `[D]`, the `c` of `asinh((x - c) / u)` applied before
    /// the z-score (empty: no dimension is transformed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub center: Vec<f64>,
    /// Per dimension `[D]`, the `u` of that transform; 0 for a dimension
    /// read as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit: Vec<f64>,
    /// [`Norm::Scaled`]: per dimension `[D]`, the floor added to a series'
    /// standard deviation before its logarithm (a thousandth of the
    /// dimension's, so a constant series has a finite scale).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floor: Vec<f64>,
    /// [`Norm::Scaled`]: per dimension `[D]`, the mean and standard
    /// deviation over the training series of `ln(series std + floor)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_mean: Vec<f64>,
    /// See `scale_mean`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_std: Vec<f64>,
    /// [`Norm::Scaled`]: per dimension `[D]`, the `c` of the compressed
    /// value input `asinh((x - c) / u)` (empty in files saved before that
    /// input: three inputs per dimension, not four).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_center: Vec<f64>,
    /// See `value_center`: the `u`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_unit: Vec<f64>,
    /// See `value_center`: the mean and standard deviation of
    /// `asinh((x - c) / u)` over the training frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_mean: Vec<f64>,
    /// See `value_mean`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_std: Vec<f64>,
}

/// Mean and standard deviation (population; 1 when below 1e-8) of `values`.
fn moments(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (mean, std) = raw_moments(values);
    (mean, divisor(std))
}

/// A standard deviation to divide by: 1 when below 1e-8 (a constant
/// series or dimension is centred, not blown up).
fn divisor(std: f64) -> f64 {
    if std < 1e-8 {
        1.0
    } else {
        std
    }
}

/// Mean and standard deviation (population, as computed) of `values`.
fn raw_moments(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count().max(1) as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The standard deviation of `values` as computed (0 for a constant series).
fn spread(values: impl Iterator<Item = f64> + Clone) -> f64 {
    raw_moments(values).1
}

impl Normaliser {
    /// Fits `norm` on a training set, no dimension transformed.
    pub fn fit(norm: Norm, data: &Dataset) -> Normaliser {
        Normaliser::fit_with(norm, Transform::None, data)
    }

    /// Fits `transform` and then `norm` (on the transformed values) on a
    /// training set.
    pub fn fit_with(norm: Norm, transform: Transform, data: &Dataset) -> Normaliser {
        let d = data.dims;
        let norm = match norm {
            Norm::Auto if squeezed(data) => Norm::Scaled,
            Norm::Auto => Norm::Dimension,
            n => n,
        };
        // each dimension's values over every frame of the training set, `[D][frames]`
        let columns: Vec<Vec<f64>> = (0..d)
            .map(|k| {
                data.sequences
                    .iter()
                    .flat_map(|s| s.values.iter().skip(k).step_by(d).copied())
                    .collect()
            })
            .collect();
        let (mut center, mut unit) = (vec![0.0; d], vec![0.0; d]);
        for (k, column) in columns.iter().enumerate() {
            let take = match transform {
                Transform::None => false,
                Transform::Asinh => true,
                // the scale input already spans orders of magnitude
                Transform::Auto => norm != Norm::Scaled && heavy_tailed(column),
            };
            if take {
                (center[k], unit[k]) = asinh_unit(column);
            }
        }
        if unit.iter().all(|&u| u == 0.0) {
            (center, unit) = (Vec::new(), Vec::new());
        }
        let mut n = Normaliser {
            norm,
            mean: Vec::new(),
            std: Vec::new(),
            center,
            unit,
            floor: Vec::new(),
            scale_mean: Vec::new(),
            scale_std: Vec::new(),
            value_center: Vec::new(),
            value_unit: Vec::new(),
            value_mean: Vec::new(),
            value_std: Vec::new(),
        };
        if matches!(norm, Norm::Dimension | Norm::Scaled) {
            for (k, column) in columns.iter().enumerate() {
                // transformed once here, not on each of moments' three passes
                let t: Vec<f64> = column.iter().map(|&x| n.transform(k, x)).collect();
                let (m, s) = moments(t.iter().copied());
                n.mean.push(m);
                n.std.push(s);
            }
        }
        if norm == Norm::Scaled {
            for (k, column) in columns.iter().enumerate() {
                let floor = 1e-3 * n.std[k];
                let logs: Vec<f64> = data
                    .sequences
                    .iter()
                    .map(|s| n.log_scale(k, floor, s.values.iter().skip(k).step_by(d).copied()))
                    .collect();
                let (m, s) = moments(logs.iter().copied());
                n.floor.push(floor);
                n.scale_mean.push(m);
                n.scale_std.push(s);
                // the compressed value, asinh((x - c) / u), z-scored over the frames
                let t: Vec<f64> = column.iter().map(|&x| n.transform(k, x)).collect();
                let (c, u) = asinh_unit(&t);
                let (m, s) = moments(t.iter().map(|&x| ((x - c) / u).asinh()));
                n.value_center.push(c);
                n.value_unit.push(u);
                n.value_mean.push(m);
                n.value_std.push(s);
            }
        }
        n
    }

    /// Whether this normaliser (as read from a model file) can be applied
    /// to frames of `dims` values: every per-dimension vector its kind uses
    /// has `dims` finite entries (the standard deviations positive), and
    /// the kind is resolved (not [`Norm::Auto`]). `Err` says what is wrong.
    pub fn check(&self, dims: usize) -> std::result::Result<(), String> {
        let need = |name: &str, v: &[f64], positive: bool| -> std::result::Result<(), String> {
            if v.len() != dims {
                return Err(format!(
                    "{name}: {} for {}",
                    crate::tasks::counted(v.len(), "value", "values"),
                    crate::tasks::counted(dims, "dimension", "dimensions")
                ));
            }
            match v
                .iter()
                .find(|x| !x.is_finite() || (positive && **x <= 0.0))
            {
                Some(x) => Err(format!(
                    "{name}: {x} is not a finite{} number",
                    if positive { " positive" } else { "" }
                )),
                None => Ok(()),
            }
        };
        if !self.unit.is_empty() || !self.center.is_empty() {
            need("unit", &self.unit, false)?;
            need("center", &self.center, false)?;
        }
        match self.norm {
            Norm::Auto => {
                Err("norm: auto is resolved when fitted, a model holds the one taken".into())
            }
            Norm::None | Norm::Series => Ok(()),
            Norm::Dimension => {
                need("mean", &self.mean, false)?;
                need("std", &self.std, true)
            }
            Norm::Scaled => {
                need("mean", &self.mean, false)?;
                need("std", &self.std, true)?;
                need("floor", &self.floor, true)?;
                need("scale_mean", &self.scale_mean, false)?;
                need("scale_std", &self.scale_std, true)?;
                if self.has_value_input() {
                    need("value_center", &self.value_center, false)?;
                    need("value_unit", &self.value_unit, true)?;
                    need("value_mean", &self.value_mean, false)?;
                    need("value_std", &self.value_std, true)?;
                }
                Ok(())
            }
        }
    }

    /// Values per frame after [`Normaliser::apply`] for `dims` values read:
    /// `4 dims` for [`Norm::Scaled`] (shape, level, scale, compressed
    /// value; `3 dims` as saved before the value input), else `dims`.
    pub fn width(&self, dims: usize) -> usize {
        match (self.norm, self.has_value_input()) {
            (Norm::Scaled, true) => 4 * dims,
            (Norm::Scaled, false) => 3 * dims,
            _ => dims,
        }
    }

    /// Whether [`Norm::Scaled`] adds the compressed value input (any of its
    /// four vectors present: [`Normaliser::check`] asks for all four).
    fn has_value_input(&self) -> bool {
        !(self.value_center.is_empty()
            && self.value_unit.is_empty()
            && self.value_mean.is_empty()
            && self.value_std.is_empty())
    }

    /// `ln(std + floor)` of one series' values of dimension `k`, after the
    /// transform.
    fn log_scale(&self, k: usize, floor: f64, values: impl Iterator<Item = f64> + Clone) -> f64 {
        (spread(values.map(|x| self.transform(k, x))) + floor).ln()
    }

    /// The dimensions transformed by `asinh` (0-based).
    pub fn transformed(&self) -> Vec<usize> {
        (0..self.unit.len())
            .filter(|&k| self.unit[k] > 0.0)
            .collect()
    }

    /// Value `x` of dimension `k` after the transform (before the z-score).
    fn transform(&self, k: usize, x: f64) -> f64 {
        match self.unit.get(k) {
            Some(&u) if u > 0.0 => ((x - self.center[k]) / u).asinh(),
            _ => x,
        }
    }

    /// The normalised frames of `seq`, `[T, D]` (`[T, 4D]` for
    /// [`Norm::Scaled`]: each frame's `D` z-scores by the series, then the
    /// series' `D` levels, then its `D` scales, then the frame's `D`
    /// compressed values; `[T, 3D]` without them, as saved before). An
    /// error when `seq` is not `steps` (at least one) frames of the values
    /// per frame the normaliser was fitted to (it panicked on more).
    pub fn apply(&self, seq: &Sequence) -> Result<Vec<f64>> {
        let d = seq.values.len() / seq.steps.max(1);
        if seq.steps == 0 || d * seq.steps != seq.values.len() {
            return Err(Error::argument(
                "seq.values",
                format!("steps x dims values for {} steps", seq.steps),
                seq.values.len(),
            ));
        }
        self.check(d).map_err(|why| {
            Error::argument(
                "seq",
                "frames of the values per frame the normaliser was fitted to",
                why,
            )
        })?;
        let mut v = seq.values.clone();
        if self.norm == Norm::Scaled {
            return Ok(self.apply_scaled(v, d));
        }
        for k in (0..self.unit.len()).filter(|&k| self.unit[k] > 0.0) {
            for x in v.iter_mut().skip(k).step_by(d) {
                *x = self.transform(k, *x);
            }
        }
        for k in 0..d {
            let (m, s) = match self.norm {
                Norm::None => return Ok(v),
                Norm::Dimension => (self.mean[k], self.std[k]),
                // `Scaled` returned above; `Auto` is resolved when fitted
                Norm::Series | Norm::Scaled | Norm::Auto => {
                    moments(v.iter().skip(k).step_by(d).copied())
                }
            };
            for x in v.iter_mut().skip(k).step_by(d) {
                *x = (*x - m) / s;
            }
        }
        Ok(v)
    }

    /// [`Norm::Scaled`] of `values` (`[T, D]`, read): `[T, 4D]` (`[T, 3D]`
    /// without the compressed values).
    fn apply_scaled(&self, mut values: Vec<f64>, d: usize) -> Vec<f64> {
        let steps = values.len() / d.max(1);
        let with_value = self.has_value_input();
        let mut extra = Vec::with_capacity(2 * d); // [levels D, scales D]
        let mut scales = Vec::with_capacity(d);
        // [T, D]: (asinh((x - c) / u) - mean) / std
        let mut compressed = Vec::with_capacity(if with_value { values.len() } else { 0 });
        for k in 0..d {
            for x in values.iter_mut().skip(k).step_by(d) {
                *x = self.transform(k, *x);
            }
            let (m, s) = raw_moments(values.iter().skip(k).step_by(d).copied());
            extra.push((m - self.mean[k]) / self.std[k]); // level
            let scale = (s + self.floor[k]).ln();
            scales.push((scale - self.scale_mean[k]) / self.scale_std[k]);
            let s = divisor(s);
            for x in values.iter_mut().skip(k).step_by(d) {
                if with_value {
                    let v = ((*x - self.value_center[k]) / self.value_unit[k]).asinh();
                    compressed.push((v - self.value_mean[k]) / self.value_std[k]);
                }
                *x = (*x - m) / s; // shape
            }
        }
        extra.extend(scales);
        let width = if with_value { 4 * d } else { 3 * d };
        let mut out = Vec::with_capacity(steps * width);
        for (t, frame) in values.chunks_exact(d).enumerate() {
            out.extend_from_slice(frame);
            out.extend_from_slice(&extra);
            if with_value {
                // compressed is dimension-major: [D][T]
                out.extend((0..d).map(|k| compressed[k * steps + t]));
            }
        }
        out
    }
}
