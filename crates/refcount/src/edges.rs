//! The edge counter: the collector's count pass, built into [`Tracer`] so that the code
//! a `Trace` impl runs for each handle is compiled into the impl, not reached through a
//! `dyn Visitor` call per edge.

use crate::header::{ObjPtr, flags};
use crate::heap::{Heap, NUM_LISTS};
use crate::trace::Tracer;

/// Where each heap list starts in a set of lists numbered as one sequence, and how many of
/// its objects belong to the set (objects appended later, for example by a `Trace` impl that
/// allocates, come after them and are not part of it). Lists outside the set have none.
///
/// ```
/// use refcount::{Gc, SetLayout, with_heap};
/// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
/// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
/// assert_eq!(layout.len(), with_heap(|h| h.list_len(0)));
/// assert_eq!(layout.position(1, 0), None);
/// # drop(a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SetLayout {
    base: [u32; NUM_LISTS],
    len: [u32; NUM_LISTS],
    total: u32,
}

impl SetLayout {
    /// Numbers the objects of `lists` in that order; `None` if there are 2^32 - 1 or more,
    /// or a list is named twice.
    pub fn new(heap: &Heap, lists: &[usize]) -> Option<SetLayout> {
        let mut layout = SetLayout {
            base: [0; NUM_LISTS],
            len: [0; NUM_LISTS],
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
/// use refcount::{EdgeCounter, Gc, SetLayout, with_heap};
///
/// let a = Gc::new(RefCell::new(None::<Gc<u8>>));
/// let b = Gc::new(RefCell::new(Some(a.clone())));
/// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
/// let mut counter = EdgeCounter::new(layout, vec![0; layout.len()], Vec::new());
/// // SAFETY: `b` is alive.
/// unsafe { Gc::as_obj(&b).trace(&mut counter.tracer()) };
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
    opaque: bool,
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
        EdgeCounter {
            layout,
            refs,
            edges,
            remap: Vec::new(),
            opaque: false,
        }
    }

    /// A counter for a subset of the set `layout` describes: position `p` counts in entry
    /// `remap[p]` of `refs` (and is recorded as that entry in `edges`), or not at all if it
    /// is [`NOT_COUNTED`]. So that a few objects of a large set cost tables of their size.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::{EdgeCounter, Gc, NOT_COUNTED, SetLayout, with_heap};
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
    /// unsafe { Gc::as_obj(&b).trace(&mut counter.tracer()) };
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
            layout,
            refs,
            edges,
            remap,
            opaque: false,
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
        let r = &mut self.refs[i];
        *r = r.wrapping_add(n);
    }

    /// Gives the buffers back: `refs` and `edges`.
    pub fn into_parts(self) -> (Vec<i32>, Vec<u32>) {
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
            if !self.remap.is_empty() {
                self.visit_remapped(j);
                return;
            }
            // SAFETY: `position` is below the set's size, which is `refs.len()` (checked in
            // `new`; the field is never replaced).
            let r = self.refs.get_unchecked_mut(j);
            *r = r.wrapping_sub(1);
            self.edges.push(j as u32);
        }
    }

    /// [`visit_ext`](Self::visit_ext) for a counter built [`with_remap`](Self::with_remap),
    /// kept out of line so that the whole-set pass stays small.
    #[inline(never)]
    fn visit_remapped(&mut self, j: usize) {
        // Checked: the table's entries are the caller's.
        let Some(&k) = self.remap.get(j) else {
            return;
        };
        if let Some(r) = self.refs.get_mut(k as usize) {
            *r = r.wrapping_sub(1);
            self.edges.push(k);
        }
    }

    #[inline(always)]
    pub(crate) fn mark_opaque(&mut self) {
        self.opaque = true;
    }
}
