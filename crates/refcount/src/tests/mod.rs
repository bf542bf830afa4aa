//! Unit tests that need the crate's internals: count saturation, the object layout, the raw
//! weak count and the list invariants.

use core::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::engine::{IMMORTAL, MAX_COUNT, flags, with_heap};
use crate::header::{Ext, Header, box_layout, head_room};
use crate::{AnyGc, Gc, Trace, Tracer};

/// Counts its drops; tracked (it may hold a handle).
struct Counted {
    drops: Rc<Cell<usize>>,
    child: RefCell<Option<Gc<u8>>>,
}

// SAFETY: reports the one handle it may own.
unsafe impl Trace for Counted {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.child.trace(t);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn counted() -> (Gc<Counted>, Rc<Cell<usize>>) {
    let drops = Rc::new(Cell::new(0));
    let gc = Gc::new(Counted {
        drops: drops.clone(),
        child: RefCell::new(None),
    });
    (gc, drops)
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

#[test]
fn a_count_that_would_overflow_saturates_to_immortal() {
    let before = bytes();
    let (a, drops) = counted();
    let obj = Gc::as_obj(&a);
    // Counts above `MAX_COUNT` are immortal: start one below it.
    obj.set_strong(MAX_COUNT - 1);
    let b = a.clone();
    assert_eq!(Gc::ref_count(&a), MAX_COUNT as usize);
    assert!(!Gc::is_immortal(&a));
    let c = b.clone();
    assert!(Gc::is_immortal(&a), "saturated instead of wrapping to 0");
    assert_eq!(Gc::ref_count(&a), usize::MAX);
    let more: Vec<_> = (0..5).map(|_| a.clone()).collect();
    let up = Gc::downgrade(&a).upgrade().unwrap();
    let any = AnyGc::from(c.clone());
    let any2 = any.clone();
    // SAFETY: `a` holds the memory.
    assert_eq!(unsafe { obj.strong() }, IMMORTAL);
    drop((more, up, any, any2, b, c));
    // SAFETY: `a` holds the memory.
    let strong = unsafe { obj.strong() };
    assert_eq!(strong, IMMORTAL, "drops never lower it again");
    assert_eq!(drops.get(), 0);
    // Give the object a real count again so the test does not leak it.
    obj.set_strong(1);
    drop(a);
    assert_eq!(drops.get(), 1);
    assert_eq!(bytes(), before);
}

#[test]
fn saturation_through_weak_upgrade() {
    let (a, drops) = counted();
    let w = Gc::downgrade(&a);
    Gc::as_obj(&a).set_strong(MAX_COUNT);
    let up = w.upgrade().unwrap();
    assert!(Gc::is_immortal(&up));
    assert_eq!(w.strong_count(), usize::MAX);
    drop(up);
    assert_eq!(w.strong_count(), usize::MAX);
    Gc::as_obj(&a).set_strong(1);
    drop(a);
    assert_eq!(drops.get(), 1);
    assert!(w.upgrade().is_none());
}

#[test]
fn header_and_extension_sizes() {
    assert_eq!(size_of::<Header>(), 16);
    assert_eq!(size_of::<Ext>(), 8);
    assert_eq!(head_room(false, 1), 16);
    assert_eq!(head_room(false, 8), 16);
    assert_eq!(head_room(true, 8), 24);
    assert_eq!(head_room(false, 16), 16);
    assert_eq!(
        head_room(true, 16),
        32,
        "padding keeps a 16-aligned value aligned"
    );
    assert_eq!(box_layout::<u64>(false).size(), 24);
    assert_eq!(box_layout::<u64>(true).size(), 32);
    assert_eq!(box_layout::<()>(false).size(), 16);
    assert_eq!(box_layout::<u128>(true).size(), 48);
    assert_eq!(box_layout::<u128>(true).align(), 16);
    assert_eq!(box_layout::<u8>(false).align(), 8);
}

#[test]
fn the_value_follows_the_header_and_has_ext_matches_the_type() {
    let atomic = Gc::new(5u64);
    let (tracked, _drops) = counted();
    for obj in [Gc::as_obj(&atomic), Gc::as_obj(&tracked)] {
        assert_eq!(obj.value::<u8>().addr(), obj.addr() + 16);
    }
    // SAFETY: the handles hold the memory.
    unsafe {
        assert!(!Gc::as_obj(&atomic).has_ext());
        assert!(Gc::as_obj(&tracked).has_ext());
        assert_eq!(Gc::as_obj(&atomic).flags(), 0);
        let f = Gc::as_obj(&tracked).flags();
        assert_eq!(f & flags::LIST_MASK, 0, "new objects go to generation 0");
        assert_ne!(f & flags::TRACKED, 0);
    }
}

#[test]
fn the_implicit_weak_reference() {
    let a = Gc::new(1u32);
    let obj = Gc::as_obj(&a);
    assert_eq!(
        obj.weak_count_raw(),
        1,
        "held by the strong handles together"
    );
    let b = a.clone();
    assert_eq!(obj.weak_count_raw(), 1);
    let w = Gc::downgrade(&a);
    assert_eq!(obj.weak_count_raw(), 2);
    drop((a, b));
    assert_eq!(
        obj.weak_count_raw(),
        1,
        "the implicit one went with the last strong"
    );
    // SAFETY: `w` holds the memory.
    assert_eq!(unsafe { obj.strong() }, 0);
    drop(w);
}

#[test]
fn list_positions_stay_exact_when_objects_leave() {
    let base = with_heap(|h| h.list_len(0));
    let mut objs: Vec<_> = (0..8).map(|_| counted().0).collect();
    let check = || {
        with_heap(|h| {
            for i in 0..h.list_len(0) {
                let obj = h.list_get(0, i).unwrap();
                // SAFETY: listed objects are alive and tracked.
                unsafe {
                    assert_eq!(obj.index(), i);
                    assert_eq!(
                        obj.flags() & (flags::TRACKED | flags::LIST_MASK),
                        flags::TRACKED
                    );
                }
            }
        })
    };
    check();
    for k in [3, 0, 5, 1] {
        let gone = objs.remove(k % objs.len());
        let obj = Gc::as_obj(&gone);
        drop(gone);
        assert!(with_heap(|h| h.list_snapshot(0)).iter().all(|&o| o != obj));
        check();
    }
    assert_eq!(with_heap(|h| h.list_len(0)), base + objs.len());
    drop(objs);
    assert_eq!(with_heap(|h| h.list_len(0)), base);
}

#[test]
fn only_a_decrement_that_leaves_the_count_above_zero_marks_an_object_dirty() {
    let (a, drops) = counted();
    let obj = Gc::as_obj(&a);
    // SAFETY: `a` holds the memory for every read below.
    let dirty = || unsafe { obj.is_dirty() };
    assert!(!dirty(), "new objects are clean");
    let b = a.clone();
    let w = Gc::downgrade(&a);
    assert!(!dirty(), "increments and weak handles do not mark");
    assert_eq!(Gc::ref_count(&a), 2);
    drop(b);
    assert!(dirty());
    assert_eq!(Gc::ref_count(&a), 1, "the mark is not part of the count");
    // SAFETY: as above.
    unsafe { obj.clear_dirty() };
    assert!(!dirty());
    // A weak upgrade dropped again is a decrement to nonzero too.
    drop(w.upgrade());
    assert!(dirty());
    // `set_strong` keeps the mark; the count reads back exactly.
    obj.set_strong(3);
    assert!(dirty());
    assert_eq!(Gc::ref_count(&a), 3);
    obj.set_strong(1);
    drop(a);
    assert_eq!(drops.get(), 1);
    assert!(w.upgrade().is_none());
}

#[test]
fn immortal_objects_are_never_dirty() {
    let (a, drops) = counted();
    let obj = Gc::as_obj(&a);
    obj.set_strong(MAX_COUNT);
    let b = a.clone();
    assert!(Gc::is_immortal(&a));
    drop(b);
    // SAFETY: `a` holds the memory.
    unsafe {
        assert!(
            !obj.is_dirty(),
            "an immortal count never changes, mark included"
        );
        obj.set_dirty();
        assert!(!obj.is_dirty());
        assert_eq!(obj.strong(), IMMORTAL);
    }
    // Clones and drops of an immortal object keep it immortal.
    let copies: Vec<_> = (0..3).map(|_| a.clone()).collect();
    drop(copies);
    assert!(Gc::is_immortal(&a));
    obj.set_strong(1);
    drop(a);
    assert_eq!(drops.get(), 1);
}
