//! The raw object pointer, and everything that reads or writes an object through it.

use core::any::TypeId;
use core::cell::Cell;
use core::ptr::NonNull;

use super::{
    DIRTY, Ext, HAS_EXT, Header, IMMORTAL, MAX_COUNT, ONE, RAW_IMMORTAL, TypeInfo, WEAK_MASK,
    flags, head_room,
};
use crate::edges::EdgeCounter;
use crate::heap::Heap;
use crate::trace::Tracer;

/// An object's identity: a raw, non-owning pointer to it.
///
/// It holds no reference count, so the object may be freed while an `ObjPtr` to it exists.
/// Users see it in [`Visitor`](crate::Visitor)s, where it tells which object a handle
/// points to: compare, hash and print it, or read its [`addr`](ObjPtr::addr). Nothing safe
/// reads through it.
///
/// ```
/// use refcount::Gc;
/// let a = Gc::new(1u8);
/// let b = Gc::new(1u8);
/// assert_eq!(Gc::as_obj(&a), Gc::as_obj(&a.clone()));
/// assert_ne!(Gc::as_obj(&a), Gc::as_obj(&b));
/// assert_ne!(Gc::as_obj(&a).addr(), 0);
/// ```
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

    /// The object whose value `value` points to: its header is always 16 bytes before the
    /// value.
    ///
    /// # Safety
    /// `value` points to the value of an object (as a handle's pointer does), with the
    /// provenance of the object's whole allocation.
    #[inline(always)]
    pub(crate) unsafe fn of_value<T: ?Sized>(value: NonNull<T>) -> ObjPtr {
        // SAFETY: per the caller, the header is 16 bytes back in the same allocation.
        ObjPtr(unsafe { value.cast::<Header>().sub(1) })
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

    /// Drops one strong reference, freeing the object when it was the last (through the
    /// release compiled for its type, which its descriptor holds).
    ///
    /// # Safety
    /// The caller owns one strong reference to the object and gives it up.
    #[inline(always)]
    pub(crate) unsafe fn dec_strong(self) {
        // SAFETY: per the caller; the descriptor's release is the one for the object's type.
        unsafe { self.dec_strong_with(|obj| (obj.header().ty.release)(obj)) }
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

    /// Whether a new handle to the object may be made from its pointer: its value is alive
    /// and not lent by [`Gc::get_mut`](crate::Gc::get_mut) (a handle could be dereferenced
    /// while the `&mut` lives).
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline]
    pub(crate) unsafe fn may_make_handle(self) -> bool {
        // SAFETY: per the caller.
        unsafe { self.is_alive() && self.flags() & flags::LOANED == 0 }
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

    /// [`EdgeCounter::count_pure_entries_down`] from this object downward, through its
    /// type's descriptor.
    ///
    /// # Safety
    /// As for [`EdgeCounter::count_pure_run_down`]; this is the object at `end - 1`.
    #[inline(always)]
    pub(crate) unsafe fn count_pure_down(
        self,
        counter: &mut EdgeCounter,
        objs: &[ObjPtr],
        k: usize,
        end: usize,
        entry: usize,
    ) -> usize {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.count_pure_down)(counter, objs, k, end, entry) }
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

    /// The object's type descriptor.
    ///
    /// # Safety
    /// The object's memory is held.
    #[inline(always)]
    pub(crate) unsafe fn type_info(self) -> &'static TypeInfo {
        self.header().ty
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
    /// An object whose count is 0 is left alone: its release is queued (frees are deferred),
    /// and that release runs the finalizer. Taking a reference on it here would queue it a
    /// second time.
    ///
    /// # Safety
    /// The object's memory is held.
    pub(crate) unsafe fn run_finalizer(self) -> bool {
        // SAFETY: memory held per the caller; `finalizer_due` implies an extension.
        unsafe {
            if !self.has_strong() || !self.finalizer_due() {
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
            // SAFETY: per the caller.
            crate::report::catch_unraisable("running a finalizer", || unsafe { f(self) });
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
        let front = head_room(has_ext, align_of::<T>()) - size_of::<Header>();
        // SAFETY: fresh allocation of `box_layout`, which has room for the extension and
        // padding (`front` bytes), the header and the value, each suitably aligned.
        unsafe { ObjPtr::init_header_at(mem, front, has_ext, ty) }
    }

    /// Writes a fresh header (strong 1, implicit weak 1) `front` bytes into `mem` and returns
    /// the pointer to it; for any layout (a sized type's, through
    /// [`init_header`](Self::init_header), or a slice's).
    ///
    /// # Safety
    /// `mem` is a fresh allocation with room for the header `front` bytes in, aligned there,
    /// and for the extension before it if `has_ext`.
    #[inline(always)]
    pub(crate) unsafe fn init_header_at(
        mem: NonNull<u8>,
        front: usize,
        has_ext: bool,
        ty: &'static TypeInfo,
    ) -> ObjPtr {
        let header = Header {
            strong: Cell::new(ONE),
            meta: Cell::new(1 | if has_ext { HAS_EXT } else { 0 }),
            ty,
        };
        // SAFETY: per the caller.
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
    pub(crate) unsafe fn dealloc_raw(self, heap: &Heap) {
        // SAFETY: per the caller.
        unsafe { (self.header().ty.dealloc)(self, heap) }
    }
}

/// Makes an object whose count passed [`MAX_COUNT`] immortal.
#[cold]
#[inline(never)]
fn saturate(h: &Header) {
    h.strong.set(RAW_IMMORTAL);
}
