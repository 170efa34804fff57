//! Leak detection around every `#[testbed::test]`: what a test left behind in the
//! process (environment variables, the current directory, threads, file descriptors,
//! child processes, temporary files, `Global` overrides and `Registry` registrations),
//! on its own runtime (async tasks), or in a library's hands (handles it asked to see
//! dropped, such as testbed-db's databases).
//!
//! It runs by itself; a test allows what it leaves on purpose, and code that starts
//! something long-lived declares it once:
//!
//! ```
//! #[testbed::test(allow_leaks(threads))]
//! fn starts_a_watcher() {
//!     std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(1)));
//! }
//!
//! testbed::leaks::ignore_threads_named("metrics-exporter");
//! assert_eq!(testbed::leaks::LEAKS_ENV, "TESTBED_LEAKS");
//! # starts_a_watcher();
//! ```
//!
//! `check` runs the built-in checks (one file each) through the runner's check seam;
//! `policy` reads `TESTBED_LEAKS` and names the categories, `ignore` holds the rules
//! declared in code, `attribution` decides whose a process-wide difference is, `retry`
//! paces the second look, `report` words what was found, `dir` lists directories
//! cheaply.

mod attribution;
mod check;
mod children;
mod cwd;
mod dir;
mod env;
mod fds;
mod handles;
mod ignore;
mod overrides;
mod policy;
mod report;
mod retry;
mod runner_holds;
mod tasks;
mod temp_files;
mod threads;

pub(crate) use check::{Pending, before};
pub(crate) use dir::current_thread_id;
pub use handles::expect_dropped;
pub use ignore::{
    ignore_connections_to, ignore_env_vars, ignore_paths_under, ignore_threads_named, long_lived,
};
#[doc(hidden)]
pub use policy::override_policy;
pub use policy::{Category, LEAKS_ENV, Policy};
#[cfg(feature = "tokio")]
pub(crate) use retry::backoff;
pub(crate) use runner_holds::RunnerHolds;
