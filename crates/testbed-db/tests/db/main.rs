//! testbed-db against the real servers: SQLite always; PostgreSQL and MariaDB when they
//! answer (skipped otherwise, failed under `TESTBED_REQUIRE`).

mod bad_input;
mod child;
#[path = "../support/child_process.rs"]
mod child_process;
mod connection_limit;
mod embedded;
mod every_backend;
mod faults;
mod kept_handles;
mod messages;
mod mysql;
mod postgres;
mod roles;
mod secrets;
mod sqlite;
mod sync_tests;

use testbed_db::Database;

/// What a `Database::function` schema's build returns.
pub type Build<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), testbed::BoxError>> + Send + 'c>>;

/// The realistic schema: 22 tables in 12 migrations per backend, plus portable seeds.
pub static SHOP: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);

/// The same, with a fresh clone per test (dropped after it) instead of recycling.
pub static SHOP_CLONES: Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
    .isolation(testbed_db::Isolation::Clone);
