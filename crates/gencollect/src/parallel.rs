//! The count pass of a large set, split between the collecting thread and one helper
//! thread.
//!
//! The count pass is mostly arithmetic on objects it reads, so a second core takes a good
//! part of it off the collecting thread (`docs/performance.md` says how much). Only objects
//! whose type's trace is pure (rule 5 of `Trace`: gcrt's own code, nothing else) are counted
//! while the two threads run: that code reads the objects it counts and the headers of the
//! objects they reach, writes nothing but the headers of the objects it counts (the
//! temporary reference of a held generation) and its own tables, and reads no thread-local.
//! Each thread counts objects the other does not, and the collecting thread runs no other
//! code meanwhile (no user code, no `tracing` event), so no memory location is written by
//! one thread while the other reads it. Whatever is left (an object of a type whose trace
//! runs user code, and everything after it in its half) is counted by the collecting thread
//! alone, once the helper is joined.

use std::ops::Range;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use refcount::ObjPtr;
use refcount::engine::{EdgeCounter, Heap, PassTables, SetLayout};

/// Sets of fewer objects are counted by one thread: starting a thread costs tens of
/// microseconds, about what counting 10,000 objects does.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 17;

/// Whether this machine has a second core to give the helper.
pub(crate) fn has_second_core() -> bool {
    // Asking reads the scheduler's affinity and cgroup limits: once per process.
    static CORES: OnceLock<bool> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// The objects of one heap list at indices `indices`, which are the set's positions from
/// `entry` on (or, for a part counter, its entries from `entry` on).
struct Piece<'a> {
    objs: &'a [ObjPtr],
    indices: Range<usize>,
    entry: usize,
    hold: bool,
}

/// The pieces of one part of the set (the collecting thread's, or the helper's), for the
/// thread that counts them.
///
/// # Invariants
/// While a value of this type exists, every object the pieces name is alive and tracked,
/// no list is changed, and the only code that reads or writes those objects is the pure
/// count pass of this module's two threads, each on the objects of its own half.
struct Half<'a>(Vec<Piece<'a>>);

// SAFETY: the objects a `Half` names are only counted by the thread it is sent to, through
// `EdgeCounter::count_pure_entries`, while the thread that owns the heap runs that same pass
// on other objects and nothing else (type invariant): no location is written by one thread
// and accessed by the other. The scoped thread is joined before the heap is used again.
unsafe impl Send for Half<'_> {}

/// The pieces of the positions `range` of the set: entries are positions minus `base`.
///
/// # Safety
/// The lists' slices must not be used once any list operation or user code has run.
unsafe fn half<'a>(
    heap: &'a Heap,
    from: &[usize],
    layout: SetLayout,
    range: Range<usize>,
    base: usize,
    hold_list: Option<usize>,
) -> Half<'a> {
    let mut pieces = Vec::new();
    for &l in from {
        let indices = layout.indices_in(l, range.clone());
        if !indices.is_empty() {
            pieces.push(Piece {
                // SAFETY: per the caller.
                objs: unsafe { heap.list_slice(l) },
                entry: layout.range(l).start + indices.start - base,
                indices,
                hold: hold_list == Some(l),
            });
        }
    }
    Half(pieces)
}

/// Counts a half's pieces in order, objects with a pure trace only; returns how many
/// objects were counted (all of them, or those before the first it could not count).
fn count_half(counter: &mut EdgeCounter, half: &Half<'_>) -> usize {
    let mut done = 0;
    for piece in &half.0 {
        counter.set_hold(piece.hold);
        let Range { start, end } = piece.indices;
        let mut k = start;
        while k < end {
            // SAFETY: type invariant of `Half`: the objects are alive and tracked, and only
            // this pass touches them, each on one thread.
            let n = unsafe {
                counter.count_pure_entries(piece.objs, k, end, piece.entry + (k - start))
            };
            if n == 0 {
                counter.set_hold(false);
                return done;
            }
            k += n;
            done += n;
        }
    }
    counter.set_hold(false);
    done
}

/// What the helper counted: its counter, and the positions it completed.
pub(crate) struct HelperPart {
    pub(crate) counter: EdgeCounter,
    pub(crate) positions: Range<usize>,
}

/// Buffers for the helper's counter, kept between collections.
#[derive(Default)]
pub(crate) struct PartBuffers {
    pub(crate) refs: Vec<i32>,
    pub(crate) edges: Vec<u32>,
    pub(crate) tables: PassTables,
}

/// How a parallel section went, for choosing the next split ([`next_share`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// The helper's share of the set this time.
    share: f64,
    /// From the start of the section: when the collecting thread was done, when the helper
    /// started, and when it was done.
    main_done: Duration,
    helper_started: Duration,
    helper_done: Duration,
}

/// The share of the set to give the helper next time, so that both threads finish together:
/// the helper starts later than the collecting thread, and the two cores need not be equally
/// fast. Each section's answer is averaged with the share in force, so one noisy section
/// moves it only half way. Stays within 10 % and 60 %.
pub(crate) fn next_share(t: Timing) -> f64 {
    let secs = |d: Duration| d.as_secs_f64().max(1e-9);
    // Time per share of the set on each thread, and the helper's start-up delay.
    let main_per = secs(t.main_done) / (1.0 - t.share);
    let helper_per = secs(t.helper_done.saturating_sub(t.helper_started)) / t.share;
    let delay = t.helper_started.as_secs_f64();
    // (1 - s) * main_per == delay + s * helper_per
    let ideal = (main_per - delay) / (main_per + helper_per);
    ((t.share + ideal) / 2.0).clamp(0.1, 0.6)
}

/// The parallel section of a count pass over the `n` positions of `layout`: the
/// collecting thread counts from position 0 with `main` (which has counted nothing yet),
/// the helper the last `share` of the set with a part counter, both stopping at the first
/// object whose trace is not pure. Returns how many positions `main` counted, what the
/// helper counted (`None` if no helper could be started or it counted nothing: its buffers
/// are then given back), and, when both counted all of their halves, how long it took
/// them. With `hold_list`, objects of that list are held as they are counted
/// ([`EdgeCounter::set_hold`]).
///
/// `main`'s counts need not be zero: the entries of its own half are zeroed here once the
/// helper is on its way (so that the 4 MB of a 1,000,000-object set are written while the
/// helper starts), and so are the helper's when it counted nothing or could not start. The
/// helper's counts replace its entries when they are absorbed; the caller zeroes the
/// entries after those before it counts them.
///
/// If the helper panics (only a broken `Trace` contract can make gcrt's own code panic),
/// the panic resumes here after the join, and the objects it held keep their temporary
/// reference: a leak, never a free of a live object.
///
/// # Safety
/// Frees are deferred and every object of the set is alive and tracked; the caller runs no
/// user code until this returns.
pub(crate) unsafe fn count_halves(
    heap: &Heap,
    from: &[usize],
    layout: SetLayout,
    main: &mut EdgeCounter,
    bufs: PartBuffers,
    hold_list: Option<usize>,
    share: f64,
) -> (usize, Result<HelperPart, PartBuffers>, Option<Timing>) {
    let n = layout.len();
    let split = n - ((n as f64 * share) as usize).min(n);
    // SAFETY: per the caller, nothing changes the lists until the scope ends.
    let (mine, theirs) = unsafe {
        (
            half(heap, from, layout, 0..split, 0, hold_list),
            half(heap, from, layout, split..n, split, hold_list),
        )
    };
    let PartBuffers {
        mut refs,
        mut edges,
        mut tables,
    } = bufs;
    let clean = main.cleans();
    let start = Instant::now();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("gcrt-count".into())
            .spawn_scoped(scope, move || {
                let started = start.elapsed();
                // Zeroed here, by the thread that fills it; the edges and `start` table may
                // still hold the last pass's (`EdgeCounter::absorb_last`).
                refs.clear();
                refs.resize(n - split, 0);
                edges.clear();
                tables.start.clear();
                // As the collecting thread's (`start_tables`): address space only.
                edges.reserve(n - split);
                tables.start.reserve(n - split + 1);
                let mut helper = EdgeCounter::part(layout, refs, edges).with_pass_tables(tables);
                helper.set_clean(clean);
                let done = count_half(&mut helper, &theirs);
                // Its share of the subtraction: the edges to what it counted.
                helper.subtract_within(split..split + done, split);
                (helper, done, started, start.elapsed())
            });
        // Its start-up takes about as long.
        main.zero_counts(0..split);
        let mine_done = count_half(main, &mine);
        // The edges to this half (what the helper takes in is not subtracted here: those
        // entries are replaced by its counts).
        main.subtract_within(0..split, 0);
        let main_done = start.elapsed();
        let result = match spawned.map(|handle| handle.join()) {
            // No helper (its buffers went with the closure that could not start).
            Err(_) => (mine_done, Err(PartBuffers::default()), None),
            Ok(Ok((counter, done, helper_started, helper_done))) if done > 0 => {
                let timing = (mine_done == split && done == n - split).then_some(Timing {
                    share: (n - split) as f64 / n as f64,
                    main_done,
                    helper_started,
                    helper_done,
                });
                let part = HelperPart {
                    counter,
                    positions: split..split + done,
                };
                (mine_done, Ok(part), timing)
            }
            Ok(Ok((counter, ..))) => {
                let (refs, edges, tables) = counter.into_buffers();
                let bufs = PartBuffers {
                    refs,
                    edges,
                    tables,
                };
                (mine_done, Err(bufs), None)
            }
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
        };
        if result.1.is_err() {
            // No helper, or it counted nothing: the caller counts its half into these
            // entries.
            main.zero_counts(split..n);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::{Timing, next_share};
    use core::time::Duration;

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1000.0)
    }

    #[test]
    fn equal_cores_and_no_delay_keep_an_even_split() {
        let t = Timing {
            share: 0.5,
            main_done: ms(3.0),
            helper_started: ms(0.0),
            helper_done: ms(3.0),
        };
        assert!((next_share(t) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_slower_or_later_helper_gets_less() {
        let slower = Timing {
            share: 0.5,
            main_done: ms(3.0),
            helper_started: ms(0.0),
            helper_done: ms(4.0),
        };
        // Per share: main 6 ms, helper 8 ms: ideal 6 / 14; half way from 0.5.
        let expected = (0.5 + 6.0 / 14.0) / 2.0;
        assert!((next_share(slower) - expected).abs() < 1e-9);
        let later = Timing {
            share: 0.5,
            main_done: ms(3.0),
            helper_started: ms(1.0),
            helper_done: ms(4.0),
        };
        assert!(next_share(later) < 0.5);
    }

    #[test]
    fn the_share_stays_within_bounds() {
        let stuck = Timing {
            share: 0.1,
            main_done: ms(1.0),
            helper_started: ms(5.0),
            helper_done: ms(50.0),
        };
        assert_eq!(next_share(stuck), 0.1);
        let fast = Timing {
            share: 0.6,
            main_done: ms(50.0),
            helper_started: ms(0.0),
            helper_done: ms(0.1),
        };
        assert_eq!(next_share(fast), 0.6);
    }
}
