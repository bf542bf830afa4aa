//! The edge counter: the collector's count pass, built into [`Tracer`] so that the code
//! a `Trace` impl runs for each handle is compiled into the impl, not reached through a
//! `dyn Visitor` call per edge.

use crate::header::{ObjPtr, flags};
use crate::heap::{Heap, NUM_LISTS, PREFETCH_AHEAD};
use crate::trace::{Trace, Tracer};

/// Where each heap list starts in a set of lists numbered as one sequence, and how many of
/// its objects belong to the set (objects appended later, for example by a `Trace` impl that
/// allocates, come after them and are not part of it). Lists outside the set have none.
///
/// ```
/// use refcount::Gc;
/// use refcount::engine::{SetLayout, with_heap};
/// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
/// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
/// assert_eq!(layout.len(), with_heap(|h| h.list_len(0)));
/// assert_eq!(layout.position(1, 0), None);
/// # drop(a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SetLayout {
    base: [u32; LIST_SLOTS],
    len: [u32; LIST_SLOTS],
    total: u32,
}

/// One entry per value the list bits of an object's flags can take (more than there are
/// lists), so that looking up an object's list needs no bounds check.
const LIST_SLOTS: usize = flags::LIST_MASK as usize + 1;
const _: () = assert!(LIST_SLOTS >= NUM_LISTS);

impl SetLayout {
    /// Numbers the objects of `lists` in that order; `None` if there are 2^32 - 1 or more,
    /// or a list is named twice.
    pub fn new(heap: &Heap, lists: &[usize]) -> Option<SetLayout> {
        let mut layout = SetLayout {
            base: [0; LIST_SLOTS],
            len: [0; LIST_SLOTS],
            total: 0,
        };
        let mut seen = 0u32;
        for &l in lists {
            if seen & 1 << l != 0 {
                return None;
            }
            seen |= 1 << l;
            let len = u32::try_from(heap.list_len(l)).ok()?;
            layout.base[l] = layout.total;
            layout.len[l] = len;
            layout.total = layout.total.checked_add(len).filter(|&n| n != u32::MAX)?;
        }
        Some(layout)
    }

    /// Number of objects in the set.
    pub fn len(&self) -> usize {
        self.total as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many objects of list `list` belong to the set.
    pub fn list_len(&self, list: usize) -> usize {
        self.len[list] as usize
    }

    /// The positions of list `list`'s objects in the set.
    pub fn range(&self, list: usize) -> core::ops::Range<usize> {
        let base = self.base[list] as usize;
        base..base + self.len[list] as usize
    }

    /// The indices in list `list` of its objects whose positions are in `positions` (an
    /// empty range if none are).
    ///
    /// ```
    /// use refcount::Gc;
    /// use refcount::engine::{SetLayout, with_heap};
    /// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let n = layout.len();
    /// assert_eq!(layout.indices_in(0, 0..n + 5), 0..n);
    /// assert!(layout.indices_in(0, n..n + 5).is_empty());
    /// assert!(layout.indices_in(1, 0..n).is_empty()); // list 1 is not in the set
    /// # drop(a);
    /// ```
    pub fn indices_in(
        &self,
        list: usize,
        positions: core::ops::Range<usize>,
    ) -> core::ops::Range<usize> {
        let r = self.range(list);
        let (start, end) = (r.start.max(positions.start), r.end.min(positions.end));
        if start < end {
            start - r.start..end - r.start
        } else {
            0..0
        }
    }

    /// Position in the set of the object at `index` of list `list`, if it belongs to it.
    #[inline(always)]
    pub fn position(&self, list: usize, index: usize) -> Option<usize> {
        (index < self.len[list] as usize).then(|| self.base[list] as usize + index)
    }

    /// Position in the set of a tracked object with an extension, if it belongs to the set.
    ///
    /// # Safety
    /// `obj`'s memory is held and it has an extension.
    #[inline(always)]
    pub unsafe fn position_of(&self, obj: ObjPtr) -> Option<usize> {
        // SAFETY: per the caller.
        unsafe {
            let f = obj.ext_flags();
            if f & flags::TRACKED == 0 {
                return None;
            }
            self.position((f & flags::LIST_MASK) as usize, obj.index())
        }
    }
}

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
    refs: Vec<i32>,
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
    /// The edges already subtracted from the counts ([`subtract_within`]), except those to
    /// the targets listed in `cross`, which are still to be subtracted.
    ///
    /// [`subtract_within`]: EdgeCounter::subtract_within
    presub: core::ops::Range<usize>,
    cross: Vec<u32>,
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
}

/// Appends to one of the count pass's rare lists (pinned, special, weakly): out of line, so
/// that the loop compiled for each type keeps only its common path.
#[cold]
#[inline(never)]
fn push_rare(list: &mut Vec<u32>, e: usize) {
    list.push(e as u32);
}

/// Subtracts one from the entry of each target (every recorded target is an entry of the
/// counts: checked where it was recorded, and here again).
fn subtract<'a>(refs: &mut [i32], targets: impl Iterator<Item = &'a u32>) {
    for &j in targets {
        if let Some(r) = refs.get_mut(j as usize) {
            *r = r.wrapping_sub(1);
        }
    }
}

/// The targets of a counter's edges that are still to be subtracted: those outside the
/// range `presub` already subtracted, and those noted in `cross` when it was.
fn unsubtracted<'a>(
    edges: &'a [u32],
    presub: &core::ops::Range<usize>,
    cross: &'a [u32],
) -> impl Iterator<Item = &'a u32> {
    edges[..presub.start]
        .iter()
        .chain(&edges[presub.end..])
        .chain(cross)
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
        EdgeCounter::part(layout, refs, edges)
    }

    /// A counter for the objects of the set `layout` describes from some position `base` on:
    /// entry `e` of `refs` (and of the [`PassTables`]) is position `base + e`; the edges
    /// record positions in the whole set, as [`new`](Self::new)'s do. So that the count
    /// pass can be split between threads, each filling its own tables.
    ///
    /// ```
    /// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let counter = EdgeCounter::part(layout, Vec::new(), Vec::new());
    /// assert_eq!(counter.edge_count(), 0);
    /// ```
    pub fn part(layout: SetLayout, refs: Vec<i32>, edges: Vec<u32>) -> Self {
        EdgeCounter {
            layout,
            refs,
            edges,
            remap: Vec::new(),
            tables: PassTables::default(),
            opaque: false,
            hold: false,
            presub: 0..0,
            cross: Vec::new(),
        }
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
            ..EdgeCounter::part(layout, refs, edges)
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
        if k >= end {
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
        if k >= end || self.remapping() {
            return 0;
        }
        let Some(first) = objs.get(k) else {
            return 0;
        };
        // SAFETY: per the caller; the descriptor's loop is compiled for the object's type.
        unsafe { first.count_pure(self, objs, k, end, entry) }
    }

    /// The loop of [`count_entries`](Self::count_entries) for objects of type `T`, which is
    /// the type of the object at `k` (the type descriptor holds it for `T`).
    ///
    /// # Safety
    /// As for `count_entries`, and the object at `k` exists and is a `T`.
    pub(crate) unsafe fn count_run<T: Trace + 'static>(
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
    pub(crate) unsafe fn count_pure_run<T: Trace + 'static>(
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

    /// The count pass's work for one object of type `T`, entry `e` of the tables.
    ///
    /// # Safety
    /// `obj` is alive and tracked, of type `T`, and frees are deferred.
    #[inline(always)]
    unsafe fn count_object<T: Trace + 'static>(&mut self, obj: ObjPtr, e: usize) {
        // SAFETY: per the caller.
        unsafe {
            if obj.ext_flags() & (flags::HAS_WEAKREF_CB | flags::HAS_FINALIZER) != 0 {
                push_rare(&mut self.tables.special, e);
            }
            let mortal = obj.mortal_strong();
            if let Some(s) = mortal {
                self.add_count(e, s as i32);
            } else {
                // 0: queued for release, so keep it (and what it holds) alive until its
                // destructor runs. Immortal: always reachable.
                push_rare(&mut self.tables.pinned, e);
            }
            (*obj.value::<T>()).trace(&mut self.tracer());
            if self.hold {
                // After the trace: an object whose trace panicked holds nothing. Only a trace
                // that runs user code can have changed the count meanwhile.
                let now = if T::pure_trace() {
                    mortal
                } else {
                    obj.mortal_strong()
                };
                if now.is_some() {
                    obj.inc_strong();
                    if obj.weak_count_raw() > 1 {
                        push_rare(&mut self.tables.weakly, e);
                    }
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

    /// Takes in the results of a [`part`](Self::part) counter that counted the positions
    /// `base..base + n` of the set, `n` being how many entries `part` completed, when this
    /// counter has counted exactly the positions before `base`: afterwards this counter
    /// reads as if it had counted them itself. Returns the part's buffers (emptied) for
    /// reuse: its counts, its edges and its tables.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let n = objs.len();
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let mut whole = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// let mut part = EdgeCounter::part(layout, vec![0; 1], Vec::new());
    /// // SAFETY: nothing changes or frees the objects meanwhile.
    /// unsafe {
    ///     assert_eq!(whole.count_pure_entries(&objs, 0, n - 1, 0), n - 1);
    ///     assert_eq!(part.count_pure_entries(&objs, n - 1, n, 0), 1);
    /// }
    /// whole.absorb(part, n - 1);
    /// assert_eq!(whole.take_pass_tables().start.len(), n + 1);
    /// let (refs, edges) = whole.into_parts();
    /// assert_eq!((refs[n - 2], refs[n - 1]), (1, 1));
    /// assert_eq!(edges, vec![(n - 2) as u32]);
    /// # drop((a, b));
    /// ```
    ///
    /// # Panics
    /// If this counter has not counted exactly the positions before `base`, or `part`'s
    /// entries do not fit the set from `base` on.
    pub fn absorb(&mut self, part: EdgeCounter, base: usize) -> (Vec<i32>, Vec<u32>, PassTables) {
        self.take_counts_in(&part, base, false);
        let offset = self.edges.len();
        if !part.presub.is_empty() {
            // One range of edges already subtracted: this counter's, if it has one, must
            // reach up to the part's, so the edges in between are subtracted now (into the
            // counts just taken in).
            if self.presub.is_empty() {
                self.presub = offset..offset;
            } else {
                subtract(&mut self.refs, self.edges[self.presub.end..].iter());
            }
            self.presub.end = offset + part.presub.end;
            self.presub.start = self.presub.start.min(offset + part.presub.start);
        }
        self.cross.extend_from_slice(&part.cross);
        self.edges.extend_from_slice(&part.edges);
        // Offsets past `u32::MAX` wrap here; the caller's check of the edge count catches
        // them, as it does for edges counted in one piece.
        let offset = offset as u32;
        let start = &mut self.tables.start;
        start.extend(part.tables.start.iter().map(|&s| s.wrapping_add(offset)));
        part.into_buffers()
    }

    /// What [`absorb`](Self::absorb) and [`absorb_last`](Self::absorb_last) share: checks
    /// that `part` continues this counter at `base` (and, with `to_end`, covers the set to
    /// its end), and takes in its counts and its rare lists, shifted to the set's positions.
    fn take_counts_in(&mut self, part: &EdgeCounter, base: usize, to_end: bool) {
        let done = part.tables.start.len();
        assert_eq!(
            self.tables.start.len(),
            base + 1,
            "the counter has counted the positions before the part's"
        );
        assert!(
            done <= part.refs.len() && base + done <= self.refs.len(),
            "the part's entries fit the set"
        );
        assert!(
            !to_end || base + done == self.refs.len(),
            "the part's entries cover the set from its base on"
        );
        self.refs[base..base + done].copy_from_slice(&part.refs[..done]);
        let shift = |from: &[u32], to: &mut Vec<u32>| {
            to.extend(from.iter().map(|&e| e + base as u32));
        };
        shift(&part.tables.pinned, &mut self.tables.pinned);
        shift(&part.tables.special, &mut self.tables.special);
        shift(&part.tables.weakly, &mut self.tables.weakly);
    }

    /// [`absorb`](Self::absorb) for a part that counted every position of the set from
    /// `base` on, without copying its edges: they stay where the part recorded them, and are
    /// returned with the part's `start` table: the edges of position `base + k` are
    /// `edges[s..start[k]]`, where `s` is `start[k - 1]` (0 for `k == 0`). Afterwards this
    /// counter's counts and per-object tables read as if it had counted those positions
    /// itself, but its own edge table and `start` cover only the positions before `base`
    /// (so it cannot count further). The other buffers returned (the part's counts and
    /// rare lists) are emptied. For 1,000,000 objects split in two, this saves copying 4 MB.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let n = objs.len();
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let mut whole = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// let mut part = EdgeCounter::part(layout, vec![0; 1], Vec::new());
    /// // SAFETY: nothing changes or frees the objects meanwhile.
    /// unsafe {
    ///     assert_eq!(whole.count_pure_entries(&objs, 0, n - 1, 0), n - 1);
    ///     assert_eq!(part.count_pure_entries(&objs, n - 1, n, 0), 1);
    /// }
    /// let (_, part_edges, part_tables) = whole.absorb_last(part, n - 1);
    /// // `b`, the last object, has one edge, to `a`.
    /// assert_eq!((part_tables.start, part_edges), (vec![1], vec![(n - 2) as u32]));
    /// assert_eq!(whole.take_pass_tables().start.len(), n);
    /// let (refs, edges) = whole.into_parts();
    /// assert_eq!((refs[n - 2], refs[n - 1]), (1, 1));
    /// assert!(edges.is_empty());
    /// # drop((a, b));
    /// ```
    ///
    /// # Panics
    /// If this counter has not counted exactly the positions before `base`, or `part`'s
    /// entries do not cover the set from `base` to its end.
    pub fn absorb_last(
        &mut self,
        mut part: EdgeCounter,
        base: usize,
    ) -> (Vec<i32>, Vec<u32>, PassTables) {
        self.take_counts_in(&part, base, true);
        // What the part has not subtracted yet is subtracted now, from the counts just taken
        // in: this counter keeps no record of the part's edges.
        subtract(
            &mut self.refs,
            unsubtracted(&part.edges, &part.presub, &part.cross),
        );
        let mut tables = part.take_pass_tables();
        tables.pinned.clear();
        tables.special.clear();
        tables.weakly.clear();
        part.refs.clear();
        (part.refs, part.edges, tables)
    }

    /// Gives back this counter's buffers emptied, without subtracting anything, for reuse:
    /// its counts, its edges and its tables.
    ///
    /// ```
    /// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let (refs, edges, tables) = EdgeCounter::part(layout, vec![3; 4], vec![1]).into_buffers();
    /// assert!(refs.is_empty() && edges.is_empty() && tables.start.is_empty());
    /// ```
    pub fn into_buffers(mut self) -> (Vec<i32>, Vec<u32>, PassTables) {
        let mut tables = self.take_pass_tables();
        tables.start.clear();
        tables.pinned.clear();
        tables.special.clear();
        tables.weakly.clear();
        self.refs.clear();
        self.edges.clear();
        (self.refs, self.edges, tables)
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

    /// Sets the entries of the positions `positions` to 0 (for a [`part`](Self::part)
    /// counter, the positions counted from its first one), so that a caller can hand in a
    /// count table without zeroing it and zero only the entries it counts into, once a
    /// helper thread is on its way.
    ///
    /// ```
    /// use refcount::engine::{EdgeCounter, SetLayout, with_heap};
    /// # let _keep = refcount::Gc::new(core::cell::RefCell::new(None::<refcount::Gc<u8>>));
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let mut counter = EdgeCounter::new(layout, vec![7; layout.len()], Vec::new());
    /// counter.zero_counts(0..layout.len());
    /// assert!(counter.into_parts().0.iter().all(|&r| r == 0));
    /// ```
    ///
    /// # Panics
    /// If the range does not fit the counter's entries.
    pub fn zero_counts(&mut self, positions: core::ops::Range<usize>) {
        self.refs[positions].fill(0);
    }

    /// Adds `n` to the entry of position `i` (the object's own strong count).
    ///
    /// # Panics
    /// If `i` is not a position of the set.
    #[inline(always)]
    pub fn add_count(&mut self, i: usize, n: i32) {
        let r = &mut self.refs[i];
        *r = r.wrapping_add(n);
    }

    /// Subtracts now the edges recorded so far whose targets are the positions `positions`,
    /// from the entries of those positions (counted from position `base`: 0 for a counter
    /// of the whole set, the first position of a [`part`](Self::part)); the other edges'
    /// targets are noted and subtracted by [`into_parts`](Self::into_parts), with the edges
    /// recorded later. So that each thread of a split count pass subtracts its own share.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// use refcount::engine::{EdgeCounter, PassTables, SetLayout, with_heap};
    ///
    /// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
    /// let b = Gc::new(RefCell::new(Some(a.clone())));
    /// let objs = with_heap(|h| h.list_snapshot(0));
    /// let n = objs.len();
    /// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    /// let tables = PassTables { start: vec![0], ..PassTables::default() };
    /// let mut counter = EdgeCounter::new(layout, vec![0; n], Vec::new()).with_pass_tables(tables);
    /// // SAFETY: nothing changes or frees the objects meanwhile.
    /// unsafe { counter.count_pure_entries(&objs, n - 1, n, n - 1) };
    /// counter.subtract_within(0..n, 0);
    /// let (refs, edges) = counter.into_parts(); // subtracts nothing twice
    /// assert_eq!((refs[n - 2], edges.len()), (-1, 1));
    /// # drop((a, b));
    /// ```
    ///
    /// # Panics
    /// If called twice on one counter, or `base` is past the start of `positions`.
    pub fn subtract_within(&mut self, positions: core::ops::Range<usize>, base: usize) {
        assert!(
            self.presub.is_empty() && self.cross.is_empty(),
            "subtracted once per counter"
        );
        assert!(
            base <= positions.start,
            "the positions start at or after the base"
        );
        let EdgeCounter {
            refs, edges, cross, ..
        } = self;
        for &j in edges.iter() {
            let own = positions.contains(&(j as usize));
            match refs.get_mut((j as usize).wrapping_sub(base)) {
                Some(r) if own => *r = r.wrapping_sub(1),
                _ => cross.push(j),
            }
        }
        self.presub = 0..self.edges.len();
    }

    /// Gives the buffers back: `refs` and `edges`.
    pub fn into_parts(mut self) -> (Vec<i32>, Vec<u32>) {
        // The references each handle stands for are subtracted here, in one pass over the
        // edges, rather than as each handle is reported: the count pass then writes nothing
        // but the edge for each handle, and this loop has no other work in its way.
        let EdgeCounter {
            refs,
            edges,
            presub,
            cross,
            ..
        } = &mut self;
        subtract(refs, unsubtracted(edges, presub, cross));
        (self.refs, self.edges)
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
