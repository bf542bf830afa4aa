//! Statistics: what the allocator holds, and the human-readable report.

use core::fmt::Write as _;

use crate::arena::ARENA_SIZE;
use crate::pool::POOL_SIZE;
use crate::size_class::{NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD, class_size};

/// A snapshot of the allocator's state, from [`Allocator::stats`].
///
/// [`Allocator::stats`]: crate::Allocator::stats
///
/// ```
/// use std::alloc::Layout;
/// use rawalloc::{size_class, Allocator};
///
/// let mut heap = Allocator::new();
/// let layout = Layout::from_size_align(40, 8).unwrap();
/// let p = heap.alloc(layout);
/// let stats = heap.stats();
/// let class = size_class(40).unwrap();
/// assert_eq!(stats.blocks_in_use[class], 1);
/// assert_eq!(stats.pools_in_use[class], 1);
/// assert_eq!(stats.arenas_held, 1);
/// assert_eq!(stats.bytes_in_use, 48); // 40 rounded up to its class
/// unsafe { heap.dealloc(p, layout) };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Arenas ever taken from the system.
    pub arenas_allocated: usize,
    /// Arenas ever given back to the system, or handed over to be given back
    /// ([`Allocator::take_retired`](crate::Allocator::take_retired)).
    pub arenas_freed: usize,
    /// Arenas held now (`arenas_allocated - arenas_freed - arenas_retired`),
    /// the spare empty arena included.
    pub arenas_held: usize,
    /// Emptied arenas set aside while releases are deferred, neither held
    /// nor given back yet (see [`RetiredArenas`](crate::RetiredArenas)).
    pub arenas_retired: usize,
    /// Per size class: pools with at least one block in use.
    pub pools_in_use: [usize; NUM_SIZE_CLASSES],
    /// Per size class: live blocks.
    pub blocks_in_use: [usize; NUM_SIZE_CLASSES],
    /// Live large blocks (served by the system allocator).
    pub large_blocks_in_use: usize,
    /// Bytes requested by the live large blocks.
    pub large_bytes_in_use: usize,
    /// Bytes requested from the immortal region.
    pub immortal_bytes: usize,
    /// Bytes in use: live small blocks at their class size, plus large
    /// bytes, plus immortal bytes.
    pub bytes_in_use: usize,
}

/// [`Stats`] plus the figures only the report shows.
pub(crate) struct Census {
    pub(crate) stats: Stats,
    /// Per class: blocks available in the pools in use.
    pub(crate) blocks_available: [usize; NUM_SIZE_CLASSES],
    /// Pools free in held arenas (empty or never used).
    pub(crate) free_pools: usize,
    /// Bytes the immortal region holds from the system.
    pub(crate) immortal_reserved: usize,
}

/// Renders the report of [`Allocator::report`](crate::Allocator::report).
pub(crate) fn report(census: &Census) -> String {
    let s = &census.stats;
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        out,
        "Small block threshold = {SMALL_REQUEST_THRESHOLD}, in {NUM_SIZE_CLASSES} size classes; pool size = {POOL_SIZE}, arena size = {ARENA_SIZE}."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "class   size   num pools   blocks in use  avail blocks"
    );
    let _ = writeln!(
        out,
        "-----   ----   ---------   -------------  ------------"
    );
    for class in 0..NUM_SIZE_CLASSES {
        if s.pools_in_use[class] == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{class:5}  {:5}  {:10}  {:14}  {:12}",
            class_size(class),
            s.pools_in_use[class],
            s.blocks_in_use[class],
            census.blocks_available[class],
        );
    }
    let small_bytes: usize = (0..NUM_SIZE_CLASSES)
        .map(|c| s.blocks_in_use[c] * class_size(c))
        .sum();
    let pools: usize = s.pools_in_use.iter().sum();
    let _ = writeln!(out);
    let mut line = |label: &str, value: usize| {
        let _ = writeln!(out, "# {label:<40} = {value:>15}");
    };
    line("arenas allocated total", s.arenas_allocated);
    line("arenas reclaimed", s.arenas_freed);
    line("arenas held", s.arenas_held);
    if s.arenas_retired != 0 {
        line("arenas set aside to give back", s.arenas_retired);
    }
    line("bytes in held arenas", s.arenas_held * ARENA_SIZE);
    line("pools in use", pools);
    line("free pools in held arenas", census.free_pools);
    line("bytes in allocated blocks", small_bytes);
    line("large blocks in use", s.large_blocks_in_use);
    line("large bytes in use", s.large_bytes_in_use);
    line("immortal bytes", s.immortal_bytes);
    line("immortal bytes reserved", census.immortal_reserved);
    line("bytes in use", s.bytes_in_use);
    out
}
