//! Arenas: [`ARENA_SIZE`]-byte chunks taken from the system allocator and
//! carved into pools.
//!
//! An arena hands out pools, first from its list of pools that became
//! empty, then by carving never-used ones in address order. [`Arenas`]
//! keeps the *usable* arenas (those with a free pool) sorted by how many
//! free pools they have, fewest first, and takes new pools from the head:
//! like obmalloc, the most-used arena is preferred so lightly-used ones can
//! drain and be given back. Which empty arena is kept as the spare, and
//! when an empty arena is released, is decided by the
//! [`Allocator`](crate::Allocator), which alone knows about the pool it
//! keeps back from its arena (see `allocator.rs`).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::alloc::System;

use crate::pool::{POOL_SIZE, Pool};
use crate::retired::RetiredArenas;

/// Size of an arena in bytes: 1 MiB (4 pools under Miri, so tests reach the
/// "new arena" and "arena empty" paths quickly).
///
/// Arenas come from [`std::alloc::System`] aligned to [`POOL_SIZE`].
///
/// ```
/// assert_eq!(rawalloc::ARENA_SIZE % rawalloc::POOL_SIZE, 0);
/// ```
#[cfg(not(miri))]
pub const ARENA_SIZE: usize = 1024 * 1024;

/// Size of an arena in bytes: 4 pools under Miri (1 MiB in normal builds).
///
/// ```
/// assert_eq!(rawalloc::ARENA_SIZE % rawalloc::POOL_SIZE, 0);
/// ```
#[cfg(miri)]
pub const ARENA_SIZE: usize = 4 * POOL_SIZE;

/// Pools in one arena.
pub(crate) const POOLS_PER_ARENA: usize = ARENA_SIZE / POOL_SIZE;

const _: () = assert!(ARENA_SIZE.is_multiple_of(POOL_SIZE) && POOLS_PER_ARENA >= 2);

/// Layout of an arena's memory: pool-aligned, so every pool is.
pub(crate) const ARENA_LAYOUT: Layout = match Layout::from_size_align(ARENA_SIZE, POOL_SIZE) {
    Ok(layout) => layout,
    Err(_) => panic!("bad arena layout"),
};

/// Bookkeeping for one arena, in its own small system allocation.
///
/// # Invariants
///
/// 1. `base` is the start of a live [`ARENA_LAYOUT`] allocation from
///    [`System`], owned by this arena.
/// 2. Pools `0..carved` (at `base + i * POOL_SIZE`) have initialised
///    headers; the rest is used by nobody (never touched, or stale memory of
///    a retired arena).
/// 3. `free_pools` lists (through the pools' `next`) carved pools that are
///    empty; `nfree_raw == POOLS_PER_ARENA - carved + len(free_pools)`.
/// 4. The arena is on the usable list iff `nfree > 0`, and always on the
///    list of all arenas.
struct ArenaHeader {
    base: NonNull<u8>,
    free_pools: Option<Pool>,
    nfree_raw: usize,
    carved: usize,
    usable_prev: Option<Arena>,
    usable_next: Option<Arena>,
    all_prev: Option<Arena>,
    all_next: Option<Arena>,
}

/// A handle to an arena held by the allocator.
///
/// # Invariants
///
/// Points to the live, initialised [`ArenaHeader`] of an arena not yet
/// [released](Arena::release). Handles live only in the allocator's lists
/// and pool headers, and the arena is only released once none of them can
/// be used again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Arena(NonNull<ArenaHeader>);

/// Generates a getter and a setter for a header field.
macro_rules! field {
    ($get:ident, $set:ident: $ty:ty) => {
        fn $get(self) -> $ty {
            // SAFETY: type invariant: the header is live and initialised,
            // and no reference to it is held anywhere.
            unsafe { (*self.0.as_ptr()).$get }
        }
        #[allow(dead_code)]
        fn $set(self, value: $ty) {
            // SAFETY: as for the getter.
            unsafe { (*self.0.as_ptr()).$get = value }
        }
    };
}

impl Arena {
    field!(base, set_base: NonNull<u8>);
    field!(free_pools, set_free_pools: Option<Pool>);
    field!(nfree_raw, set_nfree: usize);
    field!(carved, set_carved: usize);
    field!(usable_prev, set_usable_prev: Option<Arena>);
    field!(usable_next, set_usable_next: Option<Arena>);
    field!(all_prev, set_all_prev: Option<Arena>);
    field!(all_next, set_all_next: Option<Arena>);

    /// Free pools: empty ones on the free list plus never-carved ones.
    #[inline(always)]
    pub(crate) fn nfree(self) -> usize {
        self.nfree_raw()
    }

    /// Makes a new arena of the memory at `reuse` (a retired arena's), or of memory taken
    /// from the system; `None` if the system refuses.
    fn allocate(reuse: Option<NonNull<u8>>) -> Option<Arena> {
        let base = match reuse {
            Some(base) => base,
            // SAFETY: `ARENA_LAYOUT` has a nonzero size.
            None => NonNull::new(unsafe { System.alloc(ARENA_LAYOUT) })?,
        };
        let header_layout = Layout::new::<ArenaHeader>();
        // SAFETY: `ArenaHeader` has a nonzero size.
        let Some(header) = NonNull::new(unsafe { System.alloc(header_layout) }) else {
            // SAFETY: `base` is an `ARENA_LAYOUT` allocation from `System` that the caller
            // gave up (or that was just made), used by nothing.
            unsafe { System.dealloc(base.as_ptr(), ARENA_LAYOUT) };
            return None;
        };
        let header = header.cast::<ArenaHeader>();
        // SAFETY: fresh allocation with the layout of `ArenaHeader`.
        unsafe {
            header.write(ArenaHeader {
                base,
                free_pools: None,
                nfree_raw: POOLS_PER_ARENA,
                carved: 0,
                usable_prev: None,
                usable_next: None,
                all_prev: None,
                all_next: None,
            });
        }
        Some(Arena(header))
    }

    /// Gives the arena's header back to the system, and its memory too, or to `retired`
    /// when given.
    ///
    /// # Safety
    ///
    /// The arena is on no list, and no handle to it or to its pools, and no
    /// block in it, will be used again.
    unsafe fn release(self, retired: Option<&mut RetiredArenas>) {
        let base = self.base();
        // SAFETY: invariant 1 and the header's own allocation; the caller
        // guarantees nothing uses either again.
        unsafe {
            match retired {
                Some(retired) => retired.push(base),
                None => System.dealloc(base.as_ptr(), ARENA_LAYOUT),
            }
            System.dealloc(self.0.as_ptr().cast(), Layout::new::<ArenaHeader>());
        }
    }

    /// Hands out an empty pool set up for `class`. The arena has a free
    /// pool (`nfree > 0`).
    fn take_pool(self, class: usize) -> Pool {
        debug_assert!(self.nfree() > 0);
        self.set_nfree(self.nfree() - 1);
        if let Some(pool) = self.free_pools() {
            self.set_free_pools(pool.next());
            pool.reset(class);
            return pool;
        }
        let carved = self.carved();
        debug_assert!(carved < POOLS_PER_ARENA);
        self.set_carved(carved + 1);
        // SAFETY: `carved < POOLS_PER_ARENA` (invariant 3 with nfree > 0 and
        // an empty free list), so the pool lies inside the arena's memory;
        // it is pool-aligned because the arena is; never-carved memory is in
        // use by nobody (invariant 2).
        unsafe {
            let mem = self.base().add(carved * POOL_SIZE);
            Pool::carve(mem, class, self)
        }
    }

    /// Takes back an empty pool of this arena.
    fn put_pool(self, pool: Pool) {
        debug_assert_eq!(pool.ref_count(), 0);
        debug_assert_eq!(pool.arena(), self);
        pool.set_next(self.free_pools());
        self.set_free_pools(Some(pool));
        self.set_nfree(self.nfree() + 1);
    }
}

/// Every arena the allocator holds.
///
/// # Invariants
///
/// * `all` heads a doubly-linked list of every held arena.
/// * `usable` heads a doubly-linked list of exactly the held arenas with a
///   free pool, sorted by `nfree`, fewest first.
/// * `spare`, if any, is a held arena; the allocator keeps it when it
///   becomes empty (it may have been used again since).
/// * `retired` holds memory of released arenas, none of it held (while
///   `defer` is on, released arenas go there instead of to the system).
pub(crate) struct Arenas {
    usable: Option<Arena>,
    all: Option<Arena>,
    spare: Option<Arena>,
    allocated: usize,
    freed: usize,
    defer: bool,
    retired: RetiredArenas,
}

impl Arenas {
    pub(crate) const fn new() -> Arenas {
        Arenas {
            usable: None,
            all: None,
            spare: None,
            allocated: 0,
            freed: 0,
            defer: false,
            retired: RetiredArenas::new(),
        }
    }

    /// Whether released arenas are set aside (see [`RetiredArenas`]) instead of given back
    /// to the system.
    pub(crate) fn set_defer(&mut self, on: bool) {
        self.defer = on;
    }

    /// The arenas set aside so far, counted as freed from now on.
    pub(crate) fn take_retired(&mut self) -> RetiredArenas {
        self.freed += self.retired.len();
        core::mem::take(&mut self.retired)
    }

    /// How many arenas are set aside.
    pub(crate) fn retired(&self) -> usize {
        self.retired.len()
    }

    /// Arenas ever taken from the system.
    pub(crate) fn allocated(&self) -> usize {
        self.allocated
    }

    /// Arenas ever given back.
    pub(crate) fn freed(&self) -> usize {
        self.freed
    }

    /// The arena kept when it last became empty.
    #[inline(always)]
    pub(crate) fn spare(&self) -> Option<Arena> {
        self.spare
    }

    /// Makes `arena`, a held arena, the spare.
    pub(crate) fn set_spare(&mut self, arena: Arena) {
        self.spare = Some(arena);
    }

    /// Hands out an empty pool set up for `class`, from the most-used
    /// arena that has one; takes a new arena from the system if none has.
    /// `None` if the system refuses a new arena.
    pub(crate) fn take_pool(&mut self, class: usize) -> Option<Pool> {
        let arena = match self.usable {
            Some(arena) => arena,
            None => self.new_arena()?,
        };
        let pool = arena.take_pool(class);
        // The head had the fewest free pools; it still does.
        if arena.nfree() == 0 {
            self.unlink_usable(arena);
        }
        Some(pool)
    }

    /// Takes back a pool that became empty, keeping the usable list sorted.
    /// The caller then decides whether the arena, if now empty, stays.
    ///
    /// # Safety
    ///
    /// `pool` is empty, on no used list, and no handle to it will be used
    /// again except through this `Arenas`.
    pub(crate) unsafe fn put_pool(&mut self, pool: Pool) {
        let arena = pool.arena();
        let was_full = arena.nfree() == 0;
        arena.put_pool(pool);
        if was_full {
            // Every usable arena has at least one free pool: sorted still.
            self.push_usable_front(arena);
        } else {
            self.sift_usable(arena);
        }
    }

    /// Gives an arena back to the system.
    ///
    /// # Safety
    ///
    /// Every pool of `arena` is free (`nfree() == POOLS_PER_ARENA`), and no
    /// handle to it or its pools is left outside this `Arenas`.
    pub(crate) unsafe fn release(&mut self, arena: Arena) {
        debug_assert_eq!(arena.nfree(), POOLS_PER_ARENA);
        self.unlink_usable(arena);
        self.unlink_all(arena);
        if self.spare == Some(arena) {
            self.spare = None;
        }
        // Set aside, an arena is counted as freed only once handed over.
        let retired = self.defer.then_some(&mut self.retired);
        self.freed += usize::from(retired.is_none());
        // SAFETY: unlinked from both lists; the caller guarantees nothing
        // else refers to it.
        unsafe { arena.release(retired) };
    }

    /// Calls `f` on every carved pool of every held arena.
    pub(crate) fn for_each_pool(&self, mut f: impl FnMut(Pool)) {
        let mut next = self.all;
        while let Some(arena) = next {
            let base = arena.base();
            for i in 0..arena.carved() {
                // SAFETY: pool `i < carved` lies in the arena and has an
                // initialised header (invariant 2); `base` has provenance
                // over the whole arena.
                f(unsafe { Pool::from_start(base.add(i * POOL_SIZE)) });
            }
            next = arena.all_next();
        }
    }

    /// Free pools (empty or never carved) in all held arenas.
    pub(crate) fn free_pools(&self) -> usize {
        let mut total = 0;
        self.for_each_arena(|arena| total += arena.nfree());
        total
    }

    /// Calls `f` on every held arena.
    pub(crate) fn for_each_arena(&self, mut f: impl FnMut(Arena)) {
        let mut next = self.all;
        while let Some(arena) = next {
            next = arena.all_next();
            f(arena);
        }
    }

    /// Checks the list invariants (tests only).
    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        let mut held = 0;
        let mut prev = None;
        self.for_each_arena(|arena| {
            held += 1;
            assert_eq!(arena.all_prev(), prev);
            prev = Some(arena);
            let mut free_listed = 0;
            let mut next = arena.free_pools();
            while let Some(pool) = next {
                assert_eq!(pool.ref_count(), 0);
                assert_eq!(pool.arena(), arena);
                free_listed += 1;
                next = pool.next();
            }
            assert_eq!(
                arena.nfree(),
                POOLS_PER_ARENA - arena.carved() + free_listed
            );
        });
        assert_eq!(held, self.allocated - self.freed - self.retired.len());
        let mut usable = 0;
        let mut prev: Option<Arena> = None;
        let mut next = self.usable;
        while let Some(arena) = next {
            usable += 1;
            assert!(arena.nfree() > 0);
            assert_eq!(arena.usable_prev(), prev);
            if let Some(prev) = prev {
                assert!(prev.nfree() <= arena.nfree(), "usable list not sorted");
            }
            prev = Some(arena);
            next = arena.usable_next();
        }
        let mut with_free = 0;
        self.for_each_arena(|arena| with_free += usize::from(arena.nfree() > 0));
        assert_eq!(usable, with_free);
    }

    #[cold]
    fn new_arena(&mut self) -> Option<Arena> {
        // Set-aside memory first: it is mapped and touched already.
        let reuse = self.retired.pop();
        let Some(arena) = Arena::allocate(reuse) else {
            // A set-aside arena's memory went back to the system with the failure.
            self.freed += usize::from(reuse.is_some());
            return None;
        };
        self.allocated += usize::from(reuse.is_none());
        arena.set_all_next(self.all);
        if let Some(old) = self.all {
            old.set_all_prev(Some(arena));
        }
        self.all = Some(arena);
        // Only called when no arena is usable.
        debug_assert!(self.usable.is_none());
        self.push_usable_front(arena);
        Some(arena)
    }

    fn push_usable_front(&mut self, arena: Arena) {
        arena.set_usable_prev(None);
        arena.set_usable_next(self.usable);
        if let Some(old) = self.usable {
            old.set_usable_prev(Some(arena));
        }
        self.usable = Some(arena);
    }

    fn unlink_usable(&mut self, arena: Arena) {
        let (prev, next) = (arena.usable_prev(), arena.usable_next());
        match prev {
            Some(prev) => prev.set_usable_next(next),
            None => self.usable = next,
        }
        if let Some(next) = next {
            next.set_usable_prev(prev);
        }
        arena.set_usable_prev(None);
        arena.set_usable_next(None);
    }

    /// Moves `arena`, whose `nfree` just grew by one, towards the tail of
    /// the usable list until the list is sorted again.
    fn sift_usable(&mut self, arena: Arena) {
        let nfree = arena.nfree();
        let mut after = None;
        let mut cursor = arena.usable_next();
        while let Some(next) = cursor {
            if next.nfree() >= nfree {
                break;
            }
            after = Some(next);
            cursor = next.usable_next();
        }
        let Some(after) = after else { return };
        self.unlink_usable(arena);
        let next = after.usable_next();
        arena.set_usable_prev(Some(after));
        arena.set_usable_next(next);
        after.set_usable_next(Some(arena));
        if let Some(next) = next {
            next.set_usable_prev(Some(arena));
        }
    }

    fn unlink_all(&mut self, arena: Arena) {
        let (prev, next) = (arena.all_prev(), arena.all_next());
        match prev {
            Some(prev) => prev.set_all_next(next),
            None => self.all = next,
        }
        if let Some(next) = next {
            next.set_all_prev(prev);
        }
    }
}

impl Drop for Arenas {
    fn drop(&mut self) {
        let mut next = self.all.take();
        while let Some(arena) = next {
            next = arena.all_next();
            // SAFETY: the allocator is going away: no list, pool handle or
            // block of this arena is used after this.
            unsafe { arena.release(None) };
        }
    }
}
