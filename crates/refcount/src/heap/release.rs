//! Releasing objects whose strong count reached 0: the typed fast path, the general path
//! (finalizers, weak-reference callbacks), the deferred-free queue that keeps deallocation
//! off the machine stack, and objects that die after their thread's heap.

use scopeguard::ScopeGuard;

use super::{DEPTH_LIMIT, Heap, try_with_heap};
use crate::header::{ObjPtr, Stored, flags};
use crate::report::FirstPanic;

impl Heap {
    /// Runs `f` with every deallocation queued instead of performed, then performs them.
    ///
    /// The collector traces objects inside this scope, so that no object it holds in a list
    /// can be freed under it, whatever a `Trace` implementation does.
    pub fn defer_frees<R>(&self, f: impl FnOnce() -> R) -> R {
        let saved = self.depth.replace(DEPTH_LIMIT);
        let _restore = self.leave_on_drop(saved);
        f()
    }

    /// Enters one more level of nested deallocation (from `depth`); the guard returned
    /// leaves it on every exit path, unwinding included, and the outermost level releases
    /// the queued objects.
    #[inline(always)]
    fn nest(&self, depth: u32) -> ScopeGuard<(), impl FnOnce(()) + '_> {
        self.depth.set(depth + 1);
        self.leave_on_drop(depth)
    }

    /// A guard that sets the deallocation depth back to `depth` and, at 0, releases the
    /// queued objects.
    #[inline(always)]
    fn leave_on_drop(&self, depth: u32) -> ScopeGuard<(), impl FnOnce(()) + '_> {
        scopeguard::guard((), move |()| {
            self.depth.set(depth);
            // SAFETY: a short read of the queue's length.
            if depth == 0 && unsafe { !(*self.pending.get()).is_empty() } {
                self.drain_pending();
            }
        })
    }

    /// Releases the queued objects. Called only at depth 0; the loop itself runs at depth 1,
    /// so the releases it starts queue their own deep descendants instead of draining
    /// recursively: the stack stays bounded by `DEPTH_LIMIT` frames whatever the chain length.
    ///
    /// A panicking destructor does not strand the rest of the queue: every queued object is
    /// released, and the first panic resumes afterwards ([`FirstPanic`]).
    #[cold]
    #[inline(never)]
    fn drain_pending(&self) {
        self.depth.set(1);
        let depth = scopeguard::guard((), |()| self.depth.set(0));
        let mut panics = FirstPanic::default();
        loop {
            // SAFETY: short borrow of the queue, released before any user code runs.
            let next = unsafe { (*self.pending.get()).pop() };
            let Some(obj) = next else { break };
            // SAFETY: queued objects have strong count 0 and intact memory and value.
            panics.catch("dropping a queued object", || unsafe {
                self.release_now(obj)
            });
        }
        drop(depth);
        panics.resume();
    }

    /// The general release of an object whose strong count just reached 0: untracks, drops
    /// and frees it (running its finalizer and weak-reference callbacks first), or queues it
    /// when deallocations are already nested `DEPTH_LIMIT` deep. The slow part of
    /// [`release_fast`](Self::release_fast), and the release of objects whose type is not
    /// known statically.
    ///
    /// # Safety
    /// `obj`'s strong count is 0 and nobody will use its value again.
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn release_slow(&self, obj: ObjPtr) {
        let depth = self.depth.get();
        if depth >= DEPTH_LIMIT {
            // The object stays tracked while queued: the collector may be walking the lists
            // right now (see `defer_frees`), and it treats a count of 0 as "dying, keep".
            // SAFETY: short borrow of the queue, no user code runs.
            unsafe { (*self.pending.get()).push(obj) };
            return;
        }
        let _leave = self.nest(depth);
        // SAFETY: per the caller.
        unsafe { self.release_now(obj) };
    }

    /// The common case of a release, compiled for a known `T`: no finalizer due, no
    /// weak-reference callbacks, not nested too deep. The value is dropped and the memory
    /// freed without going through the type descriptor; anything unusual takes
    /// [`release_slow`](Self::release_slow).
    ///
    /// # Safety
    /// As for [`release_slow`](Self::release_slow), and the object's type is `T`.
    #[inline]
    unsafe fn release_fast<T: Stored>(&self, obj: ObjPtr) {
        let depth = self.depth.get();
        // A type that needs tracing always has the extension: no need to read the header.
        // SAFETY: per the caller, the memory is held.
        let has_ext = T::needs_trace() || unsafe { obj.has_ext() };
        // Gives back the implicit weak reference, freeing the memory if it was the last.
        let free = move |()| {
            if obj.dec_weak() == 0 {
                // SAFETY: no strong or weak reference remains; the value is dropped (or
                // being unwound from), and `has_ext` says whether it has an extension.
                unsafe { self.dealloc_typed::<T>(obj, has_ext) };
            }
        };
        // SAFETY: per the caller: memory held, value alive or DEAD, type `T`.
        unsafe {
            if has_ext {
                // One read of the flags and one write: the object is dying, so only the list
                // membership and the counters must be right (nothing reads the flags of an
                // object whose count is 0, except to find it dead).
                let e = obj.ext();
                let f = e.flags.get();
                if f & (flags::HAS_WEAKREF_CB | flags::DEAD | flags::TRACKED) == flags::DEAD {
                    // The collector dropped the value (and untracked the object and counted its
                    // death): only the memory is left. No user code runs, so no depth guard.
                    return free(());
                }
                if f & (flags::HAS_WEAKREF_CB | flags::DEAD) != 0
                    || depth >= DEPTH_LIMIT
                    || f & (flags::HAS_FINALIZER | flags::FINALIZED | flags::NO_FINALIZE)
                        == flags::HAS_FINALIZER
                {
                    return self.release_slow(obj);
                }
                if f & flags::TRACKED != 0 {
                    self.unlink(obj, f);
                }
                if f & flags::COUNTED != 0 {
                    self.record_death();
                }
                e.flags
                    .set(f & !(flags::TRACKED | flags::LIST_MASK | flags::COUNTED));
            } else if depth >= DEPTH_LIMIT || self.atomic_cb_targets.get() != 0 {
                return self.release_slow(obj);
            }
            if !core::mem::needs_drop::<T::Value>() {
                // No destructor: no user code runs and nothing nests.
                return free(());
            }
            let _leave = self.nest(depth);
            // The memory is freed on every path, unwinding included, before the depth is
            // left (which may release queued objects).
            let _free = scopeguard::guard((), free);
            core::ptr::drop_in_place(T::value(obj));
        }
    }

    /// Drops and frees an object whose strong count reached 0, through its type descriptor:
    /// its finalizer (which may resurrect it) and weak-reference callbacks run first.
    ///
    /// # Safety
    /// As for [`release_slow`](Self::release_slow).
    unsafe fn release_now(&self, obj: ObjPtr) {
        // SAFETY: per the caller. The value is dropped at most once: `DEAD` means the
        // collector already dropped it.
        unsafe {
            let has_ext = obj.has_ext();
            let dead = if has_ext {
                if obj.finalizer_due() {
                    // PEP 442 on refcount death: the finalizer runs with a temporary
                    // reference; if it leaves the count above that, it resurrected the
                    // object and deallocation stops here.
                    obj.set_flags(flags::FINALIZED);
                    obj.set_strong(1);
                    obj.call_finalizer();
                    let s = obj.strong() - 1;
                    obj.set_strong(s);
                    if s != 0 {
                        // Resurrected: whatever it is part of now is for the next full
                        // collection to analyse.
                        obj.set_dirty();
                        return;
                    }
                }
                self.fire_weakref_callbacks(obj);
                self.untrack(obj);
                self.note_death(obj);
                obj.flags() & flags::DEAD != 0
            } else {
                self.fire_weakref_callbacks(obj);
                false
            };
            // The memory is freed on every path, unwinding included: the implicit weak
            // reference is given up exactly once, here.
            let _free = scopeguard::guard((), |()| self.drop_implicit_weak(obj));
            if !dead {
                obj.drop_value_raw();
            }
        }
    }

    /// # Safety
    /// The caller gives up the implicit weak reference of an object whose strong count is 0.
    pub(super) unsafe fn drop_implicit_weak(&self, obj: ObjPtr) {
        if obj.dec_weak() == 0 {
            // SAFETY: no strong or weak reference remains.
            unsafe { obj.dealloc_raw(self) }
        }
    }

    /// Frees the memory of an object after its last weak reference went away.
    ///
    /// # Safety
    /// The object's strong count is 0, its value is dropped, its weak count just reached 0.
    pub(crate) unsafe fn free_after_weak(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe { obj.dealloc_raw(self) }
    }

    /// Frees the memory of an object of type `T`.
    ///
    /// # Safety
    /// No strong or weak reference remains, the value is dropped, and `has_ext` says whether
    /// the object has an extension.
    #[inline(always)]
    pub(crate) unsafe fn dealloc_typed<T: Stored>(&self, obj: ObjPtr, has_ext: bool) {
        // SAFETY: per the caller; the allocation starts `back` bytes before the header and
        // has the layout `T` gives (as it was allocated).
        unsafe {
            let (layout, back) = T::layout(obj, has_ext);
            let start = obj.0.cast::<u8>().sub(back);
            if T::free_list() > 0 {
                let ty = obj.type_info_ptr();
                self.dealloc_pooled::<T>(start, layout, ty);
            } else {
                self.alloc_mut().dealloc(start, layout);
            }
        }
    }
}

/// Releases objects that die after their thread's heap was destroyed (handles held in
/// thread-locals torn down later). Their destructors run; their memory is leaked, which the
/// heap arranged by leaking its arenas. The same depth limit and queue as the heap's keep a
/// long chain from overflowing the stack; this state lives in a thread-local without a
/// destructor, so it stays usable during the whole teardown.
mod orphan {
    use core::cell::{Cell, RefCell};
    use core::mem::ManuallyDrop;

    use super::DEPTH_LIMIT;
    use crate::header::{ObjPtr, flags};

    struct Orphans {
        depth: Cell<u32>,
        queue: ManuallyDrop<RefCell<Vec<ObjPtr>>>,
    }

    thread_local! {
        static ORPHANS: Orphans = const {
            Orphans { depth: Cell::new(0), queue: ManuallyDrop::new(RefCell::new(Vec::new())) }
        };
    }

    /// Drops the value of an object that died after its thread's heap (its memory is
    /// leaked with the heap's arenas).
    ///
    /// # Safety
    /// `obj`'s strong count is 0 and nobody will use its value again.
    pub(super) unsafe fn drop_orphan(obj: ObjPtr) {
        let run = |o: &Orphans| {
            let depth = o.depth.get();
            if depth >= DEPTH_LIMIT {
                o.queue.borrow_mut().push(obj);
                return;
            }
            o.depth.set(depth + 1);
            // Restored on every path: a panicking destructor must not leave the depth raised,
            // or every later orphan would be queued and never dropped.
            let _leave = scopeguard::guard((), |()| o.depth.set(depth));
            // SAFETY: per the caller; DEAD means the collector dropped it already.
            unsafe { drop_value(obj) };
            if depth == 0 {
                // Drain at depth 1, so nested releases queue instead of recursing.
                loop {
                    // The borrow must end before the destructor runs: it queues more.
                    let next = o.queue.borrow_mut().pop();
                    let Some(next) = next else { break };
                    // SAFETY: queued objects have strong count 0 and an intact value.
                    unsafe { drop_value(next) };
                }
            }
        };
        if ORPHANS.try_with(run).is_err() {
            // Not even this thread-local is reachable any more: drop in place, unbounded.
            // SAFETY: per the caller.
            unsafe { drop_value(obj) };
        }
    }

    /// # Safety
    /// As for [`drop_orphan`].
    unsafe fn drop_value(obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            if obj.flags() & flags::DEAD == 0 {
                obj.drop_value_raw();
            }
        }
    }
}

/// Releases an object of type `T` whose strong count reached 0: the out-of-line part of
/// dropping a handle, reached only by the last one (see [`Heap::release_fast`]).
///
/// # Safety
/// `obj`'s strong count is 0, nobody will use its value again, and its type is `T`.
#[inline(never)]
pub(crate) unsafe fn release_typed<T: Stored>(obj: ObjPtr) {
    match super::heap_ptr() {
        // SAFETY: per the caller. The heap outlives this call: a thread-local is destroyed
        // only by the thread's exit sequence, never from inside code running on it.
        Some(h) => unsafe { (*h).release_fast::<T>(obj) },
        // SAFETY: per the caller.
        None => unsafe { orphan::drop_orphan(obj) },
    }
}

/// Runs and forgets the weak-reference callbacks registered on an object whose strong count
/// just reached 0 outside the normal release path.
///
/// # Safety
/// The object's memory is held and its strong count is 0.
pub(crate) unsafe fn forget_referent(obj: ObjPtr) {
    try_with_heap(|h| {
        // SAFETY: per the caller.
        unsafe { h.fire_weakref_callbacks(obj) }
    });
}
