//! The tiny Python object model and the helpers shared by the port of CPython's
//! `Lib/test/test_gc.py` (`test_gc.rs`, `test_gc_inspect.rs`, `test_gc_callbacks.rs`; the
//! mapping of every CPython test is in `docs/test_gc-port.md`).
//!
//! Python objects are modelled with a small object graph ([`Value`], [`List`], [`Tuple`],
//! [`Dict`], [`Class`], [`Instance`], [`Function`], [`Method`]) built from `Gc` and
//! `RefCell`; every `Gc` object counts 1 in `collect()`'s return value, so the expected
//! counts of the tests are exact for this model (they differ from CPython's wherever CPython
//! has extra hidden objects, such as instance `__dict__`s or function code objects).
//!
//! A directory module (`pymodel/mod.rs`), so that cargo does not build it as a test target.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gcrt_derive::Trace;
use gencollect::{collect, get_objects};
use refcount::{Gc, Tracer, Weak};

// ----- a tiny Python object model -------------------------------------------------------

/// A Python value: immediate (`None`, ints, strings) or a reference to a heap object.
#[derive(Trace, Clone)]
#[trace(crate = "refcount")]
pub(crate) enum Value {
    Int(i64),
    Str(&'static str),
    List(Gc<List>),
    Tuple(Gc<Tuple>),
    Dict(Gc<Dict>),
    Class(Gc<Class>),
    Instance(Gc<Instance>),
    Function(Gc<Function>),
    Method(Gc<Method>),
    Ouch(Gc<Ouch>),
}

/// `list`: mutable sequence.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct List {
    pub(crate) items: RefCell<Vec<Value>>,
}

/// `tuple`: immutable sequence.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Tuple {
    pub(crate) items: Vec<Value>,
}

/// `dict`: an association list (keys compare by identity or value, good enough here).
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Dict {
    pub(crate) items: RefCell<Vec<(Value, Value)>>,
}

/// A class: its namespace and its MRO, which starts with the class itself (so every
/// class is in a reference cycle, as in CPython).
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Class {
    pub(crate) name: &'static str,
    pub(crate) dict: Gc<Dict>,
    pub(crate) mro: RefCell<Option<Gc<Tuple>>>,
}

/// An instance: its class and its `__dict__`.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Instance {
    pub(crate) class: Gc<Class>,
    pub(crate) dict: Gc<Dict>,
}

/// A function and its globals.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Function {
    pub(crate) name: &'static str,
    pub(crate) globals: Gc<Dict>,
}

/// A bound method.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Method {
    pub(crate) func: Gc<Function>,
    pub(crate) receiver: Value,
}

pub(crate) fn new_list(items: Vec<Value>) -> Gc<List> {
    Gc::new(List {
        items: RefCell::new(items),
    })
}

pub(crate) fn new_dict() -> Gc<Dict> {
    Gc::new(Dict {
        items: RefCell::new(Vec::new()),
    })
}

fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => false,
    }
}

pub(crate) fn dict_set(d: &Gc<Dict>, key: Value, value: Value) {
    let mut items = d.items.borrow_mut();
    match items.iter_mut().find(|(k, _)| same_key(k, &key)) {
        Some(slot) => slot.1 = value,
        None => items.push((key, value)),
    }
}

pub(crate) fn new_class(name: &'static str, bases: &[&Gc<Class>]) -> Gc<Class> {
    let class = Gc::new(Class {
        name,
        dict: new_dict(),
        mro: RefCell::new(None),
    });
    let mut mro = vec![Value::Class(class.clone())];
    mro.extend(bases.iter().map(|b| Value::Class((*b).clone())));
    *class.mro.borrow_mut() = Some(Gc::new(Tuple { items: mro }));
    class
}

pub(crate) fn new_instance(class: &Gc<Class>) -> Gc<Instance> {
    Gc::new(Instance {
        class: class.clone(),
        dict: new_dict(),
    })
}

pub(crate) fn setattr(obj: &Gc<Instance>, name: &'static str, value: Value) {
    dict_set(&obj.dict, Value::Str(name), value);
}

// ----- shared helpers ----------------------------------------------------------------------

/// Counts the drops of one kind of object.
#[derive(Clone, Default)]
pub(crate) struct Counter(Rc<Cell<usize>>);

impl Counter {
    pub(crate) fn bump(&self) {
        self.0.set(self.0.get() + 1);
    }
    pub(crate) fn get(&self) -> usize {
        self.0.get()
    }
}

/// A generic node with out-edges and a drop counter.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Node {
    pub(crate) edges: RefCell<Vec<Gc<Node>>>,
    pub(crate) drops: Counter,
}

// SAFETY: holds no handles.
unsafe impl refcount::Trace for Counter {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.bump();
    }
}

pub(crate) fn node(drops: &Counter) -> Gc<Node> {
    Gc::new(Node {
        edges: RefCell::new(Vec::new()),
        drops: drops.clone(),
    })
}

pub(crate) fn link(from: &Gc<Node>, to: &Gc<Node>) {
    from.edges.borrow_mut().push(to.clone());
}

/// Whether `obj` is among the tracked objects of generation `g`.
pub(crate) fn in_generation<T: refcount::Trace + 'static>(obj: &Gc<T>, g: usize) -> bool {
    get_objects(Some(g)).unwrap().iter().any(|o| *o == *obj)
}

pub(crate) fn small() -> bool {
    cfg!(miri)
}

// ----- objects of CPython's tests that the model or several files need ------------------

/// CPython's `Ouch`: counts its drops and runs a full collection every `every` drops.
/// Used by `test_trashcan` (`test_gc.rs`); here because [`Value::Ouch`] holds it.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Ouch {
    pub(crate) drops: Counter,
    pub(crate) every: usize,
    pub(crate) nested: Counter,
}

impl Drop for Ouch {
    fn drop(&mut self) {
        self.drops.bump();
        if self.drops.get().is_multiple_of(self.every) {
            self.nested.bump();
            collect();
        }
    }
}

/// `C1055820`: an object in a self-loop, with weak handles to its siblings. Used by
/// `test_bug1055820b` (`test_gc_inspect.rs`), `test_callback_collect_garbage` and
/// `test_bug1055820d` (`test_gc_callbacks.rs`).
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct C1055820 {
    pub(crate) i: i64,
    pub(crate) loop_: RefCell<Option<Gc<C1055820>>>,
    pub(crate) keep: RefCell<Option<Gc<C1055820>>>,
    /// Weak handles read by `Drop` (stands in for CPython's weakref callback / `__del__`).
    pub(crate) on_drop: RefCell<Vec<Weak<C1055820>>>,
    pub(crate) ouch: Rc<RefCell<Vec<Option<i64>>>>,
}

impl C1055820 {
    pub(crate) fn new(i: i64, ouch: &Rc<RefCell<Vec<Option<i64>>>>) -> Gc<C1055820> {
        let c = Gc::new(C1055820 {
            i,
            loop_: RefCell::new(None),
            keep: RefCell::new(None),
            on_drop: RefCell::new(Vec::new()),
            ouch: ouch.clone(),
        });
        *c.loop_.borrow_mut() = Some(c.clone());
        c
    }
}

impl Drop for C1055820 {
    fn drop(&mut self) {
        let watched = self.on_drop.borrow();
        if !watched.is_empty() {
            // ouch[:] = [wr() for wr in WRs]: materialize strong handles if possible.
            *self.ouch.borrow_mut() = watched.iter().map(|w| w.upgrade().map(|c| c.i)).collect();
        }
    }
}
