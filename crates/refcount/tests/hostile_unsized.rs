//! Hostile tests of unsized handles (`Gc<[T]>`, `Gc<str>`, `Gc<dyn Trait>`, their `Weak`s,
//! `into_raw`/`from_raw` and `coerce_gc!`) through the reference-counting side only: items
//! whose `Drop` panics or re-enters the heap while a slice is freed, zero-sized and
//! page-aligned items, weak handles that outlive the value, type-erased handles, objects
//! made during thread teardown, and the lifetimes a handle's type may carry. Each test
//! asserts exact counts.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use refcount::{AnyGc, Gc, Trace, Tracer, Weak, coerce_gc};

fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    /// Handles an item's `Drop` releases (re-entering the heap while a slice is freed).
    static STASH: RefCell<Vec<Gc<[Item]>>> = const { RefCell::new(Vec::new()) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

fn reset() {
    DROPS.with(|d| d.set(0));
}

/// An item that counts its drops, may panic in its `Drop`, and may release or create
/// other objects from it.
struct Item {
    id: usize,
    panic_on_drop: bool,
    reenter: bool,
}

// SAFETY: holds no handle.
unsafe impl Trace for Item {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
        if self.reenter {
            // Releases the last handle to another slice, and makes a new one, while the
            // slice this item belongs to is being freed.
            let other = STASH.with(|s| s.borrow_mut().pop());
            drop(other);
            let fresh: Gc<[Item]> = (0..3).map(|i| item(1000 + i)).collect();
            drop(fresh);
            let text: Gc<str> = Gc::from(format!("item {}", self.id));
            assert_eq!(&*text, format!("item {}", self.id));
        }
        if self.panic_on_drop {
            panic!("item {} refuses to drop", self.id);
        }
    }
}

fn item(id: usize) -> Item {
    Item {
        id,
        panic_on_drop: false,
        reenter: false,
    }
}

/// A panicking `Drop` in the middle of a slice: every other item is still dropped exactly
/// once, the panic reaches the caller, and the memory is released (Miri checks the free).
#[test]
fn an_item_whose_drop_panics_leaves_every_other_item_dropped_once() {
    reset();
    let len = n(50, 7);
    let items: Vec<Item> = (0..len)
        .map(|i| Item {
            id: i,
            panic_on_drop: i == len / 2,
            reenter: false,
        })
        .collect();
    let slice: Gc<[Item]> = Gc::from(items);
    let weak = Gc::downgrade(&slice);
    let result = catch_unwind(AssertUnwindSafe(|| drop(slice)));
    assert!(
        result.is_err(),
        "the item's panic reaches the last handle's drop"
    );
    assert_eq!(drops(), len);
    assert!(weak.upgrade().is_none());
    assert_eq!(weak.strong_count(), 0);
    assert_eq!(weak.weak_count(), 0);
    drop(weak);
    assert_eq!(drops(), len);
}

/// Items whose `Drop` releases the last handle to another slice and makes new slices and
/// strings, while their own slice is being freed: every item is dropped exactly once.
#[test]
fn item_drops_that_release_and_make_slices_while_a_slice_is_freed() {
    reset();
    let rounds = n(20, 3);
    for r in 0..rounds {
        STASH.with(|s| {
            s.borrow_mut()
                .push((0..4).map(|i| item(100 * r + i)).collect())
        });
    }
    let outer: Gc<[Item]> = (0..rounds)
        .map(|i| Item {
            id: i,
            panic_on_drop: false,
            reenter: true,
        })
        .collect();
    drop(outer);
    // Each re-entering item: itself, the 4 items of the stashed slice, 3 fresh items.
    assert_eq!(drops(), rounds * (1 + 4 + 3));
    assert!(STASH.with(|s| s.borrow().is_empty()));
}

/// A zero-sized item type with a `Drop`.
struct Zst;

// SAFETY: holds no handle.
unsafe impl Trace for Zst {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Zst {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// Slices of zero-sized items (one type page-aligned): each item dropped exactly once, where
/// it lives, whichever handle goes last; a slice of `usize::MAX` unit items is made and freed without touching
/// memory for its items.
#[test]
fn zero_sized_items_are_dropped_once_and_huge_lengths_cost_nothing() {
    reset();
    let len = n(10_000, 100);
    let slice: Gc<[Zst]> = (0..len).map(|_| Zst).collect();
    assert_eq!(slice.len(), len);
    let weak = Gc::downgrade(&slice);
    let clone = slice.clone();
    drop(slice);
    assert_eq!(drops(), 0);
    drop(clone);
    assert_eq!(drops(), len);
    assert!(weak.upgrade().is_none());
    drop(weak);
    assert_eq!(drops(), len);

    let huge: Gc<[()]> = Gc::from(vec![(); usize::MAX]);
    assert_eq!(huge.len(), usize::MAX);
    let weak = Gc::downgrade(&huge);
    drop(huge);
    assert!(weak.upgrade().is_none());

    let empty: Gc<[Zst]> = Gc::default();
    assert!(empty.is_empty());
    drop(empty);
    assert_eq!(drops(), len);

    let aligned: Gc<[AlignedZst]> = (0..len).map(|_| AlignedZst).collect();
    assert_eq!(aligned.as_ptr().addr() % 4096, 0);
    let weak = Gc::downgrade(&aligned);
    drop(aligned);
    assert_eq!(drops(), 2 * len);
    drop(weak);
}

/// A zero-sized item type aligned to a page.
#[repr(align(4096))]
struct AlignedZst;

// SAFETY: holds no handle.
unsafe impl Trace for AlignedZst {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for AlignedZst {
    fn drop(&mut self) {
        assert_eq!(core::ptr::from_ref(self).addr() % 4096, 0);
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[repr(align(4096))]
struct Page(u64);

// SAFETY: holds no handle.
unsafe impl Trace for Page {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        assert_eq!(
            core::ptr::from_ref(self).addr() % 4096,
            0,
            "dropped where it lives"
        );
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// A page-aligned value that can hold handles (so its objects carry the extension too).
#[repr(align(4096))]
struct PageNode(RefCell<Option<Gc<PageNode>>>);

// SAFETY: reports the one handle it may own.
unsafe impl Trace for PageNode {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.0.trace(t);
    }
}

/// Page-aligned items, with and without the extension, in slices of 0, 1 and 3 items: every
/// item is aligned, readable, and dropped once; a weak handle that outlives the slice frees
/// it with the layout it was allocated with (Miri checks).
#[test]
fn page_aligned_items_with_and_without_extension() {
    reset();
    for len in [0usize, 1, 3] {
        let slice: Gc<[Page]> = (0..len).map(|i| Page(i as u64)).collect();
        assert_eq!(slice.as_ptr().addr() % 4096, 0);
        for (i, p) in slice.iter().enumerate() {
            assert_eq!(p.0, i as u64);
        }
        let weak = Gc::downgrade(&slice);
        drop(slice);
        assert!(weak.upgrade().is_none());
        drop(weak);

        let nodes: Gc<[PageNode]> = (0..len).map(|_| PageNode(RefCell::new(None))).collect();
        assert_eq!(nodes.as_ptr().addr() % 4096, 0);
        if let Some(first) = nodes.first() {
            *first.0.borrow_mut() = Some(Gc::new(PageNode(RefCell::new(None))));
        }
        let weak = Gc::downgrade(&nodes);
        drop(nodes);
        assert!(weak.upgrade().is_none());
        assert_eq!(weak.strong_count(), 0);
        drop(weak);
    }
    assert_eq!(drops(), 4);
}

trait Speak {
    fn speak(&self) -> String;
}

struct Dog(String);

// SAFETY: holds no handle.
unsafe impl Trace for Dog {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Speak for Dog {
    fn speak(&self) -> String {
        format!("{} barks", self.0)
    }
}

impl Drop for Dog {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// Weak handles to a string, a slice and a trait object outlive every strong handle: they
/// stop upgrading, report zero counts, and free the memory (with the object's own layout)
/// when the last of them goes.
#[test]
fn weak_handles_to_unsized_values_outlive_the_strong_ones() {
    reset();
    let text: Gc<str> = Gc::from("weakly held text");
    let items: Gc<[Gc<str>]> = Gc::from(vec![text.clone(), text.clone()]);
    let dog: Gc<dyn Speak> = coerce_gc!(Gc::new(Dog("rex".into())) => dyn Speak);
    assert_eq!(dog.speak(), "rex barks");
    let (wt, wi, wd) = (
        Gc::downgrade(&text),
        Gc::downgrade(&items),
        Gc::downgrade(&dog),
    );
    let wd2 = wd.clone();
    assert_eq!(Gc::ref_count(&text), 3);
    assert_eq!(wd.weak_count(), 2);
    drop(dog);
    assert_eq!(drops(), 1);
    assert!(wd.upgrade().is_none());
    assert_eq!((wd.strong_count(), wd.weak_count()), (0, 0));
    drop(text);
    assert_eq!(wt.strong_count(), 2, "the slice still holds the string");
    assert_eq!(&*wt.upgrade().unwrap(), "weakly held text");
    drop(items);
    assert!(wi.upgrade().is_none());
    assert!(wt.upgrade().is_none());
    drop((wt, wi, wd));
    assert!(wd2.upgrade().is_none());
    drop(wd2);
    assert_eq!(drops(), 1);
}

/// An array made as `[Dog; 3]` and coerced to a slice, then to a trait object of the
/// slice's items' container: each handle reaches the same object, which is dropped once as
/// the array it was made as, through whichever handle is last.
#[test]
fn coerced_arrays_are_dropped_once_as_the_array_they_were_made_as() {
    reset();
    let array = Gc::new([Dog("a".into()), Dog("b".into()), Dog("c".into())]);
    let sized = array.clone();
    let slice: Gc<[Dog]> = coerce_gc!(array => [Dog]);
    assert_eq!(slice.len(), 3);
    assert_eq!(slice[2].speak(), "c barks");
    let any = AnyGc::from(slice.clone());
    assert!(
        any.is::<[Dog; 3]>(),
        "the object keeps the type it was made as"
    );
    assert!(any == sized);
    assert_eq!(Gc::ref_count(&slice), 3);
    let weak: Weak<[Dog]> = Gc::downgrade(&slice);
    drop(slice);
    drop(sized);
    assert_eq!(drops(), 0);
    let back: Gc<[Dog; 3]> = any.downcast().ok().unwrap();
    assert_eq!(back[0].0, "a");
    assert!(
        Gc::try_unwrap(back).is_ok(),
        "the weak handle does not block unwrapping"
    );
    assert_eq!(
        drops(),
        3,
        "unwrapping moved the items out; dropping them ran"
    );
    assert!(weak.upgrade().is_none());
    drop(weak);
    assert_eq!(drops(), 3);
}

/// Type-erased handles to slices, strings and trait objects keep their objects alive,
/// report the right counts and never downcast to a sized type they are not; the last of
/// them releases the object through its type descriptor.
#[test]
fn any_gc_holds_unsized_objects() {
    reset();
    let text: Gc<str> = Gc::from("erased");
    let slice: Gc<[Dog]> = Gc::from(vec![Dog("x".into())]);
    let dog: Gc<dyn Speak> = coerce_gc!(Gc::new(Dog("y".into())) => dyn Speak);
    let anys = [
        AnyGc::from(text.clone()),
        AnyGc::from(slice.clone()),
        AnyGc::from(dog.clone()),
    ];
    assert!(anys[0] == text && anys[1] == slice && anys[2] == dog);
    assert!(anys.iter().all(|a| a.ref_count() == 2));
    assert!(!anys[0].is::<String>() && !anys[1].is::<Dog>());
    assert!(anys[2].is::<Dog>());
    assert_eq!(Gc::addr(&text), anys[0].as_obj().addr());
    drop((text, slice, dog));
    assert_eq!(drops(), 0);
    assert!(anys.iter().all(|a| a.ref_count() == 1));
    let [t, s, d] = anys;
    drop(s);
    assert_eq!(drops(), 1);
    let d: Gc<Dog> = d.downcast().ok().unwrap();
    assert_eq!(d.speak(), "y barks");
    drop((d, t));
    assert_eq!(drops(), 2);
}

/// `into_raw`/`from_raw` through every conversion the contract allows (`[X; N]` to `[X]`,
/// to `dyn Trait`, `str` to `[u8]`), with weak handles watching: the counts are unchanged by
/// the round trips, and the value is dropped once.
#[test]
fn raw_round_trips_through_allowed_coercions_keep_counts() {
    reset();
    let dogs = Gc::new([Dog("p".into()), Dog("q".into())]);
    let weak = Gc::downgrade(&dogs);
    let raw: *const [Dog; 2] = Gc::into_raw(dogs);
    let raw: *const [Dog] = raw;
    // SAFETY: from `into_raw` of a `Gc<[Dog; 2]>`, coerced to `[Dog]`, given back once.
    let slice = unsafe { Gc::<[Dog]>::from_raw(raw) };
    assert_eq!((Gc::ref_count(&slice), Gc::weak_count(&slice)), (1, 1));
    let raw = Gc::into_raw(slice.clone());
    // SAFETY: from `into_raw` of a `Gc<[Dog]>`, given back once.
    let again = unsafe { Gc::from_raw(raw) };
    assert_eq!(Gc::ref_count(&again), 2);
    assert!(Gc::ptr_eq(&again, &slice));
    drop((again, slice));
    assert_eq!(drops(), 2);
    assert!(weak.upgrade().is_none());

    let text: Gc<str> = Gc::from("bytes");
    let wt = Gc::downgrade(&text);
    let bytes: Gc<[u8]> = Gc::from(text);
    assert_eq!(&bytes[..], b"bytes");
    assert_eq!(wt.strong_count(), 1);
    drop(bytes);
    assert!(wt.upgrade().is_none());
}

/// An object made by a thread-local destructor that runs after the thread's heap was
/// destroyed.
struct Late;

static LATE_DROPS: AtomicUsize = AtomicUsize::new(0);

struct LateItem;

// SAFETY: holds no handle.
unsafe impl Trace for LateItem {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for LateItem {
    fn drop(&mut self) {
        LATE_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

struct LateNode(
    RefCell<Option<Gc<[LateNode]>>>,
    #[allow(dead_code)] LateItem,
);

// SAFETY: reports the one handle it may own.
unsafe impl Trace for LateNode {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.0.trace(t);
    }
}

impl Drop for Late {
    fn drop(&mut self) {
        // The heap is gone: these are orphans, made and dropped without it.
        assert!(refcount::engine::try_with_heap(|_| ()).is_none());
        let text: Gc<str> = Gc::from("after the heap");
        let slice: Gc<[LateItem]> = (0..3).map(|_| LateItem).collect();
        let nodes: Gc<[LateNode]> = Gc::from(vec![LateNode(RefCell::new(None), LateItem)]);
        *nodes[0].0.borrow_mut() = Some(Gc::from(vec![LateNode(RefCell::new(None), LateItem)]));
        assert!(!Gc::is_tracked(&nodes));
        let dyn_text: Gc<dyn core::fmt::Debug> = coerce_gc!(Gc::new(5u8) => dyn core::fmt::Debug);
        let weak = Gc::downgrade(&slice);
        assert_eq!(&*text, "after the heap");
        assert_eq!(format!("{dyn_text:?}"), "5");
        drop((text, slice, nodes, dyn_text));
        assert!(weak.upgrade().is_none());
        drop(weak);
    }
}

thread_local! {
    static LATE: RefCell<Option<Late>> = const { RefCell::new(None) };
}

/// Slices, strings and trait objects made and dropped by a thread-local destructor after
/// the thread's heap was destroyed: their items are each dropped once (their memory is
/// leaked by design).
#[test]
#[cfg_attr(
    miri,
    ignore = "leaks by design; .ci/run runs it under Miri with -Zmiri-ignore-leaks"
)]
fn slices_made_during_thread_teardown_drop_their_items_once() {
    LATE_DROPS.store(0, Ordering::SeqCst);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    std::thread::spawn(move || {
        // First use before the heap's: destroyed after it.
        LATE.with(|l| *l.borrow_mut() = Some(Late));
        let warm: Gc<[u8]> = Gc::from(&b"warm"[..]);
        drop(warm);
        d.fetch_add(1, Ordering::SeqCst);
    })
    .join()
    .unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 1);
    assert_eq!(LATE_DROPS.load(Ordering::SeqCst), 3 + 2);
}

/// `Gc` has no bound on its declaration, so it is covariant in a lifetime its value's type
/// carries: a handle to a `&'static str` may be used as a handle to a `&'a str` (as with
/// `Rc`). Reading through it is fine; writing a short-lived reference through it is what
/// `get_mut`'s `T: 'static` bound rules out (`tests/ui/get_mut_shortens_a_lifetime.rs`),
/// since a type-erased handle gives the object back as the `'static` type it was made as.
#[test]
fn a_handle_whose_lifetime_was_shortened_still_reads_its_value() {
    fn shorten<'a>(handle: Gc<&'static str>) -> Gc<&'a str> {
        handle
    }
    fn coerce<'a>(handle: Gc<&'static str>) -> Gc<&'a str> {
        coerce_gc!(handle => &'a str)
    }
    let h = Gc::new("s");
    assert_eq!(*shorten(h.clone()), "s");
    assert_eq!(*coerce(h.clone()), "s");
    let back: Gc<&'static str> = AnyGc::from(h).downcast().ok().unwrap();
    assert_eq!(*back, "s");
}

/// A type-erased handle names the type of the object's value: a `Gc<str>` holds a `str`.
#[test]
fn a_string_object_is_named_str() {
    let any = AnyGc::from(Gc::<str>::from("name me"));
    assert_eq!(any.type_name(), "str");
}
