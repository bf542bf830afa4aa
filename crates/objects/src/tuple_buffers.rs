//! Per-length free lists of tuple item buffers (CPython keeps up to 2,000 tuples of each
//! length 1..=20): the buffer of a dead tuple waits for the next tuple of its length.
//!
//! Full collections empty the cache (through `refcount::engine::add_free_list_clearer`).
//!
//! The module's one unsafe promise: a cached buffer holds no initialised item, and a
//! buffer handed out is fully written before it is read as items.

use core::cell::RefCell;
use core::mem::MaybeUninit;

use crate::Value;

/// The longest tuple whose buffer is cached.
pub const MAX_CACHED_LEN: usize = 20;
/// How many buffers of each length are kept.
pub const BUFFERS_PER_LEN: usize = 2000;

type Buffer = Box<[MaybeUninit<Value>]>;

/// The cache and its counters.
#[derive(Default)]
struct Cache {
    /// `free[n]` holds buffers of length `n` (index 0 unused: the empty tuple is shared).
    free: [Vec<Buffer>; MAX_CACHED_LEN + 1],
    from_cache: u64,
    from_allocator: u64,
    /// Per length: buffers served from the list, from the allocator, and given back.
    per_len: [(u64, u64, u64); MAX_CACHED_LEN + 1],
}

/// The names the free-list statistics give each length's list.
const NAMES: [&str; MAX_CACHED_LEN + 1] = [
    "",
    "objects tuple items, length 1",
    "objects tuple items, length 2",
    "objects tuple items, length 3",
    "objects tuple items, length 4",
    "objects tuple items, length 5",
    "objects tuple items, length 6",
    "objects tuple items, length 7",
    "objects tuple items, length 8",
    "objects tuple items, length 9",
    "objects tuple items, length 10",
    "objects tuple items, length 11",
    "objects tuple items, length 12",
    "objects tuple items, length 13",
    "objects tuple items, length 14",
    "objects tuple items, length 15",
    "objects tuple items, length 16",
    "objects tuple items, length 17",
    "objects tuple items, length 18",
    "objects tuple items, length 19",
    "objects tuple items, length 20",
];

/// Each used length's list, as the heap's free-list statistics report them.
fn report() -> Vec<refcount::FreeListStats> {
    CACHE
        .try_with(|c| {
            let Ok(c) = c.try_borrow() else {
                return Vec::new();
            };
            (1..=MAX_CACHED_LEN)
                .filter(|&n| c.per_len[n] != (0, 0, 0))
                .map(|n| {
                    let (hits, misses, back) = c.per_len[n];
                    refcount::FreeListStats::new(
                        NAMES[n],
                        BUFFERS_PER_LEN,
                        n * size_of::<Value>(),
                        (hits, misses, (hits + misses).saturating_sub(back)),
                        c.free[n].len(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Has full collections empty the cache (once per process).
fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `clear` frees buffers that hold no item, and `report` reads this module's
    // counters; neither runs other code.
    ONCE.call_once(|| unsafe {
        refcount::engine::add_free_list_clearer(clear);
        refcount::engine::add_free_list_reporter(report);
    });
}

/// A boxed slice holding `items`, in a cached buffer of their length when there is one.
pub(crate) fn make(mut items: Vec<Value>) -> Box<[Value]> {
    register();
    let n = items.len();
    let cached = if (1..=MAX_CACHED_LEN).contains(&n) {
        CACHE
            .try_with(|c| {
                let mut c = c.try_borrow_mut().ok()?;
                let b = c.free[n].pop();
                if b.is_some() {
                    c.from_cache += 1;
                    c.per_len[n].0 += 1;
                } else {
                    c.from_allocator += 1;
                    c.per_len[n].1 += 1;
                }
                b
            })
            .ok()
            .flatten()
    } else {
        None
    };
    let Some(mut buf) = cached else {
        return items.into_boxed_slice();
    };
    // SAFETY: a cached buffer of length `n` has room for the `n` items, which move into it
    // bit for bit (one copy, not one move per item); the vector forgets them (length 0)
    // before its own buffer is freed, so each item is owned once, by the new buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(items.as_ptr(), buf.as_mut_ptr().cast::<Value>(), n);
        items.set_len(0);
        buf.assume_init()
    }
}

/// Drops a tuple's items and keeps its buffer for the next tuple of its length.
pub(crate) fn recycle(items: Box<[Value]>) {
    let n = items.len();
    if !(1..=MAX_CACHED_LEN).contains(&n) {
        return;
    }
    let raw = Box::into_raw(items);
    // If an item's drop panics, the unwinding drops the other items and leaks the buffer.
    // SAFETY: `raw` owns `n` initialised items, dropped here once.
    unsafe { core::ptr::drop_in_place(raw) };
    // SAFETY: same allocation, same length; `MaybeUninit<Value>` has `Value`'s layout, and
    // the items are dropped, so nothing is dropped twice.
    let buf: Buffer = unsafe { Box::from_raw(raw as *mut [MaybeUninit<Value>]) };
    let keep = refcount::free_lists_enabled();
    let _ = CACHE.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.per_len[n].2 += 1;
            if keep && c.free[n].len() < BUFFERS_PER_LEN {
                c.free[n].push(buf);
            }
        }
    });
}

/// Frees every cached buffer (full collections do, as CPython's clear the free lists).
/// Returns how many it freed.
pub(crate) fn clear() -> usize {
    CACHE
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut c) => c.free.iter_mut().map(|l| core::mem::take(l).len()).sum(),
            Err(_) => 0,
        })
        .unwrap_or(0)
}

/// Statistics of the tuple buffer free lists: buffers served from them, buffers that
/// came from the allocator, and buffers cached now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TupleBufferStats {
    /// Tuples whose buffer came from a free list.
    pub from_free_list: u64,
    /// Tuples of a cached length whose buffer came from the allocator.
    pub from_allocator: u64,
    /// Buffers cached now, all lengths together.
    pub cached: usize,
    /// Bytes those buffers hold.
    pub cached_bytes: usize,
}

/// The statistics of this thread's tuple buffer free lists.
pub fn tuple_buffer_stats() -> TupleBufferStats {
    CACHE
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            Some(TupleBufferStats {
                from_free_list: c.from_cache,
                from_allocator: c.from_allocator,
                cached: c.free.iter().map(Vec::len).sum(),
                cached_bytes: c
                    .free
                    .iter()
                    .enumerate()
                    .map(|(n, l)| n * l.len() * size_of::<Value>())
                    .sum(),
            })
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}
