//! Hostile use against the hand-over of a whole list as the collector's garbage list
//! (`Heap::doom_whole`): a thread's first collection that finds its one analysed list
//! (generation 0) all garbage trades that list's buffer with the collector's empty garbage
//! buffer, and puts back, at fresh indices, the objects whose release a `Trace` impl queued
//! by dropping their last handle during the analysis (breaking rule 3 of `Trace`). Here
//! such victims sit first, in the middle, last, everywhere but one place, and everywhere;
//! destructors of the victims and of the garbage allocate tracked objects (which land in
//! the swapped-in buffer), drop handles, re-enter the collector, use weak handles and
//! panic. Each collection must return the exact number of objects found, drop each value
//! once, count each death once (`Heap::tracked_totals`), give every byte back, and leave
//! each list holding exactly the live objects at the indices they record (checked by
//! dropping them in an order that swap-removes across the list, against a model). Later
//! collections of the same thread (the old path) and collections where another generation
//! is analysed too (no hand-over) must behave the same. Each scenario runs on a fresh
//! thread: the hand-over depends on the thread's collector buffers being new.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use refcount::engine::with_heap;
use refcount::{Gc, ObjPtr, Trace, Tracer, Weak};

/// What a destructor does, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// Allocates this many tracked objects, kept in `STASH` (tagged with the maker's id).
    Alloc(usize),
    /// Drops the oldest object of `STASH`.
    Unstash,
    /// Calls `collect` and `collect_generation(0)`, which must both find nothing.
    Reenter,
    /// A weak handle to a new object must upgrade; none to a watched object may.
    Weaken,
    /// Panics with this message.
    Panic(&'static str),
}

struct Obj {
    id: usize,
    links: RefCell<Vec<Gc<Obj>>>,
    /// Reported, then dropped, by the trace (breaking rule 3 of `Trace`).
    dropped_in_trace: RefCell<Vec<Gc<Obj>>>,
    /// How many more traces allocate a tracked object (kept in `STASH`): it joins the
    /// list being analysed, after the objects the analysis numbered.
    alloc_in_trace: Cell<usize>,
    acts: Vec<Act>,
}

// SAFETY: NOT sound by rule 3 when `dropped_in_trace` is not empty (the trace drops handles
// after reporting them): gcrt documents that the objects are then freed once, by their
// queued release, and this file holds it to that. Otherwise it reports what it owns, once
// (an object it allocates goes to `STASH`, which it does not own).
unsafe impl Trace for Obj {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.links.trace(t);
        self.dropped_in_trace.trace(t);
        let gone = core::mem::take(&mut *self.dropped_in_trace.borrow_mut());
        drop(gone);
        if self.alloc_in_trace.get() != 0 {
            self.alloc_in_trace.set(self.alloc_in_trace.get() - 1);
            run(Act::Alloc(1), self.id);
        }
    }
}

/// What the destructors' re-entrant calls and weak handles saw.
#[derive(Default, Clone, Debug, PartialEq)]
struct Log {
    reentered: usize,
    weak_fresh_upgraded: usize,
    /// Must stay 0: collections re-entered that found something, and watched objects that
    /// a weak handle brought back.
    wrong: usize,
}

thread_local! {
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
    /// Objects made by destructors, with the id of their maker.
    static STASH: RefCell<Vec<(usize, Gc<Obj>)>> = const { RefCell::new(Vec::new()) };
    /// Weak handles to every object `build` made (all garbage).
    static WATCH: RefCell<Vec<Weak<Obj>>> = const { RefCell::new(Vec::new()) };
    static LOG: RefCell<Log> = RefCell::new(Log::default());
}

impl Drop for Obj {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
        for &act in &self.acts {
            run(act, self.id);
        }
    }
}

fn run(act: Act, maker: usize) {
    match act {
        Act::Alloc(n) => {
            for _ in 0..n {
                let o = obj(Vec::new());
                STASH.with(|s| s.borrow_mut().push((maker, o)));
            }
        }
        Act::Unstash => {
            let gone = STASH.with(|s| {
                let mut s = s.borrow_mut();
                (!s.is_empty()).then(|| s.remove(0))
            });
            drop(gone);
        }
        Act::Reenter => {
            let found = (gencollect::collect(), gencollect::collect_generation(0));
            LOG.with(|l| {
                let mut l = l.borrow_mut();
                l.reentered += 1;
                l.wrong += usize::from(found != (0, Ok(0)));
            });
        }
        Act::Weaken => {
            let fresh = obj(Vec::new());
            let w = Gc::downgrade(&fresh);
            let up = w.upgrade().is_some_and(|u| Gc::ptr_eq(&u, &fresh));
            drop(fresh);
            let back = WATCH.with(|w| w.borrow().iter().filter(|w| w.upgrade().is_some()).count());
            LOG.with(|l| {
                let mut l = l.borrow_mut();
                l.weak_fresh_upgraded += usize::from(up && w.upgrade().is_none());
                l.wrong += back;
            });
        }
        Act::Panic(message) => panic!("{message}"),
    }
}

fn obj(acts: Vec<Act>) -> Gc<Obj> {
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    Gc::new(Obj {
        id,
        links: RefCell::new(Vec::new()),
        dropped_in_trace: RefCell::new(Vec::new()),
        alloc_in_trace: Cell::new(0),
        acts,
    })
}

/// Builds objects (in generation 0, in order) from `pattern`, one per character: `r` a
/// member of one garbage ring (the `r`s in order), `s` a victim whose own trace drops the
/// only handle to it, `v` a victim whose only handle the next `r` after it drops in its
/// trace. Victims hold a handle to the first `r`, so that their release touches the
/// garbage. Object `i`'s destructor does `acts(i)`. A weak handle to each goes to `WATCH`;
/// no strong handle is left. Returns the ids, in order.
fn build(pattern: &str, acts: impl Fn(usize) -> Vec<Act>) -> Vec<usize> {
    let objs: Vec<Gc<Obj>> = (0..pattern.len()).map(|i| obj(acts(i))).collect();
    let ring: Vec<usize> = pattern.match_indices('r').map(|(i, _)| i).collect();
    for (k, &i) in ring.iter().enumerate() {
        let next = objs[ring[(k + 1) % ring.len()]].clone();
        objs[i].links.borrow_mut().push(next);
    }
    for (i, c) in pattern.char_indices() {
        let holder = match c {
            'r' => continue,
            's' => i,
            'v' => *ring
                .iter()
                .find(|&&r| r > i)
                .expect("an `r` after each `v`"),
            _ => panic!("pattern character {c:?}"),
        };
        if let Some(&first) = ring.first() {
            objs[i].links.borrow_mut().push(objs[first].clone());
        }
        objs[holder]
            .dropped_in_trace
            .borrow_mut()
            .push(objs[i].clone());
    }
    WATCH.with(|w| w.borrow_mut().extend(objs.iter().map(Gc::downgrade)));
    objs.iter().map(|o| o.id).collect()
}

/// `n` ring members, with the characters `at` put at their positions.
fn pattern(n: usize, at: &[(usize, char)]) -> String {
    let mut p = vec!['r'; n];
    for &(i, c) in at {
        p[i] = c;
    }
    p.into_iter().collect()
}

/// The ids of the victims of a pattern built by `build` after `first_id`.
fn victims(pattern: &str, first_id: usize) -> Vec<usize> {
    pattern
        .char_indices()
        .filter(|&(_, c)| c != 'r')
        .map(|(i, _)| first_id + i)
        .collect()
}

fn next_id() -> usize {
    NEXT_ID.with(Cell::get) + 1
}

fn list(l: usize) -> Vec<ObjPtr> {
    with_heap(|h| h.list_snapshot(l))
}

fn sorted(mut v: Vec<ObjPtr>) -> Vec<ObjPtr> {
    v.sort_unstable();
    v
}

fn bytes() -> usize {
    with_heap(|h| h.bytes_in_use())
}

fn totals() -> (u64, u64) {
    with_heap(|h| h.tracked_totals())
}

fn log() -> Log {
    LOG.with(|l| l.borrow().clone())
}

fn take_stash() -> Vec<(usize, Gc<Obj>)> {
    STASH.with(|s| core::mem::take(&mut *s.borrow_mut()))
}

/// The stashed objects made by destructors of `makers` (or of the others, with `!of`).
fn made_by(stash: &[(usize, Gc<Obj>)], makers: &[usize], of: bool) -> Vec<ObjPtr> {
    let objs = stash.iter().filter(|(m, _)| makers.contains(m) == of);
    sorted(objs.map(|(_, h)| Gc::as_obj(h)).collect())
}

/// Runs `scenario` on a new thread (new collector buffers), automatic collections off and
/// every full collection analysing every object (each object traced once).
fn fresh(scenario: impl FnOnce() + Send + 'static) {
    let done = std::thread::spawn(move || {
        gencollect::disable();
        gencollect::set_full_scan(true);
        scenario();
    })
    .join();
    if let Err(panic) = done {
        std::panic::resume_unwind(panic);
    }
}

/// What a scenario started from: it must end there.
struct Start {
    bytes: usize,
    totals: (u64, u64),
}

impl Start {
    fn now() -> Start {
        assert!((0..3).all(|l| list(l).is_empty()));
        Start {
            bytes: bytes(),
            totals: totals(),
        }
    }

    /// Tracked objects allocated and not dead since the start, by the heap's totals.
    fn live(&self) -> u64 {
        let (a, f) = totals();
        (a - self.totals.0) - (f - self.totals.1)
    }

    /// Everything is gone: each value dropped once, each death counted once, every list
    /// empty, no weak handle upgrades; once the weak handles go, every byte is back.
    fn finish(&self) {
        dropped_all_but(&[]);
        assert_eq!(self.live(), 0, "every death counted once");
        assert!((0..3).all(|l| list(l).is_empty()));
        let watched = WATCH.with(|w| core::mem::take(&mut *w.borrow_mut()));
        assert!(watched.iter().all(|w| w.upgrade().is_none()));
        drop(watched);
        assert_eq!(bytes(), self.bytes, "every object's memory is back");
        assert_eq!(log().wrong, 0);
    }
}

/// Every object made on this thread was dropped exactly once, but those of `live`, which
/// were not.
fn dropped_all_but(live: &[usize]) {
    let mut ids = DROPPED.with(|d| d.borrow().clone());
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a value was dropped twice");
    let expected: Vec<usize> = (1..next_id()).filter(|i| !live.contains(i)).collect();
    assert_eq!(ids, expected, "exactly the dead values were dropped");
}

/// The live tracked objects are `live` (the others, and `stash`): the three lists hold
/// exactly them, and the heap's totals count exactly them alive.
fn lists_hold_exactly(start: &Start, live: &[Gc<Obj>], stash: &[(usize, Gc<Obj>)]) {
    let mut objs: Vec<ObjPtr> = live.iter().map(Gc::as_obj).collect();
    objs.extend(stash.iter().map(|(_, h)| Gc::as_obj(h)));
    let listed: Vec<ObjPtr> = (0..3).flat_map(list).collect();
    assert_eq!(
        sorted(listed),
        sorted(objs.clone()),
        "the lists hold the live"
    );
    assert_eq!(start.live(), objs.len() as u64, "each death counted once");
    let mut ids: Vec<usize> = live.iter().map(|h| h.id).collect();
    ids.extend(stash.iter().map(|(_, h)| h.id));
    dropped_all_but(&ids);
}

/// Drops the only handles `handles` in an order that crosses their lists back and forth:
/// each object leaves its list at the index it records (a swap removal), so that after each
/// drop every list is exactly its model.
fn drop_in_stride(handles: Vec<Gc<Obj>>) {
    let n = handles.len();
    let stride = [7, 11, 13]
        .into_iter()
        .find(|&s| !n.is_multiple_of(s))
        .unwrap();
    let mut models: Vec<Vec<ObjPtr>> = (0..3).map(list).collect();
    let mut handles: Vec<Option<Gc<Obj>>> = handles.into_iter().map(Some).collect();
    for step in 0..n {
        let i = step * stride % n;
        let h = handles[i].take().unwrap();
        assert_eq!(Gc::ref_count(&h), 1, "object {i}: the only handle");
        let (obj, g) = (Gc::as_obj(&h), gencollect::get_generation(&h).unwrap());
        drop(h);
        let pos = models[g].iter().position(|&o| o == obj).expect("listed");
        models[g].swap_remove(pos);
        for (l, model) in models.iter().enumerate() {
            assert_eq!(&list(l), model, "list {l} after dropping object {i}");
        }
    }
}

/// New objects in the generation 0 the hand-over left (its buffer was the garbage
/// buffer's), then every stashed object, dropped across their lists.
fn new_objects_take_true_places(n: usize) {
    let young: Vec<Gc<Obj>> = (0..n).map(|_| obj(Vec::new())).collect();
    let stash = take_stash().into_iter().map(|(_, h)| h);
    drop_in_stride(young.into_iter().chain(stash).collect());
}

/// One first collection of `pattern`: every victim and every fifth ring member allocates an
/// object when dropped. The victims' objects are made when their queued releases run, right
/// after the analysis: promoted to generation 2 with the survivors; the garbage's are made
/// in generation 0.
fn first_collection_of(pattern: &str) {
    let start = Start::now();
    let first = next_id();
    let n = pattern.len();
    let makes = |i: usize| pattern.as_bytes()[i] != b'r' || i.is_multiple_of(5);
    let ids = build(pattern, |i| vec![Act::Alloc(usize::from(makes(i)))]);
    let victims = victims(pattern, first);
    assert_eq!(list(0).len(), n);

    assert_eq!(gencollect::collect(), n, "{pattern}: every object found");

    let stash = take_stash();
    let mut makers: Vec<usize> = stash.iter().map(|&(m, _)| m).collect();
    makers.sort_unstable();
    let expected: Vec<usize> = (0..n).filter(|&i| makes(i)).map(|i| ids[i]).collect();
    assert_eq!(makers, expected, "{pattern}: each destructor ran once");
    lists_hold_exactly(&start, &[], &stash);
    assert_eq!(
        sorted(list(2)),
        made_by(&stash, &victims, true),
        "{pattern}"
    );
    assert_eq!(
        sorted(list(0)),
        made_by(&stash, &victims, false),
        "{pattern}"
    );
    assert!(list(1).is_empty());
    assert!(WATCH.with(|w| w.borrow().iter().all(|w| w.upgrade().is_none())));
    STASH.with(|s| *s.borrow_mut() = stash);
    new_objects_take_true_places(10);
    start.finish();
}

/// Victims first, in the middle, last, at all three (one dropped by a later ring member),
/// everywhere but one place, everywhere, and every other place (dropped by the next):
/// each goes back to generation 0 at a true index, where its release finds it.
/// Mutations caught: (a) wrong index, (b) victims left in the garbage buffer, (c) deaths
/// not counted (all patterns but the all-victims one).
#[test]
fn victims_anywhere_in_a_first_all_garbage_generation_0_go_back_at_true_indices() {
    const N: usize = 40;
    let mut all_but_one = vec!['s'; N];
    all_but_one[N / 2] = 'r';
    let patterns = [
        pattern(N, &[(0, 's')]),
        pattern(N, &[(N / 2, 's')]),
        pattern(N, &[(N - 1, 's')]),
        pattern(N, &[(0, 's'), (N / 2, 'v'), (N - 1, 's')]),
        all_but_one.into_iter().collect(),
        "s".repeat(N),
        "vr".repeat(N / 2),
    ];
    for p in patterns {
        fresh(move || first_collection_of(&p));
    }
}

/// The acts of test `hostile_destructors...`: victims allocate, re-enter and weaken; ring
/// members, in turn, allocate two, drop the oldest stashed object, re-enter and weaken, or
/// do nothing.
fn hostile_acts(pattern: &str, i: usize) -> Vec<Act> {
    if pattern.as_bytes()[i] != b'r' {
        return vec![Act::Alloc(1), Act::Reenter, Act::Weaken];
    }
    match i % 4 {
        0 => vec![Act::Alloc(2)],
        1 => vec![Act::Unstash],
        2 => vec![Act::Reenter, Act::Weaken],
        _ => Vec::new(),
    }
}

/// Destructors of a handed-over generation 0 (victims' run right after the analysis,
/// the garbage's from the swapped buffer) allocate tracked objects into the list that just
/// got the garbage buffer's old one, drop stashed objects (which leave their lists by
/// index), re-enter the collector (which finds nothing) and upgrade weak handles (to new
/// objects: yes; to any object of the garbage: no). Counts, drops and places exact.
/// Mutations caught: (a), (b), (c).
#[test]
fn hostile_destructors_of_a_handed_over_generation_allocate_release_reenter_and_weaken() {
    fresh(|| {
        const N: usize = 48;
        let start = Start::now();
        let first = next_id();
        let p = pattern(N, &[(0, 's'), (N / 2 - 1, 'v'), (N - 1, 's')]);
        build(&p, |i| hostile_acts(&p, i));
        let victims = victims(&p, first);
        let acts: Vec<Act> = (0..N).flat_map(|i| hostile_acts(&p, i)).collect();
        let count = |a: Act| acts.iter().filter(|&&b| b == a).count();
        let made_total = count(Act::Alloc(1)) + 2 * count(Act::Alloc(2));

        assert_eq!(gencollect::collect(), N);

        assert_eq!(
            log(),
            Log {
                reentered: count(Act::Reenter),
                weak_fresh_upgraded: count(Act::Weaken),
                wrong: 0,
            }
        );
        let stash = take_stash();
        assert_eq!(stash.len(), made_total - count(Act::Unstash));
        lists_hold_exactly(&start, &[], &stash);
        // Made while the victims were released (before the promotion) or by the garbage.
        assert_eq!(sorted(list(2)), made_by(&stash, &victims, true));
        assert_eq!(sorted(list(0)), made_by(&stash, &victims, false));
        assert!(list(1).is_empty());
        STASH.with(|s| *s.borrow_mut() = stash);
        new_objects_take_true_places(12);
        start.finish();
    });
}

/// Ring members at the first, middle and last places of a handed-over generation 0, and a
/// victim, panic in their destructors (after allocating): the collection reports the
/// victim's panic (the first: its release runs before any garbage is dropped), every other
/// destructor still runs, once; the thread's next collection (the old path) is exact too.
/// Mutations caught: (a), (b), (c).
#[test]
fn panicking_destructors_of_a_handed_over_generation_each_run_once() {
    fresh(|| {
        const N: usize = 40;
        let start = Start::now();
        let first = next_id();
        let p = pattern(N, &[(1, 's'), (N - 2, 's')]);
        build(&p, |i| match i {
            1 => vec![Act::Alloc(1), Act::Panic("victim")],
            0 | 20 | 39 => vec![Act::Alloc(1), Act::Panic("garbage")],
            _ => Vec::new(),
        });
        let victims = victims(&p, first);

        let panic = catch_unwind(AssertUnwindSafe(gencollect::collect)).unwrap_err();

        let message = panic.downcast_ref::<String>().map(String::as_str);
        assert_eq!(message, Some("victim"), "the first panic is resumed");
        let stash = take_stash();
        assert_eq!(stash.len(), 4, "each destructor ran once");
        lists_hold_exactly(&start, &[], &stash);
        assert_eq!(sorted(list(2)), made_by(&stash, &victims, true));
        assert_eq!(sorted(list(0)), made_by(&stash, &victims, false));
        STASH.with(|s| *s.borrow_mut() = stash);
        new_objects_take_true_places(9);
        start.finish();
        // Again, with a buffer large enough now: the old path.
        let p = pattern(30, &[(0, 's'), (29, 's')]);
        build(&p, |i| {
            if i == 7 {
                vec![Act::Panic("again")]
            } else {
                Vec::new()
            }
        });
        let panic = catch_unwind(AssertUnwindSafe(gencollect::collect)).unwrap_err();
        assert_eq!(
            panic.downcast_ref::<String>().map(String::as_str),
            Some("again")
        );
        assert_eq!(gencollect::collect(), 0);
        start.finish();
    });
}

/// Three collections on one thread: the first hands its generation 0 over; the second,
/// smaller, fits the garbage buffer it got (the old path); the third, larger than that
/// buffer, hands over again. Each with victims at both ends and in the middle, destructors
/// that allocate, and the places of everything left checked: all exact.
/// Mutations caught: (a), (b), (c).
#[test]
fn a_second_and_third_collection_on_the_same_thread_are_as_exact() {
    fresh(|| {
        let start = Start::now();
        let mut weakened = 0;
        for (round, n) in [40, 12, 90].into_iter().enumerate() {
            let first = next_id();
            let p = pattern(n, &[(0, 's'), (n / 2, 'v'), (n - 1, 's')]);
            build(&p, |i| {
                if i % 3 == 0 {
                    vec![Act::Alloc(1), Act::Weaken]
                } else {
                    Vec::new()
                }
            });
            let victims = victims(&p, first);
            let made = (0..n).filter(|i| i % 3 == 0).count();
            assert_eq!(gencollect::collect(), n, "round {round}");
            let stash = take_stash();
            assert_eq!(stash.len(), made, "round {round}");
            lists_hold_exactly(&start, &[], &stash);
            assert_eq!(sorted(list(2)), made_by(&stash, &victims, true));
            assert_eq!(sorted(list(0)), made_by(&stash, &victims, false));
            weakened += made;
            assert_eq!(log().weak_fresh_upgraded, weakened, "round {round}");
            STASH.with(|s| *s.borrow_mut() = stash);
            new_objects_take_true_places(5 + round);
            start.finish();
            assert_eq!(gencollect::collect(), 0, "round {round}: nothing left");
        }
    });
}

/// `n` objects promoted to generation 1 by a collection of generation 0 that finds no
/// garbage (and so leaves the garbage buffer without capacity).
fn generation_1(n: usize) -> Vec<Gc<Obj>> {
    let old: Vec<Gc<Obj>> = (0..n).map(|_| obj(Vec::new())).collect();
    let order = list(0);
    assert_eq!(gencollect::collect_generation(0), Ok(0));
    assert_eq!(list(1), order);
    old
}

/// A full collection of an all-garbage generation 0 (victims included) beside a generation
/// 1 of survivors and garbage, on a thread's first collection with garbage: two lists hold
/// garbage, so generation 0 is not handed over (its garbage follows generation 1's in the
/// garbage buffer). Exact all the same. Mutation caught: (e) the hand-over taken whatever
/// the buffer holds (`if (0..src.len()).all(&mut garbage)`): generation 1's garbage is lost.
#[test]
fn generation_0_all_garbage_beside_garbage_in_generation_1_is_not_handed_over_and_exact() {
    fresh(|| {
        const N: usize = 40;
        let start = Start::now();
        let survivors = generation_1(10);
        // A ring of 10 held from here, promoted, then let go: garbage in generation 1.
        let first = next_id();
        build(&"r".repeat(10), |i| vec![Act::Alloc(usize::from(i == 4))]);
        let held: Vec<Gc<Obj>> =
            WATCH.with(|w| w.borrow().iter().map(|w| w.upgrade().unwrap()).collect());
        assert_eq!(gencollect::collect_generation(0), Ok(0));
        assert_eq!(list(1).len(), 20);
        drop(held);
        let old_ring: Vec<usize> = (first..first + 10).collect();
        let first = next_id();
        let p = pattern(N, &[(0, 's'), (N / 2, 'v'), (N - 1, 's')]);
        build(&p, |i| {
            vec![Act::Alloc(usize::from(p.as_bytes()[i] != b'r' || i == 9))]
        });
        let victims = victims(&p, first);

        assert_eq!(gencollect::collect(), N + 10);

        let stash = take_stash();
        assert_eq!(stash.len(), 5);
        lists_hold_exactly(&start, &survivors, &stash);
        let mut in_2 = made_by(&stash, &victims, true);
        in_2.extend(survivors.iter().map(Gc::as_obj));
        assert_eq!(sorted(list(2)), sorted(in_2));
        let garbage_made: Vec<usize> = old_ring.iter().copied().chain([first + 9]).collect();
        assert_eq!(sorted(list(0)), made_by(&stash, &garbage_made, true));
        assert!(list(1).is_empty());
        drop_in_stride(survivors);
        STASH.with(|s| *s.borrow_mut() = stash);
        new_objects_take_true_places(7);
        start.finish();
    });
}

/// A thread's first collection of generation 0 alone, all garbage (victims included),
/// after a generation 1 of survivors that it does not analyse: handed over; the objects
/// the victims' destructors made are promoted after generation 1's, in order; every
/// object then leaves its list at its index. Mutations caught: (a), (b), (c).
#[test]
fn a_first_collection_of_generation_0_alone_hands_it_over_beside_a_live_generation_1() {
    fresh(|| {
        const N: usize = 40;
        let start = Start::now();
        let old = generation_1(15);
        let old_order = list(1);
        let first = next_id();
        let p = pattern(N, &[(0, 'v'), (N / 3, 's'), (N - 1, 's')]);
        build(&p, |i| {
            vec![Act::Alloc(usize::from(
                p.as_bytes()[i] != b'r' || i % 7 == 0,
            ))]
        });
        let victims = victims(&p, first);

        assert_eq!(gencollect::collect_generation(0), Ok(N));

        let stash = take_stash();
        lists_hold_exactly(&start, &old, &stash);
        let l1 = list(1);
        assert_eq!(l1[..15], old_order[..], "generation 1 first, in order");
        assert_eq!(sorted(l1[15..].to_vec()), made_by(&stash, &victims, true));
        assert_eq!(sorted(list(0)), made_by(&stash, &victims, false));
        STASH.with(|s| *s.borrow_mut() = stash);
        drop_in_stride(old);
        new_objects_take_true_places(11);
        start.finish();
    });
}

/// Strong handles to every watched object, still alive.
fn hold_watched() -> Vec<Gc<Obj>> {
    WATCH.with(|w| w.borrow().iter().map(|w| w.upgrade().unwrap()).collect())
}

/// A thread's first collection with garbage finds it all in generation 2 (promoted there
/// by a full collection that found none), with two victims armed after the promotion, at
/// the ends: generation 2's list is handed over; the victims go back to it at true
/// indices; the victims' objects follow into generation 2. Then, on another fresh thread,
/// a full collection restricted to what dirty objects reach (no victims: a restricted
/// collection traces twice) hands generation 2 over too. Mutations caught: (a), (b), (c).
#[test]
fn an_all_garbage_generation_2_is_handed_over_too() {
    for restricted in [false, true] {
        fresh(move || {
            const N: usize = 36;
            gencollect::set_full_scan(!restricted);
            let start = Start::now();
            let first = next_id();
            let ends: &[_] = if restricted {
                &[]
            } else {
                &[(0, 's'), (N - 1, 's')]
            };
            let p = pattern(N, ends);
            build(&p, |i| vec![Act::Alloc(usize::from(i % 6 == 0))]);
            let held = hold_watched();
            assert_eq!(gencollect::collect(), 0, "all held");
            assert_eq!(list(2).len(), N);
            let victims = if restricted {
                Vec::new()
            } else {
                victims(&p, first)
            };
            for &v in &victims {
                let h = &held[v - first];
                h.dropped_in_trace.borrow_mut().push(h.clone());
            }
            drop(held);

            assert_eq!(gencollect::collect(), N, "restricted: {restricted}");

            let stash = take_stash();
            assert_eq!(stash.len(), 6);
            lists_hold_exactly(&start, &[], &stash);
            assert_eq!(sorted(list(2)), made_by(&stash, &victims, true));
            assert_eq!(sorted(list(0)), made_by(&stash, &victims, false));
            STASH.with(|s| *s.borrow_mut() = stash);
            new_objects_take_true_places(8);
            start.finish();
        });
    }
}

/// A `Trace` impl allocates a tracked object during the analysis of an all-garbage
/// generation 0 (victims included, on a thread's first collection): the new object joins
/// the list after those the analysis numbered, so the list is not all garbage and is not
/// handed over (the garbage buffer grows as it fills). The new object survives, promoted;
/// everything else is exact. Mutation caught: (f) the hand-over without the all-garbage
/// test (`if out.is_empty() && out.capacity() < src.len()`): the new object is dropped
/// while still held.
#[test]
fn an_object_allocated_by_a_trace_stops_the_hand_over_and_survives() {
    fresh(|| {
        const N: usize = 40;
        let start = Start::now();
        let p = pattern(N, &[(0, 's'), (N / 2, 's'), (N - 1, 's')]);
        let ids = build(&p, |_| Vec::new());
        let tracer = hold_watched().swap_remove(N / 3);
        tracer.alloc_in_trace.set(1);
        drop(tracer);

        assert_eq!(gencollect::collect(), N);

        let stash = take_stash();
        assert_eq!(stash.len(), 1);
        assert_eq!(stash[0].0, ids[N / 3], "made by the trace");
        lists_hold_exactly(&start, &[], &stash);
        assert_eq!(list(2), vec![Gc::as_obj(&stash[0].1)], "promoted");
        assert!(list(0).is_empty() && list(1).is_empty());
        STASH.with(|s| *s.borrow_mut() = stash);
        new_objects_take_true_places(6);
        start.finish();
    });
}
