//! Large tables in huge pages: a buffer of several megabytes that is written once from end
//! to end (a collector's side table, say) takes a page fault per 4 KiB page the first time,
//! about two microseconds each, where one fault per 2 MiB huge page costs little more than
//! zeroing it. These functions give such a buffer room to cover whole huge pages and ask
//! the kernel (Linux's `madvise(MADV_HUGEPAGE)`) to back them so. Elsewhere, and under
//! Miri, they only reserve.

/// The huge page size these functions plan for (x86-64 and most Linux targets).
pub const HUGE_PAGE: usize = 2 << 20;

/// From how many bytes a table is worth its huge-page slack (see [`huge_slack`]).
pub const HUGE_TABLE_MIN: usize = HUGE_PAGE;

/// The extra capacity, in elements, that a table of `len` elements of `T` reserves so that
/// its first `len` elements end inside a whole huge page of its allocation: one huge page's
/// worth when the table is at least [`HUGE_TABLE_MIN`] bytes, none below (a huge page
/// would cost more to zero than a small table's faults).
///
/// ```
/// assert_eq!(rawalloc::huge_slack::<u32>(1000), 0);
/// assert_eq!(rawalloc::huge_slack::<u32>(1 << 20), rawalloc::HUGE_PAGE / 4);
/// ```
pub fn huge_slack<T>(len: usize) -> usize {
    let size = size_of::<T>();
    if size > 0 && len.saturating_mul(size) >= HUGE_TABLE_MIN {
        HUGE_PAGE / size
    } else {
        0
    }
}

/// Makes sure `buf` has room for `total` elements in all; when it must grow and `total`
/// elements are at least [`HUGE_TABLE_MIN`] bytes, it grows to `total` plus
/// [`huge_slack`] and asks for huge pages ([`advise_huge_pages`]). The contents are kept.
///
/// ```
/// let mut table: Vec<u32> = vec![7];
/// rawalloc::reserve_in_huge_pages(&mut table, 1 << 20);
/// assert!(table.capacity() >= (1 << 20) + rawalloc::huge_slack::<u32>(1 << 20));
/// assert_eq!(table, [7]);
/// ```
pub fn reserve_in_huge_pages<T>(buf: &mut Vec<T>, total: usize) {
    if buf.capacity() >= total {
        return;
    }
    let slack = huge_slack::<T>(total);
    buf.reserve_exact(total.saturating_add(slack) - buf.len());
    if slack > 0 {
        advise_huge_pages(buf);
    }
}

/// Asks the kernel to back the whole huge pages inside `buf`'s allocation (its capacity,
/// not only its length) with huge pages as they are first touched. Only advice: nothing is
/// read, written or faulted in now, and the contents stay as they are. A no-op off Linux,
/// under Miri, and where the allocation holds no whole huge page.
///
/// ```
/// let mut table: Vec<u64> = Vec::with_capacity(1 << 20);
/// rawalloc::advise_huge_pages(&mut table);
/// table.resize(1 << 20, 0);
/// assert!(table.iter().all(|&x| x == 0));
/// ```
pub fn advise_huge_pages<T>(buf: &mut Vec<T>) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let bytes = buf.capacity().saturating_mul(size_of::<T>());
        let start = buf.as_mut_ptr().addr();
        let first = start.next_multiple_of(HUGE_PAGE);
        let end = (start + bytes) & !(HUGE_PAGE - 1);
        if end > first {
            // SAFETY: `[first, end)` lies inside `buf`'s allocation, which `buf` owns and
            // which stays mapped while it lives. `MADV_HUGEPAGE` only changes how its pages
            // are backed when next faulted in: the memory and its contents stay valid. The
            // result is ignored: without huge pages the table works as before.
            unsafe {
                libc::madvise(
                    buf.as_mut_ptr()
                        .cast::<u8>()
                        .wrapping_add(first - start)
                        .cast(),
                    end - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = buf;
}
