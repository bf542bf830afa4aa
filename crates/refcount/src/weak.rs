//! [`Weak`], the non-owning handle.

use core::fmt;
use core::ptr::NonNull;

use crate::gc::Gc;
use crate::header::{ObjPtr, flags};
use crate::heap::try_with_heap;

/// A weak handle: refers to an object without keeping its value alive.
///
/// [`upgrade`](Weak::upgrade) returns a strong [`Gc`] while the value is alive and `None`
/// once it has been dropped, by refcounting or by the collector (which clears weak
/// references to the objects it finds unreachable before any of their destructors run).
/// The object's memory is kept until the last `Weak` goes, as with `std::rc::Weak`.
///
/// ```
/// use refcount::{Gc, Weak};
/// let strong = Gc::new(10);
/// let weak: Weak<i32> = Gc::downgrade(&strong);
/// assert_eq!(weak.upgrade().as_deref(), Some(&10));
/// drop(strong);
/// assert!(weak.upgrade().is_none());
/// assert!(Weak::<i32>::new().upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized> {
    // The value, as in `Gc`; `None` for `Weak::new()`, which points nowhere.
    ptr: Option<NonNull<T>>,
    _marker: core::marker::PhantomData<T>,
}

impl<T> Weak<T> {
    /// A weak handle that points nowhere: `upgrade` always returns `None`.
    pub const fn new() -> Weak<T> {
        Weak {
            ptr: None,
            _marker: core::marker::PhantomData,
        }
    }

    pub(crate) fn from_obj(obj: ObjPtr) -> Weak<T> {
        // SAFETY: the value is 16 bytes past a non-null header, in the same allocation.
        Weak::from_ptr(unsafe { NonNull::new_unchecked(obj.value::<T>()) })
    }
}

impl<T: ?Sized> Weak<T> {
    /// A weak handle to the object whose value `ptr` points to (taking no reference).
    pub(crate) fn from_ptr(ptr: NonNull<T>) -> Weak<T> {
        Weak {
            ptr: Some(ptr),
            _marker: core::marker::PhantomData,
        }
    }

    fn obj(&self) -> Option<ObjPtr> {
        // SAFETY: the pointer is its object's value, with the allocation's provenance (as a
        // `Gc`'s).
        self.ptr.map(|p| unsafe { ObjPtr::of_value(p) })
    }

    /// A strong handle if the value is still alive.
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let ptr = self.ptr?;
        let obj = self.obj()?;
        // SAFETY: this weak handle holds the memory.
        unsafe {
            if obj.strong() == 0 || obj.flags() & (flags::DEAD | flags::WEAK_CLEARED) != 0 {
                return None;
            }
            obj.inc_strong();
        }
        Some(Gc::from_ptr(ptr))
    }

    /// Number of strong handles (0 once the value is gone).
    ///
    /// ```
    /// use refcount::{Gc, Weak};
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(w.strong_count(), 1);
    /// drop(a);
    /// assert_eq!(w.strong_count(), 0);
    /// ```
    pub fn strong_count(&self) -> usize {
        match self.obj() {
            // SAFETY: this weak handle holds the memory.
            Some(obj) => match unsafe { obj.strong() } {
                crate::header::IMMORTAL => usize::MAX,
                s => s as usize,
            },
            None => 0,
        }
    }

    /// Number of weak handles to the object (0 for `Weak::new()`).
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// let w2 = w.clone();
    /// assert_eq!(w.weak_count(), 2);
    /// # drop((a, w2));
    /// ```
    pub fn weak_count(&self) -> usize {
        match self.obj() {
            // Like `Rc`: 0 once the value is gone; otherwise the `Weak`s, without the implicit
            // one the strong handles hold.
            // SAFETY: this weak handle holds the memory.
            Some(obj) if unsafe { obj.strong() } > 0 => obj.weak_count_raw() as usize - 1,
            _ => 0,
        }
    }

    /// The address of the object (as [`Gc::addr`]), or 0 for `Weak::new()`.
    ///
    /// ```
    /// use refcount::{Gc, Weak};
    /// let a = Gc::new(1);
    /// assert_eq!(Gc::downgrade(&a).addr(), Gc::addr(&a));
    /// assert_eq!(Weak::<i32>::new().addr(), 0);
    /// ```
    pub fn addr(&self) -> usize {
        self.obj().map_or(0, |o| o.addr())
    }

    /// Whether both handles point to the same object (two `Weak::new()` are equal).
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(1);
    /// assert!(Gc::downgrade(&a).ptr_eq(&Gc::downgrade(&a)));
    /// ```
    pub fn ptr_eq(&self, other: &Weak<T>) -> bool {
        self.obj() == other.obj()
    }
}

impl<T: ?Sized> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        if let Some(obj) = self.obj() {
            obj.inc_weak();
        }
        Weak {
            ptr: self.ptr,
            _marker: core::marker::PhantomData,
        }
    }
}

impl<T> Default for Weak<T> {
    fn default() -> Weak<T> {
        Weak::new()
    }
}

impl<T: ?Sized> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

impl<T: ?Sized> Drop for Weak<T> {
    fn drop(&mut self) {
        if let Some(obj) = self.obj() {
            // SAFETY: this handle owns one weak reference.
            unsafe { drop_weak_raw(obj) }
        }
    }
}

/// Gives up one weak reference; frees the memory if it was the last reference of any kind.
///
/// # Safety
/// The caller owns one weak reference (or the implicit one, with strong count 0).
pub(crate) unsafe fn drop_weak_raw(obj: ObjPtr) {
    if obj.dec_weak() == 0 {
        // SAFETY: no strong or weak reference remains, the value is dropped. If the heap is
        // gone (thread teardown) the memory is leaked; the heap left it allocated.
        try_with_heap(|h| unsafe { h.free_after_weak(obj) });
    }
}
