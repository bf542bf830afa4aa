//! Python's equality, ordering and hashing of [`Value`]s.
//!
//! Numbers compare by value across int, float and bool; sequences item by item (a list
//! never equals a tuple); dicts and sets by contents; classes and instances by identity.
//! Containers compare items by identity first, as CPython does, so a list containing NaN
//! equals itself. Nesting deeper than [`MAX_DEPTH`] is a `RecursionError`.

use core::cmp::Ordering;

use crate::Value;
use crate::error::{Error, MAX_DEPTH, Result, with_stack};
use crate::hash::TupleHasher;
use crate::int::{IntValue, cmp_int, cmp_int_float};

/// A numeric view of a value: ints (and bools) exactly, floats as they are.
enum Num<'a> {
    Int(IntValue),
    IntRef(&'a IntValue),
    Float(f64),
}

fn num(v: &Value) -> Option<Num<'_>> {
    match v {
        Value::Bool(b) => Some(Num::Int(IntValue::Small(*b as i64))),
        Value::Int(i) => Some(Num::IntRef(i.value())),
        Value::Float(f) => Some(Num::Float(f.get())),
        _ => None,
    }
}

/// Compares two numbers; `None` when a NaN is involved.
fn cmp_num(a: &Num<'_>, b: &Num<'_>) -> Option<Ordering> {
    let int = |n: &Num<'_>| match n {
        Num::Int(v) => Some(v.clone()),
        Num::IntRef(v) => Some((*v).clone()),
        Num::Float(_) => None,
    };
    match (a, b) {
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
        (Num::Float(x), other) => {
            cmp_int_float(&int(other).expect("not a float"), *x).map(Ordering::reverse)
        }
        (other, Num::Float(y)) => cmp_int_float(&int(other).expect("not a float"), *y),
        (x, y) => {
            let (x, y) = (int(x).expect("an int"), int(y).expect("an int"));
            Some(cmp_int(&x, &y))
        }
    }
}

fn deeper(depth: usize) -> Result<usize> {
    if depth >= MAX_DEPTH {
        Err(Error::Recursion)
    } else {
        Ok(depth + 1)
    }
}

/// Items equal by identity or by value.
fn item_eq(a: &Value, b: &Value, depth: usize) -> Result<bool> {
    Ok(a.is(b) || eq(a, b, depth)?)
}

fn seq_eq(a: &[Value], b: &[Value], depth: usize) -> Result<bool> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (x, y) in a.iter().zip(b) {
        if !item_eq(x, y, depth)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `a == b`.
pub(crate) fn eq(a: &Value, b: &Value, depth: usize) -> Result<bool> {
    let depth = deeper(depth)?;
    with_stack(|| eq_at(a, b, depth))
}

fn eq_at(a: &Value, b: &Value, depth: usize) -> Result<bool> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(cmp_num(&x, &y) == Some(Ordering::Equal));
    }
    Ok(match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x.hash() == y.hash() && x.as_str() == y.as_str(),
        (Value::Bytes(x), Value::Bytes(y)) => x.as_bytes() == y.as_bytes(),
        (Value::Tuple(x), Value::Tuple(y)) => seq_eq(x.items(), y.items(), depth)?,
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (borrow(&x.items)?, borrow(&y.items)?);
            seq_eq(&x, &y, depth)?
        }
        (Value::Dict(x), Value::Dict(y)) => {
            let (x, y) = (borrow(&x.table)?, borrow(&y.table)?);
            if x.len() != y.len() {
                return Ok(false);
            }
            for e in x.iter() {
                match y.find(e.hash, &e.key)? {
                    Some(i) if item_eq(&e.value, &y.get(i).value, depth)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (Value::Set(x), Value::Set(y)) => {
            let (x, y) = (borrow(&x.table)?, borrow(&y.table)?);
            x.len() == y.len() && subset(&x, &y)?
        }
        _ => a.is(b),
    })
}

/// Whether every item of `x` is in `y`.
fn subset(x: &crate::table::Table<()>, y: &crate::table::Table<()>) -> Result<bool> {
    for e in x.iter() {
        if y.find(e.hash, &e.key)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A shared borrow of a container, or `Busy` while it is being changed.
pub(crate) fn borrow<T>(c: &core::cell::RefCell<T>) -> Result<core::cell::Ref<'_, T>> {
    c.try_borrow().map_err(|_| Error::Busy("a container"))
}

/// Python's `hash(v)`; a `TypeError` for a mutable container.
pub(crate) fn hash(v: &Value, depth: usize) -> Result<i64> {
    let depth = deeper(depth)?;
    with_stack(|| hash_at(v, depth))
}

fn hash_at(v: &Value, depth: usize) -> Result<i64> {
    Ok(match v {
        Value::None => 0x3a_b5e1_c0de_5eed,
        Value::Bool(b) => *b as i64,
        Value::Int(i) => i.hash(),
        Value::Float(f) => f.hash(),
        Value::Str(s) => s.hash(),
        Value::Bytes(b) => b.hash(),
        Value::Tuple(t) => {
            let mut h = TupleHasher::new();
            for item in t.items() {
                h.add(hash(item, depth)?);
            }
            h.finish()
        }
        Value::Class(_) | Value::Instance(_) => (v.id() >> 4) as i64,
        Value::List(_) | Value::Dict(_) | Value::Set(_) => {
            return Err(Error::Type(format!(
                "unhashable type: '{}'",
                v.builtin_type_name()
            )));
        }
    })
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, o: Option<Ordering>) -> bool {
        match (self, o) {
            (_, None) => false,
            (CmpOp::Lt, Some(o)) => o.is_lt(),
            (CmpOp::Le, Some(o)) => o.is_le(),
            (CmpOp::Gt, Some(o)) => o.is_gt(),
            (CmpOp::Ge, Some(o)) => o.is_ge(),
        }
    }
}

/// `a <op> b` for sequences: the first unequal items decide, else the lengths.
fn seq_cmp(op: CmpOp, a: &[Value], b: &[Value], depth: usize) -> Result<bool> {
    for (x, y) in a.iter().zip(b) {
        if !item_eq(x, y, depth)? {
            return compare(op, x, y, depth);
        }
    }
    Ok(op.holds(Some(a.len().cmp(&b.len()))))
}

/// `a <op> b`: numbers, strings, bytes, same-kind sequences, and sets (subset order);
/// a `TypeError` for anything else.
pub(crate) fn compare(op: CmpOp, a: &Value, b: &Value, depth: usize) -> Result<bool> {
    let depth = deeper(depth)?;
    with_stack(|| compare_at(op, a, b, depth))
}

fn compare_at(op: CmpOp, a: &Value, b: &Value, depth: usize) -> Result<bool> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(op.holds(cmp_num(&x, &y)));
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(op.holds(Some(x.as_str().cmp(y.as_str())))),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(op.holds(Some(x.as_bytes().cmp(y.as_bytes())))),
        (Value::Tuple(x), Value::Tuple(y)) => seq_cmp(op, x.items(), y.items(), depth),
        (Value::List(x), Value::List(y)) => {
            // Snapshots: comparing items may compare lists nested in them.
            let (x, y) = (borrow(&x.items)?.clone(), borrow(&y.items)?.clone());
            seq_cmp(op, &x, &y, depth)
        }
        (Value::Set(x), Value::Set(y)) => {
            let (x, y) = (borrow(&x.table)?, borrow(&y.table)?);
            Ok(match op {
                CmpOp::Le => subset(&x, &y)?,
                CmpOp::Lt => x.len() < y.len() && subset(&x, &y)?,
                CmpOp::Ge => subset(&y, &x)?,
                CmpOp::Gt => y.len() < x.len() && subset(&y, &x)?,
            })
        }
        _ => Err(Error::Type(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            op.symbol(),
            a.type_name(),
            b.type_name()
        ))),
    }
}

impl PartialEq for Value {
    /// Python's `==`. Nesting deeper than [`MAX_DEPTH`](crate::MAX_DEPTH), or a container
    /// being changed meanwhile, compares unequal; [`Value::equals`] reports those as errors.
    fn eq(&self, other: &Value) -> bool {
        self.is(other) && !matches!(self, Value::Float(f) if f.get().is_nan())
            || eq(self, other, 0).unwrap_or(false)
    }
}
