//! The immortal region: a bump allocator for memory that lives as long as
//! the heap. Blocks are never freed one by one; the whole region goes when
//! the [`Allocator`](crate::Allocator) is dropped.

use core::alloc::Layout;
use core::ptr::NonNull;

use bumpalo::Bump;

use crate::error::{AllocError, AllocErrorKind};

/// The bump region and the bytes requested from it.
#[derive(Default)]
pub(crate) struct Immortal {
    bump: Bump,
    bytes: usize,
}

impl Immortal {
    /// Bytes requested so far.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes the region holds from the system, its slack included.
    pub(crate) fn reserved(&self) -> usize {
        self.bump.allocated_bytes()
    }

    /// Allocates `layout` from the region; the block stays valid until the
    /// region is dropped.
    pub(crate) fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let ptr = self
            .bump
            .try_alloc_layout(layout)
            .map_err(|_| AllocError::new(layout, AllocErrorKind::Immortal))?;
        self.bytes += layout.size();
        Ok(ptr)
    }
}
