//! The door between the refcounted heap and the cycle collector.
//!
//! `gencollect` needs to walk the heap's lists, read and write object headers, and run the
//! count and drop loops that are compiled per type where [`Gc::new`](crate::Gc::new) is
//! (so they live here). This module is the one place it reaches them. Users of gcrt never
//! see it: the `gcrt` facade does not re-export it.
//!
//! Everything here that can break an invariant of the heap is an `unsafe fn` with a
//! `# Safety` section; what is safe only reads, or works on tables of its own
//! ([`EdgeCounter`], [`SetLayout`]) and cannot reach the heap's memory.
//!
//! ```compile_fail,E0133
//! // Moving a list of live objects to the collector's garbage list is the collector's job:
//! // safe code cannot do it.
//! refcount::engine::with_heap(|h| h.append_list(0, refcount::engine::UNREACHABLE));
//! ```
//!
//! ```compile_fail,E0133
//! // Nor can it pretend that a collection is running.
//! refcount::engine::with_heap(|h| h.set_collecting(true));
//! ```
//!
//! ```compile_fail,E0133
//! // Nor flag a live object as garbage.
//! use refcount::engine::{ObjectOps, flags};
//! let a = refcount::Gc::new(core::cell::RefCell::new(None::<refcount::Gc<u8>>));
//! refcount::Gc::as_obj(&a).set_flags(flags::DOOMED);
//! ```

use core::any::TypeId;

pub use crate::edges::{EdgeCounter, NOT_COUNTED, PassTables, SetLayout, SharedCounts};
pub use crate::header::{IMMORTAL, MAX_COUNT, flags};
pub use crate::heap::{
    Heap, NUM_LISTS, PERMANENT, PREFETCH_AHEAD, SCRATCH, UNREACHABLE, YOUNG, add_free_list_clearer,
    add_free_list_reporter, condemn, relist_unholding, set_collect_hook, try_with_heap, with_heap,
};
pub use crate::report::{FirstPanic, Payload, catch_unraisable};
pub use crate::weakref::Entry as WeakRefEntry;

use crate::any::AnyGc;
use crate::gc::Gc;
use crate::header::ObjPtr;
use crate::trace::{Trace, Tracer};

/// Creates a handle from a raw object pointer, adding a strong reference; `None` if the
/// value is no longer alive.
///
/// # Safety
/// The object's memory is held (it is tracked, or the caller holds a reference to it).
pub unsafe fn any_from_obj(obj: ObjPtr) -> Option<AnyGc> {
    // SAFETY: per the caller.
    unsafe { AnyGc::from_obj(obj) }
}

/// Creates a typed handle from a raw object pointer, adding a strong reference; `None` if
/// the object is not a `T` or its value is no longer alive.
///
/// # Safety
/// The object's memory is held (it is tracked, or the caller holds a reference to it).
pub unsafe fn gc_from_obj<T: Trace + 'static>(obj: ObjPtr) -> Option<Gc<T>> {
    // SAFETY: per the caller.
    unsafe { Gc::from_obj_checked(obj) }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::header::ObjPtr {}
}

/// What the collector may do to an object through its raw pointer.
///
/// Implemented for [`ObjPtr`] only. Unless a method says otherwise, its `# Safety`
/// requirement is that **the object's memory is held**: the object is in a heap list, or
/// the caller holds a strong or weak reference to it. Every method also requires that the
/// object belong to the current thread's heap (or that its thread run nothing meanwhile,
/// as the collector's helper thread relies on for the reads of its count pass).
pub trait ObjectOps: sealed::Sealed + Copy {
    /// Asks the CPU to start loading the object: a hint that never faults, whatever the
    /// address.
    fn prefetch(self);

    /// The strong count ([`IMMORTAL`] for an immortal object).
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn strong(self) -> u32;

    /// Whether the strong count is above zero (immortal objects included).
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn has_strong(self) -> bool;

    /// The strong count, or `None` if it is 0 (a release is queued) or immortal.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn mortal_strong(self) -> Option<u32>;

    /// Whether the count was decremented to a nonzero value since a full collection last
    /// proved the object reachable: only what such objects reach can have become an
    /// unreachable cycle since (see `docs/collector.md`).
    ///
    /// ```
    /// use refcount::Gc;
    /// use refcount::engine::ObjectOps;
    /// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
    /// let obj = Gc::as_obj(&a);
    /// // SAFETY: `a` holds the memory.
    /// assert!(!unsafe { obj.is_dirty() }, "new objects are clean");
    /// drop(a.clone()); // an increment, then a decrement that leaves 1
    /// assert!(unsafe { obj.is_dirty() });
    /// ```
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn is_dirty(self) -> bool;

    /// Marks the object dirty; immortal objects never are.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn set_dirty(self);

    /// Clears the dirty mark (a full collection proved the object reachable).
    ///
    /// # Safety
    /// The object's memory is held, and it is reachable from outside the heap.
    unsafe fn clear_dirty(self);

    /// Whether the object carries the tracking extension.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn has_ext(self) -> bool;

    /// The extension flags ([`flags`]), 0 for an object without an extension.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn flags(self) -> u32;

    /// The flags of an object known to have an extension, without checking.
    ///
    /// # Safety
    /// The object's memory is held and it has an extension.
    unsafe fn ext_flags(self) -> u32;

    /// Sets flag bits (nothing for an object without an extension).
    ///
    /// # Safety
    /// The object's memory is held; `bits` are among `FINALIZED`, `NO_FINALIZE`, `DOOMED`,
    /// `WEAK_CLEARED` (the others are the heap's to manage), and setting `DOOMED` or
    /// `WEAK_CLEARED` is the collector's verdict that the object is garbage. Clearing
    /// `LOANED` (with [`clear_flags`](Self::clear_flags)) is allowed once the loan by
    /// `Gc::get_mut` has certainly ended. Setting `DROPPING` is allowed on garbage whose
    /// values are about to be dropped (no finalizer of it runs any more).
    unsafe fn set_flags(self, bits: u32);

    /// Clears flag bits (nothing for an object without an extension).
    ///
    /// # Safety
    /// As for [`set_flags`](Self::set_flags).
    unsafe fn clear_flags(self, bits: u32);

    /// Whether the value is alive: the strong count is not 0 and the collector did not
    /// drop it.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn is_alive(self) -> bool;

    /// Calls the type's `Trace` on the value. User code runs: it may allocate, free or
    /// panic.
    ///
    /// # Safety
    /// The object's memory is held and its value is alive.
    unsafe fn trace(self, tracer: &mut Tracer<'_>);

    /// The type's name.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn type_name(self) -> &'static str;

    /// The type's `TypeId`.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn type_id(self) -> TypeId;

    /// Drops the value in place, untracking the object first; every handle still pointing
    /// here becomes dead (dereferencing panics). Does nothing if the value is dead already.
    ///
    /// # Safety
    /// The object's memory is held, it has an extension, and no reference into its value is
    /// alive: it was proved unreachable.
    unsafe fn drop_value_in_place(self);

    /// Whether a finalizer is due: one exists, has not run, is not suppressed, and the
    /// value is alive.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn finalizer_due(self) -> bool;

    /// Runs the finalizer if it is due, with a temporary strong reference; a panic is
    /// reported through the unraisable hook. Returns whether it ran. An object whose count
    /// is 0 (its release queued while frees are deferred) is left to that release.
    ///
    /// # Safety
    /// The object's memory is held.
    unsafe fn run_finalizer(self) -> bool;
}

impl ObjectOps for ObjPtr {
    #[inline(always)]
    fn prefetch(self) {
        ObjPtr::prefetch(self)
    }
    #[inline(always)]
    unsafe fn strong(self) -> u32 {
        // SAFETY: per the caller.
        unsafe { ObjPtr::strong(self) }
    }
    #[inline(always)]
    unsafe fn has_strong(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::has_strong(self) }
    }
    #[inline(always)]
    unsafe fn mortal_strong(self) -> Option<u32> {
        // SAFETY: per the caller.
        unsafe { ObjPtr::mortal_strong(self) }
    }
    #[inline(always)]
    unsafe fn is_dirty(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::is_dirty(self) }
    }
    #[inline(always)]
    unsafe fn set_dirty(self) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::set_dirty(self) }
    }
    #[inline(always)]
    unsafe fn clear_dirty(self) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::clear_dirty(self) }
    }
    #[inline(always)]
    unsafe fn has_ext(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::has_ext(self) }
    }
    #[inline(always)]
    unsafe fn flags(self) -> u32 {
        // SAFETY: per the caller.
        unsafe { ObjPtr::flags(self) }
    }
    #[inline(always)]
    unsafe fn ext_flags(self) -> u32 {
        // SAFETY: per the caller.
        unsafe { ObjPtr::ext_flags(self) }
    }
    #[inline(always)]
    unsafe fn set_flags(self, bits: u32) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::set_flags(self, bits) }
    }
    #[inline(always)]
    unsafe fn clear_flags(self, bits: u32) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::clear_flags(self, bits) }
    }
    #[inline(always)]
    unsafe fn is_alive(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::is_alive(self) }
    }
    #[inline]
    unsafe fn trace(self, tracer: &mut Tracer<'_>) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::trace(self, tracer) }
    }
    unsafe fn type_name(self) -> &'static str {
        // SAFETY: per the caller.
        unsafe { ObjPtr::type_name(self) }
    }
    unsafe fn type_id(self) -> TypeId {
        // SAFETY: per the caller.
        unsafe { ObjPtr::type_id(self) }
    }
    unsafe fn drop_value_in_place(self) {
        // SAFETY: per the caller.
        unsafe { ObjPtr::drop_value_in_place(self) }
    }
    #[inline]
    unsafe fn finalizer_due(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::finalizer_due(self) }
    }
    unsafe fn run_finalizer(self) -> bool {
        // SAFETY: per the caller.
        unsafe { ObjPtr::run_finalizer(self) }
    }
}
