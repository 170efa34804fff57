//! The work lock of a pooled MySQL database: held around the statements that change it
//! as a whole (creating, resetting, dropping it), so whoever changes it next waits for a
//! killed holder's last statement instead of racing it; and ending the sessions a dead
//! holder left on it.

use std::time::Duration;

use sqlx::{AssertSqlSafe, MySqlConnection};

use super::server::fail;
use crate::retry::Pace;
use crate::{Backend, ServerCallError};

/// Ends every other session on database `name` and waits (up to
/// [`WORK_WAIT_SECONDS`]) until they are gone. Only a dead holder's sessions can be
/// there: a live one closes its test's pool before it releases its claim. MySQL runs a
/// statement of a client that died to its end (an autocommitted `INSERT` lands after
/// its process is gone), so the next holder ends them before it resets.
pub(super) async fn end_sessions_on(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<(), ServerCallError> {
    // A session a client just closed can still be listed for a moment (killed too, and
    // gone by the next look): short pauses first.
    let mut pacer = Pace {
        first: Duration::from_millis(1),
        most: Duration::from_millis(20),
        within: Duration::from_secs(WORK_WAIT_SECONDS.into()),
    }
    .start();
    loop {
        let sessions: Vec<i64> = sqlx::query_scalar(
            "select cast(id as signed) from information_schema.processlist
             where db = ? and id <> connection_id()",
        )
        .bind(name.to_owned())
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(format!("list the sessions on `{name}`")))?;
        if sessions.is_empty() {
            return Ok(());
        }
        for id in sessions {
            // Gone meanwhile is as good as ended.
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("kill {id}")))
                .execute(&mut *conn)
                .await;
        }
        if !pacer.pause().await {
            break;
        }
    }
    Err(ServerCallError::StillChanging {
        backend: Backend::MySql,
        database: name.to_owned(),
        waited_seconds: WORK_WAIT_SECONDS,
    })
}

/// How long a builder or resetter waits for a dead holder's statement to end.
pub(super) const WORK_WAIT_SECONDS: u32 = 120;

/// The named lock held, on the connection that runs them, around the statements that
/// change pooled database `name` as a whole (creating, resetting, dropping it). MySQL
/// runs a statement to its end after its client is gone, and frees the session's locks
/// only then; so the claim lock (on the lease, which dies with its process) says who may
/// change `name`, and this one says that nobody still does: whoever changes it next
/// waits for a killed holder's last statement instead of racing it (a second `CREATE
/// DATABASE`, a reset over a reset).
pub(crate) fn work_lock(name: &str) -> String {
    format!("testbed_work_{name}")
}

/// Takes `name`'s work lock on `conn`, waiting up to `seconds`: `false` if it did not
/// come in time.
pub(crate) async fn try_lock_work(
    conn: &mut MySqlConnection,
    name: &str,
    seconds: u32,
) -> Result<bool, ServerCallError> {
    let taken: Option<i64> = sqlx::query_scalar("select get_lock(?, ?)")
        .bind(work_lock(name))
        .bind(seconds)
        .fetch_one(conn)
        .await
        .map_err(fail(format!("lock `{name}` for work")))?;
    Ok(taken == Some(1))
}

pub(super) async fn lock_work(
    conn: &mut MySqlConnection,
    name: &str,
    seconds: u32,
) -> Result<(), ServerCallError> {
    if try_lock_work(conn, name, seconds).await? {
        return Ok(());
    }
    Err(ServerCallError::StillChanging {
        backend: Backend::MySql,
        database: name.to_owned(),
        waited_seconds: seconds,
    })
}

/// Releases `name`'s work lock on `conn` (closing the connection would too).
pub(crate) async fn unlock_work(conn: &mut MySqlConnection, name: &str) {
    let _ = sqlx::query("select release_lock(?)")
        .bind(work_lock(name))
        .execute(conn)
        .await;
}
