//! The hash table behind dicts and sets: entries in insertion order, found through a
//! hashbrown index of their positions (CPython's compact dict layout).

use gcrt_derive::Trace;
use hashbrown::HashTable;

use crate::Value;
use crate::error::Result;

/// One entry: the key's hash, the key, and the value (`()` in a set).
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Entry<V> {
    #[trace(skip)]
    pub(crate) hash: i64,
    pub(crate) key: Value,
    pub(crate) value: V,
}

/// The hash an index slot is filed under: its entry's.
fn rehash<V>(entries: &[Option<Entry<V>>], i: usize) -> u64 {
    entries[i].as_ref().map_or(0, |e| e.hash as u64)
}

/// Keys in insertion order; deleted entries leave a hole until the next compaction.
///
/// # Invariants
/// `index` holds the position of every `Some` entry, under its hash; `used` counts them.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Table<V> {
    entries: Vec<Option<Entry<V>>>,
    #[trace(skip)]
    index: HashTable<usize>,
    #[trace(skip)]
    used: usize,
}

impl<V> Default for Table<V> {
    fn default() -> Table<V> {
        Table {
            entries: Vec::new(),
            index: HashTable::new(),
            used: 0,
        }
    }
}

impl<V> Table<V> {
    pub(crate) fn len(&self) -> usize {
        self.used
    }

    /// The position of `key`, whose hash is `hash`. Comparing keys may fail (nesting too
    /// deep, a container being changed).
    pub(crate) fn find(&self, hash: i64, key: &Value) -> Result<Option<usize>> {
        let mut err = None;
        let found = self
            .index
            .find(hash as u64, |&i| {
                let Some(e) = &self.entries[i] else {
                    return false;
                };
                if err.is_some() || e.hash != hash {
                    return false;
                }
                if e.key.is(key) {
                    return true;
                }
                crate::compare::eq(&e.key, key, 0).unwrap_or_else(|x| {
                    err = Some(x);
                    false
                })
            })
            .copied();
        match err {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    pub(crate) fn get(&self, i: usize) -> &Entry<V> {
        self.entries[i]
            .as_ref()
            .expect("a found position holds an entry")
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Entry<V> {
        self.entries[i]
            .as_mut()
            .expect("a found position holds an entry")
    }

    /// Appends a new entry (the key is known to be absent).
    pub(crate) fn push(&mut self, hash: i64, key: Value, value: V) {
        let i = self.entries.len();
        self.entries.push(Some(Entry { hash, key, value }));
        let Table { entries, index, .. } = self;
        index.insert_unique(hash as u64, i, |&j| rehash(entries, j));
        self.used += 1;
    }

    /// Removes the entry at `i` and returns it (for the caller to drop once no borrow of
    /// the table is held: dropping a value may run code that reads the table).
    pub(crate) fn remove(&mut self, i: usize) -> Entry<V> {
        let e = self.entries[i]
            .take()
            .expect("a found position holds an entry");
        if let Ok(slot) = self.index.find_entry(e.hash as u64, |&j| j == i) {
            slot.remove();
        }
        self.used -= 1;
        if self.entries.len() > 2 * self.used + 8 {
            self.compact();
        }
        e
    }

    /// Closes the holes deleted entries left, keeping the order.
    fn compact(&mut self) {
        self.entries.retain(Option::is_some);
        let Table { entries, index, .. } = self;
        index.clear();
        for i in 0..entries.len() {
            index.insert_unique(rehash(entries, i), i, |&j| rehash(entries, j));
        }
    }

    /// The entries in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<V>> {
        self.entries.iter().flatten()
    }

    /// Empties the table, returning the entries for the caller to drop.
    pub(crate) fn take_all(&mut self) -> Vec<Option<Entry<V>>> {
        self.index.clear();
        self.used = 0;
        core::mem::take(&mut self.entries)
    }
}
