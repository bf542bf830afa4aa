//! The object header, the per-type descriptor and the raw object pointer.
//!
//! Everything that reads or writes an object's memory through a raw pointer lives here or
//! in [`crate::heap`]; the handle types only call these functions.

use core::alloc::Layout;
use core::any::TypeId;
use core::cell::Cell;
use core::marker::PhantomData;
use core::ptr::NonNull;

use rawalloc::Allocator;

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
///         bits 5, 9: unused
///         bit 6       FINALIZED      bit 7  DEAD (value dropped, memory still held)
///         bit 8       DOOMED (garbage of the running collection)
///         bit 10      NO_FINALIZE    bit 11 HAS_WEAKREF_CB
///         bit 12      COUNTED (its allocation counts in generation 0's count)
///         bit 13      WEAK_CLEARED (weak references cleared: upgrades fail for good)
///         bit 14      HAS_FINALIZER (allocated with a finalizer)
///  index: position of the object in its list, so untracking is O(1)
/// ```
///
/// The value always starts 16 bytes after the header, whatever comes before it, so
/// dereferencing a handle is one add. Padding before the extension keeps the value aligned
/// for types aligned above 8.
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
}

/// Per-type descriptor: what the heap and collector need to handle an object whose static
/// type they do not know.
pub(crate) struct TypeInfo {
    name: fn() -> &'static str,
    type_id: fn() -> TypeId,
    trace: unsafe fn(ObjPtr, &mut Tracer<'_>),
    /// [`Heap::drop_doomed`]'s loop, compiled for the type.
    drop_doomed_run: unsafe fn(&Heap, &[ObjPtr], &mut usize),
    /// [`EdgeCounter::count_entries`]'s loop, compiled for the type.
    count_run: unsafe fn(&mut EdgeCounter, &Heap, usize, usize, usize, usize) -> usize,
    /// [`EdgeCounter::count_pure_entries`]'s loop, compiled for the type.
    count_pure: unsafe fn(&mut EdgeCounter, &[ObjPtr], usize, usize, usize) -> usize,
    drop_value: unsafe fn(ObjPtr),
    dealloc: unsafe fn(ObjPtr, &mut Allocator),
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

impl<T: Trace + 'static> VTable<T> {
    pub(crate) const INFO: TypeInfo = TypeInfo {
        name: core::any::type_name::<T>,
        type_id: TypeId::of::<T>,
        trace: trace_erased::<T>,
        count_run: EdgeCounter::count_run::<T>,
        count_pure: EdgeCounter::count_pure_run::<T>,
        drop_doomed_run: Heap::drop_doomed_run::<T>,
        drop_value: drop_erased::<T>,
        dealloc: dealloc_erased::<T>,
        finalize: None,
    };
}

impl<T: Finalize + 'static> VTable<T> {
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
unsafe fn trace_erased<T: Trace + 'static>(obj: ObjPtr, tracer: &mut Tracer<'_>) {
    // SAFETY: the caller guarantees the value is initialised and of type `T`.
    let value = unsafe { &*obj.value::<T>() };
    value.trace(tracer);
}

/// # Safety
/// `obj` is an object of type `T` whose value is initialised and is dropped now, once.
unsafe fn drop_erased<T: Trace + 'static>(obj: ObjPtr) {
    // SAFETY: the caller guarantees the value is initialised and not used again.
    unsafe { core::ptr::drop_in_place(obj.value::<T>()) }
}

/// # Safety
/// `obj` was allocated by `alloc` for a `T` and nothing refers to it any more.
unsafe fn dealloc_erased<T: Trace + 'static>(obj: ObjPtr, alloc: &mut Allocator) {
    // SAFETY: memory held per the caller.
    let has_ext = unsafe { obj.has_ext() };
    let back = head_room(has_ext, align_of::<T>()) - size_of::<Header>();
    // SAFETY: the allocation starts `back` bytes before the header (see `ObjPtr::init`); same
    // allocator and layout as the allocation; the caller guarantees no use after.
    unsafe {
        let start = obj.0.cast::<u8>().sub(back);
        alloc.dealloc(start, box_layout::<T>(has_ext))
    }
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

/// A raw, non-owning pointer to an object on the heap.
///
/// It holds no reference count: the object may be freed while an `ObjPtr` to it exists,
/// which is why everything that reads through it is `unsafe`. The collector uses it for
/// the objects in its lists; users see it only in [`Visitor`](crate::Visitor)s. Comparing
/// and hashing compare identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjPtr(pub(crate) NonNull<Header>);

impl core::fmt::Debug for ObjPtr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ObjPtr({:p})", self.0)
    }
}

impl ObjPtr {
    /// The object's address, for identity and display.
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr().addr()
    }

    /// Asks the CPU to start loading the object's extension, header and first value bytes,
    /// for a loop that will reach it a few iterations later. Only a hint: it never faults and
    /// changes nothing, whatever the address.
    #[inline(always)]
    pub(crate) fn prefetch(self) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let p = self.0.as_ptr().cast::<i8>();
            // SAFETY: a prefetch has no architectural effect and cannot fault, so any address
            // is allowed; `wrapping_sub`/`wrapping_add` keep the pointer arithmetic defined.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_sub(8));
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(32));
            }
        }
    }

    #[inline(always)]
    pub(crate) fn header<'a>(self) -> &'a Header {
        // SAFETY: every `ObjPtr` is created from a live allocation, and the callers of the
        // crate-internal accessors only use it while the memory is held (weak count > 0).
        unsafe { self.0.as_ref() }
    }

    /// # Safety
    /// The object has an extension (its type needs tracing) and its memory is held.
    #[inline(always)]
    pub(crate) unsafe fn ext<'a>(self) -> &'a Ext {
        // SAFETY: `Ext` directly precedes the header when present (see `Header`).
        unsafe { &*self.0.as_ptr().cast::<Ext>().sub(1) }
    }

    /// Pointer to the value, for an object of type `T`: always 16 bytes past the header.
    #[inline(always)]
    pub(crate) fn value<T>(self) -> *mut T {
        self.0.as_ptr().wrapping_add(1).cast::<T>()
    }

    // ----- accessors for the collector -------------------------------------------------
    //
    // Safety for all of them: the object's memory is held (it is in a heap list, or the
    // caller holds a strong or weak reference).

    /// The strong reference count ([`IMMORTAL`] for immortal objects).
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn strong(self) -> u32 {
        let raw = self.header().strong.get();
        if (raw as i32) < 0 { IMMORTAL } else { raw >> 1 }
    }

    /// Whether the strong count is above zero (immortal objects included), read without
    /// decoding the count.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn has_strong(self) -> bool {
        self.header().strong.get() >= ONE
    }

    /// The strong count for the collector's count pass: `None` if it is 0 (a release is
    /// queued) or the object is immortal, both of which count as referenced from outside.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn mortal_strong(self) -> Option<u32> {
        let raw = self.header().strong.get();
        // Mortal and nonzero: the field is in ONE..2^31, so `raw - ONE` stays below
        // 2^31 - ONE; 0, a lone dirty bit and immortal fields all land at or above it.
        (raw.wrapping_sub(ONE) < (1 << 31) - ONE).then_some(raw >> 1)
    }

    /// Whether the strong count was decremented to a nonzero value since a full collection
    /// last proved the object reachable (or since it was created, resurrected or unfrozen).
    ///
    /// Why it exists: in safe Rust, a group of objects can only become an unreachable cycle
    /// when the last handle from outside it is dropped, and that drop leaves a nonzero count
    /// on one of its objects (a handle cannot be moved into the group without borrowing
    /// another handle into it, which must then go too). So a full collection only needs to
    /// analyse what is reachable from dirty objects; the rest was reachable and still is.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn is_dirty(self) -> bool {
        let raw = self.header().strong.get();
        raw & DIRTY != 0 && (raw as i32) >= 0
    }

    /// Marks the object dirty (see [`is_dirty`](Self::is_dirty)); immortal objects never are.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline]
    pub(crate) unsafe fn set_dirty(self) {
        let h = self.header();
        let raw = h.strong.get();
        if (raw as i32) >= 0 {
            h.strong.set(raw | DIRTY);
        }
    }

    /// Clears the dirty mark (a full collection proved the object reachable). Writes
    /// nothing if it was clear.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn clear_dirty(self) {
        let h = self.header();
        let raw = h.strong.get();
        if raw & DIRTY != 0 && (raw as i32) >= 0 {
            h.strong.set(raw & !DIRTY);
        }
    }

    /// Adds one strong reference (saturating to immortal).
    ///
    /// # Safety
    /// The object's memory is held and its strong count is not 0.
    #[inline(always)]
    pub(crate) unsafe fn inc_strong(self) {
        let h = self.header();
        let n = h.strong.get().wrapping_add(ONE);
        // Field values from 2^31 up are immortal: one signed test on the hot path, like
        // `Rc`'s overflow check. Passing `MAX_COUNT` saturates to immortal instead of
        // wrapping (and an immortal field wraps to 0, which lands here too).
        if (n as i32) > 0 {
            h.strong.set(n);
        } else {
            saturate(h);
        }
    }

    /// Drops one strong reference, freeing the object when it was the last.
    ///
    /// # Safety
    /// The caller owns one strong reference to the object and gives it up.
    #[inline]
    pub(crate) unsafe fn dec_strong(self) {
        // SAFETY: per the caller; `release` is the untyped release.
        unsafe { self.dec_strong_with(|obj| crate::heap::release_erased(obj)) }
    }

    /// Drops one strong reference; `release` runs if it was the last.
    ///
    /// # Safety
    /// The caller owns one strong reference to the object and gives it up; `release` frees
    /// an object whose count reached 0.
    #[inline(always)]
    unsafe fn dec_strong_with(self, release: impl FnOnce(ObjPtr)) {
        let h = self.header();
        let s = h.strong.get();
        if (s as i32) > (ONE | DIRTY) as i32 {
            // Still referenced: the object may now be part of an unreachable cycle.
            h.strong.set((s - ONE) | DIRTY);
        } else if (s as i32) >= ONE as i32 {
            h.strong.set(0);
            release(self);
        }
        // Otherwise immortal (2^31 and up): never changes.
    }

    /// Whether the object carries the tracking extension (its type needs tracing).
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn has_ext(self) -> bool {
        self.header().meta.get() & HAS_EXT != 0
    }

    /// The extension flags, or 0 for an atomic object.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn flags(self) -> u32 {
        // SAFETY: checked `has_ext` first; memory held per the caller.
        unsafe {
            if self.has_ext() {
                self.ext().flags.get()
            } else {
                0
            }
        }
    }

    /// Sets the given flag bits (no-op for atomic objects).
    ///
    /// # Safety
    /// The object's memory is held. The list bits and `TRACKED` are the heap's to manage;
    /// the caller must not change them.
    #[inline(always)]
    pub(crate) unsafe fn set_flags(self, bits: u32) {
        // SAFETY: memory held per the caller; ext exists when has_ext.
        unsafe {
            if self.has_ext() {
                let e = self.ext();
                e.flags.set(e.flags.get() | bits);
            }
        }
    }

    /// Clears the given flag bits (no-op for atomic objects).
    ///
    /// # Safety
    /// As for [`set_flags`](Self::set_flags).
    #[inline(always)]
    pub(crate) unsafe fn clear_flags(self, bits: u32) {
        // SAFETY: memory held per the caller; ext exists when has_ext.
        unsafe {
            if self.has_ext() {
                let e = self.ext();
                e.flags.set(e.flags.get() & !bits);
            }
        }
    }

    /// The extension flags of an object known to carry an extension (a tracked one), without
    /// the check [`flags`](Self::flags) makes: the collector reads them once per object.
    ///
    /// # Safety
    /// The object's memory is held and it has an extension.
    #[inline(always)]
    pub(crate) unsafe fn ext_flags(self) -> u32 {
        // SAFETY: per the caller.
        unsafe { self.ext().flags.get() }
    }

    /// Position of the object in its list.
    ///
    /// # Safety
    /// The object's memory is held and it is tracked.
    #[inline(always)]
    pub(crate) unsafe fn index(self) -> usize {
        // SAFETY: a tracked object has an extension.
        unsafe { self.ext().index.get() as usize }
    }

    /// Whether the value is still alive (not dropped in place by the collector, and the
    /// strong count is not 0).
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn is_alive(self) -> bool {
        // SAFETY: memory held per the caller.
        unsafe { self.strong() != 0 && self.flags() & flags::DEAD == 0 }
    }

    /// Calls the type's `Trace` implementation on the value.
    ///
    /// # Safety
    /// The object's memory is held and its value is alive ([`is_alive`](Self::is_alive)).
    #[inline]
    pub(crate) unsafe fn trace(self, tracer: &mut Tracer<'_>) {
        // SAFETY: the value is alive per the caller.
        unsafe { (self.header().ty.trace)(self, tracer) }
    }

    /// The address of the object's type descriptor: equal for two objects means the same
    /// type.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn type_info_ptr(self) -> *const TypeInfo {
        self.header().ty
    }

    /// [`EdgeCounter::count_entries`] from this object on, through its type's descriptor.
    ///
    /// # Safety
    /// As for [`EdgeCounter::count_run`]; this is the object at `k`.
    #[inline(always)]
    pub(crate) unsafe fn count_run(
        self,
        counter: &mut EdgeCounter,
        heap: &Heap,
        list: usize,
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.count_run)(counter, heap, list, k, end, entry) }
    }

    /// [`EdgeCounter::count_pure_entries`] from this object on, through its type's
    /// descriptor.
    ///
    /// # Safety
    /// As for [`EdgeCounter::count_pure_run`]; this is the object at `k`.
    #[inline(always)]
    pub(crate) unsafe fn count_pure(
        self,
        counter: &mut EdgeCounter,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.count_pure)(counter, objs, k, end, entry) }
    }

    /// [`Heap::drop_doomed`] from this object on, through its type's descriptor.
    ///
    /// # Safety
    /// As for [`Heap::drop_doomed_run`]; this is `objs[*left - 1]`.
    #[inline(always)]
    pub(crate) unsafe fn drop_doomed_run(self, heap: &Heap, objs: &[ObjPtr], left: &mut usize) {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.drop_doomed_run)(heap, objs, left) }
    }

    /// The type's name (`core::any::type_name`).
    ///
    /// # Safety
    /// The object's memory is held.
    pub(crate) unsafe fn type_name(self) -> &'static str {
        (self.header().ty.name)()
    }

    /// The type's `TypeId`.
    ///
    /// # Safety
    /// The object's memory is held.
    pub(crate) unsafe fn type_id(self) -> TypeId {
        (self.header().ty.type_id)()
    }

    /// Drops the value in place while the memory stays allocated; every handle still
    /// pointing here becomes a *dead handle* (deref panics, weak upgrade fails).
    ///
    /// The object is untracked first, so it is never traced again. This is how the collector
    /// breaks a garbage cycle. Does nothing if the value is already dead.
    ///
    /// # Safety
    /// The object's memory is held, it has an extension, and no reference into its value
    /// (`&T`) is alive, which holds for objects the collector proved unreachable.
    pub(crate) unsafe fn drop_value_in_place(self) {
        // SAFETY: memory held and extension present per the caller.
        unsafe {
            if !self.is_alive() {
                return;
            }
            crate::heap::untrack(self);
            crate::heap::note_death(self);
            self.set_flags(flags::DEAD);
            // A temporary strong reference keeps the memory while user `Drop` code runs, even
            // if that code drops the last other handle. The guard gives it back on unwind too.
            let _hold = self.hold_temporarily();
            (self.header().ty.drop_value)(self);
        }
    }

    /// Whether the object has a finalizer that is due: one exists, it has not run, it is not
    /// suppressed, and the value is not dead.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline]
    pub(crate) unsafe fn finalizer_due(self) -> bool {
        // SAFETY: memory held per the caller.
        self.header().ty.finalize.is_some()
            && unsafe { self.flags() } & (flags::FINALIZED | flags::NO_FINALIZE | flags::DEAD) == 0
    }

    /// Runs the finalizer if it is due (see [`finalizer_due`](Self::finalizer_due)), marking
    /// the object finalized first, while holding a temporary strong reference. A panic in the
    /// finalizer is reported through the unraisable hook. Returns whether it ran.
    ///
    /// # Safety
    /// The object's memory is held and its strong count is not 0.
    pub(crate) unsafe fn run_finalizer(self) -> bool {
        // SAFETY: memory held per the caller; `finalizer_due` implies an extension.
        unsafe {
            if !self.finalizer_due() {
                return false;
            }
            self.set_flags(flags::FINALIZED);
            let _hold = self.hold_temporarily();
            self.call_finalizer();
        }
        true
    }

    /// Takes a temporary strong reference, which the guard returned gives back on every exit
    /// path, unwinding included (releasing the object if it was the last).
    ///
    /// # Safety
    /// The object's memory is held and its strong count is not 0.
    unsafe fn hold_temporarily(self) -> scopeguard::ScopeGuard<(), impl FnOnce(())> {
        // SAFETY: per the caller.
        unsafe { self.inc_strong() };
        scopeguard::guard((), move |()| {
            // SAFETY: the guard owns the temporary strong reference taken above.
            unsafe { self.dec_strong() }
        })
    }

    /// Calls the finalizer, catching and reporting a panic.
    ///
    /// # Safety
    /// The value is alive and the type has a finalizer.
    pub(crate) unsafe fn call_finalizer(self) {
        if let Some(f) = self.header().ty.finalize {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: per the caller.
                unsafe { f(self) }
            }));
            if let Err(payload) = result {
                crate::report::report_unraisable("running a finalizer", &payload);
            }
        }
    }

    // ----- crate-internal raw operations -----------------------------------------------

    /// Writes a fresh header (strong 1, implicit weak 1) into `mem` and returns the pointer
    /// to it. The extension (if `has_ext`) and the value are the caller's to write.
    ///
    /// # Safety
    /// `mem` is a fresh allocation of `box_layout::<T>(has_ext)`.
    #[inline(always)]
    pub(crate) unsafe fn init_header<T: 'static>(
        mem: NonNull<u8>,
        has_ext: bool,
        ty: &'static TypeInfo,
    ) -> ObjPtr {
        let header = Header {
            strong: Cell::new(ONE),
            meta: Cell::new(1 | if has_ext { HAS_EXT } else { 0 }),
            ty,
        };
        let front = head_room(has_ext, align_of::<T>()) - size_of::<Header>();
        // SAFETY: fresh allocation of `box_layout`, which has room for the extension and
        // padding (`front` bytes), the header and the value, each suitably aligned.
        unsafe {
            let obj = ObjPtr(mem.add(front).cast::<Header>());
            obj.0.as_ptr().write(header);
            obj
        }
    }

    /// Writes a fresh header, a zeroed extension if `has_ext`, and the value.
    ///
    /// # Safety
    /// `mem` is a fresh allocation of `box_layout::<T>(has_ext)`.
    #[inline(always)]
    pub(crate) unsafe fn init<T: 'static>(
        mem: NonNull<u8>,
        value: T,
        has_ext: bool,
        ty: &'static TypeInfo,
    ) -> ObjPtr {
        // SAFETY: per the caller.
        unsafe {
            let obj = ObjPtr::init_header::<T>(mem, has_ext, ty);
            if has_ext {
                obj.write_ext(0, 0);
            }
            obj.value::<T>().write(value);
            obj
        }
    }

    /// Overwrites the whole extension.
    ///
    /// # Safety
    /// The object has an extension and its memory is held.
    #[inline(always)]
    pub(crate) unsafe fn write_ext(self, index: u32, flags: u32) {
        // SAFETY: per the caller; `Ext` directly precedes the header.
        unsafe {
            self.0.as_ptr().cast::<Ext>().sub(1).write(Ext {
                index: Cell::new(index),
                flags: Cell::new(flags),
            })
        }
    }

    /// Sets the strong count (keeping the dirty mark); from [`MAX_COUNT`] + 1 up, immortal.
    #[inline(always)]
    pub(crate) fn set_strong(self, n: u32) {
        let h = self.header();
        h.strong.set(if n > MAX_COUNT {
            RAW_IMMORTAL
        } else {
            n << 1 | (h.strong.get() & DIRTY)
        });
    }

    /// Gives back a strong reference the caller owns without releasing anything; returns
    /// whether the count reached 0. For the collector's temporary references to mortal
    /// objects.
    ///
    /// # Safety
    /// The caller owns one strong reference to the object, which is mortal.
    #[inline(always)]
    pub(crate) unsafe fn dec_strong_no_release(self) -> bool {
        let h = self.header();
        let s = h.strong.get();
        debug_assert!(s >= ONE && (s as i32) >= 0);
        let n = s - ONE;
        h.strong.set(n);
        n < ONE
    }

    /// Drops one strong reference of a handle of static type `T`: the typed twin of
    /// [`dec_strong`](Self::dec_strong), so that the release is inlined for `T`.
    ///
    /// # Safety
    /// The caller owns one strong reference to the object and gives it up.
    #[inline(always)]
    pub(crate) unsafe fn dec_strong_typed<T: Trace + 'static>(self) {
        // SAFETY: per the caller; `release_typed` is the release for type `T`.
        unsafe { self.dec_strong_with(|obj| crate::heap::release_typed::<T>(obj)) }
    }

    #[inline(always)]
    pub(crate) fn weak_count_raw(self) -> u32 {
        self.header().meta.get() & WEAK_MASK
    }

    #[inline(always)]
    pub(crate) fn inc_weak(self) {
        let h = self.header();
        let m = h.meta.get();
        if m & WEAK_MASK == WEAK_MASK {
            // Like `Rc`: an overflowing weak count can only come from leaking handles in a
            // loop; there is no sound way to continue.
            std::process::abort();
        }
        h.meta.set(m + 1);
    }

    /// Returns the new weak count.
    #[inline(always)]
    pub(crate) fn dec_weak(self) -> u32 {
        let h = self.header();
        let m = h.meta.get() - 1;
        h.meta.set(m);
        m & WEAK_MASK
    }

    /// # Safety
    /// The value is alive and is dropped now, once.
    #[inline]
    pub(crate) unsafe fn drop_value_raw(self) {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.drop_value)(self) }
    }

    /// # Safety
    /// Nothing refers to the object any more (weak count 0, value dropped).
    #[inline]
    pub(crate) unsafe fn dealloc_raw(self, alloc: &mut Allocator) {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.dealloc)(self, alloc) }
    }
}

/// Makes an object whose count passed [`MAX_COUNT`] immortal.
#[cold]
#[inline(never)]
fn saturate(h: &Header) {
    h.strong.set(RAW_IMMORTAL);
}
