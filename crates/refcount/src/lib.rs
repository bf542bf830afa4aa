//! The refcounted heap of gcrt.
//!
//! This crate's one job is reference counting on gcrt's private heap: the object header and
//! type descriptor, the [`Trace`] trait, the strong [`Gc`] and weak [`Weak`] handles,
//! deallocation that never overflows the stack on deep chains, immortal objects, the
//! tracked-object lists and the allocation counters the cycle collector reads. Memory comes
//! from [`rawalloc`].
//!
//! The cycle collector lives in `gencollect`. It reaches the heap through one door,
//! [`engine`], whose functions that can break an invariant are `unsafe` with a written
//! contract. The loops it runs per object (the count pass, which [`Tracer`] feeds, and the
//! drop of garbage) are here, because they are compiled per type where [`Gc::new`] is.
//!
//! ```
//! use core::cell::RefCell;
//! use refcount::Gc;
//!
//! #[derive(gcrt_derive::Trace)]
//! #[trace(crate = "refcount")]
//! struct Node {
//!     next: RefCell<Option<Gc<Node>>>,
//! }
//!
//! let a = Gc::new(Node { next: RefCell::new(None) });
//! let b = Gc::new(Node { next: RefCell::new(Some(a.clone())) });
//! assert_eq!(Gc::ref_count(&a), 2);
//! drop(b); // frees b at once, which drops its handle to a
//! assert_eq!(Gc::ref_count(&a), 1);
//! ```

// The type-erased handle.
mod any;
// The count pass's edge counter, which `Trace` impls feed through `Tracer`.
mod edges;
// The door for the cycle collector.
pub mod engine;
// Finalizers.
mod finalize;
// The strong handle.
mod gc;
// The object header, the type descriptor and the raw object pointer.
mod header;
// Handles compared and hashed by identity.
mod identity;
// The per-thread heap: lists, counters, releases, garbage, weak-reference callbacks.
mod heap;
// Panics that cannot propagate.
mod report;
#[cfg(test)]
mod tests;
// The `Trace` trait and its impls for std types.
mod trace;
// Weak handles, with and without callbacks.
mod weak;
mod weakref;

// The files depend on each other in one loop, on purpose: the type descriptor (`header`)
// points at the count and drop loops compiled for each type (`edges`, `heap`), which read
// objects through the header; and `Tracer` (`trace`) feeds the edge counter directly, so
// that the count pass's per-handle code is inlined into every `Trace` impl rather than
// reached through a `dyn Visitor` call per edge.

// Handles.
pub use any::AnyGc;
pub use gc::Gc;
pub use identity::{ByAddress, Identity};
pub use weak::Weak;
pub use weakref::WeakRef;

// Tracing and finalization.
pub use finalize::Finalize;
pub use header::ObjPtr;
pub use trace::{Trace, Tracer, Visitor};

// Errors raised where nobody can catch them (destructors, finalizers, callbacks).
pub use report::{Unraisable, UnraisableHook, report_unraisable, set_unraisable_hook};

// The heap's memory.
pub use heap::{
    FreeListStats, MAX_FREE_LIST, alloc_report, alloc_stats, free_list_stats, free_lists_enabled,
    set_free_lists,
};
pub use rawalloc::Stats as AllocStats;
