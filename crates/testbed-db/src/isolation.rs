//! How one test's database is kept apart from every other test's.

/// The isolation strategy of a [`Database`](crate::Database).
///
/// Every strategy gives each test a database nothing else touches while the test runs;
/// they differ in cost and in what the test may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// The backend's default: [`Image`](Isolation::Image) on SQLite,
    /// [`Recycle`](Isolation::Recycle) on PostgreSQL and MySQL.
    #[default]
    Auto,
    /// SQLite: the cached template image copied into an in-memory database of the test's
    /// own (the fastest: no file at all), which the up to 5 connections of its pool share,
    /// one writer at a time (SQLite's `memdb` VFS, with rollback-journal locking).
    /// Other backends: their default.
    Image,
    /// SQLite: a copy of the template file (on a RAM disk when there is one), so that
    /// other drivers may use its URL; its pool allows 5 connections.
    /// Other backends: their default.
    File,
    /// A fresh copy of the template per test (PostgreSQL `CREATE DATABASE ... TEMPLATE`),
    /// dropped after the test. DDL, commits and many connections are all allowed.
    /// SQLite: as `Image` (every SQLite database is a fresh copy); MySQL: as `Recycle`.
    Clone,
    /// A database from a pool of pre-built copies shared by every process, reset after
    /// each test by deleting the rows of every table and restoring the template's rows
    /// (PostgreSQL's and MySQL's default). A test that changed the schema gets its
    /// database rebuilt. SQLite: as `Image`.
    Recycle,
    /// PostgreSQL: a recycled database whose pool has a single connection inside a
    /// transaction that is rolled back after the test; the test's own transactions
    /// become savepoints. The fastest: nothing is ever committed, so nothing waits for
    /// the disk and nothing needs resetting. Its limits: one connection (a second
    /// concurrent acquire waits), other drivers on the URL see none of the test's rows
    /// (and what they write is committed), sequences are not rewound (ids differ from
    /// run to run), and statements that cannot run in a transaction (`CREATE DATABASE`,
    /// `VACUUM`, `CREATE INDEX CONCURRENTLY`) fail. A raw `COMMIT` is detected and the
    /// database reset. SQLite: as `Image`; MySQL: as `Recycle`.
    Rollback,
}
