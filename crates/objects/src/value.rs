//! [`Value`]: a dynamically typed value, the way an interpreter holds Python's objects.

use gcrt_derive::Trace;
use num_bigint::BigInt;
use refcount::{AnyGc, Gc};

use crate::class::{Class, Instance};
use crate::containers::{Dict, List, Set, Tuple};
use crate::int::{Float, Int};
use crate::text::{Bytes, Str};

/// A dynamically typed value: `None`, a bool, or a handle to one of the heap's built-in
/// objects.
///
/// Cloning a `Value` clones the handle (the object is shared, as a Python name binding
/// shares it); equality, hashing and ordering are Python's; [`Debug`](core::fmt::Debug) is
/// `repr()` and [`Display`](core::fmt::Display) is `str()`.
///
/// ```
/// use objects::Value;
///
/// let l = Value::list([Value::from(1), Value::from("a"), Value::tuple([Value::from(2)])]);
/// let d = Value::dict();
/// d.set_item(Value::from("k"), Value::none()).unwrap();
/// l.append(d).unwrap();
/// assert_eq!(format!("{l:?}"), "[1, 'a', (2,), {'k': None}]");
/// l.append(l.clone()).unwrap(); // a list that contains itself
/// assert_eq!(format!("{l:?}"), "[1, 'a', (2,), {'k': None}, [...]]");
/// # l.del_item(&Value::from(-1)).unwrap();
/// ```
#[derive(Clone, Default, Trace)]
#[trace(crate = "refcount")]
pub enum Value {
    /// `None`.
    #[default]
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An `int`.
    Int(Gc<Int>),
    /// A `float`.
    Float(Gc<Float>),
    /// A `str`.
    Str(Gc<Str>),
    /// A `bytes`.
    Bytes(Gc<Bytes>),
    /// A `tuple`.
    Tuple(Gc<Tuple>),
    /// A `list`.
    List(Gc<List>),
    /// A `dict`.
    Dict(Gc<Dict>),
    /// A `set`.
    Set(Gc<Set>),
    /// A class.
    Class(Gc<Class>),
    /// An instance of a class.
    Instance(Gc<Instance>),
}

impl Value {
    /// `None`.
    pub fn none() -> Value {
        Value::None
    }

    /// An int: the shared, immortal object for -5..=256.
    ///
    /// ```
    /// use objects::Value;
    /// assert!(Value::int(7).is(&Value::int(7)), "small ints are cached");
    /// assert!(!Value::int(1000).is(&Value::int(1000)));
    /// ```
    pub fn int(v: i64) -> Value {
        Value::Int(Int::new(v))
    }

    /// An int of any size.
    pub fn big_int(v: BigInt) -> Value {
        Value::Int(Int::from_big(v))
    }

    /// A float.
    pub fn float(v: f64) -> Value {
        Value::Float(Float::new(v))
    }

    /// A string (not interned).
    pub fn str(text: &str) -> Value {
        Value::Str(Str::new(text))
    }

    /// The interned string equal to `text`: one immortal object per distinct text and
    /// thread (`sys.intern`).
    ///
    /// ```
    /// use objects::Value;
    /// assert!(Value::interned("name").is(&Value::interned("name")));
    /// assert!(!Value::str("name").is(&Value::str("name")));
    /// ```
    pub fn interned(text: &str) -> Value {
        Value::Str(Str::intern(text))
    }

    /// A bytes object.
    pub fn bytes(data: &[u8]) -> Value {
        Value::Bytes(Bytes::new(data))
    }

    /// A tuple of `items`: the empty tuple is one immortal object, and a tuple whose items
    /// can never be part of a cycle is not tracked.
    pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(Tuple::new(items.into_iter().collect()))
    }

    /// A list of `items`.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(List::new(items.into_iter().collect()))
    }

    /// An empty dict (not tracked until a container is stored in it).
    pub fn dict() -> Value {
        Value::Dict(Dict::new())
    }

    /// A set of `items`, or a `TypeError` if one is unhashable.
    pub fn set(items: impl IntoIterator<Item = Value>) -> crate::Result<Value> {
        let set = Set::new();
        let v = Value::Set(set);
        for item in items {
            v.insert(item)?;
        }
        Ok(v)
    }

    /// Python's type name: `'int'`, `'list'`, or the class's name for an instance.
    pub fn type_name(&self) -> String {
        match self {
            Value::Instance(i) => i.class().name().to_string(),
            other => other.builtin_type_name().to_string(),
        }
    }

    pub(crate) fn builtin_type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Class(_) => "type",
            Value::Instance(_) => "object",
        }
    }

    /// The object behind the value, for identity and the collector's inspection functions;
    /// `None` for `None` and bools, which are not heap objects here.
    pub fn object(&self) -> Option<AnyGc> {
        Some(match self {
            Value::None | Value::Bool(_) => return None,
            Value::Int(g) => AnyGc::from(g.clone()),
            Value::Float(g) => AnyGc::from(g.clone()),
            Value::Str(g) => AnyGc::from(g.clone()),
            Value::Bytes(g) => AnyGc::from(g.clone()),
            Value::Tuple(g) => AnyGc::from(g.clone()),
            Value::List(g) => AnyGc::from(g.clone()),
            Value::Dict(g) => AnyGc::from(g.clone()),
            Value::Set(g) => AnyGc::from(g.clone()),
            Value::Class(g) => AnyGc::from(g.clone()),
            Value::Instance(g) => AnyGc::from(g.clone()),
        })
    }

    /// The value whose object is `obj` (as the collector's inspection functions return
    /// them), or `None` if `obj` is not one of this crate's objects.
    pub fn from_object(obj: AnyGc) -> Option<Value> {
        macro_rules! try_types {
            ($obj:ident: $($variant:ident($ty:ty)),*) => {$(
                let $obj = match $obj.downcast::<$ty>() {
                    Ok(g) => return Some(Value::$variant(g)),
                    Err(o) => o,
                };
            )*};
        }
        try_types!(obj: Int(Int), Float(Float), Str(Str), Bytes(Bytes), Tuple(Tuple),
            List(List), Dict(Dict), Set(Set), Class(Class), Instance(Instance));
        let _ = obj;
        None
    }

    /// The address of the object behind the value (`id()`); `None` and bools have fixed
    /// small ids of their own.
    pub fn id(&self) -> usize {
        match self {
            Value::None => 1,
            Value::Bool(b) => 2 + *b as usize,
            Value::Int(g) => Gc::addr(g),
            Value::Float(g) => Gc::addr(g),
            Value::Str(g) => Gc::addr(g),
            Value::Bytes(g) => Gc::addr(g),
            Value::Tuple(g) => Gc::addr(g),
            Value::List(g) => Gc::addr(g),
            Value::Dict(g) => Gc::addr(g),
            Value::Set(g) => Gc::addr(g),
            Value::Class(g) => Gc::addr(g),
            Value::Instance(g) => Gc::addr(g),
        }
    }

    /// Identity (`is`): the same object, or both `None`, or the same bool.
    pub fn is(&self, other: &Value) -> bool {
        self.id() == other.id()
    }

    /// Whether the value is tracked by the cycle collector (`gc.is_tracked`).
    pub fn is_tracked(&self) -> bool {
        match self {
            Value::Tuple(g) => Gc::is_tracked(g),
            Value::List(g) => Gc::is_tracked(g),
            Value::Dict(g) => Gc::is_tracked(g),
            Value::Set(g) => Gc::is_tracked(g),
            Value::Class(g) => Gc::is_tracked(g),
            Value::Instance(g) => Gc::is_tracked(g),
            _ => false,
        }
    }

    /// Whether a container holding this value may be left untracked (CPython's
    /// `_PyObject_GC_MAY_BE_TRACKED` negated): atomic values and untracked tuples.
    pub(crate) fn is_atomic(&self) -> bool {
        match self {
            Value::Tuple(t) => t.is_atomic(),
            Value::List(_)
            | Value::Dict(_)
            | Value::Set(_)
            | Value::Class(_)
            | Value::Instance(_) => false,
            _ => true,
        }
    }

    /// Python's truth value (`bool(v)`).
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => !i.is_zero(),
            Value::Float(f) => f.get() != 0.0,
            Value::Str(s) => !s.as_str().is_empty(),
            Value::Bytes(b) => !b.as_bytes().is_empty(),
            _ => self.len().map(|n| n != 0).unwrap_or(true),
        }
    }

    /// The value as an `i64`, for an int (or bool) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => i.to_i64(),
            _ => None,
        }
    }

    /// The value as an `f64`, for a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(f.get()),
            _ => None,
        }
    }

    /// The text of a str.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::str(v)
    }
}

impl From<BigInt> for Value {
    fn from(v: BigInt) -> Value {
        Value::big_int(v)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Value {
        Value::None
    }
}
