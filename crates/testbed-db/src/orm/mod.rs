//! ORM connections to a test's own database, each behind its cargo features: sea-orm's
//! on the test's sqlx pool.

#[cfg(feature = "sea-orm")]
mod sea;
