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
//! The layers, bottom-up (see `docs/architecture.md`):
//!
//! * [`rawalloc`]: arenas, pools and size classes (CPython's obmalloc);
//! * [`refcount`]: the object header, [`Trace`], [`Gc`] and [`Weak`];
//! * [`objects`]: built-in object types with their own allocation policies;
//! * [`gencollect`] (as [`gc`]): the cycle collector and the `gc`-module API.

pub use gcrt_derive::Trace;
pub use gencollect as gc;
#[doc(hidden)]
pub use refcount::__Leaf;
pub use refcount::{AnyGc, Finalize, Gc, ObjPtr, Trace, Tracer, Visitor, Weak, WeakRef};
pub use {gencollect, objects, rawalloc, refcount};

/// The README's examples, compiled and run as doctests so they never rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The examples of `docs/finalization.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/finalization.md")]
pub struct FinalizationDoctests;
