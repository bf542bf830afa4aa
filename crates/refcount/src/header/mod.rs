//! The object header, the per-type descriptor and the raw object pointer.
//!
//! Everything that reads or writes an object's memory through a raw pointer lives here or
//! in [`crate::heap`]; the handle types only call these functions.

use core::alloc::Layout;
use core::any::TypeId;
use core::cell::Cell;
use core::marker::PhantomData;

mod object;
mod stored;

pub use object::ObjPtr;
pub(crate) use stored::{SliceOf, Stored, Text, slice_layout, write_len};

use crate::edges::EdgeCounter;
use crate::finalize::Finalize;
use crate::heap::Heap;
use crate::trace::{Trace, Tracer};

/// Reference count value that marks an object immortal: refcounting never frees it and a
/// count that reaches [`MAX_COUNT`] saturates here instead of wrapping.
pub const IMMORTAL: u32 = u32::MAX;

/// The largest strong count an object can have and stay mortal: one more makes it
/// immortal.
pub const MAX_COUNT: u32 = (1 << 30) - 1;

/// One strong reference in the `strong` field, which holds the count shifted left by one.
const ONE: u32 = 2;
/// Bit 0 of the `strong` field: the count was decremented to a nonzero value since a full
/// collection last proved the object reachable (see [`ObjPtr::is_dirty`]). Setting it is
/// folded into the store every decrement does anyway, so it costs nothing on that path.
const DIRTY: u32 = 1;
/// The `strong` field of an immortal object. Every field value from 2^31 up means immortal
/// (the hot paths need one signed test); this one is even, so that adding [`ONE`] wraps to
/// 0, which the increment's test sends back here.
const RAW_IMMORTAL: u32 = u32::MAX - 1;

/// The header at the start of every object on the heap.
///
/// ```text
///                -8       -4        0        4        8                    16
///      ---------+--------+--------+--------+--------+--------------------+------------
///       padding | index  | flags  | strong |  meta  | ty: &'static Type  | value: T ..
///      ---------+--------+--------+--------+--------+--------------------+------------
///               \__ Ext (8) _____/\______________ Header (16) ___________/
///                only for objects that can be       ^ ObjPtr points here
///                tracked or have a finalizer
///
///  strong: bits 1..31 strong count (from 2^31 up: immortal), bit 0 DIRTY (decremented
///         to nonzero since a full collection last proved it reachable)
///  meta:  bit 31      HAS_EXT (the object carries an Ext)
///         bits 0..31  weak count, plus one "implicit" weak held while strong > 0
///  flags: bits 0..3   which list the object is in (generation 0, 1, 2, permanent, or
///                     one of the collector's working lists)
///         bit 3       TRACKED        bit 4  EXPOSED (raw pointer handed out)
///         bit 5       LOANED (`Gc::get_mut` lent the value; never read by the collector)
///         bit 9       DROPPING (garbage whose values are being dropped: no new `&T`)
///         bit 6       FINALIZED      bit 7  DEAD (value dropped, memory still held)
///         bit 8       DOOMED (garbage of the running collection)
///         bit 10      NO_FINALIZE    bit 11 HAS_WEAKREF_CB
///         bit 12      COUNTED (its allocation counts in generation 0's count)
///         bit 13      WEAK_CLEARED (weak references cleared: upgrades fail for good)
///         bit 14      HAS_FINALIZER (allocated with a finalizer)
///  index: position of the object in its list, so untracking is O(1)
/// ```
///
/// The value always starts 16 bytes after the header, whatever comes before it: a handle
/// points at the value (for an unsized value, with its length or vtable), so dereferencing
/// it is a plain load, and the header is 16 bytes back. Padding before the extension keeps
/// the value aligned for types aligned above 8. A slice object (`Gc<[T]>`, `Gc<str>`) has
/// one more word in front of the extension: its length (see `stored.rs`).
///
/// CPython pays 32 bytes for a tracked object (two list links, refcount, type); gcrt pays 24,
/// and 16 for atomic objects, which can never be part of a cycle and are never tracked.
///
/// # Invariants
///
/// * `strong` counts the live [`Gc`](crate::Gc) handles (and collector-held temporary
///   references); [`IMMORTAL`] means never freed.
/// * The value is initialised while `strong > 0` and `DEAD` is clear. It is dropped exactly
///   once: by the last strong handle, or in place by the collector (which sets `DEAD`).
/// * The memory is released exactly once, when the weak count (including the implicit one
///   that lives until `strong` reaches 0) reaches 0.
/// * An object with an `Ext` is in exactly one heap list while `TRACKED` is set, at
///   position `index`.
/// * An object whose type needs tracing (`Trace::needs_trace`) always has an `Ext`, whatever
///   way it was created: [`Tracer::visit`](crate::Tracer::visit) reads it for every handle of
///   such a type without looking at the header first.
#[repr(C)]
pub(crate) struct Header {
    strong: Cell<u32>,
    meta: Cell<u32>,
    ty: &'static TypeInfo,
}

/// The tracking extension that precedes the header of objects that may be part of a cycle
/// or have a finalizer.
#[repr(C)]
pub(crate) struct Ext {
    pub(crate) index: Cell<u32>,
    pub(crate) flags: Cell<u32>,
}

const HAS_EXT: u32 = 1 << 31;
const WEAK_MASK: u32 = !HAS_EXT;

/// Flag bits of a tracked object's extension (the layout is drawn in `header.rs`).
pub mod flags {
    /// Mask of the list id.
    pub const LIST_MASK: u32 = 0b111;
    /// The object is in one of the heap's lists.
    pub const TRACKED: u32 = 1 << 3;
    /// The finalizer has run (it never runs twice).
    pub const FINALIZED: u32 = 1 << 6;
    /// The value has been dropped in place by the collector.
    pub const DEAD: u32 = 1 << 7;
    /// Part of the garbage of the running collection (cleared if it is resurrected).
    pub const DOOMED: u32 = 1 << 8;
    /// The finalizer must not run.
    pub const NO_FINALIZE: u32 = 1 << 10;
    /// Weak references with callbacks point to this object.
    pub const HAS_WEAKREF_CB: u32 = 1 << 11;
    /// The allocation was counted in generation 0's count; its death will be, once.
    pub const COUNTED: u32 = 1 << 12;
    /// Weak references to the object were cleared (it was found unreachable): upgrades fail
    /// for good, even if a finalizer resurrects it.
    pub const WEAK_CLEARED: u32 = 1 << 13;
    /// The object was allocated with a finalizer (whether or not it is still due).
    pub const HAS_FINALIZER: u32 = 1 << 14;
    /// A raw pointer to the value was handed out ([`Gc::as_ptr`](crate::Gc::as_ptr)), so
    /// unsafe code may reach the object without holding a handle: full collections always
    /// analyse it, as if it were dirty.
    pub const EXPOSED: u32 = 1 << 4;
    /// [`Gc::get_mut`](crate::Gc::get_mut) handed out a `&mut` to the value, which may still
    /// be alive: the collector must not read the value (it counts the object as referenced
    /// from outside, untraced). Cleared once the loan has certainly ended: when a shared
    /// reference to the value is taken through a handle, or when a collection finds a
    /// handle to the object inside another object it traced.
    pub const LOANED: u32 = 1 << 5;
    /// The object is garbage of a collection that is dropping its values: no reference to
    /// its value may be taken any more (a handle to it reads as dead). Set on all of the
    /// garbage before the first value is dropped, so that a `Drop` of one member cannot
    /// keep a reference into another past that one's drop.
    pub const DROPPING: u32 = 1 << 9;
    /// Created untracked by [`Gc::new_untracked`](crate::Gc::new_untracked), so it may be
    /// tracked later: an object of a frozen type that references it is tracked, as if this
    /// one were (CPython's `_PyObject_GC_MAY_BE_TRACKED`).
    pub const MAY_TRACK: u32 = 1 << 15;
}

/// Per-type descriptor: what the heap and collector need to handle an object whose static
/// type they do not know.
pub(crate) struct TypeInfo {
    name: fn() -> &'static str,
    type_id: fn() -> TypeId,
    /// `Trace::needs_trace` of the type, for handles whose static type is unsized.
    pub(crate) needs_trace: fn() -> bool,
    /// `Trace::frozen` of the type, likewise.
    pub(crate) frozen: fn() -> bool,
    /// [`release_typed`](crate::heap::release_typed) compiled for the type: what dropping
    /// the last handle runs, whatever the handle's static type.
    pub(crate) release: unsafe fn(ObjPtr),
    trace: unsafe fn(ObjPtr, &mut Tracer<'_>),
    /// [`Heap::drop_doomed`]'s loop, compiled for the type.
    drop_doomed_run: unsafe fn(&Heap, &[ObjPtr], &mut usize),
    /// [`EdgeCounter::count_entries`]'s loop, compiled for the type.
    count_run: unsafe fn(&mut EdgeCounter, &Heap, usize, usize, usize, usize) -> usize,
    /// [`EdgeCounter::count_pure_entries`]'s loop, compiled for the type.
    count_pure: unsafe fn(&mut EdgeCounter, &[ObjPtr], usize, usize, usize) -> usize,
    /// [`EdgeCounter::count_pure_entries_down`]'s loop, compiled for the type.
    count_pure_down: unsafe fn(&mut EdgeCounter, &[ObjPtr], usize, usize, usize) -> usize,
    drop_value: unsafe fn(ObjPtr),
    dealloc: unsafe fn(ObjPtr, &Heap),
    finalize: Option<unsafe fn(ObjPtr)>,
}

impl TypeInfo {
    /// Whether objects of this descriptor have a finalizer.
    #[inline(always)]
    pub(crate) const fn has_finalizer(&self) -> bool {
        self.finalize.is_some()
    }
}

impl core::fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TypeInfo")
            .field("name", &(self.name)())
            .finish()
    }
}

/// Holder of the per-type `TypeInfo` constant.
pub(crate) struct VTable<T>(PhantomData<T>);

impl<T: Stored> VTable<T> {
    pub(crate) const INFO: TypeInfo = TypeInfo {
        name: core::any::type_name::<T::Value>,
        type_id: TypeId::of::<T::Value>,
        needs_trace: T::needs_trace,
        frozen: T::frozen,
        release: crate::heap::release_typed::<T>,
        trace: trace_erased::<T>,
        count_run: EdgeCounter::count_run::<T>,
        count_pure: EdgeCounter::count_pure_run::<T>,
        count_pure_down: EdgeCounter::count_pure_run_down::<T>,
        drop_doomed_run: Heap::drop_doomed_run::<T>,
        drop_value: drop_erased::<T>,
        dealloc: dealloc_erased::<T>,
        finalize: None,
    };
}

impl<T: Trace + Finalize + 'static> VTable<T> {
    pub(crate) const INFO_FIN: TypeInfo = TypeInfo {
        finalize: Some(finalize_erased::<T>),
        ..VTable::<T>::INFO
    };
}

/// # Safety
/// `obj` is a live object of type `T` whose value is alive.
unsafe fn finalize_erased<T: Finalize + 'static>(obj: ObjPtr) {
    // SAFETY: the caller guarantees the value is alive and of type `T`.
    let value = unsafe { &*obj.value::<T>() };
    value.finalize();
}

/// # Safety
/// `obj` is a live object of type `T` whose value is initialised.
unsafe fn trace_erased<T: Stored>(obj: ObjPtr, tracer: &mut Tracer<'_>) {
    // SAFETY: the caller guarantees the value is initialised and of type `T`.
    let value = unsafe { &*T::value(obj) };
    value.trace(tracer);
}

/// # Safety
/// `obj` is an object of type `T` whose value is initialised and is dropped now, once.
unsafe fn drop_erased<T: Stored>(obj: ObjPtr) {
    // SAFETY: the caller guarantees the value is initialised and not used again.
    unsafe { core::ptr::drop_in_place(T::value(obj)) }
}

/// # Safety
/// `obj` was allocated by `heap` for a `T` and nothing refers to it any more.
unsafe fn dealloc_erased<T: Stored>(obj: ObjPtr, heap: &Heap) {
    // SAFETY: per the caller (memory held until now).
    unsafe { heap.dealloc_typed::<T>(obj, obj.has_ext()) }
}

/// Offset of the value from the start of the allocation. The header sits 16 bytes before
/// the value, the extension (if any) 8 bytes before the header.
#[inline(always)]
pub(crate) const fn head_room(has_ext: bool, align: usize) -> usize {
    let base = if has_ext {
        size_of::<Header>() + size_of::<Ext>()
    } else {
        size_of::<Header>()
    };
    let align = if align > align_of::<Header>() {
        align
    } else {
        align_of::<Header>()
    };
    (base + align - 1) & !(align - 1)
}

/// Layout of the whole object (extension, header, value).
#[inline(always)]
pub(crate) fn box_layout<T>(has_ext: bool) -> Layout {
    let align = if align_of::<T>() > align_of::<Header>() {
        align_of::<T>()
    } else {
        align_of::<Header>()
    };
    let size = head_room(has_ext, align_of::<T>()) + size_of::<T>();
    match Layout::from_size_align(size, align) {
        Ok(l) => l,
        Err(_) => capacity_overflow(),
    }
}

#[cold]
#[inline(never)]
fn capacity_overflow() -> ! {
    panic!("gcrt: object layout overflows isize")
}
