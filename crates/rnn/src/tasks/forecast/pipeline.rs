//! Transforms, differencing and normalisation: how the target (and features)
//! become network inputs and forecasts become target values again.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// An invertible elementwise transform applied to the target before differencing.
///
/// ```
/// use rnn::tasks::forecast::Transform;
/// let t = Transform::parse("log").unwrap();
/// let z = t.apply(100.0).unwrap();
/// assert!((t.invert(z) - 100.0).abs() < 1e-12);
/// assert_eq!(t.apply(-1.0), None); // outside the domain of ln
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Transform {
    /// `y`.
    #[default]
    None,
    /// `ln y` (needs y > 0).
    Log,
    /// `sqrt y` (needs y >= 0).
    Sqrt,
}

impl Transform {
    /// Parses `none`, `log` or `sqrt`.
    pub fn parse(s: &str) -> Option<Transform> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Transform::None),
            "log" => Some(Transform::Log),
            "sqrt" => Some(Transform::Sqrt),
            _ => None,
        }
    }

    /// The lowercase name (`none`, `log`, `sqrt`).
    pub fn name(self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Log => "log",
            Transform::Sqrt => "sqrt",
        }
    }

    /// Applies the transform; `None` when `y` is outside its domain.
    pub fn apply(self, y: f64) -> Option<f64> {
        match self {
            Transform::None => Some(y),
            Transform::Log => (y > 0.0).then(|| y.ln()),
            Transform::Sqrt => (y >= 0.0).then(|| y.sqrt()),
        }
    }

    /// What [`Transform::apply`] takes, for errors: "positive for
    /// --transform log", "non-negative for --transform sqrt" ("any number"
    /// for none).
    pub fn domain(self) -> &'static str {
        match self {
            Transform::None => "any number",
            Transform::Log => "positive for --transform log",
            Transform::Sqrt => "non-negative for --transform sqrt",
        }
    }

    /// The inverse.
    pub fn invert(self, z: f64) -> f64 {
        match self {
            Transform::None => z,
            Transform::Log => z.exp(),
            Transform::Sqrt => z.max(0.0) * z.max(0.0),
        }
    }
}

/// `z_t = z_t - z_{t-lag}` for each lag in turn: the result is shorter by the
/// sum of the lags.
pub fn difference(z: &[f64], lags: &[usize]) -> Vec<f64> {
    let mut cur = z.to_vec();
    for &lag in lags {
        cur = (lag..cur.len()).map(|t| cur[t] - cur[t - lag]).collect();
    }
    cur
}

/// The inverse of [`difference`]: given the undifferenced history `z` (up to
/// the forecast origin) and forecasts `d` of the fully differenced series for
/// the next steps, returns the forecasts of `z` for those steps.
pub(crate) fn undifference(z: &[f64], lags: &[usize], d: &[f64]) -> Vec<f64> {
    // levels[k] = the history differenced by the first k lags
    let mut levels = vec![z.to_vec()];
    for (k, &lag) in lags.iter().enumerate() {
        let prev = &levels[k];
        let next = (lag..prev.len()).map(|t| prev[t] - prev[t - lag]).collect();
        levels.push(next);
    }
    let mut fut = d.to_vec();
    for k in (0..lags.len()).rev() {
        let lag = lags[k];
        let mut hist = levels[k].clone();
        for &v in &fut {
            let base = hist[hist.len() - lag];
            hist.push(v + base);
        }
        fut = hist[levels[k].len()..].to_vec();
    }
    fut
}

/// How the target (and features) are turned into network inputs, fitted on
/// training data only and stored with the model: transform, then
/// differencing, then z-scoring.
///
/// ```
/// use rnn::tasks::forecast::{Pipeline, Transform};
/// let y = [100.0, 110.0, 125.0, 120.0, 140.0, 150.0];
/// // ln, then first differences, z-scored over the first 5 (training) rows
/// let p = Pipeline::fit(&y[..5], &[], Transform::Log, &[1], ("y", &[]))?;
/// let enc = p.encode(&y, &[])?; // [N - 1, 1]: one row lost to differencing
/// assert_eq!(enc.len(), 5);
/// // decoding the last encoded value from the history gives y[5] back
/// let back = p.decode(&y[..5], &enc[4..])?;
/// assert!((back[0] - 150.0).abs() < 1e-9);
/// # Ok::<(), rnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Elementwise transform of the target.
    pub transform: Transform,
    /// Lags differenced in turn after the transform (e.g. `[1, 12]`).
    pub diffs: Vec<usize>,
    /// Mean of the transformed, differenced training target.
    pub mean: f64,
    /// Standard deviation of the same.
    pub std: f64,
    /// Mean of each feature over the training rows.
    pub feature_mean: Vec<f64>,
    /// Standard deviation of each feature over the training rows.
    pub feature_std: Vec<f64>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

impl Pipeline {
    /// Rows lost at the start to differencing.
    pub fn lost(&self) -> usize {
        self.diffs.iter().fold(0, |t, &l| t.saturating_add(l))
    }

    /// The transformed target; errors name the first value outside the domain.
    pub fn transformed(&self, y: &[f64]) -> Result<Vec<f64>> {
        self.transformed_from(y, 0)
    }

    /// [`Pipeline::transformed`] of rows `first + 1 ..` of a series (`y`
    /// the rows from there: an error names the row in the whole series).
    fn transformed_from(&self, y: &[f64], first: usize) -> Result<Vec<f64>> {
        y.iter()
            .enumerate()
            .map(|(i, &v)| {
                self.transform.apply(v).ok_or_else(|| Error::Value {
                    what: format!("target value at row {}", first + i + 1),
                    value: v.to_string(),
                    expected: self.transform.domain().into(),
                })
            })
            .collect()
    }

    /// Fits the normalisation on the training rows `y` and `features` (`[F][N]`)
    /// only. A constant (transformed, differenced) target or feature is an
    /// error, as is a series too short for the differencing.
    pub fn fit(
        y: &[f64],
        features: &[Vec<f64>],
        transform: Transform,
        diffs: &[usize],
        names: (&str, &[String]),
    ) -> Result<Pipeline> {
        let mut p = Pipeline {
            transform,
            diffs: diffs.to_vec(),
            mean: 0.0,
            std: 1.0,
            feature_mean: Vec::new(),
            feature_std: Vec::new(),
        };
        if y.len() < p.lost().saturating_add(2) {
            return Err(Error::Config(format!(
                "{} training rows are too few for differencing by {:?}",
                y.len(),
                diffs
            )));
        }
        let d = difference(&p.transformed(y)?, diffs);
        let (m, s) = mean_std(&d);
        if s < 1e-12 * m.abs().max(1.0) {
            return Err(Error::Config(format!(
                "the target column {:?} is constant over the training rows{}: nothing to forecast",
                names.0,
                if diffs.is_empty() {
                    ""
                } else {
                    " after differencing"
                }
            )));
        }
        (p.mean, p.std) = (m, s);
        for (f, name) in features.iter().zip(names.1) {
            let (m, s) = mean_std(f);
            if s < 1e-12 * m.abs().max(1.0) {
                return Err(Error::Config(format!(
                    "the feature column {name:?} is constant over the training rows"
                )));
            }
            p.feature_mean.push(m);
            p.feature_std.push(s);
        }
        Ok(p)
    }

    /// The normalised network inputs for rows `y` (`[N]`) and `features`
    /// (`[F][N]`): `[N - lost, 1 + F]`, the target first. Row `j` is time
    /// step `j + lost` of the input.
    pub fn encode(&self, y: &[f64], features: &[Vec<f64>]) -> Result<Vec<f64>> {
        // the features the pipeline was fitted on, each as long as the target
        // (a shorter one was read past its end; a missing one dropped)
        let fitted = self.feature_mean.len();
        if features.len() != fitted || self.feature_std.len() != fitted {
            return Err(Error::argument(
                "features",
                format!("the {fitted} the pipeline was fitted on"),
                features.len(),
            ));
        }
        if let Some((k, f)) = features
            .iter()
            .enumerate()
            .find(|(_, f)| f.len() != y.len())
        {
            return Err(Error::argument(
                "features",
                format!("feature {} as long as the target ({} rows)", k + 1, y.len()),
                f.len(),
            ));
        }
        let d = difference(&self.transformed(y)?, &self.diffs);
        let lost = self.lost();
        let width = 1 + features.len();
        let mut out = Vec::with_capacity(d.len() * width); // [N - lost, 1 + F]
        for (j, v) in d.iter().enumerate() {
            out.push((v - self.mean) / self.std);
            for (k, f) in features.iter().enumerate() {
                out.push((f[j + lost] - self.feature_mean[k]) / self.feature_std[k]);
            }
        }
        Ok(out)
    }

    /// Turns normalised forecasts of the next steps after `history` (the raw
    /// target up to the forecast origin) back into target values.
    pub fn decode(&self, history: &[f64], forecast: &[f64]) -> Result<Vec<f64>> {
        // undoing each difference takes the values one lag back: the history
        // must hold them all (the fields are public: lags may be edited)
        if self.diffs.contains(&0) {
            return Err(Error::argument(
                "diffs",
                "lags of at least 1",
                format!("{:?}", self.diffs),
            ));
        }
        let lost = self.diffs.iter().try_fold(0usize, |t, &l| t.checked_add(l));
        let Some(lost) = lost.filter(|&lost| history.len() >= lost) else {
            return Err(Error::argument(
                "history",
                format!(
                    "at least the {} rows differencing by {:?} reaches back",
                    self.lost(),
                    self.diffs
                ),
                history.len(),
            ));
        };
        // undoing the differences reads the last `lost` rows alone: the
        // rest of the history is not transformed again at every origin (a
        // backtest of 50,000 rows decoded 15,000 forecasts, each
        // transforming and differencing all the rows before it)
        let first = history.len() - lost;
        let z = self.transformed_from(&history[first..], first)?;
        let d: Vec<f64> = forecast.iter().map(|v| v * self.std + self.mean).collect();
        Ok(undifference(&z, &self.diffs, &d)
            .into_iter()
            .map(|v| self.transform.invert(v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_reads_the_rows_the_differences_reach_back_only() {
        // log, then differences by 1 and 4: undoing them reads the last 5
        // rows of the history, so a long history and those 5 rows decode
        // alike, bit for bit; a bad value among them is named by its row in
        // the whole history
        let y: Vec<f64> = (0..40)
            .map(|i| 10.0 + (i as f64 * 0.3).sin() + i as f64 * 0.1)
            .collect();
        let p = Pipeline::fit(&y[..30], &[], Transform::Log, &[1, 4], ("y", &[])).unwrap();
        let f = [0.3, -0.2, 0.1];
        assert_eq!(
            p.decode(&y[..35], &f).unwrap(),
            p.decode(&y[30..35], &f).unwrap()
        );
        // the encoded rows 35..38 (rows 0..5 are lost to the differences)
        // decode back to those rows
        let enc = p.encode(&y, &[]).unwrap();
        let back = p.decode(&y[..35], &enc[30..33]).unwrap();
        for (b, v) in back.iter().zip(&y[35..38]) {
            assert!((b - v).abs() < 1e-9, "{b} vs {v}");
        }
        let mut bad = y[..35].to_vec();
        bad[33] = -1.0;
        let e = p.decode(&bad, &f).unwrap_err().to_string();
        assert!(e.contains("target value at row 34"), "{e}");
    }

    #[test]
    fn normalisation_is_fitted_on_training_rows_only() {
        let y: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let train = &y[..6]; // 0..5: mean 2.5, std sqrt(35/12)
        let p = Pipeline::fit(train, &[], Transform::None, &[], ("v", &[])).unwrap();
        assert!((p.mean - 2.5).abs() < 1e-12);
        assert!((p.std - (35.0f64 / 12.0).sqrt()).abs() < 1e-12);
        // changing the test rows changes nothing
        let mut y2 = y.clone();
        y2[8] = 1e6;
        let p2 = Pipeline::fit(&y2[..6], &[], Transform::None, &[], ("v", &[])).unwrap();
        assert_eq!(p, p2);
        // constant series
        assert!(
            Pipeline::fit(&[3.0; 8], &[], Transform::None, &[], ("v", &[]))
                .unwrap_err()
                .to_string()
                .contains("constant")
        );
    }

    #[test]
    fn log_and_differences_round_trip() {
        let y: Vec<f64> = (1..=40)
            .map(|i| 100.0 + i as f64 * 3.0 + (i % 12) as f64 * 5.0)
            .collect();
        let p = Pipeline::fit(&y[..30], &[], Transform::Log, &[1, 12], ("v", &[])).unwrap();
        let enc = p.encode(&y, &[]).unwrap();
        assert_eq!(enc.len(), 40 - 13);
        // the encoded future decoded from the history gives the future back
        let back = p.decode(&y[..30], &enc[30 - 13..]).unwrap();
        for (b, t) in back.iter().zip(&y[30..]) {
            assert!((b - t).abs() < 1e-9, "{b} vs {t}");
        }
    }

    #[test]
    fn encode_and_decode_refuse_what_they_cannot_read() {
        let y = [1.0, 2.0, 4.0, 3.0, 5.0, 7.0];
        let p = Pipeline::fit(&y, &[], Transform::None, &[1, 2], ("y", &[])).unwrap();
        // a history shorter than the lags, or empty (an index past the
        // start was a panic)
        assert!(p.decode(&[1.0], &[0.5, 0.2]).is_err());
        assert!(p.decode(&[], &[0.5]).is_err());
        assert_eq!(p.decode(&[1.0, 2.0, 4.0], &[0.0]).unwrap().len(), 1);
        for diffs in [vec![0], vec![50], vec![usize::MAX, 2]] {
            let q = Pipeline { diffs, ..p.clone() };
            assert!(q.decode(&y, &[0.5]).is_err());
        }
        // features: as many as fitted, each as long as the target
        let f = vec![vec![0.0, 1.0, 0.0, 2.0, 1.0, 3.0]];
        let names = [String::from("f")];
        let pf = Pipeline::fit(&y, &f, Transform::None, &[1], ("y", &names)).unwrap();
        assert!(pf.encode(&y, &[vec![1.0]]).is_err());
        assert!(pf.encode(&y, &[]).is_err());
        assert_eq!(pf.encode(&y, &f).unwrap().len(), 10);
    }
}
