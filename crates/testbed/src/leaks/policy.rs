//! What leak detection does when it finds something (`TESTBED_LEAKS`), and the names of
//! the categories it checks, as `allow_leaks(...)` spells them.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A policy set in code, over the environment's: 0 for none (testbed's bench switches
/// the checks off and on in one process).
static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// Sets (or with `None`, clears) a policy that wins over [`LEAKS_ENV`]; not public API.
#[doc(hidden)]
pub fn override_policy(policy: Option<Policy>) {
    let code = match policy {
        None => 0,
        Some(Policy::Fail) => 1,
        Some(Policy::Warn) => 2,
        Some(Policy::Off) => 3,
    };
    OVERRIDE.store(code, Ordering::Relaxed);
}

/// The environment variable choosing the [`Policy`]: `fail` (the default), `warn` or
/// `off`.
///
/// ```
/// assert_eq!(testbed::leaks::LEAKS_ENV, "TESTBED_LEAKS");
/// ```
pub const LEAKS_ENV: &str = "TESTBED_LEAKS";

/// What a leak proven to be a test's own does to that test.
///
/// Leaks that cannot be pinned to one test (other tests ran at the same time in the same
/// process) are only ever reported on stderr, whatever the policy.
///
/// ```
/// use testbed::leaks::Policy;
///
/// assert_eq!(Policy::parse("warn"), Some(Policy::Warn));
/// assert_eq!(Policy::parse("sometimes"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The test fails with a report of what it left behind (the default).
    Fail,
    /// The report goes to stderr and the test keeps its result.
    Warn,
    /// Nothing is checked; the cost is one read of a cached value.
    Off,
}

impl Policy {
    /// Reads a value of [`LEAKS_ENV`]: `fail`, `warn` or `off` (any case, trimmed).
    pub fn parse(text: &str) -> Option<Policy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fail" => Some(Policy::Fail),
            "warn" => Some(Policy::Warn),
            "off" => Some(Policy::Off),
            _ => None,
        }
    }

    /// The policy of this process: [`LEAKS_ENV`] read once, [`Policy::Fail`] if unset.
    ///
    /// # Panics
    ///
    /// When the variable holds something else; the message names it and the values.
    ///
    /// ```
    /// let policy = testbed::leaks::Policy::current();
    /// println!("leak detection: {policy}");
    /// ```
    pub fn current() -> Policy {
        match OVERRIDE.load(Ordering::Relaxed) {
            1 => return Policy::Fail,
            2 => return Policy::Warn,
            3 => return Policy::Off,
            _ => {}
        }
        static POLICY: OnceLock<Result<Policy, String>> = OnceLock::new();
        let read = POLICY.get_or_init(|| match std::env::var(LEAKS_ENV) {
            Err(_) => Ok(Policy::Fail),
            Ok(text) if text.trim().is_empty() => Ok(Policy::Fail),
            Ok(text) => Policy::parse(&text).ok_or(text),
        });
        match read {
            Ok(policy) => *policy,
            Err(text) => panic!(
                "read {LEAKS_ENV}: `{text}` is not a leak policy (hint: set {LEAKS_ENV} to \
                 `fail`, `warn` or `off`, or unset it for `fail`)"
            ),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Fail => "fail",
            Policy::Warn => "warn",
            Policy::Off => "off",
        })
    }
}

/// One kind of thing a test can leave behind: each is one check, and the name
/// `#[testbed::test(allow_leaks(...))]` uses for it.
///
/// ```
/// use testbed::leaks::Category;
///
/// #[testbed::test(allow_leaks(threads, fds))]
/// fn starts_a_background_logger() {
///     // a thread and its log file, meant to outlive this test
/// }
///
/// assert_eq!(Category::TempFiles.name(), "temp_files");
/// # starts_a_background_logger();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// Environment variables changed without the `EnvVars` fixture.
    Env,
    /// The current directory changed without the `CurrentDir` fixture.
    Cwd,
    /// Threads still running.
    Threads,
    /// File descriptors still open.
    Fds,
    /// Child processes still running, or exited and never waited for.
    Children,
    /// Files and directories left at the top of the system temporary directory.
    TempFiles,
    /// Async tasks still alive on the test's own tokio runtime.
    Tasks,
    /// A `Global` override or `Registry` registration still in effect after the test's
    /// cleanups (made through a scope nobody finished).
    Overrides,
    /// Handles a library asked to see dropped by the test's end
    /// ([`expect_dropped`](super::expect_dropped)), such as testbed-db's `TestDb`.
    Handles,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 9] = [
        Category::Env,
        Category::Cwd,
        Category::Threads,
        Category::Fds,
        Category::Children,
        Category::TempFiles,
        Category::Tasks,
        Category::Overrides,
        Category::Handles,
    ];

    /// The name `allow_leaks(...)` and reports use.
    ///
    /// ```
    /// use testbed::leaks::Category;
    ///
    /// let names: Vec<&str> = Category::ALL.iter().map(|category| category.name()).collect();
    /// assert_eq!(
    ///     names,
    ///     ["env", "cwd", "threads", "fds", "children", "temp_files", "tasks", "overrides", "handles"]
    /// );
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Category::Env => "env",
            Category::Cwd => "cwd",
            Category::Threads => "threads",
            Category::Fds => "fds",
            Category::Children => "children",
            Category::TempFiles => "temp_files",
            Category::Tasks => "tasks",
            Category::Overrides => "overrides",
            Category::Handles => "handles",
        }
    }

    pub(crate) fn bit(self) -> u16 {
        1 << Category::ALL
            .iter()
            .position(|category| *category == self)
            .expect("every category is in ALL")
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
