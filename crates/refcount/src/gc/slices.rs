//! Handles to slices and strings, `Gc<[T]>` and `Gc<str>`, made from the types `Rc<[T]>` and
//! `Rc<str>` are made from.
//!
//! A slice object keeps its length in front of its header (see `header/stored.rs`), so the
//! collector can trace and free it without a handle. Its items are moved in from a `Vec`:
//! whatever user code making them takes (an iterator, `Clone`) runs before the object
//! exists, so it can never see one half made.

use core::ptr::NonNull;

use super::{Gc, referents_untracked};
use crate::header::{ObjPtr, SliceOf, Text, TypeInfo, VTable, slice_layout, write_len};
use crate::heap::{alloc_orphan, heap_ptr, register_new, run_hook};
use crate::trace::Trace;

/// Moves the items of `items` into a new slice object of descriptor `ty` (one whose shape
/// is a slice of `E`), and returns the pointer to its items, which owns the object's strong
/// reference. The vector's buffer is freed; its items are moved, not dropped.
fn place_slice<E: Trace + 'static>(mut items: Vec<E>, ty: &'static TypeInfo) -> NonNull<[E]> {
    let len = items.len();
    let has_ext = E::needs_trace();
    // User code (the items' `Trace`) runs here, before the heap is borrowed.
    let track = has_ext && !(E::frozen() && referents_untracked(&items[..]));
    let (layout, front) = slice_layout::<E>(has_ext, len);
    let heap = heap_ptr();
    let mem = match heap {
        // SAFETY: no user code runs while the heap is used here.
        Some(h) => unsafe { (*h).alloc(layout) },
        // After the heap's destruction: never freed, never tracked (as `Gc::new`).
        None => alloc_orphan(layout),
    };
    // SAFETY: `mem` is a fresh allocation of `slice_layout`, with room for the length, the
    // extension, the header and `len` items after it. The items move bit for bit, and the
    // vector forgets them (length 0) before its buffer is freed. No user code runs until the
    // object is complete and tracked.
    let (ptr, due) = unsafe {
        let obj = ObjPtr::init_header_at(mem, front, has_ext, ty);
        write_len(obj, len);
        let value = obj.value::<E>();
        core::ptr::copy_nonoverlapping(items.as_ptr(), value, len);
        items.set_len(0);
        drop(items);
        let due = register_new(heap.map(|h| &*h), obj, has_ext, 0, track);
        let ptr = NonNull::slice_from_raw_parts(NonNull::new_unchecked(value), len);
        (ptr, due)
    };
    if due {
        // After the object is complete: the collection that may run sees it whole.
        run_hook();
    }
    ptr
}

impl<E: Trace + 'static> Gc<[E]> {
    /// Moves the items of `items` into a new slice object.
    fn from_vec(items: Vec<E>) -> Gc<[E]> {
        Gc::from_ptr(place_slice(items, &VTable::<SliceOf<E>>::INFO))
    }
}

/// Moves the vector's items into a new slice object, as `Rc<[T]>::from(Vec<T>)`.
///
/// ```
/// use refcount::Gc;
/// let s: Gc<[i32]> = Gc::from(vec![1, 2, 3]);
/// assert_eq!(&s[..], [1, 2, 3]);
/// ```
impl<E: Trace + 'static> From<Vec<E>> for Gc<[E]> {
    fn from(items: Vec<E>) -> Gc<[E]> {
        Gc::from_vec(items)
    }
}

/// Clones the items into a new slice object.
///
/// ```
/// use refcount::Gc;
/// let s: Gc<[String]> = Gc::from(&[String::from("a")][..]);
/// assert_eq!(s[0], "a");
/// ```
impl<E: Trace + Clone + 'static> From<&[E]> for Gc<[E]> {
    fn from(items: &[E]) -> Gc<[E]> {
        Gc::from_vec(items.to_vec())
    }
}

/// Moves the boxed slice's items into a new slice object.
///
/// ```
/// use refcount::Gc;
/// let s: Gc<[u8]> = Gc::from(vec![7u8; 3].into_boxed_slice());
/// assert_eq!(s.len(), 3);
/// ```
impl<E: Trace + 'static> From<Box<[E]>> for Gc<[E]> {
    fn from(items: Box<[E]>) -> Gc<[E]> {
        Gc::from_vec(items.into_vec())
    }
}

/// Moves the array's items into a new slice object.
///
/// ```
/// use refcount::Gc;
/// let s: Gc<[char]> = Gc::from(['a', 'b']);
/// assert_eq!(s.len(), 2);
/// ```
impl<E: Trace + 'static, const N: usize> From<[E; N]> for Gc<[E]> {
    fn from(items: [E; N]) -> Gc<[E]> {
        Gc::from_vec(Vec::from(items))
    }
}

/// Collects the items into a new slice object, as `Rc<[T]>` does.
///
/// ```
/// use refcount::Gc;
/// let squares: Gc<[u32]> = (1..=3).map(|i| i * i).collect();
/// assert_eq!(&squares[..], [1, 4, 9]);
/// ```
impl<E: Trace + 'static> FromIterator<E> for Gc<[E]> {
    fn from_iter<I: IntoIterator<Item = E>>(iter: I) -> Gc<[E]> {
        Gc::from_vec(iter.into_iter().collect())
    }
}

/// An empty slice.
impl<E: Trace + 'static> Default for Gc<[E]> {
    fn default() -> Gc<[E]> {
        Gc::from_vec(Vec::new())
    }
}

impl Gc<str> {
    /// A string object holding a copy of `text`'s bytes.
    fn from_text(text: &str) -> Gc<str> {
        let bytes = place_slice(text.as_bytes().to_vec(), &VTable::<Text>::INFO);
        // SAFETY: the bytes come from a `str`, so they are UTF-8, and a `str` has the layout
        // of its bytes; the pointer keeps its provenance and owns the strong reference.
        Gc::from_ptr(unsafe { NonNull::new_unchecked(bytes.as_ptr() as *mut str) })
    }
}

/// Copies the text into a new string object, as `Rc<str>::from(&str)`.
///
/// ```
/// use refcount::Gc;
/// let s: Gc<str> = Gc::from("text");
/// assert_eq!(&*s, "text");
/// ```
impl From<&str> for Gc<str> {
    fn from(text: &str) -> Gc<str> {
        Gc::from_text(text)
    }
}

/// Copies the string's text into a new string object.
impl From<String> for Gc<str> {
    fn from(text: String) -> Gc<str> {
        Gc::from_text(&text)
    }
}

/// Copies the boxed text into a new string object.
impl From<Box<str>> for Gc<str> {
    fn from(text: Box<str>) -> Gc<str> {
        Gc::from_text(&text)
    }
}

/// An empty string.
impl Default for Gc<str> {
    fn default() -> Gc<str> {
        Gc::from_text("")
    }
}

/// The same object, seen as its bytes (as `Rc<[u8]>::from(Rc<str>)`).
///
/// ```
/// use refcount::Gc;
/// let b: Gc<[u8]> = Gc::from(Gc::<str>::from("hi"));
/// assert_eq!(&b[..], b"hi");
/// ```
impl From<Gc<str>> for Gc<[u8]> {
    fn from(text: Gc<str>) -> Gc<[u8]> {
        let raw = Gc::into_raw_for_coercion(text) as *mut [u8];
        // SAFETY: a `str` has the layout of its bytes; the pointer keeps its provenance
        // and owns the strong reference the handle held.
        Gc::from_ptr(unsafe { NonNull::new_unchecked(raw) })
    }
}
