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

mod api;
mod callbacks;
mod collector;
mod error;
mod parallel;
mod stats;

pub use api::{
    DisabledGuard, clear_garbage, collect, collect_generation, collection_count, disable, enable,
    freeze, garbage, get_count, get_debug, get_freeze_count, get_full_scan, get_generation,
    get_objects, get_parallel, get_referents, get_referrers, get_stats, get_threshold, is_enabled,
    is_finalized, is_tracked, register_callback, reregister_for_finalize, set_debug, set_full_scan,
    set_parallel, set_parallel_threshold, set_threshold, set_young_hold_threshold, split_passes,
    suppress_finalize, total_memory, unfreeze, unregister_callback,
};
pub use callbacks::{CallbackHandle, CollectionInfo, Phase, Reason};
pub use error::Error;
pub use refcount::AnyGc;
pub use refcount::{AllocStats, alloc_report, alloc_stats};
pub use refcount::{Unraisable, UnraisableHook, report_unraisable, set_unraisable_hook};
pub use stats::{DebugFlags, GenerationStats};

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
