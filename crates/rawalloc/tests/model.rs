//! The allocator against a model of the live blocks: random sequences of
//! allocations and frees, checking that blocks never overlap, keep their
//! contents, and are all accounted for in the statistics.

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use proptest::prelude::*;
use proptest::test_runner::Config;
use rawalloc::{ALIGNMENT, Allocator, NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD, size_class};

/// A live block: where, its layout, and the byte it is filled with.
struct Live {
    ptr: NonNull<u8>,
    layout: Layout,
    fill: u8,
}

/// What the statistics must say about the live blocks.
#[derive(Default)]
struct Model {
    live: Vec<Live>,
    /// Start and end address of every live block.
    ranges: BTreeMap<usize, usize>,
    next_fill: u8,
}

impl Model {
    fn alloc(&mut self, heap: &mut Allocator, layout: Layout) {
        let ptr = heap.alloc(layout);
        let start = ptr.as_ptr().addr();
        assert_eq!(start % layout.align().max(ALIGNMENT), 0);
        // Blocks never overlap: no live range starts before this one ends
        // and ends after it starts. Zero-size blocks count as one byte.
        let end = start + layout.size().max(1);
        if let Some((&o_start, &o_end)) = self.ranges.range(..end).next_back() {
            assert!(
                o_end <= start,
                "{layout:?} at {start:#x} overlaps {o_start:#x}..{o_end:#x}"
            );
        }
        self.ranges.insert(start, end);
        self.next_fill = self.next_fill.wrapping_add(1);
        let fill = self.next_fill;
        // SAFETY: the block is valid for `layout.size()` bytes.
        unsafe { ptr.as_ptr().write_bytes(fill, layout.size()) };
        self.live.push(Live { ptr, layout, fill });
    }

    fn free(&mut self, heap: &mut Allocator, index: usize) {
        let Live { ptr, layout, fill } = self.live.swap_remove(index);
        self.ranges.remove(&ptr.as_ptr().addr());
        // SAFETY: the block is live and `layout.size()` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), layout.size()) };
        assert!(
            bytes.iter().all(|&b| b == fill),
            "contents of {layout:?} damaged"
        );
        // SAFETY: came from `heap` with `layout`, freed once.
        unsafe { heap.dealloc(ptr, layout) };
    }

    /// Every byte accounted for: the statistics match the model exactly.
    fn check_stats(&self, heap: &Allocator) {
        let mut blocks = [0; NUM_SIZE_CLASSES];
        let (mut large_blocks, mut large_bytes, mut bytes) = (0, 0, 0);
        for live in &self.live {
            let l = live.layout;
            match size_class(l.size()) {
                Some(class) if l.align() <= ALIGNMENT => {
                    blocks[class] += 1;
                    bytes += rawalloc::class_size(class);
                }
                _ => {
                    large_blocks += 1;
                    large_bytes += l.size();
                    bytes += l.size();
                }
            }
        }
        let stats = heap.stats();
        assert_eq!(stats.blocks_in_use, blocks);
        assert_eq!(stats.large_blocks_in_use, large_blocks);
        assert_eq!(stats.large_bytes_in_use, large_bytes);
        assert_eq!(stats.bytes_in_use, bytes);
        assert_eq!(heap.bytes_in_use(), bytes);
        assert_eq!(
            stats.arenas_held,
            stats.arenas_allocated - stats.arenas_freed
        );
    }

    /// Frees everything; the heap must be back to (at most) its spare arena.
    fn free_everything(mut self, heap: &mut Allocator) {
        while !self.live.is_empty() {
            self.free(heap, self.live.len() - 1);
        }
        self.check_stats(heap);
        let stats = heap.stats();
        assert!(stats.arenas_held <= 1, "{stats:?}");
        assert_eq!(stats.blocks_in_use, [0; NUM_SIZE_CLASSES]);
        assert_eq!(stats.pools_in_use, [0; NUM_SIZE_CLASSES]);
        assert_eq!(heap.bytes_in_use(), 0);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align32: bool,
    },
    /// Frees the live block at this index, modulo the number live.
    Free(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..=1024usize, prop::bool::weighted(0.1))
            .prop_map(|(size, align32)| Op::Alloc { size, align32 }),
        2 => any::<usize>().prop_map(Op::Free),
    ]
}

fn layout_of(size: usize, align32: bool) -> Layout {
    Layout::from_size_align(size, if align32 { 32 } else { 8 }).unwrap()
}

fn config() -> Config {
    Config {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_alloc_free_sequences_match_the_model(
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 60 } else { 600 }),
    ) {
        let mut heap = Allocator::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Alloc { size, align32 } => model.alloc(&mut heap, layout_of(size, align32)),
                Op::Free(i) if !model.live.is_empty() => {
                    let i = i % model.live.len();
                    model.free(&mut heap, i);
                }
                Op::Free(_) => {}
            }
            model.check_stats(&heap);
        }
        model.free_everything(&mut heap);
    }
}

/// Xorshift64: a tiny deterministic generator, so the same churn runs
/// everywhere, Miri included.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn deterministic_churn_through_many_pools_and_arenas() {
    let rounds = if cfg!(miri) { 3 } else { 12 };
    let steps = if cfg!(miri) { 300 } else { 30_000 };
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut heap = Allocator::new();
    let mut model = Model::default();
    let mut max_arenas = 0;
    for round in 0..rounds {
        // Grow, then shrink, so pools and arenas fill up and drain.
        for _ in 0..steps {
            let grow = model.live.is_empty() || rng.below(100) < 65;
            if grow {
                let size = match rng.below(10) {
                    0 => SMALL_REQUEST_THRESHOLD + 1 + rng.below(512),
                    1..=3 => 1 + rng.below(64),
                    _ => 1 + rng.below(SMALL_REQUEST_THRESHOLD),
                };
                model.alloc(&mut heap, layout_of(size, rng.below(20) == 0));
            } else {
                let i = rng.below(model.live.len());
                model.free(&mut heap, i);
            }
        }
        model.check_stats(&heap);
        max_arenas = max_arenas.max(heap.stats().arenas_held);
        let keep = model.live.len() / (round % 3 + 2);
        while model.live.len() > keep {
            let i = rng.below(model.live.len());
            model.free(&mut heap, i);
        }
        model.check_stats(&heap);
    }
    assert!(max_arenas >= 2, "the churn should need several arenas");
    model.free_everything(&mut heap);
    // Everything went back to the system but the spare.
    let stats = heap.stats();
    assert_eq!(stats.arenas_held, 1);
    assert_eq!(stats.arenas_freed, stats.arenas_allocated - 1);
}
