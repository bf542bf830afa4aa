//! A hostile user against the split count pass (`gencollect::set_parallel`): the collecting
//! thread claims chunks of positions from the bottom of the set, a helper thread from the
//! top, both stop at the first object whose trace is user code, and the collecting thread
//! counts what lies between afterwards. Everything here is safe code, plus hand-written
//! `Trace` impls that keep the trait's contract (one of them allocates and may panic, as
//! the contract allows). Every collection is checked against a reference model of
//! reachability: the exact number it returns, which node was dropped (each exactly once)
//! and the strong count of every node that lives, read through weak handles.
//!
//! Sets span the three generation lists (a full collection analyses lists 2, 1 and 0 as one
//! sequence of positions), so chunk boundaries cross list boundaries, and nodes of many
//! types alternate in short runs.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::thread::ThreadId;

use gcrt_derive::Trace;
use refcount::{Gc, Trace, Tracer, Weak, coerce_gc};

#[path = "../common/mod.rs"]
mod common;

/// A handle to a node of any type.
type Handle = Gc<dyn Node>;

/// Ids from here on are nodes made by destructors, outside any world.
const SPAWN_BASE: u32 = 1 << 30;

thread_local! {
    /// The id of every node dropped, in order.
    static DROPPED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// Impure nodes that were traced on another thread than the one that made them.
    static OFF_THREAD: Cell<usize> = const { Cell::new(0) };
    /// The next id of a node made by a destructor.
    static NEXT_SPAWN: Cell<u32> = const { Cell::new(SPAWN_BASE) };
    /// Handles that destructors of garbage take and drop.
    static STASH: RefCell<Vec<Handle>> = const { RefCell::new(Vec::new()) };
    /// What `gencollect::collect` returned when a destructor called it.
    static NESTED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// How many destructors could upgrade a weak handle to another garbage node.
    static UPGRADED: Cell<usize> = const { Cell::new(0) };
    /// The id of every node whose finalizer ran, in order.
    static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// The id of the target of every weak-reference callback that ran, in order.
    static FIRED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn note_drop(id: u32) {
    let _ = DROPPED.try_with(|d| d.borrow_mut().push(id));
}

fn dropped_len() -> usize {
    DROPPED.with(|d| d.borrow().len())
}

/// How many nodes made by destructors were dropped.
fn spawned_dropped() -> usize {
    DROPPED.with(|d| d.borrow().iter().filter(|&&id| id >= SPAWN_BASE).count())
}

/// Whether the helper can run here (under Miri: with `-Zmiri-num-cpus=2`).
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// What the tests do with a node, whatever its type.
trait Node: Trace {
    fn id(&self) -> u32;
    /// Adds a handle to the node's edges.
    fn link(&self, to: Handle);
    /// Takes every edge out.
    fn take_out(&self) -> Vec<Handle>;
    /// The edges, for the node types that keep them in one `RefCell<Vec<_>>`.
    fn vec_out(&self) -> Option<&RefCell<Vec<Handle>>> {
        None
    }
    /// The same through `&mut` (a value `Gc::get_mut` lent).
    fn vec_out_mut(&mut self) -> Option<&mut Vec<Handle>> {
        None
    }
    /// The node if it is an [`Imp`].
    fn imp(&self) -> Option<&Imp> {
        None
    }
}

/// Node types whose trace is derived, so pure: one type per `K`.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Pv<const K: usize> {
    id: u32,
    out: RefCell<Vec<Handle>>,
}

impl<const K: usize> Node for Pv<K> {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        self.out.borrow_mut().push(to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut())
    }
    fn vec_out(&self) -> Option<&RefCell<Vec<Handle>>> {
        Some(&self.out)
    }
    fn vec_out_mut(&mut self) -> Option<&mut Vec<Handle>> {
        Some(self.out.get_mut())
    }
}

impl<const K: usize> Drop for Pv<K> {
    fn drop(&mut self) {
        note_drop(self.id);
    }
}

/// Pure, its edges in a `VecDeque`, behind some padding.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Dq {
    id: u32,
    pad: [u64; 3],
    out: RefCell<VecDeque<Handle>>,
}

/// Pure, its edges the values of a `BTreeMap`.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Bt {
    id: u32,
    out: RefCell<BTreeMap<u32, Handle>>,
}

/// Pure, its edges the values of a `HashMap`.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Hm {
    id: u32,
    out: RefCell<HashMap<u32, Handle>>,
}

/// Pure, its first edge in an `Option`, the others in a vector of options.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Op {
    id: u32,
    first: RefCell<Option<Handle>>,
    rest: RefCell<Vec<Option<Handle>>>,
}

/// Pure, an enum whose variants differ in size.
#[derive(Trace)]
#[trace(crate = "refcount")]
enum En {
    Short {
        id: u32,
        out: RefCell<Vec<Handle>>,
    },
    Long {
        id: u32,
        pad: [u64; 4],
        out: RefCell<Vec<Handle>>,
    },
}

/// A hand-written trace that says it is pure, honestly: it runs only `Tracer` methods and
/// the trace of a pure type.
struct Hp {
    id: u32,
    out: RefCell<Vec<Handle>>,
}

// SAFETY: reports exactly the handles `out` owns, once each; runs nothing but `Tracer`
// methods and the pure trace of `RefCell<Vec<Handle>>` (rule 5).
unsafe impl Trace for Hp {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.labeled("out", |t| self.out.trace(t));
    }
    fn pure_trace() -> bool {
        true
    }
}

/// A hand-written trace that is user code (`pure_trace` keeps its default): it notes which
/// thread traced it and how often, allocates and drops an unrelated object, and panics while
/// `panic` is set.
struct Imp {
    id: u32,
    out: RefCell<Vec<Handle>>,
    owner: ThreadId,
    panic: Cell<bool>,
    traced: Cell<usize>,
    off_thread: Cell<usize>,
}

// SAFETY: reports exactly the handles `out` owns, once each. Allocating and panicking are
// allowed by rule 3; the object it allocates is dropped before `trace` returns.
unsafe impl Trace for Imp {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if std::thread::current().id() != self.owner {
            self.off_thread.set(self.off_thread.get() + 1);
        }
        self.traced.set(self.traced.get() + 1);
        drop(Gc::new(RefCell::new(Vec::<Gc<u8>>::new())));
        if self.panic.get() {
            panic!("a hostile trace panics");
        }
        self.out.trace(tracer);
    }
}

impl Drop for Imp {
    fn drop(&mut self) {
        if self.off_thread.get() != 0 {
            OFF_THREAD.with(|o| o.set(o.get() + 1));
        }
        note_drop(self.id);
    }
}

/// Derived, but not pure: `Box` keeps `pure_trace`'s default.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Bx {
    id: u32,
    out: Box<RefCell<Vec<Handle>>>,
}

/// Pure, with a finalizer that notes its id.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Fz {
    id: u32,
    out: RefCell<Vec<Handle>>,
}

impl refcount::Finalize for Fz {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
    }
}

/// What a [`Spawner`] does as it is dropped.
#[derive(Clone, Copy, Debug)]
enum OnDrop {
    /// Makes a ring of this many new nodes and lets go of it: garbage for the next
    /// collection.
    SpawnRing(usize),
    /// Drops the last handle of [`STASH`].
    ReleaseStash,
    /// Calls `gencollect::collect()` (nested: it must return 0) and notes the result.
    NestedCollect,
    /// Tries to upgrade its weak handle to its garbage partner.
    UpgradePeer,
    /// Drops the handle it kept out of its trace.
    DropHidden,
}

/// A pure node whose destructor does something hostile.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Spawner {
    id: u32,
    out: RefCell<Vec<Handle>>,
    peer: RefCell<Option<Weak<dyn Node>>>,
    /// Not reported: the node it points to counts as held from outside.
    #[trace(skip)]
    hidden: RefCell<Option<Handle>>,
    #[trace(skip)]
    on_drop: OnDrop,
}

impl Drop for Spawner {
    fn drop(&mut self) {
        note_drop(self.id);
        match self.on_drop {
            OnDrop::SpawnRing(k) => {
                let ring: Vec<Handle> = (0..k)
                    .map(|_| {
                        let id = NEXT_SPAWN.with(|n| n.replace(n.get() + 1));
                        make(Kind::P1, id)
                    })
                    .collect();
                for (i, node) in ring.iter().enumerate() {
                    node.link(ring[(i + 1) % k].clone());
                }
            }
            OnDrop::ReleaseStash => drop(STASH.with(|s| s.borrow_mut().pop())),
            OnDrop::NestedCollect => {
                let found = gencollect::collect();
                NESTED.with(|n| n.borrow_mut().push(found));
            }
            OnDrop::UpgradePeer => {
                if let Some(w) = self.peer.borrow().as_ref()
                    && w.upgrade().is_some()
                {
                    UPGRADED.with(|u| u.set(u.get() + 1));
                }
            }
            OnDrop::DropHidden => drop(self.hidden.borrow_mut().take()),
        }
    }
}

macro_rules! plain_drop {
    ($($t:ty),*) => {$(
        impl Drop for $t {
            fn drop(&mut self) {
                note_drop(self.id());
            }
        }
    )*};
}
plain_drop!(Dq, Bt, Hm, Op, En, Hp, Bx, Fz);

macro_rules! vec_node {
    ($($t:ty => $out:ident),*) => {$(
        impl Node for $t {
            fn id(&self) -> u32 {
                self.id
            }
            fn link(&self, to: Handle) {
                self.$out.borrow_mut().push(to);
            }
            fn take_out(&self) -> Vec<Handle> {
                std::mem::take(&mut *self.$out.borrow_mut())
            }
            fn vec_out(&self) -> Option<&RefCell<Vec<Handle>>> {
                Some(&self.$out)
            }
            fn vec_out_mut(&mut self) -> Option<&mut Vec<Handle>> {
                Some(self.$out.get_mut())
            }
        }
    )*};
}
vec_node!(Hp => out, Spawner => out, Fz => out);

impl Node for Imp {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        self.out.borrow_mut().push(to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut())
    }
    fn imp(&self) -> Option<&Imp> {
        Some(self)
    }
}

impl Node for Bx {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        self.out.borrow_mut().push(to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut())
    }
}

impl Node for Dq {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        self.out.borrow_mut().push_back(to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut()).into()
    }
}

impl Node for Bt {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        let mut out = self.out.borrow_mut();
        let key = out.len() as u32;
        out.insert(key, to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut())
            .into_values()
            .collect()
    }
}

impl Node for Hm {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        let mut out = self.out.borrow_mut();
        let key = out.len() as u32;
        out.insert(key, to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out.borrow_mut())
            .into_values()
            .collect()
    }
}

impl Node for Op {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Handle) {
        let mut first = self.first.borrow_mut();
        if first.is_none() {
            *first = Some(to);
        } else {
            self.rest.borrow_mut().push(Some(to));
        }
    }
    fn take_out(&self) -> Vec<Handle> {
        let mut all: Vec<Handle> = self.first.borrow_mut().take().into_iter().collect();
        all.extend(
            std::mem::take(&mut *self.rest.borrow_mut())
                .into_iter()
                .flatten(),
        );
        all
    }
}

impl En {
    fn out(&self) -> &RefCell<Vec<Handle>> {
        match self {
            En::Short { out, .. } | En::Long { out, .. } => out,
        }
    }
}

impl Node for En {
    fn id(&self) -> u32 {
        match self {
            En::Short { id, .. } | En::Long { id, .. } => *id,
        }
    }
    fn link(&self, to: Handle) {
        self.out().borrow_mut().push(to);
    }
    fn take_out(&self) -> Vec<Handle> {
        std::mem::take(&mut *self.out().borrow_mut())
    }
}

/// The node types.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    P0,
    P1,
    P2,
    P3,
    P4,
    Dq,
    Bt,
    Hm,
    Op,
    EnShort,
    EnLong,
    Hp,
    /// User code: counted by the collecting thread alone.
    Imp,
    /// Derived, but not pure.
    Bx,
    /// Pure, with a finalizer.
    Fz,
}

/// The node types whose trace is pure.
const PURE: [Kind; 12] = [
    Kind::P0,
    Kind::P1,
    Kind::P2,
    Kind::P3,
    Kind::P4,
    Kind::Dq,
    Kind::Bt,
    Kind::Hm,
    Kind::Op,
    Kind::EnShort,
    Kind::EnLong,
    Kind::Hp,
];

fn make(kind: Kind, id: u32) -> Handle {
    let out = || RefCell::new(Vec::new());
    match kind {
        Kind::P0 => coerce_gc!(Gc::new(Pv::<0> { id, out: out() }) => dyn Node),
        Kind::P1 => coerce_gc!(Gc::new(Pv::<1> { id, out: out() }) => dyn Node),
        Kind::P2 => coerce_gc!(Gc::new(Pv::<2> { id, out: out() }) => dyn Node),
        Kind::P3 => coerce_gc!(Gc::new(Pv::<3> { id, out: out() }) => dyn Node),
        Kind::P4 => coerce_gc!(Gc::new(Pv::<4> { id, out: out() }) => dyn Node),
        Kind::Dq => coerce_gc!(Gc::new(Dq {
            id,
            pad: [7; 3],
            out: RefCell::new(VecDeque::new()),
        }) => dyn Node),
        Kind::Bt => coerce_gc!(Gc::new(Bt {
            id,
            out: RefCell::new(BTreeMap::new()),
        }) => dyn Node),
        Kind::Hm => coerce_gc!(Gc::new(Hm {
            id,
            out: RefCell::new(HashMap::new()),
        }) => dyn Node),
        Kind::Op => coerce_gc!(Gc::new(Op {
            id,
            first: RefCell::new(None),
            rest: RefCell::new(Vec::new()),
        }) => dyn Node),
        Kind::EnShort => coerce_gc!(Gc::new(En::Short { id, out: out() }) => dyn Node),
        Kind::EnLong => coerce_gc!(Gc::new(En::Long {
            id,
            pad: [9; 4],
            out: out(),
        }) => dyn Node),
        Kind::Hp => coerce_gc!(Gc::new(Hp { id, out: out() }) => dyn Node),
        Kind::Imp => coerce_gc!(Gc::new(Imp {
            id,
            out: out(),
            owner: std::thread::current().id(),
            panic: Cell::new(false),
            traced: Cell::new(0),
            off_thread: Cell::new(0),
        }) => dyn Node),
        Kind::Bx => coerce_gc!(Gc::new(Bx {
            id,
            out: Box::new(out()),
        }) => dyn Node),
        Kind::Fz => coerce_gc!(Gc::new_with_finalizer(Fz { id, out: out() }) => dyn Node),
    }
}

fn spawner(id: u32, on_drop: OnDrop) -> Handle {
    coerce_gc!(Gc::new(Spawner {
        id,
        out: RefCell::new(Vec::new()),
        peer: RefCell::new(None),
        hidden: RefCell::new(None),
        on_drop,
    }) => dyn Node)
}

#[test]
fn the_node_types_are_pure_or_not_as_the_tests_assume() {
    assert!(<Pv<0> as Trace>::pure_trace());
    assert!(<Dq as Trace>::pure_trace());
    assert!(<Bt as Trace>::pure_trace());
    assert!(<Hm as Trace>::pure_trace());
    assert!(<Op as Trace>::pure_trace());
    assert!(<En as Trace>::pure_trace());
    assert!(<Hp as Trace>::pure_trace());
    assert!(<Spawner as Trace>::pure_trace());
    assert!(<Fz as Trace>::pure_trace());
    assert!(!<Imp as Trace>::pure_trace());
    assert!(!<Bx as Trace>::pure_trace());
    // Every kind is tracked (none is frozen), so every node is in the set.
    for kind in PURE.iter().chain(&[Kind::Imp, Kind::Bx, Kind::Fz]) {
        let node = make(*kind, 0);
        assert!(Gc::is_tracked(&node), "{kind:?}");
        drop(node);
    }
    DROPPED.with(|d| d.borrow_mut().clear());
    FINALIZED.with(|f| f.borrow_mut().clear());
}

/// The collector's settings for these tests, restored when dropped (also when a test
/// fails).
mod world;
