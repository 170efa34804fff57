//! [`Db`]: the fixture giving each test a clean backend of its scenario's kind: a new
//! memory backend, or an isolated database from testbed-db on SQLite, PostgreSQL or
//! MySQL, built from the crate's own migrations.
//!
//! A server that cannot be reached makes the test a skip, or a failure when
//! `TESTBED_REQUIRE` names it (testbed-db decides). Each database is the test's alone and
//! is dropped or reset after it.

use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use flowstore::{Backend, MemoryBackend, SqlBackend};
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Outcome, Scope};
use testbed_db::{AnyTestDb, Database, DbError, Isolation};

use super::tally;

/// The schema, from the migrations `SqlBackend::upgrade` applies. SQLite copies a
/// template file (rather than the in-memory image testbed-db prefers) so the backend can
/// open it by URL with its own pool.
static SCHEMA: Database = Database::migrations("migrations").isolation(Isolation::File);

/// The runtime testbed-db's pools run on: alive for the whole run, since a pool's
/// connections die with the runtime they were opened on, and testbed-db closes its pool
/// in a cleanup after the test.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("storage-suite-db")
            .enable_all()
            .build()
            .expect("cannot start the suite's database runtime")
    })
}

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
        let scenario = Scenario::of(scope).ok_or(
            "`Db` picks its backend from the test's scenario: add `scenarios(memory, sqlite, postgres, mysql)`",
        )?;
        let name = tally::BACKENDS
            .into_iter()
            .find(|backend| *backend == scenario.value())
            .ok_or_else(|| {
                format!(
                    "unknown backend scenario `{}` (hint: use memory, sqlite, postgres or mysql)",
                    scenario.value()
                )
            })?;
        let skip_reason = Arc::new(Mutex::new(None));
        let reason = skip_reason.clone();
        scope.add_cleanup(move |outcome: Outcome| {
            let reason = reason.lock().unwrap_or_else(PoisonError::into_inner).take();
            tally::record_outcome(name, outcome, reason);
        });
        let backend: Arc<dyn Backend> = match name {
            "memory" => Arc::new(MemoryBackend::new()),
            server => Arc::new(sql(scope, server, &skip_reason)?),
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

/// A `SqlBackend` on a database of its own on `server`, schema applied. When the server
/// is unavailable, its reason goes to `skip_reason` for the summary.
fn sql(
    scope: &Scope,
    server: &'static str,
    skip_reason: &Mutex<Option<String>>,
) -> Result<SqlBackend, BoxError> {
    let kind: testbed_db::Backend = server.parse()?;
    let started = Instant::now();
    let acquired = runtime().block_on(async {
        Ok::<_, DbError>(match kind {
            testbed_db::Backend::Sqlite => AnyTestDb::Sqlite(SCHEMA.sqlite(scope).await?),
            testbed_db::Backend::Postgres => AnyTestDb::Postgres(SCHEMA.try_postgres(scope).await?),
            testbed_db::Backend::MySql => AnyTestDb::MySql(SCHEMA.try_mysql(scope).await?),
        })
    });
    let database = match acquired {
        Ok(database) => database,
        Err(DbError::Unavailable(unavailable)) => {
            *skip_reason.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(unavailable.to_string());
            return Err(unavailable.into());
        }
        Err(error) => return Err(error.into()),
    };
    tally::record_acquired(server, started.elapsed());
    let url = database
        .url()
        .ok_or_else(|| format!("testbed-db gave no URL for the {server} database"))?;
    Ok(SqlBackend::connect(url)?)
}
