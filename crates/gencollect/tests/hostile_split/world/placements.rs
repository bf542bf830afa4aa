//! Where nodes sit in the set: generations, runs of types, impure and panicking traces at
//! every position, destructors that allocate, sets around the default threshold.

use super::*;

/// Full collections over sets that span generations 2, 1 and 0, all populated, with
/// cycles whose members sit in different generations (so both chunk and list boundaries
/// run through them); the young collections before them find nothing, as those cycles are
/// held from the older generations.
#[test]
fn full_collections_find_cycles_whose_members_sit_in_three_generations() {
    let shapes: &[[usize; 3]] = if cfg!(miri) {
        &[[8, 8, 8], [5, 0, 11]]
    } else {
        &[
            [700, 700, 700],
            [1_000, 0, 1_001],
            [0, 777, 1_500],
            [64, 64, 64],
            [3, 5, 2_000],
            [2_000, 2, 1],
        ]
    };
    for (s, &sizes) in shapes.iter().enumerate() {
        // Under Miri, one of the two per shape.
        let holds: &[bool] = match (cfg!(miri), s % 2) {
            (false, _) => &[true, false],
            (true, 0) => &[true],
            (true, _) => &[false],
        };
        for &hold in holds {
            let _settings = Settings::split(hold);
            let passes = gencollect::split_passes();
            let n: usize = sizes.iter().sum();

            // Rings of three, one member per generation (when all three have nodes): the
            // odd ones held through their member in generation 0.
            let m = sizes.iter().copied().min().unwrap();
            let mut world = World::new(format!("shape {s} hold {hold}: rings of three"));
            let mut kinds = PURE.iter().cycle();
            three_generations(
                &mut world,
                sizes,
                |_| *kinds.next().unwrap(),
                |p| p % 3 == 0,
            );
            let (g1, g0) = (sizes[0], sizes[0] + sizes[1]);
            for k in 0..m {
                world.ring(&[k, g1 + k, g0 + k]);
            }
            for i in 0..n {
                let in_ring = i < m || (g1..g1 + m).contains(&i) || (g0..g0 + m).contains(&i);
                let keep = in_ring && i >= g0 && (i - g0) % 2 == 1;
                if in_ring && !keep {
                    world.release(i);
                }
            }
            // Held from older generations: a young collection finds nothing.
            if s % 2 == 0 {
                assert_eq!(world.collect(Some(0)), 0, "{}", world.ctx);
            } else {
                assert_eq!(world.collect(Some(1)), 0, "{}", world.ctx);
            }
            assert_eq!(world.collect(None), 3 * m.div_ceil(2), "{}", world.ctx);
            for k in (1..m).step_by(2) {
                world.release(g0 + k);
            }
            assert_eq!(world.collect(None), 3 * (m / 2), "{}", world.ctx);
            assert_eq!(
                world.finish(),
                [0, 0, 0, 3 * m.div_ceil(2), 3 * (m / 2), 0],
                "shape {s} hold {hold}: what each collection found"
            );

            // Random rings of up to five members anywhere, random edges between them, a few
            // nodes held.
            let mut rng = Rng::new(1_000 + s as u64);
            let mut world = World::new(format!("shape {s} hold {hold}: random rings"));
            three_generations(&mut world, sizes, pure_runs(&mut Rng::new(s as u64)), |p| {
                p % 2 == 0
            });
            let rings = random_rings(&mut rng, n, 5);
            wire(&mut world, &mut rng, &rings, n / 4, &[]);
            world.collect(None);
            // Every other ring lets go of its first member's edges: what only they held goes.
            for ring in rings.iter().step_by(2) {
                if world.reachable(ring[0]) {
                    world.unlink_all(ring[0]);
                }
            }
            world.collect(None);
            world.finish();
            if two_cores() {
                assert!(gencollect::split_passes() > passes, "shape {s}: split");
            }
        }
    }
}

/// Nodes of twelve pure types in runs of one to three, in rings that run through many
/// types: young and full collections find exactly what is unreachable.
#[test]
fn runs_of_many_pure_types_form_cycles_that_are_found_exactly() {
    let (seeds, n) = if cfg!(miri) { (2, 32) } else { (12, 1_500) };
    for seed in 0..seeds {
        let _settings = Settings::split(seed % 2 == 0);
        let mut rng = Rng::new(200 + seed);
        let mut world = World::new(format!("seed {seed}"));
        let mut kind = pure_runs(&mut rng);
        let kinds: Vec<Kind> = (0..n).map(&mut kind).collect();
        for &k in &kinds {
            world.add(k, true);
        }
        let mut rng = Rng::new(300 + seed);
        // Rings of consecutive nodes (through neighbouring runs), and rings of nodes far
        // apart (through both threads' parts).
        let mut rings: Vec<Vec<usize>> = (0..n / 2)
            .step_by(3)
            .map(|i| vec![i, i + 1, i + 2])
            .collect();
        rings.extend((0..n / 4).map(|i| vec![n / 2 + i, n - 1 - i]));
        wire(&mut world, &mut rng, &rings, n / 8, &[]);
        let young = world.collect(Some(0));
        let full = world.collect(None);
        assert!(young + full > 0, "seed {seed}: garbage found");
        for i in (0..n).step_by(5) {
            world.release(i);
        }
        world.collect(Some(0));
        world.collect(None);
        world.finish();
    }
}

/// Positions of interest in a set of `sizes`: both ends, around the middle, every list
/// boundary, and groups of several on both sides.
fn placements(sizes: [usize; 3]) -> Vec<Vec<usize>> {
    let n: usize = sizes.iter().sum();
    let (b1, b0) = (sizes[0], sizes[0] + sizes[1]);
    vec![
        vec![0],
        vec![1],
        vec![n - 1],
        vec![n - 2],
        vec![n / 2 - 1],
        vec![n / 2],
        vec![n / 2 + 1],
        vec![b1 - 1],
        vec![b1],
        vec![b0 - 1],
        vec![b0],
        vec![1, n / 2, n - 2],
        vec![0, b1 - 1, b1, b0 - 1, b0, n - 1],
        vec![n / 4, n / 2 - 1, n / 2, 3 * n / 4],
        (0..n).step_by(7).collect(),
    ]
}

/// Nodes whose trace is user code (`Imp`) or not pure (`Bx`) at many positions: both
/// threads stop at them, the collecting thread counts what lies between. They hold
/// edges into both parts and are held from both parts; the counts stay exact, and user
/// code runs on the collecting thread only.
#[test]
fn impure_objects_at_any_position_leave_every_count_exact() {
    let sizes = if cfg!(miri) {
        [12, 12, 12]
    } else {
        [500, 400, 600]
    };
    let all = placements(sizes);
    let chosen: Vec<Vec<usize>> = if cfg!(miri) {
        // Under Miri: the top, the middle, and one at each end and at each list boundary.
        [2, 5, 12].iter().map(|&k| all[k].clone()).collect()
    } else {
        all
    };
    let n: usize = sizes.iter().sum();
    for (c, at) in chosen.iter().enumerate() {
        let _settings = Settings::split(c % 2 == 0);
        let mut rng = Rng::new(400 + c as u64);
        let mut world = World::new(format!("impure at {at:?}"));
        let mut pure = pure_runs(&mut rng);
        let kind_at = |p: usize| match at.iter().position(|&a| a == p) {
            Some(k) if k % 3 == 2 => Kind::Bx,
            Some(_) => Kind::Imp,
            None => pure(p),
        };
        three_generations(&mut world, sizes, kind_at, |p| {
            p % 2 == 1 || at.contains(&p)
        });
        let mut rng = Rng::new(500 + c as u64);
        let rings = random_rings(&mut rng, n, 4);
        // Each impure node holds nodes at both ends and in the middle, and the middle holds
        // it.
        for &a in at {
            for t in [0, n / 2, n - 1, (a + 1) % n] {
                world.link(a, t);
            }
            world.link(n / 2, a);
        }
        wire(&mut world, &mut rng, &rings, n / 6, &[]);
        let imps: Vec<usize> = at
            .iter()
            .copied()
            .filter(|&a| world.kinds[a] == Kind::Imp)
            .collect();
        let traced = |world: &World| -> Vec<Option<usize>> {
            imps.iter()
                .map(|&a| {
                    let w = world.weak[a].as_ref().unwrap();
                    w.upgrade().map(|g| g.imp().unwrap().traced.get())
                })
                .collect()
        };
        let before = traced(&world);
        world.collect(None);
        // Each impure node that lives was traced once more, on this thread.
        for (b, a) in before.iter().zip(traced(&world)) {
            if let Some(a) = a {
                assert_eq!(Some(a), b.map(|b| b + 1), "{}", world.ctx);
            }
        }
        world.collect(Some(0));
        for &a in at {
            if world.model.alive[a] {
                world.unlink_all(a);
            }
        }
        world.collect(None);
        world.finish();
    }
}

/// A trace that panics, at many positions, in full and young collections, holding
/// generation 0 or not: the panic comes out of the collection, nothing is freed, every
/// strong count is as it was (the temporary references the pass took are given back);
/// with the panic off, the next collection finds exactly the garbage.
#[test]
fn a_trace_that_panics_anywhere_frees_nothing_and_changes_no_count() {
    let sizes = if cfg!(miri) {
        [10, 10, 10]
    } else {
        [300, 300, 300]
    };
    let all = placements(sizes);
    let chosen: Vec<Vec<usize>> = if cfg!(miri) {
        [2, 5, 11].iter().map(|&k| all[k].clone()).collect()
    } else {
        all
    };
    let n: usize = sizes.iter().sum();
    for (c, at) in chosen.iter().enumerate() {
        // Under Miri, full and young collections in turn.
        let youngs: &[bool] = match (cfg!(miri), c % 2) {
            (false, _) => &[false, true],
            (true, 0) => &[false],
            (true, _) => &[true],
        };
        for &young in youngs {
            let _settings = Settings::split(c % 2 == 1);
            let mut rng = Rng::new(600 + c as u64);
            let mut world = World::new(format!("panic at {at:?}, young {young}"));
            let mut pure = pure_runs(&mut rng);
            let kind_at = |p: usize| {
                if at.contains(&p) { Kind::Imp } else { pure(p) }
            };
            three_generations(&mut world, sizes, kind_at, |_| true);
            let mut rng = Rng::new(700 + c as u64);
            let rings = random_rings(&mut rng, n, 3);
            let keep: Vec<usize> = at.clone();
            wire(&mut world, &mut rng, &rings, n / 5, &keep);
            // The last impure node panics; the others are ordinary user code.
            let bomb = *at.last().unwrap();
            world.held[bomb]
                .as_ref()
                .unwrap()
                .imp()
                .unwrap()
                .panic
                .set(true);
            // A young collection reaches the bomb only if it is in generation 0.
            let g = if young { 0 } else { 2 };
            let reaches = !young || world.model.generation[bomb] == 0;
            let counts = world.counts();
            let dropped = dropped_len();
            let result = catch_unwind(AssertUnwindSafe(|| {
                gencollect::collect_generation(g).unwrap()
            }));
            if reaches {
                assert!(result.is_err(), "{}: the panic comes out", world.ctx);
                assert_eq!(world.counts(), counts, "{}: no count changed", world.ctx);
                assert_eq!(dropped_len(), dropped, "{}: nothing freed", world.ctx);
                world.model.promote(g);
                world.verify();
            } else {
                let found = result.expect("no panic");
                assert_eq!(found, world.model.collect(g), "{}", world.ctx);
                world.verify();
            }
            world.held[bomb]
                .as_ref()
                .unwrap()
                .imp()
                .unwrap()
                .panic
                .set(false);
            world.collect(None);
            for &a in at {
                world.release(a);
            }
            world.collect(None);
            world.finish();
        }
    }
}

/// Destructors of garbage that make new rings of nodes, drop the last handle of a live
/// ring, drop a handle they kept out of their trace, collect (nested: nothing) and try
/// to upgrade weak handles to other garbage: the collection counts what it found, and
/// the next one finds exactly what the destructors left.
#[test]
fn destructors_that_allocate_and_let_go_are_seen_by_the_next_collection() {
    let sizes: &[[usize; 3]] = if cfg!(miri) {
        &[[9, 9, 9]]
    } else {
        &[[200, 150, 250], [0, 300, 301]]
    };
    let actions = [
        OnDrop::SpawnRing(3),
        OnDrop::ReleaseStash,
        OnDrop::NestedCollect,
        OnDrop::UpgradePeer,
        OnDrop::DropHidden,
        OnDrop::SpawnRing(1),
    ];
    for (s, &sizes) in sizes.iter().enumerate() {
        for hold in [false, true] {
            let _settings = Settings::split(hold);
            let mut world = World::new(format!("shape {s} hold {hold}: destructors"));
            let n: usize = sizes.iter().sum();
            NESTED.with(|v| v.borrow_mut().clear());
            UPGRADED.with(|u| u.set(0));
            let spawned_before = spawned_dropped();
            let mut counts = [0usize; 6];
            let mut kinds = PURE.iter().cycle();
            // Every third node is a spawner, its action in turn.
            for (b, &size) in sizes.iter().enumerate() {
                for _ in 0..size {
                    let p = world.len();
                    if p % 3 == 1 {
                        let a = (p / 3) % actions.len();
                        counts[a] += 1;
                        world.add_made(spawner(p as u32, actions[a]), Kind::P0, false);
                    } else {
                        world.add(*kinds.next().unwrap(), true);
                    }
                }
                match b {
                    0 => assert_eq!(world.collect(Some(1)), 0),
                    1 => assert_eq!(world.collect(Some(0)), 0),
                    _ => {}
                }
            }
            world.check_order(sizes);
            // Each spawner in a two-node ring with a partner far from it.
            let spawners: Vec<usize> = (1..n).step_by(3).collect();
            for (k, &sp) in spawners.iter().enumerate() {
                let partner = (n - 1 - 3 * k) - usize::from((n - 1 - 3 * k) % 3 == 1);
                world.ring(&[sp, partner]);
                let peer = Gc::downgrade(&world.handle(partner));
                set_peer(&world.handle(sp), peer);
            }
            // Rings of three held only from the stash, one per `ReleaseStash`.
            let mut stashed = Vec::new();
            for _ in 0..counts[1] {
                let base = world.len();
                for _ in 0..3 {
                    world.add(Kind::P2, true);
                }
                world.ring(&[base, base + 1, base + 2]);
                STASH.with(|st| st.borrow_mut().push(world.handle(base)));
                world.model.add_root(base);
                stashed.push(base);
                for i in base..base + 3 {
                    world.release(i);
                }
            }
            // Nodes held only by a spawner's hidden handle, one per `DropHidden`.
            let mut hidden = Vec::new();
            for &sp in spawners
                .iter()
                .filter(|&&sp| matches!(actions[(sp / 3) % actions.len()], OnDrop::DropHidden))
            {
                let h = world.add(Kind::P3, true);
                set_hidden(&world.handle(sp), world.handle(h));
                world.model.add_root(h);
                hidden.push(h);
                world.release(h);
            }
            // Let go of every spawner and partner: the whole pairs are garbage.
            for &sp in &spawners {
                world.release(sp);
            }
            for i in 0..n {
                world.release(i);
            }
            let found = gencollect::collect();
            let expected = world.model.collect(2);
            assert_eq!(found, expected, "{}", world.ctx);
            assert_eq!(found, 2 * spawners.len(), "{}: every pair", world.ctx);
            // What the destructors did: the stash's rings lost their last handle, the hidden
            // nodes theirs, new rings were made.
            for &b in &stashed {
                world.model.drop_root(b);
            }
            for &h in &hidden {
                world.model.drop_root(h);
            }
            world.verify();
            assert!(STASH.with(|st| st.borrow().is_empty()), "{}", world.ctx);
            assert_eq!(
                NESTED.with(|v| v.borrow().clone()),
                vec![0; counts[2]],
                "{}: a nested collection does nothing",
                world.ctx
            );
            assert_eq!(
                UPGRADED.with(|u| u.get()),
                0,
                "{}: garbage is dead to weak handles",
                world.ctx
            );
            let spawned = 3 * counts[0] + counts[5];
            assert_eq!(spawned_dropped(), spawned_before, "{}", world.ctx);
            // The next collection: the stash's rings and the new rings.
            let found = gencollect::collect();
            let expected = world.model.collect(2);
            assert_eq!(expected, 3 * stashed.len(), "{}", world.ctx);
            assert_eq!(found, expected + spawned, "{}", world.ctx);
            assert_eq!(spawned_dropped(), spawned_before + spawned, "{}", world.ctx);
            world.verify();
            assert_eq!(gencollect::collect(), 0, "{}", world.ctx);
            world.finish();
        }
    }
}

/// Sets a spawner's weak handle to its partner.
fn set_peer(node: &Handle, peer: Weak<dyn Node>) {
    with_spawner(node, |s| *s.peer.borrow_mut() = Some(peer));
}

/// Gives a spawner a handle it does not report.
fn set_hidden(node: &Handle, hidden: Handle) {
    with_spawner(node, |s| *s.hidden.borrow_mut() = Some(hidden));
}

/// Runs `f` on the spawner behind `node`, found among the live objects by address.
fn with_spawner(node: &Handle, f: impl FnOnce(&Spawner)) {
    let addr = Gc::addr(node);
    let objs = gencollect::get_objects(None).unwrap();
    let any = objs
        .into_iter()
        .find(|o| o.as_obj().addr() == addr)
        .expect("tracked");
    let spawner: Gc<Spawner> = any.downcast().unwrap_or_else(|_| panic!("a spawner"));
    f(&spawner);
}

/// Sets below, at and above the default threshold (131,072 objects) with the default
/// threshold and with every pass split: the helper reserves half the set below it and
/// one chunk (`n / 64`, at most 8,192) from it on. Under Miri, small sets with the
/// threshold at their size and at 0.
#[test]
fn sets_below_at_and_above_the_default_threshold_are_counted_exactly() {
    let cases: &[(usize, usize)] = if cfg!(miri) {
        &[(40, 0), (63, 63)]
    } else {
        &[
            ((1 << 17) - 1, 0),
            (1 << 17, 1 << 17),
            ((1 << 17) + 4_099, 0),
            (300_001, 1 << 17),
        ]
    };
    for &(n, threshold) in cases {
        let _settings = Settings::split(false);
        gencollect::set_parallel_threshold(threshold);
        let passes = gencollect::split_passes();
        let mut rng = Rng::new(n as u64);
        let mut world = World::new(format!("{n} objects, threshold {threshold}"));
        // A third in each generation; a hub at the top of generation 0 holds every tenth.
        let third = n / 3;
        let sizes = [third, third, n - 2 * third - 1];
        let mut pure = pure_runs(&mut rng);
        three_generations(&mut world, sizes, &mut pure, |p| p % 5 == 0);
        let hub = world.add(Kind::P0, true);
        for i in (0..hub).step_by(10) {
            world.link(hub, i);
        }
        // Pairs across the set: position i with position n - 2 - i.
        for i in 0..(n - 1) / 2 {
            world.ring(&[i, n - 2 - i]);
        }
        if (n - 1) % 2 == 1 {
            // The node in the middle has no partner: the hub holds it.
            world.link(hub, (n - 1) / 2);
        }
        for i in 0..hub {
            world.release(i);
        }
        // The whole set is there: `n` objects.
        let objects = gencollect::get_objects(None).unwrap().len();
        assert_eq!(objects, n, "{}", world.ctx);
        // Only what the hub holds lives.
        world.collect(None);
        world.unlink_all(hub);
        world.collect(None);
        world.finish();
        if two_cores() {
            assert!(gencollect::split_passes() > passes, "{n}: split");
        }
    }
}
