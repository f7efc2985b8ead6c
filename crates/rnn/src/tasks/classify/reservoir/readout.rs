//! The reservoirs' linear readout: a ridge regression of the one-hot
//! classes on standardised features, its penalty and softmax temperature
//! chosen by leave-one-out scores computed in closed form.

use crate::nn::loss::log_sum_exp;
use crate::{Error, Result};
use faer::Mat;

/// A linear readout of reservoir features: `scores = ((f - mean) / scale)
/// weight^T + bias`, and `softmax(temperature * scores)` the probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Readout {
    /// `[C, F]`.
    pub weight: Vec<f64>,
    /// `[C]`.
    pub bias: Vec<f64>,
    /// `[F]`: the training features' means.
    pub mean: Vec<f64>,
    /// `[F]`: their standard deviations (1 where they do not vary).
    pub scale: Vec<f64>,
    /// The softmax temperature.
    pub temperature: f64,
    /// The ridge penalty chosen.
    pub lambda: f64,
    /// Leave-one-out accuracy at that penalty, in [0, 1].
    pub loo_accuracy: f64,
    /// Leave-one-out cross-entropy at that penalty and temperature (NaN
    /// when read from a file saved without it).
    pub loo_loss: f64,
}

/// Ridge penalties tried, as multiples of the mean eigenvalue of the Gram
/// matrix: `10^-7, 10^-6.5, ..., 10^1`.
const LAMBDA_EXPONENTS: std::ops::RangeInclusive<i32> = -14..=2;

impl Readout {
    /// Fits the readout of `features` `[n, F]` to classes `labels` (`n`
    /// of them, each below `classes`).
    ///
    /// With `Z` the standardised features, centred, and `Y` the centred
    /// one-hot classes, the ridge solution for penalty `lambda` is `beta =
    /// Z^T (Z Z^T + lambda I)^-1 Y`. One eigendecomposition `Z Z^T = Q S
    /// Q^T` (or of `Z^T Z` when `F < n`) gives, for every penalty, the hat
    /// matrix `H = Q diag(s / (s + lambda)) Q^T` and so the leave-one-out
    /// prediction of each sequence without refitting: `y_i - (y_i - (H
    /// Y)_i) / (1 - H_ii - 1/n)`. The penalty with the highest leave-one-out
    /// accuracy wins (the lower squared error on ties); the temperature is
    /// the one of a grid (`2^-2 .. 2^8` by `sqrt 2`) with the lowest
    /// leave-one-out cross-entropy.
    ///
    /// ```
    /// use rnn::tasks::classify::Readout;
    /// // two features; class 1 when the first is large
    /// let f = [0.0, 1.0, 0.1, 0.0, 1.0, 0.5, 0.9, 0.2, 0.2, 0.7, 1.1, 0.3];
    /// let r = Readout::fit(&f, 6, &[0, 0, 1, 1, 0, 1], 2)?;
    /// assert_eq!(r.loo_accuracy, 1.0);
    /// let p = r.probabilities(&[0.05, 0.5, 1.0, 0.5])?;
    /// assert!(p[0] > 0.5 && p[3] > 0.5, "{p:?}");
    /// // more classes than memory holds: an error, not an abort
    /// assert!(Readout::fit(&f, 6, &[0, 0, 1, 1, 0, 1], 1 << 40).is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn fit(features: &[f64], n: usize, labels: &[usize], classes: usize) -> Result<Readout> {
        Ok(Readout::fit_loo(features, n, labels, classes)?.0)
    }

    /// [`Readout::fit`], and the leave-one-out scores `[n, C]` at the
    /// chosen penalty.
    fn fit_loo(
        features: &[f64],
        n: usize,
        labels: &[usize],
        classes: usize,
    ) -> Result<(Readout, Vec<f64>)> {
        if n < 2
            || labels.len() != n
            || !features.len().is_multiple_of(n)
            || classes == 0
            || labels.iter().any(|&c| c >= classes)
        {
            return Err(Error::Config(format!(
                "a readout needs two sequences or more (n), one label each below classes = {classes}, and n rows of features, got n = {n}, {} labels and {} feature values",
                labels.len(),
                features.len()
            )));
        }
        crate::nn::model::finite("features", features)?;
        let p = features.len() / n;
        // the one-hot targets, the weights and the scores hold `classes`
        // columns: 2^40 classes aborted allocating them (open since the
        // library sweep of session 40)
        let bytes = 8.0 * classes as f64 * (3.0 * n as f64 + p as f64 + 4.0);
        crate::memory::ensure_fits(|| format!("a readout of {classes} classes"), bytes)?;
        let mut mean = vec![0f64; p];
        for row in features.chunks_exact(p) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut scale = vec![0f64; p];
        for row in features.chunks_exact(p) {
            for ((s, v), m) in scale.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        scale.iter_mut().for_each(|s| {
            *s = (*s / n as f64).sqrt();
            if *s < 1e-12 {
                *s = 1.0;
            }
        });
        // Z [n, p]: standardised (so centred)
        let z = Mat::<f64>::from_fn(n, p, |i, j| (features[i * p + j] - mean[j]) / scale[j]);
        // Y [n, C] centred one-hot, ybar [C]
        let mut ybar = vec![0f64; classes];
        labels.iter().for_each(|&c| ybar[c] += 1.0 / n as f64);
        let onehot = |i: usize, c: usize| f64::from(u8::from(labels[i] == c));
        let y = Mat::<f64>::from_fn(n, classes, |i, c| onehot(i, c) - ybar[c]);
        // A [n, r], s [r] with H = A diag(g(s)) A^T, beta = B diag(1 / (s + lambda)) A^T Y
        let dual = n <= p;
        let gram = if dual {
            &z * z.transpose()
        } else {
            z.transpose() * &z
        };
        let evd = gram
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::Config(format!("the readout's eigendecomposition: {e:?}")))?;
        let r = gram.nrows();
        let s: Vec<f64> = (0..r).map(|j| evd.S()[j].max(0.0)).collect();
        let v = evd.U().to_owned();
        let a = if dual { v.clone() } else { &z * &v }; // [n, r]
        let aty = a.transpose() * &y; // [r, C]
        let unit = s.iter().sum::<f64>() / r as f64;
        let unit = if unit > 0.0 { unit } else { 1.0 };
        // h_ii and H Y for penalty lambda
        let weights = |lambda: f64| -> Vec<f64> {
            s.iter()
                .map(|&sj| {
                    if dual {
                        sj / (sj + lambda)
                    } else {
                        1.0 / (sj + lambda)
                    }
                })
                .collect()
        };
        // a2 [n, r]: A's entries squared (for the diagonal of H)
        let a2 = Mat::<f64>::from_fn(n, r, |i, j| a[(i, j)] * a[(i, j)]);
        let loo = |lambda: f64| -> Vec<f64> {
            let g = weights(lambda);
            let gm = Mat::<f64>::from_fn(r, 1, |j, _| g[j]);
            let gy = Mat::<f64>::from_fn(r, classes, |j, c| g[j] * aty[(j, c)]);
            let hy = &a * &gy; // (H Y)_i: [n, C]
            let h = &a2 * &gm; // H_ii - 1/n: [n, 1]
            let mut out = vec![0f64; n * classes];
            for i in 0..n {
                // the intercept adds 1/n to H_ii
                let denom = (1.0 - h[(i, 0)] - 1.0 / n as f64).max(1e-9);
                for c in 0..classes {
                    let fit = ybar[c] + hy[(i, c)];
                    let yi = onehot(i, c);
                    out[i * classes + c] = yi - (yi - fit) / denom;
                }
            }
            out
        };
        let accuracy = |scores: &[f64]| accuracy(scores, labels, classes);
        let sq_error = |scores: &[f64]| {
            scores
                .chunks_exact(classes)
                .enumerate()
                .map(|(i, row)| {
                    row.iter()
                        .enumerate()
                        .map(|(c, v)| (v - onehot(i, c)).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
        };
        let mut best: Option<(f64, f64, f64, Vec<f64>)> = None;
        for e in LAMBDA_EXPONENTS {
            let lambda = unit * 10f64.powf(f64::from(e) / 2.0);
            let scores = loo(lambda);
            let (acc, err) = (accuracy(&scores), sq_error(&scores));
            if best
                .as_ref()
                .is_none_or(|b| acc > b.0 + 1e-12 || (acc > b.0 - 1e-12 && err < b.1))
            {
                best = Some((acc, err, lambda, scores));
            }
        }
        let (loo_accuracy, _, lambda, loo_scores) =
            best.ok_or_else(|| Error::Config("no ridge penalty to try".into()))?;
        // beta [p, C] = B diag(1 / (s + lambda)) A^T Y, B = Z^T Q (dual) or V
        let scaled = Mat::<f64>::from_fn(r, classes, |j, c| aty[(j, c)] / (s[j] + lambda));
        let beta = if dual {
            z.transpose() * (&v * &scaled)
        } else {
            &v * &scaled
        };
        let mut weight = vec![0f64; classes * p];
        for c in 0..classes {
            for j in 0..p {
                weight[c * p + j] = beta[(j, c)];
            }
        }
        let (loo_loss, temperature) = (0..=20)
            .map(|k| 2f64.powf(f64::from(k) / 2.0 - 2.0))
            .map(|t| (cross_entropy(&loo_scores, labels, classes, t), t))
            .fold((f64::INFINITY, 1.0), |b, x| if x.0 < b.0 { x } else { b });
        Ok((
            Readout {
                weight,
                bias: ybar,
                mean,
                scale,
                temperature,
                lambda,
                loo_accuracy,
                loo_loss,
            },
            loo_scores,
        ))
    }

    /// `F`: features read.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// Checks `features` is rows of `F` finite values; returns the rows.
    fn check_features(&self, features: &[f64]) -> Result<usize> {
        let p = self.features();
        if p == 0 || !features.len().is_multiple_of(p) {
            return Err(Error::argument(
                "features",
                format!("rows of the readout's {p} features"),
                format!("{} values", features.len()),
            ));
        }
        crate::nn::model::finite("features", features)?;
        Ok(features.len() / p)
    }

    /// The scores of `features` `[n, F]`, `[n, C]`; an error when
    /// `features` is not rows of `F` finite values.
    ///
    /// ```
    /// use rnn::tasks::classify::Readout;
    /// // two features per sequence, four sequences of two classes
    /// let f = [0.0, 0.1, 0.1, 0.0, 1.0, 0.9, 0.9, 1.0];
    /// let r = Readout::fit(&f, 4, &[0, 0, 1, 1], 2)?;
    /// assert_eq!(r.scores(&[0.0, 0.0, 1.0, 1.0])?.len(), 2 * 2); // [n = 2, C = 2]
    /// // three values are not rows of two (before: an empty answer)
    /// let e = r.scores(&[0.0, 1.0, 2.0]).unwrap_err();
    /// assert_eq!(e.to_string(), "features: expected rows of the readout's 2 features, got 3 values");
    /// assert!(r.probabilities(&[f64::NAN, 0.0]).is_err());
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn scores(&self, features: &[f64]) -> Result<Vec<f64>> {
        self.check_features(features)?;
        Ok(self.raw_scores(features))
    }

    /// [`Readout::scores`] of features the crate computed (whole rows).
    pub(crate) fn raw_scores(&self, features: &[f64]) -> Vec<f64> {
        let (p, c) = (self.features(), self.bias.len());
        let mut out = Vec::with_capacity(features.len() / p.max(1) * c);
        for row in features.chunks_exact(p) {
            let z: Vec<f64> = row
                .iter()
                .zip(self.mean.iter().zip(&self.scale))
                .map(|(v, (m, s))| (v - m) / s)
                .collect();
            for k in 0..c {
                let w = &self.weight[k * p..(k + 1) * p];
                out.push(self.bias[k] + w.iter().zip(&z).map(|(a, b)| a * b).sum::<f64>());
            }
        }
        out
    }

    /// The class probabilities of `features` `[n, F]`, `[n, C]`; the errors
    /// of [`Readout::scores`].
    pub fn probabilities(&self, features: &[f64]) -> Result<Vec<f64>> {
        self.check_features(features)?;
        Ok(self.raw_probabilities(features))
    }

    /// [`Readout::probabilities`] of features the crate computed.
    pub(crate) fn raw_probabilities(&self, features: &[f64]) -> Vec<f64> {
        let c = self.bias.len();
        let mut s = self.raw_scores(features);
        for row in s.chunks_exact_mut(c) {
            row.iter_mut().for_each(|v| *v *= self.temperature);
            let lse = log_sum_exp(row);
            row.iter_mut().for_each(|v| *v = (*v - lse).exp());
        }
        s
    }
}

/// Mean cross-entropy of `softmax(t * scores)` against `labels`.
fn cross_entropy(scores: &[f64], labels: &[usize], classes: usize, t: f64) -> f64 {
    let mut total = 0.0;
    for (row, &y) in scores.chunks_exact(classes).zip(labels) {
        let r: Vec<f64> = row.iter().map(|v| v * t).collect();
        total += log_sum_exp(&r) - r[y];
    }
    total / labels.len().max(1) as f64
}

/// The share of rows of `scores` `[n, C]` whose largest value is at the
/// row's class in `labels`.
fn accuracy(scores: &[f64], labels: &[usize], classes: usize) -> f64 {
    let pred = crate::tasks::classify::classifier::argmax_rows(scores, classes);
    pred.iter().zip(labels).filter(|(a, b)| a == b).count() as f64 / labels.len().max(1) as f64
}

/// Accuracy and mean cross-entropy of `readout` on `features` `[n, F]` of
/// classes `labels`; an error when `features` is not `n` rows of finite
/// values or a label is not one of the readout's classes.
pub fn readout_score(readout: &Readout, features: &[f64], labels: &[usize]) -> Result<(f64, f64)> {
    let c = readout.bias.len();
    let rows = readout.check_features(features)?;
    if rows != labels.len() {
        return Err(Error::argument(
            "labels",
            format!("one per row of features ({rows})"),
            format!("{} labels", labels.len()),
        ));
    }
    if let Some(i) = labels.iter().position(|&y| y >= c) {
        return Err(Error::argument(
            format!("labels[{i}]"),
            format!("a class below {c}"),
            labels[i],
        ));
    }
    let p = readout.raw_probabilities(features);
    let n = labels.len().max(1) as f64;
    let acc = accuracy(&p, labels, c);
    let loss = p
        .chunks_exact(c)
        .zip(labels)
        .map(|(row, &y)| (-row[y].max(1e-300).ln()).max(0.0))
        .sum::<f64>()
        / n;
    Ok((acc, loss))
}

#[cfg(test)]
mod tests {
    use super::super::noise;
    use super::*;

    /// The readout's closed-form leave-one-out scores at its chosen penalty,
    /// recomputed the slow way: refit the ridge without sequence `i`
    /// (standardising with the full set's statistics, as the closed form
    /// does, and the intercept the held-in rows' mean) and predict `i`.
    fn brute_loo(f: &[f64], n: usize, labels: &[usize], c: usize, r: &Readout) -> Vec<f64> {
        let p = f.len() / n;
        let z: Vec<f64> = (0..n * p)
            .map(|k| (f[k] - r.mean[k % p]) / r.scale[k % p])
            .collect();
        let mut out = Vec::new();
        for i in 0..n {
            let keep: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            let m = keep.len();
            // centre the kept rows and their one-hot classes
            let zm: Vec<f64> = (0..p)
                .map(|j| keep.iter().map(|&k| z[k * p + j]).sum::<f64>() / m as f64)
                .collect();
            let ym: Vec<f64> = (0..c)
                .map(|q| keep.iter().filter(|&&k| labels[k] == q).count() as f64 / m as f64)
                .collect();
            let zc = Mat::<f64>::from_fn(m, p, |a, j| z[keep[a] * p + j] - zm[j]);
            let yc = Mat::<f64>::from_fn(m, c, |a, q| {
                f64::from(u8::from(labels[keep[a]] == q)) - ym[q]
            });
            // beta = (Zc^T Zc + lambda I)^-1 Zc^T Yc, solved through the eigenvectors
            let mut g = zc.transpose() * &zc;
            for j in 0..p {
                g[(j, j)] += r.lambda;
            }
            let evd = g.self_adjoint_eigen(faer::Side::Lower).unwrap();
            let rhs = evd.U().transpose() * (zc.transpose() * &yc);
            let scaled = Mat::<f64>::from_fn(p, c, |j, q| rhs[(j, q)] / evd.S()[j]);
            let beta = evd.U() * &scaled;
            for q in 0..c {
                let s: f64 = (0..p).map(|j| (z[i * p + j] - zm[j]) * beta[(j, q)]).sum();
                out.push(ym[q] + s);
            }
        }
        out
    }

    #[test]
    fn the_closed_form_leave_one_out_is_the_refit_one() {
        // both ways of the closed form: more features than sequences (the
        // Gram matrix Z Z^T) and fewer (Z^T Z)
        for (n, p, c) in [(9, 14, 3), (17, 4, 2)] {
            let labels: Vec<usize> = (0..n).map(|i| i % c).collect();
            let f: Vec<f64> = (0..n * p)
                .map(|k| noise(k) + 0.8 * labels[k / p] as f64 * f64::from(u8::from(k % p < 2)))
                .collect();
            let r = Readout::fit(&f, n, &labels, c).unwrap();
            let p0 = f.len() / n;
            assert_eq!(r.features(), p0);
            // the scores of the closed form, at the chosen penalty, per the doc
            let brute = brute_loo(&f, n, &labels, c, &r);
            let acc = accuracy(&brute, &labels, c);
            assert!(
                (acc - r.loo_accuracy).abs() < 1e-12,
                "{n}x{p}: {acc} vs {}",
                r.loo_accuracy
            );
            // and the fitted readout reproduces the classes it was fitted to
            let right = accuracy(&r.scores(&f).unwrap(), &labels, c);
            assert!(right >= 0.7, "{n}x{p}: {right}");
        }
    }

    #[test]
    fn leave_one_out_scores_match_refits_value_by_value() {
        // the per-sequence scores fit() chose its penalty by, against refits
        for (n, p, c) in [(8, 5, 2), (6, 11, 3)] {
            let labels: Vec<usize> = (0..n).map(|i| i % c).collect();
            let f: Vec<f64> = (0..n * p)
                .map(|k| noise(3 * k + 1) + labels[k / p] as f64 * 0.5)
                .collect();
            let (r, closed) = Readout::fit_loo(&f, n, &labels, c).unwrap();
            let brute = brute_loo(&f, n, &labels, c, &r);
            assert_eq!(closed.len(), n * c);
            // (the refit with more features than sequences solves a system
            // whose condition number is about 1/lambda: 1e-7, not 1e-9)
            for (a, b) in closed.iter().zip(&brute) {
                assert!((a - b).abs() < 1e-7, "{n}x{p}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_readout_refuses_what_it_cannot_fit() {
        assert!(Readout::fit(&[1.0], 1, &[0], 2).is_err());
        assert!(Readout::fit(&[1.0, 2.0, 3.0], 2, &[0, 1], 2).is_err());
        assert!(Readout::fit(&[1.0, 2.0], 2, &[0], 2).is_err());
        assert!(Readout::fit(&[1.0, 2.0], 2, &[0, 2], 2).is_err());
    }
}
