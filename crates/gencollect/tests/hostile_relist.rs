//! Hostile use against a held generation 0 promoted whole on two threads (the relist pass,
//! `parallel::relist`) and held garbage condemned on two threads (`parallel::condemn`):
//! every collection here holds generation 0 (`set_young_hold_threshold(0)`) and splits its
//! passes from 64 objects (`set_parallel_threshold(64)`). Whatever user code runs in a
//! `Trace` impl during the count pass (allocating, inspecting, re-entering the collector,
//! panicking, and, breaking rule 3, dropping handles), each survivor keeps its exact count,
//! each list holds exactly the live objects at their places, weak handles still upgrade,
//! `try_unwrap`/`get_mut` work on relisted objects, and every value is dropped once.
//! Each test runs on its own thread, so its heap holds only what it built.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use gcrt_derive::Trace;
use refcount::engine::with_heap;
use refcount::{Gc, ObjPtr, Trace, Tracer, Weak};

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    id: usize,
    #[trace(skip)]
    val: u64,
    #[trace(skip)]
    weak: RefCell<Option<Weak<Node>>>,
}

thread_local! {
    /// Ids of the values dropped, in order.
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

fn node() -> Gc<Node> {
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    Gc::new(Node {
        next: RefCell::new(None),
        id,
        val: 0,
        weak: RefCell::new(None),
    })
}

fn link(a: &Gc<Node>, b: &Gc<Node>) {
    *a.next.borrow_mut() = Some(b.clone());
}

/// How many values were dropped; panics if any was dropped twice.
fn dropped_once() -> usize {
    let mut ids = DROPPED.with(|d| d.borrow().clone());
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a value was dropped twice");
    n
}

fn list(l: usize) -> Vec<ObjPtr> {
    with_heap(|h| h.list_snapshot(l))
}

fn sorted(mut v: Vec<ObjPtr>) -> Vec<ObjPtr> {
    v.sort_unstable();
    v
}

fn objs(nodes: &[Gc<Node>]) -> Vec<ObjPtr> {
    nodes.iter().map(Gc::as_obj).collect()
}

fn counts(nodes: &[Gc<Node>]) -> Vec<usize> {
    nodes.iter().map(Gc::ref_count).collect()
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

/// Every collection holds generation 0 and splits its passes from 64 objects; automatic
/// collections are off. Restored on drop, also when an assertion fails.
struct Knobs;

impl Knobs {
    fn hold_and_split() -> Knobs {
        gencollect::set_young_hold_threshold(0);
        gencollect::set_parallel_threshold(64);
        gencollect::set_parallel(true);
        gencollect::disable();
        gencollect::collect();
        Knobs
    }
}

impl Drop for Knobs {
    fn drop(&mut self) {
        gencollect::enable();
        gencollect::set_full_scan(false);
        gencollect::set_parallel_threshold(1 << 17);
        gencollect::set_young_hold_threshold(1 << 16);
    }
}

/// Whether the helper thread can run (it always can under `-Zmiri-num-cpus=2`).
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// `n` nodes in generation 1 (promoted by a collection of generation 0 with no garbage),
/// each held by its handle alone.
fn generation_1(n: usize) -> Vec<Gc<Node>> {
    assert!(list(0).is_empty() && list(1).is_empty());
    let old: Vec<Gc<Node>> = (0..n).map(|_| node()).collect();
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(list(1), objs(&old));
    old
}

/// Runs `check` after `step` of `steps` under Miri only every 16th step (each check
/// snapshots and sorts whole lists).
fn check_now(step: usize, steps: usize) -> bool {
    !cfg!(miri) || step.is_multiple_of(16) || step + 1 == steps
}

// ---------------------------------------------------------------------------------------
// User code in a trace, within the rules.

/// What the meddler's trace saw of the API it called.
#[derive(Default, Clone, Debug, PartialEq)]
struct Seen {
    calls: usize,
    young_objects: usize,
    old_objects: usize,
    nested_collect: usize,
    nested_collect_1: usize,
    untrack_refused: bool,
    try_unwrap_refused: bool,
    upgraded: bool,
    referents: usize,
}

thread_local! {
    /// Handles the hostile trace may clone (it drops each clone before it returns).
    static PEEK: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

/// An object whose trace runs user code (so it is counted on the collecting thread, after
/// the helper is joined) that calls back into gcrt before reporting its one handle.
struct Meddler {
    next: RefCell<Option<Gc<Node>>>,
    /// Allocates a tracked node per trace (kept in `made`, not reported: an under-report).
    allocate: bool,
    made: RefCell<Vec<Gc<Node>>>,
}

// SAFETY: reports `next`, which it owns, once; every handle it makes while tracing is
// dropped before it returns, but for those in `made`, which it does not report.
unsafe impl Trace for Meddler {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        let mut seen = SEEN.with(|s| s.borrow().clone());
        seen.calls += 1;
        seen.young_objects = gencollect::get_objects(Some(0)).unwrap().len();
        seen.old_objects = gencollect::get_objects(Some(1)).unwrap().len();
        seen.nested_collect = gencollect::collect();
        seen.nested_collect_1 = gencollect::collect_generation(1).unwrap();
        gencollect::freeze();
        gencollect::unfreeze();
        drop(Gc::new(5u64));
        let peek = PEEK.with(|p| p.borrow().clone());
        seen.upgraded = !peek.is_empty()
            && peek.iter().all(|h| {
                let w = Gc::downgrade(h);
                w.upgrade().is_some_and(|u| Gc::ptr_eq(&u, h))
            });
        if let Some(h) = peek.first() {
            seen.untrack_refused = !Gc::untrack(h);
            Gc::track(h);
            seen.try_unwrap_refused = Gc::try_unwrap(h.clone()).is_err();
            seen.referents = gencollect::get_referents(h).len();
        }
        drop(peek);
        if self.allocate
            && let Ok(mut made) = self.made.try_borrow_mut()
        {
            made.push(node());
        }
        SEEN.with(|s| *s.borrow_mut() = seen);
        self.next.trace(tracer);
    }
}

fn meddling_trace_in_the_middle(allocate: bool) {
    const PAIRS: usize = 64;
    let _knobs = Knobs::hold_and_split();
    let before = bytes();
    let start_dropped = dropped_once();
    let old = generation_1(30);
    // Generation 0: 64 two-node cycles (first node kept), the meddler, 64 more.
    let mut kept = Vec::new();
    let mut partners = Vec::new();
    let mut pair = || {
        let (a, b) = (node(), node());
        link(&a, &b);
        link(&b, &a);
        kept.push(a);
        partners.push(b);
    };
    (0..PAIRS).for_each(|_| pair());
    let meddler = Gc::new(Meddler {
        next: RefCell::new(None),
        allocate,
        made: RefCell::new(Vec::new()),
    });
    (0..PAIRS).for_each(|_| pair());
    // The meddler holds a handle to the newest node (the helper's part).
    *meddler.next.borrow_mut() = Some(partners[2 * PAIRS - 1].clone());
    PEEK.with(|p| {
        *p.borrow_mut() = vec![kept[0].clone(), kept[2 * PAIRS - 1].clone()];
    });
    let young = list(0);
    assert_eq!(young.len(), 4 * PAIRS + 1);
    let old_order = list(1);
    let all: Vec<Gc<Node>> = kept.iter().chain(&partners).chain(&old).cloned().collect();
    let expected_counts = counts(&all);
    let split_before = gencollect::split_passes();

    assert_eq!(gencollect::collect_generation(0), Ok(0));

    if two_cores() {
        assert_eq!(
            gencollect::split_passes(),
            split_before + 1,
            "the count pass split"
        );
    }
    let seen = SEEN.with(|s| s.borrow().clone());
    assert_eq!(
        seen,
        Seen {
            calls: 1,
            young_objects: 4 * PAIRS + 1,
            old_objects: 30,
            nested_collect: 0,
            nested_collect_1: 0,
            untrack_refused: true,
            try_unwrap_refused: true,
            upgraded: true,
            referents: 1,
        }
    );
    assert_eq!(
        gencollect::get_freeze_count(),
        0,
        "freeze refused mid-collection"
    );
    assert_eq!(counts(&all), expected_counts, "every count as it was");
    assert_eq!(Gc::ref_count(&meddler), 1);
    let made = meddler.made.borrow().clone();
    assert_eq!(made.len(), usize::from(allocate));
    for m in &made {
        assert_eq!(Gc::ref_count(m), 2, "`made` and this clone");
    }
    // Generation 0 promoted after generation 1's objects, in order (with `allocate`, the
    // object made during the count pass after the held ones).
    let expected: Vec<ObjPtr> = old_order
        .iter()
        .chain(&young)
        .copied()
        .chain(made.iter().map(Gc::as_obj))
        .collect();
    assert_eq!(list(1), expected);
    assert!(list(0).is_empty());
    assert_eq!(dropped_once(), start_dropped, "nothing dropped");
    drop(made);

    // Everything goes: the cycles are found by a collection of generation 1, the rest is
    // freed by reference counting.
    PEEK.with(|p| p.borrow_mut().clear());
    drop((all, kept, partners, old, meddler));
    let made_count = usize::from(allocate);
    assert_eq!(dropped_once(), start_dropped + 30 + made_count);
    assert_eq!(gencollect::collect_generation(1), Ok(4 * PAIRS));
    assert_eq!(dropped_once(), start_dropped + 30 + made_count + 4 * PAIRS);
    assert!(list(0).is_empty() && list(1).is_empty() && list(2).is_empty());
    assert_eq!(bytes(), before);
    SEEN.with(|s| *s.borrow_mut() = Seen::default());
}

/// No object is added during the count pass: the held generation is relisted on two
/// threads, and the meddler's calls into gcrt change no count and no place.
#[test]
fn a_meddling_trace_mid_split_hold_leaves_every_count_and_place_when_relisted() {
    meddling_trace_in_the_middle(false);
}

/// An object allocated during the count pass (never held): the generation is not relisted
/// in the give-back pass, and the new object follows it into generation 1, with its count.
#[test]
fn a_trace_allocating_mid_split_hold_keeps_every_count_and_skips_the_relist() {
    meddling_trace_in_the_middle(true);
}

// ---------------------------------------------------------------------------------------
// A trace that panics.

struct Tripwire {
    next: RefCell<Option<Gc<Node>>>,
}

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: reports `next`, which it owns, once (or panics before reporting anything).
unsafe impl Trace for Tripwire {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if ARMED.with(Cell::get) {
            panic!("tripwire");
        }
        self.next.trace(tracer);
    }
}

/// A tripwire at the bottom, in the middle, at the top, and next to each, of a split held
/// generation 0 of 257 objects, one ring with every node also held from here: the panic
/// reaches the caller, each count (the tripwire's too) is as it was, generation 0 follows
/// generation 1's objects in order, and everything is freed once later.
#[test]
fn a_trace_panicking_anywhere_in_a_split_held_generation_gives_every_reference_back() {
    const N: usize = 256;
    let _knobs = Knobs::hold_and_split();
    let before = bytes();
    let positions: &[usize] = if cfg!(miri) {
        &[0, 128, 256]
    } else {
        &[0, 1, 127, 128, 129, 255, 256]
    };
    for &p in positions {
        let start_dropped = dropped_once();
        let old = generation_1(20);
        let mut ring = Vec::new();
        let mut wire = None;
        for i in 0..=N {
            if i == p {
                wire = Some(Gc::new(Tripwire {
                    next: RefCell::new(None),
                }));
            } else {
                ring.push(node());
            }
        }
        for i in 0..N {
            link(&ring[i], &ring[(i + 1) % N]);
        }
        let wire = wire.unwrap();
        *wire.next.borrow_mut() = Some(ring[N / 2].clone());
        let young = list(0);
        let old_order = list(1);
        let expected_counts = counts(&ring);
        ARMED.with(|a| a.set(true));
        let result = catch_unwind(AssertUnwindSafe(|| gencollect::collect_generation(0)));
        ARMED.with(|a| a.set(false));
        assert!(
            result.is_err(),
            "the trace's panic reaches the caller ({p})"
        );
        assert_eq!(counts(&ring), expected_counts, "tripwire at {p}");
        assert_eq!(Gc::ref_count(&wire), 1, "tripwire at {p}: never held");
        assert!(old.iter().all(|o| Gc::ref_count(o) == 1));
        let expected: Vec<ObjPtr> = old_order.iter().chain(&young).copied().collect();
        assert_eq!(list(1), expected, "tripwire at {p}: promoted in order");
        // Disarmed, the next collection of the same objects finds nothing and relists.
        assert_eq!(gencollect::collect_generation(1), Ok(0));
        assert_eq!(sorted(list(2)), sorted(expected));
        assert_eq!(counts(&ring), expected_counts);
        assert_eq!(dropped_once(), start_dropped);
        drop((wire, old));
        assert_eq!(dropped_once(), start_dropped + 20);
        drop(ring);
        assert_eq!(gencollect::collect(), N, "tripwire at {p}");
        assert_eq!(dropped_once(), start_dropped + 20 + N);
        assert!((0..3).all(|l| list(l).is_empty()));
    }
    assert_eq!(bytes(), before);
}

// ---------------------------------------------------------------------------------------
// A trace that breaks rule 3: it drops handles.

thread_local! {
    /// Handles the breaker's trace drops (the only handles to their objects).
    static VICTIMS: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    /// The only handle to the breaker itself, which its own trace drops.
    static SELF_SLOT: RefCell<Option<Gc<Breaker>>> = const { RefCell::new(None) };
    /// A generation 1 node the breaker's trace takes the value out of.
    static OLD_VICTIM: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
    static UNWRAPPED: Cell<Option<usize>> = const { Cell::new(None) };
}

struct Breaker;

impl Drop for Breaker {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(usize::MAX));
    }
}

// SAFETY: NOT sound by rule 3 (the trace drops handles it does not own): gcrt documents
// what it does then (the objects are freed once, later), and this test holds it to that.
unsafe impl Trace for Breaker {
    fn trace(&self, _: &mut Tracer<'_>) {
        // Takes a generation 1 object's value out (generation 1 is where the held
        // generation is about to be relisted, after its objects).
        if let Some(h) = OLD_VICTIM.with(|o| o.borrow_mut().take()) {
            UNWRAPPED.with(|u| u.set(Gc::try_unwrap(h).ok().map(|n| n.id)));
        }
        let victims = VICTIMS.with(|v| core::mem::take(&mut *v.borrow_mut()));
        drop(victims);
        // Its own last handle: its release is queued (frees are deferred), so `self` stays.
        let me = SELF_SLOT.with(|s| s.borrow_mut().take());
        drop(me);
    }
}

/// The breaker (generation 0's oldest object, counted after the helper is joined) drops the
/// only handles to the newest object (held by the helper, so left with the count pass's
/// reference alone), to an object of the collecting thread's first chunk (not counted yet:
/// its count goes to 0), and to itself, and takes the value out of a generation 1 object
/// (unwrapped: generation 1 shrinks before the relist appends to it). Each of those is
/// dropped exactly once, no garbage is reported, every other count stays as it was, and
/// the lists hold exactly the others.
#[test]
fn a_trace_dropping_handles_frees_each_victim_exactly_once_around_a_split_relist() {
    const N: usize = 256;
    let _knobs = Knobs::hold_and_split();
    let before = bytes();
    let start_dropped = dropped_once();
    let mut old = generation_1(30);
    let old_victim = old.remove(17);
    let old_victim_id = old_victim.id;
    OLD_VICTIM.with(|o| *o.borrow_mut() = Some(old_victim));
    let breaker = Gc::new(Breaker);
    let breaker_obj = Gc::as_obj(&breaker);
    SELF_SLOT.with(|s| *s.borrow_mut() = Some(breaker));
    let mut young: Vec<Gc<Node>> = (0..N).map(|_| node()).collect();
    let top = young.pop().unwrap();
    let bottom = young.remove(1);
    let (top_obj, bottom_obj) = (Gc::as_obj(&top), Gc::as_obj(&bottom));
    let victim_ids = [top.id, bottom.id];
    VICTIMS.with(|v| *v.borrow_mut() = vec![top, bottom]);
    // A survivor in a cycle with another survivor, so that the analysis has edges.
    link(&young[3], &young[N - 10]);
    link(&young[N - 10], &young[3]);
    let expected_counts = (counts(&old), counts(&young));
    assert_eq!(list(0).len(), N + 1);

    assert_eq!(gencollect::collect_generation(0), Ok(0), "no garbage found");

    assert_eq!(UNWRAPPED.with(Cell::get), Some(old_victim_id));
    let mut ids = DROPPED.with(|d| d.borrow()[start_dropped..].to_vec());
    ids.sort_unstable();
    let mut expected_ids = vec![old_victim_id, victim_ids[0], victim_ids[1], usize::MAX];
    expected_ids.sort_unstable();
    assert_eq!(ids, expected_ids, "each victim dropped once");
    dropped_once();
    assert_eq!((counts(&old), counts(&young)), expected_counts);
    let live: Vec<ObjPtr> = objs(&old).into_iter().chain(objs(&young)).collect();
    assert_eq!(sorted(list(1)), sorted(live));
    for gone in [top_obj, bottom_obj, breaker_obj] {
        assert!(!list(1).contains(&gone));
    }
    assert!(list(0).is_empty());
    // The survivors' places are right: each leaves its list at its index, in an order
    // that crosses both halves (254 and 7 are coprime).
    young[3].next.borrow_mut().take();
    young[N - 10].next.borrow_mut().take();
    let mut model = list(1);
    let mut young: Vec<Option<Gc<Node>>> = young.into_iter().map(Some).collect();
    let total = young.len();
    for step in 0..total {
        let i = step * 7 % total;
        let h = young[i].take().unwrap();
        let obj = Gc::as_obj(&h);
        drop(h);
        let pos = model.iter().position(|&o| o == obj).unwrap();
        model.swap_remove(pos);
        if check_now(step, total) {
            assert_eq!(list(1), model, "after dropping node {i}");
        }
    }
    assert_eq!(sorted(list(1)), sorted(objs(&old)));
    drop(old);
    assert!(list(1).is_empty());
    assert_eq!(dropped_once(), start_dropped + 30 + N + 1);
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(bytes(), before);
}

// ---------------------------------------------------------------------------------------
// Weak references, try_unwrap and get_mut after a relist on two threads.

/// A generation 0 of 256 nodes, each weakly referenced from here and from the node before
/// it, promoted whole on two threads after a non-empty generation 1: every weak handle
/// upgrades to its own object, with counts exact; once half the nodes go, exactly their
/// weak handles stop upgrading, and once the rest become garbage, all do.
#[test]
fn weak_handles_to_a_generation_relisted_on_two_threads_still_upgrade() {
    const N: usize = 256;
    let _knobs = Knobs::hold_and_split();
    let start_dropped = dropped_once();
    let old = generation_1(25);
    let young: Vec<Gc<Node>> = (0..N).map(|_| node()).collect();
    let weak: Vec<Weak<Node>> = young.iter().map(Gc::downgrade).collect();
    for i in 0..N {
        *young[i].weak.borrow_mut() = Some(Gc::downgrade(&young[(i + 1) % N]));
    }
    let order = list(0);
    let split_before = gencollect::split_passes();
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    if two_cores() {
        assert_eq!(gencollect::split_passes(), split_before + 1);
    }
    let expected: Vec<ObjPtr> = objs(&old).into_iter().chain(order).collect();
    assert_eq!(list(1), expected, "relisted after generation 1, in order");
    for (i, w) in weak.iter().enumerate() {
        assert_eq!(Gc::weak_count(&young[i]), 2);
        assert_eq!(Gc::ref_count(&young[i]), 1);
        let up = w.upgrade().expect("a relisted object upgrades");
        assert!(Gc::ptr_eq(&up, &young[i]));
        let inner = young[(N + i - 1) % N]
            .weak
            .borrow()
            .as_ref()
            .unwrap()
            .upgrade();
        assert!(Gc::ptr_eq(&inner.unwrap(), &young[i]));
        assert_eq!(Gc::ref_count(&young[i]), 2);
    }
    assert!(young.iter().all(|y| Gc::ref_count(y) == 1));
    // Odd nodes go by reference counting.
    let (mut even, mut gone) = (Vec::new(), 0);
    for (i, y) in young.into_iter().enumerate() {
        if i % 2 == 0 {
            even.push(y);
        } else {
            drop(y);
            gone += 1;
        }
    }
    assert_eq!(dropped_once(), start_dropped + gone);
    for (i, w) in weak.iter().enumerate() {
        assert_eq!(w.upgrade().is_some(), i % 2 == 0, "weak handle {i}");
    }
    let live: Vec<ObjPtr> = objs(&old).into_iter().chain(objs(&even)).collect();
    assert_eq!(sorted(list(1)), sorted(live));
    // The even nodes in pairs of cycles; a collection of generation 1 finds them.
    for p in even.chunks(2) {
        link(&p[0], &p[1]);
        link(&p[1], &p[0]);
    }
    let m = even.len();
    drop(even);
    assert_eq!(gencollect::collect_generation(1), Ok(m));
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(dropped_once(), start_dropped + N);
    assert_eq!(sorted(list(2)), sorted(objs(&old)));
    drop(old);
    assert_eq!(dropped_once(), start_dropped + N + 25);
}

/// Right after a split relist after generation 1's objects: `try_unwrap` takes the value
/// out of every third node (each leaves the list at its index), `get_mut` lends every third
/// one, and the shared ones refuse both; in an order that crosses both halves.
#[test]
fn try_unwrap_and_get_mut_work_on_objects_relisted_on_two_threads() {
    const N: usize = 200;
    let _knobs = Knobs::hold_and_split();
    let before = bytes();
    let start_dropped = dropped_once();
    let old = generation_1(20);
    let mut young: Vec<Option<Gc<Node>>> = (0..N).map(|_| Some(node())).collect();
    let shared: Vec<Gc<Node>> = young
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 2)
        .map(|(_, y)| y.clone().unwrap())
        .collect();
    let ids: Vec<usize> = young.iter().map(|y| y.as_ref().unwrap().id).collect();
    let order = list(0);
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    let mut model: Vec<ObjPtr> = objs(&old).into_iter().chain(order).collect();
    assert_eq!(list(1), model);
    // 7 and 200 are coprime: every node once, alternating between the halves.
    let mut unwrapped = 0;
    for step in 0..N {
        let i = step * 7 % N;
        match i % 3 {
            0 => {
                let h = young[i].take().unwrap();
                let obj = Gc::as_obj(&h);
                let Ok(value) = Gc::try_unwrap(h) else {
                    panic!("node {i}: the only handle")
                };
                assert_eq!(value.id, ids[i]);
                drop(value);
                unwrapped += 1;
                let pos = model.iter().position(|&o| o == obj).unwrap();
                model.swap_remove(pos);
            }
            1 => {
                let h = young[i].as_mut().unwrap();
                let value = Gc::get_mut(h).expect("the only handle");
                value.val = 1000 + i as u64;
                assert!(gencollect::is_tracked(h));
                assert_eq!(gencollect::get_generation(h), Some(1));
            }
            _ => {
                let h = young[i].take().unwrap();
                let Err(mut h) = Gc::try_unwrap(h) else {
                    panic!("node {i}: shared")
                };
                assert!(Gc::get_mut(&mut h).is_none());
                assert_eq!(Gc::ref_count(&h), 2);
                young[i] = Some(h);
            }
        }
        if check_now(step, N) {
            assert_eq!(list(1), model, "after step {step} (node {i})");
        }
        assert_eq!(dropped_once(), start_dropped + unwrapped);
    }
    // The values written through `get_mut` are there; a collection of both generations
    // (the lent objects counted as referenced from outside) finds nothing.
    for (i, y) in young.iter().enumerate() {
        if i % 3 == 1 {
            assert_eq!(y.as_ref().unwrap().val, 1000 + i as u64);
        }
    }
    assert_eq!(gencollect::collect_generation(1), Ok(0));
    assert_eq!(sorted(list(2)), sorted(model));
    drop((young, shared, old));
    assert_eq!(dropped_once(), start_dropped + N + 20);
    assert!((0..3).all(|l| list(l).is_empty()));
    assert_eq!(bytes(), before);
}

// ---------------------------------------------------------------------------------------
// Garbage or none, repeatedly.

/// Round after round, a generation 0 of 240 objects (120 two-node cycles) with no garbage
/// (relisted whole on two threads), some (the survivors promoted in order, the garbage
/// condemned on two threads) or nothing but garbage: each collection of generation 0 finds
/// exactly the garbage, drops it once, and generation 1 grows by exactly the survivors,
/// after its own objects.
#[test]
fn garbage_or_none_in_a_split_held_generation_0_is_collected_exactly_round_after_round() {
    const PAIRS: usize = 120;
    let _knobs = Knobs::hold_and_split();
    let before = bytes();
    let start_dropped = dropped_once();
    let rounds: &[usize] = if cfg!(miri) {
        &[1, 3, 0, 1]
    } else {
        &[1, 3, 1, 0, 1, 2, 1, 7, 1, 0]
    };
    // `keep_every`: 1 keeps every cycle, 0 none, k every k-th.
    let mut kept: Vec<Gc<Node>> = Vec::new();
    let mut freed = 0;
    for (round, &keep_every) in rounds.iter().enumerate() {
        let mut fresh = Vec::new();
        let mut survivors = Vec::new();
        for p in 0..PAIRS {
            let (a, b) = (node(), node());
            link(&a, &b);
            link(&b, &a);
            if keep_every != 0 && p % keep_every == 0 {
                survivors.extend([Gc::as_obj(&a), Gc::as_obj(&b)]);
                fresh.push(a);
            }
        }
        let garbage = 2 * PAIRS - survivors.len();
        let old_order = list(1);
        let young = list(0);
        assert_eq!(young.len(), 2 * PAIRS);
        let expected_counts = counts(&kept);
        assert_eq!(
            gencollect::collect_generation(0),
            Ok(garbage),
            "round {round}"
        );
        freed += garbage;
        assert_eq!(dropped_once(), start_dropped + freed, "round {round}");
        let expected: Vec<ObjPtr> = old_order.iter().chain(&survivors).copied().collect();
        assert_eq!(
            list(1),
            expected,
            "round {round}: survivors after, in order"
        );
        assert!(list(0).is_empty());
        assert_eq!(counts(&kept), expected_counts, "round {round}");
        for a in &fresh {
            assert_eq!(
                Gc::ref_count(a),
                2,
                "round {round}: the vector and its partner"
            );
            assert_eq!(Gc::ref_count(a.next.borrow().as_ref().unwrap()), 1);
        }
        kept.extend(fresh);
    }
    let live = list(1).len();
    assert_eq!(live, 2 * kept.len());
    drop(kept);
    assert_eq!(gencollect::collect_generation(1), Ok(live));
    assert_eq!(dropped_once(), start_dropped + freed + live);
    assert_eq!(bytes(), before);
}

// ---------------------------------------------------------------------------------------
// Places after a non-empty older generation.

/// A split relist after a non-empty generation 1 (collect_generation(0)), then after a
/// non-empty generation 2 in a full collection that scans everything (generation 0 goes
/// after generation 2's objects, generation 1's after it): orders exact, and every object
/// leaves its list at its index when dropped, in an order that crosses both halves.
#[test]
fn a_split_relist_appends_after_older_objects_and_each_keeps_its_index() {
    const N: usize = 200;
    let _knobs = Knobs::hold_and_split();
    gencollect::set_full_scan(true);
    let before = bytes();
    let start_dropped = dropped_once();
    let oldest = generation_1(15);
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(list(2), objs(&oldest));
    let middle: Vec<Gc<Node>> = (0..70).map(|_| node()).collect();
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(list(1), objs(&middle));
    let young: Vec<Gc<Node>> = (0..N).map(|_| node()).collect();
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    let gen1: Vec<ObjPtr> = objs(&middle).into_iter().chain(objs(&young)).collect();
    assert_eq!(list(1), gen1, "after generation 1's 70, in order");
    let newest: Vec<Gc<Node>> = (0..N).map(|_| node()).collect();
    let split_before = gencollect::split_passes();
    assert_eq!(gencollect::collect(), 0);
    if two_cores() {
        assert_eq!(gencollect::split_passes(), split_before + 1);
    }
    let mut model: Vec<ObjPtr> = objs(&oldest)
        .into_iter()
        .chain(objs(&newest))
        .chain(gen1)
        .collect();
    assert_eq!(list(2), model);
    assert!(list(0).is_empty() && list(1).is_empty());
    let mut all: Vec<Option<Gc<Node>>> = oldest
        .into_iter()
        .chain(newest)
        .chain(middle)
        .chain(young)
        .map(Some)
        .collect();
    let total = all.len();
    assert_eq!(total, 15 + N + 70 + N);
    // 7 and 485 are coprime.
    for step in 0..total {
        let i = step * 7 % total;
        let h = all[i].take().unwrap();
        let obj = Gc::as_obj(&h);
        drop(h);
        let pos = model.iter().position(|&o| o == obj).unwrap();
        model.swap_remove(pos);
        if check_now(step, total) {
            assert_eq!(list(2), model, "after dropping object {i}");
        }
    }
    assert!(list(2).is_empty());
    assert_eq!(dropped_once(), start_dropped + total);
    assert_eq!(bytes(), before);
}
