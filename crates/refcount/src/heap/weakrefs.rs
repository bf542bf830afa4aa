//! The registry of weak-reference callbacks, by referent.

use super::Heap;
use crate::header::{ObjPtr, flags};
use crate::weakref::Entry;

impl Heap {
    /// Registers a weak-reference callback on `target`.
    pub(crate) fn register_weakref(&self, target: ObjPtr, entry: Entry) {
        // SAFETY: short borrow of the registry; dropping the purged entries below only
        // releases weak counts of dead objects (frees memory, runs no user code).
        let purged = unsafe {
            let map = &mut *self.weakref_cbs.get();
            let list = map.entry(target).or_default();
            let purged: Vec<Entry> = list.extract_if(.., |e| !e.is_live()).collect();
            list.push(entry);
            purged
        };
        drop(purged);
        // SAFETY: the caller holds a handle to `target`.
        unsafe {
            if target.has_ext() {
                if target.flags() & flags::HAS_WEAKREF_CB == 0 {
                    target.set_flags(flags::HAS_WEAKREF_CB);
                }
            } else {
                self.atomic_cb_targets.set(self.atomic_cb_targets.get() + 1);
            }
        }
    }

    /// Removes and returns the weak-reference callbacks registered on `target`, most recently
    /// registered first.
    ///
    /// # Safety
    /// The object's memory is held.
    pub unsafe fn take_weakref_callbacks(&self, target: ObjPtr) -> Vec<Entry> {
        // SAFETY: short borrow of the registry; memory held per the caller.
        let mut list = unsafe {
            let taken = (*self.weakref_cbs.get())
                .remove(&target)
                .unwrap_or_default();
            if target.has_ext() {
                target.clear_flags(flags::HAS_WEAKREF_CB);
            } else if !taken.is_empty() {
                self.atomic_cb_targets.set(self.atomic_cb_targets.get() - 1);
            }
            taken
        };
        list.reverse();
        list
    }

    /// Runs and forgets the weak-reference callbacks registered on `obj`, if it may have any
    /// (its `HAS_WEAKREF_CB` flag, or for an object without an extension, any such object).
    ///
    /// # Safety
    /// The object's memory is held and its strong count is 0.
    #[inline]
    pub(super) unsafe fn fire_weakref_callbacks(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            let registered = if obj.has_ext() {
                obj.flags() & flags::HAS_WEAKREF_CB != 0
            } else {
                self.atomic_cb_targets.get() != 0
            };
            if registered {
                self.fire_registered_callbacks(obj);
            }
        }
    }

    /// The rare part of [`fire_weakref_callbacks`](Self::fire_weakref_callbacks), out of
    /// line so that the loops that test for it stay small.
    ///
    /// # Safety
    /// As for `fire_weakref_callbacks`.
    #[cold]
    #[inline(never)]
    unsafe fn fire_registered_callbacks(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        for entry in unsafe { self.take_weakref_callbacks(obj) } {
            entry.fire();
        }
    }
}
