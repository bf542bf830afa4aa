//! Per-generation statistics, debug flags and the collector's thread-local state.

use core::cell::{Cell, RefCell};
use core::ops::{BitOr, BitOrAssign};
use core::time::Duration;

use refcount::AnyGc;

use crate::callbacks::Callbacks;

/// Statistics of one generation, as `gc.get_stats()` reports them.
///
/// ```
/// let before = gencollect::get_stats()[2].collections;
/// gencollect::collect();
/// assert_eq!(gencollect::get_stats()[2].collections, before + 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationStats {
    /// Number of times this generation was collected.
    pub collections: usize,
    /// Objects found unreachable (and freed, or saved with `SAVEALL`) by those collections.
    pub collected: usize,
    /// Objects found unreachable that could not be collected.
    pub uncollectable: usize,
    /// Objects analysed, summed over the collections: the whole collected set, except in
    /// full collections, which analyse only what dirty objects reach
    /// ([`set_full_scan`](crate::set_full_scan)).
    pub candidates: usize,
    /// Time spent in those collections.
    pub duration: Duration,
}

/// The `gc` debug flags (values as in CPython's `gc` module).
///
/// ```
/// use gencollect::DebugFlags;
/// assert_eq!(DebugFlags::LEAK, DebugFlags::COLLECTABLE | DebugFlags::UNCOLLECTABLE | DebugFlags::SAVEALL);
/// assert!(DebugFlags::LEAK.contains(DebugFlags::SAVEALL));
/// assert_eq!(DebugFlags::LEAK.bits(), 38);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DebugFlags(u32);

impl DebugFlags {
    /// No debugging output.
    pub const NONE: DebugFlags = DebugFlags(0);
    /// Report statistics at the start and end of each collection.
    pub const STATS: DebugFlags = DebugFlags(1);
    /// Report every collectable object found.
    pub const COLLECTABLE: DebugFlags = DebugFlags(2);
    /// Report every uncollectable object found.
    pub const UNCOLLECTABLE: DebugFlags = DebugFlags(4);
    /// Keep every unreachable object in [`garbage`](crate::garbage) instead of freeing it.
    pub const SAVEALL: DebugFlags = DebugFlags(32);
    /// `COLLECTABLE | UNCOLLECTABLE | SAVEALL`: what a leak hunt wants.
    pub const LEAK: DebugFlags = DebugFlags(2 | 4 | 32);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Flags from raw bits (unknown bits are kept, as CPython keeps any int).
    pub const fn from_bits(bits: u32) -> DebugFlags {
        DebugFlags(bits)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: DebugFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for DebugFlags {
    type Output = DebugFlags;
    fn bitor(self, rhs: DebugFlags) -> DebugFlags {
        DebugFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for DebugFlags {
    fn bitor_assign(&mut self, rhs: DebugFlags) {
        self.0 |= rhs.0;
    }
}

/// The collector's per-thread state (the counts and thresholds live in the heap).
pub(crate) struct State {
    pub(crate) stats: RefCell<[GenerationStats; 3]>,
    pub(crate) debug: Cell<DebugFlags>,
    pub(crate) garbage: RefCell<Vec<AnyGc>>,
    pub(crate) callbacks: Callbacks,
    /// Objects that survived the last full collection (CPython's `long_lived_total`).
    pub(crate) long_lived_total: Cell<usize>,
    /// Objects promoted into generation 2 since then (`long_lived_pending`).
    pub(crate) long_lived_pending: Cell<usize>,
    /// Whether full collections analyse every object ([`crate::set_full_scan`]).
    pub(crate) full_scan: Cell<bool>,
    /// From how many objects in generation 0 a collection's count pass holds them
    /// ([`crate::set_young_hold_threshold`]).
    pub(crate) hold_threshold: Cell<usize>,
    /// Whether the last collection of such a generation 0 found at least half of it
    /// garbage, so that the next one holds it.
    pub(crate) hold_young: Cell<bool>,
    /// Whether a large count pass may be split with a helper thread
    /// ([`crate::set_parallel`]).
    pub(crate) parallel: Cell<bool>,
    /// From how many objects it is ([`crate::set_parallel_threshold`]).
    pub(crate) parallel_threshold: Cell<usize>,
    /// The share of the set the helper counts, adjusted after each split pass so that both
    /// threads finish together (`parallel::next_share`).
    pub(crate) helper_share: Cell<f64>,
    /// How many count passes a helper thread took part in ([`crate::split_passes`]).
    pub(crate) split_passes: Cell<usize>,
}

thread_local! {
    pub(crate) static STATE: State = State {
        stats: RefCell::new([GenerationStats::default(); 3]),
        debug: Cell::new(DebugFlags::NONE),
        garbage: RefCell::new(Vec::new()),
        callbacks: Callbacks::default(),
        long_lived_total: Cell::new(0),
        long_lived_pending: Cell::new(0),
        full_scan: Cell::new(false),
        hold_threshold: Cell::new(crate::api::YOUNG_HOLD_THRESHOLD),
        hold_young: Cell::new(true),
        parallel: Cell::new(true),
        parallel_threshold: Cell::new(crate::parallel::PARALLEL_THRESHOLD),
        helper_share: Cell::new(0.5),
        split_passes: Cell::new(0),
    };
}

/// Runs `f` with the collector state, or returns `None` during thread teardown.
pub(crate) fn with_state<R>(f: impl FnOnce(&State) -> R) -> Option<R> {
    STATE.try_with(f).ok()
}
