//! Numbering a set of heap lists as one sequence of positions.

use crate::header::{ObjPtr, flags};
use crate::heap::{Heap, NUM_LISTS};

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
