//! Ports of std's `Rc` tests (library/alloc/src/rc/tests.rs) for what `Gc` took from `Rc`:
//! `make_mut`, `unwrap_or_clone`, and identity by address.

use std::collections::{BTreeSet, HashMap};

use refcount::{AnyGc, ByAddress, Gc, Identity, Weak};

/// `test_cowrc_clone_make_mut`
#[test]
fn cowrc_clone_make_mut() {
    let mut cow0 = Gc::new(75);
    let mut cow1 = cow0.clone();
    let mut cow2 = cow1.clone();
    assert_eq!(*Gc::make_mut(&mut cow0), 75);
    assert_eq!(*Gc::make_mut(&mut cow1), 75);
    assert_eq!(*Gc::make_mut(&mut cow2), 75);
    *Gc::make_mut(&mut cow0) += 1;
    *Gc::make_mut(&mut cow1) += 2;
    *Gc::make_mut(&mut cow2) += 3;
    assert_eq!((*cow0, *cow1, *cow2), (76, 77, 78));
    // None should point to the same backing memory.
    assert!(!Gc::ptr_eq(&cow0, &cow1) && !Gc::ptr_eq(&cow0, &cow2));
}

/// `test_cowrc_clone_unique2`
#[test]
fn cowrc_clone_unique2() {
    let mut cow0 = Gc::new(75);
    let cow1 = cow0.clone();
    let cow2 = cow1.clone();
    assert_eq!(*cow0, 75);
    *Gc::make_mut(&mut cow0) += 1;
    assert_eq!((*cow0, *cow1, *cow2), (76, 75, 75));
    // cow1 and cow2 should share the same contents; cow0 should have a unique reference.
    assert!(Gc::ptr_eq(&cow1, &cow2) && !Gc::ptr_eq(&cow0, &cow1));
}

/// `test_cowrc_clone_weak`
#[test]
fn cowrc_clone_weak() {
    let mut cow0 = Gc::new(75);
    let cow1_weak = Gc::downgrade(&cow0);
    assert_eq!(*cow0, 75);
    assert_eq!(*cow1_weak.upgrade().unwrap(), 75);
    *Gc::make_mut(&mut cow0) += 1;
    assert_eq!(*cow0, 76);
    assert!(cow1_weak.upgrade().is_none());
}

/// `test_unwrap_or_clone`
#[test]
fn unwrap_or_clone() {
    let x = Gc::new(3);
    assert_eq!(Gc::unwrap_or_clone(x), 3);
    let x = Gc::new(4);
    let y = x.clone();
    assert_eq!(Gc::unwrap_or_clone(x), 4);
    assert_eq!(Gc::unwrap_or_clone(y), 4);
}

#[test]
fn handles_are_keys_by_identity() {
    let a = Gc::new(String::from("k"));
    let b = Gc::new(String::from("k"));
    let mut map = HashMap::new();
    map.insert(ByAddress(a.clone()), "a");
    map.insert(ByAddress(b.clone()), "b");
    map.insert(ByAddress(a.clone()), "a again");
    assert_eq!(map.len(), 2);
    assert_eq!(map[&ByAddress(a.clone())], "a again");
    let ordered: BTreeSet<_> = [ByAddress(b.clone()), ByAddress(a.clone())].into();
    assert_eq!(ordered.len(), 2);
    // Gc, AnyGc and Weak of one object share its identity.
    let any = AnyGc::from(a.clone());
    let weak: Weak<String> = Gc::downgrade(&a);
    assert_eq!(a.identity(), any.identity());
    assert_eq!(a.identity(), weak.identity());
    assert_eq!(Weak::<String>::new().identity(), 0);
    assert_eq!(ByAddress(weak.clone()), ByAddress(weak));
}

/// `test_rc_cyclic_with_zero_refs`
#[test]
fn new_cyclic_with_zero_refs() {
    #[derive(gcrt_derive::Trace)]
    #[trace(crate = "refcount")]
    struct ZeroRefs {
        inner: Weak<ZeroRefs>,
    }
    let zero_refs = Gc::new_cyclic(|inner| {
        assert_eq!(inner.strong_count(), 0);
        assert!(inner.upgrade().is_none());
        ZeroRefs { inner: Weak::new() }
    });
    assert_eq!(Gc::ref_count(&zero_refs), 1);
    assert_eq!(Gc::weak_count(&zero_refs), 0);
    assert_eq!(zero_refs.inner.strong_count(), 0);
}

/// `test_rc_cyclic_with_one_ref` and `test_rc_cyclic_with_two_ref`
#[test]
fn new_cyclic_with_one_and_two_refs() {
    #[derive(gcrt_derive::Trace)]
    #[trace(crate = "refcount")]
    struct OneRef {
        inner: Weak<OneRef>,
    }
    let one_ref = Gc::new_cyclic(|inner| {
        assert_eq!(inner.strong_count(), 0);
        assert!(inner.upgrade().is_none());
        OneRef {
            inner: inner.clone(),
        }
    });
    assert_eq!(Gc::ref_count(&one_ref), 1);
    assert_eq!(Gc::weak_count(&one_ref), 1);
    let one_ref2 = one_ref.inner.upgrade().unwrap();
    assert!(Gc::ptr_eq(&one_ref, &one_ref2));
    assert_eq!(one_ref.inner.strong_count(), 2);

    #[derive(gcrt_derive::Trace)]
    #[trace(crate = "refcount")]
    struct TwoRefs {
        inner: Weak<TwoRefs>,
        inner1: Weak<TwoRefs>,
    }
    let two_refs = Gc::new_cyclic(|inner| TwoRefs {
        inner: inner.clone(),
        inner1: inner.clone(),
    });
    assert_eq!(Gc::ref_count(&two_refs), 1);
    assert_eq!(Gc::weak_count(&two_refs), 2);
    let two_ref3 = two_refs.inner.upgrade().unwrap();
    assert!(Gc::ptr_eq(&two_refs, &two_ref3));
    let two_ref2 = two_refs.inner1.upgrade().unwrap();
    assert!(Gc::ptr_eq(&two_refs, &two_ref2));
    assert_eq!(Gc::ref_count(&two_refs), 3);
}

/// A `data_fn` that panics after keeping a clone of the weak handle: no object is made, the
/// kept handle never upgrades, and its memory stays valid until it goes (Miri checks).
#[test]
fn new_cyclic_whose_data_fn_panics() {
    thread_local! {
        static KEPT: std::cell::RefCell<Option<Weak<Vec<u8>>>> = const { std::cell::RefCell::new(None) };
    }
    let r = std::panic::catch_unwind(|| {
        Gc::new_cyclic(|me: &Weak<Vec<u8>>| {
            KEPT.with(|k| *k.borrow_mut() = Some(me.clone()));
            panic!("no value");
        })
    });
    assert!(r.is_err());
    let kept = KEPT.with(|k| k.borrow_mut().take()).unwrap();
    assert!(kept.upgrade().is_none());
    assert_eq!(kept.strong_count(), 0);
    drop(kept); // frees the memory
}
