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
//! use refcount::{Gc, Trace, Tracer};
//!
//! struct Node {
//!     next: RefCell<Option<Gc<Node>>>,
//! }
//! // SAFETY: reports the one handle it may own.
//! unsafe impl Trace for Node {
//!     fn trace(&self, t: &mut Tracer<'_>) {
//!         self.next.trace(t)
//!     }
//! }
//!
//! let a = Gc::new(Node { next: RefCell::new(None) });
//! let b = Gc::new(Node { next: RefCell::new(Some(a.clone())) });
//! assert_eq!(Gc::ref_count(&a), 2);
//! drop(b); // frees b at once, which drops its handle to a
//! assert_eq!(Gc::ref_count(&a), 1);
//! ```

mod any;
mod edges;
pub mod engine;
mod finalize;
mod gc;
mod header;
mod heap;
mod report;
#[cfg(test)]
mod tests;
mod trace;
mod weak;
mod weakref;

// Handles.
pub use any::AnyGc;
pub use gc::Gc;
pub use weak::Weak;
pub use weakref::WeakRef;

// Tracing and finalization.
pub use finalize::Finalize;
pub use header::ObjPtr;
#[doc(hidden)]
pub use trace::Leaf as __Leaf;
pub use trace::{Trace, Tracer, Visitor};

// Errors raised where nobody can catch them (destructors, finalizers, callbacks).
pub use report::{Unraisable, UnraisableHook, report_unraisable, set_unraisable_hook};

// The heap's memory.
pub use heap::{alloc_report, alloc_stats};
pub use rawalloc::Stats as AllocStats;
