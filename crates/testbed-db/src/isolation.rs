//! How one test's database is kept apart from every other test's.

/// The isolation strategy of a [`Database`](crate::Database).
///
/// Every strategy gives each test a database nothing else touches while the test runs;
/// they differ in cost and in what the test may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// The backend's default: [`Image`](Isolation::Image) on SQLite,
    /// [`Clone`](Isolation::Clone) on PostgreSQL, [`Recycle`](Isolation::Recycle) on MySQL.
    #[default]
    Auto,
    /// SQLite: the cached template image deserialized into a private in-memory database,
    /// with one connection (the fastest: no file at all). Other backends: as `Clone`.
    Image,
    /// SQLite: a copy of the template file (on a RAM disk when there is one), so the test
    /// may open several connections and other drivers may use its URL.
    /// Other backends: as `Clone`.
    File,
    /// A fresh copy of the template per test (PostgreSQL `CREATE DATABASE ... TEMPLATE`),
    /// dropped after the test. DDL, commits and many connections are all allowed.
    Clone,
    /// A database from a pool of pre-built copies, reset after each test by deleting
    /// the rows of every table and restoring the seed rows (MySQL's default: it has no
    /// templates, and `CREATE TABLE` is slow there). A test that changed the schema gets
    /// its database rebuilt.
    Recycle,
}
