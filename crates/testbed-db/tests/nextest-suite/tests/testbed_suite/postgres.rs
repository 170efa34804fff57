//! PostgreSQL, default isolation (`Recycle`).

use testbed::Scope;
use testbed_db::{Database, Isolation};
use testbed_nextest_suite::{POSTGRES as DIALECT, TestResult, postgres as kinds};

use testbed_nextest_suite::SCHEMA;
static DB: Database = SCHEMA.isolation(Isolation::Auto);
static MULTI: Database = SCHEMA.isolation(Isolation::Auto);

macro_rules! case {
    (connections, $n:literal) => {
        #[testbed::test]
        async fn connections(scope: &Scope) -> TestResult {
            let db = MULTI.postgres(scope).await?;
            kinds::connections(db.pool(), &DIALECT, $n, 3).await
        }
    };
    ($kind:ident, $n:literal) => {
        #[testbed::test]
        async fn $kind(scope: &Scope) -> TestResult {
            let db = DB.postgres(scope).await?;
            kinds::$kind(db.pool(), &DIALECT, $n, 1).await
        }
    };
}

testbed_nextest_suite::suite!(case);
