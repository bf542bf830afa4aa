//! The finalizer tests of CPython 3.12's `Lib/test/test_gc.py`, ported to gcrt's
//! finalizers: `test_is_finalized` and the resurrection tests (CPython's `Lazarus`), the
//! test_boom family, `test_bug21435` and `test_bug1055820d` with finalizers. The rest
//! (test_trashcan with finalizers, the .NET-style controls, panicking finalizers, `SAVEALL`,
//! finalizers at work during a collection) is in `test_gc_finalizers_control.rs`; the
//! mapping of every CPython test is in `docs/test_gc-port.md`.
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

use gencollect::{collect, get_generation, get_stats, is_finalized};
use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

// Only the finalizer helpers of `common/`, not the property tests' `common/mod.rs`.
mod common {
    pub(crate) mod finalizers;
}
use common::finalizers::*;

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
    // Destructors (no finalizer): the garbage is marked dead before any value is dropped,
    // so each destructor finds its partner dead (a dead handle); b's drops its handle to a.
    assert_eq!(collect(), 2);
    assert_eq!(finalized(), Vec::<u32>::new());
    assert_eq!(drops(), vec![1, 2]);
    assert_eq!(*seen.borrow(), vec![(2, false), (1, false)]);
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
