//! The generated suite as the real `#[sqlx::test]`s: per test a new database, every
//! migration, the seed rows as a fixture, the test, then the drop, as sqlx does it. One
//! module per backend, each [`testbed_nextest_suite::TESTS_PER_SUITE`] tests named
//! `<backend>::<instance>::<kind>`. PostgreSQL and MySQL read the server from
//! `DATABASE_URL` (one backend per run, as sqlx requires); SQLite needs nothing.

use sqlx::migrate::Migrator;

mod mysql;
mod postgres;
mod sqlite;

/// The migrations, embedded once for every test of a backend.
pub static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");
/// See [`POSTGRES`].
pub static MYSQL: Migrator = sqlx::migrate!("migrations/mysql");
/// See [`POSTGRES`].
pub static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
