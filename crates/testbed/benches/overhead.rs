//! What `#[testbed::test]` costs per test, next to a plain `#[test]` function call.
//!
//! Each case calls exactly what the attribute expands to (`testbed::__private::run_sync`
//! or `run_async` with a setup-and-body closure). Cases are interleaved within every
//! repetition so that frequency scaling and noisy neighbours hit them alike; the median
//! of the repetitions is reported. The leak checks run as the environment says (on by
//! default, as users get them). The last line is the headline:
//! `overhead per test: <N> ns (plain: <M> ns)` for a sync test with no fixtures.

use std::hint::black_box;
use std::time::Duration;

use testbed::__private::{Step, TestInfo, body, body_async, run_async, run_sync, setup};
use testbed::{BoxError, Fixture, Scope};

#[path = "support/interleaved.rs"]
mod interleaved;
use interleaved::Case;

const INFO: TestInfo = TestInfo {
    name: "overhead::bench",
    timeout: None,
    should_panic: testbed::__private::ShouldPanic::No,
    allow_leaks: &[],
};

/// The body every case runs: a small assertion, as in a typical fast unit test.
fn test_body() {
    let value = black_box(20_u64);
    assert_eq!(value + 22, 42);
}

/// A fixture with one cleanup, the smallest useful fixture.
struct OneCleanup(u64);

impl Fixture for OneCleanup {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(|outcome| {
            black_box(outcome);
        });
        Ok(OneCleanup(black_box(1)))
    }
}

fn plain() {
    // Called through a pointer, as libtest calls a `#[test]` function.
    let test: fn() = black_box(test_body);
    test();
}

fn no_fixture() {
    run_sync(&INFO, |scope: &Scope| -> Step { body(scope, test_body) });
}

fn one_fixture() {
    run_sync(&INFO, |scope: &Scope| -> Step {
        let fixture = setup::<OneCleanup>(scope)?;
        body(scope, move || {
            black_box(fixture.0);
            test_body()
        })
    });
}

fn async_no_fixture() {
    run_async(&INFO, |scope: Scope| async move {
        body_async(&scope, async { test_body() }).await
    });
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let repetitions = if quick { 5 } else { 31 };
    let mut cases = [
        Case::new("plain #[test] function call", 100_000, plain),
        Case::new("#[testbed::test], no fixture", 20_000, no_fixture),
        Case::new(
            "#[testbed::test], one fixture, one cleanup",
            20_000,
            one_fixture,
        ),
        Case::new("async #[testbed::test], no fixture", 500, async_no_fixture),
    ];
    let warm = Duration::from_millis(if quick { 50 } else { 300 });
    interleaved::measure(&mut cases, warm, repetitions);

    let plain = cases[0].median();
    println!("median of {repetitions} interleaved repetitions, per test:");
    for case in &cases {
        let median = case.median();
        println!(
            "  {:<44} {:>10.1} ns  (+{:.1} ns over plain, {:.1}x)",
            case.name,
            median,
            median - plain,
            median / plain.max(0.001)
        );
    }
    println!("  (the async case is dominated by building a current-thread tokio runtime per test)");
    println!(
        "  (leak checks {}: TESTBED_LEAKS=off leaves them out; `--bench leaks` breaks them down)",
        testbed::leaks::Policy::current()
    );
    let overhead = cases[1].median() - plain;
    println!(
        "overhead per test: {} ns (plain: {} ns)",
        overhead.round() as i64,
        plain.round() as i64
    );
}
