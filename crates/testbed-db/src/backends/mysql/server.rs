//! Finding the MySQL/MariaDB server (probed on first use, and again after it was lost:
//! see `server_cache`), and this
//! process's lease on it: one connection that holds a named lock on every pooled
//! database the process is using. MySQL releases a session's locks when the session
//! ends, so a killed process's databases return to the pool by themselves.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, MySqlConnection};
use tokio::sync::Mutex;

use crate::probe::ProbeFailure;
use crate::server_cache::{Server, ServerCache};
use crate::{Backend, ServerCallError};

/// The environment variable holding the admin URL of the MySQL/MariaDB server to use.
pub const MYSQL_URL_ENV: &str = "TESTBED_MYSQL_URL";
pub(crate) const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306";

/// A reachable MySQL server and this process's connections to it.
pub(crate) struct MySqlServer {
    /// Options with no default database.
    pub(crate) admin: MySqlConnectOptions,
    url: url::Url,
    /// Admin connections, on the engine's runtime.
    pub(crate) pool: MySqlPool,
    /// Holds the named locks of the databases this process uses.
    pub(crate) lease: Mutex<MySqlConnection>,
    /// Set when a test found the connection to the server lost.
    lost: AtomicBool,
}

impl Server for MySqlServer {
    fn lost(&self) -> &AtomicBool {
        &self.lost
    }

    fn redacted_url(&self) -> String {
        crate::redact(self.url.as_str())
    }

    fn try_connect(&self) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
        Box::pin(async {
            MySqlConnection::connect_with(&self.admin)
                .await?
                .close()
                .await
        })
    }
}

impl MySqlServer {
    /// The URL of database `name` on this server.
    pub(crate) fn url_of(&self, name: &str) -> String {
        crate::probe::database_url(&self.url, name)
    }

    /// Connect options for database `name`.
    pub(crate) fn options_for(&self, name: &str) -> MySqlConnectOptions {
        self.admin.clone().database(name)
    }
}

/// Where a refusal by the server is fixed.
const CREDENTIALS_HINT: &str = "check the user and password in TESTBED_MYSQL_URL";

fn into_db_error(failure: ProbeFailure) -> ServerCallError {
    failure.into_db_error(Backend::MySql, CREDENTIALS_HINT)
}

static CACHE: ServerCache<MySqlServer> = ServerCache::new(Backend::MySql);

/// The server, probed on first use and again after it was lost. Runs on the engine.
pub(crate) async fn server() -> Result<Arc<MySqlServer>, ServerCallError> {
    let url = admin_url(None);
    CACHE
        .get(&crate::redact(&url), || probe(&url), into_db_error)
        .await
}

/// Runs `work` (a test's acquire or release) watching the server: a server that stops
/// answering, or a lost connection, fails it with the cause (see `server_cache`).
pub(crate) async fn watched<T, E: crate::error::CallFailure>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    CACHE.watched(work).await
}

/// `url`, else `TESTBED_MYSQL_URL`, else the local default.
pub(crate) fn admin_url(url: Option<&str>) -> String {
    url.map(str::to_owned)
        .or_else(|| std::env::var(MYSQL_URL_ENV).ok())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// Connects to the server at `url` for `cargo testbed` and tests.
pub(crate) async fn connect(url: &str) -> Result<Arc<MySqlServer>, ServerCallError> {
    probe(url).await.map_err(into_db_error)
}

async fn probe(url_text: &str) -> Result<Arc<MySqlServer>, ProbeFailure> {
    // Its pools and leases live for the run: not a leak of the test that opened them.
    crate::leak_rules::server(url_text);
    let redacted = crate::redact(url_text);
    let hint = format!("start MySQL/MariaDB or set {MYSQL_URL_ENV}");
    let unavailable =
        |cause: String| ProbeFailure::unreachable(Backend::MySql, &redacted, cause, &hint);
    let misconfigured = |message: String| ProbeFailure::Misconfigured {
        variable: MYSQL_URL_ENV,
        url: redacted.clone(),
        message,
    };
    let mut url =
        url::Url::parse(url_text).map_err(|e| misconfigured(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "mysql" | "mariadb") {
        return Err(misconfigured(format!(
            "`{}://` is not MySQL's scheme (`mysql://`)",
            url.scheme()
        )));
    }
    url.set_path("");
    let admin = MySqlConnectOptions::from_str(url.as_str())
        .map_err(|e| misconfigured(format!("not a MySQL URL ({e})")))?;
    let connecting = MySqlConnection::connect_with(&admin);
    let lease = match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Err(_) => {
            return Err(unavailable("no answer within 5 s".to_owned()));
        }
        Ok(Err(error)) => return Err(ProbeFailure::classify(&error, &redacted, unavailable)),
        Ok(Ok(lease)) => lease,
    };
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(admin.clone());
    Ok(Arc::new(MySqlServer {
        admin,
        url,
        pool,
        lease: Mutex::new(lease),
        lost: AtomicBool::new(false),
    }))
}

/// The server's error number of `error` (`1213` for a deadlock), if the server sent it.
pub(super) fn error_number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|e| e.number())
}

/// Maps a failed statement to the error naming what testbed-db was doing.
pub(super) fn fail(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ServerCallError {
    let action = action.into();
    move |e| ServerCallError::statement(Backend::MySql, action, e)
}
