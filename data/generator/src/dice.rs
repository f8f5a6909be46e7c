//! The one source of randomness: ChaCha8 seeded from a fixed number, one stream per
//! (task, split).
//!
//! Every draw goes through `next_u64` and plain arithmetic here rather than through `rand`'s
//! distribution helpers, whose algorithms may change between `rand` releases; ChaCha8's
//! output for a given seed and stream is fixed by its specification, so the committed files
//! stay reproducible as long as this module does not change.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug)]
pub struct Dice(ChaCha8Rng);

impl Dice {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Dice(rng)
    }

    /// A number in `0..n`. The modulo bias (below 2^-40 for the small `n` used here) does
    /// not matter for synthetic text.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "cannot draw from an empty range");
        (self.0.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i32, hi: i32) -> i32 {
        assert!(lo <= hi, "empty range `{lo}..={hi}`");
        let width = (hi - lo) as usize + 1;
        lo + self.below(width) as i32
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An index drawn with probability proportional to its weight.
    pub fn weighted(&mut self, weights: &[usize]) -> usize {
        let total: usize = weights.iter().sum();
        let mut draw = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            if draw < *weight {
                return index;
            }
            draw -= weight;
        }
        unreachable!("a draw below the total weight falls in some bucket")
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// `k` distinct items (fewer if `items` is shorter), in random order.
    pub fn sample<T: Copy>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        self.shuffle(&mut pool);
        pool.truncate(k);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_stream_give_the_same_draws() {
        let mut a = Dice::new(7, 3);
        let mut b = Dice::new(7, 3);
        let draws_a: Vec<usize> = (0..32).map(|_| a.below(1000)).collect();
        let draws_b: Vec<usize> = (0..32).map(|_| b.below(1000)).collect();
        assert_eq!(draws_a, draws_b);
    }

    #[test]
    fn streams_are_independent() {
        let mut a = Dice::new(7, 3);
        let mut b = Dice::new(7, 4);
        let draws_a: Vec<usize> = (0..32).map(|_| a.below(1000)).collect();
        let draws_b: Vec<usize> = (0..32).map(|_| b.below(1000)).collect();
        assert_ne!(draws_a, draws_b);
    }

    #[test]
    fn sample_returns_distinct_items() {
        let mut dice = Dice::new(1, 0);
        let items: Vec<u32> = (0..10).collect();
        let mut drawn = dice.sample(&items, 6);
        drawn.sort_unstable();
        drawn.dedup();
        assert_eq!(drawn.len(), 6);
    }

    #[test]
    fn range_stays_inside_its_bounds_and_reaches_both() {
        let mut dice = Dice::new(2, 0);
        let draws: Vec<i32> = (0..500).map(|_| dice.range(-2, 2)).collect();
        assert!(draws.iter().all(|d| (-2..=2).contains(d)));
        assert!(draws.contains(&-2) && draws.contains(&2));
    }
}
