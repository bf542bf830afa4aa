//! The behaviour of `Value`s a language runtime relies on: Python's equality, hashing,
//! ordering and repr (expected values printed by CPython 3.11), clear errors instead of
//! panics, and each type's allocation policy (small-int cache, interning, singletons,
//! free lists and their statistics).

use gencollect as gc;
use num_bigint::BigInt;
use objects::{CmpOp, Error, Value};

fn int(v: i64) -> Value {
    Value::from(v)
}

#[test]
fn numbers_are_equal_and_hash_alike_across_int_float_and_bool() {
    let one = [int(1), Value::from(1.0), Value::from(true)];
    for a in &one {
        for b in &one {
            assert_eq!(a, b);
            assert_eq!(a.hash(), b.hash());
        }
    }
    assert_eq!(Value::from(0.5).hash(), Ok(1_152_921_504_606_846_976));
    assert_eq!(int(-1).hash(), Ok(-2));
    let big = Value::from(BigInt::from(1) << 64usize);
    assert_eq!(big.hash(), Ok(8));
    assert_eq!(Value::from(-(BigInt::from(1) << 64usize)).hash(), Ok(-8));
    assert_eq!(
        Value::from(BigInt::from(10).pow(30)).hash(),
        Ok(465_258_685_558_744_706)
    );
    assert_eq!(Value::from(1.5e300), Value::from(1.5e300));
    let nan = Value::from(f64::NAN);
    assert_ne!(nan, nan.clone(), "NaN is not equal to itself");
    let l = Value::list([nan.clone()]);
    assert_eq!(
        l,
        l.copy().unwrap(),
        "but containers compare items by identity first"
    );
    assert!(l.contains(&nan).unwrap());
}

#[test]
fn tuple_hashes_are_pythons_and_dict_keys_unify_equal_numbers() {
    assert_eq!(
        Value::tuple([int(1), int(2)]).hash(),
        Ok(-3_550_055_125_485_641_917)
    );
    assert_eq!(Value::tuple([]).hash(), Ok(5_740_354_900_026_072_187));
    let d = Value::dict();
    d.set_item(int(1), Value::from("int")).unwrap();
    d.set_item(Value::from(1.0), Value::from("float")).unwrap();
    d.set_item(Value::from(true), Value::from("bool")).unwrap();
    assert_eq!(d.len(), Ok(1));
    assert_eq!(
        format!("{d:?}"),
        "{1: 'bool'}",
        "the first key stays, the value is replaced"
    );
    let k = Value::tuple([int(2), Value::from(2.0)]);
    d.set_item(k, int(3)).unwrap();
    let same = Value::tuple([Value::from(2.0), int(2)]);
    assert_eq!(d.get_item(&same), Ok(int(3)));
}

#[test]
fn ordering_is_pythons_and_a_type_error_where_python_has_none() {
    let lt = |a: &Value, b: &Value| a.compare(CmpOp::Lt, b);
    assert_eq!(lt(&int(1), &Value::from(1.5)), Ok(true));
    let two_70 = Value::from(BigInt::from(1) << 70usize);
    assert_eq!(two_70.compare(CmpOp::Gt, &Value::from(1e21)), Ok(true));
    assert_eq!(lt(&two_70, &Value::from(1.2e21)), Ok(true));
    assert_eq!(lt(&Value::from(f64::NAN), &int(1)), Ok(false));
    assert_eq!(
        lt(
            &Value::tuple([int(1), int(2)]),
            &Value::tuple([int(1), int(3)])
        ),
        Ok(true)
    );
    assert_eq!(
        lt(
            &Value::list([int(1), int(2)]),
            &Value::list([int(1), int(2), int(0)])
        ),
        Ok(true)
    );
    assert_eq!(lt(&Value::from("abc"), &Value::from("abd")), Ok(true));
    let small = Value::set([int(1)]).unwrap();
    let large = Value::set([int(1), int(2)]).unwrap();
    assert_eq!(lt(&small, &large), Ok(true));
    assert_eq!(large.compare(CmpOp::Le, &small), Ok(false));
    assert_eq!(
        lt(&int(1), &Value::from("a")),
        Err(Error::Type(
            "'<' not supported between instances of 'int' and 'str'".into()
        ))
    );
    assert!(lt(&Value::list([]), &Value::tuple([])).is_err());
    assert!(lt(&Value::dict(), &Value::dict()).is_err());
}

#[test]
fn repr_is_pythons() {
    let cases: [(Value, &str); 14] = [
        (Value::from(1e16), "1e+16"),
        (Value::from(1.5e-5), "1.5e-05"),
        (Value::from(0.0001), "0.0001"),
        (
            Value::from(123_456_789_012_345_678.0),
            "1.2345678901234568e+17",
        ),
        (Value::from(-0.0), "-0.0"),
        (Value::from(2.75), "2.75"),
        (Value::from(0.1 + 0.2), "0.30000000000000004"),
        (Value::from(f64::NEG_INFINITY), "-inf"),
        (Value::from("it's"), "\"it's\""),
        (Value::from("both'\""), "'both\\'\"'"),
        (
            Value::from("tab\there\x01\x7f\u{e9}\u{85}"),
            "'tab\\there\\x01\\x7f\u{e9}\\x85'",
        ),
        (Value::bytes(b"\x00ab'c\xff"), "b\"\\x00ab'c\\xff\""),
        (Value::set([]).unwrap(), "set()"),
        (Value::tuple([int(1)]), "(1,)"),
    ];
    for (v, expected) in cases {
        assert_eq!(v.repr(), expected);
    }
    let d = Value::dict();
    d.set_item(int(1), Value::from("a")).unwrap();
    d.set_item(Value::tuple([int(2)]), Value::list([Value::none()]))
        .unwrap();
    assert_eq!(d.repr(), "{1: 'a', (2,): [None]}");
    assert_eq!(
        Value::from(BigInt::from(10).pow(30)).repr(),
        "1000000000000000000000000000000"
    );
    assert_eq!(Value::from("text").to_string(), "text", "Display is str()");
    let class = Value::class("Point");
    assert_eq!(class.repr(), "<class 'Point'>");
    let p = class.instantiate().unwrap();
    assert_eq!(p.repr(), format!("<Point object at {:#x}>", p.id()));
}

#[test]
fn containers_that_contain_themselves_print_and_compare() {
    let l = Value::list([int(1)]);
    l.append(l.clone()).unwrap();
    assert_eq!(l.repr(), "[1, [...]]");
    let d = Value::dict();
    d.set_item(Value::from("self"), d.clone()).unwrap();
    assert_eq!(d.repr(), "{'self': {...}}");
    let t = Value::tuple([l.clone()]);
    l.append(t).unwrap();
    assert_eq!(l.repr(), "[1, [...], ([...],)]");
    assert!(l.equals(&l).unwrap(), "identity first");
    // Two distinct self-containing lists: Python raises RecursionError.
    let m = Value::list([int(1)]);
    m.append(m.clone()).unwrap();
    let n = Value::list([int(1)]);
    n.append(n.clone()).unwrap();
    assert_eq!(m.equals(&n), Err(Error::Recursion));
    assert!(m != n, "PartialEq says unequal");
    for v in [l, d, m, n] {
        v.clear().unwrap();
    }
    assert_eq!(gc::collect(), 0, "the cycles were broken by hand");
}

#[test]
fn wrong_types_and_bad_indexes_are_errors_not_panics() {
    let l = Value::list([int(1), int(2)]);
    assert_eq!(l.get_item(&int(-1)), Ok(int(2)));
    assert_eq!(
        l.get_item(&int(2)),
        Err(Error::Index("list index out of range".into()))
    );
    assert_eq!(
        l.get_item(&Value::from("a")),
        Err(Error::Type(
            "list indices must be integers or slices, not str".into()
        ))
    );
    assert_eq!(
        Value::tuple([]).get_item(&int(0)),
        Err(Error::Index("tuple index out of range".into()))
    );
    assert_eq!(
        int(1).get_item(&int(0)),
        Err(Error::Type("'int' object is not subscriptable".into()))
    );
    let d = Value::dict();
    assert_eq!(d.get_item(&Value::from("k")), Err(Error::Key("'k'".into())));
    assert_eq!(
        d.set_item(Value::dict(), int(1)),
        Err(Error::Type("unhashable type: 'dict'".into()))
    );
    assert_eq!(d.del_item(&int(3)), Err(Error::Key("3".into())));
    assert!(Value::set([Value::list([])]).is_err());
    assert_eq!(
        int(1).add(&Value::from("a")),
        Err(Error::Type(
            "unsupported operand type(s) for +: 'int' and 'str'".into()
        ))
    );
    assert_eq!(
        int(1).len(),
        Err(Error::Type("object of type 'int' has no len()".into()))
    );
    assert_eq!(
        Value::list([]).pop(),
        Err(Error::Index("pop from empty list".into()))
    );
    assert!(int(1).append(int(2)).is_err());
    assert!(int(1).instantiate().is_err());
    assert_eq!(
        Value::class("A").get_attr("x").unwrap_err().to_string(),
        "AttributeError: type object 'A' has no attribute 'x'"
    );
    assert_eq!(l.len(), Ok(2), "nothing was lost");
}

#[test]
fn arithmetic_promotes_to_big_ints_and_floats() {
    let max = int(i64::MAX);
    let sum = max.add(&int(1)).unwrap();
    assert_eq!(sum.repr(), "9223372036854775808");
    assert_eq!(sum.sub(&int(1)).unwrap(), max, "and back to the i64 form");
    assert_eq!(sum.sub(&int(1)).unwrap().as_i64(), Some(i64::MAX));
    assert_eq!(int(3).mul(&Value::from(0.5)).unwrap(), Value::from(1.5));
    assert_eq!(Value::from(true).add(&Value::from(true)).unwrap(), int(2));
    assert_eq!(
        Value::from("ab").add(&Value::from("cd")).unwrap(),
        Value::from("abcd")
    );
    let t = Value::tuple([int(1)]).add(&Value::tuple([int(2)])).unwrap();
    assert_eq!(t.repr(), "(1, 2)");
    let l = Value::list([int(1)]).add(&Value::list([int(2)])).unwrap();
    assert_eq!(l.repr(), "[1, 2]");
}

#[test]
fn small_ints_interned_strings_and_the_empty_tuple_are_shared_immortal_objects() {
    for v in [-5, 0, 7, 256] {
        assert!(int(v).is(&int(v)), "{v} is cached");
    }
    for v in [-6, 257, 1000] {
        assert!(!int(v).is(&int(v)), "{v} is not");
    }
    assert!(
        int(2).add(&int(5)).unwrap().is(&int(7)),
        "arithmetic results too"
    );
    assert!(Value::tuple([]).is(&Value::tuple([])));
    let before = objects::interned_count();
    let a = Value::interned("an_identifier_only_here");
    assert!(a.is(&Value::interned("an_identifier_only_here")));
    assert_eq!(objects::interned_count(), before + 1);
    assert_eq!(a, Value::from("an_identifier_only_here"));
    let Value::Str(s) = &a else { unreachable!() };
    assert!(refcount::Gc::is_immortal(s));
}

fn stats(name: &str) -> refcount::FreeListStats {
    refcount::free_list_stats()
        .into_iter()
        .find(|s| s.type_name.ends_with(name))
        .unwrap_or_else(|| panic!("no free list for {name}"))
}

#[test]
fn floats_lists_and_dicts_reuse_blocks_from_their_free_lists() {
    gc::collect();
    let floats: Vec<Value> = (0..150).map(|i| Value::from(i as f64)).collect();
    drop(floats);
    let s = stats("::Float");
    assert_eq!((s.capacity, s.cached, s.live), (100, 100, 0));
    let again: Vec<Value> = (0..120).map(|i| Value::from(i as f64 + 0.5)).collect();
    let s = stats("::Float");
    assert_eq!((s.from_free_list, s.from_allocator), (100, 170));
    drop(again);

    let lists: Vec<Value> = (0..100).map(|_| Value::list([])).collect();
    drop(lists);
    assert_eq!(stats("::List").cached, 80);
    let dicts: Vec<Value> = (0..100).map(|_| Value::dict()).collect();
    drop(dicts);
    assert_eq!(stats("::Dict").cached, 80);

    gc::collect();
    for name in ["::Float", "::List", "::Dict"] {
        assert_eq!(
            stats(name).cached,
            0,
            "{name}: full collections empty free lists"
        );
    }
}

#[test]
fn tuple_buffers_of_each_length_are_reused() {
    gc::collect();
    let before = objects::tuple_buffer_stats();
    let tuples: Vec<Value> = (1..=25).map(|n| Value::tuple((0..n).map(int))).collect();
    drop(tuples);
    let s = objects::tuple_buffer_stats();
    assert_eq!(
        s.cached - before.cached,
        20,
        "lengths 1..=20 are cached, 21..=25 not"
    );
    assert_eq!(s.from_allocator - before.from_allocator, 20);
    let again: Vec<Value> = (1..=20).map(|n| Value::tuple((0..n).map(int))).collect();
    let s = objects::tuple_buffer_stats();
    assert_eq!(s.from_free_list - before.from_free_list, 20);
    assert_eq!(again[19].len(), Ok(20));
    assert_eq!(again[19].get_item(&int(19)), Ok(int(19)));
    // The heap's free-list statistics and report include each length's list.
    let three = refcount::free_list_stats()
        .into_iter()
        .find(|s| s.type_name == "objects tuple items, length 3")
        .unwrap();
    assert_eq!(
        (three.capacity, three.block_size, three.live),
        (2000, 48, 1)
    );
    assert!(gc::alloc_report().contains("objects tuple items, length 20"));
    drop(again);
    gc::collect();
    assert_eq!(objects::tuple_buffer_stats().cached, 0);
}

#[test]
fn instances_keep_attributes_inline_then_in_a_dict() {
    let class = Value::class("Many");
    let o = class.instantiate().unwrap();
    for i in 0..12 {
        o.set_attr(&format!("a{i}"), int(i)).unwrap();
    }
    for i in 0..12 {
        assert_eq!(o.get_attr(&format!("a{i}")), Ok(int(i)));
    }
    let names = o.attr_names().unwrap();
    assert_eq!(names.len(), 12);
    assert_eq!(names[0], "a0");
    class.set_attr("shared", Value::from("class attr")).unwrap();
    assert_eq!(o.get_attr("shared"), Ok(Value::from("class attr")));
    o.set_attr("shared", int(5)).unwrap();
    assert_eq!(
        o.get_attr("shared"),
        Ok(int(5)),
        "the instance's own shadows the class's"
    );
    let other = class.instantiate().unwrap();
    assert_eq!(other.get_attr("shared"), Ok(Value::from("class attr")));
}

#[test]
#[cfg_attr(miri, ignore = "100,000-deep values take hours under Miri")]
fn deep_nesting_is_an_error_or_an_ellipsis_never_a_stack_overflow() {
    let run = || {
        let deep = |n: usize| {
            let mut v = Value::list([]);
            for _ in 0..n {
                v = Value::list([v]);
            }
            v
        };
        let (a, b) = (deep(100_000), deep(100_000));
        assert_eq!(a.equals(&b), Err(Error::Recursion));
        let r = a.repr();
        assert!(
            r.starts_with("[[[[") && r.contains("[...]"),
            "cut at the depth limit"
        );
        assert_eq!(r.len(), 2 * objects::MAX_DEPTH + 5);
        let t = (0..100_000).fold(Value::tuple([]), |t, _| Value::tuple([t]));
        assert_eq!(t.hash(), Err(Error::Recursion));
        let (c, d) = (deep(objects::MAX_DEPTH - 2), deep(objects::MAX_DEPTH - 2));
        assert_eq!(c.equals(&d), Ok(true), "just inside the limit");
        drop((a, b, t)); // a 100,000-deep drop
    };
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn str_repr_escapes_what_python_does_not_print() {
    let s = Value::from("\u{a0}\u{ad}\u{2028}\u{e000}\u{f0000}\u{200b}\u{85}a\u{e9}");
    // repr('\u00a0\u00ad\u2028\ue000\U000f0000\u200b\u0085a\u00e9') in CPython 3.11:
    assert_eq!(
        s.repr(),
        "'\\xa0\\xad\\u2028\\ue000\\U000f0000\\u200b\\x85a\u{e9}'"
    );
}

#[test]
fn user_types_are_interned_once_per_value_even_when_their_hash_interns() {
    use std::hash::{Hash, Hasher};
    #[derive(PartialEq, Eq, gcrt_derive::Trace)]
    #[trace(crate = "refcount")]
    struct Sym(String);
    impl Hash for Sym {
        fn hash<H: Hasher>(&self, h: &mut H) {
            // A hostile `Hash` that interns in the middle of interning.
            if self.0 == "reentrant" {
                let _ = objects::intern(Sym("inner".into()));
            }
            self.0.hash(h);
        }
    }
    let a = objects::intern(Sym("x".into()));
    let b = objects::intern(Sym("x".into()));
    assert!(refcount::Gc::ptr_eq(&a, &b));
    let c = objects::intern(Sym("y".into()));
    assert!(!refcount::Gc::ptr_eq(&a, &c));
    let r = objects::intern(Sym("reentrant".into()));
    assert_eq!(r.0, "reentrant");
    assert!(refcount::Gc::is_immortal(&r));
}

/// A list holding one container many times (pyperformance's gc_traversal shape), between
/// other items: every handle counts, young and full collections alike.
#[test]
fn a_list_of_one_repeated_container_is_counted_exactly() {
    gc::collect();
    let inner = Value::list([]);
    let mut items = vec![int(1000), inner.clone()];
    items.extend(std::iter::repeat_n(inner.clone(), 998));
    items.push(int(1000));
    let outer = Value::list(items);
    inner.append(outer.clone()).unwrap();
    assert_eq!(gc::collect_generation(0).unwrap(), 0, "held from outside");
    assert_eq!(gc::collect(), 0);
    assert_eq!(outer.len().unwrap(), 1001);
    drop(inner);
    assert_eq!(gc::collect(), 0, "outer still holds inner 999 times");
    drop(outer);
    // The two lists; the ints go by refcounting once the lists are dropped.
    assert_eq!(gc::collect(), 2);
}
