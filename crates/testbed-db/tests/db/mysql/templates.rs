//! MySQL templates: a broken migration named in the error, a half-built template built
//! again, and a template's tables read from the registry, or recorded there when they
//! are not.

use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind};
use testbed_db::{Backend, Database};

use super::{UNRECORDED, admin_url, on_mysql, require_mysql};

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
