//! Where a test process's database time goes, for measuring: with `TESTBED_DB_TRACE`
//! set to a file, each step of getting and giving back a database appends one line,
//! `<pid> <step> <milliseconds>`. Off (one relaxed load per step) otherwise.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

/// The environment variable naming the file the steps are appended to.
pub(crate) const TRACE_ENV: &str = "TESTBED_DB_TRACE";

fn target() -> Option<&'static std::path::Path> {
    static TARGET: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    TARGET
        .get_or_init(|| std::env::var_os(TRACE_ENV).map(Into::into))
        .as_deref()
}

/// A step being timed; recorded by [`Step::end`].
pub(crate) struct Step {
    name: &'static str,
    started: Option<Instant>,
}

/// Starts timing step `name`.
pub(crate) fn step(name: &'static str) -> Step {
    Step {
        name,
        started: target().map(|_| Instant::now()),
    }
}

impl Step {
    /// Records the step's time, if tracing is on.
    pub(crate) fn end(self) {
        let (Some(started), Some(path)) = (self.started, target()) else {
            return;
        };
        let line = format!(
            "{} {} {:.3}\n",
            std::process::id(),
            self.name,
            started.elapsed().as_secs_f64() * 1000.0
        );
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
}
