//! Ports of CPython 3.11's `Lib/test/test_gc.py` type-specific tests onto the built-in
//! object types. Where CPython asserts only `!= 0` (its classes and instances own more
//! objects than ours: an mro tuple, a `__dict__`, descriptors), the exact count is ours and
//! says which objects it is.

use gencollect as gc;
use objects::Value;

/// The object behind a container value, for the collector's functions.
fn referents(v: &Value) -> Vec<Value> {
    let refs = match v {
        Value::List(g) => gc::get_referents(g),
        Value::Tuple(g) => gc::get_referents(g),
        Value::Dict(g) => gc::get_referents(g),
        Value::Int(g) => gc::get_referents(g),
        Value::Str(g) => gc::get_referents(g),
        _ => panic!("not used here"),
    };
    refs.into_iter()
        .map(|o| Value::from_object(o).expect("one of the crate's objects"))
        .collect()
}

fn sorted_ints(values: Vec<Value>) -> Vec<i64> {
    let mut v: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
    v.sort();
    v
}

/// `test_gc.GCTests.test_list`
#[test]
fn test_list() {
    let l = Value::list([]);
    l.append(l.clone()).unwrap();
    gc::collect();
    drop(l);
    assert_eq!(gc::collect(), 1);
}

/// `test_gc.GCTests.test_dict`
#[test]
fn test_dict() {
    let d = Value::dict();
    d.set_item(Value::from(1), d.clone()).unwrap();
    gc::collect();
    drop(d);
    assert_eq!(gc::collect(), 1);
}

/// `test_gc.GCTests.test_tuple`: since tuples are immutable, the loop is closed with a list.
#[test]
fn test_tuple() {
    let l = Value::list([]);
    let t = Value::tuple([l.clone()]);
    l.append(t.clone()).unwrap();
    gc::collect();
    drop(t);
    drop(l);
    assert_eq!(gc::collect(), 2);
}

/// `test_gc.GCTests.test_class`: the class and its attribute dict (the name is interned,
/// so immortal).
#[test]
fn test_class() {
    let a = Value::class("A");
    a.set_attr("a", a.clone()).unwrap();
    gc::collect();
    drop(a);
    assert_eq!(gc::collect(), 2);
}

/// `test_gc.GCTests.test_instance`: the instance alone (its attribute is stored inline);
/// the class stays alive.
#[test]
fn test_instance() {
    let class = Value::class("A");
    let a = class.instantiate().unwrap();
    a.set_attr("a", a.clone()).unwrap();
    gc::collect();
    drop(a);
    assert_eq!(gc::collect(), 1);
    // `A.a = A()` then `del A`: the class, its dict and the instance.
    class.set_attr("a", class.instantiate().unwrap()).unwrap();
    drop(class);
    assert_eq!(gc::collect(), 3);
    assert_eq!(gc::collect(), 0);
}

/// `test_gc.GCTests.test_newinstance`, first part (gcrt has no subclassing of built-ins).
#[test]
fn test_newinstance() {
    let class = Value::class("A");
    let a = class.instantiate().unwrap();
    a.set_attr("a", a.clone()).unwrap();
    gc::collect();
    drop(a);
    assert_eq!(gc::collect(), 1);
    // An instance whose attributes overflow the class's shared layout (which holds `a`
    // already) into a dict of its own, with the cycle through that dict: the instance and
    // the dict.
    let b = class.instantiate().unwrap();
    for i in 1..objects::SHARED_LAYOUT {
        b.set_attr(&format!("x{i}"), Value::from(i as i64)).unwrap();
    }
    b.set_attr("overflow", b.clone()).unwrap();
    assert_eq!(b.attr_names().unwrap().last().unwrap(), "overflow");
    drop(b);
    assert_eq!(gc::collect(), 2);
}

/// `test_gc.GCTests.test_method`, as it maps: an instance whose attribute holds a tuple
/// bound to it (a stand-in for the bound method `self.__init__`).
#[test]
fn test_method() {
    let class = Value::class("A");
    let a = class.instantiate().unwrap();
    let bound = Value::tuple([a.clone(), Value::interned("__init__")]);
    assert!(bound.is_tracked(), "it holds an instance");
    a.set_attr("init", bound).unwrap();
    gc::collect();
    drop(a);
    assert_eq!(gc::collect(), 2);
}

/// `test_gc.GCTests.test_get_referents`
#[test]
fn test_get_referents() {
    let alist = Value::list([1, 3, 5].map(Value::from));
    assert_eq!(sorted_ints(referents(&alist)), [1, 3, 5]);

    let atuple = Value::tuple(alist.to_vec().unwrap());
    assert_eq!(sorted_ints(referents(&atuple)), [1, 3, 5]);

    let adict = Value::dict();
    adict.set_item(Value::from(1), Value::from(3)).unwrap();
    adict.set_item(Value::from(5), Value::from(7)).unwrap();
    assert_eq!(sorted_ints(referents(&adict)), [1, 3, 5, 7]);

    // `gc.get_referents([1, 2], {3: 4}, (0, 0, 0))`
    let d = Value::dict();
    d.set_item(Value::from(3), Value::from(4)).unwrap();
    let mut all = referents(&Value::list([1, 2].map(Value::from)));
    all.extend(referents(&d));
    all.extend(referents(&Value::tuple([0, 0, 0].map(Value::from))));
    assert_eq!(sorted_ints(all), [0, 0, 0, 1, 2, 3, 4]);

    assert!(referents(&Value::from(1)).is_empty());
    assert!(referents(&Value::from("a")).is_empty());
}

/// `test_gc.GCTests.test_is_tracked`, for the types gcrt has.
#[test]
fn test_is_tracked() {
    // Atomic built-in types are not tracked, user-defined objects and the mutable
    // containers are.
    let untracked = [
        Value::none(),
        Value::from(1),
        Value::from(1.0),
        Value::from("a"),
        Value::bytes(b"a"),
        Value::from(true),
        Value::from(i64::MAX).mul(&Value::from(4)).unwrap(), // a big int
        Value::tuple([]),
        Value::tuple([Value::from(1)]),
        Value::set([]).unwrap(),
        Value::dict(),
    ];
    for v in &untracked {
        assert!(!v.is_tracked(), "{v:?}");
    }
    let class = Value::class("UserClass");
    let tracked = [
        Value::list([]),
        Value::set([Value::from(1)]).unwrap(),
        class.instantiate().unwrap(),
        class.clone(),
        Value::tuple([Value::list([])]),
    ];
    for v in &tracked {
        assert!(v.is_tracked(), "{v:?}");
    }
}
