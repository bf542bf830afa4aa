//! Full collections' shortcut: choosing what dirty objects reach.

use refcount::engine::{Heap, NOT_COUNTED, ObjectOps, PREFETCH_AHEAD, SetLayout, flags};
use refcount::{ObjPtr, Tracer, Visitor};

use super::tables::SideTables;

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
pub(super) unsafe fn select(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    g: &mut SideTables,
) -> Option<usize> {
    let n = layout.len();
    let _span = tracing::debug_span!(target: "gcrt::gc", "select", objects = n).entered();
    // All `NOT_COUNTED` between collections: `SideTables::put_back` resets only the entries set
    // here, so a set of n objects costs no clearing of n entries. Chosen ones are marked 0
    // for now; `analyse` numbers them. The table grows as far as positions are chosen, and to
    // the whole set only if the selection is kept: a first collection that gives up early
    // does not touch (and fault in) an entry for every object.
    let mut selected = core::mem::take(&mut g.slot);
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
                if selected.get(i).is_some_and(|&s| s != NOT_COUNTED) {
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
                    choose(&mut selected, i);
                    g.marked.push(i as u32);
                    stack.push(i as u32);
                    // Everything it reaches, through traces (user code: frees are deferred,
                    // so the lists can only grow, and positions stay valid).
                    let mut closure = Selector {
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
                            // SAFETY: objects of the analysed lists are alive; a value lent
                            // by `Gc::get_mut` is not read (what it reaches is not chosen,
                            // so it counts as reachable).
                            unsafe {
                                if obj.ext_flags() & flags::LOANED == 0 {
                                    obj.trace(&mut Tracer::new(&mut closure));
                                }
                            }
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
        // Kept: the count pass maps every position through the table.
        if selected.len() < n {
            selected.resize(n, NOT_COUNTED);
        }
    }
    g.slot = selected;
    g.stack = stack;
    result
}

/// The visitor of [`select`]'s closure: selects every object of the set it is shown.
struct Selector<'a> {
    layout: SetLayout,
    selected: &'a mut Vec<u32>,
    marked: &'a mut Vec<u32>,
    stack: &'a mut Vec<u32>,
    count: usize,
}

impl Visitor for Selector<'_> {
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
            if self.selected.get(j).is_none_or(|&s| s == NOT_COUNTED) {
                choose(self.selected, j);
                self.marked.push(j as u32);
                self.stack.push(j as u32);
                self.count += 1;
            }
        }
    }
}

/// Marks position `p` chosen (0 until `analyse` numbers it), growing the table to cover it.
#[inline(always)]
fn choose(selected: &mut Vec<u32>, p: usize) {
    if selected.len() <= p {
        selected.resize(p + 1, NOT_COUNTED);
    }
    selected[p] = 0;
}

/// The list and index of position `p` of the set `layout` numbers (lists in the order of
/// `from`), if it is in the set.
pub(super) fn place_of(from: &[usize], layout: SetLayout, p: usize) -> Option<(usize, usize)> {
    from.iter().find_map(|&l| {
        let r = layout.range(l);
        r.contains(&p).then(|| (l, p - r.start))
    })
}

/// The object at position `p` of the set `layout` numbers.
pub(super) fn object_at(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    p: usize,
) -> Option<ObjPtr> {
    place_of(from, layout, p).and_then(|(l, k)| heap.list_get(l, k))
}
