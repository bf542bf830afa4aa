//! The edge counter: the collector's count pass, built into [`Tracer`] so that the code
//! a `Trace` impl runs for each handle is compiled into the impl, not reached through a
//! `dyn Visitor` call per edge.

use crate::header::{ObjPtr, flags};
use crate::heap::{Heap, NUM_LISTS};
use crate::trace::Tracer;

/// Marks a list that is not part of the counted set.
const NOT_IN_SET: u32 = u32::MAX;

/// Where each heap list starts in a set of lists numbered as one sequence, and how many of
/// its objects belong to the set (objects appended later, for example by a `Trace` impl that
/// allocates, come after them and are not part of it).
///
/// ```
/// use refcount::{Gc, SetLayout, with_heap};
/// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
/// let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
/// assert_eq!(layout.len(), with_heap(|h| h.list_len(0)));
/// # drop(a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SetLayout {
    base: [u32; NUM_LISTS],
    len: [u32; NUM_LISTS],
    total: u32,
}

impl SetLayout {
    /// Numbers the objects of `lists` in that order; `None` if there are 2^32 - 1 or more.
    pub fn new(heap: &Heap, lists: &[usize]) -> Option<SetLayout> {
        let mut layout = SetLayout {
            base: [NOT_IN_SET; NUM_LISTS],
            len: [0; NUM_LISTS],
            total: 0,
        };
        for &l in lists {
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

    /// Position in the set of the object at `index` of list `list`, if it belongs to it.
    #[inline(always)]
    pub fn position(&self, list: usize, index: usize) -> Option<usize> {
        let base = self.base[list];
        (base != NOT_IN_SET && index < self.len[list] as usize).then(|| base as usize + index)
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
    opaque: bool,
    bad: bool,
}

impl EdgeCounter {
    /// A counter for the set `layout` describes, with one entry of `refs` per object of it,
    /// appending to `edges` (buffers are moved in so they can be reused).
    pub fn new(layout: SetLayout, refs: Vec<i32>, edges: Vec<u32>) -> Self {
        EdgeCounter {
            layout,
            refs,
            edges,
            opaque: false,
            bad: false,
        }
    }

    /// A tracer that feeds this counter.
    #[inline(always)]
    pub fn tracer(&mut self) -> Tracer<'_> {
        Tracer::counting(self)
    }

    /// The entries of `refs`.
    #[inline(always)]
    pub fn refs(&mut self) -> &mut [i32] {
        &mut self.refs
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

    /// Whether a reported handle pointed to an object whose list index lies outside the
    /// set's table: the lists are not what the layout says (only a misbehaving `Trace` impl
    /// can cause that).
    pub fn inconsistent(&self) -> bool {
        self.bad
    }

    /// One reported handle.
    #[inline(always)]
    pub(crate) fn visit(&mut self, obj: ObjPtr) {
        // SAFETY: a reported handle is owned by a live value, so its target's memory is held;
        // the extension is read only after checking that it exists.
        unsafe {
            if !obj.has_ext() {
                return;
            }
            let f = obj.ext_flags();
            if f & flags::TRACKED == 0 {
                return;
            }
            let Some(j) = self
                .layout
                .position((f & flags::LIST_MASK) as usize, obj.index())
            else {
                return;
            };
            match self.refs.get_mut(j) {
                Some(r) => {
                    *r = r.wrapping_sub(1);
                    self.edges.push(j as u32);
                }
                None => self.bad = true,
            }
        }
    }

    #[inline(always)]
    pub(crate) fn mark_opaque(&mut self) {
        self.opaque = true;
    }
}
