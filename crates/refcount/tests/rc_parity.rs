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
