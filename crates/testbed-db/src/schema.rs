//! Where a test database's schema comes from (migrations embedded at compile time or read
//! from a directory, or a Rust function; then seed files), the hash that names its
//! template, and building it on a connection.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
#[cfg(feature = "mysql")]
use sqlx::MySqlConnection;
#[cfg(feature = "postgres")]
use sqlx::PgConnection;
#[cfg(feature = "sqlite")]
use sqlx::SqliteConnection;
use sqlx::migrate::{MigrateError, Migrator};

use crate::embedded::EmbeddedMigrations;
use crate::owner::hex;
use crate::script::{Script, script_error};
use crate::{Backend, DatabaseAcquireError, SchemaLoadError, ScriptRunError, ServerCallError};

/// A connection to the template being built, handed to a [`SchemaFn`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Target<'c> {
    /// Building a SQLite template.
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut SqliteConnection),
    /// Building a PostgreSQL template.
    #[cfg(feature = "postgres")]
    Postgres(&'c mut PgConnection),
    /// Building a MySQL/MariaDB template.
    #[cfg(feature = "mysql")]
    MySql(&'c mut MySqlConnection),
}

/// A Rust function that builds the schema (an ORM's `create_all`, say).
pub type SchemaFn =
    for<'c> fn(
        Target<'c>,
    ) -> Pin<Box<dyn Future<Output = Result<(), testbed::BoxError>> + Send + 'c>>;

#[derive(Debug, Clone, Copy)]
enum Source {
    Empty,
    Migrations(&'static str),
    Diesel(&'static str),
    Embedded(&'static EmbeddedMigrations),
    Function {
        version: &'static str,
        build: SchemaFn,
    },
}

/// Declares a test database: where its schema comes from and what seed data it holds.
/// Declare it once (as a `static`) and [`acquire`](Database::acquire) a fresh, isolated
/// copy in each test.
///
/// [`migrations!`](crate::migrations) and [`seeds!`](crate::seeds) embed the files in the
/// test binary at compile time, so the binary runs anywhere (directly, from a
/// `cargo nextest archive` on another machine). A migrations directory is in sqlx's
/// format (`<version>_<description>.sql`, or `.up.sql`/`.down.sql` pairs); when it holds
/// a subdirectory named after the backend (`sqlite`, `postgres`, `mysql`), that one is
/// used.
///
/// ```
/// use testbed_db::Database;
///
/// static DB: Database =
///     testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);
/// static EMPTY: Database = Database::empty();
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Database {
    source: Source,
    seeds: &'static [Seed],
    /// Per backend, in [`Backend::ALL`]'s order.
    isolations: [crate::Isolation; 3],
}

/// A seed file: SQL run after the schema, whose rows are in every copy. Embedded by
/// [`seeds!`](crate::seeds) (the way to use), or read when the test runs with
/// [`Seed::file`].
///
/// ```
/// use testbed_db::{Database, Seed};
///
/// static EMBEDDED: Database = Database::empty().with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);
/// static READ_AT_RUN_TIME: Database = Database::empty().with_seeds(&[Seed::file("tests/seeds/base.sql")]);
/// ```
#[derive(Clone, Copy)]
pub struct Seed {
    path: &'static str,
    sql: Option<&'static str>,
}

impl Seed {
    /// A seed file read when the first test uses it, relative to `CARGO_MANIFEST_DIR`
    /// (the current directory without it): the test binary then needs its source tree.
    /// [`seeds!`](crate::seeds) embeds the file instead.
    ///
    /// ```
    /// use testbed_db::{Database, Seed};
    ///
    /// static DB: Database = Database::empty().with_seeds(&[Seed::file("tests/seeds/base.sql")]);
    /// ```
    pub const fn file(path: &'static str) -> Self {
        Seed { path, sql: None }
    }

    /// What [`seeds!`](crate::seeds) emits: `path` (absolute) and its contents.
    pub(crate) const fn embedded(path: &'static str, sql: &'static str) -> Self {
        Seed {
            path,
            sql: Some(sql),
        }
    }
}

impl fmt::Debug for Seed {
    // The SQL is left out: a `Database` is printed in test reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("path", &self.path)
            .field("embedded", &self.sql.is_some())
            .finish()
    }
}

impl Database {
    /// A database with no schema.
    pub const fn empty() -> Self {
        Database {
            source: Source::Empty,
            seeds: &[],
            isolations: [crate::Isolation::Auto; 3],
        }
    }

    /// A database whose schema is built by the sqlx migrations in `dir`, read when the
    /// first test uses it, relative to `CARGO_MANIFEST_DIR` (the current directory
    /// without it): the test binary then needs its source tree and cargo's environment.
    /// [`migrations!`](crate::migrations) embeds them instead, and is the way to use; this
    /// is for directories that only exist at run time.
    ///
    /// ```
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::migrations("tests/schema");
    /// ```
    pub const fn migrations(dir: &'static str) -> Self {
        Database {
            source: Source::Migrations(dir),
            ..Database::empty()
        }
    }

    /// A database whose schema is diesel's migrations directory `dir`, read as it is
    /// when the test runs (relative to `CARGO_MANIFEST_DIR`): each `<version>_<name>`
    /// folder's `up.sql`, in version order, recorded in `__diesel_schema_migrations` as
    /// diesel records them, so diesel's own runner finds nothing left to run. A
    /// `sqlite`, `postgres` or `mysql` subdirectory, when there is one, is used for that
    /// backend.
    ///
    /// ```no_run
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("migrations");
    /// ```
    pub const fn diesel_migrations(dir: &'static str) -> Self {
        Database {
            source: Source::Diesel(dir),
            ..Database::empty()
        }
    }

    /// A database whose schema is built by `build`. Change `version` whenever `build`
    /// changes: it is part of the template's hash, since code cannot be hashed.
    ///
    /// ```
    /// use testbed_db::{Database, Target};
    ///
    /// static DB: Database = Database::function("v1", |target| Box::pin(async move {
    ///     # #[cfg(feature = "sqlite")] // the `sqlite` feature (a default) has `Target::Sqlite`
    ///     if let Target::Sqlite(conn) = target {
    ///         sqlx::raw_sql("create table notes (body text)").execute(conn).await?;
    ///     }
    ///     # let _ = target;
    ///     Ok(())
    /// }));
    /// ```
    pub const fn function(version: &'static str, build: SchemaFn) -> Self {
        Database {
            source: Source::Function { version, build },
            ..Database::empty()
        }
    }

    /// Seed files (SQL) run after the schema, in order; their rows are in every copy.
    /// Embed them with [`seeds!`](crate::seeds).
    ///
    /// ```
    /// use testbed_db::Database;
    ///
    /// static DB: Database =
    ///     testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);
    /// ```
    pub const fn with_seeds(mut self, seeds: &'static [Seed]) -> Self {
        self.seeds = seeds;
        self
    }

    /// What [`migrations!`](crate::migrations) emits.
    pub(crate) const fn embedded(migrations: &'static EmbeddedMigrations) -> Self {
        Database {
            source: Source::Embedded(migrations),
            ..Database::empty()
        }
    }

    /// How tests are isolated from each other, on every backend (default: each
    /// backend's fastest full isolation, see [`Isolation`](crate::Isolation)). A
    /// strategy the backend a test asks for does not have fails that acquire, naming the
    /// backends that have it; [`isolation_on`](Database::isolation_on) sets one backend's.
    ///
    /// ```
    /// use testbed_db::{Database, Isolation};
    ///
    /// static CLONED: Database = testbed_db::migrations!("tests/schema").isolation(Isolation::Clone);
    /// ```
    pub const fn isolation(mut self, isolation: crate::Isolation) -> Self {
        self.isolations = [isolation; 3];
        self
    }

    /// How tests are isolated on `backend` alone; the other backends keep theirs.
    ///
    /// ```
    /// use testbed_db::{Backend, Database, Isolation};
    ///
    /// // A URL on SQLite (which other drivers need), rollback on PostgreSQL, MySQL's default.
    /// static DB: Database = testbed_db::migrations!("tests/schema")
    ///     .isolation_on(Backend::Sqlite, Isolation::File)
    ///     .isolation_on(Backend::Postgres, Isolation::Rollback);
    /// ```
    pub const fn isolation_on(mut self, backend: Backend, isolation: crate::Isolation) -> Self {
        let index = match backend {
            Backend::Sqlite => 0,
            Backend::Postgres => 1,
            Backend::MySql => 2,
        };
        self.isolations[index] = isolation;
        self
    }

    /// The strategy `backend` runs for this database, or the error when it has none
    /// such.
    pub(crate) fn isolation_for(
        &self,
        backend: Backend,
    ) -> Result<crate::Isolation, crate::DatabaseAcquireError> {
        let index = Backend::ALL.iter().position(|b| *b == backend).unwrap_or(0);
        self.isolations[index].on(backend)
    }

    /// The name of this schema's template on `backend`: `testbed_tpl_<hash>`, where the
    /// hash covers the migrations' and seed files' contents and the backend (embedded
    /// or read at run time, the same files give the same name). On PostgreSQL this is
    /// the name for the `postgres` role; any other role has templates of its own, whose
    /// hash covers the role too (a clone keeps its template's table owners).
    ///
    /// ```
    /// use testbed_db::{Backend, Database};
    ///
    /// static DB: Database = testbed_db::migrations!("tests/schema");
    /// assert!(DB.template_name(Backend::Sqlite)?.starts_with("testbed_tpl_"));
    /// # Ok::<(), testbed_db::SchemaLoadError>(())
    /// ```
    pub fn template_name(&self, backend: Backend) -> Result<String, SchemaLoadError> {
        Ok(self.prepare(backend)?.template_name())
    }

    /// Reads the schema's files for `backend` and hashes them, once per process.
    pub(crate) fn prepare(&self, backend: Backend) -> Result<Arc<Prepared>, SchemaLoadError> {
        static PREPARED: Mutex<Vec<(String, Arc<Prepared>)>> = Mutex::new(Vec::new());
        let key = self.cache_key(backend);
        let mut prepared = PREPARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, found)) = prepared.iter().find(|(k, _)| *k == key) {
            return Ok(found.clone());
        }
        let made = Arc::new(Prepared::new(self, backend)?);
        prepared.push((key, made.clone()));
        Ok(made)
    }

    /// Tells schemas apart without formatting embedded SQL: embedded files by address.
    fn cache_key(&self, backend: Backend) -> String {
        use std::fmt::Write;
        let mut key = match self.source {
            Source::Embedded(embedded) => format!("embedded {:p} {}", embedded, embedded.dir),
            other => format!("{other:?}"),
        };
        for seed in self.seeds {
            let at = seed.sql.map_or(std::ptr::null(), str::as_ptr);
            let _ = write!(key, "|{}@{at:p}", seed.path);
        }
        let _ = write!(key, "|{backend}");
        key
    }
}

/// A schema read from disk and ready to apply.
pub(crate) struct Prepared {
    pub(crate) backend: Backend,
    /// 16 hex digits naming the template: a change to anything that changes the result
    /// gives a new template.
    pub(crate) hash: String,
    schema: PreparedSchema,
    seeds: Vec<Script>,
}

enum PreparedSchema {
    Empty,
    Migrations {
        migrator: Migrator,
        files: HashMap<i64, Script>,
        /// diesel's versions, recorded as diesel's runner records them (diesel only).
        diesel_versions: Vec<String>,
    },
    Function(SchemaFn),
}

/// Bumped when the way templates are built changes (v2: PostgreSQL templates record
/// their objects, for undoing a test's schema additions; v4: their fingerprint reads raw
/// catalog columns and object ids, and their rows are recorded table by table; v5:
/// their fingerprint and objects cover triggers, functions, types, rules, policies and
/// extensions too; v6: and columns' collations and sequences' options; v7: and
/// relations' owners and columns' grants; v8: and schemas' owners and grants,
/// inheritance, operators, casts, event triggers, default privileges and large
/// objects; v9: and the database's settings; v10: their tables and objects are
/// recorded schema-qualified whatever the search path; v11: and publications,
/// foreign-data wrappers, servers and foreign tables; v12: and collations, extended
/// statistics, text search configurations and dictionaries, and a pooled database's
/// grants, connection limit and comment). A PostgreSQL
/// template records its fingerprint and objects when it is built, so any change to the
/// queries that read them (`postgres::catalog`) needs a bump: a template recorded by the
/// old queries would never match the new, and every clone of it be dropped after its
/// test. A broker serves only clients of its own layout: see
/// `broker::settings::socket_path`.
pub(crate) const LAYOUT: &str = "testbed-db template v12";

impl Prepared {
    fn new(database: &Database, backend: Backend) -> Result<Self, SchemaLoadError> {
        let mut hasher = Sha256::new();
        hasher.update(LAYOUT);
        hasher.update(backend.name());
        let schema = match database.source {
            Source::Empty => PreparedSchema::Empty,
            Source::Function { version, build } => {
                hasher.update(format!("function {version}"));
                PreparedSchema::Function(build)
            }
            Source::Migrations(dir) => {
                let dir = migrations_dir(&resolve(dir), backend)?;
                let (migrator, files) = read_migrations(&dir)?;
                migrations_schema(&mut hasher, migrator, files, Vec::new())
            }
            Source::Diesel(dir) => {
                let dir = migrations_dir(&resolve(dir), backend)?;
                let (migrator, files, versions) = crate::diesel::read(&dir)?;
                hasher.update("diesel");
                migrations_schema(&mut hasher, migrator, files, versions)
            }
            Source::Embedded(embedded) => {
                let (migrator, files) = embedded.migrator(backend)?;
                migrations_schema(&mut hasher, migrator, files, Vec::new())
            }
        };
        let mut seeds = Vec::new();
        for seed in database.seeds {
            let script = match seed.sql {
                Some(sql) => Script {
                    path: PathBuf::from(seed.path),
                    sql: Cow::Borrowed(sql),
                },
                None => {
                    let path = resolve(seed.path);
                    let sql = std::fs::read_to_string(&path).map_err(|source| {
                        SchemaLoadError::SeedRead {
                            path: path.clone(),
                            source,
                        }
                    })?;
                    Script {
                        path,
                        sql: Cow::Owned(sql),
                    }
                }
            };
            hasher.update(script.sql.as_bytes());
            seeds.push(script);
        }
        Ok(Prepared {
            backend,
            hash: hex(&hasher.finalize()[..8]),
            schema,
            seeds,
        })
    }

    /// The name of the template database (or file) for this schema.
    pub(crate) fn template_name(&self) -> String {
        format!("{}{}", crate::owner::TEMPLATE_PREFIX, self.hash)
    }
}

/// Hashes the migrations (versions, descriptions, contents) and readies them to run.
fn migrations_schema(
    hasher: &mut Sha256,
    mut migrator: Migrator,
    files: HashMap<i64, Script>,
    diesel_versions: Vec<String>,
) -> PreparedSchema {
    for migration in migrator.iter() {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(migration.description.as_bytes());
        hasher.update(&*migration.checksum);
        hasher.update([migration.no_tx as u8]);
    }
    // The template is built under testbed's own lock; sqlx's would be a second one.
    migrator.set_locking(false);
    PreparedSchema::Migrations {
        migrator,
        files,
        diesel_versions,
    }
}

/// `path` relative to the crate under test.
fn resolve(path: &str) -> PathBuf {
    let path = Path::new(path);
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) if path.is_relative() => Path::new(&root).join(path),
        _ => path.to_owned(),
    }
}

fn migrations_dir(dir: &Path, backend: Backend) -> Result<PathBuf, SchemaLoadError> {
    if !dir.is_dir() {
        return Err(SchemaLoadError::MissingMigrations { path: dir.into() });
    }
    let per_backend = dir.join(backend.name());
    Ok(if per_backend.is_dir() {
        per_backend
    } else {
        dir.into()
    })
}

fn read_migrations(dir: &Path) -> Result<(Migrator, HashMap<i64, Script>), SchemaLoadError> {
    let resolved =
        sqlx::migrate::resolve_blocking(dir).map_err(|e| SchemaLoadError::BadMigrations {
            path: dir.into(),
            source: e.into(),
        })?;
    let mut files = HashMap::new();
    let mut migrations = Vec::new();
    for (migration, path) in resolved {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        let sql = Cow::Owned(migration.sql.as_str().to_owned());
        files.insert(migration.version, Script { path, sql });
        migrations.push(migration);
    }
    Ok((Migrator::with_migrations(migrations), files))
}

macro_rules! build_on {
    ($name:ident, $conn:ty, $variant:ident) => {
        /// Builds the schema and runs the seeds on `conn`.
        pub(crate) fn $name<'a>(
            prepared: &'a Prepared,
            conn: &'a mut $conn,
        ) -> Pin<Box<dyn Future<Output = Result<(), DatabaseAcquireError>> + Send + 'a>> {
            Box::pin(async move {
                match &prepared.schema {
                    PreparedSchema::Empty => {}
                    PreparedSchema::Migrations {
                        migrator,
                        files,
                        diesel_versions,
                    } => {
                        // `run_direct`, not `run`: `run` goes through `Acquire`, whose
                        // higher-ranked bound makes the future not provably `Send`.
                        if let Err(error) = migrator.run_direct(None, &mut *conn, false).await {
                            return Err(migrate_error(prepared, files, error));
                        }
                        if !diesel_versions.is_empty() {
                            let record = crate::diesel::record(diesel_versions);
                            sqlx::raw_sql(AssertSqlSafe(record))
                                .execute(&mut *conn)
                                .await
                                .map_err(|error| {
                                    ServerCallError::statement(
                                        prepared.backend,
                                        "record diesel's migrations",
                                        error,
                                    )
                                })?;
                        }
                    }
                    PreparedSchema::Function(build) => {
                        build(Target::$variant(&mut *conn)).await.map_err(|error| {
                            ScriptRunError::new("<schema function>", false, None, error)
                        })?;
                    }
                }
                run_seeds!(prepared, conn);
                Ok(())
            })
        }
    };
}

macro_rules! run_seeds {
    ($prepared:expr, $conn:expr) => {
        for seed in &$prepared.seeds {
            if let Err(error) = sqlx::raw_sql(AssertSqlSafe(seed.sql.clone()))
                .execute(&mut *$conn)
                .await
            {
                return Err(script_error(&seed.path, true, &seed.sql, &error).into());
            }
        }
    };
}

#[cfg(feature = "sqlite")]
build_on!(build_sqlite, SqliteConnection, Sqlite);
#[cfg(feature = "postgres")]
build_on!(build_postgres, PgConnection, Postgres);
#[cfg(feature = "mysql")]
build_on!(build_mysql, MySqlConnection, MySql);

fn migrate_error(
    prepared: &Prepared,
    files: &HashMap<i64, Script>,
    error: MigrateError,
) -> DatabaseAcquireError {
    match error {
        MigrateError::ExecuteMigration(error, version) => match files.get(&version) {
            Some(script) => script_error(&script.path, false, &script.sql, &error).into(),
            None => ServerCallError::statement(
                prepared.backend,
                format!("run migration {version}"),
                error,
            )
            .into(),
        },
        MigrateError::Execute(error) => {
            ServerCallError::statement(prepared.backend, "run the migrations", error).into()
        }
        other => SchemaLoadError::BadMigrations {
            path: files
                .values()
                .next()
                .and_then(|s| s.path.parent())
                .map(Path::to_owned)
                .unwrap_or_default(),
            source: other.into(),
        }
        .into(),
    }
}
