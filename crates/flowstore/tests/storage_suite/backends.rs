//! One fixture per backend, each giving a test a clean backend of its own: a new memory
//! backend, a new SQLite file, or a new database on the PostgreSQL or MySQL server.
//!
//! A server that cannot be reached makes the test a skip (`testbed::Unavailable`), or a
//! failure when `TESTBED_REQUIRE` names it. Each server database is created under a
//! unique `testbed_flowstore_<random>` name and dropped after the test, unless the test
//! failed: then it is kept for inspection and its URL attached to the report.

use std::sync::Arc;

use flowstore::{MemoryBackend, SqlBackend};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
use testbed::{BoxError, Fixture, Scope, TempDir, Unavailable};

use crate::cases::Db;

/// Registers the seed's tear-down: empty the backend, unless the test failed (then what
/// it left is the evidence).
fn clear_after_test(scope: &Scope, backend: &Db) {
    let backend = backend.clone();
    scope.add_cleanup(move |outcome: testbed::Outcome| {
        if outcome.is_failure() {
            return Ok(());
        }
        backend.clear_all()
    });
}

/// A new [`MemoryBackend`].
pub struct Memory(pub Db);

impl Fixture for Memory {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let backend: Db = Arc::new(MemoryBackend::new());
        clear_after_test(scope, &backend);
        Ok(Memory(backend))
    }
}

/// A new SQLite database file in a temporary directory, schema applied.
pub struct Sqlite(pub Db);

impl Fixture for Sqlite {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let dir = scope.use_fixture::<TempDir>()?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("flows.db").display()
        );
        let backend = SqlBackend::connect(&url)?;
        backend.upgrade()?;
        let backend: Db = Arc::new(backend);
        clear_after_test(scope, &backend);
        Ok(Sqlite(backend))
    }
}

/// A database server the suite creates its databases on.
struct Server {
    /// The requirement name `TESTBED_REQUIRE` matches.
    requirement: &'static str,
    /// The variable holding an administrator URL.
    env: &'static str,
    /// The administrator URL used when `env` is not set.
    default_url: &'static str,
    /// How to drop a database that may still have sessions.
    drop_database: fn(&str) -> String,
}

const POSTGRES: Server = Server {
    requirement: "postgres",
    env: "TESTBED_POSTGRES_URL",
    default_url: "postgres://postgres@127.0.0.1:5432/postgres",
    drop_database: |name| format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
};

const MYSQL: Server = Server {
    requirement: "mysql",
    env: "TESTBED_MYSQL_URL",
    default_url: "mysql://root@127.0.0.1:3306",
    drop_database: |name| format!("DROP DATABASE IF EXISTS {name}"),
};

/// A new database on the local PostgreSQL server, schema applied.
pub struct Postgres(pub Db);

impl Fixture for Postgres {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(Postgres(POSTGRES.provision(scope)?))
    }
}

/// A new database on the local MySQL or MariaDB server, schema applied.
pub struct MySql(pub Db);

impl Fixture for MySql {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(MySql(MYSQL.provision(scope)?))
    }
}

impl Server {
    fn provision(&'static self, scope: &Scope) -> Result<Db, BoxError> {
        let admin_url = std::env::var(self.env).unwrap_or_else(|_| self.default_url.to_owned());
        let name = format!(
            "testbed_flowstore_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        self.admin(&admin_url, format!("CREATE DATABASE {name}"))?;
        let url = with_database(&admin_url, &name)?;
        let drop_url = admin_url.clone();
        let kept_url = redact(&url);
        let kept_scope = scope.clone();
        scope.add_cleanup(move |outcome: testbed::Outcome| {
            if outcome.is_failure() {
                kept_scope.attach("kept database", kept_url);
                return Ok(());
            }
            self.admin(&drop_url, (self.drop_database)(&name))
        });
        let backend = SqlBackend::connect(&url)?;
        backend.upgrade()?;
        let backend: Db = Arc::new(backend);
        clear_after_test(scope, &backend);
        Ok(backend)
    }

    /// Runs one administrative statement on the server; a server that cannot be reached
    /// is unavailable.
    fn admin(&self, admin_url: &str, statement: String) -> Result<(), BoxError> {
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut connection = AnyConnection::connect(admin_url).await.map_err(|error| {
                Unavailable::new(
                    self.requirement,
                    format!(
                        "cannot connect to `{}`: {error} (hint: start the server, or set `{}` to an administrator URL)",
                        redact(admin_url),
                        self.env
                    ),
                )
            })?;
            connection.execute(AssertSqlSafe(statement)).await?;
            connection.close().await?;
            Ok(())
        })
    }
}

/// `url` with its path naming database `name`.
fn with_database(url: &str, name: &str) -> Result<String, BoxError> {
    let mut url = url::Url::parse(url)?;
    url.set_path(name);
    Ok(url.into())
}

/// `url` with its password, if any, hidden.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.into()
        }
        Ok(parsed) => parsed.into(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}
