//! A small Lisp interpreter built on gcrt's object types: a real client of the library.
//! Environments and closures are instances; every function defined inside another one
//! leaves an environment cycle behind, which the collector frees. The interpreter is the
//! one the `gcrt` program's `interpreter` workload runs.
//!
//! ```sh
//! cargo run --release --example interpreter
//! ```

#[path = "../crates/gcrt-cli/src/workloads/lisp.rs"]
mod lisp;

use gcrt::gc;

fn main() {
    let interp = lisp::Interpreter::new();
    let programs = [
        "(define (fact n) (if (< n 2) 1 (* n (fact (- n 1))))) (fact 25)",
        "(define (make-counter)
           (define count 0)
           (define (step) (set! count (+ count 1)) count)
           step)
         (define c (make-counter))
         (c) (c) (c)",
        &lisp::workload_program(10_000),
    ];
    for p in programs {
        match interp.run(p) {
            Ok(v) => println!("=> {v:?}"),
            Err(e) => println!("error: {e}"),
        }
    }
    let (allocated, freed) = gc::tracked_totals();
    let collected: usize = gc::get_stats().iter().map(|s| s.collected).sum();
    println!(
        "tracked objects: {allocated} allocated, {} freed by refcounting, {collected} by the collector",
        freed - collected as u64
    );
    drop(interp);
    println!(
        "after dropping the interpreter, a full collection found {}",
        gc::collect()
    );
}
