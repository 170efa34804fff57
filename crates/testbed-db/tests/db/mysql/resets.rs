//! MySQL's recycled databases between tests: only the seed rows back, untouched tables
//! left alone, auto-increment counters rewound (after a killed run too), a killed
//! run's statement ended, sessions ended, a pool grown by a peak shrunk, and each reset
//! recorded clean.

use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind, PruneOptions};
use testbed_db::{Backend, Database};

use super::{
    COUNTERS, KILLED_COUNTERS, OWN_POOL, RECORDED_CLEAN, STRAGGLER, admin_url, count, kind_of,
    next_id, notes, on_mysql, one_run_at_a_time, registry_state, require_mysql,
};

#[testbed::test]
async fn a_recycled_database_comes_back_with_only_the_seed_rows() {
    require_mysql().await;
    let scope = Scope::new("first");
    let first = OWN_POOL.mysql(&scope).await.unwrap();
    let second = OWN_POOL.mysql(&scope).await.unwrap();
    assert_ne!(
        first.name(),
        second.name(),
        "one database per test at a time"
    );
    let seed_ids: Vec<i64> = sqlx::query_scalar("select id from users order by id")
        .fetch_all(first.pool())
        .await
        .unwrap();
    sqlx::query("insert into tags (name) values ('from-first')")
        .execute(first.pool())
        .await
        .unwrap();
    sqlx::query("delete from memberships")
        .execute(first.pool())
        .await
        .unwrap();
    // A seed row changed in place: no counter moves, its table's checksum does.
    sqlx::query("update users set name = 'Renamed' where email = 'ada@example.com'")
        .execute(first.pool())
        .await
        .unwrap();
    let name = first.name().to_owned();
    assert_eq!(kind_of(&name).await, Some(HeldKind::InUse));
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert_eq!(kind_of(&name).await, Some(HeldKind::Pooled));

    // The next test in this process gets a pooled database back, reset.
    let scope = Scope::new("second");
    let again = OWN_POOL.mysql(&scope).await.unwrap();
    let tags = count(
        again.pool(),
        "select count(*) from tags where name = 'from-first'",
    )
    .await;
    assert_eq!(tags, 0);
    let memberships = count(again.pool(), "select count(*) from memberships").await;
    assert_eq!(memberships, 1, "seed rows are restored");
    let ids: Vec<i64> = sqlx::query_scalar("select id from users order by id")
        .fetch_all(again.pool())
        .await
        .unwrap();
    assert_eq!(ids, seed_ids, "seed rows keep their ids");
    let renamed = count(
        again.pool(),
        "select count(*) from users where name = 'Renamed'",
    )
    .await;
    assert_eq!(renamed, 0, "a seed row changed in place is restored");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// Used by one test only: a seeded table that refuses deletes, and two tables a test
/// writes to (one with an auto-increment counter, one without).
static UNTOUCHED: Database = Database::function("mysql untouched tables v1", |target| {
    on_mysql(
        target,
        "create table kept (body text);
         insert into kept values ('seed');
         create trigger kept_stays before delete on kept for each row
           signal sqlstate '45000' set message_text = 'a row of kept was deleted';
         create table counted (id bigint not null auto_increment primary key, body text);
         create table plain (body text)",
    )
});

/// The reset touches only the tables whose rows or counter its test changed: `kept`,
/// whose trigger fails any delete, is left alone, and its cleanup succeeds.
#[testbed::test]
async fn a_reset_leaves_the_tables_its_test_did_not_change_alone() {
    require_mysql().await;
    let scope = Scope::new("writes two tables");
    let db = UNTOUCHED.mysql(&scope).await.unwrap();
    let name = db.name().to_owned();
    sqlx::raw_sql("insert into counted (body) values ('a'); insert into plain values ('b')")
        .execute(db.pool())
        .await
        .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert_eq!(registry_state(&name).await, "clean");

    let scope = Scope::new("next user");
    let db = UNTOUCHED.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the first free database of the pool");
    let rows: Vec<i64> = sqlx::query_scalar(
        "select count(*) from kept union all select count(*) from counted
         union all select count(*) from plain",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        [1, 0, 0],
        "kept's seed row; the written tables emptied"
    );
    assert_eq!(
        next_id(&name, "counted").await,
        1,
        "counted's counter set back"
    );
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_recycled_database_hands_out_the_ids_of_a_fresh_copy() {
    require_mysql().await;
    check_fresh_ids(&COUNTERS, 3).await;
}

/// Uses a pooled database of `database` (seeded as `COUNTERS` is) for `rounds` tests in
/// a row, each moving the counters of the tables the reset sets back in each way, and
/// checks that each gets the ids a fresh copy of the template hands out.
pub async fn check_fresh_ids(database: &Database, rounds: usize) {
    let template = database.template_name(Backend::MySql).unwrap();
    let mut used = None;
    for round in 0..rounds {
        let scope = Scope::new(format!("round {round}"));
        let db = database.mysql(&scope).await.unwrap();
        if round == 0 {
            // The seed file gives the template its own hash, so it exists by now.
            assert_eq!(
                next_id(&template, "tags").await,
                4,
                "two seed tags, one deleted"
            );
            assert_eq!(next_id(&template, "products").await, 3, "two seed products");
            assert_eq!(
                next_id(&template, "customers").await,
                1,
                "no seed customers"
            );
        }
        // Each way back to a fresh counter: seeded with a gap after the largest id (an
        // `ALTER`), seeded without one, and not seeded (both truncated).
        for (table, insert) in [
            (
                "tags",
                "insert into tags (name) values ('first'), ('second')",
            ),
            (
                "products",
                "insert into products (sku, name, price_cents) values ('NEW-1', 'New', 1)",
            ),
            (
                "customers",
                "insert into customers (name, email) values ('Ada', 'ada@example.com')",
            ),
        ] {
            let fresh = next_id(&template, table).await;
            let id = sqlx::query(insert)
                .execute(db.pool())
                .await
                .unwrap()
                .last_insert_id();
            assert_eq!(
                id,
                fresh,
                "round {round}: `{table}` in `{}` did not start where a fresh copy does",
                db.name()
            );
        }
        // A rolled-back insert moves the counter too.
        let mut tx = db.pool().begin().await.unwrap();
        sqlx::query("insert into tags (name) values ('rolled back')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        match &used {
            None => used = Some(db.name().to_owned()),
            // Nothing else uses this schema: the database released last round comes back.
            Some(name) => assert_eq!(db.name(), name, "round {round} got another database"),
        }
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

#[testbed::test]
async fn a_killed_runs_pooled_database_gets_its_counters_back() {
    require_mysql().await;
    let output = crate::child::run("child::child_dies_moving_mysql_counters", &[]);
    let name = crate::child::printed_database(&output);
    // The killed child's lock goes with its connection, once the server notices.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kind_of(&name).await != Some(HeldKind::Pooled) {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} is {:?}",
            kind_of(&name).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let template = KILLED_COUNTERS.template_name(Backend::MySql).unwrap();
    let scope = Scope::new("next user");
    let db = KILLED_COUNTERS.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the first free database of the pool");
    let id = sqlx::query("insert into tags (name) values ('after the kill')")
        .execute(db.pool())
        .await
        .unwrap()
        .last_insert_id();
    assert_eq!(id, next_id(&template, "tags").await);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_killed_runs_running_statement_is_ended_by_the_next_claimer() {
    require_mysql().await;
    let output = crate::child::run("child::child_dies_with_a_mysql_statement_running", &[]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(9),
        "the child should have died by SIGKILL: {output:?}"
    );
    let name = crate::child::printed_database(&output);
    // The killed child's claim goes with its lease, once the server notices.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kind_of(&name).await != Some(HeldKind::Pooled) {
        assert!(std::time::Instant::now() < deadline, "{name} still claimed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Its statement still runs on the server: whoever claims the database next must end
    // it before using the database.
    let scope = Scope::new("next user");
    let db = STRAGGLER.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the free pooled database is reused");
    // Had it lived, it would have committed by now.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let late = count(
        db.pool(),
        "select count(*) from tags where name like 'late%'",
    )
    .await;
    assert_eq!(late, 0, "nothing of the killed run reached the next user");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// Used by one test only: its pool is grown by a child, then shrunk by `prune`.
pub static SHRINKING: Database = Database::function("mysql shrinking v1", notes);

/// The same decaying high-water mark as PostgreSQL's: a pool grown by a peak keeps its
/// databases while they are claimed now and then; once unclaimed for an hour, those
/// beyond as many as this machine runs tests at once are dropped, the first kept.
#[testbed::test]
async fn a_mysql_pool_grown_by_a_peak_shrinks_once_the_peak_is_past() {
    require_mysql().await;
    // Another run of this suite on the same server would grow and prune this template's
    // pool meanwhile: one run at a time, held until the end.
    let _one_at_a_time = one_run_at_a_time("the shrinking pool").await;
    let floor = std::thread::available_parallelism().map_or(1, usize::from);
    let peak = 4.max(floor + 2);
    let output = crate::child::run(
        "child::child_holds_several_databases",
        &[
            ("TESTBED_DB_HOLD", &peak.to_string()),
            ("TESTBED_DB_BACKEND", "mysql"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hash = SHRINKING
        .template_name(Backend::MySql)
        .unwrap()
        .trim_start_matches("testbed_tpl_")
        .to_owned();
    let prefix = format!("testbed_pool_{hash}_");
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let pool_now = || async {
        let mut names: Vec<String> = sqlx::query_scalar(
            "select cast(schema_name as char) from information_schema.schemata where schema_name like ?",
        )
        .bind(format!("{}%", prefix.replace('_', "\\_")))
        .fetch_all(&admin)
        .await
        .unwrap();
        names.sort_by_key(|name| name.rsplit('_').next().unwrap().parse::<u32>().unwrap());
        names
    };
    let grown = pool_now().await;
    assert_eq!(grown.len(), peak, "the child's peak: {grown:?}");
    admin::prune(Backend::MySql, None, PruneOptions::default())
        .await
        .unwrap();
    assert_eq!(pool_now().await, grown, "claimed within the hour: all kept");

    // An hour later, as the registry sees it.
    sqlx::query(
        "update testbed_registry.used set last_used = last_used - 61 * 60 * 1000
         where name like ?",
    )
    .bind(format!("{}%", prefix.replace('_', "\\_")))
    .execute(&admin)
    .await
    .unwrap();
    admin::prune(Backend::MySql, None, PruneOptions::default())
        .await
        .unwrap();
    let shrunk = pool_now().await;
    assert_eq!(shrunk, grown[..floor], "the first {floor} kept");
}

/// A schema of its own, so that no other test draws its databases.
static KEPT_SESSION: Database = Database::function("mysql kept session v2", notes);

/// A session the test opened itself from the database's URL, and kept past the test (in
/// a `static`, say), is ended before the reset: its transaction, committed later, would
/// otherwise land in the next test's database (and its row lock would hold up the
/// reset).
#[testbed::test]
async fn a_session_opened_from_the_url_and_kept_is_ended_before_the_reset() {
    require_mysql().await;
    let scope = Scope::new("first");
    let db = KEPT_SESSION.mysql(&scope).await.unwrap();
    let name = db.name().to_owned();
    let mut kept = <sqlx::MySqlConnection as sqlx::Connection>::connect(db.url().unwrap())
        .await
        .unwrap();
    sqlx::raw_sql("begin; insert into notes values ('late')")
        .execute(&mut kept)
        .await
        .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = KEPT_SESSION.mysql(&scope).await.unwrap();
    assert_eq!(again.name(), name, "the first free database of the pool");
    assert!(
        sqlx::raw_sql("commit").execute(&mut kept).await.is_err(),
        "the kept session outlived the reset of {name}"
    );
    let notes = count(again.pool(), "select count(*) from notes").await;
    assert_eq!(
        notes, 0,
        "nothing of the kept session reached the next test"
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A reset records its database clean in its own round trip: inside the rows'
/// transaction when nothing follows it, after the `ALTER` that sets a counter back
/// otherwise (`tags`' template counter is past its largest id).
#[testbed::test]
async fn a_reset_database_is_recorded_clean() {
    require_mysql().await;
    for (round, change) in [
        ("rows only", "delete from memberships"),
        (
            "a counter set back",
            "insert into tags (name) values ('moved')",
        ),
    ] {
        let scope = Scope::new(round);
        let db = RECORDED_CLEAN.mysql(&scope).await.unwrap();
        let name = db.name().to_owned();
        assert_eq!(registry_state(&name).await, "dirty", "{round}: claimed");
        sqlx::query(change).execute(db.pool()).await.unwrap();
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        assert_eq!(registry_state(&name).await, "clean", "{round}: released");
    }
}

/// Used by one test only: its databases get grants.
static GRANTED: Database = Database::function("mysql granted v1", notes);

/// How many grants on database `name`, its tables and its columns there are.
async fn grants_on(admin: &sqlx::MySqlPool, name: &str) -> i64 {
    let count = |view: &str| {
        format!("(select count(*) from information_schema.{view} where table_schema = '{name}')")
    };
    super::count(
        admin,
        &format!(
            "select {} + {} + {}",
            count("schema_privileges"),
            count("table_privileges"),
            count("column_privileges")
        ),
    )
    .await
}

/// Grants a test makes on its database, its tables or its columns are revoked before
/// the next test gets it, whether the database is reset or (after a change to its
/// schema that cannot be undone table by table) rebuilt: MySQL keeps a database's
/// grants when it is dropped.
#[testbed::test]
async fn a_tests_grants_on_its_database_are_revoked(test: &Scope) {
    require_mysql().await;
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    // Another run of this suite would grant to, and drop, the same user.
    let one_at_a_time = one_run_at_a_time("the grantee").await;
    let grantee = "'testbed_tests_grantee'@'localhost'";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create user if not exists {grantee}"
    )))
    .execute(&admin)
    .await
    .unwrap();
    // Dropped whatever the test's outcome, before another run may take the lock.
    let dropper = admin.clone();
    test.add_async_cleanup(move |_| async move {
        let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop user if exists {grantee}"
        )))
        .execute(&dropper)
        .await
        .map(drop);
        drop(one_at_a_time);
        dropped
    });

    for (case, also) in [
        ("reset", ""),
        (
            "rebuilt",
            "alter database `{db}` character set latin1 collate latin1_swedish_ci;",
        ),
    ] {
        let scope = Scope::new(case);
        let db = GRANTED.mysql(&scope).await.unwrap();
        let name = db.name().to_owned();
        let grants = format!(
            "grant select on `{name}`.* to {grantee} with grant option;
             grant insert on `{name}`.notes to {grantee} with grant option;
             grant update (body) on `{name}`.notes to {grantee};
             {}",
            also.replace("{db}", &name)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
            .execute(&admin)
            .await
            .unwrap();
        // One row per grantee and privilege, the grant option a column of it.
        assert_eq!(grants_on(&admin, &name).await, 3, "{case}: granted");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        assert_eq!(grants_on(&admin, &name).await, 0, "{case}: revoked");
    }
}
