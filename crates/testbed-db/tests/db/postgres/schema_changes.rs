//! What a PostgreSQL test does to its database's schema, and what the next test gets:
//! additions undone in place; changes to the template's own objects (routines,
//! options, inheritance, grants, settings) never handed on; the template's database
//! settings given to every test.

use testbed::{Outcome, Scope};
use testbed_db::{Backend, Database};

use crate::{Build, run_in_a_test};

use super::{
    count, counted, dropped, exists, next_after_a_change, on_postgres, require_postgres, things,
};

static ALTERED: Database = Database::function("altered v2", things);
static ADDED_TO: Database = Database::function("added to v1", things);

#[testbed::test]
async fn a_recycled_database_whose_template_objects_changed_is_dropped() {
    require_postgres().await;
    let scope = Scope::new("alters");
    let db = ALTERED.postgres(&scope).await.unwrap();
    sqlx::query("alter table things alter column id type bigint")
        .execute(db.pool())
        .await
        .unwrap();
    let name = db.name().to_owned();
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(
        dropped(&name).await,
        "{name} was recycled with a changed schema"
    );
    let scope = Scope::new("after");
    let db = ALTERED.postgres(&scope).await.unwrap();
    let bigint = "select count(*) from information_schema.columns \
                  where table_name = 'things' and data_type = 'bigint'";
    assert_eq!(count(db.pool(), bigint).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static REMADE: Database = Database::function("remade v1", things);

/// Changes that leave every object's name and type as it was, which only the
/// fingerprint's object ids and column defaults tell.
#[testbed::test]
async fn a_template_object_made_again_or_given_a_default_is_not_recycled() {
    require_postgres().await;
    for change in [
        "drop table things; create table things (id int primary key)",
        "alter table things alter column id set default 7",
    ] {
        let name = run_in_a_test(&REMADE, Backend::Postgres, change).await;
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    }
    let scope = Scope::new("after");
    let db = REMADE.postgres(&scope).await.unwrap();
    let defaults = "select count(*) from information_schema.columns \
                    where table_name = 'things' and column_default is not null";
    assert_eq!(count(db.pool(), defaults).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_tests_schema_additions_are_undone_and_its_database_recycled() {
    require_postgres().await;
    let scope = Scope::new("adds");
    let db = ADDED_TO.postgres(&scope).await.unwrap();
    sqlx::raw_sql(
        "alter table things add column extra text not null default 'x';
         alter table things add constraint extra_short check (length(extra) < 10);
         create index things_extra on things (extra);
         alter table things add constraint things_id_unique unique (id);
         alter table things add constraint id_positive check (id > 0);
         create table scratch (id serial primary key, thing int references things (id));
         create view scratch_view as select id from scratch;
         create schema side;
         create table side.more (id int);
         insert into things values (1, 'y');
         insert into scratch (thing) values (1);",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let name = db.name().to_owned();
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not undone");
    // This process's next test of the schema takes the same database back.
    let scope = Scope::new("after");
    let db = ADDED_TO.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    let pool = db.pool();
    let columns = "select count(*) from information_schema.columns where table_name = 'things'";
    assert_eq!(count(pool, columns).await, 1, "the added column is gone");
    let tables = "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                  where n.nspname not in ('pg_catalog', 'information_schema') \
                    and n.nspname not like 'pg\\_%'";
    // `things` and its primary key index.
    assert_eq!(
        count(pool, tables).await,
        2,
        "only the template's relations are left"
    );
    let schemas = "select count(*) from pg_namespace where nspname = 'side'";
    assert_eq!(count(pool, schemas).await, 0, "the added schema is gone");
    assert_eq!(count(pool, "select count(*) from things").await, 0);
    // Adding them again works: nothing of the first test's is in the way.
    sqlx::raw_sql("create table scratch (id int); create schema side;")
        .execute(pool)
        .await
        .unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table with a trigger of the template's, which ends every body with a full stop,
/// and a function of the template's; each test that changes them has its own.
fn stamped(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table notes (body text);
         create function shout(t text) returns text language sql as $$ select upper(t) $$;
         create function stamp() returns trigger language plpgsql
           as $$ begin new.body := new.body || '.'; return new; end $$;
         create trigger notes_stamp before insert on notes
           for each row execute function stamp();",
    )
}

static ROUTINES_ADDED: Database = Database::function("routines added v1", stamped);
static ROUTINES_CHANGED: Database = Database::function("routines changed v1", stamped);

/// What a test's `body` insert into `notes` stores.
async fn stored(pool: &sqlx::PgPool, body: &str) -> String {
    sqlx::query_scalar("insert into notes values ($1) returning body")
        .bind(body)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Triggers, functions, procedures, types, domains and extensions a test adds are
/// dropped with its other additions: the next test gets the template's schema, on the
/// same database. (`citext` comes with PostgreSQL's server package.)
#[testbed::test]
async fn a_tests_triggers_routines_and_types_are_undone() {
    require_postgres().await;
    let scope = Scope::new("adds routines");
    let db = ROUTINES_ADDED.postgres(&scope).await.unwrap();
    sqlx::raw_sql(
        "create function tamper() returns trigger language plpgsql
           as $$ begin new.body := 'tampered'; return new; end $$;
         create trigger notes_tamper before insert on notes
           for each row execute function tamper();
         create function helper() returns int language sql as 'select 1';
         create procedure tidy() language sql as 'select 1';
         create type mood as enum ('ok', 'not ok');
         create domain positive as int check (value > 0);
         create table moods (m mood, p positive);
         create trigger moods_tamper before insert on moods
           for each row execute function tamper();
         create function describe(m mood) returns text language sql as $$ select m::text $$;
         create extension citext;",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(stored(db.pool(), "a").await, "tampered");
    let name = db.name().to_owned();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = ROUTINES_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(
        stored(db.pool(), "a").await,
        "a.",
        "only the template's trigger"
    );
    let routines = "select count(*) from pg_proc where proname in ('tamper', 'helper', 'tidy')";
    assert_eq!(count(db.pool(), routines).await, 0);
    let types = "select count(*) from pg_type where typname in ('mood', 'positive', 'citext')";
    assert_eq!(count(db.pool(), types).await, 0);
    // Adding them again works: nothing of the first test's is in the way.
    sqlx::raw_sql("create function helper() returns int language sql as 'select 1'; create type mood as enum ('ok');")
        .execute(db.pool())
        .await
        .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A test that changes the template's own functions or triggers in place (same names,
/// same object ids), or its tables' policies, row-level security or grants, gets its
/// database dropped: the next test gets them as the template made them.
#[testbed::test]
async fn a_tests_change_to_a_template_routine_or_trigger_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "create or replace function shout(t text) returns text language sql as $$ select lower(t) $$",
        "create or replace function stamp() returns trigger language plpgsql \
           as $$ begin new.body := new.body || '!'; return new; end $$",
        "alter table notes disable trigger notes_stamp",
        "create policy everything on notes using (true)",
        "alter table notes enable row level security",
        "grant select on notes to public",
        "drop trigger notes_stamp on notes; \
         create trigger notes_stamp before insert on notes for each row execute function stamp()",
    ] {
        let (scope, db) = next_after_a_change(&ROUTINES_CHANGED, change).await;
        let shouted: String = sqlx::query_scalar("select shout('a')")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(shouted, "A");
        assert_eq!(stored(db.pool(), "a").await, "a.");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static OPTIONS_CHANGED: Database = Database::function("options changed v1", counted);

/// Changes that keep every object, its id and its columns' types, but not a column's
/// collation or grants, a table's owner or a sequence's options, are told too.
#[testbed::test]
async fn a_tests_change_to_a_collation_owner_grant_or_sequence_option_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "alter sequence counted_id_seq increment by 10",
        r#"alter table counted alter column body type text collate "C""#,
        "alter table counted owner to pg_database_owner",
        "grant select (body) on counted to public",
    ] {
        let (scope, db) = next_after_a_change(&OPTIONS_CHANGED, change).await;
        let ids: Vec<i32> =
            sqlx::query_scalar("insert into counted (body) values ('a'), ('b') returning id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(ids, [1, 2], "after `{change}`");
        let collated = "select count(*) from pg_attribute \
                        where attrelid = 'counted'::regclass \
                          and attcollation = (select oid from pg_collation where collname = 'C')";
        assert_eq!(count(db.pool(), collated).await, 0, "after `{change}`");
        let owned_or_granted = "select count(*) from pg_class c \
                                join pg_attribute a on a.attrelid = c.oid \
                                where c.relname = 'counted' and (a.attacl is not null \
                                  or c.relowner = 'pg_database_owner'::regrole)";
        assert_eq!(
            count(db.pool(), owned_or_granted).await,
            0,
            "after `{change}`"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// A partitioned table with two partitions, a table another inherits from, and one
/// that could.
fn inheriting(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table events (at int not null, body text) partition by range (at);
         create table events_low partition of events for values from (0) to (100);
         create table events_high partition of events for values from (100) to (200);
         create table base (id int);
         create table derived (extra int) inherits (base);
         create table loner (id int);",
    )
}

static INHERITANCE_CHANGED: Database = Database::function("inheritance changed v1", inheriting);

/// A test that detaches a partition of the template's, changes which of its tables
/// inherit, or grants on a schema (by name or by default), gets its database dropped:
/// the next test's queries see the template's tables, and its grants.
#[testbed::test]
async fn a_tests_change_to_inheritance_or_schema_grants_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "alter table events detach partition events_high",
        "alter table derived no inherit base",
        "alter table loner inherit base",
        "grant create on schema public to public",
        "alter default privileges grant select on tables to public",
    ] {
        let (scope, db) = next_after_a_change(&INHERITANCE_CHANGED, change).await;
        sqlx::raw_sql(
            "insert into events values (150, 'high');
             insert into derived values (1, 2);
             insert into loner values (3);",
        )
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("after `{change}`: {e}"));
        let inherited = "select count(*) from base where id = 1";
        assert_eq!(count(db.pool(), inherited).await, 1, "after `{change}`");
        let not_inherited = "select count(*) from base where id = 3";
        assert_eq!(count(db.pool(), not_inherited).await, 0, "after `{change}`");
        let public_creates = "select count(*) from pg_namespace, aclexplode(nspacl) acl \
                              where nspname = 'public' and acl.grantee = 0 \
                                and acl.privilege_type = 'CREATE'";
        assert_eq!(
            count(db.pool(), public_creates).await,
            0,
            "after `{change}`"
        );
        let defaults = "select count(*) from pg_default_acl";
        assert_eq!(count(db.pool(), defaults).await, 0, "after `{change}`");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static PARTITIONS_ADDED: Database = Database::function("partitions added v1", inheriting);

/// Partitions, inheriting tables, operators, casts, event triggers and large objects a
/// test adds are dropped with its other additions, an event trigger that refuses every
/// drop first: the next test gets the template's schema, on the same database.
#[testbed::test]
async fn a_tests_partitions_operators_event_triggers_and_large_objects_are_undone() {
    require_postgres().await;
    let name = run_in_a_test(
        &PARTITIONS_ADDED,
        Backend::Postgres,
        "create table events_more partition of events for values from (200) to (300);
         create table more_derived () inherits (base);
         create function same(a int, b int) returns bool language sql as 'select a = b';
         create operator === (leftarg = int, rightarg = int, function = same);
         create type mood as enum ('ok');
         create cast (mood as int) with inout;
         select lo_from_bytea(0, 'left behind');
         create function refuse() returns event_trigger language plpgsql
           as $$ begin raise exception 'no drops'; end $$;
         create event trigger refuse_drops on sql_drop execute function refuse();",
    )
    .await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = PARTITIONS_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    let left = [
        (
            "the template's partitions",
            "pg_inherits where inhparent = 'events'::regclass",
            2,
        ),
        (
            "the template's child",
            "pg_inherits where inhparent = 'base'::regclass",
            1,
        ),
        ("operators", "pg_operator where oprname = '==='", 0),
        ("casts", "pg_cast where oid >= 16384", 0),
        ("large objects", "pg_largeobject_metadata", 0),
        ("event triggers", "pg_event_trigger", 0),
    ];
    for (what, rows, expected) in left {
        let sql = format!("select count(*) from {rows}");
        assert_eq!(count(db.pool(), &sql).await, expected, "{what}");
    }
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table, and settings of the database made by its migrations, as an application's
/// migrations make them: for every session, and for one role's.
fn configured(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        r#"create table things (id int);
           do $$ begin
             execute format('alter database %I set work_mem to %L',
                            current_database(), '7MB');
             execute format('alter database %I set "app.greeting" to %L',
                            current_database(), 'hi');
             execute format('alter database %I set search_path to "$user", public, extra',
                            current_database());
             execute format('alter role %I in database %I set "app.role_greeting" to %L',
                            current_user, current_database(), 'hello');
           end $$;"#,
    )
}

/// The settings a session on a test's database starts with.
async fn settings(pool: &sqlx::PgPool) -> Vec<Option<String>> {
    sqlx::query_scalar(
        "select unnest(array[current_setting('work_mem'), current_setting('app.greeting', true),
                             current_setting('search_path'),
                             current_setting('app.role_greeting', true),
                             current_setting('app.extra', true)])",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// What [`settings`] gives on a database made by [`configured`].
fn configured_settings() -> Vec<Option<String>> {
    ["7MB", "hi", r#""$user", public, extra"#, "hello"]
        .into_iter()
        .map(|setting| Some(setting.to_owned()))
        .chain([None])
        .collect()
}

static CONFIGURED: Database = Database::function("configured v2", configured);
static CONFIGURED_CLONES: Database =
    Database::function("configured v2", configured).isolation(testbed_db::Isolation::Clone);

/// Settings a template's migrations gave its database (`ALTER DATABASE ... SET`), which
/// `CREATE DATABASE` does not copy, reach every test's database, cloned for it or
/// pooled.
#[testbed::test]
async fn a_templates_database_settings_reach_its_tests() {
    require_postgres().await;
    for (database, strategy) in [
        (&CONFIGURED, "recycled"),
        (&CONFIGURED, "recycled again"),
        (&CONFIGURED_CLONES, "cloned"),
    ] {
        let scope = Scope::new(strategy);
        let db = database.postgres(&scope).await.unwrap();
        assert_eq!(
            settings(db.pool()).await,
            configured_settings(),
            "{strategy}"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static SETTINGS_CHANGED: Database = Database::function("settings changed v2", configured);
static SETTINGS_ADDED: Database = Database::function("settings added v1", configured);

/// A test that changes a setting of its database's gets the database dropped; one that
/// adds one gets it undone, on the same database. The next test starts with the
/// template's settings either way. (Each case has a template of its own: a dropped
/// database's replacement would be a second pooled one.)
#[testbed::test]
async fn a_tests_database_settings_are_not_handed_on() {
    require_postgres().await;
    let change = r#"do $$ begin
                      execute format('alter database %I set "app.greeting" to %L',
                                     current_database(), 'changed');
                    end $$"#;
    let name = run_in_a_test(&SETTINGS_CHANGED, Backend::Postgres, change).await;
    assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    let addition = r#"do $$ begin
                        execute format('alter database %I set "app.extra" to %L',
                                       current_database(), 'x');
                        execute format('alter role %I in database %I set "app.extra" to %L',
                                       current_user, current_database(), 'y');
                      end $$"#;
    let name = run_in_a_test(&SETTINGS_ADDED, Backend::Postgres, addition).await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = SETTINGS_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    // A session of its own: the pool's may have started before the addition.
    let fresh = sqlx::PgPool::connect_with(db.pool().connect_options().as_ref().clone())
        .await
        .unwrap();
    assert_eq!(settings(&fresh).await, configured_settings());
    fresh.close().await;
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table, and a grant on the database itself, which a clone does not get from its
/// template (as with its settings before `marks::mark`, `CREATE DATABASE` copies no
/// database grant).
fn granting(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table notes (body text);
         do $$ begin
           execute format('grant create on database %I to public', current_database());
         end $$;",
    )
}

static GRANTED: Database = Database::function("granted v1", granting);

/// The grants, connection limit and comment of the database a session is on.
async fn database_access(pool: &sqlx::PgPool) -> (Option<String>, i32, Option<String>) {
    sqlx::query_as(
        "select datacl::text, datconnlimit, shobj_description(oid, 'pg_database')
           from pg_database where datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A test that grants on its database, revokes, sets its connection limit or comments
/// on it gets the database dropped: the next test would find it as no new database is
/// (and without testbed's comment, no claimer would take it again, nor any prune drop
/// it). A template's own grant, which its clones do not have, is not taken for a test's
/// change.
#[testbed::test]
async fn a_tests_grants_limit_or_comment_on_its_database_are_not_handed_on() {
    require_postgres().await;
    let name = run_in_a_test(
        &GRANTED,
        Backend::Postgres,
        "insert into notes values ('x')",
    )
    .await;
    assert!(
        exists(&name).await,
        "{name} was dropped after a test that only wrote rows"
    );
    for change in [
        "grant create on database %I to public",
        "revoke connect on database %I from public",
        "alter database %I connection limit 50",
        "comment on database %I is ''mine''",
        "comment on database %I is null",
    ] {
        let statement =
            format!("do $$ begin execute format('{change}', current_database()); end $$");
        let (scope, db) = next_after_a_change(&GRANTED, &statement).await;
        assert_eq!(
            database_access(db.pool()).await,
            (None, -1, Some("testbed pool v2".to_owned())),
            "after `{change}`"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// An application's tables in a schema of their own, found through the search path its
/// migrations set for the database, beside a table in `public` that references one.
fn in_app_schema(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create schema app;
         create table app.things (id int primary key);
         insert into app.things values (1);
         create table public.notes (id serial primary key,
                                    thing int references app.things, body text);
         do $$ begin
           execute format('alter database %I set search_path to app', current_database());
         end $$;",
    )
}

static OWN_SEARCH_PATH: Database = Database::function("own search path v1", in_app_schema);

/// A database whose search path leaves out `public` (set by its migrations, so every
/// session on a clone starts with it) is still reset and undone in place: testbed's own
/// statements name every table with its schema.
#[testbed::test]
async fn a_database_with_its_own_search_path_is_reset_and_undone_in_place() {
    require_postgres().await;
    let scope = Scope::new("writes");
    let db = OWN_SEARCH_PATH.postgres(&scope).await.unwrap();
    let path: String = sqlx::query_scalar("select current_setting('search_path')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(path, "app");
    sqlx::raw_sql(
        "insert into things values (2);
         insert into public.notes (thing, body) values (2, 'a');
         create table public.extra (id int);
         create table extra (id int);",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let name = db.name().to_owned();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not reset");
    let scope = Scope::new("after");
    let db = OWN_SEARCH_PATH.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(count(db.pool(), "select count(*) from things").await, 1);
    assert_eq!(
        count(db.pool(), "select count(*) from public.notes").await,
        0
    );
    let extra = "select count(*) from pg_class where relname = 'extra'";
    assert_eq!(count(db.pool(), extra).await, 0);
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table, a publication of it, and a foreign server with a foreign table, as an
/// application that replicates or reads another database has.
fn publishing(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create extension postgres_fdw;
         create server remote foreign data wrapper postgres_fdw options (host 'first');
         create foreign table remote_notes (body text) server remote;
         create table notes (body text);
         create table other (id int);
         create publication notes_out for table notes;",
    )
}

static PUBLISHING_ADDED: Database = Database::function("publishing added v1", publishing);
static PUBLISHING_CHANGED: Database = Database::function("publishing changed v1", publishing);

/// What the next test sees of publications and foreign servers: each publication with
/// its tables, each server with its options, each foreign table with its options.
async fn published(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('publication %s %s', p.pubname,
                       (select string_agg(r.prrelid::regclass::text, ',' order by 1)
                          from pg_publication_rel r where r.prpubid = p.oid))
           from pg_publication p
         union all
         select format('server %s %s', srvname, srvoptions) from pg_foreign_server
         union all
         select format('foreign table %s %s', ftrelid::regclass, ftoptions)
           from pg_foreign_table
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The template's publications and foreign servers, as [`published`] reads them.
fn as_published() -> Vec<String> {
    vec![
        "foreign table remote_notes ".to_owned(),
        "publication notes_out notes".to_owned(),
        "server remote {host=first}".to_owned(),
    ]
}

/// Publications, foreign servers and foreign tables a test adds are dropped with its
/// other additions (a table it made goes from a publication of the template's with the
/// table); one that changes the template's own gets its database dropped. Either way
/// the next test gets the template's.
#[testbed::test]
async fn a_tests_publications_and_foreign_servers_are_undone_or_not_handed_on() {
    require_postgres().await;
    let name = run_in_a_test(
        &PUBLISHING_ADDED,
        Backend::Postgres,
        "create publication extra for table other;
         create server second foreign data wrapper postgres_fdw;
         create foreign table more_remote (a int) server remote;
         create table mine (id int);
         alter publication notes_out add table mine;",
    )
    .await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after additions");
    let db = PUBLISHING_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(published(db.pool()).await, as_published());
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();

    for change in [
        "alter server remote options (set host 'second')",
        "alter publication notes_out add table other",
        "alter foreign table remote_notes options (add table_name 'elsewhere')",
        "drop publication notes_out",
    ] {
        let (scope, db) = next_after_a_change(&PUBLISHING_CHANGED, change).await;
        assert_eq!(
            published(db.pool()).await,
            as_published(),
            "after `{change}`"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// A table with extended statistics, a collation, and a text search dictionary and
/// configuration of its own, as an application with full-text search has; and a
/// schema whose name needs quoting.
fn searching(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table notes (body text, lang text);
         create schema \"App Data\";
         create table \"App Data\".kept (id int);
         create collation app_c (locale = 'C');
         create statistics notes_stats on body, lang from notes;
         create text search dictionary app_dict (template = simple);
         create text search configuration app_search (copy = simple);
         alter text search configuration app_search alter mapping for asciiword with app_dict;",
    )
}

static SEARCHING_ADDED: Database = Database::function("searching added v2", searching);
static SEARCHING_CHANGED: Database = Database::function("searching changed v2", searching);

/// What the next test sees of collations, extended statistics and text search objects
/// in `public`: each by name, a dictionary with its options, a configuration with the
/// dictionaries its `asciiword` tokens go through.
async fn search_objects(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('collation %s', collname) from pg_collation
          where collnamespace = 'public'::regnamespace
         union all
         select format('statistics %s on %s', stxname, stxrelid::regclass) from pg_statistic_ext
          where stxnamespace = 'public'::regnamespace
         union all
         select format('dictionary %s %s', dictname, dictinitoption) from pg_ts_dict
          where dictnamespace = 'public'::regnamespace
         union all
         select format('configuration %s %s', c.cfgname,
                       (select string_agg(m.mapdict::regdictionary::text, ',' order by m.mapseqno)
                          from pg_ts_config_map m
                          join ts_token_type('default') t on t.tokid = m.maptokentype
                         where m.mapcfg = c.oid and t.alias = 'asciiword'))
           from pg_ts_config c where c.cfgnamespace = 'public'::regnamespace
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The template's objects, as [`search_objects`] reads them.
fn as_searched() -> Vec<String> {
    vec![
        "collation app_c".to_owned(),
        "configuration app_search app_dict".to_owned(),
        "dictionary app_dict ".to_owned(),
        "statistics notes_stats on notes".to_owned(),
    ]
}

/// Collations, extended statistics, and text search configurations and dictionaries a
/// test adds are dropped with its other additions, so the next test can make them
/// again; one that changes the template's own gets its database dropped. Either way the
/// next test gets the template's.
#[testbed::test]
async fn a_tests_collations_statistics_and_text_search_objects_are_undone_or_not_handed_on() {
    require_postgres().await;
    let name = run_in_a_test(
        &SEARCHING_ADDED,
        Backend::Postgres,
        "create collation mine_c (locale = 'C');
         create collation \"App Data\".mine_c (locale = 'C');
         create table \"App Data\".mine (id int);
         create statistics mine_stats on lang, body from notes;
         create text search dictionary mine_dict (template = simple);
         create text search configuration mine_search (copy = app_search);",
    )
    .await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after additions");
    let db = SEARCHING_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(search_objects(db.pool()).await, as_searched());
    let quoted: Vec<String> = sqlx::query_scalar(
        "select format('%s %s', relname, relkind) from pg_class
          where relnamespace = '\"App Data\"'::regnamespace
         union all
         select 'collation ' || collname from pg_collation
          where collnamespace = '\"App Data\"'::regnamespace
         order by 1",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(quoted, ["kept r"], "in a schema whose name needs quoting");
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();

    for change in [
        "alter text search configuration app_search alter mapping for asciiword with simple",
        "alter text search dictionary app_dict (accept = false)",
        "alter collation app_c rename to other_c",
        "drop statistics notes_stats",
    ] {
        let (scope, db) = next_after_a_change(&SEARCHING_CHANGED, change).await;
        assert_eq!(
            search_objects(db.pool()).await,
            as_searched(),
            "after `{change}`"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}
