//! The nearest-neighbour member of a classifier's ensemble: 1-NN with
//! dynamic time warping turned into class probabilities, and how the
//! ensemble's groups (networks, reservoirs, this member) are weighted.
//!
//! For a sequence `x` let `d_c` be the DTW distance ([`super::dtw_band`]) to
//! the nearest training sequence of class `c` and `d = min_c d_c`. The
//! member's probabilities are
//!
//! ```text
//! p_c = exp(-beta (d_c / d - 1)) / sum_k exp(-beta (d_k / d - 1))
//! ```
//!
//! (distances relative to the nearest, so one `beta` serves short and long
//! sequences alike; its most probable class is the 1-NN DTW class).
//! `beta` is chosen from [`BETAS`] by the leave-one-out cross-entropy over
//! the training set (each training sequence classified by all the others),
//! and the leave-one-out accuracy estimates the member's accuracy.
//!
//! The groups are weighted by their estimated accuracy to the power
//! [`WEIGHT_POWER`] (CAWPE: Large, Lines and Bagnall, "A probabilistic
//! classifier ensemble weighting scheme based on cross-validated accuracy
//! estimates", 2019, whose default power is 4): the networks by their mean
//! validation accuracy, the reservoirs by their readouts' mean leave-one-out
//! accuracy, this member by its leave-one-out accuracy. A group clearly
//! less accurate than the others counts little; equally accurate ones
//! count equally.

use super::baselines::class_distances;
use super::data::Sequence;
use super::dtw::DtwWindow;
use super::meta::NearestMeta;

/// The values of `beta` tried, `2^-2 .. 2^8`.
pub const BETAS: [f64; 11] = [
    0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0,
];

/// The power of the estimated accuracies that weights the groups.
pub const WEIGHT_POWER: i32 = 4;

/// Probabilities below this count as this in the cross-entropy (a class
/// whose only training sequence is left out has probability 0).
const FLOOR: f64 = 1e-12;

/// The member's class probabilities from the distances `dist[c]` to the
/// nearest training sequence of each class (module docs): a class at
/// infinite distance gets 0; when the nearest is at distance 0, the classes
/// at distance 0 share the probability equally; when every distance is
/// infinite (no training sequence), every class gets `1 / C`.
///
/// ```
/// use rnn::tasks::classify::distance_probabilities;
/// // d = (1, 2): p = (1, e^-1) / (1 + e^-1) at beta 1
/// let p = distance_probabilities(&[1.0, 2.0], 1.0);
/// let e = (-1f64).exp();
/// assert!((p[0] - 1.0 / (1.0 + e)).abs() < 1e-15 && (p[1] - e / (1.0 + e)).abs() < 1e-15);
/// // relative distances: (10, 20) gives the same
/// assert_eq!(distance_probabilities(&[10.0, 20.0], 1.0), p);
/// assert_eq!(distance_probabilities(&[0.0, 3.0, 0.0], 1.0), [0.5, 0.0, 0.5]);
/// ```
pub fn distance_probabilities(dist: &[f64], beta: f64) -> Vec<f64> {
    let c = dist.len();
    let nearest = dist.iter().copied().fold(f64::INFINITY, f64::min);
    if !nearest.is_finite() {
        return vec![1.0 / c.max(1) as f64; c];
    }
    // -beta (d_c / d - 1): 0 for the nearest class, below it for the others
    let logit = |dc: f64| -> f64 {
        if dc == nearest {
            0.0
        } else if nearest == 0.0 || !dc.is_finite() {
            f64::NEG_INFINITY
        } else {
            -beta * (dc / nearest - 1.0)
        }
    };
    let e: Vec<f64> = dist.iter().map(|&dc| logit(dc).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// The 1-NN class of one query from its per-class nearest
/// ([`class_distances`], one (distance, training index) pair per class):
/// the class of the smallest pair, so ties go to the first training
/// sequence as in plain 1-NN.
fn nearest_class(row: &[(f64, usize)]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, (f64::INFINITY, usize::MAX)), |best, (k, &p)| {
            if p < best.1 {
                (k, p)
            } else {
                best
            }
        })
        .0
}

/// Fits the member on the training sequences `train` (classes `classes`,
/// `c` of them, `d` values per frame): the band by [`DtwWindow::Auto`] over
/// the training set against itself, the leave-one-out 1-NN accuracy, and
/// `beta` by the leave-one-out cross-entropy (the first of [`BETAS`] on
/// ties).
pub(super) fn fit(train: &[Sequence], classes: &[usize], c: usize, d: usize) -> NearestMeta {
    let steps: Vec<usize> = train.iter().map(|s| s.steps).collect();
    let band = DtwWindow::Auto.band(&steps, &steps);
    let loo = class_distances(
        train,
        classes,
        c,
        train,
        d,
        band.unwrap_or(usize::MAX),
        true,
    );
    let n = train.len().max(1) as f64;
    let hits = loo
        .iter()
        .zip(classes)
        .filter(|(row, &y)| nearest_class(row) == y)
        .count();
    let dists: Vec<Vec<f64>> = loo
        .iter()
        .map(|row| row.iter().map(|p| p.0).collect())
        .collect();
    let loss = |beta: f64| -> f64 {
        dists
            .iter()
            .zip(classes)
            .map(|(row, &y)| -distance_probabilities(row, beta)[y].max(FLOOR).ln())
            .sum::<f64>()
            / n
    };
    let (beta, loo_loss) =
        BETAS
            .iter()
            .map(|&b| (b, loss(b)))
            .fold((BETAS[0], f64::INFINITY), |best, (b, l)| {
                if l < best.1 {
                    (b, l)
                } else {
                    best
                }
            });
    NearestMeta {
        band,
        beta,
        loo_accuracy: hits as f64 / n,
        // -ln 1 is -0: printed as -0.0000 without this
        loo_loss: loo_loss + 0.0,
    }
}

/// The nearest training sequence of each class for every sequence of
/// `data` ([`class_distances`] in the member's band), `[N][C]` pairs of
/// (distance, training index), against the training sequences `train`
/// (classes `classes`).
pub(super) fn distances(
    meta: &NearestMeta,
    train: &[Sequence],
    classes: &[usize],
    c: usize,
    data: &[Sequence],
    d: usize,
) -> Vec<Vec<(f64, usize)>> {
    let band = meta.band.unwrap_or(usize::MAX);
    class_distances(train, classes, c, data, d, band, false)
}

/// The member's probabilities, `[N, C]`, from the per-class nearest
/// `rows` of [`distances`].
pub(super) fn probabilities(meta: &NearestMeta, rows: &[Vec<(f64, usize)>]) -> Vec<f64> {
    rows.iter()
        .flat_map(|row| {
            let dist: Vec<f64> = row.iter().map(|p| p.0).collect();
            distance_probabilities(&dist, meta.beta)
        })
        .collect()
}

/// The plain 1-NN class of each row of [`distances`] (the class of the
/// nearest training sequence, the first in training order on ties): what
/// the 1-NN DTW baseline predicts in the same band, without searching
/// again. `None` for a row with no finite distance.
pub(super) fn nearest_classes(rows: &[Vec<(f64, usize)>]) -> Vec<Option<usize>> {
    rows.iter()
        .map(|row| {
            let k = nearest_class(row);
            row.get(k).filter(|p| p.1 != usize::MAX).map(|_| k)
        })
        .collect()
}

/// The weights of groups whose estimated accuracies are `accuracies`
/// (module docs): `a_g^4 / sum_k a_k^4`; equal weights when an estimate is
/// missing or all are 0.
///
/// ```
/// use rnn::tasks::classify::group_weights;
/// // 0.5^4 = 1/16 against 1: weights 1/17 and 16/17
/// let w = group_weights(&[Some(0.5), Some(1.0)]);
/// assert!((w[0] - 1.0 / 17.0).abs() < 1e-15 && (w[1] - 16.0 / 17.0).abs() < 1e-15);
/// assert_eq!(group_weights(&[None, Some(1.0)]), [0.5, 0.5]);
/// ```
pub fn group_weights(accuracies: &[Option<f64>]) -> Vec<f64> {
    let g = accuracies.len().max(1) as f64;
    let raw: Option<Vec<f64>> = accuracies
        .iter()
        .map(|a| a.map(|a| a.clamp(0.0, 1.0).powi(WEIGHT_POWER)))
        .collect();
    match raw {
        Some(w) if w.iter().sum::<f64>() > 0.0 => {
            let sum: f64 = w.iter().sum();
            w.into_iter().map(|v| v / sum).collect()
        }
        _ => vec![1.0 / g; accuracies.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f64]) -> Sequence {
        Sequence {
            values: values.to_vec(),
            steps: values.len(),
            label: None,
            line: 1,
            id: String::new(),
        }
    }

    #[test]
    fn a_set_dtw_separates_is_fitted_sharp_and_every_left_out_sequence_is_right() {
        // class 0 rises, class 1 falls, at different speeds and lengths,
        // never exactly alike (a distance 0 would make every beta equal):
        // every left-out sequence's nearest is of its own class
        let train = vec![
            seq(&[0.0, 1.0, 2.0, 3.1]),
            seq(&[0.2, 0.0, 1.0, 2.0, 3.0]),
            seq(&[0.0, 1.0, 1.3, 2.0, 3.0, 3.0]),
            seq(&[3.0, 2.0, 1.1, 0.0]),
            seq(&[3.0, 3.2, 2.0, 1.0, 0.0]),
            seq(&[3.0, 2.0, 2.0, 1.0, 0.4, 0.0]),
        ];
        let classes = [0, 0, 0, 1, 1, 1];
        let m = fit(&train, &classes, 2, 1);
        assert_eq!(m.loo_accuracy, 1.0);
        assert_eq!(m.band, None); // a tiny set: the full window
                                  // every nearest is right and far nearer than the other class: the
                                  // left-out sequences are classified with (almost) no loss
        assert!(m.loo_loss < 1e-9, "{m:?}");
        let p = probabilities(
            &m,
            &distances(&m, &train, &classes, 2, &[seq(&[0.0, 2.0, 3.0])], 1),
        );
        assert!(p[0] > 0.99 && (p[0] + p[1] - 1.0).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn a_set_whose_nearest_neighbours_mislead_is_fitted_flat() {
        // alternating labels along one line: each left-out sequence's two
        // nearest are of the other class, so confident answers are wrong
        let train: Vec<Sequence> = (0..12).map(|i| seq(&[i as f64; 3])).collect();
        let classes: Vec<usize> = (0..12).map(|i| i % 2).collect();
        let m = fit(&train, &classes, 2, 1);
        assert_eq!(m.loo_accuracy, 0.0);
        assert_eq!(m.beta, BETAS[0]);
        // flat: no probability far from one half (queries between the
        // training sequences; squared differences 0.16 and 0.36 to the
        // two nearest, so p = 1 / (1 + exp(-0.25 * 1.25)) = 0.58)
        let queries: Vec<Sequence> = (0..11).map(|i| seq(&[i as f64 + 0.4; 3])).collect();
        for row in probabilities(&m, &distances(&m, &train, &classes, 2, &queries, 1)).chunks(2) {
            assert!((row[0] - 0.5).abs() < 0.1, "{row:?}");
        }
    }

    #[test]
    fn a_class_whose_only_sequence_is_left_out_costs_the_floor_not_infinity() {
        let train = vec![seq(&[0.0, 0.0]), seq(&[0.0, 0.1]), seq(&[5.0, 5.0])];
        let m = fit(&train, &[0, 0, 1], 2, 1);
        assert!(m.loo_loss.is_finite());
        assert!((m.loo_accuracy - 2.0 / 3.0).abs() < 1e-15);
    }
}
