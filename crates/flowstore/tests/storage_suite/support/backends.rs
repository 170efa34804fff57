//! [`Db`]: the fixture giving each test a clean backend of its scenario's kind: a new
//! memory backend, a new SQLite file, or a new database on the PostgreSQL or MySQL server.
//!
//! A server that cannot be reached makes the test a skip (`testbed::Unavailable`), or a
//! failure when `TESTBED_REQUIRE` names it. Each server database is created under a
//! unique `testbed_flowstore_<random>` name and dropped after the test, unless the test
//! failed: then it is kept for inspection and its URL attached to the report.

use std::ops::Deref;
use std::sync::Arc;

use flowstore::{Backend, MemoryBackend, SqlBackend};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Outcome, Scope, TempDir};

/// A clean backend for the test's scenario (`memory`, `sqlite`, `postgres` or `mysql`).
/// It dereferences to the backend.
pub struct Db(Arc<dyn Backend>);

impl Db {
    /// The backend, to hand to a `Storage`.
    pub fn shared(&self) -> Arc<dyn Backend> {
        self.0.clone()
    }
}

impl Deref for Db {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Fixture for Db {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let scenario = Scenario::of(scope)
            .ok_or("`Db` picks its backend from the test's scenario: add `scenarios(memory, sqlite, postgres, mysql)`")?;
        let backend: Arc<dyn Backend> = match scenario.value() {
            "memory" => Arc::new(MemoryBackend::new()),
            "sqlite" => Arc::new(sqlite(scope)?),
            "postgres" => Arc::new(POSTGRES.provision(scope, &scenario)?),
            "mysql" => Arc::new(MYSQL.provision(scope, &scenario)?),
            other => return Err(format!(
                "unknown backend scenario `{other}` (hint: use memory, sqlite, postgres or mysql)"
            )
            .into()),
        };
        // The seed's tear-down: empty the backend, unless the test failed (then what it
        // left is the evidence).
        let cleared = backend.clone();
        scope.add_cleanup(move |outcome: Outcome| {
            if outcome.is_failure() {
                return Ok(());
            }
            cleared.clear_all()
        });
        Ok(Db(backend))
    }
}

/// A new SQLite database file in a temporary directory, schema applied.
fn sqlite(scope: &Scope) -> Result<SqlBackend, BoxError> {
    let dir = scope.use_fixture::<TempDir>()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("flows.db").display()
    );
    let backend = SqlBackend::connect(&url)?;
    backend.upgrade()?;
    Ok(backend)
}

/// A database server the suite creates its databases on.
struct Server {
    /// The variable holding an administrator URL.
    env: &'static str,
    /// The administrator URL used when `env` is not set.
    default_url: &'static str,
    /// How to drop a database that may still have sessions.
    drop_database: fn(&str) -> String,
}

const POSTGRES: Server = Server {
    env: "TESTBED_POSTGRES_URL",
    default_url: "postgres://postgres@127.0.0.1:5432/postgres",
    drop_database: |name| format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
};

const MYSQL: Server = Server {
    env: "TESTBED_MYSQL_URL",
    default_url: "mysql://root@127.0.0.1:3306",
    drop_database: |name| format!("DROP DATABASE IF EXISTS {name}"),
};

impl Server {
    /// A new database on this server for the test of `scope`, schema applied, dropped
    /// after the test unless it failed.
    fn provision(
        &'static self,
        scope: &Scope,
        scenario: &Scenario,
    ) -> Result<SqlBackend, BoxError> {
        let admin_url = std::env::var(self.env).unwrap_or_else(|_| self.default_url.to_owned());
        let name = format!(
            "testbed_flowstore_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        self.admin(&admin_url, format!("CREATE DATABASE {name}"), scenario)?;
        let url = with_database(&admin_url, &name)?;
        let kept_url = redact(&url);
        let kept_scope = scope.clone();
        let scenario = *scenario;
        scope.add_cleanup(move |outcome: Outcome| {
            if outcome.is_failure() {
                kept_scope.attach("kept database", kept_url);
                return Ok(());
            }
            self.admin(&admin_url, (self.drop_database)(&name), &scenario)
        });
        let backend = SqlBackend::connect(&url)?;
        backend.upgrade()?;
        Ok(backend)
    }

    /// Runs one administrative statement on the server; a server that cannot be reached
    /// makes the scenario unavailable.
    fn admin(
        &self,
        admin_url: &str,
        statement: String,
        scenario: &Scenario,
    ) -> Result<(), BoxError> {
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut connection = AnyConnection::connect(admin_url).await.map_err(|error| {
                scenario.unavailable(format!(
                    "cannot connect to `{}`: {error} (hint: start the server, or set `{}` to an administrator URL)",
                    redact(admin_url),
                    self.env
                ))
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
