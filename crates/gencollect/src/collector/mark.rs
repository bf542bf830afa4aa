//! Step 3, the mark: what is referenced from outside, and everything it reaches along the
//! recorded edges, is reachable.

use super::tables::{REACHED, SideTables};

/// Step 3: marks every entry reachable from outside as [`REACHED`], along the recorded edges.
/// Returns the number of entries reached, or `None` if a count was negative (a `Trace` impl
/// reported handles it does not own).
///
/// Like CPython's `move_unreachable`, the walk goes through the set in order: an object
/// reached ahead of the cursor is only marked, and its edges are followed when the cursor
/// gets there; only objects reached behind the cursor go on the work list. Each object's
/// edges are read once, and a set that is mostly reachable needs almost no work list.
pub(super) fn mark(g: &mut SideTables) -> Option<usize> {
    // Plain slices and a local work list, so that the loops keep them in registers.
    let mut stack = core::mem::take(&mut g.stack);
    stack.clear();
    // An entry goes on the work list at most once: reserved whole (address space only), the
    // list never grows by doubling, which in a first collection copies it and faults in each
    // old copy too.
    stack.reserve(g.refs.len());
    let refs: &mut [i32] = &mut g.refs;
    let edges = EdgeTables {
        start: &g.start,
        edges: &g.edges,
        tail_from: g.tail_from.unwrap_or(usize::MAX),
        last: refs.len().wrapping_sub(1),
        tail_ends: &g.part.tables.start,
        tail_edges: &g.part.edges,
    };
    // A negative count is checked where each entry is first read or overwritten (here, at
    // the cursor, or in `follow`), so that no separate pass looks for one.
    let mut negative = false;
    // Pinned objects count as referenced from outside.
    for &p in &g.pinned {
        let r = &mut refs[p as usize];
        negative |= *r < 0;
        if *r == 0 {
            *r = 1;
        }
    }
    let mut reached = 0;
    let mut i = 0;
    while i < refs.len() {
        // Whole lines of entries not reached (yet) are passed over at once: in a set that
        // is mostly garbage, they are most of the table.
        if let Some(line) = refs.get(i..i + UNREACHED_RUN)
            && line.iter().fold(0, |any, &r| any | r) == 0
        {
            i += UNREACHED_RUN;
            continue;
        }
        let r = refs[i];
        if r == 0 {
            // Not reached (yet): if it is later, `follow` puts it on the work list.
            i += 1;
            continue;
        }
        if r != REACHED {
            // Referenced from outside; an entry marked ahead of the cursor was counted then.
            negative |= r < 0;
            refs[i] = REACHED;
            reached += 1;
        }
        reached += follow(refs, &edges, &mut stack, i, i, &mut negative);
        while let Some(k) = stack.pop() {
            reached += follow(refs, &edges, &mut stack, k as usize, i, &mut negative);
        }
        i += 1;
    }
    g.stack = stack;
    (!negative).then_some(reached)
}

/// How many count entries (one cache line of them) the mark passes over at once when none
/// is reached yet.
const UNREACHED_RUN: usize = 16;

/// The recorded edges of every position: those before `tail_from` in the counter's tables,
/// the others where the helper recorded them, downward from the top
/// ([`EdgeCounter::absorb_last`]).
struct EdgeTables<'a> {
    start: &'a [u32],
    edges: &'a [u32],
    tail_from: usize,
    /// The set's last position.
    last: usize,
    /// The end of each tail position's edges in `tail_edges`, downward from the set's last
    /// position (each starts where the one above it ends; the last position's at 0).
    tail_ends: &'a [u32],
    tail_edges: &'a [u32],
}

impl<'a> EdgeTables<'a> {
    /// The targets of position `k`'s edges.
    #[inline(always)]
    fn of(&self, k: usize) -> &'a [u32] {
        if k < self.tail_from {
            &self.edges[self.start[k] as usize..self.start[k + 1] as usize]
        } else {
            let t = self.last - k;
            let lo = if t == 0 { 0 } else { self.tail_ends[t - 1] };
            &self.tail_edges[lo as usize..self.tail_ends[t] as usize]
        }
    }
}

/// Marks the targets of `k`'s edges: those behind `cursor` go on the work list (their own
/// edges are due now), those ahead of it are followed when the cursor reaches them. Returns
/// how many targets it marked, and notes in `negative` a target whose count was negative.
#[inline(always)]
fn follow(
    refs: &mut [i32],
    edges: &EdgeTables<'_>,
    stack: &mut Vec<u32>,
    k: usize,
    cursor: usize,
    negative: &mut bool,
) -> usize {
    let mut marked = 0;
    for &j in edges.of(k) {
        let r = &mut refs[j as usize];
        if *r != REACHED {
            *negative |= *r < 0;
            *r = REACHED;
            marked += 1;
            if (j as usize) <= cursor {
                stack.push(j);
            }
        }
    }
    marked
}
