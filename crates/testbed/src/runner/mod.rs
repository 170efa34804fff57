//! Running one test: build its scope, set up its fixtures, run the body under the
//! checks and the timeout, always run the cleanups, then report every failure.
//!
//! `#[testbed::test]` expands into a call to [`run_sync`], [`run_sync_with_timeout`] or
//! [`run_async`] (`run`); the setup and body calls it generates are in `steps`, the
//! judging and report in `ending`, the suite-wide limit in `timeout`. Nothing here is
//! meant to be called by hand.

mod checks;
mod ending;
pub(crate) mod expected_panic;
mod run;
mod skip_sink;
mod steps;
mod timeout;
mod verdict;

pub use checks::{Check, install_check};
#[cfg(feature = "harness")]
pub(crate) use run::libtest_name;
pub use run::{TestInfo, run_async, run_sync, run_sync_default, run_sync_with_timeout};
#[cfg(feature = "harness")]
pub use skip_sink::capture_skip;
pub use steps::{Step, body, body_async, setup, setup_async};
pub use timeout::DEFAULT_TIMEOUT_ENV;
pub use verdict::{IntoVerdict, Verdict};
