//! The allocator: size classes, pools and arenas tied together, with the
//! hot paths inlined and the rare transitions kept out of line.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::arena::{Arena, Arenas, POOLS_PER_ARENA};
use crate::error::{AllocError, AllocErrorKind};
use crate::immortal::Immortal;
use crate::large::Large;
use crate::pool::{Pool, UsedPools};
use crate::size_class::{self, ALIGNMENT, NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD, class_size};
use crate::stats::{self, Census, Stats};

/// One private heap's raw allocator.
///
/// Small requests (at most [`SMALL_REQUEST_THRESHOLD`] bytes, alignment at
/// most [`ALIGNMENT`]) are served from pools of one size class each, carved
/// from arenas taken from [`std::alloc::System`]; bigger or more aligned
/// requests go to the system allocator directly. [`alloc_immortal`] serves
/// memory that lives as long as the allocator.
///
/// The allocator is single-threaded: it is neither `Send` nor `Sync`.
///
/// # Empty pools and arenas
///
/// A pool that becomes empty goes back to its arena, to be reused by any
/// class; an arena whose pools are all free goes back to the system, except
/// one *spare* empty arena kept so allocating and freeing at the boundary
/// does not thrash. One refinement over obmalloc: the most recently
/// emptied pool stays linked to its class (it is still counted as free
/// when deciding whether its arena is empty) until another pool empties or
/// another class needs a pool. So a loop allocating and freeing one block
/// touches no pool or arena bookkeeping at all.
///
/// [`alloc_immortal`]: Allocator::alloc_immortal
///
/// ```
/// use std::alloc::Layout;
/// use rawalloc::Allocator;
///
/// let mut heap = Allocator::new();
/// let layout = Layout::new::<[u64; 4]>();
/// let p = heap.alloc(layout);
/// unsafe {
///     p.cast::<[u64; 4]>().write([1, 2, 3, 4]);
///     assert_eq!(p.cast::<[u64; 4]>().read(), [1, 2, 3, 4]);
///     heap.dealloc(p, layout);
/// }
/// assert_eq!(heap.bytes_in_use(), 0);
/// ```
///
/// It cannot be shared with, or sent to, another thread:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(rawalloc::Allocator::new());
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>(_: &T) {}
/// sync(&rawalloc::Allocator::new());
/// ```
pub struct Allocator {
    /// Per class, the pools with blocks available; the head is the current
    /// pool.
    used: UsedPools,
    /// Bytes of live small blocks, at their class size.
    small_bytes: usize,
    /// The most recently emptied pool, kept on its class's used list
    /// instead of going back to its arena at once. It may have been
    /// allocated from since; it is cleared when the pool leaves its list.
    retained: Option<Pool>,
    arenas: Arenas,
    large: Large,
    immortal: Immortal,
    /// Raw pointers to pools and arenas are shared with no one else, but
    /// nothing here is made for threads: neither `Send` nor `Sync`.
    _single_threaded: PhantomData<*mut ()>,
}

/// Whether `layout` is served from the pools.
#[inline(always)]
fn is_small(layout: Layout) -> bool {
    layout.size() <= SMALL_REQUEST_THRESHOLD && layout.align() <= ALIGNMENT
}

/// Reports an allocation failure the way the standard library does.
#[cold]
#[inline(never)]
fn oom(layout: Layout) -> ! {
    std::alloc::handle_alloc_error(layout)
}

impl Default for Allocator {
    /// Same as [`Allocator::new`].
    ///
    /// ```
    /// let heap = rawalloc::Allocator::default();
    /// assert_eq!(heap.stats(), rawalloc::Stats::default());
    /// ```
    fn default() -> Allocator {
        Allocator::new()
    }
}

impl Allocator {
    /// An empty allocator. It takes no memory until the first allocation.
    ///
    /// ```
    /// let heap = rawalloc::Allocator::new();
    /// assert_eq!(heap.stats().arenas_held, 0);
    /// ```
    #[must_use]
    pub fn new() -> Allocator {
        Allocator {
            used: UsedPools::new(),
            small_bytes: 0,
            retained: None,
            arenas: Arenas::new(),
            large: Large::default(),
            immortal: Immortal::default(),
            _single_threaded: PhantomData,
        }
    }

    /// Allocates a block for `layout`, or says which step failed.
    ///
    /// Small blocks are aligned to [`ALIGNMENT`] whatever `layout` asks;
    /// large blocks to `layout.align()`. A zero-size request gets a real,
    /// distinct block, to be freed like any other.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::from_size_align(100, 4).unwrap();
    /// let p = heap.try_alloc(layout).expect("out of memory");
    /// unsafe { heap.dealloc(p, layout) };
    /// ```
    #[inline(always)]
    pub fn try_alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if is_small(layout) {
            let class = size_class::index(layout.size());
            if let Some(pool) = self.used.head(class) {
                // SAFETY: a pool on a used list is not full (`UsedPools`
                // invariant).
                let block = unsafe { pool.pop() };
                if pool.is_full() {
                    self.pool_filled(class, pool);
                }
                self.small_bytes += class_size(class);
                return Ok(block);
            }
            self.alloc_from_new_pool(class, layout)
        } else {
            self.large.alloc(layout)
        }
    }

    /// Allocates a block for `layout`; on failure, reports it through
    /// [`std::alloc::handle_alloc_error`] (which aborts by default).
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::new::<u32>();
    /// let p = heap.alloc(layout);
    /// unsafe { heap.dealloc(p, layout) };
    /// ```
    #[inline(always)]
    pub fn alloc(&mut self, layout: Layout) -> NonNull<u8> {
        match self.try_alloc(layout) {
            Ok(ptr) => ptr,
            Err(err) => oom(err.layout),
        }
    }

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// `ptr` came from [`alloc`](Allocator::alloc) or
    /// [`try_alloc`](Allocator::try_alloc) of this allocator with the same
    /// `layout`, and has not been freed since. The block must not be used
    /// afterwards. Immortal blocks must never be passed here.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::new::<[u8; 24]>();
    /// let p = heap.alloc(layout);
    /// // SAFETY: `p` came from `heap` with `layout` and is freed once.
    /// unsafe { heap.dealloc(p, layout) };
    /// // The freed block is the first handed out again.
    /// assert_eq!(heap.alloc(layout), p);
    /// # unsafe { heap.dealloc(p, layout) };
    /// ```
    #[inline(always)]
    pub unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        if is_small(layout) {
            // SAFETY: the caller guarantees `ptr` is a live small block from
            // this allocator: it lies in a carved pool of a held arena and
            // carries the arena's provenance.
            let pool = unsafe { Pool::containing(ptr) };
            // SAFETY: as above, `ptr` is a live block of `pool`, given back.
            let changed = unsafe { pool.push(ptr) };
            self.small_bytes -= class_size(size_class::index(layout.size()));
            // The retained pool emptying again in the spare arena changes
            // nothing: an empty spare is allowed.
            if changed
                && !(self.retained == Some(pool) && self.arenas.spare() == Some(pool.arena()))
            {
                self.pool_changed(pool);
            }
        } else {
            // SAFETY: the caller guarantees `ptr` came from `try_alloc` with
            // `layout`, which for a large layout is `Large::alloc`.
            unsafe { self.large.dealloc(ptr, layout) }
        }
    }

    /// Allocates memory that stays valid as long as the allocator lives
    /// (or forever, after [`leak`](Allocator::leak)). It is never freed one
    /// block at a time: never pass it to [`dealloc`](Allocator::dealloc).
    /// Its alignment is `layout.align()`.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::new::<u64>();
    /// let p = heap.alloc_immortal(layout).cast::<u64>();
    /// unsafe { p.write(7) };
    /// assert_eq!(heap.stats().immortal_bytes, 8);
    /// ```
    pub fn alloc_immortal(&mut self, layout: Layout) -> NonNull<u8> {
        match self.try_alloc_immortal(layout) {
            Ok(ptr) => ptr,
            Err(err) => oom(err.layout),
        }
    }

    /// Like [`alloc_immortal`](Allocator::alloc_immortal), but says when
    /// the region cannot grow.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// assert!(heap.try_alloc_immortal(Layout::new::<u8>()).is_ok());
    /// ```
    pub fn try_alloc_immortal(&mut self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.immortal.alloc(layout)
    }

    /// Live bytes, in O(1): small blocks at their class size, plus large
    /// bytes, plus immortal bytes.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let small = Layout::from_size_align(20, 4).unwrap(); // class of 32
    /// let large = Layout::from_size_align(1000, 8).unwrap();
    /// let (a, b) = (heap.alloc(small), heap.alloc(large));
    /// assert_eq!(heap.bytes_in_use(), 32 + 1000);
    /// unsafe { heap.dealloc(a, small); heap.dealloc(b, large) };
    /// assert_eq!(heap.bytes_in_use(), 0);
    /// ```
    #[inline]
    #[must_use]
    pub fn bytes_in_use(&self) -> usize {
        self.small_bytes + self.large.bytes() + self.immortal.bytes()
    }

    /// A snapshot of the allocator's figures. It walks every pool, so it
    /// costs time proportional to the memory held.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::from_size_align(600, 8).unwrap();
    /// let p = heap.alloc(layout);
    /// let stats = heap.stats();
    /// assert_eq!((stats.large_blocks_in_use, stats.large_bytes_in_use), (1, 600));
    /// assert_eq!(stats.arenas_held, 0);
    /// # unsafe { heap.dealloc(p, layout) };
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.census().stats
    }

    /// A human-readable report in the style of CPython's
    /// `sys._debugmallocstats()`: a row per size class with pools in use
    /// (class, size, pools in use, blocks in use, blocks available), then
    /// arena, large-object and immortal totals and the bytes in use.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let layout = Layout::from_size_align(16, 8).unwrap();
    /// let p = heap.alloc(layout);
    /// let report = heap.report();
    /// assert!(report.contains("class   size   num pools   blocks in use  avail blocks"));
    /// assert!(report.contains("# arenas held"));
    /// print!("{report}");
    /// # unsafe { heap.dealloc(p, layout) };
    /// ```
    #[must_use]
    pub fn report(&self) -> String {
        stats::report(&self.census())
    }

    /// Forgets the allocator without freeing anything, so every block it
    /// handed out stays valid for the rest of the program. For when objects
    /// must outlive their heap, e.g. at thread exit while some are still
    /// referenced.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use std::sync::atomic::{AtomicPtr, Ordering};
    ///
    /// static STILL_REFERENCED: AtomicPtr<u64> = AtomicPtr::new(std::ptr::null_mut());
    ///
    /// let mut heap = rawalloc::Allocator::new();
    /// let p = heap.alloc(Layout::new::<u64>()).cast::<u64>();
    /// STILL_REFERENCED.store(p.as_ptr(), Ordering::Relaxed);
    /// heap.leak();
    /// let p = STILL_REFERENCED.load(Ordering::Relaxed);
    /// unsafe { p.write(42) }; // still valid
    /// assert_eq!(unsafe { p.read() }, 42);
    /// ```
    pub fn leak(self) {
        core::mem::forget(self);
    }

    /// Frees the arenas and large-block bookkeeping but keeps the immortal region, so
    /// that immortal blocks stay valid for the rest of the program: for a heap whose only
    /// remaining objects are immortal.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let mut heap = rawalloc::Allocator::new();
    /// let forever = heap.alloc_immortal(Layout::new::<u64>()).cast::<u64>();
    /// let p = heap.alloc(Layout::new::<u64>());
    /// unsafe { heap.dealloc(p, Layout::new::<u64>()) };
    /// heap.leak_immortal();
    /// unsafe { forever.write(7) }; // still valid
    /// assert_eq!(unsafe { forever.read() }, 7);
    /// ```
    pub fn leak_immortal(mut self) {
        core::mem::forget(core::mem::take(&mut self.immortal));
    }

    /// While `on`, an arena that empties (beyond the one spare) is set aside
    /// instead of given back to the system, to be reused before any new one,
    /// until [`take_retired`](Allocator::take_retired) hands it over. Off by
    /// default. Turning it off gives back nothing set aside: take it.
    ///
    /// ```
    /// let mut heap = rawalloc::Allocator::new();
    /// heap.set_release_deferred(true);
    /// // ... free much memory at once ...
    /// heap.set_release_deferred(false);
    /// let retired = heap.take_retired(); // given back when dropped
    /// assert!(retired.is_empty());
    /// ```
    pub fn set_release_deferred(&mut self, on: bool) {
        self.arenas.set_defer(on);
    }

    /// Hands over the arenas set aside while releases were deferred (see
    /// [`set_release_deferred`](Allocator::set_release_deferred)); dropping the
    /// value gives them back to the system, on whichever thread drops it.
    pub fn take_retired(&mut self) -> crate::RetiredArenas {
        self.arenas.take_retired()
    }

    /// The current pool of `class` just became full: it has nothing more
    /// to hand out, so it leaves the used list.
    #[cold]
    #[inline(never)]
    fn pool_filled(&mut self, class: usize, pool: Pool) {
        self.used.unlink(class, pool);
        if self.retained == Some(pool) {
            self.retained = None;
        }
    }

    /// `class` has no pool with a block available: take an empty pool
    /// (taking a new arena if need be) and allocate from it.
    #[cold]
    #[inline(never)]
    fn alloc_from_new_pool(
        &mut self,
        class: usize,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        // The retained pool, if still empty, is free for any class now.
        // (It is not of `class`: then `class` would have a pool.)
        if let Some(old) = self.retained.take()
            && old.ref_count() == 0
        {
            self.used.unlink(old.class(), old);
            self.give_back(old);
        }
        let pool = self
            .arenas
            .take_pool(class)
            .ok_or(AllocError::new(layout, AllocErrorKind::Arena))?;
        // SAFETY: a freshly taken pool is empty, so not full.
        let block = unsafe { pool.pop() };
        // A pool of one block is full at once and goes on no list.
        if !pool.is_full() {
            self.used.push_front(class, pool);
        }
        self.small_bytes += class_size(class);
        Ok(block)
    }

    /// A block went back to `pool`, which was full or is now empty.
    #[cold]
    #[inline(never)]
    fn pool_changed(&mut self, pool: Pool) {
        let class = pool.class();
        if pool.ref_count() > 0 {
            // It was full: it has a block available again, and is the
            // best place for the next allocation of its class.
            self.used.push_front(class, pool);
        } else if pool.capacity() == 1 {
            // Full and empty at once: it was on no list.
            self.give_back(pool);
        } else if self.retained == Some(pool) {
            // Emptied again, in an arena that is not the spare.
            self.check_arena(pool.arena());
        } else {
            self.retain(pool);
        }
    }

    /// Keeps `pool`, just emptied and on its class's used list, as the
    /// retained pool; the previous one, if still empty, goes back to its
    /// arena.
    fn retain(&mut self, pool: Pool) {
        let arena = pool.arena();
        if let Some(old) = self.retained.replace(pool)
            && old.ref_count() == 0
        {
            let old_arena = old.arena();
            self.used.unlink(old.class(), old);
            // SAFETY: `old` is empty and now on no used list.
            unsafe { self.arenas.put_pool(old) };
            // Checking `arena` below covers `old_arena` if they are one.
            if old_arena != arena {
                self.check_arena(old_arena);
            }
        }
        self.check_arena(arena);
    }

    /// Returns `pool`, empty and on no used list, to its arena.
    fn give_back(&mut self, pool: Pool) {
        let arena = pool.arena();
        // SAFETY: the caller guarantees `pool` is empty and on no used list.
        unsafe { self.arenas.put_pool(pool) };
        self.check_arena(arena);
    }

    /// Whether every pool of `arena` is free, counting the retained pool
    /// as free while it is empty.
    fn arena_is_empty(&self, arena: Arena) -> bool {
        let retained = self
            .retained
            .is_some_and(|pool| pool.arena() == arena && pool.ref_count() == 0);
        arena.nfree() + usize::from(retained) == POOLS_PER_ARENA
    }

    /// Called whenever `arena` may have become empty. Keeps the invariant
    /// that the only empty arena is the spare: an empty arena becomes the
    /// spare unless there is an empty spare already, and then it goes back
    /// to the system.
    fn check_arena(&mut self, arena: Arena) {
        if !self.arena_is_empty(arena) {
            return;
        }
        match self.arenas.spare() {
            Some(spare) if spare != arena && self.arena_is_empty(spare) => {
                if let Some(pool) = self.retained
                    && pool.arena() == arena
                {
                    self.retained = None;
                    self.used.unlink(pool.class(), pool);
                    // SAFETY: the retained pool is empty (the arena is)
                    // and now on no used list.
                    unsafe { self.arenas.put_pool(pool) };
                }
                // SAFETY: every pool of `arena` is free and on no used list
                // (the retained one was just unlinked), so no handle to it
                // remains outside `Arenas`.
                unsafe { self.arenas.release(arena) };
            }
            _ => self.arenas.set_spare(arena),
        }
    }

    fn census(&self) -> Census {
        let mut stats = Stats {
            arenas_allocated: self.arenas.allocated(),
            arenas_freed: self.arenas.freed(),
            arenas_held: self.arenas.allocated() - self.arenas.freed() - self.arenas.retired(),
            arenas_retired: self.arenas.retired(),
            large_blocks_in_use: self.large.blocks(),
            large_bytes_in_use: self.large.bytes(),
            immortal_bytes: self.immortal.bytes(),
            bytes_in_use: self.bytes_in_use(),
            ..Stats::default()
        };
        let mut blocks_available = [0; NUM_SIZE_CLASSES];
        self.arenas.for_each_pool(|pool| {
            if pool.ref_count() > 0 {
                let class = pool.class();
                stats.pools_in_use[class] += 1;
                stats.blocks_in_use[class] += pool.ref_count();
                blocks_available[class] += pool.capacity() - pool.ref_count();
            }
        });
        Census {
            stats,
            blocks_available,
            free_pools: self.arenas.free_pools(),
            immortal_reserved: self.immortal.reserved(),
        }
    }
}

impl Drop for Allocator {
    /// Gives every arena back to the system, and frees the immortal region:
    /// every small and immortal block becomes dangling. Large blocks still
    /// live are not tracked one by one and are *not* freed: they leak unless
    /// their owner frees them with [`std::alloc::System`]. To keep
    /// everything valid instead, call [`Allocator::leak`].
    fn drop(&mut self) {
        // `Arenas` and `Immortal` free their memory when dropped.
    }
}

#[cfg(test)]
impl Allocator {
    /// Checks every structural invariant (tests only).
    pub(crate) fn assert_invariants(&self) {
        self.arenas.assert_invariants();
        let listed = self.used.assert_invariants(self.retained);
        if let Some(pool) = self.retained {
            assert!(listed.contains(&pool), "the retained pool is on its list");
        }
        // Exactly the pools with blocks in use and room are listed.
        let mut expected = 0;
        let mut small_bytes = 0;
        self.arenas.for_each_pool(|pool| {
            if pool.ref_count() > 0 && !pool.is_full() {
                expected += 1;
                assert!(listed.contains(&pool));
            }
            small_bytes += pool.ref_count() * class_size(pool.class());
        });
        let retained_empty = self.retained.is_some_and(|p| p.ref_count() == 0);
        assert_eq!(listed.len(), expected + usize::from(retained_empty));
        assert_eq!(small_bytes, self.small_bytes);
        // The only empty arena is the spare.
        let mut empty = 0;
        self.arenas.for_each_arena(|arena| {
            if self.arena_is_empty(arena) {
                empty += 1;
                assert_eq!(
                    self.arenas.spare(),
                    Some(arena),
                    "an empty arena is the spare"
                );
            }
        });
        assert!(empty <= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::{POOL_OVERHEAD, POOL_SIZE, blocks_per_pool};

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    #[test]
    fn a_new_pool_is_carved_in_address_order_after_its_header() {
        let mut heap = Allocator::new();
        let l = layout(48);
        let first = heap.alloc(l);
        let pool_start = first.as_ptr().addr() & !(POOL_SIZE - 1);
        assert_eq!(first.as_ptr().addr() - pool_start, POOL_OVERHEAD);
        let mut blocks = vec![first];
        for i in 1..blocks_per_pool(2) {
            let p = heap.alloc(l);
            assert_eq!(p.as_ptr().addr(), pool_start + POOL_OVERHEAD + i * 48);
            blocks.push(p);
        }
        // The last block ends inside the pool.
        assert!(blocks.last().unwrap().as_ptr().addr() + 48 <= pool_start + POOL_SIZE);
        // The pool is full: it left the used list.
        assert!(heap.used.head(2).is_none());
        for p in blocks {
            // SAFETY: each block came from `heap` with `l`, freed once.
            unsafe { heap.dealloc(p, l) };
        }
    }

    #[test]
    fn pool_header_is_small_and_aligned() {
        assert_eq!(POOL_OVERHEAD % ALIGNMENT, 0);
        const { assert!(POOL_OVERHEAD <= 64) };
        assert_eq!(blocks_per_pool(0), (POOL_SIZE - POOL_OVERHEAD) / 16);
    }

    #[test]
    fn invariants_hold_through_a_random_churn() {
        let mut rng = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let steps = if cfg!(miri) { 400 } else { 40_000 };
        let phase = steps / 4;
        let mut heap = Allocator::new();
        let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
        for step in 0..steps {
            // Phases of growth and shrinkage, so arenas fill and drain.
            let grow_percent = if (step / phase) % 2 == 0 { 70 } else { 30 };
            if live.is_empty() || next(100) < grow_percent {
                let size = if next(4) == 0 {
                    1 + next(64)
                } else {
                    next(SMALL_REQUEST_THRESHOLD + 1)
                };
                let l = layout(size);
                live.push((heap.alloc(l), l));
            } else {
                let (p, l) = live.swap_remove(next(live.len()));
                // SAFETY: came from `heap` with `l`, freed once.
                unsafe { heap.dealloc(p, l) };
            }
            if cfg!(miri) || step % 97 == 0 {
                heap.assert_invariants();
            }
        }
        for (p, l) in live.drain(..) {
            // SAFETY: came from `heap` with `l`, freed once.
            unsafe { heap.dealloc(p, l) };
            if cfg!(miri) {
                heap.assert_invariants();
            }
        }
        heap.assert_invariants();
        let stats = heap.stats();
        assert!(stats.arenas_allocated >= 2, "{stats:?}");
        assert_eq!(stats.arenas_held, 1);
    }
}
