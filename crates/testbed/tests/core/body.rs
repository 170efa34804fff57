//! Test bodies that return `Result`, and the attribute itself used in this suite.

use testbed::__private::{body, body_async};
use testbed::{BoxError, Fixture, Scope};

use crate::{Journal, REPORTED, run_async, run_sync};

#[test]
fn a_body_returning_ok_passes() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        scope.add_cleanup(journal.cleanup("cleanup"));
        body(scope, || Ok::<(), std::io::Error>(()))
    });
    assert_eq!(report, None);
    assert_eq!(journal.entries(), ["cleanup saw passed"]);
}

#[test]
fn a_body_returning_err_fails_with_the_errors_debug_form() {
    let report = run_sync(|scope| {
        body(scope, || {
            Err::<(), _>(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no `config.toml`",
            ))
        })
    })
    .expect("an error from the body fails the test");
    // `Debug`, as libtest prints an error returned from a test.
    assert_eq!(
        report,
        format!(
            "`{REPORTED}` test returned an error: Custom {{ kind: NotFound, error: \"no `config.toml`\" }}"
        )
    );
}

#[test]
fn an_async_body_returning_err_fails() {
    let report = run_async(None, |scope| async move {
        body_async(&scope, async { Err::<(), _>("async no") }).await
    })
    .expect("an error from the body fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` test returned an error: \"async no\"")
    );
}

/// Counts its setups in the test's details, to show the attribute set it up once.
struct Greeting(&'static str);

impl Fixture for Greeting {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.attach("greeting", "set up");
        Ok(Greeting("hello"))
    }
}

#[testbed::test]
fn the_attribute_sets_up_fixtures_and_passes_the_scope(
    greeting: Greeting,
    scope: &Scope,
) -> Result<(), String> {
    assert_eq!(greeting.0, "hello");
    assert_eq!(
        scope.test_name(),
        "body::the_attribute_sets_up_fixtures_and_passes_the_scope"
    );
    let names: Vec<String> = scope
        .details()
        .snapshot()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if names == ["greeting"] {
        Ok(())
    } else {
        Err(format!("expected one `greeting` detail, got {names:?}"))
    }
}

#[testbed::test(timeout = "30s")]
async fn the_attribute_runs_async_tests_on_a_runtime(greeting: Greeting) {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    assert_eq!(greeting.0, "hello");
}

#[testbed::test]
#[should_panic(
    expected = "failed with 2 errors:\n  1. test returned an error: \"body\"\n  2. cleanup"
)]
fn the_attribute_reports_body_and_cleanup_failures_in_one_panic(
    scope: &Scope,
) -> Result<(), &'static str> {
    scope.add_cleanup(|_| Err::<(), _>("cleanup"));
    Err("body")
}
