//! The `Trace` implementations of the standard types: each strong `Gc` a value owns is
//! visited exactly once, weak handles never; `needs_trace` is `false` exactly for types that
//! can never hold a `Gc`, and such objects are never tracked and carry the 16-byte header
//! (tracked objects 24 bytes), as the allocator's per-size-class statistics show.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use refcount::engine::with_heap;
use refcount::{Gc, ObjPtr, Trace, Tracer, Visitor, Weak};

/// Records every visited object and every opaque report.
#[derive(Default)]
struct Record {
    seen: Vec<ObjPtr>,
    opaque: usize,
}

impl Visitor for Record {
    fn visit(&mut self, obj: ObjPtr) {
        self.seen.push(obj);
    }
    fn opaque(&mut self) {
        self.opaque += 1;
    }
}

/// The objects `value` reports, sorted, and the number of opaque reports.
fn visits<T: Trace + ?Sized>(value: &T) -> (Vec<ObjPtr>, usize) {
    let mut rec = Record::default();
    value.trace(&mut Tracer::new(&mut rec));
    rec.seen.sort();
    (rec.seen, rec.opaque)
}

fn objs<T: Trace + 'static>(handles: &[&Gc<T>]) -> Vec<ObjPtr> {
    let mut v: Vec<ObjPtr> = handles.iter().map(|g| Gc::as_obj(g)).collect();
    v.sort();
    v
}

fn needs<T: Trace>() -> bool {
    T::needs_trace()
}

#[test]
fn leaf_types_never_need_tracing() {
    assert!(!needs::<()>());
    assert!(!needs::<bool>());
    assert!(!needs::<char>());
    assert!(!needs::<u8>());
    assert!(!needs::<u16>());
    assert!(!needs::<u32>());
    assert!(!needs::<u64>());
    assert!(!needs::<u128>());
    assert!(!needs::<usize>());
    assert!(!needs::<i8>());
    assert!(!needs::<i16>());
    assert!(!needs::<i32>());
    assert!(!needs::<i64>());
    assert!(!needs::<i128>());
    assert!(!needs::<isize>());
    assert!(!needs::<f32>());
    assert!(!needs::<f64>());
    assert!(!needs::<String>());
    assert!(!needs::<&'static str>());
    assert!(!needs::<Weak<Gc<u8>>>(), "a weak handle is not an edge");
    assert!(!needs::<(u8, String, char)>());
    assert!(!needs::<[u64; 4]>());
    assert!(!needs::<[Gc<u8>; 0]>(), "an empty array holds nothing");
    assert!(!needs::<Option<String>>());
    assert!(!needs::<Result<u8, String>>());
    assert!(!needs::<Vec<u8>>());
    assert!(!needs::<VecDeque<(u8, i64)>>());
    assert!(!needs::<HashMap<String, Vec<u8>>>());
    assert!(!needs::<BTreeMap<u32, Weak<u8>>>());
    assert!(!needs::<HashSet<String>>());
    assert!(!needs::<BTreeSet<u8>>());
    assert!(!needs::<Cell<u64>>());
    assert!(!needs::<RefCell<Vec<Option<String>>>>());
}

#[test]
fn types_that_can_hold_a_gc_need_tracing() {
    assert!(needs::<Gc<u8>>());
    assert!(needs::<(u8, Gc<u8>)>());
    assert!(needs::<(Gc<u8>, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8)>());
    assert!(needs::<[Gc<u8>; 1]>());
    assert!(needs::<Option<Gc<u8>>>());
    assert!(needs::<Result<Gc<u8>, ()>>());
    assert!(needs::<Result<(), Gc<u8>>>());
    assert!(needs::<Box<Gc<u8>>>());
    assert!(needs::<Vec<Gc<u8>>>());
    assert!(needs::<VecDeque<Gc<u8>>>());
    assert!(needs::<HashMap<u8, Gc<u8>>>());
    assert!(needs::<BTreeMap<Gc<u8>, u8>>());
    assert!(needs::<HashSet<Gc<u8>>>());
    assert!(needs::<BTreeSet<Gc<u8>>>());
    assert!(needs::<RefCell<Option<Gc<u8>>>>());
}

/// `Rc<T>` reports nothing, so it is atomic. `Box<T>` answers `true` whatever `T` is: the
/// documented conservative default in `trace.rs` (it cannot ask an unsized `T` such as
/// `dyn Trait`), so a `Gc<Box<u64>>` is tracked with the 24-byte header.
#[test]
fn rc_of_anything_is_atomic_and_box_is_conservatively_tracked() {
    assert!(!needs::<std::rc::Rc<u64>>());
    assert!(!needs::<Vec<std::rc::Rc<str>>>());
    assert!(needs::<Box<u64>>());
    let s = snapshot();
    let a = Gc::new(std::rc::Rc::new(1u64)); // 16 + 8 = 24 -> 32-byte class, untracked
    assert_one_object(&s, 32, false);
    drop(a);
    let s = snapshot();
    let b = Gc::new(Box::new(1u64)); // 24 + 8 = 32 -> 32-byte class, tracked
    assert_one_object(&s, 32, true);
    drop(b);
}

#[test]
fn leaf_values_report_nothing() {
    assert_eq!(visits(&5u64), (vec![], 0));
    assert_eq!(visits(&String::from("s")), (vec![], 0));
    assert_eq!(visits(&"static"), (vec![], 0));
    assert_eq!(visits(&()), (vec![], 0));
    assert_eq!(visits(&Cell::new(3u8)), (vec![], 0));
    assert_eq!(visits(&[1.5f64; 3]), (vec![], 0));
    assert_eq!(visits(&Box::new(7u8)), (vec![], 0));
    let a = Gc::new(1u8);
    let weak = Gc::downgrade(&a);
    assert_eq!(visits(&weak), (vec![], 0), "a Weak is never reported");
    assert_eq!(visits(&vec![weak.clone(), weak]), (vec![], 0));
}

#[test]
fn every_strong_handle_is_visited_exactly_once() {
    let a = Gc::new(1u32);
    let b = Gc::new(2u32);
    let c = Gc::new(3u32);
    let ab = objs(&[&a, &b]);
    let aab = objs(&[&a, &a, &b]);

    assert_eq!(visits(&a), (objs(&[&a]), 0));
    assert_eq!(visits(&(a.clone(), 5u8, b.clone())), (ab.clone(), 0));
    assert_eq!(visits(&[a.clone(), a.clone(), b.clone()]), (aab.clone(), 0));
    assert_eq!(visits(&Some(a.clone())), (objs(&[&a]), 0));
    assert_eq!(visits(&None::<Gc<u32>>), (vec![], 0));
    assert_eq!(visits(&Ok::<_, Gc<u32>>(a.clone())), (objs(&[&a]), 0));
    assert_eq!(visits(&Err::<Gc<u32>, _>(b.clone())), (objs(&[&b]), 0));
    assert_eq!(visits(&Box::new(a.clone())), (objs(&[&a]), 0));
    assert_eq!(
        visits(&vec![a.clone(), b.clone(), a.clone()]),
        (aab.clone(), 0)
    );
    assert_eq!(
        visits(&VecDeque::from([a.clone(), b.clone(), a.clone()])),
        (aab.clone(), 0)
    );
    assert_eq!(
        visits(&vec![a.clone(), b.clone(), a.clone()].into_boxed_slice()),
        (aab.clone(), 0)
    );
    let map: HashMap<u8, Gc<u32>> = [(1, a.clone()), (2, b.clone()), (3, a.clone())].into();
    assert_eq!(visits(&map), (aab.clone(), 0));
    let keyed: HashMap<Gc<u32>, Gc<u32>> = [(a.clone(), c.clone()), (b.clone(), c.clone())].into();
    assert_eq!(
        visits(&keyed),
        (objs(&[&a, &b, &c, &c]), 0),
        "keys and values"
    );
    let bmap: BTreeMap<Gc<u32>, Gc<u32>> = [(a.clone(), b.clone()), (c.clone(), a.clone())].into();
    assert_eq!(visits(&bmap), (objs(&[&a, &a, &b, &c]), 0));
    let set: HashSet<Gc<u32>> = [a.clone(), b.clone()].into();
    assert_eq!(visits(&set), (ab.clone(), 0));
    let bset: BTreeSet<Gc<u32>> = [b.clone(), a.clone()].into();
    assert_eq!(visits(&bset), (ab.clone(), 0));
    assert_eq!(
        visits(&RefCell::new(vec![Some(a.clone()), None, Some(b.clone())])),
        (ab.clone(), 0)
    );
    let nested = (
        vec![Some(Box::new(a.clone()))],
        [Ok::<_, ()>(b.clone())],
        Gc::downgrade(&c),
    );
    assert_eq!(visits(&nested), (ab.clone(), 0));
    // A handle to a collection is one edge: tracing does not look through it.
    let inner = Gc::new(vec![a.clone(), b.clone()]);
    assert_eq!(visits(&inner), (objs(&[&inner]), 0));
    // Tracing adds and removes no references.
    assert_eq!(Gc::ref_count(&inner), 1);
}

#[test]
fn tracing_leaves_reference_counts_unchanged() {
    let a = Gc::new(1u32);
    let v = vec![a.clone(), a.clone()];
    let rc_before = Gc::ref_count(&a);
    for _ in 0..3 {
        assert_eq!(visits(&v).0.len(), 2);
    }
    assert_eq!(Gc::ref_count(&a), rc_before);
}

#[test]
fn a_mutably_borrowed_refcell_is_reported_opaque() {
    let a = Gc::new(1u32);
    let cell = RefCell::new(Some(a.clone()));
    let guard = cell.borrow_mut();
    assert_eq!(visits(&cell), (vec![], 1));
    drop(guard);
    let shared = cell.borrow();
    assert_eq!(
        visits(&cell),
        (objs(&[&a]), 0),
        "a shared borrow can be read"
    );
    drop(shared);
}

/// Allocator figures before and after a step: blocks per size class, tracked-list length.
struct Delta {
    blocks: Vec<usize>,
    list0: usize,
    totals: (u64, u64),
}

fn snapshot() -> Delta {
    with_heap(|h| Delta {
        blocks: h.alloc_stats().blocks_in_use.to_vec(),
        list0: h.list_len(0),
        totals: h.tracked_totals(),
    })
}

/// Checks that exactly one block of `class_size` bytes was added, and whether the object
/// was tracked.
fn assert_one_object(before: &Delta, class_size: usize, tracked: bool) {
    let after = snapshot();
    let class = class_size / 16 - 1;
    for (i, (&b, &a)) in before.blocks.iter().zip(&after.blocks).enumerate() {
        let expect = b + usize::from(i == class);
        assert_eq!(
            a,
            expect,
            "blocks in size class {} ({} bytes)",
            i,
            (i + 1) * 16
        );
    }
    assert_eq!(after.list0, before.list0 + usize::from(tracked));
    let t = u64::from(tracked);
    assert_eq!(after.totals, (before.totals.0 + t, before.totals.1));
}

#[test]
fn atomic_objects_have_a_16_byte_header_and_are_not_tracked() {
    let s = snapshot();
    let a = Gc::new(0u64); // 16 + 8 = 24 -> 32-byte class
    assert_one_object(&s, 32, false);
    let s = snapshot();
    let b = Gc::new(()); // 16 + 0 -> 16-byte class
    assert_one_object(&s, 16, false);
    let s = snapshot();
    let c = Gc::new([0u64; 2]); // 16 + 16 = 32
    assert_one_object(&s, 32, false);
    let s = snapshot();
    let d = Gc::new(Weak::<Gc<u8>>::new()); // 16 + 8 = 24 -> 32
    assert_one_object(&s, 32, false);
    let s = snapshot();
    let e = Gc::new(String::new()); // 16 + 24 = 40 -> 48
    assert_one_object(&s, 48, false);
    drop((a, b, c, d, e));
}

#[test]
fn tracked_objects_have_a_24_byte_header_and_are_tracked() {
    // Types that can hold a handle carry the 24-byte header. Those without interior
    // mutability whose referents are all untracked are not tracked at creation (CPython's
    // tuples); one `RefCell`, or a tracked referent, makes them tracked.
    let leaf = Gc::new(1u8);
    let s = snapshot();
    let a = Gc::new(Some(leaf.clone())); // 24 + 8 = 32
    assert_one_object(&s, 32, false);
    let s = snapshot();
    let b = Gc::new((Some(leaf.clone()), 0u64)); // 24 + 16 = 40 -> 48
    assert_one_object(&s, 48, false);
    let s = snapshot();
    let c = Gc::new(RefCell::new(None::<Gc<u8>>)); // 24 + 16 = 40 -> 48
    assert_one_object(&s, 48, true);
    let s = snapshot();
    let d = Gc::new(Vec::<Gc<u8>>::new()); // 24 + 24 = 48
    assert_one_object(&s, 48, false);
    let s = snapshot();
    let e = Gc::new(Some(c.clone())); // 24 + 8 = 32, holds a tracked object
    assert_one_object(&s, 32, true);
    drop((a, b, c, d, e));
}

#[test]
fn over_aligned_values_are_aligned() {
    let a = Gc::new(7u128);
    assert_eq!(Gc::as_ptr(&a).addr() % align_of::<u128>(), 0);
    let leaf = Gc::new(1u8);
    let b = Gc::new((Some(leaf), 9u128));
    assert_eq!(
        Gc::as_ptr(&b).addr() % align_of::<(Option<Gc<u8>>, u128)>(),
        0
    );
    assert_eq!((*a, b.1), (7, 9));
}

#[test]
fn function_pointers_are_leaves() {
    fn double(x: u32) -> u32 {
        2 * x
    }
    let f: Gc<fn(u32) -> u32> = Gc::new(double);
    assert_eq!((*f)(21), 42);
    assert!(!<fn(u32) -> u32 as Trace>::needs_trace());
    assert!(!<fn() as Trace>::needs_trace());
    assert!(<fn(u8, u8, u8, u8, u8, u8) -> u8 as Trace>::pure_trace());
}
