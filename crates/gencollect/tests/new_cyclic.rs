//! `Gc::new_cyclic` with the collector: the object is tracked once made, collections that
//! run inside `data_fn` do not see it, and cycles through such objects are collected with
//! exact counts (as rust-cc's and dumpster's `new_cyclic` tests check).

use std::cell::RefCell;

use gcrt_derive::Trace;
use refcount::{Gc, Weak};

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    me: Weak<Node>,
    next: RefCell<Option<Gc<Node>>>,
}

fn node() -> Gc<Node> {
    Gc::new_cyclic(|me| Node {
        me: me.clone(),
        next: RefCell::new(None),
    })
}

#[test]
fn cycles_of_objects_made_with_new_cyclic_are_collected() {
    gencollect::collect();
    let (a, b) = (node(), node());
    assert!(Gc::is_tracked(&a) && Gc::is_tracked(&b));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let weak_a = a.me.clone();
    assert!(Gc::ptr_eq(&weak_a.upgrade().unwrap(), &a));
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert!(weak_a.upgrade().is_none());
}

#[test]
fn collections_inside_data_fn_do_not_see_the_object_being_made() {
    gencollect::collect();
    let (t0, t1, t2) = gencollect::get_threshold();
    gencollect::set_threshold(1, t1, t2);
    let before = gencollect::get_stats()[0].collections;
    let made = Gc::new_cyclic(|me: &Weak<Node>| {
        // Tracked allocations and garbage cycles: automatic collections run in here.
        for _ in 0..10 {
            let (x, y) = (node(), node());
            *x.next.borrow_mut() = Some(y.clone());
            *y.next.borrow_mut() = Some(x);
        }
        assert!(me.upgrade().is_none());
        Node {
            me: me.clone(),
            next: RefCell::new(None),
        }
    });
    gencollect::set_threshold(t0, t1, t2);
    assert!(
        gencollect::get_stats()[0].collections > before,
        "collections ran inside"
    );
    // The object itself, in a self-cycle now, is collected like any other.
    *made.next.borrow_mut() = Some(made.clone());
    let weak = Gc::downgrade(&made);
    drop(made);
    gencollect::collect();
    assert!(weak.upgrade().is_none());
}
