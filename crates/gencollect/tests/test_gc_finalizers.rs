//! The finalizer tests of CPython 3.12's `Lib/test/test_gc.py`, ported to gcrt's
//! finalizers, plus the .NET-style controls gcrt adds (`suppress_finalize`,
//! `reregister_for_finalize`, `get_generation`, `collection_count`, `total_memory`) and the
//! reporting of panicking finalizers.
//!
//! Python's `__del__` is a [`Finalize`] impl; the test_boom family, where CPython's
//! collector once called `__getattr__` to look for `__del__` and the attribute hook broke
//! the cycle, becomes finalizers and `Drop` impls that touch their neighbours and drop
//! handles while the collector works.
//!
//! Expected counts are exact for this object model: every `Gc` counts 1 in `collect()`'s
//! result (CPython counts instance `__dict__`s too, hence its `2*N` where we have `N`).
//! Objects freed by refcounting while finalizers run are not counted (as in CPython).
//!
//! Each test runs on its own thread: fresh heap, counts, statistics and thread-locals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gencollect::{
    Unraisable, collect, collect_generation, collection_count, get_generation, get_stats,
    is_finalized, reregister_for_finalize, set_unraisable_hook, suppress_finalize, total_memory,
};
use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

thread_local! {
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static STORAGE: RefCell<Vec<Gc<Lazarus>>> = const { RefCell::new(Vec::new()) };
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

fn drops() -> Vec<u32> {
    sorted(DROPS.with(|d| d.borrow().clone()))
}

fn finalized() -> Vec<u32> {
    sorted(FINALIZED.with(|d| d.borrow().clone()))
}

fn small() -> bool {
    cfg!(miri)
}

// ----- Lazarus: a finalizer that resurrects its object --------------------------------------

/// CPython's `Lazarus`: its finalizer stores the object in `STORAGE` (at most `resurrect`
/// times); optionally in a self-cycle (`A.me = self`) and holding cargo.
struct Lazarus {
    id: u32,
    this: RefCell<Weak<Lazarus>>,
    me: RefCell<Option<Gc<Lazarus>>>,
    cargo: RefCell<Option<Gc<Cargo>>>,
    calls: Cell<u32>,
    resurrect: u32,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Lazarus {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.cargo.trace(t);
    }
}

impl Finalize for Lazarus {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        self.calls.set(self.calls.get() + 1);
        if self.calls.get() > self.resurrect {
            return;
        }
        let me = self.this.borrow().upgrade();
        let me = me
            .or_else(|| self.me.borrow().clone())
            .or_else(|| {
                let cargo = self.cargo.borrow().clone();
                cargo.and_then(|c| c.laz.borrow().clone())
            })
            .expect("a handle to self");
        STORAGE.with(|s| s.borrow_mut().push(me));
    }
}

impl Drop for Lazarus {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

fn lazarus(id: u32, self_cycle: bool, resurrect: u32) -> Gc<Lazarus> {
    let l = Gc::new_with_finalizer(Lazarus {
        id,
        this: RefCell::new(Weak::new()),
        me: RefCell::new(None),
        cargo: RefCell::new(None),
        calls: Cell::new(0),
        resurrect,
    });
    *l.this.borrow_mut() = Gc::downgrade(&l);
    if self_cycle {
        *l.me.borrow_mut() = Some(l.clone());
    }
    l
}

fn take_storage() -> Vec<Gc<Lazarus>> {
    STORAGE.with(|s| core::mem::take(&mut *s.borrow_mut()))
}

/// CPython's `Cargo` (and the plain self-loop `A`): no finalizer.
struct Cargo {
    id: u32,
    me: RefCell<Option<Gc<Cargo>>>,
    laz: RefCell<Option<Gc<Lazarus>>>,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Cargo {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.laz.trace(t);
    }
}

impl Drop for Cargo {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

fn self_loop(id: u32) -> Gc<Cargo> {
    let c = Gc::new(Cargo {
        id,
        me: RefCell::new(None),
        laz: RefCell::new(None),
    });
    *c.me.borrow_mut() = Some(c.clone());
    c
}

// CPython: test_gc.GCTests.test_is_finalized
#[test]
fn test_is_finalized() {
    // Objects without a finalizer (and untracked ones) are never finalized.
    assert!(!is_finalized(&Gc::new(3)));
    let plain = self_loop(9);
    assert!(!is_finalized(&plain));

    // By refcount.
    let laz = lazarus(1, false, 1);
    assert!(!is_finalized(&laz));
    drop(laz);
    collect();
    let laz = take_storage().pop().unwrap();
    assert!(is_finalized(&laz));

    // In a collected cycle.
    let laz2 = lazarus(2, true, 1);
    assert!(!is_finalized(&laz2));
    drop(laz2);
    assert_eq!(collect(), 0);
    let laz2 = take_storage().pop().unwrap();
    assert!(is_finalized(&laz2));
    assert_eq!(finalized(), vec![1, 2]);
    assert_eq!(drops(), Vec::<u32>::new());
    drop((laz, laz2, plain));
    assert_eq!(collect(), 2);
    assert_eq!(drops(), vec![1, 2, 9]);
    assert_eq!(finalized(), vec![1, 2]);
}

// CPython: test_gc.GCTests.test_resurrection_only_happens_once_per_object
#[test]
fn test_resurrection_only_happens_once_per_object() {
    collect();
    gencollect::disable();
    // A finalizer that would resurrect every time it runs.
    let laz = lazarus(1, true, u32::MAX);
    assert_eq!(laz.calls.get(), 0);
    drop(laz);
    assert_eq!(collect(), 0);
    let back = take_storage();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].calls.get(), 1);
    drop(back);
    // Clearing the references and collecting does not resurrect it again.
    assert_eq!(collect(), 1);
    assert_eq!(finalized(), vec![1]);
    assert_eq!(STORAGE.with(|s| s.borrow().len()), 0);
    assert_eq!(drops(), vec![1]);
}

// CPython: test_gc.GCTests.test_resurrection_is_transitive
#[test]
fn test_resurrection_is_transitive() {
    collect();
    gencollect::disable();
    let laz = lazarus(1, false, 1);
    let cargo = Gc::new(Cargo {
        id: 2,
        me: RefCell::new(None),
        laz: RefCell::new(Some(laz.clone())),
    });
    *cargo.me.borrow_mut() = Some(cargo.clone());
    *laz.cargo.borrow_mut() = Some(cargo.clone());
    let cargo_addr = Gc::as_ptr(&cargo).addr();
    drop((laz, cargo));
    assert_eq!(collect(), 0);
    let mut back = take_storage();
    assert_eq!(back.len(), 1);
    let instance = back.pop().unwrap();
    // The cargo it reaches was resurrected with it, intact.
    let cargo = instance.cargo.borrow().clone().unwrap();
    assert_eq!(Gc::as_ptr(&cargo).addr(), cargo_addr);
    assert!(Gc::ptr_eq(cargo.me.borrow().as_ref().unwrap(), &cargo));
    assert!(Gc::ptr_eq(cargo.laz.borrow().as_ref().unwrap(), &instance));
    assert_eq!(drops(), Vec::<u32>::new());
    drop((instance, cargo));
    assert_eq!(collect(), 2);
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(finalized(), vec![1]);
}

// CPython: test_gc.GCTests.test_resurrection_does_not_block_cleanup_of_other_objects
#[test]
fn test_resurrection_does_not_block_cleanup_of_other_objects() {
    let n: usize = if small() { 10 } else { 100 };
    let getstats = || {
        let d = get_stats()[2];
        (d.collected, d.uncollectable)
    };
    collect();
    gencollect::disable();

    // No problems if just collecting A() instances.
    let (oldc, oldnc) = getstats();
    for i in 0..n {
        drop(self_loop(i as u32));
    }
    let t = collect();
    let (c, nc) = getstats();
    assert_eq!(t, n);
    assert_eq!(c - oldc, n);
    assert_eq!(nc - oldnc, 0);

    // But Z() is not actually collected: merely resurrected.
    let (oldc, oldnc) = (c, nc);
    drop(lazarus(1000, true, 1));
    let t = collect();
    let (c, nc) = getstats();
    assert_eq!(t, 0);
    assert_eq!(c - oldc, 0);
    assert_eq!(nc - oldnc, 0);

    // Z() does not prevent anything else from being collected.
    let (oldc, oldnc) = (c, nc);
    for i in 0..n {
        drop(self_loop(i as u32));
    }
    drop(lazarus(1001, true, 1));
    let t = collect();
    let (c, nc) = getstats();
    assert_eq!(t, n);
    assert_eq!(c - oldc, n);
    assert_eq!(nc - oldnc, 0);

    // The two Zs are still stored; once dropped, they are collected.
    let (oldc, oldnc) = (c, nc);
    drop(take_storage());
    let t = collect();
    let (c, nc) = getstats();
    assert_eq!(t, 2);
    assert_eq!(c - oldc, 2);
    assert_eq!(nc - oldnc, 0);
    assert_eq!(DROPS.with(|d| d.borrow().len()), 2 * n + 2);
    assert_eq!(finalized(), vec![1000, 1001]);
}

// ----- the test_boom family -------------------------------------------------------------------

/// `Boom`: a cycle member whose finalizer (or `Drop`) touches its partner and drops handles.
struct Boom {
    id: u32,
    attr: RefCell<Option<Gc<Boom>>>,
    /// Finalizer calls on this object (the `x` of Boom2), and pokes from its partner.
    x: Cell<u32>,
    mode: BoomMode,
    /// What each finalizer or destructor saw of the partner: `true` if it was intact.
    seen: Seen,
}

#[derive(Clone, Copy, PartialEq)]
enum BoomMode {
    /// test_boom: the finalizer deletes `attr`.
    DelAttr,
    /// test_boom2: the finalizer deletes `attr` only the second time it runs.
    DelAttrSecondTime,
    /// test_boom_new: no finalizer; `Drop` looks at the partner and deletes `attr`.
    DropTouches,
    /// test_boom2_new: the finalizer pokes the partner; `Drop` deletes `attr` once poked
    /// twice (by its own finalizer and its partner's).
    FinalizeAndDrop,
}

// SAFETY: reports its one strong handle.
unsafe impl Trace for Boom {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.attr.trace(t)
    }
}

impl Boom {
    fn partner_intact(&self) -> bool {
        let partner = self.attr.borrow().clone();
        partner.is_some_and(|p| Gc::try_deref(&p).is_some())
    }
}

impl Finalize for Boom {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        self.x.set(self.x.get() + 1);
        self.seen
            .borrow_mut()
            .push((self.id, self.partner_intact()));
        match self.mode {
            BoomMode::DelAttr => drop(self.attr.take()),
            BoomMode::DelAttrSecondTime => {
                if self.x.get() > 1 {
                    drop(self.attr.take());
                }
            }
            BoomMode::FinalizeAndDrop => {
                let partner = self.attr.borrow().clone().unwrap();
                partner.x.set(partner.x.get() + 1);
            }
            BoomMode::DropTouches => unreachable!("no finalizer"),
        }
    }
}

impl Drop for Boom {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
        match self.mode {
            BoomMode::DropTouches => {
                self.seen
                    .borrow_mut()
                    .push((self.id, self.partner_intact()));
                drop(self.attr.take());
            }
            BoomMode::FinalizeAndDrop if self.x.get() > 1 => drop(self.attr.take()),
            _ => {}
        }
    }
}

/// What the finalizers and destructors of a Boom pair saw: (id, partner intact).
type Seen = Rc<RefCell<Vec<(u32, bool)>>>;

fn boom_pair(mode: BoomMode) -> (Gc<Boom>, Gc<Boom>, Seen) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let make = |id| {
        let b = Boom {
            id,
            attr: RefCell::new(None),
            x: Cell::new(0),
            mode,
            seen: seen.clone(),
        };
        if mode == BoomMode::DropTouches {
            Gc::new(b)
        } else {
            Gc::new_with_finalizer(b)
        }
    };
    let (a, b) = (make(1), make(2));
    *a.attr.borrow_mut() = Some(b.clone());
    *b.attr.borrow_mut() = Some(a.clone());
    (a, b, seen)
}

// CPython: test_gc.GCTests.test_boom
#[test]
fn test_boom() {
    collect();
    let (a, b, seen) = boom_pair(BoomMode::DelAttr);
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    // The first finalizer (b's: the most recent object is visited first) deletes its
    // handle to a, which frees a by refcount (a's finalizer runs then, deleting its handle
    // to b); b is freed when its finalizer returns. Nothing is left for the collector.
    assert_eq!(collect(), 0);
    assert_eq!(finalized(), vec![1, 2]);
    assert_eq!(drops(), vec![1, 2]);
    // Each finalizer saw its partner intact.
    assert_eq!(*seen.borrow(), vec![(2, true), (1, true)]);
    assert_eq!(gencollect::garbage().len(), garbagelen);
    assert_eq!(collect(), 0);
}

// CPython: test_gc.GCTests.test_boom2
#[test]
fn test_boom2() {
    collect();
    let (a, b, seen) = boom_pair(BoomMode::DelAttrSecondTime);
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    // The finalizer would break the cycle the second time it runs; it runs once, so the
    // collector frees the cycle itself.
    assert_eq!(collect(), 2);
    assert_eq!(finalized(), vec![1, 2]);
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(seen.borrow().len(), 2);
    assert!(seen.borrow().iter().all(|&(_, intact)| intact));
    assert_eq!(gencollect::garbage().len(), garbagelen);
}

// CPython: test_gc.GCTests.test_boom_new
#[test]
fn test_boom_new() {
    collect();
    let (a, b, seen) = boom_pair(BoomMode::DropTouches);
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    // Destructors (no finalizer): the first one dropped (b) still sees a intact and drops
    // its handle, freeing a, whose destructor finds b already dropped (a dead handle).
    assert_eq!(collect(), 2);
    assert_eq!(finalized(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(*seen.borrow(), vec![(2, true), (1, false)]);
    assert_eq!(gencollect::garbage().len(), garbagelen);
}

// CPython: test_gc.GCTests.test_boom2_new
#[test]
fn test_boom2_new() {
    collect();
    let (a, b, seen) = boom_pair(BoomMode::FinalizeAndDrop);
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    let garbagelen = gencollect::garbage().len();
    drop((a, b));
    // Both finalizers run before either value is dropped, each poking the other: both
    // destructors then see x == 2 and drop their handles.
    assert_eq!(collect(), 2);
    assert_eq!(finalized(), vec![1, 2]);
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(*seen.borrow(), vec![(2, true), (1, true)]);
    assert!(wa.upgrade().is_none() && wb.upgrade().is_none());
    assert_eq!(gencollect::garbage().len(), garbagelen);
}

// ----- test_bug21435 -----------------------------------------------------------------------

struct A21435 {
    id: u32,
    attr: RefCell<Option<Gc<B21435>>>,
}

struct B21435 {
    x: Gc<A21435>,
    attr: RefCell<Option<Gc<A21435>>>,
}

// SAFETY: reports its one strong handle.
unsafe impl Trace for A21435 {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.attr.trace(t)
    }
}

// SAFETY: reports its two strong handles.
unsafe impl Trace for B21435 {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.x.trace(t);
        self.attr.trace(t);
    }
}

impl Finalize for B21435 {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(3));
        // self.attr = None
        drop(self.attr.take());
    }
}

impl Drop for A21435 {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

impl Drop for B21435 {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(3));
    }
}

// CPython: test_gc.GCTests.test_bug21435
#[test]
fn test_bug21435() {
    collect();
    {
        let a = Gc::new(A21435 {
            id: 1,
            attr: RefCell::new(None),
        });
        let b = Gc::new_with_finalizer(B21435 {
            x: Gc::new(A21435 {
                id: 2,
                attr: RefCell::new(None),
            }),
            attr: RefCell::new(None),
        });
        *a.attr.borrow_mut() = Some(b.clone());
        *b.attr.borrow_mut() = Some(a.clone());
    }
    // B's finalizer drops the last handle to a, which frees a, then b (its finalizer done)
    // and b.x, all by refcounting inside the finalizer phase.
    assert_eq!(collect(), 0);
    assert_eq!(finalized(), vec![3]);
    assert_eq!(drops(), vec![1, 2, 3]);
    assert_eq!(collect(), 0);
}

// ----- test_bug1055820d ----------------------------------------------------------------------

/// `D(C1055820)`: a self-loop whose finalizer looks at another object through a weak handle.
struct D {
    id: u32,
    loop_: RefCell<Option<Gc<D>>>,
    keep: RefCell<Option<Gc<D>>>,
    peek: RefCell<Option<Weak<D>>>,
    ouch: Rc<RefCell<Vec<bool>>>,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for D {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.loop_.trace(t);
        self.keep.trace(t);
    }
}

impl Finalize for D {
    fn finalize(&self) {
        if let Some(w) = &*self.peek.borrow() {
            *self.ouch.borrow_mut() = vec![w.upgrade().is_some()];
        }
    }
}

impl Drop for D {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

fn d(id: u32, ouch: &Rc<RefCell<Vec<bool>>>, finalizer: bool) -> Gc<D> {
    let v = D {
        id,
        loop_: RefCell::new(None),
        keep: RefCell::new(None),
        peek: RefCell::new(None),
        ouch: ouch.clone(),
    };
    let o = if finalizer {
        Gc::new_with_finalizer(v)
    } else {
        Gc::new(v)
    };
    *o.loop_.borrow_mut() = Some(o.clone());
    o
}

// CPython: test_gc.GCTogglingTests.test_bug1055820d
#[test]
fn test_bug1055820d() {
    gencollect::enable();
    let ouch: Rc<RefCell<Vec<bool>>> = Rc::default();
    let d0 = d(0, &ouch, true);
    // Move d0 into generation 2.
    collect();
    assert_eq!(get_generation(&d0), Some(2));
    let c1 = d(1, &ouch, false);
    *c1.keep.borrow_mut() = Some(d0.clone()); // c1.keep_d0_alive = d0
    drop(d0.loop_.take()); // del d0.loop: now only c1 keeps d0 alive
    let c2 = d(2, &ouch, false);
    *d0.peek.borrow_mut() = Some(Gc::downgrade(&c2)); // c2wr, no callback
    drop((d0, c1, c2));
    // A natural generation-0 collection finds c1 and c2; deleting c1 frees d0 by refcount,
    // whose finalizer must not see c2.
    gencollect::set_threshold(if small() { 50 } else { 700 }, 10, 10);
    let happened = Rc::new(Cell::new(false));
    let h = happened.clone();
    let detector = WeakRef::new(&d(666, &ouch, false), move |_: &Gc<WeakRef<D>>| h.set(true));
    let mut junk = Vec::new();
    let mut i = 0;
    while !happened.get() {
        i += 1;
        assert!(i <= 10_000, "gc didn't happen after 10000 iterations");
        assert_eq!(ouch.borrow().len(), 0);
        junk.push(Gc::new(RefCell::new(None::<Gc<D>>)));
    }
    assert_eq!(*ouch.borrow(), vec![false]);
    assert_eq!(drops(), vec![0, 1, 2, 666]);
    gencollect::disable();
    drop((detector, junk));
}

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
    // c's stash was filled by a's finalizer; b was still intact when a and c were dropped
    // (the collector drops a first, whose handle to c frees c; b goes last).
    assert_eq!(stashed, vec![(1, Some(2)), (2, None), (3, Some(2))]);
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
