//! Finalizers: code that runs once before an object dies (PEP 442, .NET destructors).

use crate::trace::Trace;

/// A finalizer, run at most once per object before it dies.
///
/// Opt in per object with [`Gc::new_with_finalizer`](crate::Gc::new_with_finalizer). The
/// finalizer runs whether the object dies by refcounting or in a collected cycle; in a cycle,
/// it runs before any member of the garbage is dropped, so it sees its neighbours intact
/// (their weak references already cleared).
///
/// A finalizer may *resurrect* its object by storing a handle to it somewhere reachable
/// (through a neighbour it holds, or a [`Weak`](crate::Weak) to itself when the object dies
/// by refcount). Nothing reachable from a resurrected object is then freed, and the
/// finalizer never runs again for it (unless re-registered with the collector's
/// `reregister_for_finalize`). It may allocate, create cycles, drop handles and call the
/// collector, which does nothing while a collection runs. A panic in a finalizer is
/// reported through the [unraisable hook](crate::set_unraisable_hook) and does not stop
/// anything else.
///
/// ```
/// use std::cell::Cell;
/// use refcount::{Finalize, Gc};
///
/// thread_local!(static CLOSED: Cell<u32> = const { Cell::new(0) });
///
/// #[derive(gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct File(u32);
/// impl Finalize for File {
///     fn finalize(&self) {
///         CLOSED.with(|c| c.set(c.get() + self.0));
///     }
/// }
///
/// let f = Gc::new_with_finalizer(File(7));
/// drop(f);
/// assert_eq!(CLOSED.with(|c| c.get()), 7);
/// ```
pub trait Finalize: Trace {
    /// Runs once, before the object's value is dropped.
    fn finalize(&self);
}
