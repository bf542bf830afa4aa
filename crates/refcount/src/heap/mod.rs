//! The per-thread heap: the raw allocator, the tracked-object lists, the allocation counters
//! and the collection state. The rest of the heap's work is in its submodules:
//!
//! * [`release`]: freeing objects whose count reached 0, and the deferred-free queue that
//!   keeps deallocation off the machine stack;
//! * [`garbage`]: setting a collection's garbage apart and dropping it;
//! * [`weakrefs`]: the registry of weak-reference callbacks;
//! * [`free_lists`]: per-type caches of object blocks.

use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;
use std::sync::OnceLock;

use rawalloc::Allocator;

mod free_lists;
mod garbage;
mod release;
mod weakrefs;

use crate::header::{ObjPtr, flags};
use crate::weakref::Entry;

pub use free_lists::{
    FreeListStats, MAX_FREE_LIST, add_free_list_clearer, add_free_list_reporter, free_list_stats,
    free_lists_enabled, set_free_lists,
};
pub use garbage::{condemn, relist_unholding};
pub(crate) use release::{forget_referent, release_typed};

/// Number of heap lists: generations 0, 1, 2, the permanent generation, and three working
/// lists for the collector.
pub const NUM_LISTS: usize = 7;
/// List id of the permanent generation (frozen objects).
pub const PERMANENT: usize = 3;
/// List id of the set being collected.
pub const YOUNG: usize = 4;
/// List id of the objects a collection found unreachable.
pub const UNREACHABLE: usize = 5;
/// List id of the collector's scratch list.
pub const SCRATCH: usize = 6;

/// How many deallocations may nest on the machine stack before further ones are queued.
///
/// Like CPython's trashcan: a chain of N objects is freed in about N / DEPTH_LIMIT shallow
/// pieces, so a 10,000,000-node linked list is dropped without overflowing the stack.
const DEPTH_LIMIT: u32 = if cfg!(miri) { 4 } else { 64 };

/// How many objects ahead the collector's loops over a list prefetch: enough to cover a
/// memory access, few enough that the lines are still cached when the loop gets there.
pub const PREFETCH_AHEAD: usize = 32;

/// The function the cycle collector installs to run automatic collections.
static COLLECT_HOOK: OnceLock<fn()> = OnceLock::new();

/// Installs the function called when the generation-0 count passes its threshold.
///
/// The cycle collector (`gencollect`) installs itself here; only the first call has an
/// effect. Without a hook, counting continues but no collection ever starts.
///
/// ```
/// fn my_collector() {}
/// refcount::engine::set_collect_hook(my_collector);
/// ```
pub fn set_collect_hook(hook: fn()) {
    let _ = COLLECT_HOOK.set(hook);
}

/// One thread's heap. Reached through [`with_heap`]; never shared between threads.
///
/// # Invariants
///
/// * `alloc` is borrowed mutably only inside heap functions that run no user code.
/// * `lists[l][i]` is a live tracked object whose extension says list `l`, index `i`.
/// * `pending` holds objects whose strong count reached 0 and whose release was deferred;
///   their memory and value are intact.
pub struct Heap {
    alloc: UnsafeCell<Allocator>,
    lists: [UnsafeCell<Vec<ObjPtr>>; NUM_LISTS],
    pending: UnsafeCell<Vec<ObjPtr>>,
    depth: Cell<u32>,
    counts: [Cell<usize>; 3],
    thresholds: [Cell<usize>; 3],
    enabled: Cell<bool>,
    collecting: Cell<bool>,
    /// The lists being analysed, one bit per list id.
    analysing: Cell<u32>,
    tracked_allocs: Cell<u64>,
    tracked_frees: Cell<u64>,
    /// Weak-reference callbacks by referent, oldest first.
    weakref_cbs: UnsafeCell<hashbrown::HashMap<ObjPtr, Vec<Entry>>>,
    /// How many referents without an extension (so without a flag) have callbacks.
    atomic_cb_targets: Cell<usize>,
    /// Free lists of the types that have one.
    free_lists: UnsafeCell<free_lists::FreeLists>,
}

thread_local! {
    static HEAP: Heap = Heap::new();
}

/// Runs `f` with the current thread's heap.
///
/// # Panics
/// If called while the thread is being torn down, after its heap was destroyed.
#[inline(always)]
pub fn with_heap<R>(f: impl FnOnce(&Heap) -> R) -> R {
    HEAP.with(f)
}

/// The current thread's heap, for code that runs no user code while it uses it (so the
/// thread-local cannot be destroyed meanwhile), or `None` once it was destroyed (in a
/// thread-local destructor that runs after the heap's). A tiny closure, which the compiler
/// always inlines, where a large one passed to `with` would make it an out-of-line call.
#[inline(always)]
pub(crate) fn heap_ptr() -> Option<*const Heap> {
    HEAP.try_with(|h| h as *const Heap).ok()
}

/// Writes a new object's extension and enters it in the lists: tracked in generation 0,
/// its allocation counted, when `track` and the thread's heap lives; otherwise untracked
/// (the extension, if any, written with flags `fin`). Returns whether an automatic
/// collection is due.
///
/// # Safety
/// `obj` was just initialised (header written, extension not yet) and is in no list;
/// `track` only for an object with an extension; no user code runs while `heap` is used.
#[inline(always)]
pub(crate) unsafe fn register_new(
    heap: Option<&Heap>,
    obj: ObjPtr,
    has_ext: bool,
    fin: u32,
    track: bool,
) -> bool {
    // SAFETY: per the caller.
    unsafe {
        match heap {
            Some(h) if track => {
                h.track_new(obj, fin);
                h.note_tracked_alloc()
            }
            _ => {
                if has_ext {
                    obj.write_ext(0, fin);
                }
                false
            }
        }
    }
}

/// Memory for an object created after the thread's heap was destroyed: from the global
/// allocator, and never freed (the object's release drops its value and leaks the memory, as
/// for every object that outlives its heap).
#[cold]
#[inline(never)]
pub(crate) fn alloc_orphan(layout: Layout) -> NonNull<u8> {
    // SAFETY: `layout` has a nonzero size (an object has a header).
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Like [`with_heap`], but returns `None` instead of panicking after the heap was destroyed.
#[inline]
pub fn try_with_heap<R>(f: impl FnOnce(&Heap) -> R) -> Option<R> {
    HEAP.try_with(f).ok()
}

/// Statistics of the current thread's heap memory: blocks in use per size class, pools,
/// arenas, large objects and the immortal region.
///
/// ```
/// let before = refcount::alloc_stats().bytes_in_use;
/// let a = refcount::Gc::new([0u64; 4]);
/// assert!(refcount::alloc_stats().bytes_in_use > before);
/// # drop(a);
/// ```
///
/// # Panics
/// If called while the thread is being torn down, after its heap was destroyed.
pub fn alloc_stats() -> rawalloc::Stats {
    with_heap(|h| h.alloc_stats())
}

/// A human-readable report of the current thread's heap memory, like Python's
/// `sys._debugmallocstats()`.
///
/// ```
/// assert!(!refcount::alloc_report().is_empty());
/// ```
///
/// # Panics
/// As [`alloc_stats`].
pub fn alloc_report() -> String {
    with_heap(|h| h.alloc_report())
}

impl Heap {
    fn new() -> Heap {
        Heap {
            alloc: UnsafeCell::new(Allocator::new()),
            lists: Default::default(),
            pending: UnsafeCell::new(Vec::new()),
            depth: Cell::new(0),
            counts: Default::default(),
            thresholds: [Cell::new(2000), Cell::new(10), Cell::new(10)],
            enabled: Cell::new(true),
            collecting: Cell::new(false),
            analysing: Cell::new(0),
            tracked_allocs: Cell::new(0),
            tracked_frees: Cell::new(0),
            weakref_cbs: UnsafeCell::new(hashbrown::HashMap::new()),
            atomic_cb_targets: Cell::new(0),
            free_lists: UnsafeCell::new(free_lists::FreeLists::default()),
        }
    }

    /// # Safety
    /// No other reference to the allocator is alive and the caller runs no user code while
    /// it holds this one.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn alloc_mut(&self) -> &mut Allocator {
        // SAFETY: per the caller.
        unsafe { &mut *self.alloc.get() }
    }

    /// Allocates raw memory for an object.
    #[inline(always)]
    pub(crate) fn alloc(&self, layout: Layout) -> NonNull<u8> {
        // SAFETY: the allocator runs no user code.
        unsafe { self.alloc_mut().alloc(layout) }
    }

    /// Allocates memory that is never freed.
    pub(crate) fn alloc_immortal(&self, layout: Layout) -> NonNull<u8> {
        // SAFETY: the allocator runs no user code.
        unsafe { self.alloc_mut().alloc_immortal(layout) }
    }

    /// Statistics of the raw allocator ([`alloc_stats`]).
    pub fn alloc_stats(&self) -> rawalloc::Stats {
        // SAFETY: reading statistics runs no user code.
        unsafe { self.alloc_mut().stats() }
    }

    /// A human-readable report of the raw allocator, like `sys._debugmallocstats()`.
    pub fn alloc_report(&self) -> String {
        // SAFETY: building the report runs no user code.
        let mut report = unsafe { self.alloc_mut().report() };
        free_lists::write_report(&mut report, &self.free_list_stats());
        report
    }

    /// While `on`, arenas that frees empty are set aside instead of given back to the system
    /// at once, and reused first ([`rawalloc::Allocator::set_release_deferred`]);
    /// [`take_retired_arenas`](Heap::take_retired_arenas) hands them over.
    pub fn set_release_deferred(&self, on: bool) {
        // SAFETY: runs no user code.
        unsafe { self.alloc_mut().set_release_deferred(on) }
    }

    /// The arenas set aside while releases were deferred: dropping the value gives them back
    /// to the system, on whichever thread drops it.
    pub fn take_retired_arenas(&self) -> rawalloc::RetiredArenas {
        // SAFETY: runs no user code.
        unsafe { self.alloc_mut().take_retired() }
    }

    /// Bytes held by the heap (live blocks, large objects and the immortal region).
    pub fn bytes_in_use(&self) -> usize {
        // SAFETY: runs no user code.
        unsafe { self.alloc_mut().bytes_in_use() }
    }

    // ----- lists --------------------------------------------------------------------------

    /// # Safety
    /// No other reference to this list is alive, and no user code runs while it is held.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn list_mut(&self, list: usize) -> &mut Vec<ObjPtr> {
        // SAFETY: per the caller.
        unsafe { &mut *self.lists[list].get() }
    }

    /// Number of objects in a list.
    pub fn list_len(&self, list: usize) -> usize {
        // SAFETY: short read, no user code.
        unsafe { self.list_mut(list).len() }
    }

    /// The object at `index` of `list`, if any.
    pub fn list_get(&self, list: usize, index: usize) -> Option<ObjPtr> {
        // SAFETY: short read, no user code.
        unsafe { self.list_mut(list).get(index).copied() }
    }

    /// A list's objects, borrowed.
    ///
    /// # Safety
    /// The slice must not be used after any list operation or any user code has run (either
    /// may change or reallocate the list).
    #[inline(always)]
    pub unsafe fn list_slice(&self, list: usize) -> &[ObjPtr] {
        // SAFETY: per the caller.
        unsafe { self.list_mut(list) }
    }

    /// Copies a list's objects (for inspection; the copy holds no references).
    pub fn list_snapshot(&self, list: usize) -> Vec<ObjPtr> {
        // SAFETY: short read, no user code.
        unsafe { self.list_mut(list).clone() }
    }

    /// Appends an untracked object to a list.
    ///
    /// # Safety
    /// `obj` is alive, has an extension and is not tracked.
    #[inline(always)]
    pub(crate) unsafe fn track(&self, obj: ObjPtr, list: usize) {
        // SAFETY: per the caller; the list borrow ends before any user code.
        unsafe {
            let l = self.list_mut(list);
            let e = obj.ext();
            debug_assert!(e.flags.get() & flags::TRACKED == 0, "object tracked twice");
            e.index.set(l.len() as u32);
            e.flags
                .set((e.flags.get() & !flags::LIST_MASK) | flags::TRACKED | list as u32);
            l.push(obj);
        }
    }

    /// Tracks a new object in generation 0, with its allocation counted (flag `COUNTED`).
    ///
    /// The extension is written whole, once: a read-modify-write of a field just written
    /// would make the release of a short-lived object wait on it.
    ///
    /// # Safety
    /// `obj` was just initialised with an extension and is not tracked.
    #[inline(always)]
    pub(crate) unsafe fn track_new(&self, obj: ObjPtr, extra: u32) {
        // SAFETY: per the caller; the list borrow ends before any user code.
        unsafe {
            let l = self.list_mut(0);
            obj.write_ext(l.len() as u32, flags::TRACKED | flags::COUNTED | extra);
            l.push(obj);
        }
    }

    /// Removes an object from whichever list holds it; does nothing if it is untracked.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub unsafe fn untrack(&self, obj: ObjPtr) {
        // SAFETY: per the caller; list invariant of `Heap`.
        unsafe {
            if !obj.has_ext() {
                return;
            }
            let e = obj.ext();
            let f = e.flags.get();
            if f & flags::TRACKED == 0 {
                return;
            }
            self.unlink(obj, f);
            e.flags.set(f & !(flags::TRACKED | flags::LIST_MASK));
        }
    }

    /// Removes a tracked object from its list (the flags are the caller's to update).
    ///
    /// # Safety
    /// The object is tracked and `f` is its current flags.
    #[inline(always)]
    unsafe fn unlink(&self, obj: ObjPtr, f: u32) {
        // SAFETY: per the caller; list invariant of `Heap`.
        unsafe {
            let l = self.list_mut((f & flags::LIST_MASK) as usize);
            let i = obj.ext().index.get() as usize;
            debug_assert!(l[i] == obj);
            let last = l.len() - 1;
            if i != last {
                let moved = l[last];
                l[i] = moved;
                moved.ext().index.set(i as u32);
            }
            // The common case, the newest object dying first, touches only the length: no
            // load of the element just pushed.
            // SAFETY: `last < len`, and `ObjPtr` is `Copy` (nothing to drop).
            l.set_len(last);
        }
    }

    /// Moves a tracked object to the end of another list.
    ///
    /// # Safety
    /// `obj` is alive and tracked.
    #[inline(always)]
    pub unsafe fn move_to(&self, obj: ObjPtr, list: usize) {
        // SAFETY: per the caller.
        unsafe {
            self.untrack(obj);
            self.track(obj, list);
        }
    }

    /// Moves every object of list `from` to the end of list `to`, keeping their order.
    ///
    /// # Safety
    /// Neither list is being analysed (a collection identifies their objects by position),
    /// and moving the objects to `to` is the collector's decision: objects in the working
    /// lists `UNREACHABLE` and `SCRATCH` are treated as garbage.
    pub unsafe fn append_list(&self, from: usize, to: usize) {
        // SAFETY: per the caller; every element is a live tracked object (list invariant),
        // given its place at the end of `to`, where it goes, and nothing else.
        unsafe { self.move_list(from, to, |objs, base| place_in_list(objs, to, base, |_| {})) }
    }

    /// Moves every object of list `from` to the end of list `to`, keeping their order, after
    /// `pass` has been given them and the index in `to` of the first
    /// ([`append_list`](Self::append_list), [`append_list_unholding`]).
    ///
    /// [`append_list_unholding`]: Self::append_list_unholding
    ///
    /// # Safety
    /// As for `append_list`; `pass` runs no user code, changes no list, does not unwind, and
    /// gives each object it is given its place in `to` ([`place_in_list`]).
    #[inline(always)]
    pub(super) unsafe fn move_list(
        &self,
        from: usize,
        to: usize,
        pass: impl FnOnce(&[ObjPtr], usize),
    ) {
        if from == to {
            return;
        }
        // SAFETY: two distinct lists, neither borrowed while `pass` runs (it changes none).
        unsafe {
            let src = core::mem::take(self.list_mut(from));
            pass(&src, self.list_mut(to).len());
            let dst = self.list_mut(to);
            if dst.is_empty() {
                *dst = src;
            } else {
                dst.extend_from_slice(&src);
            }
        }
    }

    /// Whether the collector is analysing list `list`: its objects must keep their places
    /// (the analysis identifies them by position), so [`Gc::try_unwrap`](crate::Gc) refuses
    /// to take them out meanwhile.
    pub fn is_analysing(&self, list: usize) -> bool {
        self.analysing.get() & (1 << list) != 0
    }

    /// Declares which lists the collector is analysing ([`is_analysing`](Self::is_analysing));
    /// an empty slice when it is done.
    ///
    /// # Safety
    /// Only the running collection declares lists, and it names every list whose objects it
    /// identifies by position until it no longer does.
    pub unsafe fn set_analysing(&self, lists: &[usize]) {
        self.analysing
            .set(lists.iter().fold(0, |mask, &l| mask | 1 << l));
    }

    // ----- counters -----------------------------------------------------------------------

    /// A generation's count (see the collector for its meaning).
    ///
    /// # Panics
    /// If `generation` is above 2.
    pub fn generation_count(&self, generation: usize) -> usize {
        self.counts[generation].get()
    }

    /// Sets a generation's count.
    ///
    /// # Safety
    /// The counts are the collector's bookkeeping: only it changes them, as its algorithm
    /// says (for generation 0, tracked allocations minus deallocations since the last
    /// collection).
    ///
    /// # Panics
    /// If `generation` is above 2.
    pub unsafe fn set_generation_count(&self, generation: usize, value: usize) {
        self.counts[generation].set(value);
    }

    /// A generation threshold.
    pub fn threshold(&self, generation: usize) -> usize {
        self.thresholds[generation].get()
    }

    /// Sets a generation threshold; `threshold(0) == 0` disables automatic collection.
    ///
    /// # Safety
    /// Only the collector sets thresholds, to values its API validated.
    ///
    /// # Panics
    /// If `generation` is above 2.
    pub unsafe fn set_threshold(&self, generation: usize, value: usize) {
        self.thresholds[generation].set(value);
    }

    /// Whether automatic collection is enabled.
    pub fn enabled(&self) -> bool {
        self.enabled.get()
    }

    /// Enables or disables automatic collection. Safe: whether collections start on their
    /// own changes no invariant (users toggle it through the `gc` module).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.set(on);
    }

    /// Whether a collection is running on this thread.
    pub fn collecting(&self) -> bool {
        self.collecting.get()
    }

    /// Marks a collection as running or finished.
    ///
    /// # Safety
    /// Only the collector sets it, around a collection that runs on this thread: while it
    /// is set, no other collection starts, and the lists may be in an analysis's state.
    pub unsafe fn set_collecting(&self, on: bool) {
        self.collecting.set(on);
    }

    /// Tracked objects allocated and freed since the thread started.
    pub fn tracked_totals(&self) -> (u64, u64) {
        (self.tracked_allocs.get(), self.tracked_frees.get())
    }

    /// Counts a new tracked object; returns whether an automatic collection is due.
    #[inline(always)]
    pub(crate) fn note_tracked_alloc(&self) -> bool {
        self.tracked_allocs.set(self.tracked_allocs.get() + 1);
        let c = self.counts[0].get() + 1;
        self.counts[0].set(c);
        let t = self.thresholds[0].get();
        c > t && t != 0 && self.enabled.get() && !self.collecting.get()
    }

    /// Counts the death of an object whose allocation was counted (flag `COUNTED`), once.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn note_death(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            if obj.flags() & flags::COUNTED != 0 {
                obj.clear_flags(flags::COUNTED);
                self.record_death();
            }
        }
    }

    /// The counters' side of a counted death: one more tracked free, and generation 0's
    /// count one lower (never below zero).
    #[inline(always)]
    pub(super) fn record_death(&self) {
        self.tracked_frees.set(self.tracked_frees.get() + 1);
        self.counts[0].set(self.counts[0].get().saturating_sub(1));
    }

    /// [`record_death`](Self::record_death) for `n` deaths at once.
    pub(super) fn record_deaths(&self, n: usize) {
        self.tracked_frees.set(self.tracked_frees.get() + n as u64);
        self.counts[0].set(self.counts[0].get().saturating_sub(n));
    }
}

/// Starts an automatic collection through the installed hook, if any.
#[cold]
#[inline(never)]
pub(crate) fn run_hook() {
    if let Some(hook) = COLLECT_HOOK.get() {
        hook();
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // The thread is exiting. Objects may still be alive: leaked cycles, or handles in
        // thread-locals destroyed after this one. Their memory must stay valid, so the
        // allocator is leaked whenever anything is still allocated. Blocks waiting in free
        // lists hold no object: they go back first, so that they do not keep it.
        self.clear_free_lists();
        let alloc = core::mem::take(self.alloc.get_mut());
        let stats = alloc.stats();
        let live_blocks: usize = stats.blocks_in_use.iter().sum();
        if live_blocks != 0 || stats.large_blocks_in_use != 0 {
            alloc.leak();
        } else if stats.immortal_bytes != 0 {
            // Only immortal objects remain (small ints, interned strings): they stay valid
            // for other thread-locals' destructors; the empty arenas go back.
            alloc.leak_immortal();
        }
    }
}

/// Counts an object's death in the current heap's counters (see [`Heap::note_death`]).
///
/// # Safety
/// The object's memory is held.
pub(crate) unsafe fn note_death(obj: ObjPtr) {
    try_with_heap(|h| {
        // SAFETY: per the caller.
        unsafe { h.note_death(obj) }
    });
}

/// Untracks an object from the current heap.
///
/// # Safety
/// The object's memory is held.
pub(crate) unsafe fn untrack(obj: ObjPtr) {
    try_with_heap(|h| {
        // SAFETY: per the caller.
        unsafe { h.untrack(obj) }
    });
}

/// Whether an object with these flags is in the list the collector is analysing.
pub(crate) fn is_analysed(f: u32) -> bool {
    f & flags::TRACKED != 0
        && try_with_heap(|h| h.is_analysing((f & flags::LIST_MASK) as usize)).unwrap_or(false)
}

/// Gives the objects `objs` their places in list `to`, the one at offset `k` at index
/// `base + k` (their extension's index and list), running `each` on each in the same pass
/// over their headers.
///
/// # Safety
/// Every object of `objs` is alive and has the extension; `base + objs.len()` fits in a
/// `u32`; the caller puts the objects in list `to` at these indices before the lists are
/// used again, and no other thread accesses these objects meanwhile.
#[inline(always)]
pub(super) unsafe fn place_in_list(
    objs: &[ObjPtr],
    to: usize,
    base: usize,
    mut each: impl FnMut(ObjPtr),
) {
    for (k, &obj) in objs.iter().enumerate() {
        if let Some(ahead) = objs.get(k + PREFETCH_AHEAD) {
            ahead.prefetch();
        }
        // SAFETY: per the caller.
        let e = unsafe { obj.ext() };
        e.index.set((base + k) as u32);
        e.flags.set((e.flags.get() & !flags::LIST_MASK) | to as u32);
        each(obj);
    }
}
