//! Running a test the way `#[testbed::test]` does, to look at the world afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};

use testbed::__private::{Step, TestInfo, body, run_sync};
use testbed::Scope;

/// Runs `test` through the generated runner with a body that panics after `test` ran,
/// and returns the report the runner panicked with.
pub fn run_panicking_test(name: &'static str, test: impl FnOnce(&Scope)) -> String {
    let info = TestInfo {
        name,
        timeout: None,
        should_panic: testbed::__private::ShouldPanic::No,
        allow_leaks: &[],
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_sync(&info, |scope| -> Step {
            body(scope, || -> () {
                test(scope);
                panic!("the body panicked on purpose");
            })
        })
    }));
    let payload = result.expect_err("the runner reports a panicking body by panicking");
    match payload.downcast::<String>() {
        Ok(report) => *report,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}
