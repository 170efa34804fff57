//! Scenarios: one test body run once per scenario (a backend, a format), each scenario
//! its own test named `test_name::scenario`, so it can be filtered and reported alone.

mod scenario;

pub use scenario::Scenario;
pub(crate) use scenario::enter;
