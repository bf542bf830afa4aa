//! The passes over a large set that the collecting thread shares with one helper thread:
//! the count pass ([`count_halves`]), and two passes that write one header per object, of
//! a held generation's garbage ([`condemn`]) or of a held generation promoted whole
//! ([`relist`]).
//!
//! The count pass is mostly arithmetic on objects it reads, so a second core takes a good
//! part of it off the collecting thread (`docs/performance.md` says how much). Only objects
//! whose type's trace is pure (rule 5 of `Trace`: gcrt's own code, nothing else) are counted
//! while the two threads run: that code reads the objects it counts and the headers of the
//! objects they reach, writes nothing but the headers of the objects it counts (the
//! temporary reference of a held generation, the dirty mark), its own tables, and the
//! entries of the one count table at the positions it claimed (`EdgeCounter::part_in`), and
//! reads no thread-local. Each thread counts objects the other does not, and the collecting
//! thread runs no other code meanwhile (no user code, no `tracing` event), so no memory
//! location is written by one thread while the other reads it.
//!
//! The two threads share the work as it goes, not by a split fixed in advance: the
//! collecting thread claims chunks of positions from the bottom of the set and counts them
//! upward, the helper claims chunks from the top and counts them downward, until the claims
//! meet. So a helper that starts late, or a part of the set that costs more than its share
//! of objects (one object holding a million handles), leaves neither thread waiting for
//! the other for longer than a chunk takes. Whatever is left between the two (from an
//! object of a type whose trace runs user code on either side) is counted by the
//! collecting thread alone, once the helper is joined.
//!
//! The header passes divide their objects the same way ([`share`]); each writes only the
//! headers of the objects of its chunks, reads no thread-local and runs no user code.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use refcount::ObjPtr;
use refcount::engine::{self, EdgeCounter, Heap, PassTables, SetLayout};

/// Sets of fewer objects are counted by one thread: starting a thread costs tens of
/// microseconds, about what counting 10,000 objects does.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 17;

/// Whether this machine has a second core to give the helper. The first call reads the
/// scheduler's affinity and the cgroup's CPU quota (50-130 us); later ones a cached answer.
pub(crate) fn has_second_core() -> bool {
    // Asking reads the scheduler's affinity and cgroup limits: once per process.
    static CORES: OnceLock<bool> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// One heap list's objects that belong to the set, and their positions in it.
struct ListRun<'a> {
    objs: &'a [ObjPtr],
    positions: Range<usize>,
    hold: bool,
}

impl ListRun<'_> {
    /// The position of the run's first object, and the indices of its objects whose
    /// positions are in `chunk` (`None` if there are none).
    fn indices_in(&self, chunk: &Range<usize>) -> Option<(usize, Range<usize>)> {
        let base = self.positions.start;
        let lo = chunk.start.max(base);
        let hi = chunk.end.min(self.positions.end);
        (lo < hi).then(|| (base, lo - base..hi - base))
    }
}

/// The objects of the set, list by list in the set's order, as both threads see them.
///
/// # Invariants
/// While a value of this type exists, every object it names is alive and tracked, no list is
/// changed, and the only code that reads or writes those objects is the pure count pass of
/// this module's two threads, each on the positions it claimed from the one [`Claims`].
struct SetObjects<'a>(Vec<ListRun<'a>>);

// SAFETY: the objects are only counted, through `EdgeCounter::count_pure_entries` and
// `count_pure_entries_down`, by the thread that claimed their positions, while the thread
// that owns the heap runs that same pass on other positions and nothing else (type
// invariant): no location is written by one thread and accessed by the other. The slices
// themselves are only read. The scoped thread is joined before the heap is used again.
unsafe impl Sync for SetObjects<'_> {}

/// The set's objects, list by list.
///
/// # Safety
/// The lists' slices must not be used once any list operation or user code has run.
unsafe fn set_objects<'a>(
    heap: &'a Heap,
    from: &[usize],
    layout: SetLayout,
    hold_list: Option<usize>,
) -> SetObjects<'a> {
    let runs = from
        .iter()
        .map(|&l| ListRun {
            // SAFETY: per the caller.
            objs: unsafe { heap.list_slice(l) },
            positions: layout.range(l),
            hold: hold_list == Some(l),
        })
        .filter(|run| !run.positions.is_empty())
        .collect();
    SetObjects(runs)
}

/// The positions of the set not claimed yet, `lo..hi`, in one word: the collecting thread
/// claims chunks from the bottom, the helper from the top, until the two meet. Each chunk
/// is claimed by one thread only (a read-modify-write of one atomic word). The top
/// `reserve` positions are the helper's first claim, made before the others are divided:
/// it cannot find the set claimed whole by the time it starts.
struct Claims {
    bounds: AtomicU64,
    chunk: usize,
    reserve: usize,
}

impl Claims {
    /// Claims for the positions `0..n` (fewer than 2^32: [`SetLayout`] numbers no more).
    fn new(n: usize) -> Claims {
        // Small enough that neither thread waits long for the other's last chunk, large
        // enough that claiming costs nothing next to counting.
        let chunk = (n / 64).clamp(1, 8192);
        // One chunk; half the set when it is split only because the threshold was lowered
        // (as tests do): there the helper's start-up is most of the pass, and the helper
        // would otherwise find nothing left to count.
        let reserve = if n < PARALLEL_THRESHOLD { n / 2 } else { chunk }.min(n);
        Claims {
            bounds: AtomicU64::new(pack(0, n - reserve)),
            chunk,
            reserve,
        }
    }

    /// The helper's first claim: the reserved top of the set.
    fn reserved(&self, n: usize) -> Range<usize> {
        n - self.reserve..n
    }

    /// Claims the next chunk, from the top or from the bottom; `None` once all are claimed.
    fn take(&self, from_top: bool) -> Option<Range<usize>> {
        let mut cur = self.bounds.load(Ordering::Relaxed);
        loop {
            let (lo, hi) = ((cur & u64::from(u32::MAX)) as usize, (cur >> 32) as usize);
            if lo >= hi {
                return None;
            }
            let (range, next) = if from_top {
                let a = hi.saturating_sub(self.chunk).max(lo);
                (a..hi, pack(lo, a))
            } else {
                let b = (lo + self.chunk).min(hi);
                (lo..b, pack(b, hi))
            };
            // The claims only divide the positions: what each thread writes reaches the
            // other through the join.
            match self
                .bounds
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(range),
                Err(now) => cur = now,
            }
        }
    }
}

fn pack(lo: usize, hi: usize) -> u64 {
    lo as u64 | (hi as u64) << 32
}

/// The collecting thread's share: claims chunks from the bottom and counts each upward,
/// zeroing its entries first, until the claims meet or an object's trace is not pure.
/// Returns how many positions it counted (all from position 0) and the end of what it
/// claimed.
fn count_up(counter: &mut EdgeCounter, set: &SetObjects<'_>, claims: &Claims) -> (usize, usize) {
    let (mut done, mut top) = (0, 0);
    while let Some(chunk) = claims.take(false) {
        counter.zero_counts(chunk.clone());
        top = chunk.end;
        let n = count_chunk_up(counter, set, chunk.clone());
        done += n;
        if n < chunk.len() {
            break;
        }
    }
    (done, top)
}

/// Counts the positions `chunk` upward; returns how many (fewer than all at an object whose
/// trace is not pure).
fn count_chunk_up(counter: &mut EdgeCounter, set: &SetObjects<'_>, chunk: Range<usize>) -> usize {
    let mut done = 0;
    for run in &set.0 {
        let Some((base, Range { start: mut k, end })) = run.indices_in(&chunk) else {
            continue;
        };
        counter.set_hold(run.hold);
        while k < end {
            // SAFETY: type invariant of `SetObjects`: the objects are alive and tracked, and
            // only this pass touches them, each on the thread that claimed it.
            let n = unsafe { counter.count_pure_entries(run.objs, k, end, base + k) };
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

/// The helper's share: counts the reserved top of the set, then claims chunks from the top,
/// each counted downward into a part counter, until the claims meet or an object's trace is
/// not pure. Returns how many positions it counted (all up to the set's end).
fn count_down(counter: &mut EdgeCounter, set: &SetObjects<'_>, claims: &Claims, n: usize) -> usize {
    let mut done = 0;
    let reserved = Some(claims.reserved(n)).filter(|r| !r.is_empty());
    for chunk in reserved
        .into_iter()
        .chain(core::iter::from_fn(|| claims.take(true)))
    {
        counter.extend_counts(chunk.len());
        let counted = count_chunk_down(counter, set, chunk.clone(), n);
        done += counted;
        if counted < chunk.len() {
            break;
        }
    }
    done
}

/// Counts the positions `chunk` downward, position `p` in entry `n - 1 - p`; returns how
/// many (fewer than all at an object whose trace is not pure).
fn count_chunk_down(
    counter: &mut EdgeCounter,
    set: &SetObjects<'_>,
    chunk: Range<usize>,
    n: usize,
) -> usize {
    let mut done = 0;
    for run in set.0.iter().rev() {
        let Some((base, Range { start: k, mut end })) = run.indices_in(&chunk) else {
            continue;
        };
        counter.set_hold(run.hold);
        while k < end {
            let entry = n - (base + end);
            // SAFETY: as in `count_chunk_up`.
            let counted = unsafe { counter.count_pure_entries_down(run.objs, k, end, entry) };
            if counted == 0 {
                counter.set_hold(false);
                return done;
            }
            end -= counted;
            done += counted;
        }
    }
    counter.set_hold(false);
    done
}

/// What the helper counted: its counter, and the positions it completed (always up to the
/// set's end).
pub(crate) struct HelperPart {
    pub(crate) counter: EdgeCounter,
    pub(crate) positions: Range<usize>,
}

/// Buffers for the helper's counter, kept between collections (its counts go into the
/// collecting thread's table).
#[derive(Default)]
pub(crate) struct PartBuffers {
    pub(crate) edges: Vec<u32>,
    pub(crate) tables: PassTables,
}

/// The parallel section of a count pass over the `n` positions of `layout`: the
/// collecting thread counts upward from position 0 with `main` (which has counted nothing
/// yet), the helper downward from the top with a part counter, both stopping where their
/// claims meet or at the first object whose trace is not pure. Returns how many positions
/// `main` counted (from 0 on) and what the helper counted (`None` if no helper could be
/// started or it counted nothing: its buffers are then given back). With `hold_list`,
/// objects of that list are held as they are counted ([`EdgeCounter::set_hold`]).
///
/// `main`'s counts need not be zero: each chunk's entries are zeroed as it is claimed, and
/// the entries between the two threads' counts when this returns. The helper's counts
/// replace its entries when they are absorbed ([`EdgeCounter::absorb_last`]).
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
) -> (usize, Result<HelperPart, PartBuffers>) {
    let n = layout.len();
    // SAFETY: per the caller, nothing changes the lists until the scope ends.
    let set = unsafe { set_objects(heap, from, layout, hold_list) };
    let claims = Claims::new(n);
    let PartBuffers {
        mut edges,
        mut tables,
    } = bufs;
    let clean = main.cleans();
    // The helper writes its counts in this thread's table, at the positions it claims; this
    // thread writes only at the positions it claims, one entry at a time, until the join.
    // SAFETY: the helper's counter is absorbed by `main` (the caller's `absorb_last`) or
    // dropped before `main` gives its table back, and it has entries only for positions the
    // helper claimed, which `main` does not touch before the join.
    let shared = unsafe { main.share_counts() };
    let (set, claims) = (&set, &claims);
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("gcrt-count".into())
            .spawn_scoped(scope, move || {
                // The edges and `start` table may still hold the last pass's
                // (`EdgeCounter::absorb_last`).
                edges.clear();
                tables.start.clear();
                // Asked here, not before the spawn: the first answer takes longer than the
                // spawn, and the collecting thread counts meanwhile. With one core, the
                // helper counts nothing, and its reserve is counted after the join.
                let second_core = has_second_core();
                if second_core {
                    // As the collecting thread's (`start_tables`): address space only.
                    rawalloc::reserve_in_huge_pages(&mut edges, 2 * n);
                    rawalloc::reserve_in_huge_pages(&mut tables.start, n / 2 + 1);
                }
                // SAFETY: see `shared` above.
                let mut helper =
                    unsafe { EdgeCounter::part_in(layout, shared, edges) }.with_pass_tables(tables);
                if !second_core {
                    return (helper, 0);
                }
                helper.set_clean(clean);
                let done = count_down(&mut helper, set, claims, n);
                // Its share of the subtraction: the edges to what it counted.
                helper.subtract_within(n - done..n);
                (helper, done)
            });
        let (mine_done, mine_top) = count_up(main, set, claims);
        // The edges to what this thread claimed (those to the helper's positions are
        // subtracted once its counts are taken in).
        main.subtract_within(0..mine_top);
        let result = match spawned.map(|handle| handle.join()) {
            // No helper (its buffers went with the closure that could not start).
            Err(_) => (mine_done, Err(PartBuffers::default())),
            Ok(Ok((counter, done))) if done > 0 => {
                let part = HelperPart {
                    counter,
                    positions: n - done..n,
                };
                (mine_done, Ok(part))
            }
            Ok(Ok((counter, _))) => {
                let (_, edges, tables) = counter.into_buffers();
                let bufs = PartBuffers { edges, tables };
                (mine_done, Err(bufs))
            }
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
        };
        // What neither thread counted: the caller counts it into these entries.
        let until = result.1.as_ref().map_or(n, |part| part.positions.start);
        main.zero_counts(mine_top..until);
        result
    })
}

/// A collection's objects that two threads work on in one pass, each only on the chunks it
/// claimed ([`Claims`]).
///
/// # Invariants
/// The objects are alive and hold the count pass's temporary reference; each is accessed
/// only by the thread that claimed its chunk, and by no other code until the scoped thread
/// is joined.
struct ClaimedObjects<'a>(&'a [ObjPtr]);

// SAFETY: per the type invariant, a thread reads and writes only the objects of the chunks
// it claimed, which no other thread touches meanwhile.
unsafe impl Sync for ClaimedObjects<'_> {}

impl ClaimedObjects<'_> {
    /// Runs `each` on every chunk this thread claims (from the top with `from_top`), with
    /// the chunk's offset, into `acc`.
    fn run<A>(
        &self,
        claims: &Claims,
        from_top: bool,
        acc: &mut A,
        each: &impl Fn(&[ObjPtr], usize, &mut A),
    ) {
        while let Some(chunk) = claims.take(from_top) {
            self.run_chunk(chunk, acc, each);
        }
    }

    /// Runs `each` on one chunk this thread claimed (a method, so that a closure captures
    /// the whole `ClaimedObjects`, not its slice).
    fn run_chunk<A>(
        &self,
        chunk: Range<usize>,
        acc: &mut A,
        each: &impl Fn(&[ObjPtr], usize, &mut A),
    ) {
        each(&self.0[chunk.clone()], chunk.start, acc);
    }
}

/// Objects the helper found with no reference left, sent back to the collecting thread,
/// which releases them. Only their addresses cross: nothing reads them on the way.
#[derive(Default)]
struct Dead(Vec<ObjPtr>);

// SAFETY: a list of addresses; the helper no longer touches the objects once it is sent.
unsafe impl Send for Dead {}

/// Runs `each` over the chunks of `objs`: with `split`, on this thread and a helper thread
/// called `name`, which claim them from opposite ends until they meet ([`Claims`]), so that
/// a helper that starts late takes fewer, and with no helper this thread does them all;
/// without, on this thread, as one chunk. `each` gets a chunk, its offset in `objs`, and the
/// accumulator of the thread running it; returns this thread's accumulator and the
/// helper's.
///
/// # Safety
/// `each` may run on the helper for any chunk: it touches only the objects of the chunk it
/// is given, reads no thread-local, runs no user code and does not panic; and no other
/// code touches the objects until this returns.
unsafe fn share<A: Default + Send>(
    objs: &[ObjPtr],
    (name, split): (&str, bool),
    each: impl Fn(&[ObjPtr], usize, &mut A) + Sync,
) -> (A, A) {
    let n = objs.len();
    if !split || n < 2 {
        let mut mine = A::default();
        each(objs, 0, &mut mine);
        return (mine, A::default());
    }
    let claims = Claims::new(n);
    // (The type invariant: chunks are claimed once, each by one thread; per the caller.)
    let shared = ClaimedObjects(objs);
    let (shared, claims, each) = (&shared, &claims, &each);
    let reserved = |acc: &mut A| shared.run_chunk(claims.reserved(n), acc, each);
    std::thread::scope(|scope| {
        let spawned =
            std::thread::Builder::new()
                .name(name.into())
                .spawn_scoped(scope, move || {
                    let mut acc = A::default();
                    reserved(&mut acc);
                    shared.run(claims, true, &mut acc, each);
                    acc
                });
        let mut mine = A::default();
        shared.run(claims, false, &mut mine, each);
        let theirs = match spawned.map(|helper| helper.join()) {
            Ok(Ok(acc)) => acc,
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
            // No helper: the closure never ran, and its reserve is left.
            Err(_) => {
                let mut acc = A::default();
                reserved(&mut acc);
                acc
            }
        };
        (mine, theirs)
    })
}

/// Flags `garbage` with [`engine::condemn`], on two threads when `split` (a write to each
/// header, made before the first value is dropped: for 1,000,000 objects a pass that two
/// cores share). Returns the deaths counted, as `engine::condemn` does.
///
/// # Safety
/// As for [`engine::condemn`]; the caller runs no other code until this returns.
pub(crate) unsafe fn condemn(garbage: &[ObjPtr], split: bool) -> usize {
    let each = |objs: &[ObjPtr], _, deaths: &mut usize| {
        // SAFETY: per the caller, for the chunk `share` gives this thread alone.
        *deaths += unsafe { engine::condemn(objs) };
    };
    // SAFETY: per the caller; `engine::condemn` writes only the flags of the objects it is
    // given, reads no thread-local, runs no user code and does not panic.
    let (mine, theirs) = unsafe { share(garbage, ("gcrt-condemn", split), each) };
    mine + theirs
}

/// Gives the objects of a list promoted whole their place in list `to` (from index `base`)
/// and back the count pass's temporary reference ([`engine::relist_unholding`]), on two
/// threads when `split` (a write to each header: for 1,000,000 objects a pass that two
/// cores share). Returns the objects left with no reference, as
/// `engine::relist_unholding` does.
///
/// # Safety
/// As for [`engine::relist_unholding`]; the caller runs no other code until this returns.
pub(crate) unsafe fn relist(objs: &[ObjPtr], to: usize, base: usize, split: bool) -> Vec<ObjPtr> {
    let each = |chunk: &[ObjPtr], offset: usize, dead: &mut Dead| {
        // SAFETY: per the caller, for the chunk `share` gives this thread alone, each object
        // at the index of its offset.
        dead.0
            .extend(unsafe { engine::relist_unholding(chunk, to, base + offset) });
    };
    // SAFETY: per the caller; `engine::relist_unholding` writes only the extension and
    // strong count of the objects it is given, reads no thread-local, runs no user code and
    // does not panic.
    let (Dead(mut mine), Dead(theirs)) = unsafe { share(objs, ("gcrt-relist", split), each) };
    mine.extend(theirs);
    mine
}

#[cfg(test)]
mod tests {
    use super::{Claims, PARALLEL_THRESHOLD};

    /// Claims taken in turns from both ends, after the helper's reserve: whether they tile
    /// the positions `0..n`, each claimed once.
    fn tile(n: usize) -> bool {
        let claims = Claims::new(n);
        let mut ranges = vec![claims.reserved(n)];
        let mut from_top = false;
        while let Some(r) = claims.take(from_top) {
            ranges.push(r);
            from_top = !from_top;
        }
        let none_left = claims.take(false).is_none() && claims.take(true).is_none();
        ranges.retain(|r| !r.is_empty());
        ranges.sort_by_key(|r| r.start);
        let mut next = 0;
        for r in &ranges {
            if r.start != next {
                return false;
            }
            next = r.end;
        }
        none_left && next == n
    }

    #[test]
    fn claims_from_both_ends_cover_the_set_once() {
        for n in [0, 1, 2, 7, 1000, PARALLEL_THRESHOLD, 1_000_003] {
            assert!(tile(n), "{n}");
        }
    }

    #[test]
    fn the_helper_reserves_one_chunk_of_a_large_set_and_half_of_a_small_one() {
        let large = Claims::new(1 << 20);
        assert_eq!((large.chunk, large.reserve), (8192, 8192));
        assert_eq!(large.take(true), Some((1 << 20) - 16384..(1 << 20) - 8192));
        assert_eq!(large.take(false), Some(0..8192));
        let small = Claims::new(1000);
        assert_eq!((small.chunk, small.reserved(1000)), (15, 500..1000));
        assert_eq!(small.take(true), Some(485..500));
    }
}
