//! The broker's settings: whether it is on, its socket, its protocol version and how
//! long it outlives its last client.

use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that turns the broker on (`1`).
pub const BROKER_ENV: &str = "TESTBED_PG_BROKER";

/// The environment variable naming the `cargo-testbed` binary that serves as broker.
pub const BROKER_BIN_ENV: &str = "TESTBED_BROKER_BIN";

/// The protocol's version, part of every claim and of the socket's name.
pub(super) const PROTOCOL: u32 = 1;

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
    let url = std::env::var(crate::backends::postgres::POSTGRES_URL_ENV).unwrap_or_default();
    let key = format!("{url}\n{}\n{PROTOCOL}", env!("CARGO_PKG_VERSION"));
    let digest = Sha256::digest(key.as_bytes());
    let uid = crate::backends::postgres::cluster::euid().unwrap_or_default();
    std::env::temp_dir().join(format!(
        "testbed-broker-{uid}-{}.sock",
        crate::owner::hex(&digest[..8])
    ))
}
