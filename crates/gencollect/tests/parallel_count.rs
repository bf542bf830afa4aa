//! Collections whose count pass is split with a helper thread (`gencollect::set_parallel`):
//! what users rely on must not change. `set_parallel_threshold(0)` splits the count pass of
//! every collection that analyses its generations whole (the default only does so from
//! 131,072 objects on); the helper counts the second half of the set, objects whose trace
//! is pure only, and the collecting thread counts the rest.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::ThreadId;

use gcrt_derive::Trace;
use refcount::{Gc, Trace, Tracer, Weak, WeakRef};

mod common;
use common::Rng;

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

/// Whether the helper can run here (under Miri: with `-Zmiri-num-cpus=2`, as CI runs it).
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

fn drops() -> usize {
    DROPS.with(|d| d.get())
}

/// A node whose trace is pure (derived): the helper may count it.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Pure {
    edges: RefCell<Vec<Gc<Pure>>>,
    other: RefCell<Option<Gc<Impure>>>,
}

impl Drop for Pure {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// A node whose trace is user code (a hand-written impl: `pure_trace` keeps its default,
/// `false`), so only the collecting thread may count it. It notes which thread traced it,
/// and panics while `panic` is set.
struct Impure {
    edges: RefCell<Vec<Gc<Pure>>>,
    panic: Cell<bool>,
    traced_on: RefCell<Vec<ThreadId>>,
}

// SAFETY: reports exactly the handles `edges` owns.
unsafe impl Trace for Impure {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.traced_on
            .borrow_mut()
            .push(std::thread::current().id());
        if self.panic.get() {
            panic!("a trace that panics");
        }
        self.edges.trace(tracer);
    }
}

impl Drop for Impure {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn pure() -> Gc<Pure> {
    Gc::new(Pure {
        edges: RefCell::new(Vec::new()),
        other: RefCell::new(None),
    })
}

fn impure() -> Gc<Impure> {
    Gc::new(Impure {
        edges: RefCell::new(Vec::new()),
        panic: Cell::new(false),
        traced_on: RefCell::new(Vec::new()),
    })
}

/// Splits every whole-generation count pass, holds every generation 0 and analyses full
/// collections whole, on this test's thread.
fn split_everything() {
    gencollect::set_parallel(true);
    gencollect::set_parallel_threshold(0);
    gencollect::set_young_hold_threshold(0);
    gencollect::set_full_scan(true);
    gencollect::disable();
}

fn link(from: &Gc<Pure>, to: &Gc<Pure>) {
    from.edges.borrow_mut().push(to.clone());
}

/// A random graph of `n` pure nodes, model-checked after one collection: every node
/// unreachable from the roots is dropped exactly once, every reachable one lives with the
/// exact count of handles the model gives it. Returns what the collection found.
fn random_graph(seed: u64, n: usize, young: bool) -> usize {
    let mut rng = Rng::new(seed);
    gencollect::collect();
    let before = drops();
    let nodes: Vec<Gc<Pure>> = (0..n).map(|_| pure()).collect();
    let mut edges = vec![Vec::new(); n];
    for (i, out) in edges.iter_mut().enumerate() {
        for _ in 0..rng.below(4) {
            let j = rng.below(n);
            link(&nodes[i], &nodes[j]);
            out.push(j);
        }
    }
    let roots: Vec<usize> = (0..n).filter(|_| rng.chance(10)).collect();
    let kept: Vec<Gc<Pure>> = roots.iter().map(|&i| nodes[i].clone()).collect();
    let weak: Vec<Weak<Pure>> = nodes.iter().map(Gc::downgrade).collect();
    drop(nodes);
    // The model: what the roots reach, and how many handles each reached node has.
    let mut reached = vec![false; n];
    let mut todo = roots.clone();
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut reached[i], true) {
            todo.extend(&edges[i]);
        }
    }
    let mut handles = vec![0; n];
    for &i in &roots {
        handles[i] += 1;
    }
    for (i, out) in edges.iter().enumerate() {
        if reached[i] {
            for &j in out {
                handles[j] += 1;
            }
        }
    }
    let found = if young {
        gencollect::collect_generation(0).unwrap()
    } else {
        gencollect::collect()
    };
    let live = reached.iter().filter(|&&r| r).count();
    assert_eq!(
        drops() - before,
        n - live,
        "seed {seed}: every unreachable node dropped once"
    );
    for i in 0..n {
        match weak[i].upgrade() {
            Some(g) => {
                assert!(reached[i], "seed {seed}: node {i} is garbage but lives");
                // The upgrade adds one.
                assert_eq!(Gc::ref_count(&g), handles[i] + 1, "seed {seed}: node {i}");
            }
            None => assert!(!reached[i], "seed {seed}: node {i} is reachable but dead"),
        }
    }
    drop(kept);
    gencollect::collect();
    assert_eq!(
        drops() - before,
        n,
        "seed {seed}: everything freed at the end"
    );
    found
}

#[test]
fn split_collections_free_exactly_what_the_model_says() {
    let (seeds, n) = if cfg!(miri) { (3, 40) } else { (40, 600) };
    for parallel in [true, false] {
        split_everything();
        gencollect::set_parallel(parallel);
        let passes = gencollect::split_passes();
        let mut found = 0;
        for seed in 0..seeds {
            found += random_graph(seed, n, seed % 2 == 0);
        }
        assert!(found > 0, "the graphs have garbage cycles");
        let split = gencollect::split_passes() - passes;
        if !parallel {
            assert_eq!(
                split, 0,
                "set_parallel(false) keeps every pass on this thread"
            );
        } else if two_cores() {
            // The helper took part (a set too small to give it an object is not split).
            assert!(split >= seeds as usize, "{split} split passes");
        }
    }
}

#[test]
fn split_and_unsplit_collections_find_the_same_garbage() {
    let (seeds, n) = if cfg!(miri) { (2, 30) } else { (20, 500) };
    for seed in 100..100 + seeds {
        split_everything();
        let split = random_graph(seed, n, false);
        gencollect::set_parallel(false);
        let whole = random_graph(seed, n, false);
        assert_eq!(split, whole, "seed {seed}");
    }
}

/// `n / 2` two-node garbage cycles of pure nodes (`n` even), each pointing at one impure
/// node, created at position `at` of generation 0, which holds a handle to one node of each
/// cycle: so edges cross both halves of the set both ways. Returns the impure node's handle
/// (while it lives, nothing is garbage) and weak handles to the pure nodes.
fn pairs_with_impure_at(n: usize, at: usize) -> (Gc<Impure>, Vec<Weak<Pure>>) {
    let mut weak = Vec::new();
    let mut firsts = Vec::new();
    let mut imp = None;
    let mut pending: Option<Gc<Pure>> = None;
    for i in 0..n {
        if i == at {
            imp = Some(impure());
        }
        let a = pure();
        weak.push(Gc::downgrade(&a));
        match pending.take() {
            Some(b) => {
                link(&a, &b);
                link(&b, &a);
                firsts.push(b);
            }
            None => pending = Some(a),
        }
    }
    let imp = imp.unwrap_or_else(impure);
    for b in &firsts {
        *b.other.borrow_mut() = Some(imp.clone());
    }
    *imp.edges.borrow_mut() = firsts;
    (imp, weak)
}

#[test]
fn objects_whose_trace_is_user_code_are_traced_on_the_collecting_thread_only() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    let me = std::thread::current().id();
    for at in [0, n / 4, n / 2 - 1, n / 2 + 1, n - 1] {
        split_everything();
        gencollect::collect();
        let before = drops();
        let (imp, weak) = pairs_with_impure_at(n, at);
        // Alive through the impure node: found nothing, and traced it once, here.
        assert_eq!(gencollect::collect_generation(0).unwrap(), 0, "at {at}");
        assert_eq!(*imp.traced_on.borrow(), vec![me], "at {at}");
        assert_eq!(drops(), before, "at {at}");
        // Garbage once its last handle goes: every pure node and the impure one.
        drop(imp);
        assert_eq!(gencollect::collect(), n + 1, "at {at}");
        assert_eq!(drops() - before, n + 1, "at {at}: each dropped once");
        assert!(weak.iter().all(|w| w.upgrade().is_none()));
    }
}

/// Every node's strong count, through weak handles (`None` for dead ones).
fn counts(weak: &[Weak<Pure>]) -> Vec<Option<usize>> {
    weak.iter()
        .map(|w| w.upgrade().map(|g| Gc::ref_count(&g) - 1))
        .collect()
}

#[test]
fn a_trace_that_panics_in_either_half_leaves_every_count_as_it_was() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    for at in [1, n / 4, n / 2 + 1, n - 2] {
        split_everything();
        gencollect::collect();
        let before = drops();
        let (imp, weak) = pairs_with_impure_at(n, at);
        imp.panic.set(true);
        let imp_weak = Gc::downgrade(&imp);
        drop(imp);
        let was = counts(&weak);
        let imp_count = |w: &Weak<Impure>| w.upgrade().map(|g| Gc::ref_count(&g) - 1);
        let imp_was = imp_count(&imp_weak);
        let result = catch_unwind(AssertUnwindSafe(|| gencollect::collect_generation(0)));
        assert!(result.is_err(), "at {at}: the trace's panic resumes");
        assert_eq!(counts(&weak), was, "at {at}: no count changed");
        assert_eq!(imp_count(&imp_weak), imp_was, "at {at}");
        assert_eq!(drops(), before, "at {at}: nothing freed");
        imp_weak.upgrade().unwrap().panic.set(false);
        assert_eq!(gencollect::collect(), n + 1, "at {at}");
        assert_eq!(drops() - before, n + 1, "at {at}: each dropped once");
        assert!(imp_weak.upgrade().is_none());
    }
}

#[test]
fn weakly_referenced_and_finalizable_garbage_in_the_second_half_is_handled() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    split_everything();
    gencollect::collect();
    let before = drops();
    let fired = std::rc::Rc::new(Cell::new(0));
    let mut weak = Vec::new();
    let mut refs = Vec::new();
    for i in 0..n / 2 {
        let a = pure();
        let b = pure();
        link(&a, &b);
        link(&b, &a);
        weak.push(Gc::downgrade(&b));
        if i >= n / 4 && i % 7 == 0 {
            // Weak-reference callbacks on garbage of the helper's half.
            let fired = fired.clone();
            refs.push(WeakRef::new(&a, move |_| fired.set(fired.get() + 1)));
        }
    }
    let expected_callbacks = refs.len();
    assert!(expected_callbacks > 0);
    assert_eq!(gencollect::collect_generation(0).unwrap(), n);
    assert_eq!(drops() - before, n);
    assert_eq!(fired.get(), expected_callbacks);
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn parallel_is_on_by_default_and_can_be_turned_off() {
    assert!(gencollect::get_parallel());
    gencollect::set_parallel(false);
    assert!(!gencollect::get_parallel());
    // Off: the same collections, on this thread alone.
    let n = if cfg!(miri) { 30 } else { 300 };
    gencollect::set_parallel_threshold(0);
    gencollect::set_full_scan(true);
    gencollect::collect();
    let before = drops();
    for _ in 0..n {
        let a = pure();
        let b = pure();
        link(&a, &b);
        link(&b, &a);
    }
    assert_eq!(gencollect::collect(), 2 * n);
    assert_eq!(drops() - before, 2 * n);
    random_graph(7, n, false);
    gencollect::set_parallel(true);
    assert!(gencollect::get_parallel());
}

thread_local! {
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
    static UPGRADED: Cell<usize> = const { Cell::new(0) };
}

/// A node with a finalizer and a pure trace.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Fin {
    next: RefCell<Option<Gc<Fin>>>,
}

impl refcount::Finalize for Fin {
    fn finalize(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
    }
}

/// A node that, as it is dropped, tries to upgrade a weak handle to its neighbour.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Peer {
    next: RefCell<Option<Gc<Peer>>>,
    peer: RefCell<Option<Weak<Peer>>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(p) = self.peer.borrow().as_ref()
            && p.upgrade().is_some()
        {
            UPGRADED.with(|u| u.set(u.get() + 1));
        }
    }
}

/// `n / 2` live pure nodes, first in generation 0, so that the helper's half holds what
/// comes after them.
fn live_first_half(n: usize) -> Vec<Gc<Pure>> {
    (0..n / 2).map(|_| pure()).collect()
}

#[test]
fn finalizers_of_garbage_in_the_helpers_half_run_once_before_anything_is_dropped() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    split_everything();
    gencollect::collect();
    let live = live_first_half(n);
    for _ in 0..n / 4 {
        let a = Gc::new_with_finalizer(Fin {
            next: RefCell::new(None),
        });
        let b = Gc::new_with_finalizer(Fin {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b);
    }
    assert_eq!(gencollect::collect_generation(0).unwrap(), n / 2);
    assert_eq!(FINALIZED.with(|f| f.get()), n / 2);
    drop(live);
}

#[test]
fn weak_references_to_garbage_in_the_helpers_half_fail_before_any_destructor_runs() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    split_everything();
    gencollect::collect();
    let before = drops();
    let live = live_first_half(n);
    let peer = || {
        Gc::new(Peer {
            next: RefCell::new(None),
            peer: RefCell::new(None),
        })
    };
    for _ in 0..n / 4 {
        let a = peer();
        let b = peer();
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a.clone());
        *a.peer.borrow_mut() = Some(Gc::downgrade(&b));
        *b.peer.borrow_mut() = Some(Gc::downgrade(&a));
    }
    assert_eq!(gencollect::collect_generation(0).unwrap(), n / 2);
    assert_eq!(
        UPGRADED.with(|u| u.get()),
        0,
        "no destructor reached a neighbour"
    );
    assert_eq!(drops(), before, "the live half is untouched");
    drop(live);
    assert_eq!(drops() - before, n / 2);
}

/// Both threads of a split pass stop early at an object whose trace is user code. The edges
/// the collecting thread records afterwards were all subtracted when it took in the helper's
/// part, those into the positions past the helper's stop included, whose entries are zeroed
/// before they are counted: the subtraction was lost, and the cycle `a <-> b` looked held
/// from outside. Found by the model-based test (`model_ops.rs`).
#[test]
fn edges_counted_after_both_threads_stopped_early_are_all_subtracted() {
    if !two_cores() {
        return;
    }
    gencollect::disable();
    gencollect::set_young_hold_threshold(usize::MAX);
    gencollect::collect();
    gencollect::set_parallel_threshold(0);
    // Generation 0, in order (the helper takes the second half, 4..8).
    let p = pure(); //  0: an edge to `f`, subtracted by this thread in its parallel section
    let i = impure(); // 1: this thread stops here
    let a = pure(); //  2: counted by this thread after the parallel section
    let f = pure(); //  3
    let x = pure(); //  4: the helper's first; an edge to `f`
    let j = impure(); // 5: the helper stops here
    let b = pure(); //  6: `a`'s target, past the helper's stop
    let g = pure(); //  7
    link(&p, &f);
    link(&x, &f);
    link(&a, &b);
    link(&b, &a);
    let weak = Gc::downgrade(&a);
    drop((a, b));
    let before = gencollect::split_passes();
    assert_eq!(
        gencollect::collect_generation(0),
        Ok(2),
        "the cycle a <-> b"
    );
    assert_eq!(gencollect::split_passes(), before + 1, "the pass was split");
    assert!(weak.upgrade().is_none());
    drop((p, i, f, x, j, g));
    gencollect::set_parallel_threshold(1 << 17);
}

/// `n / 2` two-node cycles and, last in generation 0 (the top of the set, where the helper
/// starts), one node holding a handle to every other: W5's shape, where the top costs as
/// much to count as everything below it. The threads meet wherever both are done; what a
/// collection finds is exact either way, and as large a set as the default threshold
/// splits (in chunks, the helper reserving one) is counted exactly too.
#[test]
fn a_set_whose_top_holds_everything_is_counted_exactly() {
    let sizes: &[usize] = if cfg!(miri) { &[60] } else { &[2_000, 300_000] };
    for &n in sizes {
        split_everything();
        if n > 100_000 {
            gencollect::set_parallel_threshold(1 << 17);
        }
        gencollect::collect();
        let before = drops();
        let passes = gencollect::split_passes();
        let nodes: Vec<Gc<Pure>> = (0..n).map(|_| pure()).collect();
        for pair in nodes.chunks(2) {
            link(&pair[0], &pair[1]);
            link(&pair[1], &pair[0]);
        }
        let root = pure();
        *root.edges.borrow_mut() = nodes;
        // Held from outside through the root only: nothing is garbage.
        assert_eq!(gencollect::collect(), 0, "{n}");
        assert_eq!(drops(), before, "{n}");
        assert_eq!(Gc::ref_count(&root), 1);
        // Half the cycles let go: exactly those are found.
        let dropped: Vec<Gc<Pure>> = {
            let mut edges = root.edges.borrow_mut();
            let keep = edges.split_off(n / 2);
            core::mem::replace(&mut *edges, keep)
        };
        drop(dropped);
        assert_eq!(gencollect::collect(), n / 2, "{n}");
        assert_eq!(drops() - before, n / 2, "{n}");
        drop(root);
        assert_eq!(gencollect::collect(), n / 2, "{n}");
        assert_eq!(drops() - before, n + 1, "{n}: the root freed by its count");
        if two_cores() {
            assert!(gencollect::split_passes() - passes >= 3, "{n}: split");
        }
    }
    gencollect::set_parallel_threshold(1 << 17);
}
