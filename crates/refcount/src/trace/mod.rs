//! The [`Trace`] trait: how the collector learns which [`Gc`] handles a value owns, and the
//! [`Tracer`] that carries them to a [`Visitor`] or the collector's count pass. Its impls for
//! the standard library's types are in `impls`.

use crate::edges::EdgeCounter;
use crate::gc::Gc;
use crate::header::{ObjPtr, flags};

/// Visits every strong [`Gc`] handle a value owns.
///
/// The collector finds garbage cycles by comparing each object's reference count with the
/// number of references it can see from inside the collected set, and those it sees through
/// `trace`. `#[derive(Trace)]` writes a correct implementation for any struct or enum whose
/// fields implement `Trace`; gcrt implements it for the standard types people put in graphs.
///
/// # Safety
///
/// An implementation must uphold five rules. The derive upholds all five.
///
/// 1. **Never report a handle the value does not own.** Each `Gc` passed to
///    [`Tracer::visit`] must be stored inside `self` (directly or behind owned indirection
///    such as `Box`, `Vec` or `RefCell`), and each one at most once per call (a handle
///    reported `n` times through [`Tracer::visit_times`] counts as `n` handles; an override
///    of [`repeats`](Trace::repeats) or [`trace_repeated`](Trace::trace_repeated) must keep
///    to what `trace` reports). Over-reporting makes the collector believe an object is referenced only from garbage
///    when it is in fact referenced from outside, and the collector would then drop a live
///    value.
/// 2. **Report the same handles on every call while no user code runs in between.** The
///    collector may trace an object again (twice in one full collection: once to find what
///    dirty objects reach, once to count; after finalizers run; in a later collection) and
///    relies on the answers describing the value as it is.
/// 3. **Do not drop, replace or keep handles inside `trace`.** Allocating, panicking and
///    cloning a handle that is dropped again before `trace` returns are all allowed: the
///    collector defers frees while it traces and survives panics. A clone kept past the call
///    (stored in a thread-local, say) is a reference the count pass may not see: the object
///    can then be collected while the clone lives, which leaves the clone a dead handle
///    (dereferencing it panics), never a dangling one.
/// 4. **Answer [`needs_trace`](Trace::needs_trace) the same way every time.** Whether an
///    object carries the tracking extension is decided from it when the object is created,
///    and the heap and the collector rely on the answer when they read the object later.
/// 5. **Answer [`pure_trace`](Trace::pure_trace) `true` only if `trace` runs nothing but
///    [`Tracer`] methods and the `trace` of values whose types answer `true` as well.**
///    A `RefCell` holding such a value is read without taking a borrow while the collector
///    counts references; any other code running then could borrow it mutably.
///
/// Reporting *fewer* handles than the value owns is always memory-safe: the missing
/// references look like references from outside, so their targets are kept alive. The only
/// cost is that a cycle running through an unreported handle is never collected (a leak).
/// [`Tracer::mark_opaque`] is the explicit form of this: a value that cannot be read right now
/// (a mutably borrowed `RefCell`) makes its object count as referenced from outside.
///
/// # Examples
///
/// ```
/// use core::cell::RefCell;
/// use refcount::{Gc, Trace, Tracer};
///
/// struct Node {
///     name: String,
///     next: RefCell<Option<Gc<Node>>>,
/// }
///
/// // SAFETY: reports exactly the one handle `next` may own.
/// unsafe impl Trace for Node {
///     fn trace(&self, tracer: &mut Tracer<'_>) {
///         self.next.trace(tracer);
///     }
/// }
///
/// let a = Gc::new(Node { name: "a".into(), next: RefCell::new(None) });
/// assert_eq!(a.name, "a");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`",
    label = "`{Self}` does not implement `Trace`",
    note = "a field that holds no `Gc` can be left out of tracing with `#[trace(skip)]`",
    note = "or implement it: `#[derive(Trace)]` on `{Self}`, or `unsafe impl Trace` by hand"
)]
pub unsafe trait Trace {
    /// Reports every strong [`Gc`] owned by `self` to `tracer`, each exactly once.
    fn trace(&self, tracer: &mut Tracer<'_>);

    /// Whether a value of this type can hold a [`Gc`] at all.
    ///
    /// `false` means the type is *atomic*, like CPython's ints and strings: its objects are
    /// never tracked by the cycle collector and carry the short 16-byte header. The default,
    /// `true`, is always safe; answering `false` for a type that can hold a `Gc` only means
    /// cycles through it leak. Implementations combine their fields' answers, which the
    /// compiler folds to a constant.
    ///
    /// ```
    /// use refcount::{Gc, Trace};
    /// assert!(!<String as Trace>::needs_trace());
    /// assert!(!<Vec<(u8, char)> as Trace>::needs_trace());
    /// assert!(<Option<Gc<u32>> as Trace>::needs_trace());
    /// ```
    #[inline(always)]
    fn needs_trace() -> bool
    where
        Self: Sized,
    {
        true
    }

    /// Whether the handles a value reports can change only through `&mut` access: no
    /// interior mutability (`Cell`, `RefCell`) on the way to them.
    ///
    /// Objects of such a type are like CPython's tuples: when every object one of them
    /// references is untracked at creation, it can never become part of a cycle, so
    /// [`Gc::new`] does not track it (it costs the collector nothing and does not count
    /// toward the thresholds). [`Gc::get_mut`] tracks it again, since `&mut` access can
    /// change its handles. The default, `false`, is always safe; answering `true` wrongly
    /// only means cycles through the type may leak.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::{Gc, Trace};
    /// assert!(<Option<Gc<u8>> as Trace>::frozen());
    /// assert!(!<RefCell<Option<Gc<u8>>> as Trace>::frozen());
    /// ```
    #[inline(always)]
    fn frozen() -> bool
    where
        Self: Sized,
    {
        false
    }

    /// Asks the CPU to start loading the objects this value's handles point to: a hint that
    /// `Vec`, slices and arrays give a few elements ahead while they are traced, so that a
    /// large collection of handles does not wait on memory for each one. The default does
    /// nothing, which is always correct; `Gc` and `Option` implement it.
    ///
    /// ```
    /// use refcount::{Gc, Trace};
    /// let a = Gc::new(1u8);
    /// a.prefetch_referents(); // no visible effect
    /// ```
    #[inline(always)]
    fn prefetch_referents(&self) {}

    /// Whether this value reports the same handles as `prev`, the item before it in a
    /// slice: then slices trace a run of such items with one
    /// [`trace_repeated`](Trace::trace_repeated) call. The default, `false`, is always
    /// correct; `Gc` answers whether both point to one object. An override answers `true`
    /// only when both values report exactly the same handles: a wrong `true` reports the
    /// first item's handles in place of the others', which breaks rule 1 of the trait.
    ///
    /// ```
    /// use refcount::{Gc, Trace};
    /// let a = Gc::new(1u8);
    /// assert!(a.clone().repeats(&a));
    /// assert!(!Gc::new(1u8).repeats(&a));
    /// ```
    #[inline(always)]
    fn repeats(&self, prev: &Self) -> bool
    where
        Self: Sized,
    {
        let _ = prev;
        false
    }

    /// Reports what `times` calls of [`trace`](Trace::trace) report (the default makes them),
    /// no more (rule 1); `Gc` reports its handle `times` times at once
    /// ([`Tracer::visit_times`]).
    ///
    /// ```
    /// use refcount::{Gc, ObjPtr, Trace, Tracer, Visitor};
    /// struct Count(usize);
    /// impl Visitor for Count { fn visit(&mut self, _: ObjPtr) { self.0 += 1 } }
    /// let a = Gc::new(1u8);
    /// let mut count = Count(0);
    /// vec![a.clone(), a.clone(), a].trace(&mut Tracer::new(&mut count));
    /// assert_eq!(count.0, 3); // every handle is still reported
    /// ```
    #[inline(always)]
    fn trace_repeated(&self, times: usize, tracer: &mut Tracer<'_>)
    where
        Self: Sized,
    {
        for _ in 0..times {
            self.trace(tracer);
        }
    }

    /// Whether `trace` runs only gcrt's own code: [`Tracer`] methods and the `trace` of
    /// values whose types answer `true` too (rule 5 of the trait's safety contract).
    ///
    /// `RefCell<T>` uses the answer for `T`: while the collector counts references it then
    /// reads the contents without taking a borrow. Taking one writes the borrow flag, so a
    /// collection would write to the memory of every object it traces. The default, `false`,
    /// is always safe; gcrt's own implementations and `#[derive(Trace)]` answer for you.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::{Gc, Trace};
    /// assert!(<RefCell<Option<Gc<u8>>> as Trace>::pure_trace());
    /// assert!(!<Box<u8> as Trace>::pure_trace()); // `Box` keeps the default
    /// ```
    #[inline(always)]
    fn pure_trace() -> bool
    where
        Self: Sized,
    {
        false
    }

    /// How many blocks of dead objects of this type the heap keeps for its next objects: a
    /// per-type free list, as CPython keeps for floats (100), lists (80) and dicts (80).
    ///
    /// A type whose objects are created and dropped at a high rate can ask for one; its
    /// blocks then skip the allocator, and [`free_list_stats`](crate::free_list_stats)
    /// reports how many allocations the list served. Full collections empty every list. The
    /// default, 0, means no free list; the capacity is capped at
    /// [`MAX_FREE_LIST`](crate::MAX_FREE_LIST). `#[derive(Trace)]` sets it with
    /// `#[trace(free_list = N)]`.
    ///
    /// ```
    /// use refcount::{Gc, Trace, Tracer};
    /// struct Token(u32);
    /// // SAFETY: holds no handle.
    /// unsafe impl Trace for Token {
    ///     fn trace(&self, _: &mut Tracer<'_>) {}
    ///     fn free_list() -> usize { 64 }
    /// }
    /// assert_eq!(<Token as Trace>::free_list(), 64);
    /// assert_eq!(<u32 as Trace>::free_list(), 0);
    /// ```
    #[inline(always)]
    fn free_list() -> usize
    where
        Self: Sized,
    {
        0
    }
}

/// What a [`Tracer`] does with each reported handle; implemented by the collector.
///
/// This is the collector-facing side of tracing. User code implements [`Trace`] and never
/// needs this trait, except to inspect a value's edges in tests.
///
/// ```
/// use refcount::{Gc, ObjPtr, Trace, Tracer, Visitor};
///
/// struct Count(usize);
/// impl Visitor for Count {
///     fn visit(&mut self, _obj: ObjPtr) {
///         self.0 += 1;
///     }
/// }
///
/// let a = Gc::new(1u8);
/// let pair = (a.clone(), Some(a.clone()));
/// let mut count = Count(0);
/// pair.trace(&mut Tracer::new(&mut count));
/// assert_eq!(count.0, 2);
/// ```
pub trait Visitor {
    /// Called once per strong handle reported.
    fn visit(&mut self, obj: ObjPtr);

    /// Called when part of the value could not be read; see [`Tracer::mark_opaque`].
    fn opaque(&mut self) {}

    /// The handles reported from now until the matching [`leave`](Visitor::leave) are those
    /// of the field (or part) called `label` ([`Tracer::labeled`]); labels nest. The default
    /// ignores it. Inspection uses it to name edges (`gc::dump_dot`).
    fn enter(&mut self, _label: &'static str) {}

    /// Ends the innermost label given to [`enter`](Visitor::enter).
    fn leave(&mut self) {}
}

/// The argument of [`Trace::trace`]: receives the handles a value reports.
///
/// ```
/// use refcount::{Gc, ObjPtr, Trace, Tracer, Visitor};
///
/// struct Collect(Vec<ObjPtr>);
/// impl Visitor for Collect {
///     fn visit(&mut self, obj: ObjPtr) {
///         self.0.push(obj);
///     }
/// }
///
/// let a = Gc::new(7i64);
/// let v = vec![a.clone()];
/// let mut seen = Collect(Vec::new());
/// v.trace(&mut Tracer::new(&mut seen));
/// assert_eq!(seen.0, vec![Gc::as_obj(&a)]);
/// ```
pub struct Tracer<'a> {
    sink: Sink<'a>,
}

/// Where a tracer sends handles: any visitor, or the collector's edge counter, whose code is
/// then inlined into every `Trace` impl (no indirect call per edge).
enum Sink<'a> {
    Visitor(&'a mut dyn Visitor),
    Counter(&'a mut EdgeCounter),
    /// A counter built [`EdgeCounter::with_remap`]: chosen once per tracer, not per handle.
    Remap(&'a mut EdgeCounter),
    /// The check a new object of a frozen type makes (whether everything it holds is
    /// untracked): cleared at the first handle to an object that is or may become tracked.
    Untracked(&'a mut bool),
}

impl<'a> Tracer<'a> {
    /// Creates a tracer that forwards every reported handle to `visitor`.
    #[inline]
    pub fn new(visitor: &'a mut dyn Visitor) -> Tracer<'a> {
        Tracer {
            sink: Sink::Visitor(visitor),
        }
    }

    /// A tracer feeding an edge counter ([`EdgeCounter::tracer`]).
    #[inline(always)]
    pub(crate) fn counting(counter: &'a mut EdgeCounter) -> Tracer<'a> {
        Tracer {
            sink: if counter.remapping() {
                Sink::Remap(counter)
            } else {
                Sink::Counter(counter)
            },
        }
    }

    /// A tracer that clears `all` at the first handle to an object that is tracked or may
    /// become so (and at [`mark_opaque`](Self::mark_opaque)): the check a new object makes
    /// to stay untracked, inlined into each `Trace` impl instead of a call per handle.
    #[inline(always)]
    pub(crate) fn untracked_check(all: &'a mut bool) -> Tracer<'a> {
        Tracer {
            sink: Sink::Untracked(all),
        }
    }

    /// Reports one strong handle owned by the value being traced.
    #[inline]
    pub fn visit<T: ?Sized>(&mut self, gc: &Gc<T>) {
        let obj = Gc::as_obj(gc);
        // SAFETY: the handle holds the object's memory.
        let has_ext = || unsafe { obj.has_ext() };
        match &mut self.sink {
            // An object without the extension is never tracked, so never in the counted set.
            Sink::Counter(c) if has_ext() => {
                // SAFETY: the handle holds the object, which has an extension.
                unsafe { c.visit_ext(obj) }
            }
            Sink::Remap(c) if has_ext() => {
                // SAFETY: as above.
                unsafe { c.visit_ext_remapped(obj) }
            }
            Sink::Counter(_) | Sink::Remap(_) => {}
            Sink::Visitor(v) => v.visit(obj),
            Sink::Untracked(all) => {
                // SAFETY: the handle holds the object's memory.
                let f = unsafe { obj.flags() };
                **all &= f & (flags::TRACKED | flags::MAY_TRACK) == 0;
            }
        }
    }

    /// Reports `times` handles to the object `gc` points to, as `times` calls of
    /// [`visit`](Tracer::visit) would; the collector records one edge for them where it can.
    #[inline]
    pub fn visit_times<T: ?Sized>(&mut self, gc: &Gc<T>, times: usize) {
        let obj = Gc::as_obj(gc);
        match &mut self.sink {
            // SAFETY: the handle holds the object's memory (and the extension is checked
            // before it is read).
            Sink::Counter(c) if unsafe { obj.has_ext() } => unsafe {
                c.visit_ext_times(obj, times)
            },
            _ => {
                for _ in 0..times {
                    self.visit(gc);
                }
            }
        }
    }

    /// Reports the handles `f` reports as those of the field (or part) called `label`, for
    /// inspection tools that name edges (`gc::dump_dot` draws them); the collector ignores
    /// labels. `#[derive(Trace)]` labels each field with its name under `#[trace(labels)]`.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::{Gc, Trace, Tracer};
    ///
    /// struct Tree {
    ///     parent: RefCell<Option<Gc<Tree>>>,
    /// }
    /// // SAFETY: reports its one handle, once.
    /// unsafe impl Trace for Tree {
    ///     fn trace(&self, tracer: &mut Tracer<'_>) {
    ///         tracer.labeled("parent", |t| self.parent.trace(t));
    ///     }
    /// }
    /// ```
    #[inline]
    pub fn labeled(&mut self, label: &'static str, f: impl FnOnce(&mut Tracer<'a>)) {
        if let Sink::Visitor(v) = &mut self.sink {
            v.enter(label);
            f(self);
            if let Sink::Visitor(v) = &mut self.sink {
                v.leave();
            }
        } else {
            f(self);
        }
    }

    /// Whether handles go to the collector's count pass, which runs no user code (rather
    /// than to a [`Visitor`]).
    #[inline(always)]
    pub(crate) fn is_counting(&self) -> bool {
        matches!(self.sink, Sink::Counter(_) | Sink::Remap(_))
    }

    /// Reports that part of the value could not be read (for example a `RefCell` that is
    /// mutably borrowed while the collector runs).
    ///
    /// The object is then treated as referenced from outside for this collection: nothing
    /// it holds is freed, and a cycle through it waits for a later collection.
    #[inline]
    pub fn mark_opaque(&mut self) {
        match &mut self.sink {
            Sink::Counter(c) | Sink::Remap(c) => c.mark_opaque(),
            Sink::Visitor(v) => v.opaque(),
            Sink::Untracked(all) => **all = false,
        }
    }
}

impl core::fmt::Debug for Tracer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tracer").finish_non_exhaustive()
    }
}

mod impls;
