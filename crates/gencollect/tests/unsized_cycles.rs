//! The collector through handles to unsized values: cycles that run through `Gc<dyn Trait>`
//! and `Gc<[Gc<T>]>` are collected with exact counts, every value is dropped once as the
//! type it was made as, and inspection sees the edges (rust-cc's `test_dyn_cycle` and
//! dumpster's unsized cycle tests, ported).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gcrt_derive::Trace;
use refcount::{Gc, Trace, Weak, coerce_gc};

trait Part: Trace {
    fn link(&self, to: Gc<dyn Part>);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<dyn Part>>>,
    #[trace(skip)]
    drops: Rc<Cell<usize>>,
}

impl Part for Node {
    fn link(&self, to: Gc<dyn Part>) {
        *self.next.borrow_mut() = Some(to);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn part(drops: &Rc<Cell<usize>>) -> Gc<dyn Part> {
    coerce_gc!(Gc::new(Node { next: RefCell::new(None), drops: drops.clone() }) => dyn Part)
}

#[test]
fn a_ring_of_trait_objects_is_collected_with_exact_counts() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let parts: Vec<Gc<dyn Part>> = (0..10).map(|_| part(&drops)).collect();
    for (i, p) in parts.iter().enumerate() {
        p.link(parts[(i + 1) % parts.len()].clone());
    }
    assert!(parts.iter().all(Gc::is_tracked));
    let weak: Weak<dyn Part> = Gc::downgrade(&parts[3]);
    drop(parts);
    assert_eq!(drops.get(), 0, "refcounting alone cannot free a ring");
    assert_eq!(gencollect::collect(), 10);
    assert_eq!(drops.get(), 10);
    assert!(weak.upgrade().is_none());
    assert_eq!(gencollect::collect(), 0);
}

/// A node that holds its children as a slice of handles.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Branch {
    kids: RefCell<Gc<[Gc<Branch>]>>,
    #[trace(skip)]
    drops: Rc<Cell<usize>>,
}

impl Drop for Branch {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn cycles_through_slices_of_handles_are_collected_with_exact_counts() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let branch = || {
        Gc::new(Branch {
            kids: RefCell::new(Gc::default()),
            drops: drops.clone(),
        })
    };
    let (a, b, c) = (branch(), branch(), branch());
    // a -> [b, c] -> each back to a, through slice objects.
    *a.kids.borrow_mut() = Gc::from(vec![b.clone(), c.clone()]);
    *b.kids.borrow_mut() = Gc::from(vec![a.clone()]);
    *c.kids.borrow_mut() = Gc::from(&[a.clone()][..]);
    let slice = a.kids.borrow().clone();
    assert!(
        Gc::is_tracked(&slice),
        "a slice holding tracked objects is tracked"
    );
    let referents = gencollect::get_referents_of(&[refcount::AnyGc::from(slice.clone())]);
    assert_eq!(referents.len(), 2);
    drop((referents, slice));
    drop((a, b, c));
    assert_eq!(drops.get(), 0);
    // Three branches, three slices of handles, and the three empty slices they started with
    // were freed by refcounting when replaced.
    assert_eq!(gencollect::collect(), 6);
    assert_eq!(drops.get(), 3);
}

/// An item of a slice that can hold a handle to a slice of its own type.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Slot(RefCell<Option<Gc<[Slot]>>>);

#[test]
fn a_slice_object_that_holds_itself_through_a_cell_is_collected() {
    gencollect::collect();
    let s: Gc<[Slot]> = Gc::from(vec![Slot(RefCell::new(None)), Slot(RefCell::new(None))]);
    *s[1].0.borrow_mut() = Some(s.clone());
    assert_eq!(Gc::ref_count(&s), 2);
    let weak = Gc::downgrade(&s);
    drop(s);
    assert_eq!(gencollect::collect(), 1);
    assert!(weak.upgrade().is_none());
}

#[test]
fn collections_started_by_allocations_inside_a_slice_build_see_only_whole_objects() {
    gencollect::collect();
    let (t0, t1, t2) = gencollect::get_threshold();
    gencollect::set_threshold(1, t1, t2);
    let drops = Rc::new(Cell::new(0));
    // Each item's construction allocates tracked garbage cycles, so automatic collections
    // run while the iterator is being collected into the slice.
    let items: Gc<[Gc<dyn Part>]> = (0..50)
        .map(|_| {
            let (x, y) = (part(&drops), part(&drops));
            x.link(y.clone());
            y.link(x.clone());
            x
        })
        .collect();
    gencollect::collect();
    gencollect::set_threshold(t0, t1, t2);
    assert_eq!(items.len(), 50);
    // The 50 kept pairs are alive: only dropping the slice lets the collector take them.
    assert_eq!(drops.get(), 0);
    drop(items);
    assert_eq!(
        gencollect::collect(),
        100,
        "the slice itself went by refcounting"
    );
    assert_eq!(drops.get(), 100);
}
