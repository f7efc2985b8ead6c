//! Inverted dropout on the outputs of every layer.

use crate::nn::model::ModelConfig;
use crate::{Error, Float, Result};
use rand::Rng;

/// `v *= m` elementwise (a dropout mask on an activation or its gradient).
pub(super) fn mask_in_place<T: Float>(v: &mut [T], m: &[T]) {
    for (a, &mk) in v.iter_mut().zip(m) {
        *a *= mk;
    }
}

/// Inverted-dropout masks for [`Batch::with_dropout`](crate::nn::model::Batch::with_dropout): one `[T, B, D*H]`
/// mask per layer of `config`, each entry 0 with probability `p` and
/// `1/(1-p)` otherwise, so the expected masked output equals the output and
/// evaluation needs no rescaling. An error unless `p` is in `[0, 1)`, or
/// when the masks' size overflows.
///
/// ```
/// use rand::SeedableRng;
/// let config = rnn::ModelConfig { num_layers: 2, ..rnn::ModelConfig::elman(3, 4, 3) };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let masks: Vec<Vec<f32>> = rnn::nn::model::dropout_masks(&config, 0.5, 5, 2, &mut rng).unwrap();
/// assert_eq!(masks.len(), 2);
/// assert_eq!(masks[0].len(), 5 * 2 * 4); // [T, B, D*H]
/// assert!(masks[1].iter().all(|&m| m == 0.0 || m == 2.0));
/// let e = rnn::nn::model::dropout_masks::<f32, _>(&config, f64::NAN, 5, 2, &mut rng).unwrap_err();
/// assert_eq!(e.to_string(), "dropout p: expected a probability in [0, 1), got NaN");
/// ```
pub fn dropout_masks<T: Float, R: Rng>(
    config: &ModelConfig,
    p: f64,
    steps: usize,
    batch: usize,
    rng: &mut R,
) -> Result<Vec<Vec<T>>> {
    let n = mask_len(config, p, batch)?
        .checked_mul(steps)
        .ok_or_else(|| too_many(steps, batch))?;
    Ok((0..config.num_layers).map(|_| draw(n, p, rng)).collect())
}

/// One step's mask length `B * D * H`, after checking `p`.
fn mask_len(config: &ModelConfig, p: f64, batch: usize) -> Result<usize> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::argument("dropout p", "a probability in [0, 1)", p));
    }
    batch
        .checked_mul(config.directions())
        .and_then(|n| n.checked_mul(config.hidden_size))
        .ok_or_else(|| too_many(1, batch))
}

/// The error of masks too large to index.
fn too_many(steps: usize, batch: usize) -> Error {
    Error::argument(
        "dropout masks",
        "steps x batch x directions x hidden entries that can be indexed",
        format!("steps {steps}, batch {batch}"),
    )
}

/// Locked (variational) dropout masks, as [`dropout_masks`] but with one
/// `[B, D*H]` mask per layer repeated at every step: a unit dropped for a
/// stream stays dropped for the whole window (AWD-LSTM's locked dropout,
/// Gal and Ghahramani's variational dropout on the outputs). Same layout,
/// `[T, B, D*H]` per layer.
///
/// ```
/// use rand::SeedableRng;
/// let config = rnn::ModelConfig { num_layers: 2, ..rnn::ModelConfig::elman(3, 4, 3) };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let masks: Vec<Vec<f32>> = rnn::nn::model::locked_dropout_masks(&config, 0.5, 5, 2, &mut rng).unwrap();
/// assert_eq!(masks.len(), 2);
/// assert_eq!(masks[0].len(), 5 * 2 * 4); // [T, B, D*H]
/// let step0 = &masks[0][..8]; // [B, D*H] of step 0
/// assert!(masks[0].chunks(8).all(|step| step == step0)); // the same at every step
/// ```
pub fn locked_dropout_masks<T: Float, R: Rng>(
    config: &ModelConfig,
    p: f64,
    steps: usize,
    batch: usize,
    rng: &mut R,
) -> Result<Vec<Vec<T>>> {
    let n = mask_len(config, p, batch)?; // one step's
    n.checked_mul(steps).ok_or_else(|| too_many(steps, batch))?;
    Ok((0..config.num_layers)
        .map(|_| draw(n, p, rng).repeat(steps))
        .collect())
}

/// `n` mask entries, each 0 with probability `p` and `1/(1-p)` otherwise.
fn draw<T: Float, R: Rng>(n: usize, p: f64, rng: &mut R) -> Vec<T> {
    let mut mask = Vec::with_capacity(n);
    fill_mask(&mut mask, n, p, rng);
    mask
}

/// Refills `mask` with `n` inverted-dropout entries, each 0 with
/// probability `p` and `1/(1-p)` otherwise (one draw each, in order): the
/// rule of every dropout mask, and of weight drop's masks on `weight_hh`.
pub(crate) fn fill_mask<T: Float, R: Rng>(mask: &mut Vec<T>, n: usize, p: f64, rng: &mut R) {
    let keep = T::of(1.0 / (1.0 - p));
    mask.clear();
    mask.extend((0..n).map(|_| {
        if rng.random::<f64>() < p {
            T::zero()
        } else {
            keep
        }
    }));
}
