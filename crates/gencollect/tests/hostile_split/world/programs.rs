//! Random programs against the model, and the hub, clean, borrowed, repeated, finalizer and
//! lent cases.

use super::*;

/// Runs one random program on a world: nodes of every kind made, linked and let go, hubs
/// that hold every node, young and full collections. Returns what the collections found.
fn random_program(seed: u64, steps: usize, max_nodes: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut world = World::new(format!("seed {seed}"));
    let live = |w: &World| -> Vec<usize> { (0..w.len()).filter(|&i| w.model.alive[i]).collect() };
    for _ in 0..steps {
        let alive = live(&world);
        match rng.below(100) {
            0..30 if world.len() < max_nodes => {
                let kind = match rng.below(20) {
                    0 | 1 => Kind::Imp,
                    2 => Kind::Bx,
                    3 => Kind::Fz,
                    _ => PURE[rng.below(PURE.len())],
                };
                let i = world.add(kind, true);
                if !alive.is_empty() {
                    let j = alive[rng.below(alive.len())];
                    world.link(i, j);
                    if rng.chance(50) {
                        world.link(j, i);
                    }
                }
            }
            30..55 if !alive.is_empty() => {
                let a = alive[rng.below(alive.len())];
                let b = alive[rng.below(alive.len())];
                world.link(a, b);
            }
            55..72 if !alive.is_empty() => {
                let a = alive[rng.below(alive.len())];
                world.release(a);
            }
            72..76 if world.len() < max_nodes => {
                // A hub: a new node (the top of the set) holding every live node, held by
                // one of them or by the test.
                let hub = world.add(PURE[rng.below(PURE.len())], true);
                for &i in &alive {
                    world.link(hub, i);
                }
                if !alive.is_empty() && rng.chance(50) {
                    let j = alive[rng.below(alive.len())];
                    world.link(j, hub);
                    world.release(hub);
                }
            }
            76..79 if !alive.is_empty() => {
                let a = alive[rng.below(alive.len())];
                world.unlink_all(a);
            }
            79 => {
                // Frozen nodes leave every set; their edges hold what they reach.
                if rng.chance(50) {
                    world.freeze();
                } else {
                    world.unfreeze();
                }
            }
            80..88 => {
                world.collect(Some(0));
            }
            88..93 => {
                world.collect(Some(1));
            }
            93..100 => {
                world.collect(None);
            }
            _ => {}
        }
    }
    world.collect(None);
    world.finish()
}

/// Random programs, checked against the model at every collection, split (every pass,
/// generation 0 held or not) and unsplit: all three find the same garbage, collection by
/// collection.
#[test]
fn random_programs_split_and_unsplit_agree_with_the_model() {
    let (seeds, steps, max) = if cfg!(miri) {
        (2, 28, 26)
    } else {
        (16, 500, 400)
    };
    for seed in 0..seeds {
        let split = {
            let _settings = Settings::split(seed % 2 == 0);
            random_program(900 + seed, steps, max)
        };
        let unsplit = {
            let _settings = Settings::split(false);
            gencollect::set_parallel(false);
            let before = gencollect::split_passes();
            let r = random_program(900 + seed, steps, max);
            assert_eq!(gencollect::split_passes(), before, "never split");
            r
        };
        assert_eq!(split, unsplit, "seed {seed}");
    }
}

/// One node holds a handle to every other, placed at the top of the set (where the
/// helper starts), at the bottom, in the exact middle, or at the top with a trace that
/// is user code (the helper then counts nothing).
#[test]
fn a_node_that_holds_everything_anywhere_in_the_set() {
    let sizes = if cfg!(miri) {
        [10, 8, 12]
    } else {
        [900, 800, 1_300]
    };
    let n: usize = sizes.iter().sum();
    for (c, (at, kind)) in [
        (n - 1, Kind::P1),
        (0, Kind::Op),
        (n / 2, Kind::Hp),
        (n - 1, Kind::Imp),
        (n / 2, Kind::Bx),
    ]
    .into_iter()
    .enumerate()
    // Under Miri: at the top, pure and not, and in the middle.
    .filter(|&(c, _)| !cfg!(miri) || c == 0 || c >= 3)
    {
        let _settings = Settings::split(c % 2 == 0);
        let mut world = World::new(format!("hub {kind:?} at {at}"));
        let mut rng = Rng::new(1_100 + c as u64);
        let mut pure = pure_runs(&mut rng);
        let kind_at = |p: usize| if p == at { kind } else { pure(p) };
        three_generations(&mut world, sizes, kind_at, |p| p % 3 != 1 || p == at);
        for i in (0..n).filter(|&i| i != at) {
            world.link(at, i);
        }
        let others: Vec<usize> = (0..n).filter(|&i| i != at).collect();
        for pair in others.chunks(2) {
            world.ring(pair);
        }
        for &i in &others {
            world.release(i);
        }
        assert_eq!(world.collect(None), 0, "{}: all held by the hub", world.ctx);
        // The hub lets go of everything, then holds the second half again.
        let hub = world.handle(at);
        let held = hub.take_out();
        for (k, &i) in others.iter().enumerate().skip(others.len() / 2) {
            assert_eq!(held[k].id() as usize, i, "{}: in link order", world.ctx);
            hub.link(held[k].clone());
            world.model.add_edge(at, i);
        }
        drop((hub, held));
        world.model.drop_first_edges(at, others.len());
        let half = others.len() / 2;
        assert_eq!(world.collect(None), half - half % 2, "{}", world.ctx);
        world.release(at);
        world.collect(None);
        world.finish();
    }
}

/// Full scan off: a full collection over a heap of new (dirty) objects gives up
/// choosing and counts the whole set split, making the objects it counts clean; the
/// next ones choose only what dirty objects reach. Every one is exact.
#[test]
fn split_passes_that_make_objects_clean_leave_later_collections_exact() {
    let (sizes, rounds) = if cfg!(miri) {
        ([8, 8, 8], 2)
    } else {
        ([800, 800, 800], 6)
    };
    for hold in [false, true] {
        let _settings = Settings::split(hold);
        let mut rng = Rng::new(1_200 + u64::from(hold));
        let mut world = World::new(format!("full scan off, hold {hold}"));
        let n: usize = sizes.iter().sum();
        let mut kinds = Rng::new(1_300 + u64::from(hold));
        let mut pure = pure_runs(&mut kinds);
        let kind_at = |p: usize| if p % 41 == 7 { Kind::Imp } else { pure(p) };
        three_generations(&mut world, sizes, kind_at, |_| true);
        let rings = random_rings(&mut rng, n, 4);
        for ring in &rings {
            world.ring(ring);
        }
        gencollect::set_full_scan(false);
        world.collect(None);
        for round in 0..rounds {
            // A few rings let go (their counts drop: dirty), a few new edges.
            for ring in rings.iter().skip(round).step_by(rounds + 1) {
                for &i in ring {
                    world.release(i);
                }
            }
            for _ in 0..3 {
                let alive: Vec<usize> = (0..n).filter(|&i| world.model.alive[i]).collect();
                if alive.len() > 1 {
                    let (a, b) = (alive[rng.below(alive.len())], alive[rng.below(alive.len())]);
                    world.link(a, b);
                }
            }
            world.collect(None);
            if round == 1 {
                // Many at once: the choice gives up again, and the pass is split.
                for i in (0..n).step_by(2) {
                    world.release(i);
                }
                world.collect(None);
            }
        }
        gencollect::set_full_scan(true);
        world.finish();
    }
}

/// Nodes whose `RefCell` is mutably borrowed during a split collection (their edges
/// cannot be read: they count as held from outside), and a node whose value
/// `Gc::get_mut` lent (never read while lent), in the helper's part and in the
/// collecting thread's; the borrows are used after the collection, as Miri checks.
#[test]
fn borrowed_and_lent_nodes_in_either_part_keep_what_they_hold() {
    let sizes = if cfg!(miri) {
        [10, 10, 10]
    } else {
        [600, 600, 600]
    };
    let n: usize = sizes.iter().sum();
    for (c, full_scan) in [true, false].into_iter().enumerate() {
        let _settings = Settings::split(c == 0);
        let mut world = World::new(format!("borrowed, full scan {full_scan}"));
        let lent_at = [n - 3, 2];
        let borrowed_at = [n - 1, n / 2, 1];
        let kind_at = |p: usize| {
            if lent_at.contains(&p) || borrowed_at.contains(&p) {
                Kind::P4
            } else {
                PURE[p % PURE.len()]
            }
        };
        three_generations(&mut world, sizes, kind_at, |p| !lent_at.contains(&p));
        gencollect::set_full_scan(full_scan);
        // Rings of two, and the special nodes hold rings that are otherwise garbage.
        let others: Vec<usize> = (0..n)
            .filter(|p| !lent_at.contains(p) && !borrowed_at.contains(p))
            .collect();
        for pair in others.chunks(2) {
            world.ring(pair);
        }
        for (k, &s) in lent_at.iter().chain(&borrowed_at).enumerate() {
            for j in 0..3 {
                world.link(s, others[(k * 7 + j * 13) % others.len()]);
            }
        }
        for &i in &others {
            world.release(i);
        }
        // Lend the values: the test's handle is the only one, with no weak handle.
        let mut lent: Vec<Handle> = lent_at
            .iter()
            .map(|&i| world.held[i].take().unwrap())
            .collect();
        let mut loans: Vec<&mut dyn Node> = lent
            .iter_mut()
            .map(|g| Gc::get_mut(g).expect("unique"))
            .collect();
        let keep: Vec<Handle> = borrowed_at.iter().map(|&i| world.handle(i)).collect();
        for &i in &borrowed_at {
            world.model.add_root(i);
        }
        let mut guards: Vec<_> = keep
            .iter()
            .map(|g| g.vec_out().unwrap().borrow_mut())
            .collect();
        // Held: what the special nodes hold; garbage: the other rings.
        world.collect(None);
        // The borrows and loans are still good: write through them.
        // Held by the first lent node, so alive.
        let extra = others[0];
        for (k, guard) in guards.iter_mut().enumerate() {
            guard.push(world.handle(extra));
            world.model.add_edge(borrowed_at[k], extra);
        }
        for (k, loan) in loans.iter_mut().enumerate() {
            let target = world.handle(extra);
            loan.vec_out_mut().unwrap().push(target);
            world.model.add_edge(lent_at[k], extra);
        }
        world.verify();
        drop(guards);
        drop(loans);
        drop(keep);
        for &i in &borrowed_at {
            world.model.drop_root(i);
        }
        for (k, g) in lent.into_iter().enumerate() {
            world.held[lent_at[k]] = Some(g);
        }
        world.collect(None);
        for s in lent_at.iter().chain(&borrowed_at) {
            world.release(*s);
        }
        world.collect(None);
        gencollect::set_full_scan(true);
        world.finish();
    }
}

/// Vectors that hold one handle many times over (slices report such runs at once), in
/// both parts: each handle counts once, the split counts subtract every one.
#[test]
fn handles_repeated_many_times_are_each_counted_once() {
    let sizes = if cfg!(miri) {
        [6, 6, 6]
    } else {
        [500, 500, 500]
    };
    let n: usize = sizes.iter().sum();
    for hold in [true, false] {
        let _settings = Settings::split(hold);
        let mut world = World::new(format!("repeated handles, hold {hold}"));
        three_generations(&mut world, sizes, |p| PURE[p % 5], |p| p % 2 == 0);
        let reps = if cfg!(miri) { 9 } else { 40 };
        // Node i holds node n-1-i `reps` times, then i+1 twice, then n-1-i again.
        for i in 0..n / 2 {
            for _ in 0..reps {
                world.link(i, n - 1 - i);
            }
            world.link(i, i + 1);
            world.link(i, i + 1);
            world.link(i, n - 1 - i);
            world.link(n - 1 - i, i);
        }
        for i in 0..n {
            if i % 4 != 3 {
                world.release(i);
            }
        }
        world.collect(None);
        world.collect(Some(0));
        world.finish();
    }
}

/// Nodes with finalizers, and weak references with callbacks (themselves objects whose
/// trace is user code, made right after their targets), in all three generations: the
/// finalizers of exactly the garbage run, once, and the callbacks of exactly the dead
/// targets, whether the garbage was counted by the helper or by the collecting thread.
#[test]
fn finalizers_and_callbacks_across_generations_run_for_exactly_the_garbage() {
    let sizes: [usize; 3] = if cfg!(miri) {
        [8, 8, 8]
    } else {
        [400, 300, 500]
    };
    let n: usize = sizes.iter().sum();
    // Under Miri, generation 0 held only (the harder case for the helper's part).
    let holds: &[bool] = if cfg!(miri) { &[true] } else { &[true, false] };
    for &hold in holds {
        let _settings = Settings::split(hold);
        let mut world = World::new(format!("finalizers, hold {hold}"));
        let mut refs = Vec::new();
        let mut watched = Vec::new();
        for (b, &size) in sizes.iter().enumerate() {
            for _ in 0..size {
                let p = world.len();
                if p.is_multiple_of(3) {
                    let node = Gc::new_with_finalizer(Fz {
                        id: p as u32,
                        out: RefCell::new(Vec::new()),
                    });
                    if p.is_multiple_of(2) {
                        refs.push(WeakRef::new(&node, move |_| {
                            FIRED.with(|f| f.borrow_mut().push(p as u32));
                        }));
                        watched.push(p);
                    }
                    world.add_made(coerce_gc!(node => dyn Node), Kind::Fz, true);
                } else {
                    world.add(PURE[p % PURE.len()], p % 2 == 1);
                }
            }
            match b {
                0 => assert_eq!(world.collect(Some(1)), 0, "{}", world.ctx),
                1 => assert_eq!(world.collect(Some(0)), 0, "{}", world.ctx),
                _ => {}
            }
        }
        let fired = |world: &World| {
            let mut ids: Vec<usize> =
                FIRED.with(|f| f.borrow().iter().map(|&i| i as usize).collect());
            ids.sort_unstable();
            let dead: Vec<usize> = watched
                .iter()
                .copied()
                .filter(|&i| !world.model.alive[i])
                .collect();
            assert_eq!(ids, dead, "{}: a callback for each dead target", world.ctx);
        };
        let mut rng = Rng::new(1_500 + u64::from(hold));
        let rings = random_rings(&mut rng, n, 3);
        wire(&mut world, &mut rng, &rings, n / 5, &[]);
        fired(&world);
        world.collect(Some(0));
        fired(&world);
        world.collect(None);
        fired(&world);
        for ring in rings.iter().step_by(2) {
            for &i in ring {
                world.release(i);
            }
        }
        world.collect(None);
        fired(&world);
        drop(refs);
        world.finish();
    }
}

/// A node whose value `Gc::get_mut` lent, that then became garbage with a partner:
/// the collection that finds its loan over (every reference to it from inside the set)
/// counts it as held from outside, once; the next one finds the pair. At the bottom
/// (the collecting thread's), in the middle and at the top (the helper's) of the set.
#[test]
fn lent_nodes_that_became_garbage_are_kept_once_then_found() {
    let sizes: [usize; 3] = if cfg!(miri) {
        [8, 8, 8]
    } else {
        [400, 400, 400]
    };
    let n: usize = sizes.iter().sum();
    let lent_at = [1, n / 2, n - 2];
    let partner = |k: usize| [n - 1, n / 2 - 2, 0][k];
    // Under Miri, generation 0 held only (the harder case for the helper's part).
    let holds: &[bool] = if cfg!(miri) { &[true] } else { &[true, false] };
    for &hold in holds {
        let _settings = Settings::split(hold);
        let mut world = World::new(format!("lent garbage, hold {hold}"));
        let kind_at = |p: usize| {
            if lent_at.contains(&p) {
                Kind::P4
            } else {
                PURE[p % PURE.len()]
            }
        };
        three_generations(&mut world, sizes, kind_at, |p| !lent_at.contains(&p));
        for (k, &i) in lent_at.iter().enumerate() {
            let j = partner(k);
            let mut g = world.held[i].take().unwrap();
            let target = world.handle(j);
            Gc::get_mut(&mut g)
                .expect("unique")
                .vec_out_mut()
                .unwrap()
                .push(target);
            world.model.add_edge(i, j);
            // The partner holds it back; its own handle is not dereferenced again, so its
            // value stays lent.
            world.handle(j).link(g.clone());
            world.model.add_edge(j, i);
            world.held[i] = Some(g);
        }
        let partners: Vec<usize> = (0..3).map(partner).collect();
        let others: Vec<usize> = (0..n)
            .filter(|p| !lent_at.contains(p) && !partners.contains(p))
            .collect();
        for pair in others.chunks(2) {
            world.ring(pair);
        }
        for i in 0..n {
            world.release(i);
        }
        assert_eq!(
            world.collect_pinned(None, &lent_at),
            others.len(),
            "{}: everything but the lent nodes' pairs",
            world.ctx
        );
        assert_eq!(
            world.collect(None),
            6,
            "{}: the lent nodes' pairs",
            world.ctx
        );
        world.finish();
    }
}

/// The only garbage that needs finalization is one node, at the top, the bottom, the
/// middle or a list boundary, its neighbours alive: its finalizer (or its weak
/// reference's callback) runs, and runs before it is dropped, whichever thread counted
/// it.
#[test]
fn a_lone_finalizable_or_watched_garbage_node_anywhere_is_finalized() {
    let sizes: [usize; 3] = if cfg!(miri) {
        [6, 6, 6]
    } else {
        [300, 200, 400]
    };
    let n: usize = sizes.iter().sum();
    let (b1, b0) = (sizes[0], sizes[0] + sizes[1]);
    let spots: &[usize] = if cfg!(miri) {
        &[n - 1, n / 2]
    } else {
        &[n - 1, n - 2, n / 2, n / 2 - 1, b0, b0 - 1, b1, b1 - 1, 1, 0]
    };
    for (c, &at) in spots.iter().enumerate() {
        for watched in [false, true] {
            let _settings = Settings::split(c % 2 == 0);
            let mut world = World::new(format!("lone at {at}, watched {watched}"));
            let mut wr = None;
            for (b, &size) in sizes.iter().enumerate() {
                for _ in 0..size {
                    let p = world.len();
                    if p != at {
                        world.add(PURE[p % PURE.len()], true);
                    } else if watched {
                        let node = Gc::new(Pv::<4> {
                            id: p as u32,
                            out: RefCell::new(Vec::new()),
                        });
                        wr = Some(WeakRef::new(&node, move |_| {
                            FIRED.with(|f| f.borrow_mut().push(p as u32));
                        }));
                        world.add_made(coerce_gc!(node => dyn Node), Kind::P4, true);
                    } else {
                        world.add(Kind::Fz, true);
                    }
                }
                match b {
                    0 => assert_eq!(world.collect(Some(1)), 0, "{}", world.ctx),
                    1 => assert_eq!(world.collect(Some(0)), 0, "{}", world.ctx),
                    _ => {}
                }
            }
            // The node and a partner far from it form the only garbage; everything else is
            // held by the test.
            let partner = (at + n / 2) % n;
            world.ring(&[at, partner]);
            world.release(at);
            world.release(partner);
            assert_eq!(world.collect(None), 2, "{}", world.ctx);
            let fired = FIRED.with(|f| f.borrow().clone());
            let expected = if watched { vec![at as u32] } else { vec![] };
            assert_eq!(fired, expected, "{}: the callback ran", world.ctx);
            drop(wr);
            world.finish();
        }
    }
}
