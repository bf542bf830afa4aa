//! Setting a collection's garbage apart and dropping it: the list operations the collector
//! calls once its analysis has decided, and the drop loop compiled per type.

use super::{Heap, PREFETCH_AHEAD, place_in_list};
use crate::header::{ObjPtr, Stored, flags};
use crate::report::{FirstPanic, Payload};

impl Heap {
    /// Splits list `from` after an analysis that identified its objects by position: the
    /// objects whose position `garbage` accepts move to the end of list `to`, with the flag
    /// bits `mark` added; the others stay in `from`, in their order. Only the objects that
    /// change place are written (a collection that finds no garbage writes nothing).
    ///
    /// # Safety
    /// Every object of `from` is alive and tracked, `from != to`, and `garbage` runs no user
    /// code.
    pub unsafe fn split_off(
        &self,
        from: usize,
        to: usize,
        mut garbage: impl FnMut(usize) -> bool,
        mark: u32,
    ) {
        debug_assert_ne!(from, to);
        // SAFETY: per the caller; the two lists are distinct cells and no user code runs.
        unsafe {
            let src = self.list_mut(from);
            let dst = self.list_mut(to);
            let mut kept = 0;
            for i in 0..src.len() {
                let obj = src[i];
                let e = obj.ext();
                if garbage(i) {
                    e.index.set(dst.len() as u32);
                    e.flags
                        .set((e.flags.get() & !flags::LIST_MASK) | to as u32 | mark);
                    dst.push(obj);
                } else {
                    keep(src, &mut kept, i);
                }
            }
            src.truncate(kept);
        }
    }

    /// The collector's fast path for garbage that needs no finalization: the objects of list
    /// `from` whose position `garbage` accepts leave the lists, are flagged `DOOMED` and
    /// `WEAK_CLEARED` (weak upgrades fail from now on), have their death counted, and get a
    /// temporary strong reference, so that no release can free them before
    /// [`drop_doomed`](Self::drop_doomed) drops their values. They are appended to `out`; the
    /// others stay in `from`, in order, written only if they change place.
    ///
    /// An object whose count is already 0 is left where it is: its release is queued (it was
    /// dropped by a `Trace` impl during the analysis), and that release frees it. `sparse`
    /// says garbage is rare in the list: then only garbage is prefetched. A list that is all
    /// garbage, appended to an empty `out` too small to hold it, trades buffers with it
    /// instead of growing it: a first collection then faults in no new buffer for it.
    ///
    /// # Safety
    /// Every object of `from` is alive and tracked, and `garbage` runs no user code (it may be
    /// asked about a position more than once, and ahead of the one being processed). Every
    /// object appended to `out` must be passed to [`drop_doomed`](Self::drop_doomed) exactly
    /// once.
    pub unsafe fn doom(
        &self,
        from: usize,
        mut garbage: impl FnMut(usize) -> bool,
        sparse: bool,
        out: &mut Vec<ObjPtr>,
    ) {
        // SAFETY: per the caller; no user code runs.
        unsafe {
            let src = self.list_mut(from);
            if out.is_empty() && out.capacity() < src.len() && (0..src.len()).all(&mut garbage) {
                return self.doom_whole(from, out);
            }
            let mut kept = 0;
            let mut deaths = 0;
            for i in 0..src.len() {
                let obj = src[i];
                // With `sparse`, only garbage is prefetched: survivors are not read at all,
                // and a little garbage in a large set must not cost a pass over all of it.
                if let Some(ahead) = src.get(i + PREFETCH_AHEAD)
                    && (!sparse || garbage(i + PREFETCH_AHEAD))
                {
                    ahead.prefetch();
                }
                // A survivor's header is not read (the side table decides).
                if garbage(i) && obj.has_strong() {
                    deaths += doom_one(obj);
                    out.push(obj);
                } else {
                    keep(src, &mut kept, i);
                }
            }
            src.truncate(kept);
            self.record_deaths(deaths);
        }
    }

    /// [`doom`](Self::doom) for a list that is all garbage, into an empty `out`: the list's
    /// buffer becomes `out` and `out`'s the list's. Objects whose count is already 0 go back
    /// to the list, in order (their queued release frees them).
    ///
    /// # Safety
    /// As for `doom`; every object of the list is garbage and `out` is empty.
    unsafe fn doom_whole(&self, from: usize, out: &mut Vec<ObjPtr>) {
        // SAFETY: per the caller; no user code runs.
        unsafe {
            let src = self.list_mut(from);
            let mut deaths = 0;
            let mut queued = false;
            for i in 0..src.len() {
                if let Some(ahead) = src.get(i + PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                let obj = src[i];
                if obj.has_strong() {
                    deaths += doom_one(obj);
                } else {
                    queued = true;
                }
            }
            core::mem::swap(src, out);
            if queued {
                // Rare (a `Trace` impl dropped a handle during the analysis): those objects
                // are still tracked in this list, at their new index.
                let mut doomed = 0;
                for i in 0..out.len() {
                    let obj = out[i];
                    if obj.ext().flags.get() & flags::DOOMED != 0 {
                        out[doomed] = obj;
                        doomed += 1;
                    } else {
                        obj.ext().index.set(src.len() as u32);
                        src.push(obj);
                    }
                }
                out.truncate(doomed);
            }
            self.record_deaths(deaths);
        }
    }

    /// [`doom`](Self::doom) for a list whose objects the count pass holds a temporary
    /// reference to ([`EdgeCounter::set_hold`](crate::engine::EdgeCounter::set_hold)), and that has
    /// no garbage with weak references: the garbage among the first `held` objects of list
    /// `from` (those the count pass held) is appended to `out` and leaves the list without
    /// being read or written. Then `condemn` is given the garbage appended, to flag it with
    /// [`condemn`] (on as many threads as it likes) before any value is dropped; its
    /// temporary reference keeps it from being released. Survivors stay in order, written
    /// only if they move. With `all`, the caller says that all of the first `held` objects
    /// are garbage: a list of nothing else then moves to `out` whole.
    ///
    /// # Safety
    /// As for `doom`; every garbage object among the first `held` holds the count pass's
    /// temporary reference, and none has weak references; `all` is true only if every one
    /// of them is garbage. `condemn` passes every object of the slice it is given to
    /// [`condemn`] exactly once, runs no user code, and returns the sum of what those calls
    /// returned.
    pub unsafe fn doom_held(
        &self,
        from: usize,
        held: usize,
        all: bool,
        mut garbage: impl FnMut(usize) -> bool,
        out: &mut Vec<ObjPtr>,
        condemn: impl FnOnce(&[ObjPtr]) -> usize,
    ) {
        // SAFETY: per the caller; no user code runs.
        unsafe {
            let src = self.list_mut(from);
            let before = out.len();
            if all && held == src.len() {
                if out.is_empty() {
                    // The buffers trade places: nothing is copied.
                    core::mem::swap(src, out);
                } else {
                    out.append(src);
                }
            } else {
                let mut kept = 0;
                for i in 0..src.len() {
                    if i < held && garbage(i) {
                        out.push(src[i]);
                    } else {
                        keep(src, &mut kept, i);
                    }
                }
                src.truncate(kept);
            }
            let deaths = condemn(&out[before..]);
            self.record_deaths(deaths);
        }
    }

    /// Gives back the temporary references the count pass took on the first `upto` objects
    /// of list `list` ([`EdgeCounter::set_hold`](crate::engine::EdgeCounter::set_hold)), except on
    /// those whose index `skip` accepts. Objects whose count is 0 or immortal hold none. An
    /// object left with no reference is released (deferred, so the list does not change).
    ///
    /// # Safety
    /// Frees are deferred; the first `upto` objects of the list are those the count pass
    /// held (alive, in place), and each holds its reference once.
    pub unsafe fn unhold(&self, list: usize, upto: usize, mut skip: impl FnMut(usize) -> bool) {
        for i in 0..upto {
            if skip(i) {
                continue;
            }
            // SAFETY: per the caller: frees are deferred, so the list neither moves nor
            // shrinks while this runs (a release only queues).
            unsafe {
                let Some(&obj) = self.list_mut(list).get(i) else {
                    return;
                };
                if let Some(ahead) = self.list_mut(list).get(i + PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                if give_back_hold(obj) {
                    self.release_slow(obj);
                }
            }
        }
    }

    /// Moves every object of list `from` to the end of list `to`, as
    /// [`append_list`](Self::append_list) does, and gives back the temporary reference the
    /// count pass took on each ([`unhold`](Self::unhold)) in the same pass over them: one
    /// read and write of each header where the two would take two. For a collection whose
    /// held list turned out to hold no garbage, which is then promoted whole.
    ///
    /// The pass itself is `relist`'s: given the objects and the index in `to` of the first,
    /// it gives each to [`relist_unholding`], possibly in parts on several threads, and
    /// returns the objects left with no reference.
    ///
    /// ```
    /// use refcount::Gc;
    /// use refcount::engine::{relist_unholding, with_heap};
    ///
    /// let a = Gc::new(core::cell::RefCell::new(None::<Gc<u8>>));
    /// assert_eq!(with_heap(|h| (h.list_len(0), h.list_len(1))), (1, 0));
    /// core::mem::forget(a.clone()); // stands in for the count pass's temporary reference
    /// // SAFETY: frees are deferred; the one object of list 0 holds one extra reference, and
    /// // `relist` gives it to `relist_unholding` with list 1, once.
    /// with_heap(|h| {
    ///     h.defer_frees(|| unsafe {
    ///         h.append_list_unholding(0, 1, |objs, base| relist_unholding(objs, 1, base))
    ///     })
    /// });
    /// assert_eq!(Gc::ref_count(&a), 1);
    /// assert_eq!(with_heap(|h| (h.list_len(0), h.list_len(1))), (0, 1));
    /// ```
    ///
    /// # Safety
    /// As for `append_list` and `unhold`: frees are deferred, neither list is being analysed,
    /// and every object of `from` holds one temporary reference of the count pass (or none,
    /// if its count is 0 or immortal). `relist` runs no user code, does not unwind, and gives
    /// the object at offset `k` of the slice it gets to [`relist_unholding`] once, with list
    /// `to` and index `base + k`; it returns, in any order, the objects that reported no
    /// reference left.
    pub unsafe fn append_list_unholding(
        &self,
        from: usize,
        to: usize,
        relist: impl FnOnce(&[ObjPtr], usize) -> Vec<ObjPtr>,
    ) {
        let mut dead = Vec::new();
        // SAFETY: per the caller: no user code runs, and every object of `from` is relisted
        // at its place at the end of `to`, where it goes.
        unsafe {
            self.move_list(from, to, |objs, base| dead = relist(objs, base));
            // Only a trace that broke its contract (dropped a handle while counted) leaves
            // one with no reference: released once the lists are whole again (it only
            // queues: frees are deferred).
            for obj in dead {
                self.release_slow(obj);
            }
        }
    }

    /// Drops the values of objects set apart by [`doom`](Self::doom), last first, and gives back
    /// their temporary references: an object nothing else holds is freed at once, the others
    /// when their last handle goes (they are `DEAD`: dereferencing a handle panics).
    ///
    /// A panicking `Drop` does not stop the others: every value is dropped, and the first
    /// panic is returned (later ones go to the unraisable hook).
    ///
    /// # Safety
    /// `objs` holds objects set apart by [`doom`](Self::doom) or
    /// [`doom_held`](Self::doom_held), each exactly once.
    pub unsafe fn drop_doomed(&self, objs: &[ObjPtr]) -> Option<Payload> {
        // The newest object first, as the collector's general path does.
        let mut left = objs.len();
        let mut panics = FirstPanic::default();
        while left != 0 {
            let done = panics.catch("dropping garbage", || {
                while left != 0 {
                    // Runs of one type go through a loop compiled for it.
                    // SAFETY: per the caller.
                    unsafe { objs[left - 1].drop_doomed_run(self, objs, &mut left) };
                }
            });
            if done.is_none() {
                // SAFETY: the object whose drop panicked still holds its temporary reference.
                unsafe { self.release_doomed(objs[left]) };
            }
        }
        panics.into_inner()
    }

    /// [`drop_doomed`](Self::drop_doomed)'s loop for objects of type `T`: drops the values
    /// of `objs[..*left]` from the last on, while they are of the type of the last one,
    /// counting `left` down before each drop (so that, if a `Drop` panics, `objs[*left]` is
    /// the object whose drop panicked).
    ///
    /// # Safety
    /// As for `drop_doomed`; `*left > 0` and `objs[*left - 1]` is a `T`.
    pub(crate) unsafe fn drop_doomed_run<T: Stored>(&self, objs: &[ObjPtr], left: &mut usize) {
        // SAFETY: the temporary reference holds the memory.
        let ty = unsafe { objs[*left - 1].type_info_ptr() };
        while *left != 0 {
            let obj = objs[*left - 1];
            // SAFETY: the temporary reference holds the memory.
            if unsafe { obj.type_info_ptr() } != ty {
                return;
            }
            *left -= 1;
            if let Some(ahead) = left.checked_sub(PREFETCH_AHEAD) {
                objs[ahead].prefetch();
            }
            // SAFETY: per the caller, the temporary reference holds the memory and the value
            // (a `T`) is alive; `DEAD` is set first, so it is dropped only here.
            unsafe {
                let e = obj.ext();
                let f = e.flags.get();
                // `doom` flagged it, or `doom_held`'s condemning step did (its death
                // counted then), before the first value was dropped.
                debug_assert!(f & flags::DOOMED != 0, "set apart and condemned");
                e.flags.set(f | flags::DEAD);
                core::ptr::drop_in_place(T::value(obj));
                if obj.dec_strong_no_release() {
                    // A destructor of the same garbage may have registered a callback on it.
                    self.fire_weakref_callbacks(obj);
                    if obj.dec_weak() == 0 {
                        self.dealloc_typed::<T>(obj, true);
                    }
                }
            }
        }
    }

    /// Gives back the temporary reference of a doomed object whose value was dropped.
    ///
    /// # Safety
    /// The object is `DEAD` and the caller owns its temporary strong reference.
    #[inline(always)]
    unsafe fn release_doomed(&self, obj: ObjPtr) {
        // SAFETY: per the caller; the value is dropped, so nothing but memory remains.
        unsafe {
            if obj.dec_strong_no_release() {
                // A destructor of the same garbage may have registered a callback on it.
                self.fire_weakref_callbacks(obj);
                self.drop_implicit_weak(obj);
            }
        }
    }
}

/// Gives garbage set apart by [`Heap::doom_held`] the flags [`Heap::doom`] gives its own (out
/// of the lists, `DOOMED`, `WEAK_CLEARED`, `DROPPING`), before any value is dropped: a `Drop`
/// of one of them must find every other one dead. Returns how many of them were counted
/// alive (`COUNTED`): their deaths, for the heap's statistics.
///
/// Only the objects' flags are read and written, and no thread-local: the garbage may be
/// condemned in parts, on several threads at once.
///
/// # Safety
/// Every object of `objs` is alive, has the extension, and holds the count pass's temporary
/// reference; no other thread accesses these objects until this returns.
pub unsafe fn condemn(objs: &[ObjPtr]) -> usize {
    let mut deaths = 0;
    for (i, &obj) in objs.iter().enumerate() {
        if let Some(ahead) = objs.get(i + PREFETCH_AHEAD) {
            ahead.prefetch();
        }
        // SAFETY: per the caller.
        deaths += unsafe { flag_doomed(obj) };
    }
    deaths
}

/// Puts the objects `objs` in list `to`, the one at offset `k` at index `base + k`, and gives
/// back the temporary reference the count pass took on each
/// ([`Heap::append_list_unholding`]'s pass). Returns the objects left with no reference
/// (only a `Trace` impl that broke its contract leaves one), for the caller to release.
///
/// Only the objects' extensions and strong counts are read and written, and no thread-local:
/// a list may be relisted in parts, on several threads at once.
///
/// # Safety
/// Every object of `objs` is alive, has the extension, and holds the count pass's temporary
/// reference once (none if its count is 0 or immortal); `base + objs.len()` fits in a `u32`;
/// the caller puts the objects in list `to` at these indices before the lists are used
/// again; no other thread accesses these objects until this returns.
pub unsafe fn relist_unholding(objs: &[ObjPtr], to: usize, base: usize) -> Vec<ObjPtr> {
    let mut dead = Vec::new();
    // SAFETY: per the caller; each object holds the reference given back once.
    unsafe {
        place_in_list(objs, to, base, |obj| {
            if give_back_hold(obj) {
                dead.push(obj);
            }
        });
    }
    dead
}

/// [`Heap::doom`]'s step for one garbage object whose count is above 0: flags it doomed
/// ([`flag_doomed`]) and gives it the temporary reference that keeps it until its value is
/// dropped. Returns 1 if its death is to be counted, else 0.
///
/// # Safety
/// `obj` is alive, tracked, has the extension and a count above 0.
#[inline(always)]
unsafe fn doom_one(obj: ObjPtr) -> usize {
    // SAFETY: per the caller.
    unsafe {
        obj.inc_strong();
        flag_doomed(obj)
    }
}

/// Gives one garbage object the flags of garbage set apart for dropping
/// ([`doomed_flags`]); returns 1 if its allocation was counted alive (`COUNTED`), so that
/// its death is counted in the heap's statistics, else 0. Reads and writes its flags only.
///
/// # Safety
/// `obj` is alive and has the extension, and no other thread accesses it meanwhile.
#[inline(always)]
unsafe fn flag_doomed(obj: ObjPtr) -> usize {
    // SAFETY: per the caller.
    let e = unsafe { obj.ext() };
    let f = e.flags.get();
    e.flags.set(doomed_flags(f));
    (f & flags::COUNTED != 0) as usize
}

/// The flags of a garbage object set apart for dropping: out of the lists, its death counted
/// (no longer `COUNTED`), `DOOMED`, and weak upgrades failing for good.
#[inline(always)]
fn doomed_flags(f: u32) -> u32 {
    (f & !(flags::TRACKED | flags::LIST_MASK | flags::COUNTED))
        | flags::DOOMED
        | flags::WEAK_CLEARED
        | flags::DROPPING
}

/// Keeps the survivor at position `i` of a list being closed up, at position `kept`, and
/// rewrites its index only if it moves.
///
/// # Safety
/// `kept <= i < list.len()` and the object at `i` is alive with an extension.
#[inline(always)]
unsafe fn keep(list: &mut [ObjPtr], kept: &mut usize, i: usize) {
    if *kept != i {
        let obj = list[i];
        list[*kept] = obj;
        // SAFETY: per the caller.
        unsafe { obj.ext().index.set(*kept as u32) };
    }
    *kept += 1;
}

/// Gives back the count pass's temporary reference on `obj`, if it holds one (its count is
/// mortal and above 0); returns whether that left it with no reference, to be released.
///
/// # Safety
/// `obj` is alive and holds the reference once, if its count is mortal and above 0.
#[inline(always)]
unsafe fn give_back_hold(obj: ObjPtr) -> bool {
    // SAFETY: per the caller.
    unsafe { obj.mortal_strong().is_some() && obj.dec_strong_no_release() }
}
