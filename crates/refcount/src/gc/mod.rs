//! [`Gc`], the strong reference-counted handle.

use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::finalize::Finalize;
use crate::header::{IMMORTAL, ObjPtr, TypeInfo, VTable, box_layout, flags};
use crate::heap::try_with_heap;
use crate::trace::Trace;
use crate::weak::Weak;

// Clone-on-write and unwrapping (`make_mut`, `unwrap_or_clone`).
mod cow;
// An object made with a weak handle to itself (`new_cyclic`).
mod cyclic;
// Raw pointers to values, and the coercion to unsized types built on them.
mod raw;
// Handles to slices and strings.
mod slices;
// The standard traits (`Deref`, `Clone`, `Drop`, formatting, comparisons, `From`, ...).
mod traits;

/// The body of [`Gc::new`] and [`Gc::new_with_finalizer`], written into each: a macro, not a
/// function, so that the value goes straight from their argument into the object. (A helper
/// function taking the value, even inlined, is one more copy of it in an unoptimised build's
/// frame: with three, a 1 MiB value overflows a 2 MiB thread stack.)
macro_rules! new_in {
    ($value:ident, $has_ext:expr, $ty:expr) => {{
        // Like CPython's tuples: an object whose handles cannot change without `&mut` and
        // whose referents are all untracked can never be part of a cycle.
        new_in!(
            $value,
            $has_ext,
            $ty,
            T::needs_trace() && !(T::frozen() && referents_untracked(&$value))
        )
    }};
    ($value:ident, $has_ext:expr, $ty:expr, $track:expr) => {{
        let track = $track;
        let (obj, due) = Gc::<T>::place($has_ext, $ty, track);
        // SAFETY: the allocation has room for the value at `obj.value()`, still unwritten.
        unsafe { obj.value::<T>().write($value) };
        let gc = Gc::from_obj(obj);
        if due {
            // The handle exists before the collection starts: were the collection to panic,
            // the new object is still dropped normally.
            crate::heap::run_hook();
        }
        gc
    }};
}

/// A strong, reference-counted handle to a value on the current thread's heap.
///
/// `Gc` works like [`std::rc::Rc`]: cloning adds a reference, dropping removes one, and the
/// value is dropped and its memory freed the moment the last handle goes. On top of that,
/// values whose type can hold a `Gc` are *tracked*, so the cycle collector can find and
/// free reference cycles that refcounting alone would leak.
///
/// Handles are neither `Send` nor `Sync`: each thread owns its own heap, as each Python
/// interpreter does.
///
/// # Dead handles
///
/// When the collector frees a garbage cycle it drops the values of the cycle one by one.
/// A `Drop` implementation that reaches another member of the same cycle finds its handle
/// *dead*, whether that member's value was dropped yet or not (so that no `Drop` can keep a
/// reference into a value that is dropped after it). Dereferencing a dead handle panics
/// with a clear message; [`Gc::try_deref`] and [`Gc::is_dead`] let `Drop` code check first.
/// Memory is never freed while any handle points to it, so a dead handle is never a
/// dangling pointer.
///
/// # Unsized values
///
/// Like `Rc`, a `Gc` can hold a slice, a string or a trait object: `Gc<[T]>` and `Gc<str>`
/// are made with `From` (from a `Vec`, a slice, a `String`, ...) or `collect`, and a
/// `Gc<dyn Trait>` with [`coerce_gc!`](crate::coerce_gc) from a `Gc` of a type implementing
/// the trait. The collector traces a trait object as the type it was made as, so cycles
/// through `Gc<dyn Trait>` are collected like any other.
///
/// ```
/// use refcount::{Gc, Trace, coerce_gc};
///
/// trait Shape: Trace {
///     fn area(&self) -> f64;
/// }
/// #[derive(gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct Square(f64);
/// impl Shape for Square {
///     fn area(&self) -> f64 {
///         self.0 * self.0
///     }
/// }
///
/// let shapes: Gc<[Gc<dyn Shape>]> = Gc::from(vec![coerce_gc!(Gc::new(Square(2.0)) => dyn Shape)]);
/// assert_eq!(shapes[0].area(), 4.0);
/// let name: Gc<str> = Gc::from("square");
/// assert_eq!(&*name, "square");
/// ```
// No bound on `T`, as on `Rc`: a type that holds a `Gc` of itself can then be generic
// without repeating `Trace` bounds on its declaration. Everything a handle does without
// knowing `T` it learns from the object's header (its type descriptor), so handles of
// unsized types work too.
pub struct Gc<T: ?Sized> {
    // The value, 16 bytes past the object's header (for an unsized `T`, with its length or
    // vtable). It keeps the whole allocation's provenance: the header is reached from it.
    ptr: NonNull<T>,
    _marker: PhantomData<T>,
}

impl<T: Trace + 'static> Gc<T> {
    /// Moves `value` onto the current thread's heap.
    ///
    /// If the value's type can hold a `Gc`, the object is tracked in generation 0, which may
    /// start an automatic collection.
    ///
    /// A `Gc` created in a thread-local destructor that runs after the heap's (thread
    /// teardown) works too, but its memory comes from the global allocator and is never
    /// freed, and it is never tracked: a deliberate, bounded leak, instead of a panic that
    /// would abort the process.
    ///
    /// In an unoptimised build, `Gc::new` (like `Rc::new`) holds a copy of the value in its
    /// own frame: make a value larger than about half the thread's stack with
    /// `Gc::<T>::from(Box::new(value))`, which moves it from the box's memory instead.
    ///
    /// ```
    /// use refcount::Gc;
    /// let five = Gc::new(5);
    /// assert_eq!(*five, 5);
    /// ```
    // Optimised builds always inline it, like `Box::new`: the value is then built in place
    // instead of being passed through the stack. Unoptimised builds never do: there each
    // inlined parameter is a copy in the caller's frame, and a large value would take
    // several (see `new_in`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub fn new(value: T) -> Gc<T> {
        new_in!(value, T::needs_trace(), &VTable::<T>::INFO)
    }

    /// Moves `value` onto the heap *untracked*: the cycle collector does not see the object
    /// until [`Gc::track`] is called on it, as CPython creates dicts that hold only atomic
    /// values untracked and tracks them when a container is stored in them.
    ///
    /// For a container whose contents cannot be part of a cycle yet, this saves the collector
    /// the object's analysis and keeps it out of the thresholds' counts. It is memory-safe
    /// whatever the object later holds: a cycle through an object left untracked is never
    /// collected (a leak), never freed while in use.
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::{Gc, Trace, Tracer};
    ///
    /// struct Bag(RefCell<Vec<Gc<Bag>>>);
    /// // SAFETY: reports each handle the vector holds.
    /// unsafe impl Trace for Bag {
    ///     fn trace(&self, t: &mut Tracer<'_>) { self.0.trace(t) }
    /// }
    ///
    /// let bag = Gc::new_untracked(Bag(RefCell::new(Vec::new())));
    /// assert!(!Gc::is_tracked(&bag));
    /// bag.0.borrow_mut().push(bag.clone()); // a cycle: track it so it can be collected
    /// Gc::track(&bag);
    /// assert!(Gc::is_tracked(&bag));
    /// # bag.0.borrow_mut().clear();
    /// ```
    pub fn new_untracked(value: T) -> Gc<T> {
        let gc = new_in!(value, T::needs_trace(), &VTable::<T>::INFO, false);
        if T::needs_trace() {
            // SAFETY: the handle holds the memory; a type that needs tracing has the
            // extension.
            unsafe { Gc::as_obj(&gc).set_flags(flags::MAY_TRACK) };
        }
        gc
    }

    /// Moves `value` onto the heap with a finalizer: [`Finalize::finalize`] runs once before
    /// the object dies, by refcounting or in a collected cycle (see [`Finalize`]).
    ///
    /// ```
    /// use refcount::{Finalize, Gc};
    /// #[derive(gcrt_derive::Trace)]
    /// #[trace(crate = "refcount")]
    /// struct Noisy;
    /// impl Finalize for Noisy {
    ///     fn finalize(&self) {
    ///         println!("finalized");
    ///     }
    /// }
    /// drop(Gc::new_with_finalizer(Noisy)); // prints "finalized"
    /// ```
    #[inline]
    pub fn new_with_finalizer(value: T) -> Gc<T>
    where
        T: Finalize,
    {
        // An object with a finalizer always carries the extension: its FINALIZED flag.
        new_in!(value, true, &VTable::<T>::INFO_FIN)
    }

    /// The header of an object created after the thread's heap was destroyed: its memory
    /// comes from the global allocator and is never freed, and it is never tracked. The
    /// value is the caller's to write.
    #[cold]
    #[inline(never)]
    fn orphan_header(has_ext: bool, ty: &'static TypeInfo, fin: u32) -> ObjPtr {
        let mem = crate::heap::alloc_orphan(box_layout::<T>(has_ext));
        // SAFETY: fresh allocation of `box_layout::<T>(has_ext)`.
        unsafe {
            let obj = ObjPtr::init_header::<T>(mem, has_ext, ty);
            if has_ext {
                obj.write_ext(0, fin);
            }
            obj
        }
    }

    /// Allocates an object of type `T` and writes its header (and extension, tracking it if
    /// `track`); the value is the caller's to write, before any code can see it. Returns the
    /// object and whether an automatic collection is due.
    #[inline(always)]
    fn place(has_ext: bool, ty: &'static TypeInfo, track: bool) -> (ObjPtr, bool) {
        let layout = box_layout::<T>(has_ext);
        let fin = if ty.has_finalizer() {
            flags::HAS_FINALIZER
        } else {
            0
        };
        let Some(h) = crate::heap::heap_ptr() else {
            return (Gc::<T>::orphan_header(has_ext, ty, fin), false);
        };
        // SAFETY: no user code runs until `h` is last used, so the thread-local heap stays.
        let h = unsafe { &*h };
        let mem = if T::free_list() > 0 {
            h.alloc_pooled::<T>(layout, ty)
        } else {
            h.alloc(layout)
        };
        // SAFETY: fresh allocation of `box_layout::<T>(has_ext)`; the extension is written
        // here and the value right after, before any code can see the lists.
        unsafe {
            let obj = ObjPtr::init_header::<T>(mem, has_ext, ty);
            let due = crate::heap::register_new(Some(h), obj, has_ext, fin, track);
            (obj, due)
        }
    }

    /// Moves `value` into the heap's immortal region: it is never freed, its reference count
    /// never changes, and it is never tracked (like CPython's immortal objects, PEP 683).
    ///
    /// ```
    /// use refcount::Gc;
    /// let none = Gc::new_immortal("None");
    /// assert!(Gc::is_immortal(&none));
    /// let copies: Vec<_> = (0..10).map(|_| none.clone()).collect();
    /// assert_eq!(Gc::ref_count(&none), usize::MAX);
    /// # drop(copies);
    /// ```
    pub fn new_immortal(value: T) -> Gc<T> {
        // A type that needs tracing always has the extension, immortal or not: the count
        // pass reads it for every handle of such a type (it stays untracked, so outside every
        // analysed set).
        let has_ext = T::needs_trace();
        let layout = box_layout::<T>(has_ext);
        let mem = try_with_heap(|h| h.alloc_immortal(layout))
            .unwrap_or_else(|| crate::heap::alloc_orphan(layout));
        // SAFETY: fresh allocation of `box_layout::<T>(has_ext)`.
        let obj = unsafe { ObjPtr::init(mem, value, has_ext, &VTable::<T>::INFO) };
        obj.set_strong(IMMORTAL);
        Gc::from_obj(obj)
    }

    /// Creates a handle from a raw object pointer, adding one strong reference.
    ///
    /// Returns `None` if the object's type is not `T` or its value is no longer alive.
    ///
    /// # Safety
    /// The object's memory is held (it is tracked, or someone holds a handle to it).
    pub(crate) unsafe fn from_obj_checked(obj: ObjPtr) -> Option<Gc<T>> {
        // SAFETY: memory held per the caller.
        unsafe {
            if obj.type_id() != core::any::TypeId::of::<T>() || !obj.may_make_handle() {
                return None;
            }
            obj.inc_strong();
        }
        Some(Gc::from_obj(obj))
    }

    /// Returns the value if this is the only strong handle; otherwise gives the handle back.
    ///
    /// Weak handles to the object stop upgrading, as with `Rc::try_unwrap`.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(String::from("v"));
    /// assert_eq!(Gc::try_unwrap(a).unwrap(), "v");
    /// let b = Gc::new(1);
    /// let c = b.clone();
    /// assert!(Gc::try_unwrap(b).is_err());
    /// # drop(c);
    /// ```
    pub fn try_unwrap(this: Gc<T>) -> Result<T, Gc<T>> {
        let obj = Gc::as_obj(&this);
        // An object the collector is analysing (reachable only from a `Trace` impl) keeps its
        // place in the lists: the analysis identifies objects by position.
        // SAFETY: this handle holds the memory.
        let (strong, f) = unsafe { (obj.strong(), obj.flags()) };
        if strong != 1 || Gc::is_dead(&this) || crate::heap::is_analysed(f) {
            return Err(this);
        }
        core::mem::forget(this);
        // SAFETY: last strong handle: read the value out, then release the rest of the
        // object exactly as a drop would, minus dropping the value.
        unsafe {
            let value = obj.value::<T>().read();
            obj.set_strong(0);
            // The referent is gone as far as weak references are concerned: their callbacks
            // run now, and the registry must not outlive the address.
            crate::heap::forget_referent(obj);
            crate::heap::untrack(obj);
            crate::heap::note_death(obj);
            obj.set_flags(flags::DEAD);
            crate::weak::drop_weak_raw(obj);
            Ok(value)
        }
    }

    /// Returns the value if this is the only strong handle, dropping the handle otherwise.
    ///
    /// ```
    /// use refcount::Gc;
    /// assert_eq!(Gc::into_inner(Gc::new(4)), Some(4));
    /// ```
    pub fn into_inner(this: Gc<T>) -> Option<T> {
        Gc::try_unwrap(this).ok()
    }
}

impl<T> Gc<T> {
    #[inline(always)]
    pub(crate) fn from_obj(obj: ObjPtr) -> Gc<T> {
        Gc {
            // SAFETY: the value is 16 bytes past a non-null header, in the same allocation.
            ptr: unsafe { NonNull::new_unchecked(obj.value::<T>()) },
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Gc<T> {
    /// The handle to the object whose value `ptr` points to, taking over a strong reference
    /// the caller owns.
    #[inline(always)]
    pub(crate) fn from_ptr(ptr: NonNull<T>) -> Gc<T> {
        Gc {
            ptr,
            _marker: PhantomData,
        }
    }

    /// The raw object pointer behind this handle (no reference is added).
    #[inline(always)]
    pub fn as_obj(this: &Gc<T>) -> ObjPtr {
        // SAFETY: the handle's pointer is its object's value, with the allocation's
        // provenance.
        unsafe { ObjPtr::of_value(this.ptr) }
    }

    /// Whether the object's type needs tracing (its descriptor's `Trace::needs_trace`).
    #[inline]
    fn needs_trace(this: &Gc<T>) -> bool {
        // SAFETY: this handle holds the memory.
        (unsafe { Gc::as_obj(this).type_info() }.needs_trace)()
    }

    /// Tracks an object that is not tracked (created by [`Gc::new_untracked`], or left
    /// untracked by [`Gc::new`] because it could not be part of a cycle): the cycle
    /// collector sees it from now on, in generation 0. Does nothing if it is tracked
    /// already, if its type never needs tracing ([`Trace::needs_trace`] is `false`), if the
    /// handle is dead, or after the thread's heap was destroyed.
    pub fn track(this: &Gc<T>) {
        if !Gc::needs_trace(this) || Gc::is_dead(this) {
            return;
        }
        let obj = Gc::as_obj(this);
        // SAFETY: this handle holds the memory; a type that needs tracing always has the
        // extension, and an untracked object is in no list.
        unsafe {
            if obj.flags() & flags::TRACKED == 0 && !Gc::is_immortal(this) {
                try_with_heap(|h| h.track(obj, 0));
                // Never analysed while untracked: the next full collection must.
                obj.set_dirty();
            }
        }
    }

    /// Stops tracking the object (CPython's `PyObject_GC_UnTrack`), for a container that
    /// holds nothing that could be part of a cycle any more, as CPython untracks dicts
    /// whose keys and values are all atomic. Returns whether it was untracked.
    ///
    /// It is memory-safe whatever the object holds: a cycle through an untracked object is
    /// never collected (a leak) until [`Gc::track`] tracks it again. Does nothing (returns
    /// `false`) for an object not tracked, or one the running collection is working on
    /// (from a `Trace` impl, a finalizer or a callback during a collection).
    ///
    /// ```
    /// use core::cell::RefCell;
    /// use refcount::Gc;
    /// let v = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
    /// assert!(Gc::is_tracked(&v));
    /// assert!(Gc::untrack(&v));
    /// assert!(!Gc::is_tracked(&v));
    /// ```
    pub fn untrack(this: &Gc<T>) -> bool {
        let obj = Gc::as_obj(this);
        // SAFETY: this handle holds the memory (an object without extension has no flags,
        // so it reads as untracked).
        let f = unsafe { obj.flags() };
        let list = (f & flags::LIST_MASK) as usize;
        if f & flags::TRACKED == 0
            || list > crate::heap::PERMANENT
            || crate::heap::is_analysed(f)
            || Gc::is_dead(this)
        {
            return false;
        }
        // SAFETY: this handle holds the memory; the object is in a generation's list that no
        // collection is working on.
        unsafe { crate::heap::untrack(obj) };
        true
    }

    /// Whether the object is tracked by the cycle collector (CPython's `gc.is_tracked`).
    ///
    /// ```
    /// use refcount::Gc;
    /// assert!(!Gc::is_tracked(&Gc::new(5)), "an atomic value is never tracked");
    /// ```
    pub fn is_tracked(this: &Gc<T>) -> bool {
        // SAFETY: this handle holds the memory; an object without extension has no flags.
        (unsafe { Gc::as_obj(this).flags() } & flags::TRACKED) != 0
    }

    /// Number of strong handles to this object (`usize::MAX` for an immortal object).
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// assert_eq!(Gc::ref_count(&a), 2);
    /// drop(b);
    /// assert_eq!(Gc::ref_count(&a), 1);
    /// ```
    #[inline]
    pub fn ref_count(this: &Gc<T>) -> usize {
        // SAFETY: this handle holds the memory.
        let s = unsafe { Gc::as_obj(this).strong() };
        if s == IMMORTAL {
            usize::MAX
        } else {
            s as usize
        }
    }

    /// Same as [`ref_count`](Gc::ref_count), named as on `Rc`.
    #[inline]
    pub fn strong_count(this: &Gc<T>) -> usize {
        Gc::ref_count(this)
    }

    /// Number of [`Weak`] handles to this object.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(Gc::weak_count(&a), 1);
    /// # drop(w);
    /// ```
    #[inline]
    pub fn weak_count(this: &Gc<T>) -> usize {
        // The implicit weak reference held by the strong ones is not a `Weak`.
        Gc::as_obj(this).weak_count_raw() as usize - 1
    }

    /// Whether both handles point to the same object.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// let c = Gc::new(1);
    /// assert!(Gc::ptr_eq(&a, &b));
    /// assert!(!Gc::ptr_eq(&a, &c));
    /// ```
    #[inline]
    pub fn ptr_eq(a: &Gc<T>, b: &Gc<T>) -> bool {
        // The addresses only: two handles to one object may carry different vtables.
        Gc::as_obj(a) == Gc::as_obj(b)
    }

    /// The object's address: its identity, the same as [`ObjPtr::addr`] of the object
    /// (Python's `id()`). Unlike [`Gc::as_ptr`], it hands out no pointer, so it costs full
    /// collections nothing.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(3u8);
    /// assert_eq!(Gc::addr(&a), Gc::addr(&a.clone()));
    /// assert_ne!(Gc::addr(&a), Gc::addr(&Gc::new(3u8)));
    /// ```
    pub fn addr(this: &Gc<T>) -> usize {
        Gc::as_obj(this).addr()
    }

    /// A raw pointer to the value.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(3u8);
    /// assert_eq!(unsafe { *Gc::as_ptr(&a) }, 3);
    /// ```
    ///
    /// Unsafe code could use the pointer to reach the object without holding a handle,
    /// which the collector's shortcut for full collections relies on (see
    /// `docs/collector.md`): a tracked object whose pointer was handed out is analysed by
    /// every full collection from then on.
    #[inline]
    pub fn as_ptr(this: &Gc<T>) -> *const T {
        // SAFETY: this handle holds the memory; `set_flags` does nothing to an object
        // without extension, which is never tracked.
        unsafe { Gc::as_obj(this).set_flags(flags::EXPOSED) };
        this.ptr.as_ptr()
    }

    /// Creates a [`Weak`] handle to this object.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new("x");
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), "x");
    /// drop(a);
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        Gc::as_obj(this).inc_weak();
        Weak::from_ptr(this.ptr)
    }

    /// Whether the collector has dropped this object's value (see [dead handles](Gc#dead-handles)).
    ///
    /// ```
    /// use refcount::Gc;
    /// assert!(!Gc::is_dead(&Gc::new(1)));
    /// ```
    #[inline]
    pub fn is_dead(this: &Gc<T>) -> bool {
        // SAFETY: this handle holds the memory; only objects with extension can be dead.
        (unsafe { Gc::as_obj(this).flags() } & (flags::DEAD | flags::DROPPING)) != 0
    }

    /// The value, or `None` for a dead handle.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(2);
    /// assert_eq!(Gc::try_deref(&a), Some(&2));
    /// ```
    #[inline]
    pub fn try_deref(this: &Gc<T>) -> Option<&T> {
        if !Gc::accessible(this) {
            None
        } else {
            // SAFETY: alive value; the handle keeps it alive for the borrow's lifetime
            // (the collector only drops values of objects no live reference reaches).
            Some(unsafe { this.ptr.as_ref() })
        }
    }

    /// Whether a shared reference to the value may be taken: the value is alive. Taking one
    /// ends a loan of the value by [`get_mut`](Self::get_mut) (the `&mut` cannot be alive
    /// while `this` is borrowed). One read of the flags, for both, on the common path.
    #[inline(always)]
    fn accessible(this: &Gc<T>) -> bool {
        let obj = Gc::as_obj(this);
        // SAFETY: this handle holds the memory; only an object with extension can be dead,
        // dropping or lent.
        unsafe {
            if !obj.has_ext() {
                return true;
            }
            let f = obj.ext_flags();
            f & (flags::DEAD | flags::LOANED | flags::DROPPING) == 0 || accessible_slow(obj, f)
        }
    }

    /// Whether the object is immortal.
    #[inline]
    pub fn is_immortal(this: &Gc<T>) -> bool {
        // SAFETY: this handle holds the memory.
        unsafe { Gc::as_obj(this).strong() == IMMORTAL }
    }

    /// A mutable reference to the value if this is the only handle (strong or weak).
    ///
    /// ```
    /// use refcount::Gc;
    /// let mut a = Gc::new(1);
    /// *Gc::get_mut(&mut a).unwrap() += 1;
    /// let b = a.clone();
    /// assert!(Gc::get_mut(&mut a).is_none());
    /// # drop(b);
    /// assert_eq!(*a, 2);
    /// ```
    // `T: 'static`: a handle's type may carry a lifetime shortened by covariance (a
    // `Gc<&'static str>` used as a `Gc<&'a str>`), and writing a short-lived value through
    // it would break the type the object was made as, which `AnyGc::downcast` and
    // `gc::get_objects` give back by `TypeId`, blind to lifetimes.
    pub fn get_mut(this: &mut Gc<T>) -> Option<&mut T>
    where
        T: 'static,
    {
        let obj = Gc::as_obj(this);
        // SAFETY: this handle holds the memory.
        let unique = unsafe { obj.strong() } == 1 && obj.weak_count_raw() == 1;
        if unique && !Gc::is_dead(this) {
            // SAFETY: this handle holds the memory.
            let ty = unsafe { obj.type_info() };
            if (ty.needs_trace)() {
                // `&mut` access may change the handles of an object left untracked because
                // they could not change: it is tracked from now on.
                if (ty.frozen)() {
                    Gc::track(this);
                }
                // The `&mut` may outlive this call while collections run (a `Gc::new` in the
                // middle of its use): the collector must not read the value meanwhile.
                // SAFETY: this handle holds the memory; a type that needs tracing has the
                // extension.
                unsafe { obj.set_flags(flags::LOANED) };
            }
            // SAFETY: no other handle exists, so no other reference to the value can exist.
            Some(unsafe { this.ptr.as_mut() })
        } else {
            None
        }
    }
}

#[cold]
#[inline(never)]
fn accessible_slow(obj: ObjPtr, f: u32) -> bool {
    if f & flags::LOANED != 0 {
        // SAFETY: a handle to the object is borrowed, so its memory is held.
        unsafe { obj.clear_flags(flags::LOANED) };
    }
    f & (flags::DEAD | flags::DROPPING) == 0
}

/// Whether every object `value` holds a handle to is untracked.
#[inline]
fn referents_untracked<T: Trace + ?Sized>(value: &T) -> bool {
    let mut all = true;
    value.trace(&mut crate::trace::Tracer::untracked_check(&mut all));
    all
}

#[cold]
#[inline(never)]
fn dead_handle() -> ! {
    panic!(
        "gcrt: dereferenced a dead Gc: the cycle collector already dropped this value \
         (a Drop impl reached another member of the same garbage cycle); \
         use Gc::try_deref or Gc::is_dead to check"
    )
}
