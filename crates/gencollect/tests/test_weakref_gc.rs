//! The collector-related tests of CPython 3.12's `Lib/test/test_weakref.py` (and the weak
//! reference tests of `Lib/test/test_gc.py`), ported to gcrt's `Weak` and `WeakRef`.
//!
//! Python objects are [`C`] objects holding a list of strong handles ([`Ref`]); a class is
//! a `C` in a self-cycle (as every Python class is, through its `__mro__`). Python's bound
//! methods used as callbacks hold their instance strongly; a Rust callback closure is not
//! traced, so a closure that captured its instance strongly would make the cycle through
//! it uncollectable (documented). The ports capture a `Weak` to the instance instead and
//! keep the Python cycle with an explicit edge.
//!
//! Not applicable (no Rust meaning): the proxy tests (no `weakref.proxy`), `test_ref_reuse`
//! and `test_shared_*_without_callback` (every `WeakRef::new` is a new object),
//! `test_callback_different_classes` (Rust has no class objects: it is
//! `test_callback_reachable_one_way` again), `test_equality` / `test_hashing` /
//! `test_ordering` (WeakRef has no value semantics), the WeakMethod, WeakKeyDictionary,
//! WeakValueDictionary and `weakref.finalize` tests (not part of gcrt), the threaded tests
//! (handles are not `Send`).
//!
//! Each test runs on its own thread: fresh heap, fresh thread-locals.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use gcrt_derive::Trace;
use gencollect::{Unraisable, collect, set_unraisable_hook};
use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

thread_local! {
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(s: impl Into<String>) {
    LOG.with(|l| l.borrow_mut().push(s.into()));
}

fn logged() -> Vec<String> {
    LOG.with(|l| l.borrow().clone())
}

fn clear_log() {
    LOG.with(|l| l.borrow_mut().clear());
}

fn drops() -> Vec<u32> {
    let mut d = DROPS.with(|d| d.borrow().clone());
    d.sort_unstable();
    d
}

/// A strong edge to any of the object kinds used here.
#[derive(Trace, Clone)]
#[trace(crate = "refcount")]
enum Ref {
    C(Gc<C>),
    WrC(Gc<WeakRef<C>>),
    M(Gc<Method>),
    WrM(Gc<WeakRef<Method>>),
    Y(Gc<Y>),
    WrZ(Gc<WeakRef<Z>>),
}

/// A Python instance (or class): an id and its strong references.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct C {
    id: u32,
    refs: RefCell<Vec<Ref>>,
}

impl Drop for C {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

fn c(id: u32) -> Gc<C> {
    Gc::new(C {
        id,
        refs: RefCell::new(Vec::new()),
    })
}

/// A `C` in a self-cycle (a class, or `RefCycle`).
fn cyclic(id: u32) -> Gc<C> {
    let o = c(id);
    push(&o, Ref::C(o.clone()));
    o
}

fn push(o: &Gc<C>, r: Ref) {
    o.refs.borrow_mut().push(r);
}

/// A bound method object: holds its instance.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Method {
    id: u32,
    target: Gc<C>,
}

impl Drop for Method {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

/// `ContainerNoGC` of test_trash_weakref_clear: holds a handle it does not report.
struct Y {
    value: Gc<Z>,
}

// SAFETY: under-reports (hides `value`), which the Trace contract allows.
unsafe impl Trace for Y {
    fn trace(&self, _: &mut Tracer<'_>) {}
}

/// An atomic object (never tracked).
struct Z(u32);

// SAFETY: holds no handles.
unsafe impl Trace for Z {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Z {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.0));
    }
}

/// A callback that counts its calls.
fn counting<T: Trace + 'static>(calls: &Rc<Cell<u32>>) -> impl FnOnce(&Gc<WeakRef<T>>) + 'static {
    let calls = calls.clone();
    move |w: &Gc<WeakRef<T>>| {
        assert!(w.upgrade().is_none());
        calls.set(calls.get() + 1);
    }
}

// ----- ReferencesTestCase ---------------------------------------------------------------------

// CPython: test_weakref.ReferencesTestCase.test_basic_callback (check_basic_callback, by
// refcount and for cyclic garbage)
#[test]
fn test_basic_callback() {
    let calls = Rc::new(Cell::new(0));
    let o = c(1);
    let wr = WeakRef::new(&o, counting(&calls));
    assert!(Gc::ptr_eq(&wr.upgrade().unwrap(), &o));
    drop(o);
    assert_eq!(calls.get(), 1);
    assert!(wr.upgrade().is_none());
    assert_eq!(drops(), vec![1]);

    let o = cyclic(2);
    let wr2 = WeakRef::new(&o, counting(&calls));
    drop(o);
    assert_eq!(calls.get(), 1);
    assert_eq!(collect(), 1);
    assert_eq!(calls.get(), 2);
    assert!(wr2.upgrade().is_none());
    assert_eq!(drops(), vec![1, 2]);
    drop((wr, wr2));
    assert_eq!(collect(), 0);
}

// CPython: test_weakref.ReferencesTestCase.test_multiple_callbacks (plus gcrt's order: most
// recently registered first, by refcount and in a collection)
#[test]
fn test_multiple_callbacks() {
    for cyclic_garbage in [false, true] {
        clear_log();
        let o = if cyclic_garbage { cyclic(1) } else { c(1) };
        let ref1 = WeakRef::new(&o, |_: &Gc<WeakRef<C>>| log("ref1"));
        let ref2 = WeakRef::new(&o, |_: &Gc<WeakRef<C>>| log("ref2"));
        drop(o);
        assert_eq!(collect(), usize::from(cyclic_garbage));
        assert!(ref1.upgrade().is_none());
        assert!(ref2.upgrade().is_none());
        assert_eq!(logged(), vec!["ref2", "ref1"]);
    }
}

thread_local! {
    static SELF_REF: RefCell<Option<Gc<WeakRef<C>>>> = const { RefCell::new(None) };
}

// CPython: test_weakref.ReferencesTestCase.test_multiple_selfref_callbacks
#[test]
fn test_multiple_selfref_callbacks() {
    // Every reference to the object is invalidated before any callback runs: the callback of
    // the most recent reference (ref1, run first) finds the other one already dead.
    let cb = |_: &Gc<WeakRef<C>>| {
        let r = SELF_REF.with(|r| r.borrow().clone()).unwrap();
        log(format!("other ref alive: {}", r.upgrade().is_some()));
    };
    let o = c(1);
    let self_ref = WeakRef::new(&o, cb);
    SELF_REF.with(|r| *r.borrow_mut() = Some(self_ref));
    let ref1 = WeakRef::new(&o, cb);
    drop(o);
    assert_eq!(
        logged(),
        vec!["other ref alive: false", "other ref alive: false"]
    );
    drop(ref1);
    let r = SELF_REF.with(|r| r.borrow_mut().take());
    drop(r);
}

#[derive(Debug, PartialEq)]
struct BogusError;

// CPython: test_weakref.ReferencesTestCase.test_callbacks_protected
#[test]
fn test_callbacks_protected() {
    // A callback that runs while a panic unwinds (the referent's last handle is dropped by
    // the unwinding) runs normally and does not disturb the panic in flight.
    let data: Rc<RefCell<Vec<Gc<WeakRef<C>>>>> = Rc::new(RefCell::new(Vec::new()));
    for round in 1..=2 {
        let d = data.clone();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let f = c(round);
            let d2 = d.clone();
            let wr = WeakRef::new(&f, move |w: &Gc<WeakRef<C>>| {
                d2.borrow_mut().retain(|x| !Gc::ptr_eq(x, w));
                log("removed");
            });
            d.borrow_mut().push(wr);
            std::panic::panic_any(BogusError);
        }));
        let payload = result.expect_err("the panic comes out");
        assert_eq!(payload.downcast_ref::<BogusError>(), Some(&BogusError));
        assert!(data.borrow().is_empty());
        assert_eq!(logged().len(), round as usize);
    }
    assert_eq!(drops(), vec![1, 2]);
}

// CPython: test_weakref.ReferencesTestCase.test_sf_bug_840829
#[test]
fn test_sf_bug_840829() {
    // A callback that starts a collection while its referent is being deallocated.
    let inner = Rc::new(RefCell::new(Vec::new()));
    let i1 = inner.clone();
    let o = c(1);
    let wr = WeakRef::new(&o, move |_: &Gc<WeakRef<C>>| {
        i1.borrow_mut().push(collect())
    });
    drop(o);
    drop(wr);
    // Second part: the referent dies while its holder is torn down.
    let c1 = c(2);
    let c1i = c(3);
    push(&c1, Ref::C(c1i.clone()));
    let i2 = inner.clone();
    let wr = WeakRef::new(&c1i, move |_: &Gc<WeakRef<C>>| {
        i2.borrow_mut().push(collect())
    });
    drop(c1i);
    let c2 = c(4);
    push(&c2, Ref::C(c1));
    drop(c2);
    // Both callbacks ran a real collection (none was running), which found nothing.
    assert_eq!(*inner.borrow(), vec![0, 0]);
    assert_eq!(drops(), vec![1, 2, 3, 4]);
    assert_eq!(collect(), 0);
    drop(wr);
}

// CPython: test_weakref.ReferencesTestCase.test_callback_in_cycle
#[test]
fn test_callback_in_cycle() {
    collect();
    let j = cyclic(1); // class J
    let ii = cyclic(2); // class II
    let i = cyclic(3); // I = II(): in a cycle, as through its bound method in CPython
    push(&i, Ref::C(ii.clone()));
    push(&i, Ref::C(j.clone()));
    let me = Gc::downgrade(&i);
    let wr = WeakRef::new(&j, move |_: &Gc<WeakRef<C>>| {
        // I.acallback: `self.J`
        let i = me.upgrade();
        log(format!("acallback, I alive: {}", i.is_some()));
    });
    push(&i, Ref::WrC(wr));
    drop((i, j, ii));
    // J, II, I and I.wr are trash together: the weak reference dies with its referent, so
    // its callback is dropped uncalled.
    assert_eq!(collect(), 4);
    assert_eq!(logged(), Vec::<String>::new());
    assert_eq!(drops(), vec![1, 2, 3]);
    assert_eq!(collect(), 0);
}

// CPython: test_weakref.ReferencesTestCase.test_callback_reachable_one_way
#[test]
fn test_callback_reachable_one_way() {
    collect();
    let c1 = c(1);
    let c2 = cyclic(2);
    push(&c2, Ref::C(c1.clone()));
    let me = Gc::downgrade(&c2);
    let wr = WeakRef::new(&c1, move |_: &Gc<WeakRef<C>>| {
        log(format!("cb, c2 alive: {}", me.upgrade().is_some()));
    });
    push(&c2, Ref::WrC(wr));
    drop((c1, c2));
    assert_eq!(collect(), 3);
    assert_eq!(logged(), Vec::<String>::new());
    assert_eq!(drops(), vec![1, 2]);
}

// CPython: test_weakref.ReferencesTestCase.test_callback_in_cycle_resurrection
#[test]
fn test_callback_in_cycle_resurrection() {
    collect();
    let class = cyclic(100);
    let c1 = c(1);
    let c2 = c(2);
    for (x, y) in [(&c1, &c2), (&c2, &c1)] {
        push(x, Ref::C(class.clone()));
        push(x, Ref::C(y.clone()));
        // x.wr = weakref.ref(y, x.acallback): the callback would store x.c (that is, y).
        let me = Gc::downgrade(x);
        let wr = WeakRef::new(y, move |_: &Gc<WeakRef<C>>| {
            log(format!("acallback, self alive: {}", me.upgrade().is_some()));
        });
        push(x, Ref::WrC(wr));
    }
    let wr = WeakRef::new(&class, |_: &Gc<WeakRef<C>>| log("C went away"));
    drop((c1, c2, class));
    assert_eq!(logged(), Vec::<String>::new());
    // c1, c2, c1.wr, c2.wr and the class: the two weak references in the trash have their
    // callbacks dropped; the one bound to a local is called.
    assert_eq!(collect(), 5);
    assert_eq!(logged(), vec!["C went away"]);
    assert!(wr.upgrade().is_none());
    assert!(!wr.has_callback());
    assert_eq!(drops(), vec![1, 2, 100]);
    clear_log();
    assert_eq!(collect(), 0);
    assert_eq!(logged(), Vec::<String>::new());
}

// CPython: test_weakref.ReferencesTestCase.test_callbacks_on_callback
#[test]
fn test_callbacks_on_callback() {
    collect();
    let c_ = c(1);
    let d = c(2);
    push(&c_, Ref::C(d.clone()));
    push(&d, Ref::C(c_.clone()));
    // callback = c.cb: a bound method object, held by c here (see the module docs).
    let callback = Gc::new(Method {
        id: 10,
        target: c_.clone(),
    });
    push(&c_, Ref::M(callback.clone()));
    let m = Gc::downgrade(&callback);
    let cwr = WeakRef::new(&d, move |_: &Gc<WeakRef<C>>| {
        if m.upgrade().is_some() {
            log("cb called");
        }
    });
    push(&c_, Ref::WrC(cwr)); // won't trigger
    let dwr = WeakRef::new(&callback, |_: &Gc<WeakRef<Method>>| log("cb called"));
    push(&d, Ref::WrM(dwr)); // ditto
    let external_wr = WeakRef::new(&callback, |_: &Gc<WeakRef<Method>>| {
        log("safe_callback called")
    });
    assert!(Gc::ptr_eq(&external_wr.upgrade().unwrap(), &callback));
    assert_eq!(callback.target.id, 1);
    drop((callback, c_, d));
    assert_eq!(logged(), Vec::<String>::new());
    // c, d, the method, c.wr, d.wr.
    assert_eq!(collect(), 5);
    assert_eq!(logged(), vec!["safe_callback called"]);
    assert!(external_wr.upgrade().is_none());
    assert_eq!(drops(), vec![1, 2, 10]);
    clear_log();
    assert_eq!(collect(), 0);
    assert_eq!(logged(), Vec::<String>::new());
}

// CPython: test_weakref.ReferencesTestCase.test_gc_during_ref_creation
#[test]
fn test_gc_during_ref_creation() {
    gencollect::set_threshold(1, 1, 1);
    collect();
    gencollect::enable();
    let referenced = c(1);
    let a = cyclic(2);
    let trash_wr = WeakRef::new(&referenced, |_: &Gc<WeakRef<C>>| log("trash callback"));
    push(&a, Ref::WrC(trash_wr));
    drop(a);
    let collections_before = gencollect::get_stats()
        .iter()
        .map(|s| s.collections)
        .sum::<usize>();
    // Allocating the weak reference object starts a collection, before its callback is
    // registered; the new reference works all the same.
    let calls = Rc::new(Cell::new(0));
    let wr = WeakRef::new(&referenced, counting(&calls));
    let collections_after = gencollect::get_stats()
        .iter()
        .map(|s| s.collections)
        .sum::<usize>();
    assert_eq!(collections_after, collections_before + 1);
    gencollect::disable();
    gencollect::set_threshold(2000, 10, 10);
    collect();
    // `a` (and its weak reference, whose callback is dropped) is gone.
    assert_eq!(drops(), vec![2]);
    assert!(Gc::ptr_eq(&wr.upgrade().unwrap(), &referenced));
    drop(referenced);
    assert_eq!(calls.get(), 1);
    assert_eq!(logged(), Vec::<String>::new());
    assert_eq!(drops(), vec![1, 2]);
}

/// `Target` of test_ref_created_during_del: its finalizer creates weak references to itself.
struct Target {
    this: RefCell<Weak<Target>>,
    me: RefCell<Option<Gc<Target>>>,
}

// SAFETY: reports its one strong handle.
unsafe impl Trace for Target {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t)
    }
}

thread_local! {
    static REF_FROM_DEL: RefCell<Option<Gc<WeakRef<Target>>>> = const { RefCell::new(None) };
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

impl Finalize for Target {
    fn finalize(&self) {
        let me = self
            .this
            .borrow()
            .upgrade()
            .or_else(|| self.me.borrow().clone());
        let me = me.expect("a handle to self");
        let wr = WeakRef::new(&me, |w: &Gc<WeakRef<Target>>| {
            assert!(w.upgrade().is_none());
            CALLS.with(|c| c.set(c.get() + 1));
        });
        log(format!("upgrade in finalizer: {}", wr.upgrade().is_some()));
        REF_FROM_DEL.with(|r| *r.borrow_mut() = Some(wr));
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        log("dropped");
    }
}

fn target(cyclic: bool) -> Gc<Target> {
    let t = Gc::new_with_finalizer(Target {
        this: RefCell::new(Weak::new()),
        me: RefCell::new(None),
    });
    *t.this.borrow_mut() = Gc::downgrade(&t);
    if cyclic {
        *t.me.borrow_mut() = Some(t.clone());
    }
    t
}

// CPython: test_weakref.ReferencesTestCase.test_ref_created_during_del (and the cyclic
// variant, CPython's test_gc.test_function_tp_clear_leaves_consistent_state idea: a weak
// reference created by a finalizer never reveals the garbage)
#[test]
fn test_ref_created_during_del() {
    // By refcount: the reference made in the finalizer works until the object dies right
    // after; its callback runs with the others.
    drop(target(false));
    assert_eq!(
        logged(),
        vec!["upgrade in finalizer: true".to_string(), "dropped".into()]
    );
    assert_eq!(CALLS.with(Cell::get), 1);
    let wr = REF_FROM_DEL.with(|r| r.borrow_mut().take()).unwrap();
    assert!(wr.upgrade().is_none());
    drop(wr);

    // In a collected cycle: the object is already doomed, so the new reference never
    // upgrades; its callback runs when the collector frees the object.
    clear_log();
    collect();
    drop(target(true));
    assert_eq!(collect(), 1);
    assert_eq!(
        logged(),
        vec!["upgrade in finalizer: false".to_string(), "dropped".into()]
    );
    assert_eq!(CALLS.with(Cell::get), 2);
    let wr = REF_FROM_DEL.with(|r| r.borrow_mut().take()).unwrap();
    assert!(wr.upgrade().is_none());
}

// CPython: test_weakref.ReferencesTestCase.test_classes
#[test]
fn test_classes() {
    collect();
    let class = cyclic(1);
    let seen: Rc<RefCell<Vec<usize>>> = Rc::default();
    let s = seen.clone();
    let a = WeakRef::new(&class, move |w: &Gc<WeakRef<C>>| {
        s.borrow_mut().push(Gc::as_ptr(w).addr())
    });
    drop(class);
    assert_eq!(collect(), 1);
    assert!(a.upgrade().is_none());
    // The callback's argument is the weak reference itself.
    assert_eq!(*seen.borrow(), vec![Gc::as_ptr(&a).addr()]);
}

// CPython: test_weakref.ReferencesTestCase.test_callback_attribute_after_deletion
#[test]
fn test_callback_attribute_after_deletion() {
    let calls = Rc::new(Cell::new(0));
    let x = c(1);
    let r = WeakRef::new(&x, counting(&calls));
    assert!(r.has_callback());
    drop(x);
    assert!(!r.has_callback());
    assert_eq!(calls.get(), 1);
    // The callback is gone for good: dropping the reference calls nothing.
    drop(r);
    assert_eq!(calls.get(), 1);
}

/// `ObjectWithDel` of test_callback_gcs.
struct WithDel(u32);

// SAFETY: holds no handles.
unsafe impl Trace for WithDel {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Finalize for WithDel {
    fn finalize(&self) {
        log(format!("del {}", self.0));
    }
}

// CPython: test_weakref.ReferencesTestCase.test_callback_gcs
#[test]
fn test_callback_gcs() {
    collect();
    let garbage = cyclic(7);
    drop(garbage);
    let x = Gc::new_with_finalizer(WithDel(1));
    let ref1 = WeakRef::new(&x, |_: &Gc<WeakRef<WithDel>>| {
        log(format!("callback collected {}", collect()))
    });
    drop(x);
    // Finalizer first, then the callback, which runs a real collection (by refcount death,
    // no collection is running) and finds the garbage cycle.
    assert_eq!(logged(), vec!["del 1", "callback collected 1"]);
    assert_eq!(drops(), vec![7]);
    drop(ref1);
}

// CPython: test_weakref.SubclassableWeakrefTestCase.test_subclass_refs_with_cycle
#[test]
fn test_subclass_refs_with_cycle() {
    // A weak reference whose callback holds the only strong handle to the referent: dropping
    // the weak reference frees the referent, and the callback, being destroyed, is not called.
    let calls = Rc::new(Cell::new(0));
    let o = c(1);
    let held = o.clone();
    let k = calls.clone();
    let r1 = WeakRef::new(&o, move |_: &Gc<WeakRef<C>>| {
        let _keep = &held;
        k.set(k.get() + 1);
    });
    drop(o);
    drop(r1);
    assert_eq!(calls.get(), 0);
    assert_eq!(drops(), vec![1]);

    // Two weak references: r1's callback holds r2, r2's holds the referent.
    let o = c(2);
    let held = o.clone();
    let k = calls.clone();
    let r2 = WeakRef::new(&o, move |_: &Gc<WeakRef<C>>| {
        let _keep = &held;
        k.set(k.get() + 1);
    });
    let held_r2 = r2.clone();
    let k = calls.clone();
    let r1 = WeakRef::new(&o, move |_: &Gc<WeakRef<C>>| {
        let _keep = &held_r2;
        k.set(k.get() + 1);
    });
    drop(o);
    drop(r2);
    drop(r1);
    assert_eq!(calls.get(), 0);
    assert_eq!(drops(), vec![1, 2]);
}

// ----- test_gc's weak reference tests ----------------------------------------------------------

// CPython: test_gc.GCTogglingTests.test_bug1055820c
#[test]
fn test_bug1055820c() {
    gencollect::enable();
    let c0 = cyclic(0);
    // Move c0 into generation 2.
    collect();
    assert_eq!(gencollect::get_generation(&c0), Some(2));
    let c1 = cyclic(1);
    push(&c1, Ref::C(c0.clone())); // c1.keep_c0_alive = c0
    c0.refs.borrow_mut().clear(); // del c0.loop: now only c1 keeps c0 alive
    let c2 = cyclic(2);
    let c2wr = Gc::downgrade(&c2); // no callback
    let ouch: Rc<RefCell<Vec<bool>>> = Rc::default();
    let o = ouch.clone();
    let c0wr = WeakRef::new(&c0, move |_: &Gc<WeakRef<C>>| {
        *o.borrow_mut() = vec![c2wr.upgrade().is_some()];
    });
    drop((c0, c1, c2));
    // Let a generation-0 collection happen naturally: it finds c1 and c2; deleting c1 frees
    // c0 (generation 2) by refcount, whose callback must not see c2.
    gencollect::set_threshold(if cfg!(miri) { 50 } else { 700 }, 10, 10);
    let happened = Rc::new(Cell::new(false));
    let h = happened.clone();
    let detector = WeakRef::new(&cyclic(666), move |_: &Gc<WeakRef<C>>| h.set(true));
    let mut junk = Vec::new();
    let mut i = 0;
    while !happened.get() {
        i += 1;
        assert!(i <= 10_000, "gc didn't happen after 10000 iterations");
        assert_eq!(ouch.borrow().len(), 0);
        junk.push(c(1000));
    }
    assert_eq!(*ouch.borrow(), vec![false]);
    assert_eq!(drops(), vec![0, 1, 2, 666]);
    gencollect::disable();
    drop((c0wr, detector, junk));
}

// CPython: test_gc.GCTests.test_trash_weakref_clear (bpo-38006)
#[test]
fn test_trash_weakref_clear() {
    // Z <- Y <- A --> WZ (weak to Z, with a callback), A in a self-cycle; WZ also held by a
    // second cycle. Y hides Z from the collector, so Z only dies when Y is dropped, after
    // WZ was found to be garbage: its callback must not run.
    let calls = Rc::new(Cell::new(0));
    let a = cyclic(1);
    let y = Gc::new(Y {
        value: Gc::new(Z(50)),
    });
    let wz = WeakRef::new(&y.value, counting(&calls));
    push(&a, Ref::Y(y));
    push(&a, Ref::WrZ(wz.clone()));
    let wr_cycle = cyclic(2);
    push(&wr_cycle, Ref::WrZ(wz));
    collect();
    gencollect::disable();
    drop((a, wr_cycle));
    // A, Y, WZ and the list (Z is atomic, so never tracked).
    assert_eq!(collect(), 4);
    assert_eq!(calls.get(), 0);
    assert_eq!(drops(), vec![1, 2, 50]);
}

// ----- gcrt: panics and re-entrancy in callbacks -------------------------------------------------

type Reports = Rc<RefCell<Vec<(&'static str, Option<String>)>>>;

fn capture_unraisable() -> Reports {
    let reports: Reports = Rc::default();
    let r = reports.clone();
    set_unraisable_hook(Some(Box::new(move |u: &Unraisable<'_>| {
        r.borrow_mut()
            .push((u.context, u.message.map(str::to_string)))
    })));
    reports
}

// gcrt (CPython: callback exceptions go to sys.unraisablehook, the others still run)
#[test]
fn panicking_callback_is_reported_and_others_still_run() {
    let reports = capture_unraisable();
    for cyclic_garbage in [false, true] {
        clear_log();
        let o = if cyclic_garbage { cyclic(1) } else { c(1) };
        let w1 = WeakRef::new(&o, |_: &Gc<WeakRef<C>>| log("first"));
        let w2 = WeakRef::new(&o, |_: &Gc<WeakRef<C>>| panic!("boom"));
        let w3 = WeakRef::new(&o, |_: &Gc<WeakRef<C>>| log("third"));
        drop(o);
        assert_eq!(collect(), usize::from(cyclic_garbage));
        assert_eq!(logged(), vec!["third", "first"]);
        assert!(!w2.has_callback());
        drop((w1, w2, w3));
    }
    set_unraisable_hook(None);
    let expected = (
        "calling a weak reference callback",
        Some("boom".to_string()),
    );
    assert_eq!(*reports.borrow(), vec![expected.clone(), expected]);
    assert_eq!(drops(), vec![1, 1]);
}

// gcrt (CPython: callbacks may allocate and call gc.collect(), which returns 0 while a
// collection runs)
#[test]
fn callback_that_allocates_and_collects() {
    collect();
    let t = cyclic(1);
    let wr = WeakRef::new(&t, |_: &Gc<WeakRef<C>>| {
        let fresh = cyclic(50);
        drop(fresh);
        log(format!("nested collect {}", collect()));
    });
    drop(t);
    assert_eq!(collect(), 1);
    assert_eq!(logged(), vec!["nested collect 0"]);
    assert_eq!(drops(), vec![1]);
    // The cycle the callback made is collected by the next collection.
    assert_eq!(collect(), 1);
    assert_eq!(drops(), vec![1, 50]);
    drop(wr);
}

/// A self-cycle holding a weak reference; its finalizer resurrects it.
struct Holder {
    me: RefCell<Option<Gc<Holder>>>,
    wr: Gc<WeakRef<C>>,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Holder {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.wr.trace(t);
    }
}

thread_local! {
    static HOLDERS: RefCell<Vec<Gc<Holder>>> = const { RefCell::new(Vec::new()) };
}

impl Finalize for Holder {
    fn finalize(&self) {
        let me = self.me.borrow().clone().unwrap();
        HOLDERS.with(|h| h.borrow_mut().push(me));
    }
}

// gcrt (docs/finalization.md: "the callback runs once, after the referent died ..., only if
// the weak reference itself is alive and not part of the same garbage"): a weak reference
// that was resurrected with its holder, while its referent stayed alive, is alive and was
// not part of the referent's garbage.
#[test]
fn resurrected_weakref_calls_back_when_its_referent_dies_later() {
    collect();
    let calls = Rc::new(Cell::new(0));
    let target = c(1);
    let holder = Gc::new_with_finalizer(Holder {
        me: RefCell::new(None),
        wr: WeakRef::new(&target, counting(&calls)),
    });
    *holder.me.borrow_mut() = Some(holder.clone());
    drop(holder);
    // The holder and its weak reference are found unreachable, then resurrected.
    assert_eq!(collect(), 0);
    let back = HOLDERS.with(|h| h.borrow()[0].clone());
    assert!(Gc::ptr_eq(&back.wr.upgrade().unwrap(), &target));
    assert!(back.wr.has_callback());
    drop(target);
    assert_eq!(calls.get(), 1);
    assert!(!back.wr.has_callback());
    drop(back);
    let h = HOLDERS.with(|h| core::mem::take(&mut *h.borrow_mut()));
    drop(h);
    assert_eq!(collect(), 2);
}
