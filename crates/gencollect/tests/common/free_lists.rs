//! Helpers of the free-list tests (`free_lists.rs`, `hostile_free_lists.rs`), which include
//! this file alone (`mod common { pub(crate) mod free_lists; }`).

use refcount::{FreeListStats, free_list_stats};

/// The statistics of the one list whose type name ends with `name` and whose block size is
/// `block` (0: any).
pub(crate) fn stats(name: &str, block: usize) -> FreeListStats {
    let mut found: Vec<_> = free_list_stats()
        .into_iter()
        .filter(|s| s.type_name.ends_with(name) && (block == 0 || s.block_size == block))
        .collect();
    assert_eq!(found.len(), 1, "one free list for {name}: {found:?}");
    found.pop().unwrap()
}
