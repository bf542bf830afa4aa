//! The built-in object types of gcrt, each with its own allocation policy.
//!
//! This crate's one job is the objects a language runtime allocates by the million and that
//! deserve an allocator of their own, as in CPython: free lists that recycle the blocks of
//! dead tuples, lists and floats without going back to the raw allocator, the small-int
//! cache, string interning into the immortal region, and untracking of containers that can
//! no longer be part of a cycle. It builds on `refcount` for the object header and handles,
//! and on `rawalloc` for memory.
//!
//! It is intentionally empty in this release: the object types arrive with their own issue.
//! The re-exports below let code written against `objects` already name the handle types.
//!
//! ```
//! let n = objects::Gc::new(42i64);
//! assert_eq!(*n, 42);
//! ```

pub use refcount::{Gc, Trace, Weak};
