//! The broker's settings: whether it is on, its socket, its protocol version and how
//! long it outlives its last client.

use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that turns the broker off (`0`; on by default under nextest).
pub const BROKER_ENV: &str = "TESTBED_PG_BROKER";

/// The environment variable naming the `cargo-testbed` binary that serves as broker
/// (default: `cargo-testbed` on the `PATH`, else the test binary itself).
pub const BROKER_BIN_ENV: &str = "TESTBED_BROKER_BIN";

/// The protocol's version, part of every claim and of the socket's name.
pub(super) const PROTOCOL: u32 = 2;

/// How long a broker without a client waits before it exits.
pub(crate) const IDLE_EXIT: Duration = Duration::from_secs(10);

/// Whether this test process uses a broker: one process of a nextest run
/// (`NEXTEST_RUN_ID`), unless [`BROKER_ENV`] is `0`. Under `cargo test` the process's
/// own warm pool serves its next tests faster than a broker would (measured: 2.1 s
/// against 3.6 s for the generated suite), so it is kept.
pub(crate) fn enabled() -> bool {
    std::env::var(BROKER_ENV).map_or(true, |value| value.trim() != "0")
        && crate::reached::under_nextest()
}

/// The directory of the session pool socket of the broker serving on `socket`, beside
/// it; only its user may enter it.
pub(crate) fn session_pool_dir(socket: &std::path::Path) -> PathBuf {
    socket.with_extension("d")
}

/// The environment variable naming the broker's socket instead (one broker per CI job,
/// or a test of the broker that must not serve the rest of the run).
pub const BROKER_SOCKET_ENV: &str = "TESTBED_BROKER_SOCKET";

/// The broker's socket for the configured server: [`BROKER_SOCKET_ENV`], else under
/// testbed-db's directory in the temporary directory (a Unix socket's path must be
/// short; the leak checks leave testbed-db's directory alone), named after the user,
/// the server's URL, this version of testbed-db and its templates' layout
/// ([`LAYOUT`](crate::schema::LAYOUT)): a broker of another build of the same version
/// that reads templates another way (a fingerprint of other parts) would find every
/// database changed, and clone it again.
pub(crate) fn socket_path() -> PathBuf {
    if let Some(socket) = std::env::var_os(BROKER_SOCKET_ENV).filter(|s| !s.is_empty()) {
        return socket.into();
    }
    use sha2::{Digest, Sha256};
    let url = std::env::var(crate::backends::postgres::POSTGRES_URL_ENV).unwrap_or_default();
    let key = format!(
        "{url}\n{}\n{PROTOCOL}\n{}",
        env!("CARGO_PKG_VERSION"),
        crate::schema::LAYOUT
    );
    let digest = Sha256::digest(key.as_bytes());
    let uid = crate::backends::postgres::cluster::euid().unwrap_or_default();
    std::env::temp_dir()
        .join("testbed-db")
        .join("brokers")
        .join(format!(
            "broker-{uid}-{}.sock",
            crate::owner::hex(&digest[..8])
        ))
}
