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
//! Opt-in (`TESTBED_PG_BROKER=1`), under `cargo nextest run`, for the default isolation
//! only. It is the
//! `cargo testbed db broker` command, which a test process starts when none answers
//! (found through `TESTBED_BROKER_BIN`, else `cargo-testbed` on the `PATH`), in a
//! process group of its own and with no handle on the test's output; one runs per
//! user, server and testbed-db version (an exclusive lock on a file beside its
//! socket), and it exits after [`IDLE_EXIT`] without a client. A test process that
//! finds no broker, or any answer but a database, goes the direct way, so nothing
//! depends on it. If a broker dies while a test uses one of its databases, its claim
//! ends with its lease: another process may then take the database from under the
//! test.
//!
//! The protocol, one line each way: `CLAIM 1 <schema hash>` answered by `OK <database>`
//! or `NO <why>`; then `DONE` (or the socket closing), or `KEEP` (a failing test under
//! `TESTBED_KEEP_FAILED`) answered by `KEPT`.

mod client;
mod serve;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use client::acquire;
pub use serve::serve;

/// The environment variable that turns the broker on (`1`).
pub const BROKER_ENV: &str = "TESTBED_PG_BROKER";

/// The environment variable naming the `cargo-testbed` binary that serves as broker.
pub const BROKER_BIN_ENV: &str = "TESTBED_BROKER_BIN";

/// The protocol's version, part of every claim and of the socket's name.
const PROTOCOL: u32 = 1;

/// How long a broker without a client waits before it exits.
pub(crate) const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Whether this test process uses a broker: asked for, and one process of a nextest
/// run (`NEXTEST_RUN_ID`). Under `cargo test` the process's own warm pool serves its
/// next tests faster than a broker would (measured: 2.1 s against 3.6 s for the
/// generated suite), so it is kept.
pub(crate) fn enabled() -> bool {
    std::env::var(BROKER_ENV).is_ok_and(|value| value == "1")
        && std::env::var_os("NEXTEST_RUN_ID").is_some()
}

/// The broker's socket for the configured server: in the temporary directory (a Unix
/// socket's path must be short), named after the user, the server's URL and this
/// version of testbed-db.
pub(crate) fn socket_path() -> PathBuf {
    use sha2::{Digest, Sha256};
    let url = std::env::var(super::super::POSTGRES_URL_ENV).unwrap_or_default();
    let key = format!("{url}\n{}\n{PROTOCOL}", env!("CARGO_PKG_VERSION"));
    let digest = Sha256::digest(key.as_bytes());
    let uid = super::super::cluster::euid().unwrap_or_default();
    std::env::temp_dir().join(format!(
        "testbed-broker-{uid}-{}.sock",
        crate::owner::hex(&digest[..8])
    ))
}
