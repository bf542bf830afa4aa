//! Hostile tests of two soundness-relevant changes: tuple items copied into a cached buffer
//! in one `copy_nonoverlapping` (`tuple_buffers::make`), and instances and classes with pure
//! traces (their `RefCell`s read without a borrow while the collector counts). User code runs
//! wherever it can: weak-reference callbacks, finalizers, `Drop` impls and a user type's own
//! `Trace`, in the middle of tuple recycling, of `set_attr` and of collections. Each test
//! asserts exact results; every heap item carries a weak reference whose callback counts
//! its death, so a leak or a double drop shows up as a wrong count.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use objects::{MAX_CACHED_LEN, Value};
use refcount::{Finalize, Gc, Trace, Tracer, WeakRef};

mod common;
use common::{int, ints, on_death};

/// Counts deaths: `watch(v)` makes `v`'s death add one.
struct Deaths {
    n: Rc<Cell<usize>>,
    refs: RefCell<Vec<Box<dyn std::any::Any>>>,
}

impl Deaths {
    fn new() -> Deaths {
        Deaths {
            n: Rc::new(Cell::new(0)),
            refs: RefCell::new(Vec::new()),
        }
    }
    fn watch(&self, v: &Value) {
        let n = self.n.clone();
        self.refs
            .borrow_mut()
            .push(on_death(v, move || n.set(n.get() + 1)));
    }
    fn get(&self) -> usize {
        self.n.get()
    }
}

/// An int outside the small-int cache: a heap object of its own.
fn big(v: i64) -> Value {
    let x = int(1_000_000 + v);
    assert!(!x.is(&int(1_000_000 + v)), "not cached");
    x
}

/// Two new instances of `class`, each the other's `peer`: a garbage cycle once dropped.
fn peers(class: &Value) -> (Value, Value) {
    let a = class.instantiate().unwrap();
    let b = class.instantiate().unwrap();
    a.set_attr("peer", b.clone()).unwrap();
    b.set_attr("peer", a.clone()).unwrap();
    (a, b)
}

fn inst(v: &Value) -> Gc<objects::Instance> {
    match v {
        Value::Instance(g) => g.clone(),
        _ => panic!("not an instance: {v:?}"),
    }
}

// ----- tuple buffers ------------------------------------------------------------------------

#[test]
fn tuples_of_lengths_0_1_2_20_and_21_own_each_item_once_with_free_lists_on_and_off() {
    // Each item is a heap int with a death counter: a double drop or a leak in `make` or
    // `recycle` makes the count wrong (and Miri reports the double drop itself).
    gencollect::collect();
    let deaths = Deaths::new();
    let lens = [0usize, 1, 2, MAX_CACHED_LEN, MAX_CACHED_LEN + 1];
    let mut expected_deaths = 0;
    for free_lists in [true, false, true] {
        gencollect::set_free_lists(free_lists);
        for round in 0..2 {
            let base = objects::tuple_buffer_stats();
            let tuples: Vec<Value> = lens
                .iter()
                .map(|&len| {
                    Value::tuple((0..len).map(|i| {
                        let x = big((len * 100 + i) as i64);
                        deaths.watch(&x);
                        x
                    }))
                })
                .collect();
            for (t, &len) in tuples.iter().zip(&lens) {
                let want: Vec<i64> = (0..len)
                    .map(|i| 1_000_000 + (len * 100 + i) as i64)
                    .collect();
                assert_eq!(ints(t), want, "free lists {free_lists}, round {round}");
            }
            let mid = objects::tuple_buffer_stats();
            // Lengths 1, 2 and 20 go through the cache; 0 is shared and 21 is too long.
            assert_eq!(
                (mid.from_free_list + mid.from_allocator)
                    - (base.from_free_list + base.from_allocator),
                3
            );
            assert_eq!(deaths.get(), expected_deaths);
            drop(tuples);
            expected_deaths += 1 + 2 + MAX_CACHED_LEN + MAX_CACHED_LEN + 1;
            assert_eq!(deaths.get(), expected_deaths, "every item dropped once");
            let after = objects::tuple_buffer_stats();
            let taken = (mid.from_free_list - base.from_free_list) as usize;
            if free_lists {
                assert_eq!(after.cached, base.cached - taken + 3);
            } else {
                // Disabled: the dead tuples' buffers are freed, and the cached ones that the
                // new tuples took are not given back.
                assert_eq!(after.cached, base.cached - taken);
            }
        }
        if !free_lists {
            assert_eq!(
                objects::tuple_buffer_stats().cached,
                0,
                "all taken, none kept"
            );
        }
    }
    gencollect::set_free_lists(true);
    gencollect::collect();
    assert_eq!(objects::tuple_buffer_stats().cached, 0);
    assert_eq!(deaths.get(), expected_deaths);
}

#[test]
fn a_full_collection_inside_an_items_death_empties_the_cache_while_a_buffer_is_out() {
    // The item's callback runs inside `recycle` (between dropping the items and caching the
    // buffer): it makes same-length tuples, runs a full collection (which empties the cache)
    // and makes more. The outer buffer is cached afterwards, and every item dies once.
    gencollect::collect();
    let deaths = Deaths::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let first = Value::list([int(5)]);
    let log2 = log.clone();
    let _w = on_death(&first, move || {
        let a = Value::tuple([big(1), big(2)]);
        drop(a);
        log2.borrow_mut().push(objects::tuple_buffer_stats().cached);
        log2.borrow_mut().push(gencollect::collect());
        log2.borrow_mut().push(objects::tuple_buffer_stats().cached);
        let b = Value::tuple([big(3), big(4)]);
        log2.borrow_mut()
            .push(ints(&b).iter().sum::<i64>() as usize);
    });
    let second = big(7);
    deaths.watch(&second);
    let t = Value::tuple([first, second]);
    let base = objects::tuple_buffer_stats();
    assert_eq!(base.cached, 0);
    drop(t);
    assert_eq!(deaths.get(), 1);
    // One buffer cached by `a`, none after the collection, and `b`'s buffer came from the
    // allocator and was cached at its death; then the outer tuple's buffer is cached too.
    assert_eq!(*log.borrow(), vec![1, 0, 0, 2_000_007]);
    let after = objects::tuple_buffer_stats();
    assert_eq!(after.cached, 2);
    assert_eq!(after.from_allocator - base.from_allocator, 2);
    assert_eq!(after.from_free_list - base.from_free_list, 0);
    gencollect::collect();
    assert_eq!(objects::tuple_buffer_stats().cached, 0);
}

#[test]
fn tuples_in_collected_cycles_recycle_while_callbacks_make_tuples_of_their_length() {
    // Cycles list -> tuple -> list, found by a collection. The tuples' items die during the
    // collection's drops; their callbacks make and keep tuples of the same lengths (1, 2
    // and 20), which may take the buffers the collection's tuples give back.
    gencollect::collect();
    let deaths = Deaths::new();
    let kept = Rc::new(RefCell::new(Vec::<Value>::new()));
    for len in [1usize, 2, MAX_CACHED_LEN] {
        let l = Value::list([]);
        deaths.watch(&l);
        let k = kept.clone();
        let marker = Value::list([int(len as i64)]);
        let k_len = len;
        let w = on_death(&marker, move || {
            for round in 0..3 {
                let t = Value::tuple((0..k_len).map(|i| big((round * 100 + i) as i64)));
                if round == 2 {
                    k.borrow_mut().push(t);
                }
            }
        });
        deaths.refs.borrow_mut().push(w);
        let mut items = vec![l.clone(), marker];
        items.extend((2..len).map(|i| big(i as i64)));
        items.truncate(len);
        let t = Value::tuple(items);
        deaths.watch(&t);
        l.append(t).unwrap();
    }
    assert_eq!(deaths.get(), 0);
    let found = gencollect::collect();
    // Length 1: the tuple holds only the list, so the marker of length 1 is never in a tuple
    // and died at once; lengths 2 and 20 hold it.
    assert_eq!(deaths.get(), 6, "three lists and three tuples");
    assert_eq!(found, 8, "and the markers of lengths 2 and 20");
    let kept = kept.borrow();
    assert_eq!(kept.len(), 3);
    for (t, len) in kept.iter().zip([1usize, 2, MAX_CACHED_LEN]) {
        let want: Vec<i64> = (0..len).map(|i| 1_000_200 + i as i64).collect();
        assert_eq!(ints(t), want);
    }
}

// ----- pure traces of instances -------------------------------------------------------------

#[test]
fn set_attr_allocating_under_threshold_1_collects_instance_cycles_exactly() {
    // Every allocation may start a collection: the value's, the interned name's (made while
    // the class's layout is mutably borrowed) and the extra dict's (made while the instance's
    // `extra` cell is mutably borrowed). Each instance is a self-cycle with attributes in
    // inline slots, shared-layout slots and its own dict.
    gencollect::collect();
    let old = gencollect::get_threshold();
    gencollect::set_threshold(1, 10, 10);
    let deaths = Deaths::new();
    let class = Value::class("Hostile");
    let n = if cfg!(miri) { 6 } else { 60 };
    for k in 0..n {
        let o = class.instantiate().unwrap();
        deaths.watch(&o);
        o.set_attr("me", o.clone()).unwrap();
        for a in 0..12 {
            let v = big((k * 100 + a) as i64);
            deaths.watch(&v);
            o.set_attr(&format!("a{a}"), v).unwrap();
        }
        // Replace a slot's value: the old value dies after the borrow ends.
        let v = big(-1);
        deaths.watch(&v);
        o.set_attr("a0", v).unwrap();
        assert_eq!(o.get_attr("a0").unwrap().as_i64(), Some(999_999));
        assert_eq!(
            o.get_attr("a11").unwrap().as_i64(),
            Some(1_000_000 + (k * 100 + 11) as i64)
        );
        assert_eq!(o.attr_names().unwrap().len(), 13);
    }
    gencollect::collect();
    gencollect::set_threshold(old.0, old.1, old.2);
    // Each instance: itself and 13 ints.
    assert_eq!(deaths.get(), n * 14);
}

#[test]
fn weakref_callbacks_set_and_read_attributes_of_other_instances_during_a_collection() {
    // A garbage cycle of two instances; the death of an attribute value runs a callback that
    // reads and sets attributes (new slot, replaced slot, extra dict) of a live instance and
    // of a new one, and makes a new garbage cycle of instances for the next collection.
    gencollect::collect();
    let deaths = Deaths::new();
    let class = Value::class("C");
    let live = class.instantiate().unwrap();
    live.set_attr("x", int(1)).unwrap();
    let (a, b) = peers(&class);
    deaths.watch(&a);
    deaths.watch(&b);
    let payload = Value::list([int(3)]);
    let (live2, class2) = (live.clone(), class.clone());
    let made = Rc::new(RefCell::new(None));
    let made2 = made.clone();
    let w = on_death(&payload, move || {
        let x = live2.get_attr("x").unwrap().as_i64().unwrap();
        live2.set_attr("x", int(x + 1)).unwrap();
        live2.set_attr("y", big(5)).unwrap();
        for i in 0..10 {
            live2.set_attr(&format!("e{i}"), int(i)).unwrap();
        }
        let c = class2.instantiate().unwrap();
        let d = class2.instantiate().unwrap();
        c.set_attr("peer", d.clone()).unwrap();
        d.set_attr("peer", c.clone()).unwrap();
        made2.borrow_mut().replace((
            Box::new(WeakRef::new(&inst(&c), |_| ())) as Box<dyn std::any::Any>,
            inst(&c),
        ));
        drop(inst(&d));
        let _ = made2.borrow_mut().as_mut().map(|m| m.1.clone());
    });
    deaths.refs.borrow_mut().push(w);
    a.set_attr("payload", payload).unwrap();
    drop((a, b));
    assert_eq!(deaths.get(), 0);
    assert_eq!(gencollect::collect(), 3, "a, b and the payload list");
    assert_eq!(deaths.get(), 2);
    assert_eq!(live.get_attr("x").unwrap().as_i64(), Some(2));
    assert_eq!(live.get_attr("y").unwrap().as_i64(), Some(1_000_005));
    assert_eq!(live.get_attr("e9").unwrap().as_i64(), Some(9));
    assert_eq!(live.attr_names().unwrap().len(), 12);
    // The callback's pair is kept alive by `made`; once released it is a garbage cycle.
    let (_wr, c) = made.borrow_mut().take().unwrap();
    let c = Value::Instance(c);
    deaths.watch(&c);
    drop(c);
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(deaths.get(), 3);
}

/// A user type with a finalizer and a `Drop`, holding values; a self-cycle makes it garbage.
struct Owner {
    me: RefCell<Option<Gc<Owner>>>,
    held: RefCell<Vec<Value>>,
    log: Rc<RefCell<Vec<String>>>,
}

// SAFETY: reports the handles it owns (the self-handle and the values) once each, through
// `RefCell`'s impl; runs no other code.
unsafe impl Trace for Owner {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.me.trace(tracer);
        self.held.trace(tracer);
    }
}

impl Finalize for Owner {
    fn finalize(&self) {
        // Set attributes on instances of the same garbage set, read them back, allocate.
        let held = self.held.borrow().clone();
        for (i, v) in held.iter().enumerate() {
            if let Value::Instance(g) = v
                && !Gc::is_dead(g)
            {
                v.set_attr("fin", big(i as i64)).unwrap();
                v.set_attr(&format!("extra{i}"), int(i as i64)).unwrap();
                let f = v.get_attr("fin").unwrap().as_i64().unwrap();
                self.log.borrow_mut().push(format!("fin {f}"));
            }
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Read the other instances' attributes where they are still alive (the collector
        // drops a garbage set's values one by one).
        let held = core::mem::take(self.held.get_mut());
        let mut seen = 0;
        for v in &held {
            if let Value::Instance(g) = v
                && !Gc::is_dead(g)
            {
                if let Ok(p) = v.get_attr("peer") {
                    let _ = p.repr();
                }
                let _ = v.attr_names();
                seen += 1;
            }
        }
        self.log.borrow_mut().push(format!("drop {}", held.len()));
        let _ = seen;
        // A collection while the garbage set is being dropped.
        drop(held);
        gencollect::collect();
    }
}

#[test]
fn a_finalizer_and_a_drop_in_a_garbage_set_touch_its_instances_and_collect_again() {
    gencollect::collect();
    let deaths = Deaths::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let class = Value::class("G");
    let (a, b) = peers(&class);
    deaths.watch(&a);
    deaths.watch(&b);
    let owner = Gc::new_with_finalizer(Owner {
        me: RefCell::new(None),
        held: RefCell::new(vec![a, b]),
        log: log.clone(),
    });
    owner.me.borrow_mut().replace(owner.clone());
    let wo = WeakRef::new(&owner, |_| ());
    drop(owner);
    // The owner is finalized (it sets attributes on both instances, which resurrects
    // nothing), then the set is dropped in the same collection, the owner's `Drop` reading
    // the instances that are still alive and collecting again.
    gencollect::collect();
    assert_eq!(*log.borrow(), ["fin 1000000", "fin 1000001", "drop 2"]);
    assert!(wo.upgrade().is_none());
    assert_eq!(deaths.get(), 2);
    gencollect::collect();
    assert_eq!(log.borrow().len(), 3, "finalized and dropped once");
}

/// A user type whose own (non-pure) trace runs code against an instance while the collector
/// counts: it reads the instance's attributes (real borrows of its cells) and writes a
/// handle-free value into a slot the instance already has, so the handles it reports never
/// change.
struct Meddler {
    target: Value,
    me: RefCell<Option<Gc<Meddler>>>,
    calls: Rc<Cell<usize>>,
}

// SAFETY: reports `target` and the self-handle once each. The code it runs on the target
// instance drops, replaces and keeps no handle: a `Bool` replaces a `Bool`, and the clones
// `get_attr` returns die before `trace` returns.
unsafe impl Trace for Meddler {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        let n = self.calls.get();
        self.calls.set(n + 1);
        let _ = self.target.get_attr("peer");
        let _ = self.target.get_attr("flag");
        self.target
            .set_attr("flag", Value::Bool(n.is_multiple_of(2)))
            .unwrap();
        self.target.trace(tracer);
        self.me.trace(tracer);
    }
}

#[test]
fn a_user_trace_reading_and_writing_an_instance_while_the_collector_counts() {
    gencollect::collect();
    let deaths = Deaths::new();
    let class = Value::class("M");
    // Instances in a cycle with the meddler (a garbage set mixing pure and user traces), and
    // a live instance it meddles with.
    let calls = Rc::new(Cell::new(0));
    let a = class.instantiate().unwrap();
    let b = class.instantiate().unwrap();
    for o in [&a, &b] {
        deaths.watch(o);
        o.set_attr("flag", Value::Bool(false)).unwrap();
        o.set_attr("big", big(1)).unwrap();
    }
    a.set_attr("peer", b.clone()).unwrap();
    b.set_attr("peer", a.clone()).unwrap();
    let m = Gc::new(Meddler {
        target: a.clone(),
        me: RefCell::new(None),
        calls: calls.clone(),
    });
    m.me.borrow_mut().replace(m.clone());
    let live = class.instantiate().unwrap();
    live.set_attr("flag", Value::Bool(false)).unwrap();
    let l = Gc::new(Meddler {
        target: live.clone(),
        me: RefCell::new(None),
        calls: calls.clone(),
    });
    let wm = WeakRef::new(&m, |_| ());
    drop((a, b, m));
    let found = gencollect::collect();
    assert!(calls.get() >= 2, "both meddlers traced");
    assert_eq!(found, 3, "two instances and the meddler");
    assert!(wm.upgrade().is_none());
    assert_eq!(deaths.get(), 2);
    assert!(matches!(live.get_attr("flag"), Ok(Value::Bool(_))));
    assert_eq!(live.attr_names().unwrap(), vec!["flag".to_string()]);
    drop(l);
}

#[test]
fn instances_in_passes_that_may_be_split_are_collected_exactly() {
    // Passes may be split with the helper thread (threshold 0; whether the helper counted
    // anything here is not asserted: it stops at the first object whose trace is not pure):
    // instances, now pure, are counted there, their slots read without a borrow.
    gencollect::collect();
    gencollect::set_parallel(true);
    gencollect::set_parallel_threshold(0);
    let deaths = Deaths::new();
    let class = Value::class("P");
    let live = class.instantiate().unwrap();
    let n = if cfg!(miri) { 8 } else { 400 };
    for k in 0..n {
        let (a, _b) = peers(&class);
        deaths.watch(&a);
        a.set_attr("v", big(k as i64)).unwrap();
        if k % 2 == 0 {
            // Half of them stay reachable from a live instance's extra dict.
            live.set_attr(&format!("k{k}"), a.clone()).unwrap();
        }
    }
    assert_eq!(gencollect::collect(), n / 2 * 2, "the unreachable pairs");
    assert_eq!(deaths.get(), n / 2);
    assert_eq!(live.attr_names().unwrap().len(), n / 2);
    assert_eq!(
        live.get_attr("k4").unwrap().get_attr("v").unwrap().as_i64(),
        Some(1_000_004)
    );
    gencollect::set_parallel_threshold(1 << 17);
    // The kept pairs become garbage with `live`: nothing is left for the thread's exit (a
    // heap that still holds objects then leaks its allocator, by design).
    drop(live);
    assert_eq!(gencollect::collect(), n / 2 * 2);
    assert_eq!(deaths.get(), n);
}
