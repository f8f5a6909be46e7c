//! Seeded samples of the normal law, for tests, self-checks and benchmarks: one sampler
//! everywhere, so a seed names the same values in every crate.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `count` samples of N(0, 1) from a ChaCha8 generator seeded with `seed`.
pub fn standard_normal(count: usize, seed: u64) -> Vec<f32> {
    standard_normal_from(&mut ChaCha8Rng::seed_from_u64(seed), count)
}

/// `count` samples of N(0, 1) drawn from `rng` (Box–Muller, one sample per pair of draws).
pub fn standard_normal_from(rng: &mut ChaCha8Rng, count: usize) -> Vec<f32> {
    (0..count)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}
