//! [`Gc::new_cyclic`]: an object that holds a weak handle to itself, made before its value
//! exists (as `Rc::new_cyclic`).

use super::{Gc, referents_untracked};
use crate::header::{VTable, flags};
use crate::trace::Trace;
use crate::weak::Weak;

impl<T: Trace + 'static> Gc<T> {
    /// Creates an object whose value is built by `data_fn` from a weak handle to the object
    /// itself, as `Rc::new_cyclic`: the value can keep that weak handle (a parent link, a
    /// self-reference) without a strong cycle. Until `data_fn` returns, the weak handle does
    /// not upgrade (`upgrade` returns `None`) and the collector does not see the object.
    ///
    /// If `data_fn` panics, the object is never made; weak handles it kept stay unable to
    /// upgrade, and the memory goes with the last of them.
    ///
    /// ```
    /// use refcount::{Gc, Trace, Weak};
    ///
    /// #[derive(gcrt_derive::Trace)]
    /// #[trace(crate = "refcount")]
    /// struct Node {
    ///     me: Weak<Node>,
    ///     name: String,
    /// }
    ///
    /// let node = Gc::new_cyclic(|me| {
    ///     assert!(me.upgrade().is_none(), "not yet");
    ///     Node { me: me.clone(), name: "n".into() }
    /// });
    /// assert!(Gc::ptr_eq(&node.me.upgrade().unwrap(), &node));
    /// ```
    pub fn new_cyclic(data_fn: impl FnOnce(&Weak<T>) -> T) -> Gc<T> {
        // The object's header with no value yet: strong count 0, and the implicit weak
        // reference, which `weak` owns until the value is written.
        let (obj, _) = Gc::<T>::place(T::needs_trace(), &VTable::<T>::INFO, false);
        obj.set_strong(0);
        let weak = Weak::<T>::from_obj(obj);
        let value = data_fn(&weak);
        let track = T::needs_trace() && !(T::frozen() && referents_untracked(&value));
        // SAFETY: the allocation has room for the value at `obj.value()`, still unwritten;
        // nothing can read it before the strong count leaves 0 (weak handles do not upgrade
        // and the object is in no list).
        unsafe { core::ptr::write(obj.value::<T>(), value) };
        obj.set_strong(1);
        // The implicit weak reference now belongs to the strong handle.
        core::mem::forget(weak);
        let gc = Gc::from_obj(obj);
        if track && let Some(h) = crate::heap::heap_ptr() {
            // SAFETY: no user code runs while `h` is used; the object has the extension
            // (its type needs tracing), was never tracked, and its value is written.
            let due = unsafe {
                let fin = obj.flags() & flags::HAS_FINALIZER;
                crate::heap::register_new(Some(&*h), obj, true, fin, true)
            };
            if due {
                crate::heap::run_hook();
            }
        }
        gc
    }
}
