//! Free lists: per-type caches of object blocks, like CPython's float, tuple, list and dict
//! free lists. A type asks for one through [`Trace::free_list`](crate::Trace::free_list); the blocks of its dead
//! objects then wait in the list for its next objects instead of going back to the
//! allocator, up to the list's capacity. Full collections empty every list.

use core::alloc::Layout;
use core::any::TypeId;
use core::ptr::NonNull;

use super::Heap;
use crate::header::{Stored, TypeInfo};

/// Statistics of one type's free list ([`free_list_stats`]).
///
/// ```
/// use refcount::{Gc, Trace, Tracer};
///
/// struct Point(f64, f64);
/// // SAFETY: holds no handle.
/// unsafe impl Trace for Point {
///     fn trace(&self, _: &mut Tracer<'_>) {}
///     fn needs_trace() -> bool { false }
///     fn free_list() -> usize { 100 }
/// }
///
/// drop(Gc::new(Point(1.0, 2.0)));
/// let p = Gc::new(Point(3.0, 4.0)); // the first point's block, from the free list
/// let s = refcount::free_list_stats().into_iter().find(|s| s.type_name.ends_with("Point")).unwrap();
/// assert_eq!((s.from_allocator, s.from_free_list, s.live), (1, 1, 1));
/// # drop(p);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FreeListStats {
    /// The type's name ([`core::any::type_name`]).
    pub type_name: &'static str,
    /// How many blocks the list keeps at most.
    pub capacity: usize,
    /// Bytes of one object's block, header included.
    pub block_size: usize,
    /// Allocations the free list served.
    pub from_free_list: u64,
    /// Allocations that went to the allocator (the list was empty).
    pub from_allocator: u64,
    /// Objects of the type alive now.
    pub live: u64,
    /// Blocks waiting in the list now.
    pub cached: usize,
}

impl FreeListStats {
    /// Bytes the type's live objects take (their blocks; not what their values own).
    pub fn live_bytes(&self) -> usize {
        self.live as usize * self.block_size
    }

    /// Bytes the free list holds for future objects.
    pub fn cached_bytes(&self) -> usize {
        self.cached * self.block_size
    }
}

/// The statistics of every free list of the current thread's heap, in the order the types
/// first allocated.
///
/// # Panics
/// If called while the thread is being torn down, after its heap was destroyed.
pub fn free_list_stats() -> Vec<FreeListStats> {
    super::with_heap(|h| h.free_list_stats())
}

/// Appends the free lists' table to the allocator's report (nothing if there is none).
pub(super) fn write_report(out: &mut String, stats: &[FreeListStats]) {
    use core::fmt::Write;
    if stats.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nfree lists: {:>8} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "capacity", "block", "from list", "from alloc", "live", "live bytes", "cached"
    );
    for s in stats {
        let _ = writeln!(
            out,
            "  {:<40} {:>8} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}",
            s.type_name,
            s.capacity,
            s.block_size,
            s.from_free_list,
            s.from_allocator,
            s.live,
            s.live_bytes(),
            s.cached
        );
    }
}

/// Free lists kept outside the heap (by the `objects` crate), emptied with the heap's.
static CLEARERS: std::sync::Mutex<Vec<fn() -> usize>> = std::sync::Mutex::new(Vec::new());

/// Registers a function that empties free lists kept outside the heap, for the current
/// thread; [`Heap::clear_free_lists`] (every full collection) calls it after emptying the
/// heap's own. Registering the same function twice has no effect.
///
/// # Safety
/// `clear` runs in the middle of a collection: it must run no user code and touch no
/// handle (it may free memory that holds none).
pub unsafe fn add_free_list_clearer(clear: fn() -> usize) {
    let mut c = CLEARERS.lock().unwrap_or_else(|e| e.into_inner());
    if !c.contains(&clear) {
        c.push(clear);
    }
}

/// Statistics of free lists kept outside the heap, reported with the heap's.
static REPORTERS: std::sync::Mutex<Vec<Reporter>> = std::sync::Mutex::new(Vec::new());

/// A function reporting free lists kept outside the heap.
type Reporter = fn() -> Vec<FreeListStats>;

/// Registers a function that reports the statistics of free lists kept outside the heap
/// (for the current thread), so that [`free_list_stats`] and the allocator's report include
/// them. Registering the same function twice has no effect.
///
/// # Safety
/// `report` must run no user code and must not read the heap's own statistics (it is
/// called while they are being gathered).
pub unsafe fn add_free_list_reporter(report: Reporter) {
    let mut r = REPORTERS.lock().unwrap_or_else(|e| e.into_inner());
    if !r.contains(&report) {
        r.push(report);
    }
}

impl FreeListStats {
    /// Statistics of one free list kept outside the heap (for a reporter registered with
    /// `refcount::engine::add_free_list_reporter`).
    pub fn new(
        type_name: &'static str,
        capacity: usize,
        block_size: usize,
        (from_free_list, from_allocator, live): (u64, u64, u64),
        cached: usize,
    ) -> FreeListStats {
        FreeListStats {
            type_name,
            capacity,
            block_size,
            from_free_list,
            from_allocator,
            live,
            cached,
        }
    }
}

/// The largest capacity a free list gets, whatever its type asks for.
pub const MAX_FREE_LIST: usize = 1 << 16;

/// One type's free list.
struct FreeList {
    name: &'static str,
    layout: Layout,
    capacity: usize,
    blocks: Vec<NonNull<u8>>,
    hits: u64,
    misses: u64,
    frees: u64,
}

/// The heap's free lists, one per type and block layout.
///
/// # Invariants
/// Every block in a list was allocated by the heap's allocator with the list's layout, and
/// no object lives in it.
pub(super) struct FreeLists {
    index: hashbrown::HashMap<(TypeId, usize), usize>,
    lists: Vec<FreeList>,
    /// Whether dead blocks are kept ([`set_free_lists`]).
    enabled: bool,
    /// A direct-mapped cache in front of `index`, by the address of the objects' type
    /// descriptor (which also tells the block's layout): a lookup is an array read and one
    /// comparison instead of a hash of the `TypeId`. Slots hold `(address, list index)`.
    cache: [(usize, u32); CACHE_SLOTS],
}

/// Slots of [`FreeLists::cache`].
const CACHE_SLOTS: usize = 64;

impl Default for FreeLists {
    fn default() -> FreeLists {
        FreeLists {
            index: hashbrown::HashMap::new(),
            lists: Vec::new(),
            enabled: true,
            cache: [(0, 0); CACHE_SLOTS],
        }
    }
}

/// Turns the current thread's free lists on (the default) or off. Off, every block goes
/// back to the allocator at once and the lists are emptied; the statistics go on counting
/// allocations, all then from the allocator. For measuring what a free list buys.
///
/// ```
/// use refcount::{Gc, Trace, Tracer};
/// struct Token(u64);
/// // SAFETY: holds no handle.
/// unsafe impl Trace for Token {
///     fn trace(&self, _: &mut Tracer<'_>) {}
///     fn free_list() -> usize { 8 }
/// }
/// refcount::set_free_lists(false);
/// drop(Gc::new(Token(1)));
/// drop(Gc::new(Token(2)));
/// let s = refcount::free_list_stats().into_iter().find(|s| s.type_name.ends_with("Token")).unwrap();
/// assert_eq!((s.from_allocator, s.from_free_list, s.cached), (2, 0, 0));
/// refcount::set_free_lists(true);
/// assert!(refcount::free_lists_enabled());
/// ```
///
/// # Panics
/// If called while the thread is being torn down, after its heap was destroyed.
pub fn set_free_lists(enabled: bool) {
    super::with_heap(|h| {
        // SAFETY: no user code runs while the free lists are borrowed.
        unsafe { (*h.free_lists.get()).enabled = enabled };
        if !enabled {
            h.clear_free_lists();
        }
    })
}

/// Whether the current thread's free lists keep dead blocks ([`set_free_lists`]); `false`
/// once the thread's heap is gone.
pub fn free_lists_enabled() -> bool {
    // SAFETY: reading a flag runs no user code.
    super::try_with_heap(|h| unsafe { (*h.free_lists.get()).enabled }).unwrap_or(false)
}

impl FreeLists {
    /// The list of type `T` for blocks of `layout`, whose objects have the type descriptor
    /// at address `ty` (one type may have several descriptors: with and without a
    /// finalizer, or one per codegen unit).
    #[inline(always)]
    fn list<T: Stored>(&mut self, layout: Layout, ty: usize) -> &mut FreeList {
        let slot = ((ty >> 4) ^ (ty >> 10)) % CACHE_SLOTS;
        let (key, i) = self.cache[slot];
        let i = if key == ty {
            i as usize
        } else {
            let i = self.find::<T>(layout);
            self.cache[slot] = (ty, i as u32);
            i
        };
        &mut self.lists[i]
    }

    /// The index of type `T`'s list for blocks of `layout`, created on first use.
    #[cold]
    #[inline(never)]
    fn find<T: Stored>(&mut self, layout: Layout) -> usize {
        let n = self.lists.len();
        let i = *self
            .index
            .entry((TypeId::of::<T::Value>(), layout.size()))
            .or_insert(n);
        if i == n {
            let capacity = T::free_list().min(MAX_FREE_LIST);
            self.lists.push(FreeList {
                name: core::any::type_name::<T::Value>(),
                layout,
                capacity,
                blocks: Vec::with_capacity(capacity),
                hits: 0,
                misses: 0,
                frees: 0,
            });
        }
        i
    }
}

impl Heap {
    /// Memory for a new object of `T`, a type with a free list: a block from its list, or
    /// from the allocator when the list is empty.
    #[inline]
    pub(crate) fn alloc_pooled<T: Stored>(
        &self,
        layout: Layout,
        ty: *const TypeInfo,
    ) -> NonNull<u8> {
        // SAFETY: no user code runs while the free lists are borrowed.
        let list = unsafe { (*self.free_lists.get()).list::<T>(layout, ty as usize) };
        if let Some(block) = list.blocks.pop() {
            list.hits += 1;
            return block;
        }
        list.misses += 1;
        self.alloc(layout)
    }

    /// Frees the block of a dead object of `T`, a type with a free list: into its list while
    /// the list has room, else to the allocator.
    ///
    /// # Safety
    /// `block` was allocated by this heap for an object of `T` with `layout` and type
    /// descriptor `ty`, and nothing refers to it any more.
    #[inline]
    pub(crate) unsafe fn dealloc_pooled<T: Stored>(
        &self,
        block: NonNull<u8>,
        layout: Layout,
        ty: *const TypeInfo,
    ) {
        // SAFETY: no user code runs while the free lists are borrowed.
        let lists = unsafe { &mut *self.free_lists.get() };
        let enabled = lists.enabled;
        let list = lists.list::<T>(layout, ty as usize);
        list.frees += 1;
        if enabled && list.blocks.len() < list.capacity {
            list.blocks.push(block);
        } else {
            // SAFETY: per the caller.
            unsafe { self.alloc_mut().dealloc(block, layout) }
        }
    }

    /// Returns every block waiting in a free list to the allocator, as CPython's full
    /// collections do (`_PyGC_ClearAllFreeLists`). Returns how many blocks it freed.
    pub fn clear_free_lists(&self) -> usize {
        // SAFETY: no user code runs while the free lists and the allocator are borrowed;
        // each block was allocated with its list's layout and holds no object.
        unsafe {
            let lists = &mut *self.free_lists.get();
            let mut freed = 0;
            for list in &mut lists.lists {
                freed += list.blocks.len();
                for block in list.blocks.drain(..) {
                    self.alloc_mut().dealloc(block, list.layout);
                }
            }
            let clearers = CLEARERS.lock().unwrap_or_else(|e| e.into_inner()).clone();
            freed + clearers.iter().map(|clear| clear()).sum::<usize>()
        }
    }

    /// The statistics of every free list ([`free_list_stats`]).
    pub fn free_list_stats(&self) -> Vec<FreeListStats> {
        // SAFETY: reading the lists runs no user code.
        let lists = unsafe { &*self.free_lists.get() };
        let mut stats: Vec<FreeListStats> = lists
            .lists
            .iter()
            .map(|l| FreeListStats {
                type_name: l.name,
                capacity: l.capacity,
                block_size: l.layout.size(),
                from_free_list: l.hits,
                from_allocator: l.misses,
                live: l.hits + l.misses - l.frees,
                cached: l.blocks.len(),
            })
            .collect();
        let reporters = REPORTERS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for report in reporters {
            stats.extend(report());
        }
        stats
    }
}
