//! A port of CPython 3.12's `Lib/test/test_gc.py` to gcrt's cycle collector: the
//! inspection and statistics `GCTests` (`test_get_referents`, `gc.get_referrers`,
//! `test_is_tracked`, `test_bug1055820b`, `test_bug21435`, `test_get_stats`, `test_freeze`,
//! `test_get_objects`, `test_get_objects_arguments`). The other `GCTests` are in
//! `test_gc.rs`; the `GCCallbackTests` and `GCTogglingTests` in `test_gc_callbacks.rs`.
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

use std::cell::RefCell;
use std::rc::Rc;

use gcrt_derive::Trace;
use gencollect::{
    Error, collect, collect_generation, get_count, get_generation, get_objects, get_stats,
    is_tracked,
};
use refcount::{AnyGc, Gc, Weak};

mod pymodel;
use pymodel::*;

// CPython: test_gc.GCTests.test_get_referents
#[test]
fn test_get_referents() {
    fn ints(refs: Vec<AnyGc>) -> Vec<i64> {
        let mut got: Vec<i64> = refs
            .into_iter()
            .map(|r| *r.downcast::<i64>().unwrap())
            .collect();
        got.sort();
        got
    }
    let int = |i: i64| Gc::new(i);
    let alist = Gc::new(RefCell::new(vec![int(1), int(3), int(5)]));
    assert_eq!(ints(gencollect::get_referents(&alist)), vec![1, 3, 5]);

    let atuple = Gc::new((int(1), int(3), int(5)));
    assert_eq!(ints(gencollect::get_referents(&atuple)), vec![1, 3, 5]);

    let adict = Gc::new(std::collections::BTreeMap::from([
        (int(1), int(3)),
        (int(5), int(7)),
    ]));
    assert_eq!(ints(gencollect::get_referents(&adict)), vec![1, 3, 5, 7]);

    let l = Gc::new(vec![int(1), int(2)]);
    let d = Gc::new(std::collections::BTreeMap::from([(int(3), int(4))]));
    let t = Gc::new([int(0), int(0), int(0)]);
    let mut all = gencollect::get_referents(&l);
    all.extend(gencollect::get_referents(&d));
    all.extend(gencollect::get_referents(&t));
    assert_eq!(ints(all), vec![0, 0, 0, 1, 2, 3, 4]);

    assert!(gencollect::get_referents(&int(1)).is_empty());
    assert!(gencollect::get_referents(&Gc::new("a")).is_empty());
    assert!(gencollect::get_referents(&Gc::new(4.0f64)).is_empty());
}

/// gc.get_referrers has no test of its own in CPython's test_gc.py; it is covered here.
#[test]
fn get_referrers() {
    collect();
    let target = new_list(Vec::new());
    let holder1 = new_list(vec![Value::List(target.clone())]);
    let holder2 = new_dict();
    dict_set(&holder2, Value::Int(0), Value::List(target.clone()));
    let unrelated = new_list(vec![Value::Int(3)]);
    let referrers = gencollect::get_referrers(&target);
    assert_eq!(referrers.len(), 2);
    assert!(referrers.iter().any(|r| *r == holder1));
    assert!(referrers.iter().any(|r| *r == holder2));
    assert!(!referrers.iter().any(|r| *r == unrelated));
    drop(referrers);
    // Frozen referrers are not reported.
    gencollect::freeze();
    assert!(gencollect::get_referrers(&target).is_empty());
    gencollect::unfreeze();
    assert_eq!(gencollect::get_referrers(&target).len(), 2);
}

/// A type without `Gc` fields (CPython's `__slots__ = ()` classes).
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Plain {
    x: i64,
    name: String,
}

/// The same type forced to be tracked.
#[derive(Trace)]
#[trace(crate = "refcount", tracked)]
struct PlainTracked {
    x: i64,
}

// CPython: test_gc.GCTests.test_is_tracked
#[test]
fn test_is_tracked() {
    // Atomic types are never tracked.
    assert!(!is_tracked(&Gc::new(())));
    assert!(!is_tracked(&Gc::new(1i64)));
    assert!(!is_tracked(&Gc::new(1.0f64)));
    assert!(!is_tracked(&Gc::new((1.0f64, 5.0f64))));
    assert!(!is_tracked(&Gc::new(true)));
    assert!(!is_tracked(&Gc::new(false)));
    assert!(!is_tracked(&Gc::new(vec![b'a'])));
    assert!(!is_tracked(&Gc::new(String::from("a"))));
    assert!(!is_tracked(&Gc::new(RefCell::new(vec![b'a']))));
    assert!(!is_tracked(&Gc::new(Plain {
        x: 1,
        name: "p".into()
    })));
    assert!(!is_tracked(&Gc::new(Weak::<List>::new())));
    if !cfg!(miri) {
        // Immortal objects are never freed, which Miri reports as a leak.
        assert!(!is_tracked(&Gc::new_immortal(new_list(Vec::new()))));
    }

    // Containers of handles and user types with handles are.
    assert!(is_tracked(&new_class("UserClass", &[])));
    assert!(is_tracked(&new_instance(&new_class("UserClass", &[]))));
    assert!(is_tracked(&new_list(Vec::new())));
    assert!(is_tracked(&new_dict()));
    // A value whose handles cannot change without `&mut` (no `RefCell` on the way), and
    // whose referents are all untracked, is not tracked, like CPython's tuples of atoms...
    let mut set = Gc::new(std::collections::HashSet::<Gc<i64>>::new());
    assert!(!is_tracked(&set));
    let pair = Gc::new((Gc::new(1i64), Some(Gc::new(2i64))));
    assert!(!is_tracked(&pair));
    // ...until `&mut` access could change them,
    Gc::get_mut(&mut set).unwrap().insert(Gc::new(3));
    assert!(is_tracked(&set));
    // ...and one that holds a tracked object is tracked from the start.
    assert!(is_tracked(&Gc::new((new_list(Vec::new()), 1u8))));
    drop((set, pair));
    assert!(is_tracked(&Gc::new(RefCell::new(None::<Gc<u8>>))));
    assert!(is_tracked(&Gc::new(PlainTracked { x: 1 })));
    assert_eq!(PlainTracked { x: 2 }.x, 2);

    // Frozen objects stay tracked (outside the generations).
    let l = new_list(Vec::new());
    gencollect::freeze();
    assert!(is_tracked(&l));
    assert_eq!(get_generation(&l), None);
    gencollect::unfreeze();
    assert_eq!(get_generation(&l), Some(2));
    drop(l);
    // The two user classes, each with its namespace and MRO (classes are always cycles;
    // the instance was freed by refcounting).
    assert_eq!(collect(), 2 * 3);
}

// CPython: test_gc.GCTests.test_bug1055820b
#[test]
fn test_bug1055820b() {
    collect();
    let ouch = Rc::new(RefCell::new(Vec::new()));
    let cs: Vec<_> = (0..2).map(|i| C1055820::new(i, &ouch)).collect();
    let wrs: Vec<Weak<C1055820>> = cs.iter().map(Gc::downgrade).collect();
    for c in &cs {
        *c.on_drop.borrow_mut() = wrs.clone();
    }
    assert_eq!(collect(), 0);
    assert!(ouch.borrow().is_empty());
    assert!(wrs.iter().all(|w| w.upgrade().is_some()));

    // Make the two instances trash: the Drop of each tries to reach both through weak
    // handles, and must not get a strong handle to an object being collected.
    drop(cs);
    assert_eq!(collect(), 2);
    assert_eq!(*ouch.borrow(), vec![None, None]);
    assert!(wrs.iter().all(|w| w.upgrade().is_none()));
}

/// CPython's `A` and `B` of test_bug21435.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct A21435 {
    attr: RefCell<Option<Gc<B21435>>>,
    drops: Counter,
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct B21435 {
    x: Gc<A21435>,
    attr: RefCell<Option<Gc<A21435>>>,
    drops: Counter,
}

impl Drop for A21435 {
    fn drop(&mut self) {
        self.drops.bump();
    }
}

impl Drop for B21435 {
    fn drop(&mut self) {
        self.drops.bump();
        // self.attr = None, while the cycle is being deleted.
        *self.attr.borrow_mut() = None;
    }
}

// CPython: test_gc.GCTests.test_bug21435
#[test]
fn test_bug21435() {
    collect();
    let (a_drops, b_drops) = (Counter::default(), Counter::default());
    {
        let a = Gc::new(A21435 {
            attr: RefCell::new(None),
            drops: a_drops.clone(),
        });
        let b = Gc::new(B21435 {
            x: Gc::new(A21435 {
                attr: RefCell::new(None),
                drops: a_drops.clone(),
            }),
            attr: RefCell::new(None),
            drops: b_drops.clone(),
        });
        *a.attr.borrow_mut() = Some(b.clone());
        *b.attr.borrow_mut() = Some(a.clone());
    }
    assert_eq!(collect(), 3);
    assert_eq!((a_drops.get(), b_drops.get()), (2, 1));
    assert_eq!(collect(), 0);
}

// CPython: test_gc.GCTests.test_get_stats
#[test]
fn test_get_stats() {
    let stats = get_stats();
    assert_eq!(stats.len(), 3);
    for st in stats {
        assert_eq!(st, gencollect::GenerationStats::default(), "fresh thread");
    }
    let _no_gc = gencollect::DisabledGuard::new();
    let drops = Counter::default();
    let (a, b) = (node(&drops), node(&drops));
    link(&a, &b);
    link(&b, &a);
    drop((a, b));
    let old = get_stats();
    assert_eq!(collect_generation(0), Ok(2));
    let new = get_stats();
    assert_eq!(new[0].collections, old[0].collections + 1);
    assert_eq!(new[0].collected, old[0].collected + 2);
    assert_eq!(new[0].candidates, old[0].candidates + 2);
    assert_eq!(new[0].uncollectable, 0);
    assert_eq!(new[1].collections, old[1].collections);
    assert_eq!(new[2].collections, old[2].collections);
    assert_eq!(collect_generation(2), Ok(0));
    let new = get_stats();
    assert_eq!(new[0].collections, old[0].collections + 1);
    assert_eq!(new[1].collections, old[1].collections);
    assert_eq!(new[2].collections, old[2].collections + 1);
    assert_eq!(gencollect::collection_count(0), 2);
    assert_eq!(gencollect::collection_count(2), 1);
}

// CPython: test_gc.GCTests.test_freeze
#[test]
fn test_freeze() {
    collect();
    let drops = Counter::default();
    let nodes: Vec<_> = (0..3).map(|_| node(&drops)).collect();
    for i in 0..3 {
        link(&nodes[i], &nodes[(i + 1) % 3]);
    }
    let standalone = new_list(Vec::new());
    gencollect::freeze();
    assert_eq!(gencollect::get_freeze_count(), 4);
    assert_eq!(get_count(), (0, 0, 0));
    assert!(get_objects(None).unwrap().is_empty());
    // A frozen cycle is never collected.
    drop(nodes);
    assert_eq!(collect(), 0);
    assert_eq!(drops.get(), 0);
    gencollect::unfreeze();
    assert_eq!(gencollect::get_freeze_count(), 0);
    assert_eq!(get_generation(&standalone), Some(2));
    assert_eq!(collect(), 3);
    assert_eq!(drops.get(), 3);
}

// CPython: test_gc.GCTests.test_get_objects
#[test]
fn test_get_objects() {
    collect();
    let l = new_list(Vec::new());
    l.items.borrow_mut().push(Value::List(l.clone()));
    assert!(in_generation(&l, 0));
    assert!(!in_generation(&l, 1));
    assert!(!in_generation(&l, 2));
    collect_generation(0).unwrap();
    assert!(!in_generation(&l, 0));
    assert!(in_generation(&l, 1));
    assert!(!in_generation(&l, 2));
    collect_generation(1).unwrap();
    assert!(!in_generation(&l, 0));
    assert!(!in_generation(&l, 1));
    assert!(in_generation(&l, 2));
    collect_generation(2).unwrap();
    assert!(!in_generation(&l, 0));
    assert!(!in_generation(&l, 1));
    assert!(in_generation(&l, 2));
    drop(l);
    assert_eq!(collect(), 1);
}

// CPython: test_gc.GCTests.test_get_objects_arguments
#[test]
fn test_get_objects_arguments() {
    collect();
    let keep: Vec<_> = (0..5).map(|_| new_list(Vec::new())).collect();
    collect_generation(0).unwrap();
    let more: Vec<_> = (0..3).map(|_| new_dict()).collect();
    let all = get_objects(None).unwrap().len();
    let per_gen: usize = (0..3).map(|g| get_objects(Some(g)).unwrap().len()).sum();
    assert_eq!(all, per_gen);
    assert_eq!(all, 8);
    assert_eq!(get_objects(Some(0)).unwrap().len(), 3);
    assert_eq!(get_objects(Some(1)).unwrap().len(), 5);
    assert_eq!(
        get_objects(Some(1000)).unwrap_err(),
        Error::InvalidGeneration(1000)
    );
    assert_eq!(
        get_objects(Some(3)).unwrap_err(),
        Error::InvalidGeneration(3)
    );
    // An invalid generation changes nothing.
    let stats = get_stats();
    assert_eq!(collect_generation(3), Err(Error::InvalidGeneration(3)));
    assert_eq!(get_stats(), stats);
    drop((keep, more));
}
