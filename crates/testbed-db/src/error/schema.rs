//! [`SchemaLoadError`] and [`ScriptRunError`]: the schema's part of acquiring a database,
//! reading its files and running them.

use std::path::PathBuf;

use testbed::BoxError;

/// The migrations or seed files could not be read.
///
/// ```
/// let error = testbed_db::SchemaLoadError::MissingMigrations { path: "migrations".into() };
/// assert!(error.to_string().starts_with("find migrations directory `migrations`"));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SchemaLoadError {
    /// The migrations directory given to [`Database::migrations`](crate::Database::migrations)
    /// does not exist when the test runs.
    #[error("find migrations directory `{}` (hint: the path is read when the test runs, relative to `CARGO_MANIFEST_DIR` or, without it, the current directory; embed the migrations with `testbed_db::migrations!(\"...\")` to run the test binary anywhere)", path.display())]
    MissingMigrations {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The binary runs in its source tree, whose migrations directory has a migration
    /// added after [`migrations!`](crate::migrations) embedded the others: cargo cannot
    /// see a new file in a directory, so it did not rebuild.
    #[error("use the embedded migrations: `{}` was added after this test binary was built (hint: rebuild the tests; to have cargo rebuild when a migration is added, add a build script printing `cargo:rerun-if-changed={}`)", path.display(), dir.display())]
    StaleMigrations {
        /// The migration (or backend subdirectory) the binary lacks.
        path: PathBuf,
        /// The migrations directory.
        dir: PathBuf,
    },
    /// The migrations directory could not be read as sqlx migrations.
    #[error("read the migrations in `{}`", path.display())]
    BadMigrations {
        /// The directory.
        path: PathBuf,
        /// What sqlx found wrong.
        #[source]
        source: BoxError,
    },
    /// A seed file could not be read.
    #[error("read seed file `{}` (hint: the path is read when the test runs, relative to `CARGO_MANIFEST_DIR`; embed seed files with `testbed_db::seeds![\"...\"]` to run the test binary anywhere)", path.display())]
    SeedRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl std::fmt::Debug for SchemaLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::write_chain(f, self)
    }
}

/// A migration, seed file or schema function failed while the template was built.
///
/// ```
/// use testbed_db::{Reason, ScriptRunError};
///
/// let error = ScriptRunError::new("seeds/users.sql", true, Some("insert into userz".into()), Reason::new("no such table: userz"));
/// assert_eq!(error.to_string(), "run seed file `seeds/users.sql` at statement `insert into userz`");
/// assert!(format!("{error:?}").ends_with("caused by: no such table: userz"));
/// ```
#[derive(thiserror::Error)]
#[error("run {} `{}`{}", if *is_seed { "seed file" } else { "migration" }, file.display(), statement.as_ref().map(|s| format!(" at statement `{s}`")).unwrap_or_default())]
#[non_exhaustive]
pub struct ScriptRunError {
    /// The file that failed (`<schema function>` for a schema function).
    pub file: PathBuf,
    /// Whether it is a seed file rather than a migration.
    pub is_seed: bool,
    /// The failing statement, when it could be told.
    pub statement: Option<String>,
    /// What the server (or the schema function) said.
    #[source]
    pub source: BoxError,
}

impl ScriptRunError {
    /// The error of `file` (a seed file when `is_seed`), failing at `statement` with
    /// `source`.
    pub fn new(
        file: impl Into<PathBuf>,
        is_seed: bool,
        statement: Option<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        ScriptRunError {
            file: file.into(),
            is_seed,
            statement,
            source: source.into(),
        }
    }
}

impl std::fmt::Debug for ScriptRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::write_chain(f, self)
    }
}
