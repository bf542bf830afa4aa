//! One analysis (steps 2 to 4): count, mark, and set the garbage apart.

use refcount::ObjPtr;
use refcount::engine::{FirstPanic, Heap, NOT_COUNTED, ObjectOps, SetLayout, flags};

use super::count::{HOLD_LIST, count, count_selected};
use super::mark::mark;
use super::select::{object_at, select};
use super::tables::{REACHED, SideTables};
use crate::parallel;
use crate::state::with_state;

/// What an analysis found unreachable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    /// Whether any of them has a due finalizer or weak-reference callbacks, so that the
    /// finalization pass is needed at all (with none, finalization costs nothing).
    pub(crate) finalization: bool,
}

/// What an analysis did with the garbage it found.
// Moved once per collection: a box would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict {
    /// Moved to the `to` list (flagged `DOOMED` and `WEAK_CLEARED`), for the finalization
    /// steps; possibly none.
    Moved(Found),
    /// Set apart by [`Heap::doom`] into the side tables' `garbage` buffer: no finalizer or
    /// weak-reference callback is due among it, so it only needs dropping. With the number
    /// of objects found unreachable (those whose release a `Trace` impl queued during the
    /// analysis are freed by that release, not set apart).
    Doomed(SideTables, usize),
}

/// Runs [`analyse`] with frees deferred. Returns its verdict and the number of objects it
/// analysed, or `None` if the analysis was abandoned or a `Trace` impl panicked (the objects
/// are then left in their lists, untouched). A panic goes to `panics`: from a `Trace` impl,
/// or from a destructor that the deferred frees ran after the analysis (the verdict stands
/// then, and the collection goes on). With `fast`, garbage that needs no finalization is set
/// apart for dropping instead of moved to `to`. With `promote`, the list the caller appends
/// the survivors of [`HOLD_LIST`] to once the analysis is over, an analysis that finds no
/// garbage may append them itself (see [`analyse`]).
pub(crate) fn analyse_guarded(
    heap: &Heap,
    from: &[usize],
    to: usize,
    fast: bool,
    (restrict, promote): (bool, Option<usize>),
    panics: &mut FirstPanic,
) -> Option<(Verdict, usize)> {
    let tables = SideTables::take();
    // SAFETY: this analysis identifies the objects of `from` by position until it clears
    // the mark, on every path (unwinding included: the panic is caught below).
    unsafe { heap.set_analysing(from) };
    let mut verdict = None;
    panics.catch("analysing the heap", || {
        heap.defer_frees(|| {
            let candidates: usize = from.iter().map(|&l| heap.list_len(l)).sum();
            let _span = tracing::debug_span!(target: "gcrt::gc", "analyse", candidates).entered();
            // SAFETY: every object in `from` is tracked, so alive with memory held; frees
            // are deferred for the whole analysis, so none of them can be freed meanwhile.
            verdict = unsafe { analyse(heap, from, to, fast, (restrict, promote), tables) };
            // The lists have their final shape: the deferred frees, which run next, may
            // take objects out of them.
            // SAFETY: the analysis no longer uses positions.
            unsafe { heap.set_analysing(&[]) };
        })
    });
    // SAFETY: the analysis is over, whichever way it ended.
    unsafe { heap.set_analysing(&[]) };
    if verdict.is_none() && restrict {
        // Its count pass may have made objects clean that nothing proved reachable.
        make_dirty(heap, from);
    }
    verdict
}

/// Marks every object of the lists `from` dirty, so that the next full collection analyses
/// them all (after an analysis that did not complete).
fn make_dirty(heap: &Heap, from: &[usize]) {
    for &l in from {
        // SAFETY: no user code runs while the slice is used; objects in a list are alive.
        unsafe {
            for &obj in heap.list_slice(l) {
                obj.set_dirty();
            }
        }
    }
}

/// The set one analysis works on: the lists `from`, numbered as `layout` says, and whether
/// only the objects [`select`] chose are counted (their entries in the side tables are then
/// in `marked` order).
#[derive(Clone, Copy)]
struct Set<'a> {
    heap: &'a Heap,
    from: &'a [usize],
    layout: SetLayout,
    only_selected: bool,
}

impl Set<'_> {
    /// The object behind entry `k` of the side tables.
    fn entry_object(&self, g: &SideTables, k: usize) -> Option<ObjPtr> {
        let p = if self.only_selected {
            g.marked[k] as usize
        } else {
            k
        };
        object_at(self.heap, self.from, self.layout, p)
    }
}

/// How a count pass runs: whether it holds a large generation 0 (and so can set its
/// garbage apart without a pass over it), and whether a helper thread shares it.
struct Plan {
    young_large: bool,
    hold: bool,
    parallel: bool,
}

impl Plan {
    fn new(from: &[usize], layout: Option<SetLayout>, fast: bool, only_selected: bool) -> Plan {
        // A large generation 0 is held by the count pass, so that its garbage can be set
        // apart without a pass over it, as long as the last such generation was mostly
        // garbage: for survivors, holding costs a write in the count pass and a pass to give
        // it back.
        let threshold = with_state(|s| s.hold_threshold.get()).unwrap_or(usize::MAX);
        // (The held list must be the last counted: see `count`.)
        let young_large = !only_selected
            && from.last() == Some(&HOLD_LIST)
            && layout.is_some_and(|l| l.list_len(HOLD_LIST) >= threshold);
        let hold = fast
            && young_large
            && (threshold == 0 || with_state(|s| s.hold_young.get()).unwrap_or(false));
        // A large set is counted by two threads, when the machine has two cores (which the
        // helper asks itself: the first answer costs 50-130 us, see `count_halves`).
        let parallel = !only_selected
            && layout.is_some_and(|l| l.len() >= parallel_threshold())
            && with_state(|s| s.parallel.get()).unwrap_or(false);
        Plan {
            young_large,
            hold,
            parallel,
        }
    }
}

/// From how many objects a pass is shared with a helper thread
/// ([`set_parallel_threshold`](crate::set_parallel_threshold)).
fn parallel_threshold() -> usize {
    with_state(|s| s.parallel_threshold.get()).unwrap_or(usize::MAX)
}

/// Steps 2 to 4 on the lists `from`, as one set. The garbage is set apart by [`Heap::doom`]
/// when `fast` allows it and no object of it has a finalizer or weak-reference callbacks;
/// otherwise it is flagged `DOOMED` and `WEAK_CLEARED` and moved to list `to`. Returns the
/// verdict and how many objects were analysed, or `None` if the traces were inconsistent
/// (then nothing was written to any object). When nothing is garbage and the whole of
/// [`HOLD_LIST`] was held, that list is appended to `promote` here, with its references
/// given back in the same pass ([`Heap::append_list_unholding`]), instead of in two passes
/// over it (the give-back now, the promotion after).
///
/// # Safety
/// Frees are deferred; every object of `from` is alive; appending [`HOLD_LIST`] to
/// `promote` now leaves the caller's bookkeeping as appending it after the analysis would.
unsafe fn analyse(
    heap: &Heap,
    from: &[usize],
    to: usize,
    fast: bool,
    (restrict, promote): (bool, Option<usize>),
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
        let nothing = Found {
            finalization: false,
        };
        return Some((Verdict::Moved(nothing), 0));
    }
    let only_selected = selected.is_some();
    if only_selected {
        // Number the selected objects 0..m in set order (the order the mark pass walks).
        g.marked.sort_unstable();
        for (k, &p) in g.marked.iter().enumerate() {
            g.slot[p as usize] = k as u32;
        }
    }
    let plan = Plan::new(from, layout, fast, only_selected);
    let count_span = tracing::debug_span!(
        target: "gcrt::gc",
        "count",
        objects = analysed,
        split = plan.parallel,
        held = plan.hold
    )
    .entered();
    // SAFETY: per the caller.
    let counted = layout.is_some_and(|layout| unsafe {
        if only_selected {
            count_selected(heap, from, layout, &mut g)
        } else {
            // A full analysis of a full collection (`restrict`) makes the objects clean as
            // it counts them (`clean_survivors` would otherwise pass over them all again).
            count(
                heap,
                from,
                layout,
                &mut g,
                (plan.hold, plan.parallel, restrict),
            )
        }
    });
    if counted && let Some(layout) = layout {
        let set = Set {
            heap,
            from,
            layout,
            only_selected,
        };
        // SAFETY: per the caller.
        unsafe { end_loans(&set, &g) };
    }
    drop(count_span);
    let reached = if counted {
        let _span = tracing::debug_span!(target: "gcrt::gc", "mark").entered();
        mark(&mut g)
    } else {
        None
    };
    let (Some(layout), Some(reached)) = (layout, reached) else {
        // SAFETY: per the caller.
        unsafe { abandon(heap, g) };
        return None;
    };
    let set = Set {
        heap,
        from,
        layout,
        only_selected,
    };
    if restrict {
        // SAFETY: per the caller.
        unsafe { clean_survivors(&set, &g) };
    }
    let garbage = g.refs.len() - reached;
    if garbage == 0
        && g.held != 0
        && g.held == layout.list_len(HOLD_LIST)
        // (A `Trace` impl may have added objects, never held, after the held ones.)
        && g.held == heap.list_len(HOLD_LIST)
        && let Some(to) = promote
    {
        // Nothing is garbage, and the held list is promoted whole next: it is moved now, and
        // its temporary references given back in the same pass over its headers, on two
        // threads when the list is large enough. No position is used from here on.
        let split = plan.parallel && g.held >= parallel_threshold();
        let relist = |objs: &[ObjPtr], base| {
            // SAFETY: `append_list_unholding` gives each object of the held list once, with
            // its index in `to`; no user code runs meanwhile.
            unsafe { parallel::relist(objs, to, base, split && parallel::has_second_core()) }
        };
        let _span = tracing::debug_span!(target: "gcrt::gc", "relist", objects = g.held).entered();
        // SAFETY: per the caller; every object of the held list was held once (`g.held`),
        // the analysis no longer identifies objects by position, and `relist` relists each
        // object of the held list once, at its index in `to`.
        unsafe {
            heap.set_analysing(&[]);
            heap.append_list_unholding(HOLD_LIST, to, relist);
        }
        g.held = 0;
    }
    let _span = tracing::debug_span!(target: "gcrt::gc", "set_apart", garbage).entered();
    let finalization = g.special.iter().any(|&i| g.refs[i as usize] != REACHED);
    // Held garbage is set apart as it is only if nothing can still reach it but handles
    // (no weak references): otherwise every held reference is given back, and the garbage
    // takes the path it would have taken unheld.
    let lazy = g.held != 0
        && fast
        && !finalization
        && garbage != 0
        && !g.weakly.iter().any(|&i| g.refs[i as usize] != REACHED);
    // SAFETY: per the caller.
    let all_held_garbage = unsafe { give_back_held(&set, &g, reached, lazy) };
    if fast && !finalization {
        // SAFETY: per the caller.
        let young_garbage = unsafe {
            doom(
                &set,
                &mut g,
                garbage,
                (lazy, all_held_garbage),
                plan.parallel,
            )
        };
        if plan.young_large {
            let mostly = young_garbage * 2 >= layout.list_len(HOLD_LIST);
            with_state(|s| s.hold_young.set(mostly));
        }
        return Some((Verdict::Doomed(g, garbage), analysed));
    }
    if garbage != 0 {
        // SAFETY: per the caller; `to` is a working list distinct from the analysed ones.
        unsafe { move_garbage(&set, &g, to) };
    }
    g.put_back();
    Some((Verdict::Moved(Found { finalization }), analysed))
}

/// Gives up an analysis whose counts do not add up (a `Trace` impl reported more handles
/// than an object's count allows): nothing was written to any object, and the references
/// the count pass held are given back.
///
/// # Safety
/// As for [`analyse`]; the first `g.held` objects of the held list are held.
unsafe fn abandon(heap: &Heap, g: SideTables) {
    tracing::error!(
        target: "gcrt::gc",
        "a Trace implementation reported more handles than an object's reference \
         count allows; collection abandoned"
    );
    // SAFETY: per the caller.
    unsafe { heap.unhold(HOLD_LIST, g.held, |_| false) };
    g.put_back();
}

/// Ends the loans by `Gc::get_mut` that the count pass found over (`PassTables::lent`): the
/// values are read again from the next collection on.
///
/// # Safety
/// As for [`analyse`]; the count pass is complete.
unsafe fn end_loans(set: &Set<'_>, g: &SideTables) {
    for &e in &g.lent {
        if g.refs[e as usize] <= 0
            && let Some(obj) = set.entry_object(g, e as usize)
        {
            // SAFETY: objects of the analysed lists are alive (frees are deferred); every
            // handle to this one is inside a traced object, so no `&mut` to it is alive.
            unsafe { obj.clear_flags(flags::LOANED) };
        }
    }
}

/// After a full collection's mark: the analysed survivors are proved reachable, so they are
/// clean. A whole set was made clean by its count pass (garbage too, which is freed or
/// revived dirty); chosen objects are made clean here, survivors only, reading just their
/// headers and writing only dirty ones. Objects counted as referenced from outside whatever
/// their count says (a mutably borrowed `RefCell` among them) were not proved reachable:
/// they are made dirty again, so the next full collection looks at them, and at what they
/// hold, again.
///
/// # Safety
/// As for [`analyse`].
unsafe fn clean_survivors(set: &Set<'_>, g: &SideTables) {
    if set.only_selected {
        for k in 0..g.refs.len() {
            if g.refs[k] == REACHED
                && let Some(obj) = set.entry_object(g, k)
            {
                // SAFETY: objects of the analysed lists are alive (frees are deferred).
                unsafe { obj.clear_dirty() };
            }
        }
    }
    for &k in &g.pinned {
        if let Some(obj) = set.entry_object(g, k as usize) {
            // SAFETY: objects of the analysed lists are alive (frees are deferred).
            unsafe {
                if obj.strong() != 0 {
                    obj.set_dirty();
                }
            }
        }
    }
}

/// Gives back the temporary references the count pass took on the held list: all of them,
/// or with `lazy` only the survivors' (the garbage keeps its own until it is dropped).
/// Returns whether every held object is garbage (then its list moves whole).
///
/// # Safety
/// As for [`analyse`]; the first `g.held` objects of the held list are held, and still in
/// place (nothing left the lists yet).
unsafe fn give_back_held(set: &Set<'_>, g: &SideTables, reached: usize, lazy: bool) -> bool {
    if g.held == 0 {
        return false;
    }
    let range = set.layout.range(HOLD_LIST);
    let refs = &g.refs[..];
    let survivors = if reached == 0 {
        0
    } else {
        refs[range.clone()]
            .iter()
            .filter(|&&r| r == REACHED)
            .count()
    };
    // SAFETY: per the caller.
    unsafe {
        if !lazy {
            set.heap.unhold(HOLD_LIST, g.held, |_| false);
        } else if survivors != 0 {
            set.heap
                .unhold(HOLD_LIST, g.held, |i| refs[range.start + i] != REACHED);
        }
    }
    lazy && survivors == 0
}

/// Sets the `garbage` objects found apart into `g.garbage`, for dropping (step 4, fast
/// path). Returns how many of them were in the held list. With `split`, held garbage is
/// flagged on two threads when there is enough of it ([`parallel::condemn`]).
///
/// # Safety
/// As for [`analyse`]; `lazy` and `all_held` as [`give_back_held`] left the held list.
unsafe fn doom(
    set: &Set<'_>,
    g: &mut SideTables,
    garbage: usize,
    (lazy, all_held): (bool, bool),
    split: bool,
) -> usize {
    if garbage == 0 {
        return 0;
    }
    let mut young_garbage = 0;
    let mut out = core::mem::take(&mut g.garbage);
    let lists = set.from.iter().filter(|&&l| set.layout.list_len(l) != 0);
    if garbage != set.layout.len() || lists.count() > 1 {
        out.reserve(garbage);
    }
    // (Otherwise one list is all the garbage: `Heap::doom` may hand it over whole.)
    let sparse = garbage * 4 < set.layout.len();
    for &l in set.from {
        let (refs, slot) = (&g.refs[..], &g.slot[..]);
        let range = set.layout.range(l);
        let before = out.len();
        // SAFETY: the objects of the lists are alive and tracked; the predicates run no user
        // code, and `condemn` gives each object it is given to `engine::condemn` once. The
        // caller drops every object set apart, once.
        unsafe {
            if set.only_selected {
                set.heap
                    .doom(l, selected_garbage(refs, slot, range), sparse, &mut out);
            } else if lazy && l == HOLD_LIST {
                let is_garbage = set_garbage(&refs[range]);
                let condemn = |objs: &[ObjPtr]| {
                    let split = split && objs.len() >= parallel_threshold();
                    parallel::condemn(objs, split && parallel::has_second_core())
                };
                set.heap
                    .doom_held(l, g.held, all_held, is_garbage, &mut out, condemn);
            } else {
                set.heap
                    .doom(l, set_garbage(&refs[range]), sparse, &mut out);
            }
        }
        if l == HOLD_LIST {
            young_garbage = out.len() - before;
        }
    }
    g.garbage = out;
    young_garbage
}

/// Moves the garbage found to list `to`, flagged `DOOMED` and `WEAK_CLEARED`, for the
/// finalization steps (step 4, general path).
///
/// # Safety
/// As for [`analyse`]; `to` is a working list distinct from the analysed ones.
unsafe fn move_garbage(set: &Set<'_>, g: &SideTables, to: usize) {
    for &l in set.from {
        let (refs, slot) = (&g.refs[..], &g.slot[..]);
        let range = set.layout.range(l);
        let mark = flags::DOOMED | flags::WEAK_CLEARED;
        // SAFETY: per the caller; the predicates run no user code.
        unsafe {
            if set.only_selected {
                set.heap
                    .split_off(l, to, selected_garbage(refs, slot, range), mark);
            } else {
                set.heap.split_off(l, to, set_garbage(&refs[range]), mark);
            }
        }
    }
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
