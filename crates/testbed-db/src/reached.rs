//! Whether a server was reached earlier in this run: a server that answered and then
//! stopped is an error (the run lost it), never a skip (it was never there).
//!
//! Within one process the server's cache knows. Under `cargo nextest run` every test is
//! a process of its own, so the first process of a run that reaches a server leaves an
//! empty file named after the server and the run's id (`NEXTEST_RUN_ID`), and a later
//! process of the same run that finds the server gone looks for it. Nothing is written
//! outside nextest; concurrent runs have files of their own; files older than a day are
//! removed when a run writes its own.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Backend;

/// The run id nextest gives every test process of one `cargo nextest run`.
const RUN_ID_ENV: &str = "NEXTEST_RUN_ID";

/// Whether this process runs under nextest, which gives every test a process of its
/// own: no next test will reuse what this one keeps.
#[cfg(feature = "postgres")]
pub(crate) fn under_nextest() -> bool {
    std::env::var_os(RUN_ID_ENV).is_some()
}

/// How long a run's record is kept.
const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

fn directory() -> PathBuf {
    testbed::resources::testbed_dir().join("reached")
}

/// This run's record for `backend`'s server at `redacted_url`, under nextest.
fn record(backend: Backend, redacted_url: &str) -> Option<PathBuf> {
    let run = std::env::var(RUN_ID_ENV).ok()?;
    let digest = Sha256::digest(redacted_url.as_bytes());
    let server = crate::owner::hex(&digest[..8]);
    let run: String = run
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Some(directory().join(format!("{}-{server}-{run}", backend.name())))
}

/// Notes that `backend`'s server at `redacted_url` answered, for this nextest run's
/// later processes. Best effort: a record that cannot be written costs only the
/// distinction between "lost" and "absent".
pub(crate) fn note(backend: Backend, redacted_url: &str) {
    let Some(path) = record(backend, redacted_url) else {
        return;
    };
    if path.exists() {
        return;
    }
    let _ = std::fs::create_dir_all(directory());
    if std::fs::write(&path, b"").is_ok() {
        remove_old();
    }
}

/// Whether `backend`'s server at `redacted_url` answered earlier in this nextest run.
pub(crate) fn earlier_in_this_run(backend: Backend, redacted_url: &str) -> bool {
    record(backend, redacted_url).is_some_and(|path| path.exists())
}

fn remove_old() {
    let Ok(entries) = std::fs::read_dir(directory()) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > KEPT_FOR);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
