//! `int` and `float`: the numeric objects. Ints of -5..=256 are preallocated, immortal and
//! shared (CPython's small-int cache); other ints and floats come from free lists. Ints
//! have arbitrary precision: past `i64` they are `BigInt`s.

use core::cell::OnceCell;
use core::cmp::Ordering;

use gcrt_derive::Trace;
use num_bigint::BigInt;
use num_traits::{ToPrimitive, Zero};
use refcount::Gc;

use crate::hash::{hash_big, hash_f64, hash_i64};

/// The small ints CPython preallocates (`_PY_NSMALLNEGINTS`, `_PY_NSMALLPOSINTS`).
pub const SMALL_INTS: core::ops::RangeInclusive<i64> = -5..=256;

/// How many blocks the int free list keeps.
pub const INT_FREE_LIST: usize = 100;
/// How many blocks the float free list keeps (CPython's `PyFloat_MAXFREELIST`).
pub const FLOAT_FREE_LIST: usize = 100;

/// An int object's value: an `i64` when it fits, a `BigInt` otherwise (never both forms
/// for one number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IntValue {
    Small(i64),
    /// Boxed: an int object stays 32 bytes, header included, whatever its size.
    Big(Box<BigInt>),
}

/// An `int` object.
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 100)]
pub struct Int {
    #[trace(skip)]
    value: IntValue,
}

/// A `float` object.
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 100)]
pub struct Float {
    value: f64,
}

const _: () = assert!(INT_FREE_LIST == 100 && FLOAT_FREE_LIST == 100);

thread_local! {
    static SMALL: OnceCell<Box<[Gc<Int>]>> = const { OnceCell::new() };
}

impl Int {
    /// The int object for `v`: the shared immortal one for a small int.
    pub(crate) fn new(v: i64) -> Gc<Int> {
        if SMALL_INTS.contains(&v)
            && let Ok(g) = SMALL.try_with(|c| {
                c.get_or_init(|| {
                    SMALL_INTS
                        .map(|v| {
                            Gc::new_immortal(Int {
                                value: IntValue::Small(v),
                            })
                        })
                        .collect()
                })[(v - SMALL_INTS.start()) as usize]
                    .clone()
            })
        {
            return g;
        }
        Gc::new(Int {
            value: IntValue::Small(v),
        })
    }

    /// The int object for `v`, in its `i64` form when it fits.
    pub(crate) fn from_big(v: BigInt) -> Gc<Int> {
        match v.to_i64() {
            Some(small) => Int::new(small),
            None => Gc::new(Int {
                value: IntValue::Big(Box::new(v)),
            }),
        }
    }

    /// The value, if it fits in an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.value {
            IntValue::Small(v) => Some(*v),
            IntValue::Big(_) => None,
        }
    }

    /// The value as a `BigInt`.
    pub fn to_bigint(&self) -> BigInt {
        match &self.value {
            IntValue::Small(v) => BigInt::from(*v),
            IntValue::Big(b) => (**b).clone(),
        }
    }

    pub(crate) fn value(&self) -> &IntValue {
        &self.value
    }

    pub(crate) fn is_zero(&self) -> bool {
        match &self.value {
            IntValue::Small(v) => *v == 0,
            IntValue::Big(b) => b.is_zero(),
        }
    }

    pub(crate) fn hash(&self) -> i64 {
        match &self.value {
            IntValue::Small(v) => hash_i64(*v),
            IntValue::Big(b) => hash_big(b),
        }
    }

    /// The nearest float (`float(n)`), infinite past `f64::MAX`.
    pub(crate) fn to_f64(&self) -> f64 {
        match &self.value {
            IntValue::Small(v) => *v as f64,
            IntValue::Big(b) => b.to_f64().unwrap_or(f64::INFINITY),
        }
    }
}

impl Float {
    pub(crate) fn new(value: f64) -> Gc<Float> {
        Gc::new(Float { value })
    }

    /// The value.
    pub fn get(&self) -> f64 {
        self.value
    }

    pub(crate) fn hash(&self) -> i64 {
        hash_f64(self.value)
    }
}

/// Compares two ints exactly.
pub(crate) fn cmp_int(a: &IntValue, b: &IntValue) -> Ordering {
    match (a, b) {
        (IntValue::Small(x), IntValue::Small(y)) => x.cmp(y),
        // A big int is outside the `i64` range, so its sign decides.
        (IntValue::Small(_), IntValue::Big(y)) => BigInt::zero().cmp(&**y),
        (IntValue::Big(x), IntValue::Small(_)) => (**x).cmp(&BigInt::zero()),
        (IntValue::Big(x), IntValue::Big(y)) => x.cmp(y),
    }
}

/// Compares an int with a float exactly (Python does not round the int); `None` for NaN.
pub(crate) fn cmp_int_float(a: &IntValue, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    if let IntValue::Small(v) = a
        && v.unsigned_abs() < (1 << 53)
    {
        // Exactly representable: the float comparison is exact.
        return (*v as f64).partial_cmp(&f);
    }
    let floor = f.floor();
    // `floor` is integral and finite, so the conversion is exact.
    let magnitude = BigInt::from(big_from_integral_f64(floor.abs()));
    let fi = if floor < 0.0 { -magnitude } else { magnitude };
    let ai = match a {
        IntValue::Small(v) => BigInt::from(*v),
        IntValue::Big(b) => (**b).clone(),
    };
    match ai.cmp(&fi) {
        // a == floor(f): a is less than f unless f is integral.
        Ordering::Equal if floor != f => Some(Ordering::Less),
        o => Some(o),
    }
}

/// The exact integer value of an integral, finite, non-negative float.
fn big_from_integral_f64(f: f64) -> num_bigint::BigUint {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let m = num_bigint::BigUint::from(mantissa);
    if exp >= 0 {
        m << exp as usize
    } else {
        m >> (-exp) as usize
    }
}

/// `a + b`, `a - b` or `a * b` on ints, exact.
pub(crate) fn int_arith(op: char, a: &IntValue, b: &IntValue) -> Gc<Int> {
    if let (IntValue::Small(x), IntValue::Small(y)) = (a, b) {
        let r = match op {
            '+' => x.checked_add(*y),
            '-' => x.checked_sub(*y),
            _ => x.checked_mul(*y),
        };
        if let Some(r) = r {
            return Int::new(r);
        }
    }
    let (x, y) = (big(a), big(b));
    Int::from_big(match op {
        '+' => x + y,
        '-' => x - y,
        _ => x * y,
    })
}

fn big(v: &IntValue) -> BigInt {
    match v {
        IntValue::Small(v) => BigInt::from(*v),
        IntValue::Big(b) => (**b).clone(),
    }
}
