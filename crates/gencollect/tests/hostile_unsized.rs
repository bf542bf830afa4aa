//! Hostile tests of unsized handles against the cycle collector: `Drop`s of garbage cycle
//! members that reach each other through `Gc<dyn Trait>` and `Gc<[T]>` handles (they must
//! find them dead, never dangling), slices built while automatic collections run, `get_mut`
//! on a slice while collections run, finalizable items of collected slices, weak handles
//! that outlive collected unsized objects, inspection of unsized objects, raw pointers and
//! lifetimes. Each test asserts exact counts.

use std::cell::{Cell, RefCell};

use gcrt_derive::Trace;
use refcount::{AnyGc, Finalize, Gc, Trace, Weak, coerce_gc};

fn n(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
    /// What `Drop`s of garbage members saw of the handles they hold: (dead, upgraded).
    static SEEN: RefCell<Vec<(bool, bool)>> = const { RefCell::new(Vec::new()) };
    /// Handles that `Drop`s of garbage members keep past the collection.
    static KEPT: RefCell<Vec<Gc<dyn Part>>> = const { RefCell::new(Vec::new()) };
    static KEPT_SLICES: RefCell<Vec<Gc<[Gc<Branch>]>>> = const { RefCell::new(Vec::new()) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

fn bump() {
    DROPS.with(|d| d.set(d.get() + 1));
}

fn reset() {
    gencollect::collect();
    DROPS.with(|d| d.set(0));
    FINALIZED.with(|d| d.set(0));
    SEEN.with(|s| s.borrow_mut().clear());
}

trait Part: Trace {
    fn link(&self, to: Gc<dyn Part>);
    fn id(&self) -> usize;
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<dyn Part>>>,
    #[trace(skip)]
    weak_next: RefCell<Option<Weak<dyn Part>>>,
    #[trace(skip)]
    id: usize,
    #[trace(skip)]
    keep: bool,
}

impl Part for Node {
    fn link(&self, to: Gc<dyn Part>) {
        *self.weak_next.borrow_mut() = Some(Gc::downgrade(&to));
        *self.next.borrow_mut() = Some(to);
    }
    fn id(&self) -> usize {
        self.id
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        bump();
        if let Some(next) = self.next.borrow().as_ref() {
            let dead = Gc::is_dead(next) && Gc::try_deref(next).is_none();
            let upgraded = self
                .weak_next
                .borrow()
                .as_ref()
                .and_then(Weak::upgrade)
                .is_some();
            SEEN.with(|s| s.borrow_mut().push((dead, upgraded)));
            if self.keep {
                KEPT.with(|k| k.borrow_mut().push(next.clone()));
            }
        }
    }
}

fn part(id: usize, keep: bool) -> Gc<dyn Part> {
    coerce_gc!(Gc::new(Node {
        next: RefCell::new(None),
        weak_next: RefCell::new(None),
        id,
        keep,
    }) => dyn Part)
}

/// A ring of trait objects collected as garbage: each member's `Drop` finds the next one's
/// handle dead (whether that value was dropped yet or not) and its weak handle cleared; a
/// handle a `Drop` keeps past the collection stays dead and keeps the memory until it goes.
#[test]
fn dyn_cycle_members_see_each_other_dead_in_their_drops() {
    reset();
    let len = n(50, 5);
    let parts: Vec<Gc<dyn Part>> = (0..len).map(|i| part(i, i % 2 == 0)).collect();
    for (i, p) in parts.iter().enumerate() {
        p.link(parts[(i + 1) % len].clone());
    }
    let weak = Gc::downgrade(&parts[1]);
    assert_eq!(parts[1].id(), 1);
    drop(parts);
    assert_eq!(gencollect::collect(), len);
    assert_eq!(drops(), len);
    let seen = SEEN.with(|s| s.take());
    assert_eq!(seen.len(), len);
    assert!(
        seen.iter().all(|&(dead, upgraded)| dead && !upgraded),
        "{seen:?}"
    );
    assert!(weak.upgrade().is_none());
    let kept = KEPT.with(|k| k.take());
    assert_eq!(kept.len(), len.div_ceil(2));
    assert!(kept.iter().all(Gc::is_dead));
    assert!(kept.iter().all(|k| Gc::try_deref(k).is_none()));
    drop(kept);
    drop(weak);
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops(), len);
}

/// A node whose children are a slice object.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Branch {
    kids: RefCell<Gc<[Gc<Branch>]>>,
    #[trace(skip)]
    weak_kids: RefCell<Option<Weak<[Gc<Branch>]>>>,
    #[trace(skip)]
    keep: bool,
}

impl Drop for Branch {
    fn drop(&mut self) {
        bump();
        let kids = self.kids.borrow();
        // A dead handle must not be dereferenced: check it first.
        if Gc::is_dead(&kids) || !kids.is_empty() {
            let dead = Gc::is_dead(&kids) && Gc::try_deref(&kids).is_none();
            let upgraded = self
                .weak_kids
                .borrow()
                .as_ref()
                .and_then(Weak::upgrade)
                .is_some();
            SEEN.with(|s| s.borrow_mut().push((dead, upgraded)));
            if self.keep {
                KEPT_SLICES.with(|k| k.borrow_mut().push(kids.clone()));
            }
        }
    }
}

fn branch(keep: bool) -> Gc<Branch> {
    Gc::new(Branch {
        kids: RefCell::new(Gc::default()),
        weak_kids: RefCell::new(None),
        keep,
    })
}

fn set_kids(b: &Gc<Branch>, kids: Gc<[Gc<Branch>]>) {
    *b.weak_kids.borrow_mut() = Some(Gc::downgrade(&kids));
    *b.kids.borrow_mut() = kids;
}

/// Branches that hold each other through slice objects, collected as garbage: each
/// branch's `Drop` finds its slice dead (the slice is garbage too), its weak handle to it
/// cleared; slices kept by a `Drop` stay dead and free their memory (with their length)
/// when they go. Branches and slices are counted exactly.
#[test]
fn slice_cycle_members_see_each_other_dead_in_their_drops() {
    reset();
    let len = n(30, 4);
    let branches: Vec<Gc<Branch>> = (0..len).map(|i| branch(i % 2 == 1)).collect();
    for (i, b) in branches.iter().enumerate() {
        let kids: Gc<[Gc<Branch>]> = (1..=2).map(|k| branches[(i + k) % len].clone()).collect();
        set_kids(b, kids);
    }
    // The empty default slices replaced by `set_kids` were untracked and freed by
    // refcounting: only the branches and their new slices are garbage.
    drop(branches);
    assert_eq!(gencollect::collect(), 2 * len);
    assert_eq!(drops(), len);
    let seen = SEEN.with(|s| s.take());
    assert_eq!(seen.len(), len);
    assert!(
        seen.iter().all(|&(dead, upgraded)| dead && !upgraded),
        "{seen:?}"
    );
    let kept = KEPT_SLICES.with(|k| k.take());
    assert_eq!(kept.len(), len / 2);
    assert!(kept.iter().all(Gc::is_dead));
    drop(kept);
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops(), len);
}

/// A cycle member whose `Drop` makes new garbage cycles through slices and trait objects
/// while the collector is dropping values: they are not part of the running collection,
/// and the next collection finds exactly them.
#[test]
fn drops_that_make_unsized_garbage_during_a_collection() {
    #[derive(Trace)]
    #[trace(crate = "refcount")]
    struct Maker(RefCell<Option<Gc<[Gc<Maker>]>>>, #[trace(skip)] bool);
    impl Drop for Maker {
        fn drop(&mut self) {
            bump();
            if self.1 {
                let a = Gc::new(Maker(RefCell::new(None), false));
                let s: Gc<[Gc<Maker>]> = Gc::from(vec![a.clone()]);
                *a.0.borrow_mut() = Some(s);
                let p = part(99, false);
                p.link(p.clone());
            }
        }
    }
    reset();
    let a = Gc::new(Maker(RefCell::new(None), true));
    let b = Gc::new(Maker(RefCell::new(None), true));
    *a.0.borrow_mut() = Some(Gc::from(vec![b.clone()]));
    *b.0.borrow_mut() = Some(Gc::from([a.clone()]));
    drop((a, b));
    assert_eq!(gencollect::collect(), 4);
    assert_eq!(drops(), 2);
    // Each drop made a maker and its slice, and a self-linked part.
    assert_eq!(gencollect::collect(), 6);
    assert_eq!(drops(), 2 + 2 + 2);
    assert_eq!(gencollect::collect(), 0);
}

/// An item whose clone allocates garbage cycles (so automatic collections start in the
/// middle of building a slice from a borrowed slice or an iterator).
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Noisy(RefCell<Option<Gc<Noisy>>>);

impl Clone for Noisy {
    fn clone(&self) -> Noisy {
        let a = Gc::new(Noisy(RefCell::new(None)));
        *a.0.borrow_mut() = Some(a.clone());
        Noisy(RefCell::new(self.0.borrow().clone()))
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        bump();
    }
}

/// Objects the collections of this thread found unreachable so far.
fn collected_so_far() -> usize {
    gencollect::get_stats().iter().map(|s| s.collected).sum()
}

/// With threshold 1, every tracked allocation may start a collection: while slices are
/// built from clones and iterators that allocate garbage, and while their items are moved
/// in. Every object made is freed exactly once in the end, and the collector's counts add
/// up to exactly the garbage it found.
#[test]
fn automatic_collections_while_slices_are_built() {
    reset();
    let old = gencollect::get_threshold();
    let before = collected_so_far();
    gencollect::set_threshold(1, 10, 10);
    let rounds = n(40, 4);
    let mut keep = Vec::new();
    for r in 0..rounds {
        let proto: Vec<Noisy> = (0..3)
            .map(|_| Noisy(RefCell::new(Some(Gc::new(Noisy(RefCell::new(None)))))))
            .collect();
        // 3 clones, each making a self-cycle and sharing the prototype's target.
        let cloned: Gc<[Noisy]> = Gc::from(&proto[..]);
        // 3 items made by an iterator that makes a self-cycle for each.
        let iterated: Gc<[Noisy]> = (0..3)
            .map(|_| {
                let g = Gc::new(Noisy(RefCell::new(None)));
                *g.0.borrow_mut() = Some(g.clone());
                Noisy(RefCell::new(None))
            })
            .collect();
        assert_eq!(cloned.len() + iterated.len(), 6);
        if r % 2 == 0 {
            keep.push((cloned, iterated));
        }
        drop(proto);
    }
    drop(keep);
    gencollect::set_threshold(old.0, old.1, old.2);
    gencollect::collect();
    let collected = collected_so_far() - before;
    // Per round: 3 prototype items (dropped with `proto`), 3 prototype targets, 3 clones,
    // 3 clone self-cycles, 3 iterated items, 3 iterator self-cycles.
    assert_eq!(drops(), rounds * 18);
    // The garbage the collector found: the 6 self-cycles of each round (prototype targets
    // and slice items are freed by refcounting).
    assert_eq!(collected, rounds * 6);
    assert_eq!(gencollect::collect(), 0);
}

/// `get_mut` lends a slice of handles while collections run (automatic ones from
/// allocations, and explicit ones): the collector must not read the lent slice, the
/// handles written through the loan keep their targets alive, and once the slice is
/// dropped its cycles are collected with exact counts.
#[test]
fn get_mut_on_a_slice_while_collections_run() {
    reset();
    let old = gencollect::get_threshold();
    gencollect::set_threshold(1, 10, 10);
    let cycle = || {
        let a = branch(false);
        let b = branch(false);
        set_kids(&a, Gc::from(vec![b.clone()]));
        set_kids(&b, Gc::from(vec![a.clone()]));
        a
    };
    let len = n(20, 3);
    let mut slice: Gc<[Gc<Branch>]> = (0..len).map(|_| cycle()).collect();
    assert!(Gc::is_tracked(&slice));
    {
        let lent = Gc::get_mut(&mut slice).unwrap();
        for (i, slot) in lent.iter_mut().enumerate() {
            // The old cycle loses its last outside handle: garbage.
            *slot = cycle();
            let garbage = gencollect::collect();
            assert_eq!(garbage, 4, "round {i}: the replaced cycle, nothing lent");
            assert!(!Gc::is_dead(slot));
        }
    }
    assert!(
        slice
            .iter()
            .all(|b| !Gc::is_dead(b) && b.kids.borrow().len() == 1)
    );
    assert_eq!(gencollect::collect(), 0);
    drop(slice);
    assert_eq!(gencollect::collect(), 4 * len);
    gencollect::set_threshold(old.0, old.1, old.2);
    assert_eq!(drops(), 2 * 2 * len);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Fin {
    back: RefCell<Option<Gc<[Gc<Fin>]>>>,
}

impl Finalize for Fin {
    fn finalize(&self) {
        // The finalizer still sees a live slice: finalizers run before any value is dropped.
        // (A panic here would only be reported, so the check is counted instead.)
        let back = self.back.borrow();
        let alive = back
            .as_ref()
            .is_some_and(|s| !Gc::is_dead(s) && s.iter().all(|f| !Gc::is_dead(f)));
        if alive {
            FINALIZED.with(|f| f.set(f.get() + 1));
        }
    }
}

impl Drop for Fin {
    fn drop(&mut self) {
        bump();
    }
}

/// A slice of finalizable objects that each hold the slice: the collection runs each
/// finalizer once, with every member alive, then drops each value once.
#[test]
fn slices_of_finalizable_items_in_a_cycle() {
    reset();
    let len = n(10, 3);
    let items: Vec<Gc<Fin>> = (0..len)
        .map(|_| {
            Gc::new_with_finalizer(Fin {
                back: RefCell::new(None),
            })
        })
        .collect();
    let slice: Gc<[Gc<Fin>]> = Gc::from(&items[..]);
    for f in &items {
        *f.back.borrow_mut() = Some(slice.clone());
    }
    let weak = Gc::downgrade(&slice);
    drop((items, slice));
    assert_eq!(gencollect::collect(), len + 1);
    assert_eq!(FINALIZED.with(Cell::get), len);
    assert_eq!(drops(), len);
    assert!(weak.upgrade().is_none());
    assert_eq!(weak.strong_count(), 0);
    drop(weak);
    assert_eq!(gencollect::collect(), 0);
}

/// Inspection through unsized objects: `get_objects` lists tracked slices and trait
/// objects, `get_referrers_of` finds the slice and the trait object that hold a node,
/// `get_referents_of` sees a slice's items, `dump_dot` names them, and none of it changes a
/// count.
#[test]
fn inspection_sees_unsized_objects_and_leaves_counts_alone() {
    reset();
    let target = branch(false);
    let slice: Gc<[Gc<Branch>]> = Gc::from(vec![target.clone(), target.clone()]);
    let other = branch(false);
    set_kids(&other, Gc::from(vec![target.clone()]));
    let other_kids = other.kids.borrow().clone();
    let holder = part(7, false);
    let next = part(8, false);
    holder.link(next.clone());
    let text: Gc<str> = Gc::from("atomic, untracked");
    let counts = || {
        (
            Gc::ref_count(&target),
            Gc::ref_count(&slice),
            Gc::ref_count(&other_kids),
            Gc::ref_count(&holder),
            Gc::ref_count(&next),
            Gc::ref_count(&text),
        )
    };
    let before = counts();
    assert_eq!(before, (4, 1, 2, 1, 2, 1));

    let objects = gencollect::get_objects(None).unwrap();
    assert!(objects.iter().any(|o| *o == slice));
    assert!(objects.iter().any(|o| *o == other_kids));
    assert!(objects.iter().any(|o| *o == holder));
    assert!(!objects.iter().any(|o| *o == text), "strings are untracked");
    drop(objects);

    let referrers = gencollect::get_referrers_of(&[AnyGc::from(target.clone())]);
    assert_eq!(referrers.len(), 2, "{referrers:?}");
    assert!(referrers.iter().any(|r| *r == slice));
    assert!(referrers.iter().any(|r| *r == other_kids));
    drop(referrers);
    let referrers = gencollect::get_referrers_of(&[AnyGc::from(next.clone())]);
    assert_eq!(referrers.len(), 1, "{referrers:?}");
    assert!(referrers[0] == holder);
    drop(referrers);

    let referents = gencollect::get_referents_of(&[AnyGc::from(slice.clone())]);
    assert!(!referents.is_empty());
    assert!(referents.iter().all(|r| *r == target));
    drop(referents);

    let dot = gencollect::dump_dot(
        Some(&[AnyGc::from(holder.clone()), AnyGc::from(slice.clone())]),
        100,
    );
    assert!(dot.contains("Node"), "{dot}");
    assert!(dot.contains("Branch"), "{dot}");
    assert_eq!(counts(), before);
    drop((target, slice, other, other_kids, holder, next, text));
    // No cycle anywhere: refcounting freed everything.
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops(), 4);
}

/// A weak handle to a trait object and one to a slice, both members of a collected cycle,
/// outlive it: they never upgrade again, and the memory goes with the last of them.
#[test]
fn weak_handles_to_collected_unsized_objects() {
    reset();
    let a = part(1, false);
    let b = branch(false);
    let b_dyn: Gc<dyn Part> = coerce_gc!(Gc::new(Node {
        next: RefCell::new(None),
        weak_next: RefCell::new(None),
        id: 2,
        keep: false,
    }) => dyn Part);
    a.link(b_dyn.clone());
    b_dyn.link(a.clone());
    set_kids(&b, Gc::from(vec![b.clone()]));
    let weaks_dyn: Vec<Weak<dyn Part>> = vec![Gc::downgrade(&a), Gc::downgrade(&b_dyn)];
    let weak_slice: Weak<[Gc<Branch>]> = b.weak_kids.borrow().clone().unwrap();
    drop((a, b, b_dyn));
    assert_eq!(gencollect::collect(), 4);
    assert_eq!(drops(), 3);
    assert!(weaks_dyn.iter().all(|w| w.upgrade().is_none()));
    assert!(weak_slice.upgrade().is_none());
    assert_eq!(weak_slice.strong_count(), 0);
    assert_eq!(weak_slice.weak_count(), 0);
    drop(weaks_dyn);
    drop(weak_slice);
    assert_eq!(gencollect::collect(), 0);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct SelfRef(RefCell<Option<Gc<SelfRef>>>);

impl Drop for SelfRef {
    fn drop(&mut self) {
        bump();
    }
}

/// A handle turned into a raw pointer (`Gc::into_raw`) lets unsafe code reach the object
/// without a handle, as `Gc::as_ptr` does: here, to move the pointer's own strong reference
/// into the object (through `Gc::from_raw`, once, as its contract allows), making the object
/// garbage without any count being decremented. Full collections analyse objects whose
/// pointer was handed out (`EXPOSED`), so the cycle must be found, however old it is.
#[test]
fn a_cycle_closed_through_into_raw_is_collected_by_a_full_collection() {
    reset();
    let a = Gc::new(SelfRef(RefCell::new(None)));
    // Old and clean: two full collections prove it reachable.
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(gencollect::collect(), 0);
    let raw = Gc::into_raw(a);
    // SAFETY: `raw` came from `into_raw` and holds a strong reference; it is given back once.
    unsafe {
        let value: &SelfRef = &*raw;
        *value.0.borrow_mut() = Some(Gc::from_raw(raw));
    }
    // However many full collections run.
    let found: usize = (0..3).map(|_| gencollect::collect()).sum();
    assert_eq!(found, 1);
    assert_eq!(drops(), 1);
}

/// The same after `Gc::as_ptr` exposed the object: the documented promise that `into_raw`
/// should keep too.
#[test]
fn a_cycle_closed_through_as_ptr_is_collected_by_a_full_collection() {
    reset();
    let a = Gc::new(SelfRef(RefCell::new(None)));
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(gencollect::collect(), 0);
    let _ = Gc::as_ptr(&a);
    let raw = Gc::into_raw(a);
    // SAFETY: `raw` came from `into_raw` and holds a strong reference; it is given back once.
    unsafe {
        let value: &SelfRef = &*raw;
        *value.0.borrow_mut() = Some(Gc::from_raw(raw));
    }
    assert_eq!(gencollect::collect(), 1);
    assert_eq!(drops(), 1);
}

/// A node of a garbage cycle whose `Drop` inspects the heap and starts a collection while
/// the collector is dropping the cycle's values.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Inspector {
    kids: RefCell<Option<Gc<[Gc<Inspector>]>>>,
}

thread_local! {
    /// (objects listed alive that were dead or dropping, referents reported by dead slices,
    /// what the nested collection returned)
    static INSPECTED: RefCell<Vec<(usize, usize, usize)>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Inspector {
    fn drop(&mut self) {
        bump();
        let kids = self.kids.borrow().clone().unwrap();
        let listed = gencollect::get_objects(None).unwrap();
        let bad = listed
            .into_iter()
            .filter_map(|o| o.downcast::<Inspector>().ok())
            .filter(Gc::is_dead)
            .count();
        let referents = gencollect::get_referents_of(&[AnyGc::from(kids.clone())]).len();
        let nested = gencollect::collect();
        INSPECTED.with(|i| i.borrow_mut().push((bad, referents, nested)));
        drop(kids);
    }
}

/// Inspection and a nested `collect()` from the `Drop`s of a garbage cycle that runs
/// through slices: they list no member of the garbage as alive, a dead slice reports no
/// referents, the nested collection finds nothing, and the outer one counts exactly.
#[test]
fn drops_that_inspect_and_collect_while_a_slice_cycle_is_dropped() {
    reset();
    let len = n(6, 3);
    let nodes: Vec<Gc<Inspector>> = (0..len)
        .map(|_| {
            Gc::new(Inspector {
                kids: RefCell::new(None),
            })
        })
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        let kids: Gc<[Gc<Inspector>]> = Gc::from([nodes[(i + 1) % len].clone()]);
        *node.kids.borrow_mut() = Some(kids);
    }
    drop(nodes);
    assert_eq!(gencollect::collect(), 2 * len);
    assert_eq!(drops(), len);
    let seen = INSPECTED.with(|i| i.take());
    assert_eq!(seen, vec![(0, 0, 0); len]);
    assert_eq!(gencollect::collect(), 0);
}
