//! What probing a database server can find, shared by the PostgreSQL and MySQL/MariaDB
//! servers: no answer (the test is skipped), an answer that refuses (an error the user
//! must fix), a server with no free connection, or a URL that cannot be the server's
//! (an error too).

use crate::error::Reason;
use crate::{Backend, ServerCallError};

/// Why a server could not be used.
#[derive(Clone)]
pub(crate) enum ProbeFailure {
    /// Nothing answered at the URL: a skip, or a failure under `TESTBED_REQUIRE`.
    /// `cause` is what connecting gave, without the URL or the hint, for the error of a
    /// server lost mid-run.
    Unreachable {
        cause: String,
        skip: testbed::Unavailable,
    },
    /// The server could not be provided (the throwaway cluster did not start): a skip.
    #[cfg(feature = "postgres")]
    Unavailable(testbed::Unavailable),
    /// The server answered and refused (credentials, a missing database).
    Refused { url: String, message: String },
    /// The server answered but has no free connection.
    Full,
    /// The configured URL cannot be a URL of this backend's server.
    Misconfigured {
        /// The environment variable the URL came from.
        variable: &'static str,
        /// The URL, secrets redacted.
        url: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ProbeFailure {
    /// Classifies a connection error. `redacted` is the URL as it may be printed;
    /// `unavailable` words a server that does not answer.
    pub(crate) fn classify(
        error: &sqlx::Error,
        redacted: &str,
        unavailable: impl Fn(String) -> ProbeFailure,
    ) -> ProbeFailure {
        match error {
            _ if crate::error::is_too_many_connections(error) => ProbeFailure::Full,
            sqlx::Error::Database(db) => ProbeFailure::Refused {
                url: redacted.to_owned(),
                message: db.message().to_owned(),
            },
            // Something answers, but not this backend's server (a MySQL port given as
            // PostgreSQL's, say): the configuration is wrong, nothing to skip.
            sqlx::Error::Protocol(message) => ProbeFailure::Refused {
                url: redacted.to_owned(),
                message: format!("the server answered in another protocol ({message})"),
            },
            sqlx::Error::Tls(error) => ProbeFailure::Refused {
                url: redacted.to_owned(),
                message: format!("TLS failed: {error}"),
            },
            _ => unavailable(error.to_string()),
        }
    }

    /// The error a user sees. `credentials_hint` says where to fix a refusal.
    pub(crate) fn into_db_error(
        self,
        backend: Backend,
        credentials_hint: &'static str,
    ) -> ServerCallError {
        match self {
            ProbeFailure::Unreachable { skip, .. } => ServerCallError::Unavailable(skip),
            #[cfg(feature = "postgres")]
            ProbeFailure::Unavailable(unavailable) => ServerCallError::Unavailable(unavailable),
            ProbeFailure::Refused { url, message } => ServerCallError::Connect {
                backend,
                url,
                hint: credentials_hint,
                reason: Reason::new(message),
            },
            ProbeFailure::Full => ServerCallError::TooManyConnections { backend },
            ProbeFailure::Misconfigured {
                variable,
                url,
                message,
            } => ServerCallError::BadUrl {
                backend,
                variable,
                url,
                reason: Reason::new(message),
            },
        }
    }
}

impl ProbeFailure {
    /// The error for a server that answered earlier in the run and gives this now:
    /// [`ServerCallError::Lost`] with what connecting gave, when nothing answered; any
    /// other failure is returned to be reported as it is.
    pub(crate) fn lost(self, backend: Backend, url: &str) -> Result<ServerCallError, ProbeFailure> {
        let cause = match self {
            ProbeFailure::Unreachable { cause, .. } => cause,
            #[cfg(feature = "postgres")]
            ProbeFailure::Unavailable(unavailable) => unavailable.reason().to_owned(),
            other => return Err(other),
        };
        Ok(ServerCallError::Lost {
            backend,
            url: url.to_owned(),
            reason: Reason::new(cause),
        })
    }

    /// Nothing answered at `redacted`: a skip whose reason names the URL, `cause` and
    /// `hint` (how to provide the server).
    pub(crate) fn unreachable(backend: Backend, redacted: &str, cause: String, hint: &str) -> Self {
        let skip = testbed::Unavailable::new(
            backend.name(),
            format!("cannot reach `{redacted}`: {cause} (hint: {hint})"),
        );
        ProbeFailure::Unreachable { cause, skip }
    }
}

/// The URL of database `name` on the server whose admin URL is `server`.
pub(crate) fn database_url(server: &url::Url, name: &str) -> String {
    let mut url = server.clone();
    url.set_path(&format!("/{name}"));
    url.to_string()
}
