//! The reference model and the world of nodes the tests drive, and the tests, by theme:
//! where nodes sit in the set (`placements`) and random programs against the model
//! (`programs`).

use std::panic::{AssertUnwindSafe, catch_unwind};

use refcount::WeakRef;

use super::common::Rng;
use super::*;

mod placements;
mod programs;

struct Settings;

impl Settings {
    /// Splits every count pass that has objects for both threads, analyses full collections
    /// whole, holds generation 0 (`hold`) or never, and turns automatic collection off.
    fn split(hold: bool) -> Settings {
        gencollect::disable();
        gencollect::set_parallel(true);
        gencollect::set_parallel_threshold(0);
        gencollect::set_young_hold_threshold(if hold { 0 } else { usize::MAX });
        gencollect::set_full_scan(true);
        Settings
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        gencollect::set_parallel_threshold(1 << 17);
        gencollect::set_parallel(true);
        gencollect::set_young_hold_threshold(1 << 16);
        gencollect::set_full_scan(false);
        gencollect::enable();
    }
}

/// The reference model: nodes by index, their generations, their edges, the handles the
/// test holds, and each node's strong count (kept as the graph changes).
#[derive(Default)]
struct Model {
    alive: Vec<bool>,
    generation: Vec<usize>,
    edges: Vec<Vec<usize>>,
    roots: Vec<usize>,
    count: Vec<usize>,
}

impl Model {
    fn add(&mut self) -> usize {
        self.alive.push(true);
        self.generation.push(0);
        self.edges.push(Vec::new());
        self.roots.push(1);
        self.count.push(1);
        self.alive.len() - 1
    }

    fn add_edge(&mut self, from: usize, to: usize) {
        self.edges[from].push(to);
        self.count[to] += 1;
    }

    /// A handle from outside the nodes (the test's, or one the nodes do not report).
    fn add_root(&mut self, i: usize) {
        self.roots[i] += 1;
        self.count[i] += 1;
    }

    fn drop_root(&mut self, i: usize) {
        self.roots[i] -= 1;
        self.drop_ref(i);
    }

    fn clear_edges(&mut self, from: usize) {
        self.drop_first_edges(from, self.edges[from].len());
    }

    /// Drops the first `k` edges of `from`, keeping the later ones.
    fn drop_first_edges(&mut self, from: usize, k: usize) {
        let gone: Vec<usize> = self.edges[from].drain(..k).collect();
        for t in gone {
            self.drop_ref(t);
        }
    }

    /// Refcounting: a node whose count reaches 0 dies, and lets go of its edges.
    fn drop_ref(&mut self, t: usize) {
        self.count[t] -= 1;
        let mut todo = vec![t];
        while let Some(i) = todo.pop() {
            if self.count[i] != 0 || !std::mem::replace(&mut self.alive[i], false) {
                continue;
            }
            for &t in &self.edges[i] {
                self.count[t] -= 1;
                if self.count[t] == 0 && self.alive[t] {
                    todo.push(t);
                }
            }
        }
    }

    /// Each node's strong count, computed from the graph (the test's handles and the edges
    /// of live nodes): the model checks its own bookkeeping with it.
    fn incoming(&self) -> Vec<usize> {
        let mut count = self.roots.clone();
        for (j, out) in self.edges.iter().enumerate() {
            if self.alive[j] {
                for &t in out {
                    count[t] += 1;
                }
            }
        }
        count
    }

    /// A collection of generations `0..=g`: what is not reached from handles from outside
    /// the set is found and dies; refcounting follows; the survivors move up a generation.
    /// Returns how many were found.
    fn collect(&mut self, g: usize) -> usize {
        let n = self.alive.len();
        let in_set: Vec<bool> = (0..n)
            .map(|i| self.alive[i] && self.generation[i] <= g)
            .collect();
        let mut outside = self.roots.clone();
        for (j, out) in self.edges.iter().enumerate() {
            if self.alive[j] && !in_set[j] {
                for &t in out {
                    outside[t] += 1;
                }
            }
        }
        let mut reached = vec![false; n];
        let mut todo: Vec<usize> = (0..n).filter(|&i| in_set[i] && outside[i] > 0).collect();
        while let Some(i) = todo.pop() {
            if !std::mem::replace(&mut reached[i], true) {
                todo.extend(self.edges[i].iter().filter(|&&t| in_set[t] && !reached[t]));
            }
        }
        let found: Vec<usize> = (0..n).filter(|&i| in_set[i] && !reached[i]).collect();
        for ((generation, &set), &reached) in self.generation.iter_mut().zip(&in_set).zip(&reached)
        {
            if set && reached {
                *generation = (g + 1).min(2);
            }
        }
        for &i in &found {
            self.alive[i] = false;
        }
        for &i in &found {
            for k in 0..self.edges[i].len() {
                let t = self.edges[i][k];
                if self.alive[t] {
                    self.drop_ref(t);
                } else {
                    self.count[t] -= 1;
                }
            }
        }
        found.len()
    }

    /// `gencollect::freeze()`: every live node to the permanent generation (3 here).
    fn freeze(&mut self) {
        for (generation, &alive) in self.generation.iter_mut().zip(&self.alive) {
            if alive {
                *generation = 3;
            }
        }
    }

    /// `gencollect::unfreeze()`: the permanent generation back into generation 2.
    fn unfreeze(&mut self) {
        for generation in &mut self.generation {
            if *generation == 3 {
                *generation = 2;
            }
        }
    }

    /// What a collection of `0..=g` that did not complete does: its generations move up.
    fn promote(&mut self, g: usize) {
        for (generation, &alive) in self.generation.iter_mut().zip(&self.alive) {
            if alive && *generation <= g {
                *generation = (g + 1).min(2);
            }
        }
    }
}

/// Nodes, the test's handles to them, weak handles to some, and the model.
struct World {
    model: Model,
    held: Vec<Option<Handle>>,
    weak: Vec<Option<Weak<dyn Node>>>,
    kinds: Vec<Kind>,
    /// What each collection returned, in order.
    results: Vec<usize>,
    ctx: String,
}

impl World {
    /// A world on an empty heap (every earlier world collected whole).
    fn new(ctx: impl Into<String>) -> World {
        gencollect::collect();
        let left = gencollect::get_objects(None).unwrap().len();
        assert_eq!(left, 0, "the heap is empty before a world is made");
        assert_eq!(gencollect::get_freeze_count(), 0, "nothing frozen");
        DROPPED.with(|d| d.borrow_mut().clear());
        FINALIZED.with(|f| f.borrow_mut().clear());
        FIRED.with(|f| f.borrow_mut().clear());
        World {
            model: Model::default(),
            held: Vec::new(),
            weak: Vec::new(),
            kinds: Vec::new(),
            results: Vec::new(),
            ctx: ctx.into(),
        }
    }

    fn len(&self) -> usize {
        self.held.len()
    }

    /// A new node in generation 0, held by the test; with a weak handle if `weak`.
    fn add(&mut self, kind: Kind, weak: bool) -> usize {
        let i = self.len();
        self.add_made(make(kind, i as u32), kind, weak)
    }

    /// Adds a node made by the caller with id `self.len()`.
    fn add_made(&mut self, node: Handle, kind: Kind, weak: bool) -> usize {
        let i = self.model.add();
        assert_eq!(node.id() as usize, i);
        self.weak.push(weak.then(|| Gc::downgrade(&node)));
        self.held.push(Some(node));
        self.kinds.push(kind);
        i
    }

    /// Whether the test can get a handle to node `i`.
    fn reachable(&self, i: usize) -> bool {
        self.model.alive[i] && (self.held[i].is_some() || self.weak[i].is_some())
    }

    /// A handle to node `i` (which must be alive and held or weakly referenced).
    fn handle(&self, i: usize) -> Handle {
        if let Some(h) = &self.held[i] {
            return h.clone();
        }
        let w = self.weak[i].as_ref().expect("a way to reach the node");
        w.upgrade().expect("a live node")
    }

    fn link(&mut self, from: usize, to: usize) {
        let target = self.handle(to);
        self.handle(from).link(target);
        self.model.add_edge(from, to);
    }

    /// Links `members` into a ring (a self-loop for one member).
    fn ring(&mut self, members: &[usize]) {
        for (k, &m) in members.iter().enumerate() {
            self.link(m, members[(k + 1) % members.len()]);
        }
    }

    /// Drops every edge of node `from`.
    fn unlink_all(&mut self, from: usize) {
        let out = self.handle(from).take_out();
        assert_eq!(out.len(), self.model.edges[from].len(), "{}", self.ctx);
        drop(out);
        self.model.clear_edges(from);
    }

    /// Drops the test's handle to node `i`.
    fn release(&mut self, i: usize) {
        if self.held[i].take().is_some() {
            self.model.drop_root(i);
        }
    }

    /// Runs a collection of `0..=g` (`None`: `collect()`) and checks it against the model.
    fn collect(&mut self, g: Option<usize>) -> usize {
        let found = match g {
            None => gencollect::collect(),
            Some(g) => gencollect::collect_generation(g).unwrap(),
        };
        let expected = self.model.collect(g.unwrap_or(2));
        assert_eq!(
            found,
            expected,
            "{}: collection {} of generation {g:?}",
            self.ctx,
            self.results.len()
        );
        self.results.push(found);
        self.verify();
        found
    }

    /// [`collect`](Self::collect) when the nodes `pinned` count as held from outside (their
    /// values cannot be read).
    fn collect_pinned(&mut self, g: Option<usize>, pinned: &[usize]) -> usize {
        let found = match g {
            None => gencollect::collect(),
            Some(g) => gencollect::collect_generation(g).unwrap(),
        };
        for &i in pinned {
            self.model.add_root(i);
        }
        let expected = self.model.collect(g.unwrap_or(2));
        for &i in pinned {
            self.model.drop_root(i);
        }
        assert_eq!(found, expected, "{}: generation {g:?}, pinned", self.ctx);
        self.results.push(found);
        self.verify();
        found
    }

    fn freeze(&mut self) {
        gencollect::freeze();
        self.model.freeze();
    }

    fn unfreeze(&mut self) {
        gencollect::unfreeze();
        self.model.unfreeze();
    }

    /// Every dead node was dropped exactly once and no live one was; every live node with a
    /// weak handle has the strong count the model gives it.
    fn verify(&self) {
        let n = self.len();
        let mut drops = vec![0u32; n];
        DROPPED.with(|d| {
            for &id in d.borrow().iter() {
                if id < SPAWN_BASE {
                    drops[id as usize] += 1;
                }
            }
        });
        let incoming = self.model.incoming();
        for i in 0..n {
            let alive = self.model.alive[i];
            if alive {
                assert_eq!(incoming[i], self.model.count[i], "the model's own count");
            }
            assert_eq!(
                drops[i],
                u32::from(!alive),
                "{}: node {i} ({:?}) dropped {} times, alive in the model: {alive}",
                self.ctx,
                self.kinds[i],
                drops[i]
            );
            if let Some(w) = &self.weak[i] {
                match w.upgrade() {
                    Some(g) => {
                        assert!(alive, "{}: node {i} upgrades", self.ctx);
                        assert_eq!(
                            Gc::ref_count(&g) - 1,
                            incoming[i],
                            "{}: node {i} ({:?})'s count",
                            self.ctx,
                            self.kinds[i]
                        );
                    }
                    None => assert!(!alive, "{}: node {i} does not upgrade", self.ctx),
                }
            }
        }
        assert_eq!(OFF_THREAD.with(|o| o.get()), 0, "{}", self.ctx);
        // Finalizers: of every dead node that has one, once, and of no other.
        let mut finalized = vec![0u32; n];
        FINALIZED.with(|f| {
            for &id in f.borrow().iter() {
                finalized[id as usize] += 1;
            }
        });
        for (i, &times) in finalized.iter().enumerate() {
            let expected = u32::from(self.kinds[i] == Kind::Fz && !self.model.alive[i]);
            assert_eq!(times, expected, "{}: node {i}'s finalizer", self.ctx);
        }
    }

    /// Each node's strong count through its weak handle (`None` for dead ones or those
    /// without one).
    fn counts(&self) -> Vec<Option<usize>> {
        self.weak
            .iter()
            .map(|w| {
                w.as_ref()
                    .and_then(Weak::upgrade)
                    .map(|g| Gc::ref_count(&g) - 1)
            })
            .collect()
    }

    /// Asserts that the set of a full collection (lists 2, 1, 0) holds the nodes in the order
    /// they were made, `sizes` of them in each list (checked only for small worlds).
    fn check_order(&self, sizes: [usize; 3]) {
        if self.len() > 5_000 {
            return;
        }
        let addrs: HashMap<usize, usize> = (0..self.len())
            .filter(|&i| self.model.alive[i])
            .map(|i| (Gc::addr(&self.handle(i)), i))
            .collect();
        let mut expected = 0;
        for (b, g) in [2, 1, 0].into_iter().enumerate() {
            let objs = gencollect::get_objects(Some(g)).unwrap();
            assert_eq!(objs.len(), sizes[b], "{}: generation {g}", self.ctx);
            for o in &objs {
                assert_eq!(
                    addrs.get(&o.as_obj().addr()),
                    Some(&expected),
                    "{}: position {expected}",
                    self.ctx
                );
                expected += 1;
            }
        }
    }

    /// Drops every handle and collects: everything must be gone.
    fn finish(mut self) -> Vec<usize> {
        self.unfreeze();
        for i in 0..self.len() {
            self.release(i);
        }
        self.collect(None);
        assert!(
            self.model.alive.iter().all(|a| !a),
            "{}: the model is empty",
            self.ctx
        );
        assert_eq!(gencollect::collect(), 0, "{}", self.ctx);
        assert!(
            gencollect::get_objects(None).unwrap().is_empty(),
            "{}: every object is freed",
            self.ctx
        );
        std::mem::take(&mut self.results)
    }
}

/// Makes `sizes[0]` nodes and moves them to generation 2, then `sizes[1]` moved to
/// generation 1, then `sizes[2]` left in generation 0: positions `0..n` of a full
/// collection's set, in that order. `kind_at` and `weak_at` choose by position.
fn three_generations(
    world: &mut World,
    sizes: [usize; 3],
    mut kind_at: impl FnMut(usize) -> Kind,
    weak_at: impl Fn(usize) -> bool,
) {
    for (b, &size) in sizes.iter().enumerate() {
        for _ in 0..size {
            let p = world.len();
            world.add(kind_at(p), weak_at(p));
        }
        match b {
            0 => assert_eq!(world.collect(Some(1)), 0, "{}", world.ctx),
            1 => assert_eq!(world.collect(Some(0)), 0, "{}", world.ctx),
            _ => {}
        }
    }
    world.check_order(sizes);
}

/// Kinds in runs of 1 to 3 nodes of each pure type, in a random order.
fn pure_runs(rng: &mut Rng) -> impl FnMut(usize) -> Kind + '_ {
    let mut kind = Kind::P0;
    let mut left = 0;
    move |_| {
        if left == 0 {
            kind = PURE[rng.below(PURE.len())];
            left = 1 + rng.below(3);
        }
        left -= 1;
        kind
    }
}

/// The positions `0..n` in a random order, cut into rings of 1 to `max` members.
fn random_rings(rng: &mut Rng, n: usize, max: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut rings = Vec::new();
    let mut rest = &order[..];
    while !rest.is_empty() {
        let k = (1 + rng.below(max)).min(rest.len());
        rings.push(rest[..k].to_vec());
        rest = &rest[k..];
    }
    rings
}

/// Links `rings`, adds `extra` random edges, keeps the test's handles to about a sixth of
/// the nodes (and to every node `keep` names) and drops the others.
fn wire(world: &mut World, rng: &mut Rng, rings: &[Vec<usize>], extra: usize, keep: &[usize]) {
    for ring in rings {
        world.ring(ring);
    }
    let n = world.len();
    for _ in 0..extra {
        let (a, b) = (rng.below(n), rng.below(n));
        world.link(a, b);
    }
    for i in 0..n {
        if !keep.contains(&i) && !rng.chance(16) {
            world.release(i);
        }
    }
}
