//! Hostile tests of the `objects` crate, re-entrancy: user code (weak-reference callbacks,
//! collection callbacks, `fmt::Write` sinks) running in the middle of operations on the
//! container it touches, and during collections of garbage made of values. Each test asserts
//! exact results.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use objects::{Error, Value};

mod common;
use common::{int, ints, on_death, s};

// ----- user code inside mutations ---------------------------------------------------------

#[test]
fn weakref_callbacks_mutate_the_dict_whose_value_is_being_replaced_or_deleted() {
    let class = Value::class("V");
    let d = Value::dict();
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let victim = |tag: &'static str| {
        let v = class.instantiate().unwrap();
        let (d2, log2) = (d.clone(), log.clone());
        let wr = on_death(&v, move || {
            // The dict is not borrowed: read it, change it, compact it.
            log2.borrow_mut()
                .push(format!("{tag}: {:?}", d2.keys().unwrap()));
            d2.set_item(s(tag), int(tag.len() as i64)).unwrap();
            for i in 200..240 {
                d2.set_item(int(i), int(i)).unwrap();
            }
            for i in 200..240 {
                d2.del_item(&int(i)).unwrap();
            }
        });
        (v, wr)
    };
    d.set_item(int(1), int(2)).unwrap();
    let (v, _w1) = victim("replaced");
    d.set_item(int(3), v).unwrap();
    assert!(d.is_tracked());
    d.set_item(int(3), int(4)).unwrap(); // the instance dies here
    assert!(!d.is_tracked(), "only atomic values left");
    let (v, _w2) = victim("deleted");
    d.set_item(int(5), v).unwrap();
    d.del_item(&int(5)).unwrap();
    let (v, _w3) = victim("cleared");
    d.set_item(int(6), v).unwrap();
    d.clear().unwrap();
    let (v, _w4) = victim("popped");
    let l = Value::list([v]);
    drop(l.pop().unwrap());
    assert_eq!(
        *log.borrow(),
        vec![
            "replaced: [1, 3]".to_string(),
            "deleted: [1, 3, 'replaced']".to_string(),
            "cleared: []".to_string(),
            "popped: ['cleared']".to_string(),
        ]
    );
    assert_eq!(format!("{d:?}"), "{'cleared': 7, 'popped': 6}");
    assert!(!d.is_tracked());
}

#[test]
fn weakref_callbacks_mutate_the_list_being_changed() {
    let class = Value::class("V");
    let l = Value::list([]);
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let victim = |tag: &'static str| {
        let v = class.instantiate().unwrap();
        let (l2, log2) = (l.clone(), log.clone());
        let wr = on_death(&v, move || {
            log2.borrow_mut().push(format!("{tag}: {:?}", l2));
            l2.append(s(tag)).unwrap();
        });
        (v, wr)
    };
    let (v, _w1) = victim("set");
    l.append(int(0)).unwrap();
    l.append(v).unwrap();
    l.set_item(int(-1), int(1)).unwrap();
    let (v, _w2) = victim("del");
    l.append(v).unwrap();
    l.del_item(&int(-1)).unwrap();
    let (v, _w3) = victim("clear");
    l.append(v).unwrap();
    l.clear().unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            "set: [0, 1]".to_string(),
            "del: [0, 1, 'set']".to_string(),
            "clear: []".to_string(),
        ]
    );
    assert_eq!(ints(&Value::list([int(3)])), vec![3]);
    assert_eq!(format!("{l:?}"), "['clear']");
}

#[test]
fn a_weakref_callback_sets_attributes_on_the_instance_being_changed() {
    let class = Value::class("C");
    let obj = class.instantiate().unwrap();
    let victim = class.instantiate().unwrap();
    let o2 = obj.clone();
    let _wr = on_death(&victim, move || {
        // In the middle of `obj.a = ...`: obj's slots are not borrowed.
        assert_eq!(o2.get_attr("a"), Ok(int(2)));
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
            .iter()
            .enumerate()
        {
            o2.set_attr(name, int(i as i64)).unwrap();
        }
        o2.set_attr("a", int(3)).unwrap();
    });
    obj.set_attr("a", victim).unwrap();
    obj.set_attr("a", int(2)).unwrap(); // the victim dies: the callback sets a = 3
    assert_eq!(obj.get_attr("a"), Ok(int(3)));
    assert_eq!(
        obj.attr_names().unwrap(),
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
    );
    assert_eq!(obj.get_attr("k"), Ok(int(9)));
    // Another instance shares the layout: none of the attributes are its own.
    let other = class.instantiate().unwrap();
    assert!(other.get_attr("k").is_err());
    assert_eq!(other.attr_names(), Ok(vec![]));
    other.set_attr("k", s("x")).unwrap();
    assert_eq!(other.attr_names().unwrap(), ["k"]);
}

/// Runs `f` with automatic collections after every tracked allocation, restoring the
/// thresholds after.
fn with_threshold_1<R>(f: impl FnOnce() -> R) -> R {
    let old = gencollect::get_threshold();
    gencollect::set_threshold(1, 1_000_000, 1_000_000);
    let r = f();
    gencollect::set_threshold(old.0, old.1, old.2);
    r
}

#[test]
fn a_collection_callback_may_append_to_the_list_being_copied() {
    let l = Value::list([int(1), int(2)]);
    let results = Rc::new(RefCell::new(Vec::new()));
    let (l2, r2) = (l.clone(), results.clone());
    let handle = gencollect::register_callback(move |phase, _| {
        if phase == gencollect::Phase::Start {
            r2.borrow_mut().push(l2.append(int(0)));
        }
    });
    let copies = with_threshold_1(|| (0..4).map(|_| l.copy().unwrap()).collect::<Vec<_>>());
    gencollect::unregister_callback(handle);
    let results = results.borrow().clone();
    assert!(!results.is_empty(), "collections ran inside the copies");
    assert_eq!(
        results.iter().filter(|r| r.is_err()).collect::<Vec<_>>(),
        Vec::<&Result<(), Error>>::new(),
        "no append failed"
    );
    assert_eq!(l.len(), Ok(2 + results.len()));
    drop(copies);
}

/// A `fmt::Write` sink that appends to a container while it is written.
struct Meddler {
    target: Value,
    out: String,
    results: Vec<Result<(), Error>>,
}

impl std::fmt::Write for Meddler {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        // At the first item: the container's snapshot is taken by then.
        if self.results.is_empty() && s == "1" {
            let r = match &self.target {
                Value::List(_) => self.target.append(int(9)),
                _ => self.target.set_item(int(9), int(9)),
            };
            self.results.push(r);
        }
        self.out.push_str(s);
        Ok(())
    }
}

#[test]
fn a_dict_may_be_changed_by_the_sink_its_repr_is_written_to() {
    let d = Value::dict();
    d.set_item(int(1), int(2)).unwrap();
    let mut m = Meddler {
        target: d.clone(),
        out: String::new(),
        results: vec![],
    };
    write!(m, "{d:?}").unwrap();
    assert_eq!(m.results, vec![Ok(())]);
    assert_eq!(m.out, "{1: 2}", "the snapshot is written");
    assert_eq!(format!("{d:?}"), "{1: 2, 9: 9}");
}

#[test]
fn a_list_may_be_changed_by_the_sink_its_repr_is_written_to() {
    let l = Value::list([int(1), int(2)]);
    let mut m = Meddler {
        target: l.clone(),
        out: String::new(),
        results: vec![],
    };
    write!(m, "{:?}", Value::tuple([l.clone()])).unwrap();
    assert_eq!(m.results, vec![Ok(())]);
    assert_eq!(ints(&l), vec![1, 2, 9]);
}

// ----- callbacks during collections ---------------------------------------------------------

#[test]
fn a_weakref_callback_on_a_garbage_cycle_member_sees_the_rest_dead_and_changes_live_values() {
    gencollect::collect();
    let (a, b) = (Value::list([int(1)]), Value::list([int(2)]));
    a.append(b.clone()).unwrap();
    b.append(a.clone()).unwrap();
    let wb = match &b {
        Value::List(g) => refcount::Gc::downgrade(g),
        _ => unreachable!(),
    };
    let outside = Value::dict();
    let o2 = outside.clone();
    let _wr = on_death(&a, move || {
        assert!(wb.upgrade().is_none(), "b is garbage too");
        o2.set_item(s("fired"), Value::list([int(3)])).unwrap();
        // Everything the collector still tracks reads back as a value without a dead handle.
        for obj in gencollect::get_objects(None).unwrap() {
            if let Some(v) = Value::from_object(obj) {
                let _ = v.repr();
            }
        }
    });
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(format!("{outside:?}"), "{'fired': [3]}");
    assert!(outside.is_tracked());
}

#[test]
fn collection_callbacks_see_and_change_values_mid_collection() {
    gencollect::collect();
    let d = Value::dict();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (d2, seen2) = (d.clone(), seen.clone());
    let handle = gencollect::register_callback(move |phase, info| {
        let n = d2.len().unwrap();
        seen2
            .borrow_mut()
            .push((phase == gencollect::Phase::Start, n, info.collected));
        d2.set_item(int(n as i64), Value::list([])).unwrap();
        if n == 1 {
            d2.del_item(&int(0)).unwrap();
        }
    });
    let cycle = Value::list([]);
    cycle.append(cycle.clone()).unwrap();
    drop(cycle);
    assert_eq!(gencollect::collect(), 1);
    gencollect::unregister_callback(handle);
    assert_eq!(*seen.borrow(), vec![(true, 0, 0), (false, 1, 1)]);
    assert_eq!(format!("{d:?}"), "{1: []}");
}
