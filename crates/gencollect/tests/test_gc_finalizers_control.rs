//! Finalizers at work inside gcrt's collector, and the controls over them: the finalizer
//! version of CPython 3.12's `test_trashcan` (`Lib/test/test_gc.py`), the .NET-style
//! controls gcrt adds (`suppress_finalize`, `reregister_for_finalize`, `get_generation`,
//! `collection_count`, `total_memory`), the reporting of panicking finalizers (CPython's
//! `sys.unraisablehook`), `SAVEALL` with finalizers, and finalizers that collect, allocate
//! cycles or store handles during a collection. The other finalizer tests of `test_gc.py`
//! are in `test_gc_finalizers.rs`; the mapping of every CPython test is in
//! `docs/test_gc-port.md`.
//!
//! Expected counts are exact for this object model: every `Gc` counts 1 in `collect()`'s
//! result. Objects freed by refcounting while finalizers run are not counted (as in
//! CPython).
//!
//! Each test runs on its own thread: fresh heap, counts, statistics and thread-locals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gencollect::{
    Unraisable, collect, collect_generation, collection_count, get_generation, get_stats,
    is_finalized, reregister_for_finalize, set_unraisable_hook, suppress_finalize, total_memory,
};
use refcount::{Finalize, Gc, Trace, Tracer};

// Only the finalizer helpers of `common/`, not the property tests' `common/mod.rs`.
mod common {
    pub(crate) mod finalizers;
}
use common::finalizers::*;

// ----- test_trashcan with finalizers ------------------------------------------------------------

/// `Ouch`: its finalizer counts and runs a full collection every 17th call.
struct Ouch {
    n: Rc<Cell<usize>>,
    nested: Rc<RefCell<Vec<usize>>>,
}

// SAFETY: holds no handles.
unsafe impl Trace for Ouch {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Finalize for Ouch {
    fn finalize(&self) {
        self.n.set(self.n.get() + 1);
        if self.n.get().is_multiple_of(17) {
            self.nested.borrow_mut().push(collect());
        }
    }
}

/// A nesting level: `[t, Ouch()]` or `{1: v, 2: Ouch()}`.
struct Level {
    inner: Option<Gc<Level>>,
    _ouch: Option<Gc<Ouch>>,
    drops: Rc<Cell<usize>>,
}

// SAFETY: reports its one strong handle to a traced type (`Ouch` is atomic).
unsafe impl Trace for Level {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.inner.trace(t)
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

// CPython: test_gc.GCTests.test_trashcan (with `Ouch.__del__` as a finalizer that calls
// collect() in the middle of deep deallocations)
#[test]
fn test_trashcan() {
    gencollect::enable();
    let n = if small() { 20 } else { 150 };
    let calls = Rc::new(Cell::new(0));
    let nested = Rc::new(RefCell::new(Vec::new()));
    let levels = Rc::new(Cell::new(0));
    let ouch = || {
        Some(Gc::new_with_finalizer(Ouch {
            n: calls.clone(),
            nested: nested.clone(),
        }))
    };
    for round in 1..=2 {
        // t, u and v of CPython's test.
        for _ in 0..3 {
            let mut t = Gc::new(Level {
                inner: None,
                _ouch: None,
                drops: levels.clone(),
            });
            for _ in 0..n {
                t = Gc::new(Level {
                    inner: Some(t),
                    _ouch: ouch(),
                    drops: levels.clone(),
                });
            }
            drop(t);
        }
        assert_eq!(calls.get(), round * 3 * n);
        assert_eq!(levels.get(), round * 3 * (n + 1));
    }
    // Each nested collection ran (no collection was running) and found nothing to free.
    assert_eq!(*nested.borrow(), vec![0; 2 * 3 * n / 17]);
    assert_eq!(collect(), 0);
    gencollect::disable();
}

// ----- .NET-style controls ---------------------------------------------------------------------

// gcrt: suppress_finalize (.NET GC.SuppressFinalize)
#[test]
fn suppress_finalize_skips_the_finalizer_but_frees_the_object() {
    collect();
    // By refcount.
    let a = lazarus(1, false, 1);
    suppress_finalize(&a);
    drop(a);
    assert_eq!(finalized(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1]);
    // In a cycle.
    let b = lazarus(2, true, 1);
    suppress_finalize(&b);
    drop(b);
    assert_eq!(collect(), 1);
    assert_eq!(finalized(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(STORAGE.with(|s| s.borrow().len()), 0);
}

// gcrt: reregister_for_finalize (.NET GC.ReRegisterForFinalize)
#[test]
fn reregister_for_finalize_runs_it_again_on_the_next_death() {
    collect();
    // By refcount: resurrected once, re-registered, finalized again on the next death.
    let a = lazarus(1, false, 1);
    drop(a);
    let back = take_storage().pop().unwrap();
    assert!(is_finalized(&back));
    reregister_for_finalize(&back);
    assert!(!is_finalized(&back));
    drop(back);
    assert_eq!(FINALIZED.with(|f| f.borrow().clone()), vec![1, 1]);
    assert_eq!(drops(), vec![1]);

    // In a cycle.
    let b = lazarus(2, true, 1);
    drop(b);
    assert_eq!(collect(), 0);
    let back = take_storage().pop().unwrap();
    reregister_for_finalize(&back);
    drop(back);
    assert_eq!(collect(), 1);
    assert_eq!(FINALIZED.with(|f| f.borrow().clone()), vec![1, 1, 2, 2]);
    assert_eq!(drops(), vec![1, 2]);

    // Re-registering also lifts a suppression.
    let c = lazarus(3, false, 0);
    suppress_finalize(&c);
    reregister_for_finalize(&c);
    drop(c);
    assert_eq!(finalized(), vec![1, 1, 2, 2, 3]);
    assert_eq!(drops(), vec![1, 2, 3]);
}

// gcrt: get_generation (.NET GC.GetGeneration)
#[test]
fn get_generation_follows_the_object() {
    collect();
    gencollect::disable();
    let x = self_loop(1);
    assert_eq!(get_generation(&x), Some(0));
    collect_generation(0).unwrap();
    assert_eq!(get_generation(&x), Some(1));
    collect_generation(1).unwrap();
    assert_eq!(get_generation(&x), Some(2));
    collect();
    assert_eq!(get_generation(&x), Some(2));
    let y = self_loop(2);
    collect();
    assert_eq!(get_generation(&y), Some(2));
    // Untracked (atomic) objects have no generation, with or without a finalizer.
    assert_eq!(get_generation(&Gc::new(5)), None);
    assert_eq!(
        get_generation(&Gc::new_with_finalizer(Ouch {
            n: Rc::default(),
            nested: Rc::default()
        })),
        None
    );
    // Frozen objects neither.
    gencollect::freeze();
    assert_eq!(get_generation(&x), None);
    gencollect::unfreeze();
    assert_eq!(get_generation(&x), Some(2));
    // A resurrected object moves on to the next generation like any survivor.
    let laz = lazarus(3, true, 1);
    assert_eq!(get_generation(&laz), Some(0));
    drop(laz);
    assert_eq!(collect_generation(0).unwrap(), 0);
    let back = take_storage().pop().unwrap();
    assert_eq!(get_generation(&back), Some(1));
    drop((x, y, back));
    assert_eq!(collect(), 3);
}

// gcrt: collection_count (.NET GC.CollectionCount)
#[test]
fn collection_count_counts_older_generations_too() {
    gencollect::disable();
    let counts = || {
        (
            collection_count(0),
            collection_count(1),
            collection_count(2),
        )
    };
    assert_eq!(counts(), (0, 0, 0));
    collect_generation(0).unwrap();
    assert_eq!(counts(), (1, 0, 0));
    collect_generation(1).unwrap();
    assert_eq!(counts(), (2, 1, 0));
    collect();
    assert_eq!(counts(), (3, 2, 1));
    collect_generation(0).unwrap();
    assert_eq!(counts(), (4, 2, 1));
    // Automatic collections count as well.
    gencollect::set_threshold(10, 1000, 1000);
    gencollect::enable();
    let keep: Vec<_> = (0..11).map(self_loop).collect();
    gencollect::disable();
    assert_eq!(counts(), (5, 2, 1));
    let stats = get_stats();
    assert_eq!(
        (
            stats[0].collections,
            stats[1].collections,
            stats[2].collections
        ),
        (3, 1, 1)
    );
    drop(keep);
    assert_eq!(collect(), 11);
}

// gcrt: total_memory (.NET GC.GetTotalMemory)
#[test]
fn total_memory_grows_and_shrinks() {
    collect();
    let before = total_memory();
    let one = Gc::new([0u64; 8]);
    let per_object = total_memory() - before;
    assert!(per_object >= 16 + 64, "header and value: {per_object}");
    let n = if small() { 50 } else { 1000 };
    let many: Vec<Gc<[u64; 8]>> = (1..n).map(|_| Gc::new([0u64; 8])).collect();
    assert_eq!(total_memory(), before + n * per_object);
    drop((one, many));
    assert_eq!(total_memory(), before);

    // Cyclic garbage holds its memory until a collection frees it.
    gencollect::disable();
    for i in 0..n as u32 {
        drop(self_loop(i));
    }
    let held = total_memory();
    assert!(held > before);
    assert_eq!(collect(), n);
    assert_eq!(total_memory(), before);
}

// ----- panics in finalizers ----------------------------------------------------------------------

struct Faulty {
    id: u32,
    next: RefCell<Option<Gc<Faulty>>>,
    panics: bool,
}

// SAFETY: reports its one strong handle.
unsafe impl Trace for Faulty {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t)
    }
}

impl Finalize for Faulty {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        if self.panics {
            panic!("finalizer {} failed", self.id);
        }
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

// gcrt (CPython: exceptions in __del__ go to sys.unraisablehook)
#[test]
fn panicking_finalizer_is_reported_and_the_collection_goes_on() {
    type Reports = Rc<RefCell<Vec<(&'static str, Option<String>)>>>;
    let reports: Reports = Rc::default();
    let r = reports.clone();
    set_unraisable_hook(Some(Box::new(move |u: &Unraisable<'_>| {
        r.borrow_mut()
            .push((u.context, u.message.map(str::to_string)))
    })));
    collect();
    // By refcount: reported, then the value is dropped as usual.
    drop(Gc::new_with_finalizer(Faulty {
        id: 1,
        next: RefCell::new(None),
        panics: true,
    }));
    assert_eq!(finalized(), vec![1]);
    assert_eq!(drops(), vec![1]);

    // A cycle of three where the middle one's finalizer panics: the others' finalizers run,
    // and all three are freed by the same collection.
    let nodes: Vec<Gc<Faulty>> = (10..13)
        .map(|id| {
            Gc::new_with_finalizer(Faulty {
                id,
                next: RefCell::new(None),
                panics: id == 11,
            })
        })
        .collect();
    for i in 0..3 {
        *nodes[i].next.borrow_mut() = Some(nodes[(i + 1) % 3].clone());
    }
    drop(nodes);
    assert_eq!(collect(), 3);
    set_unraisable_hook(None);
    assert_eq!(finalized(), vec![1, 10, 11, 12]);
    assert_eq!(drops(), vec![1, 10, 11, 12]);
    assert_eq!(
        *reports.borrow(),
        vec![
            (
                "running a finalizer",
                Some("finalizer 1 failed".to_string())
            ),
            (
                "running a finalizer",
                Some("finalizer 11 failed".to_string())
            ),
        ]
    );
    assert_eq!(collect(), 0);
}

// ----- SAVEALL -----------------------------------------------------------------------------------

// CPython: test_gc.GCTests.test_saveall (with finalizers: they run before the garbage is
// saved, and never again when it is freed)
#[test]
fn saveall_runs_finalizers_once() {
    collect();
    gencollect::set_debug(gencollect::DebugFlags::SAVEALL);
    let a = lazarus(1, true, 0);
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(collect(), 1);
    gencollect::set_debug(gencollect::DebugFlags::NONE);
    assert_eq!(finalized(), vec![1]);
    assert_eq!(drops(), Vec::<u32>::new());
    assert_eq!(gencollect::garbage().len(), 1);
    assert!(w.upgrade().is_none());
    gencollect::clear_garbage();
    assert!(gencollect::garbage().is_empty());
    assert_eq!(finalized(), vec![1]);
    assert_eq!(drops(), vec![1]);
    assert_eq!(collect(), 0);
}

// ----- finalizers doing things during a collection ---------------------------------------------

/// A cycle member whose finalizer calls the collector, may allocate a new cycle, and may
/// pass a copy of its `stash` handle on to its `next` object.
struct Busy {
    id: u32,
    next: RefCell<Option<Gc<Busy>>>,
    stash: RefCell<Option<Gc<Busy>>>,
    nested: Rc<RefCell<Vec<usize>>>,
    make_cycle: bool,
    pass_on: bool,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Busy {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
        self.stash.trace(t);
    }
}

thread_local! {
    /// (id, id of what its stash held) at drop time.
    static STASHED: RefCell<Vec<(u32, Option<u32>)>> = const { RefCell::new(Vec::new()) };
}

impl Finalize for Busy {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        self.nested.borrow_mut().push(collect());
        if self.make_cycle {
            let fresh = busy(100 + self.id, &self.nested, false, false);
            *fresh.next.borrow_mut() = Some(fresh.clone());
        }
        if self.pass_on {
            let what = self.stash.borrow().clone();
            let next = self.next.borrow().clone();
            if let Some(next) = next {
                *next.stash.borrow_mut() = what;
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
        let stashed = self
            .stash
            .borrow()
            .as_ref()
            .and_then(|s| Gc::try_deref(s).map(|s| s.id));
        STASHED.with(|s| s.borrow_mut().push((self.id, stashed)));
    }
}

fn busy(id: u32, nested: &Rc<RefCell<Vec<usize>>>, make_cycle: bool, pass_on: bool) -> Gc<Busy> {
    Gc::new_with_finalizer(Busy {
        id,
        next: RefCell::new(None),
        stash: RefCell::new(None),
        nested: nested.clone(),
        make_cycle,
        pass_on,
    })
}

// gcrt (docs/finalization.md, "Anything goes inside"): finalizers run during a collection
// may call collect(), which returns 0, and allocate new cycles, which are not part of this
// collection's garbage and are collected by the next one.
#[test]
fn finalizers_may_collect_and_allocate_cycles_during_a_collection() {
    collect();
    gencollect::disable();
    let nested = Rc::new(RefCell::new(Vec::new()));
    let a = busy(1, &nested, true, false);
    let b = busy(2, &nested, true, false);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(*nested.borrow(), vec![0, 0]);
    assert_eq!(finalized(), vec![1, 2]);
    assert_eq!(drops(), vec![1, 2]);
    // The two self-cycles made by the finalizers are collected by the next collection
    // (their own finalizers run inside it, so their collect() returns 0 too).
    assert_eq!(collect(), 2);
    assert_eq!(finalized(), vec![1, 2, 101, 102]);
    assert_eq!(drops(), vec![1, 2, 101, 102]);
    assert_eq!(*nested.borrow(), vec![0, 0, 0, 0]);
    assert_eq!(collect(), 0);
}

// CPython (PEP 442, handle_resurrected_objects): only a reference from *outside* the
// garbage resurrects. A finalizer that stores a handle to one garbage object inside another
// garbage object resurrects nothing: everything is freed by the same collection.
#[test]
fn storing_into_other_garbage_resurrects_nothing() {
    collect();
    gencollect::disable();
    let nested = Rc::new(RefCell::new(Vec::new()));
    let a = busy(1, &nested, false, true);
    let c = busy(3, &nested, false, false);
    let b = busy(2, &nested, false, false);
    *a.next.borrow_mut() = Some(c.clone());
    *c.next.borrow_mut() = Some(a.clone());
    *b.next.borrow_mut() = Some(b.clone());
    *a.stash.borrow_mut() = Some(b.clone());
    drop((a, b, c));
    // a's finalizer does `c.stash = a.stash` (that is, b): b is then held by a, c and
    // itself, all garbage.
    assert_eq!(collect(), 3);
    assert_eq!(finalized(), vec![1, 2, 3]);
    assert_eq!(drops(), vec![1, 2, 3]);
    let mut stashed = STASHED.with(|s| s.borrow().clone());
    stashed.sort_unstable();
    // c's stash was filled by a's finalizer, but the destructors, which record what they
    // see in their stash, find b dead: the garbage is marked dead before any value is
    // dropped, so that no destructor can keep a reference into a value dropped after it.
    assert_eq!(stashed, vec![(1, None), (2, None), (3, None)]);
    assert_eq!(collect(), 0);
}

/// A finalizer that stores its object in a container of an older generation.
struct Into {
    id: u32,
    me: RefCell<Option<Gc<Into>>>,
    into: Gc<RefCell<Vec<Gc<Into>>>>,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Into {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.into.trace(t);
    }
}

impl Finalize for Into {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        let me = self.me.borrow().clone().unwrap();
        self.into.borrow_mut().push(me);
    }
}

impl Drop for Into {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

// gcrt: resurrection through a tracked container of an older generation (not a global):
// the re-analysis counts the container's handle as a reference from outside the garbage.
#[test]
fn resurrection_into_an_older_generation_container() {
    collect();
    gencollect::disable();
    let container: Gc<RefCell<Vec<Gc<Into>>>> = Gc::new(RefCell::new(Vec::new()));
    collect();
    assert_eq!(get_generation(&container), Some(2));
    let x = Gc::new_with_finalizer(Into {
        id: 1,
        me: RefCell::new(None),
        into: container.clone(),
    });
    *x.me.borrow_mut() = Some(x.clone());
    drop(x);
    assert_eq!(collect_generation(0).unwrap(), 0);
    assert_eq!(finalized(), vec![1]);
    assert_eq!(drops(), Vec::<u32>::new());
    let back = container.borrow()[0].clone();
    assert_eq!(back.id, 1);
    assert_eq!(get_generation(&back), Some(1));
    drop(back);
    container.borrow_mut().clear();
    assert_eq!(collect(), 1);
    assert_eq!(drops(), vec![1]);
    assert_eq!(finalized(), vec![1]);
}
