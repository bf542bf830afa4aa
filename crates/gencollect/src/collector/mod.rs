//! The collection algorithm: CPython's `gc_collect_main`, on gcrt's heap lists.
//!
//! 1. Generations `0..=N` are analysed where they are, as one set: each object of the set
//!    is identified by its position (its list's offset in the set plus its index). A full
//!    collection analyses only what dirty objects reach ([`select`]).
//! 2. *count* ([`count`]; CPython's update_refs and subtract_refs in one pass): each
//!    object's strong count is added to a side table ([`tables`]) and every reference found
//!    by tracing it to an object of the set is subtracted from the target's entry, and
//!    recorded as an edge. What is left counts references from outside.
//! 3. *mark* ([`mark`]): every object with references from outside is reachable, and so is
//!    everything reachable from it along the recorded edges (an explicit work list, no
//!    recursion). This pass reads only the side tables, never the objects.
//! 4. The rest is garbage ([`analyse`] decides where it goes). Without finalizers or
//!    weak-reference callbacks among it, it leaves the lists at once (`Heap::doom`) and its
//!    values are dropped in place one by one (`Heap::drop_doomed`); dropping a value
//!    releases its handles, so refcounting frees the rest. Otherwise it moves to the
//!    `UNREACHABLE` list for the finalization steps ([`finalize`]).
//!
//! Steps 2 and 3 run with frees deferred, so nothing in the lists can be freed or move while
//! the collector walks them, whatever `Trace` code does; each object is traced once. This
//! file holds the entry point: the bookkeeping around one collection.

use std::time::{Duration, Instant};

use rawalloc::RetiredArenas;
use refcount::engine::{FirstPanic, Heap, UNREACHABLE};
use scopeguard::ScopeGuard;

mod analyse;
mod count;
mod finalize;
mod mark;
mod select;
mod tables;

pub(crate) use analyse::{Verdict, analyse_guarded};
pub(crate) use finalize::{process_unreachable, recover};

use crate::callbacks::{CollectionInfo, Phase, Reason};
use crate::state::with_state;
use crate::stats::{DebugFlags, debug_line};

/// What one collection found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub(crate) collected: usize,
    pub(crate) uncollectable: usize,
    pub(crate) candidates: usize,
}

/// Marks a collection as running on this thread until the guard drops (on every exit path).
pub(crate) fn running(heap: &Heap) -> ScopeGuard<(), impl FnOnce(()) + '_> {
    // SAFETY: the collection the guard stands for runs on this thread until it drops.
    unsafe { heap.set_collecting(true) };
    scopeguard::guard((), move |()| {
        // SAFETY: the collection is over (or unwinding out of it).
        unsafe { heap.set_collecting(false) };
    })
}

/// Collects `generation` (and all younger ones). Returns the number of unreachable objects
/// found, or 0 without doing anything if a collection is already running.
pub(crate) fn collect(heap: &Heap, generation: usize, reason: Reason) -> usize {
    if heap.collecting() {
        return 0;
    }
    let running = running(heap);
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
        duration: Duration::ZERO,
        reason,
    };
    if has_callbacks {
        with_state(|s| s.callbacks.invoke(Phase::Start, &info));
    }
    if debug.contains(DebugFlags::STATS) {
        report_start(heap, generation);
    }
    let mut panics = FirstPanic::default();
    let recover = scopeguard::guard_on_unwind((), |()| finalize::recover(heap));
    // Arenas the garbage empties are given back after the pause, not during it (also when
    // user code that no step catches, a `tracing` subscriber, unwinds out of it).
    heap.set_release_deferred(true);
    let deferring = scopeguard::guard((), |()| {
        heap.set_release_deferred(false);
        give_back(heap.take_retired_arenas());
    });
    let outcome = run(heap, generation, debug, &mut panics);
    drop(deferring);
    drop(recover);
    let duration = start.elapsed();
    record(&span, (generation, reason), &outcome, duration, debug);
    if has_callbacks {
        info.collected = outcome.collected;
        info.uncollectable = outcome.uncollectable;
        info.candidates = outcome.candidates;
        info.duration = duration;
        with_state(|s| s.callbacks.invoke(Phase::Stop, &info));
    }
    // Only now, as in CPython: a callback that allocates must not start a collection of its
    // own, whose callbacks would allocate in turn, until the stack overflows.
    drop(running);
    panics.resume();
    outcome.collected + outcome.uncollectable
}

/// Below this many arenas, giving them back costs less than starting a thread.
const GIVE_BACK_ON_A_THREAD: usize = 8;

/// Gives the arenas a collection emptied back to the system: on a thread of their own when
/// there are many and a second core to run it (unmapping a 1 MiB arena takes tens of
/// microseconds), here otherwise.
fn give_back(retired: RetiredArenas) {
    if retired.len() >= GIVE_BACK_ON_A_THREAD && !cfg!(miri) && crate::parallel::has_second_core() {
        // If the thread cannot start, the closure is dropped here, and the arenas with it.
        let _ = std::thread::Builder::new()
            .name("gcrt-give-back".into())
            .spawn(move || drop(retired));
    } else {
        drop(retired);
    }
}

/// The `DEBUG_STATS` lines that open a collection.
fn report_start(heap: &Heap, generation: usize) {
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

/// Adds a finished collection to the statistics, its span and the `DEBUG_STATS` output.
fn record(
    span: &tracing::Span,
    (generation, reason): (usize, Reason),
    outcome: &Outcome,
    duration: Duration,
    debug: DebugFlags,
) {
    with_state(|s| {
        let mut stats = s.stats.borrow_mut();
        let g = &mut stats[generation];
        g.collections += 1;
        g.collected += outcome.collected;
        g.uncollectable += outcome.uncollectable;
        g.candidates += outcome.candidates;
        g.duration += duration;
        s.pauses.borrow_mut()[generation].record(duration);
        if generation == 2 {
            s.pressure_since_full.set(0);
        }
    });
    // An event, not only the span: the default `fmt` subscriber prints events
    // (`RUST_LOG=gencollect=debug`).
    tracing::debug!(
        target: "gencollect",
        generation,
        reason = reason.as_str(),
        candidates = outcome.candidates,
        collected = outcome.collected,
        uncollectable = outcome.uncollectable,
        duration_us = duration.as_micros() as u64,
        "collection finished"
    );
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
}

/// The collection proper. Panics raised by user code go to `panics`, to be resumed once the
/// heap is consistent again.
fn run(heap: &Heap, generation: usize, debug: DebugFlags, panics: &mut FirstPanic) -> Outcome {
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
        let _span = tracing::debug_span!(target: "gcrt::gc", "promote").entered();
        for g in 0..=generation {
            // SAFETY: called once the analysis is over (or was abandoned): survivors move
            // to the next generation.
            unsafe { heap.append_list(g, old) };
        }
    };

    let fast = !debug.contains(DebugFlags::SAVEALL) && !debug.contains(DebugFlags::COLLECTABLE);
    // A full collection analyses only what dirty objects reach, unless told to scan all.
    let restrict = generation == 2 && !with_state(|s| s.full_scan.get()).unwrap_or(true);
    // The analysis may promote the held generation itself, when the survivors' count below
    // is not changed by it: `old` is analysed too, or the count is not used.
    let promote_early = (lists.contains(&old) || generation == 0).then_some(old);
    let Some((verdict, analysed)) = analyse_guarded(
        heap,
        &lists,
        UNREACHABLE,
        fast,
        (restrict, promote_early),
        panics,
    ) else {
        // Abandoned (an inconsistent trace) or a `Trace` impl panicked: nothing is freed,
        // and nothing was made clean (that happens only once the analysis is complete).
        promote();
        return outcome;
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
    outcome.collected = match verdict {
        Verdict::Doomed(tables, collected) => {
            let _span = tracing::debug_span!(target: "gcrt::gc", "delete", collected).entered();
            // SAFETY: `doom` set these objects apart, each once. No other analysis can use
            // the buffers meanwhile: collections never nest.
            let panic = unsafe { heap.drop_doomed(&tables.garbage) };
            panics.keep_some("dropping garbage", panic);
            tables.put_back();
            collected
        }
        Verdict::Moved(found) => process_unreachable(heap, old, debug, found, panics),
    };
    if generation == 2 {
        // As CPython's full collections do: the blocks cached for future objects go back
        // to the allocator, which can then return empty arenas to the system.
        heap.clear_free_lists();
    }
    outcome
}
