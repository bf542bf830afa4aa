//! The edge counter: the collector's count pass, built into [`Tracer`] so that the code
//! a `Trace` impl runs for each handle is compiled into the impl, not reached through a
//! `dyn Visitor` call per edge.

mod counts;
mod layout;
mod parts;

pub use counts::SharedCounts;
pub use layout::SetLayout;

use counts::Counts;

use crate::header::{ObjPtr, Stored, flags};
use crate::heap::{Heap, PREFETCH_AHEAD};
use crate::trace::{Trace, Tracer};

/// Counts, for each object of a set, the references to it found by tracing: each reported
/// handle to an object of the set decrements that object's entry of `refs` and is recorded
/// in `edges` as the target's position. Handles to objects outside the set are ignored.
///
/// ```
/// use core::cell::RefCell;
/// use refcount::Gc;
/// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
///
/// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
/// let b = Gc::new(RefCell::new(Some(a.clone())));
/// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
/// let mut counter = EdgeCounter::new(layout, vec![0; layout.len()], Vec::new());
/// // SAFETY: `b` is alive.
/// unsafe { refcount::engine::ObjectOps::trace(Gc::as_obj(&b), &mut counter.tracer()) };
/// let (refs, edges) = counter.into_parts();
/// assert_eq!(edges.len(), 1);
/// assert_eq!(refs.iter().sum::<i32>(), -1);
/// ```
#[derive(Debug)]
pub struct EdgeCounter {
    layout: SetLayout,
    refs: Counts,
    edges: Vec<u32>,
    /// Empty (each position counts in its own entry), or one entry per position of the set:
    /// the entry of `refs` it counts in, or [`NOT_COUNTED`].
    remap: Vec<u32>,
    tables: PassTables,
    opaque: bool,
    /// Whether the objects counted now get a temporary strong reference ([`set_hold`]).
    ///
    /// [`set_hold`]: EdgeCounter::set_hold
    hold: bool,
    /// Whether the objects counted now are made clean as they are read ([`set_clean`]).
    ///
    /// [`set_clean`]: EdgeCounter::set_clean
    clean: bool,
    /// What [`subtract_within`] did: how many of the first edges it went over, and the
    /// edges among them still to be subtracted (those to targets outside the positions it
    /// subtracted from).
    ///
    /// [`subtract_within`]: EdgeCounter::subtract_within
    presub: (usize, Skipped),
    /// Whether handles reported several at once make one edge, the others subtracted at
    /// once ([`set_repeats_subtracted`]).
    ///
    /// [`set_repeats_subtracted`]: EdgeCounter::set_repeats_subtracted
    repeats: bool,
    /// Whether this is a [`part`](EdgeCounter::part) counter: it counts the set from its
    /// last position downward, and entry `e` of its tables is position `len - 1 - e`.
    down: bool,
}

/// The per-object tables a count pass fills besides the counts and the edges (see
/// [`EdgeCounter::count_entries`]); moved in and out so that their buffers can be reused.
///
/// ```
/// use refcount::engine::PassTables;
/// let t = PassTables::default();
/// assert!(t.start.is_empty() && t.pinned.is_empty() && t.special.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct PassTables {
    /// Where each counted entry's edges start in the edge table, and one more: entry `e`'s
    /// edges are `edges[start[e]..start[e + 1]]`. The pass appends one value per entry; the
    /// caller puts the leading `0`.
    pub start: Vec<u32>,
    /// Entries that count as referenced from outside whatever their count says: count 0
    /// (release queued), immortal, or not readable now (a mutably borrowed `RefCell`).
    pub pinned: Vec<u32>,
    /// Entries whose object has a finalizer or weak-reference callbacks.
    pub special: Vec<u32>,
    /// Entries counted while [`EdgeCounter::set_hold`] was on whose object has weak
    /// references.
    pub weakly: Vec<u32>,
    /// Entries whose value `Gc::get_mut` lent (flag `LOANED`): counted, not traced, and
    /// pinned. One whose references all come from objects of the set (its entry is not
    /// above 0 after the count pass) is no longer lent: a `&mut` to it could only be
    /// reached through one of them, and a traced object is not borrowed mutably (a `RefCell`
    /// borrowed mutably is not read, a lent object is not traced).
    pub lent: Vec<u32>,
}

/// Appends to one of the count pass's rare lists (pinned, special, weakly): out of line, so
/// that the loop compiled for each type keeps only its common path.
#[cold]
#[inline(never)]
fn push_rare(list: &mut Vec<u32>, e: usize) {
    list.push(e as u32);
}

/// The edges [`EdgeCounter::subtract_within`] went over but did not subtract (their targets
/// are another counter's): listed while they are few (the usual case: most edges stay
/// within a thread's part of the set), or found again by their targets when they are many
/// (one object holding a million handles to the other part), where listing them would grow
/// and fault in a table as large as the edges.
#[derive(Debug)]
enum Skipped {
    /// The skipped edges' targets.
    Listed(Vec<u32>),
    /// Every edge to a target outside these positions was skipped.
    Outside(core::ops::Range<usize>),
}

/// An entry of [`EdgeCounter::with_remap`]'s table for a position that is not counted.
pub const NOT_COUNTED: u32 = u32::MAX;

impl EdgeCounter {
    /// A counter for the set `layout` describes, with one entry of `refs` per object of it,
    /// appending to `edges` (buffers are moved in so they can be reused).
    ///
    /// # Panics
    /// If `refs` does not have exactly one entry per object of the set.
    pub fn new(layout: SetLayout, refs: Vec<i32>, edges: Vec<u32>) -> Self {
        assert_eq!(refs.len(), layout.len(), "one count per object of the set");
        EdgeCounter::whole(layout, refs, edges)
    }

    /// A counter for the objects of the set `layout` describes from its last position
    /// downward, so that the count pass can be split between two threads, each filling its
    /// own tables, and meet wherever they are both done: entry `e` of `refs` (and of the
    /// [`PassTables`]) is position `layout.len() - 1 - e`; the edges record positions in the
    /// whole set, as [`new`](Self::new)'s do. `refs` starts empty (its buffer is reused):
    /// [`extend_counts`](Self::extend_counts) adds zeroed entries before the positions they
    /// stand for are counted, with [`count_pure_entries_down`](Self::count_pure_entries_down).
    ///
    /// ```
    /// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let counter = EdgeCounter::part(layout, Vec::new(), Vec::new());
    /// assert_eq!(counter.edge_count(), 0);
    /// ```
    pub fn part(layout: SetLayout, mut refs: Vec<i32>, edges: Vec<u32>) -> Self {
        refs.clear();
        EdgeCounter {
            down: true,
            ..EdgeCounter::whole(layout, refs, edges)
        }
    }

    /// A counter with one entry per position, in order (the fields [`new`](Self::new) and
    /// [`with_remap`](Self::with_remap) start from).
    fn whole(layout: SetLayout, refs: Vec<i32>, edges: Vec<u32>) -> Self {
        EdgeCounter {
            layout,
            refs: Counts::Own(refs),
            edges,
            remap: Vec::new(),
            tables: PassTables::default(),
            opaque: false,
            hold: false,
            clean: false,
            presub: (0, Skipped::Listed(Vec::new())),
            repeats: false,
            down: false,
        }
    }

    /// Adds `k` zeroed entries to a [`part`](Self::part) counter's counts: those of the `k`
    /// positions below the ones it has entries for.
    ///
    /// # Panics
    /// If this is not a part counter, or the entries would outnumber the set's positions.
    pub fn extend_counts(&mut self, k: usize) {
        assert!(self.down, "only a part counter's entries grow");
        let len = self.refs.len() + k;
        assert!(len <= self.layout.len(), "one entry per position at most");
        self.refs.extend_zeroed(k);
    }

    /// A counter for a subset of the set `layout` describes: position `p` counts in entry
    /// `remap[p]` of `refs` (and is recorded as that entry in `edges`), or not at all if it
    /// is [`NOT_COUNTED`]. So that a few objects of a large set cost tables of their size.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, NOT_COUNTED, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// // Count only `a`, in entry 0.
    /// let mut remap = vec![NOT_COUNTED; layout.len()];
    /// let pos = |g| unsafe { layout.position_of(Gc::as_obj(g)) }.unwrap();
    /// remap[pos(&a)] = 0;
    /// let mut counter = EdgeCounter::with_remap(layout, vec![0], Vec::new(), remap);
    /// // SAFETY: `b` is alive.
    /// unsafe { refcount::engine::ObjectOps::trace(Gc::as_obj(&b), &mut counter.tracer()) };
    /// assert_eq!(counter.take_remap().len(), layout.len());
    /// assert_eq!(counter.into_parts(), (vec![-1], vec![0]));
    /// ```
    ///
    /// # Panics
    /// If `remap` has fewer entries than the set has positions (more are ignored).
    pub fn with_remap(layout: SetLayout, refs: Vec<i32>, edges: Vec<u32>, remap: Vec<u32>) -> Self {
        assert!(
            remap.len() >= layout.len(),
            "one entry per position of the set"
        );
        EdgeCounter {
            remap,
            ..EdgeCounter::whole(layout, refs, edges)
        }
    }

    /// Uses `tables` for the per-object results of [`count_entries`](Self::count_entries).
    pub fn with_pass_tables(mut self, tables: PassTables) -> Self {
        self.tables = tables;
        self
    }

    /// While on, every object counted whose strong count is mortal and above zero also gets
    /// a temporary strong reference, taken once its trace is done, so that the collector can
    /// hand the garbage among them to [`Heap::drop_doomed`] without a pass over it
    /// ([`Heap::doom_held`]) and give the survivors' back with [`Heap::unhold`]. Objects
    /// with weak references are listed in [`PassTables::weakly`]. Which objects were counted
    /// while it was on is the caller's to know: each appends one value to
    /// [`PassTables::start`] once its trace completes.
    pub fn set_hold(&mut self, on: bool) {
        self.hold = on;
    }

    /// While on, every object counted whose strong count is mortal and above zero has its
    /// dirty mark cleared as its count is read (the word a held object's count is written
    /// to): for a full collection that analyses the whole set and would otherwise make its
    /// survivors clean in a pass of its own. Garbage made clean is freed or revived dirty;
    /// the caller makes every object of the set dirty again if the analysis does not
    /// complete, and re-marks the objects it did not prove reachable.
    pub fn set_clean(&mut self, on: bool) {
        self.clean = on;
    }

    /// While on, handles reported several at once ([`Tracer::visit_times`]: slices do, for
    /// a run of equal handles) are recorded as one edge, the others subtracted from their
    /// target's entry at once: the mark needs one edge per target, and a list holding one
    /// object a thousand times then costs one edge, not a thousand. For a counter of the
    /// whole set whose entries are all zeroed already and are not replaced later (no
    /// [`absorb_last`](Self::absorb_last) into it, no [`zero_counts`](Self::zero_counts)), so that no
    /// such subtraction is lost; it is off otherwise.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
    /// let list = Gc::new(RefCell::new(vec![a.clone(), a.clone(), a.clone()]));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let n = objs.len();
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let mut counter = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// counter.set_repeats_subtracted(true);
    /// // SAFETY: nothing changes or frees the objects meanwhile.
    /// unsafe { counter.count_pure_entries(&objs, n - 1, n, n - 1) };
    /// let (refs, edges) = counter.into_parts();
    /// assert_eq!(edges, vec![(n - 2) as u32]); // one edge for three handles
    /// assert_eq!(refs[n - 2], -3);
    /// # drop((a, list));
    /// ```
    ///
    /// # Panics
    /// If the counter is not one of the whole set (built by [`new`](Self::new)).
    pub fn set_repeats_subtracted(&mut self, on: bool) {
        assert!(
            !on || (self.refs.len() == self.layout.len() && self.remap.is_empty() && !self.down),
            "repeats are subtracted at once only by a counter of the whole set"
        );
        self.repeats = on;
    }

    /// Whether [`set_clean`](Self::set_clean) is on.
    pub fn cleans(&self) -> bool {
        self.clean
    }

    /// Gives the per-object tables back.
    pub fn take_pass_tables(&mut self) -> PassTables {
        core::mem::take(&mut self.tables)
    }

    /// The count pass over a run of heap list `list`: the objects at indices `k..end`, which
    /// are entries `entry..` of the tables. For each object, its strong count is added to
    /// its entry (or the entry is pinned), its handles are traced into this counter, and
    /// the [`PassTables`] get its results. Stops early at an object of another type than
    /// the first (the loop is compiled for that type) or at the list's end; returns how
    /// many objects it counted, 0 only if `k` is not below both `end` and the list's length.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let n = with_heap(|h| h.list_len(0));
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let mut counter = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// let mut k = 0;
    /// while k < n {
    ///     // SAFETY: no object of the list is freed meanwhile, and no other code uses it.
    ///     k += with_heap(|h| unsafe { counter.count_entries(h, 0, k, n, k) });
    /// }
    /// assert_eq!(counter.take_pass_tables().start.len(), n + 1);
    /// let (refs, edges) = counter.into_parts();
    /// // `a` is held by its handle and by `b`, which the trace found; `b` by its handle.
    /// assert_eq!((refs[n - 2], refs[n - 1]), (1, 1));
    /// assert_eq!(edges, vec![(n - 2) as u32]);
    /// # drop((a, b));
    /// ```
    ///
    /// # Safety
    /// Frees are deferred for the whole pass ([`Heap::defer_frees`]) and every object of the
    /// list from `k` on is alive and tracked, with its value initialised and not borrowed
    /// mutably by the caller.
    #[inline]
    pub unsafe fn count_entries(
        &mut self,
        heap: &Heap,
        list: usize,
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if k >= end || self.down {
            return 0;
        }
        let Some(first) = heap.list_get(list, k) else {
            return 0;
        };
        // SAFETY: per the caller; the descriptor's loop is compiled for the object's type.
        unsafe { first.count_run(self, heap, list, k, end, entry) }
    }

    /// [`count_entries`](Self::count_entries) over a slice of objects that no code changes
    /// while this runs, for objects whose type's trace is pure only: counts the run of
    /// objects of one type from `k` on (stopping at `end`, the slice's end or another type)
    /// and returns how many it counted, or 0 if the object at `k` is not of a type whose
    /// trace is pure, or `k` is not below both `end` and the slice's length.
    ///
    /// It runs nothing but gcrt's own code, and reads no thread-local: this is what a helper
    /// thread of the collector may run on the objects of its thread's heap while that thread
    /// waits or does the same.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let n = objs.len();
    /// let mut counter = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// let mut k = 0;
    /// while k < n {
    ///     // SAFETY: nothing changes or frees the objects meanwhile.
    ///     let done = unsafe { counter.count_pure_entries(&objs, k, n, k) };
    ///     assert!(done > 0, "a type whose trace is pure");
    ///     k += done;
    /// }
    /// let (refs, edges) = counter.into_parts();
    /// assert_eq!((refs[n - 2], refs[n - 1]), (1, 1));
    /// assert_eq!(edges, vec![(n - 2) as u32]);
    /// # drop((a, b));
    /// ```
    ///
    /// # Safety
    /// As for `count_entries`, with `objs` in place of the list: its objects from `k` on are
    /// alive and tracked, and nothing else reads or writes the objects counted, nor the
    /// memory their traces read, while this runs, except the same pass on another thread
    /// over other objects (which reads the headers of the objects it reaches and writes
    /// only the headers of the objects it counts).
    #[inline]
    pub unsafe fn count_pure_entries(
        &mut self,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if k >= end || self.remapping() || self.down {
            return 0;
        }
        let Some(first) = objs.get(k) else {
            return 0;
        };
        // SAFETY: per the caller; the descriptor's loop is compiled for the object's type.
        unsafe { first.count_pure(self, objs, k, end, entry) }
    }

    /// [`count_pure_entries`](Self::count_pure_entries) for a [`part`](Self::part)
    /// counter, downward: counts the run of objects of one type from index `end - 1` down
    /// to `k` (stopping at another type), the object at `end - 1` in entry `entry`, the one
    /// below it in `entry + 1`, and so on. Returns how many it counted (the objects at
    /// `end - counted..end`), or 0 if the object at `end - 1` is not of a type whose trace is
    /// pure, `k` is not below `end`, `end` is past the slice's end, or this is not a part
    /// counter.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let n = objs.len();
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let mut part = EdgeCounter::part(layout, Vec::new(), Vec::new());
    /// part.extend_counts(2);
    /// let mut end = n;
    /// while end > n - 2 {
    ///     // SAFETY: nothing changes or frees the objects meanwhile.
    ///     let done = unsafe { part.count_pure_entries_down(&objs, n - 2, end, n - end) };
    ///     assert!(done > 0, "a type whose trace is pure");
    ///     end -= done; // (one run per type: `a` and `b` are of two types)
    /// }
    /// // `b` (entry 0) is held by its handle, `a` (entry 1) by its handle and by `b`.
    /// assert_eq!(part.into_parts(), (vec![1, 1], vec![(n - 2) as u32]));
    /// # drop((a, b));
    /// ```
    ///
    /// # Safety
    /// As for `count_pure_entries`.
    #[inline]
    pub unsafe fn count_pure_entries_down(
        &mut self,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if k >= end || !self.down {
            return 0;
        }
        let Some(first) = objs.get(end - 1) else {
            return 0;
        };
        // SAFETY: per the caller; the descriptor's loop is compiled for the object's type.
        unsafe { first.count_pure_down(self, objs, k, end, entry) }
    }

    /// The loop of [`count_entries`](Self::count_entries) for objects of type `T`, which is
    /// the type of the object at `k` (the type descriptor holds it for `T`).
    ///
    /// # Safety
    /// As for `count_entries`, and the object at `k` exists and is a `T`.
    pub(crate) unsafe fn count_run<T: Stored>(
        &mut self,
        heap: &Heap,
        list: usize,
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if T::pure_trace() {
            // Tracing objects of a type with a pure trace runs no user code (rule 5 of
            // `Trace`; the tracer is this counter), so nothing can change the list
            // meanwhile: one borrow of it serves the whole run.
            // SAFETY: per the caller; nothing changes the list while the run lasts (above).
            return unsafe { self.count_pure_run::<T>(heap.list_slice(list), k, end, entry) };
        }
        // Otherwise the list is borrowed anew for each object, and the borrow ends before
        // the trace runs user code (which may append to the list, never remove from it:
        // frees are deferred).
        let mut i = k;
        let mut ty = None;
        while i < end {
            // SAFETY: as above.
            let obj = unsafe {
                let objs = heap.list_slice(list);
                let Some(&obj) = objs.get(i) else { break };
                let t = obj.type_info_ptr();
                if *ty.get_or_insert(t) != t {
                    break;
                }
                if let Some(ahead) = objs.get(i + PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                obj
            };
            // SAFETY: per the caller: alive, tracked (so it has an extension), a `T`.
            unsafe { self.count_object::<T>(obj, entry + (i - k)) };
            i += 1;
        }
        i - k
    }

    /// The loop of [`count_pure_entries`](Self::count_pure_entries) for objects of type
    /// `T`: counts nothing (returns 0) unless `T`'s trace is pure.
    ///
    /// # Safety
    /// As for `count_pure_entries`, and the object at `k` exists and is a `T`.
    pub(crate) unsafe fn count_pure_run<T: Stored>(
        &mut self,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if !T::pure_trace() {
            return 0;
        }
        let mut i = k;
        // SAFETY: the object at `k` exists and its memory is held (per the caller).
        let ty = objs.get(k).map(|o| unsafe { o.type_info_ptr() });
        while i < end {
            let Some(&obj) = objs.get(i) else { break };
            // SAFETY: per the caller: alive, tracked (so it has an extension).
            unsafe {
                if Some(obj.type_info_ptr()) != ty {
                    break;
                }
                if let Some(ahead) = objs.get(i + PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                // A `T` (the type of the object at `k`).
                self.count_object::<T>(obj, entry + (i - k));
            }
            i += 1;
        }
        i - k
    }

    /// The loop of [`count_pure_entries_down`](Self::count_pure_entries_down) for objects
    /// of type `T`: counts nothing (returns 0) unless `T`'s trace is pure.
    ///
    /// # Safety
    /// As for `count_pure_entries_down`, and the object at `end - 1` exists and is a `T`.
    pub(crate) unsafe fn count_pure_run_down<T: Stored>(
        &mut self,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        if !T::pure_trace() || end > objs.len() {
            return 0;
        }
        // SAFETY: the object at `end - 1` exists and its memory is held (per the caller).
        let ty = objs
            .get(end.wrapping_sub(1))
            .map(|o| unsafe { o.type_info_ptr() });
        let mut i = end;
        while i > k {
            let Some(&obj) = objs.get(i - 1) else { break };
            // SAFETY: per the caller: alive, tracked (so it has an extension).
            unsafe {
                if Some(obj.type_info_ptr()) != ty {
                    break;
                }
                if let Some(ahead) = (i - 1)
                    .checked_sub(PREFETCH_AHEAD)
                    .and_then(|a| objs.get(a))
                {
                    ahead.prefetch();
                }
                // A `T` (the type of the object at `end - 1`).
                self.count_object::<T>(obj, entry + (end - i));
            }
            i -= 1;
        }
        end - i
    }

    /// The count pass's work for one object of type `T`, entry `e` of the tables.
    ///
    /// # Safety
    /// `obj` is alive and tracked, of type `T`, and frees are deferred.
    #[inline(always)]
    unsafe fn count_object<T: Stored>(&mut self, obj: ObjPtr, e: usize) {
        // SAFETY: per the caller.
        unsafe {
            let f = obj.ext_flags();
            if f & (flags::HAS_WEAKREF_CB | flags::HAS_FINALIZER | flags::LOANED) != 0 {
                if f & flags::LOANED != 0 {
                    return self.count_lent(obj, e);
                }
                push_rare(&mut self.tables.special, e);
            }
            let mortal = obj.mortal_strong();
            if let Some(s) = mortal {
                self.add_count(e, s as i32);
                if self.clean {
                    obj.clear_dirty();
                }
            } else {
                // 0: queued for release, so keep it (and what it holds) alive until its
                // destructor runs. Immortal: always reachable.
                push_rare(&mut self.tables.pinned, e);
            }
            (*T::value(obj)).trace(&mut self.tracer());
            if self.hold {
                // After the trace: an object whose trace panicked holds nothing. Only a trace
                // that runs user code can have changed the count meanwhile.
                let now = if T::pure_trace() {
                    mortal
                } else {
                    obj.mortal_strong()
                };
                if now.is_some() {
                    self.hold_object(obj, e);
                } else if mortal.is_some() {
                    // Its own trace dropped its last handle (breaking rule 3): its release
                    // is queued, so it must count as referenced from outside.
                    push_rare(&mut self.tables.pinned, e);
                }
            }
        }
        if self.opaque {
            // Could not read this object: count it as referenced from outside.
            self.opaque = false;
            push_rare(&mut self.tables.pinned, e);
        }
        // Truncation is caught once, by the caller, after the pass.
        self.tables.start.push(self.edges.len() as u32);
    }

    /// The count pass's work for an object whose value `Gc::get_mut` lent: the value may have
    /// a live `&mut`, so it is not read. Its count is taken as usual (so that the caller can
    /// tell whether the loan ended, [`PassTables::lent`]), and it counts as referenced from
    /// outside, which keeps what it holds alive too (its edges are missing: an under-report,
    /// always safe).
    ///
    /// # Safety
    /// As for [`count_object`](Self::count_object).
    #[cold]
    #[inline(never)]
    unsafe fn count_lent(&mut self, obj: ObjPtr, e: usize) {
        // SAFETY: per the caller.
        let mortal = unsafe { obj.mortal_strong() };
        if let Some(s) = mortal {
            self.add_count(e, s as i32);
        }
        push_rare(&mut self.tables.pinned, e);
        push_rare(&mut self.tables.lent, e);
        if self.hold && mortal.is_some() {
            // SAFETY: per the caller; held as every object counted while holding is.
            unsafe { self.hold_object(obj, e) };
        }
        self.tables.start.push(self.edges.len() as u32);
    }

    /// Takes the count pass's temporary reference on the object of entry `e`, and lists it
    /// if it has weak references ([`PassTables::weakly`]).
    ///
    /// # Safety
    /// The object is alive, mortal, with a count above 0, and counted while holding.
    #[inline(always)]
    unsafe fn hold_object(&mut self, obj: ObjPtr, e: usize) {
        // SAFETY: per the caller.
        unsafe { obj.inc_strong() };
        if obj.weak_count_raw() > 1 {
            push_rare(&mut self.tables.weakly, e);
        }
    }

    /// Gives the remapping table back (empty if there was none).
    pub fn take_remap(&mut self) -> Vec<u32> {
        core::mem::take(&mut self.remap)
    }

    /// A tracer that feeds this counter.
    #[inline(always)]
    pub fn tracer(&mut self) -> Tracer<'_> {
        Tracer::counting(self)
    }

    /// Adds `n` to the entry of position `i` (the object's own strong count).
    ///
    /// # Panics
    /// If `i` is not a position of the set.
    #[inline(always)]
    pub fn add_count(&mut self, i: usize, n: i32) {
        assert!(self.refs.add(i, n), "an entry of the table");
    }

    /// How many edges were recorded so far.
    #[inline(always)]
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Whether a value traced since the last call could not be read (see
    /// [`Tracer::mark_opaque`]); clears the mark.
    #[inline(always)]
    pub fn take_opaque(&mut self) -> bool {
        core::mem::take(&mut self.opaque)
    }

    /// One reported handle, to an object that has an extension (its type needs tracing).
    ///
    /// # Safety
    /// `obj`'s memory is held and it has an extension.
    #[inline(always)]
    pub(crate) unsafe fn visit_ext(&mut self, obj: ObjPtr) {
        // SAFETY: per the caller.
        unsafe {
            let Some(j) = self.layout.position_of(obj) else {
                return;
            };
            // Subtracted from `refs[j]` by `into_parts`.
            self.edges.push(j as u32);
        }
    }

    /// [`visit_ext`](Self::visit_ext) for `times` handles to one object
    /// ([`Tracer::visit_times`]): one edge, and with
    /// [`set_repeats_subtracted`](Self::set_repeats_subtracted) on, the other handles
    /// subtracted at once (otherwise each is an edge).
    ///
    /// # Safety
    /// As for `visit_ext`.
    #[inline(always)]
    pub(crate) unsafe fn visit_ext_times(&mut self, obj: ObjPtr, times: usize) {
        if times == 0 {
            return;
        }
        // SAFETY: per the caller.
        let Some(j) = (unsafe { self.layout.position_of(obj) }) else {
            return;
        };
        if self.repeats {
            self.edges.push(j as u32);
            self.refs.add(j, -((times - 1) as i32));
        } else {
            self.edges.extend(core::iter::repeat_n(j as u32, times));
        }
    }

    /// [`visit_ext`](Self::visit_ext) for a counter built [`with_remap`](Self::with_remap).
    ///
    /// Kept out of line so that the code inlined into every `Trace` impl stays small.
    ///
    /// # Safety
    /// As for `visit_ext`.
    #[inline(never)]
    pub(crate) unsafe fn visit_ext_remapped(&mut self, obj: ObjPtr) {
        // SAFETY: per the caller.
        if let Some(j) = unsafe { self.layout.position_of(obj) } {
            self.visit_remapped(j);
        }
    }

    /// Whether this counter was built [`with_remap`](Self::with_remap).
    #[inline(always)]
    pub(crate) fn remapping(&self) -> bool {
        !self.remap.is_empty()
    }

    /// The remapped count of one handle.
    #[inline(always)]
    fn visit_remapped(&mut self, j: usize) {
        // Checked: the table's entries are the caller's.
        let Some(&k) = self.remap.get(j) else {
            return;
        };
        if (k as usize) < self.refs.len() {
            // Subtracted from `refs[k]` by `into_parts`.
            self.edges.push(k);
        }
    }

    #[inline(always)]
    pub(crate) fn mark_opaque(&mut self) {
        self.opaque = true;
    }
}
