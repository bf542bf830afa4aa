//! Large objects: requests the pools do not serve go straight to the
//! system allocator, and are only counted here.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use std::alloc::System;

use crate::error::{AllocError, AllocErrorKind};

/// Counts of the live large blocks.
///
/// Blocks are not tracked one by one: the caller frees each with the
/// layout it was allocated with, as for any allocator.
#[derive(Default)]
pub(crate) struct Large {
    blocks: usize,
    bytes: usize,
}

/// The layout actually asked of the system: zero-size requests (allowed by
/// our API, not by [`GlobalAlloc`]) take one byte.
#[inline]
fn system_layout(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().max(1), layout.align()).ok()
}

impl Large {
    /// Live large blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.blocks
    }

    /// Bytes requested by the live large blocks.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Allocates a large block from the system.
    #[inline(never)]
    pub(crate) fn alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let fail = || AllocError::new(layout, AllocErrorKind::Large);
        let sys = system_layout(layout).ok_or_else(fail)?;
        // SAFETY: `sys` has a nonzero size.
        let ptr = NonNull::new(unsafe { System.alloc(sys) }).ok_or_else(fail)?;
        self.blocks += 1;
        self.bytes += layout.size();
        Ok(ptr)
    }

    /// Gives a large block back to the system.
    ///
    /// # Safety
    ///
    /// `ptr` came from [`Large::alloc`] of this `Large` with `layout`, and
    /// is not used again.
    #[inline(never)]
    pub(crate) unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let Some(sys) = system_layout(layout) else {
            unreachable!("a large block was allocated with this layout")
        };
        // SAFETY: the caller guarantees `ptr` was allocated by `System` with
        // `system_layout(layout)` == `sys`, and is not used again.
        unsafe { System.dealloc(ptr.as_ptr(), sys) };
        self.blocks -= 1;
        self.bytes -= layout.size();
    }
}
