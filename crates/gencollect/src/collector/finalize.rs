//! Steps 6 on, for garbage that needs them: weak-reference callbacks, finalizers (PEP 442),
//! resurrection, and dropping what is still unreachable one object at a time.

use refcount::ObjPtr;
use refcount::engine::{FirstPanic, Heap, ObjectOps, SCRATCH, UNREACHABLE, YOUNG, flags};

use super::analyse::{Found, analyse_guarded};
use crate::state::with_state;
use crate::stats::{DebugFlags, debug_line};

/// Steps 6 on: everything in `UNREACHABLE` was found unreachable (and is `WEAK_CLEARED`, so
/// weak upgrades already fail). Runs weak-reference callbacks and finalizers, moves
/// resurrected objects to `old`, then frees the rest (or saves it, with `SAVEALL`). Returns
/// the number of objects collected; panics of user code go to `panics`.
pub(crate) fn process_unreachable(
    heap: &Heap,
    old: usize,
    debug: DebugFlags,
    found: Found,
    panics: &mut FirstPanic,
) -> usize {
    if debug.contains(DebugFlags::COLLECTABLE) {
        for obj in heap.list_snapshot(UNREACHABLE) {
            // SAFETY: objects in a list are alive.
            let name = unsafe { obj.type_name() };
            debug_line(format_args!("collectable <{} {:#x}>", name, obj.addr()));
        }
    }

    if found.finalization && !finalize(heap, old, panics) {
        return 0;
    }
    let collected = heap.list_len(UNREACHABLE);

    if debug.contains(DebugFlags::SAVEALL) {
        // Keep the garbage alive in `garbage()` instead of freeing it.
        let saved: Vec<refcount::AnyGc> = heap
            .list_snapshot(UNREACHABLE)
            .into_iter()
            // SAFETY: objects in a list are alive; the handle adds a reference.
            .filter_map(|obj| unsafe { refcount::engine::any_from_obj(obj) })
            .collect();
        revive(heap, UNREACHABLE, old);
        with_state(|s| s.garbage.borrow_mut().extend(saved));
        return collected;
    }

    let _span = tracing::debug_span!(target: "gcrt::gc", "delete", collected).entered();
    delete_garbage(heap, panics);
    collected
}

/// Weak-reference callbacks, finalizers and resurrection (steps 6 to 8). Returns false when
/// the collection must stop here (everything left was moved to `old`).
fn finalize(heap: &Heap, old: usize, panics: &mut FirstPanic) -> bool {
    // Weak-reference callbacks (CPython's handle_weakrefs): the references were cleared when
    // the objects were found unreachable; a callback runs only if its weak-reference object
    // is not itself garbage. All are gathered before any runs.
    let mut callbacks = Vec::new();
    let mut finalizers_due = false;
    for obj in heap.list_snapshot(UNREACHABLE) {
        // SAFETY: objects in a list are alive; no user code runs in this loop (dropping an
        // entry of a doomed weak reference only releases a weak count).
        unsafe {
            if obj.flags() & flags::HAS_WEAKREF_CB != 0 {
                for entry in heap.take_weakref_callbacks(obj) {
                    if entry.is_live() {
                        callbacks.push(entry);
                    }
                }
            }
            finalizers_due |= obj.finalizer_due();
        }
    }
    for entry in callbacks {
        entry.fire();
    }
    if !finalizers_due {
        return true;
    }

    let _span = tracing::debug_span!(target: "gcrt::gc", "finalize").entered();
    // PEP 442: every due finalizer runs once, before anything is dropped. Objects move to
    // SCRATCH as they are visited; a finalizer may free others (they leave the lists).
    while let Some(obj) = last(heap, UNREACHABLE) {
        // SAFETY: tracked, so its memory is held. Its count may be 0 (a finalizer dropped
        // its last handle while frees are deferred): `run_finalizer` leaves it to its queued
        // release then.
        unsafe {
            heap.move_to(obj, SCRATCH);
            obj.run_finalizer();
        }
    }
    // SAFETY: no analysis is running; these are the objects found unreachable, back in
    // their working list.
    unsafe { heap.append_list(SCRATCH, UNREACHABLE) };
    // Resurrection: what a finalizer made reachable again (and everything it reaches)
    // survives; only what is still unreachable is freed.
    let verdict = analyse_guarded(heap, &[UNREACHABLE], SCRATCH, false, (false, None), panics);
    revive(heap, UNREACHABLE, old);
    if verdict.is_some() {
        // SAFETY: the analysis is over; what it found still unreachable is garbage.
        unsafe { heap.append_list(SCRATCH, UNREACHABLE) };
    }
    verdict.is_some()
}

/// Moves objects that were garbage but live on (resurrected, or saved by `SAVEALL`) to `old`.
/// They are no longer `DOOMED`, so weak references they hold work again; the weak
/// references *to* them stay cleared (`WEAK_CLEARED`), as in CPython.
fn revive(heap: &Heap, list: usize, old: usize) {
    for obj in heap.list_snapshot(list) {
        // SAFETY: objects in a list are alive. Not proved reachable: dirty, so the next full
        // collection analyses them again.
        unsafe {
            obj.clear_flags(flags::DOOMED);
            obj.set_dirty();
        }
    }
    // SAFETY: no analysis is running; these objects live on in an ordinary generation.
    unsafe { heap.append_list(list, old) };
}

/// After a collection was interrupted by a panic it could not catch (a `tracing` subscriber
/// is user code too): whatever is left in the working lists goes back to generation 2, as
/// objects resurrected do, so that no later step takes them for garbage of its own.
pub(crate) fn recover(heap: &Heap) {
    for list in [YOUNG, UNREACHABLE, SCRATCH] {
        revive(heap, list, 2);
    }
    // SAFETY: no analysis survives the unwinding (each clears its mark on the way out).
    unsafe { heap.set_analysing(&[]) };
}

/// The last object of a list, if any.
fn last(heap: &Heap, list: usize) -> Option<ObjPtr> {
    heap.list_len(list)
        .checked_sub(1)
        .and_then(|i| heap.list_get(list, i))
}

/// Drops the values of the objects in `UNREACHABLE` one at a time. A panicking `Drop` does
/// not stop the others from being freed. All of them are marked `DROPPING` first: a `Drop`
/// that reaches another of them finds it dead, so it cannot keep a reference into a value
/// that is dropped after it.
fn delete_garbage(heap: &Heap, panics: &mut FirstPanic) {
    // SAFETY: objects in a list are alive; finalizers and resurrection are over, and what
    // is left is garbage about to be dropped. Setting a flag runs no user code, so the list
    // does not change while the slice is read.
    unsafe {
        for &obj in heap.list_slice(UNREACHABLE) {
            obj.set_flags(flags::DROPPING);
        }
    }
    while let Some(obj) = last(heap, UNREACHABLE) {
        // SAFETY: `obj` is tracked in UNREACHABLE, so its memory is held; the analysis
        // proved no reference from outside the garbage reaches it, so no `&T` into it is
        // alive. `drop_value_in_place` untracks it before running user code.
        panics.catch("dropping garbage", || unsafe { obj.drop_value_in_place() });
        // SAFETY: memory still held or already untracked; untracking is idempotent. This
        // guarantees progress even for an object whose value was not alive.
        unsafe {
            if heap.list_get(UNREACHABLE, heap.list_len(UNREACHABLE).wrapping_sub(1)) == Some(obj) {
                heap.untrack(obj);
            }
        }
    }
}
