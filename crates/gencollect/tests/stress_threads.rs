//! Many threads at once, each with its own heap, building and collecting cycles, and exiting
//! with cycles still alive: the heaps never see each other's objects, every collection frees
//! exactly its own thread's garbage, and a thread's leftover cycles are never dropped (their
//! memory is leaked with the thread's arenas, by design).

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gcrt_derive::Trace;
use refcount::{Finalize, Gc, Weak};

/// Threads that run at once.
const THREADS: usize = if cfg!(miri) { 4 } else { 64 };
/// Two-node cycles each thread builds per round, and rounds.
const CYCLES: usize = if cfg!(miri) { 20 } else { 2_000 };
const ROUNDS: usize = if cfg!(miri) { 2 } else { 5 };

thread_local! {
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
    /// A live self-cycle at thread exit.
    static KEPT: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    thread: usize,
    next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
    }
}

/// Builds `n` two-node garbage cycles on this thread (half of them with finalizers), and
/// returns weak handles to one node of each.
fn garbage_cycles(thread: usize, n: usize, drops: &Arc<AtomicUsize>) -> Vec<Weak<Node>> {
    (0..n)
        .map(|i| {
            let node = |fin: bool| {
                let v = Node {
                    thread,
                    next: RefCell::new(None),
                    drops: drops.clone(),
                };
                if fin {
                    Gc::new_with_finalizer(v)
                } else {
                    Gc::new(v)
                }
            };
            let a = node(i % 2 == 0);
            let b = node(false);
            *a.next.borrow_mut() = Some(b.clone());
            *b.next.borrow_mut() = Some(a.clone());
            Gc::downgrade(&a)
        })
        .collect()
}

/// One thread's work: rounds of garbage, each collected exactly, then cycles left alive.
fn work(thread: usize, drops: Arc<AtomicUsize>) -> usize {
    gencollect::collect();
    // Explicit collections only, so that each frees exactly one round's garbage.
    gencollect::disable();
    let mut expected_drops = 0;
    for _ in 0..ROUNDS {
        let live = Gc::new(Node {
            thread,
            next: RefCell::new(None),
            drops: drops.clone(),
        });
        let weaks = garbage_cycles(thread, CYCLES, &drops);
        assert_eq!(gencollect::collect(), 2 * CYCLES);
        expected_drops += 2 * CYCLES;
        assert!(weaks.iter().all(|w| w.upgrade().is_none()));
        assert_eq!(drops.load(Ordering::Relaxed), expected_drops);
        assert_eq!(
            live.thread, thread,
            "a live object of this thread is intact"
        );
        drop(live);
        expected_drops += 1;
    }
    assert_eq!(FINALIZED.with(Cell::get), ROUNDS * CYCLES / 2);
    // Automatic collections, at the default thresholds, find the next round's garbage as it
    // is made; an explicit one the rest.
    gencollect::enable();
    let weaks = garbage_cycles(thread, CYCLES, &drops);
    gencollect::collect();
    expected_drops += 2 * CYCLES;
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(drops.load(Ordering::Relaxed), expected_drops);
    // Garbage cycles left at thread exit, and a live one held by a thread-local: never
    // dropped (no collection runs at thread exit).
    gencollect::disable();
    let _garbage = garbage_cycles(thread, CYCLES, &drops);
    KEPT.with(|k| {
        *k.borrow_mut() = Some(Gc::new(Node {
            thread,
            next: RefCell::new(None),
            drops: drops.clone(),
        }))
    });
    let k = KEPT.with(|k| k.borrow().clone()).unwrap();
    *k.next.borrow_mut() = Some(k.clone());
    expected_drops
}

#[test]
#[cfg_attr(
    miri,
    ignore = "threads exit with cycles alive, which leaks their heaps by design: CI runs this \
              under Miri with -Zmiri-ignore-leaks"
)]
fn many_threads_build_and_collect_cycles_at_once() {
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            (drops, std::thread::spawn(move || work(t, d)))
        })
        .collect();
    for (drops, h) in handles {
        let expected = h.join().unwrap();
        assert_eq!(
            drops.load(Ordering::Relaxed),
            expected,
            "exactly the thread's garbage was dropped, and none of what it left alive"
        );
    }
}
