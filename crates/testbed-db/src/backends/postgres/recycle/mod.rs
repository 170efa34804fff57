//! Recycling (PostgreSQL's default isolation): a pool of clones per template, shared by
//! every process, each handed from test to test.
//!
//! A clone from a template costs tens to hundreds of milliseconds on a disk-backed
//! server, so each test's database is reused. After the test, in its cleanup, one round
//! trip checks the schema fingerprint and, if the test left the schema alone, deletes
//! every row and restores the template's rows and sequences; the database is then
//! recorded clean in the registry's ledger. A test that changed the schema gets its
//! database dropped. The reset is done by the test that dirtied the database, before
//! its process can exit, so a process-per-test runner hands clean databases on: the
//! next process claims one and uses it as it is. The hand-over rules, and what a
//! claimer does with a database whose holder died, are in `ledger`.
//!
//! With `Rollback`, the test's pool has one connection inside a transaction rolled
//! back after the test; if the transaction was still open, nothing needs resetting, and
//! the session stays with the database for this process's next `Rollback` test (see
//! `rollback`).

mod acquire;
pub(crate) mod broker;
mod ledger;
mod returned;
mod rollback;
mod session;
mod warm;

pub(crate) use acquire::acquire;
use acquire::claim_ready;
