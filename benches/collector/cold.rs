//! The collector bench's fresh-process mode: with `GCRT_COLD=<workload>:<system>` in its
//! environment, the bench binary builds one workload, times its first collection, prints
//! `COLD ns=<nanoseconds>` and exits, instead of running criterion (with `GCRT_PHASES=1`
//! also each collection phase's time, on stderr). `benches/cold.py`
//! starts one such process per sample, as pyperformance's runner does, and sets the results
//! beside CPython's scripts run the same way.
//!
//! Workloads: `w3` (1,000,000 objects in two-node cycles), `w4` (one 1,000,000-node ring),
//! `w5` (a full collection over 1,000,000 live objects in pairs, every object's count
//! decremented since the last one), `w7` (pyperformance's gc_collect: an untimed collection,
//! 100 rings of 21 nodes built and dropped, one timed collection), `w8` (pyperformance's
//! gc_traversal, every list's count decremented: an untimed collection, then the timed one,
//! as the CPython script does), and two whole programs timed as a whole: `w1` (10,000,000
//! tracked nodes allocated and dropped one at a time, automatic collection on) and `w6`
//! (binary trees, depth 16). Systems: `gcrt`, `gcmodule`, `rust-cc`, `dumpster`,
//! `bacon_rajan_cc`, and for `w1` and `w6` also `Rc` and `Box`.

use std::time::Duration;

use super::{CYCLE_OBJECTS, LIVE_OBJECTS, RING, TRAVERSAL_LEVELS};

/// W1's allocations: as many as the goal names.
const W1_OBJECTS: i64 = 10_000_000;

/// W1 (allocate and drop one tracked node at a time, with the system's automatic collection
/// on) and W6 (the whole binary-trees program): whole programs, timed as a whole, for which
/// `Rc` and `Box` are the baselines.
fn run_program(workload: &str, system: &str) -> Option<Duration> {
    macro_rules! dispatch {
        ($($name:literal => $sys:ident),*) => {
            match system {
                $($name => Some(match workload {
                    "w1" => {
                        super::$sys::auto_default();
                        let start = std::time::Instant::now();
                        for i in 0..W1_OBJECTS {
                            std::hint::black_box(super::$sys::node(i, None));
                        }
                        start.elapsed()
                    }
                    "w6" => super::$sys::binary_trees(),
                    _ => return None,
                }),)*
                _ => None,
            }
        };
    }
    dispatch!(
        "gcrt" => sys_gcrt,
        "gcmodule" => sys_gcmodule,
        "rust-cc" => sys_rust_cc,
        "dumpster" => sys_dumpster,
        "bacon_rajan_cc" => sys_bacon,
        "Rc" => sys_rc,
        "Box" => sys_box
    )
}

/// Runs one workload of one system; `None` for an unknown pair.
fn run(workload: &str, system: &str) -> Option<Duration> {
    if matches!(workload, "w1" | "w6") {
        return run_program(workload, system);
    }
    macro_rules! dispatch {
        ($($name:literal => $sys:ident),*) => {
            match system {
                $($name => Some(match workload {
                    "w3" => super::$sys::cycles(CYCLE_OBJECTS),
                    "w4" => super::$sys::ring(RING),
                    "w5" => {
                        let root = super::$sys::live_build(LIVE_OBJECTS, true);
                        let t = super::$sys::live_collect(&root, true);
                        std::mem::forget(root); // the process ends here: no teardown
                        t
                    }
                    "w7" => super::$sys::pyperf_gc_collect(),
                    "w8" => {
                        let root = super::$sys::traversal_build(TRAVERSAL_LEVELS);
                        let t = super::$sys::traversal_collect(&root, true);
                        std::mem::forget(root);
                        t
                    }
                    _ => return None,
                }),)*
                _ => None,
            }
        };
    }
    dispatch!(
        "gcrt" => sys_gcrt,
        "gcmodule" => sys_gcmodule,
        "rust-cc" => sys_rust_cc,
        "dumpster" => sys_dumpster,
        "bacon_rajan_cc" => sys_bacon
    )
}

/// With `GCRT_PHASES` set too, prints to stderr the time each phase of each collection took
/// (the collector's `tracing` spans as they close: `count`, `mark`, `set_apart`, `relist`,
/// `promote`, `delete`; see docs/collector.md).
fn trace_phases() {
    if std::env::var_os("GCRT_PHASES").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("gcrt::gc=debug"))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// In a child started with `GCRT_COLD`, runs its one sample and returns true (the caller
/// then exits); false otherwise.
pub(crate) fn child() -> bool {
    let Ok(spec) = std::env::var("GCRT_COLD") else {
        return false;
    };
    let (workload, system) = spec.split_once(':').unwrap_or((spec.as_str(), "gcrt"));
    trace_phases();
    match run(workload, system) {
        Some(t) => println!("COLD ns={}", t.as_nanos()),
        None => {
            eprintln!("GCRT_COLD: unknown workload or system in '{spec}'");
            std::process::exit(2);
        }
    }
    true
}
