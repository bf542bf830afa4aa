//! A counter's count table, and the part of it another counter may fill in place.
//!
//! A split count pass has two counters, one per thread. The helper's counts go straight into
//! the collecting thread's table, at the positions the helper claimed, instead of into a
//! table of its own that would be copied over after the join: the copy, and the first touch
//! of those pages, would then fall on the collecting thread alone. So while a table is
//! shared, every access to a count goes through that one entry (a pointer, or a `&mut` to
//! the entry alone), never through a reference to the whole table, which would assert access
//! to the entries the other thread is writing.

use core::ptr::NonNull;

/// The entries of a whole counter's count table that a part counter fills in place, from
/// the set's last position downward ([`EdgeCounter::share_counts`]).
///
/// [`EdgeCounter::share_counts`]: super::EdgeCounter::share_counts
#[derive(Debug)]
pub struct SharedCounts {
    /// The entry of the set's last position.
    pub(super) top: NonNull<i32>,
    /// How many positions the set has (the table's length).
    pub(super) n: usize,
}

// SAFETY: a `SharedCounts` only carries the place of a table to the thread of the part
// counter that will write in it; what may be written there, and when, is the contract of
// `EdgeCounter::share_counts` and `EdgeCounter::part_in`.
unsafe impl Send for SharedCounts {}

/// A counter's counts.
///
/// # Invariants
/// `Own`: entry `e` is `own[e]`. `Shared`: entry `e` (for `e < len`, and `len <= n`) is the
/// `i32` at `top - e` in a table of `n` entries that outlives this value, and no other code
/// accesses those `len` entries while this value exists (the contract of
/// [`EdgeCounter::part_in`](super::EdgeCounter::part_in)).
#[derive(Debug)]
pub(super) enum Counts {
    Own(Vec<i32>),
    Shared {
        top: NonNull<i32>,
        n: usize,
        len: usize,
    },
}

// SAFETY: `Own` is a `Vec`; `Shared` writes only its own entries, which nothing else
// accesses while it exists (type invariant), whichever thread it is on.
unsafe impl Send for Counts {}

impl Counts {
    /// How many entries there are.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        match self {
            Counts::Own(v) => v.len(),
            Counts::Shared { len, .. } => *len,
        }
    }

    /// A pointer to entry `e`, if there is one. Creates no reference to the table.
    #[inline(always)]
    pub(super) fn entry(&mut self, e: usize) -> Option<NonNull<i32>> {
        match self {
            // `as_mut_ptr` creates no reference to the whole buffer.
            Counts::Own(v) => (e < v.len()).then(|| {
                // SAFETY: `e` is in bounds, so the pointer is within the buffer (not null).
                unsafe { NonNull::new_unchecked(v.as_mut_ptr().add(e)) }
            }),
            Counts::Shared { top, len, .. } => (e < *len).then(|| {
                // SAFETY: `e < len <= n`: within the table (type invariant).
                unsafe { top.sub(e) }
            }),
        }
    }

    /// Adds `d` to entry `e` (wrapping), if there is one.
    #[inline(always)]
    pub(super) fn add(&mut self, e: usize, d: i32) -> bool {
        match self.entry(e) {
            Some(mut p) => {
                // SAFETY: an entry of this table, accessed by nothing else meanwhile (type
                // invariant; an `Own` table is this value's): a `&mut` to it alone is sound.
                bump(unsafe { p.as_mut() }, d);
                true
            }
            None => false,
        }
    }

    /// The place of entry 0, the step from one entry to the next, and how many there are:
    /// for loops over many entries, which then keep these in registers (a write through a
    /// raw pointer could otherwise alias this value's fields, to be read again each time).
    #[inline(always)]
    pub(super) fn raw_parts(&mut self) -> Option<(NonNull<i32>, isize, usize)> {
        let len = self.len();
        let first = self.entry(0)?;
        let step = if matches!(self, Counts::Own(_)) {
            1
        } else {
            -1
        };
        Some((first, step, len))
    }

    /// Sets the entries `range` to 0, through a reference to those entries only.
    ///
    /// # Panics
    /// If the range is not within the entries.
    pub(super) fn zero(&mut self, range: core::ops::Range<usize>) {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "entries of the table"
        );
        if range.is_empty() {
            return;
        }
        match self {
            Counts::Own(v) => {
                // SAFETY: in bounds (checked); no reference to the whole buffer is made.
                unsafe { v.as_mut_ptr().add(range.start).write_bytes(0, range.len()) }
            }
            Counts::Shared { top, .. } => {
                // Entries `start..end` are the `i32`s from `top - (end - 1)` up to `top - start`.
                // SAFETY: entries of this table (checked), nothing else's meanwhile.
                unsafe { top.sub(range.end - 1).write_bytes(0, range.len()) }
            }
        }
    }

    /// Adds `k` entries set to 0.
    ///
    /// # Panics
    /// If a shared table would have more entries than it has positions.
    pub(super) fn extend_zeroed(&mut self, k: usize) {
        match self {
            Counts::Own(v) => v.resize(v.len() + k, 0),
            Counts::Shared { n, len, .. } => {
                assert!(*len + k <= *n, "one entry per position at most");
                *len += k;
                self.zero(self.len() - k..self.len());
            }
        }
    }

    /// The table, for an `Own` one (empty for a shared one, whose table is its owner's).
    pub(super) fn into_vec(self) -> Vec<i32> {
        match self {
            Counts::Own(v) => v,
            Counts::Shared { .. } => Vec::new(),
        }
    }

    /// The table, for an `Own` one: a reference to all of it, so only once no part counter
    /// writes in it (after the join).
    ///
    /// # Panics
    /// If the table is shared.
    pub(super) fn own_mut(&mut self) -> &mut Vec<i32> {
        match self {
            Counts::Own(v) => v,
            Counts::Shared { .. } => panic!("a shared table has no entries of its own"),
        }
    }
}

/// Adds `d` to one entry, through a `&mut` to it alone (which tells the compiler that the
/// write touches nothing else).
#[inline(always)]
pub(super) fn bump(r: &mut i32, d: i32) {
    *r = r.wrapping_add(d);
}

/// Subtracts one from entry `e` of a table whose [`Counts::raw_parts`] are `first`, `step`
/// and `len`, if it has that entry.
///
/// # Safety
/// The parts are those of a table that no other code accesses at entry `e` meanwhile.
#[inline(always)]
pub(super) unsafe fn decrement(first: NonNull<i32>, step: isize, len: usize, e: usize) {
    if e < len {
        // SAFETY: `e < len`: an entry of the table (its place is `first + e * step`), this
        // code's alone per the caller.
        bump(unsafe { first.offset(e as isize * step).as_mut() }, -1);
    }
}
