//! Hostile tests of per-type free lists and of `Gc::{new_untracked, track, untrack,
//! is_tracked}`: weak references that outlive objects, finalizers that resurrect, callbacks
//! and `Drop`s that allocate or collect in the middle of a release, `Trace` impls that track
//! and untrack objects while a collection counts. Each test asserts exact counts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gcrt_derive::Trace;
use refcount::{Finalize, Gc, Trace, Tracer, WeakRef, free_list_stats};

mod common {
    pub(crate) mod free_lists;
}
use common::free_lists::stats;

fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

fn snapshot(name: &str) -> (u64, u64, u64, usize) {
    let s = stats(name, 0);
    (s.from_free_list, s.from_allocator, s.live, s.cached)
}

thread_local! {
    static DROPS: Cell<u32> = const { Cell::new(0) };
    static FINALIZED: Cell<u32> = const { Cell::new(0) };
    static RESURRECTED: RefCell<Vec<Gc<Phoenix>>> = const { RefCell::new(Vec::new()) };
}

fn drops() -> u32 {
    DROPS.with(Cell::get)
}

/// A free-list type that checks its own value when it is dropped.
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 4)]
struct Blob {
    #[trace(skip)]
    id: u64,
    #[trace(skip)]
    check: u64,
    next: RefCell<Option<Gc<Blob>>>,
}

impl Drop for Blob {
    fn drop(&mut self) {
        assert_eq!(
            self.check, !self.id,
            "the value is intact when it is dropped"
        );
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn blob(id: u64) -> Gc<Blob> {
    Gc::new(Blob {
        id,
        check: !id,
        next: RefCell::new(None),
    })
}

fn settle() {
    gencollect::collect();
}

#[test]
fn a_block_is_not_reused_while_a_weak_reference_holds_it() {
    settle();
    let a = blob(1);
    let weak = Gc::downgrade(&a);
    let wr = WeakRef::new(&a, |_| {});
    drop(a);
    assert_eq!(drops(), 1);
    assert!(weak.upgrade().is_none());
    let (hits0, misses0, live0, cached0) = snapshot("Blob");
    assert_eq!(cached0, 0, "the block waits for the weak references");
    // New blobs must not land in the dead one's block.
    let b = blob(2);
    let c = blob(3);
    assert!(
        weak.upgrade().is_none(),
        "the weak reference still finds its referent dead"
    );
    assert!(wr.upgrade().is_none());
    assert_eq!(snapshot("Blob"), (hits0, misses0 + 2, live0 + 2, 0));
    drop(weak);
    assert_eq!(
        snapshot("Blob").3,
        0,
        "the weak reference object still holds it"
    );
    drop(wr);
    assert_eq!(
        snapshot("Blob"),
        (hits0, misses0 + 2, live0 + 1, 1),
        "freed into the list"
    );
    let d = blob(4);
    assert_eq!(snapshot("Blob"), (hits0 + 1, misses0 + 2, live0 + 2, 0));
    assert_eq!((b.id, c.id, d.id), (2, 3, 4));
    drop((b, c, d));
    assert_eq!(drops(), 4);
    assert_eq!(snapshot("Blob").3, 3);
    settle();
    assert_eq!(snapshot("Blob").3, 0, "a full collection empties the list");
}

#[test]
fn a_weakref_callback_allocates_and_collects_while_its_referent_dies() {
    settle();
    let base = drops();
    // Fill the list first, so that the callback's allocations take blocks from it.
    drop((blob(10), blob(11)));
    assert_eq!(snapshot("Blob").3, 2);
    let victim = blob(1);
    let made = Rc::new(RefCell::new(Vec::new()));
    let made2 = made.clone();
    let wr = WeakRef::new(&victim, move |_| {
        for id in 100..106 {
            made2.borrow_mut().push(blob(id));
        }
        // A full collection in the middle of the victim's release empties the list.
        gencollect::collect();
        drop(made2.borrow_mut().drain(..3).collect::<Vec<_>>());
    });
    drop(victim);
    assert_eq!(drops() - base, 2 + 1 + 3);
    let ids: Vec<u64> = made.borrow().iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![103, 104, 105]);
    // Three blocks of the callback's blobs; the victim's waits for the weak reference the
    // `WeakRef` holds.
    assert_eq!(snapshot("Blob").3, 3);
    drop(wr);
    assert_eq!(snapshot("Blob").3, 4);
    made.borrow_mut().clear();
    assert_eq!(
        snapshot("Blob").3,
        4,
        "the list is full: the others went to the allocator"
    );
    settle();
}

#[test]
fn a_drop_that_runs_a_full_collection_in_the_middle_of_a_chain_release() {
    settle();
    let base = drops();
    #[derive(Trace)]
    #[trace(crate = "refcount", free_list = 8)]
    struct Collector {
        next: Option<Gc<Collector>>,
        #[trace(skip)]
        collect: bool,
    }
    impl Drop for Collector {
        fn drop(&mut self) {
            if self.collect {
                gencollect::collect();
                // Allocate from the list the collection just emptied.
                drop(blob(7));
            }
        }
    }
    let mut chain = None;
    for i in 0..20 {
        chain = Some(Gc::new(Collector {
            next: chain,
            collect: i % 5 == 0,
        }));
    }
    drop(chain);
    assert_eq!(
        drops() - base,
        4,
        "each collecting drop made and dropped one blob"
    );
    assert_eq!(stats("Collector", 0).live, 0);
    // Which blocks are freed after the last collection depends on how deep releases nest
    // before they are queued (64 levels, 4 under Miri): the whole chain, or its tail.
    assert_eq!(stats("Collector", 0).cached, if cfg!(miri) { 4 } else { 8 });
    settle();
}

// ----- finalizers -----------------------------------------------------------------------------

/// A free-list type whose finalizer resurrects it the first `revivals` times... once, since a
/// finalizer runs once (until re-registered).
#[derive(Trace)]
#[trace(crate = "refcount", free_list = 2)]
struct Phoenix {
    #[trace(skip)]
    id: u64,
    #[trace(skip)]
    check: u64,
    #[trace(skip)]
    resurrect: bool,
    peer: RefCell<Option<Gc<Phoenix>>>,
    #[trace(skip)]
    me: RefCell<Option<refcount::Weak<Phoenix>>>,
}

impl Finalize for Phoenix {
    fn finalize(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
        assert_eq!(self.check, !self.id);
        if self.resurrect {
            let me = self.me.borrow().as_ref().and_then(|w| w.upgrade());
            let via_peer = self.peer.borrow().clone();
            RESURRECTED.with(|r| {
                r.borrow_mut().extend(me);
                r.borrow_mut().extend(via_peer);
            });
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        assert_eq!(self.check, !self.id);
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn phoenix(id: u64, resurrect: bool) -> Gc<Phoenix> {
    let p = Gc::new_with_finalizer(Phoenix {
        id,
        check: !id,
        resurrect,
        peer: RefCell::new(None),
        me: RefCell::new(None),
    });
    *p.me.borrow_mut() = Some(Gc::downgrade(&p));
    p
}

fn finalized() -> u32 {
    FINALIZED.with(Cell::get)
}

#[test]
fn a_resurrected_free_list_object_keeps_its_block_until_it_dies_for_good() {
    settle();
    let (d0, f0) = (drops(), finalized());
    let p = phoenix(5, true);
    let before = snapshot("Phoenix");
    drop(p);
    assert_eq!(
        (drops() - d0, finalized() - f0),
        (0, 1),
        "resurrected, not dropped"
    );
    assert_eq!(snapshot("Phoenix"), before, "its block is not in the list");
    // New objects of the type go elsewhere; the resurrected one is intact.
    let others: Vec<_> = (0..3).map(|i| phoenix(100 + i, false)).collect();
    let back = RESURRECTED.with(|r| r.borrow_mut().pop()).unwrap();
    assert_eq!((back.id, back.check), (5, !5));
    assert!(others.iter().all(|o| !Gc::ptr_eq(o, &back)));
    drop(others);
    assert_eq!((drops() - d0, finalized() - f0), (3, 4));
    drop(back);
    assert_eq!(
        (drops() - d0, finalized() - f0),
        (4, 4),
        "dies for good, its finalizer not run again"
    );
    let s = stats("Phoenix", 0);
    assert_eq!((s.live, s.cached), (0, 2), "capacity 2");
    settle();
    assert_eq!(stats("Phoenix", 0).cached, 0);
}

#[test]
fn a_garbage_cycle_of_free_list_objects_resurrected_by_a_finalizer() {
    settle();
    let (d0, f0) = (drops(), finalized());
    let a = phoenix(1, true);
    let b = phoenix(2, false);
    *a.peer.borrow_mut() = Some(b.clone());
    *b.peer.borrow_mut() = Some(a.clone());
    let wb = Gc::downgrade(&b);
    drop((a, b));
    assert_eq!(gencollect::collect(), 0, "resurrected: nothing collected");
    assert_eq!((drops() - d0, finalized() - f0), (0, 2));
    // `a`'s finalizer stored its peer `b` (its `me` weak reference was cleared).
    let b = RESURRECTED.with(|r| r.borrow_mut().pop()).unwrap();
    assert!(RESURRECTED.with(|r| r.borrow().is_empty()));
    assert_eq!(b.id, 2);
    assert!(
        wb.upgrade().is_none(),
        "weak references to garbage are cleared for good"
    );
    let a = b.peer.borrow().clone().unwrap();
    assert_eq!((a.id, a.check), (1, !1));
    assert_eq!(stats("Phoenix", 0).live, 2);
    // Unreachable again: collected without the finalizers, and the blocks are cached...
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!((drops() - d0, finalized() - f0), (2, 2));
    // `b`'s block waits for the weak reference (counted live until then).
    assert_eq!(stats("Phoenix", 0).live, 1);
    assert!(wb.upgrade().is_none());
    drop(wb);
    // `a`'s block was freed by the collection, which then emptied the list; `b`'s is the
    // only one cached.
    let s = stats("Phoenix", 0);
    assert_eq!((s.live, s.cached), (0, 1));
    settle();
    assert_eq!(stats("Phoenix", 0).cached, 0);
}

#[test]
fn try_unwrap_and_boxed_values_go_through_the_free_list() {
    settle();
    let d0 = drops();
    let a = blob(1);
    let w = Gc::downgrade(&a);
    let before = snapshot("Blob");
    let value = Gc::try_unwrap(a).ok().unwrap();
    assert_eq!(value.id, 1);
    assert!(w.upgrade().is_none());
    assert_eq!(
        snapshot("Blob").3,
        before.3,
        "the weak reference holds the block"
    );
    drop(w);
    assert_eq!(snapshot("Blob").3, before.3 + 1);
    drop(value);
    assert_eq!(drops() - d0, 1);
    let boxed: Gc<Blob> = Gc::from(Box::new(Blob {
        id: 9,
        check: !9,
        next: RefCell::new(None),
    }));
    assert_eq!(snapshot("Blob").3, before.3, "from the list");
    assert_eq!(boxed.id, 9);
    drop(boxed);
    assert_eq!(drops() - d0, 2);
    settle();
}

#[test]
fn a_long_chain_of_free_list_objects_fills_the_list_to_capacity_only() {
    settle();
    let d0 = drops();
    let len = n(100_000, 300) as u64;
    let head = blob(0);
    let mut tail = head.clone();
    for id in 1..len {
        let next = blob(id);
        *tail.next.borrow_mut() = Some(next.clone());
        tail = next;
    }
    drop(tail);
    let before = snapshot("Blob");
    drop(head); // released without recursion
    assert_eq!(drops() - d0, len as u32);
    let after = snapshot("Blob");
    assert_eq!(after.2, before.2 - len);
    assert_eq!(after.3, 4);
    settle();
}

#[test]
fn large_blocks_have_free_lists_too() {
    #[derive(Trace)]
    #[trace(crate = "refcount", free_list = 2)]
    struct Big {
        #[trace(skip)]
        data: Box<[u8; 64 << 10]>,
        #[trace(skip)]
        inline: [u64; 512],
    }
    settle();
    let mk = |v: u8| {
        Gc::new(Big {
            data: Box::new([v; 64 << 10]),
            inline: [v as u64; 512],
        })
    };
    let (a, b, c) = (mk(1), mk(2), mk(3));
    drop((a, b, c));
    let s = stats("Big", 0);
    assert_eq!((s.live, s.cached), (0, 2));
    assert!(s.block_size >= 4096);
    let d = mk(4);
    assert!(d.data.iter().all(|&x| x == 4) && d.inline.iter().all(|&x| x == 4));
    assert_eq!(stats("Big", 0).cached, 1);
    settle();
    assert_eq!(stats("Big", 0).cached, 0);
    drop(d);
    assert_eq!(stats("Big", 0).cached, 1);
    settle();
}

#[test]
fn each_thread_has_its_own_free_lists() {
    settle();
    drop((blob(1), blob(2)));
    let here = stats("Blob", 0).cached;
    let there = std::thread::spawn(|| {
        let fresh = free_list_stats()
            .iter()
            .all(|s| !s.type_name.ends_with("Blob"));
        drop((blob(1), blob(2), blob(3)));
        let s = stats("Blob", 0);
        // Empty the list before the thread exits (see the next test).
        settle();
        (
            fresh,
            s.from_free_list,
            s.from_allocator,
            s.cached,
            DROPS.with(Cell::get),
        )
    })
    .join()
    .unwrap();
    assert_eq!(there, (true, 0, 3, 3, 3));
    assert_eq!(stats("Blob", 0).cached, here);
    settle();
}

/// Regression: a thread that exited with blocks in a free list leaked its whole allocator
/// (the cached blocks counted as in use). Natively silent: Miri's leak check, which CI runs
/// over this file, is what fails ("memory leaked: ... Arena::allocate ... alloc_pooled").
#[test]
fn a_thread_that_exits_with_blocks_in_a_free_list_frees_its_heap() {
    std::thread::spawn(|| drop(blob(1))).join().unwrap();
}

// ----- track and untrack ----------------------------------------------------------------------

/// A container whose `trace` tracks or untracks other objects, as a hostile `Trace` may.
struct Meddler {
    items: RefCell<Vec<Gc<Meddler>>>,
    track_on_trace: RefCell<Vec<Gc<Meddler>>>,
    untrack_on_trace: RefCell<Vec<Gc<Meddler>>>,
    untrack_results: RefCell<Vec<bool>>,
    untrack_on_drop: RefCell<Vec<Gc<Meddler>>>,
    dropped: Rc<Cell<u32>>,
}

// SAFETY: reports each handle it owns once; tracking and untracking other objects neither
// drops nor keeps a handle.
unsafe impl Trace for Meddler {
    fn trace(&self, t: &mut Tracer<'_>) {
        if let Ok(v) = self.track_on_trace.try_borrow() {
            for o in v.iter() {
                Gc::track(o);
            }
        }
        if let Ok(v) = self.untrack_on_trace.try_borrow()
            && let Ok(mut r) = self.untrack_results.try_borrow_mut()
        {
            for o in v.iter() {
                r.push(Gc::untrack(o));
            }
        }
        self.items.trace(t);
        self.track_on_trace.trace(t);
        self.untrack_on_trace.trace(t);
        self.untrack_on_drop.trace(t);
    }
}

impl Drop for Meddler {
    fn drop(&mut self) {
        self.dropped.set(self.dropped.get() + 1);
        let mut r = self.untrack_results.borrow_mut();
        for o in self.untrack_on_drop.borrow().iter() {
            r.push(Gc::untrack(o));
        }
    }
}

fn meddler(dropped: &Rc<Cell<u32>>, tracked: bool) -> Gc<Meddler> {
    let m = Meddler {
        items: RefCell::new(Vec::new()),
        track_on_trace: RefCell::new(Vec::new()),
        untrack_on_trace: RefCell::new(Vec::new()),
        untrack_results: RefCell::new(Vec::new()),
        untrack_on_drop: RefCell::new(Vec::new()),
        dropped: dropped.clone(),
    };
    if tracked {
        Gc::new(m)
    } else {
        Gc::new_untracked(m)
    }
}

fn link(a: &Gc<Meddler>, b: &Gc<Meddler>) {
    a.items.borrow_mut().push(b.clone());
}

#[test]
fn an_object_tracked_by_a_trace_during_a_full_collection_keeps_what_it_holds_alive() {
    for (generation, full_scan, hold) in [
        (0, false, usize::MAX),
        (0, false, 0),
        (2, false, usize::MAX),
        (2, true, usize::MAX),
        (2, true, 0),
    ] {
        settle();
        gencollect::set_full_scan(full_scan);
        gencollect::set_young_hold_threshold(hold);
        let dropped = Rc::new(Cell::new(0));
        let tracer = meddler(&dropped, true);
        // `hidden`, untracked, holds the only handle to `x`, a member of the cycle x <-> y.
        let hidden = meddler(&dropped, false);
        let (x, y) = (meddler(&dropped, true), meddler(&dropped, true));
        link(&x, &y);
        link(&y, &x);
        link(&hidden, &x);
        tracer.track_on_trace.borrow_mut().push(hidden.clone());
        drop((x, y, hidden));
        if generation == 2 {
            // Everything old but the tracer: the tracer's trace runs in a full collection.
            gencollect::collect();
        }
        let collected = gencollect::collect_generation(generation).unwrap();
        assert_eq!(
            collected, 0,
            "generation {generation}: x and y are held by hidden"
        );
        gencollect::set_full_scan(false);
        gencollect::set_young_hold_threshold(65_536);
        assert_eq!(dropped.get(), 0);
        let hidden = tracer.track_on_trace.borrow_mut().pop().unwrap();
        // A full collection without a full scan skips the clean tracer (its trace never
        // runs); the others trace it.
        assert_eq!(
            Gc::is_tracked(&hidden),
            generation == 0 || full_scan,
            "generation {generation}, full scan {full_scan}, hold {hold}"
        );
        Gc::track(&hidden);
        let x = hidden.items.borrow()[0].clone();
        let y = x.items.borrow()[0].clone();
        assert!(!Gc::is_dead(&x) && !Gc::is_dead(&y));
        assert!(Gc::ptr_eq(&y.items.borrow()[0], &x));
        drop((x, y, hidden));
        assert_eq!(dropped.get(), 1, "hidden, by refcount");
        assert_eq!(gencollect::collect(), 2, "x and y");
        assert_eq!(dropped.get(), 3);
        drop(tracer);
        assert_eq!(dropped.get(), 4);
    }
}

#[test]
fn untracking_from_a_trace_is_refused_for_analysed_objects_only() {
    settle();
    let dropped = Rc::new(Cell::new(0));
    let old = meddler(&dropped, true);
    gencollect::collect(); // `old` is in generation 2 now
    assert_eq!(gencollect::get_generation(&old), Some(2));
    let tracer = meddler(&dropped, true);
    let young = meddler(&dropped, true);
    tracer
        .untrack_on_trace
        .borrow_mut()
        .extend([old.clone(), young.clone(), tracer.clone()]);
    // A young collection analyses generation 0: `old` may go, `young` and `tracer` may not.
    assert_eq!(gencollect::collect_generation(0).unwrap(), 0);
    assert_eq!(*tracer.untrack_results.borrow(), vec![true, false, false]);
    assert!(!Gc::is_tracked(&old));
    assert!(Gc::is_tracked(&young) && Gc::is_tracked(&tracer));
    // A full collection that analyses everything.
    tracer.untrack_results.borrow_mut().clear();
    Gc::track(&old);
    gencollect::set_full_scan(true);
    assert_eq!(gencollect::collect(), 0);
    gencollect::set_full_scan(false);
    assert_eq!(*tracer.untrack_results.borrow(), vec![false, false, false]);
    assert!(Gc::is_tracked(&old) && Gc::is_tracked(&young) && Gc::is_tracked(&tracer));
    tracer.untrack_on_trace.borrow_mut().clear(); // (breaks the self-reference)
    drop((old, young, tracer));
    assert_eq!(dropped.get(), 3);
    assert_eq!(gencollect::collect(), 0);
}

#[test]
fn untracking_from_the_drop_of_garbage() {
    settle();
    let dropped = Rc::new(Cell::new(0));
    let outside = meddler(&dropped, true);
    let (a, b) = (meddler(&dropped, true), meddler(&dropped, true));
    link(&a, &b);
    link(&b, &a);
    a.untrack_on_drop
        .borrow_mut()
        .extend([b.clone(), outside.clone()]);
    b.untrack_on_drop
        .borrow_mut()
        .extend([a.clone(), outside.clone()]);
    let wa = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(dropped.get(), 2);
    assert!(wa.upgrade().is_none());
    // The first dropped untracked `outside`; the second found it untracked already. Neither
    // could untrack its peer (garbage).
    assert!(!Gc::is_tracked(&outside));
    Gc::track(&outside);
    assert!(Gc::is_tracked(&outside));
    drop(outside);
    assert_eq!(dropped.get(), 3);
}

#[test]
fn untracking_a_cycle_member_in_a_collection_callback() {
    settle();
    let dropped = Rc::new(Cell::new(0));
    let (a, b) = (meddler(&dropped, true), meddler(&dropped, true));
    link(&a, &b);
    link(&b, &a);
    let results = Rc::new(RefCell::new(Vec::new()));
    let (a2, r2) = (a.clone(), results.clone());
    let handle = gencollect::register_callback(move |phase, info| {
        if phase == gencollect::Phase::Start {
            r2.borrow_mut()
                .push(("start", Gc::untrack(&a2), info.collected));
        } else {
            r2.borrow_mut()
                .push(("stop", Gc::is_tracked(&a2), info.collected));
        }
    });
    drop(b);
    drop(a);
    // The callback holds `a`: nothing is garbage; `a` is untracked before the analysis.
    assert_eq!(gencollect::collect(), 0);
    assert!(gencollect::unregister_callback(handle));
    assert_eq!(
        *results.borrow(),
        vec![("start", true, 0), ("stop", false, 0)]
    );
    // The callback is gone with its handle to `a`: the cycle through an untracked member
    // leaks until it is tracked again.
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(dropped.get(), 0);
    let b = gencollect::get_objects(None)
        .unwrap()
        .into_iter()
        .filter_map(|o| o.downcast::<Meddler>().ok())
        .find(|m| m.items.borrow().len() == 1)
        .expect("b is still tracked");
    let a = b.items.borrow()[0].clone();
    Gc::track(&a);
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(dropped.get(), 2);
}

#[test]
fn untracking_a_frozen_object_and_tracking_immortal_or_atomic_ones() {
    drop(blob(0));
    settle();
    let dropped = Rc::new(Cell::new(0));
    let a = meddler(&dropped, true);
    gencollect::freeze();
    let frozen = gencollect::get_freeze_count();
    assert!(frozen >= 1);
    assert!(Gc::untrack(&a));
    assert_eq!(gencollect::get_freeze_count(), frozen - 1);
    assert!(!Gc::untrack(&a), "twice");
    gencollect::unfreeze();
    assert_eq!(gencollect::get_freeze_count(), 0);
    Gc::track(&a);
    assert_eq!(gencollect::get_generation(&a), Some(0));
    // Immortal and atomic objects: nothing to do. (An immortal object leaks the thread's
    // heap by design: not under Miri, whose leak check would report it.)
    if !cfg!(miri) {
        let imm = Gc::new_immortal(RefCell::new(None::<Gc<u8>>));
        Gc::track(&imm);
        assert!(!Gc::is_tracked(&imm));
        assert!(!Gc::untrack(&imm));
    }
    let atom = Gc::new_untracked(5u32);
    Gc::track(&atom);
    assert!(!Gc::is_tracked(&atom));
    assert!(!Gc::untrack(&atom));
    // Untracked objects of a free-list type go through their list like the others.
    let before = snapshot("Blob");
    let b = Gc::new_untracked(Blob {
        id: 3,
        check: !3,
        next: RefCell::new(None),
    });
    assert!(!Gc::is_tracked(&b));
    Gc::track(&b);
    assert!(Gc::untrack(&b));
    drop(b);
    let after = snapshot("Blob");
    assert_eq!(after.2, before.2);
    assert_eq!(after.0 + after.1, before.0 + before.1 + 1);
    drop(a);
    assert_eq!(dropped.get(), 1);
    settle();
}
