//! An object that holds many handles to one object (a list of one value repeated, as
//! pyperformance's gc_traversal builds): a collection counts every handle, but records one
//! edge per run of equal handles (`Tracer::visit_times`, `EdgeCounter::set_repeats_subtracted`). What users rely on: exact
//! counts of what is found and freed, young and full collections alike, and survivors kept
//! whole.

use std::cell::{Cell, RefCell};

use gencollect::{collect, collect_generation};
use refcount::Gc;

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Bag {
    items: RefCell<Vec<Gc<Bag>>>,
}

impl Drop for Bag {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn bag(items: Vec<Gc<Bag>>) -> Gc<Bag> {
    Gc::new(Bag {
        items: RefCell::new(items),
    })
}

/// `list` holds `a` `times` times, and `a` holds `list`: a cycle of two objects.
fn repeated_cycle(times: usize) -> (Gc<Bag>, Gc<Bag>) {
    let a = bag(Vec::new());
    let list = bag(vec![a.clone(); times]);
    a.items.borrow_mut().push(list.clone());
    (a, list)
}

#[test]
fn a_cycle_through_a_handle_held_a_thousand_times_is_found_by_each_kind_of_collection() {
    collect();
    let (a, list) = repeated_cycle(1000);
    drop((a, list));
    assert_eq!(
        collect_generation(0).unwrap(),
        2,
        "young: the whole generation"
    );
    assert_eq!(drops(), 2);
    let (a, list) = repeated_cycle(1000);
    drop((a, list));
    assert_eq!(collect(), 2, "full");
    assert_eq!(drops(), 4);
}

#[test]
fn a_handle_from_outside_keeps_a_target_held_many_times() {
    collect();
    let (a, list) = repeated_cycle(1000);
    drop(list);
    assert_eq!(collect_generation(0).unwrap(), 0);
    assert_eq!(Gc::strong_count(&a), 1001);
    assert_eq!(a.items.borrow()[0].items.borrow().len(), 1000);
    drop(a);
    assert_eq!(collect_generation(0).unwrap() + collect(), 2);
    assert_eq!(drops(), 2);
}

#[test]
fn handles_repeated_with_others_between_are_each_counted() {
    collect();
    // `x` holds a, b, a, b, a; `a` and `b` each hold `x`; `b` is also held from outside.
    let a = bag(Vec::new());
    let b = bag(Vec::new());
    let x = bag(vec![a.clone(), b.clone(), a.clone(), b.clone(), a.clone()]);
    a.items.borrow_mut().push(x.clone());
    b.items.borrow_mut().push(x.clone());
    drop((a, x));
    assert_eq!(
        collect_generation(0).unwrap(),
        0,
        "b holds x, which holds a"
    );
    assert_eq!(Gc::strong_count(&b), 3);
    drop(b);
    assert_eq!(collect_generation(1).unwrap() + collect(), 3);
    assert_eq!(drops(), 3);
}

#[test]
fn pyperformance_traversal_lists_are_freed_exactly() {
    collect();
    // List n holds n handles to list n - 1 (gc_traversal's shape), closed into a cycle by
    // the first list holding the last.
    let first = bag(Vec::new());
    let mut current = first.clone();
    for n in 1..200 {
        current = bag(vec![current; n]);
    }
    first.items.borrow_mut().push(current);
    drop(first);
    assert_eq!(collect_generation(0).unwrap(), 200);
    assert_eq!(drops(), 200);
}

/// Reports its handle to `a` zero times through `visit_times`, then once; and its own
/// handle to itself.
struct ZeroThenOnce {
    a: Gc<Bag>,
    me: RefCell<Option<Gc<ZeroThenOnce>>>,
}

// SAFETY: reports each of its handles once in all.
unsafe impl refcount::Trace for ZeroThenOnce {
    fn trace(&self, t: &mut refcount::Tracer<'_>) {
        t.visit_times(&self.a, 0);
        t.visit(&self.a);
        self.me.trace(t);
    }
}

#[test]
fn reporting_a_handle_zero_times_reports_nothing() {
    collect();
    // `x` is a garbage self-cycle holding `a`, which is also held from outside: only `x`
    // may be collected.
    let a = bag(Vec::new());
    let x = Gc::new(ZeroThenOnce {
        a: a.clone(),
        me: RefCell::new(None),
    });
    *x.me.borrow_mut() = Some(x.clone());
    drop(x);
    assert_eq!(collect_generation(0).unwrap(), 1);
    assert_eq!(drops(), 0, "a lives on");
    assert_eq!(Gc::strong_count(&a), 1);
    drop(a);
    assert_eq!(drops(), 1);
}
