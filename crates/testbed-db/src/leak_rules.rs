//! What testbed-db keeps across tests on purpose, declared once to testbed's leak checks
//! so they never report it: the engine's runtime (its `testbed-db` threads and their
//! descriptors), the connections to each server it reaches (admin pools, leases and
//! warm databases live for the run), and its files (SQLite templates and copies, lock
//! files) under its directories. A test's own leaks stay reported; what testbed-db holds
//! for a test is its own check's concern, not these.

use std::net::ToSocketAddrs;
use std::path::Path;

/// Starts the engine's runtime with its threads and descriptors left out of reports,
/// and declares testbed-db's directories.
pub(crate) fn engine<T>(start: impl FnOnce() -> T) -> T {
    testbed::leaks::ignore_threads_named("testbed-db");
    let temp = std::env::temp_dir();
    testbed::leaks::ignore_paths_under(temp.join("testbed-db"));
    testbed::leaks::ignore_paths_under(Path::new("/dev/shm").join("testbed-db"));
    if let Some(dir) = std::env::var_os("TESTBED_SQLITE_DIR") {
        testbed::leaks::ignore_paths_under(dir);
    }
    testbed::leaks::long_lived(start)
}

/// Declares the connections to the server at `url` (`postgres://`, `mysql://`) long-lived:
/// testbed-db keeps pools to it for the whole run.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn server(url: &str) {
    let Ok(url) = url::Url::parse(url) else {
        return;
    };
    let Some(host) = url.host_str() else {
        return;
    };
    let port = url.port().unwrap_or(match url.scheme() {
        "mysql" | "mariadb" => 3306,
        _ => 5432,
    });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(addresses) = (host, port).to_socket_addrs() {
        for address in addresses {
            testbed::leaks::ignore_connections_to(address);
        }
    }
}
