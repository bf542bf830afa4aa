//! Identity: handles compared and hashed by the object they point to, not by value, for
//! identity-keyed tables (Scheme's `eq?`, Python's `id()` and `is`).

use core::hash::{Hash, Hasher};
use core::ops::Deref;

use crate::any::AnyGc;
use crate::gc::Gc;
use crate::weak::Weak;

mod sealed {
    pub trait Sealed {}
}

/// A handle with an identity: the address of the object it points to ([`Gc::addr`]).
/// Implemented by [`Gc`], [`AnyGc`] and [`Weak`] (0 for `Weak::new()`); sealed.
pub trait Identity: sealed::Sealed {
    /// The address of the object (its identity while it lives).
    fn identity(&self) -> usize;
}

impl<T: ?Sized> sealed::Sealed for Gc<T> {}
impl<T: ?Sized> Identity for Gc<T> {
    fn identity(&self) -> usize {
        Gc::addr(self)
    }
}

impl sealed::Sealed for AnyGc {}
impl Identity for AnyGc {
    fn identity(&self) -> usize {
        self.as_obj().addr()
    }
}

impl<T: ?Sized> sealed::Sealed for Weak<T> {}
impl<T: ?Sized> Identity for Weak<T> {
    fn identity(&self) -> usize {
        self.addr()
    }
}

/// A handle that compares, orders and hashes by identity rather than by value: usable as
/// the key of a `HashMap` or `BTreeMap` keyed by object, whatever the value's type
/// implements.
///
/// ```
/// use std::collections::HashMap;
/// use refcount::{ByAddress, Gc};
///
/// let a = Gc::new(String::from("same text"));
/// let b = Gc::new(String::from("same text"));
/// assert_eq!(a, b, "equal by value");
/// let mut seen = HashMap::new();
/// seen.insert(ByAddress(a.clone()), 1);
/// seen.insert(ByAddress(b.clone()), 2);
/// assert_eq!(seen.len(), 2, "two objects");
/// assert_eq!(seen[&ByAddress(a.clone())], 1);
/// assert_eq!(ByAddress(a).len(), 9, "derefs to the handle");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ByAddress<P>(pub P);

impl<P: Identity> PartialEq for ByAddress<P> {
    fn eq(&self, other: &ByAddress<P>) -> bool {
        self.0.identity() == other.0.identity()
    }
}

impl<P: Identity> Eq for ByAddress<P> {}

impl<P: Identity> PartialOrd for ByAddress<P> {
    fn partial_cmp(&self, other: &ByAddress<P>) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<P: Identity> Ord for ByAddress<P> {
    fn cmp(&self, other: &ByAddress<P>) -> core::cmp::Ordering {
        self.0.identity().cmp(&other.0.identity())
    }
}

impl<P: Identity> Hash for ByAddress<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.identity().hash(state);
    }
}

impl<P> Deref for ByAddress<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.0
    }
}

impl<T: ?Sized> Gc<T> {
    /// Feeds the object's identity (not its value) to `state`: for hashing handles by
    /// address in a hand-written `Hash` ([`ByAddress`] does it for you).
    ///
    /// ```
    /// use std::hash::{BuildHasher, RandomState};
    /// use refcount::Gc;
    /// let s = RandomState::new();
    /// let a = Gc::new(1);
    /// let hash = |g: &Gc<i32>| s.hash_one(refcount::ByAddress(g.clone()));
    /// assert_eq!(hash(&a), hash(&a.clone()));
    /// let mut h = s.build_hasher();
    /// Gc::ptr_hash(&a, &mut h);
    /// ```
    pub fn ptr_hash<H: Hasher>(this: &Gc<T>, state: &mut H) {
        Gc::addr(this).hash(state);
    }
}
