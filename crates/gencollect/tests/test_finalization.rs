//! A port of CPython 3.12's `Lib/test/test_finalization.py` (PEP 442 finalization semantics)
//! to gcrt's finalizers.
//!
//! Python's test classes become one object type, [`Obj`], whose finalizer records its id,
//! checks that the object and its neighbours are sane (`check_sanity`), then runs a side
//! effect: nothing (`Simple*`), storing a handle to itself in a thread-local survivor list
//! (`*Resurrector`), or dropping its own handles (`Suicidal*`). A `Drop` impl counts the
//! values actually dropped, so every test checks which finalizers ran, how many objects
//! were freed, what `collect()` returned and what weak references upgrade to.
//!
//! A finalizer only gets `&self`; it obtains a handle to its own object through a `Weak`
//! to itself when the object dies by refcount (the `Weak` of an object found unreachable by
//! a collection never upgrades), or through a neighbour's handle to it in a cycle.
//!
//! Differences from CPython, asserted where they show:
//!
//! * Weak references to an object a collection found unreachable stay cleared even if a
//!   finalizer resurrects it (as in 3.12; 3.15 keeps callback-free ones alive).
//! * Objects with a finalizer always carry the tracking extension, so the `FINALIZED` flag
//!   exists for untracked (CPython "non-GC") objects too and their finalizer runs only once
//!   (`test_non_gc_resurrect`: CPython runs `__del__` on every death).
//! * `collect()` does not count objects freed by refcounting while finalizers run (objects
//!   whose finalizer breaks their own cycle); CPython 3.12 does the same.
//!
//! Not applicable: `LegacyFinalizationTest.test_legacy`, `test_legacy_resurrect` and
//! `test_legacy_self_cycle` exercise the legacy `tp_del` slot, which makes cycles
//! uncollectable (moved to `gc.garbage`). gcrt has no `tp_del` and no uncollectable
//! objects; the closest gcrt behaviour (a self-cycle with a finalizer is collected and
//! `garbage()` stays empty) is asserted by `self_cycle_test_simple`.
//!
//! Each test runs on its own thread, so it starts with a fresh heap and fresh
//! thread-locals.

use std::cell::{Cell, RefCell};

use gencollect::{collect, get_stats, is_finalized, is_tracked};
use refcount::{Finalize, Gc, Trace, Tracer, Weak};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Simple,
    Resurrector,
    Suicidal,
}

thread_local! {
    static DEL_CALLS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static SURVIVORS: RefCell<Vec<Gc<Obj>>> = const { RefCell::new(Vec::new()) };
    static PLAIN_SURVIVORS: RefCell<Vec<Gc<Plain>>> = const { RefCell::new(Vec::new()) };
    static ERRORS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn error(msg: String) {
    ERRORS.with(|e| e.borrow_mut().push(msg));
}

/// The object under test (CPython's `SimpleBase` and its subclasses).
struct Obj {
    id: u32,
    kind: Kind,
    /// Weak handle to itself: how a finalizer run by refcount death finds its own object.
    this: RefCell<Weak<Obj>>,
    /// `self.ref = self` of the self-cycle classes.
    self_cycle: bool,
    me: RefCell<Option<Gc<Obj>>>,
    /// The chain classes.
    chained: bool,
    left: RefCell<Option<Gc<Obj>>>,
    right: RefCell<Option<Gc<Obj>>>,
    suicided: Cell<bool>,
}

// SAFETY: reports exactly the strong handles it owns.
unsafe impl Trace for Obj {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.left.trace(t);
        self.right.trace(t);
    }
}

impl Obj {
    fn make(id: u32, kind: Kind, self_cycle: bool, chained: bool) -> Gc<Obj> {
        let o = Gc::new_with_finalizer(Obj {
            id,
            kind,
            this: RefCell::new(Weak::new()),
            self_cycle,
            me: RefCell::new(None),
            chained,
            left: RefCell::new(None),
            right: RefCell::new(None),
            suicided: Cell::new(false),
        });
        *o.this.borrow_mut() = Gc::downgrade(&o);
        o
    }

    fn new(id: u32, kind: Kind) -> Gc<Obj> {
        Obj::make(id, kind, false, false)
    }

    /// CPython's `SelfCycleBase`: `self.ref = self`.
    fn new_self_cycle(id: u32, kind: Kind) -> Gc<Obj> {
        let o = Obj::make(id, kind, true, false);
        *o.me.borrow_mut() = Some(o.clone());
        o
    }

    fn is(&self, other: &Gc<Obj>) -> bool {
        core::ptr::eq(self, Gc::as_ptr(other))
    }

    /// A strong handle to this object, if one can be reached from it.
    fn handle_to_self(&self) -> Option<Gc<Obj>> {
        if let Some(me) = self.this.borrow().upgrade() {
            return Some(me);
        }
        if let Some(me) = self.me.borrow().clone() {
            return Some(me);
        }
        let left = self.left.borrow().clone();
        if let Some(me) = left.and_then(|l| l.right.borrow().clone())
            && self.is(&me)
        {
            return Some(me);
        }
        let right = self.right.borrow().clone();
        right
            .and_then(|r| r.left.borrow().clone())
            .filter(|me| self.is(me))
    }

    /// CPython's `check_sanity`: the object and its neighbours are intact and consistent.
    fn check_sanity(&self) {
        if self.self_cycle {
            match &*self.me.borrow() {
                Some(me) if self.is(me) => {}
                _ => error(format!("{}: self.ref is not self", self.id)),
            }
        }
        if !self.chained {
            return;
        }
        if self.suicided.get() {
            if self.left.borrow().is_some() || self.right.borrow().is_some() {
                error(format!("{}: suicided but still linked", self.id));
            }
            return;
        }
        let left = self.left.borrow().clone();
        let right = self.right.borrow().clone();
        let (Some(left), Some(right)) = (left, right) else {
            error(format!("{}: missing neighbour", self.id));
            return;
        };
        let (Some(l), Some(r)) = (Gc::try_deref(&left), Gc::try_deref(&right)) else {
            error(format!("{}: a neighbour is dead", self.id));
            return;
        };
        let ok_left = if l.suicided.get() {
            l.right.borrow().is_none()
        } else {
            l.right.borrow().as_ref().is_some_and(|x| self.is(x))
        };
        let ok_right = if r.suicided.get() {
            r.left.borrow().is_none()
        } else {
            r.left.borrow().as_ref().is_some_and(|x| self.is(x))
        };
        if !ok_left || !ok_right {
            error(format!("{}: inconsistent chain", self.id));
        }
    }

    /// CPython's `ChainedBase.chain`: `self.left = left; left.right = self`.
    fn chain(this: &Gc<Obj>, left: &Gc<Obj>) {
        *this.left.borrow_mut() = Some(left.clone());
        *left.right.borrow_mut() = Some(this.clone());
    }
}

impl Finalize for Obj {
    fn finalize(&self) {
        DEL_CALLS.with(|d| d.borrow_mut().push(self.id));
        self.check_sanity();
        match self.kind {
            Kind::Simple => {}
            Kind::Resurrector => match self.handle_to_self() {
                Some(me) => SURVIVORS.with(|s| s.borrow_mut().push(me)),
                None => error(format!("{}: no handle to resurrect", self.id)),
            },
            Kind::Suicidal => {
                self.suicided.set(true);
                drop(self.me.take());
                drop(self.left.take());
                drop(self.right.take());
            }
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

/// CPython's `NonGC` / `NonGCResurrector`: a finalizer on an object that holds no handle,
/// so is never tracked by the collector.
struct Plain {
    id: u32,
    resurrect: bool,
    this: RefCell<Weak<Plain>>,
}

// SAFETY: holds no strong handle.
unsafe impl Trace for Plain {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Finalize for Plain {
    fn finalize(&self) {
        DEL_CALLS.with(|d| d.borrow_mut().push(self.id));
        if self.resurrect {
            let me = self.this.borrow().upgrade();
            match me {
                Some(me) => PLAIN_SURVIVORS.with(|s| s.borrow_mut().push(me)),
                None => error(format!("{}: no handle to resurrect", self.id)),
            }
        }
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

fn plain(id: u32, resurrect: bool) -> Gc<Plain> {
    let p = Gc::new_with_finalizer(Plain {
        id,
        resurrect,
        this: RefCell::new(Weak::new()),
    });
    *p.this.borrow_mut() = Gc::downgrade(&p);
    p
}

// ----- helpers: CPython's TestBase -----------------------------------------------------------

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

fn del_calls() -> Vec<u32> {
    sorted(DEL_CALLS.with(|d| d.borrow().clone()))
}

fn drops() -> Vec<u32> {
    sorted(DROPS.with(|d| d.borrow().clone()))
}

fn survivors() -> Vec<u32> {
    sorted(SURVIVORS.with(|s| s.borrow().iter().map(|o| o.id).collect()))
}

/// Empties the survivor list (the handles are dropped after the borrow ends).
fn clear_survivors() {
    let taken = SURVIVORS.with(|s| core::mem::take(&mut *s.borrow_mut()));
    drop(taken);
    let taken = PLAIN_SURVIVORS.with(|s| core::mem::take(&mut *s.borrow_mut()));
    drop(taken);
}

/// CPython's `SimpleBase.test()` context: starts clean; at the end no finalizer reported an
/// error, nothing was saved in `garbage()` and nothing was uncollectable.
fn setup() {
    assert_eq!(collect(), 0);
    gencollect::disable();
}

fn teardown() {
    assert_eq!(ERRORS.with(|e| e.borrow().clone()), Vec::<String>::new());
    assert!(gencollect::garbage().is_empty());
    assert_eq!(
        get_stats().iter().map(|s| s.uncollectable).sum::<usize>(),
        0
    );
}

fn upgrades(wrs: &[Weak<Obj>]) -> Vec<bool> {
    wrs.iter().map(|w| w.upgrade().is_some()).collect()
}

// ----- SimpleFinalizationTest: no cycles ------------------------------------------------------

// CPython: test_finalization.SimpleFinalizationTest.test_simple
#[test]
fn simple_test_simple() {
    setup();
    let s = Obj::new(1, Kind::Simple);
    let wr = Gc::downgrade(&s);
    assert!(!is_finalized(&s));
    drop(s);
    // Refcount death: finalizer, then drop, at once.
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), vec![1]);
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert!(wr.upgrade().is_none());
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), vec![1]);
    teardown();
}

// CPython: test_finalization.SimpleFinalizationTest.test_simple_resurrect
#[test]
fn simple_test_simple_resurrect() {
    setup();
    let s = Obj::new(1, Kind::Resurrector);
    let wr = Gc::downgrade(&s);
    drop(s);
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), vec![1]);
    assert_eq!(drops(), Vec::<u32>::new());
    // Resurrected on refcount death: weak references still upgrade (as in CPython).
    let back = wr.upgrade().expect("resurrected object upgrades");
    assert_eq!(back.id, 1);
    assert!(is_finalized(&back));
    assert_eq!(Gc::ref_count(&back), 2);
    drop(back);
    clear_survivors();
    // Second death: no finalizer this time, the value is dropped.
    assert_eq!(drops(), vec![1]);
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert!(wr.upgrade().is_none());
    teardown();
}

// CPython: test_finalization.SimpleFinalizationTest.test_non_gc
#[test]
fn simple_test_non_gc() {
    setup();
    let s = plain(1, false);
    assert!(!is_tracked(&s));
    let wr = Gc::downgrade(&s);
    drop(s);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), vec![1]);
    assert_eq!(collect(), 0);
    assert!(wr.upgrade().is_none());
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), vec![1]);
    teardown();
}

// CPython: test_finalization.SimpleFinalizationTest.test_non_gc_resurrect
// (difference: CPython calls `__del__` of a non-GC object on every death; gcrt's untracked
// objects with a finalizer still carry the FINALIZED flag, so it runs once)
#[test]
fn simple_test_non_gc_resurrect() {
    setup();
    let s = plain(1, true);
    assert!(!is_tracked(&s));
    drop(s);
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), Vec::<u32>::new());
    let back = PLAIN_SURVIVORS.with(|s| s.borrow()[0].clone());
    assert_eq!(back.id, 1);
    assert!(is_finalized(&back));
    drop(back);
    clear_survivors();
    assert_eq!(collect(), 0);
    // CPython: del_calls == ids * 2 and the object survives again.
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(PLAIN_SURVIVORS.with(|s| s.borrow().len()), 0);
    assert_eq!(drops(), vec![1]);
    teardown();
}

// ----- SelfCycleFinalizationTest ---------------------------------------------------------------

// CPython: test_finalization.SelfCycleFinalizationTest.test_simple
// (also the gcrt counterpart of LegacyFinalizationTest.test_legacy_self_cycle: a self-cycle
// with a finalizer is collected, never left in garbage())
#[test]
fn self_cycle_test_simple() {
    setup();
    let s = Obj::new_self_cycle(1, Kind::Simple);
    let wr = Gc::downgrade(&s);
    drop(s);
    assert_eq!(del_calls(), Vec::<u32>::new());
    assert_eq!(collect(), 1);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1]);
    assert!(wr.upgrade().is_none());
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(get_stats()[2].collected, 1);
    teardown();
}

// CPython: test_finalization.SelfCycleFinalizationTest.test_simple_resurrect
#[test]
fn self_cycle_test_simple_resurrect() {
    setup();
    let s = Obj::new_self_cycle(1, Kind::Resurrector);
    let wr = Gc::downgrade(&s);
    drop(s);
    // Resurrected: not counted, nothing dropped.
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), vec![1]);
    assert_eq!(drops(), Vec::<u32>::new());
    // CPython 3.12 and gcrt: weak references cleared by the collection stay cleared...
    assert!(wr.upgrade().is_none());
    let back = SURVIVORS.with(|s| s.borrow()[0].clone());
    assert!(is_finalized(&back));
    // ... the object is intact (its self-reference too) ...
    assert!(
        back.me
            .borrow()
            .as_ref()
            .is_some_and(|me| Gc::ptr_eq(me, &back))
    );
    // ... and a new weak handle to it never upgrades either (documented).
    assert!(Gc::downgrade(&back).upgrade().is_none());
    drop(back);
    // Destroyed a second time: no finalizer, no resurrection.
    clear_survivors();
    assert_eq!(collect(), 1);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1]);
    assert!(wr.upgrade().is_none());
    teardown();
}

// CPython: test_finalization.SelfCycleFinalizationTest.test_simple_suicide
#[test]
fn self_cycle_test_simple_suicide() {
    setup();
    let s = Obj::new_self_cycle(1, Kind::Suicidal);
    let wr = Gc::downgrade(&s);
    drop(s);
    // The finalizer drops the last reference to its object: it is freed by refcounting
    // during the finalizer phase, so it is not counted in collect()'s result.
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1]);
    assert!(wr.upgrade().is_none());
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), vec![1]);
    assert_eq!(drops(), vec![1]);
    assert!(wr.upgrade().is_none());
    teardown();
}

// ----- CycleChainFinalizationTest ----------------------------------------------------------

/// CPython's `build_chain`: node i's left is node i-1 (node 0's is the last one).
fn build_chain(kinds: &[Kind]) -> Vec<Gc<Obj>> {
    let nodes: Vec<Gc<Obj>> = kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| Obj::make(i as u32, k, false, true))
        .collect();
    let n = nodes.len();
    for i in 0..n {
        Obj::chain(&nodes[i], &nodes[(i + n - 1) % n]);
    }
    nodes
}

/// CPython's `check_non_resurrecting_chain`; `collected` is what the first collect() returns
/// (the nodes not freed by refcounting while the finalizers run).
fn check_non_resurrecting_chain(kinds: &[Kind], collected: usize) {
    setup();
    let n = kinds.len();
    let nodes = build_chain(kinds);
    let ids: Vec<u32> = (0..n as u32).collect();
    let wrs: Vec<Weak<Obj>> = nodes.iter().map(Gc::downgrade).collect();
    drop(nodes);
    assert_eq!(del_calls(), Vec::<u32>::new());
    assert_eq!(collect(), collected);
    assert_eq!(del_calls(), ids);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(upgrades(&wrs), vec![false; n]);
    assert_eq!(drops(), ids);
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), ids);
    assert_eq!(drops(), ids);
    teardown();
}

/// CPython's `check_resurrecting_chain`: every resurrector stores itself, which keeps the
/// whole chain (everything it reaches) alive.
fn check_resurrecting_chain(kinds: &[Kind]) {
    setup();
    let n = kinds.len();
    let nodes = build_chain(kinds);
    let ids: Vec<u32> = (0..n as u32).collect();
    let survivor_ids: Vec<u32> = (0..n)
        .filter(|&i| kinds[i] == Kind::Resurrector)
        .map(|i| i as u32)
        .collect();
    let wrs: Vec<Weak<Obj>> = nodes.iter().map(Gc::downgrade).collect();
    drop(nodes);
    // Everything is reachable from a resurrected node: nothing collected, nothing dropped.
    assert_eq!(collect(), 0);
    assert_eq!(del_calls(), ids);
    assert_eq!(survivors(), survivor_ids);
    assert_eq!(drops(), Vec::<u32>::new());
    // Weak references to objects found unreachable stay cleared (CPython 3.12 too).
    assert_eq!(upgrades(&wrs), vec![false; n]);
    // The resurrected chain is intact: walking right from a survivor visits every node.
    let first = SURVIVORS.with(|s| s.borrow()[0].clone());
    let mut seen = vec![first.id];
    let mut cur = first.clone();
    loop {
        let next = cur.right.borrow().clone();
        match next {
            Some(next) if !Gc::ptr_eq(&next, &first) => {
                seen.push(next.id);
                cur = next;
            }
            _ => break,
        }
    }
    assert!(seen.iter().all(|id| ids.contains(id)));
    assert!(SURVIVORS.with(|s| s.borrow().iter().all(is_finalized)));
    drop((first, cur));
    clear_survivors();
    // Garbage again: all freed, no finalizer runs a second time.
    assert_eq!(collect(), n);
    assert_eq!(del_calls(), ids);
    assert_eq!(survivors(), Vec::<u32>::new());
    assert_eq!(drops(), ids);
    teardown();
}

use Kind::{Resurrector as R, Simple as S, Suicidal as X};

// CPython: test_finalization.CycleChainFinalizationTest.test_homogenous
#[test]
fn chain_test_homogenous() {
    check_non_resurrecting_chain(&[S; 3], 3);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_homogenous_resurrect
#[test]
fn chain_test_homogenous_resurrect() {
    check_resurrecting_chain(&[R; 3]);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_homogenous_suicidal
#[test]
fn chain_test_homogenous_suicidal() {
    // Finalizers run from the most recently allocated node down: node 1 dropping its
    // handles frees node 0 (whose finalizer then runs from its refcount death), and the
    // rest follows. Everything is freed by refcounting during the finalizer phase.
    check_non_resurrecting_chain(&[X; 3], 0);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_heterogenous_suicidal_one
#[test]
fn chain_test_heterogenous_suicidal_one() {
    // [X0, S1, X2, S3]: X2 unlinks S1 and S3, X0 then drops their last handles.
    check_non_resurrecting_chain(&[X, S, X, S], 0);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_heterogenous_suicidal_two
#[test]
fn chain_test_heterogenous_suicidal_two() {
    // [X0, X1, S2, S3]: S2 <-> S3 is still a cycle holding X0 and X1 after the finalizers,
    // so all four are freed by the collector.
    check_non_resurrecting_chain(&[X, X, S, S], 4);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_heterogenous_resurrect_one
#[test]
fn chain_test_heterogenous_resurrect_one() {
    check_resurrecting_chain(&[R, S, R, S]);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_heterogenous_resurrect_two
#[test]
fn chain_test_heterogenous_resurrect_two() {
    check_resurrecting_chain(&[R, S, X, R, S, X]);
}

// CPython: test_finalization.CycleChainFinalizationTest.test_heterogenous_resurrect_three
#[test]
fn chain_test_heterogenous_resurrect_three() {
    check_resurrecting_chain(&[R, R, S, S, X, X]);
}

// CPython: test_finalization.LegacyFinalizationTest.test_legacy,
// test_legacy_resurrect, test_legacy_self_cycle: not applicable (no `tp_del`, nothing is
// ever uncollectable; see the module documentation).
