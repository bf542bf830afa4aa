//! The `gc`-module API, acting on the current thread's heap.

use refcount::engine::{
    FirstPanic, Heap, ObjectOps, PERMANENT, UNREACHABLE, YOUNG, any_from_obj, flags, try_with_heap,
};
use refcount::{AnyGc, Gc, Trace, Tracer};

use crate::callbacks::{CallbackHandle, CollectionInfo, Phase, Reason};
use crate::collector;
use crate::error::{Error, check_generation};
use crate::pauses::PauseStats;
use crate::state::with_state;
use crate::stats::{DebugFlags, GenerationStats};

/// Runs `f` with the current thread's heap; once the heap was destroyed (in a thread-local
/// destructor that runs after it), returns the default instead: no collection can run then,
/// and every function of this module is a no-op that reports nothing.
fn on_heap<R: Default>(f: impl FnOnce(&Heap) -> R) -> R {
    try_with_heap(f).unwrap_or_default()
}

/// Runs a full collection (all generations). Returns the number of unreachable objects
/// found, or 0 if called while a collection is running (from a `Drop` or a callback).
///
/// ```
/// use std::cell::RefCell;
/// use gcrt_doc_support::Node;
/// gencollect::collect();
/// let a = Node::new();
/// let b = Node::new();
/// *a.next.borrow_mut() = Some(b.clone());
/// *b.next.borrow_mut() = Some(a.clone());
/// drop((a, b));
/// assert_eq!(gencollect::collect(), 2);
/// # mod gcrt_doc_support {
/// #     use std::cell::RefCell;
/// #     use refcount::Gc;
/// #     #[derive(gcrt_derive::Trace)]
/// #     #[trace(crate = "refcount")]
/// #     pub struct Node { pub next: RefCell<Option<Gc<Node>>> }
/// #     impl Node { pub fn new() -> Gc<Node> { Gc::new(Node { next: RefCell::new(None) }) } }
/// # }
/// ```
pub fn collect() -> usize {
    crate::install();
    on_heap(|h| collector::collect(h, 2, Reason::Manual))
}

/// Collects generation `generation` and all younger ones.
///
/// # Errors
/// [`Error::InvalidGeneration`] for a generation above 2; nothing happens then.
///
/// ```
/// assert!(gencollect::collect_generation(0).is_ok());
/// assert!(gencollect::collect_generation(3).is_err());
/// ```
pub fn collect_generation(generation: usize) -> Result<usize, Error> {
    check_generation(generation)?;
    crate::install();
    Ok(on_heap(|h| {
        collector::collect(h, generation, Reason::Manual)
    }))
}

/// The automatic collection: runs when generation 0's count passes its threshold.
///
/// Picks the oldest generation whose count exceeds its threshold, except that generation 2
/// is only collected once the objects promoted into it since the last full collection are
/// at least a quarter of those that survived that collection (CPython's rule, which keeps
/// the total cost of full collections linear in the number of allocations).
pub(crate) fn automatic() {
    on_heap(|h| {
        if h.collecting() || !h.enabled() {
            return;
        }
        for g in (0..3).rev() {
            if h.generation_count(g) > h.threshold(g) {
                if g == 2 {
                    let (total, pending) =
                        with_state(|s| (s.long_lived_total.get(), s.long_lived_pending.get()))
                            .unwrap_or((0, 0));
                    if pending < total / 4 {
                        continue;
                    }
                }
                collector::collect(h, g, Reason::Threshold);
                return;
            }
        }
    });
}

/// Enables automatic collection.
///
/// ```
/// gencollect::disable();
/// assert!(!gencollect::is_enabled());
/// gencollect::enable();
/// assert!(gencollect::is_enabled());
/// ```
pub fn enable() {
    crate::install();
    on_heap(|h| h.set_enabled(true));
}

/// Disables automatic collection; [`collect`] still works.
pub fn disable() {
    on_heap(|h| h.set_enabled(false));
}

/// Whether automatic collection is enabled.
pub fn is_enabled() -> bool {
    on_heap(|h| h.enabled())
}

/// Disables automatic collection until dropped, then restores the previous setting (a
/// "no-GC region").
///
/// ```
/// {
///     let _no_gc = gencollect::DisabledGuard::new();
///     assert!(!gencollect::is_enabled());
/// }
/// assert!(gencollect::is_enabled());
/// ```
#[derive(Debug)]
#[must_use = "automatic collection is re-enabled when the guard is dropped"]
pub struct DisabledGuard {
    was_enabled: bool,
    _not_send: core::marker::PhantomData<*const ()>,
}

impl DisabledGuard {
    /// Disables automatic collection on this thread.
    pub fn new() -> DisabledGuard {
        let was_enabled = is_enabled();
        disable();
        DisabledGuard {
            was_enabled,
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Default for DisabledGuard {
    fn default() -> DisabledGuard {
        DisabledGuard::new()
    }
}

impl Drop for DisabledGuard {
    fn drop(&mut self) {
        if self.was_enabled {
            enable();
        }
    }
}

/// The three generation counts.
///
/// * `count0`: tracked allocations minus deallocations since generation 0 was last
///   collected (never below zero);
/// * `count1`: collections of generation 0 since generation 1 was last collected;
/// * `count2`: collections of generation 1 since generation 2 was last collected.
///
/// ```
/// gencollect::collect();
/// assert_eq!(gencollect::get_count(), (0, 0, 0));
/// gencollect::collect_generation(0).unwrap();
/// assert_eq!(gencollect::get_count(), (0, 1, 0));
/// gencollect::collect_generation(1).unwrap();
/// assert_eq!(gencollect::get_count(), (0, 0, 1));
/// ```
pub fn get_count() -> (usize, usize, usize) {
    on_heap(|h| {
        (
            h.generation_count(0),
            h.generation_count(1),
            h.generation_count(2),
        )
    })
}

/// The three thresholds; the defaults are `(2000, 10, 10)`.
///
/// ```
/// assert_eq!(gencollect::get_threshold(), (2000, 10, 10));
/// ```
pub fn get_threshold() -> (usize, usize, usize) {
    on_heap(|h| (h.threshold(0), h.threshold(1), h.threshold(2)))
}

/// Sets the thresholds. A collection of generation 0 starts when `count0 > threshold0`;
/// generation N > 0 is collected with it when `countN > thresholdN`. `threshold0 == 0`
/// disables automatic collection.
///
/// ```
/// let old = gencollect::get_threshold();
/// gencollect::set_threshold(700, 10, 10);
/// assert_eq!(gencollect::get_threshold(), (700, 10, 10));
/// gencollect::set_threshold(old.0, old.1, old.2);
/// ```
pub fn set_threshold(threshold0: usize, threshold1: usize, threshold2: usize) {
    set_thresholds(threshold0, threshold1, threshold2);
}

/// Sets threshold 0 alone, keeping the other two: Python's `gc.set_threshold(700)`.
///
/// ```
/// let old = gencollect::get_threshold();
/// gencollect::set_threshold0(700);
/// assert_eq!(gencollect::get_threshold(), (700, old.1, old.2));
/// gencollect::set_threshold(old.0, old.1, old.2);
/// ```
pub fn set_threshold0(threshold0: usize) {
    let (_, t1, t2) = get_threshold();
    set_thresholds(threshold0, t1, t2);
}

fn set_thresholds(threshold0: usize, threshold1: usize, threshold2: usize) {
    crate::install();
    // SAFETY: the collector's API sets the thresholds; any value is valid.
    on_heap(|h| unsafe {
        h.set_threshold(0, threshold0);
        h.set_threshold(1, threshold1);
        h.set_threshold(2, threshold2);
    });
}

/// Statistics per generation since the thread started.
pub fn get_stats() -> [GenerationStats; 3] {
    with_state(|s| *s.stats.borrow()).unwrap_or_default()
}

/// The pauses of each generation's collections on this thread, as histograms
/// ([`PauseStats`]: count, percentiles, max, total).
///
/// ```
/// use gencollect::{collect_generation, get_pause_stats};
/// collect_generation(0).unwrap();
/// let young = get_pause_stats()[0];
/// println!("p99 of young collections: {:?}", young.percentile(99.0));
/// let all = young.merged(&get_pause_stats()[1]).merged(&get_pause_stats()[2]);
/// assert!(all.count() >= 1);
/// ```
pub fn get_pause_stats() -> [PauseStats; 3] {
    with_state(|s| *s.pauses.borrow()).unwrap_or_default()
}

/// Forgets the pauses recorded so far (after a program's set-up, say), leaving
/// [`get_stats`] as it is.
///
/// ```
/// gencollect::collect();
/// gencollect::reset_pause_stats();
/// assert_eq!(gencollect::get_pause_stats()[2].count(), 0);
/// ```
pub fn reset_pause_stats() {
    with_state(|s| *s.pauses.borrow_mut() = Default::default());
}

/// Makes every full collection analyse every tracked object, as CPython's does (`true`), or
/// only what the objects marked dirty since the last full collection reach (`false`, the
/// default). Both find the same garbage in programs whose unsafe code follows the rule
/// below; the default makes a full collection over an unchanged heap cost one read of each
/// object's header instead of a trace of every object.
///
/// An object is dirty when its strong count was decremented to a nonzero value since a
/// full collection last proved it reachable (a *dirty* object, `docs/collector.md`). In safe
/// Rust a group of objects can only become an unreachable cycle through such a decrement.
/// Unsafe code that reaches an object through a raw pointer instead of a handle can close
/// a cycle without one: [`Gc::as_ptr`](refcount::Gc::as_ptr) therefore marks its object so
/// that full collections always analyse it; code that gets pointers some other way should
/// turn the full scan on.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// #[derive(gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct Node(RefCell<Option<Gc<Node>>>);
/// gencollect::collect();
/// let a = Gc::new(Node(RefCell::new(None)));
/// *a.0.borrow_mut() = Some(a.clone());
/// drop(a);
/// gencollect::set_full_scan(true);
/// assert!(gencollect::get_full_scan());
/// assert_eq!(gencollect::collect(), 1);
/// gencollect::set_full_scan(false);
/// ```
pub fn set_full_scan(on: bool) {
    with_state(|s| s.full_scan.set(on));
}

/// Tuning: from how many objects in generation 0 a collection sets its garbage apart
/// without a pass over it, as long as the last such collection found at least half of
/// generation 0 garbage. The count pass then takes a temporary reference on each of those
/// objects and gives the survivors' back after the analysis (see `docs/collector.md`).
/// Default 65,536; 0 makes every collection that includes generation 0 work that way
/// whatever the last one found, `usize::MAX` none. The garbage found is the same either way.
///
/// ```
/// gencollect::set_young_hold_threshold(0);
/// gencollect::set_young_hold_threshold(usize::MAX);
/// ```
pub fn set_young_hold_threshold(objects: usize) {
    with_state(|s| s.hold_threshold.set(objects));
}

/// Lets a collection of a large set split its count pass with a helper thread (`true`, the
/// default) or keeps every collection on the calling thread (`false`).
///
/// The count pass reads every object of the set and does arithmetic for each; a helper
/// thread counts part of them while this thread counts the rest (`docs/performance.md`
/// says how much that takes off). Only sets of 131,072 objects or more are
/// split, and only when the machine has a second core. The helper counts only objects whose
/// type's `Trace` is pure (`#[derive(Trace)]` and gcrt's own impls, see
/// `Trace::pure_trace`): it runs no user code, and this thread runs none while it works.
/// Everything else (an object whose trace runs user code, every `Drop`, finalizer and
/// callback) stays on this thread, so a collection's results and the order in which
/// destructors run are the same either way.
///
/// ```
/// gencollect::set_parallel(false);
/// assert!(!gencollect::get_parallel());
/// gencollect::set_parallel(true);
/// ```
pub fn set_parallel(on: bool) {
    with_state(|s| s.parallel.set(on));
}

/// Whether large count passes may use a helper thread ([`set_parallel`]).
///
/// ```
/// assert!(gencollect::get_parallel(), "on by default");
/// ```
pub fn get_parallel() -> bool {
    with_state(|s| s.parallel.get()).unwrap_or(false)
}

/// Tuning: from how many objects in the analysed set a collection splits its count pass
/// with a helper thread ([`set_parallel`]). Default 131,072; 0 splits every pass that has
/// objects for both threads.
///
/// ```
/// gencollect::set_parallel_threshold(1 << 17);
/// ```
pub fn set_parallel_threshold(objects: usize) {
    with_state(|s| s.parallel_threshold.set(objects));
}

/// How many count passes on this thread a helper thread took part in and counted something
/// ([`set_parallel`]): tells whether large collections really use the second core.
///
/// ```
/// let before = gencollect::split_passes();
/// gencollect::collect();
/// assert!(gencollect::split_passes() >= before);
/// ```
pub fn split_passes() -> usize {
    with_state(|s| s.split_passes.get()).unwrap_or(0)
}

/// Whether full collections analyse every tracked object ([`set_full_scan`]).
///
/// ```
/// assert!(!gencollect::get_full_scan(), "off by default");
/// ```
pub fn get_full_scan() -> bool {
    with_state(|s| s.full_scan.get()).unwrap_or(true)
}

/// Moves every tracked object into the permanent generation, which collections ignore, and
/// zeroes the counts (for pre-fork servers, as Python's `gc.freeze()`). Does nothing when
/// called while a collection runs (from a `Drop`, finalizer, callback or `Trace` impl).
///
/// ```
/// use std::cell::RefCell;
/// let a = refcount::Gc::new(RefCell::new(Vec::<refcount::Gc<u8>>::new()));
/// gencollect::freeze();
/// assert!(gencollect::get_freeze_count() >= 1);
/// gencollect::unfreeze();
/// assert_eq!(gencollect::get_freeze_count(), 0);
/// # drop(a);
/// ```
pub fn freeze() {
    on_heap(|h| {
        // The collector may be walking generation 2 in place: nothing moves meanwhile.
        if h.collecting() {
            return;
        }
        // SAFETY: no collection is running, so no list is being analysed; moving objects
        // to the permanent generation takes them out of collections (what freezing is),
        // and their counts go with them.
        unsafe {
            for g in 0..3 {
                h.append_list(g, PERMANENT);
                h.set_generation_count(g, 0);
            }
        }
    });
}

/// Moves the permanent generation back into generation 2. Does nothing when called while a
/// collection runs.
pub fn unfreeze() {
    on_heap(|h| {
        if !h.collecting() {
            // Frozen objects were not analysed by the full collections meanwhile: the next
            // one must look at them (see `ObjPtr::is_dirty`).
            for obj in h.list_snapshot(PERMANENT) {
                // SAFETY: objects in a list are alive.
                unsafe { obj.set_dirty() };
            }
            // SAFETY: no collection is running, so no list is being analysed.
            unsafe { h.append_list(PERMANENT, 2) };
        }
    });
}

/// Number of objects in the permanent generation.
pub fn get_freeze_count() -> usize {
    on_heap(|h| h.list_len(PERMANENT))
}

/// Whether the object is tracked by the collector (atomic types never are).
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// assert!(!gencollect::is_tracked(&Gc::new(5)));
/// assert!(gencollect::is_tracked(&Gc::new(RefCell::new(None::<Gc<u8>>))));
/// ```
pub fn is_tracked<T: Trace + 'static>(gc: &Gc<T>) -> bool {
    // SAFETY: the handle holds the memory.
    unsafe { Gc::as_obj(gc).flags() & flags::TRACKED != 0 }
}

/// Whether the object's finalizer has run.
pub fn is_finalized<T: Trace + 'static>(gc: &Gc<T>) -> bool {
    // SAFETY: the handle holds the memory.
    unsafe { Gc::as_obj(gc).flags() & flags::FINALIZED != 0 }
}

/// The generation the object is in: `None` for untracked or frozen objects.
pub fn get_generation<T: Trace + 'static>(gc: &Gc<T>) -> Option<usize> {
    // SAFETY: the handle holds the memory.
    let f = unsafe { Gc::as_obj(gc).flags() };
    let list = (f & flags::LIST_MASK) as usize;
    (f & flags::TRACKED != 0 && list <= 2).then_some(list)
}

/// Every tracked object of one generation, or of all three (frozen objects excluded).
///
/// # Errors
/// [`Error::InvalidGeneration`] for a generation above 2.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
/// let all = gencollect::get_objects(None).unwrap();
/// assert!(all.iter().any(|o| *o == a));
/// assert!(gencollect::get_objects(Some(3)).is_err());
/// ```
pub fn get_objects(generation: Option<usize>) -> Result<Vec<AnyGc>, Error> {
    let lists = match generation {
        Some(g) => {
            check_generation(g)?;
            g..g + 1
        }
        None => 0..3,
    };
    Ok(on_heap(|h| {
        let mut out = Vec::new();
        for l in lists {
            for obj in h.list_snapshot(l) {
                // SAFETY: tracked objects are alive with memory held.
                out.extend(unsafe { any_from_obj(obj) });
            }
        }
        out
    }))
}

/// The objects `gc` holds strong handles to, as its `Trace` implementation reports them.
///
/// ```
/// use refcount::Gc;
/// let a = Gc::new(1u8);
/// let list = Gc::new(vec![a.clone(), a.clone()]);
/// let refs = gencollect::get_referents(&list);
/// assert_eq!(refs.len(), 2);
/// assert!(refs[0] == a);
/// ```
pub fn get_referents<T: Trace + 'static>(gc: &Gc<T>) -> Vec<AnyGc> {
    let mut found = crate::inspect::Collect(Vec::new());
    // The value's referents, not the handle's (a `Gc`'s own trace reports itself).
    if let Some(value) = Gc::try_deref(gc) {
        value.trace(&mut Tracer::new(&mut found));
    }
    found
        .0
        .into_iter()
        // SAFETY: `gc` holds these handles, so their targets are held.
        .filter_map(|obj| unsafe { any_from_obj(obj) })
        .collect()
}

/// The tracked objects (generations 0 to 2) that hold a strong handle to `gc`.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// let a = Gc::new(1u8);
/// let holder = Gc::new(RefCell::new(vec![a.clone()]));
/// let referrers = gencollect::get_referrers(&a);
/// assert_eq!(referrers.len(), 1);
/// assert!(referrers[0] == holder);
/// ```
pub fn get_referrers<T: Trace + 'static>(gc: &Gc<T>) -> Vec<AnyGc> {
    crate::inspect::referrers_among(0..3, &[Gc::as_obj(gc)])
}

/// Sets the debug flags.
///
/// ```
/// use gencollect::DebugFlags;
/// gencollect::set_debug(DebugFlags::SAVEALL);
/// assert_eq!(gencollect::get_debug(), DebugFlags::SAVEALL);
/// gencollect::set_debug(DebugFlags::NONE);
/// ```
pub fn set_debug(flags: DebugFlags) {
    with_state(|s| s.debug.set(flags));
}

/// The debug flags.
pub fn get_debug() -> DebugFlags {
    with_state(|s| s.debug.get()).unwrap_or_default()
}

/// The objects kept by [`DebugFlags::SAVEALL`] (new handles to them).
pub fn garbage() -> Vec<AnyGc> {
    with_state(|s| s.garbage.borrow().clone()).unwrap_or_default()
}

/// Empties [`garbage`] and frees what it held: objects nothing else refers to are freed by
/// refcounting at once, and cycles among them by a collection of just those objects (their
/// finalizers already ran and do not run again).
///
/// ```
/// use std::cell::RefCell;
/// use refcount::Gc;
/// #[derive(gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct Node(RefCell<Option<Gc<Node>>>);
/// gencollect::set_debug(gencollect::DebugFlags::SAVEALL);
/// let a = Gc::new(Node(RefCell::new(None)));
/// *a.0.borrow_mut() = Some(a.clone());
/// let weak = Gc::downgrade(&a);
/// drop(a);
/// assert_eq!(gencollect::collect(), 1);
/// assert_eq!(gencollect::garbage().len(), 1);
/// gencollect::set_debug(gencollect::DebugFlags::NONE);
/// gencollect::clear_garbage();
/// assert!(gencollect::garbage().is_empty());
/// assert_eq!(weak.strong_count(), 0);
/// ```
pub fn clear_garbage() {
    let Some(taken) = with_state(|s| core::mem::take(&mut *s.garbage.borrow_mut())) else {
        return;
    };
    on_heap(|h| {
        if h.collecting() {
            drop(taken);
            return;
        }
        let _running = collector::running(h);
        let _recover = scopeguard::guard_on_unwind((), |()| collector::recover(h));
        for any in &taken {
            let obj = any.as_obj();
            // SAFETY: `any` holds the object; tracked objects move to the working list.
            unsafe {
                if obj.flags() & flags::TRACKED != 0 {
                    h.move_to(obj, YOUNG);
                }
            }
        }
        drop(taken);
        let debug = get_debug();
        let mut panics = FirstPanic::default();
        let verdict =
            collector::analyse_guarded(h, &[YOUNG], UNREACHABLE, false, (false, None), &mut panics);
        // SAFETY: the analysis is over; what is left in the working list survived it.
        unsafe { h.append_list(YOUNG, 2) };
        match verdict.map(|(v, _)| v) {
            Some(collector::Verdict::Moved(found)) => {
                collector::process_unreachable(h, 2, debug, found, &mut panics);
            }
            Some(collector::Verdict::Doomed(..)) => unreachable!("not asked for"),
            None => {}
        }
        panics.resume();
    });
}

/// Stops the object's finalizer from running (.NET's `GC.SuppressFinalize`).
///
/// ```
/// use std::cell::Cell;
/// use refcount::{Finalize, Gc};
/// thread_local!(static RUNS: Cell<u32> = const { Cell::new(0) });
/// #[derive(gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct F;
/// impl Finalize for F {
///     fn finalize(&self) { RUNS.with(|r| r.set(r.get() + 1)) }
/// }
/// let f = Gc::new_with_finalizer(F);
/// gencollect::suppress_finalize(&f);
/// drop(f);
/// assert_eq!(RUNS.with(|r| r.get()), 0);
/// ```
pub fn suppress_finalize<T: Trace + 'static>(gc: &Gc<T>) {
    // SAFETY: the handle holds the memory.
    unsafe { Gc::as_obj(gc).set_flags(flags::NO_FINALIZE) }
}

/// Makes the object's finalizer run (again) on its next death, even if it already ran or was
/// suppressed (.NET's `GC.ReRegisterForFinalize`).
pub fn reregister_for_finalize<T: Trace + 'static>(gc: &Gc<T>) {
    // SAFETY: the handle holds the memory.
    unsafe { Gc::as_obj(gc).clear_flags(flags::NO_FINALIZE | flags::FINALIZED) }
}

/// Registers a callback, called with [`Phase::Start`] before and [`Phase::Stop`] after
/// every collection (automatic or manual). A panic in a callback is reported through the
/// unraisable hook and the other callbacks still run. As in CPython, callbacks run while the
/// collection still counts as running: no collection starts from inside one (an allocation
/// starts none, and [`collect`] returns 0).
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// let calls = Rc::new(Cell::new(0));
/// let c = calls.clone();
/// let handle = gencollect::register_callback(move |_phase, _info| c.set(c.get() + 1));
/// gencollect::collect();
/// assert!(gencollect::unregister_callback(handle));
/// gencollect::collect();
/// assert_eq!(calls.get(), 2);
/// ```
pub fn register_callback(f: impl Fn(Phase, &CollectionInfo) + 'static) -> CallbackHandle {
    // During thread teardown, after the collector's state was destroyed, there is nothing to
    // call back: the handle returned unregisters nothing.
    with_state(|s| s.callbacks.register(std::rc::Rc::new(f))).unwrap_or(CallbackHandle::NONE)
}

/// Removes a callback. Returns whether it was registered.
pub fn unregister_callback(handle: CallbackHandle) -> bool {
    with_state(|s| s.callbacks.unregister(handle)).unwrap_or(false)
}

/// How many times generation `generation` was collected, counting the collections of older
/// generations too (a full collection collects every generation), as .NET's
/// `GC.CollectionCount`. A generation above 2 was never collected: 0, as .NET answers for
/// one above `MaxGeneration` (no function of this module panics on a generation; those
/// that act on one return [`Error::InvalidGeneration`]).
///
/// ```
/// gencollect::collect();
/// assert!(gencollect::collection_count(2) >= 1);
/// assert_eq!(gencollect::collection_count(3), 0);
/// ```
pub fn collection_count(generation: usize) -> usize {
    if generation > 2 {
        return 0;
    }
    let stats = get_stats();
    stats[generation..].iter().map(|s| s.collections).sum()
}
