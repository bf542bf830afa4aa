//! The graph workloads: two-node cycles, one large ring, a B-tree of instances, and seeded
//! random graph churn.

use gcrt::gc;
use gcrt::objects::Value;

use super::{Job, Node, btree, final_collection, node};

/// `cycles`: objects in two-node cycles, dropped as soon as made, in 100 batches; the
/// automatic collections free them.
pub(crate) struct Cycles {
    objects: u64,
}

impl Cycles {
    pub(crate) fn new(objects: u64) -> Cycles {
        Cycles { objects }
    }
}

impl Job for Cycles {
    fn steps(&self) -> u64 {
        100
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        let pairs = self.objects / 2;
        for batch in 0..100 {
            for i in (batch * pairs / 100)..((batch + 1) * pairs / 100) {
                let (a, b) = (node(2 * i), node(2 * i + 1));
                a.edges.borrow_mut().push(b.clone());
                b.edges.borrow_mut().push(a);
            }
            tick(1);
        }
        Ok(format!(
            "{} objects in cycles; the final collection found {}",
            2 * pairs,
            final_collection()
        ))
    }
}

/// `ring`: one ring of nodes, built, dropped and collected.
pub(crate) struct Ring {
    nodes: u64,
}

impl Ring {
    pub(crate) fn new(nodes: u64) -> Ring {
        Ring { nodes }
    }
}

impl Job for Ring {
    fn steps(&self) -> u64 {
        10
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        let head = node(0);
        let mut last = head.clone();
        for i in 1..self.nodes {
            let n = node(i);
            last.edges.borrow_mut().push(n.clone());
            last = n;
            if i % (self.nodes / 10).max(1) == 0 {
                tick(1);
            }
        }
        last.edges.borrow_mut().push(head.clone());
        drop((head, last));
        let found = gc::collect();
        Ok(format!("a ring of {} nodes; collected {found}", self.nodes))
    }
}

/// `btree`: a B-tree of 16-key nodes whose nodes are instances with `keys`, `children` and
/// `parent`; each round rebuilds every fifth node above the leaves, with new leaves.
pub(crate) struct Btree {
    class: Value,
    _root: Value,
    lowest: Vec<Value>,
    rounds: u64,
}

impl Btree {
    pub(crate) fn new(keys: u64, rounds: u64) -> Btree {
        let class = Value::class("BTreeNode");
        let (root, lowest) = btree::build(&class, keys as i64).expect("building nodes cannot fail");
        Btree {
            class,
            _root: root,
            lowest,
            rounds,
        }
    }
}

impl Job for Btree {
    fn steps(&self) -> u64 {
        self.rounds
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        for round in 1..=self.rounds {
            btree::rebuild_fifth(&self.class, &mut self.lowest, round)
                .map_err(|e| e.to_string())?;
            tick(1);
        }
        Ok(format!(
            "{} rounds over {} nodes above the leaves; the final collection found {}",
            self.rounds,
            self.lowest.len(),
            final_collection()
        ))
    }
}

/// SplitMix64: a small seeded generator, so that every run makes the same graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `random-graph`: a fixed number of root slots; each operation allocates a node into a
/// slot, links two nodes, unlinks an edge, or drops a root, at random (seeded).
pub(crate) struct RandomGraph {
    roots: Vec<Option<gcrt::Gc<Node>>>,
    ops: u64,
    rng: Rng,
}

impl RandomGraph {
    pub(crate) fn new(nodes: u64, ops: u64) -> RandomGraph {
        RandomGraph {
            roots: (0..nodes).map(|i| Some(node(i))).collect(),
            ops,
            rng: Rng(0x6763_7274),
        }
    }
}

impl Job for RandomGraph {
    fn steps(&self) -> u64 {
        100
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        let n = self.roots.len();
        let mut next_id = n as u64;
        for op in 0..self.ops {
            let slot = self.rng.below(n);
            match self.rng.below(10) {
                0..=2 => {
                    self.roots[slot] = Some(node(next_id));
                    next_id += 1;
                }
                3..=6 => {
                    let other = self.rng.below(n);
                    if let (Some(a), Some(b)) = (&self.roots[slot], &self.roots[other]) {
                        a.edges.borrow_mut().push(b.clone());
                    }
                }
                7 | 8 => {
                    if let Some(a) = &self.roots[slot] {
                        let removed = {
                            let mut edges = a.edges.borrow_mut();
                            let len = edges.len();
                            (len > 0).then(|| edges.swap_remove(self.rng.below(len)))
                        };
                        drop(removed);
                    }
                }
                _ => self.roots[slot] = None,
            }
            if (op + 1) % (self.ops / 100).max(1) == 0 {
                tick(1);
            }
        }
        let live: u64 = self.roots.iter().flatten().map(|r| r.id % 7).sum();
        Ok(format!(
            "{} operations; root checksum {live}; the final collection found {}",
            self.ops,
            final_collection()
        ))
    }
}
