//! Property test: finalizers, resurrection and weak references in random object graphs,
//! checked against a reference model after every full collection and after every drain of
//! the resurrected objects.
//!
//! Each case is generated from a seed by a xorshift generator (proptest picks the seeds;
//! under Miri a few fixed seeds run instead). A case is a random graph of nodes with random
//! edges (self-loops, cycles, duplicates), where:
//!
//! * some nodes have a finalizer, which records its run and may resurrect: store a handle
//!   to its own object (it first tries its `Weak` to itself, which never upgrades for an
//!   object a collection found unreachable, then uses its self-loop) or to one of its
//!   neighbours in a thread-local list;
//! * some `WeakRef`s with callbacks watch random nodes, held either by the test (always
//!   reachable) or by a node;
//! * the test holds one root handle per node and a plain `Weak` per node.
//!
//! Nodes with a finalizer, and nodes holding a `WeakRef`, are in a self-cycle, so they only
//! die in a collection; the other nodes also die by refcounting when the last handle goes.
//! (Within one refcount cascade the order in which holders and referents die would decide
//! which callbacks run; the model avoids depending on that order.)
//!
//! The model predicts, after each step: which nodes are alive, each node's finalizer runs
//! (never more than one), each node's drops (never more than one), what `collect()`
//! returns (freed nodes plus the `WeakRef` objects they held), what every weak reference
//! upgrades to (nothing, once its referent was found unreachable, even if resurrected), and
//! how many times every callback ran (once for each reachable `WeakRef` whose referent was
//! found unreachable or died by refcount; never for one that was itself garbage).

use std::cell::RefCell;
use std::collections::BTreeSet;

use gencollect::collect;
use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

mod common;
use common::Rng;

thread_local! {
    static FIN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static CALLS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static STORE: RefCell<Vec<Gc<PNode>>> = const { RefCell::new(Vec::new()) };
    static SELF_UPGRADES: RefCell<u32> = const { RefCell::new(0) };
}

fn bump(cell: &'static std::thread::LocalKey<RefCell<Vec<u32>>>, i: usize) {
    cell.with(|v| v.borrow_mut()[i] += 1);
}

fn read(cell: &'static std::thread::LocalKey<RefCell<Vec<u32>>>) -> Vec<u32> {
    cell.with(|v| v.borrow().clone())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Resurrect {
    No,
    Itself,
    /// Stores a handle to the target of edge `k`.
    Neighbour(usize),
}

struct PNode {
    id: usize,
    edges: RefCell<Vec<Gc<PNode>>>,
    wrs: RefCell<Vec<Gc<WeakRef<PNode>>>>,
    this: RefCell<Weak<PNode>>,
    resurrect: Resurrect,
}

// SAFETY: reports exactly the strong handles it owns.
unsafe impl Trace for PNode {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.edges.trace(t);
        self.wrs.trace(t);
    }
}

impl Finalize for PNode {
    fn finalize(&self) {
        bump(&FIN, self.id);
        let stored = match self.resurrect {
            Resurrect::No => None,
            Resurrect::Itself => {
                let via_weak = self.this.borrow().upgrade();
                if via_weak.is_some() {
                    SELF_UPGRADES.with(|s| *s.borrow_mut() += 1);
                }
                // The self-loop is edge 0 of every node with a finalizer.
                via_weak.or_else(|| self.edges.borrow().first().cloned())
            }
            Resurrect::Neighbour(k) => self.edges.borrow().get(k).cloned(),
        };
        if let Some(h) = stored {
            STORE.with(|s| s.borrow_mut().push(h));
        }
    }
}

impl Drop for PNode {
    fn drop(&mut self) {
        bump(&DROPS, self.id);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum HolderKind {
    Test,
    Node(usize),
}

/// The reference model.
struct Model {
    edges: Vec<Vec<usize>>,
    has_fin: Vec<bool>,
    resurrect: Vec<Resurrect>,
    self_loop: Vec<bool>,
    /// Strong count: root handles, stored handles and edges from live nodes.
    count: Vec<usize>,
    alive: Vec<bool>,
    /// Found unreachable by some collection (weak references cleared for good).
    doomed: Vec<bool>,
    finalized: Vec<u32>,
    drops: Vec<u32>,
    rooted: Vec<bool>,
    store: Vec<usize>,
    wr_referent: Vec<usize>,
    wr_holder: Vec<HolderKind>,
    /// The callback is still registered on its referent.
    wr_registered: Vec<bool>,
    calls: Vec<u32>,
}

impl Model {
    /// The weak reference object is alive. One held by a node that a collection found
    /// unreachable and a finalizer resurrected works again (only weak references *to* the
    /// resurrected node stay cleared); one in the garbage of the running collection is
    /// excluded by `referent_gone`'s `garbage` argument.
    fn wr_live(&self, j: usize) -> bool {
        match self.wr_holder[j] {
            HolderKind::Test => true,
            HolderKind::Node(h) => self.alive[h],
        }
    }

    /// Runs the callbacks registered on `r`, which just died or was found unreachable
    /// (`garbage`: the set found unreachable with it, whose weak references are doomed).
    fn referent_gone(&mut self, r: usize, garbage: &[bool]) {
        for j in (0..self.wr_referent.len()).rev() {
            if self.wr_referent[j] != r || !self.wr_registered[j] {
                continue;
            }
            self.wr_registered[j] = false;
            let in_garbage = matches!(self.wr_holder[j], HolderKind::Node(h) if garbage[h]);
            if self.wr_live(j) && !in_garbage {
                self.calls[j] += 1;
            }
        }
    }

    fn dec(&mut self, i: usize) {
        self.count[i] -= 1;
        if self.count[i] == 0 {
            // Only nodes without a finalizer and without a self-loop die by refcount.
            assert!(!self.has_fin[i] && !self.self_loop[i]);
            let none = vec![false; self.alive.len()];
            self.referent_gone(i, &none);
            self.alive[i] = false;
            self.drops[i] += 1;
            for t in self.edges[i].clone() {
                self.dec(t);
            }
        }
    }

    fn reachable_from(
        &self,
        starts: impl IntoIterator<Item = usize>,
        within: &[bool],
    ) -> Vec<bool> {
        let mut seen = vec![false; self.alive.len()];
        let mut stack: Vec<usize> = starts.into_iter().filter(|&i| within[i]).collect();
        while let Some(i) = stack.pop() {
            if seen[i] {
                continue;
            }
            seen[i] = true;
            for &t in &self.edges[i] {
                if within[t] && !seen[t] {
                    stack.push(t);
                }
            }
        }
        seen
    }

    /// A full collection; returns what `collect()` should return.
    fn collect(&mut self) -> usize {
        let n = self.alive.len();
        let roots = (0..n)
            .filter(|&i| self.rooted[i])
            .chain(self.store.iter().copied());
        let reachable = self.reachable_from(roots, &self.alive.clone());
        let garbage: Vec<bool> = (0..n).map(|i| self.alive[i] && !reachable[i]).collect();
        if !garbage.iter().any(|&g| g) {
            return 0;
        }
        // Weak references are cleared, then the callbacks of live, non-garbage ones run.
        for r in (0..n).filter(|&r| garbage[r]) {
            self.referent_gone(r, &garbage);
        }
        let doomed_now: Vec<usize> = (0..n).filter(|&i| garbage[i]).collect();
        for &i in &doomed_now {
            self.doomed[i] = true;
        }
        // Finalizers.
        let before = self.store.len();
        for &i in &doomed_now {
            if self.has_fin[i] && self.finalized[i] == 0 {
                self.finalized[i] = 1;
                let stored = match self.resurrect[i] {
                    Resurrect::No => None,
                    Resurrect::Itself => Some(i),
                    Resurrect::Neighbour(k) => self.edges[i].get(k).copied(),
                };
                if let Some(t) = stored {
                    self.store.push(t);
                    self.count[t] += 1;
                }
            }
        }
        // Resurrection: what the stored handles reach survives.
        let saved = self.reachable_from(self.store[before..].to_vec(), &garbage);
        let freed: Vec<usize> = (0..n).filter(|&i| garbage[i] && !saved[i]).collect();
        for &i in &freed {
            self.alive[i] = false;
            self.drops[i] += 1;
        }
        for &i in &freed {
            for t in self.edges[i].clone() {
                self.count[t] -= 1;
                // A survivor never dies of it: it is reached from a stored handle.
                assert!(!self.alive[t] || self.count[t] > 0);
            }
        }
        let collected = freed.len();
        let wr_objects = self
            .wr_holder
            .iter()
            .filter(|h| matches!(h, HolderKind::Node(i) if garbage[*i] && !saved[*i]))
            .count();
        collected + wr_objects
    }

    fn drain(&mut self) {
        for t in core::mem::take(&mut self.store) {
            self.dec(t);
        }
    }
}

struct Case {
    model: Model,
    roots: Vec<Option<Gc<PNode>>>,
    weaks: Vec<Weak<PNode>>,
    test_wrs: Vec<(usize, Gc<WeakRef<PNode>>)>,
}

/// The random shape of a case: which nodes have a finalizer or a self-loop, their edges,
/// what their finalizers resurrect, and the weak references with callbacks.
struct Shape {
    edges: Vec<Vec<usize>>,
    has_fin: Vec<bool>,
    resurrect: Vec<Resurrect>,
    self_loop: Vec<bool>,
    wr_referent: Vec<usize>,
    wr_holder: Vec<HolderKind>,
}

impl Shape {
    /// Draws a shape from `rng` (the order of the draws fixes the case of each seed).
    fn random(rng: &mut Rng, max_nodes: usize) -> Shape {
        let n = 1 + rng.below(max_nodes);
        let mut self_loop = vec![false; n];
        let mut has_fin = vec![false; n];
        for i in 0..n {
            has_fin[i] = rng.chance(50);
            self_loop[i] = has_fin[i] || rng.chance(30);
        }
        let (wr_referent, wr_holder) = random_weakrefs(rng, &mut self_loop);
        let edges = random_edges(rng, &self_loop);
        let resurrect = random_resurrect(rng, &has_fin, &edges);
        Shape {
            edges,
            has_fin,
            resurrect,
            self_loop,
            wr_referent,
            wr_holder,
        }
    }
}

/// Weak references with callbacks: (referent, holder) each. A node that holds one gets a
/// self-loop.
fn random_weakrefs(rng: &mut Rng, self_loop: &mut [bool]) -> (Vec<usize>, Vec<HolderKind>) {
    let n = self_loop.len();
    let m = rng.below(n + 2);
    let mut wr_referent = Vec::new();
    let mut wr_holder = Vec::new();
    for _ in 0..m {
        wr_referent.push(rng.below(n));
        let holder = if rng.chance(50) {
            HolderKind::Test
        } else {
            let h = rng.below(n);
            self_loop[h] = true;
            HolderKind::Node(h)
        };
        wr_holder.push(holder);
    }
    (wr_referent, wr_holder)
}

/// The edges of every node: its self-loop first (if it has one), then up to 3 random ones.
fn random_edges(rng: &mut Rng, self_loop: &[bool]) -> Vec<Vec<usize>> {
    let n = self_loop.len();
    let mut edges: Vec<Vec<usize>> = (0..n)
        .map(|i| if self_loop[i] { vec![i] } else { Vec::new() })
        .collect();
    for e in edges.iter_mut() {
        for _ in 0..rng.below(4) {
            e.push(rng.below(n));
        }
    }
    edges
}

/// What the finalizer of every node resurrects (nothing for a node without a finalizer).
fn random_resurrect(rng: &mut Rng, has_fin: &[bool], edges: &[Vec<usize>]) -> Vec<Resurrect> {
    (0..has_fin.len())
        .map(|i| {
            if !has_fin[i] {
                return Resurrect::No;
            }
            match rng.below(4) {
                0 => Resurrect::Itself,
                1 if edges[i].len() > 1 => Resurrect::Neighbour(1 + rng.below(edges[i].len() - 1)),
                _ => Resurrect::No,
            }
        })
        .collect()
}

/// Allocates the nodes of `shape` (with a finalizer where it says so), then their edges.
fn make_nodes(shape: &Shape) -> Vec<Gc<PNode>> {
    let nodes: Vec<Gc<PNode>> = (0..shape.has_fin.len())
        .map(|i| {
            let node = PNode {
                id: i,
                edges: RefCell::new(Vec::new()),
                wrs: RefCell::new(Vec::new()),
                this: RefCell::new(Weak::new()),
                resurrect: shape.resurrect[i],
            };
            let g = if shape.has_fin[i] {
                Gc::new_with_finalizer(node)
            } else {
                Gc::new(node)
            };
            *g.this.borrow_mut() = Gc::downgrade(&g);
            g
        })
        .collect();
    for (node, targets) in nodes.iter().zip(&shape.edges) {
        for &t in targets {
            node.edges.borrow_mut().push(nodes[t].clone());
        }
    }
    nodes
}

/// Creates the weak references of `shape`, each with a callback that counts its runs, and
/// gives each to its holder; returns the ones the test holds, with their referents.
fn make_weakrefs(shape: &Shape, nodes: &[Gc<PNode>]) -> Vec<(usize, Gc<WeakRef<PNode>>)> {
    let mut test_wrs = Vec::new();
    for (j, (&referent, &holder)) in shape.wr_referent.iter().zip(&shape.wr_holder).enumerate() {
        let wr = WeakRef::new(&nodes[referent], move |w: &Gc<WeakRef<PNode>>| {
            assert!(w.upgrade().is_none());
            bump(&CALLS, j);
        });
        match holder {
            HolderKind::Test => test_wrs.push((referent, wr)),
            HolderKind::Node(h) => nodes[h].wrs.borrow_mut().push(wr),
        }
    }
    test_wrs
}

impl Model {
    /// The model of a case just built from `shape`: every node alive and rooted.
    fn new(shape: Shape) -> Model {
        let n = shape.has_fin.len();
        let m = shape.wr_referent.len();
        let mut count = vec![1; n];
        for e in &shape.edges {
            for &t in e {
                count[t] += 1;
            }
        }
        Model {
            edges: shape.edges,
            has_fin: shape.has_fin,
            resurrect: shape.resurrect,
            self_loop: shape.self_loop,
            count,
            alive: vec![true; n],
            doomed: vec![false; n],
            finalized: vec![0; n],
            drops: vec![0; n],
            rooted: vec![true; n],
            store: Vec::new(),
            wr_referent: shape.wr_referent,
            wr_holder: shape.wr_holder,
            wr_registered: vec![true; m],
            calls: vec![0; m],
        }
    }
}

/// A random case: the shape, the real objects (with fresh thread-local records) and the
/// model.
fn build(rng: &mut Rng, max_nodes: usize) -> Case {
    let shape = Shape::random(rng, max_nodes);
    let (n, m) = (shape.has_fin.len(), shape.wr_referent.len());
    FIN.with(|v| *v.borrow_mut() = vec![0; n]);
    DROPS.with(|v| *v.borrow_mut() = vec![0; n]);
    CALLS.with(|v| *v.borrow_mut() = vec![0; m]);
    let nodes = make_nodes(&shape);
    let test_wrs = make_weakrefs(&shape, &nodes);
    let weaks = nodes.iter().map(Gc::downgrade).collect();
    Case {
        model: Model::new(shape),
        roots: nodes.into_iter().map(Some).collect(),
        weaks,
        test_wrs,
    }
}

/// Compares the real heap with the model; `full` after a collection (every live node is
/// then reachable from the roots and the stored handles).
fn check(case: &Case, full: bool, step: &str) {
    let m = &case.model;
    let n = m.alive.len();
    assert_eq!(read(&FIN), m.finalized, "{step}: finalizer runs");
    assert_eq!(read(&DROPS), m.drops, "{step}: drops");
    assert_eq!(read(&CALLS), m.calls, "{step}: callbacks");
    for i in 0..n {
        let expect = m.alive[i] && !m.doomed[i];
        assert_eq!(
            case.weaks[i].upgrade().is_some(),
            expect,
            "{step}: weak {i}"
        );
    }
    for (r, wr) in &case.test_wrs {
        let expect = m.alive[*r] && !m.doomed[*r];
        assert_eq!(wr.upgrade().is_some(), expect, "{step}: WeakRef to {r}");
    }
    assert_eq!(SELF_UPGRADES.with(|s| *s.borrow()), 0);
    if !full {
        return;
    }
    // Every live node is reachable from the roots or the stored handles, intact.
    let mut stack: Vec<Gc<PNode>> = case.roots.iter().flatten().cloned().collect();
    stack.extend(STORE.with(|s| s.borrow().clone()));
    let mut seen = BTreeSet::new();
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id) {
            continue;
        }
        let targets: Vec<usize> = node.edges.borrow().iter().map(|t| t.id).collect();
        assert_eq!(targets, m.edges[node.id], "{step}: edges of {}", node.id);
        assert_eq!(
            gencollect::is_finalized(&node),
            m.finalized[node.id] == 1,
            "{step}: is_finalized({})",
            node.id
        );
        stack.extend(node.edges.borrow().iter().cloned());
    }
    let alive: BTreeSet<usize> = (0..n).filter(|&i| m.alive[i]).collect();
    assert_eq!(seen, alive, "{step}: live nodes");
    let stored: Vec<usize> = STORE.with(|s| s.borrow().iter().map(|g| g.id).collect());
    let mut expect = m.store.clone();
    let mut got = stored;
    expect.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expect, "{step}: resurrected handles");
}

fn collect_and_check(case: &mut Case, step: &str) {
    let expected = case.model.collect();
    assert_eq!(collect(), expected, "{step}: collect()");
    check(case, true, step);
}

fn drain_and_check(case: &mut Case, step: &str) {
    case.model.drain();
    let taken = STORE.with(|s| core::mem::take(&mut *s.borrow_mut()));
    drop(taken);
    check(case, false, step);
}

fn run_case(seed: u64, max_nodes: usize) {
    assert_eq!(collect(), 0);
    gencollect::disable();
    // Even seeds: every collection holds generation 0 during its count pass (see
    // `gencollect::set_young_hold_threshold`); odd ones: none does.
    gencollect::set_young_hold_threshold(if seed.is_multiple_of(2) {
        0
    } else {
        usize::MAX
    });
    let mut rng = Rng::new(seed);
    let mut case = build(&mut rng, max_nodes);
    let n = case.roots.len();
    check(&case, true, "built");

    for round in 0..3 {
        // Drop a random subset of the roots, in random order.
        for _ in 0..n {
            let i = rng.below(n);
            if rng.chance(40) && case.roots[i].is_some() {
                let root = case.roots[i].take();
                case.model.rooted[i] = false;
                drop(root);
                case.model.dec(i);
                check(&case, false, &format!("round {round}: dropped root {i}"));
            }
        }
        collect_and_check(&mut case, &format!("round {round}: collect"));
        if rng.chance(50) {
            drain_and_check(&mut case, &format!("round {round}: drain"));
            collect_and_check(&mut case, &format!("round {round}: collect after drain"));
        }
    }

    // Drop everything: collect and drain until nothing is left.
    for i in 0..n {
        if let Some(root) = case.roots[i].take() {
            case.model.rooted[i] = false;
            drop(root);
            case.model.dec(i);
        }
    }
    check(&case, false, "all roots dropped");
    for k in 0..=n {
        collect_and_check(&mut case, &format!("final {k}: collect"));
        if case.model.store.is_empty() {
            break;
        }
        drain_and_check(&mut case, &format!("final {k}: drain"));
    }
    let m = &case.model;
    assert!(m.alive.iter().all(|&a| !a), "everything is freed");
    assert_eq!(read(&DROPS), vec![1; n], "each node dropped exactly once");
    let fin: Vec<u32> = m.has_fin.iter().map(|&f| u32::from(f)).collect();
    assert_eq!(read(&FIN), fin, "each finalizer ran exactly once");
    assert!(read(&CALLS).iter().all(|&c| c <= 1));
    assert_eq!(collect(), 0);
    drop(case);
}

#[cfg(not(miri))]
mod with_proptest {
    use proptest::prelude::*;

    proptest! {
        // `GCRT_SOAK=n` runs n times as many cases.
        #![proptest_config(ProptestConfig::with_cases(
            256 * std::env::var("GCRT_SOAK").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
        ))]

        #[test]
        fn finalizers_resurrection_and_weakrefs_match_the_model(seed in any::<u64>()) {
            super::run_case(seed, 24);
        }
    }
}

#[test]
fn fixed_seeds_match_the_model() {
    let (seeds, max_nodes) = if cfg!(miri) { (6, 5) } else { (500, 16) };
    for seed in 0..seeds {
        run_case(seed, max_nodes);
    }
}
