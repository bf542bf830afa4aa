//! The collector's per-thread state: statistics, debug flags, saved garbage, callbacks, and
//! the policy's settings and memory (the counts and thresholds live in the heap).

use core::cell::{Cell, RefCell};

use refcount::AnyGc;

use crate::callbacks::Callbacks;
use crate::pauses::PauseStats;
use crate::stats::{DebugFlags, GenerationStats};

/// The default of [`crate::set_young_hold_threshold`].
const YOUNG_HOLD_THRESHOLD: usize = 1 << 16;

/// The collector's per-thread state (the counts and thresholds live in the heap).
pub(crate) struct State {
    pub(crate) stats: RefCell<[GenerationStats; 3]>,
    pub(crate) pauses: RefCell<[PauseStats; 3]>,
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
    /// How many count passes a helper thread took part in ([`crate::split_passes`]).
    pub(crate) split_passes: Cell<usize>,
    /// Bytes held outside the heap on behalf of its objects ([`crate::add_memory_pressure`]).
    pub(crate) pressure: Cell<usize>,
    /// Pressure added since the last full collection.
    pub(crate) pressure_since_full: Cell<usize>,
    /// From how much added pressure a full collection starts, if set.
    pub(crate) pressure_threshold: Cell<Option<usize>>,
}

thread_local! {
    pub(crate) static STATE: State = State {
        stats: RefCell::new([GenerationStats::default(); 3]),
        pauses: RefCell::new([PauseStats::default(); 3]),
        debug: Cell::new(DebugFlags::NONE),
        garbage: RefCell::new(Vec::new()),
        callbacks: Callbacks::default(),
        long_lived_total: Cell::new(0),
        long_lived_pending: Cell::new(0),
        full_scan: Cell::new(false),
        hold_threshold: Cell::new(YOUNG_HOLD_THRESHOLD),
        hold_young: Cell::new(true),
        parallel: Cell::new(true),
        parallel_threshold: Cell::new(crate::parallel::PARALLEL_THRESHOLD),
        split_passes: Cell::new(0),
        pressure: Cell::new(0),
        pressure_since_full: Cell::new(0),
        pressure_threshold: Cell::new(None),
    };
}

/// Runs `f` with the collector state, or returns `None` during thread teardown.
pub(crate) fn with_state<R>(f: impl FnOnce(&State) -> R) -> Option<R> {
    STATE.try_with(f).ok()
}
