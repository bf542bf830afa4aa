//! The memory side of the `gc` module: the heap's bytes, tracked-object totals, and memory
//! held outside the heap on behalf of its objects (.NET's `GC.AddMemoryPressure`).

use crate::api::collect;
use crate::state::with_state;

/// Runs `f` with the current thread's heap, or returns the default after the heap is gone.
fn on_heap<R: Default>(f: impl FnOnce(&refcount::engine::Heap) -> R) -> R {
    refcount::engine::try_with_heap(f).unwrap_or_default()
}

/// Tracked objects allocated and freed on this thread since it started: `(allocated,
/// freed)`. Those the collector freed are in [`get_stats`](crate::get_stats)' `collected`; the rest of the
/// freed ones died by reference counting.
///
/// ```
/// use std::cell::RefCell;
/// let (allocated, freed) = gencollect::tracked_totals();
/// drop(refcount::Gc::new(RefCell::new(Vec::<refcount::Gc<u8>>::new())));
/// assert_eq!(gencollect::tracked_totals(), (allocated + 1, freed + 1));
/// ```
pub fn tracked_totals() -> (u64, u64) {
    on_heap(|h| h.tracked_totals())
}

/// Bytes in use: the current thread's heap (live blocks, large objects, the immortal
/// region, and blocks waiting in free lists) plus the memory pressure declared with
/// [`add_memory_pressure`]. Memory objects own outside the heap (a `Vec`'s buffer, a
/// `String`'s text) is not counted unless declared.
///
/// ```
/// let before = gencollect::total_memory();
/// gencollect::add_memory_pressure(1 << 20);
/// assert_eq!(gencollect::total_memory(), before + (1 << 20));
/// gencollect::remove_memory_pressure(1 << 20);
/// ```
pub fn total_memory() -> usize {
    on_heap(|h| h.bytes_in_use()) + memory_pressure()
}

/// Declares `bytes` of memory held outside the heap on behalf of its objects (a buffer a
/// `Vec` field owns, say), as .NET's `GC.AddMemoryPressure`: it counts in
/// [`total_memory`], and once the pressure added since the last full collection reaches
/// the threshold set with [`set_memory_pressure_threshold`] (none by default), a full
/// collection runs, so that garbage holding large buffers is found sooner. Pair each call
/// with a [`remove_memory_pressure`] when the memory is freed.
pub fn add_memory_pressure(bytes: usize) {
    let due = with_state(|s| {
        s.pressure.set(s.pressure.get().saturating_add(bytes));
        let since = s.pressure_since_full.get().saturating_add(bytes);
        s.pressure_since_full.set(since);
        s.pressure_threshold.get().is_some_and(|t| since >= t)
    })
    .unwrap_or(false);
    if due {
        collect();
    }
}

/// Takes back `bytes` declared with [`add_memory_pressure`] (never below zero).
pub fn remove_memory_pressure(bytes: usize) {
    with_state(|s| s.pressure.set(s.pressure.get().saturating_sub(bytes)));
}

/// The memory pressure declared now ([`add_memory_pressure`]).
pub fn memory_pressure() -> usize {
    with_state(|s| s.pressure.get()).unwrap_or(0)
}

/// Makes [`add_memory_pressure`] run a full collection once the pressure added since the
/// last full collection reaches `threshold` bytes; `None` (the default) never does.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// gencollect::set_memory_pressure_threshold(Some(64 << 20));
/// let before = gencollect::get_stats()[2].collections;
/// gencollect::add_memory_pressure(64 << 20); // e.g. an image buffer an object owns
/// assert_eq!(gencollect::get_stats()[2].collections, before + 1);
/// gencollect::remove_memory_pressure(64 << 20);
/// gencollect::set_memory_pressure_threshold(None);
/// ```
pub fn set_memory_pressure_threshold(threshold: Option<usize>) {
    with_state(|s| s.pressure_threshold.set(threshold));
}
