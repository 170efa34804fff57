//! Isolated databases for tests: SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Declare a [`Database`] once (its schema: a migrations directory or a Rust function,
//! and seed files), then acquire a fresh copy in each test. The schema is built once per
//! schema hash into a template, shared by every test process and by later runs; each
//! test gets a database nothing else touches, its URL and a ready sqlx pool. After the
//! test its database is dropped (or kept, URL printed, when the test failed and
//! `TESTBED_KEEP_FAILED=1`). Every database testbed-db creates is named `testbed_...`
//! and carries its owner, so leftovers of killed runs are swept safely while other runs
//! are active, and nothing testbed-db did not create is ever dropped.
//!
//! ```no_run
//! use testbed_db::Database;
//!
//! static DB: Database = Database::migrations("migrations").with_seeds(&["tests/seeds.sql"]);
//!
//! #[testbed::test]
//! async fn counts(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
//!     let db = DB.postgres(scope).await?; // skipped if no PostgreSQL answers
//!     sqlx::query("insert into users (email) values ('ada@example.com')")
//!         .execute(db.pool())
//!         .await?;
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

mod acquire;
pub mod admin;
mod backend;
mod engine;
mod error;
mod handle;
mod isolation;
mod mysql;
mod owner;
mod postgres;
mod probe;
mod schema;
mod sql_split;
mod sqlite;
mod trace;

pub use backend::{Backend, UnknownBackend};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
pub use error::DbError;
pub use handle::{AnyTestDb, TestDb};
pub use isolation::Isolation;
pub use mysql::MYSQL_URL_ENV;
pub use owner::{KEEP_FAILED_ENV, NAME_PREFIX, redact};
#[doc(hidden)]
pub use postgres::create_unmarked_for_tests;
pub use postgres::{PG_MAX_KEPT_CONNECTIONS_ENV, POSTGRES_URL_ENV};
pub use schema::{Database, SchemaFn, Target};
