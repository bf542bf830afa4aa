//! Garbage that fills arenas, for the tests of what a collection does with the arenas it
//! empties (`arena_release.rs`, `hostile_release.rs`, `subscriber_panic.rs`, which include
//! this file alone: `mod common { pub(crate) mod arenas; }`). Each test runs on a thread of
//! its own ([`on_thread`]), so its heap holds only what it built.

#![allow(dead_code)] // each test file uses its own share

use std::cell::{Cell, RefCell};

use refcount::{Gc, alloc_stats};

/// A 64-byte-class node in two-node cycles; the destructor of a `last` one runs the
/// thread's [`ON_LAST_DROP`].
#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
pub(crate) struct Node {
    pub(crate) next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    _pad: [u64; 4],
    #[trace(skip)]
    last: bool,
}

thread_local! {
    /// Nodes dropped on this thread.
    pub(crate) static DROPS: Cell<usize> = const { Cell::new(0) };
    /// What the destructor of a `last` node does.
    pub(crate) static ON_LAST_DROP: Cell<Option<fn()>> = const { Cell::new(None) };
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
        if self.last
            && let Some(f) = ON_LAST_DROP.with(|c| c.get())
        {
            f();
        }
    }
}

pub(crate) fn drops() -> usize {
    DROPS.with(|d| d.get())
}

pub(crate) fn node(last: bool) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        _pad: [0; 4],
        last,
    })
}

pub(crate) fn link(a: &Gc<Node>, b: &Gc<Node>) {
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
}

/// Builds `pairs` unreachable two-node cycles; the first node made is `last` if `mark_last`
/// (a collection drops the newest garbage first, so its destructor runs last).
pub(crate) fn garbage(pairs: usize, mark_last: bool) {
    for i in 0..pairs {
        let (a, b) = (node(mark_last && i == 0), node(false));
        link(&a, &b);
    }
}

/// Pairs that fill about 20 arenas (1 MiB each; 4 KiB under Miri).
pub(crate) fn twenty_arenas() -> usize {
    10 * (rawalloc::ARENA_SIZE / 64)
}

/// Outside a collection nothing is set aside, and held arenas add up.
pub(crate) fn assert_arenas_consistent() {
    let s = alloc_stats();
    assert_eq!(s.arenas_retired, 0, "arenas set aside outside a collection");
    assert_eq!(s.arenas_held, s.arenas_allocated - s.arenas_freed);
}

pub(crate) fn on_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}
