//! The suite on mysql as `#[sqlx::test]`s.

use testbed_nextest_suite::{MYSQL as DIALECT, TestResult, mysql as kinds};

macro_rules! case {
    ($kind:ident, $n:literal) => {
        #[sqlx::test(migrator = "crate::MYSQL", fixtures(path = "../..", scripts("seeds")))]
        async fn $kind(pool: sqlx::MySqlPool) -> TestResult {
            kinds::$kind(&pool, &DIALECT, $n, 3).await
        }
    };
}

testbed_nextest_suite::suite!(case);
