//! The three-generation cycle collector of gcrt, with Python's `gc` module as its API.
//!
//! Reference counting (in `refcount`) frees most objects the moment they die. This crate's
//! one job is reclaiming what it cannot: reference cycles. It keeps CPython's design:
//! generations 0, 1 and 2 plus a permanent generation, collections triggered when tracked
//! allocations minus deallocations pass a threshold, and the collection algorithm of
//! CPython's `gc_collect_main` (see [`collect`] and `docs/collector.md`).
//!
//! Every function acts on the current thread's heap. The collector installs itself as the
//! heap's automatic-collection hook when the program starts.
//!
//! ```
//! assert_eq!(gencollect::get_threshold(), (2000, 10, 10));
//! assert!(gencollect::is_enabled());
//! ```

// The `gc` module's functions.
mod api;
// Collection callbacks (`gc.callbacks`).
mod callbacks;
// The collection algorithm, one file per step.
mod collector;
mod error;
// Inspection beyond Python's: several objects at once, why-alive, the DOT dump.
mod inspect;
// The count pass on two threads.
mod parallel;
// The heap's memory, tracked-object totals, memory pressure.
mod memory;
// Pause histograms.
mod pauses;
// The per-thread state: statistics, flags, settings, saved garbage.
mod state;
// Statistics and debug flags (the public types).
mod stats;

// Collections and their settings.
pub use api::{
    DisabledGuard, collect, collect_generation, collection_count, disable, enable, get_count,
    get_threshold, is_enabled, set_threshold, set_threshold0,
};
// The collector's tuning: full scans, the young-generation hold, the helper thread.
pub use api::{
    get_full_scan, get_parallel, set_full_scan, set_parallel, set_parallel_threshold,
    set_young_hold_threshold, split_passes,
};
// Freezing (`gc.freeze`).
pub use api::{freeze, get_freeze_count, unfreeze};
// Inspection.
pub use api::{
    get_generation, get_objects, get_referents, get_referrers, is_finalized, is_tracked,
};
// The heap's memory, and memory held outside it (.NET's `GC.AddMemoryPressure`).
pub use inspect::{Link, WhyAlive, dump_dot, get_referents_of, get_referrers_of, why_alive};
pub use memory::{
    add_memory_pressure, memory_pressure, remove_memory_pressure, set_memory_pressure_threshold,
    total_memory, tracked_totals,
};
pub use refcount::AnyGc;
// Statistics, debugging and callbacks.
pub use api::{clear_garbage, garbage, get_debug, get_stats, set_debug};
pub use api::{get_pause_stats, reset_pause_stats};
pub use api::{register_callback, unregister_callback};
pub use callbacks::{CallbackHandle, CollectionInfo, Phase, Reason};
pub use pauses::{PAUSE_BUCKETS, PauseStats};
pub use stats::{DebugFlags, GenerationStats};
// Finalization controls (.NET's `GC.SuppressFinalize` and `ReRegisterForFinalize`).
pub use api::{reregister_for_finalize, suppress_finalize};
// Errors, and panics that cannot propagate.
pub use error::Error;
pub use refcount::{Unraisable, UnraisableHook, report_unraisable, set_unraisable_hook};
// The heap's memory.
pub use refcount::{
    AllocStats, FreeListStats, alloc_report, alloc_stats, free_list_stats, free_lists_enabled,
    set_free_lists,
};

/// Installs the generational collector as the heap's automatic-collection hook.
///
/// Runs by itself when the program starts; calling it again does nothing. Call it yourself
/// only on a platform where load-time constructors do not run.
pub fn install() {
    refcount::engine::set_collect_hook(api::automatic);
}

#[ctor::ctor(unsafe)]
fn install_at_load() {
    install();
}
