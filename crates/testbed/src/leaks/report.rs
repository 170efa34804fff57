//! How what a test left behind is worded: one line per leak (what it is, where it came
//! from when that is knowable, what was restored), the failure that lists them, the
//! warning for leaks that are only suspected, and the one-time notice of a check that
//! cannot run on this platform.

use std::fmt::Write as _;
use std::sync::Mutex;

use super::policy::{Category, LEAKS_ENV};
pub(super) use crate::core::emit;

/// One thing a test left behind.
#[derive(Debug, Clone)]
pub(super) struct Leak {
    pub(super) category: Category,
    /// What it is and where it came from: `thread `worker` (tid 12)`.
    pub(super) what: String,
    /// A child process's id, to kill and reap it.
    pub(super) pid: Option<i32>,
    /// What was done about it: `restored`, `killed and reaped`.
    pub(super) restored: Option<String>,
}

impl Leak {
    pub(super) fn new(category: Category, what: String) -> Leak {
        Leak {
            category,
            what,
            pid: None,
            restored: None,
        }
    }

    fn line(&self) -> String {
        match &self.restored {
            Some(done) => format!("{}: {}; {done}", self.category, self.what),
            None => format!("{}: {}", self.category, self.what),
        }
    }
}

/// The message of the failure a test's own leaks produce.
pub(super) fn failure(leaks: &[Leak]) -> String {
    let mut text = format!(
        "left {} behind (leak detection, {LEAKS_ENV}=fail):",
        count(leaks.len())
    );
    for leak in leaks {
        let _ = write!(text, "\n  - {}", leak.line());
    }
    let _ = write!(text, "\n(hint: {})", hint(leaks));
    text
}

/// The stderr lines for leaks under `TESTBED_LEAKS=warn`.
pub(super) fn warning(test: &str, leaks: &[Leak]) -> String {
    let mut text = format!(
        "testbed: warning: `{test}` left {} behind ({LEAKS_ENV}=warn, so it still passes):",
        count(leaks.len())
    );
    for leak in leaks {
        let _ = write!(text, "\n  - {}", leak.line());
    }
    let _ = write!(text, "\n(hint: {})", hint(leaks));
    text
}

/// How many overlapping tests a suspect warning names before counting the rest.
const SUSPECTS_NAMED: usize = 5;

/// The stderr lines for differences that cannot be pinned on `test`.
pub(super) fn suspected(test: &str, leaks: &[Leak], others: &[String], why: &str) -> String {
    let mut text = format!(
        "testbed: warning: {} appeared while `{test}` ran; not failing it: {why}",
        count(leaks.len())
    );
    if !others.is_empty() {
        let mut names: Vec<String> = others
            .iter()
            .take(SUSPECTS_NAMED)
            .map(|name| format!("`{name}`"))
            .collect();
        if others.len() > SUSPECTS_NAMED {
            names.push(format!("{} more", others.len() - SUSPECTS_NAMED));
        }
        let _ = write!(
            text,
            "; suspects: `{test}` and the tests that overlapped it: {}",
            names.join(", ")
        );
    }
    text.push(':');
    for leak in leaks {
        let _ = write!(text, "\n  - {}", leak.line());
    }
    text.push_str(
        "\n(hint: run with `cargo nextest run` (a process per test) or `--test-threads=1` \
         to pin leaks on the test that made them)",
    );
    text
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 leak".to_owned()
    } else {
        format!("{n} leaks")
    }
}

fn hint(leaks: &[Leak]) -> String {
    let mut categories: Vec<Category> = leaks.iter().map(|leak| leak.category).collect();
    categories.dedup();
    let names: Vec<&str> = categories.iter().map(|category| category.name()).collect();
    let mut ignore = Vec::new();
    if categories.contains(&Category::Threads) {
        ignore.push("`testbed::leaks::ignore_threads_named(\"<name prefix>\")`");
    }
    if categories.contains(&Category::Fds) || categories.contains(&Category::TempFiles) {
        ignore.push("`testbed::leaks::ignore_paths_under(\"<path>\")`");
    }
    if categories.contains(&Category::Env) {
        ignore.push("`testbed::leaks::ignore_env_vars(\"<name prefix>\")`");
    }
    let mut text = String::from(
        "release each before the test ends (join threads, close files, wait for children, \
         use the `EnvVars`/`CurrentDir`/`TempDir` fixtures",
    );
    if categories.contains(&Category::Overrides) {
        text.push_str(", override through the test's own scope or finish the scope you made");
    }
    if categories.contains(&Category::Handles) {
        text.push_str(", keep no clone of a handle in a `static`, thread or task");
    }
    text.push(')');
    let _ = write!(
        text,
        "; if it is meant to outlive the test, allow it with \
         `#[testbed::test(allow_leaks({}))]`",
        names.join(", ")
    );
    if !ignore.is_empty() {
        let _ = write!(
            text,
            " or declare it once where it starts with {}",
            ignore.join(" or ")
        );
    }
    let _ = write!(text, "; `{LEAKS_ENV}=warn` reports without failing");
    text
}

/// Says once per process, on stderr, that the check of `category` cannot run here.
pub(super) fn cannot_run(category: Category, why: &str) {
    static SAID: Mutex<u16> = Mutex::new(0);
    let mut said = SAID.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if *said & category.bit() == 0 {
        *said |= category.bit();
        emit(&format!(
            "testbed: leak check `{category}` cannot run here ({why}): {category} left \
             behind by tests go unnoticed in this process"
        ));
    }
}
