//! Claiming a pooled MySQL database while other sessions write the registry: a claim
//! that InnoDB picks as a deadlock's victim is run again, and the test gets its
//! database.

use std::time::{Duration, Instant};

use sqlx::{Connection, MySqlConnection};
use testbed::{Outcome, Scope};
use testbed_db::Database;

use super::{admin_url, notes, one_run_at_a_time, require_mysql};

/// A pool of its own: the test locks its registry rows.
static CROSSED: Database = Database::function("mysql crossed claim v1", notes);

/// How many rows the crossing transaction writes before it takes the registry row, so
/// that InnoDB, which rolls back the lighter side of a deadlock, picks the claim.
const WEIGHT: u32 = 200;

#[testbed::test]
async fn a_claim_chosen_as_a_deadlocks_victim_runs_again() {
    require_mysql().await;
    let url = admin_url();
    // Another run of this suite on the same server would lock the same rows.
    let one_at_a_time = one_run_at_a_time("the crossed claim").await;

    // Two pooled databases, both clean in the registry; this test then holds the first,
    // so the claim below goes to the second.
    let scope = Scope::new("held");
    let (held, second) = {
        let warm = Scope::new("warm");
        let first = CROSSED.mysql(&warm).await.unwrap().name().to_owned();
        let second = CROSSED.mysql(&warm).await.unwrap().name().to_owned();
        warm.finish_async(Outcome::Passed).await.unwrap();
        let held = CROSSED.mysql(&scope).await.unwrap();
        assert_eq!(
            held.name(),
            first,
            "the first free database is claimed first"
        );
        (held, second)
    };

    // A transaction heavier than a claim takes the second database's `used` row, the
    // row a claim writes last.
    let mut crossing = MySqlConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("start transaction")
        .execute(&mut crossing)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into `{}`.notes (body)
         with recursive n (i) as (select 1 union all select i + 1 from n where i < {WEIGHT})
         select 'weight' from n",
        held.name()
    )))
    .execute(&mut crossing)
    .await
    .unwrap();
    sqlx::query("select last_used from testbed_registry.used where name = ? for update")
        .bind(&second)
        .fetch_one(&mut crossing)
        .await
        .unwrap();

    // The claim records the second database dirty (locking its `databases` row), then
    // waits for its `used` row. (While it waits, InnoDB's `innodb_trx` shows the
    // claim's statement before that one, and MariaDB's state `RUNNING`: the session
    // list tells.)
    let claim = tokio::spawn(async {
        let scope = Scope::new("claimer");
        let claimed = CROSSED.mysql(&scope).await.map(|db| db.name().to_owned());
        scope.finish_async(Outcome::Passed).await.unwrap();
        claimed
    });
    let mut watcher = MySqlConnection::connect(&url).await.unwrap();
    let started = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from information_schema.processlist
             where id <> connection_id()
               and info like '%testbed_registry.used%' and info like concat('%', ?, '%')",
        )
        .bind(&second)
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) || claim.is_finished() {
            let sessions: Vec<(Option<String>, Option<String>)> =
                sqlx::query_as("select state, info from information_schema.processlist")
                    .fetch_all(&mut watcher)
                    .await
                    .unwrap();
            panic!(
                "the claim of `{second}` never waited for the row this test locked \
                 (the claim ended: {}); the server's sessions: {sessions:?}",
                claim.is_finished()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Crossed: this transaction now asks for the row the claim holds. InnoDB rolls the
    // lighter one back, the claim, and this update goes through.
    sqlx::query("update testbed_registry.databases set state = state where name = ?")
        .bind(&second)
        .execute(&mut crossing)
        .await
        .expect("the claim, not the heavier transaction, is the deadlock's victim");
    sqlx::raw_sql("rollback")
        .execute(&mut crossing)
        .await
        .unwrap();

    let claimed = claim.await.unwrap();
    assert_eq!(
        claimed
            .as_deref()
            .map_err(|e| format!("{e}: {:?}", std::error::Error::source(e))),
        Ok(second.as_str()),
        "the claim runs again after it was the victim"
    );
    let status: (String, String, String) = sqlx::query_as("show engine innodb status")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    let deadlock = status
        .2
        .split_once("LATEST DETECTED DEADLOCK")
        .map(|(_, after)| after.split("TRANSACTIONS\n").next().unwrap_or(after))
        .unwrap_or_default();
    assert!(
        deadlock.contains(&second),
        "InnoDB's latest deadlock is the crossed claim of `{second}`: {deadlock}"
    );
    drop(held);
    scope.finish_async(Outcome::Passed).await.unwrap();
    drop(one_at_a_time);
}
