//! Helpers run in a child process of this test binary: to die mid-test, or to run with
//! an environment variable set (setting it here would race with other tests' threads).

use std::io::Write;
use std::process::{Command, Output};

use testbed::{Outcome, Scope};

use crate::child_process::only_in_child;
use crate::{SHOP, SHOP_CLONES};

/// Runs helper test `name` of this binary in a child with `env` set.
pub fn run(name: &str, env: &[(&str, &str)]) -> Output {
    command(name, env).output().expect("the child test runs")
}

/// The command that runs test `name` of this binary as a child, with `env` set.
pub fn command(name: &str, env: &[(&str, &str)]) -> Command {
    let mut command = crate::child_process::command(name);
    command.envs(env.iter().copied());
    command
}

/// Starts test `name` of this binary as a child, as [`run`] does, without waiting for it.
pub fn spawn(name: &str, env: &[(&str, &str)]) -> std::process::Child {
    command(name, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the child test starts")
}

/// The database name the child printed as `DATABASE <name>`.
pub fn printed_database(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.split_once("DATABASE ").map(|(_, name)| name.trim()))
        .unwrap_or_else(|| {
            panic!(
                "child printed no database: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_owned()
}

#[testbed::test]
#[ignore = "helper: run in a child process by `orphans_of_a_killed_run_are_pruned`"]
async fn child_dies_holding_a_postgres_database() {
    only_in_child("child_dies_holding_a_postgres_database");
    let scope = Scope::new("child");
    let db = SHOP_CLONES
        .try_postgres(&scope)
        .await
        .expect("postgres is up");
    println!("DATABASE {}", db.name());
    std::io::stdout().flush().unwrap();
    // Killed mid-test: no cleanup runs, no destructor.
    sigkill_self();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_failing_test_keeps_its_database_when_asked`"]
async fn child_fails_with_a_postgres_database() {
    only_in_child("child_fails_with_a_postgres_database");
    let scope = Scope::new("child");
    let db = SHOP.try_postgres(&scope).await.expect("postgres is up");
    println!("DATABASE {}", db.name());
    scope.finish_async(Outcome::Failed).await.unwrap();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_killed_runs_pooled_database_is_reset_by_its_next_user`"]
async fn child_dies_dirtying_a_pooled_database() {
    only_in_child("child_dies_dirtying_a_pooled_database");
    let scope = Scope::new("child");
    let db = crate::postgres::recycling::CRASHED
        .try_postgres(&scope)
        .await
        .expect("postgres is up");
    sqlx::query("insert into notes values ('left by a killed run')")
        .execute(db.pool())
        .await
        .unwrap();
    println!("DATABASE {}", db.name());
    std::io::stdout().flush().unwrap();
    sigkill_self();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_killed_runs_running_statement_is_ended_by_the_next_claimer`"]
async fn child_dies_with_a_statement_running() {
    only_in_child("child_dies_with_a_statement_running");
    let scope = Scope::new("child");
    let db = crate::postgres::recycling::STRAGGLER
        .try_postgres(&scope)
        .await
        .expect("postgres is up");
    // A write that commits only after the process is gone: the server runs the
    // statement to its end whatever happens to its client.
    let mut conn = db.pool().acquire().await.unwrap();
    sqlx::raw_sql(
        "set application_name = 'testbed-test-straggler';
         begin;
         insert into notes values ('committed after its process died')",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = sqlx::raw_sql("select pg_sleep(4); commit")
            .execute(&mut *conn)
            .await;
    });
    // Until the server says it runs.
    let probe = sqlx::PgPool::connect(db.url().unwrap()).await.unwrap();
    for _ in 0..200 {
        let active: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where application_name = 'testbed-test-straggler' and state = 'active'",
        )
        .fetch_one(&probe)
        .await
        .unwrap();
        if active == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    println!("DATABASE {}", db.name());
    std::io::stdout().flush().unwrap();
    sigkill_self();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_killed_runs_pooled_database_gets_its_counters_back`"]
async fn child_dies_moving_mysql_counters() {
    only_in_child("child_dies_moving_mysql_counters");
    let scope = Scope::new("child");
    let db = crate::mysql::KILLED_COUNTERS
        .try_mysql(&scope)
        .await
        .expect("mysql is up");
    sqlx::query("insert into tags (name) values ('left by a killed run'), ('and another')")
        .execute(db.pool())
        .await
        .unwrap();
    println!("DATABASE {}", db.name());
    std::io::stdout().flush().unwrap();
    sigkill_self();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `mysql::a_killed_runs_running_statement_is_ended_by_the_next_claimer`"]
async fn child_dies_with_a_mysql_statement_running() {
    only_in_child("child_dies_with_a_mysql_statement_running");
    let scope = Scope::new("child");
    let db = crate::mysql::STRAGGLER
        .try_mysql(&scope)
        .await
        .expect("mysql is up");
    // An autocommitted write that lands only after the process is gone: the server runs
    // the statement to its end whatever happens to its client.
    let pool = db.pool().clone();
    tokio::spawn(async move {
        let _ = sqlx::query("insert into tags (name) select concat('late', sleep(4))")
            .execute(&pool)
            .await;
    });
    // Until the server says it runs.
    let probe = sqlx::MySqlPool::connect(db.url().unwrap()).await.unwrap();
    for _ in 0..200 {
        let running: i64 = sqlx::query_scalar(
            "select count(*) from information_schema.processlist
             where db = database() and info like 'insert into tags%'",
        )
        .fetch_one(&probe)
        .await
        .unwrap();
        if running == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    println!("DATABASE {}", db.name());
    std::io::stdout().flush().unwrap();
    sigkill_self();
}

/// Dies by SIGKILL, as a test process killed by a user or a runner's timeout does: no
/// cleanup, no destructor, no exit handler runs. `kill -9` on our own pid needs no
/// `unsafe`.
fn sigkill_self() -> ! {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    // The signal is delivered before `kill` returns; this is never reached.
    std::process::abort()
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_throwaway_cluster_serves_and_stops_when_unused`"]
async fn child_uses_the_throwaway_cluster() {
    only_in_child("child_uses_the_throwaway_cluster");
    let scope = Scope::new("child");
    let db = SHOP
        .try_postgres(&scope)
        .await
        .expect("a throwaway cluster");
    let (fsync, data): (String, String) =
        sqlx::query_as("select current_setting('fsync'), current_setting('data_directory')")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(db.pool())
        .await
        .unwrap();
    println!(
        "URL {} FSYNC {fsync} DATA {data} USERS {users}",
        db.url().unwrap()
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_failing_tests_sqlite_image_is_kept_when_asked`"]
async fn child_fails_with_an_sqlite_image() {
    only_in_child("child_fails_with_an_sqlite_image");
    let scope = Scope::new("child");
    let db = SHOP.sqlite(&scope).await.expect("sqlite");
    sqlx::query("insert into tags (name) values ('evidence')")
        .execute(db.pool())
        .await
        .unwrap();
    scope.finish_async(Outcome::Failed).await.unwrap();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `an_unavailable_server_skips_or_fails_when_required`"]
async fn child_needs_postgres(scope: &Scope) {
    only_in_child("child_needs_postgres");
    SHOP.postgres(scope).await.unwrap();
    println!("REACHED THE BODY");
}

#[testbed::test]
#[ignore = "helper: run in a child process by `a_half_built_mysql_template_is_rebuilt`"]
async fn child_uses_the_half_built_mysql_schema() {
    only_in_child("child_uses_the_half_built_mysql_schema");
    let scope = Scope::new("child");
    let db = crate::mysql::templates::HALF_BUILT
        .try_mysql(&scope)
        .await
        .expect("mysql is up");
    sqlx::query("insert into wanted values (1)")
        .execute(db.pool())
        .await
        .unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
#[ignore = "helper: run in a child process by `mysql::a_template_is_read_from_the_registry_and_recorded_when_it_is_not`"]
async fn child_checks_fresh_mysql_ids() {
    only_in_child("child_checks_fresh_mysql_ids");
    crate::mysql::resets::check_fresh_ids(&crate::mysql::UNRECORDED, 2).await;
}

// It starts the server again for the parent, which owns it and stops it: the server
// outlives this process by design, not a leak.
#[testbed::test(allow_leaks(children))]
#[ignore = "helper: run in a child process by `faults::a_postgres_server_lost_mid_run_fails_fast_then_is_used_again`"]
async fn child_loses_its_server() {
    only_in_child("child_loses_its_server");
    crate::faults::lose_the_server().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by `faults::a_postgres_server_lost_mid_run_fails_later_processes_of_the_run`"]
async fn child_acquires_once() {
    only_in_child("child_acquires_once");
    crate::faults::acquire_once().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by the `faults::a_frozen_*` tests"]
async fn child_freezes_its_server() {
    only_in_child("child_freezes_its_server");
    crate::faults::freeze_the_server().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by `faults::a_full_postgres_server_is_named_within_seconds`"]
async fn child_fills_its_server() {
    only_in_child("child_fills_its_server");
    crate::faults::fill_the_server().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by `roles::two_roles_share_a_server_each_with_its_own_databases`"]
async fn child_uses_every_strategy() {
    only_in_child("child_uses_every_strategy");
    crate::roles::use_every_strategy().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by the `a_*pool_grown_by_a_peak_shrinks_once_the_peak_is_past` tests"]
async fn child_holds_several_databases() {
    only_in_child("child_holds_several_databases");
    let count: usize = std::env::var("TESTBED_DB_HOLD").unwrap().parse().unwrap();
    let mysql = std::env::var("TESTBED_DB_BACKEND").is_ok_and(|backend| backend == "mysql");
    let scopes: Vec<Scope> = (0..count).map(|_| Scope::new("child")).collect();
    for scope in &scopes {
        if mysql {
            crate::mysql::resets::SHRINKING
                .try_mysql(scope)
                .await
                .map(drop)
        } else {
            crate::postgres::recycling::SHRINKING
                .try_postgres(scope)
                .await
                .map(drop)
        }
        .expect("the server is up");
    }
    for scope in scopes {
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

#[testbed::test]
#[ignore = "helper: run in a child process by `faults::a_template_left_invalid_by_a_cut_off_drop_is_rebuilt_and_pruned`"]
async fn child_meets_half_dropped_templates() {
    only_in_child("child_meets_half_dropped_templates");
    crate::faults::meet_half_dropped_templates().await;
}

#[testbed::test]
#[ignore = "helper: run in a child process by `faults::a_full_disk_during_a_clone_says_so`"]
async fn child_fills_its_disk() {
    only_in_child("child_fills_its_disk");
    crate::faults::fill_the_disk().await;
}
