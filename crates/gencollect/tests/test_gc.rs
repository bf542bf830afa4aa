//! A port of CPython 3.12's `Lib/test/test_gc.py` to gcrt's cycle collector: the
//! `GCTests` from `test_list` to the test_boom family (`test_boom2_new`), about collecting
//! cycles of lists, dicts, classes, instances and functions, `SAVEALL`, `Drop` doing work,
//! counts and generations, the trashcan, and `Trace` impls with side effects. The
//! inspection and statistics `GCTests` are in `test_gc_inspect.rs`; the `GCCallbackTests`
//! and `GCTogglingTests` in `test_gc_callbacks.rs`.
//!
//! Python objects are modelled by the tiny object model of `pymodel/mod.rs`; every `Gc`
//! object counts 1 in `collect()`'s return value, so the expected counts below are exact
//! for this model (they differ from CPython's wherever CPython has extra hidden objects,
//! such as instance `__dict__`s or function code objects).
//!
//! Each test runs on its own thread (the default harness), so each starts with a fresh
//! heap, fresh counts, thresholds, statistics, callbacks and debug flags. Tests that need a
//! clean slate still call `gencollect::collect()` first, as CPython's do.
//!
//! The mapping of every CPython test (ported or not applicable, and in which file) is in
//! `docs/test_gc-port.md`. Each ported test names its CPython original in a comment.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use gcrt_derive::Trace;
use gencollect::{
    DebugFlags, collect, collect_generation, get_count, get_generation, get_objects, get_stats,
};
use refcount::{Gc, ObjPtr, Tracer, Weak};

mod pymodel;
use pymodel::*;

// ----- GCTests ------------------------------------------------------------------------------

// CPython: test_gc.GCTests.test_list
#[test]
fn test_list() {
    collect();
    let l = new_list(Vec::new());
    l.items.borrow_mut().push(Value::List(l.clone()));
    assert_eq!(collect(), 0, "a reachable self-cycle is not garbage");
    drop(l);
    assert_eq!(collect(), 1);
    assert_eq!(collect(), 0);
}

// CPython: test_gc.GCTests.test_dict
#[test]
fn test_dict() {
    collect();
    let d = new_dict();
    dict_set(&d, Value::Int(1), Value::Dict(d.clone()));
    assert_eq!(collect(), 0);
    drop(d);
    assert_eq!(collect(), 1);
}

// CPython: test_gc.GCTests.test_tuple
#[test]
fn test_tuple() {
    collect();
    // An immutable tuple closes the loop through a list.
    let l = new_list(Vec::new());
    let t = Gc::new(Tuple {
        items: vec![Value::List(l.clone())],
    });
    l.items.borrow_mut().push(Value::Tuple(t.clone()));
    assert_eq!(collect(), 0);
    drop(t);
    drop(l);
    assert_eq!(collect(), 2);
}

// CPython: test_gc.GCTests.test_class
#[test]
fn test_class() {
    collect();
    let a = new_class("A", &[]);
    dict_set(&a.dict, Value::Str("a"), Value::Class(a.clone()));
    assert_eq!(collect(), 0);
    drop(a);
    // The class, its namespace and its MRO tuple.
    assert_eq!(collect(), 3);
}

// CPython: test_gc.GCTests.test_newstyleclass
#[test]
fn test_newstyleclass() {
    collect();
    // Without any attribute, a class is still a cycle (through its MRO).
    let a = new_class("A", &[]);
    assert_eq!(collect(), 0);
    drop(a);
    assert_eq!(collect(), 3);
}

// CPython: test_gc.GCTests.test_instance
#[test]
fn test_instance() {
    collect();
    let class = new_class("A", &[]);
    let a = new_instance(&class);
    setattr(&a, "a", Value::Instance(a.clone()));
    assert_eq!(collect(), 0);
    drop(a);
    // The instance and its __dict__; the class is still referenced.
    assert_eq!(collect(), 2);
    assert_eq!(class.name, "A");
    drop(class);
    assert_eq!(collect(), 3);
}

// CPython: test_gc.GCTests.test_newinstance
#[test]
fn test_newinstance() {
    collect();
    let a_class = new_class("A", &[]);
    let a = new_instance(&a_class);
    setattr(&a, "a", Value::Instance(a.clone()));
    drop(a);
    assert_eq!(collect(), 2);

    let b_class = new_class("B", &[]);
    let c_class = new_class("C", &[&b_class, &a_class]);
    let a = new_instance(&c_class);
    setattr(&a, "a", Value::Instance(a.clone()));
    drop(a);
    assert_eq!(collect(), 2);

    drop((b_class, c_class));
    // B and C, each with its namespace and MRO.
    assert_eq!(collect(), 6);

    let inst = new_instance(&a_class);
    dict_set(&a_class.dict, Value::Str("a"), Value::Instance(inst));
    drop(a_class);
    // A, its namespace and MRO, and the instance with its __dict__.
    assert_eq!(collect(), 5);
    assert_eq!(collect(), 0);
}

// CPython: test_gc.GCTests.test_method
#[test]
fn test_method() {
    collect();
    let globals = new_dict();
    let class = new_class("A", &[]);
    let init = Gc::new(Function {
        name: "__init__",
        globals: globals.clone(),
    });
    dict_set(
        &class.dict,
        Value::Str("__init__"),
        Value::Function(init.clone()),
    );
    // self.init = self.__init__: the bound method references the instance.
    let a = new_instance(&class);
    let bound = Gc::new(Method {
        func: init.clone(),
        receiver: Value::Instance(a.clone()),
    });
    setattr(&a, "init", Value::Method(bound));
    assert_eq!(collect(), 0);
    drop(a);
    // The instance, its __dict__ and the bound method.
    assert_eq!(collect(), 3);
    assert_eq!(init.name, "__init__");
    drop((class, init, globals));
    // The class (with its namespace and MRO), which held the function and its globals.
    assert_eq!(collect(), 5);
}

// CPython: test_gc.GCTests.test_function
#[test]
fn test_function() {
    collect();
    // exec("def f(): pass", d): f's globals are d, and d["f"] is f.
    let d = new_dict();
    let f = Gc::new(Function {
        name: "f",
        globals: d.clone(),
    });
    dict_set(&d, Value::Str("f"), Value::Function(f));
    assert_eq!(collect(), 0);
    drop(d);
    assert_eq!(collect(), 2);
}

/// `LateFin` of CPython's test: it reads a weak handle to `func` when it is dropped.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct LateFin {
    weak_func: RefCell<Weak<TpFunc>>,
    upgraded: Rc<Cell<Option<bool>>>,
}

impl Drop for LateFin {
    fn drop(&mut self) {
        let strong = self.weak_func.borrow().upgrade();
        self.upgraded.set(Some(strong.is_some()));
        if let Some(func) = strong {
            // Reaching the value must be safe whatever the answer.
            let _ = Gc::try_deref(&func).map(|f| f.module.borrow().is_some());
        }
    }
}

/// The function of CPython's test; `func.__module__ = cyc` closes the cycle.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct TpFunc {
    module: RefCell<Option<Gc<Cyclic>>>,
}

/// `Cyclic(tuple)` of CPython's test: `(func, latefin)` plus a finalizer-like `Drop`.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Cyclic {
    func: Gc<TpFunc>,
    latefin: Gc<LateFin>,
    global_latefin: Rc<RefCell<Option<Gc<LateFin>>>>,
}

impl Drop for Cyclic {
    fn drop(&mut self) {
        // Create a weak handle to `func` now (it is garbage being deleted), then drop the
        // global reference to `latefin`, so that dropping our field frees it.
        *self.latefin.weak_func.borrow_mut() = Gc::downgrade(&self.func);
        self.global_latefin.borrow_mut().take();
    }
}

// CPython: test_gc.GCTests.test_function_tp_clear_leaves_consistent_state
#[test]
fn test_function_tp_clear_leaves_consistent_state() {
    collect();
    let upgraded = Rc::new(Cell::new(None));
    let global_latefin = Rc::new(RefCell::new(None));
    let latefin = Gc::new(LateFin {
        weak_func: RefCell::new(Weak::new()),
        upgraded: upgraded.clone(),
    });
    *global_latefin.borrow_mut() = Some(latefin.clone());
    let func = Gc::new(TpFunc {
        module: RefCell::new(None),
    });
    let cyc = Gc::new(Cyclic {
        func: func.clone(),
        latefin,
        global_latefin: global_latefin.clone(),
    });
    *func.module.borrow_mut() = Some(cyc.clone());
    let weak_func = Gc::downgrade(&func);
    drop((func, cyc));

    // latefin is referenced from outside, so only cyc and func are garbage. Dropping cyc
    // frees latefin, whose Drop must not get a usable handle to func.
    assert_eq!(collect(), 2);
    assert_eq!(upgraded.get(), Some(false));
    assert!(weak_func.upgrade().is_none());
    assert!(global_latefin.borrow().is_none());
    assert_eq!(collect(), 0);
}

// CPython: test_gc.GCTests.test_saveall
#[test]
fn test_saveall() {
    collect();
    assert!(gencollect::garbage().is_empty());
    let l = new_list(Vec::new());
    l.items.borrow_mut().push(Value::List(l.clone()));
    let id_l: ObjPtr = Gc::as_obj(&l);
    let weak_l = Gc::downgrade(&l);

    let debug = gencollect::get_debug();
    gencollect::set_debug(debug | DebugFlags::SAVEALL);
    drop(l);
    assert_eq!(collect(), 1);
    gencollect::set_debug(debug);

    let garbage = gencollect::garbage();
    assert_eq!(garbage.len(), 1);
    assert_eq!(garbage[0].as_obj(), id_l);
    // The saved object is intact and usable.
    let l: Gc<List> = garbage[0].downcast_ref().unwrap();
    assert_eq!(l.items.borrow().len(), 1);
    drop((l, garbage));
    // Emptying garbage() frees what it held, cycles included.
    gencollect::clear_garbage();
    assert!(gencollect::garbage().is_empty());
    assert_eq!(weak_l.strong_count(), 0);
    assert_eq!(collect(), 0);
}

/// CPython's `A` with `__del__` calling `dir(self)`: a `Drop` that reads itself and
/// allocates tracked objects (which can start automatic collections).
#[derive(Trace)]
#[trace(crate = "refcount")]
struct DelAllocates {
    me: RefCell<Option<Gc<DelAllocates>>>,
    drops: Counter,
    nested_collect: Rc<Cell<Option<usize>>>,
}

impl Drop for DelAllocates {
    fn drop(&mut self) {
        self.drops.bump();
        // dir(self): look at the own fields, allocate a few containers.
        let names: Vec<Gc<List>> = (0..8)
            .map(|i| new_list(vec![Value::Int(i), Value::Str("me")]))
            .collect();
        assert_eq!(names.len(), 8);
        let _ = self.me.borrow().as_ref().map(Gc::is_dead);
        self.nested_collect.set(Some(collect()));
    }
}

// CPython: test_gc.GCTests.test_del
#[test]
fn test_del() {
    // __del__ (Drop) can trigger collections: make it happen.
    let thresholds = gencollect::get_threshold();
    gencollect::enable();
    gencollect::set_threshold(1, 10, 10);
    let drops = Counter::default();
    let nested = Rc::new(Cell::new(None));
    let a = Gc::new(DelAllocates {
        me: RefCell::new(None),
        drops: drops.clone(),
        nested_collect: nested.clone(),
    });
    let before = get_stats()[0].collections;
    drop(a);
    assert_eq!(drops.get(), 1);
    // Dropped by refcounting, outside a collection: the allocations in Drop ran automatic
    // collections, and the explicit collect() ran (and found nothing).
    assert!(get_stats()[0].collections > before);
    assert_eq!(nested.get(), Some(0));
    gencollect::disable();
    gencollect::set_threshold(thresholds.0, thresholds.1, thresholds.2);
}

// CPython: test_gc.GCTests.test_del_newclass
#[test]
fn test_del_newclass() {
    // Same, but the object is cyclic garbage: its Drop runs inside a collection, where
    // automatic collections are suppressed and collect() returns 0.
    let thresholds = gencollect::get_threshold();
    gencollect::enable();
    gencollect::set_threshold(1, 10, 10);
    let drops = Counter::default();
    let nested = Rc::new(Cell::new(None));
    let a = Gc::new(DelAllocates {
        me: RefCell::new(None),
        drops: drops.clone(),
        nested_collect: nested.clone(),
    });
    *a.me.borrow_mut() = Some(a.clone());
    drop(a);
    assert_eq!(drops.get(), 0);
    let before = get_stats();
    assert_eq!(collect(), 1);
    gencollect::disable();
    assert_eq!(drops.get(), 1);
    assert_eq!(
        nested.get(),
        Some(0),
        "collect() inside a collection returns 0"
    );
    let after = get_stats();
    assert_eq!(after[0].collections, before[0].collections);
    assert_eq!(after[2].collections, before[2].collections + 1);
    gencollect::set_threshold(thresholds.0, thresholds.1, thresholds.2);
}

// CPython: test_gc.GCTests.test_get_count
#[test]
fn test_get_count() {
    collect();
    assert_eq!(get_count(), (0, 0, 0));
    // Atomic objects are not counted.
    let n = Gc::new(5i64);
    let s = Gc::new(String::from("s"));
    assert_eq!(get_count(), (0, 0, 0));
    let x = new_list(Vec::new());
    assert_eq!(get_count(), (1, 0, 0));
    let y = new_dict();
    assert_eq!(get_count(), (2, 0, 0));
    // Deallocations count down.
    drop(x);
    assert_eq!(get_count(), (1, 0, 0));
    drop((y, n, s));
    assert_eq!(get_count(), (0, 0, 0));
}

// CPython: test_gc.GCTests.test_collect_generations
#[test]
fn test_collect_generations() {
    collect();
    // x trickles into generation N + 1 after each collect(N).
    let x = new_list(Vec::new());
    assert_eq!(get_generation(&x), Some(0));
    assert_eq!(collect_generation(0), Ok(0));
    assert_eq!(get_count(), (0, 1, 0));
    assert_eq!(get_generation(&x), Some(1));
    assert_eq!(collect_generation(1), Ok(0));
    assert_eq!(get_count(), (0, 0, 1));
    assert_eq!(get_generation(&x), Some(2));
    assert_eq!(collect_generation(2), Ok(0));
    assert_eq!(get_count(), (0, 0, 0));
    assert_eq!(get_generation(&x), Some(2));
}

fn trashcan_round(n: usize, drops: &Counter, every: usize, nested: &Counter) {
    let ouch = || {
        Value::Ouch(Gc::new(Ouch {
            drops: drops.clone(),
            every,
            nested: nested.clone(),
        }))
    };
    let mut t = new_list(Vec::new());
    for _ in 0..n {
        t = new_list(vec![Value::List(t), ouch()]);
    }
    let mut u = new_list(Vec::new());
    for _ in 0..n {
        u = new_list(vec![Value::List(u), ouch()]);
    }
    let mut v = new_dict();
    for _ in 0..n {
        let next = new_dict();
        dict_set(&next, Value::Int(1), Value::Dict(v));
        dict_set(&next, Value::Int(2), ouch());
        v = next;
    }
    // Each assignment of the loops above dropped nothing; dropping t, u and v frees 3n
    // nested levels, with collections started from Drop in the middle.
    drop((t, u, v));
}

// CPython: test_gc.GCTests.test_trashcan
#[test]
fn test_trashcan() {
    gencollect::enable();
    let n = if small() { 20 } else { 150 };
    let drops = Counter::default();
    let nested = Counter::default();
    for round in 1..=2 {
        trashcan_round(n, &drops, 17, &nested);
        assert_eq!(drops.get(), round * 3 * n);
    }
    assert_eq!(nested.get(), 2 * 3 * n / 17);
    assert_eq!(collect(), 0);
    gencollect::disable();
}

// CPython: test_gc.GCTests.test_trashcan (the deep-nesting half: CPython's trashcan exists
// to drop very deep structures without overflowing the machine stack)
#[test]
fn test_trashcan_deep() {
    gencollect::enable();
    let deep = if small() { 300 } else { 100_000 };
    let drops = Counter::default();
    let nested = Counter::default();
    trashcan_round(deep, &drops, 50_021.min(deep / 3), &nested);
    assert_eq!(drops.get(), 3 * deep);
    assert_eq!(collect(), 0);
    gencollect::disable();
}

/// CPython's `C(list)` of test_trashcan_threads.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct CList {
    items: RefCell<Vec<Nest>>,
    inits: Counter,
    dels: Counter,
}

#[derive(Trace)]
#[trace(crate = "refcount")]
enum Nest {
    C(Gc<CList>),
    List(Gc<RefCell<Vec<Nest>>>),
}

impl CList {
    fn new(items: Vec<Nest>, inits: &Counter, dels: &Counter) -> Gc<CList> {
        inits.bump();
        Gc::new(CList {
            items: RefCell::new(items),
            inits: inits.clone(),
            dels: dels.clone(),
        })
    }
}

impl Drop for CList {
    fn drop(&mut self) {
        self.dels.bump();
        // Allocate and drop in the middle of the deallocation (the generator of CPython's
        // test), while the contents are yet to be dropped.
        let g = Gc::new(RefCell::new(vec![Gc::new(1u8)]));
        drop(g);
    }
}

// CPython: test_gc.GCTests.test_trashcan_threads
#[test]
fn test_trashcan_threads() {
    let nesting = if small() { 10 } else { 600 };
    let rounds = if small() { 2 } else { 300 };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                gencollect::enable();
                let inits = Counter::default();
                let dels = Counter::default();
                for round in 0..rounds {
                    let mut x = Nest::C(CList::new(Vec::new(), &inits, &dels));
                    for _ in 0..nesting {
                        let c = CList::new(vec![x], &inits, &dels);
                        x = Nest::List(Gc::new(RefCell::new(vec![Nest::C(c)])));
                    }
                    drop(x);
                    if round % 50 == 0 {
                        collect();
                    }
                }
                collect();
                (inits.get(), dels.get())
            })
        })
        .collect();
    for t in threads {
        let (inits, dels) = t.join().unwrap();
        assert_eq!(inits, rounds * (nesting + 1));
        assert_eq!(inits, dels);
    }
}

/// `Boom` of CPython's test_boom: its `Trace` has side effects on the heap (allocating and
/// dropping tracked objects, cloning and dropping a handle of its own).
struct Boom {
    attr: RefCell<Option<Gc<Boom>>>,
    traces: Counter,
    drops: Counter,
}

// SAFETY: reports exactly the one handle `attr` may own; the side effects (allocating,
// cloning, dropping the clone) are allowed by the contract.
unsafe impl refcount::Trace for Boom {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.traces.bump();
        let junk = new_list(vec![Value::Int(1)]);
        if let Ok(attr) = self.attr.try_borrow() {
            let partner = attr.clone();
            drop(partner);
        }
        drop(junk);
        self.attr.trace(tracer);
    }
}

impl Drop for Boom {
    fn drop(&mut self) {
        self.drops.bump();
    }
}

fn boom_pair(traces: &Counter, drops: &Counter) -> (Gc<Boom>, Gc<Boom>) {
    let make = || {
        Gc::new(Boom {
            attr: RefCell::new(None),
            traces: traces.clone(),
            drops: drops.clone(),
        })
    };
    let (a, b) = (make(), make());
    *a.attr.borrow_mut() = Some(b.clone());
    *b.attr.borrow_mut() = Some(a.clone());
    (a, b)
}

// CPython: test_gc.GCTests.test_boom
#[test]
fn test_boom() {
    collect();
    let (traces, drops) = (Counter::default(), Counter::default());
    let (a, b) = boom_pair(&traces, &drops);
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    // Tracing mutates the heap as a side effect; the collection is not disturbed.
    assert_eq!(collect(), 2);
    assert_eq!(drops.get(), 2);
    assert!(traces.get() >= 2);
    assert_eq!(gencollect::garbage().len(), garbagelen);
    // The junk allocated while tracing was freed afterwards.
    assert_eq!(get_count(), (0, 0, 0));
    assert!(get_objects(None).unwrap().is_empty());
}

/// `Boom2`: its `Trace` panics the second time it is called while armed.
struct Boom2 {
    attr: RefCell<Option<Gc<Boom2>>>,
    calls: Counter,
    armed: Rc<Cell<bool>>,
    drops: Counter,
}

// SAFETY: reports exactly the one handle `attr` may own (panicking is allowed).
unsafe impl refcount::Trace for Boom2 {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.calls.bump();
        if self.armed.get() && self.calls.get() > 1 {
            panic!("boom2: trace failed");
        }
        self.attr.trace(tracer);
    }
}

impl Drop for Boom2 {
    fn drop(&mut self) {
        self.drops.bump();
    }
}

// CPython: test_gc.GCTests.test_boom2
#[test]
fn test_boom2() {
    collect();
    let calls = Counter::default();
    let armed = Rc::new(Cell::new(true));
    let drops = Counter::default();
    let make = || {
        Gc::new(Boom2 {
            attr: RefCell::new(None),
            calls: calls.clone(),
            armed: armed.clone(),
            drops: drops.clone(),
        })
    };
    let (a, b) = (make(), make());
    *a.attr.borrow_mut() = Some(b.clone());
    *b.attr.borrow_mut() = Some(a.clone());
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    let garbagelen = gencollect::garbage().len();

    // The second trace panics: the panic comes out of collect(), nothing was freed and
    // the objects are intact (weak handles still upgrade).
    let result = catch_unwind(AssertUnwindSafe(collect));
    assert!(result.is_err());
    assert_eq!(drops.get(), 0);
    assert!(wa.upgrade().is_some() && wb.upgrade().is_some());

    armed.set(false);
    assert_eq!(collect(), 2);
    assert_eq!(drops.get(), 2);
    assert!(wa.upgrade().is_none() && wb.upgrade().is_none());
    assert_eq!(gencollect::garbage().len(), garbagelen);
}

/// `Boom_New`: its `Trace` calls into the collector API (re-entrant collect, counts).
struct BoomNew {
    attr: RefCell<Option<Gc<BoomNew>>>,
    nested: Rc<RefCell<Vec<usize>>>,
}

// SAFETY: reports exactly the one handle `attr` may own; calling the collector API from
// a trace is allowed (collect() returns 0 during a collection).
unsafe impl refcount::Trace for BoomNew {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.nested.borrow_mut().push(collect());
        let _ = get_count();
        let _ = gencollect::get_objects(Some(0));
        self.attr.trace(tracer);
    }
}

// CPython: test_gc.GCTests.test_boom_new
#[test]
fn test_boom_new() {
    collect();
    let nested = Rc::new(RefCell::new(Vec::new()));
    let make = || {
        Gc::new(BoomNew {
            attr: RefCell::new(None),
            nested: nested.clone(),
        })
    };
    let (a, b) = (make(), make());
    *a.attr.borrow_mut() = Some(b.clone());
    *b.attr.borrow_mut() = Some(a.clone());
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    assert_eq!(collect(), 2);
    assert!(!nested.borrow().is_empty());
    assert!(nested.borrow().iter().all(|&n| n == 0));
    assert_eq!(gencollect::garbage().len(), garbagelen);
}

// CPython: test_gc.GCTests.test_boom2_new
#[test]
fn test_boom2_new() {
    // A container that is mutably borrowed while an automatic collection runs (started by
    // an allocation made during the borrow) cannot be read by the collector: it counts as
    // referenced from outside, and what it holds survives, while unrelated garbage is
    // collected as usual.
    collect();
    gencollect::enable();
    gencollect::set_threshold(5, 10, 10);
    let drops = Counter::default();
    let holder = node(&drops);
    let n = if small() { 12 } else { 200 };
    {
        let mut edges = holder.edges.borrow_mut();
        for i in 0..n {
            let child = node(&drops);
            if i % 2 == 0 {
                // Make some garbage for the automatic collections to find.
                let g = node(&drops);
                link(&g, &g);
            }
            edges.push(child);
        }
    }
    gencollect::disable();
    let children = holder.edges.borrow().len();
    assert_eq!(children, n);
    assert!(get_stats()[0].collections > 0);
    // Only the self-loops were freed so far.
    assert!(drops.get() <= n / 2);
    let before = drops.get();
    assert_eq!(collect(), n / 2 - before);
    assert_eq!(drops.get(), n / 2);
    drop(holder);
    assert_eq!(drops.get(), n / 2 + n + 1);
}
