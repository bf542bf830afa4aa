//! The reference model of `model_ops.rs` (included by that test only): a plain graph of
//! node ids, with no handle in it, that predicts what gcrt must do.
//!
//! It keeps the nodes (alive, edges, finalizer kind and whether it ran, generation, whether
//! a collection cleared their weak references), the `WeakRef`s (target, holder, generation,
//! whether the callback is registered), and the handles held from outside the heap: the
//! test's roots, the handles finalizers stored, those of the running operation.
//!
//! * Refcount deaths ([`Model::settle`]) follow from the strong counts it derives from the
//!   graph: a node nothing refers to runs its finalizer (which may resurrect it), consumes
//!   its callbacks, then dies and releases its edges.
//! * A collection of generations `0..=g` ([`Model::collect`]) analyses the live objects of
//!   those generations; everything else, and the outside handles, are roots. What is not
//!   reached is found: its weak references are cleared, the callbacks of live `WeakRef`s
//!   outside the garbage run, every due finalizer runs, refcount deaths follow, and what
//!   the stored handles reach is resurrected (moved to the next generation with the
//!   survivors); the rest dies. The count it returns leaves out what finalizers freed and
//!   what they resurrected, as gcrt's does.

use std::collections::BTreeSet;

/// What a node's finalizer does besides recording its run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum Fin {
    /// No finalizer.
    #[default]
    None,
    Record,
    /// Stores a handle to `edges[k % len]` (itself through a self-loop) in `STORE`.
    StoreEdge(usize),
    /// Stores itself, from its own `Weak` (which a collection clears before finalizers).
    SelfWeak,
    /// Drops its edges.
    BreakLinks,
}

/// What a weak-reference callback must do in the current operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Expect {
    Fire,
    NoFire,
    /// The `WeakRef` died (or was found unreachable) in the same operation as its target:
    /// the order decides, so only "at most once" is asserted.
    Either,
}

#[derive(Clone, Default)]
pub(crate) struct MNode {
    pub(crate) alive: bool,
    pub(crate) fin: Fin,
    pub(crate) finalized: bool,
    /// A collection found it unreachable: its weak references never upgrade again.
    pub(crate) cleared: bool,
    /// Its generation; `None`: frozen.
    pub(crate) level: Option<usize>,
    pub(crate) payload: u64,
    pub(crate) edges: Vec<usize>,
    pub(crate) wrs: Vec<usize>,
    pub(crate) seen_drop: bool,
    pub(crate) seen_fin: bool,
}

#[derive(Default)]
pub(crate) struct MWr {
    pub(crate) target: usize,
    /// The node holding it (`None`: the test).
    pub(crate) holder: Option<usize>,
    pub(crate) alive: bool,
    pub(crate) level: Option<usize>,
    pub(crate) registered: bool,
    pub(crate) fired: bool,
}

/// The reference model.
#[derive(Default)]
pub(crate) struct Model {
    pub(crate) nodes: Vec<MNode>,
    pub(crate) wrs: Vec<MWr>,
    pub(crate) alive: BTreeSet<usize>,
    /// Root handles held by the test, index for index with `World::roots`.
    pub(crate) roots: Vec<usize>,
    pub(crate) store: Vec<usize>,
    /// Handles held by the running operation (a node being allocated).
    pub(crate) temp: Vec<usize>,
    /// `Weak`s held by the test, index for index with `World::weaks`.
    pub(crate) weaks: Vec<usize>,
    // What the current operation did:
    pub(crate) deaths: Vec<usize>,
    pub(crate) fins: Vec<usize>,
    pub(crate) found: BTreeSet<usize>,
    /// Callbacks whose target died (`None`: decided at the end) or was found unreachable.
    pub(crate) gone: Vec<(usize, Option<Expect>)>,
}

impl Model {
    pub(crate) fn add_node(&mut self, id: usize, fin: Fin, edges: Vec<usize>, payload: u64) {
        assert_eq!(id, self.nodes.len(), "node ids in order");
        self.nodes.push(MNode {
            alive: true,
            fin,
            level: Some(0),
            payload,
            edges,
            ..MNode::default()
        });
        self.alive.insert(id);
    }

    pub(crate) fn handles(&self) -> impl Iterator<Item = usize> + '_ {
        let roots = self.roots.iter().chain(&self.store);
        roots.chain(&self.temp).copied()
    }

    /// The live nodes for which `f` holds.
    pub(crate) fn live(&self, f: impl Fn(usize, &MNode) -> bool) -> Vec<usize> {
        let alive = self.alive.iter().copied();
        alive.filter(|&n| f(n, &self.nodes[n])).collect()
    }

    pub(crate) fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.nodes.len()];
        let edges = self.alive.iter().flat_map(|&n| &self.nodes[n].edges);
        for t in self.handles().chain(edges.copied()) {
            c[t] += 1;
        }
        c
    }

    pub(crate) fn weak_count(&self, n: usize) -> usize {
        let weaks = self.weaks.iter().filter(|&&w| w == n).count();
        let wrs = self.wrs.iter().filter(|w| w.alive && w.target == n);
        weaks + wrs.count() + usize::from(self.nodes[n].fin == Fin::SelfWeak)
    }

    pub(crate) fn reach(&self, starts: impl IntoIterator<Item = usize>) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = starts.into_iter().collect();
        while let Some(n) = stack.pop() {
            if !core::mem::replace(&mut seen[n], true) {
                stack.extend(&self.nodes[n].edges);
            }
        }
        seen
    }

    /// Node `n` dies; returns the edges it held.
    pub(crate) fn die(&mut self, n: usize) -> Vec<usize> {
        let node = &mut self.nodes[n];
        assert!(node.alive, "model: node {n} dies twice");
        node.alive = false;
        for &j in &node.wrs {
            self.wrs[j].alive = false;
        }
        self.alive.remove(&n);
        self.deaths.push(n);
        core::mem::take(&mut node.edges)
    }

    /// Runs node `n`'s finalizer; `count` and `work` follow the strong counts it changes.
    pub(crate) fn finalize(&mut self, n: usize, count: &mut [usize], work: &mut Vec<usize>) {
        let node = &mut self.nodes[n];
        node.finalized = true;
        self.fins.push(n);
        let len = node.edges.len();
        let stored = match node.fin {
            Fin::StoreEdge(k) if len > 0 => node.edges[k % len],
            Fin::SelfWeak if !node.cleared => n,
            Fin::BreakLinks => {
                for t in core::mem::take(&mut node.edges) {
                    count[t] -= 1;
                    work.extend((count[t] == 0).then_some(t));
                }
                return;
            }
            _ => return,
        };
        self.store.push(stored);
        count[stored] += 1;
    }

    /// The callbacks registered on `t` are consumed: `t` died or was found unreachable.
    pub(crate) fn target_gone(&mut self, t: usize, expect: impl Fn(usize, &MWr) -> Option<Expect>) {
        for (j, w) in self.wrs.iter_mut().enumerate() {
            if w.target == t && w.registered {
                w.registered = false;
                self.gone.push((j, expect(j, w)));
            }
        }
    }

    /// Refcount deaths: every live node nothing refers to dies, its finalizer first (which
    /// may resurrect it), then its weak-reference callbacks, then its drop.
    pub(crate) fn settle(&mut self) {
        let mut count = self.counts();
        let mut work = self.live(|n, _| count[n] == 0);
        while let Some(n) = work.pop() {
            if !self.nodes[n].alive || count[n] != 0 {
                continue;
            }
            if self.nodes[n].fin != Fin::None && !self.nodes[n].finalized {
                self.finalize(n, &mut count, &mut work);
                if count[n] != 0 {
                    continue; // resurrected
                }
            }
            // A `WeakRef` held by its own target is still alive when the callbacks run; the
            // others are decided at the end of the operation (`resolve`).
            self.target_gone(n, |_, w| {
                (w.holder == Some(w.target)).then_some(Expect::Fire)
            });
            for t in self.die(n) {
                count[t] -= 1;
                work.extend((count[t] == 0).then_some(t));
            }
        }
    }

    /// Whether `WeakRef` `j` is held by one of `nodes`.
    pub(crate) fn held_by(&self, j: usize, nodes: &BTreeSet<usize>) -> bool {
        self.wrs[j].holder.is_some_and(|h| nodes.contains(&h))
    }

    /// A collection of generations `0..=g`; returns the number of objects it collects.
    ///
    /// The set is the live objects of those generations; the outside handles and every
    /// other live node are roots. What the roots do not reach is found: its weak references
    /// are cleared, the callbacks registered on it are consumed (run for live `WeakRef`s
    /// outside the garbage), and, if a finalizer is due among it, every due finalizer runs,
    /// refcount deaths follow, and what the outside handles now reach is resurrected. The
    /// rest is freed. The survivors of the set, resurrected ones included, move to the next
    /// generation. The count leaves out what the finalizers resurrected or freed (it left
    /// the garbage list), and counts the `WeakRef` objects freed with the garbage.
    pub(crate) fn collect(&mut self, g: usize) -> usize {
        let in_set = |level: Option<usize>| level.is_some_and(|x| x <= g);
        let set = self.live(|_, n| in_set(n.level));
        let outside = self.live(|_, n| !in_set(n.level));
        let reached = self.reach(self.handles().chain(outside));
        let found: BTreeSet<usize> = set.iter().copied().filter(|&n| !reached[n]).collect();
        let wr_set = (0..self.wrs.len()).filter(|&j| self.wrs[j].alive);
        let wr_set: Vec<usize> = wr_set.filter(|&j| in_set(self.wrs[j].level)).collect();
        let found_wrs = wr_set.iter().copied().filter(|&j| self.held_by(j, &found));
        let found_wrs: BTreeSet<usize> = found_wrs.collect();
        // Survivors (and whatever a finalizer resurrects) move to the next generation.
        let old = Some((g + 1).min(2));
        set.iter().for_each(|&n| self.nodes[n].level = old);
        wr_set.iter().for_each(|&j| self.wrs[j].level = old);
        self.found.extend(&found);
        for &t in &found {
            self.nodes[t].cleared = true;
            self.target_gone(t, |j, w| {
                let fire = w.alive && !found_wrs.contains(&j);
                Some(if fire { Expect::Fire } else { Expect::NoFire })
            });
        }
        let due = self.live(|n, m| found.contains(&n) && m.fin != Fin::None && !m.finalized);
        let mut saved = BTreeSet::new();
        if !due.is_empty() {
            let mut count = self.counts();
            for &n in &due {
                self.finalize(n, &mut count, &mut Vec::new());
            }
            // Garbage that finalizers freed (breaking links) leaves the list uncounted.
            self.settle();
            let others = self.live(|n, _| !found.contains(&n));
            let again = self.reach(self.handles().chain(others));
            saved.extend(self.live(|n, _| found.contains(&n) && again[n]));
        }
        let freed = self.live(|n, _| found.contains(&n) && !saved.contains(&n));
        let freed_wrs = found_wrs.iter().filter(|&&j| self.wrs[j].alive);
        let freed_wrs = freed_wrs.filter(|&&j| !self.held_by(j, &saved)).count();
        for &n in &freed {
            self.die(n);
        }
        self.settle();
        freed.len() + freed_wrs
    }

    /// Forgets what the operation just checked did.
    pub(crate) fn end_op(&mut self) {
        self.deaths.clear();
        self.fins.clear();
        self.found.clear();
        self.gone.clear();
    }

    /// `freeze()`: every tracked object to the permanent generation; `unfreeze()`: back to 2.
    pub(crate) fn freeze(&mut self, frozen: bool) {
        let nodes = self.nodes.iter_mut().filter(|n| n.alive);
        let wrs = self.wrs.iter_mut().filter(|w| w.alive);
        let levels = nodes.map(|n| &mut n.level).chain(wrs.map(|w| &mut w.level));
        for level in levels.filter(|l| frozen || l.is_none()) {
            *level = if frozen { None } else { Some(2) };
        }
    }

    /// The expectation of a callback whose target died by refcount in this operation.
    pub(crate) fn resolve(&self, j: usize) -> Expect {
        let w = &self.wrs[j];
        let gone = |h| self.deaths.contains(&h) || self.found.contains(&h);
        match w.holder {
            Some(h) if gone(h) => Expect::Either,
            _ if w.alive => Expect::Fire,
            _ => Expect::NoFire,
        }
    }
}
