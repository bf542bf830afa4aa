//! Per-generation statistics and the debug flags.

use core::ops::{BitOr, BitOrAssign};
use core::time::Duration;

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

/// A line of `DEBUG_STATS` or `DEBUG_COLLECTABLE` output, printed once: as a `tracing`
/// event when a subscriber takes it (target `gcrt::gc::debug`), else on stderr as CPython
/// prints it.
pub(crate) fn debug_line(args: core::fmt::Arguments<'_>) {
    if tracing::enabled!(target: "gcrt::gc::debug", tracing::Level::INFO) {
        tracing::info!(target: "gcrt::gc::debug", "gc: {}", args);
    } else {
        eprintln!("gc: {args}");
    }
}
