//! Helpers shared by the hostile tests of the object types. Each test file uses some of them.
#![allow(dead_code)]

use objects::Value;
use refcount::WeakRef;

pub(crate) fn int(v: i64) -> Value {
    Value::int(v)
}

pub(crate) fn s(v: &str) -> Value {
    Value::str(v)
}

/// The items of a list or tuple of ints.
pub(crate) fn ints(v: &Value) -> Vec<i64> {
    v.to_vec()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().expect("an int"))
        .collect()
}

/// A weak reference on the object behind `v` whose callback runs `f`.
pub(crate) fn on_death(v: &Value, f: impl FnOnce() + 'static) -> Box<dyn std::any::Any> {
    match v {
        Value::Instance(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::List(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::Dict(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::Tuple(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::Int(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::Float(g) => Box::new(WeakRef::new(g, move |_| f())),
        Value::Str(g) => Box::new(WeakRef::new(g, move |_| f())),
        _ => panic!("no weak reference to {v:?}"),
    }
}
