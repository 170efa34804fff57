//! SQLite, default isolation (`Image`); the several-connections kind asks for
//! `Isolation::File`, as a test that wants a URL would.

use testbed::Scope;
use testbed_db::{Database, Isolation};
use testbed_nextest_suite::{SQLITE as DIALECT, TestResult, sqlite as kinds};

use testbed_nextest_suite::SCHEMA;
static DB: Database = SCHEMA.isolation(Isolation::Auto);
static MULTI: Database = SCHEMA.isolation(Isolation::File);

macro_rules! case {
    (connections, $n:literal) => {
        #[testbed::test]
        async fn connections(scope: &Scope) -> TestResult {
            let db = MULTI.sqlite(scope).await?;
            kinds::connections(db.pool(), &DIALECT, $n, 3).await
        }
    };
    ($kind:ident, $n:literal) => {
        #[testbed::test]
        async fn $kind(scope: &Scope) -> TestResult {
            let db = DB.sqlite(scope).await?;
            kinds::$kind(db.pool(), &DIALECT, $n, 1).await
        }
    };
}

testbed_nextest_suite::suite!(case);
