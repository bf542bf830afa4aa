//! Deallocation: exact counters, memory returned to the allocator, long chains dropped
//! without deep recursion, and user `Drop` code that panics, allocates, drops other objects,
//! makes weak handles or drops whole chains itself.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer, Weak};

thread_local! {
    /// Drops of `Link` values on this thread.
    static LINK_DROPS: Cell<usize> = const { Cell::new(0) };
}

fn link_drops() -> usize {
    LINK_DROPS.with(Cell::get)
}

/// A chain link; panics in `Drop` when `panic` is set.
struct Link {
    next: Option<Gc<Link>>,
    panic: bool,
}

// SAFETY: reports the one handle the link may own.
unsafe impl Trace for Link {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        LINK_DROPS.with(|d| d.set(d.get() + 1));
        if self.panic {
            panic!("Link::drop panics on purpose");
        }
    }
}

/// A chain of `n` links; the head panics when dropped if `panic_head`.
fn chain(n: usize, panic_head: bool) -> Gc<Link> {
    chain_panicking_at(n, panic_head.then_some(0))
}

/// A chain of `n` links; the link at `panic_at` (0 is the head) panics when dropped.
fn chain_panicking_at(n: usize, panic_at: Option<usize>) -> Gc<Link> {
    let mut head = Gc::new(Link {
        next: None,
        panic: panic_at == Some(n - 1),
    });
    for i in 1..n {
        head = Gc::new(Link {
            next: Some(head),
            panic: panic_at == Some(n - 1 - i),
        });
    }
    head
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

fn totals() -> (u64, u64) {
    with_heap(|h| h.tracked_totals())
}

fn count0() -> usize {
    with_heap(|h| h.generation_count(0))
}

/// Runs `f` on a new thread with `stack` bytes of stack, propagating its panic.
fn on_thread<R: Send + 'static>(stack: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    let handle = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap();
    match handle.join() {
        Ok(r) => r,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// 10,000,000 in the harness-less target; this many here (1,000,000 on a 256 KiB stack).
const LONG: usize = if cfg!(miri) { 300 } else { 1_000_000 };

/// Zeroes generation 0's count, as a collection does (no collector runs in this crate).
fn reset_count0() {
    // SAFETY: no collector is installed in this test binary; the count is bookkeeping only.
    with_heap(|h| unsafe { h.set_generation_count(0, 0) });
}

#[test]
fn allocation_counters_are_exact() {
    reset_count0();
    let t0 = totals();
    let a = Gc::new(RefCell::new(Some(Gc::new(1u8))));
    let b = Gc::new(RefCell::new(vec![a.clone()]));
    let c = Gc::new(RefCell::new(None::<Gc<u8>>));
    let atomic = Gc::new(5u64);
    assert_eq!(totals(), (t0.0 + 3, t0.1), "atomic objects are not counted");
    assert_eq!(count0(), 3);
    drop(atomic);
    assert_eq!(count0(), 3);
    drop(a);
    assert_eq!(count0(), 3, "a is still referenced from b");
    drop(b);
    assert_eq!(totals(), (t0.0 + 3, t0.1 + 2));
    assert_eq!(count0(), 1);
    // The count is floored at 0: a collection may have reset it below the live objects.
    reset_count0();
    drop(c);
    assert_eq!(count0(), 0);
    assert_eq!(totals(), (t0.0 + 3, t0.1 + 3));
    let d = Gc::new(RefCell::new(Some(Gc::new(2u8))));
    assert_eq!(count0(), 1);
    drop(d);
    assert_eq!(count0(), 0);
    assert_eq!(totals(), (t0.0 + 4, t0.1 + 4));
}

/// A death counts when the value dies, not when a lingering `Weak` finally lets the memory go
/// (CPython counts at deallocation, and its weak references never hold memory).
#[test]
fn a_weak_handle_does_not_defer_the_death_count() {
    reset_count0();
    let t0 = totals();
    let list0 = with_heap(|h| h.list_len(0));
    let a = Gc::new(RefCell::new(Some(Gc::new(1u8))));
    let w = Gc::downgrade(&a);
    assert_eq!(with_heap(|h| h.list_len(0)), list0 + 1);
    assert_eq!(count0(), 1);
    drop(a);
    assert_eq!(
        with_heap(|h| h.list_len(0)),
        list0,
        "a dead object leaves its list at once"
    );
    assert_eq!(
        totals(),
        (t0.0 + 1, t0.1 + 1),
        "counted dead with its value"
    );
    assert_eq!(count0(), 0);
    drop(w);
    assert_eq!(
        totals(),
        (t0.0 + 1, t0.1 + 1),
        "freeing the memory counts nothing more"
    );
    assert_eq!(count0(), 0);
}

#[test]
fn every_byte_goes_back_to_the_allocator() {
    let before = with_heap(|h| h.alloc_stats());
    {
        let small = Gc::new(1u8);
        let mid = Gc::new([7u8; 300]);
        let large = Gc::new([9u64; 200]); // 16 + 1600 bytes: a large block
        let stats = with_heap(|h| h.alloc_stats());
        assert_eq!(stats.large_blocks_in_use, before.large_blocks_in_use + 1);
        assert_eq!(
            stats.large_bytes_in_use,
            before.large_bytes_in_use + 16 + 1600
        );
        assert_eq!(
            stats.bytes_in_use,
            before.bytes_in_use + 32 + 320 + 16 + 1600
        );
        let tracked: Vec<Gc<Vec<Gc<u8>>>> = (0..100)
            .map(|_| Gc::new(vec![small.clone(), small.clone()]))
            .collect();
        assert_eq!(Gc::ref_count(&small), 201);
        assert_eq!((mid[299], large[199]), (7, 9));
        drop(tracked);
        assert_eq!(Gc::ref_count(&small), 1);
    }
    let after = with_heap(|h| h.alloc_stats());
    assert_eq!(after.bytes_in_use, before.bytes_in_use);
    assert_eq!(after.blocks_in_use, before.blocks_in_use);
    assert_eq!(after.large_blocks_in_use, before.large_blocks_in_use);
}

#[test]
fn a_chain_is_dropped_completely() {
    let n = if cfg!(miri) { 300 } else { 3_000 };
    let before = bytes();
    let t0 = totals();
    let d0 = link_drops();
    let head = chain(n, false);
    assert_eq!(totals(), (t0.0 + n as u64, t0.1));
    drop(head);
    assert_eq!(link_drops(), d0 + n);
    assert_eq!(totals(), (t0.0 + n as u64, t0.1 + n as u64));
    assert_eq!(bytes(), before);
}

#[test]
fn a_million_link_chain_drops_on_a_256_kib_stack() {
    let (drops, freed) = on_thread(256 * 1024, || {
        let before = bytes();
        let head = chain(LONG, false);
        drop(head);
        (link_drops(), bytes() == before)
    });
    assert_eq!(drops, LONG);
    assert!(freed);
}

#[test]
fn a_100_000_link_chain_drops_on_the_test_thread_stack() {
    let n = if cfg!(miri) { 300 } else { 100_000 };
    let d0 = link_drops();
    drop(chain(n, false));
    assert_eq!(link_drops(), d0 + n);
}

#[test]
fn a_wide_object_drops_all_its_children() {
    let n = if cfg!(miri) { 200 } else { 100_000 };
    let before = bytes();
    let d0 = link_drops();
    let wide = Gc::new((0..n).map(|_| chain(2, false)).collect::<Vec<_>>());
    drop(wide);
    assert_eq!(link_drops(), d0 + 2 * n);
    assert_eq!(bytes(), before);
}

#[test]
fn a_panicking_drop_propagates_and_the_heap_stays_consistent() {
    let before = bytes();
    let t0 = totals();
    let d0 = link_drops();
    let child = Gc::new(Link {
        next: None,
        panic: false,
    });
    let bomb = Gc::new(Link {
        next: Some(child.clone()),
        panic: true,
    });
    let keep = bomb.clone();
    drop(bomb);
    assert_eq!(link_drops(), d0, "not the last handle");
    let result = catch_unwind(AssertUnwindSafe(|| drop(keep)));
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"Link::drop panics on purpose")
    );
    assert_eq!(link_drops(), d0 + 1);
    assert_eq!(
        Gc::ref_count(&child),
        1,
        "the fields of the panicking value were dropped"
    );
    assert_eq!(
        totals(),
        (t0.0 + 2, t0.1 + 1),
        "the bomb's memory was freed"
    );
    assert_eq!(bytes(), before + 48);
    // Later allocations and frees work and count exactly.
    let more = chain(50, false);
    assert_eq!(totals(), (t0.0 + 52, t0.1 + 1));
    drop((more, child));
    assert_eq!(link_drops(), d0 + 52);
    assert_eq!(totals(), (t0.0 + 52, t0.1 + 52));
    assert_eq!(bytes(), before);
}

#[test]
fn an_atomic_value_whose_drop_panics_is_freed() {
    struct Boom;
    // SAFETY: holds no handles.
    unsafe impl Trace for Boom {
        fn trace(&self, _: &mut Tracer<'_>) {}
        fn needs_trace() -> bool {
            false
        }
    }
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("Boom");
        }
    }
    let before = bytes();
    let b = Gc::new(Boom);
    let w = Gc::downgrade(&b);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(b))).is_err());
    assert!(w.upgrade().is_none());
    assert_eq!(bytes(), before + 16, "the weak holds the memory");
    drop(w);
    assert_eq!(bytes(), before);
}

#[test]
fn after_a_panic_in_a_chain_the_rest_is_freed_by_the_next_release() {
    let n = if cfg!(miri) { 50 } else { 10_000 };
    let before = bytes();
    let t0 = totals();
    let d0 = link_drops();
    let head = chain(n, true);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(head))).is_err());
    // Whatever was queued during the unwind goes with the next release on this thread.
    drop(Gc::new(RefCell::new(Some(Gc::new(0u8)))));
    assert_eq!(link_drops(), d0 + n);
    assert_eq!(totals(), (t0.0 + n as u64 + 1, t0.1 + n as u64 + 1));
    assert_eq!(bytes(), before);
}

#[test]
fn a_panic_in_a_link_released_from_the_queue() {
    // Far enough down the chain that its release was queued, not nested.
    let (n, at) = if cfg!(miri) { (60, 30) } else { (5_000, 1_000) };
    let before = bytes();
    let t0 = totals();
    let d0 = link_drops();
    let head = chain_panicking_at(n, Some(at));
    let r = catch_unwind(AssertUnwindSafe(|| drop(head)));
    assert_eq!(
        r.unwrap_err().downcast_ref::<&str>(),
        Some(&"Link::drop panics on purpose")
    );
    assert!(
        link_drops() - d0 > at,
        "the links before the panicking one were dropped"
    );
    drop(chain(2, false));
    assert_eq!(link_drops(), d0 + n + 2, "each link dropped exactly once");
    assert_eq!(totals(), (t0.0 + n as u64 + 2, t0.1 + n as u64 + 2));
    assert_eq!(bytes(), before);
}

/// With `Rc`, the fields of a value whose `Drop` panics are dropped during the unwind, so
/// the whole chain is gone when `catch_unwind` returns.
#[test]
fn a_panic_in_a_chain_head_still_drops_the_whole_chain() {
    let n = if cfg!(miri) { 50 } else { 10_000 };
    let before = bytes();
    let d0 = link_drops();
    let head = chain(n, true);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(head))).is_err());
    assert_eq!(link_drops(), d0 + n);
    assert_eq!(bytes(), before);
}

/// Drop code that allocates, drops, makes weak handles and drops a long chain itself.
struct Busy {
    victim: RefCell<Option<Gc<Link>>>,
    target: Gc<Link>,
    extra_chain: usize,
}

// SAFETY: reports the handles it owns.
unsafe impl Trace for Busy {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.victim.trace(t);
        self.target.trace(t);
    }
}

thread_local! {
    /// Per `Busy` drop: whether the weak upgraded, and the target's count seen.
    static BUSY_LOG: RefCell<Vec<(bool, usize)>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Busy {
    fn drop(&mut self) {
        // Allocate and drop new objects, nested.
        let fresh = Gc::new(RefCell::new(Some(Gc::new(3u32))));
        let copy = fresh.clone();
        drop(fresh);
        assert_eq!(copy.borrow().as_deref().copied(), Some(3));
        // A weak handle to something alive, upgraded and dropped.
        let w = Gc::downgrade(&self.target);
        let alive = w.upgrade().is_some();
        drop(w);
        // Drop a long chain in here, plus a new one. (Inside a release, frees past the
        // nesting limit are queued, so they need not have happened yet when this returns.)
        drop(self.victim.borrow_mut().take());
        drop(chain(self.extra_chain, false));
        BUSY_LOG.with(|l| l.borrow_mut().push((alive, Gc::ref_count(&self.target))));
    }
}

#[test]
fn drop_code_may_allocate_drop_and_use_weak_handles() {
    let n = if cfg!(miri) { 40 } else { 5_000 };
    let before = bytes();
    let t0 = totals();
    let d0 = link_drops();
    let target = chain(1, false);
    let busy = Gc::new(Busy {
        victim: RefCell::new(Some(chain(n, false))),
        target: target.clone(),
        extra_chain: n,
    });
    assert_eq!(Gc::ref_count(&target), 2);
    drop(busy);
    assert_eq!(
        BUSY_LOG.with(|l| l.borrow().clone()),
        [(true, 2)],
        "inside Drop: the weak upgraded and the target is still held"
    );
    assert_eq!(Gc::ref_count(&target), 1);
    assert_eq!(link_drops(), d0 + 2 * n);
    drop(target);
    assert_eq!(link_drops(), d0 + 2 * n + 1);
    // busy, 2 chains, target, and the two objects made inside Drop (one tracked).
    let tracked = 1 + 2 * n as u64 + 1 + 1;
    assert_eq!(totals(), (t0.0 + tracked, t0.1 + tracked));
    assert_eq!(bytes(), before);
}

/// A chain of `Busy` values: each one's `Drop` runs while the heap is already freeing a
/// chain, some of them from the deferred queue.
#[test]
fn reentrant_drops_along_a_chain() {
    struct Outer {
        busy: Busy,
        next: Option<Gc<Outer>>,
    }
    // SAFETY: reports the handles it owns.
    unsafe impl Trace for Outer {
        fn trace(&self, t: &mut Tracer<'_>) {
            self.busy.trace(t);
            self.next.trace(t);
        }
    }
    let outer_len = if cfg!(miri) { 10 } else { 300 };
    let inner = if cfg!(miri) { 10 } else { 300 };
    let before = bytes();
    let d0 = link_drops();
    let target = chain(1, false);
    let mut head: Option<Gc<Outer>> = None;
    for _ in 0..outer_len {
        head = Some(Gc::new(Outer {
            busy: Busy {
                victim: RefCell::new(Some(chain(inner, false))),
                target: target.clone(),
                extra_chain: inner,
            },
            next: head,
        }));
    }
    drop(head);
    let log = BUSY_LOG.with(|l| l.borrow().clone());
    assert_eq!(log.len(), outer_len);
    assert!(log.iter().all(|&(alive, _)| alive), "{log:?}");
    assert_eq!(Gc::ref_count(&target), 1);
    assert_eq!(link_drops(), d0 + 2 * outer_len * inner);
    drop(target);
    assert_eq!(bytes(), before);
}

#[test]
fn a_weak_to_self_inside_the_dropped_value() {
    struct SelfRef {
        me: RefCell<Weak<SelfRef>>,
        out: std::rc::Rc<Cell<Option<(bool, usize)>>>,
    }
    // SAFETY: holds no strong handles.
    unsafe impl Trace for SelfRef {
        fn trace(&self, _: &mut Tracer<'_>) {}
    }
    impl Drop for SelfRef {
        fn drop(&mut self) {
            let me = self.me.borrow();
            let upgraded = me.upgrade();
            self.out.set(Some((upgraded.is_some(), me.strong_count())));
            drop(upgraded);
            // Making and dropping more weak handles to ourselves is fine too.
            let again = me.clone();
            drop(again);
        }
    }
    let before = bytes();
    let out = std::rc::Rc::new(Cell::new(None));
    let a = Gc::new(SelfRef {
        me: RefCell::new(Weak::new()),
        out: out.clone(),
    });
    *a.me.borrow_mut() = Gc::downgrade(&a);
    assert_eq!(Gc::weak_count(&a), 1);
    let outside = Gc::downgrade(&a);
    drop(a);
    assert_eq!(
        out.get(),
        Some((false, 0)),
        "a value being dropped cannot be upgraded"
    );
    assert!(outside.upgrade().is_none());
    assert_eq!(
        bytes(),
        before + 48,
        "the outside weak holds the memory (24 + 24)"
    );
    drop(outside);
    assert_eq!(bytes(), before);
}

#[test]
fn a_weak_to_self_as_the_only_weak_frees_the_memory() {
    struct Me(RefCell<Weak<Me>>);
    // SAFETY: holds no strong handles.
    unsafe impl Trace for Me {
        fn trace(&self, _: &mut Tracer<'_>) {}
    }
    let before = bytes();
    let t0 = totals();
    let a = Gc::new(Me(RefCell::new(Weak::new())));
    *a.0.borrow_mut() = Gc::downgrade(&a);
    drop(a);
    assert_eq!(bytes(), before);
    assert_eq!(totals(), (t0.0 + 1, t0.1 + 1));
}

#[test]
fn defer_frees_queues_drops_until_the_scope_ends() {
    let before = bytes();
    let d0 = link_drops();
    let head = chain(10, false);
    let single = chain(1, false);
    with_heap(|h| {
        h.defer_frees(|| {
            drop(head);
            drop(single);
            assert_eq!(link_drops(), d0, "no value dropped inside defer_frees");
        })
    });
    assert_eq!(link_drops(), d0 + 11);
    assert_eq!(bytes(), before);
}

#[test]
fn the_heap_works_after_a_panicking_drop_inside_defer_frees() {
    let before = bytes();
    let d0 = link_drops();
    let bomb = chain(5, true);
    let r = catch_unwind(AssertUnwindSafe(|| {
        with_heap(|h| h.defer_frees(|| drop(bomb)));
    }));
    assert!(r.is_err());
    drop(chain(3, false));
    assert_eq!(link_drops(), d0 + 5 + 3);
    assert_eq!(bytes(), before);
}

/// An atomic value with a finalizer carries an extension (for its FINALIZED flag) but is
/// never tracked, so it must not count as a tracked free either.
#[test]
fn an_untracked_object_with_a_finalizer_leaves_the_counters_alone() {
    struct Fin;
    // SAFETY: holds no handles.
    unsafe impl Trace for Fin {
        fn trace(&self, _: &mut Tracer<'_>) {}
        fn needs_trace() -> bool {
            false
        }
    }
    impl refcount::Finalize for Fin {
        fn finalize(&self) {}
    }
    let tracked = Gc::new(Some(Gc::new(1u8)));
    let t0 = totals();
    let c0 = count0();
    let f = Gc::new_with_finalizer(Fin);
    assert_eq!(totals(), t0, "not a tracked allocation");
    drop(f);
    assert_eq!(totals(), t0, "so not a tracked free either");
    assert_eq!(count0(), c0);
    drop(tracked);
}
