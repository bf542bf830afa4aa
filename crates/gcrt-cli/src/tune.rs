//! `gcrt tune`: runs a workload once per threshold setting, prints time, collector time,
//! pauses and peak memory for each, marks the best trade-off, and plots pause against
//! throughput as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{RunReport, Settings, measure};
use crate::workloads::Workload;

/// The threshold-0 values a sweep tries by default (CPython's default is 700, gcrt's 2000).
pub(crate) const DEFAULT_SWEEP: [usize; 8] = [100, 300, 700, 2000, 5000, 10_000, 50_000, 200_000];

/// One setting's results.
pub(crate) struct Row {
    pub(crate) threshold: (usize, usize, usize),
    pub(crate) report: RunReport,
}

/// Runs the sweep: each threshold-0 value (with each threshold-1 and -2 value given, or the
/// defaults) on a fresh heap.
pub(crate) fn sweep(
    workload: Workload,
    t0: &[usize],
    t1: &[usize],
    t2: &[usize],
    base: &Settings,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for &a in t0 {
        for &b in t1 {
            for &c in t2 {
                let settings = Settings {
                    threshold: Some((a, b, c)),
                    progress: false,
                    ..base.clone()
                };
                eprintln!("  {} with thresholds ({a}, {b}, {c})...", workload.name());
                rows.push(Row {
                    threshold: (a, b, c),
                    report: measure(workload, &settings)?,
                });
            }
        }
    }
    Ok(rows)
}

/// The best trade-off: the row with the smallest sum of its run time and its p99 pause,
/// each relative to the best of the sweep (so both count alike).
pub(crate) fn best(rows: &[Row]) -> Option<usize> {
    let secs = |r: &Row| r.report.wall.as_secs_f64();
    let p99 = |r: &Row| r.report.all_pauses().percentile(99.0).as_secs_f64();
    let min_t = rows
        .iter()
        .map(secs)
        .fold(f64::INFINITY, f64::min)
        .max(1e-9);
    let min_p = rows.iter().map(p99).fold(f64::INFINITY, f64::min).max(1e-6);
    (0..rows.len()).min_by(|&i, &j| {
        let score = |r: &Row| secs(r) / min_t + p99(r) / min_p;
        score(&rows[i]).total_cmp(&score(&rows[j]))
    })
}

/// Prints the sweep's table.
pub(crate) fn print_table(rows: &[Row], best: Option<usize>) {
    println!(
        "  {:>24}  {:>10}  {:>10}  {:>10}  {:>10}  {:>11}",
        "thresholds", "total ms", "gc ms", "p99 ms", "max ms", "peak MiB"
    );
    for (i, r) in rows.iter().enumerate() {
        let p = r.report.all_pauses();
        println!(
            "  {:>24}  {:>10.1}  {:>10.1}  {:>10.3}  {:>10.3}  {:>11.1}{}",
            format!("{:?}", r.threshold),
            r.report.wall.as_secs_f64() * 1e3,
            r.report.gc_time().as_secs_f64() * 1e3,
            p.percentile(99.0).as_secs_f64() * 1e3,
            p.max().as_secs_f64() * 1e3,
            r.report.peak_bytes as f64 / 1048576.0,
            if Some(i) == best {
                "   <- best trade-off"
            } else {
                ""
            }
        );
    }
}

/// Writes the pause-against-throughput plot: one point per setting, labelled with its
/// threshold 0.
pub(crate) fn plot(rows: &[Row], workload: Workload, path: &Path) -> Result<(), String> {
    let points: Vec<(f64, f64, usize)> = rows
        .iter()
        .map(|r| {
            let p99 = r.report.all_pauses().percentile(99.0).as_secs_f64() * 1e3;
            (
                1.0 / r.report.wall.as_secs_f64().max(1e-9),
                p99,
                r.threshold.0,
            )
        })
        .collect();
    let max_x = points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.15;
    let max_y = points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (800, 600)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("gcrt tune {}: pause against throughput", workload.name()),
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_x.max(1e-9), 0.0..max_y.max(1e-6))?;
        chart
            .configure_mesh()
            .x_desc("runs per second (1 / total time)")
            .y_desc("p99 pause (ms)")
            .draw()?;
        chart.draw_series(points.iter().map(|&(x, y, t)| {
            EmptyElement::at((x, y))
                + Circle::new((0, 0), 5, BLUE.filled())
                + Text::new(format!("{t}"), (8, -8), ("sans-serif", 14))
        }))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("cannot write {}: {e}", path.display()))
}
