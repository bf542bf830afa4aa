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
/// edges are read once, and a set that is mostly reachable needs little work list, if the
/// walk starts from the end where what holds the rest sits. That is either end: a container
/// made before its contents sits below them, one made after them (W5's root, a tree built
/// from its leaves) above them. So the walk starts from the end whose nearest root (an
/// entry referenced from outside) is nearer; from the other end, a root holding everything
/// would put everything on the work list.
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
    let reached = match nearest_root(refs) {
        // No entry referenced from outside (nor a negative one): nothing is reached.
        None => 0,
        Some(End::Top) => walk::<true>(refs, &edges, &mut stack, &mut negative),
        Some(End::Bottom) => walk::<false>(refs, &edges, &mut stack, &mut negative),
    };
    g.stack = stack;
    (!negative).then_some(reached)
}

/// An end of the set.
enum End {
    Bottom,
    Top,
}

/// The end of the set nearer to an entry that is not 0 (referenced from outside, or
/// negative), looking a line at a time from both ends; `None` if every entry is 0.
fn nearest_root(refs: &[i32]) -> Option<End> {
    let (mut lo, mut hi) = (0, refs.len());
    while lo < hi {
        let next = (lo + UNREACHED_RUN).min(hi);
        if !line_is_zero(&refs[lo..next]) {
            return Some(End::Bottom);
        }
        lo = next;
        let below = hi.saturating_sub(UNREACHED_RUN).max(lo);
        if !line_is_zero(&refs[below..hi]) {
            return Some(End::Top);
        }
        hi = below;
    }
    None
}

/// The walk of [`mark`], from the bottom of the set upward, or with `DOWN` from the top
/// downward. Returns the number of entries it marked.
fn walk<const DOWN: bool>(
    refs: &mut [i32],
    edges: &EdgeTables<'_>,
    stack: &mut Vec<u32>,
    negative: &mut bool,
) -> usize {
    let n = refs.len();
    let mut reached = 0;
    // How many entries the cursor has passed; the cursor is at `n - 1 - passed` going down.
    let mut passed = 0;
    while passed < n {
        let i = if DOWN { n - 1 - passed } else { passed };
        let r = refs[i];
        if r == 0 {
            // Not reached (yet): if it is later, `follow` puts it on the work list. Whole
            // lines of such entries are passed over at once: in a set that is mostly
            // garbage, they are most of the table. (Only looked for from an entry that is
            // 0, so that a set mostly reached pays nothing for it.)
            let line = if DOWN {
                (i + 1).checked_sub(UNREACHED_RUN).map(|lo| lo..i + 1)
            } else {
                Some(i..i + UNREACHED_RUN)
            };
            let zero = line.and_then(|l| refs.get(l)).is_some_and(line_is_zero);
            passed += if zero { UNREACHED_RUN } else { 1 };
            continue;
        }
        if r != REACHED {
            // Referenced from outside; an entry marked ahead of the cursor was counted then.
            *negative |= r < 0;
            refs[i] = REACHED;
            reached += 1;
        }
        reached += follow::<DOWN>(refs, edges, stack, i, i, negative);
        while let Some(k) = stack.pop() {
            reached += follow::<DOWN>(refs, edges, stack, k as usize, i, negative);
        }
        passed += 1;
    }
    reached
}

/// How many count entries (one cache line of them) the mark passes over at once when none
/// is reached yet.
const UNREACHED_RUN: usize = 16;

/// Whether every entry of a line is 0 (one test for the whole line, no branch per entry).
#[inline(always)]
fn line_is_zero(line: &[i32]) -> bool {
    line.iter().fold(0, |any, &r| any | r) == 0
}

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

/// Marks the targets of `k`'s edges: those behind `cursor` (below it, or with `DOWN` above
/// it) go on the work list (their own edges are due now), those ahead of it are followed
/// when the cursor reaches them. Returns how many targets it marked, and notes in
/// `negative` a target whose count was negative.
#[inline(always)]
fn follow<const DOWN: bool>(
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
            let behind = if DOWN {
                j as usize >= cursor
            } else {
                j as usize <= cursor
            };
            if behind {
                stack.push(j);
            }
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::{End, UNREACHED_RUN, nearest_root};

    #[test]
    fn the_walk_starts_from_the_end_nearer_to_a_root() {
        let n = 10 * UNREACHED_RUN + 3;
        let mut refs = vec![0; n];
        assert!(nearest_root(&refs).is_none(), "no root: nothing to walk");
        refs[n - 1] = 1;
        assert!(matches!(nearest_root(&refs), Some(End::Top)));
        refs[2] = -1; // a negative count is looked at too
        assert!(matches!(nearest_root(&refs), Some(End::Bottom)));
        refs[2] = 0;
        refs[n - 1] = 0;
        refs[n / 2] = 1;
        assert!(nearest_root(&refs).is_some(), "found in the middle");
        assert!(nearest_root(&[]).is_none());
        assert!(matches!(nearest_root(&[7]), Some(End::Bottom)));
    }
}
