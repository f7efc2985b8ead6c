//! Training-time augmentation of a sequence each time it is read: a random
//! crop of its steps ([`TrainConfig::crop`]) and a random gain on its
//! normalised inputs ([`TrainConfig::scale`]). Its class is unchanged; the
//! validation and test sequences are always read whole and as they are.

use super::batch::Window;
use super::config::TrainConfig;
use rand::Rng;

/// What sequence `seq` of `steps` steps becomes this time: the window of
/// its steps read and the gain on its inputs. A cut of `0..=floor(crop *
/// steps)` steps (uniform) is split at random between the two ends, so the
/// window keeps at least `steps - floor(crop * steps)` steps and never
/// fewer than one; the gain is `exp(scale * z)`, `z` standard normal. With
/// `crop` or `scale` 0 nothing is drawn for it (the window is whole, the
/// gain 1), so a run without augmentation draws the same numbers as before.
///
/// ```
/// use rand::SeedableRng;
/// use rnn::tasks::classify::{augment, TrainConfig, Window};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let plain = TrainConfig::default();
/// assert_eq!(augment(&plain, 3, 10, &mut rng), (Window { seq: 3, start: 0, len: 10 }, 1.0));
/// let cfg = TrainConfig { crop: 0.2, scale: 0.1, ..plain };
/// for _ in 0..100 {
///     let (w, g) = augment(&cfg, 3, 10, &mut rng);
///     assert!(w.len >= 8 && w.start + w.len <= 10, "{w:?}");
///     assert!(g > 0.5 && g < 2.0);
/// }
/// ```
pub fn augment(
    config: &TrainConfig,
    seq: usize,
    steps: usize,
    rng: &mut impl Rng,
) -> (Window, f32) {
    let mut window = Window {
        seq,
        start: 0,
        len: steps.max(1),
    };
    if config.crop > 0.0 {
        let most = ((config.crop * steps as f64).floor() as usize).min(steps.saturating_sub(1));
        let cut = rng.random_range(0..=most);
        window.start = rng.random_range(0..=cut);
        window.len = steps - cut;
    }
    let mut gain = 1.0;
    if config.scale > 0.0 {
        gain = (config.scale * standard_normal(rng)).exp() as f32;
    }
    (window, gain)
}

/// A standard normal draw by Box-Muller, from two uniforms drawn in turn (the
/// input noise and the gains both use it).
pub(crate) fn standard_normal(rng: &mut impl Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}
