//! The URL a diesel or diesel-async connection opens, or why it must not: a database
//! without one (SQLite's in-memory `Image`), or one whose test runs inside a rolled-back
//! transaction another session would commit past.

use crate::{ConnectionOpenError, Isolation, TestDb};

/// `db`'s URL for a connection of `driver`'s, or the error naming the fix.
pub(super) fn url_for<'a, DB: sqlx::Database>(
    db: &'a TestDb<DB>,
    driver: &'static str,
) -> Result<&'a str, ConnectionOpenError> {
    if db.isolation() == Isolation::Rollback {
        return Err(ConnectionOpenError::RolledBack {
            driver,
            backend: db.backend(),
            database: db.name().to_owned(),
        });
    }
    db.url().ok_or_else(|| ConnectionOpenError::NoUrl {
        backend: db.backend(),
        database: db.name().to_owned(),
    })
}
