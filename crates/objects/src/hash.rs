//! Python's hash functions: numbers hash by value modulo the Mersenne prime 2^61 - 1, so
//! that `1`, `1.0` and `True` hash alike (they are equal); strings and bytes by SipHash;
//! tuples by CPython's xxHash-based combination of their items' hashes.

use core::hash::Hasher;

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

/// The modulus of numeric hashes (CPython's `_PyHASH_MODULUS`).
const MODULUS: u64 = (1 << 61) - 1;
/// Bits of the modulus.
const BITS: u32 = 61;
/// The hash of positive infinity (`_PyHASH_INF`).
const INF: i64 = 314_159;

/// A hash of -1 means an error in CPython's C API, so no object hashes to -1.
fn fix(h: i64) -> i64 {
    if h == -1 { -2 } else { h }
}

/// The hash of an integer that fits in 64 bits.
pub(crate) fn hash_i64(v: i64) -> i64 {
    let m = v.unsigned_abs() % MODULUS;
    fix(if v < 0 { -(m as i64) } else { m as i64 })
}

/// The hash of an arbitrary-precision integer.
pub(crate) fn hash_big(v: &BigInt) -> i64 {
    let m = (v.abs() % MODULUS).to_u64().unwrap_or(0) as i64;
    fix(if v.is_negative() { -m } else { m })
}

/// The hash of a float (CPython's `_Py_HashDouble`): equal to the hash of the integer it
/// equals, when it is integral. NaN hashes to 0 (Python before 3.10).
pub(crate) fn hash_f64(v: f64) -> i64 {
    if v.is_nan() {
        return 0;
    }
    if v.is_infinite() {
        return if v > 0.0 { INF } else { -INF };
    }
    let (mut m, mut e) = frexp(v.abs());
    let sign: i64 = if v < 0.0 { -1 } else { 1 };
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & MODULUS) | (x >> (BITS - 28));
        m *= 268_435_456.0; // 2^28
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= MODULUS {
            x -= MODULUS;
        }
    }
    let e = if e >= 0 {
        e as u32 % BITS
    } else {
        BITS - 1 - ((-1 - e) as u32 % BITS)
    };
    x = ((x << e) & MODULUS) | (x >> (BITS - e));
    fix(x as i64 * sign)
}

/// `v = m * 2^e` with `0.5 <= m < 1` (C's `frexp`), for finite positive `v`.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 {
        return (0.0, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(v * f64::from_bits(0x4350_0000_0000_0000)); // 2^54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// The hash of a string's or bytes' contents: SipHash-1-3 with fixed keys, so hashes are
/// the same in every run (Python randomises them per process).
pub(crate) fn hash_bytes(b: &[u8]) -> i64 {
    #[allow(deprecated)]
    let mut h = core::hash::SipHasher::new();
    h.write(b);
    fix(h.finish() as i64)
}

/// CPython's tuple hash (`tuplehash`, xxHash's mixing) over the items' hashes.
pub(crate) struct TupleHasher {
    acc: u64,
    len: u64,
}

const XXPRIME_1: u64 = 11_400_714_785_074_694_791;
const XXPRIME_2: u64 = 14_029_467_366_897_019_727;
const XXPRIME_5: u64 = 2_870_177_450_012_600_261;

impl TupleHasher {
    pub(crate) fn new() -> TupleHasher {
        TupleHasher {
            acc: XXPRIME_5,
            len: 0,
        }
    }

    pub(crate) fn add(&mut self, item_hash: i64) {
        let lane = item_hash as u64;
        self.acc = self.acc.wrapping_add(lane.wrapping_mul(XXPRIME_2));
        self.acc = self.acc.rotate_left(31);
        self.acc = self.acc.wrapping_mul(XXPRIME_1);
        self.len += 1;
    }

    pub(crate) fn finish(self) -> i64 {
        let acc = self.acc.wrapping_add(self.len ^ (XXPRIME_5 ^ 3_527_539));
        if acc == u64::MAX {
            1_546_275_796
        } else {
            acc as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by CPython 3.11.
    #[test]
    fn numeric_hashes_are_pythons() {
        assert_eq!(hash_i64(1), 1);
        assert_eq!(hash_i64(-1), -2);
        assert_eq!(hash_i64(1 << 61), 1);
        assert_eq!(hash_i64(i64::MIN), -4);
        assert_eq!(hash_f64(1.0), 1);
        assert_eq!(hash_f64(0.5), 1_152_921_504_606_846_976);
        assert_eq!(hash_f64(-1.5), -1_152_921_504_606_846_977);
        assert_eq!(hash_f64(1e100), 1_822_893_315_824_342_674);
        assert_eq!(hash_f64(5e-324), 16_777_216);
        assert_eq!(hash_f64(1e-300), 482_449_582_752_280_463);
        assert_eq!(hash_f64(f64::INFINITY), 314_159);
        assert_eq!(hash_big(&(BigInt::from(1) << 100usize)), 549_755_813_888);
        assert_eq!(hash_big(&-(BigInt::from(1) << 100usize)), -549_755_813_888);
    }

    #[test]
    fn tuple_hashes_are_pythons() {
        let mut h = TupleHasher::new();
        h.add(1);
        h.add(2);
        assert_eq!(h.finish(), -3_550_055_125_485_641_917); // hash((1, 2))
        assert_eq!(TupleHasher::new().finish(), 5_740_354_900_026_072_187); // hash(())
    }
}
