//! What probing a database server can find, shared by the PostgreSQL and MySQL/MariaDB
//! servers: no answer (the test is skipped), an answer that refuses (an error the user
//! must fix), or a server with no free connection.

use crate::{Backend, DbError};

/// Why a server could not be used.
#[derive(Clone)]
pub(crate) enum ProbeFailure {
    /// Nothing answered: a skip, or a failure under `TESTBED_REQUIRE`.
    Unavailable(testbed::Unavailable),
    /// The server answered and refused (credentials, a missing database).
    Refused { url: String, message: String },
    /// The server answered but has no free connection.
    Full,
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
            _ => unavailable(format!("cannot reach `{redacted}`: {error}")),
        }
    }

    /// The error a user sees. `credentials_hint` says where to fix a refusal.
    pub(crate) fn into_db_error(self, backend: Backend, credentials_hint: &'static str) -> DbError {
        match self {
            ProbeFailure::Unavailable(unavailable) => DbError::Unavailable(unavailable),
            ProbeFailure::Refused { url, message } => DbError::Connect {
                backend,
                url,
                message,
                hint: credentials_hint,
            },
            ProbeFailure::Full => DbError::TooManyConnections { backend },
        }
    }
}

/// The URL of database `name` on the server whose admin URL is `server`.
pub(crate) fn database_url(server: &url::Url, name: &str) -> String {
    let mut url = server.clone();
    url.set_path(&format!("/{name}"));
    url.to_string()
}
