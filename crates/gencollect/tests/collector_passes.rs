//! What users rely on while the collector's passes run: the count pass under a `Trace` impl
//! that breaks its contract, and the drop pass as seen from `Drop` code.

use std::cell::{Cell, RefCell};

use refcount::engine::with_heap;
use refcount::{Gc, Trace, Tracer, Weak};

thread_local! {
    static DROPS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn drops() -> Vec<&'static str> {
    let mut d = DROPS.with(|d| d.borrow().clone());
    d.sort_unstable();
    d
}

struct Victim {
    back: RefCell<Option<Gc<Dropper>>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Victim {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.back.trace(t);
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push("victim"));
    }
}

/// Breaks rule 3 of `Trace`: drops the handle it holds while being traced.
struct Dropper {
    victim: RefCell<Option<Gc<Victim>>>,
}

// SAFETY: reports its handle before dropping it (the drop is the contract breach under test;
// it must stay memory-safe).
unsafe impl Trace for Dropper {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.victim.trace(t);
        drop(self.victim.borrow_mut().take());
    }
}

impl Drop for Dropper {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push("dropper"));
    }
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

/// A garbage cycle of a victim (allocated first) and a dropper that holds the victim.
fn victim_and_dropper_cycle() {
    let v = Gc::new(Victim {
        back: RefCell::new(None),
    });
    let d = Gc::new(Dropper {
        victim: RefCell::new(Some(v.clone())),
    });
    *v.back.borrow_mut() = Some(d.clone());
    drop((v, d));
}

#[test]
fn trace_dropping_a_counted_garbage_handle_frees_each_object_once() {
    // Regression: the victim is counted first (count 1), then the dropper's trace reports
    // it and drops the last handle, so the victim is garbage with its release queued. The
    // fast drop path must leave it to that queued release (count 0), not drop it again.
    // The counts below are those of an analysis that traces each object once: a full scan.
    gencollect::set_full_scan(true);
    gencollect::collect();
    let before = bytes();
    victim_and_dropper_cycle();
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(drops(), vec!["dropper", "victim"]);
    assert_eq!(bytes(), before, "both objects' memory is back");
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops().len(), 2);
}

#[test]
fn trace_dropping_a_garbage_handle_during_a_restricted_full_collection_frees_each_object_once() {
    // The default full collection traces the objects dirty ones reach twice (once to find
    // them, once to count): the dropper's handle goes in the first trace. Whatever the
    // collection then finds, each object is dropped exactly once and all memory comes back.
    gencollect::collect();
    let before = bytes();
    victim_and_dropper_cycle();
    let found = gencollect::collect();
    assert!(found <= 2);
    assert_eq!(drops(), vec!["dropper", "victim"]);
    assert_eq!(bytes(), before, "both objects' memory is back");
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops().len(), 2);
}

#[test]
fn trace_dropping_an_uncounted_handle_keeps_the_cycle_until_refcounting_frees_it() {
    // The victim comes after the dropper in the list: when it is counted, its release is
    // already queued (count 0), so it counts as referenced from outside, and so does the
    // dropper through it. Nothing is found; the queued release then frees both.
    gencollect::set_full_scan(true);
    gencollect::collect();
    let before = bytes();
    let d = Gc::new(Dropper {
        victim: RefCell::new(None),
    });
    let v = Gc::new(Victim {
        back: RefCell::new(Some(d.clone())),
    });
    *d.victim.borrow_mut() = Some(v.clone());
    drop((v, d));
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(drops(), vec!["dropper", "victim"]);
    assert_eq!(bytes(), before);
}

struct Peer {
    next: RefCell<Option<Gc<Peer>>>,
    others: RefCell<Vec<Weak<Peer>>>,
    upgraded: std::rc::Rc<Cell<u32>>,
}

// SAFETY: reports its one strong handle; weak handles are not references.
unsafe impl Trace for Peer {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        for w in self.others.borrow().iter() {
            if w.upgrade().is_some() {
                self.upgraded.set(self.upgraded.get() + 1);
            }
        }
        DROPS.with(|d| d.borrow_mut().push("peer"));
    }
}

#[test]
fn weak_handles_to_any_garbage_stop_upgrading_before_the_first_drop() {
    // As CPython clears every weak reference to unreachable objects before it clears any of
    // them: no destructor can bring back an object of the same garbage through a weak handle.
    gencollect::collect();
    let upgraded = std::rc::Rc::new(Cell::new(0));
    let ring: Vec<Gc<Peer>> = (0..5)
        .map(|_| {
            Gc::new(Peer {
                next: RefCell::new(None),
                others: RefCell::new(Vec::new()),
                upgraded: upgraded.clone(),
            })
        })
        .collect();
    for (i, p) in ring.iter().enumerate() {
        *p.next.borrow_mut() = Some(ring[(i + 1) % ring.len()].clone());
        *p.others.borrow_mut() = ring
            .iter()
            .filter(|q| !Gc::ptr_eq(q, p))
            .map(Gc::downgrade)
            .collect();
    }
    let outside = Gc::downgrade(&ring[0]);
    drop(ring);
    assert!(outside.upgrade().is_some(), "alive until collected");
    assert_eq!(gencollect::collect(), 5);
    assert_eq!(drops(), vec!["peer"; 5]);
    assert_eq!(upgraded.get(), 0, "20 upgrade attempts, all refused");
    assert!(outside.upgrade().is_none());
}

struct Leafy {
    _next: RefCell<Option<Gc<Leafy>>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Leafy {
    fn trace(&self, t: &mut Tracer<'_>) {
        self._next.trace(t);
    }
}

/// Takes its handle out while being traced and tries to unwrap it.
struct Unwrapper {
    slot: RefCell<Option<Gc<Leafy>>>,
    refused: Cell<u32>,
}

// SAFETY: reports the handle it holds when the trace ends (it puts it back first).
unsafe impl Trace for Unwrapper {
    fn trace(&self, t: &mut Tracer<'_>) {
        let taken = self.slot.borrow_mut().take();
        if let Some(h) = taken {
            match Gc::try_unwrap(h) {
                Ok(_) => panic!("a value was taken out of the set under analysis"),
                Err(h) => {
                    self.refused.set(self.refused.get() + 1);
                    *self.slot.borrow_mut() = Some(h);
                }
            }
        }
        self.slot.trace(t);
    }
}

#[test]
fn try_unwrap_of_an_object_under_analysis_is_refused() {
    // The analysis identifies objects by their place in the lists; taking one out from a
    // `Trace` impl would move another into its place. Every full collection traces every
    // object here (by default a full collection skips objects nothing dirty reaches).
    gencollect::set_full_scan(true);
    let holder = Gc::new(Unwrapper {
        slot: RefCell::new(Some(Gc::new(Leafy {
            _next: RefCell::new(None),
        }))),
        refused: Cell::new(0),
    });
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(
        holder.refused.get(),
        1,
        "traced once per collection, refused once"
    );
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(holder.refused.get(), 1, "generation 0 no longer holds them");
    assert_eq!(gencollect::collect(), 0);
    assert_eq!(holder.refused.get(), 2);
    // Outside a collection the value comes out.
    let inner = holder.slot.borrow_mut().take().unwrap();
    assert!(Gc::try_unwrap(inner).is_ok());
}

/// Panics when dropped.
struct Bomb;

// SAFETY: holds no handles.
unsafe impl Trace for Bomb {
    fn trace(&self, _: &mut Tracer<'_>) {}
    fn needs_trace() -> bool {
        false
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push("bomb"));
        panic!("bomb");
    }
}

/// Breaks rule 3 of `Trace`: drops its bomb while being traced, so the bomb goes off in the
/// deferred frees that run right after the analysis.
struct BombHolder {
    bomb: RefCell<Option<Gc<Bomb>>>,
}

// SAFETY: reports nothing it does not own (the contract breach under test is the drop).
unsafe impl Trace for BombHolder {
    fn trace(&self, _: &mut Tracer<'_>) {
        drop(self.bomb.borrow_mut().take());
    }
}

struct Link {
    next: RefCell<Option<Gc<Link>>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Link {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push("link"));
    }
}

#[test]
fn a_destructor_panicking_right_after_the_analysis_does_not_strand_the_garbage() {
    // Regression: the panic came out of the analysis with the verdict, so the garbage it had
    // set apart was never dropped (and kept its temporary references for good). A full scan
    // traces the holder, which nothing dirty reaches.
    gencollect::set_full_scan(true);
    gencollect::collect();
    let before = bytes();
    let holder = Gc::new(BombHolder {
        bomb: RefCell::new(Some(Gc::new(Bomb))),
    });
    for _ in 0..3 {
        let a = Gc::new(Link {
            next: RefCell::new(None),
        });
        let b = Gc::new(Link {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(gencollect::collect));
    assert!(
        result.is_err(),
        "the destructor's panic comes out of collect()"
    );
    assert_eq!(
        drops(),
        vec!["bomb", "link", "link", "link", "link", "link", "link"]
    );
    assert_eq!(gencollect::collect(), 0);
    drop(holder);
    assert_eq!(bytes(), before, "everything's memory is back");
}

thread_local! {
    static KEEP: RefCell<Vec<Gc<refcount::WeakRef<Target>>>> = const { RefCell::new(Vec::new()) };
}

struct Target {
    next: RefCell<Option<Gc<Target>>>,
    /// Registers a weak-reference callback on `next` when dropped.
    watch_next: bool,
    fired: std::rc::Rc<Cell<u32>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Target {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.next.trace(t);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.watch_next
            && let Some(next) = self.next.borrow().as_ref()
        {
            let fired = self.fired.clone();
            let wr = refcount::WeakRef::new(next, move |_: &Gc<refcount::WeakRef<Target>>| {
                fired.set(fired.get() + 1)
            });
            KEEP.with(|k| k.borrow_mut().push(wr));
        }
    }
}

#[test]
fn a_callback_registered_on_garbage_by_a_destructor_fires_once_and_is_forgotten() {
    // Regression: the fast drop path freed the target without looking at its callbacks, so
    // the registry kept an entry under a freed address.
    gencollect::collect();
    let fired = std::rc::Rc::new(Cell::new(0));
    let target = |watch_next| {
        Gc::new(Target {
            next: RefCell::new(None),
            watch_next,
            fired: fired.clone(),
        })
    };
    // Dropped newest first: `watcher` (newer) registers on `watched` before it is dropped.
    let watched = target(false);
    let watcher = target(true);
    *watched.next.borrow_mut() = Some(watcher.clone());
    *watcher.next.borrow_mut() = Some(watched);
    drop(watcher);
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(
        fired.get(),
        1,
        "the callback ran when its referent was freed"
    );
    // New objects, some at the freed addresses, inherit nothing.
    for _ in 0..100 {
        drop(target(false));
    }
    assert_eq!(fired.get(), 1);
    KEEP.with(|k| k.borrow_mut().clear());
    assert_eq!(gencollect::collect(), 0);
}

/// Contents of a `RefCell` whose `Trace` impl is not gcrt's own code (so `pure_trace` keeps
/// its default, `false`): while traced, it tries to borrow the cell that holds it mutably.
struct Prober {
    handle: Option<Gc<Probed>>,
}

// SAFETY: reports its one handle; the borrow attempt below changes nothing.
unsafe impl Trace for Prober {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.handle.trace(t);
        if let Some(cell) = PROBED.with(|p| p.borrow().clone()) {
            PROBES.with(|r| r.borrow_mut().push(cell.cell.try_borrow_mut().is_err()));
        }
    }
}

struct Probed {
    cell: RefCell<Prober>,
}

// SAFETY: reports what the cell holds.
unsafe impl Trace for Probed {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.cell.trace(t);
    }
}

thread_local! {
    static PROBED: RefCell<Option<Gc<Probed>>> = const { RefCell::new(None) };
    static PROBES: RefCell<Vec<bool>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn a_refcell_is_borrowed_while_code_other_than_gcrts_traces_its_contents() {
    // Only contents whose trace is gcrt's own code are read without a borrow: here user code
    // runs inside the trace, and it must find the cell borrowed (a mutable borrow would alias
    // the collector's read).
    assert!(!<RefCell<Prober> as Trace>::pure_trace());
    gencollect::set_full_scan(true);
    let a = Gc::new(Probed {
        cell: RefCell::new(Prober { handle: None }),
    });
    a.cell.borrow_mut().handle = Some(a.clone());
    PROBED.with(|p| *p.borrow_mut() = Some(a.clone()));
    PROBES.with(|r| r.borrow_mut().clear());
    assert_eq!(gencollect::collect(), 0);
    let probes = PROBES.with(|r| r.borrow().clone());
    assert!(!probes.is_empty(), "the count pass traced the object");
    assert!(probes.iter().all(|&borrowed| borrowed), "{probes:?}");
    // Let the cycle go: the self-reference, then the thread-local's handle.
    a.cell.borrow_mut().handle = None;
    PROBED.with(|p| *p.borrow_mut() = None);
    drop(a);
    gencollect::set_full_scan(false);
}

#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Small {
    other: RefCell<Option<Gc<Large>>>,
}

// The handle sits at another offset than in `Small`, so tracing one type as the other
// would read the wrong bytes.
#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
#[repr(C)]
struct Large {
    weight: [u64; 6],
    other: RefCell<Option<Gc<Small>>>,
}

#[test]
fn objects_of_interleaved_types_are_each_counted_as_their_own_type() {
    // The count pass traces, and the drop pass drops, runs of one type with a loop compiled
    // for it; a run must end at every change of type. Small and Large alternate in
    // generation 0, in garbage cycles and in live ones.
    gencollect::collect();
    let mut live = Vec::new();
    for i in 0..300 {
        let s = Gc::new(Small {
            other: RefCell::new(None),
        });
        let l = Gc::new(Large {
            other: RefCell::new(Some(s.clone())),
            weight: [i; 6],
        });
        *s.other.borrow_mut() = Some(l.clone());
        if i % 3 == 0 {
            live.push(s);
        }
    }
    // 200 garbage cycles of two objects; the 100 held ones survive, intact.
    assert_eq!(gencollect::collect_generation(0).unwrap(), 400);
    for (k, s) in live.iter().enumerate() {
        let l = s.other.borrow().clone().unwrap();
        assert_eq!(l.weight, [3 * k as u64; 6]);
        assert!(Gc::ptr_eq(l.other.borrow().as_ref().unwrap(), s));
    }
    assert_eq!(gencollect::collect(), 0);
    for s in &live {
        s.other.borrow_mut().take();
    }
}

/// A node of a garbage two-cycle (no drop bookkeeping: the test counts by `collect`).
struct Twin {
    other: RefCell<Option<Gc<Twin>>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Twin {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.other.trace(t);
    }
}

fn twin_cycles(n: usize) {
    for _ in 0..n {
        let a = Gc::new(Twin {
            other: RefCell::new(None),
        });
        let b = Gc::new(Twin {
            other: RefCell::new(Some(a.clone())),
        });
        *a.other.borrow_mut() = Some(b);
    }
}

#[test]
fn a_first_collection_that_finds_its_one_list_all_garbage_leaves_the_lists_whole() {
    // On a fresh thread the collector has no garbage buffer yet: a generation 0 that is all
    // garbage is handed over as it is. The victim, whose release a `Trace` impl queued during
    // the analysis, must go back to the list at a true index, where that release finds it;
    // objects made afterwards must take their places after it.
    std::thread::spawn(|| {
        gencollect::set_full_scan(true);
        let before = bytes();
        twin_cycles(20);
        victim_and_dropper_cycle();
        twin_cycles(20);
        assert_eq!(with_heap(|h| h.list_len(0)), 82);
        assert_eq!(gencollect::collect(), 82);
        assert_eq!(drops(), vec!["dropper", "victim"]);
        assert_eq!(bytes(), before, "every object's memory is back");
        assert_eq!(with_heap(|h| h.list_len(0)), 0);
        let live: Vec<Gc<Twin>> = (0..10)
            .map(|_| {
                Gc::new(Twin {
                    other: RefCell::new(None),
                })
            })
            .collect();
        let mut kept = Vec::new();
        for (i, g) in live.into_iter().enumerate() {
            if i % 3 == 1 {
                drop(g);
            } else {
                kept.push(g);
            }
        }
        let mut listed = with_heap(|h| h.list_snapshot(0));
        let mut expected: Vec<_> = kept.iter().map(Gc::as_obj).collect();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            listed, expected,
            "generation 0 holds exactly the live objects"
        );
        drop(kept);
        assert_eq!(with_heap(|h| h.list_len(0)), 0);
    })
    .join()
    .unwrap();
}
