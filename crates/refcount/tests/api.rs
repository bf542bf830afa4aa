//! The `Rc`-like surface of `Gc` and `Weak`: counts, equality, formatting, the standard
//! traits, `get_mut`, `try_unwrap`, weak handles, `AnyGc`, the dead-handle API on normal
//! objects and immortal objects. Every expectation is what `std::rc::Rc` does for the same
//! calls, unless the test says otherwise.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use refcount::engine::with_heap;
use refcount::{AnyGc, Gc, Trace, Tracer, Weak};

/// A value that counts how many times it was dropped.
struct Counted {
    id: u32,
    drops: Rc<Cell<usize>>,
}

// SAFETY: holds no handles.
unsafe impl Trace for Counted {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counted({})", self.id)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// A tracked value (it may hold a handle) that counts its drops.
struct TrackedCounted {
    id: u32,
    drops: Rc<Cell<usize>>,
    child: RefCell<Option<Gc<TrackedCounted>>>,
}

// SAFETY: reports the one handle it may own.
unsafe impl Trace for TrackedCounted {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.child.trace(t);
    }
}

impl std::fmt::Debug for TrackedCounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackedCounted({})", self.id)
    }
}

impl Drop for TrackedCounted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn counted(id: u32) -> (Gc<Counted>, Rc<Cell<usize>>) {
    let drops = Rc::new(Cell::new(0));
    let gc = Gc::new(Counted {
        id,
        drops: drops.clone(),
    });
    (gc, drops)
}

fn tracked(id: u32) -> (Gc<TrackedCounted>, Rc<Cell<usize>>) {
    let drops = Rc::new(Cell::new(0));
    let gc = Gc::new(TrackedCounted {
        id,
        drops: drops.clone(),
        child: RefCell::new(None),
    });
    (gc, drops)
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

#[test]
fn clone_increments_drop_decrements_and_the_last_drop_frees() {
    let before = bytes();
    let (a, drops) = counted(7);
    assert_eq!(Gc::ref_count(&a), 1);
    assert_eq!(Gc::strong_count(&a), 1);
    let b = a.clone();
    let c = b.clone();
    assert_eq!(Gc::ref_count(&a), 3);
    assert_eq!(Gc::ref_count(&c), 3);
    drop(b);
    assert_eq!(Gc::ref_count(&a), 2);
    drop(a);
    assert_eq!(Gc::ref_count(&c), 1);
    assert_eq!(drops.get(), 0, "value dropped while a handle is alive");
    assert_eq!(c.id, 7);
    drop(c);
    assert_eq!(drops.get(), 1);
    assert_eq!(bytes(), before);
}

#[test]
fn deref_borrow_and_as_ref_reach_the_value() {
    use std::borrow::Borrow;
    let a = Gc::new(String::from("hello"));
    assert_eq!(a.len(), 5);
    assert_eq!(&*a, "hello");
    let r: &String = a.as_ref();
    assert_eq!(r, "hello");
    let b: &String = a.borrow();
    assert!(std::ptr::eq(b, Gc::as_ptr(&a)));
    // `Borrow` lets a set of handles be searched by value, as with `Rc`.
    let set: std::collections::HashSet<Gc<String>> = [a.clone()].into_iter().collect();
    assert!(set.contains(&String::from("hello")));
    assert!(!set.contains(&String::from("world")));
}

#[test]
fn ptr_eq_compares_identity_and_eq_compares_values() {
    let a = Gc::new(5u32);
    let b = a.clone();
    let c = Gc::new(5u32);
    let d = Gc::new(6u32);
    assert!(Gc::ptr_eq(&a, &b));
    assert!(!Gc::ptr_eq(&a, &c));
    assert!(a == c, "PartialEq compares values, like Rc");
    assert!(a != d);
    assert_eq!(Gc::as_ptr(&a), Gc::as_ptr(&b));
    assert_ne!(Gc::as_ptr(&a), Gc::as_ptr(&c));
}

#[test]
fn ordering_and_hash_follow_the_value() {
    use std::cmp::Ordering;
    let one = Gc::new(1i32);
    let two = Gc::new(2i32);
    assert_eq!(one.partial_cmp(&two), Some(Ordering::Less));
    assert_eq!(two.cmp(&one), Ordering::Greater);
    assert_eq!(one.cmp(&Gc::new(1)), Ordering::Equal);
    assert!(one < two);
    let mut v = [Gc::new(3), two.clone(), one.clone()];
    v.sort();
    assert_eq!(v.iter().map(|g| **g).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(hash_of(&Gc::new(String::from("k"))), hash_of("k"));
    let nan = Gc::new(f64::NAN);
    assert_eq!(nan.partial_cmp(&nan), None);
    assert!(nan != nan, "PartialEq is the value's, not identity");
}

#[test]
fn debug_display_and_pointer_formatting() {
    let a = Gc::new(String::from("x\"y"));
    assert_eq!(format!("{a:?}"), format!("{:?}", "x\"y"));
    assert_eq!(format!("{a}"), "x\"y");
    assert_eq!(format!("{a:p}"), format!("{:p}", Gc::as_ptr(&a)));
    assert_eq!(
        format!("{:>5}", Gc::new(42)),
        "   42",
        "format flags pass through"
    );
    let w = Gc::downgrade(&a);
    assert_eq!(format!("{w:?}"), "(Weak)");
}

#[test]
fn default_and_from_allocate_a_fresh_object() {
    let a: Gc<Vec<u8>> = Gc::default();
    assert!(a.is_empty());
    assert_eq!(Gc::ref_count(&a), 1);
    let b: Gc<u64> = Gc::from(9);
    assert_eq!(*b, 9);
    let c: Gc<u64> = 9.into();
    assert!(!Gc::ptr_eq(&b, &c));
}

#[test]
fn get_mut_only_when_unique() {
    let mut a = Gc::new(vec![1]);
    Gc::get_mut(&mut a).unwrap().push(2);
    assert_eq!(*a, [1, 2]);
    let b = a.clone();
    assert!(Gc::get_mut(&mut a).is_none());
    drop(b);
    assert!(Gc::get_mut(&mut a).is_some());
    let w = Gc::downgrade(&a);
    assert!(
        Gc::get_mut(&mut a).is_none(),
        "a Weak makes the handle not unique"
    );
    drop(w);
    Gc::get_mut(&mut a).unwrap().push(3);
    assert_eq!(*a, [1, 2, 3]);
}

#[test]
fn try_unwrap_and_into_inner() {
    let before = bytes();
    let (a, drops) = counted(3);
    let b = a.clone();
    let a = Gc::try_unwrap(a).unwrap_err();
    assert_eq!(Gc::ref_count(&a), 2);
    assert!(Gc::into_inner(b).is_none());
    assert_eq!(Gc::ref_count(&a), 1);
    let value = Gc::try_unwrap(a).ok().unwrap();
    assert_eq!(bytes(), before, "unwrapping frees the object's memory");
    assert_eq!(value.id, 3);
    assert_eq!(drops.get(), 0, "the value was moved out, not dropped");
    drop(value);
    assert_eq!(drops.get(), 1);
    let (c, drops) = counted(4);
    assert_eq!(Gc::into_inner(c).map(|v| v.id), Some(4));
    assert_eq!(drops.get(), 1);
    assert_eq!(bytes(), before);
}

#[test]
fn try_unwrap_with_an_outstanding_weak() {
    for tracked_type in [false, true] {
        let before = bytes();
        let totals_before = with_heap(|h| h.tracked_totals());
        let (value, weak_drops) = if tracked_type {
            let (a, drops) = tracked(11);
            let w = Gc::downgrade(&a);
            let v = Gc::try_unwrap(a).ok().unwrap();
            assert!(w.upgrade().is_none());
            assert_eq!(w.strong_count(), 0);
            assert_eq!(bytes(), before + 64, "memory held by the weak handle");
            drop(w);
            assert_eq!(
                with_heap(|h| h.tracked_totals()),
                (totals_before.0 + 1, totals_before.1 + 1)
            );
            (v.id, drops)
        } else {
            let (a, drops) = counted(11);
            let w = Gc::downgrade(&a);
            let w2 = w.clone();
            let v = Gc::try_unwrap(a).ok().unwrap();
            assert!(w.upgrade().is_none());
            assert!(w2.upgrade().is_none());
            assert_eq!(w.strong_count(), 0);
            assert_eq!(bytes(), before + 32, "memory held by the weak handles");
            drop(w);
            assert_eq!(bytes(), before + 32);
            drop(w2);
            assert_eq!(with_heap(|h| h.tracked_totals()), totals_before);
            (v.id, drops)
        };
        assert_eq!(value, 11);
        assert_eq!(weak_drops.get(), 1, "the moved-out value was dropped once");
        assert_eq!(bytes(), before, "memory freed with the last weak");
    }
}

#[test]
fn downgrade_upgrade_and_counts() {
    let before = bytes();
    let (a, drops) = counted(1);
    let w = Gc::downgrade(&a);
    assert_eq!(Gc::weak_count(&a), 1);
    assert_eq!(w.strong_count(), 1);
    assert_eq!(w.weak_count(), 1);
    let w2 = w.clone();
    assert_eq!(Gc::weak_count(&a), 2);
    assert_eq!(w2.weak_count(), 2);
    assert!(w.ptr_eq(&w2));
    let up = w.upgrade().unwrap();
    assert!(Gc::ptr_eq(&up, &a));
    assert_eq!(Gc::ref_count(&a), 2);
    assert_eq!(w.strong_count(), 2);
    drop(up);
    drop(a);
    assert_eq!(drops.get(), 1, "weak handles do not keep the value alive");
    assert!(w.upgrade().is_none());
    assert!(w2.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert_eq!(bytes(), before + 32, "weak handles keep the memory");
    drop(w);
    drop(w2);
    assert_eq!(bytes(), before);
    assert_eq!(drops.get(), 1);
}

/// Strong and weak counts agree with `std::rc` at every step while the value is alive, and
/// the strong counts after it is gone.
#[test]
fn counts_agree_with_rc() {
    let a = Gc::new(1u8);
    let rc = Rc::new(1u8);
    let same = |g: &Weak<u8>, r: &std::rc::Weak<u8>| {
        assert_eq!(g.strong_count(), r.strong_count());
        assert_eq!(g.weak_count(), r.weak_count());
    };
    let w = Gc::downgrade(&a);
    let rw = Rc::downgrade(&rc);
    same(&w, &rw);
    let (a2, rc2) = (a.clone(), rc.clone());
    let (w2, rw2) = (w.clone(), rw.clone());
    same(&w, &rw);
    assert_eq!(Gc::weak_count(&a), Rc::weak_count(&rc));
    assert_eq!(Gc::strong_count(&a), Rc::strong_count(&rc));
    drop((a, rc));
    same(&w, &rw);
    drop((a2, rc2));
    assert_eq!(w.strong_count(), rw.strong_count());
    assert!(w.upgrade().is_none() && rw.upgrade().is_none());
    drop((w2, rw2));
    let (empty, rempty) = (Weak::<u8>::new(), std::rc::Weak::<u8>::new());
    same(&empty, &rempty);
}

/// `std::rc::Weak::weak_count` is 0 once no strong handle remains.
#[test]
fn weak_count_is_zero_once_the_value_is_gone_like_rc() {
    let a = Gc::new(1u8);
    let rc = Rc::new(1u8);
    let (w, rw) = (Gc::downgrade(&a), Rc::downgrade(&rc));
    let (w2, rw2) = (w.clone(), rw.clone());
    drop((a, rc));
    assert_eq!(rw.weak_count(), 0);
    assert_eq!(w.weak_count(), rw.weak_count());
    drop((w2, rw2));
}

#[test]
fn weak_new_and_ptr_eq() {
    let w: Weak<u32> = Weak::new();
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert_eq!(w.weak_count(), 0);
    let d: Weak<u32> = Weak::default();
    assert!(w.ptr_eq(&d), "two empty weaks are equal, like Rc");
    let cloned = w.clone();
    assert!(cloned.upgrade().is_none());
    let a = Gc::new(1u32);
    let b = Gc::new(1u32);
    let wa = Gc::downgrade(&a);
    assert!(!wa.ptr_eq(&w));
    assert!(!wa.ptr_eq(&Gc::downgrade(&b)));
    assert!(wa.ptr_eq(&Gc::downgrade(&a)));
    assert_eq!(Gc::weak_count(&a), 1, "temporary weaks were released");
}

#[test]
fn weak_to_a_tracked_object() {
    let before = bytes();
    let (a, drops) = tracked(2);
    let (b, b_drops) = tracked(3);
    *a.child.borrow_mut() = Some(b.clone());
    let wb = Gc::downgrade(&b);
    drop(b);
    assert_eq!(
        wb.upgrade().map(|g| g.id),
        Some(3),
        "kept alive by a's edge"
    );
    drop(a);
    assert_eq!((drops.get(), b_drops.get()), (1, 1));
    assert!(wb.upgrade().is_none());
    drop(wb);
    assert_eq!(bytes(), before);
}

#[test]
fn any_gc_counts_downcasts_and_compares() {
    let before = bytes();
    let (a, drops) = counted(5);
    let any = AnyGc::from(a.clone());
    assert_eq!(Gc::ref_count(&a), 2);
    assert_eq!(any.ref_count(), 2);
    let any2 = any.clone();
    assert_eq!(Gc::ref_count(&a), 3);
    assert!(any == a);
    assert!(a == any);
    assert!(any == any2);
    assert!(AnyGc::ptr_eq(&any, &any2));
    assert_eq!(hash_of(&any), hash_of(&any2));
    assert!(any.is::<Counted>());
    assert!(!any.is::<TrackedCounted>());
    assert_eq!(any.type_name(), std::any::type_name::<Counted>());
    assert_eq!(any.as_obj(), Gc::as_obj(&a));
    assert_eq!(
        format!("{any:?}"),
        format!(
            "<{} at {:#x}>",
            std::any::type_name::<Counted>(),
            Gc::as_obj(&a).addr()
        )
    );
    let typed: Gc<Counted> = any.downcast_ref().unwrap();
    assert_eq!(Gc::ref_count(&a), 4);
    assert!(any.downcast_ref::<u32>().is_none());
    assert_eq!(Gc::ref_count(&a), 4, "a failed downcast_ref adds nothing");
    drop(typed);
    let any2 = any2.downcast::<u32>().unwrap_err();
    assert_eq!(
        Gc::ref_count(&a),
        3,
        "a failed downcast gives the handle back"
    );
    let back: Gc<Counted> = any2.downcast().unwrap();
    assert_eq!(Gc::ref_count(&a), 3, "a downcast moves the reference");
    assert_eq!(back.id, 5);
    let other = AnyGc::from(Gc::new(5u32));
    assert!(other != any);
    drop((back, any, a));
    assert_eq!(drops.get(), 1);
    drop(other);
    assert_eq!(bytes(), before);
}

#[test]
fn any_gc_from_obj_adds_a_reference() {
    let a = Gc::new(3u16);
    // SAFETY: `a` holds the memory.
    let any = unsafe { refcount::engine::any_from_obj(Gc::as_obj(&a)) }.unwrap();
    assert_eq!(Gc::ref_count(&a), 2);
    // SAFETY: `a` holds the memory.
    let typed = unsafe { refcount::engine::gc_from_obj::<u16>(Gc::as_obj(&a)) }.unwrap();
    assert_eq!(Gc::ref_count(&a), 3);
    // SAFETY: `a` holds the memory.
    assert!(unsafe { refcount::engine::gc_from_obj::<u32>(Gc::as_obj(&a)) }.is_none());
    assert_eq!(Gc::ref_count(&a), 3);
    drop((any, typed));
    assert_eq!(Gc::ref_count(&a), 1);
}

#[test]
fn dead_handle_api_on_normal_objects() {
    let atomic = Gc::new(10u64);
    let (t, _drops) = tracked(9);
    assert!(!Gc::is_dead(&atomic));
    assert!(!Gc::is_dead(&t));
    assert_eq!(Gc::try_deref(&atomic), Some(&10));
    assert_eq!(Gc::try_deref(&t).map(|v| v.id), Some(9));
    let w = Gc::downgrade(&t);
    let up = w.upgrade().unwrap();
    assert!(!Gc::is_dead(&up));
}

#[test]
fn a_value_dropped_in_place_leaves_dead_handles() {
    let before = bytes();
    let (a, drops) = tracked(4);
    let b = a.clone();
    let w = Gc::downgrade(&a);
    let list_before = with_heap(|h| h.list_len(0));
    // SAFETY: `a` holds the memory, the type has an extension, and no `&TrackedCounted`
    // is alive.
    unsafe { refcount::engine::ObjectOps::drop_value_in_place(Gc::as_obj(&a)) };
    assert_eq!(drops.get(), 1);
    assert!(Gc::is_dead(&a));
    assert!(Gc::try_deref(&b).is_none());
    assert_eq!(format!("{a:?}"), "<dead Gc>");
    assert!(w.upgrade().is_none());
    assert_eq!(with_heap(|h| h.list_len(0)), list_before - 1, "untracked");
    let mut b = b;
    assert!(Gc::get_mut(&mut b).is_none());
    let b = Gc::try_unwrap(b).unwrap_err();
    assert!(Gc::into_inner(a).is_none());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.id));
    assert!(result.is_err(), "dereferencing a dead handle panics");
    drop(b);
    assert_eq!(drops.get(), 1, "a dead value is never dropped twice");
    assert_eq!(bytes(), before + 64, "the weak still holds the memory");
    drop(w);
    assert_eq!(bytes(), before);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "immortal objects leak the thread's allocator by design"
)]
fn immortal_objects_are_never_freed_nor_counted_nor_tracked() {
    let drops = Rc::new(Cell::new(0));
    let (stats_before, totals_before) = with_heap(|h| (h.alloc_stats(), h.tracked_totals()));
    let list_before = with_heap(|h| h.list_len(0));
    let count_before = with_heap(|h| h.generation_count(0));
    let none = Gc::new_immortal(TrackedCounted {
        id: 0,
        drops: drops.clone(),
        child: RefCell::new(None),
    });
    let stats = with_heap(|h| h.alloc_stats());
    assert_eq!(stats.blocks_in_use, stats_before.blocks_in_use);
    assert_eq!(
        stats.immortal_bytes,
        stats_before.immortal_bytes + 56,
        "a type that needs tracing has the extension, immortal or not: 8 + 16 + 32"
    );
    assert_eq!(with_heap(|h| h.tracked_totals()), totals_before);
    assert_eq!(with_heap(|h| h.list_len(0)), list_before);
    assert_eq!(with_heap(|h| h.generation_count(0)), count_before);
    assert!(Gc::is_immortal(&none));
    assert_eq!(Gc::ref_count(&none), usize::MAX);
    let copies: Vec<_> = (0..100).map(|_| none.clone()).collect();
    assert_eq!(Gc::ref_count(&none), usize::MAX);
    drop(copies);
    let w = Gc::downgrade(&none);
    assert_eq!(w.strong_count(), usize::MAX);
    let up = w.upgrade().unwrap();
    assert!(Gc::ptr_eq(&up, &none));
    drop((up, w));
    let mut none = none;
    assert!(
        Gc::get_mut(&mut none).is_none(),
        "an immortal value is shared"
    );
    let none = Gc::try_unwrap(none).unwrap_err();
    let weak = Gc::downgrade(&none);
    drop(none);
    assert_eq!(drops.get(), 0, "an immortal value is never dropped");
    assert_eq!(weak.upgrade().map(|g| g.id), Some(0));
    assert_eq!(with_heap(|h| h.tracked_totals()), totals_before);
    let atomic = Gc::new_immortal(1u64);
    assert_eq!(
        with_heap(|h| h.alloc_stats().immortal_bytes),
        stats_before.immortal_bytes + 56 + 24,
        "an atomic type has none: 16 + 8"
    );
    assert!(!Gc::is_immortal(&Gc::new(1u64)));
    assert_eq!(*atomic, 1);
}

/// `Gc::new` passed the value through three frames' worth of copies in unoptimised builds
/// (its own and its helper's parameters, inlined into the caller), so a 700 KiB value
/// overflowed a 2 MiB thread stack (`Box::new` takes one). It now takes two: the caller's
/// value and `Gc::new`'s parameter.
#[test]
#[cfg_attr(miri, ignore = "a stack-size test: Miri does not model native stacks")]
fn a_large_value_fits_a_small_thread_stack() {
    #[inline(never)]
    fn plain() -> usize {
        let g = Gc::new([7u8; 768 << 10]);
        g.iter().map(|&b| b as usize).sum()
    }
    let sum = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(plain)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(sum, 7 * (768 << 10));
}

/// A value larger than half the stack (`Gc::new`, like `Rc::new`, holds a second copy in its
/// frame in unoptimised builds) goes through a box: `Gc::from(Box)` copies it from the box's
/// memory, so only `Box::new`'s one copy is ever on the stack.
#[test]
#[cfg_attr(miri, ignore = "a stack-size test: Miri does not model native stacks")]
fn a_value_larger_than_half_the_stack_goes_through_a_box() {
    #[inline(never)]
    fn boxed() -> usize {
        let g: Gc<[u8; 1536 << 10]> = Gc::from(Box::new([7u8; 1536 << 10]));
        g.iter().map(|&b| b as usize).sum()
    }
    let sum = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(boxed)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(sum, 7 * (1536 << 10));
}

/// `Gc::from(Box)` tracks a value that can hold handles, as `Gc::new` does, and drops it once.
#[test]
fn a_boxed_value_is_tracked_and_dropped_once() {
    let (allocs, frees) = with_heap(|h| h.tracked_totals());
    let drops = Rc::new(Cell::new(0));
    let value = TrackedCounted {
        id: 5,
        drops: drops.clone(),
        child: RefCell::new(None),
    };
    let g: Gc<TrackedCounted> = Gc::from(Box::new(value));
    assert_eq!(with_heap(|h| h.tracked_totals()), (allocs + 1, frees));
    assert_eq!(drops.get(), 0, "moving out of the box drops nothing");
    drop(g);
    assert_eq!(drops.get(), 1);
    assert_eq!(with_heap(|h| h.tracked_totals()), (allocs + 1, frees + 1));
}
