//! Isolated databases for tests: SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Declare a [`Database`] once (its schema: migrations embedded by [`migrations!`] or a
//! Rust function, and seed files embedded by [`seeds!`]), then acquire a fresh copy in
//! each test. The schema is built once per
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
//! // Embedded in the test binary: it runs without cargo, or from an archive elsewhere.
//! static DB: Database =
//!     testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);
//!
//! # #[cfg(feature = "postgres")]
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

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "testbed-db needs at least one backend feature: `sqlite`, `postgres` or `mysql` (the default features have all three)"
);

mod acquire;
pub mod admin;
mod backend;
mod backends;
mod blocking;
mod diesel;
mod embedded;
mod engine;
mod error;
mod handle;
mod held;
mod isolation;
mod leak_rules;
mod orm;
mod owner;
mod pool_limit;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod probe;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod reached;
mod retention;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod retry;
mod schema;
mod script;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server_cache;
mod sql_split;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod trace;

pub use backend::{Backend, UnknownBackend};
pub use blocking::block_on;

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[doc = include_str!("../README.md")]
mod readme {}
#[cfg(feature = "mysql")]
pub use backends::mysql::MYSQL_URL_ENV;
#[cfg(feature = "postgres")]
pub use backends::postgres::{PG_MAX_KEPT_CONNECTIONS_ENV, POSTGRES_URL_ENV};
#[cfg(feature = "__diesel")]
pub use error::ConnectionOpenError;
pub use error::{DatabaseAcquireError, Reason, SchemaLoadError, ScriptRunError, ServerCallError};
pub use handle::{AnyTestDb, TestDb};
pub use isolation::Isolation;
pub use owner::{KEEP_FAILED_ENV, NAME_PREFIX, redact};
pub use schema::{Database, SchemaFn, Seed, Target};

/// Embeds a directory of sqlx migrations in the test binary at compile time and gives
/// the [`Database`] they build, usable in a `static`.
///
/// The path is relative to the directory of the crate's `Cargo.toml`; without an
/// argument it is `migrations`, as for `sqlx::migrate!()`. Files are named as sqlx names
/// them (`<version>_<description>.sql`, or `.up.sql`/`.down.sql` pairs; other files are
/// ignored), and each backend subdirectory there is (`sqlite/`, `postgres/`, `mysql/`)
/// is embedded too and used on its backend. A directory that is missing, or a migration
/// name without an integer version, is a compile error.
///
/// Each file is embedded with `include_str!`, so cargo rebuilds the test binary when a
/// migration changes, and the binary needs neither its source tree nor cargo to run
/// (directly, or from a `cargo nextest archive` on another machine). The template is
/// named by a hash of the files' contents, the same as
/// [`Database::migrations`] gives for the same directory.
///
/// Cargo cannot see a file *added* to a directory: when the binary runs where it was
/// built and the directory holds a migration it lacks, acquiring a database fails with
/// [`SchemaLoadError::StaleMigrations`], naming the file. A build script makes cargo rebuild on
/// its own:
///
/// ```rust,ignore
/// // build.rs
/// fn main() {
///     println!("cargo:rerun-if-changed=migrations");
/// }
/// ```
///
/// ```
/// use testbed_db::{Database, Isolation};
///
/// static DB: Database = testbed_db::migrations!("tests/schema");
/// static CLONED: Database = testbed_db::migrations!("tests/schema")
///     .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
///     .isolation(Isolation::Clone);
/// ```
#[macro_export]
macro_rules! migrations {
    ($($dir:tt)*) => {
        $crate::__private::macros::migrations!($($dir)*)
    };
}

/// Embeds seed files (SQL run after the schema, in order) in the test binary at compile
/// time, for [`Database::with_seeds`]. Paths are relative to the directory of the
/// crate's `Cargo.toml`; a missing file is a compile error. The seeds' contents are part
/// of the template's hash, and cargo rebuilds the binary when one changes.
///
/// ```
/// use testbed_db::Database;
///
/// static DB: Database = testbed_db::migrations!("tests/schema")
///     .with_seeds(testbed_db::seeds!["tests/seeds/base.sql", "tests/seeds/own_pool.sql"]);
/// ```
#[macro_export]
macro_rules! seeds {
    ($($files:tt)*) => {
        $crate::__private::macros::seeds!($($files)*)
    };
}

/// What the macros expand to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::embedded::{EmbeddedMigration, EmbeddedMigrations, EmbeddedSet};
    pub use testbed_db_macros as macros;

    /// A [`Database`](crate::Database) built by embedded migrations.
    pub const fn migrations(embedded: &'static EmbeddedMigrations) -> crate::Database {
        crate::Database::embedded(embedded)
    }

    #[cfg(feature = "postgres")]
    /// Serves as the PostgreSQL broker on `socket` (`cargo testbed db broker`) until it
    /// has no client for a while; see `TESTBED_PG_BROKER` in the README.
    pub fn serve_broker(socket: std::path::PathBuf) -> Result<(), String> {
        crate::backends::postgres::serve_broker(socket)
    }

    /// Records an intent and creates the database unmarked, as a process killed between
    /// `CREATE DATABASE` and its mark leaves it: for testbed-db's own tests of the sweep.
    #[cfg(feature = "postgres")]
    pub use crate::backends::postgres::create_unmarked_for_tests;

    /// An embedded seed file.
    pub const fn seed(path: &'static str, sql: &'static str) -> crate::Seed {
        crate::Seed::embedded(path, sql)
    }
}
