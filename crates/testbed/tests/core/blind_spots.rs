//! What a mutation run of the core found no test for (issue 11): each test here fails if
//! the function it names is replaced by a constant.

use testbed::{Detail, Details, Outcome, Scope, Unavailable};

/// `Scope::finish_async` runs the async cleanups, last first, and reports their
/// failures: replaced by `Ok(())` it would run none.
#[tokio::test]
async fn finish_async_runs_the_async_cleanups_and_reports_their_failures() {
    let scope = Scope::new("finish async");
    let ran = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for name in ["first", "second"] {
        let ran = ran.clone();
        scope.add_async_cleanup(move |outcome: Outcome| async move {
            ran.lock().unwrap().push(format!("{name} saw {outcome}"));
        });
    }
    scope.add_async_cleanup(|_| async { Err::<(), _>("the last cleanup failed") });
    let report = scope
        .finish_async(Outcome::Passed)
        .await
        .expect_err("a failing cleanup fails the finish");
    assert!(!report.is_ok());
    assert!(
        report.to_string().contains("the last cleanup failed"),
        "{report}"
    );
    assert_eq!(
        *ran.lock().unwrap(),
        ["second saw passed", "first saw passed"]
    );
}

#[test]
fn a_report_is_ok_only_without_failures() {
    let scope = Scope::new("report");
    scope.add_cleanup(|_| Err::<(), _>("broken"));
    let report = scope.finish(Outcome::Passed).unwrap_err();
    assert!(!report.is_ok());
    assert_eq!(report.failures().len(), 1);
}

#[test]
fn an_unavailable_requirement_gives_its_reason() {
    let unavailable = Unavailable::new("postgres", "nothing listens on 127.0.0.1:5432");
    assert_eq!(unavailable.reason(), "nothing listens on 127.0.0.1:5432");
    assert_eq!(unavailable.requirement(), "postgres");
}

#[test]
fn details_are_empty_until_something_is_attached() {
    let details = Details::default();
    assert!(details.is_empty());
    details.attach("request", "GET /health");
    assert!(!details.is_empty());
}

/// Bytes that are not UTF-8 are shown as their length and the first 64 in hex, then
/// `...`.
#[test]
fn binary_details_show_their_first_64_bytes() {
    let long = Detail::from(vec![0xff_u8; 100]).to_string();
    assert!(long.starts_with("<100 bytes, not UTF-8> ff ff"), "{long}");
    assert_eq!(long.matches(" ff").count(), 64, "{long}");
    assert!(long.ends_with(" ..."), "{long}");
    let short = Detail::from(vec![0xff_u8; 3]).to_string();
    assert_eq!(short, "<3 bytes, not UTF-8> ff ff ff");
    // Exactly 64: all shown, so nothing is cut.
    let whole = Detail::from(vec![0xff_u8; 64]).to_string();
    assert_eq!(whole.matches(" ff").count(), 64, "{whole}");
    assert!(!whole.ends_with(" ..."), "{whole}");
}

/// A scope's `Debug` form names its test and how many cleanups wait.
#[test]
fn a_scope_shows_its_test_and_pending_cleanups() {
    let scope = testbed::Scope::new("debugged");
    scope.add_cleanup(|_| Ok::<(), testbed::BoxError>(()));
    let shown = format!("{scope:?}");
    assert!(shown.contains("\"debugged\""), "{shown}");
    assert!(shown.contains("pending_cleanups: 1"), "{shown}");
    scope.finish(testbed::Outcome::Passed).unwrap();
}
