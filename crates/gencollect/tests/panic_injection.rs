//! Panic injection: seeded runs of graph operations and collections in which panics are
//! injected at random points of user code: `Trace::trace` (a hand-written impl, which may
//! panic before any handle or between two), `Drop`, finalizers (some of which drop their
//! links, so more `Drop`s run inside them), weak-reference callbacks and collection
//! callbacks (at `Start` and `Stop`).
//!
//! Every operation runs inside `catch_unwind`; only injected panics may come out of it, and
//! the unraisable hook may report only injected ones. After every operation:
//! * each node was dropped at most once, each finalizer ran at most once;
//! * the graph reached from the roots (walked by borrows) is intact: no dead handle, no
//!   dropped node, every value as written;
//! * each `WeakRef` the test holds has fired its callback exactly when its referent is gone.
//!
//! After every operation that panicked, the heap is checked further: `get_objects(None)`
//! lists only live, intact objects, and a `collect()` with injection off neither panics nor
//! drops anything the roots reach.
//!
//! At the end injection is turned off, every handle is dropped and `collect()` runs until
//! nothing is left: every node must then have been dropped exactly once, and every node
//! with a finalizer finalized exactly once, whatever the panics interrupted before.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use gencollect::{CollectionInfo, Phase};
use refcount::{Finalize, Gc, Trace, Tracer, WeakRef};

mod common;
use common::Rng;

/// The payload of every injected panic: where it was injected.
#[derive(Debug)]
struct Injected(&'static str);

/// The places a panic is injected, with its chance there in thousandths.
const SITES: [(&str, u64); 5] = [
    ("trace", 5),
    ("drop", 50),
    ("finalizer", 200),
    ("weakref callback", 300),
    ("collection callback", 30),
];

/// Under Miri the runs are short: every chance is this many times higher.
const MIRI_SCALE: usize = if cfg!(miri) { 4 } else { 1 };

thread_local! {
    /// The injection's own generator while injection is on.
    static INJECT: RefCell<Option<Rng>> = const { RefCell::new(None) };
    /// Panics injected so far, and those that escaped an operation, per site (in the order
    /// of `SITES`).
    static COUNTS: RefCell<[usize; 5]> = const { RefCell::new([0; 5]) };
    static ESCAPED: RefCell<[usize; 5]> = const { RefCell::new([0; 5]) };
    static DROPS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FINS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FIRED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Panics the unraisable hook was given that were not injected.
    static PROBLEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Panics at `site` by chance while injection is on (never while unwinding: a panic
/// escaping a `Drop` then aborts the process, which is Rust's rule, not gcrt's).
fn maybe_panic(site: usize) {
    if std::thread::panicking() {
        return;
    }
    let hit = INJECT.with(|i| {
        let mut i = i.borrow_mut();
        i.as_mut()
            .is_some_and(|rng| rng.below(1000) < SITES[site].1 as usize * MIRI_SCALE)
    });
    if hit {
        COUNTS.with(|c| c.borrow_mut()[site] += 1);
        std::panic::panic_any(Injected(SITES[site].0));
    }
}

fn set_injection(rng: Option<Rng>) {
    INJECT.with(|i| *i.borrow_mut() = rng);
}

fn take<T>(key: &'static std::thread::LocalKey<RefCell<Vec<T>>>) -> Vec<T> {
    key.with(|k| core::mem::take(&mut *k.borrow_mut()))
}

/// What a node's finalizer does besides recording its run (and maybe panicking).
#[derive(Clone, Copy, PartialEq)]
enum Fin {
    None,
    Record,
    /// Drops its edges: their `Drop`s, finalizers and callbacks run inside it.
    BreakLinks,
}

struct Node {
    id: usize,
    check: u64,
    fin: Fin,
    edges: RefCell<Vec<Gc<Node>>>,
    wrs: RefCell<Vec<Gc<WeakRef<Node>>>>,
}

fn checksum(id: usize) -> u64 {
    (id as u64 ^ 0x5A5A_A5A5_3C3C_C3C3).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Node {
    fn intact(&self) -> bool {
        self.check == checksum(self.id)
    }
}

// SAFETY: reports each handle in `edges` and `wrs` once, the same ones on every call while no
// user code runs in between; `pure_trace` keeps the default (this trace panics).
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer<'_>) {
        maybe_panic(0);
        match self.edges.try_borrow() {
            Ok(edges) => {
                for e in edges.iter() {
                    t.visit(e);
                    maybe_panic(0);
                }
            }
            Err(_) => t.mark_opaque(),
        }
        self.wrs.trace(t);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
        assert!(self.intact(), "node {} corrupt when dropped", self.id);
        maybe_panic(1);
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        FINS.with(|f| f.borrow_mut().push(self.id));
        assert!(self.intact(), "node {} corrupt in its finalizer", self.id);
        if self.fin == Fin::BreakLinks {
            drop(self.edges.take());
        }
        maybe_panic(2);
    }
}

fn on_collection(phase: Phase, _: &CollectionInfo) {
    if matches!(phase, Phase::Start | Phase::Stop) {
        maybe_panic(4);
    }
}

/// One seeded run: the nodes made, the handles held and what happened to each node.
struct World {
    rng: Rng,
    roots: Vec<Gc<Node>>,
    /// `WeakRef`s the test holds, with their callback's number.
    wrs: Vec<(usize, Gc<WeakRef<Node>>)>,
    nodes: usize,
    /// Per node: drops and finalizer runs seen; per callback: runs seen.
    dropped: Vec<u8>,
    finalized: Vec<u8>,
    has_fin: Vec<bool>,
    fired: Vec<u8>,
    panics: usize,
}

impl World {
    fn new(seed: u64) -> World {
        World {
            rng: Rng::new(seed),
            roots: Vec::new(),
            wrs: Vec::new(),
            nodes: 0,
            dropped: Vec::new(),
            finalized: Vec::new(),
            has_fin: Vec::new(),
            fired: Vec::new(),
            panics: 0,
        }
    }

    /// A handle to a reachable node: a root, then up to 2 edges.
    fn pick(&mut self) -> Option<Gc<Node>> {
        if self.roots.is_empty() {
            return None;
        }
        let mut cur = self.roots[self.rng.below(self.roots.len())].clone();
        for _ in 0..self.rng.below(3) {
            let len = cur.edges.borrow().len();
            if len == 0 {
                break;
            }
            let next = cur.edges.borrow()[self.rng.below(len)].clone();
            cur = next;
        }
        Some(cur)
    }

    /// Allocates a node (which may run an automatic collection, and panic: the new node
    /// is then dropped by the unwinding).
    fn alloc(&mut self) {
        let fin = [Fin::None, Fin::None, Fin::Record, Fin::BreakLinks][self.rng.below(4)];
        let edges: Vec<Gc<Node>> = (0..self.rng.below(3)).filter_map(|_| self.pick()).collect();
        let id = self.nodes;
        self.nodes += 1;
        self.dropped.push(0);
        self.finalized.push(0);
        self.has_fin.push(fin != Fin::None);
        let node = Node {
            id,
            check: checksum(id),
            fin,
            edges: RefCell::new(edges),
            wrs: RefCell::default(),
        };
        let n = match fin {
            Fin::None => Gc::new(node),
            _ => Gc::new_with_finalizer(node),
        };
        if self.rng.chance(40) {
            n.edges.borrow_mut().push(n.clone());
        }
        self.roots.push(n);
    }

    fn link(&mut self) {
        if let (Some(from), Some(to)) = (self.pick(), self.pick()) {
            from.edges.borrow_mut().push(to);
        }
    }

    /// Removes an edge, or drops a root (either may free by refcount, and panic).
    fn unlink(&mut self) {
        if self.rng.chance(50) {
            let Some(from) = self.pick() else { return };
            let len = from.edges.borrow().len();
            if len > 0 {
                let removed = from.edges.borrow_mut().remove(self.rng.below(len));
                drop(removed);
            }
        } else if !self.roots.is_empty() {
            let i = self.rng.below(self.roots.len());
            drop(self.roots.swap_remove(i));
        }
    }

    /// Creates a `WeakRef` whose callback records its run (and may panic), held by the
    /// test or by a node; or drops one the test holds.
    fn weakref(&mut self) {
        if self.rng.chance(25) && !self.wrs.is_empty() {
            let i = self.rng.below(self.wrs.len());
            drop(self.wrs.swap_remove(i));
            return;
        }
        let Some(target) = self.pick() else { return };
        let holder = self.pick().filter(|_| self.rng.chance(50));
        let j = self.fired.len();
        self.fired.push(0);
        let wr = WeakRef::new(&target, move |w: &Gc<WeakRef<Node>>| {
            assert!(w.upgrade().is_none(), "callback {j}: the referent upgrades");
            FIRED.with(|f| f.borrow_mut().push(j));
            maybe_panic(3);
        });
        match holder {
            Some(h) => h.wrs.borrow_mut().push(wr),
            None => self.wrs.push((j, wr)),
        }
    }

    fn collect(&mut self) {
        match self.rng.below(4) {
            3 => {
                gencollect::collect();
            }
            g => {
                gencollect::collect_generation(g).unwrap();
            }
        }
    }

    /// One random operation, inside `catch_unwind`: only an injected panic may escape it.
    fn step(&mut self) {
        let op = self.rng.below(20);
        let ran = catch_unwind(AssertUnwindSafe(|| match op {
            0..=5 => self.alloc(),
            6..=9 => self.link(),
            10..=13 => self.unlink(),
            14..=15 => self.weakref(),
            _ => self.collect(),
        }));
        self.records();
        if let Err(payload) = ran {
            let Some(Injected(site)) = payload.downcast_ref::<Injected>() else {
                resume_unwind(payload);
            };
            let i = SITES.iter().position(|s| s.0 == *site).unwrap();
            ESCAPED.with(|e| e.borrow_mut()[i] += 1);
            self.panics += 1;
            self.after_panic();
        }
        self.check_reachable();
    }
}

impl World {
    /// Takes in the drops, finalizer runs and callback runs recorded since the last call:
    /// each at most once.
    fn records(&mut self) {
        let problems = take(&PROBLEMS);
        assert!(problems.is_empty(), "not injected: {problems:?}");
        for f in take(&FINS) {
            assert!(self.has_fin[f], "node {f} has no finalizer");
            self.finalized[f] += 1;
            assert_eq!(self.finalized[f], 1, "node {f} finalized twice");
        }
        for d in take(&DROPS) {
            self.dropped[d] += 1;
            assert_eq!(self.dropped[d], 1, "node {d} dropped twice");
            let due = self.has_fin[d];
            assert!(
                !due || self.finalized[d] == 1,
                "node {d} dropped unfinalized"
            );
        }
        for j in take(&FIRED) {
            self.fired[j] += 1;
            assert_eq!(self.fired[j], 1, "callback {j} ran twice");
        }
    }

    /// The graph the roots reach, by borrows: alive, intact, never dropped; and each
    /// `WeakRef` the test holds fired exactly when its referent is gone.
    fn check_reachable(&self) {
        let mut seen = vec![false; self.nodes];
        for r in &self.roots {
            self.walk(r, &mut seen);
        }
        for (j, wr) in &self.wrs {
            let gone = wr.upgrade().is_none();
            assert_eq!(
                self.fired[*j],
                u8::from(gone),
                "callback {j}, referent gone: {gone}"
            );
        }
    }

    fn walk(&self, n: &Gc<Node>, seen: &mut [bool]) {
        assert!(!Gc::is_dead(n), "a reachable handle is dead");
        if core::mem::replace(&mut seen[n.id], true) {
            return;
        }
        assert!(n.intact(), "reachable node {} corrupt", n.id);
        assert_eq!(self.dropped[n.id], 0, "reachable node {} dropped", n.id);
        for wr in n.wrs.borrow().iter() {
            assert!(!Gc::is_dead(wr), "a reachable WeakRef is dead");
        }
        for e in n.edges.borrow().iter() {
            self.walk(e, seen);
        }
    }

    /// After a panic: `get_objects` lists only live, intact nodes, and a collection with
    /// injection off neither panics nor drops what the roots reach.
    fn after_panic(&mut self) {
        for obj in gencollect::get_objects(None).unwrap() {
            let Some(n) = obj.downcast_ref::<Node>() else {
                continue;
            };
            assert!(
                !Gc::is_dead(&n) && n.intact(),
                "listed node {} corrupt",
                n.id
            );
            assert_eq!(self.dropped[n.id], 0, "listed node {} was dropped", n.id);
        }
        let rng = INJECT.with(|i| i.borrow_mut().take());
        let collected = catch_unwind(gencollect::collect);
        assert!(collected.is_ok(), "collect() panicked with injection off");
        set_injection(rng);
        self.records();
        self.check_reachable();
    }

    /// Injection off, every handle dropped, then collections until every node is dropped:
    /// each exactly once, and finalized exactly once if it has a finalizer.
    fn wind_down(&mut self) {
        set_injection(None);
        self.wrs.clear();
        self.roots.clear();
        self.records();
        for _ in 0..4 {
            if self.dropped.iter().all(|&d| d == 1) {
                break;
            }
            gencollect::collect();
            self.records();
        }
        for id in 0..self.nodes {
            assert_eq!(self.dropped[id], 1, "node {id} dropped once");
            let fin = u8::from(self.has_fin[id]);
            assert_eq!(self.finalized[id], fin, "node {id} finalized once");
        }
        let left = gencollect::get_objects(None).unwrap();
        assert!(!left.iter().any(|o| o.is::<Node>()), "nodes left tracked");
    }
}

/// Runs `seed`: collector settings and thresholds from the seed, `ops` operations with
/// injection on, then the wind-down. Returns the number of operations that panicked.
fn run_seed(seed: u64, ops: usize) -> usize {
    gencollect::set_young_hold_threshold(if seed.is_multiple_of(2) {
        0
    } else {
        usize::MAX
    });
    gencollect::set_full_scan(seed % 5 == 4);
    let mut w = World::new(seed);
    gencollect::set_threshold(1 + w.rng.below(8), 1 + w.rng.below(3), 1 + w.rng.below(3));
    set_injection(Some(Rng::new(seed ^ 0xDEAD_BEEF)));
    for _ in 0..ops {
        w.step();
    }
    w.wind_down();
    w.panics
}

/// Silences the default panic message of injected panics (any other is printed as usual).
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Injected>().is_none() {
                default(info);
            }
        }));
    });
}

fn run_seeds(seeds: std::ops::Range<u64>, ops: usize) {
    quiet_injected_panics();
    refcount::set_unraisable_hook(Some(Box::new(|u| {
        // Injected payloads are not strings: a message means another panic.
        if let Some(m) = u.message {
            PROBLEMS.with(|p| p.borrow_mut().push(format!("{}: {m}", u.context)));
        }
    })));
    let callback = gencollect::register_callback(on_collection);
    let start = std::time::Instant::now();
    let mut panics = 0;
    for seed in seeds.clone() {
        let run = catch_unwind(AssertUnwindSafe(|| run_seed(seed, ops)));
        panics += run.unwrap_or_else(|p| {
            eprintln!("panic_injection: seed {seed} failed");
            resume_unwind(p)
        });
    }
    assert!(gencollect::unregister_callback(callback));
    refcount::set_unraisable_hook(None);
    gencollect::set_threshold(2000, 10, 10);
    gencollect::set_young_hold_threshold(1 << 16);
    gencollect::set_full_scan(false);
    let (counts, escaped) = (COUNTS.with(|c| *c.borrow()), ESCAPED.with(|c| *c.borrow()));
    let (n, time) = (seeds.end - seeds.start, start.elapsed());
    eprintln!("panic_injection: {n} seeds x {ops} operations in {time:.2?}");
    eprintln!("panic_injection: {panics} operations panicked");
    eprintln!("panic_injection: per site {SITES:?}: injected {counts:?}, escaped {escaped:?}");
    assert!(panics > 0, "no operation panicked");
    if !cfg!(miri) {
        assert!(
            counts.iter().all(|&c| c > 0),
            "a site never panicked: {counts:?}"
        );
    }
}

/// 400 seeds of 300 operations; under Miri, 3 seeds of 50.
#[test]
fn panics_at_random_points_leave_a_consistent_heap() {
    if cfg!(miri) {
        run_seeds(1..4, 50);
    } else {
        run_seeds(1..401, 300);
    }
}
