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
mod outcomes;
#[cfg(feature = "harness")]
mod plan;
mod registration;
#[cfg(feature = "harness")]
mod report;
#[cfg(feature = "harness")]
mod run;
#[cfg(feature = "harness")]
mod schedule;
mod sections;
#[cfg(feature = "harness")]
mod summary;
#[cfg(feature = "harness")]
mod trial;

#[cfg(feature = "harness")]
pub use libtest_mimic::{Arguments, Conclusion, FormatSetting};
#[cfg(feature = "harness")]
pub use outcomes::{ScenarioTally, TestRecord};
pub use registration::{RegisteredTest, ShouldPanic};
#[cfg(feature = "harness")]
pub use report::{ResourceCost, RunReport};
#[cfg(feature = "harness")]
pub use run::{Order, main, registered, run};
pub use sections::summary_section;
#[cfg(feature = "harness")]
pub use summary::summary;
#[cfg(feature = "harness")]
pub use trial::Trial;
