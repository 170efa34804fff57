//! The floor: the suite's 200 test names with no database at all (an async
//! `#[testbed::test]` that returns at once), in the same binary. What these cost is a
//! test process's own price (start, runtime, testbed's runner, exit) under each runner;
//! the rest of a database test's time is its database and its body.

use testbed_nextest_suite::TestResult;

macro_rules! case {
    ($kind:ident, $n:literal) => {
        #[testbed::test]
        async fn $kind() -> TestResult {
            Ok(())
        }
    };
}

testbed_nextest_suite::suite!(case);
