//! The side tables of one analysis, kept per thread between collections.

use refcount::ObjPtr;
use refcount::engine::NOT_COUNTED;

use crate::parallel::PartBuffers;

/// The collector's side tables for one analysis, indexed by position in the analysed list.
/// Kept per thread between collections so that a collection allocates nothing once they
/// have grown to the heap's size.
#[derive(Default)]
pub(crate) struct SideTables {
    /// Strong count minus references found inside the set; [`REACHED`] once marked.
    pub(super) refs: Vec<i32>,
    /// Edges of object `i`: `edges[start[i]..start[i + 1]]`, as positions (before
    /// `tail_from`: see [`EdgeTables`]).
    pub(super) start: Vec<u32>,
    pub(super) edges: Vec<u32>,
    /// Objects that count as referenced from outside whatever their count says: queued for
    /// release (count 0), immortal, or unreadable (a mutably borrowed `RefCell`).
    pub(super) pinned: Vec<u32>,
    /// Objects with a finalizer or weak-reference callbacks.
    pub(super) special: Vec<u32>,
    /// Held objects (see [`HOLD_LIST`]) with weak references.
    pub(super) weakly: Vec<u32>,
    /// Objects whose value `Gc::get_mut` lent (see `PassTables::lent`).
    pub(super) lent: Vec<u32>,
    /// How many objects of [`HOLD_LIST`] the count pass held (the first ones of the list).
    pub(super) held: usize,
    /// The marking work list.
    pub(super) stack: Vec<u32>,
    /// The garbage set apart by [`Heap::doom`].
    pub(super) garbage: Vec<ObjPtr>,
    /// Full collections: for each position of the set, [`NOT_COUNTED`], or its entry in
    /// the side tables when [`select`] chose it (`marked` lists those positions, in order
    /// once numbered). All [`NOT_COUNTED`] between collections: only the entries set are
    /// reset, so a large set with a few chosen objects costs tables of their size.
    pub(super) slot: Vec<u32>,
    pub(super) marked: Vec<u32>,
    /// The size of the set the last [`select`] saw (what `slot` must cover).
    pub(super) selected_from: usize,
    /// The helper thread's tables, when the count pass is split; after a pass whose helper
    /// counted the set from `tail_from` to its end, the edges and `start` table of those
    /// positions ([`EdgeCounter::absorb_last`]).
    pub(super) part: PartBuffers,
    /// The first position whose edges are in `part` (`None`: all are in `edges`).
    pub(super) tail_from: Option<usize>,
}

/// Marks an entry of [`SideTables::refs`] as reached (counts are never negative after a
/// consistent count pass).
pub(super) const REACHED: i32 = i32::MIN;

/// Above this many entries, a buffer more than eight times larger than the last analysis
/// needed is given back to the allocator.
const KEEP_ENTRIES: usize = 1 << 20;

thread_local! {
    static GRAPH: core::cell::Cell<SideTables> = core::cell::Cell::new(SideTables::default());
}

impl SideTables {
    /// The thread's buffers (fresh ones if they are in use or gone).
    pub(super) fn take() -> SideTables {
        GRAPH.try_with(|g| g.take()).unwrap_or_default()
    }

    /// Returns the buffers, the garbage emptied, for the next analysis.
    pub(super) fn put_back(mut self) {
        for &p in &self.marked {
            self.slot[p as usize] = NOT_COUNTED;
        }
        self.marked.clear();
        // Nothing is held between analyses (an analysis that counts nothing reads it too).
        self.held = 0;
        self.tail_from = None;
        let n = self.refs.len();
        trim(&mut self.refs, n);
        trim(&mut self.start, n);
        trim(&mut self.edges, n);
        trim(&mut self.stack, n);
        // Emptied, not just shrunk: `select` refills it with `NOT_COUNTED` as it grows.
        trim(&mut self.slot, self.selected_from);
        trim(&mut self.marked, n);
        trim(&mut self.part.edges, n / 2);
        trim(&mut self.part.tables.start, n / 2);
        let garbage = self.garbage.len();
        self.garbage.clear();
        trim(&mut self.garbage, garbage);
        let _ = GRAPH.try_with(|g| g.set(self));
    }
}

/// Gives back most of a buffer that is far larger than the last use needed.
fn trim<T>(v: &mut Vec<T>, used: usize) {
    if v.capacity() > KEEP_ENTRIES && v.capacity() / 8 > used {
        v.clear();
        v.shrink_to(used);
    }
}
