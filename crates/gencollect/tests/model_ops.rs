//! Model-based test of the whole memory model: one seeded generator of operation sequences,
//! checked after every operation against a plain reference model
//! (`common/reference_model.rs`).
//!
//! Operations: allocate a node (half of them with a finalizer), add or remove an edge, drop /
//! clone / move a root handle, create / upgrade / drop a `Weak`, create a `WeakRef` with a
//! callback (held by the test or by a node) or drop one, `Gc::get_mut` on a root (mutating
//! through the `&mut`, pushing a new `Gc` while it lives, truncating edges), collect
//! generation 0, 1 or 2, freeze, unfreeze, set thresholds (small ones run automatic
//! collections inside allocations), let the collection callback allocate nodes, and drop the
//! handles finalizers stored. Finalizers record their run and may resurrect (store a handle
//! to a neighbour, or to themselves through a self-loop or their own `Weak`) or break links.
//! Seeds vary the collector's settings: young hold, split count passes, full scans.
//!
//! After every operation the test checks:
//! * the nodes dropped (a `Drop` impl records ids) are exactly the ones the model frees,
//!   each once, never one reachable in the model; each value is intact when dropped;
//! * the finalizers that ran are exactly the model's, each at most once (PEP 442);
//! * the callbacks that fired are exactly the model's: once for a live `WeakRef` outside the
//!   garbage when its target dies or is found unreachable, never otherwise; where a
//!   `WeakRef` and its target die in one operation the order decides, and only "at most
//!   once" is asserted;
//! * the handles finalizers stored, and what every collection returned (manual ones to the
//!   caller, automatic ones to the collection callback);
//! * walking the real graph from the roots by borrows: every reachable node's id, checksum,
//!   payload, edges, strong count, generation and finalized flag, the same reachable set as
//!   the model's, and the strong count behind every `Weak` and `WeakRef`.
//!
//! Upgrades are checked when the generator upgrades (alive, and not found unreachable by a
//! collection), and `Gc::get_mut` succeeds exactly when the model says the handle is unique.
//!
//! A failure prints its seed and operation index: replay with `GCRT_MODEL_SEED=<seed>`
//! (`GCRT_MODEL_TRACE=1` prints the operations). `GCRT_MODEL_OPS` sets the long run's total.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::thread::LocalKey;

use gencollect::{CollectionInfo, Phase, get_generation, is_finalized};
use refcount::{Finalize, Gc, Weak, WeakRef};

mod common;
use common::Rng;
#[path = "common/reference_model.rs"]
mod model;
use model::{Expect, Fin, MWr, Model};

#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Node {
    id: usize,
    payload: Cell<u64>,
    check: Cell<u64>,
    edges: RefCell<Vec<Gc<Node>>>,
    wrs: RefCell<Vec<Gc<WeakRef<Node>>>>,
    this: RefCell<Weak<Node>>,
    #[trace(skip)]
    fin: Fin,
}

fn checksum(id: usize, payload: u64) -> u64 {
    let id = id as u64 ^ 0xA5A5_5A5A_C3C3_3C3C;
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ payload.rotate_left(17)
}

impl Node {
    fn intact(&self) -> bool {
        self.check.get() == checksum(self.id, self.payload.get())
    }
}

thread_local! {
    static DROPS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FINS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FIRED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Panics that gcrt caught and reported (in finalizers and callbacks).
    static PROBLEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// This operation's collections: (generation, objects collected at `Phase::Stop`).
    static COLLS: RefCell<Vec<(usize, Option<usize>)>> = const { RefCell::new(Vec::new()) };
    /// Handles stored by finalizers (resurrection).
    static STORE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    /// Nodes allocated by the collection callback, adopted as roots after each operation.
    static PENDING: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    /// Whether the collection callback allocates.
    static CB_ALLOC: Cell<bool> = const { Cell::new(false) };
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
    /// The operation running (index, name), for the report of a failure.
    static OP: Cell<(usize, &'static str)> = const { Cell::new((0, "")) };
    /// What the runs exercised, for the summary (see `tally`).
    static TALLY: RefCell<Vec<(&'static str, usize)>> = const { RefCell::new(Vec::new()) };
}

fn push<T>(key: &'static LocalKey<RefCell<Vec<T>>>, v: T) {
    // (At thread exit after a failure, leftover nodes may drop after the records.)
    let _ = key.try_with(|k| k.borrow_mut().push(v));
}

fn take<T>(key: &'static LocalKey<RefCell<Vec<T>>>) -> Vec<T> {
    key.with(|k| core::mem::take(&mut *k.borrow_mut()))
}

/// Adds `n` to the counter `what` of the summary.
fn tally(what: &'static str, n: usize) {
    TALLY.with(|t| {
        let mut t = t.borrow_mut();
        match t.iter_mut().find(|e| e.0 == what) {
            Some(e) => e.1 += n,
            None => t.push((what, n)),
        }
    });
}

impl Finalize for Node {
    fn finalize(&self) {
        push(&FINS, self.id);
        assert!(self.intact(), "node {} corrupt", self.id);
        let stored = match self.fin {
            Fin::StoreEdge(k) => {
                let edges = self.edges.borrow();
                edges.get(k % edges.len().max(1)).cloned()
            }
            Fin::SelfWeak => self.this.borrow().upgrade(),
            Fin::BreakLinks => {
                drop(self.edges.take()); // may free nodes, run finalizers
                None
            }
            Fin::None | Fin::Record => None,
        };
        let _ = STORE.try_with(|s| s.borrow_mut().extend(stored));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        push(&DROPS, self.id);
        assert!(self.intact(), "node {} corrupt", self.id);
    }
}

/// Allocates node `NEXT_ID` (which may run an automatic collection).
fn new_node(fin: Fin, edges: Vec<Gc<Node>>, payload: u64) -> Gc<Node> {
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    let node = Node {
        id,
        payload: Cell::new(payload),
        check: Cell::new(checksum(id, payload)),
        edges: RefCell::new(edges),
        wrs: RefCell::default(),
        this: RefCell::default(),
        fin,
    };
    let n = match fin {
        Fin::None => Gc::new(node),
        _ => Gc::new_with_finalizer(node),
    };
    if fin == Fin::SelfWeak {
        *n.this.borrow_mut() = Gc::downgrade(&n);
    }
    n
}

/// Records every collection; at `Stop`, when `CB_ALLOC` is on, allocates a node (with a
/// self-loop if its id is even) and a short-lived tracked object.
fn on_collection(phase: Phase, info: &CollectionInfo) {
    match phase {
        Phase::Start => push(&COLLS, (info.generation, None)),
        Phase::Stop => {
            let collected = Some(info.collected);
            COLLS.with(|c| c.borrow_mut().last_mut().expect("Start first").1 = collected);
            if CB_ALLOC.with(Cell::get) {
                let n = new_node(Fin::None, Vec::new(), 7);
                if n.id.is_multiple_of(2) {
                    n.edges.borrow_mut().push(n.clone());
                }
                push(&PENDING, n);
                drop(Gc::new(RefCell::new(None::<Gc<u8>>)));
            }
        }
        _ => {}
    }
}

/// Simulates the collection the operation ran, if any (at most one: only an allocation or a
/// manual collection starts one), when the model is in the state it was in then.
fn sync_collections(m: &mut Model) -> Option<usize> {
    let colls = take(&COLLS);
    assert!(colls.len() <= 1, "collections: {colls:?}");
    let &(g, collected) = colls.first()?;
    let predicted = m.collect(g);
    tally("collections", 1);
    tally("found unreachable", m.found.len());
    let resurrected = m.found.iter().filter(|&&n| m.nodes[n].alive);
    tally("resurrected by finalizers", resurrected.count());
    assert_eq!(collected, Some(predicted), "collected, gen {g}");
    Some(predicted)
}

/// The model plus the real handles the test holds.
struct World {
    m: Model,
    rng: Rng,
    roots: Vec<Gc<Node>>,
    weaks: Vec<Weak<Node>>,
    /// `WeakRef`s held by the test, with their index in `Model::wrs`.
    test_wrs: Vec<(usize, Gc<WeakRef<Node>>)>,
}

impl World {
    /// A handle to a reachable node: a root or a stored handle, then up to 3 random edges.
    fn pick(&mut self) -> Option<Gc<Node>> {
        let i = self.any(self.roots.len() + STORE.with(|s| s.borrow().len()))?;
        let mut cur = match i.checked_sub(self.roots.len()) {
            None => self.roots[i].clone(),
            Some(k) => STORE.with(|s| s.borrow()[k].clone()),
        };
        for _ in 0..self.rng.below(4) {
            let Some(k) = self.any(cur.edges.borrow().len()) else {
                break;
            };
            let next = cur.edges.borrow()[k].clone();
            cur = next;
        }
        Some(cur)
    }

    fn add_root(&mut self, n: Gc<Node>) {
        self.m.roots.push(n.id);
        self.roots.push(n);
    }

    /// A random index below `len`, if any.
    fn any(&mut self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.rng.below(len))
    }

    fn take_root(&mut self) -> Option<Gc<Node>> {
        let i = self.any(self.roots.len())?;
        self.m.roots.swap_remove(i);
        Some(self.roots.swap_remove(i))
    }

    /// Allocates node `id` (already in the model) with `f`, which may run a collection.
    fn allocating(&mut self, id: usize, f: impl FnOnce() -> Gc<Node>) -> Gc<Node> {
        self.m.temp.push(id);
        let n = f();
        assert_eq!(n.id, id);
        sync_collections(&mut self.m);
        self.m.temp.clear();
        n
    }

    fn alloc(&mut self) {
        let fin = match self.rng.below(10) {
            0..=4 => Fin::None,
            5 => Fin::Record,
            6 | 7 => Fin::StoreEdge(self.rng.below(3)),
            8 => Fin::SelfWeak,
            _ => Fin::BreakLinks,
        };
        let targets = (0..self.rng.below(3)).filter_map(|_| self.pick());
        let targets: Vec<Gc<Node>> = targets.collect();
        let (id, payload) = (NEXT_ID.with(Cell::get), self.rng.next());
        let ids = targets.iter().map(|t| t.id).collect();
        self.m.add_node(id, fin, ids, payload);
        let n = self.allocating(id, || new_node(fin, targets, payload));
        if self.rng.chance(30) {
            n.edges.borrow_mut().push(n.clone());
            self.m.nodes[id].edges.push(id);
        }
        self.add_root(n);
    }

    /// Adds an edge between two reachable nodes (sometimes a self-loop).
    fn link(&mut self) {
        let (Some(from), Some(to)) = (self.pick(), self.pick()) else {
            return;
        };
        let to = if self.rng.chance(15) {
            from.clone()
        } else {
            to
        };
        self.m.nodes[from.id].edges.push(to.id);
        from.edges.borrow_mut().push(to);
    }

    /// Removes an edge (which may free by refcount).
    fn unlink(&mut self) {
        let Some(from) = self.pick() else { return };
        let Some(i) = self.any(from.edges.borrow().len()) else {
            return;
        };
        self.m.nodes[from.id].edges.remove(i);
        let removed = from.edges.borrow_mut().remove(i);
        drop(from);
        drop(removed);
    }

    /// Drops a root handle (mostly), clones one, or moves one into another root's node (no
    /// count changes at all).
    fn root(&mut self) {
        match self.rng.below(8) {
            0 => {
                if let Some(n) = self.pick() {
                    self.add_root(n);
                }
            }
            1 | 2 if self.roots.len() > 1 => {
                let moved = self.take_root().unwrap();
                let host = &self.roots[self.rng.below(self.roots.len())];
                self.m.nodes[host.id].edges.push(moved.id);
                host.edges.borrow_mut().push(moved);
            }
            _ => drop(self.take_root()),
        }
    }

    /// Creates a `Weak`, upgrades one (checked against the model: it upgrades while its
    /// node is alive and no collection found it unreachable), or drops one.
    fn weak(&mut self) {
        let op = self.rng.below(3);
        if op == 0 || self.weaks.is_empty() {
            if let Some(n) = self.pick() {
                self.m.weaks.push(n.id);
                self.weaks.push(Gc::downgrade(&n));
            }
        } else if op == 1 {
            let i = self.rng.below(self.weaks.len());
            let (id, up) = (self.m.weaks[i], self.weaks[i].upgrade());
            let node = &self.m.nodes[id];
            let expect = (node.alive && !node.cleared).then_some(id);
            let got = up.as_ref().map(|n| n.id);
            assert_eq!(got, expect, "upgrade of a Weak to {id}");
            tally("failed upgrades", usize::from(got.is_none()));
            if let Some(n) = up.filter(|_| self.rng.chance(50)) {
                self.add_root(n);
            }
        } else {
            let i = self.rng.below(self.weaks.len());
            self.m.weaks.swap_remove(i);
            self.weaks.swap_remove(i);
        }
    }

    /// Drops a `WeakRef` the test holds, or creates one, held by the test or by a node.
    fn weakref(&mut self) {
        if self.rng.chance(20) {
            if let Some(i) = self.any(self.test_wrs.len()) {
                let (j, wr) = self.test_wrs.swap_remove(i);
                self.m.wrs[j].alive = false;
                drop(wr);
            }
            return;
        }
        let Some(target) = self.pick() else {
            return;
        };
        let holder = self.pick().filter(|_| self.rng.chance(50));
        let j = self.m.wrs.len();
        self.m.wrs.push(MWr {
            target: target.id,
            alive: true,
            level: Some(0),
            ..MWr::default()
        });
        let wr = WeakRef::new(&target, move |w: &Gc<WeakRef<Node>>| {
            assert!(w.upgrade().is_none(), "callback {j}: the referent upgrades");
            push(&FIRED, j);
        }); // may collect, before the callback is registered
        sync_collections(&mut self.m);
        self.m.wrs[j].registered = true;
        match holder {
            None => self.test_wrs.push((j, wr)),
            Some(h) => {
                self.m.wrs[j].holder = Some(h.id);
                self.m.nodes[h.id].wrs.push(j);
                h.wrs.borrow_mut().push(wr);
            }
        }
    }

    /// `Gc::get_mut` on a root: succeeds exactly when the model says the handle is unique;
    /// then mutates through the `&mut`, and may push a new node while it lives (a collection
    /// may run meanwhile: the value is lent) and truncate the edges (refcount frees).
    fn get_mut(&mut self) {
        let Some(mut root) = self.take_root() else {
            return;
        };
        let id = root.id;
        self.m.roots.push(id);
        let unique = self.m.counts()[id] == 1 && self.m.weak_count(id) == 0;
        let (grow, truncate) = (self.rng.chance(60), self.rng.chance(30));
        let payload = self.rng.next();
        let got = Gc::get_mut(&mut root);
        assert_eq!(got.is_some(), unique, "get_mut on {id}");
        if let Some(node) = got {
            tally("get_mut", 1);
            *node.payload.get_mut() = payload;
            *node.check.get_mut() = checksum(id, payload);
            self.m.nodes[id].payload = payload;
            if grow {
                let nid = NEXT_ID.with(Cell::get);
                self.m.add_node(nid, Fin::None, Vec::new(), 1);
                // A collection may run while `node` is lent.
                let new = self.allocating(nid, || new_node(Fin::None, Vec::new(), 1));
                node.edges.get_mut().push(new);
                self.m.nodes[id].edges.push(nid);
            }
            if truncate {
                let keep = node.edges.get_mut().len() / 2;
                let removed: Vec<_> = node.edges.get_mut().drain(keep..).collect();
                self.m.nodes[id].edges.truncate(keep);
                drop(removed); // may free by refcount while the `&mut` lives
            }
        }
        self.roots.push(root);
    }

    fn collect(&mut self, g: usize) {
        let ret = match g {
            2 if self.rng.chance(50) => gencollect::collect(),
            _ => gencollect::collect_generation(g).unwrap(),
        };
        let colls = COLLS.with(|c| c.borrow().clone());
        assert_eq!(colls.len(), 1, "collections: {colls:?}");
        assert_eq!(colls[0].0, g, "generation collected");
        let predicted = sync_collections(&mut self.m);
        assert_eq!(Some(ret), predicted, "collect_generation({g})");
        tally("manual collections", 1);
    }

    /// Freezes, unfreezes, sets the thresholds or turns allocation by callbacks on or off.
    fn settings(&mut self) {
        const T0: [usize; 8] = [0, 1, 2, 3, 5, 8, 20, 100];
        match self.rng.below(7) {
            k @ 0..=3 => {
                [gencollect::freeze, gencollect::unfreeze][k / 2]();
                self.m.freeze(k < 2);
            }
            4 | 5 => {
                let t0 = T0[self.rng.below(8)];
                let (t1, t2) = (self.rng.below(4), self.rng.below(4));
                gencollect::set_threshold(t0, 1 + t1, 1 + t2);
            }
            _ => CB_ALLOC.with(|c| c.set(!c.get())),
        }
    }

    /// Drops one handle a finalizer stored, or all of them.
    fn drop_stored(&mut self) {
        let (all, k) = (self.rng.chance(30), self.rng.next() as usize);
        let taken: Vec<Gc<Node>> = STORE.with(|s| {
            let mut s = s.borrow_mut();
            match s.len() {
                0 => Vec::new(),
                _ if all => core::mem::take(&mut *s),
                len => vec![s.swap_remove(k % len)],
            }
        });
        for h in &taken {
            let pos = self.m.store.iter().position(|&s| s == h.id);
            self.m.store.swap_remove(pos.expect("stored in the model"));
        }
        drop(taken); // may free by refcount, run finalizers that store again
    }

    /// One random operation; returns its name.
    fn step(&mut self) -> &'static str {
        let mut r = self.rng.below(OPS.iter().map(|op| op.0).sum());
        for &(weight, name, op) in OPS {
            if r < weight {
                op(self);
                return name;
            }
            r -= weight;
        }
        unreachable!()
    }

    /// After every operation: the model's refcount deaths, the nodes the collection
    /// callbacks allocated, then every check.
    fn finish_op(&mut self) {
        self.m.settle();
        for n in take(&PENDING) {
            let edges = [n.id].into_iter().filter(|id| id.is_multiple_of(2));
            self.m.add_node(n.id, Fin::None, edges.collect(), 7);
            self.add_root(n);
        }
        self.check();
    }

    /// Everything the real heap shows against the model (a failure names the operation).
    fn check(&mut self) {
        let problems = take(&PROBLEMS);
        assert!(problems.is_empty(), "{problems:?}");
        let colls = take(&COLLS);
        assert!(colls.is_empty(), "not simulated: {colls:?}");
        let reachable = self.m.reach(self.m.handles());
        let (mut drops, mut fins) = (take(&DROPS), take(&FINS));
        for &d in &drops {
            let seen = &mut self.m.nodes[d].seen_drop;
            assert!(!core::mem::replace(seen, true), "{d} dropped twice");
            assert!(!reachable[d], "reachable node {d} was dropped");
        }
        for &f in &fins {
            let seen = &mut self.m.nodes[f].seen_fin;
            assert!(!core::mem::replace(seen, true), "{f} finalized twice");
        }
        drops.sort_unstable();
        fins.sort_unstable();
        self.m.deaths.sort_unstable();
        self.m.fins.sort_unstable();
        assert_eq!(drops, self.m.deaths, "nodes freed (left), model's");
        assert_eq!(fins, self.m.fins, "finalizers run (left), model's");
        tally("nodes freed", drops.len());
        tally("finalizers run", fins.len());
        self.check_callbacks();
        let mut stored: Vec<usize> = STORE.with(|s| s.borrow().iter().map(|h| h.id).collect());
        stored.sort_unstable();
        self.m.store.sort_unstable();
        assert_eq!(stored, self.m.store, "handles stored by finalizers");
        let ids: Vec<usize> = self.roots.iter().map(|r| r.id).collect();
        assert_eq!(ids, self.m.roots, "roots");
        let counts = self.m.counts();
        let mut seen = vec![false; self.m.nodes.len()];
        STORE.with(|s| {
            for r in self.roots.iter().chain(s.borrow().iter()) {
                walk(&self.m, r, &counts, &mut seen);
            }
        });
        assert_eq!(seen, reachable, "reachable nodes");
        for (w, &id) in self.weaks.iter().zip(&self.m.weaks) {
            let strong = counts[id] * usize::from(self.m.nodes[id].alive);
            assert_eq!(w.strong_count(), strong, "strong count of {id}");
        }
        for (j, wr) in &self.test_wrs {
            check_wr(&self.m, wr, *j, &counts);
        }
        self.m.end_op();
    }

    fn check_callbacks(&mut self) {
        let mut fired = vec![0u32; self.m.wrs.len()];
        take(&FIRED).into_iter().for_each(|j| fired[j] += 1);
        for k in 0..self.m.gone.len() {
            let (j, expect) = self.m.gone[k];
            let expect = expect.unwrap_or_else(|| self.m.resolve(j));
            let ok = match expect {
                Expect::Fire => fired[j] == 1,
                Expect::NoFire => fired[j] == 0,
                Expect::Either => fired[j] <= 1,
            };
            let n = fired[j];
            assert!(ok, "callback {j} fired {n} times: {expect:?}");
            self.m.wrs[j].fired |= n == 1;
            tally("callbacks fired", n as usize);
            fired[j] = 0;
        }
        let extra: Vec<usize> = (0..fired.len()).filter(|&j| fired[j] != 0).collect();
        assert!(extra.is_empty(), "callbacks fired early: {extra:?}");
    }
}

fn check_wr(m: &Model, wr: &Gc<WeakRef<Node>>, j: usize, counts: &[usize]) {
    let w = &m.wrs[j];
    let strong = counts[w.target] * usize::from(m.nodes[w.target].alive);
    assert!(w.alive, "WeakRef {j} reachable, dead in the model");
    assert_eq!(wr.weak().strong_count(), strong, "WeakRef {j}");
    assert_eq!(get_generation(wr), w.level, "generation of WeakRef {j}");
    assert_eq!(wr.has_callback(), !w.fired, "callback {j} pending");
}

/// Checks a reachable node and what it reaches, by borrows only (cloning handles would make
/// their objects dirty, which changes what full collections analyse).
fn walk(m: &Model, n: &Gc<Node>, counts: &[usize], seen: &mut [bool]) {
    let id = n.id;
    if core::mem::replace(&mut seen[id], true) {
        return;
    }
    let mn = &m.nodes[id];
    assert!(mn.alive, "node {id} reachable, dead in the model");
    assert!(n.intact(), "value of node {id}");
    assert_eq!(n.payload.get(), mn.payload, "payload of {id}");
    assert_eq!(n.fin, mn.fin, "finalizer kind of {id}");
    assert_eq!(Gc::ref_count(n), counts[id], "strong count of {id}");
    assert_eq!(get_generation(n), mn.level, "generation of {id}");
    assert_eq!(is_finalized(n), mn.finalized, "is_finalized({id})");
    let edges = n.edges.borrow();
    let ids: Vec<usize> = edges.iter().map(|e| e.id).collect();
    assert_eq!(ids, mn.edges, "edges of node {id}");
    let wrs = n.wrs.borrow();
    assert_eq!(wrs.len(), mn.wrs.len(), "WeakRefs held by {id}");
    for (wr, &j) in wrs.iter().zip(&mn.wrs) {
        check_wr(m, wr, j, counts);
    }
    for e in edges.iter() {
        walk(m, e, counts, seen);
    }
}

/// The operations and their weights.
type Op = (usize, &'static str, fn(&mut World));
static OPS: &[Op] = &[
    (23, "alloc", World::alloc),
    (13, "link", World::link),
    (8, "unlink", World::unlink),
    (17, "root", World::root),
    (5, "weak", World::weak),
    (5, "weakref", World::weakref),
    (5, "get_mut", World::get_mut),
    (4, "collect 0", |w| w.collect(0)),
    (3, "collect 1", |w| w.collect(1)),
    (4, "collect 2", |w| w.collect(2)),
    (9, "settings", World::settings),
    (4, "drop stored", World::drop_stored),
];

impl World {
    /// A world for `seed`, whose settings it sets: young hold on even seeds, split count
    /// passes on every third, full scans on every fifth, random thresholds.
    ///
    fn new(seed: u64) -> World {
        let split = seed.is_multiple_of(3);
        let hold = if seed.is_multiple_of(2) {
            0
        } else {
            usize::MAX
        };
        gencollect::set_young_hold_threshold(hold);
        gencollect::set_parallel_threshold(if split { 0 } else { usize::MAX });
        gencollect::set_full_scan(seed % 5 == 4);
        let mut rng = Rng::new(seed);
        let (t0, t1, t2) = (rng.below(10), rng.below(3), rng.below(3));
        gencollect::set_threshold(1 + t0, 1 + t1, 1 + t2);
        World {
            m: Model::default(),
            rng,
            roots: Vec::new(),
            weaks: Vec::new(),
            test_wrs: Vec::new(),
        }
    }

    /// Drops every handle the test holds (its `WeakRef`s first: no callback fires), then
    /// collects and drops the stored handles until nothing is left; then every node was
    /// dropped exactly once, and every finalizer ran exactly once.
    fn wind_down(&mut self) {
        CB_ALLOC.with(|c| c.set(false));
        gencollect::unfreeze();
        self.m.freeze(false);
        for (j, wr) in core::mem::take(&mut self.test_wrs) {
            self.m.wrs[j].alive = false;
            drop(wr);
        }
        self.weaks.clear();
        self.m.weaks.clear();
        self.m.roots.clear();
        self.roots.clear();
        self.finish_op();
        // Each round frees something or runs a finalizer (which may resurrect).
        let mut rounds = 0..=self.m.nodes.len();
        while !self.m.alive.is_empty() && rounds.next().is_some() {
            self.collect(2);
            self.finish_op();
            self.m.store.clear();
            drop(take(&STORE));
            self.finish_op();
        }
        assert!(self.m.alive.is_empty(), "never freed: {:?}", self.m.alive);
        for (id, n) in self.m.nodes.iter().enumerate() {
            assert!(n.seen_drop, "node {id} never dropped");
            let fin = n.fin != Fin::None;
            assert_eq!(n.seen_fin, fin, "finalizer of node {id} at the end");
        }
    }
}

/// Runs one seed; returns how many nodes it made.
fn run_seed(seed: u64, ops: usize, trace: bool) -> usize {
    gencollect::collect();
    take(&COLLS);
    NEXT_ID.with(|n| n.set(0));
    let mut w = World::new(seed);
    for i in 0..ops {
        OP.with(|o| o.set((i, "")));
        let name = w.step();
        OP.with(|o| o.set((i, name)));
        if trace {
            eprintln!("seed {seed} op {i}: {name}");
        }
        w.finish_op();
    }
    OP.with(|o| o.set((ops, "wind down")));
    w.wind_down();
    w.m.nodes.len()
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Runs `seeds` (or only `GCRT_MODEL_SEED`) with `ops` operations each; a failure prints the
/// seed and the operation index.
fn run_seeds(seeds: &[u64], ops: usize) {
    let replay = env("GCRT_MODEL_SEED").map(|s| [s]);
    let seeds = replay.as_ref().map_or(seeds, |s| &s[..]);
    let trace = std::env::var_os("GCRT_MODEL_TRACE").is_some();
    let (start, split) = (std::time::Instant::now(), gencollect::split_passes());
    refcount::set_unraisable_hook(Some(Box::new(|u| {
        push(&PROBLEMS, format!("panic {}: {:?}", u.context, u.message));
    })));
    let callback = gencollect::register_callback(on_collection);
    let mut nodes = 0;
    for &seed in seeds {
        let run = catch_unwind(AssertUnwindSafe(|| run_seed(seed, ops, trace)));
        nodes += run.unwrap_or_else(|panic| {
            let (i, name) = OP.with(Cell::get);
            eprintln!(
                "model_ops: seed {seed} failed at operation {i} ({name}); replay with \
                 GCRT_MODEL_SEED={seed} GCRT_MODEL_TRACE=1"
            );
            resume_unwind(panic)
        });
    }
    assert!(gencollect::unregister_callback(callback));
    refcount::set_unraisable_hook(None);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 && seeds.iter().any(|s| s.is_multiple_of(3)) {
        let split = gencollect::split_passes() - split;
        assert!(split > 0, "no count pass was split");
    }
    let (count, time) = (seeds.len(), start.elapsed());
    eprintln!("model_ops: {count} seeds x {ops} operations ({nodes} nodes) in {time:.2?}");
    eprintln!("model_ops: {:?}", TALLY.with(|t| t.take()));
    gencollect::set_threshold(2000, 10, 10);
}

/// 200 seeds of 300 operations; under Miri, 3 seeds of 60 chosen for what they exercise
/// (callbacks, resurrection, automatic collections; 33 splits its count passes).
#[test]
fn operation_sequences_match_the_model() {
    if cfg!(miri) {
        run_seeds(&[25, 33, 34], 60);
    } else {
        run_seeds(&(1..=200).collect::<Vec<u64>>(), 300);
    }
}

/// At least 1,000,000 operations (`GCRT_MODEL_OPS`), 2,000 a seed.
#[test]
#[ignore = "long: run with --release -- --ignored"]
fn long_operation_sequences_match_the_model() {
    let total = env("GCRT_MODEL_OPS").unwrap_or(1_000_000);
    let seeds: Vec<u64> = (1_000_000..).take(total.div_ceil(2_000) as usize).collect();
    run_seeds(&seeds, 2_000);
}
