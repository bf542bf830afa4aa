//! Raw pointers to values ([`Gc::into_raw`], [`Gc::from_raw`]) and the coercion of a handle
//! to an unsized type, [`coerce_gc!`](crate::coerce_gc), which is built on them.

use core::ptr::NonNull;

use super::Gc;

impl<T: ?Sized> Gc<T> {
    /// Consumes the handle and returns a pointer to its value, as `Rc::into_raw`: the strong
    /// reference the handle held stays with the pointer, until [`Gc::from_raw`] turns it
    /// back into a handle (or the object is leaked).
    ///
    /// A held reference the collector cannot see through any `Trace` impl counts as a
    /// reference from outside, so the object stays alive while the pointer exists.
    ///
    /// ```
    /// use refcount::Gc;
    /// let raw = Gc::into_raw(Gc::new(5));
    /// assert_eq!(unsafe { *raw }, 5);
    /// let back = unsafe { Gc::from_raw(raw) };
    /// assert_eq!(Gc::ref_count(&back), 1);
    /// ```
    ///
    /// As with [`Gc::as_ptr`], unsafe code could use the pointer to build a reference the
    /// collector cannot see (a cycle closed through `from_raw`), so every full collection
    /// analyses the object from now on.
    pub fn into_raw(this: Gc<T>) -> *const T {
        // `as_ptr` marks the object exposed.
        Gc::as_ptr(&this);
        Gc::into_raw_for_coercion(this)
    }

    /// [`Gc::into_raw`] for [`coerce_gc!`](crate::coerce_gc), which turns the pointer back
    /// into a handle at once: the object is not marked as exposed. Not for direct use.
    #[doc(hidden)]
    pub fn into_raw_for_coercion(this: Gc<T>) -> *const T {
        let ptr = this.ptr.as_ptr();
        core::mem::forget(this);
        ptr
    }

    /// Takes back the strong reference a pointer from [`Gc::into_raw`] holds, as
    /// `Rc::from_raw`.
    ///
    /// # Safety
    ///
    /// `ptr` was returned by `Gc::<U>::into_raw` on this thread, where `U` is `T`, or `U`
    /// coerces to `T` by an unsizing coercion of the pointer (`[X; N]` to `[X]`, a type to a
    /// `dyn Trait` it implements); and each pointer `into_raw` returned is given to
    /// `from_raw` at most once.
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        // SAFETY: per the caller, a pointer `into_raw` took from a handle: not null, and with
        // the provenance of the whole object.
        Gc::from_ptr(unsafe { NonNull::new_unchecked(ptr.cast_mut()) })
    }
}

impl Gc<dyn core::any::Any> {
    /// The handle as a `Gc<T>` if the object was made as a `T`, as `Rc::downcast`; otherwise
    /// the handle back. The check reads the object's type descriptor, so it also works on a
    /// dead handle.
    ///
    /// ```
    /// use std::any::Any;
    /// use refcount::{Gc, coerce_gc};
    /// let any: Gc<dyn Any> = coerce_gc!(Gc::new(7u32) => dyn Any);
    /// let any = any.downcast::<String>().unwrap_err();
    /// assert_eq!(*any.downcast::<u32>().unwrap(), 7);
    /// ```
    pub fn downcast<T: core::any::Any>(self) -> Result<Gc<T>, Gc<dyn core::any::Any>> {
        // SAFETY: this handle holds the memory.
        if unsafe { Gc::as_obj(&self).type_id() } != core::any::TypeId::of::<T>() {
            return Err(self);
        }
        let raw = Gc::into_raw_for_coercion(self).cast::<T>();
        // SAFETY: the object was made as a `T` (its descriptor says so), so its value is a
        // `T` at this address; the pointer keeps its provenance and owns the strong reference.
        Ok(Gc::from_ptr(unsafe {
            NonNull::new_unchecked(raw.cast_mut())
        }))
    }
}

/// Converts a `Gc<T>` into a `Gc<U>` of an unsized type that `T` coerces to: a trait object
/// (`dyn Trait` where `T: Trait`) or a slice (from an array). `Rc` does this implicitly
/// through the unstable `CoerceUnsized`; on stable Rust it takes this macro.
///
/// The object is unchanged, and so is the collector's view of it: it traces and drops it
/// as the `T` it was made as. The conversion compiles only if the pointer coercion from
/// `*const T` to `*const U` does.
///
/// ```
/// use core::cell::RefCell;
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
/// let shape: Gc<dyn Shape> = coerce_gc!(Gc::new(Square(2.0)) => dyn Shape);
/// assert_eq!(shape.area(), 4.0);
/// let items: Gc<[u8]> = coerce_gc!(Gc::new([1u8, 2, 3]) => [u8]);
/// assert_eq!(items.len(), 3);
/// ```
#[macro_export]
macro_rules! coerce_gc {
    ($gc:expr => $target:ty) => {{
        let raw = $crate::Gc::into_raw_for_coercion($gc);
        // Only an unsizing coercion (or none) turns one raw pointer type into another.
        let raw: *const $target = raw;
        // SAFETY: `raw` comes from `Gc::into_raw`, changed only by the coercion above, and
        // is given back once.
        unsafe { $crate::Gc::<$target>::from_raw(raw) }
    }};
}
