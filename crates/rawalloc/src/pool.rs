//! Pools: [`POOL_SIZE`]-aligned pages that each serve one size class.
//!
//! A pool starts with a [`PoolHeader`]; the rest is cut into blocks of the
//! pool's class size. Blocks are handed out first from the pool's intrusive
//! free list (freed blocks, linked through their first word, LIFO) and then
//! from its *virgin* space, which a bump offset walks through, so a pool
//! never touches memory it has not handed out.
//!
//! [`UsedPools`] keeps, per class, the doubly-linked list of pools that have
//! blocks in use and at least one block available ("usedpools" in
//! obmalloc). Its head is the class's current pool: the fast path allocates
//! from it without any search.

use core::ptr::{self, NonNull};

use crate::arena::Arena;
use crate::size_class::{ALIGNMENT, NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD, class_size};

/// Size, and alignment, of a pool in bytes: 16 KiB (1 KiB under Miri, so
/// tests reach the "pool full" paths quickly).
///
/// Because pools are aligned to their size, the pool of any small block is
/// found by clearing the low bits of the block's address.
///
/// ```
/// assert!(rawalloc::POOL_SIZE.is_power_of_two());
/// assert_eq!(rawalloc::ARENA_SIZE % rawalloc::POOL_SIZE, 0);
/// ```
#[cfg(not(miri))]
pub const POOL_SIZE: usize = 16 * 1024;

/// Size, and alignment, of a pool in bytes: 1 KiB under Miri (16 KiB in
/// normal builds).
///
/// ```
/// assert!(rawalloc::POOL_SIZE.is_power_of_two());
/// ```
#[cfg(miri)]
pub const POOL_SIZE: usize = 1024;

/// Bytes at the start of every pool taken by its header (rounded up so the
/// first block is [`ALIGNMENT`]-aligned).
pub(crate) const POOL_OVERHEAD: usize = size_of::<PoolHeader>().next_multiple_of(ALIGNMENT);

const _: () = assert!(POOL_SIZE.is_power_of_two());
const _: () = assert!(POOL_SIZE <= u32::MAX as usize);
// Every class fits at least one block in a pool.
const _: () = assert!(POOL_OVERHEAD + SMALL_REQUEST_THRESHOLD <= POOL_SIZE);

/// How many blocks of size class `class` one pool holds.
///
/// ```
/// use rawalloc::{blocks_per_pool, class_size, POOL_SIZE};
/// // The header takes a little room at the start of the pool.
/// assert!(blocks_per_pool(0) < POOL_SIZE / class_size(0));
/// assert!(blocks_per_pool(31) >= 1);
/// ```
#[inline]
#[must_use]
pub const fn blocks_per_pool(class: usize) -> usize {
    (POOL_SIZE - POOL_OVERHEAD) / class_size(class)
}

/// The header at the first bytes of every pool.
///
/// # Invariants
///
/// Once a pool has been carved from its arena its header stays initialised
/// until the arena is returned to the system, and:
///
/// 1. Blocks are at offsets `POOL_OVERHEAD + k * class_size(size_class)`
///    for `k < capacity`; `capacity == blocks_per_pool(size_class)`.
/// 2. `next_offset` is the offset of the first block never handed out
///    (virgin); `next_offset <= POOL_OVERHEAD + capacity * size`.
/// 3. `free` heads a null-terminated list, linked through the first word of
///    each block, of distinct blocks below `next_offset` that are not live.
/// 4. `ref_count` is the number of live blocks: those below `next_offset`
///    and not on the free list. So a pool with `ref_count < capacity` has a
///    block available, on the free list or in virgin space.
/// 5. While `0 < ref_count < capacity`, the pool is on the used list of its
///    class, linked by `next`/`prev`. A full pool is on no list. An empty
///    pool (`ref_count == 0`) is on its arena's free-pool list, linked by
///    `next` (its class, free list and `next_offset` stay valid, so it can
///    be reused as is by the same class) — except the allocator's one
///    *retained* empty pool, which stays on its class's used list.
/// 6. `arena` is the arena the pool was carved from.
#[repr(C)]
pub(crate) struct PoolHeader {
    free: *mut u8,
    ref_count: u32,
    capacity: u32,
    next_offset: u32,
    size_class: u32,
    next: Option<Pool>,
    prev: Option<Pool>,
    arena: Arena,
}

/// A handle to a carved pool.
///
/// # Invariants
///
/// A `Pool` points to the initialised [`PoolHeader`] of a pool whose arena
/// is still held by the allocator, and its provenance covers the whole pool
/// (it is derived from the arena's base pointer). Handles are only stored in
/// the allocator's own lists and never outlive the arena: an arena is only
/// released when all its pools are empty and unlinked from the used lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Pool(NonNull<PoolHeader>);

impl Pool {
    /// Writes a fresh header for class `class` at `mem`.
    ///
    /// # Safety
    ///
    /// `mem` is the start of a [`POOL_SIZE`]-byte, [`POOL_SIZE`]-aligned
    /// region inside `arena`, writable, not otherwise in use, with
    /// provenance over the whole region; `class < NUM_SIZE_CLASSES`.
    pub(crate) unsafe fn carve(mem: NonNull<u8>, class: usize, arena: Arena) -> Pool {
        debug_assert!(class < NUM_SIZE_CLASSES);
        debug_assert_eq!(mem.as_ptr().addr() % POOL_SIZE, 0);
        let header = mem.cast::<PoolHeader>();
        // SAFETY: the caller hands us the pool's memory; it is aligned for
        // `PoolHeader` (POOL_SIZE alignment) and large enough (const assert).
        unsafe {
            header.write(PoolHeader {
                free: ptr::null_mut(),
                ref_count: 0,
                capacity: 0,
                next_offset: 0,
                size_class: 0,
                next: None,
                prev: None,
                arena,
            });
        }
        let pool = Pool(header);
        pool.reset(class);
        pool
    }

    /// The pool starting at `mem`.
    ///
    /// # Safety
    ///
    /// `mem` is the start of a carved pool of an arena still held by the
    /// allocator, with provenance over the pool.
    pub(crate) unsafe fn from_start(mem: NonNull<u8>) -> Pool {
        Pool(mem.cast::<PoolHeader>())
    }

    /// The pool holding `block`.
    ///
    /// # Safety
    ///
    /// `block` points into a carved pool of an arena still held by the
    /// allocator, and carries provenance over that pool (it was handed out
    /// by the allocator).
    #[inline(always)]
    pub(crate) unsafe fn containing(block: NonNull<u8>) -> Pool {
        // Clearing the low bits stays inside the same pool, hence inside the
        // same allocation, and keeps the block's provenance.
        let start = block.map_addr(|a| {
            // SAFETY: a block lies after its pool's header, and the pool
            // starts at a real allocation, whose address is not zero.
            unsafe { core::num::NonZeroUsize::new_unchecked(a.get() & !(POOL_SIZE - 1)) }
        });
        Pool(start.cast::<PoolHeader>())
    }

    #[inline(always)]
    fn header(self) -> *mut PoolHeader {
        self.0.as_ptr()
    }

    /// Reinitialises an empty pool for class `class`, unless it already
    /// serves that class (then its free list and virgin space are kept, as
    /// obmalloc does).
    pub(crate) fn reset(self, class: usize) {
        let h = self.header();
        // SAFETY: type invariant: `h` is a valid, initialised header, and the
        // allocator holds no reference into it.
        unsafe {
            debug_assert_eq!((*h).ref_count, 0);
            if (*h).capacity != 0 && (*h).size_class as usize == class {
                return;
            }
            (*h).free = ptr::null_mut();
            (*h).next_offset = POOL_OVERHEAD as u32;
            (*h).size_class = class as u32;
            (*h).capacity = blocks_per_pool(class) as u32;
        }
    }

    /// Size class the pool serves.
    #[inline(always)]
    pub(crate) fn class(self) -> usize {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).size_class as usize }
    }

    /// Live blocks in the pool.
    #[inline(always)]
    pub(crate) fn ref_count(self) -> usize {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).ref_count as usize }
    }

    /// Blocks the pool holds in all.
    #[inline(always)]
    pub(crate) fn capacity(self) -> usize {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).capacity as usize }
    }

    /// Whether every block is live.
    #[inline(always)]
    pub(crate) fn is_full(self) -> bool {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).ref_count == (*self.header()).capacity }
    }

    /// The arena the pool was carved from.
    pub(crate) fn arena(self) -> Arena {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).arena }
    }

    /// The `next` link (used list, or arena free-pool list).
    pub(crate) fn next(self) -> Option<Pool> {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).next }
    }

    /// Sets the `next` link.
    pub(crate) fn set_next(self, next: Option<Pool>) {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).next = next }
    }

    fn prev(self) -> Option<Pool> {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).prev }
    }

    fn set_prev(self, prev: Option<Pool>) {
        // SAFETY: type invariant: valid, initialised header.
        unsafe { (*self.header()).prev = prev }
    }

    /// Hands out one block: the most recently freed one, else the next
    /// virgin one.
    ///
    /// # Safety
    ///
    /// The pool is not full.
    #[inline(always)]
    pub(crate) unsafe fn pop(self) -> NonNull<u8> {
        let h = self.header();
        // SAFETY: type invariant: `h` is a valid header and our provenance
        // covers the pool. The caller guarantees a block is available
        // (invariant 4): if the free list is empty, the virgin block at
        // `next_offset` lies inside the pool (invariant 2). Free-list
        // entries are blocks of this pool whose first word holds the link
        // (invariant 3); blocks are 16-aligned, so the read is aligned.
        unsafe {
            debug_assert!((*h).ref_count < (*h).capacity);
            let mut block = (*h).free;
            if !block.is_null() {
                (*h).free = block.cast::<*mut u8>().read();
            } else {
                let offset = (*h).next_offset as usize;
                (*h).next_offset = (offset + class_size((*h).size_class as usize)) as u32;
                block = h.cast::<u8>().add(offset);
            }
            (*h).ref_count += 1;
            NonNull::new_unchecked(block)
        }
    }

    /// Takes back a block; returns `true` when the pool just changed state
    /// (it was full, or it is now empty) and the lists need fixing.
    ///
    /// # Safety
    ///
    /// `block` is a live block of this pool, handed out by [`Pool::pop`] and
    /// not pushed since; the caller gives up all access to it.
    #[inline(always)]
    pub(crate) unsafe fn push(self, block: NonNull<u8>) -> bool {
        let h = self.header();
        // SAFETY: type invariant: valid header. `block` is a live, 16-byte
        // aligned block of at least 16 bytes that the caller gave back, so
        // we may store the free-list link in its first word.
        unsafe {
            block.cast::<*mut u8>().write((*h).free);
            (*h).free = block.as_ptr();
            let old = (*h).ref_count;
            debug_assert!(old > 0);
            (*h).ref_count = old - 1;
            old == (*h).capacity || old == 1
        }
    }
}

/// Per size class, the list of pools with blocks in use and blocks
/// available.
///
/// # Invariants
///
/// `heads[c]` heads a doubly-linked, null-terminated list (through the
/// pools' `next`/`prev`) of exactly the pools of class `c` with
/// `0 < ref_count < capacity`, plus possibly the allocator's retained
/// empty pool, except transiently inside the allocator's slow paths. So
/// every pool on a list, the head first, has a block available.
pub(crate) struct UsedPools {
    heads: [Option<Pool>; NUM_SIZE_CLASSES],
}

impl UsedPools {
    pub(crate) const fn new() -> UsedPools {
        UsedPools {
            heads: [None; NUM_SIZE_CLASSES],
        }
    }

    /// The current pool of `class`: not full, when there is one.
    #[inline(always)]
    pub(crate) fn head(&self, class: usize) -> Option<Pool> {
        self.heads[class]
    }

    /// Checks the list invariants and returns the pools listed (tests
    /// only); `retained` is the one empty pool allowed on a list.
    #[cfg(test)]
    pub(crate) fn assert_invariants(&self, retained: Option<Pool>) -> Vec<Pool> {
        let mut listed = Vec::new();
        for (class, &head) in self.heads.iter().enumerate() {
            let mut prev = None;
            let mut next = head;
            while let Some(pool) = next {
                assert_eq!(pool.class(), class);
                assert_eq!(pool.prev(), prev);
                assert!(pool.ref_count() < pool.capacity());
                assert!(pool.ref_count() > 0 || Some(pool) == retained);
                listed.push(pool);
                prev = Some(pool);
                next = pool.next();
            }
        }
        listed
    }

    /// Links `pool` (of class `class`, on no list) at the head.
    pub(crate) fn push_front(&mut self, class: usize, pool: Pool) {
        let old = self.heads[class];
        pool.set_prev(None);
        pool.set_next(old);
        if let Some(old) = old {
            old.set_prev(Some(pool));
        }
        self.heads[class] = Some(pool);
    }

    /// Unlinks `pool`, which is on the list of `class`.
    pub(crate) fn unlink(&mut self, class: usize, pool: Pool) {
        let (prev, next) = (pool.prev(), pool.next());
        match prev {
            Some(prev) => prev.set_next(next),
            None => {
                debug_assert_eq!(self.heads[class], Some(pool));
                self.heads[class] = next;
            }
        }
        if let Some(next) = next {
            next.set_prev(prev);
        }
        pool.set_next(None);
        pool.set_prev(None);
    }
}
