//! The suite on sqlite as `#[sqlx::test]`s.

use testbed_nextest_suite::{SQLITE as DIALECT, TestResult, sqlite as kinds};

macro_rules! case {
    ($kind:ident, $n:literal) => {
        #[sqlx::test(migrator = "crate::SQLITE", fixtures(path = "../..", scripts("seeds")))]
        async fn $kind(pool: sqlx::SqlitePool) -> TestResult {
            kinds::$kind(&pool, &DIALECT, $n, 3).await
        }
    };
}

testbed_nextest_suite::suite!(case);
