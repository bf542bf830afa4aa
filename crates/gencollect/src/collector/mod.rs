//! The collection algorithm: CPython's `gc_collect_main`, on gcrt's heap lists.
//!
//! 1. Generations `0..=N` are analysed where they are, as one set: each object of the set
//!    is identified by its position (its list's offset in the set plus its index).
//! 2. *count* (CPython's update_refs and subtract_refs in one pass): each object's strong count is added to a side table
//!    and every reference found by tracing it to an object of the set is subtracted from the
//!    target's entry, and recorded as an edge. What is left counts references from outside.
//! 3. *mark*: every object with references from outside is reachable, and so is everything
//!    reachable from it along the recorded edges (an explicit work list, no recursion). This
//!    pass reads only the side tables, never the objects.
//! 4. The rest is garbage. Without finalizers or weak-reference callbacks among it, it leaves
//!    the lists at once (`Heap::doom`) and its values are dropped in place one by one
//!    (`Heap::drop_doomed`); dropping a value releases its handles, so refcounting frees the
//!    rest. Otherwise it moves to the `UNREACHABLE` list for the finalization steps.
//!
//! Steps 2 and 3 run with frees deferred, so nothing in the lists can be freed or move while
//! the collector walks them, whatever `Trace` code does; each object is traced once.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;

use refcount::engine::{
    EdgeCounter, Heap, NOT_COUNTED, ObjectOps, PREFETCH_AHEAD, PassTables, SCRATCH, SetLayout,
    UNREACHABLE, flags,
};
use refcount::{ObjPtr, Tracer, Visitor};

use crate::callbacks::{CollectionInfo, Phase, Reason};
use crate::parallel::{self, PartBuffers};
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
        // SAFETY: the collection the guard stands for runs on this thread until it drops.
        unsafe { heap.set_collecting(true) };
        Running(heap)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        // SAFETY: the collection is over (or unwinding out of it).
        unsafe { self.0.set_collecting(false) };
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
    // CPython's bookkeeping: a collection of generation N counts one in N + 1 and zeroes
    // the counts it collects.
    if generation < 2 {
        let next = heap.generation_count(generation + 1) + 1;
        // SAFETY: the collector's bookkeeping, as above.
        unsafe { heap.set_generation_count(generation + 1, next) };
    }
    for g in 0..=generation {
        // SAFETY: the collector's bookkeeping, as above.
        unsafe { heap.set_generation_count(g, 0) };
    }
    // The generations are analysed where they are, oldest first: moving a large generation
    // to a working list and back would cost two extra passes over memory.
    let lists: Vec<usize> = (0..=generation).rev().collect();
    let old = if generation == 2 { 2 } else { generation + 1 };
    let candidates = lists.iter().map(|&l| heap.list_len(l)).sum();
    let mut outcome = Outcome {
        candidates,
        ..Outcome::default()
    };
    let promote = || {
        for g in 0..=generation {
            // SAFETY: called once the analysis is over (or was abandoned): survivors move
            // to the next generation.
            unsafe { heap.append_list(g, old) };
        }
    };

    let fast = !debug.contains(DebugFlags::SAVEALL) && !debug.contains(DebugFlags::COLLECTABLE);
    // A full collection analyses only what dirty objects reach, unless told to scan all.
    let restrict = generation == 2 && !with_state(|s| s.full_scan.get()).unwrap_or(true);
    let (verdict, panic) = analyse_guarded(heap, &lists, UNREACHABLE, fast, restrict);
    let Some((verdict, analysed)) = verdict else {
        // Abandoned (an inconsistent trace) or a `Trace` impl panicked: nothing is freed,
        // and nothing was made clean (that happens only once the analysis is complete).
        promote();
        return (outcome, panic);
    };
    outcome.candidates = analysed;

    let survivors: usize = lists.iter().map(|&l| heap.list_len(l)).sum();
    with_state(|s| {
        if generation == 1 {
            s.long_lived_pending
                .set(s.long_lived_pending.get() + survivors);
        } else if generation == 2 {
            s.long_lived_total.set(survivors);
            s.long_lived_pending.set(0);
        }
    });
    promote();
    let (collected, later) = match verdict {
        Verdict::Doomed(graph, collected) => {
            let _span = tracing::debug_span!(target: "gcrt::gc", "delete", collected).entered();
            // SAFETY: `doom` set these objects apart, each once. No other analysis can use
            // the buffers meanwhile: collections never nest.
            let panic = unsafe { heap.drop_doomed(&graph.garbage) };
            graph.put_back();
            (collected, panic)
        }
        Verdict::Moved(found) => process_unreachable(heap, old, debug, found),
    };
    outcome.collected = collected;
    (outcome, first_panic(panic, later))
}

/// What an analysis did with the garbage it found.
// Moved once per collection: a box would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict {
    /// Moved to the `to` list (flagged `DOOMED` and `WEAK_CLEARED`), for the finalization
    /// steps; possibly none.
    Moved(Found),
    /// Set apart by [`Heap::doom`] into the graph's `garbage` buffer: no finalizer or
    /// weak-reference callback is due among it, so it only needs dropping. With the number
    /// of objects found unreachable (those whose release a `Trace` impl queued during the
    /// analysis are freed by that release, not set apart).
    Doomed(Graph, usize),
}

/// Runs [`analyse`] with frees deferred. Returns its verdict and the number of objects it
/// analysed, `None` if the analysis was abandoned or a `Trace` impl panicked (the objects
/// are then left in their lists, untouched), and the panic to resume once the collection is complete: from a `Trace` impl,
/// or from a destructor that the deferred frees ran after the analysis (the verdict stands
/// then, and the collection goes on). With `fast`, garbage that needs no finalization is set
/// apart for dropping instead of moved to `to`.
pub(crate) fn analyse_guarded(
    heap: &Heap,
    from: &[usize],
    to: usize,
    fast: bool,
    restrict: bool,
) -> (Option<(Verdict, usize)>, Option<Payload>) {
    let graph = Graph::take();
    // SAFETY: this analysis identifies the objects of `from` by position until it clears
    // the mark, on every path (unwinding included: `result` is caught below).
    unsafe { heap.set_analysing(from) };
    let mut verdict = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        heap.defer_frees(|| {
            let candidates: usize = from.iter().map(|&l| heap.list_len(l)).sum();
            let _span = tracing::debug_span!(target: "gcrt::gc", "analyse", candidates).entered();
            // SAFETY: every object in `from` is tracked, so alive with memory held; frees
            // are deferred for the whole analysis, so none of them can be freed meanwhile.
            verdict = unsafe { analyse(heap, from, to, fast, restrict, graph) };
            // The lists have their final shape: the deferred frees, which run next, may
            // take objects out of them.
            // SAFETY: the analysis no longer uses positions.
            unsafe { heap.set_analysing(&[]) };
        })
    }));
    // SAFETY: the analysis is over, whichever way it ended.
    unsafe { heap.set_analysing(&[]) };
    (verdict, result.err())
}

/// The first of two panics; the second is reported through the unraisable hook.
pub(crate) fn first_panic(first: Option<Payload>, second: Option<Payload>) -> Option<Payload> {
    match (first, second) {
        (Some(a), Some(b)) => {
            refcount::report_unraisable("a collection", &b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
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

    let mut pending = None;
    if found.finalization {
        match finalize(heap, old) {
            Ok(panic) => pending = panic,
            Err(panic) => return (0, panic),
        }
    }
    let collected = heap.list_len(UNREACHABLE);

    if debug.contains(DebugFlags::SAVEALL) {
        // Keep the garbage alive in `garbage()` instead of freeing it.
        let saved: Vec<refcount::AnyGc> = heap
            .list_snapshot(UNREACHABLE)
            .into_iter()
            // SAFETY: objects in a list are alive; the handle adds a reference.
            .filter_map(|obj| unsafe { refcount::engine::any_from_obj(obj) })
            .collect();
        revive(heap, UNREACHABLE, old);
        with_state(|s| s.garbage.borrow_mut().extend(saved));
        return (collected, pending);
    }

    let _span = tracing::debug_span!(target: "gcrt::gc", "delete", collected).entered();
    (collected, first_panic(pending, delete_garbage(heap)))
}

/// Weak-reference callbacks, finalizers and resurrection (steps 6 to 8). Returns `Err` when
/// the collection must stop here (everything left was moved to `old`), with the panic to
/// resume if there is one; `Ok` with a panic to resume after the rest of the collection.
fn finalize(heap: &Heap, old: usize) -> Result<Option<Payload>, Option<Payload>> {
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
        return Ok(None);
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
    // SAFETY: no analysis is running; these are the objects found unreachable, back in
    // their working list.
    unsafe { heap.append_list(SCRATCH, UNREACHABLE) };
    // Resurrection: what a finalizer made reachable again (and everything it reaches)
    // survives; only what is still unreachable is freed.
    let (verdict, panic) = analyse_guarded(heap, &[UNREACHABLE], SCRATCH, false, false);
    revive(heap, UNREACHABLE, old);
    match verdict {
        Some(_) => {
            // SAFETY: the analysis is over; what it found still unreachable is garbage.
            unsafe { heap.append_list(SCRATCH, UNREACHABLE) };
            Ok(panic)
        }
        None => Err(panic),
    }
}

/// Moves objects that were garbage but live on (resurrected, or saved by `SAVEALL`) to `old`.
/// They are no longer `DOOMED`, so weak references they hold work again; the weak
/// references *to* them stay cleared (`WEAK_CLEARED`), as in CPython.
fn revive(heap: &Heap, list: usize, old: usize) {
    for obj in heap.list_snapshot(list) {
        // SAFETY: objects in a list are alive. Not proved reachable: dirty, so the next full
        // collection analyses them again.
        unsafe {
            obj.clear_flags(flags::DOOMED);
            obj.set_dirty();
        }
    }
    // SAFETY: no analysis is running; these objects live on in an ordinary generation.
    unsafe { heap.append_list(list, old) };
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

/// The collector's side tables for one analysis, indexed by position in the analysed list.
/// Kept per thread between collections so that a collection allocates nothing once they
/// have grown to the heap's size.
#[derive(Default)]
pub(crate) struct Graph {
    /// Strong count minus references found inside the set; [`REACHED`] once marked.
    refs: Vec<i32>,
    /// Edges of object `i`: `edges[start[i]..start[i + 1]]`, as positions (before
    /// `tail_from`: see [`EdgeTables`]).
    start: Vec<u32>,
    edges: Vec<u32>,
    /// Objects that count as referenced from outside whatever their count says: queued for
    /// release (count 0), immortal, or unreadable (a mutably borrowed `RefCell`).
    pinned: Vec<u32>,
    /// Objects with a finalizer or weak-reference callbacks.
    special: Vec<u32>,
    /// Held objects (see [`HOLD_LIST`]) with weak references.
    weakly: Vec<u32>,
    /// How many objects of [`HOLD_LIST`] the count pass held (the first ones of the list).
    held: usize,
    /// The marking work list.
    stack: Vec<u32>,
    /// The garbage set apart by [`Heap::doom`].
    garbage: Vec<ObjPtr>,
    /// Full collections: for each position of the set, [`NOT_COUNTED`], or its entry in
    /// the side tables when [`select`] chose it (`marked` lists those positions, in order
    /// once numbered). All [`NOT_COUNTED`] between collections: only the entries set are
    /// reset, so a large set with a few chosen objects costs tables of their size.
    slot: Vec<u32>,
    marked: Vec<u32>,
    /// The size of the set the last [`select`] saw (what `slot` must cover).
    selected_from: usize,
    /// The helper thread's tables, when the count pass is split; after a pass whose helper
    /// counted the set from `tail_from` to its end, the edges and `start` table of those
    /// positions ([`EdgeCounter::absorb_last`]).
    part: PartBuffers,
    /// The first position whose edges are in `part` (`None`: all are in `edges`).
    tail_from: Option<usize>,
}

/// Marks an entry of [`Graph::refs`] as reached (counts are never negative after a
/// consistent count pass).
const REACHED: i32 = i32::MIN;

/// Above this many entries, a buffer more than eight times larger than the last analysis
/// needed is given back to the allocator.
const KEEP_ENTRIES: usize = 1 << 20;

thread_local! {
    static GRAPH: core::cell::Cell<Graph> = core::cell::Cell::new(Graph::default());
}

impl Graph {
    /// The thread's buffers (fresh ones if they are in use or gone).
    fn take() -> Graph {
        GRAPH.try_with(|g| g.take()).unwrap_or_default()
    }

    /// Returns the buffers, the garbage emptied, for the next analysis.
    fn put_back(mut self) {
        for &p in &self.marked {
            self.slot[p as usize] = NOT_COUNTED;
        }
        self.marked.clear();
        // Nothing is held between analyses (an analysis that counts nothing reads it too).
        self.held = 0;
        self.tail_from = None;
        let n = self.refs.len();
        trim(&mut self.refs, n);
        trim(&mut self.start, n);
        trim(&mut self.edges, n);
        trim(&mut self.stack, n);
        // Emptied, not just shrunk: `select` refills it with `NOT_COUNTED` as it grows.
        trim(&mut self.slot, self.selected_from);
        trim(&mut self.marked, n);
        trim(&mut self.part.refs, n / 2);
        trim(&mut self.part.edges, n / 2);
        trim(&mut self.part.tables.start, n / 2);
        let garbage = self.garbage.len();
        self.garbage.clear();
        trim(&mut self.garbage, garbage);
        let _ = GRAPH.try_with(|g| g.set(self));
    }
}

/// Gives back most of a buffer that is far larger than the last use needed.
fn trim<T>(v: &mut Vec<T>, used: usize) {
    if v.capacity() > KEEP_ENTRIES && v.capacity() / 8 > used {
        v.clear();
        v.shrink_to(used);
    }
}

/// What an analysis found unreachable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    /// Whether any of them has a due finalizer or weak-reference callbacks, so that the
    /// finalization pass is needed at all (with none, finalization costs nothing).
    pub(crate) finalization: bool,
}

/// Steps 2 to 4 on the lists `from`, as one set. The garbage is set apart by [`Heap::doom`] when `fast` allows
/// it and no object of it has a finalizer or weak-reference callbacks; otherwise it is
/// flagged `DOOMED` and `WEAK_CLEARED` and moved to list `to`. Returns `None` if the traces
/// were inconsistent (then nothing was written to any object).
///
/// # Safety
/// Frees are deferred; every object of `from` is alive.
unsafe fn analyse(
    heap: &Heap,
    from: &[usize],
    to: usize,
    fast: bool,
    restrict: bool,
    mut g: Graph,
) -> Option<(Verdict, usize)> {
    let layout = SetLayout::new(heap, from);
    // With `restrict`, only what dirty objects reach is analysed (`None`: everything).
    let selected = match layout {
        // SAFETY: per the caller.
        Some(layout) if restrict => unsafe { select(heap, from, layout, &mut g) },
        _ => None,
    };
    let analysed = selected.unwrap_or(layout.map_or(0, |l| l.len()));
    if analysed == 0 && layout.is_some() {
        // Nothing dirty: everything in the set was proved reachable and still is.
        g.put_back();
        return Some((
            Verdict::Moved(Found {
                finalization: false,
            }),
            0,
        ));
    }
    let only_selected = selected.is_some();
    if only_selected {
        // Number the selected objects 0..m in set order (the order the mark pass walks).
        g.marked.sort_unstable();
        for (k, &p) in g.marked.iter().enumerate() {
            g.slot[p as usize] = k as u32;
        }
    }
    // A large generation 0 is held by the count pass, so that its garbage can be set apart
    // without a pass over it, as long as the last such generation was mostly garbage: for
    // survivors, holding costs a write in the count pass and a pass to give it back.
    let threshold = with_state(|s| s.hold_threshold.get()).unwrap_or(usize::MAX);
    // (The held list must be the last counted: see `count`.)
    let young_large = !only_selected
        && from.last() == Some(&HOLD_LIST)
        && layout.is_some_and(|l| l.list_len(HOLD_LIST) >= threshold);
    let hold = fast
        && young_large
        && (threshold == 0 || with_state(|s| s.hold_young.get()).unwrap_or(false));
    // A large set is counted by two threads, when the machine has two cores.
    let parallel = !only_selected
        && layout.is_some_and(|l| {
            l.len() >= with_state(|s| s.parallel_threshold.get()).unwrap_or(usize::MAX)
        })
        && with_state(|s| s.parallel.get()).unwrap_or(false)
        && parallel::has_second_core();
    // SAFETY: per the caller.
    let counted = layout.is_some_and(|layout| unsafe {
        if only_selected {
            count_selected(heap, from, layout, &mut g)
        } else {
            count(heap, from, layout, &mut g, hold, parallel)
        }
    });
    let reached = if counted { mark(&mut g) } else { None };
    let (Some(layout), Some(reached)) = (layout, reached) else {
        tracing::error!(
            target: "gcrt::gc",
            "a Trace implementation reported more handles than an object's reference \
             count allows; collection abandoned"
        );
        // SAFETY: per the caller; the first `g.held` objects of the list are held.
        unsafe { heap.unhold(HOLD_LIST, g.held, |_| false) };
        g.put_back();
        return None;
    };
    // The object behind entry `k` of the side tables.
    let entry_object = |g: &Graph, k: usize| {
        let p = if only_selected {
            g.marked[k] as usize
        } else {
            k
        };
        object_at(heap, from, layout, p)
    };
    if restrict {
        // The analysed survivors are proved reachable: clean. Only their headers are
        // read, and only dirty ones written; garbage is not touched.
        if only_selected {
            for k in 0..g.refs.len() {
                if g.refs[k] == REACHED
                    && let Some(obj) = entry_object(&g, k)
                {
                    // SAFETY: objects of the analysed lists are alive (frees are deferred).
                    unsafe { obj.clear_dirty() };
                }
            }
        } else {
            // In list order, stopping after the last survivor (none, often).
            let mut survivors = reached;
            let mut p = 0;
            'clean: for &l in from {
                // SAFETY: per the caller; no user code runs while the slice is used.
                let list = unsafe { heap.list_slice(l) };
                for (k, &obj) in list[..layout.list_len(l)].iter().enumerate() {
                    if survivors == 0 {
                        break 'clean;
                    }
                    if g.refs[p] == REACHED {
                        if g.refs.get(p + PREFETCH_AHEAD) == Some(&REACHED)
                            && let Some(ahead) = list.get(k + PREFETCH_AHEAD)
                        {
                            ahead.prefetch();
                        }
                        // SAFETY: an object of the list is alive.
                        unsafe { obj.clear_dirty() };
                        survivors -= 1;
                    }
                    p += 1;
                }
            }
        }
        // Objects counted as referenced from outside whatever their count says (a mutably
        // borrowed `RefCell` among them) were not proved reachable: they stay dirty, so
        // the next full collection looks at them, and at what they hold, again.
        for &k in &g.pinned {
            if let Some(obj) = entry_object(&g, k as usize) {
                // SAFETY: objects of the analysed lists are alive (frees are deferred).
                unsafe {
                    if obj.strong() != 0 {
                        obj.set_dirty();
                    }
                }
            }
        }
    }
    let garbage = g.refs.len() - reached;
    let finalization = g.special.iter().any(|&i| g.refs[i as usize] != REACHED);
    // Held garbage is set apart as it is only if nothing can still reach it but handles
    // (no weak references): otherwise every held reference is given back, and the garbage
    // takes the path it would have taken unheld.
    let lazy = g.held != 0
        && fast
        && !finalization
        && garbage != 0
        && !g.weakly.iter().any(|&i| g.refs[i as usize] != REACHED);
    // Whether every held object is garbage (then its list moves whole).
    let mut all_held_garbage = false;
    if g.held != 0 {
        let range = layout.range(HOLD_LIST);
        let refs = &g.refs[..];
        let survivors = if reached == 0 {
            0
        } else {
            refs[range.clone()]
                .iter()
                .filter(|&&r| r == REACHED)
                .count()
        };
        all_held_garbage = lazy && survivors == 0;
        // SAFETY: per the caller; the first `g.held` objects of the list are held, and
        // still in place (nothing left the lists yet).
        unsafe {
            if !lazy {
                heap.unhold(HOLD_LIST, g.held, |_| false);
            } else if survivors != 0 {
                // Only the survivors' references: the garbage keeps its own until dropped.
                heap.unhold(HOLD_LIST, g.held, |i| refs[range.start + i] != REACHED);
            }
        }
    }
    if fast && !finalization {
        let mut young_garbage = 0;
        if garbage != 0 {
            let mut out = core::mem::take(&mut g.garbage);
            out.reserve(garbage);
            let sparse = garbage * 4 < layout.len();
            for &l in from {
                let (refs, slot) = (&g.refs[..], &g.slot[..]);
                let range = layout.range(l);
                let before = out.len();
                // SAFETY: the objects of the lists are alive and tracked; the predicates run
                // no user code. `run` drops every object set apart, once.
                unsafe {
                    if only_selected {
                        heap.doom(l, selected_garbage(refs, slot, range), sparse, &mut out);
                    } else if lazy && l == HOLD_LIST {
                        let all = all_held_garbage;
                        heap.doom_held(l, g.held, all, set_garbage(&refs[range]), &mut out);
                    } else {
                        heap.doom(l, set_garbage(&refs[range]), sparse, &mut out);
                    }
                }
                if l == HOLD_LIST {
                    young_garbage = out.len() - before;
                }
            }
            g.garbage = out;
        }
        if young_large {
            let mostly = young_garbage * 2 >= layout.list_len(HOLD_LIST);
            with_state(|s| s.hold_young.set(mostly));
        }
        return Some((Verdict::Doomed(g, garbage), analysed));
    }
    if garbage != 0 {
        for &l in from {
            let (refs, slot) = (&g.refs[..], &g.slot[..]);
            let range = layout.range(l);
            let mark = flags::DOOMED | flags::WEAK_CLEARED;
            // SAFETY: as above; `to` is a working list distinct from the analysed ones.
            unsafe {
                if only_selected {
                    heap.split_off(l, to, selected_garbage(refs, slot, range), mark);
                } else {
                    heap.split_off(l, to, set_garbage(&refs[range]), mark);
                }
            }
        }
    }
    g.put_back();
    Some((Verdict::Moved(Found { finalization }), analysed))
}

/// Whether the object at index `i` of a list is garbage after the mark of the whole set,
/// given the list's part of the count table (objects past it are not garbage).
fn set_garbage(refs: &[i32]) -> impl Fn(usize) -> bool + '_ {
    move |i| refs.get(i).is_some_and(|&r| r != REACHED)
}

/// The same after the mark of the chosen objects, for a list whose positions in the set are
/// `range`.
fn selected_garbage<'a>(
    refs: &'a [i32],
    slot: &'a [u32],
    range: core::ops::Range<usize>,
) -> impl Fn(usize) -> bool + 'a {
    move |i| {
        let p = range.start + i;
        range.contains(&p)
            && slot[p] != NOT_COUNTED
            && refs.get(slot[p] as usize).is_some_and(|&r| r != REACHED)
    }
}

/// Up to this many selected objects, a full collection restricts itself whatever their
/// share of the set (so that small heaps take the same path as large ones).
const MIN_SELECTED: usize = 16;

/// A full collection's shortcut (see [`ObjPtr::is_dirty`]): in safe Rust, an unreachable
/// cycle among objects a full collection proved reachable has a dirty object in it, so
/// only what dirty objects reach needs analysing. Marks those positions in
/// `g.selected` and returns how many there are, or `None` when analysing everything is
/// cheaper (dirty objects are common, or reach a sixty-fourth of the set).
///
/// # Safety
/// Frees are deferred; every object of the lists is alive.
unsafe fn select(heap: &Heap, from: &[usize], layout: SetLayout, g: &mut Graph) -> Option<usize> {
    let n = layout.len();
    let _span = tracing::debug_span!(target: "gcrt::gc", "select", objects = n).entered();
    // All `NOT_COUNTED` between collections: `Graph::put_back` resets only the entries set
    // here, so a set of n objects costs no clearing of n entries. Chosen ones are marked 0
    // for now; `analyse` numbers them.
    let mut selected = core::mem::take(&mut g.slot);
    if selected.len() < n {
        selected.resize(n, NOT_COUNTED);
    }
    g.selected_from = n;
    g.marked.clear();
    let mut stack = core::mem::take(&mut g.stack);
    stack.clear();
    // Tracing twice (here, then to count) what a full analysis traces once stops paying
    // early: past a sixty-fourth of the set, or with dirty objects common, the full analysis
    // is chosen.
    let cap = (n / 64).max(MIN_SELECTED);
    let mut result = None;
    'select: {
        let mut count = 0;
        let mut i = 0;
        for &l in from {
            for k in 0..layout.list_len(l) {
                if selected[i] != NOT_COUNTED {
                    // Reached from an earlier seed: already followed.
                    i += 1;
                    continue;
                }
                // SAFETY: per the caller; the slice is used before any user code runs (the
                // list may have grown since the layout was taken, never shrunk).
                let obj = unsafe {
                    let list = heap.list_slice(l);
                    if let Some(ahead) = list.get(k + PREFETCH_AHEAD) {
                        ahead.prefetch();
                    }
                    list[k]
                };
                // Seeds: the dirty objects, and those unsafe code may reach without a
                // handle. Only the header is read.
                // SAFETY: an object of the list is alive and tracked.
                let seed = unsafe { obj.is_dirty() || obj.ext_flags() & flags::EXPOSED != 0 };
                if seed {
                    selected[i] = 0;
                    g.marked.push(i as u32);
                    stack.push(i as u32);
                    // Everything it reaches, through traces (user code: frees are deferred,
                    // so the lists can only grow, and positions stay valid).
                    let mut closure = Closure {
                        layout,
                        selected: &mut selected,
                        marked: &mut g.marked,
                        stack: &mut stack,
                        count: count + 1,
                    };
                    while let Some(p) = closure.stack.pop() {
                        if closure.count > cap {
                            break 'select;
                        }
                        if let Some(obj) = object_at(heap, from, layout, p as usize) {
                            // SAFETY: objects of the analysed lists are alive.
                            unsafe { obj.trace(&mut Tracer::new(&mut closure)) };
                        }
                    }
                    count = closure.count;
                    if count > MIN_SELECTED && count * 8 > i {
                        break 'select;
                    }
                }
                i += 1;
            }
        }
        result = Some(count);
    }
    g.slot = selected;
    g.stack = stack;
    result
}

/// The visitor of [`select`]'s closure: selects every object of the set it is shown.
struct Closure<'a> {
    layout: SetLayout,
    selected: &'a mut Vec<u32>,
    marked: &'a mut Vec<u32>,
    stack: &'a mut Vec<u32>,
    count: usize,
}

impl Visitor for Closure<'_> {
    fn visit(&mut self, obj: ObjPtr) {
        // SAFETY: a reported handle holds the memory; the extension is read only if the
        // object has one.
        unsafe {
            if !obj.has_ext() {
                return;
            }
            let Some(j) = self.layout.position_of(obj) else {
                return;
            };
            if self.selected[j] == NOT_COUNTED {
                self.selected[j] = 0;
                self.marked.push(j as u32);
                self.stack.push(j as u32);
                self.count += 1;
            }
        }
    }
}

/// The list and index of position `p` of the set `layout` numbers (lists in the order of
/// `from`), if it is in the set.
fn place_of(from: &[usize], layout: SetLayout, p: usize) -> Option<(usize, usize)> {
    from.iter().find_map(|&l| {
        let r = layout.range(l);
        r.contains(&p).then(|| (l, p - r.start))
    })
}

/// The object at position `p` of the set `layout` numbers.
fn object_at(heap: &Heap, from: &[usize], layout: SetLayout, p: usize) -> Option<ObjPtr> {
    place_of(from, layout, p).and_then(|(l, k)| heap.list_get(l, k))
}

/// The list whose objects a large collection holds during its count pass (generation 0:
/// where most garbage is), so that its garbage can be set apart without a pass over it
/// ([`Heap::doom_held`]). Survivors' references are given back after the analysis.
const HOLD_LIST: usize = 0;

/// Step 2: fills the side tables of `g` for the lists `from`, laid out as `layout` says;
/// with `hold`, the objects of [`HOLD_LIST`] also get a temporary reference
/// ([`EdgeCounter::set_hold`]; `g.held` says how many). With `parallel`, a helper thread
/// counts the last part of the set ([`parallel::count_halves`]). Returns false if the
/// lists changed under the pass (only a misbehaving `Trace` impl can cause that).
///
/// # Safety
/// Frees are deferred; every object of the lists is alive.
unsafe fn count(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    g: &mut Graph,
    hold: bool,
    parallel: bool,
) -> bool {
    let n = layout.len();
    // Split, the count table is zeroed as the pass comes to each part
    // ([`parallel::count_halves`]): the helper's entries are overwritten with its counts.
    let refs = start_tables(g, n, !parallel);
    let mut counter = EdgeCounter::new(layout, refs, core::mem::take(&mut g.edges))
        .with_pass_tables(take_pass_tables(g));
    let mut part_bufs = core::mem::take(&mut g.part);
    // The indices in the held list of objects the helper holds that the counter does not
    // list yet: given back if the pass stops before they are absorbed.
    let mut helper_held = 0..0;
    let mut tail_from = None;
    let pass = catch_unwind(AssertUnwindSafe(|| {
        let mut next = 0;
        let mut helper = None;
        if parallel {
            let bufs = core::mem::take(&mut part_bufs);
            let hold_list = hold.then_some(HOLD_LIST);
            let share = with_state(|s| s.helper_share.get()).unwrap_or(0.5);
            // SAFETY: per the caller; no user code runs until it returns.
            let (done, part, timing) = unsafe {
                parallel::count_halves(heap, from, layout, &mut counter, bufs, hold_list, share)
            };
            with_state(|s| {
                if let Some(t) = timing {
                    s.helper_share.set(parallel::next_share(t));
                }
                if part.is_ok() {
                    s.split_passes.set(s.split_passes.get() + 1);
                }
            });
            next = done;
            match part {
                Ok(part) => {
                    if hold {
                        helper_held = layout.indices_in(HOLD_LIST, part.positions.clone());
                    }
                    helper = Some(part);
                }
                Err(bufs) => part_bufs = bufs,
            }
        }
        let until = helper.as_ref().map_or(n, |h| h.positions.start);
        // SAFETY: per the caller.
        if !unsafe { count_positions(heap, from, layout, &mut counter, hold, next..until) } {
            return false;
        }
        if let Some(part) = helper {
            let base = part.positions.start;
            // A helper that counted to the end of the set keeps its edges where they are.
            let last = part.positions.end == n;
            let (refs, edges, tables) = if last {
                counter.absorb_last(part.counter, base)
            } else {
                counter.absorb(part.counter, base)
            };
            helper_held = 0..0;
            if last {
                // Its `start` values must fit, as the counter's do (`finish_pass`).
                if u32::try_from(edges.len()).is_err() {
                    return false;
                }
                tail_from = Some(base);
            }
            part_bufs = PartBuffers {
                refs,
                edges,
                tables,
            };
            let rest = part.positions.end..n;
            // Left as the last analysis wrote them.
            counter.zero_counts(rest.clone());
            // SAFETY: per the caller.
            if !unsafe { count_positions(heap, from, layout, &mut counter, hold, rest) } {
                return false;
            }
        }
        finish_pass(heap, from, layout, &counter)
    }));
    g.part = part_bufs;
    g.tail_from = tail_from;
    put_pass_tables(g, counter.take_pass_tables());
    // The held objects are those whose count completed in the list held, the last one
    // counted: each completed object added one entry to `start` after its first `0` (or to
    // the helper's `start`, kept with its edges).
    let tail = tail_from.map_or(0, |_| g.part.tables.start.len());
    g.held = if hold {
        (g.start.len() - 1 + tail).saturating_sub(layout.range(HOLD_LIST).start)
    } else {
        0
    };
    (g.refs, g.edges) = counter.into_parts();
    if !helper_held.is_empty() {
        // The pass stopped before the helper's objects were taken in: theirs go back now.
        let Range { start, end } = helper_held;
        // SAFETY: per the caller; these objects of the held list were held once each.
        unsafe { heap.unhold(HOLD_LIST, end, |i| i < start) };
    }
    match pass {
        Ok(ok) => ok,
        Err(payload) => {
            // A `Trace` impl panicked: give back what the pass held before unwinding on.
            // SAFETY: per the caller; the objects held are the first `g.held` of the list.
            unsafe { heap.unhold(HOLD_LIST, g.held, |_| false) };
            resume_unwind(payload)
        }
    }
}

/// Counts the positions `range` of the set in order, one run of objects of one type at a
/// time; with `hold`, the objects of [`HOLD_LIST`] are held. Returns false if the lists
/// changed under the pass.
///
/// # Safety
/// As for [`count`]; the counter has counted the positions before `range`.
unsafe fn count_positions(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    counter: &mut EdgeCounter,
    hold: bool,
    range: Range<usize>,
) -> bool {
    for &l in from {
        let base = layout.range(l).start;
        let indices = layout.indices_in(l, range.clone());
        counter.set_hold(hold && l == HOLD_LIST);
        let mut k = indices.start;
        while k < indices.end {
            // Runs of objects of one type go through a loop compiled for it.
            // SAFETY: per the caller.
            let done = unsafe { counter.count_entries(heap, l, k, indices.end, base + k) };
            if done == 0 {
                counter.set_hold(false);
                return false;
            }
            k += done;
        }
    }
    counter.set_hold(false);
    true
}

/// Step 2 for the objects [`select`] chose, numbered in `g.marked`'s order: the side tables
/// have one entry per chosen object, and references to the others are not counted (they are
/// outside the analysed set).
///
/// # Safety
/// As for [`count`]; `g.slot` maps each chosen position to its index in `g.marked`.
unsafe fn count_selected(heap: &Heap, from: &[usize], layout: SetLayout, g: &mut Graph) -> bool {
    let m = g.marked.len();
    let refs = start_tables(g, m, true);
    let slot = core::mem::take(&mut g.slot);
    let mut counter = EdgeCounter::with_remap(layout, refs, core::mem::take(&mut g.edges), slot)
        .with_pass_tables(take_pass_tables(g));
    let ok = 'pass: {
        for k in 0..m {
            let Some((l, index)) = place_of(from, layout, g.marked[k] as usize) else {
                break 'pass false;
            };
            if let Some(&ahead) = g.marked.get(k + PREFETCH_AHEAD)
                && let Some(ahead) = object_at(heap, from, layout, ahead as usize)
            {
                ahead.prefetch();
            }
            // SAFETY: per the caller; one object, entry `k`.
            if unsafe { counter.count_entries(heap, l, index, index + 1, k) } == 0 {
                break 'pass false;
            }
        }
        finish_pass(heap, from, layout, &counter)
    };
    put_pass_tables(g, counter.take_pass_tables());
    g.slot = counter.take_remap();
    (g.refs, g.edges) = counter.into_parts();
    ok
}

/// Resets the side tables for `n` entries; returns the count table, zeroed if `zero`
/// (otherwise the entries left from the last analysis are still there, for the caller to
/// zero or overwrite before it counts into them).
fn start_tables(g: &mut Graph, n: usize, zero: bool) -> Vec<i32> {
    let mut refs = core::mem::take(&mut g.refs);
    if zero {
        refs.clear();
    } else {
        refs.truncate(n);
    }
    refs.resize(n, 0);
    g.edges.clear();
    g.start.clear();
    g.start.reserve(n + 1);
    g.start.push(0);
    g.pinned.clear();
    g.special.clear();
    g.weakly.clear();
    g.held = 0;
    g.tail_from = None;
    refs
}

/// Moves the per-object tables into a count pass.
fn take_pass_tables(g: &mut Graph) -> PassTables {
    PassTables {
        start: core::mem::take(&mut g.start),
        pinned: core::mem::take(&mut g.pinned),
        special: core::mem::take(&mut g.special),
        weakly: core::mem::take(&mut g.weakly),
    }
}

/// Takes the per-object tables back from a count pass.
fn put_pass_tables(g: &mut Graph, t: PassTables) {
    (g.start, g.pinned, g.special, g.weakly) = (t.start, t.pinned, t.special, t.weakly);
}

/// Whether a count pass stayed consistent: the edges fit the tables and no list shrank.
fn finish_pass(heap: &Heap, from: &[usize], layout: SetLayout, counter: &EdgeCounter) -> bool {
    u32::try_from(counter.edge_count()).is_ok()
        && from.iter().all(|&l| heap.list_len(l) >= layout.list_len(l))
}

/// Step 3: marks every entry reachable from outside as [`REACHED`], along the recorded edges.
/// Returns the number of entries reached, or `None` if a count was negative (a `Trace` impl
/// reported handles it does not own).
///
/// Like CPython's `move_unreachable`, the walk goes through the set in order: an object
/// reached ahead of the cursor is only marked, and its edges are followed when the cursor
/// gets there; only objects reached behind the cursor go on the work list. Each object's
/// edges are read once, and a set that is mostly reachable needs almost no work list.
fn mark(g: &mut Graph) -> Option<usize> {
    // Plain slices and a local work list, so that the loops keep them in registers.
    let mut stack = core::mem::take(&mut g.stack);
    stack.clear();
    let refs: &mut [i32] = &mut g.refs;
    let edges = EdgeTables {
        start: &g.start,
        edges: &g.edges,
        tail_from: g.tail_from.unwrap_or(usize::MAX),
        tail_ends: &g.part.tables.start,
        tail_edges: &g.part.edges,
    };
    // A negative count is checked where each entry is first read or overwritten (here, at
    // the cursor, or in `follow`), so that no separate pass looks for one.
    let mut negative = false;
    // Pinned objects count as referenced from outside.
    for &p in &g.pinned {
        let r = &mut refs[p as usize];
        negative |= *r < 0;
        if *r == 0 {
            *r = 1;
        }
    }
    let mut reached = 0;
    let mut i = 0;
    while i < refs.len() {
        // Whole lines of entries not reached (yet) are passed over at once: in a set that
        // is mostly garbage, they are most of the table.
        if let Some(line) = refs.get(i..i + UNREACHED_RUN)
            && line.iter().fold(0, |any, &r| any | r) == 0
        {
            i += UNREACHED_RUN;
            continue;
        }
        let r = refs[i];
        if r == 0 {
            // Not reached (yet): if it is later, `follow` puts it on the work list.
            i += 1;
            continue;
        }
        if r != REACHED {
            // Referenced from outside; an entry marked ahead of the cursor was counted then.
            negative |= r < 0;
            refs[i] = REACHED;
            reached += 1;
        }
        reached += follow(refs, &edges, &mut stack, i, i, &mut negative);
        while let Some(k) = stack.pop() {
            reached += follow(refs, &edges, &mut stack, k as usize, i, &mut negative);
        }
        i += 1;
    }
    g.stack = stack;
    (!negative).then_some(reached)
}

/// How many count entries (one cache line of them) the mark passes over at once when none
/// is reached yet.
const UNREACHED_RUN: usize = 16;

/// The recorded edges of every position: those before `tail_from` in the counter's tables,
/// the others where the helper recorded them ([`EdgeCounter::absorb_last`]).
struct EdgeTables<'a> {
    start: &'a [u32],
    edges: &'a [u32],
    tail_from: usize,
    /// The end of each tail position's edges in `tail_edges` (each starts where the one
    /// before ends; the first at 0).
    tail_ends: &'a [u32],
    tail_edges: &'a [u32],
}

impl<'a> EdgeTables<'a> {
    /// The targets of position `k`'s edges.
    #[inline(always)]
    fn of(&self, k: usize) -> &'a [u32] {
        if k < self.tail_from {
            &self.edges[self.start[k] as usize..self.start[k + 1] as usize]
        } else {
            let t = k - self.tail_from;
            let lo = if t == 0 { 0 } else { self.tail_ends[t - 1] };
            &self.tail_edges[lo as usize..self.tail_ends[t] as usize]
        }
    }
}

/// Marks the targets of `k`'s edges: those behind `cursor` go on the work list (their own
/// edges are due now), those ahead of it are followed when the cursor reaches them. Returns
/// how many targets it marked, and notes in `negative` a target whose count was negative.
#[inline(always)]
fn follow(
    refs: &mut [i32],
    edges: &EdgeTables<'_>,
    stack: &mut Vec<u32>,
    k: usize,
    cursor: usize,
    negative: &mut bool,
) -> usize {
    let mut marked = 0;
    for &j in edges.of(k) {
        let r = &mut refs[j as usize];
        if *r != REACHED {
            *negative |= *r < 0;
            *r = REACHED;
            marked += 1;
            if (j as usize) <= cursor {
                stack.push(j);
            }
        }
    }
    marked
}
