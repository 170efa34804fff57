//! The fixture core: scopes and their cleanup stacks, fixtures, outcomes, details and
//! the report that gathers every failure of a test.

mod block_on;
mod details;
mod fixture;
mod outcome;
mod report;
pub(crate) mod running;
mod scope;
mod skip;

#[cfg(feature = "tokio")]
pub(crate) use block_on::catch_unwind_future;
pub(crate) use details::lock;
pub use details::{Detail, Details};
pub use fixture::{AsyncFixture, Fixture, Resettable};
pub use outcome::Outcome;
pub use report::{BoxError, Failure, FailureKind, Report};
pub(crate) use report::{emit, panic_message};
pub use scope::{CleanupResult, Scope};
pub use skip::{REQUIRE_ENV, Unavailable, skip};
