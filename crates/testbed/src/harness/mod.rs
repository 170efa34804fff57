//! The optional test harness (`harness` feature): what libtest cannot do. Runtime skips
//! reported as ignored with their reason and counted; tests ordered so each shared
//! resource is made as few times as possible while tests still run in parallel;
//! resources released as soon as the plan no longer needs them, torn down at the end of
//! the run, with a summary of what each cost; and libtest's command line (filters,
//! `--exact`, `--list`, `--ignored`, `--include-ignored`, `--test-threads`,
//! `--format terse`), so `cargo test` and `cargo nextest run` both drive it.
//!
//! A test target opts in with `harness = false` in `Cargo.toml` and one line:
//!
//! ```toml
//! [[test]]
//! name = "suite"
//! harness = false
//! ```
//!
//! ```no_run
//! fn main() { testbed::harness::main() }
//! ```
//!
//! The run ends with a summary on stderr, after libtest's `test result:` line (stdout
//! stays exactly as libtest-mimic prints it): per scenario value how many tests passed,
//! failed and were skipped, each distinct skip reason once with its count, the lines
//! other crates added with [`summary_section`], and what each resource cost.
//!
//! Under `cargo nextest run` every test is a process of its own: process-local resources
//! are made and torn down per test, and [`Persistent`](crate::resources::Persistent) ones
//! are what is shared. nextest judges a test by its exit code alone, so a runtime skip
//! shows there as a pass whose output says `ignored (<reason>)`; `TESTBED_REQUIRE` still
//! turns it into a failure. The summary is printed only by a run of more than one test,
//! so nextest's processes print none (nextest's own summary counts the tests).
//!
//! libtest-mimic does not capture a test's output: what a test prints appears as it runs.
//!
//! `TESTBED_ORDER=listed` runs tests in name order instead of the planned order, for
//! comparison (`cargo bench -p testbed --bench ordering` measures both).

#![allow(clippy::needless_doctest_main)] // the example is a whole test target

#[cfg(feature = "harness")]
pub(crate) mod outcomes;
#[cfg(feature = "harness")]
mod plan;
pub(crate) mod registration;
#[cfg(feature = "harness")]
pub(crate) mod report;
#[cfg(feature = "harness")]
pub(crate) mod run;
#[cfg(feature = "harness")]
mod schedule;
mod sections;
#[cfg(feature = "harness")]
pub(crate) mod summary;
#[cfg(feature = "harness")]
pub(crate) mod trial;

// The public face: a target's `main`, and the lines other crates add to the summary.
// What only testbed's own tests and benches use (running a list of trials, the report
// of a run) is in `testbed::__private::harness`.
#[cfg(feature = "harness")]
pub use run::main;
pub use sections::summary_section;
