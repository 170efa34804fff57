//! The database servers testbed-db knows, by the names scenarios and `TESTBED_REQUIRE` use.

use std::fmt;
use std::str::FromStr;

/// A database backend. Its [`name`](Backend::name) is the requirement `TESTBED_REQUIRE`
/// matches and the name a scenario list uses.
///
/// ```
/// use testbed_db::Backend;
///
/// let backend: Backend = "mariadb".parse().unwrap();
/// assert_eq!(backend, Backend::MySql);
/// assert_eq!(backend.name(), "mysql");
/// assert_eq!(Backend::ALL.len(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// SQLite, embedded: nothing to install.
    Sqlite,
    /// PostgreSQL, from `TESTBED_POSTGRES_URL` or `postgres://postgres@127.0.0.1:5432`.
    Postgres,
    /// MySQL or MariaDB, from `TESTBED_MYSQL_URL` or `mysql://root@127.0.0.1:3306`.
    MySql,
}

impl Backend {
    /// Every backend, SQLite first.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

    /// The backend's short name: `sqlite`, `postgres` or `mysql`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Whether this build of testbed-db has the backend: its cargo feature (named as the
    /// backend) is on. The default features have all three.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// assert!(testbed_db::Backend::Sqlite.is_built());
    /// ```
    pub const fn is_built(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::MySql => cfg!(feature = "mysql"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend name that is none of `sqlite`, `postgres` (`postgresql`, `pg`) or `mysql`
/// (`mariadb`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown database backend `{0}` (hint: use `sqlite`, `postgres` or `mysql`)")]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(UnknownBackend(name.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for backend in Backend::ALL {
            assert_eq!(backend.name().parse::<Backend>(), Ok(backend));
        }
        assert!("oracle".parse::<Backend>().is_err());
    }
}
