//! [`Db`]: the fixture giving each test a clean backend of its scenario's kind: a new
//! memory backend, or an isolated database from testbed-db on SQLite, PostgreSQL or
//! MySQL, built from the crate's own migrations.
//!
//! A server that cannot be reached makes the test a skip, or a failure when
//! `TESTBED_REQUIRE` names it (testbed-db decides). Each database is the test's alone and
//! is dropped or reset after it.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use flowstore::{Backend, MemoryBackend, SqlBackend};
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Outcome, Scope};
use testbed_db::{Database, Isolation};

use super::acquisitions;

/// The schema, from the migrations `SqlBackend::upgrade` applies, embedded from
/// `migrations/` (the default, as for `sqlx::migrate!()`) so the suite's binary runs
/// without cargo or its source tree (from a nextest archive, say). SQLite copies a
/// template file (rather than the in-memory image testbed-db prefers) so the backend can
/// open it by URL with its own pool.
static SCHEMA: Database = testbed_db::migrations!().isolation(Isolation::File);

/// The name of [`runtime`]'s threads.
const RUNTIME_THREADS: &str = "storage-suite-db";

/// The runtime testbed-db's pools run on: alive for the whole run, since a pool's
/// connections die with the runtime they were opened on, and testbed-db closes its pool
/// in a cleanup after the test. Declared long-lived to testbed's leak checks.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // Shared by every test of the run: its threads and descriptors are not a leak
        // of the test that happened to start it. By name too: tokio starts the threads
        // of its blocking pool only when a task first needs one, in whichever test that
        // is (a CI run under nextest once caught one that `long_lived` could not see).
        testbed::leaks::ignore_threads_named(RUNTIME_THREADS);
        testbed::leaks::long_lived(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(RUNTIME_THREADS)
                .enable_all()
                .build()
                .expect("cannot start the suite's database runtime")
        })
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
        let backend: Arc<dyn Backend> = match scenario.value() {
            "memory" => Arc::new(MemoryBackend::new()),
            server => Arc::new(sql(scope, server)?),
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

/// A `SqlBackend` on a database of its own on `server`, schema applied. An unreachable
/// server skips the test (testbed-db decides, and `TESTBED_REQUIRE` can make it a failure).
fn sql(scope: &Scope, server: &'static str) -> Result<SqlBackend, BoxError> {
    let kind: testbed_db::Backend = server.parse()?;
    let started = Instant::now();
    let database = runtime().block_on(SCHEMA.acquire(scope, kind))?;
    acquisitions::record(server, started.elapsed());
    let url = database
        .url()
        .ok_or_else(|| format!("testbed-db gave no URL for the {server} database"))?;
    Ok(SqlBackend::connect(url)?)
}
