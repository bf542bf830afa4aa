//! Retired arenas: emptied arenas set aside to be given back to the system later, possibly
//! on another thread, so that freeing much garbage at once does not pay for unmapping it.

use core::alloc::GlobalAlloc;
use core::ptr::NonNull;
use std::alloc::System;

use crate::arena::ARENA_LAYOUT;

/// Arenas' memory that an [`Allocator`](crate::Allocator) no longer uses, waiting to be
/// given back to the system, which happens when this value is dropped.
///
/// While [`Allocator::set_release_deferred`](crate::Allocator::set_release_deferred) is on,
/// the allocator sets emptied arenas aside here instead of giving them back at once (giving
/// back a 1 MiB arena costs tens of microseconds of unmapping), and reuses them before
/// taking new ones. [`Allocator::take_retired`](crate::Allocator::take_retired) hands them
/// over: the value is `Send`, so another thread can pay for dropping it.
///
/// ```
/// use std::alloc::Layout;
/// use rawalloc::{blocks_per_pool, size_class, Allocator, ARENA_SIZE, POOL_SIZE};
///
/// let mut heap = Allocator::new();
/// heap.set_release_deferred(true);
/// // Fill three arenas with 128-byte blocks, then free them all.
/// let layout = Layout::from_size_align(128, 8).unwrap();
/// let per_arena = ARENA_SIZE / POOL_SIZE * blocks_per_pool(size_class(128).unwrap());
/// let blocks: Vec<_> = (0..3 * per_arena).map(|_| heap.alloc(layout)).collect();
/// for p in blocks {
///     // SAFETY: each block came from `heap` with `layout` and is freed once.
///     unsafe { heap.dealloc(p, layout) };
/// }
/// // One empty arena stays as the spare; the other two were set aside.
/// assert_eq!(heap.stats().arenas_held, 1);
/// let retired = heap.take_retired();
/// assert_eq!(retired.len(), 2);
/// std::thread::spawn(move || drop(retired)).join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct RetiredArenas {
    /// # Invariants
    ///
    /// Each is the start of a live [`ARENA_LAYOUT`] allocation from [`System`], owned by this
    /// value alone: no block, pool or arena handle in it is used again.
    bases: Vec<NonNull<u8>>,
}

// SAFETY: the value owns the memory alone (type invariant), and `System` may free memory
// from any thread.
unsafe impl Send for RetiredArenas {}

impl RetiredArenas {
    pub(crate) const fn new() -> RetiredArenas {
        RetiredArenas { bases: Vec::new() }
    }

    /// How many arenas are waiting to be given back.
    pub fn len(&self) -> usize {
        self.bases.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }

    /// Sets aside the arena memory at `base`.
    ///
    /// # Safety
    /// `base` is the start of a live [`ARENA_LAYOUT`] allocation from [`System`], and
    /// nothing uses any of it again except through this value.
    pub(crate) unsafe fn push(&mut self, base: NonNull<u8>) {
        self.bases.push(base);
    }

    /// Takes one arena's memory back for reuse: its contents are stale, and it is owned by
    /// the caller from now on.
    pub(crate) fn pop(&mut self) -> Option<NonNull<u8>> {
        self.bases.pop()
    }
}

impl Drop for RetiredArenas {
    fn drop(&mut self) {
        for base in self.bases.drain(..) {
            // SAFETY: type invariant: a live `ARENA_LAYOUT` allocation from `System` that
            // nothing uses again.
            unsafe { System.dealloc(base.as_ptr(), ARENA_LAYOUT) };
        }
    }
}
