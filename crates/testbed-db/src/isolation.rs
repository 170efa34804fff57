//! How one test's database is kept apart from every other test's, and which backend has
//! which strategy: a strategy a backend does not have is an error, never a substitute.

use crate::{Backend, DatabaseAcquireError};

/// The isolation strategy of a [`Database`](crate::Database).
///
/// Every strategy gives each test a database nothing else touches while the test runs;
/// they differ in cost and in what the test may do. Not every backend has every
/// strategy: acquiring a database with one its backend lacks fails with
/// [`DatabaseAcquireError::IsolationNotOffered`], naming the backends that have it.
/// [`Database::isolation_on`](crate::Database::isolation_on) sets a strategy for one
/// backend, so a test over several backends can use each one's best.
///
/// | strategy | SQLite | PostgreSQL | MySQL |
/// |---|---|---|---|
/// | `Auto` | `Image` | `Recycle` | `Recycle` |
/// | `Image` | yes | no | no |
/// | `File` | yes | `Recycle` (has a URL) | `Recycle` (has a URL) |
/// | `Clone` | `Image` (a fresh copy) | yes | no |
/// | `Recycle` | no | yes | yes |
/// | `Rollback` | no | yes | no |
///
/// ```
/// use testbed_db::{Backend, Database, Isolation};
///
/// // Rolled back on PostgreSQL, each backend's default elsewhere.
/// static DB: Database = testbed_db::migrations!("tests/schema")
///     .isolation_on(Backend::Postgres, Isolation::Rollback);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// The backend's default: [`Image`](Isolation::Image) on SQLite,
    /// [`Recycle`](Isolation::Recycle) on PostgreSQL and MySQL.
    #[default]
    Auto,
    /// SQLite only: the cached template image copied into an in-memory database of the
    /// test's own (the fastest: no file at all), which the up to 5 connections of its
    /// pool share, one writer at a time (SQLite's `memdb` VFS, with rollback-journal
    /// locking). It has no URL.
    Image,
    /// A database other drivers reach by its URL. SQLite: a copy of the template file
    /// (on a RAM disk when there is one); its pool allows 5 connections. PostgreSQL and
    /// MySQL: every database there has a URL, so this is their default.
    File,
    /// A fresh copy of the template per test (PostgreSQL `CREATE DATABASE ... TEMPLATE`),
    /// dropped after the test. DDL, commits and many connections are all allowed.
    /// SQLite: as `Image`, which is a fresh copy too. MySQL has no template to clone:
    /// an error.
    Clone,
    /// PostgreSQL and MySQL: a database from a pool of pre-built copies shared by every
    /// process, reset after each test by deleting the rows of every table and restoring
    /// the template's rows (their default). A test that changed the schema gets its
    /// database rebuilt. SQLite copies its template per test instead, for less: an
    /// error there.
    Recycle,
    /// PostgreSQL only: a recycled database whose pool has a single connection inside a
    /// transaction that is rolled back after the test; the test's own transactions
    /// become savepoints. The fastest: nothing is ever committed, so nothing waits for
    /// the disk and nothing needs resetting. Its limits: one connection (a second
    /// concurrent acquire waits), other drivers on the URL see none of the test's rows
    /// (and what they write is committed), sequences are not rewound (ids differ from
    /// run to run), and statements that cannot run in a transaction (`CREATE DATABASE`,
    /// `VACUUM`, `CREATE INDEX CONCURRENTLY`) fail. A raw `COMMIT` is detected and the
    /// database reset.
    Rollback,
}

impl Isolation {
    /// What `backend` does for this strategy: the strategy it runs, or the error naming
    /// the backends that have it.
    pub(crate) fn on(self, backend: Backend) -> Result<Isolation, DatabaseAcquireError> {
        use Isolation::*;
        let offered = match (backend, self) {
            (Backend::Sqlite, Auto | Image | Clone) => Image,
            (Backend::Sqlite, File) => File,
            (Backend::Postgres | Backend::MySql, Auto | File | Recycle) => Recycle,
            (Backend::Postgres, Clone | Rollback) => self,
            _ => {
                return Err(DatabaseAcquireError::IsolationNotOffered {
                    isolation: self,
                    backend,
                    offered_by: self.backends(),
                });
            }
        };
        Ok(offered)
    }

    /// The backends that run this strategy as itself (not as their default).
    fn backends(self) -> &'static [Backend] {
        match self {
            Isolation::Auto | Isolation::File => &Backend::ALL,
            Isolation::Image => &[Backend::Sqlite],
            Isolation::Clone => &[Backend::Postgres, Backend::Sqlite],
            Isolation::Recycle => &[Backend::Postgres, Backend::MySql],
            Isolation::Rollback => &[Backend::Postgres],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_a_backend_names_is_offered_there_and_nowhere_else() {
        let all = [
            Isolation::Auto,
            Isolation::Image,
            Isolation::File,
            Isolation::Clone,
            Isolation::Recycle,
            Isolation::Rollback,
        ];
        for isolation in all {
            for backend in Backend::ALL {
                let offered = isolation.backends().contains(&backend);
                assert_eq!(
                    isolation.on(backend).is_ok(),
                    offered,
                    "{isolation:?} on {backend}"
                );
            }
        }
        assert_eq!(
            Isolation::Rollback.on(Backend::Postgres).unwrap(),
            Isolation::Rollback
        );
        assert_eq!(
            Isolation::File.on(Backend::MySql).unwrap(),
            Isolation::Recycle
        );
        assert_eq!(
            Isolation::Clone.on(Backend::Sqlite).unwrap(),
            Isolation::Image
        );
    }
}
