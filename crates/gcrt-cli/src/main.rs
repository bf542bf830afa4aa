//! `gcrt`: runs built-in workloads on gcrt's heap and collector and prints what they did;
//! `gcrt tune` sweeps the collection thresholds. With no arguments, a short tour of all of
//! it. `RUST_LOG=debug gcrt run cycles` shows every collection (tracing); `--phases` the
//! time each phase of each collection took.

mod report;
mod tune;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use report::{Settings, measure, print_text, to_json};
use workloads::Workload;

/// Run workloads on gcrt's heap and cycle collector and see what they did.
#[derive(Parser, Debug)]
#[command(name = "gcrt", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print how long each phase of each collection took (count, mark, set_apart, relist,
    /// promote, delete, ...: the collector's `tracing` spans, one line as each closes).
    #[arg(long, global = true)]
    phases: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workload (all of them if none is named) and print what the heap and the
    /// collector did.
    Run {
        /// binary-trees, cycles, ring, btree, random-graph or interpreter.
        workload: Option<String>,
        /// Collection thresholds, e.g. `700` or `700,10,10` (threshold 0 first).
        #[arg(long)]
        threshold: Option<String>,
        /// Freeze the objects the set-up made (`gc.freeze()`) before the measured run.
        #[arg(long)]
        freeze_after_setup: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The workload's size relative to its default.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Leave out the allocator's report (blocks per size class, arenas, free lists).
        #[arg(long)]
        no_alloc_report: bool,
    },
    /// Run a workload once per threshold setting and print (and plot) the trade-off
    /// between throughput and pauses.
    Tune {
        /// The workload to tune.
        workload: String,
        /// Threshold-0 values to try, e.g. `100,700,2000,10000`.
        #[arg(long)]
        threshold0: Option<String>,
        /// Threshold-1 values to try (default: gcrt's default only).
        #[arg(long)]
        threshold1: Option<String>,
        /// Threshold-2 values to try (default: gcrt's default only).
        #[arg(long)]
        threshold2: Option<String>,
        /// Where to write the SVG plot of p99 pause against throughput.
        #[arg(long, default_value = "gcrt-tune.svg")]
        svg: PathBuf,
        /// The workload's size relative to its default.
        #[arg(long, default_value_t = 0.5)]
        scale: f64,
    },
}

/// Parses a comma-separated list of positive integers.
fn parse_list(what: &str, s: &str) -> Result<Vec<usize>, String> {
    let items: Vec<&str> = s.split(',').map(str::trim).collect();
    if s.trim().is_empty() || items.iter().any(|i| i.is_empty()) {
        return Err(format!(
            "{what}: expected comma-separated numbers, got '{s}'"
        ));
    }
    items
        .iter()
        .map(|i| {
            i.parse::<usize>()
                .map_err(|_| format!("{what}: '{i}' is not a non-negative integer"))
        })
        .collect()
}

/// `--threshold`: one to three values, missing ones from gcrt's defaults.
fn parse_threshold(s: &str) -> Result<(usize, usize, usize), String> {
    let v = parse_list("--threshold", s)?;
    if v.len() > 3 {
        return Err(format!(
            "--threshold: at most three values, got {}",
            v.len()
        ));
    }
    let (_, d1, d2) = gcrt::gc::get_threshold();
    Ok((
        v[0],
        v.get(1).copied().unwrap_or(d1),
        v.get(2).copied().unwrap_or(d2),
    ))
}

fn run(
    workload: Option<String>,
    settings: Settings,
    json: bool,
    alloc_report: bool,
) -> Result<(), String> {
    let list = match workload {
        Some(name) => vec![Workload::from_name(&name)?],
        None => Workload::ALL.to_vec(),
    };
    let mut reports = Vec::new();
    for w in list {
        let r = measure(w, &settings)?;
        if json {
            reports.push(to_json(&r));
        } else {
            print_text(&r, alloc_report);
            println!();
        }
    }
    if json {
        let out = if reports.len() == 1 {
            reports.remove(0)
        } else {
            serde_json::Value::Array(reports)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// `gcrt` with no arguments: every workload at a tenth of its size, then a pointer to the
/// rest.
fn tour() -> Result<(), String> {
    println!(
        "gcrt {}: a tour of the workloads at a tenth of their size, default settings \
         (thresholds {:?})\n",
        env!("CARGO_PKG_VERSION"),
        gcrt::gc::get_threshold()
    );
    let settings = Settings {
        threshold: None,
        freeze_after_setup: false,
        scale: 0.1,
        progress: true,
    };
    for w in Workload::ALL {
        println!("## {} — {}", w.name(), w.describe());
        print_text(&measure(w, &settings)?, false);
        println!();
    }
    println!(
        "More: `gcrt run WORKLOAD` (full size, with the allocator's report; --threshold, \
         --freeze-after-setup, --json), `gcrt tune WORKLOAD` (threshold sweep with an SVG plot), \
         `RUST_LOG=debug gcrt run cycles` (every collection), `--phases` (each collection \
         phase's time)."
    );
    Ok(())
}

fn tune_cmd(
    workload: &str,
    lists: [Option<String>; 3],
    svg: PathBuf,
    scale: f64,
) -> Result<(), String> {
    let w = Workload::from_name(workload)?;
    // Before the sweep, not after it: an unwritable path fails at once.
    std::fs::File::create(&svg).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    let (_, d1, d2) = gcrt::gc::get_threshold();
    let [l0, l1, l2] = lists;
    let t0 = match l0 {
        Some(s) => parse_list("--threshold0", &s)?,
        None => tune::DEFAULT_SWEEP.to_vec(),
    };
    let t1 = l1.map_or(Ok(vec![d1]), |s| parse_list("--threshold1", &s))?;
    let t2 = l2.map_or(Ok(vec![d2]), |s| parse_list("--threshold2", &s))?;
    let base = Settings {
        threshold: None,
        freeze_after_setup: false,
        scale,
        progress: false,
    };
    println!("gcrt tune {} ({}), scale {scale}:", w.name(), w.describe());
    let rows = tune::sweep(w, &t0, &t1, &t2, &base)?;
    let best = tune::best(&rows);
    tune::print_table(&rows, best);
    tune::plot(&rows, w, &svg)?;
    println!("  plot written to {}", svg.display());
    Ok(())
}

/// Logs to stderr as `RUST_LOG` says; with `phases`, also each collection phase's span as
/// it closes, with its time.
fn init_tracing(phases: bool) {
    let mut filter = EnvFilter::from_default_env();
    let mut spans = FmtSpan::NONE;
    if phases {
        filter = filter.add_directive("gcrt::gc=debug".parse().expect("a valid directive"));
        spans = FmtSpan::CLOSE;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let msg = e.to_string();
            eprintln!(
                "gcrt: {}",
                msg.lines().next().unwrap_or("invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    init_tracing(cli.phases);
    let result = match cli.command {
        None => tour(),
        Some(Command::Run {
            workload,
            threshold,
            freeze_after_setup,
            json,
            scale,
            no_alloc_report,
        }) => threshold
            .as_deref()
            .map(parse_threshold)
            .transpose()
            .and_then(|threshold| {
                if !(scale > 0.0 && scale.is_finite()) {
                    return Err(format!("--scale: expected a positive number, got {scale}"));
                }
                let settings = Settings {
                    threshold,
                    freeze_after_setup,
                    scale,
                    progress: !json,
                };
                run(workload, settings, json, !no_alloc_report)
            }),
        Some(Command::Tune {
            workload,
            threshold0,
            threshold1,
            threshold2,
            svg,
            scale,
        }) => tune_cmd(&workload, [threshold0, threshold1, threshold2], svg, scale),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gcrt: {e}");
            ExitCode::FAILURE
        }
    }
}
