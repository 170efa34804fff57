//! Scenarios: one body, one test per scenario, named `test::scenario`, filterable, and
//! skipped with a reason (or failed under `TESTBED_REQUIRE`) when unavailable.

mod naming;
#[path = "../support/respawn.rs"]
mod respawn;
mod skipping;
