//! Size classes: how a small request is rounded to a block size.
//!
//! Small requests (at most [`SMALL_REQUEST_THRESHOLD`] bytes, alignment at
//! most [`ALIGNMENT`]) are rounded up to a multiple of [`ALIGNMENT`]. Each
//! multiple is a *size class*; class `i` serves blocks of `16 * (i + 1)`
//! bytes. A request for zero bytes is served as 16.

/// Alignment, and granularity, of every small block: 16 bytes.
///
/// Every pointer handed out for a small request is aligned to this many
/// bytes, and block sizes are multiples of it.
///
/// ```
/// use std::alloc::Layout;
/// let mut heap = rawalloc::Allocator::new();
/// let p = heap.alloc(Layout::from_size_align(3, 1).unwrap());
/// assert_eq!(p.as_ptr() as usize % rawalloc::ALIGNMENT, 0);
/// # unsafe { heap.dealloc(p, Layout::from_size_align(3, 1).unwrap()) };
/// ```
pub const ALIGNMENT: usize = 16;

/// Largest request, in bytes, served from pools; anything bigger goes to the
/// system allocator as a "large object".
///
/// ```
/// assert_eq!(rawalloc::SMALL_REQUEST_THRESHOLD, 512);
/// ```
pub const SMALL_REQUEST_THRESHOLD: usize = 512;

/// Number of size classes: 16, 32, ..., 512 bytes.
///
/// ```
/// use rawalloc::{ALIGNMENT, NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD};
/// assert_eq!(NUM_SIZE_CLASSES * ALIGNMENT, SMALL_REQUEST_THRESHOLD);
/// ```
pub const NUM_SIZE_CLASSES: usize = SMALL_REQUEST_THRESHOLD / ALIGNMENT;

const _: () = assert!(ALIGNMENT.is_power_of_two());
const _: () = assert!(SMALL_REQUEST_THRESHOLD.is_multiple_of(ALIGNMENT));

/// The size class serving a request of `size` bytes, or `None` when the
/// request is too big for the pools (more than [`SMALL_REQUEST_THRESHOLD`]).
///
/// The class index is `(size - 1) / 16`; a size of zero maps to class 0.
///
/// ```
/// use rawalloc::size_class;
/// assert_eq!(size_class(0), Some(0));
/// assert_eq!(size_class(16), Some(0));
/// assert_eq!(size_class(17), Some(1));
/// assert_eq!(size_class(512), Some(31));
/// assert_eq!(size_class(513), None);
/// ```
#[inline]
#[must_use]
pub const fn size_class(size: usize) -> Option<usize> {
    if size <= SMALL_REQUEST_THRESHOLD {
        Some(index(size))
    } else {
        None
    }
}

/// Block size, in bytes, of size class `class`: `16 * (class + 1)`.
///
/// ```
/// use rawalloc::{class_size, NUM_SIZE_CLASSES};
/// assert_eq!(class_size(0), 16);
/// assert_eq!(class_size(NUM_SIZE_CLASSES - 1), 512);
/// ```
#[inline]
#[must_use]
pub const fn class_size(class: usize) -> usize {
    (class + 1) * ALIGNMENT
}

/// Class index of a small size; the caller has checked
/// `size <= SMALL_REQUEST_THRESHOLD`. The mask keeps the result provably in
/// range so indexing per-class arrays needs no bounds check.
#[inline(always)]
pub(crate) const fn index(size: usize) -> usize {
    (size.saturating_sub(1) >> ALIGNMENT.trailing_zeros()) & (NUM_SIZE_CLASSES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_maps_to_the_smallest_class_that_fits() {
        for size in 0..=SMALL_REQUEST_THRESHOLD {
            let class = size_class(size).unwrap();
            assert!(class_size(class) >= size.max(1), "size {size}");
            if class > 0 {
                assert!(class_size(class - 1) < size, "size {size}");
            }
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(size_class(0), Some(0));
        assert_eq!(size_class(1), Some(0));
        assert_eq!(size_class(16), Some(0));
        assert_eq!(size_class(17), Some(1));
        assert_eq!(size_class(32), Some(1));
        assert_eq!(size_class(33), Some(2));
        assert_eq!(size_class(511), Some(31));
        assert_eq!(size_class(512), Some(31));
        assert_eq!(size_class(513), None);
        assert_eq!(size_class(usize::MAX), None);
        assert_eq!(NUM_SIZE_CLASSES, 32);
        let sizes: Vec<usize> = (0..NUM_SIZE_CLASSES).map(class_size).collect();
        assert_eq!(sizes[..4], [16, 32, 48, 64]);
        assert_eq!(sizes[31], 512);
    }
}
