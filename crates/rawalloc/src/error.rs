//! The error returned when memory cannot be had.

use core::alloc::Layout;
use core::fmt;

use crate::arena::ARENA_SIZE;

/// Which step of an allocation failed.
///
/// ```
/// use rawalloc::{AllocError, AllocErrorKind};
/// fn is_large(err: &AllocError) -> bool {
///     err.kind == AllocErrorKind::Large
/// }
/// # let _ = is_large;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AllocErrorKind {
    /// A small request needed a new pool, every held arena was full, and the
    /// system allocator refused a new arena.
    Arena,
    /// The system allocator refused a large-object block (more than
    /// [`SMALL_REQUEST_THRESHOLD`](crate::SMALL_REQUEST_THRESHOLD) bytes, or
    /// alignment above [`ALIGNMENT`](crate::ALIGNMENT)).
    Large,
    /// The immortal region could not grow.
    Immortal,
}

/// An allocation failed: the system allocator refused memory.
///
/// ```
/// use std::alloc::Layout;
/// use rawalloc::{Allocator, AllocErrorKind};
///
/// # if cfg!(miri) { return; } // Miri cannot model a refused request.
/// let mut heap = Allocator::new();
/// // No system can provide this much memory.
/// let huge = Layout::from_size_align(isize::MAX as usize / 2, 16).unwrap();
/// let err = heap.try_alloc(huge).unwrap_err();
/// assert_eq!(err.layout, huge);
/// assert_eq!(err.kind, AllocErrorKind::Large);
/// assert!(err.to_string().contains("large-object"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocError {
    /// The request that failed.
    pub layout: Layout,
    /// Which step failed.
    pub kind: AllocErrorKind,
}

impl AllocError {
    pub(crate) const fn new(layout: Layout, kind: AllocErrorKind) -> AllocError {
        AllocError { layout, kind }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory allocation of {} bytes (align {}) failed: ",
            self.layout.size(),
            self.layout.align()
        )?;
        match self.kind {
            AllocErrorKind::Arena => write!(
                f,
                "the system allocator refused a new {ARENA_SIZE}-byte arena for the small-object heap"
            ),
            AllocErrorKind::Large => {
                f.write_str("the system allocator refused the large-object block")
            }
            AllocErrorKind::Immortal => f.write_str("the immortal region could not grow"),
        }
    }
}

impl std::error::Error for AllocError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_failed_step() {
        let layout = Layout::from_size_align(24, 8).unwrap();
        let arena = AllocError::new(layout, AllocErrorKind::Arena).to_string();
        assert_eq!(
            arena,
            format!(
                "memory allocation of 24 bytes (align 8) failed: the system allocator refused a new {ARENA_SIZE}-byte arena for the small-object heap"
            )
        );
        let large = AllocError::new(layout, AllocErrorKind::Large).to_string();
        assert!(large.ends_with("refused the large-object block"), "{large}");
        let immortal = AllocError::new(layout, AllocErrorKind::Immortal).to_string();
        assert!(
            immortal.ends_with("immortal region could not grow"),
            "{immortal}"
        );
    }
}
