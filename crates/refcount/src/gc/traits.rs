//! The standard traits `Gc` implements, as `Rc` does: `Deref`, `Clone`, `Drop`, the
//! formatting traits, comparisons and hashing by value, `Default`, `From`, `Borrow`, `AsRef`.

use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use super::{Gc, dead_handle, referents_untracked};
use crate::header::VTable;
use crate::trace::Trace;

impl<T: ?Sized> Deref for Gc<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        match Gc::try_deref(self) {
            Some(v) => v,
            None => dead_handle(),
        }
    }
}

/// Adds a strong reference.
///
/// The count saturates: an object that reaches 2^30 - 1 strong handles
/// (`refcount::engine::MAX_COUNT`) becomes immortal, like CPython's (PEP 683): its value is
/// never dropped and its memory never freed, whatever happens to the handles. `Rc` aborts the
/// process instead; a count that high can only come from leaking handles in a loop.
///
/// ```
/// use refcount::Gc;
/// let a = Gc::new(1u8);
/// let b = a.clone();
/// assert_eq!(Gc::ref_count(&a), 2);
/// # drop(b);
/// ```
impl<T: ?Sized> Clone for Gc<T> {
    #[inline(always)]
    fn clone(&self) -> Gc<T> {
        // SAFETY: this handle holds the memory and a strong count of at least 1.
        unsafe { Gc::as_obj(self).inc_strong() };
        Gc::from_ptr(self.ptr)
    }
}

impl<T: ?Sized> Drop for Gc<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: this handle owns one strong reference and gives it up.
        unsafe { Gc::as_obj(self).dec_strong() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_deref(self) {
            Some(v) => fmt::Debug::fmt(v, f),
            None => f.write_str("<dead Gc>"),
        }
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Pointer for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&self.ptr.as_ptr().cast_const(), f)
    }
}

impl<T: ?Sized + PartialEq> PartialEq for Gc<T> {
    #[inline]
    fn eq(&self, other: &Gc<T>) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for Gc<T> {}

impl<T: ?Sized + PartialOrd> PartialOrd for Gc<T> {
    #[inline]
    fn partial_cmp(&self, other: &Gc<T>) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Ord> Ord for Gc<T> {
    #[inline]
    fn cmp(&self, other: &Gc<T>) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Hash> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: Trace + 'static + Default> Default for Gc<T> {
    fn default() -> Gc<T> {
        Gc::new(T::default())
    }
}

impl<T: Trace + 'static> From<T> for Gc<T> {
    fn from(value: T) -> Gc<T> {
        Gc::new(value)
    }
}

/// Moves a boxed value onto the heap without passing it through the stack: the way to
/// make a `Gc` of a value too large for the stack in an unoptimised build, where
/// [`Gc::new`] (like `Rc::new`) holds a copy of its argument in its frame.
///
/// ```
/// use refcount::Gc;
/// let big: Gc<[u8; 4096]> = Gc::from(Box::new([7; 4096]));
/// assert_eq!(big[4095], 7);
/// ```
impl<T: Trace + 'static> From<Box<T>> for Gc<T> {
    fn from(boxed: Box<T>) -> Gc<T> {
        let track = T::needs_trace() && !(T::frozen() && referents_untracked(&*boxed));
        let (obj, due) = Gc::<T>::place(T::needs_trace(), &VTable::<T>::INFO, track);
        let raw = Box::into_raw(boxed);
        // SAFETY: the object has room for an unwritten `T` at `obj.value()`; the value moves
        // there bit for bit, and the box's memory is freed without dropping it (the
        // `ManuallyDrop` has the same layout as `T`).
        unsafe {
            core::ptr::copy_nonoverlapping(raw, obj.value::<T>(), 1);
            drop(Box::from_raw(raw.cast::<core::mem::ManuallyDrop<T>>()));
        }
        let gc = Gc::from_obj(obj);
        if due {
            crate::heap::run_hook();
        }
        gc
    }
}

impl<T: ?Sized> Borrow<T> for Gc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: ?Sized> AsRef<T> for Gc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized> Unpin for Gc<T> {}
