//! Handles to unsized values: `Gc<dyn Trait>`, `Gc<[T]>` and `Gc<str>`, with their weak
//! handles, as std's `Rc<str>`/`Rc<[T]>`/`Rc<dyn Trait>` tests and rust-cc's and dumpster's
//! unsized tests check them (ported: each test names its source). Collection through them
//! is in `crates/gencollect/tests/unsized_cycles.rs`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gcrt_derive::Trace;
use refcount::{Gc, Trace, Weak, coerce_gc};

trait Speak: Trace {
    fn speak(&self) -> String;
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Dog(#[trace(skip)] String);

impl Speak for Dog {
    fn speak(&self) -> String {
        format!("{} says woof", self.0)
    }
}

/// Counts its drops.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Counted(#[trace(skip)] Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

impl Clone for Counted {
    fn clone(&self) -> Counted {
        Counted(self.0.clone())
    }
}

// std: `test_from_str`, `test_from_owned_str`, `test_from_box_str`.
#[test]
fn gc_str_is_made_from_str_string_and_box_str() {
    let a: Gc<str> = Gc::from("foo");
    let b: Gc<str> = Gc::from(String::from("foo"));
    let c: Gc<str> = Gc::from(Box::<str>::from("foo"));
    assert_eq!(&*a, "foo");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert!(!Gc::ptr_eq(&a, &b));
    assert_eq!(format!("{a} {a:?}"), "foo \"foo\"");
    let empty: Gc<str> = Gc::default();
    assert_eq!(&*empty, "");
    let bytes: Gc<[u8]> = Gc::from(a.clone());
    assert_eq!(&bytes[..], b"foo");
    assert_eq!(Gc::ref_count(&a), 2, "the bytes are the same object");
}

// std: `test_from_vec`, `test_from_box_slice`, `test_from_iter`, `shared_from_iter_*`.
#[test]
fn gc_slices_are_made_from_vec_slice_box_array_and_iterators() {
    let v: Gc<[i32]> = Gc::from(vec![1, 2, 3]);
    let s: Gc<[i32]> = Gc::from(&[1, 2, 3][..]);
    let b: Gc<[i32]> = Gc::from(vec![1, 2, 3].into_boxed_slice());
    let a: Gc<[i32]> = Gc::from([1, 2, 3]);
    let i: Gc<[i32]> = (1..=3).collect();
    for x in [&s, &b, &a, &i] {
        assert_eq!(*x, v);
    }
    assert_eq!(v.len(), 3);
    assert_eq!(v[2], 3);
    assert_eq!(v.iter().sum::<i32>(), 6);
    let empty: Gc<[String]> = Gc::default();
    assert!(empty.is_empty());
    let filtered: Gc<[u32]> = (0..100).filter(|x| x % 7 == 0).collect();
    assert_eq!(filtered.len(), 15);
}

#[test]
fn each_item_of_a_slice_is_dropped_exactly_once() {
    let drops = Rc::new(Cell::new(0));
    let items: Vec<Counted> = (0..5).map(|_| Counted(drops.clone())).collect();
    let s: Gc<[Counted]> = Gc::from(items);
    assert_eq!(drops.get(), 0, "moving the items in drops none");
    let s2 = s.clone();
    drop(s);
    assert_eq!(drops.get(), 0);
    drop(s2);
    assert_eq!(drops.get(), 5);
}

// std: `shared_from_iter_trustedlen_panic` and `shared_from_iter_normal`'s panicking form.
#[test]
fn a_clone_that_panics_while_a_slice_is_made_leaks_and_double_drops_nothing() {
    struct Bomb(Rc<Cell<usize>>, bool);
    // SAFETY: holds no handle.
    unsafe impl Trace for Bomb {
        fn trace(&self, _: &mut refcount::Tracer<'_>) {}
    }
    impl Clone for Bomb {
        fn clone(&self) -> Bomb {
            assert!(!self.1, "boom");
            Bomb(self.0.clone(), self.1)
        }
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let drops = Rc::new(Cell::new(0));
    let source = vec![
        Bomb(drops.clone(), false),
        Bomb(drops.clone(), false),
        Bomb(drops.clone(), true),
    ];
    let before = refcount::alloc_stats().bytes_in_use;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Gc::<[Bomb]>::from(&source[..])
    }));
    assert!(r.is_err());
    assert_eq!(drops.get(), 2, "the two clones made are dropped once");
    assert_eq!(
        refcount::alloc_stats().bytes_in_use,
        before,
        "no object was made"
    );
    drop(source);
    assert_eq!(drops.get(), 5);
}

#[test]
fn slices_of_zero_sized_and_highly_aligned_items_work() {
    let units: Gc<[()]> = Gc::from(vec![(); 1000]);
    assert_eq!(units.len(), 1000);
    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(align(64))]
    struct Wide(u8);
    // SAFETY: holds no handle.
    unsafe impl Trace for Wide {
        fn trace(&self, _: &mut refcount::Tracer<'_>) {}
        fn needs_trace() -> bool {
            false
        }
    }
    let wide: Gc<[Wide]> = Gc::from(vec![Wide(1), Wide(2), Wide(3)]);
    assert_eq!(wide.as_ptr().addr() % 64, 0);
    assert_eq!(wide[..], [Wide(1), Wide(2), Wide(3)]);
    let traced: Gc<[Gc<u8>]> = Gc::from(vec![Gc::new(1u8)]);
    let x: Gc<[Gc<[Wide]>]> = Gc::from(vec![wide.clone()]);
    assert_eq!(x[0][2], Wide(3));
    assert_eq!(*traced[0], 1);
}

// std: `test_get_mut` on a slice; rust-cc's `test_get_mut_unsized`.
#[test]
fn get_mut_and_weak_handles_work_on_slices() {
    let mut s: Gc<[u32]> = Gc::from(vec![1, 2]);
    Gc::get_mut(&mut s).unwrap()[0] = 9;
    assert_eq!(s[..], [9, 2]);
    let w: Weak<[u32]> = Gc::downgrade(&s);
    assert!(Gc::get_mut(&mut s).is_none(), "a weak handle shares it");
    assert_eq!(w.upgrade().unwrap()[0], 9);
    assert_eq!((Gc::strong_count(&s), Gc::weak_count(&s)), (1, 1));
    drop(s);
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
}

// rust-cc: `test_dyn`; dumpster: `unsized` and `coerce`.
#[test]
fn a_gc_coerces_to_a_trait_object_and_calls_through_it() {
    let dog = Gc::new(Dog("Rex".into()));
    let speaker: Gc<dyn Speak> = coerce_gc!(dog.clone() => dyn Speak);
    assert_eq!(speaker.speak(), "Rex says woof");
    assert_eq!(Gc::ref_count(&dog), 2, "the same object");
    assert_eq!(Gc::addr(&speaker), Gc::addr(&dog));
    let weak: Weak<dyn Speak> = Gc::downgrade(&speaker);
    assert_eq!(weak.upgrade().unwrap().speak(), "Rex says woof");
    assert!(weak.ptr_eq(&Gc::downgrade(&speaker)));
    let list: Vec<Gc<dyn Speak>> = vec![
        speaker.clone(),
        coerce_gc!(Gc::new(Dog("Fido".into())) => dyn Speak),
    ];
    assert_eq!(list[1].speak(), "Fido says woof");
    drop((dog, list, speaker));
    assert!(weak.upgrade().is_none());
}

#[test]
fn the_value_behind_a_trait_object_is_dropped_once_as_its_own_type() {
    let drops = Rc::new(Cell::new(0));
    let any: Gc<dyn Any> = coerce_gc!(Gc::new(Counted(drops.clone())) => dyn Any);
    assert!(any.is::<Counted>());
    assert!(any.downcast_ref::<Dog>().is_none());
    // std: `test_downcast` (`Rc<dyn Any>::downcast`).
    let any = any.downcast::<Dog>().err().unwrap();
    let counted: Gc<Counted> = any.clone().downcast().ok().unwrap();
    assert_eq!(Gc::ref_count(&counted), 2, "the same object as `any`");
    drop(counted);
    let again = any.clone();
    drop(any);
    assert_eq!(drops.get(), 0);
    drop(again);
    assert_eq!(drops.get(), 1);
    // An array coerced to a slice is still the array's object.
    let arr: Gc<[Counted]> =
        coerce_gc!(Gc::new([Counted(drops.clone()), Counted(drops.clone())]) => [Counted]);
    assert_eq!(arr.len(), 2);
    drop(arr);
    assert_eq!(drops.get(), 3);
}

// std: `into_from_raw_unsized`.
#[test]
fn into_raw_and_from_raw_round_trip_sized_and_unsized_handles() {
    let s: Gc<str> = Gc::from("raw");
    let raw = Gc::into_raw(s);
    // SAFETY: `raw` came from `into_raw` and is given back once.
    let s = unsafe { Gc::from_raw(raw) };
    assert_eq!(&*s, "raw");
    assert_eq!(Gc::ref_count(&s), 1);
    let d: Gc<dyn Speak> = coerce_gc!(Gc::new(Dog("Max".into())) => dyn Speak);
    let raw = Gc::into_raw(d);
    // SAFETY: as above.
    let d = unsafe { Gc::from_raw(raw) };
    assert_eq!(d.speak(), "Max says woof");
}

/// A type generic over its payload that holds handles to itself needs no bound on its
/// declaration (the bound the derive puts on the impl is enough), as with `Rc`.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node<T> {
    v: T,
    next: RefCell<Option<Gc<Node<T>>>>,
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Scene {
    shapes: Vec<Gc<dyn Speak>>,
    names: Gc<[Gc<str>]>,
}

#[test]
fn generic_self_referential_types_and_unsized_fields_derive_trace() {
    let a = Gc::new(Node {
        v: String::from("a"),
        next: RefCell::new(None),
    });
    let b = Gc::new(Node {
        v: String::from("b"),
        next: RefCell::new(Some(a.clone())),
    });
    assert_eq!(b.next.borrow().as_ref().unwrap().v, "a");
    assert_eq!(Gc::ref_count(&a), 2);
    let scene = Gc::new(Scene {
        shapes: vec![coerce_gc!(Gc::new(Dog("Rex".into())) => dyn Speak)],
        names: Gc::from(vec![Gc::from("rex")]),
    });
    // Frozen, and everything it reaches is untracked: like a tuple of strings.
    assert!(!Gc::is_tracked(&scene));
    assert_eq!(&*scene.names[0], "rex");
    assert_eq!(scene.shapes[0].speak(), "Rex says woof");
}

#[test]
fn slices_of_atomic_items_are_untracked_and_slices_of_handles_may_be() {
    let atomic: Gc<[u64]> = Gc::from(vec![1, 2]);
    assert!(!Gc::is_tracked(&atomic));
    // Items that can never change without `&mut` and reach only untracked objects.
    let frozen: Gc<[Gc<u8>]> = Gc::from(vec![Gc::new(1u8)]);
    assert!(!Gc::is_tracked(&frozen), "like a tuple of ints");
    let cells: Gc<[RefCell<Option<Gc<u8>>>]> = Gc::from(vec![RefCell::new(None)]);
    assert!(Gc::is_tracked(&cells));
    let mut frozen = frozen;
    Gc::get_mut(&mut frozen).unwrap()[0] = Gc::new(2u8);
    assert!(Gc::is_tracked(&frozen), "`&mut` access tracks it");
}
