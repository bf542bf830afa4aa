//! Step 2, the count pass: each object's strong count minus the references found inside
//! the set, and the edges those references are.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use refcount::engine::{EdgeCounter, Heap, ObjectOps, PREFETCH_AHEAD, PassTables, SetLayout};

use super::select::{object_at, place_of};
use super::tables::SideTables;
use crate::parallel::{self, HelperPart, PartBuffers};
use crate::state::with_state;

/// The list whose objects a large collection holds during its count pass (generation 0:
/// where most garbage is), so that its garbage can be set apart without a pass over it
/// ([`Heap::doom_held`]). Survivors' references are given back after the analysis.
pub(super) const HOLD_LIST: usize = 0;

/// Step 2: fills the side tables of `g` for the lists `from`, laid out as `layout` says;
/// with `hold`, the objects of [`HOLD_LIST`] also get a temporary reference
/// ([`EdgeCounter::set_hold`]; `g.held` says how many). With `parallel`, a helper thread
/// counts the set from its top ([`parallel::count_halves`]). With `clean`, the objects
/// counted are made clean ([`EdgeCounter::set_clean`]). Returns false if the lists changed
/// under the pass (only a misbehaving `Trace` impl can cause that).
///
/// # Safety
/// Frees are deferred; every object of the lists is alive.
pub(super) unsafe fn count(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    g: &mut SideTables,
    (hold, parallel, clean): (bool, bool, bool),
) -> bool {
    let n = layout.len();
    // Split, the count table is zeroed as the pass comes to each part
    // ([`parallel::count_halves`]): the helper's entries are overwritten with its counts.
    let refs = start_tables(g, n, !parallel);
    let mut counter = EdgeCounter::new(layout, refs, core::mem::take(&mut g.edges))
        .with_pass_tables(take_pass_tables(g));
    counter.set_clean(clean);
    // On one thread the counts are zeroed up front and never replaced: repeated handles
    // can be subtracted as they are found.
    counter.set_repeats_subtracted(!parallel);
    let mut part_bufs = core::mem::take(&mut g.part);
    // The indices in the held list of objects the helper holds that the counter does not
    // list yet: given back if the pass stops before they are absorbed.
    let mut helper_held = 0..0;
    let mut tail_from = None;
    let pass = catch_unwind(AssertUnwindSafe(|| {
        let (next, helper) = if parallel {
            // SAFETY: per the caller.
            unsafe { start_helper(heap, from, layout, &mut counter, &mut part_bufs, hold) }
        } else {
            (0, None)
        };
        if hold && let Some(part) = &helper {
            helper_held = layout.indices_in(HOLD_LIST, part.positions.clone());
        }
        // What neither thread counted lies between the two (zeroed): counted here, on this
        // thread alone, user code included.
        let until = helper.as_ref().map_or(n, |h| h.positions.start);
        // SAFETY: per the caller.
        if !unsafe { count_positions(heap, from, layout, &mut counter, hold, next..until) } {
            return false;
        }
        if let Some(part) = helper {
            let taken = take_in_helper(&mut counter, part, &mut part_bufs);
            helper_held = 0..0;
            let Some(tail) = taken else {
                return false;
            };
            tail_from = Some(tail);
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

/// Starts a helper thread counting the set from its top and counts this thread's part from
/// its bottom, both as far as objects with a pure trace go and until they meet
/// ([`parallel::count_halves`]). Returns where this thread stopped and the helper's part, if
/// it counted anything (otherwise its buffers are back in `bufs`).
///
/// # Safety
/// As for [`count`]; no user code runs until this returns.
unsafe fn start_helper(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    counter: &mut EdgeCounter,
    bufs: &mut PartBuffers,
    hold: bool,
) -> (usize, Option<HelperPart>) {
    let taken = core::mem::take(bufs);
    let hold_list = hold.then_some(HOLD_LIST);
    // SAFETY: per the caller.
    let (done, part) =
        unsafe { parallel::count_halves(heap, from, layout, counter, taken, hold_list) };
    if part.is_ok() {
        with_state(|s| s.split_passes.set(s.split_passes.get() + 1));
    }
    match part {
        Ok(part) => (done, Some(part)),
        Err(back) => {
            *bufs = back;
            (done, None)
        }
    }
}

/// Takes the helper's counts into `counter`, which has counted every position before the
/// helper's part; the helper keeps its edges where they are ([`EdgeCounter::absorb_last`]),
/// and its buffers go back to `bufs`. Returns the first position whose edges stay with the
/// helper, or `None` if the edges do not fit the tables.
fn take_in_helper(
    counter: &mut EdgeCounter,
    part: HelperPart,
    bufs: &mut PartBuffers,
) -> Option<usize> {
    let base = part.positions.start;
    let (_, edges, tables) = counter.absorb_last(part.counter, base);
    // Its `start` values must fit, as the counter's do (`finish_pass`).
    let fits = u32::try_from(edges.len()).is_ok();
    *bufs = PartBuffers { edges, tables };
    fits.then_some(base)
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
pub(super) unsafe fn count_selected(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    g: &mut SideTables,
) -> bool {
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
fn start_tables(g: &mut SideTables, n: usize, zero: bool) -> Vec<i32> {
    let mut refs = core::mem::take(&mut g.refs);
    if refs.capacity() < n {
        // Fresh zeroed memory (`calloc`): its pages are faulted in as the pass writes them,
        // by whichever thread counts there, not all of them here first; in huge pages when
        // the table is large.
        refs = vec![0; n + rawalloc::huge_slack::<i32>(n)];
        refs.truncate(n);
        rawalloc::advise_huge_pages(&mut refs);
    } else if zero {
        refs.clear();
    } else {
        refs.truncate(n);
    }
    refs.resize(n, 0);
    g.edges.clear();
    // Most objects in a set have an edge or more, and some many. Reserving costs address
    // space only (pages are faulted in as they are written, in huge pages when the table
    // is large), where growing by doubling would copy the table and fault in every old
    // copy too: what a first collection pays.
    rawalloc::reserve_in_huge_pages(&mut g.edges, 2 * n);
    g.start.clear();
    rawalloc::reserve_in_huge_pages(&mut g.start, n + 1);
    g.start.push(0);
    g.pinned.clear();
    g.special.clear();
    g.weakly.clear();
    g.lent.clear();
    g.held = 0;
    g.tail_from = None;
    refs
}

/// Moves the per-object tables into a count pass.
fn take_pass_tables(g: &mut SideTables) -> PassTables {
    PassTables {
        start: core::mem::take(&mut g.start),
        pinned: core::mem::take(&mut g.pinned),
        special: core::mem::take(&mut g.special),
        weakly: core::mem::take(&mut g.weakly),
        lent: core::mem::take(&mut g.lent),
    }
}

/// Takes the per-object tables back from a count pass.
fn put_pass_tables(g: &mut SideTables, t: PassTables) {
    (g.start, g.pinned, g.special, g.weakly) = (t.start, t.pinned, t.special, t.weakly);
    g.lent = t.lent;
}

/// Whether a count pass stayed consistent: the edges fit the tables and no list shrank.
fn finish_pass(heap: &Heap, from: &[usize], layout: SetLayout, counter: &EdgeCounter) -> bool {
    u32::try_from(counter.edge_count()).is_ok()
        && from.iter().all(|&l| heap.list_len(l) >= layout.list_len(l))
}
