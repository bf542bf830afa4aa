//! [`Error`]: what an operation on a [`Value`](crate::Value) returns instead of panicking.

use core::fmt;

/// The error of an operation on [`Value`](crate::Value)s, named after the Python exception
/// it stands for. Its `Display` is the line Python would print.
///
/// ```
/// use objects::{Error, Value};
/// let list = Value::list([]);
/// let err = Value::dict().set_item(list, Value::none()).unwrap_err();
/// assert_eq!(err, Error::Type("unhashable type: 'list'".into()));
/// assert_eq!(err.to_string(), "TypeError: unhashable type: 'list'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An operation on a value of the wrong type (`TypeError`).
    Type(String),
    /// An index out of range (`IndexError`).
    Index(String),
    /// A missing key; the message is the key's repr (`KeyError`).
    Key(String),
    /// A missing attribute (`AttributeError`).
    Attribute(String),
    /// A value out of the operation's domain (`ValueError`).
    Value(String),
    /// Division or modulo by zero (`ZeroDivisionError`).
    ZeroDivision(String),
    /// Nesting too deep to compare or hash (`RecursionError`).
    Recursion,
    /// The container is being changed by the code that asked (a `Drop`, finalizer or
    /// callback that runs in the middle of a change to it): `RuntimeError`.
    Busy(&'static str),
}

impl Error {
    /// The name of the Python exception this error stands for.
    pub fn python_name(&self) -> &'static str {
        match self {
            Error::Type(_) => "TypeError",
            Error::Index(_) => "IndexError",
            Error::Key(_) => "KeyError",
            Error::Attribute(_) => "AttributeError",
            Error::Value(_) => "ValueError",
            Error::ZeroDivision(_) => "ZeroDivisionError",
            Error::Recursion => "RecursionError",
            Error::Busy(_) => "RuntimeError",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.python_name();
        match self {
            Error::Type(m)
            | Error::Index(m)
            | Error::Key(m)
            | Error::Attribute(m)
            | Error::Value(m)
            | Error::ZeroDivision(m) => write!(f, "{name}: {m}"),
            Error::Recursion => write!(f, "{name}: maximum recursion depth exceeded"),
            Error::Busy(what) => write!(f, "{name}: {what} changed during the operation"),
        }
    }
}

impl std::error::Error for Error {}

/// The result of an operation on [`Value`](crate::Value)s.
pub type Result<T> = core::result::Result<T, Error>;

/// How deep comparison, hashing and repr go into nested containers before they give up
/// (Python's recursion limit).
pub const MAX_DEPTH: usize = 1000;

/// Runs `f`, one level of a recursion over nested containers, on a stack with room for it:
/// when the thread's stack runs low, on a fresh segment (`stacker`), so that nesting up to
/// [`MAX_DEPTH`] never overflows a small thread stack. (Miri cannot run `stacker`'s
/// assembly; its tests nest less.)
#[inline]
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(miri))]
    {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
    }
    #[cfg(miri)]
    {
        f()
    }
}
