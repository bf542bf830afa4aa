//! A collection over a 10,000,000-node chain, live and then as one garbage ring, on the
//! process's main thread with the stack the operating system gives it: the collector's
//! count, mark and drop passes never recurse once per object.
//!
//! No test harness (`harness = false`), so nothing runs on a libtest worker thread.

use std::cell::{Cell, RefCell};

use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

// SAFETY: reports the one handle the node may own.
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn main() {
    if cfg!(miri) {
        println!("deep_graph: skipped under Miri (10,000,000 nodes)");
        return;
    }
    const N: usize = 10_000_000;
    gencollect::disable();
    gencollect::collect();
    let bytes_before = with_heap(|h| h.bytes_in_use());
    // Each node points to the one built before it: the newest is the head.
    let tail = Gc::new(Node {
        next: RefCell::new(None),
    });
    let mut head = tail.clone();
    for _ in 1..N {
        head = Gc::new(Node {
            next: RefCell::new(Some(head)),
        });
    }

    // Live: the whole chain is reachable from `head`, so nothing is found.
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(DROPS.with(Cell::get), 0);
    assert_eq!(gencollect::get_generation(&tail), Some(2));

    // Garbage: close the ring and drop the handles; one collection frees every node.
    *tail.next.borrow_mut() = Some(head);
    drop(tail);
    assert_eq!(gencollect::collect(), N);
    assert_eq!(DROPS.with(Cell::get), N, "every node dropped exactly once");
    assert_eq!(
        with_heap(|h| h.bytes_in_use()),
        bytes_before,
        "every node's memory freed"
    );
    println!("deep_graph: 1 passed, 0 failed");
}
