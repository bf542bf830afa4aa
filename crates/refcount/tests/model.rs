//! Random operations on a DAG of `Gc` nodes against a reference model.
//!
//! Nodes only point from newer to older nodes, so there are no cycles and refcounting alone
//! must free every node exactly when it becomes unreachable from the root handles. After
//! every step the test checks, for every node ever made: its `Drop` ran exactly once iff the
//! model says it is dead; every live node's id and edges are intact; its reference count is
//! the number of root handles plus edges to it; weak upgrades and weak strong counts agree
//! with the model; the heap's tracked list and tracked-allocation counters match.

use std::cell::RefCell;
use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::Config;
use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer, Weak};

thread_local! {
    /// Drops per node id on this thread.
    static DROPS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

struct MNode {
    id: usize,
    edges: RefCell<Vec<Gc<MNode>>>,
}

// SAFETY: reports exactly the handles in `edges`.
unsafe impl Trace for MNode {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.edges.trace(t);
    }
}

impl Drop for MNode {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut()[self.id] += 1);
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    New,
    /// Edge between the nodes of two root handles, from the newer to the older.
    Edge(usize, usize),
    /// Remove one edge of a root's node.
    Unedge(usize, usize),
    DropRoot(usize),
    CloneRoot(usize),
    Downgrade(usize),
    /// Upgrade a weak handle; keep the result as a root if it is alive.
    Upgrade(usize),
    DropWeak(usize),
}

/// The real graph and its model.
struct World {
    /// Model: per node, the ids its edges point to, in order.
    edges: Vec<Vec<usize>>,
    /// Model: whether the node has died (it never comes back).
    dead: Vec<bool>,
    roots: Vec<Gc<MNode>>,
    weaks: Vec<(usize, Weak<MNode>)>,
    base_list: usize,
    base_totals: (u64, u64),
    base_bytes: usize,
}

impl World {
    fn new() -> World {
        DROPS.with(|d| d.borrow_mut().clear());
        let (base_list, base_totals, base_bytes) =
            with_heap(|h| (h.list_len(0), h.tracked_totals(), h.bytes_in_use()));
        World {
            edges: Vec::new(),
            dead: Vec::new(),
            roots: Vec::new(),
            weaks: Vec::new(),
            base_list,
            base_totals,
            base_bytes,
        }
    }

    fn apply(&mut self, op: Op) {
        let nroots = self.roots.len();
        let nweaks = self.weaks.len();
        match op {
            Op::New => {
                let id = self.edges.len();
                self.edges.push(Vec::new());
                self.dead.push(false);
                DROPS.with(|d| d.borrow_mut().push(0));
                self.roots.push(Gc::new(MNode {
                    id,
                    edges: RefCell::new(Vec::new()),
                }));
            }
            Op::Edge(a, b) if nroots > 0 => {
                let (a, b) = (a % nroots, b % nroots);
                let (ia, ib) = (self.roots[a].id, self.roots[b].id);
                if ia == ib {
                    return;
                }
                let (from, to) = if ia > ib { (a, b) } else { (b, a) };
                let target = self.roots[to].clone();
                self.edges[self.roots[from].id].push(target.id);
                self.roots[from].edges.borrow_mut().push(target);
            }
            Op::Unedge(a, k) if nroots > 0 => {
                let node = self.roots[a % nroots].clone();
                let len = node.edges.borrow().len();
                if len > 0 {
                    self.edges[node.id].remove(k % len);
                    let removed = node.edges.borrow_mut().remove(k % len);
                    drop(removed);
                }
            }
            Op::DropRoot(a) if nroots > 0 => {
                drop(self.roots.swap_remove(a % nroots));
            }
            Op::CloneRoot(a) if nroots > 0 => {
                let c = self.roots[a % nroots].clone();
                self.roots.push(c);
            }
            Op::Downgrade(a) if nroots > 0 => {
                let r = &self.roots[a % nroots];
                self.weaks.push((r.id, Gc::downgrade(r)));
            }
            Op::Upgrade(w) if nweaks > 0 => {
                let (id, weak) = &self.weaks[w % nweaks];
                match weak.upgrade() {
                    Some(g) => {
                        assert!(!self.dead[*id], "node {id} upgraded after it died");
                        assert_eq!(g.id, *id);
                        self.roots.push(g);
                    }
                    None => assert!(self.dead[*id], "live node {id} failed to upgrade"),
                }
            }
            Op::DropWeak(w) if nweaks > 0 => {
                drop(self.weaks.swap_remove(w % nweaks));
            }
            _ => {}
        }
        self.update_liveness();
        self.check();
    }

    /// Marks the nodes no longer reachable from the roots as dead.
    fn update_liveness(&mut self) {
        let mut reach = vec![false; self.edges.len()];
        let mut stack: Vec<usize> = self.roots.iter().map(|r| r.id).collect();
        while let Some(id) = stack.pop() {
            if !reach[id] {
                reach[id] = true;
                stack.extend(&self.edges[id]);
            }
        }
        for (id, &r) in reach.iter().enumerate() {
            assert!(!(r && self.dead[id]), "dead node {id} reachable again");
            self.dead[id] = !r;
        }
    }

    /// The model's strong count of every node: root handles plus edges from live nodes.
    fn model_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.edges.len()];
        for r in &self.roots {
            counts[r.id] += 1;
        }
        for (id, targets) in self.edges.iter().enumerate() {
            if !self.dead[id] {
                for &t in targets {
                    counts[t] += 1;
                }
            }
        }
        counts
    }

    fn check(&self) {
        let counts = self.model_counts();
        let drops = DROPS.with(|d| d.borrow().clone());
        for (id, &d) in drops.iter().enumerate() {
            assert_eq!(d, usize::from(self.dead[id]), "drops of node {id}");
        }
        // Walk the real graph from the roots, keeping one extra handle per node found.
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut stack: Vec<Gc<MNode>> = self.roots.clone();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            let ids: Vec<usize> = node.edges.borrow().iter().map(|e| e.id).collect();
            assert_eq!(ids, self.edges[node.id], "edges of node {}", node.id);
            stack.extend(node.edges.borrow().iter().cloned());
            found.push(node);
        }
        for node in &found {
            assert_eq!(
                Gc::ref_count(node),
                counts[node.id] + 1,
                "count of node {} (plus the walk's handle)",
                node.id
            );
        }
        drop(found);
        let live: HashSet<usize> = (0..self.dead.len()).filter(|&i| !self.dead[i]).collect();
        assert_eq!(seen, live, "nodes reachable in the real graph");
        let mut weak_held = HashSet::new();
        for (id, w) in &self.weaks {
            weak_held.insert(*id);
            assert_eq!(w.strong_count(), counts[*id], "weak strong_count of {id}");
            let up = w.upgrade();
            assert_eq!(up.as_ref().map(|g| g.id), live.contains(id).then_some(*id));
        }
        // A death counts when the value dies, whether or not a `Weak` still holds the memory.
        let held = live.len() as u64;
        let made = self.edges.len() as u64;
        let (list, totals) = with_heap(|h| (h.list_len(0), h.tracked_totals()));
        assert_eq!(list - self.base_list, live.len(), "tracked list length");
        assert_eq!(
            totals,
            (self.base_totals.0 + made, self.base_totals.1 + made - held),
            "tracked allocations and frees"
        );
    }

    /// Drops every handle; everything must be dropped once and freed.
    fn finish(mut self) {
        self.roots.clear();
        self.weaks.clear();
        self.update_liveness();
        self.check();
        let drops = DROPS.with(|d| d.borrow().clone());
        assert!(drops.iter().all(|&d| d == 1));
        assert_eq!(with_heap(|h| h.bytes_in_use()), self.base_bytes);
    }
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<usize>();
    prop_oneof![
        3 => Just(Op::New),
        4 => (i, i).prop_map(|(a, b)| Op::Edge(a, b)),
        2 => (i, i).prop_map(|(a, k)| Op::Unedge(a, k)),
        3 => i.prop_map(Op::DropRoot),
        2 => i.prop_map(Op::CloneRoot),
        1 => i.prop_map(Op::Downgrade),
        2 => i.prop_map(Op::Upgrade),
        1 => i.prop_map(Op::DropWeak),
    ]
}

fn config() -> Config {
    Config {
        cases: if cfg!(miri) { 2 } else { 256 },
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_dag_operations_match_the_model(
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 25 } else { 200 }),
    ) {
        let mut world = World::new();
        for op in ops {
            world.apply(op);
        }
        world.finish();
    }
}

/// Xorshift64: the same operations everywhere, Miri included.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn deterministic_dag_operations_match_the_model() {
    let seeds: &[u64] = if cfg!(miri) {
        &[0x9E37_79B9_7F4A_7C15]
    } else {
        &[0x9E37_79B9_7F4A_7C15, 1, 0xDEAD_BEEF, 42]
    };
    let steps = if cfg!(miri) { 60 } else { 3_000 };
    for &seed in seeds {
        let mut rng = XorShift(seed);
        let mut world = World::new();
        let mut kinds = [0usize; 8];
        for _ in 0..steps {
            let a = rng.next() as usize;
            let b = rng.next() as usize;
            // Keep the graph from growing without bound: drop roots more when it is big.
            let big = world.roots.len() > 40;
            let kind = rng.below(18);
            let op = match kind {
                0..=2 if !big => Op::New,
                0..=2 => Op::DropRoot(a),
                3..=6 => Op::Edge(a, b),
                7..=8 => Op::Unedge(a, b),
                9..=11 => Op::DropRoot(a),
                12..=13 => Op::CloneRoot(a),
                14 => Op::Downgrade(a),
                15..=16 => Op::Upgrade(a),
                _ => Op::DropWeak(a),
            };
            kinds[match op {
                Op::New => 0,
                Op::Edge(..) => 1,
                Op::Unedge(..) => 2,
                Op::DropRoot(_) => 3,
                Op::CloneRoot(_) => 4,
                Op::Downgrade(_) => 5,
                Op::Upgrade(_) => 6,
                Op::DropWeak(_) => 7,
            }] += 1;
            world.apply(op);
        }
        assert!(
            kinds.iter().all(|&k| k > 0),
            "every operation ran: {kinds:?}"
        );
        assert!(
            world.dead.iter().any(|&d| d),
            "some nodes died before the end"
        );
        world.finish();
    }
}
