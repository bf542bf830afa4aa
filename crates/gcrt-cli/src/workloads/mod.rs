//! The built-in workloads `gcrt run` and `gcrt tune` exercise the runtime with. Each runs in
//! two phases: a set-up (its long-lived objects, which `--freeze-after-setup` moves to the
//! permanent generation) and the measured run, which reports its progress in steps.

pub(crate) mod btree;
mod graphs;
pub(crate) mod lisp;

use std::cell::RefCell;

use gcrt::{Gc, Trace, gc};

/// A workload's measured phase: `run` calls `tick(n)` after every `n` steps of `steps()`.
pub(crate) trait Job {
    /// How many steps the run takes.
    fn steps(&self) -> u64;
    /// The measured run; returns a one-line summary of what it computed (a checksum that
    /// shows the work was done).
    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String>;
}

/// The workloads, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Binary trees (the benchmarks game's): acyclic, freed by reference counting alone.
    BinaryTrees,
    /// Objects in two-node cycles, left to automatic collections.
    Cycles,
    /// One large ring, dropped and collected.
    Ring,
    /// A B-tree of instances with parent links, a fifth of it rebuilt per round.
    Btree,
    /// Seeded random graph churn: allocations, links, unlinks and drops.
    RandomGraph,
    /// A small Lisp interpreter whose closures and environments form cycles.
    Interpreter,
}

impl Workload {
    /// Every workload, in the order the tour runs them.
    pub(crate) const ALL: [Workload; 6] = [
        Workload::BinaryTrees,
        Workload::Cycles,
        Workload::Ring,
        Workload::Btree,
        Workload::RandomGraph,
        Workload::Interpreter,
    ];

    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::BinaryTrees => "binary-trees",
            Workload::Cycles => "cycles",
            Workload::Ring => "ring",
            Workload::Btree => "btree",
            Workload::RandomGraph => "random-graph",
            Workload::Interpreter => "interpreter",
        }
    }

    /// The workload named `name`, or an error listing the names.
    pub(crate) fn from_name(name: &str) -> Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                format!(
                    "unknown workload '{name}'; expected one of: {}",
                    names.join(", ")
                )
            })
    }

    /// One line on what it does, at `scale` 1.0.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Workload::BinaryTrees => "binary trees of depth 4..=16 (acyclic: refcounting alone)",
            Workload::Cycles => "1,000,000 objects in two-node cycles (automatic collections)",
            Workload::Ring => "a ring of 1,000,000 nodes, dropped and collected",
            Workload::Btree => "a B-tree of 200,000 keys in instances, a fifth rebuilt x 10",
            Workload::RandomGraph => "1,000,000 random operations on a graph of 10,000 nodes",
            Workload::Interpreter => "a Lisp program making 20,000 closures in cycles",
        }
    }

    /// Builds the workload's long-lived objects and returns its measured run, `scale` times
    /// its default size.
    pub(crate) fn setup(self, scale: f64) -> Box<dyn Job> {
        let n = |base: u64| ((base as f64 * scale) as u64).max(1);
        match self {
            Workload::BinaryTrees => Box::new(BinaryTrees::new(if scale >= 1.0 { 16 } else { 12 })),
            Workload::Cycles => Box::new(graphs::Cycles::new(n(1_000_000))),
            Workload::Ring => Box::new(graphs::Ring::new(n(1_000_000))),
            Workload::Btree => Box::new(graphs::Btree::new(n(200_000), 10)),
            Workload::RandomGraph => Box::new(graphs::RandomGraph::new(n(10_000), n(1_000_000))),
            Workload::Interpreter => Box::new(Interpreter::new(n(20_000))),
        }
    }
}

/// A binary tree node: no interior mutability, so its objects are never tracked.
#[derive(Trace)]
struct TreeNode {
    left: Option<Gc<TreeNode>>,
    right: Option<Gc<TreeNode>>,
}

fn tree(depth: u32) -> Gc<TreeNode> {
    if depth == 0 {
        Gc::new(TreeNode {
            left: None,
            right: None,
        })
    } else {
        Gc::new(TreeNode {
            left: Some(tree(depth - 1)),
            right: Some(tree(depth - 1)),
        })
    }
}

fn check(t: &TreeNode) -> u64 {
    1 + t.left.as_deref().map_or(0, check) + t.right.as_deref().map_or(0, check)
}

/// The benchmarks game's binary trees: a long-lived tree, and many short-lived ones.
struct BinaryTrees {
    max_depth: u32,
    long_lived: Gc<TreeNode>,
}

impl BinaryTrees {
    fn new(max_depth: u32) -> BinaryTrees {
        BinaryTrees {
            max_depth,
            long_lived: tree(max_depth),
        }
    }
}

impl Job for BinaryTrees {
    fn steps(&self) -> u64 {
        (4..=self.max_depth).step_by(2).count() as u64
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        let mut nodes = 0;
        for depth in (4..=self.max_depth).step_by(2) {
            let iterations = 1u64 << (self.max_depth - depth + 4);
            for _ in 0..iterations {
                nodes += check(&tree(depth));
            }
            tick(1);
        }
        Ok(format!(
            "{nodes} nodes checked; long-lived tree of {} nodes",
            check(&self.long_lived)
        ))
    }
}

/// The `interpreter` workload: the Lisp program of [`lisp::workload_program`].
struct Interpreter {
    interp: lisp::Interpreter,
    iterations: u64,
}

impl Interpreter {
    fn new(iterations: u64) -> Interpreter {
        let interp = lisp::Interpreter::new();
        interp
            .run("(define (square x) (* x x))")
            .expect("the set-up program runs");
        Interpreter { interp, iterations }
    }
}

impl Job for Interpreter {
    fn steps(&self) -> u64 {
        10
    }

    fn run(&mut self, tick: &mut dyn FnMut(u64)) -> Result<String, String> {
        let mut total = 0;
        for _ in 0..10 {
            let v = self
                .interp
                .run(&lisp::workload_program(self.iterations / 10))?;
            total += v.as_i64().unwrap_or(0);
            tick(1);
        }
        Ok(format!("program result {total}"))
    }
}

/// A node of the graph workloads.
#[derive(Trace)]
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) edges: RefCell<Vec<Gc<Node>>>,
}

pub(crate) fn node(id: u64) -> Gc<Node> {
    Gc::new(Node {
        id,
        edges: RefCell::new(Vec::new()),
    })
}

/// Runs a full collection when the workload is done, so that the report includes what
/// it left.
pub(crate) fn final_collection() -> usize {
    gc::collect()
}
