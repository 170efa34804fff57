//! ORM connections to a test's own database, each behind its cargo features: sea-orm's
//! on the test's sqlx pool, diesel's and diesel-async's on its URL.

#[cfg(any(feature = "diesel-async-postgres", feature = "diesel-async-mysql"))]
mod diesel_async_conn;
#[cfg(any(
    feature = "diesel-sqlite",
    feature = "diesel-postgres",
    feature = "diesel-mysql"
))]
mod diesel_sync;
#[cfg(feature = "sea-orm")]
mod sea;
#[cfg(any(
    feature = "diesel-sqlite",
    feature = "diesel-postgres",
    feature = "diesel-mysql",
    feature = "diesel-async-postgres",
    feature = "diesel-async-mysql"
))]
mod url;
