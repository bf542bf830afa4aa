//! Finalizers, resurrection and weak-reference callbacks: the behaviour users rely on.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

thread_local! {
    static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static DROPPED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static RESURRECT: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

struct Node {
    id: u32,
    next: RefCell<Option<Gc<Node>>>,
    resurrect: bool,
    this: RefCell<Weak<Node>>,
}

// SAFETY: reports its one strong handle.
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t)
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        if self.resurrect {
            // Resurrect through a neighbour's handle or through a weak handle to self.
            let me = self.this.borrow().upgrade();
            let next = self.next.borrow().clone();
            RESURRECT.with(|r| r.borrow_mut().extend(me.into_iter().chain(next)));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

fn node(id: u32, resurrect: bool) -> Gc<Node> {
    let n = Gc::new_with_finalizer(Node {
        id,
        next: RefCell::new(None),
        resurrect,
        this: RefCell::new(Weak::new()),
    });
    *n.this.borrow_mut() = Gc::downgrade(&n);
    n
}

fn finalized() -> Vec<u32> {
    FINALIZED.with(|f| f.borrow().clone())
}
fn dropped() -> Vec<u32> {
    let mut d = DROPPED.with(|d| d.borrow().clone());
    d.sort();
    d
}

#[test]
fn refcount_death_runs_finalizer_once_then_drops() {
    let a = node(1, false);
    assert!(!gencollect::is_finalized(&a));
    drop(a);
    assert_eq!(finalized(), vec![1]);
    assert_eq!(dropped(), vec![1]);
}

#[test]
fn refcount_death_resurrection_through_weak_self() {
    let a = node(1, true);
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(finalized(), vec![1]);
    assert_eq!(dropped(), Vec::<u32>::new());
    let back = RESURRECT.with(|r| r.borrow_mut().pop()).unwrap();
    assert!(gencollect::is_finalized(&back));
    assert_eq!(back.id, 1);
    assert!(w.upgrade().is_some());
    drop(back);
    // The finalizer never runs twice.
    assert_eq!(finalized(), vec![1]);
    assert_eq!(dropped(), vec![1]);
}

#[test]
fn cycle_finalizers_run_before_anything_is_dropped() {
    gencollect::collect();
    let a = node(1, false);
    let b = node(2, false);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    let mut f = finalized();
    f.sort();
    assert_eq!(f, vec![1, 2]);
    assert_eq!(dropped(), vec![1, 2]);
}

#[test]
fn resurrection_in_a_cycle_keeps_what_it_reaches_and_frees_the_rest() {
    gencollect::collect();
    // Cycle 1 <-> 2 where 1 resurrects 2 (its `next`); independent cycle 3 <-> 4.
    let a = node(1, true);
    let b = node(2, false);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let c = node(3, false);
    let d = node(4, false);
    *c.next.borrow_mut() = Some(d.clone());
    *d.next.borrow_mut() = Some(c.clone());
    let wa = Gc::downgrade(&a);
    drop((a, b, c, d));
    // 1 and 2 are resurrected (2 is stored, 2 reaches 1); 3 and 4 are freed.
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(dropped(), vec![3, 4]);
    let mut f = finalized();
    f.sort();
    assert_eq!(f, vec![1, 2, 3, 4]);
    // Weak references to objects found unreachable stay cleared, even after resurrection.
    assert!(wa.upgrade().is_none());
    let back = RESURRECT.with(|r| core::mem::take(&mut *r.borrow_mut()));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, 2);
    assert!(gencollect::is_finalized(&back[0]));
    drop(back);
    // Garbage again: freed now, finalizers do not run a second time.
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(dropped(), vec![1, 2, 3, 4]);
    assert_eq!(finalized().len(), 4);
}

#[test]
fn weakref_callback_on_refcount_death_and_in_cycles() {
    gencollect::collect();
    let calls = Rc::new(Cell::new(0));
    let target = Gc::new(7u64);
    let c = calls.clone();
    let wr = WeakRef::new(&target, move |w: &Gc<WeakRef<u64>>| {
        assert!(w.upgrade().is_none());
        c.set(c.get() + 1);
    });
    drop(target);
    assert_eq!(calls.get(), 1);
    assert!(!wr.has_callback());

    // A reachable weakref to cyclic garbage: called. One inside the garbage: dropped.
    let a = node(10, false);
    let b = node(11, false);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let order = Rc::new(RefCell::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let outside1 = WeakRef::new(&a, move |_: &Gc<WeakRef<Node>>| o1.borrow_mut().push(1));
    let outside2 = WeakRef::new(&a, move |_: &Gc<WeakRef<Node>>| o2.borrow_mut().push(2));
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    // Most recently registered first.
    assert_eq!(*order.borrow(), vec![2, 1]);
    drop((outside1, outside2, wr));
}

#[test]
fn saveall_keeps_garbage_and_clearing_frees_it() {
    gencollect::collect();
    gencollect::set_debug(gencollect::DebugFlags::SAVEALL);
    let a = node(1, false);
    let b = node(2, false);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    gencollect::set_debug(gencollect::DebugFlags::NONE);
    assert_eq!(gencollect::garbage().len(), 2);
    assert_eq!(dropped(), Vec::<u32>::new());
    gencollect::clear_garbage();
    assert_eq!(dropped(), vec![1, 2]);
    assert_eq!(finalized().len(), 2);
}

#[test]
fn try_unwrap_fires_weakref_callbacks_and_leaves_no_stale_registration() {
    // Regression: `Gc::try_unwrap` left the referent's callbacks registered under its
    // address, so a new object allocated at the same address inherited them.
    let calls = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let target = Gc::new(1u64);
        let c = calls.clone();
        let wr = WeakRef::new(&target, move |_: &Gc<WeakRef<u64>>| c.set(c.get() + 1));
        assert_eq!(Gc::try_unwrap(target).ok(), Some(1));
        assert!(wr.upgrade().is_none());
        // The next iteration's target likely reuses this block.
    }
    assert_eq!(calls.get(), 3);
}

#[test]
fn freeze_from_a_trace_impl_during_a_full_collection_does_nothing() {
    // A collection analyses the generations in place and identifies objects by their place
    // in the lists; `freeze`/`unfreeze` called by user code while it runs (here from a
    // `Trace` impl, the only user code that runs during the analysis) must not move the
    // objects under it.
    struct Freezer(RefCell<Option<Gc<Freezer>>>);
    // SAFETY: reports its one handle (calling the gc API is not forbidden).
    unsafe impl Trace for Freezer {
        fn trace(&self, t: &mut Tracer<'_>) {
            gencollect::freeze();
            gencollect::unfreeze();
            self.0.trace(t)
        }
    }
    gencollect::collect();
    let live: Vec<Gc<Node>> = (0..20).map(|i| node(100 + i, false)).collect();
    for pair in live.windows(2) {
        *pair[0].next.borrow_mut() = Some(pair[1].clone());
    }
    gencollect::collect_generation(1).unwrap(); // the live nodes are in generation 2 now
    assert_eq!(gencollect::get_generation(&live[0]), Some(2));
    let garbage = Gc::new(Freezer(RefCell::new(None)));
    *garbage.0.borrow_mut() = Some(garbage.clone());
    drop(garbage);
    assert_eq!(gencollect::collect(), 1, "only the self-loop is garbage");
    assert_eq!(dropped(), Vec::<u32>::new(), "no live node was dropped");
    assert_eq!(gencollect::get_freeze_count(), 0);
    for (i, n) in live.iter().enumerate() {
        assert_eq!(n.id, 100 + i as u32);
        assert_eq!(gencollect::get_generation(n), Some(2));
    }
    // The lists are consistent: freezing works again outside a collection.
    gencollect::freeze();
    assert_eq!(gencollect::get_freeze_count(), 20);
    gencollect::unfreeze();
    drop(live);
    assert_eq!(dropped().len(), 20);
}
