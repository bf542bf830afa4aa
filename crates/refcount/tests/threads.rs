//! Thread exit: each thread owns its heap. Handles kept in a thread's own `thread_local!`s
//! still run their `Drop` exactly once when the thread exits, whatever order the
//! thread-locals are destroyed in; leaked cycles are never dropped; a thread that leaves
//! nothing alive gives all its memory back and exits cleanly.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer, Weak};

/// Counts its drops across threads; may own a child.
struct Counted {
    drops: Arc<AtomicUsize>,
    child: RefCell<Option<Gc<Counted>>>,
}

/// Drops that ran after the thread's heap was destroyed.
static HEAPLESS_DROPS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: reports the one handle it may own.
unsafe impl Trace for Counted {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.child.trace(t);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if refcount::engine::try_with_heap(|_| ()).is_none() {
            HEAPLESS_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn counted(drops: &Arc<AtomicUsize>) -> Gc<Counted> {
    Gc::new(Counted {
        drops: drops.clone(),
        child: RefCell::new(None),
    })
}

fn join<R>(h: std::thread::JoinHandle<R>) -> R {
    match h.join() {
        Ok(r) => r,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

thread_local! {
    /// Initialised before the heap is first used on the thread.
    static EARLY: RefCell<Option<Gc<Counted>>> = const { RefCell::new(None) };
    /// Initialised by allocating, so after the heap.
    static LATE: Gc<Counted> = counted(&LATE_DROPS.with(|d| d.borrow().clone()));
    static LATE_DROPS: RefCell<Arc<AtomicUsize>> = RefCell::new(Arc::new(AtomicUsize::new(0)));
    static EARLY_WEAK: RefCell<Weak<Counted>> = const { RefCell::new(Weak::new()) };
}

/// The scenario: a handle in a thread-local that outlives the heap, and a leaked
/// cycle. The heap is destroyed first here, so its allocator must be leaked.
#[test]
#[cfg_attr(
    miri,
    ignore = "the leaked cycle and the allocator kept for it are leaks by design"
)]
fn thread_local_handle_is_dropped_once_and_a_leaked_cycle_never() {
    let local_drops = Arc::new(AtomicUsize::new(0));
    let cycle_drops = Arc::new(AtomicUsize::new(0));
    let (l, c) = (local_drops.clone(), cycle_drops.clone());
    join(std::thread::spawn(move || {
        // Touch the thread-local before the heap exists, so it is destroyed after it.
        EARLY.with(|e| assert!(e.borrow().is_none()));
        let held = counted(&l);
        *held.child.borrow_mut() = Some(counted(&l));
        EARLY.with(|e| *e.borrow_mut() = Some(held));
        EARLY_WEAK.with(|w| {
            *w.borrow_mut() = EARLY.with(|e| Gc::downgrade(e.borrow().as_ref().unwrap()))
        });
        let a = counted(&c);
        let b = counted(&c);
        *a.child.borrow_mut() = Some(b.clone());
        *b.child.borrow_mut() = Some(a.clone());
        drop((a, b));
        assert_eq!(l.load(Ordering::SeqCst), 0);
    }));
    assert_eq!(
        local_drops.load(Ordering::SeqCst),
        2,
        "the thread-local's value and its child were each dropped once"
    );
    assert_eq!(
        cycle_drops.load(Ordering::SeqCst),
        0,
        "a leaked cycle is never dropped"
    );
    assert_eq!(
        Arc::strong_count(&local_drops),
        1,
        "their fields were dropped too"
    );
    assert_eq!(
        Arc::strong_count(&cycle_drops),
        3,
        "the cycle's values still exist"
    );
    // Thread-locals are destroyed in reverse order of first use, so this test did reach
    // the heap-is-gone path. (Only this test can make such drops.)
    assert_eq!(HEAPLESS_DROPS.load(Ordering::SeqCst), 2);
}

/// Here the thread-local is initialised by allocating, so it is destroyed while the heap is
/// alive: the object is freed normally and nothing leaks.
#[test]
fn thread_local_initialised_by_allocating_is_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    join(std::thread::spawn(move || {
        LATE_DROPS.with(|x| *x.borrow_mut() = d);
        let count = LATE.with(|g| {
            *g.child.borrow_mut() = Some(counted(&g.drops));
            Gc::ref_count(g)
        });
        assert_eq!(count, 1);
    }));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(Arc::strong_count(&drops), 1);
}

#[test]
fn a_thread_that_leaves_nothing_alive_gives_everything_back() {
    let n = if cfg!(miri) { 50 } else { 20_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (bytes_at_end, blocks_at_end, totals) = join(std::thread::spawn(move || {
        let mut keep = Vec::new();
        for i in 0..n {
            let g = counted(&d);
            if i % 3 == 0 {
                *g.child.borrow_mut() = Some(counted(&d));
            }
            let w = Gc::downgrade(&g);
            keep.push((g, w, Gc::new(i as u64)));
        }
        keep.truncate(n / 2);
        drop(keep);
        with_heap(|h| {
            let s = h.alloc_stats();
            (
                s.bytes_in_use,
                s.blocks_in_use.iter().sum::<usize>(),
                h.tracked_totals(),
            )
        })
    }));
    assert_eq!(bytes_at_end, 0);
    assert_eq!(blocks_at_end, 0);
    let tracked = (n + n.div_ceil(3)) as u64;
    assert_eq!(totals, (tracked, tracked));
    assert_eq!(drops.load(Ordering::SeqCst), n + n.div_ceil(3));
}

#[test]
fn each_thread_has_its_own_heap() {
    let outer = Gc::new(RefCell::new(Some(Gc::new(1u8))));
    let before = with_heap(|h| (h.bytes_in_use(), h.tracked_totals()));
    let inside = join(std::thread::spawn(|| {
        // Tracked: a `RefCell` makes its handle changeable.
        let g = Gc::new(RefCell::new(Some(Gc::new(2u8))));
        let r = with_heap(|h| (h.bytes_in_use(), h.tracked_totals()));
        drop(g);
        r
    }));
    assert_eq!(
        inside,
        (48 + 32, (1, 0)),
        "a fresh heap holds only its own objects"
    );
    assert_eq!(
        with_heap(|h| (h.bytes_in_use(), h.tracked_totals())),
        before
    );
    drop(outer);
}

/// A link of a long chain kept in a thread-local.
struct Link {
    next: Option<Gc<Link>>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: reports the one handle the link may own.
unsafe impl Trace for Link {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    /// Initialised before the heap is first used on the thread, so destroyed after it.
    static EARLY_CHAIN: RefCell<Option<Gc<Link>>> = const { RefCell::new(None) };
}

/// Dropping a long chain held in a thread-local that outlives the heap: the heap-less path
/// of `release` must not recurse once per link either.
#[test]
#[cfg_attr(miri, ignore = "the allocator kept for the chain is a leak by design")]
fn a_long_chain_in_a_thread_local_is_dropped_at_thread_exit() {
    let n = 1_000_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    join(std::thread::spawn(move || {
        EARLY_CHAIN.with(|c| assert!(c.borrow().is_none()));
        let mut head = None;
        for _ in 0..n {
            head = Some(Gc::new(Link {
                next: head,
                drops: d.clone(),
            }));
        }
        EARLY_CHAIN.with(|c| *c.borrow_mut() = head);
    }));
    assert_eq!(drops.load(Ordering::SeqCst), n);
}
