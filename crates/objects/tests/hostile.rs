//! Hostile tests of the `objects` crate: deep and self-containing structures, numeric keys,
//! compaction, the tuple buffer cache, reprs, errors, tracking counts, threads (re-entrancy
//! is in `hostile_reentrancy.rs`). Each test asserts exact results.

use std::cell::RefCell;
use std::rc::Rc;

use num_bigint::BigInt;
use objects::{CmpOp, Error, Value};

mod common;
use common::{int, ints, on_death, s};

/// Sizes shrunk under Miri.
fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// Runs `f` on a thread with a small stack (a stack overflow aborts the test binary).
fn on_small_stack(kib: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(kib << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

// ----- numbers as keys ------------------------------------------------------------------

#[test]
fn one_one_point_oh_and_true_are_one_key_also_inside_tuples() {
    let d = Value::dict();
    d.set_item(int(1), s("int")).unwrap();
    d.set_item(Value::float(1.0), s("float")).unwrap();
    d.set_item(Value::from(true), s("bool")).unwrap();
    assert_eq!(d.len(), Ok(1));
    assert_eq!(
        format!("{d:?}"),
        "{1: 'bool'}",
        "the first key stays, the last value wins"
    );
    d.set_item(Value::tuple([int(1), Value::float(2.0)]), s("t1"))
        .unwrap();
    d.set_item(Value::tuple([Value::from(true), int(2)]), s("t2"))
        .unwrap();
    d.set_item(
        Value::tuple([
            Value::float(1.0),
            Value::tuple([Value::float(2.0), Value::from(false)]),
        ]),
        s("n1"),
    )
    .unwrap();
    d.set_item(
        Value::tuple([int(1), Value::tuple([int(2), int(0)])]),
        s("n2"),
    )
    .unwrap();
    assert_eq!(d.len(), Ok(3));
    assert_eq!(
        d.get_item(&Value::tuple([Value::float(1.0), Value::float(2.0)])),
        Ok(s("t2"))
    );
    assert_eq!(
        d.get_item(&Value::tuple([
            Value::from(true),
            Value::tuple([int(2), Value::float(0.0)])
        ])),
        Ok(s("n2"))
    );
    // -0.0 == 0 == False.
    d.set_item(Value::float(-0.0), s("zero")).unwrap();
    assert_eq!(d.get_item(&int(0)), Ok(s("zero")));
    assert_eq!(d.get_item(&Value::from(false)), Ok(s("zero")));
    d.del_item(&Value::from(false)).unwrap();
    assert_eq!(d.len(), Ok(3));
    // A big int equal to a float.
    let two64 = Value::big_int(BigInt::from(1) << 64usize);
    assert_eq!(two64.hash(), Ok(8));
    assert_eq!(Value::float(18446744073709551616.0).hash(), Ok(8));
    d.set_item(two64.clone(), s("2**64")).unwrap();
    assert_eq!(
        d.get_item(&Value::float(18446744073709551616.0)),
        Ok(s("2**64"))
    );
    assert!(
        d.get_item(&Value::float(18446744073709551616.0 * 2.0))
            .is_err()
    );
    // i64::MIN, as an int and as a float.
    assert_eq!(int(i64::MIN).hash(), Ok(-4));
    assert_eq!(Value::float(-9223372036854775808.0).hash(), Ok(-4));
    assert_eq!(
        int(i64::MIN).equals(&Value::float(-9223372036854775808.0)),
        Ok(true)
    );
    assert_eq!(
        int(i64::MAX).equals(&Value::float(9223372036854775807.0)),
        Ok(false)
    );
    assert_eq!(
        int(i64::MAX).compare(CmpOp::Lt, &Value::float(9223372036854775807.0)),
        Ok(true),
        "2**63 - 1 < 2.0**63"
    );
    // Sets unify them too.
    let set = Value::set([int(1), Value::float(1.0), Value::from(true), int(2)]).unwrap();
    assert_eq!(set.len(), Ok(2));
    assert_eq!(format!("{set:?}"), "{1, 2}");
}

#[test]
fn nan_in_containers_equals_itself_by_identity_only() {
    let nan = Value::float(f64::NAN);
    let other_nan = Value::float(f64::NAN);
    assert!(nan != nan, "a NaN is not equal to itself");
    assert_eq!(nan.equals(&nan), Ok(false));
    let (a, b) = (Value::list([nan.clone()]), Value::list([nan.clone()]));
    assert_eq!(
        a.equals(&b),
        Ok(true),
        "[x] == [x] compares items by identity first"
    );
    assert_eq!(a.equals(&Value::list([other_nan.clone()])), Ok(false));
    let t = Value::tuple([nan.clone(), int(1)]);
    assert_eq!(t.equals(&Value::tuple([nan.clone(), int(1)])), Ok(true));
    assert_eq!(
        t.equals(&Value::tuple([other_nan.clone(), int(1)])),
        Ok(false)
    );
    assert_eq!(t.contains(&nan), Ok(true));
    assert_eq!(t.contains(&other_nan), Ok(false));
    // NaN keys: found by identity, never by value.
    let d = Value::dict();
    d.set_item(nan.clone(), int(1)).unwrap();
    d.set_item(other_nan.clone(), int(2)).unwrap();
    assert_eq!(d.len(), Ok(2));
    assert_eq!(d.get_item(&nan), Ok(int(1)));
    assert_eq!(d.get_item(&other_nan), Ok(int(2)));
    assert!(matches!(d.get_item(&Value::float(f64::NAN)), Err(Error::Key(k)) if k == "nan"));
    // Tuple keys holding a NaN.
    d.set_item(t.clone(), int(3)).unwrap();
    assert_eq!(d.get_item(&Value::tuple([nan.clone(), int(1)])), Ok(int(3)));
    assert!(
        d.get_item(&Value::tuple([other_nan.clone(), int(1)]))
            .is_err()
    );
    // Ordering with NaN: every comparison is false.
    for op in [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
        assert_eq!(nan.compare(op, &int(1)), Ok(false));
        assert_eq!(int(1).compare(op, &nan), Ok(false));
        assert_eq!(
            Value::big_int(BigInt::from(1) << 100usize).compare(op, &nan),
            Ok(false)
        );
    }
    // Sequences with a NaN: the first unequal items decide.
    assert_eq!(
        Value::list([other_nan.clone()]).compare(CmpOp::Lt, &Value::list([nan.clone()])),
        Ok(false)
    );
    assert_eq!(
        Value::list([nan.clone()]).compare(CmpOp::Le, &Value::list([nan.clone()])),
        Ok(true),
        "identical items, equal lengths"
    );
}

#[test]
fn huge_ints_hash_compare_and_print_as_pythons() {
    let big = Value::big_int(BigInt::from(1) << 1000usize);
    assert_eq!(big.hash(), Ok(16_777_216)); // hash(2**1000)
    assert_eq!(
        Value::big_int(-(BigInt::from(1) << 1000usize)).hash(),
        Ok(-16_777_216)
    );
    let sq = big.mul(&big).unwrap();
    assert_eq!(
        sq.equals(&Value::big_int(BigInt::from(1) << 2000usize)),
        Ok(true)
    );
    assert_eq!(
        sq.compare(CmpOp::Lt, &Value::float(f64::INFINITY)),
        Ok(true)
    );
    assert_eq!(sq.compare(CmpOp::Gt, &Value::float(f64::MAX)), Ok(true));
    assert_eq!(
        sq.compare(CmpOp::Gt, &Value::float(f64::NEG_INFINITY)),
        Ok(true)
    );
    assert_eq!(sq.equals(&Value::float(f64::INFINITY)), Ok(false));
    // Back into the i64 range: the small form (and the small-int cache).
    let back = big.sub(&big).unwrap();
    assert!(back.is(&int(0)));
    let m = Value::big_int(BigInt::from(i64::MAX) + 1)
        .sub(&int(1))
        .unwrap();
    assert_eq!(m.as_i64(), Some(i64::MAX));
    assert_eq!(
        int(i64::MIN).sub(&int(1)).unwrap().repr(),
        "-9223372036854775809"
    );
    assert_eq!(
        int(i64::MAX).add(&int(1)).unwrap().repr(),
        "9223372036854775808"
    );
    assert_eq!(
        int(i64::MIN).mul(&int(-1)).unwrap().repr(),
        "9223372036854775808"
    );
    // The repr of 2**200 has all its digits.
    assert_eq!(
        Value::big_int(BigInt::from(1) << 200usize).repr(),
        "1606938044258990275541962092341162602522202993782792835301376"
    );
    // Compares exactly with floats, without rounding the int.
    let p53 = int((1 << 53) + 1);
    assert_eq!(p53.equals(&Value::float((1u64 << 53) as f64)), Ok(false));
    assert_eq!(
        p53.compare(CmpOp::Gt, &Value::float((1u64 << 53) as f64)),
        Ok(true)
    );
    assert_eq!(
        Value::float(2.5).compare(CmpOp::Gt, &Value::big_int(BigInt::from(2))),
        Ok(true)
    );
    assert_eq!(
        Value::float(-1e300).compare(CmpOp::Lt, &Value::big_int(-(BigInt::from(1) << 900usize))),
        Ok(true)
    );
}

// ----- compaction -------------------------------------------------------------------------

#[test]
fn deleting_most_entries_then_inserting_keeps_order_and_every_key() {
    let count = n(2000, 60) as i64;
    let d = Value::dict();
    for i in 0..count {
        d.set_item(int(i * 7), int(i)).unwrap();
    }
    // Delete all but every tenth, in an order that leaves holes everywhere.
    for i in (0..count).rev() {
        if i % 10 != 3 {
            d.del_item(&int(i * 7)).unwrap();
        }
    }
    let kept: Vec<i64> = (0..count).filter(|i| i % 10 == 3).collect();
    assert_eq!(d.len(), Ok(kept.len()));
    for i in count..count + count / 2 {
        d.set_item(int(i * 7), int(i)).unwrap();
    }
    // Reinsert a deleted key: it goes to the end.
    d.set_item(int(0), s("zero")).unwrap();
    let expected_keys: Vec<i64> = kept
        .iter()
        .copied()
        .chain(count..count + count / 2)
        .map(|i| i * 7)
        .chain([0])
        .collect();
    assert_eq!(ints(&d), expected_keys);
    for i in kept.iter().copied().chain(count..count + count / 2) {
        assert_eq!(d.get_item(&int(i * 7)), Ok(int(i)));
    }
    for i in 1..count {
        if i % 10 != 3 {
            assert_eq!(d.contains(&int(i * 7)), Ok(false), "{i}");
        }
    }
    // Delete everything, in insertion order, checking the rest each time.
    let keys = d.keys().unwrap();
    for (j, k) in keys.iter().enumerate() {
        d.del_item(k).unwrap();
        assert_eq!(d.len(), Ok(keys.len() - j - 1));
        if j + 1 < keys.len() {
            assert!(d.contains(&keys[j + 1]).unwrap());
        }
    }
    assert_eq!(format!("{d:?}"), "{}");
    // The same with colliding hashes: -1 and -2 hash alike in CPython (both -2).
    let d = Value::dict();
    d.set_item(int(-1), s("a")).unwrap();
    d.set_item(int(-2), s("b")).unwrap();
    assert_eq!(int(-1).hash(), int(-2).hash());
    for i in 0..20 {
        d.set_item(int(i + 100), int(i)).unwrap();
    }
    for i in 0..20 {
        d.del_item(&int(i + 100)).unwrap();
    }
    d.del_item(&int(-1)).unwrap();
    assert_eq!(d.get_item(&int(-2)), Ok(s("b")));
    assert!(matches!(d.get_item(&int(-1)), Err(Error::Key(k)) if k == "-1"));
    // A set the same way.
    let set = Value::set((0..count).map(int)).unwrap();
    for i in 0..count - 1 {
        let Value::Set(_) = &set else { unreachable!() };
        // Sets have no del_item: clear and rebuild instead.
        let _ = i;
    }
    set.clear().unwrap();
    assert_eq!(set.len(), Ok(0));
    set.insert(int(5)).unwrap();
    assert_eq!(ints(&set), vec![5]);
}

// ----- tuple buffers ------------------------------------------------------------------------

#[test]
fn tuples_of_every_length_reuse_buffers_and_full_collections_empty_the_cache() {
    gencollect::collect();
    let rounds = n(5, 2);
    assert_eq!(
        objects::tuple_buffer_stats().cached,
        0,
        "a full collection emptied it"
    );
    for round in 0..rounds {
        let before = objects::tuple_buffer_stats();
        // Make a tuple of each length, holding a container so that it is tracked, then drop
        // them all: each length 1..=20 caches one buffer.
        let tuples: Vec<Value> = (0..=25usize)
            .map(|len| {
                Value::tuple((0..len).map(|i| {
                    if i == 0 {
                        Value::list([int(len as i64)])
                    } else {
                        Value::str(&format!("{len}.{i}"))
                    }
                }))
            })
            .collect();
        for (len, t) in tuples.iter().enumerate() {
            assert_eq!(t.len(), Ok(len));
            if len > 0 {
                assert_eq!(t.get_item(&int(0)).unwrap().repr(), format!("[{len}]"));
                assert!(t.is_tracked());
            }
            if len > 1 {
                assert_eq!(
                    t.get_item(&int(-1)).unwrap().as_str(),
                    Some(format!("{len}.{}", len - 1).as_str())
                );
            }
        }
        let mid = objects::tuple_buffer_stats();
        assert_eq!(
            mid.from_free_list + mid.from_allocator - before.from_free_list - before.from_allocator,
            20,
            "round {round}: lengths 1..=20 go through the cache"
        );
        drop(tuples);
        let after = objects::tuple_buffer_stats();
        assert_eq!(
            after.cached,
            before.cached + 20 - (mid.from_free_list - before.from_free_list) as usize
        );
        // Again: every buffer comes from the cache now.
        let again: Vec<Value> = (1..=20usize)
            .map(|len| Value::tuple((0..len).map(|i| int(i as i64 * 1000))))
            .collect();
        let s2 = objects::tuple_buffer_stats();
        assert_eq!(s2.from_free_list - after.from_free_list, 20);
        assert_eq!(s2.cached, after.cached - 20);
        for (k, t) in again.iter().enumerate() {
            let expected: Vec<i64> = (0..=k as i64).map(|i| i * 1000).collect();
            assert_eq!(ints(t), expected, "a reused buffer holds the new items");
        }
        drop(again);
        // A full collection in between empties the cache.
        gencollect::collect();
        let c = objects::tuple_buffer_stats();
        assert_eq!((c.cached, c.cached_bytes), (0, 0));
    }
}

#[test]
fn a_tuple_dropped_inside_a_tuples_item_drop_recycles_both_buffers() {
    // The item of a tuple of length 3 dies with it; its weak-reference callback builds and
    // drops tuples of the same length while the outer tuple's buffer is out of the cache.
    gencollect::collect();
    let base = objects::tuple_buffer_stats();
    let inner = Value::list([int(1)]);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    let kept = Rc::new(RefCell::new(None));
    let kept2 = kept.clone();
    let _wr = on_death(&inner, move || {
        for k in 0..3 {
            let t = Value::tuple([int(k), int(k + 1), int(k + 2)]);
            seen2.borrow_mut().push(ints(&t));
            drop(t);
        }
        let keep = Value::tuple([int(7), int(8), int(9)]);
        seen2.borrow_mut().push(ints(&keep));
        // Kept past the outer tuple's recycling.
        kept2.borrow_mut().replace(keep);
    });
    let outer = Value::tuple([inner, int(2), int(3)]);
    assert!(outer.is_tracked());
    drop(outer);
    assert_eq!(
        *seen.borrow(),
        vec![vec![0, 1, 2], vec![1, 2, 3], vec![2, 3, 4], vec![7, 8, 9]]
    );
    let after = objects::tuple_buffer_stats();
    // The callback's tuples share one buffer (from the allocator, then the cache), the one
    // it keeps takes it, and the outer tuple's buffer is cached after the callback.
    assert_eq!(after.cached, base.cached + 1);
    assert_eq!(after.from_allocator - base.from_allocator, 2);
    assert_eq!(after.from_free_list - base.from_free_list, 3);
    let keep = kept.borrow_mut().take().unwrap();
    assert_eq!(ints(&keep), vec![7, 8, 9]);
    drop(keep);
    assert_eq!(objects::tuple_buffer_stats().cached, base.cached + 2);
    gencollect::collect();
}

// ----- self-containing and deep structures --------------------------------------------------

#[test]
fn self_containing_containers_print_compare_and_hash() {
    let l = Value::list([int(1)]);
    l.append(l.clone()).unwrap();
    let d = Value::dict();
    d.set_item(s("self"), d.clone()).unwrap();
    d.set_item(s("l"), l.clone()).unwrap();
    l.append(d.clone()).unwrap();
    let t = Value::tuple([l.clone(), d.clone()]);
    l.append(t.clone()).unwrap();
    assert_eq!(
        format!("{l:?}"),
        "[1, [...], {'self': {...}, 'l': [...]}, ([...], {'self': {...}, 'l': [...]})]"
    );
    assert_eq!(
        format!("{d}"),
        "{'self': {...}, 'l': [1, [...], {...}, ([...], {...})]}"
    );
    assert_eq!(l.equals(&l), Ok(true));
    assert!(l == l);
    assert_eq!(d.equals(&d), Ok(true));
    assert_eq!(t.equals(&t), Ok(true));
    assert_eq!(l.compare(CmpOp::Le, &l), Ok(true));
    assert_eq!(l.compare(CmpOp::Lt, &l), Ok(false));
    assert!(matches!(t.hash(), Err(Error::Type(m)) if m == "unhashable type: 'list'"));
    assert_eq!(l.contains(&d), Ok(true));
    assert_eq!(l.contains(&l), Ok(true));
    // Two distinct self-containing lists: Python's RecursionError.
    let m = Value::list([int(1)]);
    m.append(m.clone()).unwrap();
    assert_eq!(l.equals(&m), Ok(false), "different lengths");
    let a = Value::list([]);
    a.append(a.clone()).unwrap();
    let b = Value::list([]);
    b.append(b.clone()).unwrap();
    assert_eq!(a.equals(&b), Err(Error::Recursion));
    assert!(a != b, "PartialEq hides the error");
    assert_eq!(a.compare(CmpOp::Lt, &b), Err(Error::Recursion));
    assert_eq!(a.contains(&b), Err(Error::Recursion));
    // A dict whose value is itself, compared with an equal-looking other.
    let e = Value::dict();
    e.set_item(s("self"), e.clone()).unwrap();
    let f = Value::dict();
    f.set_item(s("self"), f.clone()).unwrap();
    assert_eq!(e.equals(&f), Err(Error::Recursion));
    // Break the cycles and check the collector reclaims none of what is still held.
    for v in [&l, &d, &a, &b, &e, &f, &m] {
        v.clear().unwrap();
    }
    drop(t);
    gencollect::collect();
    assert_eq!(format!("{l:?}{d:?}"), "[]{}");
}

#[test]
#[cfg_attr(miri, ignore = "slow under Miri: recursion to MAX_DEPTH (500)")]
fn deep_dicts_tuples_and_instances_hit_the_depth_limit_on_a_small_stack() {
    let depth = n(100_000, 2_000);
    on_small_stack(256, move || {
        let deep_dict = |n: usize| {
            let mut v = Value::dict();
            for _ in 0..n {
                let d = Value::dict();
                d.set_item(s("k"), v).unwrap();
                v = d;
            }
            v
        };
        let (a, b) = (deep_dict(depth), deep_dict(depth));
        assert_eq!(a.equals(&b), Err(Error::Recursion));
        assert_eq!(
            a.compare(CmpOp::Lt, &b).unwrap_err().python_name(),
            "TypeError"
        );
        let r = a.repr();
        assert!(r.starts_with("{'k': {'k': ") && r.contains("{...}"));
        assert_eq!(r.matches("'k'").count(), objects::MAX_DEPTH);
        // Lists, compared for order (which snapshots each level).
        let deep_list = |n: usize| (0..n).fold(Value::list([]), |v, _| Value::list([v]));
        let (c, d) = (deep_list(depth), deep_list(depth));
        assert_eq!(c.compare(CmpOp::Lt, &d), Err(Error::Recursion));
        assert_eq!(c.contains(&d), Err(Error::Recursion));
        // Sets holding deep tuples.
        let deep_tuple = |n: usize| (0..n).fold(int(0), |v, _| Value::tuple([v]));
        let set = Value::set([]).unwrap();
        assert_eq!(set.insert(deep_tuple(depth)), Err(Error::Recursion));
        assert_eq!(set.len(), Ok(0));
        // A chain of instances, each the attribute of the next.
        let class = Value::class("Node");
        let mut chain = Value::none();
        for _ in 0..depth {
            let node = class.instantiate().unwrap();
            node.set_attr("next", chain).unwrap();
            chain = node;
        }
        assert!(chain.repr().starts_with("<Node object at 0x"));
        drop((a, b, c, d, chain, set)); // deep drops
    });
}

#[test]
fn nested_dicts_with_deep_tuple_keys_compare_on_a_small_stack() {
    // Dict lookups inside a dict comparison start their key comparison at depth 0, so
    // comparing two dicts nested MAX_DEPTH deep, each keyed by a tuple nested almost
    // MAX_DEPTH deep, goes about 2 * MAX_DEPTH frames deep.
    let levels = if cfg!(miri) {
        20
    } else {
        objects::MAX_DEPTH / 2 - 5
    };
    let key_depth = if cfg!(miri) {
        20
    } else {
        objects::MAX_DEPTH - 5
    };
    on_small_stack(1024, move || {
        let build = || {
            let key = (0..key_depth).fold(int(0), |v, _| Value::tuple([v]));
            let mut v = int(1);
            for _ in 0..levels {
                let d = Value::dict();
                // A distinct but equal key at every level and in each structure.
                d.set_item(Value::tuple([key.clone()]), v).unwrap();
                v = d;
            }
            v
        };
        let (a, b) = (build(), build());
        assert_eq!(a.equals(&b), Ok(true));
    });
}

#[test]
fn str_repr_escapes_what_python_escapes() {
    assert_eq!(s("\u{a0}\u{ad}\u{2028}").repr(), r"'\xa0\xad\u2028'");
}

#[test]
fn str_and_bytes_reprs_pick_quotes_and_escape_controls() {
    assert_eq!(s("it's").repr(), "\"it's\"");
    assert_eq!(s("'\"").repr(), r#"'\'"'"#);
    assert_eq!(
        s("a\\b\n\t\r\x00\x7f\u{85}é").repr(),
        r"'a\\b\n\t\r\x00\x7f\x85é'"
    );
    assert_eq!(Value::bytes(b"\x00'\xff\"").repr(), r#"b'\x00\'\xff"'"#);
    assert_eq!(Value::bytes(b"'").repr(), "b\"'\"");
    assert_eq!(s("héllo").len(), Ok(5));
    assert_eq!(Value::bytes("héllo".as_bytes()).len(), Ok(6));
    assert!(!s("").truthy());
}

#[test]
fn floats_print_as_pythons() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (123456789012345680.0, "1.2345678901234568e+17"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
        (0.1 + 0.2, "0.30000000000000004"),
    ];
    for &(f, r) in cases {
        assert_eq!(Value::float(f).repr(), r, "{f}");
    }
}

#[test]
fn indexes_out_of_range_and_wrong_types_are_errors() {
    let l = Value::list([int(1), int(2)]);
    assert!(matches!(l.get_item(&int(2)), Err(Error::Index(_))));
    assert!(matches!(l.get_item(&int(-3)), Err(Error::Index(_))));
    assert!(matches!(l.get_item(&int(i64::MIN)), Err(Error::Index(_))));
    assert!(matches!(l.get_item(&int(i64::MAX)), Err(Error::Index(_))));
    assert_eq!(l.get_item(&Value::from(true)), Ok(int(2)), "True is 1");
    assert!(matches!(
        l.get_item(&Value::float(0.0)),
        Err(Error::Type(_))
    ));
    assert!(matches!(l.set_item(int(5), int(0)), Err(Error::Index(_))));
    assert!(matches!(l.del_item(&int(-5)), Err(Error::Index(_))));
    let t = Value::tuple([int(1)]);
    assert!(matches!(t.get_item(&int(-2)), Err(Error::Index(_))));
    assert!(matches!(t.set_item(int(0), int(1)), Err(Error::Type(_))));
    assert!(matches!(Value::list([]).pop(), Err(Error::Index(_))));
    assert!(matches!(int(1).len(), Err(Error::Type(_))));
    assert!(matches!(
        Value::none().get_attr("x"),
        Err(Error::Attribute(_))
    ));
    assert!(matches!(
        int(1).set_attr("x", int(1)),
        Err(Error::Attribute(_))
    ));
    assert!(matches!(int(1).instantiate(), Err(Error::Type(_))));
    assert!(matches!(s("a").add(&int(1)), Err(Error::Type(_))));
    assert!(Value::dict().update(&Value::list([])).is_err());
    assert!(matches!(s("abc").contains(&int(1)), Err(Error::Type(_))));
    assert_eq!(s("abc").contains(&s("bc")), Ok(true));
    assert!(matches!(
        Value::dict().set_item(Value::dict(), int(1)),
        Err(Error::Type(m)) if m == "unhashable type: 'dict'"
    ));
    assert!(matches!(
        Value::set([Value::tuple([Value::list([])])]),
        Err(Error::Type(m)) if m == "unhashable type: 'list'"
    ));
}

#[test]
fn a_huge_int_index_is_an_index_error() {
    let l = Value::list([int(1)]);
    let huge = Value::big_int(BigInt::from(1) << 100usize);
    assert!(
        matches!(l.get_item(&huge), Err(Error::Index(_))),
        "{:?}",
        l.get_item(&huge)
    );
}

// ----- tracking counts ----------------------------------------------------------------------

#[test]
fn a_dict_stays_tracked_while_it_holds_a_list_even_if_a_tuple_changes_tracking() {
    gencollect::collect();
    let d = Value::dict();
    let l = Value::list([d.clone()]);
    d.set_item(int(0), l.clone()).unwrap(); // the cycle d -> l -> d
    let t = Value::tuple([int(1)]);
    assert!(!t.is_tracked());
    d.set_item(int(1), t.clone()).unwrap();
    if let Value::Tuple(g) = &t {
        refcount::Gc::track(g); // legal: "tracking may happen anywhere"
    }
    d.del_item(&int(1)).unwrap();
    assert!(d.is_tracked(), "d still holds the list");
    let wd = match &d {
        Value::Dict(g) => refcount::Gc::downgrade(g),
        _ => unreachable!(),
    };
    drop((d, l, t));
    gencollect::collect();
    assert!(wd.upgrade().is_none(), "the cycle was collected");
}

#[test]
fn dict_tracking_follows_containers_in_and_out() {
    let d = Value::dict();
    let l = Value::list([]);
    assert!(!d.is_tracked());
    d.set_item(int(1), l.clone()).unwrap();
    d.set_item(l.repr().as_str().into(), int(1)).unwrap();
    assert!(d.is_tracked());
    d.set_item(int(2), Value::tuple([l.clone()])).unwrap(); // a tracked tuple
    d.set_item(int(1), int(0)).unwrap(); // the list goes, the tuple stays
    assert!(d.is_tracked());
    d.set_item(int(2), Value::tuple([int(3)])).unwrap(); // an untracked tuple replaces it
    assert!(!d.is_tracked());
    // A tuple key holding an empty dict (which may be tracked later).
    let key = Value::tuple([Value::dict()]);
    assert!(matches!(d.set_item(key, int(1)), Err(Error::Type(_))));
    assert!(!d.is_tracked(), "a failed set_item changes nothing");
    let c = Value::class("C");
    d.set_item(c.clone(), int(1)).unwrap();
    assert!(d.is_tracked(), "a class key");
    d.del_item(&c).unwrap();
    assert!(!d.is_tracked());
    d.set_item(int(5), l.clone()).unwrap();
    let cp = d.copy().unwrap();
    assert!(cp.is_tracked());
    cp.clear().unwrap();
    assert!(!cp.is_tracked());
    d.update(&cp).unwrap();
    assert!(d.is_tracked());
    let fk = Value::dict_from_keys([int(1), Value::tuple([int(2)])]).unwrap();
    assert!(!fk.is_tracked());
    assert_eq!(format!("{fk:?}"), "{1: None, (2,): None}");
}

// ----- threads ------------------------------------------------------------------------------

#[test]
fn each_thread_has_its_own_values_caches_and_collections() {
    let threads = n(4, 2);
    let per = n(2000, 20) as i64;
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            std::thread::spawn(move || {
                let name = Value::interned("shared-name");
                assert!(name.is(&Value::interned("shared-name")));
                gencollect::collect();
                gencollect::disable();
                let d = Value::dict();
                for i in 0..per {
                    let t = Value::tuple([int(i), Value::float(i as f64 + 0.5), int(k as i64)]);
                    d.set_item(int(i), t.clone()).unwrap();
                    let cycle = Value::list([]);
                    cycle.append(cycle.clone()).unwrap();
                    if i % 3 == 0 {
                        d.del_item(&int(i)).unwrap();
                    }
                }
                let collected = gencollect::collect();
                gencollect::enable();
                assert_eq!(collected, per as usize, "one self-containing list per item");
                let sum: i64 = d
                    .items()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        k.as_i64().unwrap() + v.get_item(&int(2)).unwrap().as_i64().unwrap()
                    })
                    .sum();
                let c = objects::tuple_buffer_stats();
                (sum, c.cached, name.id())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (k, &(sum, cached, _)) in results.iter().enumerate() {
        let expected: i64 = (0..per).filter(|i| i % 3 != 0).map(|i| i + k as i64).sum();
        assert_eq!(sum, expected);
        assert_eq!(
            cached, 0,
            "the thread's full collection emptied its own cache"
        );
    }
}
