//! Ports of the tracking tests of CPython 3.11's `Lib/test/test_tuple.py` and
//! `Lib/test/test_dict.py`: which tuples and dicts the collector tracks. `object()` (an
//! untracked plain object in CPython) maps to an untracked tuple `(1, None)`, and `int`
//! (a static type) to the int `1`: both atomic. CPython untracks a dict in its next
//! collection; gcrt does when the last container leaves it, so the checks after two
//! collections hold either way.

use gencollect as gc;
use objects::Value;

fn not_tracked(v: &Value) {
    // Nested containers can take several collections to untrack (in CPython).
    gc::collect();
    gc::collect();
    assert!(!v.is_tracked(), "{v:?} is tracked");
}

fn tracked(v: &Value) {
    assert!(v.is_tracked(), "{v:?} is not tracked");
    gc::collect();
    gc::collect();
    assert!(v.is_tracked(), "{v:?} is no longer tracked");
}

fn int(v: i64) -> Value {
    Value::from(v)
}

fn tuple<const N: usize>(items: [Value; N]) -> Value {
    Value::tuple(items)
}

fn dict(pairs: Vec<(Value, Value)>) -> Value {
    let d = Value::dict();
    for (k, v) in pairs {
        d.set_item(k, v).unwrap();
    }
    d
}

/// A stand-in for CPython's untracked `object()`.
fn object() -> Value {
    tuple([int(1), Value::none()])
}

/// `test_tuple.TupleTest.test_track_literals`
#[test]
fn tuple_test_track_literals() {
    let (x, y, z) = (Value::from(1.5), Value::from("a"), Value::list([]));
    not_tracked(&tuple([]));
    not_tracked(&tuple([int(1)]));
    not_tracked(&tuple([int(1), int(2)]));
    not_tracked(&tuple([int(1), int(2), Value::from("a")]));
    let inner = tuple([
        Value::none(),
        Value::from(true),
        Value::from(false),
        tuple([]),
    ]);
    not_tracked(&tuple([int(1), int(2), inner, int(1)]));
    not_tracked(&tuple([object()]));
    not_tracked(&tuple([
        tuple([int(1), x.clone()]),
        y.clone(),
        tuple([int(2), int(3)]),
    ]));

    // Tuples with mutable elements are always tracked, even if those elements are not
    // tracked right now.
    tracked(&tuple([Value::list([])]));
    tracked(&tuple([Value::list([int(1)])]));
    tracked(&tuple([Value::dict()]));
    tracked(&tuple([Value::set([]).unwrap()]));
    tracked(&tuple([x, y, z]));
}

/// `test_tuple.TupleTest.check_track_dynamic(tuple, False)` (`test_track_dynamic`)
#[test]
fn tuple_test_track_dynamic() {
    let (x, y, z) = (Value::from(1.5), Value::from("a"), Value::list([]));
    let tp = |items: Vec<Value>| Value::tuple(items);
    let set_of = |items: Vec<Value>| Value::set(items).unwrap().to_vec().unwrap();

    not_tracked(&tp(vec![]));
    not_tracked(&tp(set_of(vec![])));
    not_tracked(&tp(vec![int(1), x.clone(), y.clone()]));
    not_tracked(&tp(set_of(vec![int(1), x.clone(), y.clone()])));
    let singles: Vec<Value> = [int(1), x.clone(), y.clone()]
        .into_iter()
        .map(|o| tp(vec![o]))
        .collect();
    not_tracked(&tp(singles.clone()));

    tracked(&tp(vec![z.clone()]));
    tracked(&tp(vec![Value::list([x.clone(), y.clone()])]));
    tracked(&tp(vec![dict(vec![(x.clone(), y.clone())])]));
    tracked(&tp(vec![x.clone(), y.clone(), z.clone()]));
    let singles: Vec<Value> = [x, y, z].into_iter().map(|o| tp(vec![o])).collect();
    tracked(&tp(singles));
}

/// `test_dict.DictTest.test_track_literals`
#[test]
fn dict_test_track_literals() {
    let (x, y, z) = (
        Value::from(1.5),
        Value::from("a"),
        tuple([int(1), Value::none()]),
    );

    not_tracked(&dict(vec![]));
    not_tracked(&dict(vec![
        (x.clone(), tuple([])),
        (y.clone(), x.clone()),
        (z.clone(), int(1)),
    ]));
    not_tracked(&dict(vec![
        (int(1), Value::from("a")),
        (Value::from("b"), int(2)),
    ]));
    let key = tuple([
        Value::none(),
        Value::from(true),
        Value::from(false),
        tuple([]),
    ]);
    not_tracked(&dict(vec![(int(1), int(2)), (key, int(1))]));
    not_tracked(&dict(vec![(int(1), object())]));

    // Dicts with mutable elements are always tracked, even if those elements are not
    // tracked right now.
    tracked(&dict(vec![(int(1), Value::list([]))]));
    tracked(&dict(vec![(int(1), tuple([Value::list([])]))]));
    tracked(&dict(vec![(int(1), Value::dict())]));
    tracked(&dict(vec![(int(1), Value::set([]).unwrap())]));
}

/// `test_dict.DictTest.test_track_dynamic`
#[test]
fn dict_test_track_dynamic() {
    let class = Value::class("MyObject");
    let (x, y, z, w) = (
        Value::from(1.5),
        Value::from("a"),
        object(),
        Value::list([]),
    );
    let o = class.instantiate().unwrap();

    let d = Value::dict();
    not_tracked(&d);
    d.set_item(int(1), Value::from("a")).unwrap();
    not_tracked(&d);
    d.set_item(y.clone(), int(2)).unwrap();
    not_tracked(&d);
    d.set_item(z.clone(), int(3)).unwrap();
    not_tracked(&d);
    not_tracked(&d.copy().unwrap());
    d.set_item(int(4), w.clone()).unwrap();
    tracked(&d);
    tracked(&d.copy().unwrap());
    d.set_item(int(4), Value::none()).unwrap();
    not_tracked(&d);
    not_tracked(&d.copy().unwrap());

    // dd isn't tracked right now, but it may mutate and therefore d which contains it
    // must be tracked.
    let d = Value::dict();
    let dd = Value::dict();
    d.set_item(int(1), dd.clone()).unwrap();
    not_tracked(&dd);
    tracked(&d);
    dd.set_item(int(1), d.clone()).unwrap();
    tracked(&dd);
    dd.clear().unwrap(); // (break the cycle, which the test leaves to the collector)

    let d = Value::dict_from_keys([x.clone(), y.clone(), z.clone()]).unwrap();
    not_tracked(&d);
    let dd = Value::dict();
    dd.update(&d).unwrap();
    not_tracked(&dd);
    let d = Value::dict_from_keys([x.clone(), y.clone(), z.clone(), o.clone()]).unwrap();
    tracked(&d);
    let dd = Value::dict();
    dd.update(&d).unwrap();
    tracked(&dd);

    let named = |pairs: Vec<(&str, Value)>| {
        dict(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    };
    not_tracked(&named(vec![
        ("x", x.clone()),
        ("y", y.clone()),
        ("z", z.clone()),
    ]));
    tracked(&named(vec![
        ("x", x.clone()),
        ("y", y.clone()),
        ("z", z.clone()),
        ("w", w.clone()),
    ]));
    let d = Value::dict();
    d.update(&named(vec![
        ("x", x.clone()),
        ("y", y.clone()),
        ("z", z.clone()),
    ]))
    .unwrap();
    not_tracked(&d);
    d.update(&named(vec![("w", w.clone())])).unwrap();
    tracked(&d);

    not_tracked(&dict(vec![(x.clone(), y.clone()), (z.clone(), int(1))]));
    tracked(&dict(vec![(x.clone(), y.clone()), (z.clone(), w.clone())]));
    let d = Value::dict();
    d.update(&dict(vec![(x.clone(), y.clone()), (z.clone(), int(1))]))
        .unwrap();
    not_tracked(&d);
    d.update(&dict(vec![(x.clone(), y.clone()), (z, w)]))
        .unwrap();
    tracked(&d);
}

/// A dict untracked while it holds only atomic values is still collected once a cycle
/// runs through it (it is tracked again when the container arrives).
#[test]
fn a_dict_that_was_untracked_is_collected_in_a_cycle() {
    gc::collect();
    let d = Value::dict();
    d.set_item(int(1), Value::list([])).unwrap();
    d.set_item(int(1), Value::none()).unwrap();
    assert!(!d.is_tracked());
    let l = Value::list([d.clone()]);
    d.set_item(int(2), l.clone()).unwrap();
    assert!(d.is_tracked());
    drop(l);
    drop(d);
    assert_eq!(gc::collect(), 2);
}
