//! Input normalisation: z-scores per dimension fitted on the training set,
//! or per series.

use super::data::{Dataset, Sequence};
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
}

impl Norm {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Norm::Dimension => "dimension",
            Norm::Series => "series",
            Norm::None => "none",
        }
    }
}

/// A fitted normalisation.
///
/// ```
/// use rnn::tasks::classify::{Dataset, Fill, Norm, Normaliser};
/// let text = "1,3:x\n5,7:y\n";
/// let d = Dataset::parse_ts(std::path::Path::new("t.ts"), text, Fill::Linear, None)?;
/// let n = Normaliser::fit(Norm::Dimension, &d);
/// assert_eq!((n.mean[0], n.std[0]), (4.0, 5f64.sqrt()));
/// assert_eq!(n.apply(&d.sequences[1])[0], 1.0 / 5f64.sqrt());
/// let s = Normaliser::fit(Norm::Series, &d);
/// assert_eq!(s.apply(&d.sequences[1]), [-1.0, 1.0]);
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
}

/// Mean and standard deviation (population; 1 when below 1e-8) of `values`.
fn moments(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count().max(1) as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std < 1e-8 { 1.0 } else { std })
}

impl Normaliser {
    /// Fits `norm` on a training set.
    pub fn fit(norm: Norm, data: &Dataset) -> Normaliser {
        let d = data.dims;
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        if norm == Norm::Dimension {
            for k in 0..d {
                let all = data
                    .sequences
                    .iter()
                    .flat_map(move |s| s.values.iter().skip(k).step_by(d).copied());
                let (m, s) = moments(all);
                mean.push(m);
                std.push(s);
            }
        }
        Normaliser { norm, mean, std }
    }

    /// The normalised frames of `seq`, `[T, D]`.
    pub fn apply(&self, seq: &Sequence) -> Vec<f64> {
        let mut v = seq.values.clone();
        let d = v.len() / seq.steps.max(1);
        for k in 0..d {
            let (m, s) = match self.norm {
                Norm::None => return v,
                Norm::Dimension => (self.mean[k], self.std[k]),
                Norm::Series => moments(seq.values.iter().skip(k).step_by(d).copied()),
            };
            for x in v.iter_mut().skip(k).step_by(d) {
                *x = (*x - m) / s;
            }
        }
        v
    }
}
