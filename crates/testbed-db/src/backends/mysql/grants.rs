//! Grants a test made on its pooled MySQL database (`GRANT ... ON <db>.*`, on one of
//! its tables or columns): counted when the database is inspected after the test, and
//! revoked before it is reset or rebuilt. testbed never grants on a pooled database,
//! so every grant found there is a test's; and MySQL keeps a database's grants when
//! the database is dropped, so a rebuild alone would hand them on.

use sqlx::{AssertSqlSafe, MySqlConnection};

use super::server::{error_number, fail};
use crate::{Backend, ServerCallError};

/// How many grants on pooled database `name`, its tables and its columns there are.
fn count_expression(name: &str) -> String {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let count = |view: &str| {
        format!("(select count(*) from information_schema.{view} where table_schema = '{name}')")
    };
    format!(
        "cast({} + {} + {} as unsigned)",
        count("schema_privileges"),
        count("table_privileges"),
        count("column_privileges"),
    )
}

/// A row for the inspection's first result (tag, text, count): `grants`, with the
/// number of grants on pooled database `name` (see [`count_expression`]).
pub(super) fn count_select(name: &str) -> String {
    format!("select 'grants', '', {}", count_expression(name))
}

/// The statements that revoke every grant on pooled database `name` (see the module's
/// comment), each grant option after the privileges it came with: revoking every
/// privilege leaves the option, and revoking a table's takes its columns' with it.
fn revokes_select(name: &str) -> String {
    let on_tables = format!("concat('`{name}`.`', replace(table_name, '`', '``'), '`')");
    format!(
        "select statement from (
           select distinct 0 as step, concat('revoke all privileges on `{name}`.* from ', grantee)
                  as statement
             from information_schema.schema_privileges
            where table_schema = '{name}' and privilege_type <> 'USAGE'
           union
           select distinct 0, concat('revoke all privileges on ', {on_tables}, ' from ', grantee)
             from information_schema.table_privileges where table_schema = '{name}'
           union
           select distinct 0, concat('revoke all privileges on ', {on_tables}, ' from ', grantee)
             from information_schema.column_privileges where table_schema = '{name}'
           union
           select distinct 1, concat('revoke grant option on `{name}`.* from ', grantee)
             from information_schema.schema_privileges
            where table_schema = '{name}' and is_grantable = 'YES'
           union
           select distinct 1, concat('revoke grant option on ', {on_tables}, ' from ', grantee)
             from information_schema.table_privileges
            where table_schema = '{name}' and is_grantable = 'YES'
         ) revokes order by step"
    )
}

/// Revokes every grant on pooled database `name` (one of testbed's, held by the
/// caller), its tables and its columns, and checks that none is left.
pub(super) async fn revoke_all(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<(), ServerCallError> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let what = format!("revoke the grants a test made on `{name}`");
    let statements: Vec<String> = sqlx::query_scalar(AssertSqlSafe(revokes_select(name)))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(what.clone()))?;
    for statement in statements {
        match sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut *conn)
            .await
        {
            // Gone with a revoke before it (a grant option with its privileges).
            Err(error) if is_no_such_grant(&error) => {}
            Err(error) => return Err(fail(what.clone())(error)),
            Ok(_) => {}
        }
    }
    let left: u64 = sqlx::query_scalar(AssertSqlSafe(format!("select {}", count_expression(name))))
        .fetch_one(&mut *conn)
        .await
        .map_err(fail(what.clone()))?;
    if left > 0 {
        return Err(ServerCallError::failed(
            Backend::MySql,
            what,
            format!(
                "{left} grants are still there after revoking them; revoke them by hand \
                 (`SHOW GRANTS FOR <user>`), or give testbed's user the `GRANT OPTION` \
                 it needs to revoke them"
            ),
        ));
    }
    Ok(())
}

/// Whether `error` says there was no such grant to revoke (1141 on a database, 1147 on
/// a table).
fn is_no_such_grant(error: &sqlx::Error) -> bool {
    matches!(error_number(error), Some(1141 | 1147))
}
