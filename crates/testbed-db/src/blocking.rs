//! Databases for sync tests: [`block_on`] runs any async testbed-db (or sqlx) call from
//! synchronous code, on testbed-db's own runtime.

use std::future::Future;

/// Runs `future` to completion from a sync test, on testbed-db's own runtime, and
/// returns its output.
///
/// A sync test (`#[testbed::test] fn`, with diesel, rusqlite or any other synchronous
/// driver) gets the same databases as an async one, with the same isolation and the
/// same cleanup when the test ends: acquire through `block_on`, then hand the URL to the
/// sync driver, or keep using the sqlx pool through `block_on`. The pool's connections
/// belong to testbed-db's runtime, which lives as long as the process, so they keep
/// working after the call returns (a runtime of the test's own would close them with
/// it).
///
/// ```
/// use testbed_db::Database;
///
/// static DB: Database = Database::function("notes v1", |target| Box::pin(async move {
///     # #[cfg(feature = "sqlite")]
///     if let testbed_db::Target::Sqlite(conn) = target {
///         sqlx::raw_sql("create table notes (body text not null)").execute(conn).await?;
///     }
///     # let _ = target;
///     Ok(())
/// }));
///
/// # #[cfg(feature = "sqlite")]
/// #[testbed::test]
/// fn stores_a_note(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
///     let db = testbed_db::block_on(DB.sqlite(scope))?;
///     testbed_db::block_on(sqlx::query("insert into notes values ('hi')").execute(db.pool()))?;
///     let count: i64 = testbed_db::block_on(
///         sqlx::query_scalar("select count(*) from notes").fetch_one(db.pool()),
///     )?;
///     assert_eq!(count, 1);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Panics
///
/// When called from async code (inside a tokio runtime), where it would block that
/// runtime's thread: `.await` the call there instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        panic!(
            "testbed_db::block_on was called from async code, where it would block the \
             runtime's thread (hint: `.await` the call instead; block_on is for sync tests)"
        );
    }
    crate::engine::handle().block_on(future)
}
