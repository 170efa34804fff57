//! A test binary run without cargo (directly, or from a nextest archive elsewhere) finds
//! its embedded migrations and seeds; migrations read at run time do not.

use std::path::Path;
use std::process::{Command, Output};

use testbed::{EnvLock, Scope, TempDir};
use testbed_db::{Backend, Database, Seed};

use crate::SHOP;

/// Runs test `name` of this binary as a user would run the bare binary: from another
/// directory, with none of cargo's `CARGO_*` variables (`CARGO_MANIFEST_DIR` first).
/// Reads the environment: hold the `EnvLock`.
/// `helper` says whether `name` is a helper (see `child_process`) or an ordinary test.
fn run_without_cargo(name: &str, dir: &Path, helper: bool) -> Output {
    let mut command = if helper {
        crate::child_process::command(name)
    } else {
        let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
        command
            .args(["--exact", name, "--test-threads=1"])
            .env_remove(testbed::REQUIRE_ENV);
        command
    };
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CARGO") {
            command.env_remove(key);
        }
    }
    command.output().expect("the test binary runs")
}

fn printed(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[testbed::test]
fn a_test_binary_run_without_cargo_finds_its_embedded_migrations(dir: TempDir, _env: EnvLock) {
    // The SQLite test checks all 22 tables, the 12 applied migrations and the seed rows.
    let output = run_without_cargo(
        "every_backend::a_test_database_has_the_schema_and_the_seed_rows::sqlite",
        dir.path(),
        false,
    );
    let printed = printed(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains(" 1 passed"),
        "the test did not run: {printed}"
    );
}

/// Read at run time, so the same child cannot find it: proves the run above has no
/// source tree to fall back on.
static READ_AT_RUN_TIME: Database =
    Database::migrations("tests/schema").with_seeds(&[Seed::file("tests/seeds/base.sql")]);

#[testbed::test]
fn migrations_read_at_run_time_are_missing_without_cargo_and_say_how_to_embed(
    dir: TempDir,
    _env: EnvLock,
) {
    let name = "embedded::child_reads_migrations_at_run_time";
    let output = run_without_cargo(name, dir.path(), true);
    let printed = printed(&output);
    assert!(!output.status.success(), "{printed}");
    assert!(
        printed.contains("MISSING find migrations directory `tests/schema` (hint:"),
        "{printed}"
    );
    assert!(printed.contains("testbed_db::migrations!"), "{printed}");
}

#[testbed::test]
#[ignore = "helper: run without cargo by `migrations_read_at_run_time_are_missing_without_cargo_and_say_how_to_embed`"]
async fn child_reads_migrations_at_run_time() {
    crate::child_process::only_in_child("child_reads_migrations_at_run_time");
    let scope = Scope::new("child");
    let error = READ_AT_RUN_TIME.sqlite(&scope).await.unwrap_err();
    panic!("MISSING {error}");
}

#[testbed::test]
fn embedded_or_read_at_run_time_the_same_files_name_the_same_template(_env: EnvLock) {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    if !Path::new(&manifest).join("tests/schema").is_dir() {
        // Run from an archive without the source tree: nothing to read at run time.
        testbed::skip(
            "source tree",
            "no `tests/schema` under `CARGO_MANIFEST_DIR` (run from an archive elsewhere?)",
        );
    }
    for backend in Backend::ALL {
        assert_eq!(
            SHOP.template_name(backend).unwrap(),
            READ_AT_RUN_TIME.template_name(backend).unwrap(),
            "{backend}"
        );
    }
    let other_seeds = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/own_pool.sql"
    ]);
    assert_ne!(
        SHOP.template_name(Backend::Sqlite).unwrap(),
        other_seeds.template_name(Backend::Sqlite).unwrap(),
        "the seeds' contents are part of the hash"
    );
}
