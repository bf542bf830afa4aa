//! One analysis (steps 2 to 4): count, mark, and set the garbage apart.

use refcount::engine::{Heap, NOT_COUNTED, ObjectOps, PREFETCH_AHEAD, SetLayout, flags};

use super::Verdict;
use super::count::{HOLD_LIST, count, count_selected};
use super::mark::mark;
use super::select::{object_at, select};
use super::tables::{REACHED, SideTables};
use crate::parallel;
use crate::stats::with_state;

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
pub(super) unsafe fn analyse(
    heap: &Heap,
    from: &[usize],
    to: usize,
    fast: bool,
    restrict: bool,
    mut g: SideTables,
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
    let entry_object = |g: &SideTables, k: usize| {
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
