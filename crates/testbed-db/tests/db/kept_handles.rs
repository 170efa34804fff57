//! A test that keeps its `TestDb` past its end (in a `static`, here) fails with testbed's
//! leak report naming the database: the next test gets that database, and the kept
//! handle would reach into it. A connection kept past the test makes its database's
//! release wait for it, and say so.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use testbed::__private::{ShouldPanic, TestInfo, body_async, run_async};
use testbed::Scope;
use testbed::scenarios::Scenario;
use testbed_db::{AnyTestDb, Backend};

use crate::SHOP;

/// Where the leaking tests keep their handles (the scenarios run side by side).
static KEPT: Mutex<Vec<AnyTestDb>> = Mutex::new(Vec::new());

/// Runs a test, as `#[testbed::test]` would, that acquires a database on `backend`
/// (keeping a clone if `keep`); the report it failed with, if it failed.
fn run_nested(backend: Backend, keep: bool) -> Option<String> {
    let info = TestInfo {
        name: "db::kept_handles::nested",
        timeout: None,
        should_panic: ShouldPanic::No,
        allow_leaks: &[],
    };
    let failed = catch_unwind(AssertUnwindSafe(|| {
        run_async(&info, |scope: Scope| async move {
            body_async(&scope, async {
                let db = SHOP.acquire(&scope, backend).await.unwrap();
                if keep {
                    KEPT.lock().unwrap().push(db.clone());
                }
            })
            .await
        })
    }))
    .err()?;
    Some(match failed.downcast::<String>() {
        Ok(report) => *report,
        Err(_) => panic!("the runner panicked without a report"),
    })
}

#[testbed::test(scenarios(sqlite, postgres, mysql))]
fn a_test_db_kept_past_its_test_fails_it(scope: &Scope, scenario: Scenario) {
    let backend = scenario.value().parse::<Backend>().unwrap();
    // Skips here, with the reason, where the scenario's server is missing.
    drop(testbed_db::block_on(SHOP.for_scenario(scope)).unwrap());

    assert_eq!(
        run_nested(backend, false),
        None,
        "a dropped handle is no leak"
    );
    let report = run_nested(backend, true).expect("the kept handle fails the test");
    let kept = {
        let mut kept = KEPT.lock().unwrap();
        let at = kept.iter().position(|db| db.backend() == backend);
        kept.remove(at.expect("the test kept its handle"))
    };
    assert!(
        report.contains(&format!(
            "- handles: a `TestDb` of database `{}` ({}; testbed closed its pool when the \
             test ended, and the next test gets the database) still held after the test's \
             cleanups",
            kept.name(),
            scenario.value()
        )),
        "{report}"
    );
    assert!(report.contains("allow_leaks(handles)"), "{report}");
    // Whatever the policy, the kept handle cannot reach the next test through its pool.
    let closed = match &kept {
        AnyTestDb::Sqlite(db) => db.pool().is_closed(),
        AnyTestDb::Postgres(db) => db.pool().is_closed(),
        AnyTestDb::MySql(db) => db.pool().is_closed(),
        _ => unreachable!("every backend is built for these tests"),
    };
    assert!(closed, "the kept handle's pool is still open");
}

/// Helper: hands one connection of its database to a thread that drops it 6 s after the
/// test's body ended.
#[testbed::test]
#[ignore = "helper: run in a child process by its parent test below"]
async fn child_keeps_a_connection(scope: &Scope) {
    crate::child_process::only_in_child("child_keeps_a_connection");
    let db = SHOP.sqlite(scope).await.unwrap();
    let connection = db.pool().acquire().await.unwrap();
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(6));
        // Given back through the test's runtime, which its release keeps running.
        let _entered = runtime.enter();
        drop(connection);
    });
}

#[test]
fn a_connection_kept_past_its_test_is_named_while_its_release_waits() {
    let output = crate::child_process::command("kept_handles::child_keeps_a_connection")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("testbed-db: the release of sqlite database `testbed_")
            && stderr.contains(
                "has waited 5s for 1 connection(s) its test still holds after the test's \
                 cleanups"
            ),
        "{stderr}"
    );
}
