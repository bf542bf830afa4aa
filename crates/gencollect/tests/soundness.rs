//! Regression tests for ways safe code once reached undefined behaviour, each written the way
//! a hostile user would: immortal objects in a collected set, collections started while frees
//! are deferred, panic payloads that panic when dropped, and a `tracing` subscriber that
//! panics in the middle of a collection. Under Miri (CI runs this file there) each of them
//! reported a use of freed or uninitialised memory before its fix.

use std::cell::{Cell, RefCell};

use gcrt_derive::Trace;
use refcount::engine::{EdgeCounter, SetLayout, with_heap};
use refcount::{Finalize, Gc, Trace as _};

thread_local! {
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
    static DROPPED: Cell<usize> = const { Cell::new(0) };
}

fn finalized() -> usize {
    FINALIZED.with(Cell::get)
}
fn dropped() -> usize {
    DROPPED.with(Cell::get)
}

type Cellf = RefCell<Option<Gc<u8>>>;

/// How many releases nest before further ones are queued (the heap's `DEPTH_LIMIT`).
const DEPTH_LIMIT: usize = if cfg!(miri) { 4 } else { 64 };

/// An immortal object whose type needs tracing, reported by a tracked one, was read by the
/// count pass as if it had the tracking extension it lacked (uninitialised memory).
#[test]
#[cfg_attr(
    miri,
    ignore = "immortal objects leak the thread's allocator by design: CI runs this under Miri \
              with -Zmiri-ignore-leaks"
)]
fn an_immortal_traced_object_in_a_collected_graph() {
    let imm: Gc<Cellf> = Gc::new_immortal(RefCell::new(None));
    let holder = Gc::new(RefCell::new(Some(imm.clone())));
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert!(
        !gencollect::is_tracked(&imm),
        "immortal objects are never tracked"
    );
    assert!(Gc::ptr_eq(holder.borrow().as_ref().unwrap(), &imm));
    assert!(!Gc::is_dead(&imm));
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Holder {
    x: Gc<Cellf>,
    me: RefCell<Option<Gc<Holder>>>,
}

/// The bytes before an immortal object's header were the value of the next immortal object,
/// which the user chooses: a forged "tracked, generation 0, index 0" made a garbage cycle's
/// handle to the immortal object count against the live object at index 0, whose value was
/// then dropped while borrowed.
#[test]
#[cfg_attr(
    miri,
    ignore = "immortal objects leak the thread's allocator by design: CI runs this under Miri \
              with -Zmiri-ignore-leaks"
)]
fn a_forged_extension_cannot_drop_a_live_value() {
    gencollect::collect();
    let victim: Gc<(Cellf, String)> = Gc::new((RefCell::new(None), String::from("still alive")));
    let text: &str = &victim.1;
    let x: Gc<Cellf> = Gc::new_immortal(RefCell::new(None));
    let _forged: Gc<[u32; 2]> = Gc::new_immortal([0, 1 << 3]);
    let h = Gc::new(Holder {
        x: x.clone(),
        me: RefCell::new(None),
    });
    *h.me.borrow_mut() = Some(h.clone());
    drop(h);
    assert_eq!(
        gencollect::collect_generation(0),
        Ok(1),
        "only the holder is garbage"
    );
    assert!(!Gc::is_dead(&victim));
    assert_eq!(text, "still alive");
}

/// The same read without a collection, through the engine's safe counter.
#[test]
#[cfg_attr(
    miri,
    ignore = "immortal objects leak the thread's allocator by design: CI runs this under Miri \
              with -Zmiri-ignore-leaks"
)]
fn a_counting_tracer_over_an_immortal_object() {
    let imm: Gc<Cellf> = Gc::new_immortal(RefCell::new(None));
    let pair = (imm.clone(), Gc::new(RefCell::new(None::<Gc<u8>>)));
    let layout = with_heap(|h| SetLayout::new(h, &[0])).unwrap();
    let mut counter = EdgeCounter::new(layout, vec![0; layout.len()], Vec::new());
    pair.trace(&mut counter.tracer());
    let (_, edges) = counter.into_parts();
    assert_eq!(
        edges.len(),
        1,
        "the tracked object only: the immortal one is outside the set"
    );
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Y(Cellf, String);
impl Finalize for Y {
    fn finalize(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
    }
}
impl Drop for Y {
    fn drop(&mut self) {
        assert_eq!(self.1, "y".repeat(10), "dropped once, intact");
        DROPPED.with(|d| d.set(d.get() + 1));
    }
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct A {
    y: RefCell<Option<Gc<Y>>>,
    me: RefCell<Option<Gc<A>>>,
}
impl Finalize for A {
    fn finalize(&self) {
        // The last handle to another member of the same garbage.
        drop(self.y.borrow_mut().take());
    }
}

/// A garbage cycle `A` whose finalizer drops the last handle to `Y`, also garbage.
fn finalizing_garbage() {
    let y = Gc::new_with_finalizer(Y(RefCell::new(None), "y".repeat(10)));
    let a = Gc::new_with_finalizer(A {
        y: RefCell::new(Some(y)),
        me: RefCell::new(None),
    });
    *a.me.borrow_mut() = Some(a.clone());
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Link(Option<Gc<Link>>);
impl Drop for Link {
    fn drop(&mut self) {
        if self.0.is_none() {
            gencollect::collect_generation(0).unwrap();
        }
    }
}

/// A collection started from a `Drop` nested `DEPTH_LIMIT` deep runs with frees queued:
/// the finalizer's drop of `Y`'s last handle queued `Y` with a count of 0 while it was still
/// in the collector's list, whose finalizer pass then took a reference on it and queued it
/// again (a double drop and a double free).
#[test]
fn a_collection_from_a_deep_drop_finalizes_and_drops_once() {
    finalizing_garbage();
    let mut chain = Gc::new(Link(None));
    for _ in 1..DEPTH_LIMIT {
        chain = Gc::new(Link(Some(chain)));
    }
    drop(chain);
    gencollect::collect();
    assert_eq!((finalized(), dropped()), (1, 1));
}

/// The same, with the frees deferred through the engine's safe `defer_frees`.
#[test]
fn a_collection_inside_defer_frees_finalizes_and_drops_once() {
    finalizing_garbage();
    with_heap(|h| {
        h.defer_frees(|| {
            gencollect::collect_generation(0).unwrap();
        })
    });
    gencollect::collect();
    assert_eq!((finalized(), dropped()), (1, 1));
}

thread_local!(static KEEP: RefCell<Option<Gc<B>>> = const { RefCell::new(None) });

#[derive(Trace)]
#[trace(crate = "refcount")]
struct B(Cellf, String);

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Resurrects {
    b: Gc<B>,
    me: RefCell<Option<Gc<Resurrects>>>,
}
impl Finalize for Resurrects {
    fn finalize(&self) {
        KEEP.with(|k| *k.borrow_mut() = Some(self.b.clone()));
    }
}

/// A panic payload that panics when dropped.
struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's drop panics");
    }
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Panics(RefCell<Option<Gc<Panics>>>);
impl Finalize for Panics {
    fn finalize(&self) {
        std::panic::panic_any(Bomb);
    }
}

/// A finalizer's panic payload whose `Drop` panicked escaped the collection in the middle of
/// its finalization steps, leaving a resurrected object in the collector's working list, and
/// the next collection dropped it while it was reachable.
#[test]
fn a_payload_that_panics_when_dropped_does_not_escape() {
    gencollect::set_unraisable_hook(Some(Box::new(|_| {})));
    let b = Gc::new(B(RefCell::new(None), "resurrected".to_string()));
    let c = Gc::new_with_finalizer(Panics(RefCell::new(None)));
    *c.0.borrow_mut() = Some(c.clone());
    let a = Gc::new_with_finalizer(Resurrects {
        b,
        me: RefCell::new(None),
    });
    *a.me.borrow_mut() = Some(a.clone());
    drop((a, c));
    let result = std::panic::catch_unwind(|| gencollect::collect_generation(0));
    assert_eq!(
        result.ok(),
        Some(Ok(2)),
        "the cycles of `Panics` and `Resurrects` are freed"
    );
    let b = KEEP.with(|k| k.borrow().clone()).unwrap();
    let text: &str = &b.1;
    gencollect::clear_garbage();
    gencollect::collect();
    assert!(!Gc::is_dead(&b));
    assert_eq!(text, "resurrected");
    gencollect::set_unraisable_hook(None);
}

/// A `tracing` subscriber that panics when the collector opens its finalization span.
struct PanicsInFinalize;

impl tracing::Subscriber for PanicsInFinalize {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        assert_ne!(
            span.metadata().name(),
            "finalize",
            "a subscriber that panics"
        );
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A panic the collector cannot catch (here from user code it calls through `tracing`) used
/// to leave the garbage it had found in its working list, flagged as garbage, for a later
/// step to drop while reachable. Now it goes back to generation 2 and a later collection
/// frees it properly.
#[test]
fn a_collection_interrupted_by_a_panic_leaves_no_garbage_behind() {
    gencollect::collect();
    finalizing_garbage();
    let before = gencollect::get_objects(Some(2)).unwrap().len();
    let result = std::panic::catch_unwind(|| {
        tracing::subscriber::with_default(PanicsInFinalize, || {
            gencollect::collect_generation(0).unwrap();
        })
    });
    assert!(result.is_err(), "the subscriber's panic propagates");
    assert_eq!(
        (finalized(), dropped()),
        (0, 0),
        "nothing was finalized or dropped"
    );
    assert_eq!(
        gencollect::get_objects(Some(2)).unwrap().len(),
        before + 2,
        "A and Y are back in generation 2"
    );
    // As for any such garbage: A's finalizer frees Y by refcounting, so the collection
    // counts A alone.
    assert_eq!(gencollect::collect(), 1);
    assert_eq!((finalized(), dropped()), (1, 1));
}

mod other {
    use std::cell::Cell;

    use refcount::{Gc, Tracer};

    thread_local! {
        /// Objects allocated by traces, kept so that nothing is freed meanwhile.
        pub(crate) static KEPT: std::cell::RefCell<Vec<Gc<super::Cellf>>> =
            const { std::cell::RefCell::new(Vec::new()) };
        /// Whether this thread is the one that owns the heap.
        pub(crate) static OWNER: Cell<bool> = const { Cell::new(false) };
    }

    /// Traces run on another thread than the heap's.
    pub(crate) static FOREIGN_TRACES: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);

    /// A type of the same name as the one derived below, with a hand-written `Trace` that
    /// keeps the defaults (not pure) and does what the rules allow: it allocates.
    pub(crate) struct Node;

    // SAFETY: holds no handle and reports none.
    unsafe impl refcount::Trace for Node {
        fn trace(&self, _: &mut Tracer<'_>) {
            if !OWNER.with(Cell::get) {
                FOREIGN_TRACES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            // Enough new tracked objects to make generation 0's list grow (reallocate).
            let new = (0..64).map(|_| Gc::new(std::cell::RefCell::new(None)));
            KEPT.with(|k| k.borrow_mut().extend(new));
        }
    }
}

/// Derived around a field of another type with the same name.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    inner: other::Node,
    extra: Option<Gc<Cellf>>,
}

/// The derive took any field type whose last path segment was the derived type's name for
/// the type itself, and answered for `other::Node` as for `Node`: pure. The count pass then
/// read generation 0 through a slice while `other::Node`'s trace allocated into it (a use
/// after free), and the helper thread ran that trace.
#[test]
fn a_field_of_another_type_with_the_same_name_keeps_its_own_answers() {
    assert!(!<Node as refcount::Trace>::pure_trace());
    assert!(!<Node as refcount::Trace>::frozen());
    assert!(<Node as refcount::Trace>::needs_trace());
    other::OWNER.with(|o| o.set(true));
    gencollect::set_parallel_threshold(0);
    let target = Gc::new(RefCell::new(None));
    let nodes: Vec<Gc<Node>> = (0..if cfg!(miri) { 40 } else { 2000 })
        .map(|_| {
            Gc::new(Node {
                inner: other::Node,
                extra: Some(target.clone()),
            })
        })
        .collect();
    assert!(nodes.iter().all(gencollect::is_tracked));
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(
        other::FOREIGN_TRACES.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a trace that is not gcrt's own runs on the heap's thread only"
    );
    assert!(other::KEPT.with(|k| k.borrow().len()) >= 64 * nodes.len());
    gencollect::set_parallel_threshold(1 << 17);
}

/// A value reached only through `&mut` after construction: its handles cannot change
/// through `&`, so an instance whose children are untracked is left untracked (frozen).
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Frozen {
    kids: Vec<Gc<Cellf>>,
    label: String,
}

/// `Gc::get_mut` then a collection, while the `&mut` lives: the collector read (traced) the
/// value under the `&mut` (Stacked Borrows: "trying to retag ... but that tag does not
/// exist"), for an object that `get_mut` had just tracked again and for one always tracked.
#[test]
fn a_collection_does_not_read_a_value_lent_by_get_mut() {
    let mut frozen = Gc::new(Frozen {
        kids: Vec::new(),
        label: "frozen".into(),
    });
    assert!(!gencollect::is_tracked(&frozen), "nothing to trace yet");
    let m = Gc::get_mut(&mut frozen).unwrap();
    m.kids.push(Gc::new(RefCell::new(None)));
    assert_eq!(gencollect::collect(), 0);
    m.kids.push(Gc::new(RefCell::new(None)));
    m.label.push('!');
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!((frozen.kids.len(), frozen.label.as_str()), (2, "frozen!"));

    let mut tracked = Gc::new(RefCell::new(vec![Gc::new(1u8)]));
    let m = Gc::get_mut(&mut tracked).unwrap();
    assert_eq!(gencollect::collect(), 0);
    m.get_mut().push(Gc::new(2u8));
    assert_eq!(tracked.borrow().len(), 2);
}

/// The everyday form: a push whose `Gc::new` runs an automatic collection.
#[test]
fn an_automatic_collection_during_a_push_through_get_mut() {
    let (t0, t1, t2) = gencollect::get_threshold();
    gencollect::set_threshold(5, 1, 1);
    let before = gencollect::collection_count(0);
    let mut list = Gc::new(RefCell::new(Vec::new()));
    for i in 0..40u8 {
        Gc::get_mut(&mut list)
            .unwrap()
            .get_mut()
            .push(Gc::new(RefCell::new(Some(Gc::new(i)))));
    }
    assert!(
        gencollect::collection_count(0) > before,
        "collections ran meanwhile"
    );
    assert_eq!(list.borrow().len(), 40);
    gencollect::set_threshold(t0, t1, t2);
}

#[derive(Trace)]
#[trace(crate = "refcount")]
struct Linked {
    next: RefCell<Option<Gc<Linked>>>,
}

/// A loan ends when a collection finds the object's handle inside an object it traced: a
/// cycle closed by moving the lent object's only handle, with no shared access to it since,
/// is collected by the collection after the one that finds the loan over.
#[test]
fn a_cycle_through_a_lent_object_is_collected() {
    gencollect::collect();
    let y = Gc::new(Linked {
        next: RefCell::new(None),
    });
    let mut x = Gc::new(Linked {
        next: RefCell::new(None),
    });
    *Gc::get_mut(&mut x).unwrap().next.get_mut() = Some(y.clone());
    *y.next.borrow_mut() = Some(x); // the lent object's only handle moves into `y`
    drop(y);
    let z = Gc::new(Linked {
        next: RefCell::new(None),
    });
    *z.next.borrow_mut() = Some(z.clone());
    drop(z);
    assert_eq!(
        gencollect::collect(),
        1,
        "z only: the lent value is not read, so x counts as held, and y through it"
    );
    assert_eq!(
        gencollect::collect(),
        2,
        "the loan ended when y's trace reported x"
    );
}

/// A shared reference taken through a handle ends the loan at once.
#[test]
fn a_shared_borrow_ends_the_loan() {
    gencollect::collect();
    let mut x = Gc::new(Linked {
        next: RefCell::new(None),
    });
    let _ = Gc::get_mut(&mut x).unwrap();
    *x.next.borrow_mut() = Some(x.clone()); // through `Deref`
    drop(x);
    assert_eq!(gencollect::collect(), 1);
}

/// The inspection functions make no handle to a lent value (one could be dereferenced while
/// the `&mut` lives), and do not trace it.
#[test]
fn inspection_skips_a_lent_value() {
    let kid = Gc::new(RefCell::new(None::<Gc<u8>>));
    let mut x = Gc::new(Linked {
        next: RefCell::new(None),
    });
    let x_obj = Gc::as_obj(&x);
    let m = Gc::get_mut(&mut x).unwrap();
    let all = gencollect::get_objects(None).unwrap();
    assert!(all.iter().any(|o| *o == kid));
    assert!(!all.iter().any(|o| o.as_obj() == x_obj));
    assert!(gencollect::get_referrers(&kid).is_empty());
    *m.next.get_mut() = None;
    drop(all);
    assert!(x.next.borrow().is_none(), "a shared borrow ends the loan");
    let all = gencollect::get_objects(None).unwrap();
    assert!(all.iter().any(|o| o.as_obj() == x_obj), "x is listed again");
}

thread_local!(static ALLOCATED: RefCell<Vec<Gc<Cellf>>> = const { RefCell::new(Vec::new()) });

/// Allocates `n` tracked objects, kept alive.
fn allocate(n: usize) {
    let new = (0..n).map(|_| Gc::new(RefCell::new(None)));
    ALLOCATED.with(|a| a.borrow_mut().extend(new));
}

/// A Stop callback that allocates past the threshold started an automatic collection of its
/// own (the collection was no longer marked running), whose Stop callback allocated again,
/// until the stack overflowed. Callbacks now run while the collection still counts as
/// running, as in CPython: allocations there start no collection.
#[test]
fn a_collection_callback_that_allocates_does_not_recurse() {
    gencollect::collect();
    gencollect::set_threshold(10, 10, 10);
    let handle = gencollect::register_callback(|phase, _| {
        if phase == gencollect::Phase::Stop {
            allocate(20);
        }
    });
    let before = gencollect::get_stats();
    assert_eq!(gencollect::collect(), 0);
    let after = gencollect::get_stats();
    let runs: Vec<usize> = (0..3)
        .map(|g| after[g].collections - before[g].collections)
        .collect();
    assert_eq!(
        runs,
        [0, 0, 1],
        "one collection: the callback's allocations start none"
    );
    assert_eq!(gencollect::get_count().0, 20);
    allocate(1); // past the threshold, outside any callback: one automatic collection
    let last = gencollect::get_stats();
    assert_eq!(last[0].collections - after[0].collections, 1);
    assert!(gencollect::unregister_callback(handle));
}

/// The same through weak-reference callbacks: a collection's Stop callback drops the target
/// of a weak reference whose callback allocates.
#[test]
fn weak_reference_and_collection_callbacks_do_not_recurse() {
    gencollect::collect();
    gencollect::set_threshold(10, 10, 10);
    thread_local!(static TARGETS: RefCell<Vec<Gc<Cellf>>> = const { RefCell::new(Vec::new()) });
    let keep: Vec<_> = (0..8)
        .map(|_| {
            let t = Gc::new(RefCell::new(None));
            let wr = refcount::WeakRef::new(&t, |_| allocate(20));
            TARGETS.with(|ts| ts.borrow_mut().push(t));
            wr
        })
        .collect();
    let handle = gencollect::register_callback(|phase, _| {
        if phase == gencollect::Phase::Stop {
            let target = TARGETS.with(|ts| ts.borrow_mut().pop());
            drop(target); // outside the borrow: its weak reference's callback runs here
        }
    });
    let before = gencollect::get_stats()[2].collections;
    gencollect::collect();
    assert_eq!(gencollect::get_stats()[2].collections - before, 1);
    assert_eq!(
        TARGETS.with(|ts| ts.borrow().len()),
        7,
        "one target dropped, once"
    );
    assert_eq!(
        ALLOCATED.with(|a| a.borrow().len()),
        20,
        "its callback ran once"
    );
    assert!(gencollect::unregister_callback(handle));
    drop(keep);
}

/// Set by [`Late`]'s destructor once everything in it ran.
static LATE_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A thread-local whose destructor runs after the heap's: it is first touched before the
/// heap, and thread-locals are destroyed in the reverse order.
struct Late;

impl Drop for Late {
    fn drop(&mut self) {
        assert!(
            refcount::engine::try_with_heap(|_| ()).is_none(),
            "the heap is gone"
        );
        // Objects work (their memory is leaked: nothing can free it any more).
        let a = Gc::new(Linked {
            next: RefCell::new(None),
        });
        *a.next.borrow_mut() = Some(a.clone());
        let mut b = Gc::new(Frozen {
            kids: vec![Gc::new(RefCell::new(None))],
            label: "late".into(),
        });
        Gc::get_mut(&mut b).unwrap().label.push('!');
        assert_eq!(b.label, "late!");
        let w = Gc::downgrade(&b);
        let wr = refcount::WeakRef::new(&b, |_| {});
        drop(b);
        assert!(w.upgrade().is_none());
        drop(wr);
        let imm = Gc::new_immortal(RefCell::new(None::<Gc<u8>>));
        assert!(Gc::is_immortal(&imm));
        // The `gc` module does nothing and reports nothing.
        assert_eq!(gencollect::collect(), 0);
        assert_eq!(gencollect::get_count(), (0, 0, 0));
        let handle = gencollect::register_callback(|_, _| {});
        assert!(!gencollect::unregister_callback(handle));
        assert!(gencollect::get_objects(None).unwrap().is_empty());
        drop(a);
        LATE_DONE.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

thread_local!(static LATE: Late = const { Late });

/// `Gc::new` in a thread-local destructor that ran after the heap's panicked ("cannot access
/// a Thread Local Storage value during or after destruction"), which aborts the process.
#[test]
#[cfg_attr(
    miri,
    ignore = "objects made after the heap leak by design: CI runs this under Miri with \
              -Zmiri-ignore-leaks"
)]
fn objects_made_after_the_heap_was_destroyed() {
    std::thread::spawn(|| {
        LATE.with(|_| ()); // registered first, so destroyed last
        let keep = Gc::new(RefCell::new(None::<Gc<u8>>)); // the heap, registered after
        gencollect::collect();
        drop(keep);
    })
    .join()
    .unwrap();
    assert!(LATE_DONE.load(std::sync::atomic::Ordering::SeqCst));
}

thread_local! {
    /// What the destructors of `Grabby` saw of their partner: (dead, shared borrow given,
    /// `get_mut` given).
    static SEEN: RefCell<Vec<(bool, bool, bool)>> = const { RefCell::new(Vec::new()) };
}

/// A destructor that takes its partner's handle out of its own value, leaks it, and tries to
/// keep a `&'static` and a `&'static mut` to the partner's value.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Grabby {
    name: String,
    next: RefCell<Option<Gc<Grabby>>>,
}

impl Finalize for Grabby {
    fn finalize(&self) {}
}

impl Drop for Grabby {
    fn drop(&mut self) {
        if let Some(h) = self.next.get_mut().take() {
            let leaked: &'static mut Gc<Grabby> = Box::leak(Box::new(h));
            let dead = Gc::is_dead(leaked);
            let shared = Gc::try_deref(leaked).map(|v| v.name.len());
            let lent = Gc::get_mut(leaked).map(|v| v.name.push('!'));
            SEEN.with(|s| {
                s.borrow_mut()
                    .push((dead, shared.is_some(), lent.is_some()))
            });
        }
    }
}

/// A destructor of garbage could take another member's handle, keep a reference into its
/// value (through `Deref`, or a `&mut` through `Gc::get_mut`), and outlive that member's
/// drop: the reference then pointed into a dropped value (Miri: a dangling reference; a
/// double free natively). The garbage is now marked dead before any value is dropped, on
/// both of the collector's paths (with finalizers, and without).
#[test]
#[cfg_attr(
    miri,
    ignore = "the destructors leak handles on purpose: CI runs this under Miri with \
              -Zmiri-ignore-leaks"
)]
fn a_destructor_cannot_keep_a_reference_into_other_garbage() {
    for finalizer in [true, false] {
        gencollect::collect();
        let make = |name: &str| {
            let v = Grabby {
                name: name.repeat(20),
                next: RefCell::new(None),
            };
            if finalizer {
                Gc::new_with_finalizer(v)
            } else {
                Gc::new(v)
            }
        };
        let (a, b) = (make("a"), make("b"));
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a.clone());
        drop((a, b));
        assert_eq!(gencollect::collect(), 2);
        let seen = SEEN.with(|s| core::mem::take(&mut *s.borrow_mut()));
        assert_eq!(
            seen,
            [(true, false, false), (true, false, false)],
            "each destructor found its partner dead (finalizer: {finalizer})"
        );
    }
}

thread_local!(static INSPECT_DROPS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) });

/// A node for `get_referrers_releases_its_handles_when_a_drop_panics`.
struct Inspected {
    name: &'static str,
    edges: RefCell<Vec<Gc<Inspected>>>,
    panic_on_drop: bool,
    alloc_in_trace: Cell<bool>,
}

// SAFETY: reports exactly the handles in `edges` (allocating in `trace` is allowed).
unsafe impl refcount::Trace for Inspected {
    fn trace(&self, t: &mut refcount::Tracer<'_>) {
        if self.alloc_in_trace.get() {
            drop(Gc::new(RefCell::new(None::<Gc<u8>>)));
        }
        self.edges.trace(t);
    }
}

impl Drop for Inspected {
    fn drop(&mut self) {
        INSPECT_DROPS.with(|d| d.borrow_mut().push(self.name));
        if self.panic_on_drop && !std::thread::panicking() {
            panic!("{} panics in Drop", self.name);
        }
    }
}

/// Found by the fuzz target: `get_referrers` released the candidates that were not referrers
/// inside `filter(..).collect()`; a `Drop` that panicked there (a trace had run a collection
/// that left the candidate the last handle to `x`) leaked the referrers already collected.
/// Now they are released after the search, and a panic there leaks nothing.
#[test]
fn get_referrers_releases_its_handles_when_a_drop_panics() {
    let node = |name, panic_on_drop| {
        Gc::new(Inspected {
            name,
            edges: RefCell::default(),
            panic_on_drop,
            alloc_in_trace: Cell::new(false),
        })
    };
    gencollect::collect();
    gencollect::disable();
    let target = node("target", false);
    let referrer = node("referrer", false);
    referrer.edges.borrow_mut().push(target.clone());
    let cycle = node("cycle", false);
    let alloc = node("alloc", false);
    let x = node("x", true);
    cycle.edges.borrow_mut().push(cycle.clone());
    cycle.edges.borrow_mut().push(x.clone());
    alloc.alloc_in_trace.set(true);
    drop((cycle, x));
    let (t0, t1, t2) = gencollect::get_threshold();
    gencollect::set_threshold(1, 10, 10);
    gencollect::enable();
    // Whether x's Drop panics inside it depends on when the candidates are released.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gencollect::get_referrers(&target).len()
    }));
    let weak = Gc::downgrade(&referrer);
    drop((referrer, target, alloc));
    gencollect::set_threshold(t0, t1, t2);
    // x's Drop panics wherever it runs: here if not inside get_referrers.
    let _ = std::panic::catch_unwind(gencollect::collect);
    gencollect::collect();
    assert_eq!(
        weak.strong_count(),
        0,
        "no handle to the referrer was leaked"
    );
    assert!(INSPECT_DROPS.with(|d| d.borrow().contains(&"referrer")));
}
