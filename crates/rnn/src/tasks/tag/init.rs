//! Random initialisation of embedding rows, shared by the word features and
//! the character encoder.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of new embedding rows for `seed`.
pub(super) fn embedding_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e4b3)
}

/// Fills embedding rows of size `dim` with U(-a, a), a = sqrt(3 / dim): unit
/// variance per vector.
pub(super) fn init_rows(rows: &mut [f32], dim: usize, rng: &mut ChaCha8Rng) {
    let a = (3.0 / dim as f32).sqrt();
    for v in rows {
        *v = rng.random_range(-a..a);
    }
}
