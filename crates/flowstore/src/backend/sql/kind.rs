//! [`SqlKind`]: which SQL server a URL names.

use crate::error::BackendError;

/// Which server a [`SqlBackend`](crate::SqlBackend) talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlKind {
    /// SQLite (`sqlite:` URLs).
    Sqlite,
    /// PostgreSQL (`postgres:` or `postgresql:` URLs).
    Postgres,
    /// MySQL or MariaDB (`mysql:` or `mariadb:` URLs).
    MySql,
}

impl SqlKind {
    /// The kind of database a URL names, from its scheme.
    ///
    /// ```
    /// use flowstore::SqlKind;
    ///
    /// assert_eq!(SqlKind::from_url("postgres://localhost/flows").unwrap(), SqlKind::Postgres);
    /// assert!(SqlKind::from_url("redis://localhost").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<SqlKind, BackendError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(SqlKind::Sqlite),
            "postgres" | "postgresql" => Ok(SqlKind::Postgres),
            "mysql" | "mariadb" => Ok(SqlKind::MySql),
            other => Err(BackendError::UnsupportedUrl {
                scheme: other.to_owned(),
            }),
        }
    }

    /// Whether the server takes `$1` placeholders (rather than `?`).
    pub(super) fn numbered_placeholders(self) -> bool {
        !matches!(self, SqlKind::MySql)
    }
}
