//! Property test: random object graphs checked against a reference model.
//!
//! A seeded xorshift generator builds and mutates a graph of `PNode`s (arbitrary edges,
//! self-loops and cycles included) held by a set of root handles, drops random roots and
//! edges, and runs manual collections of every generation as well as automatic ones (low
//! thresholds). A model mirrors the graph: node ids, edges, root handles, and, from the
//! nodes' drop counters, which nodes have been freed.
//!
//! Checked after every step:
//! * every node was dropped at most once, and only if it is unreachable in the model;
//! * every reachable node is intact: walking the real graph from the roots finds exactly
//!   the model's ids and edges.
//!
//! Checked after every full `collect()`: every unreachable node is freed, and `collect()`
//! returned exactly the number of unreachable nodes that refcounting had not freed yet.
//! After `collect_generation(g)`: the return value is exactly the number of nodes of
//! generations `0..=g` that are unreachable from the roots and from the older generations
//! (predicted from `get_generation`), and all of them are freed.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

use gcrt_derive::Trace;
use gencollect::{collect, collect_generation, get_generation};
use refcount::{Gc, Weak};

mod common;
use common::Rng;

/// Per-id drop counters, shared by all nodes of one run.
#[derive(Clone, Default)]
struct Drops(Rc<RefCell<Vec<u32>>>);

// SAFETY: holds no handles.
unsafe impl refcount::Trace for Drops {
    fn trace(&self, _: &mut refcount::Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct PNode {
    id: usize,
    edges: RefCell<Vec<Gc<PNode>>>,
    drops: Drops,
}

impl Drop for PNode {
    fn drop(&mut self) {
        self.drops.0.borrow_mut()[self.id] += 1;
    }
}

/// The reference model plus the real handles.
struct World {
    drops: Drops,
    /// Model edges of every node ever created (kept after it is freed, for reachability).
    edges: Vec<Vec<usize>>,
    /// Weak handles to every node, to look up generations.
    weak: Vec<Weak<PNode>>,
    /// Root handles held by the test.
    roots: Vec<Gc<PNode>>,
    rng: Rng,
    /// Sum of the manual collections' return values (to check the test is not vacuous).
    found: usize,
}

impl World {
    fn new(seed: u64) -> World {
        World {
            drops: Drops::default(),
            edges: Vec::new(),
            weak: Vec::new(),
            roots: Vec::new(),
            rng: Rng::new(seed),
            found: 0,
        }
    }

    fn dropped(&self, id: usize) -> bool {
        self.drops.0.borrow()[id] > 0
    }

    /// Ids reachable from the model roots.
    fn reachable_from(&self, starts: impl IntoIterator<Item = usize>) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut queue: VecDeque<usize> = starts.into_iter().collect();
        while let Some(id) = queue.pop_front() {
            if seen.insert(id) {
                queue.extend(self.edges[id].iter().copied());
            }
        }
        seen
    }

    fn reachable(&self) -> HashSet<usize> {
        self.reachable_from(self.roots.iter().map(|r| r.id))
    }

    fn unreachable_alive(&self) -> usize {
        let reachable = self.reachable();
        (0..self.edges.len())
            .filter(|id| !reachable.contains(id) && !self.dropped(*id))
            .count()
    }

    /// A handle to a random reachable node: a root, then a few random real edges.
    fn pick(&mut self) -> Option<Gc<PNode>> {
        if self.roots.is_empty() {
            return None;
        }
        let mut cur = self.roots[self.rng.below(self.roots.len())].clone();
        for _ in 0..self.rng.below(4) {
            let next = {
                let edges = cur.edges.borrow();
                if edges.is_empty() {
                    break;
                }
                edges[self.rng.below(edges.len())].clone()
            };
            cur = next;
        }
        Some(cur)
    }

    fn create(&mut self) {
        let mut targets = Vec::new();
        for _ in 0..self.rng.below(3) {
            if let Some(t) = self.pick() {
                targets.push(t);
            }
        }
        self.spawn(targets);
    }

    /// A new node holding `targets`, added as a root and to the model.
    fn spawn(&mut self, targets: Vec<Gc<PNode>>) {
        let id = self.edges.len();
        self.drops.0.borrow_mut().push(0);
        self.edges.push(targets.iter().map(|t| t.id).collect());
        // May start an automatic collection.
        let n = Gc::new(PNode {
            id,
            edges: RefCell::new(targets),
            drops: self.drops.clone(),
        });
        self.weak.push(Gc::downgrade(&n));
        self.roots.push(n);
    }

    fn add_edge(&mut self) {
        let (Some(from), Some(to)) = (self.pick(), self.pick()) else {
            return;
        };
        // Sometimes a self-loop.
        let to = if self.rng.chance(15) {
            from.clone()
        } else {
            to
        };
        self.edges[from.id].push(to.id);
        from.edges.borrow_mut().push(to);
    }

    fn remove_edge(&mut self) {
        let Some(from) = self.pick() else { return };
        let len = from.edges.borrow().len();
        if len == 0 {
            return;
        }
        let i = self.rng.below(len);
        self.edges[from.id].remove(i);
        let removed = from.edges.borrow_mut().remove(i);
        drop(from);
        drop(removed); // may free by refcounting
    }

    fn drop_root(&mut self) {
        if !self.roots.is_empty() {
            let i = self.rng.below(self.roots.len());
            drop(self.roots.swap_remove(i));
        }
    }

    fn new_root(&mut self) {
        if let Some(n) = self.pick() {
            self.roots.push(n);
        }
    }

    /// A new root node whose edges are root handles moved out of `roots`: no count changes.
    fn create_moving(&mut self) {
        let mut targets = Vec::new();
        for _ in 0..self.rng.below(3) {
            if self.roots.is_empty() {
                break;
            }
            let i = self.rng.below(self.roots.len());
            targets.push(self.roots.swap_remove(i));
        }
        self.spawn(targets);
    }

    /// Moves a root handle into another root's node, or into a node one edge away reached
    /// by borrowing: no clone and no drop, so no count changes at all.
    fn move_root(&mut self) {
        if self.roots.len() < 2 {
            return;
        }
        let i = self.rng.below(self.roots.len());
        let moved = self.roots.swap_remove(i);
        let moved_id = moved.id;
        let host = &self.roots[self.rng.below(self.roots.len())];
        let mut moved = Some(moved);
        let mut target = host.id;
        if self.rng.chance(50) {
            let edges = host.edges.borrow();
            if !edges.is_empty() {
                let child = &edges[self.rng.below(edges.len())];
                if let Ok(mut child_edges) = child.edges.try_borrow_mut() {
                    child_edges.extend(moved.take());
                    target = child.id;
                }
            }
        }
        if let Some(h) = moved {
            host.edges.borrow_mut().push(h);
        }
        self.edges[target].push(moved_id);
    }

    /// A new root node without edges.
    fn create_leaf(&mut self) {
        self.spawn(Vec::new());
    }

    /// Adds a root by upgrading the weak handle of a random node, alive or not: an increment
    /// only (it may bring back a node that nothing reached, before a collection found it).
    fn upgrade_root(&mut self) {
        if self.weak.is_empty() {
            return;
        }
        let i = self.rng.below(self.weak.len());
        if let Some(n) = self.weak[i].upgrade() {
            self.roots.push(n);
        }
    }

    /// Adds a root by cloning another: an increment only.
    fn clone_root(&mut self) {
        if !self.roots.is_empty() {
            let n = self.roots[self.rng.below(self.roots.len())].clone();
            self.roots.push(n);
        }
    }

    /// [`check`](Self::check) without touching any count: walks the real graph by borrows
    /// only (cloning handles would drop them again, which marks objects dirty).
    fn check_by_borrows(&self, context: &str) {
        let reachable = self.reachable();
        for (id, &d) in self.drops.0.borrow().iter().enumerate() {
            assert!(d <= 1, "{context}: node {id} dropped {d} times");
            assert!(
                d == 0 || !reachable.contains(&id),
                "{context}: reachable node {id} was dropped"
            );
        }
        fn walk(n: &PNode, model: &[Vec<usize>], seen: &mut HashSet<usize>, context: &str) {
            if !seen.insert(n.id) {
                return;
            }
            let edges = n.edges.borrow();
            let real: Vec<usize> = edges.iter().map(|e| e.id).collect();
            assert_eq!(real, model[n.id], "{context}: edges of node {}", n.id);
            for e in edges.iter() {
                walk(e, model, seen, context);
            }
        }
        let mut seen = HashSet::new();
        for r in &self.roots {
            walk(r, &self.edges, &mut seen, context);
        }
        assert_eq!(seen, reachable, "{context}: reachable set");
    }

    /// A full collection must find exactly the model's garbage, whatever it analysed.
    /// Returns (objects analysed, objects in generations 0 to 2 before).
    fn full_collect_by_borrows(&mut self, context: &str) -> (usize, usize) {
        let expected = self.unreachable_alive();
        // Not `get_objects`: the handles it returns would mark everything dirty when dropped.
        let tracked: usize = refcount::engine::with_heap(|h| (0..3).map(|g| h.list_len(g)).sum());
        let before = gencollect::get_stats()[2].candidates;
        assert_eq!(collect(), expected, "{context}: collect() return value");
        let analysed = gencollect::get_stats()[2].candidates - before;
        self.found += expected;
        let reachable = self.reachable();
        for id in 0..self.edges.len() {
            assert_eq!(
                self.dropped(id),
                !reachable.contains(&id),
                "{context}: node {id} after a full collection"
            );
        }
        self.check_by_borrows(context);
        (analysed, tracked)
    }

    /// Invariants that hold at any time.
    fn check(&self, context: &str) {
        let reachable = self.reachable();
        for (id, &d) in self.drops.0.borrow().iter().enumerate() {
            assert!(d <= 1, "{context}: node {id} dropped {d} times");
            if d == 1 {
                assert!(
                    !reachable.contains(&id),
                    "{context}: reachable node {id} was dropped"
                );
            }
        }
        // Walk the real graph: ids and edges match the model.
        let mut seen = HashSet::new();
        let mut queue: VecDeque<Gc<PNode>> = self.roots.iter().cloned().collect();
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n.id) {
                continue;
            }
            let real: Vec<usize> = n.edges.borrow().iter().map(|e| e.id).collect();
            assert_eq!(real, self.edges[n.id], "{context}: edges of node {}", n.id);
            queue.extend(n.edges.borrow().iter().cloned());
        }
        assert_eq!(seen, reachable, "{context}: reachable set");
    }

    fn full_collect(&mut self, context: &str) {
        let expected = self.unreachable_alive();
        assert_eq!(collect(), expected, "{context}: collect() return value");
        self.found += expected;
        let reachable = self.reachable();
        for id in 0..self.edges.len() {
            assert_eq!(
                self.dropped(id),
                !reachable.contains(&id),
                "{context}: node {id} after a full collection"
            );
        }
        self.check(context);
    }

    fn generation_collect(&mut self, generation: usize, context: &str) {
        // Generation of every node still alive (the temporary strong handle is dropped
        // before the collection).
        let mut gen_of = vec![None; self.edges.len()];
        for (id, w) in self.weak.iter().enumerate() {
            if let Some(n) = w.upgrade() {
                gen_of[id] = Some(get_generation(&n).expect("nodes are tracked"));
            }
        }
        let collected = |id: usize| gen_of[id].is_some_and(|g| g <= generation);
        // Roots of this collection: the handles held by the test and every live node of an
        // older generation (the collector sees their references as coming from outside).
        let starts = self
            .roots
            .iter()
            .map(|r| r.id)
            .chain((0..self.edges.len()).filter(|&id| gen_of[id].is_some() && !collected(id)));
        let kept = self.reachable_from(starts);
        let garbage: Vec<usize> = (0..self.edges.len())
            .filter(|&id| collected(id) && !kept.contains(&id))
            .collect();
        assert_eq!(
            collect_generation(generation),
            Ok(garbage.len()),
            "{context}: collect_generation({generation}) return value"
        );
        self.found += garbage.len();
        for id in garbage {
            assert!(self.dropped(id), "{context}: garbage node {id} not freed");
        }
        self.check(context);
    }
}

/// How many times more seeds to run than the default: `GCRT_SOAK=50 cargo test --release
/// --test prop_graph` soaks the collector for a few minutes.
fn soak() -> u64 {
    std::env::var("GCRT_SOAK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Even seeds have every collection hold generation 0 during its count pass (see
/// `gencollect::set_young_hold_threshold`), odd ones never.
fn hold_young_on_even_seeds(seed: u64) {
    gencollect::set_young_hold_threshold(if seed.is_multiple_of(2) {
        0
    } else {
        usize::MAX
    });
}

/// Every third seed splits the count pass of every collection with a helper thread (see
/// `gencollect::set_parallel`); the others never. `PNode`'s trace is not pure (its `Drops`
/// field keeps the default answer), so the helper counts nothing and the collecting thread
/// counts everything after it: the fallback path of a split pass.
fn split_on_every_third_seed(seed: u64) {
    gencollect::set_parallel_threshold(if seed.is_multiple_of(3) {
        0
    } else {
        usize::MAX
    });
}

/// Runs one seed; returns what the manual collections found.
fn run(seed: u64, steps: usize) -> usize {
    collect();
    hold_young_on_even_seeds(seed);
    split_on_every_third_seed(seed);
    gencollect::set_threshold(5, 2, 2);
    gencollect::enable();
    let mut w = World::new(seed);
    for step in 0..steps {
        let context = format!("seed {seed} step {step}");
        match w.rng.below(100) {
            0..=34 => w.create(),
            35..=54 => w.add_edge(),
            55..=64 => w.remove_edge(),
            65..=79 => w.drop_root(),
            80..=84 => w.new_root(),
            85..=89 => w.full_collect(&context),
            90..=94 => w.generation_collect(0, &context),
            _ => w.generation_collect(1, &context),
        }
        w.check(&context);
    }
    w.full_collect(&format!("seed {seed} end"));
    w.roots.clear();
    w.full_collect(&format!("seed {seed} all roots dropped"));
    assert!(w.drops.0.borrow().iter().all(|&d| d == 1));
    gencollect::disable();
    w.found
}

/// Random graphs with automatic collections enabled (thresholds 5, 2, 2).
#[test]
fn random_graphs_match_the_model() {
    let (seeds, steps) = if cfg!(miri) {
        (2, 60)
    } else {
        (48 * soak(), 300)
    };
    let before = gencollect::get_stats();
    let found: usize = (1..=seeds).map(|seed| run(seed, steps)).sum();
    let after = gencollect::get_stats();
    // Not vacuous: manual collections found garbage, and automatic ones ran too.
    assert!(found > 0);
    let manual = 3 * seeds as usize; // at least: the initial and the two final collections
    assert!(after[0].collections - before[0].collections > 0);
    assert!(after[2].collections - before[2].collections >= manual);
}

/// The same without automatic collections: every free between manual collections comes
/// from refcounting, so the counts are fully determined by the model.
#[test]
fn random_graphs_manual_collections_only() {
    let (seeds, steps) = if cfg!(miri) {
        (1, 60)
    } else {
        (32 * soak(), 300)
    };
    let mut found = 0;
    for seed in 1_000..1_000 + seeds {
        collect();
        hold_young_on_even_seeds(seed);
        split_on_every_third_seed(seed);
        gencollect::disable();
        let mut w = World::new(seed);
        for step in 0..steps {
            let context = format!("manual seed {seed} step {step}");
            match w.rng.below(100) {
                0..=39 => w.create(),
                40..=59 => w.add_edge(),
                60..=69 => w.remove_edge(),
                70..=84 => w.drop_root(),
                85..=89 => w.full_collect(&context),
                90..=94 => w.generation_collect(0, &context),
                _ => w.generation_collect(1, &context),
            }
            w.check(&context);
        }
        w.roots.clear();
        w.full_collect(&format!("manual seed {seed} end"));
        assert!(w.drops.0.borrow().iter().all(|&d| d == 1));
        found += w.found;
    }
    assert!(found > 0);
}

/// Cycles closed by moving handles (no clone, no drop), with the default full collections
/// that analyse only what dirty objects reach: every full collection must still find
/// exactly the model's garbage. Only drops of roots decrement counts here; new roots come
/// from clones and weak upgrades (increments only).
#[test]
fn cycles_formed_by_moves_are_found() {
    let (seeds, steps) = if cfg!(miri) {
        (1, 60)
    } else {
        (48 * soak(), 300)
    };
    let mut found = 0;
    let mut restricted = 0;
    for seed in 5_000..5_000 + seeds {
        collect();
        gencollect::set_threshold(5, 2, 2);
        gencollect::enable();
        let mut w = World::new(seed);
        for step in 0..steps {
            let context = format!("moves seed {seed} step {step}");
            match w.rng.below(100) {
                0..=14 => w.create_moving(),
                15..=29 => w.create_leaf(),
                30..=59 => w.move_root(),
                60..=64 => w.clone_root(),
                65..=67 => w.upgrade_root(),
                68..=81 => w.drop_root(),
                82..=91 => {
                    let (analysed, tracked) = w.full_collect_by_borrows(&context);
                    restricted += usize::from(analysed < tracked);
                }
                92..=95 => {
                    collect_generation(0).unwrap();
                }
                _ => {
                    collect_generation(1).unwrap();
                }
            }
            w.check_by_borrows(&context);
        }
        w.roots.clear();
        w.full_collect_by_borrows(&format!("moves seed {seed} end"));
        assert!(w.drops.0.borrow().iter().all(|&d| d == 1));
        gencollect::disable();
        found += w.found;
    }
    // Not vacuous: garbage was found, and full collections left objects out.
    assert!(found > 0);
    assert!(restricted > 0);
}
