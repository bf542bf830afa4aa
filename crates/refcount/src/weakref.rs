//! Weak references with callbacks (Python's `weakref.ref(obj, callback)`).

use core::cell::Cell;

use crate::gc::Gc;
use crate::header::{ObjPtr, flags};
use crate::heap::try_with_heap;
use crate::trace::{Trace, Tracer};
use crate::weak::Weak;

type Callback<T> = Box<dyn FnOnce(&Gc<WeakRef<T>>)>;

/// A weak reference that calls a function when its referent dies.
///
/// A `WeakRef` is itself an object on the heap, so the collector knows whether it is
/// reachable. Its callback runs once, after the referent died (by refcounting or in a
/// collected cycle), with the weak reference as its argument, and only if the weak reference
/// is itself still alive and not part of the same garbage: a `WeakRef` that dies with its
/// referent in one cycle has its callback dropped uncalled, as CPython does. When several
/// callbacks watch one referent, the most recently registered runs first.
///
/// The captures of the callback are not traced: handles they hold count as references from
/// outside, which is always safe (at worst a cycle through them is not collected).
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use refcount::{Gc, WeakRef};
///
/// let target = Gc::new(5);
/// let fired = Rc::new(Cell::new(false));
/// let f = fired.clone();
/// let wr = WeakRef::new(&target, move |wr: &Gc<WeakRef<i32>>| {
///     assert!(wr.upgrade().is_none());
///     f.set(true);
/// });
/// assert_eq!(wr.upgrade().as_deref(), Some(&5));
/// drop(target);
/// assert!(fired.get());
/// ```
pub struct WeakRef<T: Trace + 'static> {
    target: Weak<T>,
    callback: Cell<Option<Callback<T>>>,
}

// SAFETY: holds no strong handle the collector may see (the callback's captures are opaque,
// which is the safe under-report). Tracked all the same, so the collector knows whether the
// weak reference itself is garbage.
unsafe impl<T: Trace + 'static> Trace for WeakRef<T> {
    fn trace(&self, _: &mut Tracer<'_>) {}
}

impl<T: Trace + 'static> WeakRef<T> {
    /// Creates a weak reference to `target` that calls `callback` once `target` dies.
    pub fn new(target: &Gc<T>, callback: impl FnOnce(&Gc<WeakRef<T>>) + 'static) -> Gc<WeakRef<T>> {
        let wr = Gc::new(WeakRef {
            target: Gc::downgrade(target),
            callback: Cell::new(Some(Box::new(callback))),
        });
        let entry = Entry::new(Gc::as_obj(&wr), fire::<T>);
        // After the heap was destroyed (thread teardown) nothing is registered: the target
        // outlives the heap, so the callback could never run anyway.
        try_with_heap(|h| h.register_weakref(Gc::as_obj(target), entry));
        wr
    }

    /// The referent, if it is still alive.
    pub fn upgrade(&self) -> Option<Gc<T>> {
        self.target.upgrade()
    }

    /// The plain weak handle to the referent.
    pub fn weak(&self) -> &Weak<T> {
        &self.target
    }

    /// Whether the callback is still waiting to run.
    pub fn has_callback(&self) -> bool {
        let cb = self.callback.take();
        let pending = cb.is_some();
        self.callback.set(cb);
        pending
    }
}

impl<T: Trace + 'static> core::fmt::Debug for WeakRef<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WeakRef")
            .field("alive", &(self.target.strong_count() > 0))
            .finish_non_exhaustive()
    }
}

/// Runs the callback of the `WeakRef<T>` at `wr`, if it is alive and not doomed.
///
/// # Safety
/// `wr` is a `WeakRef<T>` object whose memory is held.
unsafe fn fire<T: Trace + 'static>(wr: ObjPtr) {
    // SAFETY: memory held per the caller; the type is `WeakRef<T>`.
    let gc = unsafe {
        if !wr.is_alive() || wr.flags() & flags::DOOMED != 0 {
            return;
        }
        wr.inc_strong();
        Gc::<WeakRef<T>>::from_obj(wr)
    };
    if let Some(cb) = gc.callback.take() {
        crate::report::catch_unraisable("calling a weak reference callback", || cb(&gc));
    }
}

/// A registered callback: the `WeakRef` object (its memory held by a weak count) and the
/// function that runs its callback.
pub struct Entry {
    wr: ObjPtr,
    fire: unsafe fn(ObjPtr),
}

impl Entry {
    fn new(wr: ObjPtr, fire: unsafe fn(ObjPtr)) -> Entry {
        wr.inc_weak();
        Entry { wr, fire }
    }

    /// The weak-reference object.
    pub fn weakref(&self) -> ObjPtr {
        self.wr
    }

    /// Whether the weak-reference object is still alive and not doomed.
    pub fn is_live(&self) -> bool {
        // SAFETY: the entry's weak count holds the memory.
        unsafe { self.wr.is_alive() && self.wr.flags() & flags::DOOMED == 0 }
    }

    /// Runs the callback (if the weak reference is still alive), consuming the entry.
    pub fn fire(self) {
        // SAFETY: the entry's weak count holds the memory; `fire` matches the type.
        unsafe { (self.fire)(self.wr) }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: the entry owns one weak reference.
        unsafe { crate::weak::drop_weak_raw(self.wr) }
    }
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry").field("wr", &self.wr).finish()
    }
}
