//! Helpers shared by the property tests.
//!
//! The finalizer tests' helpers are in `finalizers.rs`, which those tests include alone
//! (`mod common { pub(crate) mod finalizers; }`), so the property tests do not compile them.

/// xorshift64*: a small seeded generator, so a failing seed replays exactly (also under Miri,
/// where proptest is too slow).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
