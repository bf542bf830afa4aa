//! Running a workload on a fresh thread (so a fresh heap) with given settings, and what it
//! reports: the collector's statistics, pauses, refcount's and the collector's frees, and
//! the heap's memory, as a table or as JSON.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gcrt::gc::{self, GenerationStats, PauseStats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::workloads::Workload;

/// How to run a workload.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Collection thresholds; `None` keeps the defaults.
    pub(crate) threshold: Option<(usize, usize, usize)>,
    /// Freeze the set-up's objects (`gc.freeze()`) before the measured run.
    pub(crate) freeze_after_setup: bool,
    /// Size of the workload relative to its default.
    pub(crate) scale: f64,
    /// Show a progress bar on runs longer than a second.
    pub(crate) progress: bool,
}

/// What one run did.
#[derive(Clone, Debug)]
pub(crate) struct RunReport {
    pub(crate) workload: &'static str,
    pub(crate) thresholds: (usize, usize, usize),
    /// The generations' counts when the run ended (`gc.get_count()`).
    pub(crate) counts: (usize, usize, usize),
    pub(crate) frozen: usize,
    pub(crate) wall: Duration,
    pub(crate) stats: [GenerationStats; 3],
    pub(crate) pauses: [PauseStats; 3],
    pub(crate) tracked_allocated: u64,
    pub(crate) tracked_freed: u64,
    pub(crate) peak_bytes: usize,
    pub(crate) final_bytes: usize,
    pub(crate) alloc_report: String,
    pub(crate) summary: String,
}

impl RunReport {
    /// Tracked objects the collector freed.
    pub(crate) fn collected(&self) -> u64 {
        self.stats.iter().map(|s| s.collected as u64).sum()
    }

    /// Tracked objects freed by reference counting.
    pub(crate) fn freed_by_refcount(&self) -> u64 {
        self.tracked_freed.saturating_sub(self.collected())
    }

    /// The pauses of all generations together.
    pub(crate) fn all_pauses(&self) -> PauseStats {
        self.pauses[0]
            .merged(&self.pauses[1])
            .merged(&self.pauses[2])
    }

    /// Time spent in collections.
    pub(crate) fn gc_time(&self) -> Duration {
        self.all_pauses().total()
    }
}

/// Runs `workload` with `settings` on a fresh thread and reports what happened.
pub(crate) fn measure(workload: Workload, settings: &Settings) -> Result<RunReport, String> {
    let settings = settings.clone();
    std::thread::Builder::new()
        .name(format!("gcrt {}", workload.name()))
        .stack_size(256 << 20)
        .spawn(move || run_here(workload, &settings))
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|_| format!("the {} workload panicked", workload.name()))?
}

fn run_here(workload: Workload, settings: &Settings) -> Result<RunReport, String> {
    if let Some((a, b, c)) = settings.threshold {
        gc::set_threshold(a, b, c);
    }
    let peak = Rc::new(Cell::new(0usize));
    let p = peak.clone();
    gc::register_callback(move |phase, _| {
        if phase == gc::Phase::Start {
            p.set(p.get().max(gc::total_memory()));
        }
    });
    let mut job = workload.setup(settings.scale);
    let frozen = if settings.freeze_after_setup {
        gc::collect();
        gc::freeze();
        gc::get_freeze_count()
    } else {
        0
    };
    gc::reset_pause_stats();
    let stats_before = gc::get_stats();
    let (alloc_before, freed_before) = gc::tracked_totals();
    let bar = progress_bar(job.steps(), settings.progress);
    let start = Instant::now();
    let summary = job.run(&mut |n| {
        bar.inc(n);
        peak.set(peak.get().max(gc::total_memory()));
        if start.elapsed() > Duration::from_secs(1) && bar.is_hidden() && settings.progress {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    })?;
    let wall = start.elapsed();
    bar.finish_and_clear();
    let (alloc_after, freed_after) = gc::tracked_totals();
    let mut stats = gc::get_stats();
    for (s, b) in stats.iter_mut().zip(stats_before) {
        s.collections -= b.collections;
        s.collected -= b.collected;
        s.uncollectable -= b.uncollectable;
        s.candidates -= b.candidates;
        s.duration -= b.duration;
    }
    let pauses = gc::get_pause_stats();
    let counts = gc::get_count();
    // The heap as the workload left it, before its objects go.
    let alloc_report = gc::alloc_report();
    // What is left once the workload's objects are gone, cycles included (frozen ones too:
    // a thread that exits with objects alive keeps its whole heap).
    drop(job);
    gc::unfreeze();
    gc::collect();
    let final_bytes = gc::total_memory();
    Ok(RunReport {
        workload: workload.name(),
        thresholds: gc::get_threshold(),
        counts,
        frozen,
        wall,
        stats,
        pauses,
        tracked_allocated: alloc_after - alloc_before,
        tracked_freed: freed_after - freed_before,
        peak_bytes: peak.get().max(final_bytes),
        final_bytes,
        alloc_report,
        summary,
    })
}

fn progress_bar(steps: u64, wanted: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::hidden());
    if wanted {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }
    bar
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// The report as text: settings, a per-generation table, frees, pauses, memory.
pub(crate) fn print_text(r: &RunReport, with_alloc_report: bool) {
    println!("workload {}: {}", r.workload, r.summary);
    println!(
        "  thresholds {:?}; counts at the end {:?}; {} objects frozen after set-up; run took {} ms",
        r.thresholds,
        r.counts,
        r.frozen,
        ms(r.wall)
    );
    println!("  generation  collections   collected  uncollectable    candidates   time ms");
    for (g, s) in r.stats.iter().enumerate() {
        println!(
            "  {g:>10}  {:>11}  {:>10}  {:>13}  {:>12}  {:>8}",
            s.collections,
            s.collected,
            s.uncollectable,
            s.candidates,
            ms(s.duration)
        );
    }
    println!(
        "  tracked objects: {} allocated, {} freed by refcounting, {} by the collector",
        r.tracked_allocated,
        r.freed_by_refcount(),
        r.collected()
    );
    let p = r.all_pauses();
    println!(
        "  pauses: {} collections, p50 {} ms, p90 {} ms, p99 {} ms, max {} ms, total {} ms ({:.1} % of the run)",
        p.count(),
        ms(p.percentile(50.0)),
        ms(p.percentile(90.0)),
        ms(p.percentile(99.0)),
        ms(p.max()),
        ms(p.total()),
        100.0 * p.total().as_secs_f64() / r.wall.as_secs_f64().max(1e-9)
    );
    println!(
        "  heap: peak {:.1} MiB (sampled at each collection and progress step), {:.1} MiB once the workload is gone",
        r.peak_bytes as f64 / 1048576.0,
        r.final_bytes as f64 / 1048576.0
    );
    if with_alloc_report {
        println!("\n  the heap when the run ended:\n{}", r.alloc_report);
    }
}

/// The report as one JSON object (the same numbers as the text).
pub(crate) fn to_json(r: &RunReport) -> serde_json::Value {
    let gens: Vec<_> = r
        .stats
        .iter()
        .zip(&r.pauses)
        .enumerate()
        .map(|(g, (s, p))| {
            json!({
                "generation": g,
                "collections": s.collections,
                "collected": s.collected,
                "uncollectable": s.uncollectable,
                "candidates": s.candidates,
                "time_ms": s.duration.as_secs_f64() * 1e3,
                "pause_p50_ms": p.percentile(50.0).as_secs_f64() * 1e3,
                "pause_p99_ms": p.percentile(99.0).as_secs_f64() * 1e3,
                "pause_max_ms": p.max().as_secs_f64() * 1e3,
            })
        })
        .collect();
    let p = r.all_pauses();
    json!({
        "workload": r.workload,
        "summary": r.summary,
        "thresholds": [r.thresholds.0, r.thresholds.1, r.thresholds.2],
        "counts": [r.counts.0, r.counts.1, r.counts.2],
        "frozen": r.frozen,
        "wall_ms": r.wall.as_secs_f64() * 1e3,
        "generations": gens,
        "tracked_allocated": r.tracked_allocated,
        "freed_by_refcount": r.freed_by_refcount(),
        "freed_by_collector": r.collected(),
        "pauses": {
            "count": p.count(),
            "p50_ms": p.percentile(50.0).as_secs_f64() * 1e3,
            "p90_ms": p.percentile(90.0).as_secs_f64() * 1e3,
            "p99_ms": p.percentile(99.0).as_secs_f64() * 1e3,
            "max_ms": p.max().as_secs_f64() * 1e3,
            "total_ms": p.total().as_secs_f64() * 1e3,
        },
        "peak_bytes": r.peak_bytes,
        "final_bytes": r.final_bytes,
        "alloc_report": r.alloc_report,
    })
}
