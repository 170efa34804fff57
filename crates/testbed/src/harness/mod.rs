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
//! Under `cargo nextest run` every test is a process of its own: process-local resources
//! are made and torn down per test, and [`Persistent`](crate::resources::Persistent) ones
//! are what is shared. nextest judges a test by its exit code alone, so a runtime skip
//! shows there as a pass whose output says `ignored (<reason>)`; `TESTBED_REQUIRE` still
//! turns it into a failure.
//!
//! libtest-mimic does not capture a test's output: what a test prints appears as it runs.
//!
//! `TESTBED_ORDER=listed` runs tests in name order instead of the planned order, for
//! comparison (`cargo bench -p testbed --bench ordering` measures both).

#![allow(clippy::needless_doctest_main)] // the example is a whole test target

#[cfg(feature = "harness")]
mod plan;
mod registration;
#[cfg(feature = "harness")]
mod run;
#[cfg(feature = "harness")]
mod schedule;
#[cfg(feature = "harness")]
mod trial;

#[cfg(feature = "harness")]
pub use libtest_mimic::{Arguments, Conclusion, FormatSetting};
pub use registration::{RegisteredTest, ShouldPanic};
#[cfg(feature = "harness")]
pub use run::{Order, ResourceCost, RunReport, main, registered, run, summary};
#[cfg(feature = "harness")]
pub use trial::Trial;
