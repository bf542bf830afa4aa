//! # gcrt: CPython's memory model for Rust
//!
//! A private heap with a small-object allocator, reference counting that frees most objects
//! the moment they die, and a three-generation cycle collector that reclaims reference
//! cycles, with the inspection and tuning knobs of Python's `gc` module.
//!
//! ```
//! use std::cell::RefCell;
//! use gcrt::{Gc, Trace, gc};
//!
//! #[derive(Trace)]
//! struct Node {
//!     name: String,
//!     next: RefCell<Option<Gc<Node>>>,
//! }
//!
//! gc::collect();
//! let a = Gc::new(Node { name: "a".into(), next: RefCell::new(None) });
//! let b = Gc::new(Node { name: "b".into(), next: RefCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a cycle: refcounting alone would leak it
//! assert!(gc::is_tracked(&a));
//! drop((a, b));
//! assert_eq!(gc::collect(), 2);
//! ```
//!
//! What is here:
//!
//! * the handles: [`Gc`] (strong), [`Weak`], [`WeakRef`] (a weak reference with a
//!   callback) and [`AnyGc`] (a strong handle of any type);
//! * tracing: [`Trace`] and `#[derive(Trace)]`, with [`Tracer`] and [`Visitor`] for
//!   hand-written impls ([`ObjPtr`] is what a visitor is shown: an object's identity);
//! * [`Finalize`], for finalizers that run before a cycle is broken (PEP 442);
//! * [`objects`], the built-in object types an interpreter builds on (a dynamically typed
//!   [`objects::Value`] with ints, floats, strs, tuples, lists, dicts, sets, classes and
//!   instances) and their allocation policies;
//! * [`gc`], Python's `gc` module: collections, thresholds, statistics, flags, callbacks,
//!   and the heap's memory statistics ([`gc::alloc_stats`], [`gc::alloc_report`]).
//!
//! The layers behind them (see `docs/architecture.md`) are private to gcrt: `rawalloc`
//! (arenas, pools and size classes), `refcount` (the object header, handles and reference
//! counting), `objects` (built-in object types) and `gencollect` (the cycle collector).
//!
//! The engine is not reachable from here:
//!
//! ```compile_fail,E0433
//! gcrt::refcount::engine::with_heap(|h| h.list_len(0));
//! ```
//!
//! ```compile_fail,E0432
//! use gcrt::gc::engine::with_heap;
//! ```

pub use gcrt_derive::Trace;
pub use gencollect as gc;
pub use objects;
pub use refcount::{
    AnyGc, ByAddress, Finalize, Gc, Identity, ObjPtr, Trace, Tracer, Visitor, Weak, WeakRef,
    coerce_gc,
};

/// The README's examples, compiled and run as doctests so they never rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The examples of `docs/user-guide.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/user-guide.md")]
pub struct UserGuideDoctests;

/// The examples of `docs/debugging.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/debugging.md")]
pub struct DebuggingDoctests;

/// The examples of `docs/objects.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/objects.md")]
pub struct ObjectsDoctests;

/// The examples of `docs/finalization.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/finalization.md")]
pub struct FinalizationDoctests;
