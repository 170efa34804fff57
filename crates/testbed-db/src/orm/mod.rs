//! ORM connections to a test's own database, each behind its cargo features: sea-orm's
//! on the test's sqlx pool, diesel's and diesel-async's on its URL.

#[cfg(feature = "__diesel-async")]
mod diesel_async_conn;
#[cfg(feature = "__diesel-sync")]
mod diesel_sync;
#[cfg(feature = "sea-orm")]
mod sea;
#[cfg(feature = "__diesel")]
mod url;
