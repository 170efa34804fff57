//! Finding the MySQL/MariaDB server (probed once per process and cached), and this
//! process's lease on it: one connection that holds a named lock on every pooled
//! database the process is using. MySQL releases a session's locks when the session
//! ends, so a killed process's databases return to the pool by themselves.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, MySqlConnection};
use tokio::sync::{Mutex, OnceCell};

use crate::probe::ProbeFailure;
use crate::{Backend, DbError};

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

fn into_db_error(failure: ProbeFailure) -> DbError {
    failure.into_db_error(Backend::MySql, CREDENTIALS_HINT)
}

/// The server, probed on first use. Runs on the engine.
pub(crate) async fn server() -> Result<Arc<MySqlServer>, DbError> {
    static SERVER: OnceCell<Result<Arc<MySqlServer>, ProbeFailure>> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async { probe(&admin_url(None)).await })
        .await
        .clone()
        .map_err(into_db_error)
}

/// `url`, else `TESTBED_MYSQL_URL`, else the local default.
pub(crate) fn admin_url(url: Option<&str>) -> String {
    url.map(str::to_owned)
        .or_else(|| std::env::var(MYSQL_URL_ENV).ok())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// Connects to the server at `url` for `cargo testbed` and tests.
pub(crate) async fn connect(url: &str) -> Result<Arc<MySqlServer>, DbError> {
    probe(url).await.map_err(into_db_error)
}

async fn probe(url_text: &str) -> Result<Arc<MySqlServer>, ProbeFailure> {
    let redacted = crate::redact(url_text);
    let unavailable = |reason: String| {
        ProbeFailure::Unavailable(testbed::Unavailable::new(
            Backend::MySql.name(),
            format!("{reason} (hint: start MySQL/MariaDB or set {MYSQL_URL_ENV})"),
        ))
    };
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
            return Err(unavailable(format!(
                "no answer from `{redacted}` within 5 s"
            )));
        }
        Ok(Err(error)) => return Err(ProbeFailure::classify(&error, &redacted, unavailable)),
        Ok(Ok(lease)) => lease,
    };
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(admin.clone());
    Ok(Arc::new(MySqlServer {
        admin,
        url,
        pool,
        lease: Mutex::new(lease),
    }))
}
