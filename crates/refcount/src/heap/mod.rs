//! The per-thread heap: the raw allocator, the tracked-object lists, the allocation counters
//! and the deferred-free queue that keeps deallocation off the machine stack.

use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;
use std::sync::OnceLock;

use rawalloc::Allocator;

use core::marker::PhantomData;

use crate::header::{Header, ObjPtr, box_layout, flags, head_room};
use crate::weakref::Entry;

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
/// (Measured on 1,000,000-object collections: 32 takes about 5 % off a collection of
/// garbage cycles compared with 8; 16 is no better than 8.)
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
/// thread-local cannot be destroyed meanwhile). A tiny closure, which the compiler always
/// inlines, where a large one passed to `with` would make it an out-of-line call.
///
/// # Panics
/// As [`with_heap`].
#[inline(always)]
pub(crate) fn heap_ptr() -> *const Heap {
    HEAP.with(|h| h as *const Heap)
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
        unsafe { self.alloc_mut().report() }
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
        if from == to {
            return;
        }
        // SAFETY: two distinct lists; no user code runs; every element is a live tracked
        // object (list invariant), so its extension may be written.
        unsafe {
            let src = core::mem::take(self.list_mut(from));
            let dst = self.list_mut(to);
            let base = dst.len();
            for (k, &obj) in src.iter().enumerate() {
                let e = obj.ext();
                e.index.set((base + k) as u32);
                e.flags.set((e.flags.get() & !flags::LIST_MASK) | to as u32);
            }
            if dst.is_empty() {
                *dst = src;
            } else {
                dst.extend_from_slice(&src);
            }
        }
    }

    /// Splits list `from` after an analysis that identified its objects by position: the
    /// objects whose position `garbage` accepts move to the end of list `to`, with the flag
    /// bits `mark` added; the others stay in `from`, in their order. Only the objects that
    /// change place are written (a collection that finds no garbage writes nothing).
    ///
    /// # Safety
    /// Every object of `from` is alive and tracked, `from != to`, and `garbage` runs no user
    /// code.
    pub unsafe fn split_off(
        &self,
        from: usize,
        to: usize,
        mut garbage: impl FnMut(usize) -> bool,
        mark: u32,
    ) {
        debug_assert_ne!(from, to);
        // SAFETY: per the caller; the two lists are distinct cells and no user code runs.
        unsafe {
            let src = self.list_mut(from);
            let dst = self.list_mut(to);
            let mut kept = 0;
            for i in 0..src.len() {
                let obj = src[i];
                let e = obj.ext();
                if garbage(i) {
                    e.index.set(dst.len() as u32);
                    e.flags
                        .set((e.flags.get() & !flags::LIST_MASK) | to as u32 | mark);
                    dst.push(obj);
                } else {
                    keep(src, &mut kept, i);
                }
            }
            src.truncate(kept);
        }
    }

    /// The collector's fast path for garbage that needs no finalization: the objects of list
    /// `from` whose position `garbage` accepts leave the lists, are flagged `DOOMED` and
    /// `WEAK_CLEARED` (weak upgrades fail from now on), have their death counted, and get a
    /// temporary strong reference, so that no release can free them before
    /// [`drop_doomed`](Self::drop_doomed) drops their values. They are appended to `out`; the
    /// others stay in `from`, in order, written only if they change place.
    ///
    /// An object whose count is already 0 is left where it is: its release is queued (it was
    /// dropped by a `Trace` impl during the analysis), and that release frees it. `sparse`
    /// says garbage is rare in the list: then only garbage is prefetched.
    ///
    /// # Safety
    /// Every object of `from` is alive and tracked, and `garbage` runs no user code (it may be
    /// asked about a position more than once, and ahead of the one being processed). Every
    /// object appended to `out` must be passed to [`drop_doomed`](Self::drop_doomed) exactly
    /// once.
    pub unsafe fn doom(
        &self,
        from: usize,
        mut garbage: impl FnMut(usize) -> bool,
        sparse: bool,
        out: &mut Vec<ObjPtr>,
    ) {
        // SAFETY: per the caller; no user code runs.
        unsafe {
            let src = self.list_mut(from);
            let mut kept = 0;
            let mut deaths = 0;
            for i in 0..src.len() {
                let obj = src[i];
                // With `sparse`, only garbage is prefetched: survivors are not read at all,
                // and a little garbage in a large set must not cost a pass over all of it.
                if let Some(ahead) = src.get(i + PREFETCH_AHEAD)
                    && (!sparse || garbage(i + PREFETCH_AHEAD))
                {
                    ahead.prefetch();
                }
                let e = obj.ext();
                // A survivor's header is not read (the side table decides).
                if garbage(i) && obj.has_strong() {
                    let f = e.flags.get();
                    deaths += (f & flags::COUNTED != 0) as usize;
                    e.flags.set(doomed_flags(f));
                    obj.inc_strong();
                    out.push(obj);
                } else {
                    keep(src, &mut kept, i);
                }
            }
            src.truncate(kept);
            self.count_deaths(deaths);
        }
    }

    /// [`doom`](Self::doom) for a list whose objects the count pass holds a temporary
    /// reference to ([`EdgeCounter::set_hold`](crate::engine::EdgeCounter::set_hold)), and that has
    /// no garbage with weak references: the garbage among the first `held` objects of list
    /// `from` (those the count pass held) is appended to `out` and leaves the list without
    /// being read or written. Its flags are brought up to date by
    /// [`drop_doomed`](Self::drop_doomed) just before each value is dropped (and its death
    /// counted then); meanwhile its temporary reference keeps it from being released, and
    /// no weak reference can upgrade to it except one created after the analysis (which
    /// then finds a dead value, as any handle to dropped garbage does). Survivors stay in
    /// order, written only if they move. With `all`, the caller says that all of the first
    /// `held` objects are garbage: a list of nothing else then moves to `out` whole.
    ///
    /// # Safety
    /// As for `doom`; every garbage object among the first `held` holds the count pass's
    /// temporary reference, and none has weak references; `all` is true only if every one
    /// of them is garbage.
    pub unsafe fn doom_held(
        &self,
        from: usize,
        held: usize,
        all: bool,
        mut garbage: impl FnMut(usize) -> bool,
        out: &mut Vec<ObjPtr>,
    ) {
        // SAFETY: per the caller; no user code runs.
        unsafe {
            let src = self.list_mut(from);
            if all && held == src.len() {
                if out.is_empty() {
                    // The buffers trade places: nothing is copied.
                    core::mem::swap(src, out);
                } else {
                    out.append(src);
                }
                return;
            }
            let mut kept = 0;
            for i in 0..src.len() {
                if i < held && garbage(i) {
                    out.push(src[i]);
                } else {
                    keep(src, &mut kept, i);
                }
            }
            src.truncate(kept);
        }
    }

    /// Gives back the temporary references the count pass took on the first `upto` objects
    /// of list `list` ([`EdgeCounter::set_hold`](crate::engine::EdgeCounter::set_hold)), except on
    /// those whose index `skip` accepts. Objects whose count is 0 or immortal hold none. An
    /// object left with no reference is released (deferred, so the list does not change).
    ///
    /// # Safety
    /// Frees are deferred; the first `upto` objects of the list are those the count pass
    /// held (alive, in place), and each holds its reference once.
    pub unsafe fn unhold(&self, list: usize, upto: usize, mut skip: impl FnMut(usize) -> bool) {
        for i in 0..upto {
            if skip(i) {
                continue;
            }
            // SAFETY: per the caller: frees are deferred, so the list neither moves nor
            // shrinks while this runs (a release only queues).
            unsafe {
                let Some(&obj) = self.list_mut(list).get(i) else {
                    return;
                };
                if let Some(ahead) = self.list_mut(list).get(i + PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                if obj.mortal_strong().is_some() && obj.dec_strong_no_release() {
                    self.release(obj);
                }
            }
        }
    }

    /// Drops the values of objects set apart by [`doom`](Self::doom), last first, and gives back
    /// their temporary references: an object nothing else holds is freed at once, the others
    /// when their last handle goes (they are `DEAD`: dereferencing a handle panics).
    ///
    /// A panicking `Drop` does not stop the others: every value is dropped, and the first
    /// panic is returned (later ones go to the unraisable hook).
    ///
    /// # Safety
    /// `objs` holds objects set apart by [`doom`](Self::doom) or
    /// [`doom_held`](Self::doom_held), each exactly once.
    pub unsafe fn drop_doomed(&self, objs: &[ObjPtr]) -> Option<Box<dyn core::any::Any + Send>> {
        // The newest object first, as the collector's general path does.
        let mut left = objs.len();
        let mut first_panic = None;
        while left != 0 {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                while left != 0 {
                    // Runs of one type go through a loop compiled for it.
                    // SAFETY: per the caller.
                    unsafe { objs[left - 1].drop_doomed_run(self, objs, &mut left) };
                }
            }));
            if let Err(payload) = result {
                // SAFETY: the object whose drop panicked still holds its temporary reference.
                unsafe { self.release_doomed(objs[left]) };
                if first_panic.is_none() {
                    first_panic = Some(payload);
                } else {
                    crate::report::report_unraisable("dropping garbage", &payload);
                }
            }
        }
        first_panic
    }

    /// [`drop_doomed`](Self::drop_doomed)'s loop for objects of type `T`: drops the values
    /// of `objs[..*left]` from the last on, while they are of the type of the last one,
    /// counting `left` down before each drop (so that, if a `Drop` panics, `objs[*left]` is
    /// the object whose drop panicked).
    ///
    /// # Safety
    /// As for `drop_doomed`; `*left > 0` and `objs[*left - 1]` is a `T`.
    pub(crate) unsafe fn drop_doomed_run<T: crate::Trace + 'static>(
        &self,
        objs: &[ObjPtr],
        left: &mut usize,
    ) {
        // SAFETY: the temporary reference holds the memory.
        let ty = unsafe { objs[*left - 1].type_info_ptr() };
        // Deaths are counted once per run (also if a destructor panics).
        struct Deaths<'a>(&'a Heap, usize);
        impl Drop for Deaths<'_> {
            fn drop(&mut self) {
                self.0.count_deaths(self.1);
            }
        }
        let mut deaths = Deaths(self, 0);
        while *left != 0 {
            let obj = objs[*left - 1];
            // SAFETY: the temporary reference holds the memory.
            if unsafe { obj.type_info_ptr() } != ty {
                return;
            }
            *left -= 1;
            if let Some(ahead) = left.checked_sub(PREFETCH_AHEAD) {
                objs[ahead].prefetch();
            }
            // SAFETY: per the caller, the temporary reference holds the memory and the value
            // (a `T`) is alive; `DEAD` is set first, so it is dropped only here.
            unsafe {
                let e = obj.ext();
                let f = e.flags.get();
                if f & flags::DOOMED == 0 {
                    // Set apart by `doom_held`: out of the lists, but its flags still say
                    // where it was.
                    deaths.1 += (f & flags::COUNTED != 0) as usize;
                    e.flags.set(doomed_flags(f) | flags::DEAD);
                } else {
                    e.flags.set(f | flags::DEAD);
                }
                core::ptr::drop_in_place(obj.value::<T>());
                if obj.dec_strong_no_release() {
                    // A destructor of the same garbage may have registered a callback on it.
                    self.fire_weakref_callbacks(obj);
                    if obj.dec_weak() == 0 {
                        self.dealloc_typed::<T>(obj, true);
                    }
                }
            }
        }
    }

    /// Frees the memory of an object of type `T`.
    ///
    /// # Safety
    /// No strong or weak reference remains, the value is dropped, and `has_ext` says whether
    /// the object has an extension.
    #[inline(always)]
    unsafe fn dealloc_typed<T: crate::Trace + 'static>(&self, obj: ObjPtr, has_ext: bool) {
        let back = head_room(has_ext, align_of::<T>()) - size_of::<Header>();
        // SAFETY: per the caller; the allocation starts `back` bytes before the header and
        // has `box_layout::<T>` (as in `ObjPtr::init`).
        unsafe {
            let start = obj.0.cast::<u8>().sub(back);
            self.alloc_mut().dealloc(start, box_layout::<T>(has_ext));
        }
    }

    /// Gives back the temporary reference of a doomed object whose value was dropped.
    ///
    /// # Safety
    /// The object is `DEAD` and the caller owns its temporary strong reference.
    #[inline(always)]
    unsafe fn release_doomed(&self, obj: ObjPtr) {
        // SAFETY: per the caller; the value is dropped, so nothing but memory remains.
        unsafe {
            if obj.dec_strong_no_release() {
                // A destructor of the same garbage may have registered a callback on it.
                self.fire_weakref_callbacks(obj);
                self.drop_implicit_weak(obj);
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
                self.count_death();
            }
        }
    }

    /// The counters' side of a counted death: one more tracked free, and generation 0's
    /// count one lower (never below zero).
    #[inline(always)]
    fn count_death(&self) {
        self.tracked_frees.set(self.tracked_frees.get() + 1);
        self.counts[0].set(self.counts[0].get().saturating_sub(1));
    }

    /// [`count_death`](Self::count_death) for `n` deaths at once.
    fn count_deaths(&self, n: usize) {
        self.tracked_frees.set(self.tracked_frees.get() + n as u64);
        self.counts[0].set(self.counts[0].get().saturating_sub(n));
    }

    // ----- deferred frees -----------------------------------------------------------------

    /// Runs `f` with every deallocation queued instead of performed, then performs them.
    ///
    /// The collector traces objects inside this scope, so that no object it holds in a list
    /// can be freed under it, whatever a `Trace` implementation does.
    pub fn defer_frees<R>(&self, f: impl FnOnce() -> R) -> R {
        let saved = self.depth.replace(DEPTH_LIMIT);
        let _restore = DepthGuard(self, saved);
        f()
    }

    /// Releases the queued objects. Called only at depth 0; the loop itself runs at depth 1,
    /// so the releases it starts queue their own deep descendants instead of draining
    /// recursively: the stack stays bounded by `DEPTH_LIMIT` frames whatever the chain length.
    ///
    /// A panicking destructor does not strand the rest of the queue: every queued object is
    /// released, and the first panic resumes afterwards (while already unwinding, panics are
    /// reported through the unraisable hook instead, since a second panic would abort).
    #[cold]
    #[inline(never)]
    fn drain_pending(&self) {
        struct Depth<'a>(&'a Heap);
        impl Drop for Depth<'_> {
            fn drop(&mut self) {
                self.0.depth.set(0);
            }
        }
        self.depth.set(1);
        let depth = Depth(self);
        let mut first_panic = None;
        loop {
            // SAFETY: short borrow of the queue, released before any user code runs.
            let next = unsafe { (*self.pending.get()).pop() };
            let Some(obj) = next else { break };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: queued objects have strong count 0 and intact memory and value.
                unsafe { self.release_now(obj) }
            }));
            if let Err(payload) = result {
                if first_panic.is_none() && !std::thread::panicking() {
                    first_panic = Some(payload);
                } else {
                    crate::report::report_unraisable("dropping a queued object", &payload);
                }
            }
        }
        drop(depth);
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }

    /// Untracks, drops and frees an object whose strong count just reached 0, or queues it
    /// when deallocations are already nested `DEPTH_LIMIT` deep.
    ///
    /// # Safety
    /// `obj`'s strong count is 0 and nobody will use its value again.
    #[inline]
    unsafe fn release(&self, obj: ObjPtr) {
        let depth = self.depth.get();
        if depth >= DEPTH_LIMIT {
            // The object stays tracked while queued: the collector may be walking the lists
            // right now (see `defer_frees`), and it treats a count of 0 as "dying, keep".
            // SAFETY: short borrow of the queue, no user code runs.
            unsafe { (*self.pending.get()).push(obj) };
            return;
        }
        self.depth.set(depth + 1);
        let _leave = DepthGuard(self, depth);
        // SAFETY: per the caller.
        unsafe { self.release_now(obj) };
    }

    /// The common case of [`release`](Self::release), specialised for a known `T`: no
    /// finalizer due, no weak-reference callbacks, not nested too deep. The value is dropped
    /// and the memory freed without going through the type descriptor; anything unusual
    /// takes the general path.
    ///
    /// # Safety
    /// As for [`release`](Self::release), and the object's type is `T`.
    #[inline]
    unsafe fn release_typed<T: crate::Trace + 'static>(&self, obj: ObjPtr) {
        let depth = self.depth.get();
        // SAFETY: per the caller: memory held, value alive or DEAD, type `T`.
        unsafe {
            // Frees the memory on every path, unwinding included.
            struct Free<'a, T: crate::Trace + 'static>(&'a Heap, ObjPtr, bool, PhantomData<T>);
            impl<T: crate::Trace + 'static> Drop for Free<'_, T> {
                #[inline]
                fn drop(&mut self) {
                    if self.1.dec_weak() == 0 {
                        // SAFETY: no strong or weak reference remains; the value is dropped
                        // (or being unwound from) and `self.2` is whether it has an extension.
                        unsafe { self.0.dealloc_typed::<T>(self.1, self.2) };
                    }
                }
            }
            // A type that needs tracing always has the extension: no need to read the header.
            let has_ext = T::needs_trace() || obj.has_ext();
            if has_ext {
                // One read of the flags and one write: the object is dying, so only the list
                // membership and the counters must be right (nothing reads the flags of an
                // object whose count is 0, except to find it dead).
                let e = obj.ext();
                let f = e.flags.get();
                if f & (flags::HAS_WEAKREF_CB | flags::DEAD | flags::TRACKED) == flags::DEAD {
                    // The collector dropped the value (and untracked the object and counted its
                    // death): only the memory is left. No user code runs, so no depth guard.
                    drop(Free::<T>(self, obj, true, PhantomData));
                    return;
                }
                if f & (flags::HAS_WEAKREF_CB | flags::DEAD) != 0
                    || depth >= DEPTH_LIMIT
                    || f & (flags::HAS_FINALIZER | flags::FINALIZED | flags::NO_FINALIZE)
                        == flags::HAS_FINALIZER
                {
                    return self.release(obj);
                }
                if f & flags::TRACKED != 0 {
                    self.unlink(obj, f);
                }
                if f & flags::COUNTED != 0 {
                    self.count_death();
                }
                e.flags
                    .set(f & !(flags::TRACKED | flags::LIST_MASK | flags::COUNTED));
            } else if depth >= DEPTH_LIMIT || self.atomic_cb_targets.get() != 0 {
                return self.release(obj);
            }
            self.depth.set(depth + 1);
            let _leave = DepthGuard(self, depth);
            let free = Free::<T>(self, obj, has_ext, PhantomData);
            core::ptr::drop_in_place(obj.value::<T>());
            drop(free);
        }
    }

    /// # Safety
    /// As for [`release`](Self::release).
    unsafe fn release_now(&self, obj: ObjPtr) {
        // SAFETY: per the caller. The value is dropped at most once: `DEAD` means the
        // collector already dropped it.
        unsafe {
            let has_ext = obj.has_ext();
            let dead = if has_ext {
                if obj.finalizer_due() {
                    // PEP 442 on refcount death: the finalizer runs with a temporary
                    // reference; if it leaves the count above that, it resurrected the
                    // object and deallocation stops here.
                    obj.set_flags(flags::FINALIZED);
                    obj.set_strong(1);
                    obj.call_finalizer();
                    let s = obj.strong() - 1;
                    obj.set_strong(s);
                    if s != 0 {
                        // Resurrected: whatever it is part of now is for the next full
                        // collection to analyse.
                        obj.set_dirty();
                        return;
                    }
                }
                self.fire_weakref_callbacks(obj);
                self.untrack(obj);
                self.note_death(obj);
                obj.flags() & flags::DEAD != 0
            } else {
                self.fire_weakref_callbacks(obj);
                false
            };
            // The memory is freed on every path, unwinding included.
            struct Free<'a>(&'a Heap, ObjPtr);
            impl Drop for Free<'_> {
                fn drop(&mut self) {
                    // SAFETY: the implicit weak reference is given up exactly once, here.
                    unsafe { self.0.drop_implicit_weak(self.1) }
                }
            }
            let free = Free(self, obj);
            if !dead {
                obj.drop_value_raw();
            }
            drop(free);
        }
    }

    // ----- weak-reference callbacks ---------------------------------------------------------

    /// Registers a weak-reference callback on `target`.
    pub(crate) fn register_weakref(&self, target: ObjPtr, entry: Entry) {
        // SAFETY: short borrow of the registry; dropping the purged entries below only
        // releases weak counts of dead objects (frees memory, runs no user code).
        let purged = unsafe {
            let map = &mut *self.weakref_cbs.get();
            let list = map.entry(target).or_default();
            let purged: Vec<Entry> = list.extract_if(.., |e| !e.is_live()).collect();
            list.push(entry);
            purged
        };
        drop(purged);
        // SAFETY: the caller holds a handle to `target`.
        unsafe {
            if target.has_ext() {
                if target.flags() & flags::HAS_WEAKREF_CB == 0 {
                    target.set_flags(flags::HAS_WEAKREF_CB);
                }
            } else {
                self.atomic_cb_targets.set(self.atomic_cb_targets.get() + 1);
            }
        }
    }

    /// Removes and returns the weak-reference callbacks registered on `target`, most recently
    /// registered first.
    ///
    /// # Safety
    /// The object's memory is held.
    pub unsafe fn take_weakref_callbacks(&self, target: ObjPtr) -> Vec<Entry> {
        // SAFETY: short borrow of the registry; memory held per the caller.
        let mut list = unsafe {
            let taken = (*self.weakref_cbs.get())
                .remove(&target)
                .unwrap_or_default();
            if target.has_ext() {
                target.clear_flags(flags::HAS_WEAKREF_CB);
            } else if !taken.is_empty() {
                self.atomic_cb_targets.set(self.atomic_cb_targets.get() - 1);
            }
            taken
        };
        list.reverse();
        list
    }

    /// Runs and forgets the weak-reference callbacks registered on `obj`, if it may have any
    /// (its `HAS_WEAKREF_CB` flag, or for an object without an extension, any such object).
    ///
    /// # Safety
    /// The object's memory is held and its strong count is 0.
    #[inline]
    unsafe fn fire_weakref_callbacks(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            let registered = if obj.has_ext() {
                obj.flags() & flags::HAS_WEAKREF_CB != 0
            } else {
                self.atomic_cb_targets.get() != 0
            };
            if registered {
                self.fire_registered_callbacks(obj);
            }
        }
    }

    /// The rare part of [`fire_weakref_callbacks`](Self::fire_weakref_callbacks), out of
    /// line so that the loops that test for it stay small.
    ///
    /// # Safety
    /// As for `fire_weakref_callbacks`.
    #[cold]
    #[inline(never)]
    unsafe fn fire_registered_callbacks(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        for entry in unsafe { self.take_weakref_callbacks(obj) } {
            entry.fire();
        }
    }

    /// # Safety
    /// The caller gives up the implicit weak reference of an object whose strong count is 0.
    unsafe fn drop_implicit_weak(&self, obj: ObjPtr) {
        if obj.dec_weak() == 0 {
            // SAFETY: no strong or weak reference remains.
            unsafe { obj.dealloc_raw(self.alloc_mut()) }
        }
    }

    /// Frees the memory of an object after its last weak reference went away.
    ///
    /// # Safety
    /// The object's strong count is 0, its value is dropped, its weak count just reached 0.
    pub(crate) unsafe fn free_after_weak(&self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe { obj.dealloc_raw(self.alloc_mut()) }
    }
}

/// The flags of a garbage object set apart for dropping: out of the lists, its death counted
/// (no longer `COUNTED`), `DOOMED`, and weak upgrades failing for good.
#[inline(always)]
fn doomed_flags(f: u32) -> u32 {
    (f & !(flags::TRACKED | flags::LIST_MASK | flags::COUNTED))
        | flags::DOOMED
        | flags::WEAK_CLEARED
}

/// Keeps the survivor at position `i` of a list being closed up, at position `kept`, and
/// rewrites its index only if it moves.
///
/// # Safety
/// `kept <= i < list.len()` and the object at `i` is alive with an extension.
#[inline(always)]
unsafe fn keep(list: &mut [ObjPtr], kept: &mut usize, i: usize) {
    if *kept != i {
        let obj = list[i];
        list[*kept] = obj;
        // SAFETY: per the caller.
        unsafe { obj.ext().index.set(*kept as u32) };
    }
    *kept += 1;
}

/// Restores the deallocation depth on every exit path, and releases the queued objects when
/// it returns to 0 (the outermost deallocation).
struct DepthGuard<'a>(&'a Heap, u32);

impl Drop for DepthGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.depth.set(self.1);
        // SAFETY: a short read of the queue's length.
        if self.1 == 0 && unsafe { !(*self.0.pending.get()).is_empty() } {
            self.0.drain_pending();
        }
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
        // allocator is leaked whenever anything is still allocated.
        let alloc = core::mem::take(self.alloc.get_mut());
        let stats = alloc.stats();
        let live_blocks: usize = stats.blocks_in_use.iter().sum();
        if live_blocks != 0 || stats.large_blocks_in_use != 0 || stats.immortal_bytes != 0 {
            alloc.leak();
        }
    }
}

/// Releases an object whose strong count reached 0 (see [`Heap::release`]).
///
/// # Safety
/// `obj`'s strong count is 0 and nobody will use its value again.
pub(crate) unsafe fn release(obj: ObjPtr) {
    let done = try_with_heap(|h| {
        // SAFETY: per the caller.
        unsafe { h.release(obj) }
    });
    if done.is_none() {
        // SAFETY: per the caller.
        unsafe { orphan::release(obj) }
    }
}

/// Releases objects that die after their thread's heap was destroyed (handles held in
/// thread-locals torn down later). Their destructors run; their memory is leaked, which the
/// heap arranged by leaking its arenas. The same depth limit and queue as the heap's keep a
/// long chain from overflowing the stack; this state lives in a thread-local without a
/// destructor, so it stays usable during the whole teardown.
mod orphan {
    use core::cell::{Cell, RefCell};
    use core::mem::ManuallyDrop;

    use super::DEPTH_LIMIT;
    use crate::header::{ObjPtr, flags};

    struct Orphans {
        depth: Cell<u32>,
        queue: ManuallyDrop<RefCell<Vec<ObjPtr>>>,
    }

    thread_local! {
        static ORPHANS: Orphans = const {
            Orphans { depth: Cell::new(0), queue: ManuallyDrop::new(RefCell::new(Vec::new())) }
        };
    }

    /// # Safety
    /// `obj`'s strong count is 0 and nobody will use its value again.
    pub(super) unsafe fn release(obj: ObjPtr) {
        let run = |o: &Orphans| {
            let depth = o.depth.get();
            if depth >= DEPTH_LIMIT {
                o.queue.borrow_mut().push(obj);
                return;
            }
            o.depth.set(depth + 1);
            // SAFETY: per the caller; DEAD means the collector dropped it already.
            unsafe { drop_value(obj) };
            if depth == 0 {
                // Drain at depth 1, so nested releases queue instead of recursing.
                loop {
                    // The borrow must end before the destructor runs: it queues more.
                    let next = o.queue.borrow_mut().pop();
                    let Some(next) = next else { break };
                    // SAFETY: queued objects have strong count 0 and an intact value.
                    unsafe { drop_value(next) };
                }
            }
            o.depth.set(depth);
        };
        if ORPHANS.try_with(run).is_err() {
            // Not even this thread-local is reachable any more: drop in place, unbounded.
            // SAFETY: per the caller.
            unsafe { drop_value(obj) };
        }
    }

    /// # Safety
    /// As for [`release`].
    unsafe fn drop_value(obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            if obj.flags() & flags::DEAD == 0 {
                obj.drop_value_raw();
            }
        }
    }
}

/// Releases an object of type `T` whose strong count reached 0 (see [`Heap::release_typed`]).
///
/// # Safety
/// `obj`'s strong count is 0, nobody will use its value again, and its type is `T`.
#[inline(never)]
pub(crate) unsafe fn release_typed<T: crate::Trace + 'static>(obj: ObjPtr) {
    match HEAP.try_with(|h| h as *const Heap) {
        // SAFETY: per the caller. The heap outlives this call: a thread-local is destroyed
        // only by the thread's exit sequence, never from inside code running on it.
        Ok(h) => unsafe { (*h).release_typed::<T>(obj) },
        // SAFETY: per the caller.
        Err(_) => unsafe { orphan::release(obj) },
    }
}

/// Runs and forgets the weak-reference callbacks registered on an object whose strong count
/// just reached 0 outside the normal release path.
///
/// # Safety
/// The object's memory is held and its strong count is 0.
pub(crate) unsafe fn forget_referent(obj: ObjPtr) {
    try_with_heap(|h| {
        // SAFETY: per the caller.
        unsafe { h.fire_weakref_callbacks(obj) }
    });
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
