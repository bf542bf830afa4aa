//! `repr()` and `str()` as Python writes them, with `[...]` for a container met again inside
//! itself (CPython's `Py_ReprEnter`).

use core::fmt::{self, Write};

use crate::Value;
use crate::error::MAX_DEPTH;

/// The containers being written, innermost last, and how deep the writing is.
struct Writer<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    active: Vec<usize>,
}

impl Writer<'_, '_> {
    fn value(&mut self, v: &Value) -> fmt::Result {
        match v {
            Value::None => self.out.write_str("None"),
            Value::Bool(true) => self.out.write_str("True"),
            Value::Bool(false) => self.out.write_str("False"),
            Value::Int(i) => match i.to_i64() {
                Some(n) => write!(self.out, "{n}"),
                None => write!(self.out, "{}", i.to_bigint()),
            },
            Value::Float(f) => write_float(self.out, f.get()),
            Value::Str(s) => write_str_repr(self.out, s.as_str()),
            Value::Bytes(b) => write_bytes_repr(self.out, b.as_bytes()),
            Value::Class(c) => write!(self.out, "<class '{}'>", c.name()),
            Value::Instance(i) => {
                write!(self.out, "<{} object at {:#x}>", i.class().name(), v.id())
            }
            Value::Tuple(_) | Value::List(_) | Value::Dict(_) | Value::Set(_) => self.container(v),
        }
    }

    /// A container: `[...]` (or its kind's brackets) if it is already being written, or
    /// if the nesting is too deep to follow.
    fn container(&mut self, v: &Value) -> fmt::Result {
        let (open, close) = match v {
            Value::Tuple(_) => ("(", ")"),
            Value::List(_) => ("[", "]"),
            _ => ("{", "}"),
        };
        if self.active.contains(&v.id()) || self.active.len() >= MAX_DEPTH {
            return write!(self.out, "{open}...{close}");
        }
        self.active.push(v.id());
        let r = crate::error::with_stack(|| self.items(v, open, close));
        self.active.pop();
        r
    }

    fn items(&mut self, v: &Value, open: &str, close: &str) -> fmt::Result {
        match v {
            Value::Tuple(t) => self.seq(open, t.items(), close),
            Value::List(l) => match l.items.try_borrow() {
                // A snapshot: writing an item may reach this list again.
                Ok(items) => {
                    let snapshot = items.clone();
                    drop(items);
                    self.seq(open, &snapshot, close)
                }
                Err(_) => self.out.write_str("[<being changed>]"),
            },
            Value::Dict(d) => match d.table.try_borrow() {
                Ok(t) => {
                    let pairs: Vec<(Value, Value)> =
                        t.iter().map(|e| (e.key.clone(), e.value.clone())).collect();
                    drop(t);
                    self.out.write_str("{")?;
                    for (n, (k, val)) in pairs.iter().enumerate() {
                        if n > 0 {
                            self.out.write_str(", ")?;
                        }
                        self.value(k)?;
                        self.out.write_str(": ")?;
                        self.value(val)?;
                    }
                    self.out.write_str("}")
                }
                Err(_) => self.out.write_str("{<being changed>}"),
            },
            Value::Set(s) => match s.table.try_borrow() {
                Ok(t) => {
                    let keys: Vec<Value> = t.iter().map(|e| e.key.clone()).collect();
                    drop(t);
                    if keys.is_empty() {
                        return self.out.write_str("set()");
                    }
                    self.seq("{", &keys, "}")
                }
                Err(_) => self.out.write_str("{<being changed>}"),
            },
            _ => Ok(()),
        }
    }

    fn seq(&mut self, open: &str, items: &[Value], close: &str) -> fmt::Result {
        self.out.write_str(open)?;
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.out.write_str(", ")?;
            }
            self.value(item)?;
        }
        if open == "(" && items.len() == 1 {
            self.out.write_str(",")?;
        }
        self.out.write_str(close)
    }
}

/// A float as Python's `repr` writes it: the shortest digits that read back the same,
/// in positional notation for exponents -4..16 (`1.0`, `0.0001`), else scientific
/// (`1e+16`, `1.5e-05`).
pub(crate) fn write_float(out: &mut impl Write, f: f64) -> fmt::Result {
    if f.is_nan() {
        return out.write_str("nan");
    }
    if f.is_infinite() {
        return out.write_str(if f > 0.0 { "inf" } else { "-inf" });
    }
    let sci = format!("{f:e}"); // shortest round-trip digits, e.g. "-1.5e-7"
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        write!(out, "{sign}{s}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        write!(out, "{sign}{first}{rest}e{esign}{:02}", exp.abs())
    }
}

/// A str's repr: single quotes unless the text has a single quote and no double quote.
pub(crate) fn write_str_repr(out: &mut impl Write, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c == quote => write!(out, "\\{c}")?,
            c if printable(c) => out.write_char(c)?,
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32)?,
            c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32)?,
            c => write!(out, "\\U{:08x}", c as u32)?,
        }
    }
    out.write_char(quote)
}

/// Python's `str.isprintable` for one character: not a control, format, separator (other
/// than the space), surrogate or private-use character. (Unassigned code points, which
/// Python also escapes, would need the Unicode tables: they are printed as they are.)
fn printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff)
}

/// A bytes object's repr: `b'...'`, with bytes outside printable ASCII as `\xhh`.
pub(crate) fn write_bytes_repr(out: &mut impl Write, b: &[u8]) -> fmt::Result {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.write_char('b')?;
    out.write_char(quote as char)?;
    for &c in b {
        match c {
            b'\\' => out.write_str("\\\\")?,
            b'\n' => out.write_str("\\n")?,
            b'\r' => out.write_str("\\r")?,
            b'\t' => out.write_str("\\t")?,
            c if c == quote => write!(out, "\\{}", c as char)?,
            0x20..=0x7e => out.write_char(c as char)?,
            c => write!(out, "\\x{c:02x}")?,
        }
    }
    out.write_char(quote as char)
}

impl fmt::Debug for Value {
    /// Python's `repr()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Writer {
            out: f,
            active: Vec::new(),
        }
        .value(self)
    }
}

impl fmt::Display for Value {
    /// Python's `str()`: a str's text as it is, anything else as its `repr()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s.as_str()),
            other => fmt::Debug::fmt(other, f),
        }
    }
}
