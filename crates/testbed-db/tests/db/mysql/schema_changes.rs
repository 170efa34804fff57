//! What a MySQL test does to its database's schema, and what the next test gets:
//! additions dropped and changed tables made again from the template's definitions;
//! changes to constraints, engines, collations, views, triggers and routines never
//! handed on.

use testbed::{Outcome, Scope};
use testbed_db::admin::HeldKind;
use testbed_db::{Backend, Database};

use crate::run_in_a_test;

use super::{
    ALTERED, admin_url, count, kind_of, next_id, on_mysql, registry_state, require_mysql, table_id,
    text,
};

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
        let loud = text(db.pool(), "select cast(body as char) from loud").await;
        assert_eq!(loud, "A.", "after `{change}`");
        let shouted = text(db.pool(), "select cast(shout('a') as char)").await;
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
    const DEFAULT_COLLATION: &str = "select cast(default_collation_name as char)
                                     from information_schema.schemata
                                     where schema_name = database()";
    let template_default = {
        let scope = Scope::new("first user");
        let db = REDEFINED.mysql(&scope).await.unwrap();
        let default = text(db.pool(), DEFAULT_COLLATION).await;
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
        let run = |sql: &'static str| sqlx::raw_sql(sql).execute(db.pool());
        run("insert into owners values (1); insert into pets values (1, 1, 4)")
            .await
            .unwrap();
        let deleted = run("delete from owners where id = 1").await;
        assert!(
            deleted.is_err(),
            "an owner with a pet deleted after `{change}`"
        );
        let negative = run("insert into pets values (2, 1, -1)").await;
        assert!(negative.is_err(), "a pet with -1 legs after `{change}`");
        run("start transaction; insert into ledger values (1); rollback")
            .await
            .unwrap();
        assert_eq!(
            count(db.pool(), "select count(*) from ledger").await,
            0,
            "a rolled back insert kept after `{change}`"
        );
        let collation = "select cast(table_collation as char) from information_schema.tables
                         where table_schema = database() and table_name = 'labels'";
        assert_eq!(
            text(db.pool(), collation).await,
            "utf8mb4_general_ci",
            "after `{change}`"
        );
        assert_eq!(
            text(db.pool(), DEFAULT_COLLATION).await,
            template_default,
            "after `{change}`"
        );
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
