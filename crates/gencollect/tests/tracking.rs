//! Objects created untracked (`Gc::new_untracked`) and tracked later (`Gc::track`), as
//! CPython does with dicts: the collector does not see them until they are tracked, and
//! tracking at any moment (inside a `Drop` of garbage, inside a `Trace` impl while a
//! collection counts) is harmless.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use refcount::{Gc, Trace, Tracer};

struct Bag {
    items: RefCell<Vec<Gc<Bag>>>,
    drops: Rc<Cell<u32>>,
    /// Tracked by this bag's `Drop`.
    on_drop: RefCell<Option<Gc<Bag>>>,
    /// Tracked by this bag's `trace`.
    on_trace: RefCell<Option<Gc<Bag>>>,
}

// SAFETY: reports each handle it owns once; tracking another object is allowed in `trace`
// (it neither drops nor keeps a handle).
unsafe impl Trace for Bag {
    fn trace(&self, t: &mut Tracer<'_>) {
        if let Ok(b) = self.on_trace.try_borrow()
            && let Some(other) = &*b
        {
            Gc::track(other);
        }
        self.items.trace(t);
        self.on_drop.trace(t);
        self.on_trace.trace(t);
    }
}

impl Drop for Bag {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if let Some(other) = &*self.on_drop.borrow() {
            Gc::track(other);
        }
    }
}

fn bag(drops: &Rc<Cell<u32>>, tracked: bool) -> Gc<Bag> {
    let b = Bag {
        items: RefCell::new(Vec::new()),
        drops: drops.clone(),
        on_drop: RefCell::new(None),
        on_trace: RefCell::new(None),
    };
    if tracked {
        Gc::new(b)
    } else {
        Gc::new_untracked(b)
    }
}

#[test]
fn an_untracked_cycle_is_collected_once_tracked() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let a = bag(&drops, false);
    assert!(!Gc::is_tracked(&a) && !gencollect::is_tracked(&a));
    a.items.borrow_mut().push(a.clone());
    drop(a.clone());
    let keep = a.clone();
    drop(a);
    assert_eq!(gencollect::collect(), 0, "the collector does not see it");
    Gc::track(&keep);
    Gc::track(&keep); // tracking twice is a no-op
    assert!(Gc::is_tracked(&keep));
    assert_eq!(gencollect::get_objects(Some(0)).unwrap().len(), 1);
    drop(keep);
    assert_eq!(gencollect::collect(), 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn tracking_a_dead_member_of_garbage_from_a_drop_does_nothing() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let (a, b) = (bag(&drops, true), bag(&drops, true));
    a.items.borrow_mut().push(b.clone());
    b.items.borrow_mut().push(a.clone());
    *a.on_drop.borrow_mut() = Some(b.clone());
    *b.on_drop.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(drops.get(), 2);
    assert_eq!(gencollect::get_objects(None).unwrap().len(), 0);
}

#[test]
fn tracking_from_a_trace_while_a_collection_counts() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let tracer = bag(&drops, true);
    let hidden = bag(&drops, false);
    hidden.items.borrow_mut().push(hidden.clone());
    *tracer.on_trace.borrow_mut() = Some(hidden.clone());
    drop(hidden);
    // A young collection traces `tracer`, which tracks `hidden` in the middle of it.
    assert_eq!(gencollect::collect_generation(0).unwrap(), 0);
    let hidden = tracer.on_trace.borrow_mut().take().unwrap();
    assert!(Gc::is_tracked(&hidden));
    drop(hidden);
    assert_eq!(
        gencollect::collect(),
        1,
        "the self-cycle, tracked, is garbage now"
    );
    drop(tracer);
    assert_eq!(drops.get(), 2);
}

/// A frozen type whose trace cannot read part of its value (`Tracer::mark_opaque`) and
/// reports no handle.
struct Sealed {
    _inner: Option<Gc<u8>>,
}

// SAFETY: reports no handle, and says so by marking itself opaque: the collector then treats
// it as referenced from outside.
unsafe impl Trace for Sealed {
    fn trace(&self, t: &mut Tracer<'_>) {
        t.mark_opaque();
    }
    fn frozen() -> bool {
        true
    }
}

/// A new object of a frozen type is left untracked only if its trace shows that everything
/// it holds is untracked: a trace that could not read its value (`mark_opaque`) shows
/// nothing, so the object is tracked; one that reads it and finds only untracked objects is
/// not.
#[test]
fn a_frozen_object_whose_trace_is_opaque_is_tracked() {
    let sealed = Gc::new(Sealed {
        _inner: Some(Gc::new(7)),
    });
    assert!(Gc::is_tracked(&sealed));
    let plain = Gc::new(Some(Gc::new(7u8)));
    assert!(!Gc::is_tracked(&plain));
}
