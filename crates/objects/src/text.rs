//! `str` and `bytes`: immutable, atomic (never tracked), with their hash computed once at
//! creation. Interning makes equal interned strings one immortal object, as CPython does
//! for identifiers and attribute names.

use core::cell::RefCell;

use gcrt_derive::Trace;
use hashbrown::HashTable;
use refcount::Gc;

use crate::hash::hash_bytes;

/// A `str` object.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub struct Str {
    #[trace(skip)] // (a `Box` answers `needs_trace` conservatively)
    text: Box<str>,
    hash: i64,
}

/// A `bytes` object.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub struct Bytes {
    #[trace(skip)]
    data: Box<[u8]>,
    hash: i64,
}

thread_local! {
    /// The interned strings of this thread, by hash and contents.
    static INTERNED: RefCell<HashTable<Gc<Str>>> = const { RefCell::new(HashTable::new()) };
}

impl Str {
    pub(crate) fn new(text: &str) -> Gc<Str> {
        Gc::new(Str {
            hash: hash_bytes(text.as_bytes()),
            text: text.into(),
        })
    }

    /// The one immortal string object equal to `text` on this thread (`sys.intern`).
    pub(crate) fn intern(text: &str) -> Gc<Str> {
        let hash = hash_bytes(text.as_bytes());
        let found = INTERNED.try_with(|t| {
            let mut table = t.try_borrow_mut().ok()?;
            let entry = table.entry(hash as u64, |s| &*s.text == text, |s| s.hash as u64);
            Some(
                entry
                    .or_insert_with(|| {
                        Gc::new_immortal(Str {
                            hash,
                            text: text.into(),
                        })
                    })
                    .get()
                    .clone(),
            )
        });
        // Only during thread teardown (or from inside the table's own insertion, which
        // runs no user code) is the table out of reach: an immortal string still comes back.
        found.ok().flatten().unwrap_or_else(|| {
            Gc::new_immortal(Str {
                hash,
                text: text.into(),
            })
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn hash(&self) -> i64 {
        self.hash
    }
}

impl Bytes {
    pub(crate) fn new(data: &[u8]) -> Gc<Bytes> {
        Gc::new(Bytes {
            hash: hash_bytes(data),
            data: data.into(),
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    pub(crate) fn hash(&self) -> i64 {
        self.hash
    }
}

/// How many strings are interned on this thread.
pub fn interned_count() -> usize {
    INTERNED
        .try_with(|t| t.try_borrow().map(|t| t.len()).unwrap_or(0))
        .unwrap_or(0)
}
