//! diesel's migrations directory read as it is: one folder per migration,
//! `<version>_<name>/up.sql` (`down.sql` is never run), applied in version order, and
//! recorded in `__diesel_schema_migrations` as diesel's own runner records them, so a
//! test that calls diesel's `run_pending_migrations` finds nothing left to run.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use crate::SchemaLoadError;
use crate::script::Script;

/// diesel's table of applied migrations, as its runner creates it.
const DIESEL_TABLE: &str = "create table if not exists __diesel_schema_migrations (
    version varchar(50) primary key not null,
    run_on timestamp not null default current_timestamp
)";

/// What a diesel directory holds: its migrations for sqlx's migrator, their files by
/// version (for errors), and the versions diesel records.
pub(crate) type DieselMigrations = (Migrator, HashMap<i64, Script>, Vec<String>);

/// The migrations of diesel directory `dir`, their files, and the versions diesel
/// records (the folder name's leading part without its dashes, as diesel writes it).
pub(crate) fn read(dir: &Path) -> Result<DieselMigrations, SchemaLoadError> {
    let bad = |message: String| SchemaLoadError::BadMigrations {
        path: dir.into(),
        source: message.into(),
    };
    let entries = std::fs::read_dir(dir).map_err(|e| bad(e.to_string()))?;
    let mut folders: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let (mut migrations, mut files, mut versions) = (Vec::new(), HashMap::new(), Vec::new());
    for folder in folders {
        let name = folder.file_name().unwrap_or_default().to_string_lossy();
        let (version, description) = name.split_once('_').unwrap_or((&name, ""));
        let version = version.replace('-', "");
        let number: i64 = version.parse().map_err(|_| {
            bad(format!(
                "`{name}` is not a diesel migration folder (`<version>_<name>`, such as \
                 `2024-01-31-120000_create_users`)"
            ))
        })?;
        let up = folder.join("up.sql");
        let sql =
            std::fs::read_to_string(&up).map_err(|e| bad(format!("`{}`: {e}", up.display())))?;
        migrations.push(Migration::new(
            number,
            Cow::Owned(description.to_owned()),
            MigrationType::Simple,
            AssertSqlSafe(sql.clone()).into_sql_str(),
            false,
        ));
        files.insert(
            number,
            Script {
                path: up,
                sql: Cow::Owned(sql),
            },
        );
        versions.push(version);
    }
    Ok((Migrator::with_migrations(migrations), files, versions))
}

/// The statements that record `versions` as diesel's runner does.
pub(crate) fn record(versions: &[String]) -> String {
    let mut sql = format!("{DIESEL_TABLE};");
    for version in versions {
        sql.push_str(&format!(
            "insert into __diesel_schema_migrations (version) values ('{}');",
            version.replace('\'', "")
        ));
    }
    sql
}
