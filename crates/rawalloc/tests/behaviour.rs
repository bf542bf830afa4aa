//! The allocator's observable behaviour, through its public API, with exact
//! expected figures. Sizes come from the public constants, so the same
//! tests hold under Miri's reduced pool and arena sizes.

use std::alloc::Layout;
use std::ptr::NonNull;

use rawalloc::{
    ALIGNMENT, ARENA_SIZE, AllocErrorKind, Allocator, NUM_SIZE_CLASSES, POOL_SIZE,
    SMALL_REQUEST_THRESHOLD, Stats, blocks_per_pool, class_size, size_class,
};

const POOLS_PER_ARENA: usize = ARENA_SIZE / POOL_SIZE;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn pool_of(p: NonNull<u8>) -> usize {
    p.as_ptr().addr() & !(POOL_SIZE - 1)
}

fn alloc_n(heap: &mut Allocator, l: Layout, n: usize) -> Vec<NonNull<u8>> {
    (0..n).map(|_| heap.alloc(l)).collect()
}

fn free_all(heap: &mut Allocator, l: Layout, blocks: impl IntoIterator<Item = NonNull<u8>>) {
    for p in blocks {
        // SAFETY: every block in these tests came from `heap` with `l` and
        // is freed once.
        unsafe { heap.dealloc(p, l) };
    }
}

#[test]
fn small_blocks_are_aligned_and_distinct_for_every_size() {
    let mut heap = Allocator::new();
    let mut live = Vec::new();
    for size in 0..=SMALL_REQUEST_THRESHOLD {
        let l = Layout::from_size_align(size, 1).unwrap();
        let p = heap.alloc(l);
        assert_eq!(p.as_ptr().addr() % ALIGNMENT, 0, "size {size}");
        live.push((p, l));
    }
    let mut addrs: Vec<usize> = live.iter().map(|(p, _)| p.as_ptr().addr()).collect();
    addrs.sort_unstable();
    addrs.dedup();
    assert_eq!(addrs.len(), SMALL_REQUEST_THRESHOLD + 1);
    let stats = heap.stats();
    // 16 sizes per class, plus size 0 in class 0.
    assert_eq!(stats.blocks_in_use[0], 17);
    assert!(stats.blocks_in_use[1..].iter().all(|&n| n == 16));
    for (p, l) in live {
        // SAFETY: came from `heap` with `l`, freed once.
        unsafe { heap.dealloc(p, l) };
    }
    assert_eq!(heap.stats().blocks_in_use, [0; NUM_SIZE_CLASSES]);
    assert_eq!(heap.bytes_in_use(), 0);
}

#[test]
fn a_freed_block_is_handed_out_again_first() {
    let mut heap = Allocator::new();
    let l = layout(24);
    let [a, b, c] = [heap.alloc(l), heap.alloc(l), heap.alloc(l)];
    free_all(&mut heap, l, [b, a]);
    // LIFO: the last freed comes back first, then the one before.
    assert_eq!(heap.alloc(l), a);
    assert_eq!(heap.alloc(l), b);
    // Then virgin space, right after `c`.
    let d = heap.alloc(l);
    assert_eq!(d.as_ptr().addr(), c.as_ptr().addr() + class_size(1));
    free_all(&mut heap, l, [a, b, c, d]);
}

#[test]
fn a_full_pool_makes_way_for_a_new_one_and_comes_back_when_a_block_frees() {
    let mut heap = Allocator::new();
    let l = layout(64);
    let class = size_class(64).unwrap();
    let per_pool = blocks_per_pool(class);
    let mut first = alloc_n(&mut heap, l, per_pool);
    assert!(first.iter().all(|&p| pool_of(p) == pool_of(first[0])));
    assert_eq!(heap.stats().pools_in_use[class], 1);

    let next = heap.alloc(l);
    assert_ne!(pool_of(next), pool_of(first[0]));
    assert_eq!(heap.stats().pools_in_use[class], 2);

    // Freeing a block of the full pool makes it the current pool again.
    let freed = first.pop().unwrap();
    free_all(&mut heap, l, [freed]);
    assert_eq!(heap.alloc(l), freed);
    first.push(freed);

    let stats = heap.stats();
    assert_eq!(stats.blocks_in_use[class], per_pool + 1);
    assert_eq!(stats.pools_in_use[class], 2);
    free_all(&mut heap, l, first);
    free_all(&mut heap, l, [next]);
    assert_eq!(heap.stats().pools_in_use[class], 0);
}

#[test]
fn an_empty_pool_is_reused_by_another_class() {
    let mut heap = Allocator::new();
    let small = layout(16);
    let p = heap.alloc(small);
    let pool = pool_of(p);
    free_all(&mut heap, small, [p]);
    assert_eq!(heap.stats().pools_in_use, [0; NUM_SIZE_CLASSES]);

    let bigger = layout(200);
    let q = heap.alloc(bigger);
    assert_eq!(pool_of(q), pool);
    let stats = heap.stats();
    assert_eq!(stats.pools_in_use[size_class(200).unwrap()], 1);
    assert_eq!(stats.pools_in_use[0], 0);
    assert_eq!(stats.arenas_allocated, 1);
    // The pool was set up afresh: its first block follows the header.
    let r = heap.alloc(bigger);
    assert_eq!(
        r.as_ptr().addr(),
        q.as_ptr().addr() + class_size(size_class(200).unwrap())
    );
    free_all(&mut heap, bigger, [q, r]);
}

#[test]
fn emptied_pools_are_reused_before_new_pools_are_carved() {
    let mut heap = Allocator::new();
    let n = POOLS_PER_ARENA.min(8);
    let first: Vec<(NonNull<u8>, Layout)> = (0..n)
        .map(|class| {
            let l = layout(class_size(class));
            (heap.alloc(l), l)
        })
        .collect();
    let mut pools: Vec<usize> = first.iter().map(|&(p, _)| pool_of(p)).collect();
    pools.sort_unstable();
    pools.dedup();
    assert_eq!(pools.len(), n);
    for (p, l) in first {
        free_all(&mut heap, l, [p]);
    }
    // Other classes now: every pool they get is one of the emptied ones.
    let second: Vec<(NonNull<u8>, Layout)> = (n..2 * n)
        .map(|class| {
            let l = layout(class_size(class));
            (heap.alloc(l), l)
        })
        .collect();
    for &(p, _) in &second {
        assert!(pools.contains(&pool_of(p)));
    }
    assert_eq!(heap.stats().arenas_allocated, 1);
    for (p, l) in second {
        free_all(&mut heap, l, [p]);
    }
}

#[test]
fn an_alloc_free_loop_keeps_reusing_one_block() {
    let mut heap = Allocator::new();
    let l = layout(40);
    let first = heap.alloc(l);
    free_all(&mut heap, l, [first]);
    for _ in 0..100 {
        let p = heap.alloc(l);
        assert_eq!(p, first);
        free_all(&mut heap, l, [p]);
    }
    let stats = heap.stats();
    assert_eq!((stats.arenas_allocated, stats.arenas_held), (1, 1));
    assert_eq!(stats.pools_in_use, [0; NUM_SIZE_CLASSES]);
    assert_eq!(stats.bytes_in_use, 0);
}

#[test]
fn empty_arenas_go_back_to_the_system_but_one_spare() {
    let mut heap = Allocator::new();
    let l = layout(128);
    let per_arena = POOLS_PER_ARENA * blocks_per_pool(size_class(128).unwrap());
    let blocks = alloc_n(&mut heap, l, 2 * per_arena + 1);
    let stats = heap.stats();
    assert_eq!(stats.arenas_allocated, 3);
    assert_eq!(stats.arenas_held, 3);
    assert_eq!(stats.arenas_freed, 0);

    free_all(&mut heap, l, blocks);
    let stats = heap.stats();
    assert_eq!(stats.arenas_held, 1);
    assert_eq!(stats.arenas_freed, 2);
    assert_eq!(stats.arenas_allocated, 3);

    // The spare serves the next allocation: no new arena.
    let p = heap.alloc(l);
    assert_eq!(heap.stats().arenas_allocated, 3);
    free_all(&mut heap, l, [p]);
}

#[test]
fn deferred_releases_set_arenas_aside_and_reuse_them_first() {
    let mut heap = Allocator::new();
    heap.set_release_deferred(true);
    let l = layout(128);
    let per_arena = POOLS_PER_ARENA * blocks_per_pool(size_class(128).unwrap());
    let blocks = alloc_n(&mut heap, l, 3 * per_arena);
    let arenas: Vec<usize> = blocks
        .iter()
        .map(|p| p.as_ptr().addr() & !(POOL_SIZE - 1))
        .collect();
    free_all(&mut heap, l, blocks);
    let stats = heap.stats();
    assert_eq!(
        (stats.arenas_held, stats.arenas_freed, stats.arenas_retired),
        (1, 0, 2)
    );
    assert!(heap.report().contains("arenas set aside to give back"));

    // Reused before any new memory: every block lies in a pool of the first round's arenas.
    let again = alloc_n(&mut heap, l, 3 * per_arena);
    let stats = heap.stats();
    assert_eq!(
        (
            stats.arenas_held,
            stats.arenas_allocated,
            stats.arenas_retired
        ),
        (3, 3, 0)
    );
    assert!(again.iter().all(|p| arenas.contains(&pool_of(*p))));

    // Released for good once deferring is off.
    heap.set_release_deferred(false);
    free_all(&mut heap, l, again);
    let stats = heap.stats();
    assert_eq!(
        (stats.arenas_held, stats.arenas_freed, stats.arenas_retired),
        (1, 2, 0)
    );
    assert!(heap.take_retired().is_empty());
}

#[test]
fn retired_arenas_are_given_back_on_another_thread() {
    let mut heap = Allocator::new();
    heap.set_release_deferred(true);
    let l = layout(256);
    let per_arena = POOLS_PER_ARENA * blocks_per_pool(size_class(256).unwrap());
    let blocks = alloc_n(&mut heap, l, 4 * per_arena);
    free_all(&mut heap, l, blocks);
    assert_eq!(heap.stats().arenas_freed, 0);
    let retired = heap.take_retired();
    assert_eq!(retired.len(), 3);
    let stats = heap.stats();
    assert_eq!((stats.arenas_retired, stats.arenas_freed), (0, 3));
    std::thread::spawn(move || drop(retired)).join().unwrap();
    // The heap goes on from its spare.
    let p = heap.alloc(l);
    assert_eq!(heap.stats().arenas_allocated, 4);
    free_all(&mut heap, l, [p]);
}

#[test]
fn a_heap_dropped_with_arenas_set_aside_gives_them_back() {
    let mut heap = Allocator::new();
    heap.set_release_deferred(true);
    let l = layout(64);
    let per_arena = POOLS_PER_ARENA * blocks_per_pool(size_class(64).unwrap());
    let blocks = alloc_n(&mut heap, l, 2 * per_arena);
    free_all(&mut heap, l, blocks);
    assert_eq!(heap.stats().arenas_retired, 1);
    drop(heap); // Miri and LeakSanitizer report the arena if it leaked.
}

#[test]
fn churn_at_an_arena_boundary_does_not_thrash() {
    let mut heap = Allocator::new();
    let l = layout(512);
    let per_arena = POOLS_PER_ARENA * blocks_per_pool(size_class(512).unwrap());
    let full = alloc_n(&mut heap, l, per_arena);
    assert_eq!(heap.stats().arenas_allocated, 1);
    for _ in 0..50 {
        let p = heap.alloc(l);
        free_all(&mut heap, l, [p]);
    }
    let stats = heap.stats();
    assert_eq!(stats.arenas_allocated, 2);
    assert_eq!(stats.arenas_freed, 0);
    free_all(&mut heap, l, full);
    let stats = heap.stats();
    assert_eq!((stats.arenas_held, stats.arenas_freed), (1, 1));
}

#[test]
fn new_pools_come_from_the_most_used_arena() {
    let mut heap = Allocator::new();
    let l = layout(256);
    let class = size_class(256).unwrap();
    let per_pool = blocks_per_pool(class);
    // Fill arena A, then start arena B.
    let mut a = alloc_n(&mut heap, l, POOLS_PER_ARENA * per_pool);
    let b = heap.alloc(l);
    assert_eq!(heap.stats().arenas_allocated, 2);
    // Empty one pool of A: A now has 1 free pool, B has all but one.
    let pool_in_a: Vec<_> = a.drain(..per_pool).collect();
    let freed_pool = pool_of(pool_in_a[0]);
    free_all(&mut heap, l, pool_in_a);
    // Another class needs a pool: it comes from A, the most used.
    let other = layout(32);
    let q = heap.alloc(other);
    assert_eq!(pool_of(q), freed_pool);
    free_all(&mut heap, other, [q]);
    free_all(&mut heap, l, a);
    free_all(&mut heap, l, [b]);
    assert_eq!(heap.stats().arenas_held, 1);
}

#[test]
fn large_requests_go_to_the_system_and_are_counted() {
    let mut heap = Allocator::new();
    let at_threshold = layout(SMALL_REQUEST_THRESHOLD);
    let over = layout(SMALL_REQUEST_THRESHOLD + 1);
    let big = layout(10_000);
    let s = heap.alloc(at_threshold);
    let p = heap.alloc(over);
    let q = heap.alloc(big);
    // SAFETY: `q` is a live block of 10 000 bytes.
    unsafe { q.as_ptr().write_bytes(0xAB, 10_000) };
    let stats = heap.stats();
    assert_eq!(stats.large_blocks_in_use, 2);
    assert_eq!(stats.large_bytes_in_use, 513 + 10_000);
    assert_eq!(stats.blocks_in_use[NUM_SIZE_CLASSES - 1], 1);
    assert_eq!(stats.bytes_in_use, 512 + 513 + 10_000);
    free_all(&mut heap, over, [p]);
    free_all(&mut heap, big, [q]);
    free_all(&mut heap, at_threshold, [s]);
    let stats = heap.stats();
    assert_eq!(
        (stats.large_blocks_in_use, stats.large_bytes_in_use),
        (0, 0)
    );
    assert_eq!(stats.bytes_in_use, 0);
}

#[test]
fn alignment_above_16_goes_to_the_system() {
    let mut heap = Allocator::new();
    let mut live = Vec::new();
    for (size, align) in [(16, 32), (0, 64), (100, 128), (512, 4096), (8, 16)] {
        let l = Layout::from_size_align(size, align).unwrap();
        let p = heap.alloc(l);
        assert_eq!(p.as_ptr().addr() % align, 0, "{l:?}");
        live.push((p, l));
    }
    let stats = heap.stats();
    assert_eq!(stats.large_blocks_in_use, 4);
    assert_eq!(stats.large_bytes_in_use, 16 + 100 + 512);
    assert_eq!(stats.blocks_in_use[0], 1);
    assert_eq!(stats.arenas_held, 1);
    for (p, l) in live {
        // SAFETY: came from `heap` with `l`, freed once.
        unsafe { heap.dealloc(p, l) };
    }
    assert_eq!(heap.bytes_in_use(), 0);
}

#[test]
fn zero_size_requests_get_distinct_16_byte_blocks() {
    let mut heap = Allocator::new();
    let l = layout(0);
    let [a, b] = [heap.alloc(l), heap.alloc(l)];
    assert_ne!(a, b);
    assert_eq!(heap.stats().blocks_in_use[0], 2);
    assert_eq!(heap.bytes_in_use(), 32);
    free_all(&mut heap, l, [a, b]);
}

#[test]
fn stats_are_exact() {
    let mut heap = Allocator::new();
    assert_eq!(heap.stats(), Stats::default());
    let l16 = layout(10);
    let l48 = layout(48);
    let big = layout(700);
    let per_pool = blocks_per_pool(0);
    let small = alloc_n(&mut heap, l16, per_pool + 1); // two pools
    let mid = alloc_n(&mut heap, l48, 3);
    let large = heap.alloc(big);
    heap.alloc_immortal(Layout::from_size_align(40, 8).unwrap());

    let mut expected = Stats {
        arenas_allocated: 1,
        arenas_freed: 0,
        arenas_held: 1,
        large_blocks_in_use: 1,
        large_bytes_in_use: 700,
        immortal_bytes: 40,
        bytes_in_use: (per_pool + 1) * 16 + 3 * 48 + 700 + 40,
        ..Stats::default()
    };
    expected.pools_in_use[0] = 2;
    expected.blocks_in_use[0] = per_pool + 1;
    expected.pools_in_use[2] = 1;
    expected.blocks_in_use[2] = 3;
    assert_eq!(heap.stats(), expected);
    assert_eq!(heap.bytes_in_use(), expected.bytes_in_use);

    free_all(&mut heap, l16, small);
    free_all(&mut heap, l48, mid);
    free_all(&mut heap, big, [large]);
    let mut expected = Stats {
        arenas_allocated: 1,
        arenas_held: 1,
        immortal_bytes: 40,
        bytes_in_use: 40,
        ..Stats::default()
    };
    assert_eq!(heap.stats(), expected);
    expected.bytes_in_use = heap.bytes_in_use();
    assert_eq!(expected.bytes_in_use, 40);
}

#[test]
fn the_report_has_a_row_per_class_in_use_and_the_totals() {
    let mut heap = Allocator::new();
    let l16 = layout(16);
    let l512 = layout(512);
    let big = layout(1000);
    let a = alloc_n(&mut heap, l16, 3);
    let b = heap.alloc(l512);
    let c = heap.alloc(big);
    heap.alloc_immortal(Layout::from_size_align(24, 8).unwrap());
    let report = heap.report();

    assert!(report.contains("class   size   num pools   blocks in use  avail blocks\n"));
    let row0 = format!(
        "{:5}  {:5}  {:10}  {:14}  {:12}\n",
        0,
        16,
        1,
        3,
        blocks_per_pool(0) - 3
    );
    let row31 = format!(
        "{:5}  {:5}  {:10}  {:14}  {:12}\n",
        31,
        512,
        1,
        1,
        blocks_per_pool(31) - 1
    );
    assert!(report.contains(&row0), "{report}");
    assert!(report.contains(&row31), "{report}");
    // Only classes with pools in use get a row.
    let rows = report
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() == 5 && fields.iter().all(|f| f.parse::<usize>().is_ok())
        })
        .count();
    assert_eq!(rows, 2, "{report}");
    let total = |label: &str, value: usize| format!("# {label:<40} = {value:>15}\n");
    for expected in [
        total("arenas allocated total", 1),
        total("arenas reclaimed", 0),
        total("arenas held", 1),
        total("pools in use", 2),
        total("free pools in held arenas", POOLS_PER_ARENA - 2),
        total("bytes in allocated blocks", 3 * 16 + 512),
        total("large blocks in use", 1),
        total("large bytes in use", 1000),
        total("immortal bytes", 24),
        total("bytes in use", 3 * 16 + 512 + 1000 + 24),
    ] {
        assert!(
            report.contains(&expected),
            "missing {expected:?} in\n{report}"
        );
    }
    free_all(&mut heap, l16, a);
    free_all(&mut heap, l512, [b]);
    free_all(&mut heap, big, [c]);
}

#[test]
fn immortal_blocks_stay_valid_while_the_heap_churns() {
    let mut heap = Allocator::new();
    let mut immortal = Vec::new();
    for i in 0..20u8 {
        let l = Layout::from_size_align(usize::from(i) * 7 + 1, 1 << (i % 6)).unwrap();
        let p = heap.alloc_immortal(l);
        assert_eq!(p.as_ptr().addr() % l.align(), 0);
        // SAFETY: `p` is valid for `l.size()` bytes while `heap` lives.
        unsafe { p.as_ptr().write_bytes(i, l.size()) };
        immortal.push((p, l, i));
    }
    let l = layout(32);
    let blocks = alloc_n(&mut heap, l, 3 * blocks_per_pool(1));
    free_all(&mut heap, l, blocks);
    let expected: usize = immortal.iter().map(|(_, l, _)| l.size()).sum();
    assert_eq!(heap.stats().immortal_bytes, expected);
    assert_eq!(heap.bytes_in_use(), expected);
    for (p, l, i) in immortal {
        // SAFETY: still valid: `heap` is alive.
        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), l.size()) };
        assert!(bytes.iter().all(|&b| b == i));
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot model the system refusing a huge request")]
fn a_refused_large_request_is_an_error_naming_the_step() {
    let mut heap = Allocator::new();
    let huge = Layout::from_size_align(isize::MAX as usize / 2, 64).unwrap();
    let err = heap.try_alloc(huge).unwrap_err();
    assert_eq!(err.layout, huge);
    assert_eq!(err.kind, AllocErrorKind::Large);
    assert!(err.to_string().starts_with(&format!(
        "memory allocation of {} bytes (align 64) failed",
        huge.size()
    )));
    assert_eq!(heap.stats(), Stats::default());
}

#[test]
fn dropping_the_heap_returns_its_arenas() {
    // Drop with small blocks still live: the arenas go back to the system
    // (Miri's leak check would flag it otherwise).
    let mut heap = Allocator::new();
    let l = layout(100);
    let blocks = alloc_n(&mut heap, l, 2 * POOLS_PER_ARENA * blocks_per_pool(6));
    assert_eq!(heap.stats().arenas_held, 2);
    drop(blocks);
    drop(heap);
}

#[test]
fn a_leaked_heap_keeps_its_blocks_valid() {
    use std::sync::atomic::{AtomicPtr, Ordering};
    // Where the blocks stay referenced after the heap is gone (this also
    // tells Miri's leak check the memory is still reachable).
    static SMALL: AtomicPtr<u64> = AtomicPtr::new(std::ptr::null_mut());
    static IMMORTAL: AtomicPtr<u64> = AtomicPtr::new(std::ptr::null_mut());

    let mut heap = Allocator::new();
    let p = heap.alloc(layout(8)).cast::<u64>();
    let q = heap.alloc_immortal(layout(8)).cast::<u64>();
    SMALL.store(p.as_ptr(), Ordering::Relaxed);
    IMMORTAL.store(q.as_ptr(), Ordering::Relaxed);
    heap.leak();
    let (p, q) = (
        SMALL.load(Ordering::Relaxed),
        IMMORTAL.load(Ordering::Relaxed),
    );
    // SAFETY: a leaked heap's blocks are valid forever.
    unsafe {
        p.write(1);
        q.write(2);
        assert_eq!(p.read() + q.read(), 3);
    }
}
