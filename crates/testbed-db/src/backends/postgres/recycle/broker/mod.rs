//! The broker: a process that outlives test processes and hands them clean pooled
//! databases, so that under a process-per-test runner (`cargo nextest run`) a test
//! process pays for one connection to its database and nothing else.
//!
//! Without it, each nextest process opens its own lease, claims a database in the
//! registry, opens its connections, and after its test resets the database on those
//! new, cold sessions (the costliest step: every table's catalog entries are read
//! again). The broker does all of that once, on warm sessions it keeps: a test process
//! sends the schema's hash over a Unix socket and gets a database name back; when its
//! socket closes (its test ended, or it was killed), the broker ends whatever the test
//! left running on the database and resets it for the next one, off every test's
//! clock. The broker claims its databases in the registry like any process, so
//! brokered and direct processes share one server safely.
//!
//! On by default under `cargo nextest run` (`TESTBED_PG_BROKER=0` turns it off), for
//! the default isolation and `Rollback`. It is the `cargo testbed db broker` command, which a test
//! process starts when none answers (found through `TESTBED_BROKER_BIN`, else
//! `cargo-testbed` on the `PATH`), through `--detach`; without that program, the test
//! binary itself, started again as a `testbed::helper` process. Either way it runs in a
//! process group of its own, with no handle on the test's output, and is not the test
//! process's child; one runs per
//! user, server and testbed-db version (an exclusive lock on a file beside its
//! socket), and it exits after [`IDLE_EXIT`](settings::IDLE_EXIT) without a client. A test process that
//! finds no broker, or any answer but a database, goes the direct way, so nothing
//! depends on it. If a broker dies while a test uses one of its databases, its claim
//! ends with its lease: another process may then take the database from under the
//! test.
//!
//! The test process then connects to its database through the broker's session pool
//! (`proxy`), a PostgreSQL socket in a directory beside the broker's, and gets server
//! sessions that earlier tests of the same database left warm; the database's URL
//! still names the server itself.
//!
//! The protocol, one line each way: `CLAIM 2 <schema hash>` answered by `OK <database>
//! <session pool directory>` (or `OK <database>` when the broker has no session pool)
//! or `NO <why>`; then `DONE` (or the socket closing), `UNTOUCHED` (a `Rollback` test
//! whose transaction was still open and is rolled back: only the sequences need
//! rewinding), or `KEEP` (a failing test under `TESTBED_KEEP_FAILED`) answered by
//! `KEPT`.

mod client;
mod proxy;
mod relay;
mod serve;
mod settings;
mod upstream;
mod wire;

pub(crate) use client::acquire;
pub use serve::serve;
pub(crate) use settings::enabled;
