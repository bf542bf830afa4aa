//! Property tests: random nested values against a plain model of them. The repr of a built
//! value is the model's, a value equals its copy and hashes like it, dict keys keep
//! Python's first-key-wins order, and once nothing refers to the values (cycles included,
//! after a collection) the heap holds exactly the bytes it held before.

use gencollect as gc;
use objects::Value;
use proptest::prelude::*;

/// A hashable key.
#[derive(Clone, Debug)]
enum Key {
    Int(i64),
    Str(String),
    Tuple(Vec<Key>),
}

/// A value of the model.
#[derive(Clone, Debug)]
enum M {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<M>),
    List(Vec<M>),
    Dict(Vec<(Key, M)>),
}

fn key() -> impl Strategy<Value = Key> {
    let leaf = prop_oneof![
        (-300i64..300).prop_map(Key::Int),
        "[a-c]{0,3}".prop_map(Key::Str),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Key::Tuple)
    })
}

fn model() -> impl Strategy<Value = M> {
    let leaf = prop_oneof![
        Just(M::None),
        any::<bool>().prop_map(M::Bool),
        any::<i64>().prop_map(M::Int),
        (-1000i32..1000).prop_map(|q| M::Float(q as f64 / 4.0)),
        "[a-z ]{0,6}".prop_map(M::Str),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(M::Tuple),
            prop::collection::vec(inner.clone(), 0..5).prop_map(M::List),
            prop::collection::vec((key(), inner), 0..5).prop_map(M::Dict),
        ]
    })
}

fn build_key(k: &Key) -> Value {
    match k {
        Key::Int(i) => Value::from(*i),
        Key::Str(s) => Value::from(s.as_str()),
        Key::Tuple(items) => Value::tuple(items.iter().map(build_key)),
    }
}

fn build(m: &M) -> Value {
    match m {
        M::None => Value::none(),
        M::Bool(b) => Value::from(*b),
        M::Int(i) => Value::from(*i),
        M::Float(f) => Value::from(*f),
        M::Str(s) => Value::from(s.as_str()),
        M::Tuple(items) => Value::tuple(items.iter().map(build)),
        M::List(items) => Value::list(items.iter().map(build)),
        M::Dict(pairs) => {
            let d = Value::dict();
            for (k, v) in pairs {
                d.set_item(build_key(k), build(v)).unwrap();
            }
            d
        }
    }
}

fn key_repr(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Str(s) => format!("'{s}'"),
        Key::Tuple(items) => seq_repr("(", items.iter().map(key_repr).collect(), ")"),
    }
}

fn key_eq(a: &Key, b: &Key) -> bool {
    match (a, b) {
        (Key::Int(x), Key::Int(y)) => x == y,
        (Key::Str(x), Key::Str(y)) => x == y,
        (Key::Tuple(x), Key::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| key_eq(a, b))
        }
        _ => false,
    }
}

fn seq_repr(open: &str, items: Vec<String>, close: &str) -> String {
    let comma = if open == "(" && items.len() == 1 {
        ","
    } else {
        ""
    };
    format!("{open}{}{comma}{close}", items.join(", "))
}

/// Python's repr of the model, written independently of the crate.
fn repr(m: &M) -> String {
    match m {
        M::None => "None".into(),
        M::Bool(b) => if *b { "True" } else { "False" }.into(),
        M::Int(i) => i.to_string(),
        M::Float(f) => format!("{f:?}"), // quarters: Rust's and Python's forms agree
        M::Str(s) => format!("'{s}'"),
        M::Tuple(items) => seq_repr("(", items.iter().map(repr).collect(), ")"),
        M::List(items) => seq_repr("[", items.iter().map(repr).collect(), "]"),
        M::Dict(pairs) => {
            // First key wins its place; the last value wins.
            let mut entries: Vec<(&Key, &M)> = Vec::new();
            for (k, v) in pairs {
                match entries.iter_mut().find(|(ek, _)| key_eq(ek, k)) {
                    Some(e) => e.1 = v,
                    None => entries.push((k, v)),
                }
            }
            let items = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", key_repr(k), repr(v)))
                .collect();
            seq_repr("{", items, "}")
        }
    }
}

/// Bytes in use once a full collection emptied the free lists.
fn settled_bytes() -> usize {
    gc::collect();
    refcount::alloc_stats().bytes_in_use
}

proptest! {
    // (No failure file: Miri's isolation has no working directory to find it in.)
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn values_match_the_model_and_are_freed(ms in prop::collection::vec(model(), 1..6)) {
        let _warm = (Value::from(0), Value::tuple([]));
        let before = settled_bytes();
        {
            let values: Vec<Value> = ms.iter().map(build).collect();
            for (m, v) in ms.iter().zip(&values) {
                prop_assert_eq!(v.repr(), repr(m));
                let copy = build(m);
                prop_assert_eq!(v.equals(&copy), Ok(true));
                prop_assert!(v == &copy);
                if let (Ok(h), Ok(hc)) = (v.hash(), copy.hash()) {
                    prop_assert_eq!(h, hc, "equal values hash alike");
                }
            }
        }
        prop_assert_eq!(settled_bytes(), before, "every object was freed");
    }

    #[test]
    fn cycles_through_random_values_are_collected(
        ms in prop::collection::vec(model(), 1..5),
        links in prop::collection::vec((0usize..8, 0usize..8), 0..8),
    ) {
        let _warm = (Value::from(0), Value::tuple([]));
        let before = settled_bytes();
        {
            let lists: Vec<Value> = ms.iter().map(|m| Value::list([build(m)])).collect();
            for (a, b) in links {
                let (a, b) = (&lists[a % lists.len()], &lists[b % lists.len()]);
                a.append(b.clone()).unwrap();
            }
        }
        prop_assert_eq!(settled_bytes(), before, "the cycles were collected");
    }
}
