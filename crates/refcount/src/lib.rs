//! The refcounted heap of gcrt.
//!
//! This crate's one job is reference counting on gcrt's private heap: the object
//! [header](Header) and type descriptor, the [`Trace`] trait, the strong [`Gc`] and weak
//! [`Weak`] handles, deallocation that never overflows the stack on deep chains, immortal
//! objects, the tracked-object lists and the allocation counters the cycle collector reads,
//! and the [`EdgeCounter`] its count pass feeds through [`Tracer`] (so that the per-edge work
//! is compiled into every `Trace` impl).
//! Memory comes from [`rawalloc`]. The cycle collector itself lives in `gencollect`, which
//! installs itself through [`set_collect_hook`].
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

pub use any::AnyGc;
pub use edges::{EdgeCounter, NOT_COUNTED, PassTables, SetLayout};
pub use finalize::Finalize;
pub use gc::Gc;
pub use header::{Header, IMMORTAL, MAX_COUNT, ObjPtr, TypeInfo, flags};
pub use heap::{
    Heap, NUM_LISTS, PERMANENT, PREFETCH_AHEAD, SCRATCH, UNREACHABLE, YOUNG, set_collect_hook,
    try_with_heap, with_heap,
};
pub use report::{Unraisable, UnraisableHook, report_unraisable, set_unraisable_hook};
#[doc(hidden)]
pub use trace::Leaf as __Leaf;
pub use trace::{Trace, Tracer, Visitor};
pub use weak::Weak;
pub use weakref::{Entry as WeakRefEntry, WeakRef};
