//! A linear-chain conditional random field (CRF) over the tagger's per-token
//! tag scores, trained by its exact log-likelihood and decoded by Viterbi.
//!
//! With emissions `e [n, O]` (the RNN's logits) and learned transition scores
//! `a [O, O]` (previous tag, next tag), start scores `s [O]` and end scores
//! `f [O]`, a tag path `y` scores
//!
//! ```text
//! score(y) = s[y_0] + sum_t e[t, y_t] + sum_{t>=1} a[y_{t-1}, y_t] + f[y_{n-1}]
//! p(y | x) = exp(score(y)) / Z,   Z = sum over all O^n paths of exp(score)
//! E        = log Z - score(gold)                      (negative log-likelihood)
//! ```
//!
//! `log Z` comes from the forward recursion, the gradients from the
//! forward-backward marginals:
//!
//! ```text
//! dE/de[t, j]   = p(y_t = j) - [gold_t = j]
//! dE/da[i, j]   = sum_{t>=1} p(y_{t-1} = i, y_t = j) - #{t: gold_{t-1} = i, gold_t = j}
//! dE/ds[j]      = p(y_0 = j) - [gold_0 = j]
//! dE/df[j]      = p(y_{n-1} = j) - [gold_{n-1} = j]
//! ```
//!
//! The parameters are one flat buffer `[s (O) | a (O*O) | f (O)]`, saved under
//! the names pytorch-crf uses (`crf.start_transitions`, `crf.transitions`,
//! `crf.end_transitions`). All sums are done in `f64`.

use crate::kernels::float::Float;

/// The number of CRF parameters for `o` tags: start, transitions, end.
pub fn num_params(o: usize) -> usize {
    o + o * o + o
}

/// Names and shapes of the parameter tensors, in buffer order.
pub fn param_names(o: usize) -> [(&'static str, Vec<usize>); 3] {
    [
        ("crf.start_transitions", vec![o]),
        ("crf.transitions", vec![o, o]),
        ("crf.end_transitions", vec![o]),
    ]
}

/// Views of a parameter buffer: `(s [O], a [O, O], f [O])` as `f64`.
fn split<T: Float>(p: &[T], o: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    assert_eq!(p.len(), num_params(o), "CRF parameters for {o} tags");
    let v: Vec<f64> = p.iter().map(|x| x.f64()).collect();
    (
        v[..o].to_vec(),
        v[o..o + o * o].to_vec(),
        v[o + o * o..].to_vec(),
    )
}

fn lse(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Forward log-scores of a sentence: `alpha[t, j]` = log-sum of the scores
/// of paths `y_0..y_t` ending in `j` (emission `e[t, j]` included).
/// Returns `(alpha [n, O], log Z)`.
fn forward(e: &[f64], o: usize, s: &[f64], a: &[f64], f: &[f64]) -> (Vec<f64>, f64) {
    let n = e.len() / o;
    let mut alpha = vec![0.0; n * o];
    // alpha[0, j] = s[j] + e[0, j]
    for j in 0..o {
        alpha[j] = s[j] + e[j];
    }
    // alpha[t, j] = e[t, j] + log sum_i exp(alpha[t-1, i] + a[i, j])
    for t in 1..n {
        for j in 0..o {
            let prev = &alpha[(t - 1) * o..t * o];
            alpha[t * o + j] = e[t * o + j] + lse((0..o).map(|i| prev[i] + a[i * o + j]));
        }
    }
    // log Z = log sum_j exp(alpha[n-1, j] + f[j])
    let log_z = lse((0..o).map(|j| alpha[(n - 1) * o + j] + f[j]));
    (alpha, log_z)
}

/// Forward and backward log-scores of a sentence: `alpha` as in [`forward`],
/// `beta[t, j]` = log-sum of the scores of the continuations `y_{t+1}..`
/// from `y_t = j` (end score included).
/// Returns `(alpha [n, O], beta [n, O], log Z)`.
fn forward_backward(
    e: &[f64],
    o: usize,
    s: &[f64],
    a: &[f64],
    f: &[f64],
) -> (Vec<f64>, Vec<f64>, f64) {
    let n = e.len() / o;
    let (alpha, log_z) = forward(e, o, s, a, f);
    let mut beta = vec![0.0; n * o];
    // beta[n-1, i] = f[i];  beta[t, i] = log sum_j exp(a[i, j] + e[t+1, j] + beta[t+1, j])
    beta[(n - 1) * o..].copy_from_slice(f);
    for t in (0..n - 1).rev() {
        for i in 0..o {
            let next = (t + 1) * o;
            beta[t * o + i] = lse((0..o).map(|j| a[i * o + j] + e[next + j] + beta[next + j]));
        }
    }
    (alpha, beta, log_z)
}

/// The score of one tag path (see the module docs).
fn path_score(e: &[f64], o: usize, s: &[f64], a: &[f64], f: &[f64], y: &[usize]) -> f64 {
    let n = y.len();
    let mut sc = s[y[0]] + f[y[n - 1]];
    for t in 0..n {
        sc += e[t * o + y[t]];
        if t > 0 {
            sc += a[y[t - 1] * o + y[t]];
        }
    }
    sc
}

/// The negative log-likelihood of the gold path `gold [n]` under emissions
/// `emissions [n, O]` and parameters `params`, with its gradient times
/// `scale` *added* to `d_emissions [n, O]` and `d_params` (both as long as
/// their inputs). An empty sentence has loss 0.
pub(crate) fn nll_and_grad<T: Float>(
    params: &[T],
    emissions: &[T],
    o: usize,
    gold: &[usize],
    scale: f64,
    d_emissions: &mut [T],
    d_params: &mut [T],
) -> f64 {
    let n = gold.len();
    if n == 0 {
        return 0.0;
    }
    let (s, a, f) = split(params, o);
    let e: Vec<f64> = emissions.iter().map(|x| x.f64()).collect();
    let (alpha, beta, log_z) = forward_backward(&e, o, &s, &a, &f);
    let add = |d: &mut T, v: f64| *d += T::of(scale * v);
    for t in 0..n {
        for j in 0..o {
            // p(y_t = j) = exp(alpha[t, j] + beta[t, j] - log Z)
            let p = (alpha[t * o + j] + beta[t * o + j] - log_z).exp();
            let gold_here = if gold[t] == j { 1.0 } else { 0.0 };
            add(&mut d_emissions[t * o + j], p - gold_here);
            if t == 0 {
                add(&mut d_params[j], p - gold_here); // dE/ds[j]
            }
            if t == n - 1 {
                add(&mut d_params[o + o * o + j], p - gold_here); // dE/df[j]
            }
        }
        if t > 0 {
            // p(y_{t-1} = i, y_t = j) = exp(alpha[t-1, i] + a[i, j] + e[t, j] + beta[t, j] - log Z)
            for i in 0..o {
                for j in 0..o {
                    let p =
                        (alpha[(t - 1) * o + i] + a[i * o + j] + e[t * o + j] + beta[t * o + j]
                            - log_z)
                            .exp();
                    add(&mut d_params[o + i * o + j], p);
                }
            }
            add(&mut d_params[o + gold[t - 1] * o + gold[t]], -1.0);
        }
    }
    log_z - path_score(&e, o, &s, &a, &f, gold)
}

/// The negative log-likelihood of the gold path alone (no gradient).
pub(crate) fn nll<T: Float>(params: &[T], emissions: &[T], o: usize, gold: &[usize]) -> f64 {
    if gold.is_empty() {
        return 0.0;
    }
    let (s, a, f) = split(params, o);
    let e: Vec<f64> = emissions.iter().map(|x| x.f64()).collect();
    let (_, log_z) = forward(&e, o, &s, &a, &f);
    log_z - path_score(&e, o, &s, &a, &f, gold)
}

/// The tag marginals `p(y_t = j | x)` `[n, O]` of a sentence.
pub(crate) fn marginals<T: Float>(params: &[T], emissions: &[T], o: usize) -> Vec<f64> {
    if emissions.is_empty() {
        return Vec::new();
    }
    let (s, a, f) = split(params, o);
    let e: Vec<f64> = emissions.iter().map(|x| x.f64()).collect();
    let (alpha, beta, log_z) = forward_backward(&e, o, &s, &a, &f);
    alpha
        .iter()
        .zip(&beta)
        .map(|(al, be)| (al + be - log_z).exp())
        .collect()
}

/// The best tag path: argmax over `y` of
/// `sum_t scores[t, y_t] + sum_{t>=1} a[y_{t-1}, y_t] + s[y_0] + f[y_{n-1}]`,
/// where the transition terms come from `params` (a CRF's buffer; `None`: all
/// zero) and only paths allowed by `allowed[prev * O + next]` (row `O` =
/// sentence start; `None`: all) are considered. `scores` is `[n, O]`.
pub(crate) fn viterbi(
    scores: &[f64],
    o: usize,
    params: Option<&[f32]>,
    allowed: Option<&[bool]>,
) -> Vec<usize> {
    let n = scores.len() / o.max(1);
    if n == 0 {
        return Vec::new();
    }
    let (s, a, f) = match params {
        Some(p) => split(p, o),
        None => (vec![0.0; o], vec![0.0; o * o], vec![0.0; o]),
    };
    let ok = |p: usize, j: usize| allowed.is_none_or(|al| al[p * o + j]);
    let neg = f64::NEG_INFINITY;
    // best[j]: the best score of a path ending in tag j at the current t
    let mut best: Vec<f64> = (0..o)
        .map(|j| if ok(o, j) { s[j] + scores[j] } else { neg })
        .collect();
    let mut back = vec![0usize; n * o];
    let mut next = vec![neg; o];
    for t in 1..n {
        next.fill(neg);
        for j in 0..o {
            for p in 0..o {
                let v = best[p] + a[p * o + j] + scores[t * o + j];
                if ok(p, j) && v > next[j] {
                    next[j] = v;
                    back[t * o + j] = p;
                }
            }
        }
        std::mem::swap(&mut best, &mut next);
    }
    let mut last = 0;
    for j in 0..o {
        if best[j] + f[j] > best[last] + f[last] {
            last = j;
        }
    }
    let mut path = vec![0; n];
    for t in (0..n).rev() {
        path[t] = last;
        last = back[t * o + last];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every path of length n over o tags.
    fn all_paths(n: usize, o: usize) -> Vec<Vec<usize>> {
        (0..o.pow(n as u32))
            .map(|mut k| {
                (0..n)
                    .map(|_| {
                        let y = k % o;
                        k /= o;
                        y
                    })
                    .collect()
            })
            .collect()
    }

    fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    #[test]
    fn likelihood_and_marginals_match_enumeration() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (n, o) = (4, 3);
        let p = random(num_params(o), &mut rng);
        let e = random(n * o, &mut rng);
        let (s, a, f) = split(&p, o);
        let paths = all_paths(n, o);
        let scores: Vec<f64> = paths
            .iter()
            .map(|y| path_score(&e, o, &s, &a, &f, y))
            .collect();
        let log_z = scores.iter().map(|x| x.exp()).sum::<f64>().ln();
        let gold = [2, 0, 1, 1];
        let (mut de, mut dp) = (vec![0.0; n * o], vec![0.0; p.len()]);
        let nll = nll_and_grad(&p, &e, o, &gold, 1.0, &mut de, &mut dp);
        assert_eq!(nll, super::nll(&p, &e, o, &gold));
        let gold_score = path_score(&e, o, &s, &a, &f, &gold);
        assert!((nll - (log_z - gold_score)).abs() < 1e-12, "{nll}");
        // marginals: sum of p(path) over paths through (t, j)
        let m = marginals(&p, &e, o);
        for t in 0..n {
            for j in 0..o {
                let want: f64 = paths
                    .iter()
                    .zip(&scores)
                    .filter(|(y, _)| y[t] == j)
                    .map(|(_, sc)| (sc - log_z).exp())
                    .sum();
                assert!((m[t * o + j] - want).abs() < 1e-12, "t {t} j {j}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (n, o) = (5, 4);
        let p = random(num_params(o), &mut rng);
        let e = random(n * o, &mut rng);
        let gold = [0, 3, 3, 1, 2];
        let (mut de, mut dp) = (vec![0.0; n * o], vec![0.0; p.len()]);
        nll_and_grad(&p, &e, o, &gold, 1.0, &mut de, &mut dp);
        let loss = |p: &[f64], e: &[f64]| {
            let (mut a, mut b) = (vec![0.0; e.len()], vec![0.0; p.len()]);
            nll_and_grad(p, e, o, &gold, 1.0, &mut a, &mut b)
        };
        let eps = 1e-6;
        for k in 0..p.len() {
            let (mut hi, mut lo) = (p.clone(), p.clone());
            hi[k] += eps;
            lo[k] -= eps;
            let fd = (loss(&hi, &e) - loss(&lo, &e)) / (2.0 * eps);
            assert!((fd - dp[k]).abs() < 1e-7, "param {k}: fd {fd} vs {}", dp[k]);
        }
        for k in 0..e.len() {
            let (mut hi, mut lo) = (e.clone(), e.clone());
            hi[k] += eps;
            lo[k] -= eps;
            let fd = (loss(&p, &hi) - loss(&p, &lo)) / (2.0 * eps);
            assert!(
                (fd - de[k]).abs() < 1e-7,
                "emission {k}: fd {fd} vs {}",
                de[k]
            );
        }
        // accumulation: a second call with scale 0.5 adds half the gradient
        let (de1, dp1) = (de.clone(), dp.clone());
        nll_and_grad(&p, &e, o, &gold, 0.5, &mut de, &mut dp);
        for (x, y) in de.iter().zip(&de1).chain(dp.iter().zip(&dp1)) {
            assert!((x - 1.5 * y).abs() < 1e-12);
        }
    }

    #[test]
    fn viterbi_is_the_best_allowed_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let (n, o) = (4, 3);
        for trial in 0..20 {
            let p: Vec<f32> = random(num_params(o), &mut rng)
                .iter()
                .map(|&x| x as f32)
                .collect();
            let e = random(n * o, &mut rng);
            // forbid tag 1 after tag 2 and tag 0 at the start
            let mut allowed = vec![true; (o + 1) * o];
            allowed[2 * o + 1] = false;
            allowed[o * o] = false;
            let (s, a, f) = split(&p, o);
            let ok = |y: &Vec<usize>| y[0] != 0 && y.windows(2).all(|w| !(w[0] == 2 && w[1] == 1));
            let best = all_paths(n, o)
                .into_iter()
                .filter(ok)
                .max_by(|x, y| {
                    path_score(&e, o, &s, &a, &f, x).total_cmp(&path_score(&e, o, &s, &a, &f, y))
                })
                .unwrap();
            assert_eq!(
                viterbi(&e, o, Some(&p), Some(&allowed)),
                best,
                "trial {trial}"
            );
        }
    }

    #[test]
    fn two_tag_case_by_hand() {
        // n = 2, O = 2, e = [[0, 0], [0, 0]], s = f = 0, a = [[ln 3, 0], [0, 0]]:
        // paths 00, 01, 10, 11 score ln 3, 0, 0, 0, so Z = 3 + 1 + 1 + 1 = 6 and
        // E(gold 00) = ln 6 - ln 3 = ln 2; p(y_0 = 0) = (3 + 1) / 6 = 2/3.
        let p = [0.0, 0.0, 3f64.ln(), 0.0, 0.0, 0.0, 0.0, 0.0];
        let e = [0.0; 4];
        let (mut de, mut dp) = ([0.0; 4], [0.0; 8]);
        let nll = nll_and_grad(&p, &e, 2, &[0, 0], 1.0, &mut de, &mut dp);
        assert!((nll - 2f64.ln()).abs() < 1e-15);
        let m = marginals(&p, &e, 2);
        assert!((m[0] - 2.0 / 3.0).abs() < 1e-15);
        // dE/da[0,0] = p(00) - 1 = 3/6 - 1
        assert!((dp[2] + 0.5).abs() < 1e-15);
    }
}
