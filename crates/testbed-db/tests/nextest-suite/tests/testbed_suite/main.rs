//! The generated suite as `#[testbed::test]`s on testbed-db: one module per backend and
//! strategy, each [`testbed_nextest_suite::TESTS_PER_SUITE`] tests named
//! `<module>::<instance>::<kind>` (filter one with nextest's `-E 'test(/^postgres::/)'`),
//! and the same names with no database (`floor`), for what a test process costs alone.

mod floor;
mod mysql;
mod postgres;
mod postgres_rollback;
mod sqlite;
