//! The graph workloads: two-node cycles, one large ring, a B-tree of instances, and seeded
//! random graph churn.

use gcrt::gc;
use gcrt::objects::Value;

use super::{Job, Node, final_collection, node};

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

fn btree_node(class: &Value, keys: Vec<Value>, parent: &Value) -> Result<Value, String> {
    let e = |e: gcrt::objects::Error| e.to_string();
    let node = class.instantiate().map_err(e)?;
    node.set_attr("keys", Value::list(keys)).map_err(e)?;
    node.set_attr("children", Value::list([])).map_err(e)?;
    node.set_attr("parent", parent.clone()).map_err(e)?;
    Ok(node)
}

/// `btree`: a B-tree of 16-key nodes whose nodes are instances with `keys`, `children` and
/// `parent`; each round rebuilds every fifth node above the leaves, with new leaves.
pub(crate) struct Btree {
    class: Value,
    _root: Value,
    lowest: Vec<Value>,
    rounds: u64,
}

const ORDER: usize = 16;

impl Btree {
    pub(crate) fn new(keys: u64, rounds: u64) -> Btree {
        let class = Value::class("BTreeNode");
        let leaves: Vec<Value> = (0..keys as i64)
            .collect::<Vec<_>>()
            .chunks(ORDER)
            .map(|c| {
                btree_node(
                    &class,
                    c.iter().map(|&k| Value::from(k)).collect(),
                    &Value::none(),
                )
            })
            .collect::<Result<_, _>>()
            .expect("building nodes cannot fail");
        let lowest = level_over(&class, &leaves);
        let mut level = lowest.clone();
        while level.len() > 1 {
            level = level_over(&class, &level);
        }
        Btree {
            class,
            _root: level.pop().unwrap_or_default(),
            lowest,
            rounds,
        }
    }

    fn rebuild_fifth(&mut self, round: u64) -> Result<(), String> {
        let e = |e: gcrt::objects::Error| e.to_string();
        for (i, slot) in self.lowest.iter_mut().enumerate() {
            if !(i as u64 + round).is_multiple_of(5) {
                continue;
            }
            let parent = slot.get_attr("parent").map_err(e)?;
            let keys = slot.get_attr("keys").map_err(e)?.to_vec().map_err(e)?;
            let fresh = btree_node(&self.class, keys, &parent)?;
            let children = fresh.get_attr("children").map_err(e)?;
            for leaf in slot.get_attr("children").map_err(e)?.to_vec().map_err(e)? {
                let keys = leaf.get_attr("keys").map_err(e)?.to_vec().map_err(e)?;
                children
                    .append(btree_node(&self.class, keys, &fresh)?)
                    .map_err(e)?;
            }
            if let Value::Instance(_) = parent {
                let siblings = parent.get_attr("children").map_err(e)?;
                for j in 0..siblings.len().map_err(e)? as i64 {
                    if siblings.get_item(&Value::from(j)).map_err(e)?.is(slot) {
                        siblings
                            .set_item(Value::from(j), fresh.clone())
                            .map_err(e)?;
                    }
                }
            }
            *slot = fresh;
        }
        Ok(())
    }
}

fn level_over(class: &Value, children: &[Value]) -> Vec<Value> {
    children
        .chunks(ORDER)
        .map(|chunk| {
            let first = |n: &Value| {
                n.get_attr("keys")
                    .and_then(|k| k.get_item(&Value::from(0)))
                    .unwrap_or_default()
            };
            let node = btree_node(class, chunk.iter().map(first).collect(), &Value::none())
                .expect("building nodes cannot fail");
            let list = node.get_attr("children").unwrap_or_default();
            for c in chunk {
                let _ = c.set_attr("parent", node.clone());
                let _ = list.append(c.clone());
            }
            node
        })
        .collect()
}

impl Job for Btree {
    fn steps(&self) -> u64 {
        self.rounds
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        for round in 1..=self.rounds {
            self.rebuild_fifth(round)?;
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
