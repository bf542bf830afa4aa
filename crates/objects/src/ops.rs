//! The operations on [`Value`]s: comparisons, hashing, item and attribute access, the
//! containers' methods and arithmetic. Each returns an [`Error`] where Python raises.
//!
//! A container's contents are never dropped while it is borrowed: a mutation takes the
//! replaced values out and drops them after the borrow ends, since dropping a value may run
//! code (a weak-reference callback, say) that reads the container.

use refcount::Gc;

use crate::Value;
use crate::class::{Class, Instance};
use crate::compare::{self, CmpOp, borrow};
use crate::containers::{Dict, List, Tuple};
use crate::error::{Error, Result};
use crate::int::{Float, int_arith};
use crate::text::{Bytes, Str};

fn borrow_mut<T>(c: &core::cell::RefCell<T>) -> Result<core::cell::RefMut<'_, T>> {
    c.try_borrow_mut().map_err(|_| Error::Busy("a container"))
}

/// The position `index` names in a sequence of `len` items (negative counts from the end).
fn position(index: &Value, len: usize, what: &str) -> Result<usize> {
    if let (Value::Int(_), None) = (index, index.as_i64()) {
        return Err(Error::Index(
            "cannot fit 'int' into an index-sized integer".into(),
        ));
    }
    let Some(i) = index.as_i64() else {
        return Err(Error::Type(format!(
            "{what} indices must be integers or slices, not {}",
            index.type_name()
        )));
    };
    let i = if i < 0 { i + len as i64 } else { i };
    if i < 0 || i >= len as i64 {
        return Err(Error::Index(format!("{what} index out of range")));
    }
    Ok(i as usize)
}

impl Value {
    /// Python's `==`, with the errors that [`PartialEq`] hides: nesting too deep, or a
    /// container being changed meanwhile.
    pub fn equals(&self, other: &Value) -> Result<bool> {
        compare::eq(self, other, 0)
    }

    /// Python's `hash()`: equal values hash alike (`hash(1) == hash(1.0) == hash(True)`);
    /// a `TypeError` for lists, dicts and sets.
    ///
    /// ```
    /// use objects::Value;
    /// assert_eq!(Value::from(1.0).hash(), Value::from(1).hash());
    /// assert_eq!(Value::from(-1).hash(), Ok(-2));
    /// assert!(Value::list([]).hash().is_err());
    /// ```
    pub fn hash(&self) -> Result<i64> {
        compare::hash(self, 0)
    }

    /// `self <op> other`, or a `TypeError` where Python defines no order.
    ///
    /// ```
    /// use objects::{CmpOp, Value};
    /// assert_eq!(Value::from(1).compare(CmpOp::Lt, &Value::from(1.5)), Ok(true));
    /// assert!(Value::from(1).compare(CmpOp::Lt, &Value::from("a")).is_err());
    /// ```
    pub fn compare(&self, op: CmpOp, other: &Value) -> Result<bool> {
        compare::compare(op, self, other, 0)
    }

    /// Python's `repr()` (also the value's `Debug`).
    pub fn repr(&self) -> String {
        format!("{self:?}")
    }

    /// `len()` of a str, bytes, tuple, list, dict or set.
    pub fn len(&self) -> Result<usize> {
        Ok(match self {
            Value::Str(s) => s.as_str().chars().count(),
            Value::Bytes(b) => b.as_bytes().len(),
            Value::Tuple(t) => t.items().len(),
            Value::List(l) => borrow(&l.items)?.len(),
            Value::Dict(d) => borrow(&d.table)?.len(),
            Value::Set(s) => borrow(&s.table)?.len(),
            _ => {
                return Err(Error::Type(format!(
                    "object of type '{}' has no len()",
                    self.type_name()
                )));
            }
        })
    }

    /// Whether `len()` is 0 (`Err` for a value without a length).
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    /// `self[key]`: an item of a tuple or list by index, a dict's value by key.
    pub fn get_item(&self, key: &Value) -> Result<Value> {
        match self {
            Value::Tuple(t) => Ok(t.items()[position(key, t.items().len(), "tuple")?].clone()),
            Value::List(l) => {
                let items = borrow(&l.items)?;
                Ok(items[position(key, items.len(), "list")?].clone())
            }
            Value::Dict(_) => self.get(key)?.ok_or_else(|| Error::Key(key.repr())),
            _ => Err(Error::Type(format!(
                "'{}' object is not subscriptable",
                self.type_name()
            ))),
        }
    }

    /// `dict.get(key)`: the value stored under `key`, if any.
    pub fn get(&self, key: &Value) -> Result<Option<Value>> {
        let Value::Dict(d) = self else {
            return Err(self.no_method("get"));
        };
        let hash = key.hash()?;
        let t = borrow(&d.table)?;
        Ok(t.find(hash, key)?.map(|i| t.get(i).value.clone()))
    }

    /// `self[key] = value` on a list (by index) or a dict. A dict is tracked from the
    /// moment a key or value that may be part of a cycle is stored in it.
    pub fn set_item(&self, key: Value, value: Value) -> Result<()> {
        match self {
            Value::List(l) => {
                let old = {
                    let mut items = borrow_mut(&l.items)?;
                    let i = position(&key, items.len(), "list")?;
                    core::mem::replace(&mut items[i], value)
                };
                drop(old);
                Ok(())
            }
            Value::Dict(d) => {
                let hash = key.hash()?;
                let (key_na, value_na) = (!key.is_atomic() as usize, !value.is_atomic() as usize);
                let old = {
                    let mut t = borrow_mut(&d.table)?;
                    match t.find(hash, &key)? {
                        Some(i) => Some(core::mem::replace(&mut t.get_mut(i).value, value)),
                        None => {
                            t.push(hash, key, value);
                            None
                        }
                    }
                };
                match &old {
                    Some(old) => Dict::retrack(d, value_na, !old.is_atomic() as usize),
                    None => Dict::retrack(d, key_na + value_na, 0),
                }
                drop(old);
                Ok(())
            }
            _ => Err(Error::Type(format!(
                "'{}' object does not support item assignment",
                self.type_name()
            ))),
        }
    }

    /// `del self[key]` on a list (by index) or a dict.
    pub fn del_item(&self, key: &Value) -> Result<()> {
        match self {
            Value::List(l) => {
                let old = {
                    let mut items = borrow_mut(&l.items)?;
                    let i = position(key, items.len(), "list")?;
                    items.remove(i)
                };
                drop(old);
                Ok(())
            }
            Value::Dict(d) => {
                let hash = key.hash()?;
                let old = {
                    let mut t = borrow_mut(&d.table)?;
                    match t.find(hash, key)? {
                        Some(i) => t.remove(i),
                        None => return Err(Error::Key(key.repr())),
                    }
                };
                let gone = !old.key.is_atomic() as usize + !old.value.is_atomic() as usize;
                Dict::retrack(d, 0, gone);
                drop(old);
                Ok(())
            }
            _ => Err(Error::Type(format!(
                "'{}' object does not support item deletion",
                self.type_name()
            ))),
        }
    }

    /// `list.append(item)`.
    pub fn append(&self, item: Value) -> Result<()> {
        let Value::List(l) = self else {
            return Err(self.no_method("append"));
        };
        borrow_mut(&l.items)?.push(item);
        Ok(())
    }

    /// `list.pop()`: removes and returns the last item.
    pub fn pop(&self) -> Result<Value> {
        let Value::List(l) = self else {
            return Err(self.no_method("pop"));
        };
        let popped = borrow_mut(&l.items)?.pop();
        popped.ok_or_else(|| Error::Index("pop from empty list".into()))
    }

    /// `set.add(item)`: a set is tracked from its first item.
    pub fn insert(&self, item: Value) -> Result<()> {
        let Value::Set(s) = self else {
            return Err(self.no_method("add"));
        };
        let hash = item.hash()?;
        Gc::track(s);
        let mut t = borrow_mut(&s.table)?;
        if t.find(hash, &item)?.is_none() {
            t.push(hash, item, ());
        }
        Ok(())
    }

    /// `item in self`, for a str (substring), tuple, list, dict (keys) or set.
    pub fn contains(&self, item: &Value) -> Result<bool> {
        match self {
            Value::Str(s) => match item {
                Value::Str(sub) => Ok(s.as_str().contains(sub.as_str())),
                _ => Err(Error::Type(format!(
                    "'in <string>' requires string as left operand, not {}",
                    item.type_name()
                ))),
            },
            Value::Tuple(t) => any_equal(t.items(), item),
            Value::List(l) => {
                let items = borrow(&l.items)?.clone();
                any_equal(&items, item)
            }
            Value::Dict(d) => {
                let hash = item.hash()?;
                Ok(borrow(&d.table)?.find(hash, item)?.is_some())
            }
            Value::Set(s) => {
                let hash = item.hash()?;
                Ok(borrow(&s.table)?.find(hash, item)?.is_some())
            }
            _ => Err(Error::Type(format!(
                "argument of type '{}' is not iterable",
                self.type_name()
            ))),
        }
    }

    /// The items of a tuple, list or set, or the keys of a dict, in order (a snapshot).
    pub fn to_vec(&self) -> Result<Vec<Value>> {
        match self {
            Value::Tuple(t) => Ok(t.items().to_vec()),
            Value::List(l) => Ok(borrow(&l.items)?.clone()),
            Value::Dict(_) | Value::Set(_) => self.keys(),
            _ => Err(Error::Type(format!(
                "'{}' object is not iterable",
                self.type_name()
            ))),
        }
    }

    /// The keys of a dict, or the items of a set, in insertion order.
    pub fn keys(&self) -> Result<Vec<Value>> {
        match self {
            Value::Dict(d) => Ok(borrow(&d.table)?.iter().map(|e| e.key.clone()).collect()),
            Value::Set(s) => Ok(borrow(&s.table)?.iter().map(|e| e.key.clone()).collect()),
            _ => Err(self.no_method("keys")),
        }
    }

    /// The `(key, value)` pairs of a dict, in insertion order.
    pub fn items(&self) -> Result<Vec<(Value, Value)>> {
        let Value::Dict(d) = self else {
            return Err(self.no_method("items"));
        };
        let t = borrow(&d.table)?;
        Ok(t.iter().map(|e| (e.key.clone(), e.value.clone())).collect())
    }

    /// Empties a list, dict or set (`clear()`).
    pub fn clear(&self) -> Result<()> {
        // Each `let` ends its borrow before the old contents are dropped.
        match self {
            Value::List(l) => {
                let old = core::mem::take(&mut *borrow_mut(&l.items)?);
                drop(old);
            }
            Value::Dict(d) => {
                let old = borrow_mut(&d.table)?.take_all();
                let gone = old
                    .iter()
                    .flatten()
                    .map(|e| !e.key.is_atomic() as usize + !e.value.is_atomic() as usize)
                    .sum();
                Dict::retrack(d, 0, gone);
                drop(old);
            }
            Value::Set(s) => {
                let old = borrow_mut(&s.table)?.take_all();
                drop(old);
            }
            _ => return Err(self.no_method("clear")),
        }
        Ok(())
    }

    /// A shallow copy of a list, dict or set (`copy()`): a new container holding the same
    /// objects.
    pub fn copy(&self) -> Result<Value> {
        match self {
            Value::List(l) => {
                // The borrow ends before `List::new`, which may run a collection (and its
                // callbacks, which may change this list).
                let items = borrow(&l.items)?.clone();
                Ok(Value::List(List::new(items)))
            }
            Value::Dict(_) => {
                let d = Value::dict();
                d.update(self)?;
                Ok(d)
            }
            Value::Set(_) => Value::set(self.keys()?),
            _ => Err(self.no_method("copy")),
        }
    }

    /// `dict.update(other)`: stores each of `other`'s entries in this dict.
    pub fn update(&self, other: &Value) -> Result<()> {
        if !matches!(self, Value::Dict(_)) {
            return Err(self.no_method("update"));
        }
        for (k, v) in other.items()? {
            self.set_item(k, v)?;
        }
        Ok(())
    }

    /// `dict.fromkeys(keys)`: a dict mapping each key to `None`.
    pub fn dict_from_keys(keys: impl IntoIterator<Item = Value>) -> Result<Value> {
        let d = Value::dict();
        for k in keys {
            d.set_item(k, Value::None)?;
        }
        Ok(d)
    }

    /// A new class named `name`.
    pub fn class(name: &str) -> Value {
        Value::Class(Class::new(name))
    }

    /// A new instance of a class (`Foo()`).
    pub fn instantiate(&self) -> Result<Value> {
        match self {
            Value::Class(c) => Ok(Value::Instance(Instance::new(c.clone()))),
            _ => Err(Error::Type(format!(
                "'{}' object is not callable",
                self.type_name()
            ))),
        }
    }

    /// `self.name`: an instance's own attribute, else its class's; a class's attribute.
    pub fn get_attr(&self, name: &str) -> Result<Value> {
        let found = match self {
            Value::Instance(i) => match i.get_own(name)? {
                Some(v) => Some(v),
                None => Value::Dict(i.class().dict.clone()).get(&Value::str(name))?,
            },
            Value::Class(c) => Value::Dict(c.dict.clone()).get(&Value::str(name))?,
            _ => None,
        };
        found.ok_or_else(|| {
            Error::Attribute(match self {
                Value::Class(c) => {
                    format!("type object '{}' has no attribute '{name}'", c.name())
                }
                _ => format!("'{}' object has no attribute '{name}'", self.type_name()),
            })
        })
    }

    /// `self.name = value` on an instance or a class. Attribute names are interned.
    pub fn set_attr(&self, name: &str, value: Value) -> Result<()> {
        match self {
            Value::Instance(i) => {
                let old = i.set_own(name, value)?;
                drop(old);
                Ok(())
            }
            Value::Class(c) => Value::Dict(c.dict.clone()).set_item(Value::interned(name), value),
            _ => Err(Error::Attribute(format!(
                "'{}' object has no attribute '{name}'",
                self.type_name()
            ))),
        }
    }

    /// The names of an instance's own attributes (`vars(obj)`'s keys).
    pub fn attr_names(&self) -> Result<Vec<String>> {
        match self {
            Value::Instance(i) => i.attr_names(),
            _ => Err(self.no_method("__dict__")),
        }
    }

    /// `self + other`: numbers, and concatenation of strs, bytes, tuples and lists.
    pub fn add(&self, other: &Value) -> Result<Value> {
        self.arith('+', other)
    }

    /// `self - other` on numbers.
    pub fn sub(&self, other: &Value) -> Result<Value> {
        self.arith('-', other)
    }

    /// `self * other` on numbers.
    pub fn mul(&self, other: &Value) -> Result<Value> {
        self.arith('*', other)
    }

    fn arith(&self, op: char, other: &Value) -> Result<Value> {
        let float = |v: &Value| match v {
            Value::Float(f) => Some(f.get()),
            Value::Int(i) => Some(i.to_f64()),
            Value::Bool(b) => Some(*b as i64 as f64),
            _ => None,
        };
        let int = |v: &Value| match v {
            Value::Int(i) => Some(i.value().clone()),
            Value::Bool(b) => Some(crate::int::IntValue::Small(*b as i64)),
            _ => None,
        };
        if let (Some(a), Some(b)) = (int(self), int(other)) {
            return Ok(Value::Int(int_arith(op, &a, &b)));
        }
        if let (Some(a), Some(b)) = (float(self), float(other)) {
            return Ok(Value::Float(Float::new(match op {
                '+' => a + b,
                '-' => a - b,
                _ => a * b,
            })));
        }
        if op == '+' {
            match (self, other) {
                (Value::Str(a), Value::Str(b)) => {
                    return Ok(Value::Str(Str::new(&format!(
                        "{}{}",
                        a.as_str(),
                        b.as_str()
                    ))));
                }
                (Value::Bytes(a), Value::Bytes(b)) => {
                    return Ok(Value::Bytes(Bytes::new(
                        &[a.as_bytes(), b.as_bytes()].concat(),
                    )));
                }
                (Value::Tuple(a), Value::Tuple(b)) => {
                    return Ok(Value::Tuple(Tuple::new([a.items(), b.items()].concat())));
                }
                (Value::List(a), Value::List(b)) => {
                    let items = [&borrow(&a.items)?[..], &borrow(&b.items)?[..]].concat();
                    return Ok(Value::List(List::new(items)));
                }
                _ => {}
            }
        }
        Err(Error::Type(format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            self.type_name(),
            other.type_name()
        )))
    }

    fn no_method(&self, name: &str) -> Error {
        Error::Attribute(format!(
            "'{}' object has no attribute '{name}'",
            self.type_name()
        ))
    }
}

/// Whether any of `items` is `item` or equals it.
fn any_equal(items: &[Value], item: &Value) -> Result<bool> {
    for x in items {
        if x.is(item) || x.equals(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}
