//! [`AnyGc`], a type-erased strong handle.

use core::fmt;

use crate::gc::Gc;
use crate::header::ObjPtr;
use crate::trace::Trace;

/// A strong handle to an object of any type, as returned by the collector's inspection
/// functions (`get_objects`, `get_referents`, `get_referrers`).
///
/// It keeps the object alive like a [`Gc`], compares equal to a `Gc` of the same object, and
/// can be downcast back to the typed handle.
///
/// ```
/// use refcount::{AnyGc, Gc};
/// let a = Gc::new(String::from("s"));
/// let any = AnyGc::from(a.clone());
/// assert!(any == a);
/// assert!(any.is::<String>());
/// assert_eq!(any.type_name(), "alloc::string::String");
/// let back: Gc<String> = any.downcast().unwrap();
/// assert!(Gc::ptr_eq(&back, &a));
/// ```
pub struct AnyGc {
    obj: ObjPtr,
}

impl AnyGc {
    /// Creates a handle from a raw pointer, adding a strong reference. Returns `None` if the
    /// value is no longer alive.
    ///
    /// # Safety
    /// The object's memory is held (it is tracked, or the caller holds a reference).
    pub(crate) unsafe fn from_obj(obj: ObjPtr) -> Option<AnyGc> {
        // SAFETY: memory held per the caller.
        unsafe {
            if !obj.may_make_handle() {
                return None;
            }
            obj.inc_strong();
        }
        Some(AnyGc { obj })
    }

    /// The raw pointer (no reference added).
    pub fn as_obj(&self) -> ObjPtr {
        self.obj
    }

    /// The name of the object's type.
    pub fn type_name(&self) -> &'static str {
        // SAFETY: this handle holds the memory.
        unsafe { self.obj.type_name() }
    }

    /// Whether the object's type is `T`.
    pub fn is<T: Trace + 'static>(&self) -> bool {
        // SAFETY: this handle holds the memory.
        unsafe { self.obj.type_id() == core::any::TypeId::of::<T>() }
    }

    /// Converts back to the typed handle, or returns `self` if the type is not `T`.
    pub fn downcast<T: Trace + 'static>(self) -> Result<Gc<T>, AnyGc> {
        if self.is::<T>() {
            let obj = self.obj;
            core::mem::forget(self);
            Ok(Gc::from_obj(obj))
        } else {
            Err(self)
        }
    }

    /// A typed handle, if the type is `T` (adds a reference).
    pub fn downcast_ref<T: Trace + 'static>(&self) -> Option<Gc<T>> {
        self.clone().downcast().ok()
    }

    /// Whether both handles point to the same object.
    pub fn ptr_eq(a: &AnyGc, b: &AnyGc) -> bool {
        a.obj == b.obj
    }

    /// Number of strong references to the object.
    pub fn ref_count(&self) -> usize {
        // SAFETY: this handle holds the memory.
        match unsafe { self.obj.strong() } {
            crate::header::IMMORTAL => usize::MAX,
            s => s as usize,
        }
    }
}

impl<T: ?Sized + 'static> From<Gc<T>> for AnyGc {
    fn from(gc: Gc<T>) -> AnyGc {
        let obj = Gc::as_obj(&gc);
        core::mem::forget(gc);
        AnyGc { obj }
    }
}

impl Clone for AnyGc {
    fn clone(&self) -> AnyGc {
        // SAFETY: this handle holds the memory and a strong reference.
        unsafe { self.obj.inc_strong() };
        AnyGc { obj: self.obj }
    }
}

impl Drop for AnyGc {
    fn drop(&mut self) {
        // SAFETY: this handle owns one strong reference.
        unsafe { self.obj.dec_strong() }
    }
}

impl PartialEq for AnyGc {
    fn eq(&self, other: &AnyGc) -> bool {
        self.obj == other.obj
    }
}

impl Eq for AnyGc {}

impl core::hash::Hash for AnyGc {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.obj.hash(state)
    }
}

impl<T: ?Sized> PartialEq<Gc<T>> for AnyGc {
    fn eq(&self, other: &Gc<T>) -> bool {
        self.obj == Gc::as_obj(other)
    }
}

impl<T: ?Sized> PartialEq<AnyGc> for Gc<T> {
    fn eq(&self, other: &AnyGc) -> bool {
        Gc::as_obj(self) == other.obj
    }
}

impl fmt::Debug for AnyGc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} at {:#x}>", self.type_name(), self.obj.addr())
    }
}
