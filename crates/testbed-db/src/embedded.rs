//! What [`migrations!`](crate::migrations) and [`seeds!`](crate::seeds) put in the test
//! binary, turned into sqlx migrations; and the check that a binary run in its source
//! tree was not built before a migration was added.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::{Backend, SchemaLoadError};

/// A migrations directory read at compile time by [`migrations!`](crate::migrations).
#[doc(hidden)]
pub struct EmbeddedMigrations {
    /// The directory, absolute, as it was when the binary was built.
    pub dir: &'static str,
    /// The directory's own migrations first, then one set per backend subdirectory.
    pub sets: &'static [EmbeddedSet],
}

/// The migrations of the directory itself (`backend: None`) or of a backend's
/// subdirectory.
#[doc(hidden)]
pub struct EmbeddedSet {
    /// The backend whose subdirectory this is.
    pub backend: Option<Backend>,
    /// Its up migrations, by version.
    pub migrations: &'static [EmbeddedMigration],
}

/// One migration file, named as sqlx names it.
#[doc(hidden)]
pub struct EmbeddedMigration {
    /// The version its name starts with.
    pub version: i64,
    /// The rest of its name, `_` read as spaces.
    pub description: &'static str,
    /// Whether it is the `.up.sql` half of a pair.
    pub reversible: bool,
    /// Its file name.
    pub file: &'static str,
    /// Its contents.
    pub sql: &'static str,
    /// Its contents' SHA-384, as sqlx checksums them, computed when the binary was built.
    pub checksum: &'static [u8],
}

impl fmt::Debug for EmbeddedMigrations {
    // The SQL is left out: a `Database` is printed in test reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: usize = self.sets.iter().map(|set| set.migrations.len()).sum();
        f.debug_struct("EmbeddedMigrations")
            .field("dir", &self.dir)
            .field("files", &files)
            .finish()
    }
}

impl EmbeddedMigrations {
    /// The set `backend` uses (its subdirectory's, else the directory's own) and the
    /// directory it came from.
    fn set_for(&self, backend: Backend) -> (&EmbeddedSet, PathBuf) {
        let root = Path::new(self.dir);
        match self.sets.iter().find(|set| set.backend == Some(backend)) {
            Some(set) => (set, root.join(backend.name())),
            None => (&self.sets[0], root.to_owned()),
        }
    }

    /// The migrations `backend` runs, as a migrator, and each one's file for errors.
    pub(crate) fn migrator(
        &self,
        backend: Backend,
    ) -> Result<(Migrator, HashMap<i64, crate::script::Script>), SchemaLoadError> {
        let (set, dir) = self.set_for(backend);
        check_fresh(Path::new(self.dir), backend, set, &dir)?;
        let mut files = HashMap::new();
        let mut migrations = Vec::new();
        for embedded in set.migrations {
            let kind = if embedded.reversible {
                MigrationType::ReversibleUp
            } else {
                MigrationType::Simple
            };
            // Built field by field with the checksum the macro computed: `Migration::new`
            // would hash every file again at each process start (a millisecond or more
            // in a debug build, under a process-per-test runner on every test).
            migrations.push(Migration {
                version: embedded.version,
                description: Cow::Borrowed(embedded.description),
                migration_type: kind,
                sql: sqlx::SqlStr::from_static(embedded.sql),
                checksum: Cow::Borrowed(embedded.checksum),
                // As sqlx's `resolve` decides it.
                no_tx: embedded.sql.starts_with("-- no-transaction"),
            });
            files.insert(
                embedded.version,
                crate::script::Script {
                    path: dir.join(embedded.file),
                    sql: Cow::Borrowed(embedded.sql),
                },
            );
        }
        Ok((Migrator::with_migrations(migrations), files))
    }
}

/// When the binary runs where it was built and the directory is still there, fails if
/// the directory now holds a migration the binary lacks: cargo rebuilds when an embedded
/// file changes or disappears, but cannot know that one was added. Elsewhere (another
/// machine, an archive) there is nothing to compare with, and the embedded set is used.
fn check_fresh(
    root: &Path,
    backend: Backend,
    set: &EmbeddedSet,
    dir: &Path,
) -> Result<(), SchemaLoadError> {
    if !root.is_dir() {
        return Ok(());
    }
    let on_disk = root.join(backend.name());
    let on_disk = if on_disk.is_dir() {
        on_disk
    } else {
        root.into()
    };
    let embedded: BTreeSet<&str> = set.migrations.iter().map(|m| m.file).collect();
    let Ok(entries) = std::fs::read_dir(&on_disk) else {
        return Ok(());
    };
    let mut added: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| is_up_migration(name) && !embedded.contains(name.as_str()))
        .map(|name| on_disk.join(name))
        .collect();
    if on_disk != dir && added.is_empty() {
        // A backend subdirectory appeared since the build, holding no migration yet.
        added.push(on_disk);
    }
    added.sort();
    match added.into_iter().next() {
        Some(path) => Err(SchemaLoadError::StaleMigrations {
            path,
            dir: root.into(),
        }),
        None => Ok(()),
    }
}

/// The files the macro embeds: `<version>_<description>.sql` and `.up.sql`, as sqlx
/// reads names (a name of that shape with a bad version fails to compile, so is never
/// met here).
fn is_up_migration(name: &str) -> bool {
    name.split_once('_')
        .is_some_and(|(_, rest)| rest.ends_with(".sql") && !rest.ends_with(".down.sql"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: EmbeddedMigration = EmbeddedMigration {
        version: 1,
        description: "users",
        reversible: false,
        file: "0001_users.sql",
        sql: "create table users (id integer primary key);",
        // What the macro computes stands in for a checksum here: only a change matters.
        checksum: &[1; 48],
    };

    #[test]
    fn a_migration_added_after_the_build_is_named_with_a_hint() {
        let root = std::env::temp_dir().join(format!("testbed-db-stale-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("0001_users.sql"), FIRST.sql).unwrap();
        std::fs::write(root.join("README.md"), "not a migration").unwrap();
        std::fs::write(root.join("0001_users.down.sql"), "drop table users;").unwrap();
        let set = EmbeddedSet {
            backend: None,
            migrations: &[FIRST],
        };
        let fresh = check_fresh(&root, Backend::Sqlite, &set, &root);
        std::fs::write(
            root.join("0002_notes.sql"),
            "create table notes (body text);",
        )
        .unwrap();
        let stale = check_fresh(&root, Backend::Sqlite, &set, &root);
        std::fs::remove_dir_all(&root).unwrap();
        fresh.unwrap();
        let message = stale.unwrap_err().to_string();
        assert!(message.contains("0002_notes.sql"), "{message}");
        assert!(message.contains("hint:"), "{message}");
    }

    static BEFORE: EmbeddedMigrations = EmbeddedMigrations {
        dir: "/nonexistent/testbed-db/before",
        sets: &[EmbeddedSet {
            backend: None,
            migrations: &[FIRST],
        }],
    };
    static AFTER: EmbeddedMigrations = EmbeddedMigrations {
        dir: "/nonexistent/testbed-db/after",
        sets: &[EmbeddedSet {
            backend: None,
            migrations: &[EmbeddedMigration {
                sql: "create table users (id integer primary key, email text);",
                checksum: &[2; 48],
                ..FIRST
            }],
        }],
    };
    static POSTGRES_TOO: EmbeddedMigrations = EmbeddedMigrations {
        dir: "/nonexistent/testbed-db/before",
        sets: &[
            EmbeddedSet {
                backend: None,
                migrations: &[FIRST],
            },
            EmbeddedSet {
                backend: Some(Backend::Postgres),
                migrations: &[EmbeddedMigration {
                    sql: "create table users (id bigserial primary key);",
                    checksum: &[3; 48],
                    ..FIRST
                }],
            },
        ],
    };

    #[test]
    fn a_changed_migration_names_a_new_template_and_the_directory_does_not() {
        let name = |m: &'static EmbeddedMigrations, backend| {
            crate::Database::embedded(m).template_name(backend).unwrap()
        };
        assert_ne!(
            name(&BEFORE, Backend::Sqlite),
            name(&AFTER, Backend::Sqlite)
        );
        // Where the files were built from is not part of the name; what they hold is.
        let moved = EmbeddedMigrations {
            dir: "/nonexistent/testbed-db/moved",
            sets: BEFORE.sets,
        };
        let moved: &'static EmbeddedMigrations = Box::leak(Box::new(moved));
        assert_eq!(name(&BEFORE, Backend::Sqlite), name(moved, Backend::Sqlite));
    }

    #[test]
    fn a_backend_uses_its_own_subdirectory_when_there_is_one() {
        let name = |m: &'static EmbeddedMigrations, backend| {
            crate::Database::embedded(m).template_name(backend).unwrap()
        };
        assert_eq!(
            name(&BEFORE, Backend::MySql),
            name(&POSTGRES_TOO, Backend::MySql)
        );
        assert_ne!(
            name(&BEFORE, Backend::Postgres),
            name(&POSTGRES_TOO, Backend::Postgres)
        );
        let (set, dir) = POSTGRES_TOO.set_for(Backend::Postgres);
        assert_eq!(set.backend, Some(Backend::Postgres));
        assert_eq!(dir, Path::new("/nonexistent/testbed-db/before/postgres"));
    }

    #[test]
    fn elsewhere_the_embedded_set_is_used() {
        let set = EmbeddedSet {
            backend: None,
            migrations: &[FIRST],
        };
        let gone = Path::new("/nonexistent/testbed-db/migrations");
        check_fresh(gone, Backend::Postgres, &set, gone).unwrap();
    }
}
