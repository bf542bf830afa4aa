//! The containers: `tuple` (immutable; the empty one is an immortal singleton, per-length
//! buffer free lists, untracked when its items can never be in a cycle), `list` (a free list
//! of 80), `dict` (insertion-ordered, tracked exactly while it holds a value that may be
//! part of a cycle, a free list of 80) and `set` (untracked while empty).

use core::cell::{Cell, OnceCell, RefCell};

use gcrt_derive::Trace;
use refcount::{Gc, Trace, Tracer};

use crate::Value;
use crate::table::Table;
use crate::tuple_buffers;

/// A `tuple` object.
pub struct Tuple {
    items: Box<[Value]>,
    /// Whether none of the items may be part of a cycle: fixed at creation, whatever
    /// tracking the tuple gets later, so that a dict's count of the values that may be part
    /// of a cycle stays exact.
    atomic: bool,
}

// SAFETY: reports each item's handle once (through `Value`'s derived impl). The items never
// change after creation (no interior mutability: `frozen`), and tracing them runs only
// derived `Trace` code (`pure_trace`).
unsafe impl Trace for Tuple {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.items.trace(tracer);
    }
    fn frozen() -> bool {
        true
    }
    fn pure_trace() -> bool {
        true
    }
    fn free_list() -> usize {
        tuple_buffers::BUFFERS_PER_LEN
    }
}

impl Drop for Tuple {
    fn drop(&mut self) {
        tuple_buffers::recycle(core::mem::take(&mut self.items));
    }
}

thread_local! {
    static EMPTY_TUPLE: OnceCell<Gc<Tuple>> = const { OnceCell::new() };
}

impl Tuple {
    pub(crate) fn new(items: Vec<Value>) -> Gc<Tuple> {
        if items.is_empty() {
            let empty = || {
                Gc::new_immortal(Tuple {
                    items: Box::new([]),
                    atomic: true,
                })
            };
            return EMPTY_TUPLE
                .try_with(|e| e.get_or_init(empty).clone())
                .unwrap_or_else(|_| empty());
        }
        let atomic = items.iter().all(Value::is_atomic);
        Gc::new(Tuple {
            items: tuple_buffers::make(items),
            atomic,
        })
    }

    /// Whether none of the tuple's items may be part of a cycle (CPython leaves such a
    /// tuple untracked).
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// The items.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

/// A `list` object.
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 80)]
pub struct List {
    pub(crate) items: RefCell<Vec<Value>>,
}

impl List {
    // Inlined, the caller's vector is written straight into the new object: called, it went
    // through the stack, and each move stalled on store forwarding (half of list churn).
    #[inline]
    pub(crate) fn new(items: Vec<Value>) -> Gc<List> {
        Gc::new(List {
            items: RefCell::new(items),
        })
    }

    /// How many items the list holds, or `None` while it is being changed.
    pub fn len(&self) -> Option<usize> {
        self.items.try_borrow().ok().map(|v| v.len())
    }

    /// Whether the list is empty (`None` while it is being changed).
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }
}

/// A `dict` object.
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 80)]
pub struct Dict {
    pub(crate) table: RefCell<Table<Value>>,
    /// How many of the keys and values stored may be part of a cycle (not atomic): the
    /// dict is tracked exactly while this is above 0.
    non_atomic: Cell<usize>,
}

impl Dict {
    /// A new, empty dict: untracked until a value that may be part of a cycle is stored.
    pub(crate) fn new() -> Gc<Dict> {
        Gc::new_untracked(Dict {
            table: RefCell::new(Table::default()),
            non_atomic: Cell::new(0),
        })
    }

    /// Counts `added` values that may be part of a cycle stored and `removed` ones gone,
    /// and tracks or untracks the dict to match: CPython tracks a dict when a container is
    /// stored in it and its collector untracks one that holds only atomic values again.
    pub(crate) fn retrack(this: &Gc<Dict>, added: usize, removed: usize) {
        let n = (this.non_atomic.get() + added).saturating_sub(removed);
        this.non_atomic.set(n);
        if n > 0 {
            Gc::track(this);
        } else if added + removed > 0 {
            Gc::untrack(this);
        }
    }

    /// How many entries the dict holds, or `None` while it is being changed.
    pub fn len(&self) -> Option<usize> {
        self.table.try_borrow().ok().map(|t| t.len())
    }

    /// Whether the dict is empty (`None` while it is being changed).
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }
}

/// A `set` object.
#[derive(Trace)]
#[trace(crate = "refcount")]
pub struct Set {
    pub(crate) table: RefCell<Table<()>>,
}

impl Set {
    /// A new, empty set: untracked until its first item.
    pub(crate) fn new() -> Gc<Set> {
        Gc::new_untracked(Set {
            table: RefCell::new(Table::default()),
        })
    }

    /// How many items the set holds, or `None` while it is being changed.
    pub fn len(&self) -> Option<usize> {
        self.table.try_borrow().ok().map(|t| t.len())
    }

    /// Whether the set is empty (`None` while it is being changed).
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }
}
