//! Fixtures with guaranteed cleanup for Rust test suites.
//!
//! A test declares what it needs as arguments; testbed sets each fixture up in the test's
//! [`Scope`], runs the body, and then always runs every cleanup, last-in-first-out,
//! whether the test passed, returned an error, panicked, timed out or failed in setup.
//! Every failure (the body's, then each cleanup's) is reported together with the
//! details fixtures attached: captured logs, kept paths, URLs.
//!
//! ```
//! use testbed::{BoxError, Fixture, Scope};
//!
//! struct Counter(u32);
//!
//! impl Fixture for Counter {
//!     fn setup(scope: &Scope) -> Result<Self, BoxError> {
//!         scope.add_cleanup(|outcome| println!("counter torn down after the test {outcome}"));
//!         Ok(Counter(0))
//!     }
//! }
//!
//! #[testbed::test]
//! fn counts(mut counter: Counter) {
//!     counter.0 += 1;
//!     assert_eq!(counter.0, 1);
//! }
//! # counts();
//! ```
#![warn(missing_docs)]

mod builtins;
mod core;
pub mod harness;
pub mod helper;
pub mod leaks;
pub mod resources;
mod runner;
pub mod scenarios;
pub mod skips;

pub use crate::builtins::*;
pub use crate::core::{
    AsyncFixture, BoxError, CleanupResult, Detail, Details, Failure, FailureKind, Fixture, Outcome,
    REQUIRE_ENV, Report, Resettable, Scope, Unavailable, skip,
};
pub use crate::runner::{Check, DEFAULT_TIMEOUT_ENV, install_check};

/// Turns a function into a test with fixtures and guaranteed cleanup.
///
/// Each argument is a fixture, set up before the body in order; an argument of type
/// `&Scope` receives the test's scope. The function may be `async` (run on a
/// current-thread tokio runtime) and may return `Result<(), E>`. Other attributes
/// (`#[ignore]`, `#[should_panic]`) keep working.
///
/// Options: `timeout = "500ms"` (also `"5s"`, `"2m"`) fails a test that runs longer,
/// still running its cleanups. `scenarios(memory, sqlite)` (or multiplied lists,
/// `scenarios(backend = [memory, sqlite], format = [json, yaml])`) makes one test per
/// scenario, named `test_name::memory` and so on (see [`scenarios::Scenario`]).
/// `resources(SERVER, TEMPLATE)` declares the [`resources::Resource`]s the test uses, so
/// the [`harness`] can order tests to make each as few times as possible; with scenarios,
/// `resources(SERVER, postgres = [PG_TEMPLATE])` adds resources only one scenario uses.
/// `allow_leaks(threads, fds)` lets the test leave those categories behind (see
/// [`leaks`]; the categories are `env`, `cwd`, `threads`, `fds`, `children`,
/// `temp_files` and `tasks`).
///
/// ```
/// use testbed::{Scope, TempDir};
///
/// #[testbed::test(timeout = "10s")]
/// fn writes_a_file(dir: TempDir, scope: &Scope) -> std::io::Result<()> {
///     scope.attach("note", "kept for the report if the test fails");
///     std::fs::write(dir.path().join("a.txt"), "hello")
/// }
/// # writes_a_file();
/// ```
pub use testbed_macros::test;

/// Versioned wire shapes: `#[derive(Versioned)]`, the manifest and its check (the
/// `versioned` feature; see the `testbed-versioned` crate).
#[cfg(feature = "versioned")]
pub mod versioned {
    pub use testbed_macros::Versioned;
    pub use testbed_versioned::*;

    /// Registers a versioned type for the test of `scope` alone (oslo's registry
    /// fixture): the check sees it until the test's cleanups run, however it ends.
    ///
    /// ```
    /// use testbed::versioned::{Registration, Versioned, register_in, registered};
    ///
    /// #[derive(Versioned)]
    /// #[versioned(version = "1.0")]
    /// struct Envelope<T> { body: T }
    ///
    /// static ENVELOPE: Registration = Registration::of::<Envelope<String>>("my_app::wire");
    ///
    /// #[testbed::test]
    /// fn sees_the_envelope(scope: &testbed::Scope) {
    ///     register_in(scope, &ENVELOPE);
    ///     assert_eq!(registered("my_app").len(), 1);
    /// }
    /// # fn main() { sees_the_envelope(); assert!(registered("my_app").is_empty()); }
    /// ```
    pub fn register_in(scope: &crate::Scope, registration: &'static Registration) {
        let held = register_for(registration);
        scope.add_cleanup(move |_outcome| drop(held));
    }
}

// The README's examples are compiled and run as doctests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

/// Support for the code `#[testbed::test]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::harness::registration::{RegisteredTest, ShouldPanic};

    /// The harness's inner workings, for testbed's own tests and benches: run a list
    /// of trials and read what the run did.
    #[cfg(feature = "harness")]
    pub mod harness {
        pub use crate::harness::outcomes::{ScenarioTally, TestRecord};
        pub use crate::harness::report::{ResourceCost, RunReport};
        pub use crate::harness::run::{Order, registered, run};
        pub use crate::harness::summary::summary;
        pub use crate::harness::trial::Trial;
        pub use libtest_mimic::{Arguments, Conclusion, FormatSetting};
    }

    /// Every resource this process made, and tearing them all down: the harness's end
    /// of run, for testbed's own tests.
    pub use crate::resources::registry::{live_resources, teardown_all};
    pub use crate::runner::{
        IntoVerdict, Step, TestInfo, Verdict, body, body_async, run_async, run_sync,
        run_sync_default, run_sync_with_timeout, setup, setup_async,
    };

    /// Switches leak detection's policy in code, for testbed's bench.
    pub use crate::leaks::override_policy;

    /// Records the scenario a generated scenario test runs in.
    pub fn enter_scenario(scope: &crate::Scope, scenario: crate::scenarios::Scenario) {
        crate::scenarios::enter(scope, scenario);
    }
    pub use inventory;
}
