//! The suite on postgres as `#[sqlx::test]`s.

use testbed_nextest_suite::{POSTGRES as DIALECT, TestResult, postgres as kinds};

macro_rules! case {
    ($kind:ident, $n:literal) => {
        #[sqlx::test(
            migrator = "crate::POSTGRES",
            fixtures(path = "../..", scripts("seeds"))
        )]
        async fn $kind(pool: sqlx::PgPool) -> TestResult {
            kinds::$kind(&pool, &DIALECT, $n, 3).await
        }
    };
}

testbed_nextest_suite::suite!(case);
