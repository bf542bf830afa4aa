//! The collection algorithm: CPython's `gc_collect_main`, on gcrt's heap lists.
//!
//! 1. Merge generations `0..=N` into the working list `YOUNG`.
//! 2. *update_refs*: copy every object's strong count into a scratch array.
//! 3. *subtract_refs*: trace every object; each reference found to an object of the set
//!    is subtracted from the target's copy. What is left counts references from outside.
//! 4. *mark*: every object with references from outside is reachable, and so is everything
//!    reachable from it (an explicit work list, no recursion).
//! 5. The rest is garbage: it is marked doomed (weak upgrades fail from then on) and moved
//!    to the `UNREACHABLE` list; survivors move one generation up.
//! 6. *delete*: the garbage values are dropped in place one by one; dropping a value
//!    releases its handles, so refcounting frees the rest of the cycle.
//!
//! Steps 2 to 5 run with frees deferred, so nothing in the lists can be freed while the
//! collector walks them, whatever `Trace` code does.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;

use refcount::{Heap, ObjPtr, SCRATCH, Tracer, UNREACHABLE, Visitor, YOUNG, flags};

use crate::callbacks::{CollectionInfo, Phase, Reason};
use crate::stats::{DebugFlags, with_state};

/// What one collection found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub(crate) collected: usize,
    pub(crate) uncollectable: usize,
    pub(crate) candidates: usize,
}

/// Clears the collector's "running" mark on every exit path.
pub(crate) struct Running<'a>(&'a Heap);

impl<'a> Running<'a> {
    /// Marks a collection as running until the guard drops.
    pub(crate) fn start(heap: &'a Heap) -> Running<'a> {
        heap.set_collecting(true);
        Running(heap)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set_collecting(false);
    }
}

/// Collects `generation` (and all younger ones). Returns the number of unreachable objects
/// found, or 0 without doing anything if a collection is already running.
pub(crate) fn collect(heap: &Heap, generation: usize, reason: Reason) -> usize {
    if heap.collecting() {
        return 0;
    }
    let running = Running::start(heap);
    let start = Instant::now();
    let span = tracing::info_span!(
        target: "gcrt::gc",
        "collect",
        generation,
        reason = reason.as_str(),
        candidates = tracing::field::Empty,
        collected = tracing::field::Empty,
        uncollectable = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    );
    let _enter = span.enter();
    let debug = with_state(|s| s.debug.get()).unwrap_or_default();
    let has_callbacks = with_state(|s| !s.callbacks.is_empty()).unwrap_or(false);
    let mut info = CollectionInfo {
        generation,
        collected: 0,
        uncollectable: 0,
        candidates: 0,
        duration: core::time::Duration::ZERO,
        reason,
    };
    if has_callbacks {
        with_state(|s| s.callbacks.invoke(Phase::Start, &info));
    }
    if debug.contains(DebugFlags::STATS) {
        let sizes: Vec<usize> = (0..4).map(|l| heap.list_len(l)).collect();
        debug_line(format_args!("collecting generation {generation}..."));
        debug_line(format_args!(
            "objects in each generation: {} {} {}",
            sizes[0], sizes[1], sizes[2]
        ));
        debug_line(format_args!(
            "objects in permanent generation: {}",
            sizes[3]
        ));
    }

    let (outcome, panic) = run(heap, generation, debug);

    let duration = start.elapsed();
    with_state(|s| {
        let mut stats = s.stats.borrow_mut();
        let g = &mut stats[generation];
        g.collections += 1;
        g.collected += outcome.collected;
        g.uncollectable += outcome.uncollectable;
        g.candidates += outcome.candidates;
        g.duration += duration;
    });
    span.record("candidates", outcome.candidates);
    span.record("collected", outcome.collected);
    span.record("uncollectable", outcome.uncollectable);
    span.record("duration_us", duration.as_micros() as u64);
    if debug.contains(DebugFlags::STATS) {
        debug_line(format_args!(
            "done, {} unreachable, {} uncollectable, {:.4}s elapsed",
            outcome.collected + outcome.uncollectable,
            outcome.uncollectable,
            duration.as_secs_f64()
        ));
    }
    drop(running);
    if has_callbacks {
        info.collected = outcome.collected;
        info.uncollectable = outcome.uncollectable;
        info.candidates = outcome.candidates;
        info.duration = duration;
        with_state(|s| s.callbacks.invoke(Phase::Stop, &info));
    }
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    outcome.collected + outcome.uncollectable
}

pub(crate) fn debug_line(args: core::fmt::Arguments<'_>) {
    tracing::info!(target: "gcrt::gc::debug", "gc: {}", args);
    eprintln!("gc: {args}");
}

pub(crate) type Payload = Box<dyn core::any::Any + Send>;

/// The collection proper. Returns what it found and the first panic raised by user code,
/// to be resumed once the heap is consistent again.
fn run(heap: &Heap, generation: usize, debug: DebugFlags) -> (Outcome, Option<Payload>) {
    if generation < 2 {
        heap.set_count(generation + 1, heap.count(generation + 1) + 1);
    }
    for g in 0..=generation {
        heap.set_count(g, 0);
    }
    // A full collection analyses generation 2 where it is (the younger generations joined
    // to it): moving a large old generation to the working list and back would cost two extra
    // passes over memory. Younger collections use the working list, so that objects allocated
    // while the collector runs (in generation 0) stay out of the analysed set.
    let work = if generation == 2 {
        heap.append_list(0, 2);
        heap.append_list(1, 2);
        2
    } else {
        for g in 0..=generation {
            heap.append_list(g, YOUNG);
        }
        YOUNG
    };
    let old = if generation == 2 { 2 } else { generation + 1 };
    let candidates = heap.list_len(work);
    let mut outcome = Outcome {
        candidates,
        ..Outcome::default()
    };

    let found = match analyse_guarded(heap, work, UNREACHABLE) {
        Ok(Some(found)) => found,
        Ok(None) => {
            // Aborted: an inconsistent trace was detected. Nothing is freed.
            heap.append_list(work, old);
            return (outcome, None);
        }
        Err(payload) => {
            heap.append_list(work, old);
            return (outcome, Some(payload));
        }
    };

    let survivors = heap.list_len(work);
    with_state(|s| {
        if generation == 1 {
            s.long_lived_pending
                .set(s.long_lived_pending.get() + survivors);
        } else if generation == 2 {
            s.long_lived_total.set(survivors);
            s.long_lived_pending.set(0);
        }
    });
    heap.append_list(work, old);
    let (collected, panic) = process_unreachable(heap, old, debug, found);
    outcome.collected = collected;
    (outcome, panic)
}

/// Runs [`analyse`] with frees deferred, catching a panic from a `Trace` implementation (the
/// objects are then left in `from` with clean flags).
pub(crate) fn analyse_guarded(
    heap: &Heap,
    from: usize,
    to: usize,
) -> Result<Option<Found>, Payload> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        heap.defer_frees(|| {
            let candidates = heap.list_len(from);
            let _span = tracing::debug_span!(target: "gcrt::gc", "analyse", candidates).entered();
            // SAFETY: every object in `from` is tracked, so alive with memory held; frees
            // are deferred for the whole analysis, so none of them can be freed meanwhile.
            unsafe { analyse(heap, from, to) }
        })
    }));
    if result.is_err() {
        // SAFETY: the objects are tracked (alive, memory held).
        unsafe {
            clear_scratch(heap, from);
            clear_scratch(heap, to);
        }
        heap.append_list(to, from);
        heap.renumber(from);
    }
    result
}

/// Steps 6 on: everything in `UNREACHABLE` was found unreachable (and is `WEAK_CLEARED`, so
/// weak upgrades already fail). Runs weak-reference callbacks and finalizers, moves
/// resurrected objects to `old`, then frees the rest (or saves it, with `SAVEALL`). Returns
/// the number of objects collected and the first panic to resume.
pub(crate) fn process_unreachable(
    heap: &Heap,
    old: usize,
    debug: DebugFlags,
    found: Found,
) -> (usize, Option<Payload>) {
    if debug.contains(DebugFlags::COLLECTABLE) {
        for obj in heap.list_snapshot(UNREACHABLE) {
            // SAFETY: objects in a list are alive.
            let name = unsafe { obj.type_name() };
            debug_line(format_args!("collectable <{} {:#x}>", name, obj.addr()));
        }
    }

    if found.finalization
        && let Err(payload) = finalize(heap, old)
    {
        return (0, payload);
    }
    let collected = heap.list_len(UNREACHABLE);

    if debug.contains(DebugFlags::SAVEALL) {
        // Keep the garbage alive in `garbage()` instead of freeing it.
        let saved: Vec<refcount::AnyGc> = heap
            .list_snapshot(UNREACHABLE)
            .into_iter()
            // SAFETY: objects in a list are alive; the handle adds a reference.
            .filter_map(|obj| unsafe { refcount::AnyGc::from_obj(obj) })
            .collect();
        revive(heap, UNREACHABLE, old);
        with_state(|s| s.garbage.borrow_mut().extend(saved));
        return (collected, None);
    }

    let _span = tracing::debug_span!(target: "gcrt::gc", "delete", collected).entered();
    (collected, delete_garbage(heap))
}

/// Weak-reference callbacks, finalizers and resurrection (steps 6 to 8). Returns `Err` when
/// the collection must stop here (everything left was moved to `old`), with the panic to
/// resume if there is one.
fn finalize(heap: &Heap, old: usize) -> Result<(), Option<Payload>> {
    // Weak-reference callbacks (CPython's handle_weakrefs): the references were cleared when
    // the objects were found unreachable; a callback runs only if its weak-reference object
    // is not itself garbage. All are gathered before any runs.
    let mut callbacks = Vec::new();
    let mut finalizers_due = false;
    for obj in heap.list_snapshot(UNREACHABLE) {
        // SAFETY: objects in a list are alive; no user code runs in this loop (dropping an
        // entry of a doomed weak reference only releases a weak count).
        unsafe {
            if obj.flags() & flags::HAS_WEAKREF_CB != 0 {
                for entry in heap.take_weakref_callbacks(obj) {
                    if entry.is_live() {
                        callbacks.push(entry);
                    }
                }
            }
            finalizers_due |= obj.finalizer_due();
        }
    }
    for entry in callbacks {
        entry.fire();
    }
    if !finalizers_due {
        return Ok(());
    }

    let _span = tracing::debug_span!(target: "gcrt::gc", "finalize").entered();
    // PEP 442: every due finalizer runs once, before anything is dropped. Objects move to
    // SCRATCH as they are visited; a finalizer may free others (they leave the lists).
    while let Some(obj) = last(heap, UNREACHABLE) {
        // SAFETY: tracked, so alive with memory held and a non-zero count.
        unsafe {
            heap.move_to(obj, SCRATCH);
            obj.run_finalizer();
        }
    }
    heap.append_list(SCRATCH, UNREACHABLE);
    // Resurrection: what a finalizer made reachable again (and everything it reaches)
    // survives; only what is still unreachable is freed.
    match analyse_guarded(heap, UNREACHABLE, SCRATCH) {
        Ok(Some(_)) => {
            revive(heap, UNREACHABLE, old);
            heap.append_list(SCRATCH, UNREACHABLE);
            Ok(())
        }
        Ok(None) => {
            revive(heap, UNREACHABLE, old);
            Err(None)
        }
        Err(payload) => {
            revive(heap, UNREACHABLE, old);
            Err(Some(payload))
        }
    }
}

/// Moves objects that were garbage but live on (resurrected, or saved by `SAVEALL`) to `old`.
/// They are no longer `DOOMED`, so weak references they hold work again; the weak
/// references *to* them stay cleared (`WEAK_CLEARED`), as in CPython.
fn revive(heap: &Heap, list: usize, old: usize) {
    for obj in heap.list_snapshot(list) {
        // SAFETY: objects in a list are alive.
        unsafe { obj.clear_flags(flags::DOOMED) };
    }
    heap.append_list(list, old);
}

fn last(heap: &Heap, list: usize) -> Option<ObjPtr> {
    heap.list_len(list)
        .checked_sub(1)
        .and_then(|i| heap.list_get(list, i))
}

/// Drops the values of the objects in `UNREACHABLE` one at a time. A panicking `Drop` does
/// not stop the others from being freed; the first panic is returned.
fn delete_garbage(heap: &Heap) -> Option<Payload> {
    let mut first_panic = None;
    while let Some(obj) = last(heap, UNREACHABLE) {
        // SAFETY: `obj` is tracked in UNREACHABLE, so its memory is held; the analysis
        // proved no reference from outside the garbage reaches it, so no `&T` into it is
        // alive. `drop_value_in_place` untracks it before running user code.
        let result = catch_unwind(AssertUnwindSafe(|| unsafe { obj.drop_value_in_place() }));
        // SAFETY: memory still held or already untracked; untracking is idempotent. This
        // guarantees progress even for an object whose value was not alive.
        unsafe {
            if heap.list_get(UNREACHABLE, heap.list_len(UNREACHABLE).wrapping_sub(1)) == Some(obj) {
                heap.untrack(obj);
            }
        }
        if let Err(payload) = result {
            if first_panic.is_none() {
                first_panic = Some(payload);
            } else {
                refcount::report_unraisable("dropping garbage", &payload);
            }
        }
    }
    first_panic
}

/// Clears the collector's scratch flags on every object of a list.
///
/// # Safety
/// Every object of the list is tracked (alive, memory held).
unsafe fn clear_scratch(heap: &Heap, list: usize) {
    for obj in heap.list_snapshot(list) {
        // SAFETY: per the caller.
        unsafe { obj.clear_flags(flags::COLLECTING | flags::REACHABLE | flags::OPAQUE) };
    }
}

/// Subtracts the references found inside the collected set from the targets' scratch counts.
struct Subtract {
    opaque: bool,
    underflow: bool,
}

impl Visitor for Subtract {
    #[inline]
    fn visit(&mut self, obj: ObjPtr) {
        // SAFETY: a reported handle is owned by a live object, so its target is held; a
        // target flagged COLLECTING is in the analysed list, whose index field is scratch.
        unsafe {
            if obj.flags() & flags::COLLECTING != 0 {
                let r = obj.index() as u32;
                if r == 0 {
                    self.underflow = true;
                } else {
                    obj.set_index(r - 1);
                }
            }
        }
    }

    fn opaque(&mut self) {
        self.opaque = true;
    }
}

/// Propagates reachability from the objects referenced from outside.
struct Mark<'a> {
    stack: &'a mut Vec<ObjPtr>,
    opaque: bool,
}

impl Visitor for Mark<'_> {
    #[inline]
    fn visit(&mut self, obj: ObjPtr) {
        // SAFETY: as in `Subtract::visit`.
        unsafe {
            if obj.flags() & (flags::COLLECTING | flags::REACHABLE) == flags::COLLECTING {
                obj.set_flags(flags::REACHABLE);
                self.stack.push(obj);
            }
        }
    }

    fn opaque(&mut self) {
        self.opaque = true;
    }
}

/// What an analysis found unreachable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    /// How many objects.
    pub(crate) count: usize,
    /// Whether any of them has a due finalizer or weak-reference callbacks, so that the
    /// finalization pass is needed at all (with none, finalization costs nothing).
    pub(crate) finalization: bool,
}

/// Steps 2 to 5 on list `from`: the objects not referenced from outside it are flagged
/// `DOOMED` and `WEAK_CLEARED` and moved to list `to`. Returns what it found, or `None` if
/// the traces were inconsistent (then nothing is moved and the flags are clear).
///
/// # Safety
/// Frees are deferred; every object of `from` is alive.
unsafe fn analyse(heap: &Heap, from: usize, to: usize) -> Option<Found> {
    let young = heap.list_snapshot(from);
    // SAFETY: the objects of `from` are alive and stay in place for the whole analysis (frees
    // deferred, new objects go to generation 0). Their index field holds the scratch count
    // (CPython's `gc_refs`) until `partition` or `abandon` renumbers the list.
    unsafe {
        for &obj in &young {
            let s = obj.strong();
            // A count of 0 means "queued for release": keep it (and what it holds) alive
            // until its destructor runs. Immortal objects are always reachable.
            obj.set_index(if s == 0 {
                1
            } else if s > i32::MAX as u32 {
                u32::MAX
            } else {
                s
            });
            obj.set_flags(flags::COLLECTING);
        }

        let mut sub = Subtract {
            opaque: false,
            underflow: false,
        };
        for &obj in &young {
            obj.trace(&mut Tracer::new(&mut sub));
            if sub.opaque {
                // Could not read this object: count it as referenced from outside.
                sub.opaque = false;
                obj.set_flags(flags::OPAQUE);
                obj.set_index(obj.index().saturating_add(1) as u32);
            }
        }
        if sub.underflow {
            tracing::error!(
                target: "gcrt::gc",
                "a Trace implementation reported more handles than an object's reference \
                 count allows; collection abandoned"
            );
            abandon(heap, from);
            return None;
        }

        // Mark, in list order: each object referenced from outside and not yet reached starts
        // a walk with an explicit stack (no recursion, so any depth is fine).
        let mut stack = Vec::new();
        let mut mark = Mark {
            stack: &mut stack,
            opaque: false,
        };
        for &root in &young {
            if root.flags() & flags::REACHABLE != 0 || root.index() == 0 {
                continue;
            }
            root.set_flags(flags::REACHABLE);
            mark.stack.push(root);
            while let Some(obj) = mark.stack.pop() {
                obj.trace(&mut Tracer::new(&mut mark));
                if mark.opaque {
                    mark.opaque = false;
                    if obj.flags() & flags::OPAQUE == 0 {
                        // Readable when subtracting, unreadable now: the two traces disagree,
                        // so the subtraction cannot be trusted. Keep everything.
                        abandon(heap, from);
                        return None;
                    }
                }
            }
        }

        let mut found = Found {
            count: 0,
            finalization: false,
        };
        heap.partition(from, to, |obj| {
            let f = obj.flags();
            obj.clear_flags(flags::COLLECTING | flags::REACHABLE | flags::OPAQUE);
            let garbage = f & flags::REACHABLE == 0;
            if garbage {
                obj.set_flags(flags::DOOMED | flags::WEAK_CLEARED);
                found.count += 1;
                found.finalization |= f & (flags::HAS_WEAKREF_CB | flags::HAS_FINALIZER) != 0;
            }
            garbage
        });
        Some(found)
    }
}

/// Gives up an analysis: clears the scratch flags and restores the indices of list `from`.
///
/// # Safety
/// Every object of the list is tracked (alive, memory held).
unsafe fn abandon(heap: &Heap, from: usize) {
    // SAFETY: per the caller.
    unsafe { clear_scratch(heap, from) };
    heap.renumber(from);
}
