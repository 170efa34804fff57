//! Finding the PostgreSQL server (probed once per process and cached), and this
//! process's lease on it: a connection named after the owner token, open for as long as
//! the process lives, which is how any other process tells that our databases are in use.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

use super::marks::{ADMIN_PREFIX, LEASE_PREFIX};
use crate::probe::ProbeFailure;
use crate::server_cache::{Server, ServerCache};
use crate::{Backend, ServerCallError, owner};

/// The environment variable holding the admin URL of the PostgreSQL server to use.
pub const POSTGRES_URL_ENV: &str = "TESTBED_POSTGRES_URL";
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A reachable PostgreSQL server and this process's connections to it.
///
/// Every connection testbed opens for itself is to the registry database (see
/// `registry`), so that all of testbed's advisory locks share one lock space. Steady
/// state, a process keeps one of them: the lease. The admin pool opens connections
/// only for rarer work (a fresh clone per test, status, keeping a failing test's
/// database) and lets them go after a few idle seconds.
pub(crate) struct PgServer {
    /// Options for the registry database (`testbed_registry`), where testbed's own
    /// connections go.
    pub(crate) admin: PgConnectOptions,
    /// The admin URL, password included (never printed unredacted).
    url: url::Url,
    /// Admin connections to the registry, on the engine's runtime, opened on demand.
    pub(crate) pool: PgPool,
    /// `server_version_num`.
    pub(crate) version: i32,
    /// Whether the server syncs to disk (`fsync` on): it decides the clone strategy.
    pub(crate) durable: bool,
    /// Whether testbed connects as a superuser: a reset may then skip triggers.
    pub(crate) superuser: bool,
    /// The role testbed connects as: its templates and pooled databases are its own
    /// (see `template::name_for`).
    pub(crate) role: String,
    /// Held open so other processes see this one as alive; it holds the advisory locks
    /// of the pooled databases and templates this process uses, which die with it, and
    /// runs the `CREATE DATABASE` and `DROP DATABASE` of pooled databases, so that a
    /// claim is never free while a statement of its holder still runs on the server.
    pub(crate) lease: Mutex<PgConnection>,
    /// Set when a test found the connection to the server lost (see `ServerCache::checked`):
    /// nothing more is started on this lease; the next test probes again.
    lost: AtomicBool,
}

impl Server for PgServer {
    fn lost(&self) -> &AtomicBool {
        &self.lost
    }

    fn redacted_url(&self) -> String {
        crate::redact(self.url.as_str())
    }

    fn try_connect(&self) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
        Box::pin(async { PgConnection::connect_with(&self.admin).await?.close().await })
    }
}

impl PgServer {
    /// Whether a test found this server's connection lost: its lease, pools and the
    /// databases claimed on it are not to be used again.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// The URL of database `name` on this server.
    pub(crate) fn url_of(&self, name: &str) -> String {
        crate::probe::database_url(&self.url, name)
    }

    /// Connect options for database `name`.
    pub(crate) fn options_for(&self, name: &str) -> PgConnectOptions {
        self.admin.clone().database(name)
    }
}

/// Where a refusal by the server is fixed.
const CREDENTIALS_HINT: &str = "check the user, password and database in TESTBED_POSTGRES_URL";

fn into_db_error(failure: ProbeFailure) -> ServerCallError {
    failure.into_db_error(Backend::Postgres, CREDENTIALS_HINT)
}

static CACHE: ServerCache<PgServer> = ServerCache::new(Backend::Postgres);

/// The server, probed on first use and again after it was lost (see `server_cache`).
/// Runs on the engine.
pub(crate) async fn server() -> Result<Arc<PgServer>, ServerCallError> {
    CACHE
        .get(&configured_redacted(), probe_configured, into_db_error)
        .await
}

/// Runs `work` (a test's acquire or release) watching the server: a server that stops
/// answering, or a lost connection, fails it with the cause (see `server_cache`).
pub(crate) async fn watched<T, E: crate::error::CallFailure>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    CACHE.watched(work).await
}

/// Probes the server configured by [`POSTGRES_URL_ENV`], or the local one, else the
/// throwaway cluster.
async fn probe_configured() -> Result<Arc<PgServer>, ProbeFailure> {
    match std::env::var(POSTGRES_URL_ENV) {
        Ok(url) if url == super::cluster::CLUSTER => probe_cluster().await,
        Ok(url) => probe(&url).await,
        // Nothing configured: the local server, else a throwaway cluster.
        Err(_) => match probe(DEFAULT_URL).await {
            Err(ProbeFailure::Unreachable { .. }) if super::cluster::programs().is_some() => {
                probe_cluster().await
            }
            other => other,
        },
    }
}

/// The configured URL as it may be printed (for a lost server's error).
fn configured_redacted() -> String {
    crate::redact(&configured())
}

/// The configured admin URL as written: `TESTBED_POSTGRES_URL`, else the local default.
pub(crate) fn configured() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `text` read as a PostgreSQL admin URL (the maintenance database `postgres` when it
/// names none), or what is wrong with it.
pub(crate) fn admin_url(text: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "`{}://` is not PostgreSQL's scheme (`postgres://`)",
            url.scheme()
        ));
    }
    if url.path().trim_matches('/').is_empty() {
        url.set_path("/postgres");
    }
    Ok(url)
}

async fn probe_cluster() -> Result<Arc<PgServer>, ProbeFailure> {
    match super::cluster::start().await {
        Ok(url) => probe(&url).await,
        Err(ServerCallError::Unavailable(unavailable)) => {
            Err(ProbeFailure::Unavailable(unavailable))
        }
        Err(other) => Err(ProbeFailure::Unavailable(testbed::Unavailable::new(
            Backend::Postgres.name(),
            other.to_string(),
        ))),
    }
}

/// Connects to the server at `url` (an admin URL, or `cluster` for the throwaway
/// cluster if it runs) for `cargo testbed` and tests.
pub(crate) async fn connect(url: &str) -> Result<Arc<PgServer>, ServerCallError> {
    let url = if url == super::cluster::CLUSTER {
        super::cluster::running_url()?
    } else {
        url.to_owned()
    };
    probe(&url).await.map_err(into_db_error)
}

async fn probe(url_text: &str) -> Result<Arc<PgServer>, ProbeFailure> {
    // Its pools and leases live for the run: not a leak of the test that opened them.
    crate::leak_rules::server(url_text);
    let redacted = crate::redact(url_text);
    let hint = format!("start PostgreSQL or set {POSTGRES_URL_ENV}");
    let unavailable =
        |cause: String| ProbeFailure::unreachable(Backend::Postgres, &redacted, cause, &hint);
    let misconfigured = |message: String| ProbeFailure::Misconfigured {
        variable: POSTGRES_URL_ENV,
        url: redacted.clone(),
        message,
    };
    let url = admin_url(url_text).map_err(misconfigured)?;
    let maintenance = PgConnectOptions::from_str(url.as_str())
        .map_err(|e| misconfigured(format!("not a PostgreSQL URL ({e})")))?;
    // testbed's own commits (claims, intents, the ledger) need not wait for the disk:
    // each is either re-done or proven again by the `CREATE DATABASE` that follows it,
    // which flushes the log.
    let admin = maintenance
        .clone()
        .database(super::registry::REGISTRY)
        .options([("synchronous_commit", "off")]);
    let lease_options = admin
        .clone()
        .application_name(&format!("{LEASE_PREFIX}{}", owner::token()));
    let mut lease = connect_lease(&lease_options, &maintenance, &redacted, &unavailable).await?;
    let settings = sqlx::query_as(
        "select current_setting('server_version_num')::int, current_setting('fsync'),
                current_setting('is_superuser') = 'on', current_user::text,
                to_regprocedure($1) is not null
                  and case when to_regclass('public.pooled') is null then false
                      else has_table_privilege('public', 'public.pooled', 'insert, update, delete') end",
    )
    .bind(super::registry::claim_signature())
    .fetch_one(&mut lease)
    .await;
    let (version, fsync, superuser, role, ready): (i32, String, bool, String, bool) =
        settings.map_err(|e| ProbeFailure::classify(&e, &redacted, unavailable))?;
    if !ready {
        super::registry::ensure_schema(&mut lease)
            .await
            .map_err(|e| ProbeFailure::Refused {
                url: redacted.clone(),
                message: e.to_string(),
            })?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(
            admin
                .clone()
                .application_name(&format!("{ADMIN_PREFIX}{}", owner::token())),
        );
    Ok(Arc::new(PgServer {
        admin,
        url,
        pool,
        version,
        durable: fsync != "off",
        superuser,
        role,
        lease: Mutex::new(lease),
        lost: AtomicBool::new(false),
    }))
}

/// Opens the lease on the registry, creating the registry first if this server has
/// none yet. A server that does not answer within 5 s is unavailable.
async fn connect_lease(
    lease_options: &PgConnectOptions,
    maintenance: &PgConnectOptions,
    redacted: &str,
    unavailable: &impl Fn(String) -> ProbeFailure,
) -> Result<PgConnection, ProbeFailure> {
    let connect = || async {
        match tokio::time::timeout(
            Duration::from_secs(5),
            PgConnection::connect_with(lease_options),
        )
        .await
        {
            Err(_) => Err(None),
            Ok(result) => result.map_err(Some),
        }
    };
    let no_answer = || unavailable("no answer within 5 s".to_owned());
    match connect().await {
        Ok(lease) => return Ok(lease),
        Err(None) => return Err(no_answer()),
        Err(Some(error)) if super::registry::is_missing(&error) => {}
        Err(Some(error)) => return Err(ProbeFailure::classify(&error, redacted, unavailable)),
    }
    super::registry::create(maintenance)
        .await
        .map_err(|e| ProbeFailure::classify(&e, redacted, unavailable))?;
    match connect().await {
        Ok(lease) => Ok(lease),
        Err(None) => Err(no_answer()),
        Err(Some(error)) => Err(ProbeFailure::classify(&error, redacted, unavailable)),
    }
}
