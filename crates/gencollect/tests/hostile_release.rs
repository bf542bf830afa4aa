//! Hostile use of the safe API against three promises of a collection: arenas its garbage
//! empties are set aside during the pause, reused first and handed back after it
//! (`arenas_retired` is 0 outside a collection); a full collection that analyses the whole
//! set makes objects clean as it counts them, on both threads of a split count pass, and
//! makes them dirty again when the analysis does not complete; and every garbage cycle is
//! still found, exactly, after destructors that allocate, panic or collect, a panicking
//! trace, a mutably borrowed `RefCell`, resurrection, `SAVEALL`, and a collection run from a
//! thread-local destructor at thread exit. (A `tracing` subscriber that panics in the pause
//! is attacked in `tests/subscriber_panic.rs`.) Each test runs on its own thread, so its heap
//! holds only what it built.

use std::cell::{Cell, RefCell};
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use gencollect::{DebugFlags, collect, get_stats};
use refcount::{Finalize, Gc, Trace, Tracer, alloc_stats};

mod common {
    pub(crate) mod arenas;
}
use common::arenas::{
    DROPS, Node, ON_LAST_DROP, assert_arenas_consistent, drops, garbage, link, node, on_thread,
    twenty_arenas,
};

thread_local! {
    static MADE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static INNER: Cell<usize> = const { Cell::new(usize::MAX) };
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static SAVED: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static AT_EXIT: RefCell<Option<CollectOnDrop>> = const { RefCell::new(None) };
}

/// `pairs` live two-node cycles, every node dirty (a handle cloned and dropped).
fn dirty_pairs(pairs: usize) -> Vec<Gc<Node>> {
    let live: Vec<Gc<Node>> = (0..2 * pairs).map(|_| node(false)).collect();
    for p in live.chunks(2) {
        link(&p[0], &p[1]);
    }
    live.iter().for_each(|x| drop(x.clone()));
    live
}

fn collect_analysed() -> (usize, usize) {
    let before = get_stats()[2].candidates;
    let found = collect();
    (found, get_stats()[2].candidates - before)
}

/// Splits every count pass with the helper thread, where there is a second core.
fn split_everything() -> bool {
    gencollect::set_parallel(true);
    gencollect::set_parallel_threshold(0);
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

// Promise: a destructor in the drop pass allocates into the arenas just set aside, then
// panics; the panic reaches the caller, no arena is taken from the system or left aside.
#[test]
fn a_destructor_refills_the_set_aside_arenas_then_panics() {
    on_thread(|| {
        gencollect::disable();
        ON_LAST_DROP.with(|c| {
            c.set(Some(|| {
                MADE.with(|m| {
                    m.borrow_mut()
                        .extend((0..2 * (twenty_arenas() - 1)).map(|_| node(false)))
                });
                panic!("destructor after allocating");
            }))
        });
        garbage(twenty_arenas(), true);
        let allocated = alloc_stats().arenas_allocated;
        assert!(
            catch_unwind(collect).is_err(),
            "the panic reaches the caller"
        );
        ON_LAST_DROP.with(|c| c.set(None));
        assert_eq!(drops(), 2 * twenty_arenas(), "every garbage node dropped");
        assert_eq!(MADE.with(|m| m.borrow().len()), 2 * (twenty_arenas() - 1));
        assert_eq!(alloc_stats().arenas_allocated, allocated, "reused, not new");
        assert_arenas_consistent();
        // The objects made in the pause are ordinary: freed by refcounting, no cycle.
        MADE.with(|m| m.borrow_mut().clear());
        assert_eq!(drops(), 4 * twenty_arenas() - 2);
        assert_eq!(collect(), 0);
        assert_eq!(alloc_stats().arenas_held, 1);
        assert_arenas_consistent();
    });
}

// Promise: collections never nest; one started by a destructor of the drop pass returns 0
// and the outer one still reports and frees all of its garbage.
#[test]
fn a_destructor_that_collects_starts_no_nested_collection() {
    on_thread(|| {
        gencollect::disable();
        ON_LAST_DROP.with(|c| {
            c.set(Some(|| {
                garbage(100, false);
                INNER.with(|i| i.set(collect()));
            }))
        });
        garbage(twenty_arenas(), true);
        assert_eq!(collect(), 2 * twenty_arenas());
        ON_LAST_DROP.with(|c| c.set(None));
        assert_eq!(INNER.with(|i| i.get()), 0, "nested collection ran");
        assert_arenas_consistent();
        // The cycles the destructor made are found by the next collection.
        assert_eq!(collect(), 200);
        assert_eq!(drops(), 2 * twenty_arenas() + 200);
        assert_arenas_consistent();
    });
}

static EXIT_FOUND: [AtomicUsize; 2] = [AtomicUsize::new(usize::MAX), AtomicUsize::new(usize::MAX)];
static EXIT_RETIRED: [AtomicUsize; 2] =
    [AtomicUsize::new(usize::MAX), AtomicUsize::new(usize::MAX)];

/// Collects when dropped (at thread exit), recording what it found.
struct CollectOnDrop(usize);

impl Drop for CollectOnDrop {
    fn drop(&mut self) {
        EXIT_FOUND[self.0].store(collect(), SeqCst);
        EXIT_RETIRED[self.0].store(alloc_stats().arenas_retired, SeqCst);
    }
}

// Promise: a collection run by a thread-local destructor while the thread exits (the heap
// alive, the collector's own thread-locals alive or already gone) finds all the garbage
// of 8+ arenas and gives them back, on the give-back thread where there are cores.
#[test]
fn a_collection_at_thread_exit_gives_back_its_arenas() {
    for (i, state_gone_first) in [(0, false), (1, true)] {
        on_thread(move || {
            drop(node(false)); // The heap's thread-local first: it is destroyed last.
            gencollect::disable();
            if state_gone_first {
                // Registered before the collector's state and side tables, so dropped after.
                AT_EXIT.with(|a| *a.borrow_mut() = Some(CollectOnDrop(i)));
                assert_eq!(collect(), 0);
            } else {
                assert_eq!(collect(), 0);
                AT_EXIT.with(|a| *a.borrow_mut() = Some(CollectOnDrop(i)));
            }
            garbage(twenty_arenas(), false);
        });
        assert_eq!(EXIT_FOUND[i].load(SeqCst), 2 * twenty_arenas(), "case {i}");
        assert_eq!(EXIT_RETIRED[i].load(SeqCst), 0, "case {i}");
    }
}

/// Holds nothing; its trace panics while `ARMED` is set, and is not pure (user code).
struct Bomb;

// SAFETY: it holds no handle and reports none.
unsafe impl Trace for Bomb {
    fn trace(&self, _: &mut Tracer<'_>) {
        if ARMED.with(|a| a.get()) {
            panic!("trace failed");
        }
    }
}

// Promise: a whole-set analysis whose trace panics after both threads made objects clean
// leaves every object dirty, so later full collections find exactly every cycle.
#[test]
fn a_trace_panic_after_the_helper_cleaned_its_half_loses_no_cycle() {
    on_thread(|| {
        let split = split_everything();
        gencollect::disable();
        // First in the set: the collecting thread stops at it; the helper counts the rest.
        let bomb = Gc::new(Bomb);
        let live = dirty_pairs(300);
        garbage(100, false);
        let passes = gencollect::split_passes();
        ARMED.with(|a| a.set(true));
        assert!(catch_unwind(collect).is_err());
        ARMED.with(|a| a.set(false));
        assert_eq!(gencollect::split_passes() - passes, usize::from(split));
        assert_eq!(drops(), 0, "nothing freed by the failed collection");
        assert_arenas_consistent();
        assert_eq!(collect(), 200);
        assert_eq!(drops(), 200);
        // Everything is proved reachable and clean now.
        assert_eq!(collect_analysed(), (0, 0));
        // Garbage made out of objects the completed pass made clean.
        drop(live);
        assert_eq!(collect(), 600);
        assert_eq!(drops(), 800);
        drop(bomb);
        assert_arenas_consistent();
    });
}

// Promise: an object the helper could not read (a mutably borrowed `RefCell` in its half)
// is not left clean: once readable, the next full collection looks at it and its partner.
#[test]
fn a_borrowed_object_in_the_helpers_half_stays_dirty() {
    on_thread(|| {
        split_everything();
        gencollect::disable();
        let live = dirty_pairs(500);
        let guard = live[900].next.borrow_mut();
        let (found, analysed) = collect_analysed();
        assert_eq!(found, 0);
        assert!(analysed >= 1000, "{analysed}");
        drop(guard);
        assert_eq!(collect_analysed(), (0, 2));
        assert_eq!(collect_analysed(), (0, 0));
        // Break 100 pairs in the helper's half into garbage: the rest stays reachable.
        let dead: Vec<Gc<Node>> = live[600..800].to_vec();
        drop(live);
        assert_eq!(collect(), 800);
        drop(dead);
        assert_eq!(collect(), 200);
        assert_eq!(drops(), 1000);
        assert_arenas_consistent();
    });
}

/// A self-cycle whose finalizer resurrects the node it holds (and that node's partner).
#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Resurrector {
    keep: RefCell<Option<Gc<Node>>>,
    me: RefCell<Option<Gc<Resurrector>>>,
}

impl Finalize for Resurrector {
    fn finalize(&self) {
        if let Some(n) = self.keep.borrow().clone() {
            SAVED.with(|s| s.borrow_mut().push(n));
        }
    }
}

impl Drop for Resurrector {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

// Promise: garbage a whole-set analysis made clean and a finalizer then resurrected is
// revived dirty: once dropped again, it is found by a later (restricted) full collection.
#[test]
fn a_resurrected_cycle_is_found_once_dropped_again() {
    on_thread(|| {
        split_everything();
        gencollect::disable();
        let live = dirty_pairs(300);
        garbage(50, false);
        let (a, b) = (node(false), node(false));
        link(&a, &b);
        let r = Gc::new_with_finalizer(Resurrector {
            keep: RefCell::new(Some(a.clone())),
            me: RefCell::new(None),
        });
        *r.me.borrow_mut() = Some(r.clone());
        let weak = Gc::downgrade(&a);
        drop((a, b, r));
        // The plain cycles and the Resurrector; its pair lives on.
        assert_eq!(collect(), 101);
        assert_eq!(drops(), 101);
        assert!(
            weak.upgrade().is_none(),
            "weak references to garbage stay cleared"
        );
        let saved = SAVED.with(|s| core::mem::take(&mut *s.borrow_mut()));
        assert_eq!(saved.len(), 1);
        // The rest was proved reachable (clean); only the revived pair is analysed.
        assert_eq!(collect_analysed(), (0, 2));
        drop(saved);
        assert_eq!(collect(), 2);
        assert_eq!(drops(), 103);
        drop(live);
        assert_eq!(collect(), 600);
        assert_arenas_consistent();
    });
}

// Promise: garbage saved by `SAVEALL` (made clean by the count pass) is revived dirty, so
// once the saved handles go, a restricted full collection finds exactly those cycles.
#[test]
fn saveall_garbage_is_found_again_once_released() {
    on_thread(|| {
        split_everything();
        gencollect::disable();
        let live = dirty_pairs(300);
        garbage(100, false);
        gencollect::set_debug(DebugFlags::SAVEALL);
        assert_eq!(collect(), 200);
        gencollect::set_debug(DebugFlags::NONE);
        let saved = gencollect::garbage();
        assert_eq!(saved.len(), 200);
        // Survivors of `clear_garbage`'s own analysis: `saved` still holds them.
        gencollect::clear_garbage();
        assert_eq!(drops(), 0);
        drop(saved);
        assert_eq!(collect(), 200);
        assert_eq!(drops(), 200);
        drop(live);
        assert_eq!(collect(), 600);
        assert_arenas_consistent();
    });
}
