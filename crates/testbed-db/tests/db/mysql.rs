use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind, PruneOptions};
use testbed_db::{Backend, ServerCallError};

use testbed_db::Database;

use crate::run_in_a_test;

/// The shop schema with pools of their own: these tests watch their databases' states,
/// which another test process drawing from the same pool would change.
static OWN_POOL: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/own_pool.sql"
]);
static COUNTERS: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/counters_pool.sql"
]);
/// Used by a child process killed mid-test, and then by the test that runs it.
pub static KILLED_COUNTERS: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/killed_counters_pool.sql"
    ]);
/// Used by a child process killed while a statement of its test still runs, and then by
/// the test that runs it.
pub static STRAGGLER: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/straggler_pool.sql"
    ]);
/// Seeded as `COUNTERS`, with a template of its own: its registry records are removed
/// by the test that uses it.
pub static UNRECORDED: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/counters_pool.sql",
        "tests/seeds/unrecorded_pool.sql"
    ]);
/// Seeded as `COUNTERS`, with a pool of its own: its test watches its databases' states.
static RECORDED_CLEAN: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/counters_pool.sql",
        "tests/seeds/recorded_clean_pool.sql"
    ]);
static ALTERED: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/altered_pool.sql"
]);

/// Skips the test (fails it under `TESTBED_REQUIRE`) when MySQL/MariaDB is not here.
async fn require_mysql() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::MySql, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

/// The admin URL of the MySQL server the tests use.
fn admin_url() -> String {
    std::env::var(testbed_db::MYSQL_URL_ENV)
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

async fn kind_of(name: &str) -> Option<HeldKind> {
    admin::status(Backend::MySql, None)
        .await
        .unwrap()
        .into_iter()
        .find(|held| held.name == name)
        .map(|held| held.kind)
}

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

/// The next id of `table` in `database`, as a fresh copy of it would hand out.
async fn next_id(database: &str, table: &str) -> u64 {
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let next: u64 = sqlx::query_scalar(
        "select cast(auto_increment as unsigned) from information_schema.tables
         where table_schema = ? and table_name = ?",
    )
    .bind(database)
    .bind(table)
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    next
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

/// The InnoDB table id of `table` in database `database`: a table made again gets a
/// new one.
async fn table_id(admin: &sqlx::MySqlPool, database: &str, table: &str) -> u64 {
    sqlx::query_scalar(
        "select cast(table_id as unsigned) from information_schema.innodb_sys_tables
         where name = concat(?, '/', ?)",
    )
    .bind(database)
    .bind(table)
    .fetch_one(admin)
    .await
    .unwrap()
}

/// A test's schema changes are undone table by table after it: what it added dropped,
/// what it changed or dropped of the template's made again from the template's
/// definition, foreign keys included; the rest of the database is left as it is (not
/// rebuilt), and it is handed on clean.
#[testbed::test]
async fn a_test_that_changes_the_schema_hands_on_the_templates_schema() {
    require_mysql().await;
    let admin = sqlx::MySqlPool::connect(&admin_url()).await.unwrap();
    let scope = Scope::new("alters");
    let db = ALTERED.mysql(&scope).await.unwrap();
    let name = db.name().to_owned();
    let untouched = table_id(&admin, &name, "users").await;
    let changed = table_id(&admin, &name, "tags").await;
    sqlx::raw_sql(
        "alter table tags add column colour varchar(20);
         insert into tags (name, colour) values ('moved', 'red');
         create table scratch (id bigint primary key, user_id bigint not null,
                               foreign key (user_id) references users (id));
         create view tag_names as select name from tags;
         drop table settings",
    )
    .execute(db.pool())
    .await
    .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert_eq!(registry_state(&name).await, "clean", "handed on clean");
    assert_eq!(
        table_id(&admin, &name, "users").await,
        untouched,
        "not rebuilt"
    );
    assert_ne!(
        table_id(&admin, &name, "tags").await,
        changed,
        "tags made again"
    );

    let scope = Scope::new("next user");
    let db = ALTERED.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the first free database of the pool");
    assert_eq!(
        count(
            db.pool(),
            "select count(*) from information_schema.columns
             where table_schema = database() and table_name = 'tags' and column_name = 'colour'"
        )
        .await,
        0,
        "the added column is gone"
    );
    assert_eq!(
        count(
            db.pool(),
            "select count(*) from information_schema.tables
             where table_schema = database() and table_name in ('scratch', 'tag_names')"
        )
        .await,
        0,
        "the added table and view are gone"
    );
    assert_eq!(
        count(db.pool(), "select count(*) from settings").await,
        0,
        "settings is back"
    );
    assert_eq!(
        count(db.pool(), "select count(*) from tags").await,
        2,
        "tags' seed rows"
    );
    assert_eq!(
        next_id(&name, "tags").await,
        3,
        "tags' counter as a fresh copy's"
    );
    // The foreign key to the remade `tags` holds, and so does the one from it.
    sqlx::query(
        "insert into tasks (project_id, title, status) select id, 't', 'open' from projects",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let error = sqlx::query("insert into task_tags (task_id, tag_id) select id, 999 from tasks")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`tag_id`"), "{error}");
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    admin.close().await;
}

/// A table with a trigger of the template's, which ends every body with a full stop, a
/// view of it and a function of the template's; each test that changes them has its own.
const STAMPED: &str = "create table notes (body text);
    create trigger notes_stamp before insert on notes
      for each row set new.body = concat(new.body, '.');
    create view loud as select upper(body) as body from notes;
    create function shout(t text) returns text deterministic return upper(t)";
static ROUTINES_ADDED: Database = Database::function("mysql routines added v1", |target| {
    on_mysql(target, STAMPED)
});
static ROUTINES_CHANGED: Database = Database::function("mysql routines changed v1", |target| {
    on_mysql(target, STAMPED)
});

/// What a test's `body` insert into `notes` stores.
async fn stored(pool: &sqlx::MySqlPool, body: &str) -> String {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("insert into notes values (?)")
        .bind(body)
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar("select cast(body as char) from notes order by body desc limit 1")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// Triggers, functions, procedures and events a test adds are dropped with its other
/// additions: the next test gets the template's schema, on the same database, not
/// rebuilt.
#[testbed::test]
async fn a_tests_triggers_and_routines_are_undone() {
    require_mysql().await;
    let admin = sqlx::MySqlPool::connect(&admin_url()).await.unwrap();
    let scope = Scope::new("adds routines");
    let db = ROUTINES_ADDED.mysql(&scope).await.unwrap();
    let name = db.name().to_owned();
    let notes_id = table_id(&admin, &name, "notes").await;
    sqlx::raw_sql(
        "create trigger notes_tamper before insert on notes
           for each row set new.body = 'tampered';
         create function helper() returns int deterministic return 1;
         create procedure tidy() select 1;
         create event nightly on schedule every 1 day disable do select 1;
         create table moods (m int);
         create trigger moods_set before insert on moods for each row set new.m = 1",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(stored(db.pool(), "a").await, "tampered");
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert_eq!(registry_state(&name).await, "clean", "handed on clean");
    assert_eq!(
        table_id(&admin, &name, "notes").await,
        notes_id,
        "not rebuilt"
    );

    let scope = Scope::new("next user");
    let db = ROUTINES_ADDED.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the first free database of the pool");
    assert_eq!(
        stored(db.pool(), "a").await,
        "a.",
        "only the template's trigger"
    );
    let routines = "select count(*) from information_schema.routines
                    where routine_schema = database() and routine_name <> 'shout'";
    assert_eq!(count(db.pool(), routines).await, 0);
    let events = "select count(*) from information_schema.events where event_schema = database()";
    assert_eq!(count(db.pool(), events).await, 0);
    let triggers = "select count(*) from information_schema.triggers
                    where trigger_schema = database()";
    assert_eq!(count(db.pool(), triggers).await, 1);
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    admin.close().await;
}

/// A test that changes the template's own trigger, view or function, keeping their
/// names and columns, or a column's default or collation, hands on the template's: the
/// next test gets them as the template made them. So does one that changes a table with a trigger of the template's, which
/// making the table again would lose.
#[testbed::test]
async fn a_tests_change_to_a_template_trigger_view_or_routine_is_not_handed_on() {
    require_mysql().await;
    for change in [
        "drop trigger notes_stamp; create trigger notes_stamp before insert on notes \
           for each row set new.body = concat(new.body, '!')",
        "create or replace view loud as select lower(body) as body from notes",
        "drop function shout; create function shout(t text) returns text deterministic \
           return lower(t)",
        "alter table notes add column extra int",
        "alter table notes alter column body set default 'x'",
        "alter table notes modify body text collate utf8mb4_bin",
    ] {
        run_in_a_test(&ROUTINES_CHANGED, Backend::MySql, change).await;
        let scope = Scope::new("after");
        let db = ROUTINES_CHANGED.mysql(&scope).await.unwrap();
        assert_eq!(stored(db.pool(), "a").await, "a.", "after `{change}`");
        let loud: String = sqlx::query_scalar("select cast(body as char) from loud")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(loud, "A.", "after `{change}`");
        let shouted: String = sqlx::query_scalar("select cast(shout('a') as char)")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(shouted, "A", "after `{change}`");
        let column = "select count(*) from information_schema.columns
                      where table_schema = database() and table_name = 'notes'
                        and (column_default <> 'NULL' or collation_name like '%bin')";
        assert_eq!(count(db.pool(), column).await, 0, "after `{change}`");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// Used by one test only: a table whose foreign key and check a test drops.
static CONSTRAINED: Database = Database::function("mysql constrained v1", |target| {
    on_mysql(
        target,
        "create table owners (id int primary key);
         create table pets (id int primary key, owner_id int not null, legs int,
                            constraint pets_owner foreign key (owner_id) references owners (id),
                            constraint pets_legs check (legs >= 0))",
    )
});

/// A foreign key or a check a test drops (the foreign key's index stays, so the
/// columns and indexes are as they were) is back for the next test.
#[testbed::test]
async fn a_dropped_constraint_is_not_handed_on() {
    require_mysql().await;
    for change in [
        "alter table pets drop foreign key pets_owner",
        "alter table pets drop constraint pets_legs",
    ] {
        let name = run_in_a_test(&CONSTRAINED, Backend::MySql, change).await;
        let scope = Scope::new("next user");
        let db = CONSTRAINED.mysql(&scope).await.unwrap();
        assert_eq!(db.name(), name, "the first free database of the pool");
        for refused in [
            "insert into pets values (1, 99, 4)",
            "insert into owners values (1); insert into pets values (2, 1, -1)",
        ] {
            let inserted = sqlx::raw_sql(sqlx::AssertSqlSafe(refused))
                .execute(db.pool())
                .await;
            assert!(inserted.is_err(), "`{refused}` passed after `{change}`");
        }
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// Used by one test only: a foreign key and a check a test makes again under their
/// names, and tables whose engine or default collation a test changes.
static REDEFINED: Database = Database::function("mysql redefined v2", |target| {
    on_mysql(
        target,
        "create table owners (id int primary key) engine = InnoDB;
         create table pets (id int primary key, owner_id int not null, legs int,
                            constraint pets_owner foreign key (owner_id) references owners (id),
                            constraint pets_legs check (legs >= 0)) engine = InnoDB;
         create table ledger (id int primary key) engine = InnoDB;
         create table labels (id int primary key) engine = InnoDB
           default character set utf8mb4 collate utf8mb4_general_ci",
    )
});

/// What changes no column, index or constraint name is still not handed on: a foreign
/// key or a check dropped and added again under its name with other rules, a table made
/// `MyISAM` (no transactions), a table's or the database's default collation changed.
#[testbed::test]
async fn a_constraint_made_again_or_a_tables_engine_changed_is_not_handed_on() {
    require_mysql().await;
    let template_default: String = {
        let scope = Scope::new("first user");
        let db = REDEFINED.mysql(&scope).await.unwrap();
        let default = sqlx::query_scalar(
            "select cast(default_collation_name as char) from information_schema.schemata
             where schema_name = database()",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        default
    };
    assert_ne!(template_default, "latin1_swedish_ci");
    for change in [
        "alter table pets drop foreign key pets_owner;
         alter table pets add constraint pets_owner foreign key (owner_id)
           references owners (id) on delete cascade",
        "alter table pets drop constraint pets_legs;
         alter table pets add constraint pets_legs check (legs >= -10)",
        "alter table ledger engine = MyISAM",
        "alter table labels default character set latin1 collate latin1_swedish_ci",
        "alter database character set latin1 collate latin1_swedish_ci",
    ] {
        run_in_a_test(&REDEFINED, Backend::MySql, change).await;
        let scope = Scope::new("next user");
        let db = REDEFINED.mysql(&scope).await.unwrap();
        let mut conn = db.pool().acquire().await.unwrap();
        sqlx::raw_sql("insert into owners values (1); insert into pets values (1, 1, 4)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let deleted = sqlx::raw_sql("delete from owners where id = 1")
            .execute(&mut *conn)
            .await;
        assert!(
            deleted.is_err(),
            "an owner with a pet deleted after `{change}`"
        );
        let negative = sqlx::raw_sql("insert into pets values (2, 1, -1)")
            .execute(&mut *conn)
            .await;
        assert!(negative.is_err(), "a pet with -1 legs after `{change}`");
        sqlx::raw_sql("start transaction; insert into ledger values (1); rollback")
            .execute(&mut *conn)
            .await
            .unwrap();
        let ledger: i64 = sqlx::query_scalar("select count(*) from ledger")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(ledger, 0, "a rolled back insert kept after `{change}`");
        let collation: String = sqlx::query_scalar(
            "select cast(table_collation as char) from information_schema.tables
             where table_schema = database() and table_name = 'labels'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(collation, "utf8mb4_general_ci", "after `{change}`");
        let default: String = sqlx::query_scalar(
            "select cast(default_collation_name as char) from information_schema.schemata
             where schema_name = database()",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(default, template_default, "after `{change}`");
        drop(conn);
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// Used by one test only: tables with neither a foreign key nor a check, and no view or
/// routine, whose fingerprint reads none of those kinds' definitions.
static UNCONSTRAINED: Database = Database::function("mysql unconstrained v2", |target| {
    on_mysql(
        target,
        "create table owners (id int primary key);
         create table pets (id int primary key, owner_id int, legs int, key (owner_id))",
    )
});

/// A foreign key, a check, a view or a routine that a test adds where its template has
/// none is seen by what is always read (the table's constraints, the view's columns,
/// the routines), and is not handed on.
#[testbed::test]
async fn an_object_added_where_the_template_has_none_of_its_kind_is_not_handed_on() {
    require_mysql().await;
    for change in [
        "alter table pets add constraint pets_owner foreign key (owner_id) references owners (id)",
        "alter table pets add constraint pets_legs check (legs >= 0)",
        "create view pet_legs as select legs from pets",
        "create procedure feed(in n int) select n",
    ] {
        run_in_a_test(&UNCONSTRAINED, Backend::MySql, change).await;
        let scope = Scope::new("next user");
        let db = UNCONSTRAINED.mysql(&scope).await.unwrap();
        sqlx::raw_sql("insert into pets values (1, 99, -1)")
            .execute(db.pool())
            .await
            .unwrap_or_else(|e| panic!("refused after `{change}`: {e}"));
        let added = "select (select count(*) from information_schema.views
                             where table_schema = database())
                          + (select count(*) from information_schema.routines
                             where routine_schema = database())";
        assert_eq!(count(db.pool(), added).await, 0, "after `{change}`");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// Used by one test only: a table and a view of it, which a test replaces.
static WITH_VIEW: Database = Database::function("mysql with a view v1", |target| {
    on_mysql(
        target,
        "create table notes (body text); create view note_bodies as select body from notes",
    )
});

/// A change the table-by-table undo leaves alone (a view of the template's replaced)
/// gets the database rebuilt by its next claimer.
#[testbed::test]
async fn a_schema_change_not_undone_table_by_table_gets_a_rebuilt_database() {
    require_mysql().await;
    let name = run_in_a_test(
        &WITH_VIEW,
        Backend::MySql,
        "create or replace view note_bodies as select concat(body, '!') as shout from notes",
    )
    .await;
    // Marked for a rebuild, and still a member of the pool (not an orphan to prune).
    assert_eq!(registry_state(&name).await, "building");
    assert_eq!(kind_of(&name).await, Some(HeldKind::Pooled));
    // Whoever claims it next rebuilds it: the view is the template's again.
    let scope = Scope::new("next user");
    let db = WITH_VIEW.mysql(&scope).await.unwrap();
    assert_eq!(db.name(), name, "the first free database of the pool");
    let columns: Vec<String> = sqlx::query_scalar(
        "select cast(column_name as char) from information_schema.columns
         where table_schema = database() and table_name = 'note_bodies'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(columns, ["body"], "{name} was rebuilt");
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_broken_migration_names_its_file_and_statement_on_mysql(scope: &Scope) {
    let error = crate::bad_input::BROKEN.mysql(scope).await.unwrap_err();
    crate::bad_input::assert_names_the_broken_statement(&error);
}

/// A schema only the half-built template test uses.
pub static HALF_BUILT: Database = Database::function("mysql half-built v1", |target| {
    on_mysql(target, "create table wanted (id int)")
});

#[testbed::test]
async fn a_half_built_mysql_template_is_rebuilt() {
    require_mysql().await;
    // Build it once, then make it look like a build a crash cut short: marked
    // `building` in the registry, with a table the schema does not have.
    let scope = Scope::new("first");
    HALF_BUILT.mysql(&scope).await.unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
    let template = HALF_BUILT.template_name(Backend::MySql).unwrap();
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "update testbed_registry.databases set state = 'building' where name = '{template}';
         create table `{template}`.leftover (id int)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let held = admin::status(Backend::MySql, None).await.unwrap();
    assert!(
        held.iter()
            .any(|h| h.name == template && h.kind == HeldKind::Unfinished)
    );

    // A new process (this one remembers the template) finds it unfinished and rebuilds it.
    let output = crate::child::run("child::child_uses_the_half_built_mysql_schema", &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let leftover: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'leftover'",
    )
    .bind(&template)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(
        leftover, 0,
        "the half-built template was rebuilt from scratch"
    );
    admin.close().await;
    let held = admin::status(Backend::MySql, None).await.unwrap();
    assert!(
        held.iter()
            .any(|h| h.name == template && h.kind == HeldKind::Template)
    );
}

/// Used by one test only: its pool is grown by a child, then shrunk by `prune`.
pub static SHRINKING: Database = Database::function("mysql shrinking v1", notes);

/// A schema of one `notes (body text)` table, for tests that need rows and no more.
fn notes(target: testbed_db::Target<'_>) -> crate::Build<'_> {
    on_mysql(target, "create table notes (body text)")
}

/// A `Database::function` schema's build that runs `sql` on MySQL.
fn on_mysql<'c>(target: testbed_db::Target<'c>, sql: &'static str) -> crate::Build<'c> {
    Box::pin(async move {
        if let testbed_db::Target::MySql(conn) = target {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

/// The one integer `sql` returns on `pool`.
async fn count(pool: &sqlx::MySqlPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The same decaying high-water mark as PostgreSQL's: a pool grown by a peak keeps its
/// databases while they are claimed now and then; once unclaimed for an hour, those
/// beyond as many as this machine runs tests at once are dropped, the first kept.
#[testbed::test]
async fn a_mysql_pool_grown_by_a_peak_shrinks_once_the_peak_is_past() {
    require_mysql().await;
    // Another run of this suite on the same server would grow and prune this template's
    // pool meanwhile: one run at a time, held until the end.
    let url = admin_url();
    let mut one_at_a_time = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("select get_lock('testbed-db tests: the shrinking pool', 600)")
        .execute(&mut one_at_a_time)
        .await
        .unwrap();
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
    drop(one_at_a_time);
}

/// The template's tables (and their counters) as the registry records them, by name.
async fn recorded_tables(admin: &sqlx::MySqlPool, template: &str) -> Vec<(String, Option<u64>)> {
    sqlx::query_as(
        "select table_name, counter from testbed_registry.template_tables
         where template = ? order by table_name",
    )
    .bind(template)
    .fetch_all(admin)
    .await
    .unwrap()
}

/// A process reads a template's tables, seed tables and counters from the registry, in
/// one round trip; a template whose tables are not recorded there (built by an older
/// testbed) is read from the server once, and recorded, as is a fingerprint taken the
/// way an older testbed took it. Each child is a new process, so
/// it knows only what the registry tells it, and its copies get fresh ids either way.
#[testbed::test]
async fn a_template_is_read_from_the_registry_and_recorded_when_it_is_not() {
    require_mysql().await;
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let template = UNRECORDED.template_name(Backend::MySql).unwrap();
    let run_child = || {
        let output = crate::child::run("child::child_checks_fresh_mysql_ids", &[]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // Built here, or by an earlier run: recorded either way.
    let scope = Scope::new("build");
    UNRECORDED.mysql(&scope).await.unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
    let on_server: Vec<(String, Option<u64>)> = sqlx::query_as(
        "select cast(table_name as char), cast(auto_increment as unsigned)
         from information_schema.tables
         where table_schema = ? and table_name <> '_sqlx_migrations' order by table_name",
    )
    .bind(&template)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(recorded_tables(&admin, &template).await, on_server);

    // From the registry's records.
    run_child();

    // Not recorded: read from the server, and recorded again.
    sqlx::query("delete from testbed_registry.template_tables where template = ?")
        .bind(&template)
        .execute(&admin)
        .await
        .unwrap();
    run_child();
    assert_eq!(recorded_tables(&admin, &template).await, on_server);

    // A fingerprint an older testbed took (a plain SHA-256) is taken again, and recorded.
    let fingerprint = || async {
        sqlx::query_scalar::<_, String>(
            "select fingerprint from testbed_registry.databases where name = ?",
        )
        .bind(&template)
        .fetch_one(&admin)
        .await
        .unwrap()
    };
    let current = fingerprint().await;
    sqlx::query("update testbed_registry.databases set fingerprint = ? where name = ?")
        .bind("0".repeat(64))
        .bind(&template)
        .execute(&admin)
        .await
        .unwrap();
    run_child();
    assert_eq!(fingerprint().await, current);
    admin.close().await;
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

/// The registry's state of pooled database `name`.
async fn registry_state(name: &str) -> String {
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let state = sqlx::query_scalar("select state from testbed_registry.databases where name = ?")
        .bind(name)
        .fetch_one(&admin)
        .await
        .unwrap();
    admin.close().await;
    state
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
