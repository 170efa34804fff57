//! The skip ledger: where a runtime skip is written under `cargo nextest run`, which has
//! no way for a test to say it skipped (it shows `PASS`), so that `cargo testbed skips`
//! can list, after the run, which tests were skipped and why.
//!
//! Under nextest (`NEXTEST_RUN_ID` set) every skip appends one line to
//! `<testbed dir>/skips/<run id>.tsv`: the test binary, the test, the missing requirement
//! and the reason, tab-separated. One `write` of a short line to a file opened for
//! appending, so concurrent test processes never interleave. Under `cargo test` nothing
//! is written: the `SKIPPED` line on stderr, and the harness's summary, show it there.
//! Ledgers older than a week are removed when a new run writes its first line.
//!
//! ```
//! // What `cargo testbed skips` does: the most recent run's skips, if any.
//! let dir = testbed::resources::testbed_dir();
//! if let Some(run) = testbed::skips::latest(&dir) {
//!     for skip in &run.skips {
//!         println!("{} {}: {}", skip.binary, skip.test, skip.reason);
//!     }
//! }
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::core::Unavailable;

/// The run id nextest gives each test process of one run.
const RUN_ID_ENV: &str = "NEXTEST_RUN_ID";

/// How long a run's ledger is kept.
const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// One test skipped at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The test binary, without cargo's hash suffix (`keystone_suite`, `db`).
    pub binary: String,
    /// The test's name as testbed knows it.
    pub test: String,
    /// What was missing (the name `TESTBED_REQUIRE` matches).
    pub requirement: String,
    /// Why, and how to provide it.
    pub reason: String,
}

/// The skips of one nextest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// nextest's run id.
    pub id: String,
    /// When its last skip was written.
    pub modified: SystemTime,
    /// Its skips, in the order they were written.
    pub skips: Vec<Skip>,
}

fn directory(testbed_dir: &Path) -> PathBuf {
    testbed_dir.join("skips")
}

/// Writes `test`'s skip to the ledger of the nextest run this process belongs to;
/// nothing outside nextest. Best effort: a ledger that cannot be written costs only the
/// listing (the skip is still printed on stderr).
pub(crate) fn record(test: &str, unavailable: &Unavailable) {
    let Ok(run) = std::env::var(RUN_ID_ENV) else {
        return;
    };
    let run: String = run
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let dir = directory(&crate::resources::testbed_dir());
    let path = dir.join(format!("{run}.tsv"));
    let first = !path.exists();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let fields = [
        binary_name(),
        test.to_owned(),
        unavailable.requirement().to_owned(),
        unavailable.reason().to_owned(),
    ];
    let line = fields.map(|field| escape(&field)).join("\t") + "\n";
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if written.is_ok() && first {
        remove_old(&dir);
    }
}

/// The running test binary's name, without cargo's `-<hash>` suffix.
fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rsplit_once('-') {
        Some((binary, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            binary.to_owned()
        }
        _ => name,
    }
}

fn escape(field: &str) -> String {
    field
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(field: &str) -> String {
    let mut text = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => text.push('\t'),
            Some('n') => text.push('\n'),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    text
}

fn remove_old(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
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

/// The skips of nextest run `id`, recorded under `testbed_dir` (see
/// [`testbed_dir`](crate::resources::testbed_dir)); `None` if it skipped nothing.
pub fn of_run(testbed_dir: &Path, id: &str) -> Option<Run> {
    let path = directory(testbed_dir).join(format!("{id}.tsv"));
    let text = std::fs::read_to_string(&path).ok()?;
    let modified = std::fs::metadata(&path)
        .and_then(|meta| meta.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let skips = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t').map(unescape);
            Some(Skip {
                binary: fields.next()?,
                test: fields.next()?,
                requirement: fields.next()?,
                reason: fields.next()?,
            })
        })
        .collect();
    Some(Run {
        id: id.to_owned(),
        modified,
        skips,
    })
}

/// The most recent nextest run that skipped something, recorded under `testbed_dir`.
pub fn latest(testbed_dir: &Path) -> Option<Run> {
    let entries = std::fs::read_dir(directory(testbed_dir)).ok()?;
    let newest = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".tsv")?.to_owned();
            let modified = entry.metadata().and_then(|meta| meta.modified()).ok()?;
            Some((modified, id))
        })
        .max()?;
    of_run(testbed_dir, &newest.1)
}

#[cfg(test)]
mod tests {
    use super::{escape, unescape};

    #[test]
    fn fields_survive_tabs_newlines_and_backslashes() {
        let field = "a\tb\nc\\d";
        assert_eq!(unescape(&escape(field)), field);
        assert!(!escape(field).contains(['\t', '\n']));
    }
}
