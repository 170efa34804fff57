//! A test process's side: ask the broker for a database, connect to it, let it go.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use testbed::{Outcome, Scope};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::super::rollback::RollbackSession;
use super::settings::{BROKER_BIN_ENV, PROTOCOL, socket_path};
use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::schema::Prepared;
use crate::{Backend, Isolation, ServerCallError, TestDb, owner};

/// How long a test process waits for the broker's answer (a new clone on a slow disk
/// takes a few hundred milliseconds).
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// A database from the broker for `scope`'s test; `None` when no broker answers with
/// one (it is started for the next test processes), and the test goes the direct way.
///
/// With `Isolation::Rollback`, the test's pool is one connection inside a transaction
/// ([`RollbackSession`]), rolled back after the test; if it was still open, the
/// broker is told so (`UNTOUCHED`) and only rewinds the sequences instead of resetting.
pub(crate) async fn acquire(
    prepared: &Prepared,
    isolation: Isolation,
    scope: &Scope,
) -> Option<Result<TestDb<sqlx::Postgres>, ServerCallError>> {
    let rollback = isolation == Isolation::Rollback;
    let server = configured_url()?;
    let socket = socket_path();
    let step = crate::trace::step("broker claim");
    let Ok(stream) = UnixStream::connect(&socket).await else {
        start_broker(&socket, scope);
        return None;
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let claim = format!("CLAIM {PROTOCOL} {}\n", prepared.hash);
    write.write_all(claim.as_bytes()).await.ok()?;
    let answer = tokio::time::timeout(ANSWER_WITHIN, lines.next_line())
        .await
        .ok()?
        .ok()??;
    let mut words = answer.strip_prefix("OK ")?.split(' ');
    let name = words.next()?.to_owned();
    let session_pool = words.next();
    step.end();
    let options = PgConnectOptions::from_str(server.as_str())
        .ok()?
        .database(&name);
    let options = match session_pool {
        // Through the broker's session pool, whose kept sessions go to a client that
        // asks with the same startup parameters: so one name for every process.
        Some(dir) => options
            .socket(dir)
            .ssl_mode(sqlx::postgres::PgSslMode::Disable)
            .application_name("testbed-client"),
        None => options.application_name(&format!("testbed-client-{}", owner::token())),
    };
    let url = crate::probe::database_url(&server, &name);
    let session = rollback.then(|| RollbackSession::new(options.clone()));
    let (pool, holdings, more) = match &session {
        Some(session) => (
            session.pool.clone(),
            session.holdings.clone(),
            RollbackSession::ALLOWS_MORE,
        ),
        None => {
            let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
            let pool = pool_limit::test_pool_options::<sqlx::Postgres>(&holdings)
                .connect_lazy_with(options);
            (pool, holdings, "")
        }
    };
    let (cleanup_pool, cleanup_url, details) = (pool.clone(), url.clone(), scope.details());
    let name_for_release = name.clone();
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        let step = crate::trace::step("broker release");
        let keep = outcome.is_failure() && owner::keep_failed();
        let untouched = match &session {
            None => false,
            Some(session) if keep => {
                // A failing test's rows stay, to inspect.
                let _ = session.commit().await;
                false
            }
            Some(session) => matches!(session.roll_back().await, Ok(true)),
        };
        // Closed first, so the broker finds no session of this test left to end.
        pool_limit::close_test_pool(&cleanup_pool, Backend::Postgres, &name_for_release).await;
        let said = match (keep, untouched) {
            (true, _) => "KEEP\n",
            (false, true) => "UNTOUCHED\n",
            (false, false) => "DONE\n",
        };
        if write.write_all(said.as_bytes()).await.is_ok() && keep {
            let kept = tokio::time::timeout(ANSWER_WITHIN, lines.next_line()).await;
            if matches!(kept, Ok(Ok(Some(ref line))) if line == "KEPT") {
                crate::handle::announce_kept(&details, Backend::Postgres, &cleanup_url);
            }
        }
        step.end();
        Ok::<(), ServerCallError>(())
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::Postgres, &name, more);
    Some(Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::Postgres,
        isolation,
        alive: Default::default(),
    }))
}

/// The configured server's admin URL, as the probe reads it; `None` for the throwaway
/// cluster (its URL is known only once it runs) or a URL that is not PostgreSQL's (the
/// direct way reports it).
fn configured_url() -> Option<url::Url> {
    super::super::super::server::admin_url(&super::super::super::server::configured()).ok()
}

/// Starts a broker on `socket`, once per process: `cargo-testbed` if its program can be
/// found, else this test binary as a helper process (`testbed::helper`) on `scope`'s
/// test. Not waited for: this test goes the direct way, later ones find the broker.
fn start_broker(socket: &Path, scope: &Scope) {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(program) = broker_program() else {
        // The test binary built in the test profile serves too, a little slower than
        // `cargo-testbed` built for release. Best effort, as below: a broker that does
        // not start costs only the direct way.
        let _ = testbed::helper::start_detached(HELPER_ROLE, scope);
        return;
    };
    // `--detach` starts the broker in a process group of its own, with no handle on
    // the test's output, and returns at once: the runner neither kills the broker with
    // the test nor waits for it, and the broker is not this process's child (one would
    // be a leak to the leak checks). Waited for here: a few milliseconds, once.
    let _ = std::process::Command::new(program)
        .args(["testbed", "db", "broker", "--detach", "--socket"])
        .arg(socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The broker as a helper process of a test binary: it serves on the socket the test
/// process that started it would find (the environment is inherited), until idle.
const HELPER_ROLE: &str = "testbed-db/postgres-broker";

fn serve_as_helper() {
    let _ = super::serve(socket_path());
}

testbed::helper_role!(HELPER_ROLE, serve_as_helper);

/// `TESTBED_BROKER_BIN`, else `cargo-testbed` on the `PATH`.
fn broker_program() -> Option<std::path::PathBuf> {
    if let Some(program) = std::env::var_os(BROKER_BIN_ENV) {
        return Some(program.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("cargo-testbed"))
        .find(|candidate| candidate.is_file())
}
