//! The statements and error checks every PostgreSQL module shares: running raw SQL,
//! dropping a database (forcing its sessions out), the advisory-lock keys of a template,
//! and what a server's error code means. Nothing here imports another PostgreSQL module.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgConnection};

use crate::retry::Pace;

/// "database does not exist".
pub(crate) fn is_missing(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("3D000"))
}

/// The advisory-lock key that users of template `name` hold shared and a sweep
/// exclusive (distinct from the build lock, which a builder holds while users wait).
pub(crate) fn use_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("testbed use {name}").as_bytes());
    i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The advisory-lock key of a template: its hash's first 8 bytes.
pub(crate) fn lock_key(name: &str) -> i64 {
    let hash = name.rsplit('_').next().unwrap_or_default();
    u64::from_str_radix(hash, 16).unwrap_or_default() as i64
}

/// Drops database `name`, forcing its sessions out.
pub(crate) async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    // A template cannot be dropped until it is an ordinary database again. Only alter
    // one that is a template: altering a database left invalid by an interrupted drop
    // is fatal to the session.
    let is_template: Option<bool> =
        sqlx::query_scalar("select datistemplate from pg_database where datname = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    if is_template == Some(true) {
        run(
            conn,
            format!(r#"alter database "{name}" with is_template false"#),
        )
        .await?;
    }
    // A session still leaving makes even a forced drop fail for a moment.
    let mut pacer = Pace {
        first: Duration::from_millis(10),
        most: Duration::from_millis(200),
        within: Duration::from_secs(2),
    }
    .start();
    loop {
        match run(
            conn,
            format!(r#"drop database if exists "{name}" with (force)"#),
        )
        .await
        {
            Err(error) if is_busy(&error) && pacer.pause().await => drop(error),
            other => return other,
        }
    }
}

/// What to do about a `CREATE DATABASE ... TEMPLATE` that failed with `error`, as a
/// ` (hint: ...)` to append, or nothing where no advice is true for that cause.
pub(crate) fn clone_hint(error: &sqlx::Error) -> &'static str {
    let code = error.as_database_error().and_then(|db| db.code());
    match code.as_deref() {
        Some("55006") => " (hint: a session is connected to the template: disconnect it)",
        // disk_full, insufficient_resources, out_of_memory
        Some("53100") => {
            " (hint: the server's disk is full: free space there, or drop testbed's unused \
             templates and pools with `cargo testbed db prune --templates`)"
        }
        Some("53000" | "53200") => " (hint: the server is out of memory or resources)",
        _ => "",
    }
}

/// "database is being accessed by other users": a session is still leaving.
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("55006"))
}

pub(crate) async fn run(conn: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(drop)
}

pub(crate) fn has_code(error: &sqlx::Error, code: &str) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some(code))
}
