//! Collections that hold generation 0 during their count pass (a temporary reference on each
//! object, so that its garbage can be set apart without a pass over it): what users rely on
//! must not change. `set_young_hold_threshold(0)` makes every collection that analyses all
//! of generation 0 work that way; by default only those of a generation 0 of 65,536 objects
//! or more do. (A full collection that analyses only what dirty objects reach does not.)

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use gcrt_derive::Trace;
use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer, Weak};

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn node(drops: &Rc<Cell<usize>>) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        drops: drops.clone(),
    })
}

/// `pairs` two-node cycles; the first node of every `keep_every`-th one is returned (held).
fn cycles(pairs: usize, keep_every: usize, drops: &Rc<Cell<usize>>) -> Vec<Gc<Node>> {
    let mut kept = Vec::new();
    for i in 0..pairs {
        let a = node(drops);
        let b = node(drops);
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a.clone());
        if i % keep_every == 0 {
            kept.push(a);
        }
    }
    kept
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

#[test]
fn held_garbage_is_dropped_and_freed_exactly_once_and_survivors_keep_their_counts() {
    gencollect::set_young_hold_threshold(0);
    gencollect::collect();
    let before = bytes();
    let drops = Rc::new(Cell::new(0));
    let kept = cycles(300, 3, &drops);
    // Each kept node: its handle here and its partner's.
    assert!(kept.iter().all(|a| Gc::strong_count(a) == 2));
    assert_eq!(gencollect::collect_generation(0).unwrap(), 400);
    assert_eq!(drops.get(), 400);
    // The count pass's temporary references were all given back.
    assert!(kept.iter().all(|a| Gc::strong_count(a) == 2));
    let partner = kept[0].next.borrow().clone().unwrap();
    assert_eq!(Gc::strong_count(&partner), 2);
    drop(partner);
    drop(kept);
    assert_eq!(gencollect::collect(), 200);
    assert_eq!(drops.get(), 600);
    assert_eq!(bytes(), before);
    gencollect::set_young_hold_threshold(usize::MAX);
}

/// Panics when traced while `ARMED` is set.
struct Tripwire;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: holds no handle.
unsafe impl Trace for Tripwire {
    fn trace(&self, _: &mut Tracer<'_>) {
        if ARMED.with(Cell::get) {
            panic!("tripwire");
        }
    }
}

#[test]
fn a_trace_panicking_in_a_held_count_pass_leaves_every_count_as_it_was() {
    // Regression guard: the objects counted before the panic hold a temporary reference,
    // which the pass must give back before the panic goes on.
    gencollect::set_young_hold_threshold(0);
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let kept = cycles(50, 1, &drops);
    let wire = Gc::new(Tripwire);
    ARMED.with(|a| a.set(true));
    let result = catch_unwind(AssertUnwindSafe(gencollect::collect));
    ARMED.with(|a| a.set(false));
    assert!(result.is_err(), "the trace's panic reaches the caller");
    assert!(kept.iter().all(|a| Gc::strong_count(a) == 2));
    assert_eq!(drops.get(), 0);
    drop((kept, wire));
    assert_eq!(gencollect::collect(), 100);
    assert_eq!(drops.get(), 100);
    gencollect::set_young_hold_threshold(usize::MAX);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Watcher {
    next: RefCell<Option<Gc<Watcher>>>,
    #[trace(skip)]
    others: RefCell<Vec<Weak<Watcher>>>,
    #[trace(skip)]
    upgraded: Rc<Cell<usize>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for w in self.others.borrow().iter() {
            if w.upgrade().is_some() {
                self.upgraded.set(self.upgraded.get() + 1);
            }
        }
    }
}

#[test]
fn weakly_referenced_garbage_is_set_apart_before_the_first_drop_even_when_held() {
    // Held garbage with weak references takes the path that clears them all first.
    gencollect::set_young_hold_threshold(0);
    gencollect::collect();
    let upgraded = Rc::new(Cell::new(0));
    let ring: Vec<Gc<Watcher>> = (0..4)
        .map(|_| {
            Gc::new(Watcher {
                next: RefCell::new(None),
                others: RefCell::new(Vec::new()),
                upgraded: upgraded.clone(),
            })
        })
        .collect();
    for (i, w) in ring.iter().enumerate() {
        *w.next.borrow_mut() = Some(ring[(i + 1) % 4].clone());
        *w.others.borrow_mut() = ring.iter().map(Gc::downgrade).collect();
    }
    drop(ring);
    // Generation 0 alone: a full collection would analyse only what dirty objects reach,
    // and so few objects are not held.
    assert_eq!(gencollect::collect_generation(0).unwrap(), 4);
    assert_eq!(upgraded.get(), 0, "16 upgrade attempts, all refused");
    gencollect::set_young_hold_threshold(usize::MAX);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Stasher {
    next: RefCell<Option<Gc<Stasher>>>,
}

thread_local! {
    static STASH: RefCell<Vec<Gc<Stasher>>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Stasher {
    fn drop(&mut self) {
        // Reaches the other member of its garbage cycle, which may not be dropped yet.
        if let Some(other) = self.next.borrow().as_ref() {
            STASH.with(|s| s.borrow_mut().push(other.clone()));
        }
    }
}

#[test]
fn a_destructor_keeping_held_garbage_gets_a_dead_handle() {
    gencollect::set_young_hold_threshold(0);
    gencollect::collect();
    let a = Gc::new(Stasher {
        next: RefCell::new(None),
    });
    let b = Gc::new(Stasher {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b.clone());
    drop((a, b));
    assert_eq!(gencollect::collect_generation(0).unwrap(), 2);
    let stash = STASH.with(|s| core::mem::take(&mut *s.borrow_mut()));
    assert_eq!(stash.len(), 2);
    for h in &stash {
        assert!(
            Gc::try_deref(h).is_none(),
            "the collector dropped the value"
        );
        assert!(!gencollect::is_tracked(h));
    }
    drop(stash);
    assert_eq!(gencollect::collect(), 0);
    gencollect::set_young_hold_threshold(usize::MAX);
}

#[test]
fn a_generation_0_of_nothing_but_garbage_leaves_whole_next_to_older_garbage_and_survivors() {
    // Generation 0 all garbage: its list is handed over whole (after older garbage, or
    // alone), and older survivors stay put.
    gencollect::set_young_hold_threshold(0);
    gencollect::collect();
    let before = bytes();
    let drops = Rc::new(Cell::new(0));
    // Two cycles promoted to generation 1: one is then let go, the other survives.
    let old = cycles(1, 1, &drops);
    let kept = cycles(1, 1, &drops);
    assert_eq!(gencollect::collect_generation(0).unwrap(), 0);
    drop(old);
    // Young garbage only.
    drop(cycles(3, 1, &drops));
    assert_eq!(gencollect::get_count().0, 6);
    assert_eq!(gencollect::collect_generation(1).unwrap(), 2 + 6);
    assert_eq!(drops.get(), 8);
    assert_eq!(Gc::strong_count(&kept[0]), 2);
    // Young garbage next to an older survivor only.
    drop(cycles(2, 1, &drops));
    assert_eq!(gencollect::collect_generation(1).unwrap(), 4);
    assert_eq!(drops.get(), 12);
    assert_eq!(Gc::strong_count(&kept[0]), 2);
    kept[0].next.borrow_mut().take();
    drop(kept);
    assert_eq!(drops.get(), 14);
    assert_eq!(bytes(), before);
    gencollect::set_young_hold_threshold(usize::MAX);
}

/// A held generation 0 in which nothing is garbage is promoted in the pass that gives its
/// temporary references back: every count is as it was, and the older generation receives
/// it where a separate promotion would put it (after its own objects, before generation 1's
/// in a full collection), in order.
#[test]
fn a_held_generation_0_with_no_garbage_is_promoted_in_order_with_every_count_as_it_was() {
    gencollect::set_young_hold_threshold(0);
    gencollect::set_full_scan(true);
    gencollect::disable();
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let old = cycles(3, 1, &drops);
    assert_eq!(gencollect::collect(), 0);
    let middle = cycles(3, 1, &drops);
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    let young = cycles(4, 1, &drops);
    let list = |l| with_heap(|h| h.list_snapshot(l));
    let (old_order, middle_order, young_order) = (list(2), list(1), list(0));
    assert_eq!(
        (old_order.len(), middle_order.len(), young_order.len()),
        (6, 6, 8)
    );
    // Generation 0 alone: promoted to generation 1, after its objects.
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    let expected: Vec<_> = middle_order.iter().chain(&young_order).copied().collect();
    assert_eq!(list(1), expected);
    // Whole, then a full collection: generation 0 goes after generation 2's objects,
    // generation 1's after it.
    let newest = cycles(2, 1, &drops);
    let newest_order = list(0);
    let generation_1 = list(1);
    assert_eq!(gencollect::collect(), 0);
    let expected: Vec<_> = old_order
        .iter()
        .chain(&newest_order)
        .chain(&generation_1)
        .copied()
        .collect();
    assert_eq!(list(2), expected);
    assert!((0..2).all(|l| list(l).is_empty()));
    assert_eq!(drops.get(), 0);
    for a in old.iter().chain(&middle).chain(&young).chain(&newest) {
        // Held by the vector and by its partner; the partner by `a` alone.
        assert_eq!(Gc::ref_count(a), 2);
        assert_eq!(Gc::ref_count(a.next.borrow().as_ref().unwrap()), 1);
    }
    drop((old, middle, young, newest));
    assert_eq!(gencollect::collect(), 24);
    assert_eq!(drops.get(), 24);
    gencollect::enable();
    gencollect::set_full_scan(false);
    gencollect::set_young_hold_threshold(1 << 16);
}

/// A `Trace` impl that allocates a tracked object while generation 0 is counted: the new
/// object was never held, so the held generation is not promoted in the give-back pass (which
/// would take a reference it does not have), and every count stays exact.
#[test]
fn an_object_allocated_during_a_held_count_pass_keeps_its_count() {
    struct Maker {
        made: RefCell<Vec<Gc<Node>>>,
        drops: Rc<Cell<usize>>,
    }
    // SAFETY: reports nothing: the objects it makes are held from outside the heap's graph
    // through `made`, which it does not report (an under-report: they only look held from
    // outside).
    unsafe impl Trace for Maker {
        fn trace(&self, _: &mut Tracer<'_>) {
            if let Ok(mut made) = self.made.try_borrow_mut() {
                made.push(node(&self.drops));
            }
        }
    }
    gencollect::set_young_hold_threshold(0);
    gencollect::disable();
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let kept = cycles(3, 1, &drops);
    let maker = Gc::new(Maker {
        made: RefCell::new(Vec::new()),
        drops: drops.clone(),
    });
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    let made = maker.made.borrow().len();
    assert!(made >= 1);
    for g in maker.made.borrow().iter() {
        assert_eq!(Gc::ref_count(g), 1, "held by `made` alone");
    }
    for a in &kept {
        assert_eq!(Gc::ref_count(a), 2);
    }
    drop((kept, maker));
    assert_eq!(gencollect::collect(), 6);
    assert_eq!(drops.get(), 6 + made);
    gencollect::enable();
    gencollect::set_young_hold_threshold(1 << 16);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Checker {
    next: RefCell<Option<Gc<Checker>>>,
    #[trace(skip)]
    saw_dead: Rc<Cell<usize>>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        if self.next.borrow().as_ref().is_some_and(Gc::is_dead) {
            self.saw_dead.set(self.saw_dead.get() + 1);
        }
    }
}

/// Held garbage large enough to be flagged on two threads (the helper takes the older half):
/// every destructor finds the node its own points to dead, although (but for the oldest
/// node's) that node is dropped after it (garbage is dropped newest first), and every death
/// is counted once.
#[test]
fn held_garbage_flagged_on_two_threads_is_all_dead_before_the_first_drop() {
    const RING: usize = 600;
    gencollect::set_young_hold_threshold(0);
    gencollect::set_parallel_threshold(64);
    gencollect::collect();
    let saw_dead = Rc::new(Cell::new(0));
    let nodes: Vec<Gc<Checker>> = (0..RING)
        .map(|_| {
            Gc::new(Checker {
                next: RefCell::new(None),
                saw_dead: saw_dead.clone(),
            })
        })
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        *n.next.borrow_mut() = Some(nodes[(i + RING - 1) % RING].clone());
    }
    drop(nodes);
    let (_, freed_before) = with_heap(|h| h.tracked_totals());
    assert_eq!(gencollect::collect_generation(0).unwrap(), RING);
    assert_eq!(saw_dead.get(), RING, "each destructor found its node dead");
    let (_, freed_after) = with_heap(|h| h.tracked_totals());
    assert_eq!(freed_after - freed_before, RING as u64);
    gencollect::set_parallel_threshold(1 << 17);
    gencollect::set_young_hold_threshold(1 << 16);
}

/// A hostile destructor against garbage condemned on two threads: each keeps a handle to the
/// node its own points to (dropped after it, in either half of the garbage) and tries to
/// read it, borrow it mutably, and keep it past the collection. Every such handle is dead
/// from before the first drop: no read, no `&mut`, and the values are dropped once.
#[test]
fn destructors_keeping_garbage_condemned_on_two_threads_get_dead_handles() {
    const RING: usize = 600;
    gencollect::set_young_hold_threshold(0);
    gencollect::set_parallel_threshold(64);
    gencollect::collect();
    let nodes: Vec<Gc<Stasher>> = (0..RING)
        .map(|_| {
            Gc::new(Stasher {
                next: RefCell::new(None),
            })
        })
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        *n.next.borrow_mut() = Some(nodes[(i + RING - 1) % RING].clone());
    }
    drop(nodes);
    assert_eq!(gencollect::collect_generation(0).unwrap(), RING);
    let mut stash = STASH.with(|s| core::mem::take(&mut *s.borrow_mut()));
    assert_eq!(stash.len(), RING);
    for h in &mut stash {
        assert!(Gc::is_dead(h));
        assert!(Gc::try_deref(h).is_none());
        assert!(Gc::get_mut(h).is_none());
        assert!(!gencollect::is_tracked(h));
    }
    drop(stash);
    assert_eq!(gencollect::collect(), 0);
    gencollect::set_parallel_threshold(1 << 17);
    gencollect::set_young_hold_threshold(1 << 16);
}

/// A held generation 0 with no garbage, promoted whole while its temporary references are
/// given back on two threads: each object lands at its own place in generation 1 (dropping
/// them one at a time, in an order that crosses both halves, takes each out of the list at
/// its index), with its count as it was.
#[test]
fn a_held_generation_0_relisted_on_two_threads_keeps_each_place_and_count() {
    const N: usize = 200;
    gencollect::set_young_hold_threshold(0);
    gencollect::set_parallel_threshold(64);
    gencollect::disable();
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let mut nodes: Vec<Option<Gc<Node>>> = (0..N).map(|_| Some(node(&drops))).collect();
    let list = |l| with_heap(|h| h.list_snapshot(l));
    let order = list(0);
    assert_eq!(order.len(), N);
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(list(1), order, "promoted whole, in order");
    assert!(list(0).is_empty());
    assert!(nodes.iter().flatten().all(|n| Gc::ref_count(n) == 1));
    // 7 and 200 are coprime: every position once, alternating between the halves.
    for step in 0..N {
        let i = step * 7 % N;
        drop(nodes[i].take());
        if cfg!(miri) && step % 16 != 0 {
            continue; // (each check reads and sorts the whole list: slow under Miri)
        }
        let mut left: Vec<_> = nodes.iter().flatten().map(Gc::as_obj).collect();
        let mut listed = list(1);
        left.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, left, "after dropping node {i}");
    }
    assert_eq!(drops.get(), N);
    gencollect::enable();
    gencollect::set_parallel_threshold(1 << 17);
    gencollect::set_young_hold_threshold(1 << 16);
}
