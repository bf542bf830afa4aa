//! The built-in object types of gcrt, each with its own allocation policy.
//!
//! This crate's one job is the dynamic object model a language runtime builds on, with
//! CPython's per-type memory policies: a [`Value`] is `None`, a bool, or a handle to an int,
//! float, str, bytes, tuple, list, dict, set, class or instance on the thread's heap, with
//! Python's equality, hashing, ordering and `repr`. Its policies:
//!
//! * ints of -5..=256 are preallocated and immortal (the small-int cache); other ints and
//!   floats come from free lists of 100 blocks; ints have arbitrary precision;
//! * strs and bytes are atomic, with their hash computed once; [`Value::interned`] makes
//!   equal interned strings one immortal object;
//! * the empty tuple is one immortal object; tuple item buffers of lengths 1..=20 have free
//!   lists of 2,000 each ([`tuple_buffer_stats`]); a tuple whose items can never be part of
//!   a cycle is not tracked;
//! * lists and dicts have free lists of 80; a dict is untracked while it holds only atomic
//!   keys and values, and a set while it is empty;
//! * instances keep their first attributes inline, by the position of the name in their
//!   class's shared layout, and are always tracked.
//!
//! Full collections empty the free lists, as CPython's do. A user's own type gets a free
//! list the same way, with one line: `#[trace(free_list = N)]` on a derived type (or
//! `Trace::free_list`); immortal instances with `Gc::new_immortal`, and interned ones
//! (one immortal object per distinct value) with [`intern`].
//!
//! ```
//! use objects::Value;
//!
//! let point = Value::class("Point");
//! let p = point.instantiate().unwrap();
//! p.set_attr("x", Value::from(1)).unwrap();
//! p.set_attr("y", Value::from(2.5)).unwrap();
//! assert_eq!(p.get_attr("y").unwrap(), Value::from(2.5));
//! assert_eq!(p.get_attr("z").unwrap_err().to_string(),
//!            "AttributeError: 'Point' object has no attribute 'z'");
//!
//! let key = Value::tuple([Value::from(1), Value::from("a")]);
//! assert!(!key.is_tracked(), "a tuple of atomic values is never tracked");
//! let d = Value::dict();
//! d.set_item(key.clone(), Value::from(3)).unwrap();
//! assert!(!d.is_tracked(), "nor is a dict of atomic values");
//! d.set_item(Value::from("p"), p).unwrap();
//! assert!(d.is_tracked(), "until it holds a container");
//! assert_eq!(d.get_item(&key).unwrap(), Value::from(3));
//! ```
//!
//! Files: `value` (the enum, its constructors and identity), `ops` (operations),
//! `compare` (equality, ordering, hashing), `repr`, `int`, `text` (str and bytes),
//! `containers` (tuple, list, dict, set) over `table` (the ordered hash table), `class`
//! (classes and instances), `intern` (interning for any type), `tuple_buffers` (the tuple buffer free lists, this crate's only
//! unsafe code), `hash` (Python's hash functions) and `error`.

mod class;
mod compare;
mod containers;
mod error;
mod hash;
mod int;
mod intern;
mod ops;
mod repr;
mod table;
mod text;
mod tuple_buffers;
mod value;

pub use class::{Class, INLINE_ATTRS, Instance, SHARED_LAYOUT};
pub use compare::CmpOp;
pub use containers::{Dict, List, Set, Tuple};
pub use error::{Error, MAX_DEPTH, Result};
pub use int::{FLOAT_FREE_LIST, Float, INT_FREE_LIST, Int, SMALL_INTS};
pub use intern::intern;
pub use text::{Bytes, Str, interned_count};
pub use tuple_buffers::{BUFFERS_PER_LEN, MAX_CACHED_LEN, TupleBufferStats, tuple_buffer_stats};
pub use value::Value;

/// Empties this crate's own free lists (the tuple item buffers); the heap's per-type free
/// lists are emptied by the collector. Full collections call it. Returns how many buffers
/// it freed.
pub fn clear_free_lists() -> usize {
    tuple_buffers::clear()
}
