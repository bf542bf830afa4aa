//! The `gcrt` program as a user runs it: reports with exact counts, JSON, the tour, the
//! threshold sweep and its plot, and a clear one-line error for each kind of bad argument.

use std::process::{Command, Output};

fn gcrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcrt"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the gcrt binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_reports_exact_counts_as_json() {
    let o = gcrt(&["run", "cycles", "--scale", "0.01", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(v["workload"], "cycles");
    assert_eq!(v["tracked_allocated"], 10_000);
    assert_eq!(
        v["freed_by_collector"], 10_000,
        "every object was in a cycle"
    );
    assert_eq!(v["freed_by_refcount"], 0);
    assert_eq!(v["thresholds"], serde_json::json!([2000, 10, 10]));
    assert_eq!(v["counts"].as_array().unwrap().len(), 3);
    assert!(v["alloc_report"].as_str().unwrap().contains("size class"));
    let gens = v["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 3);
    let collected: u64 = gens.iter().map(|g| g["collected"].as_u64().unwrap()).sum();
    assert_eq!(collected, 10_000);
    assert!(
        v["pauses"]["count"].as_u64().unwrap() >= 5,
        "automatic collections ran"
    );
    assert!(v["pauses"]["p99_ms"].as_f64().unwrap() <= v["pauses"]["max_ms"].as_f64().unwrap());
}

#[test]
fn run_prints_the_table_and_honours_the_options() {
    let o = gcrt(&[
        "run",
        "btree",
        "--scale",
        "0.02",
        "--threshold",
        "500,5",
        "--freeze-after-setup",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("thresholds (500, 5, 10); counts at the end ("),
        "{out}"
    );
    assert!(
        !out.contains("; 0 objects frozen"),
        "the set-up's objects were frozen: {out}"
    );
    for text in [
        "generation  collections",
        "pauses:",
        "p99",
        "freed by refcounting",
        "size class",
    ] {
        assert!(out.contains(text), "{text} in {out}");
    }
}

#[test]
fn the_tour_runs_every_workload() {
    let o = gcrt(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for w in [
        "binary-trees",
        "cycles",
        "ring",
        "btree",
        "random-graph",
        "interpreter",
    ] {
        assert!(out.contains(&format!("## {w}")), "{w} in {out}");
    }
    assert!(out.contains("p50"));
}

#[test]
fn tune_prints_a_table_marks_the_best_and_writes_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("ring.svg");
    let o = gcrt(&[
        "tune",
        "ring",
        "--scale",
        "0.01",
        "--threshold0",
        "100,2000",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("(100, 10, 10)") && out.contains("(2000, 10, 10)"),
        "{out}"
    );
    assert_eq!(out.matches("<- best trade-off").count(), 1, "{out}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("p99 pause"),
        "an SVG plot"
    );
}

/// Each bad argument: a non-zero exit and one line on stderr that says what is wrong.
#[test]
fn bad_arguments_are_one_line_errors() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["run", "nope"],
            "unknown workload 'nope'; expected one of: binary-trees",
        ),
        (
            &["run", "cycles", "--threshold", ""],
            "--threshold: expected comma-separated",
        ),
        (
            &["run", "cycles", "--threshold", "7,x"],
            "'x' is not a non-negative integer",
        ),
        (
            &["run", "cycles", "--threshold", "1,2,3,4"],
            "at most three values",
        ),
        (
            &["run", "cycles", "--scale", "0"],
            "--scale: expected a positive number",
        ),
        (
            &["tune", "ring", "--threshold0", "5,,6"],
            "--threshold0: expected comma-separated",
        ),
        (
            &[
                "tune",
                "ring",
                "--scale",
                "0.01",
                "--threshold0",
                "100",
                "--svg",
                "/nonexistent/dir/x.svg",
            ],
            "cannot write /nonexistent/dir/x.svg",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, expected) in cases {
        let o = gcrt(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {err:?}");
        assert!(
            lines[0].starts_with("gcrt: ") && lines[0].contains(expected),
            "{args:?}: {err:?}"
        );
    }
}

#[test]
fn rust_log_shows_every_collection() {
    let o = Command::new(env!("CARGO_BIN_EXE_gcrt"))
        .args(["run", "cycles", "--scale", "0.01", "--json"])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(o.status.success());
    let collections = stderr(&o).matches("collection finished").count();
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Every collection of the run, and the last one after it.
    assert_eq!(
        collections as u64,
        v["pauses"]["count"].as_u64().unwrap() + 1
    );
}

#[test]
fn phases_shows_each_phase_of_every_collection_with_its_time() {
    let o = Command::new(env!("CARGO_BIN_EXE_gcrt"))
        .args(["run", "cycles", "--scale", "0.01", "--json", "--phases"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = stderr(&o);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The run's collections, each of a generation with objects in it, and the one after
    // the run, of a heap left with nothing to analyse.
    let run = v["pauses"]["count"].as_u64().unwrap();
    let closed = |span: &str| {
        err.lines()
            .filter(|l| l.contains(&format!("{span}: gcrt::gc: close time.busy=")))
            .count() as u64
    };
    assert_eq!(closed("promote"), run + 1, "{err}");
    assert_eq!(closed("mark"), run, "{err}");
    assert_eq!(err.matches(":count{objects=").count() as u64, run, "{err}");
    // Without the flag, nothing of it.
    let quiet = gcrt(&["run", "cycles", "--scale", "0.01", "--json"]);
    assert!(
        !stderr(&quiet).contains("gcrt::gc: close"),
        "{}",
        stderr(&quiet)
    );
}

/// A run with frozen set-up objects unfreezes them at the end, so that they are collected
/// with the rest (a thread that exits with objects alive keeps its whole heap).
#[test]
fn frozen_set_up_objects_are_freed_once_the_workload_is_gone() {
    let o = gcrt(&[
        "run",
        "btree",
        "--scale",
        "0.02",
        "--freeze-after-setup",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["frozen"].as_u64().unwrap() > 500, "the tree was frozen");
    let final_bytes = v["final_bytes"].as_u64().unwrap();
    assert!(
        final_bytes < 16 << 10,
        "only immortal objects remain: {final_bytes} bytes"
    );
}
