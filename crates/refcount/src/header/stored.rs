//! What an object's memory holds, as the loops compiled per type see it: a sized value, or
//! a slice whose length is kept in front of the object's header.
//!
//! ```text
//!   sized value:  | padding | Ext? | Header | value: T         |
//!   slice:        | padding | len  | Ext? | Header | items: [E; len] |
//! ```
//!
//! In both, the value starts 16 bytes after the header, so a handle finds the header from
//! the value whatever its type. The length of a slice is also in each handle's pointer; it
//! is kept in the object for the code that reaches the object without a handle (the
//! collector's passes, the release of the memory after the last weak handle).

use core::alloc::Layout;
use core::marker::PhantomData;

use super::{Ext, Header, ObjPtr, box_layout, capacity_overflow, head_room};
use crate::trace::Trace;

/// The shape of an object, for the functions its type descriptor holds.
///
/// # Safety
///
/// [`value`](Stored::value) and [`layout`](Stored::layout) describe exactly the memory the
/// object was allocated and initialised with.
pub(crate) unsafe trait Stored: 'static {
    /// The value a handle dereferences to.
    type Value: ?Sized + Trace + 'static;

    /// `Trace::needs_trace` of the value.
    fn needs_trace() -> bool;
    /// `Trace::frozen` of the value.
    fn frozen() -> bool;
    /// `Trace::pure_trace` of the value.
    fn pure_trace() -> bool;
    /// `Trace::free_list` of the value (0 for slices).
    fn free_list() -> usize;

    /// The value of `obj`.
    ///
    /// # Safety
    /// `obj` holds a `Self` and its memory is held.
    unsafe fn value(obj: ObjPtr) -> *mut Self::Value;

    /// The layout of `obj`'s allocation and the offset of its header in it.
    ///
    /// # Safety
    /// As for [`value`](Stored::value); `has_ext` says whether `obj` has an extension.
    unsafe fn layout(obj: ObjPtr, has_ext: bool) -> (Layout, usize);
}

// SAFETY: a sized value sits at `obj.value()` in an allocation of `box_layout::<T>`, whose
// header is `head_room - 16` bytes in (`ObjPtr::init_header`).
unsafe impl<T: Trace + 'static> Stored for T {
    type Value = T;

    #[inline(always)]
    fn needs_trace() -> bool {
        T::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        T::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace()
    }
    #[inline(always)]
    fn free_list() -> usize {
        T::free_list()
    }
    #[inline(always)]
    unsafe fn value(obj: ObjPtr) -> *mut T {
        obj.value::<T>()
    }
    #[inline(always)]
    unsafe fn layout(_: ObjPtr, has_ext: bool) -> (Layout, usize) {
        let back = head_room(has_ext, align_of::<T>()) - size_of::<Header>();
        (box_layout::<T>(has_ext), back)
    }
}

/// The shape of an object holding a `[E]` (and of a `str`, as `[u8]`).
pub(crate) struct SliceOf<E>(PhantomData<E>);

// SAFETY: slice objects are allocated by `slice_layout` and their length written by
// `write_len` before any code can see them.
unsafe impl<E: Trace + 'static> Stored for SliceOf<E> {
    type Value = [E];

    #[inline(always)]
    fn needs_trace() -> bool {
        E::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        E::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        E::pure_trace()
    }
    #[inline(always)]
    fn free_list() -> usize {
        0
    }
    #[inline(always)]
    unsafe fn value(obj: ObjPtr) -> *mut [E] {
        // SAFETY: per the caller, the length word is in front of the header.
        let len = unsafe { len_slot(obj).read() };
        core::ptr::slice_from_raw_parts_mut(obj.value::<E>(), len)
    }
    #[inline(always)]
    unsafe fn layout(obj: ObjPtr, has_ext: bool) -> (Layout, usize) {
        // SAFETY: per the caller.
        let len = unsafe { len_slot(obj).read() };
        slice_layout::<E>(has_ext, len)
    }
}

/// The shape of an object holding a `str`: a slice of bytes, named and typed as `str`.
pub(crate) struct Text;

// SAFETY: a string object is a `[u8]` slice object (made by the same code) whose bytes are
// UTF-8, and `str` has the layout of `[u8]`.
unsafe impl Stored for Text {
    type Value = str;

    #[inline(always)]
    fn needs_trace() -> bool {
        false
    }
    #[inline(always)]
    fn frozen() -> bool {
        true
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        true
    }
    #[inline(always)]
    fn free_list() -> usize {
        0
    }
    #[inline(always)]
    unsafe fn value(obj: ObjPtr) -> *mut str {
        // SAFETY: per the caller.
        unsafe { SliceOf::<u8>::value(obj) as *mut str }
    }
    #[inline(always)]
    unsafe fn layout(obj: ObjPtr, has_ext: bool) -> (Layout, usize) {
        // SAFETY: per the caller.
        unsafe { SliceOf::<u8>::layout(obj, has_ext) }
    }
}

/// The layout of an object holding `len` items of `E` and the offset of its header.
/// Panics if it would not fit in `isize`.
pub(crate) fn slice_layout<E>(has_ext: bool, len: usize) -> (Layout, usize) {
    let align = align_of::<E>().max(align_of::<Header>());
    // The length word, the extension and the header, rounded up so that the items that
    // follow the header are aligned.
    let front = size_of::<usize>() + if has_ext { size_of::<Ext>() } else { 0 };
    let head = (front + size_of::<Header>()).next_multiple_of(align);
    let size = size_of::<E>()
        .checked_mul(len)
        .and_then(|items| items.checked_add(head))
        .unwrap_or_else(|| capacity_overflow());
    match Layout::from_size_align(size, align) {
        Ok(layout) => (layout, head - size_of::<Header>()),
        Err(_) => capacity_overflow(),
    }
}

/// Writes the length of a slice object whose header is written.
///
/// # Safety
/// `obj` was allocated with [`slice_layout`], and its header is written.
pub(crate) unsafe fn write_len(obj: ObjPtr, len: usize) {
    // SAFETY: per the caller.
    unsafe { len_slot(obj).write(len) }
}

/// The length word of a slice object: in front of its extension, or of its header.
///
/// # Safety
/// `obj` was allocated with [`slice_layout`] and its header is written.
#[inline(always)]
unsafe fn len_slot(obj: ObjPtr) -> *mut usize {
    // SAFETY: per the caller, the header says whether there is an extension, and the word
    // in front of it is inside the allocation.
    unsafe {
        let ext = if obj.has_ext() { size_of::<Ext>() } else { 0 };
        obj.0
            .as_ptr()
            .cast::<u8>()
            .sub(ext + size_of::<usize>())
            .cast::<usize>()
    }
}
