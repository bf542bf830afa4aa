//! Full collections analyse only what dirty objects reach (`ObjectOps::is_dirty`): what users
//! rely on is that they still find exactly the garbage a whole-heap analysis finds, while an
//! unchanged heap costs no analysis at all.

use std::cell::RefCell;

use gencollect::{collect, get_stats};
use refcount::Gc;
use refcount::engine::ObjectOps;

thread_local! {
    static DROPS: RefCell<usize> = const { RefCell::new(0) };
}

fn drops() -> usize {
    DROPS.with(|d| *d.borrow())
}

#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| *d.borrow_mut() += 1);
    }
}

fn node() -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
    })
}

/// A full collection, and how many objects it analysed.
fn collect_analysed() -> (usize, usize) {
    let before = get_stats()[2].candidates;
    let found = collect();
    (found, get_stats()[2].candidates - before)
}

#[test]
fn an_unchanged_heap_costs_no_analysis() {
    collect();
    let live: Vec<Gc<Node>> = (0..1000).map(|_| node()).collect();
    for pair in live.chunks(2) {
        *pair[0].next.borrow_mut() = Some(pair[1].clone());
        *pair[1].next.borrow_mut() = Some(pair[0].clone());
    }
    // The clones were never dropped: nothing is dirty, and nothing is garbage.
    assert_eq!(collect_analysed(), (0, 0));
    // One handle dropped: its object and what it reaches (its partner) are analysed.
    let dropped = live[10].next.borrow_mut().take();
    drop(dropped);
    assert_eq!(collect_analysed(), (0, 2));
    // That collection proved them reachable: clean again.
    assert_eq!(collect_analysed(), (0, 0));
    // The whole-heap analysis on request.
    gencollect::set_full_scan(true);
    let (found, analysed) = collect_analysed();
    assert_eq!(found, 0);
    assert!(analysed >= 1000);
    gencollect::set_full_scan(false);
    drop(live);
    assert_eq!(
        collect(),
        998,
        "499 pairs are cycles; the broken one went by refcounting"
    );
    assert_eq!(drops(), 1000);
}

#[test]
fn a_cycle_closed_through_a_new_object_is_found() {
    // `c` is proved reachable (clean); a new object takes `c`'s only handle by a move, and
    // `c` then points back at it. Only the new object's count was ever decremented.
    collect();
    let c = node();
    collect();
    let y = Gc::new(Node {
        next: RefCell::new(Some(c)),
    });
    let back = y.clone();
    *y.next.borrow().as_ref().unwrap().next.borrow_mut() = Some(back);
    drop(y);
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

#[test]
fn a_cycle_closed_through_a_raw_pointer_is_found() {
    // Unsafe code may reach an object through `Gc::as_ptr` instead of a handle and close a
    // cycle without any count going down: such objects are always analysed.
    collect();
    let a = node();
    let b = node();
    collect();
    let pa = Gc::as_ptr(&a);
    *a.next.borrow_mut() = Some(b);
    // SAFETY: `a` stays referenced (by `b`, from the move below on), so the pointer stays
    // valid; no `&mut` to the value exists.
    unsafe {
        let b_ref = (*pa).next.borrow();
        *b_ref.as_ref().unwrap().next.borrow_mut() = Some(a);
    }
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

#[test]
fn a_cycle_through_an_unfrozen_object_is_found() {
    // `p` is clean when frozen. `q` moves `p`'s handle in and is its only way back; the one
    // decrement is `q`'s, and the collection that analyses `q` meanwhile keeps it (frozen
    // objects count as outside). Unfreezing must make `p` part of the next analysis.
    collect();
    let p = node();
    collect();
    gencollect::freeze();
    let q = node();
    *q.next.borrow_mut() = Some(p);
    let back = q.clone();
    *q.next.borrow().as_ref().unwrap().next.borrow_mut() = Some(back);
    drop(q);
    assert_eq!(collect(), 0, "held by the permanent generation");
    gencollect::unfreeze();
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

#[test]
fn an_object_that_could_not_be_read_stays_dirty_until_one_can() {
    // A mutably borrowed `RefCell` hides what its object holds: the collection keeps it,
    // so nothing proved it reachable, and the next full collection must look again.
    collect();
    let x = node();
    drop(x.clone());
    let obj = Gc::as_obj(&x);
    // SAFETY: `x` holds the memory for every read below.
    let dirty = || unsafe { obj.is_dirty() };
    assert!(dirty());
    let guard = x.next.borrow_mut();
    assert_eq!(collect_analysed(), (0, 1));
    assert!(dirty(), "unreadable during the collection");
    drop(guard);
    assert_eq!(collect_analysed(), (0, 1));
    assert!(!dirty(), "read and proved reachable");
    assert_eq!(collect_analysed(), (0, 0));
}

/// `n` live nodes in two-node cycles, every one of them dirty (a handle cloned and dropped).
fn dirty_pairs(n: usize) -> Vec<Gc<Node>> {
    let live: Vec<Gc<Node>> = (0..n).map(|_| node()).collect();
    for pair in live.chunks(2) {
        *pair[0].next.borrow_mut() = Some(pair[1].clone());
        *pair[1].next.borrow_mut() = Some(pair[0].clone());
    }
    for x in &live {
        drop(x.clone());
    }
    live
}

#[test]
fn a_whole_set_analysis_makes_survivors_clean_but_not_an_unreadable_one() {
    collect();
    let live = dirty_pairs(1000);
    let obj = |i: usize| Gc::as_obj(&live[i]);
    // SAFETY: `live` holds the memory of every object read.
    let dirty = |i: usize| unsafe { obj(i).is_dirty() };
    assert!((0..1000).all(dirty));
    // Dirty objects are common: the whole set is analysed, not what they reach.
    let guard = live[500].next.borrow_mut();
    let (found, analysed) = collect_analysed();
    assert_eq!(found, 0);
    assert!(analysed >= 1000, "{analysed}");
    assert_eq!((0..1000).filter(|&i| dirty(i)).collect::<Vec<_>>(), [500]);
    drop(guard);
    // Only the one that could not be read is analysed again, with its partner.
    assert_eq!(collect_analysed(), (0, 2));
    assert!(!dirty(500));
    assert_eq!(collect_analysed(), (0, 0));
    drop(live);
    assert_eq!(collect(), 1000);
}

/// A node whose trace panics while `ARMED` is set.
struct Bomb;

thread_local! {
    static ARMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: it holds no handle; it reports none.
unsafe impl refcount::Trace for Bomb {
    fn trace(&self, _: &mut refcount::Tracer<'_>) {
        if ARMED.with(|a| a.get()) {
            panic!("trace failed");
        }
    }
}

#[test]
fn garbage_counted_by_an_analysis_that_failed_is_still_found() {
    collect();
    // 200 dead cycles: dirty objects are common, so the next full collection counts the
    // whole set, and counts the cycles before the bomb, made last.
    for _ in 0..100 {
        let a = node();
        let b = node();
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a);
    }
    let bomb = Gc::new(Bomb);
    assert!(gencollect::is_tracked(&bomb));
    ARMED.with(|a| a.set(true));
    let failed = std::panic::catch_unwind(collect);
    ARMED.with(|a| a.set(false));
    assert!(failed.is_err(), "the trace's panic reaches the caller");
    assert_eq!(drops(), 0, "nothing freed by the failed collection");
    // Counted and made clean before the panic, the cycles must be analysed again.
    assert_eq!(collect(), 200);
    assert_eq!(drops(), 200);
    drop(bomb);
}
