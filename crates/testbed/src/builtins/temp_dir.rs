//! Temporary directories: a fresh directory per test, removed when the test passes and
//! kept, with its path in the report, when the test fails.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{BoxError, Fixture, Outcome, Scope};

/// The environment variable that overrides every [`TempDir`]'s [`KeepTemp`] policy:
/// `never`, `on-failure` or `always`.
pub const KEEP_TEMP_ENV: &str = "TESTBED_KEEP_TEMP";

/// When a [`TempDir`] is kept instead of removed at the end of its test.
///
/// ```
/// use testbed::{KeepTemp, Outcome};
///
/// assert!(KeepTemp::OnFailure.keeps(Outcome::Panicked));
/// assert!(!KeepTemp::OnFailure.keeps(Outcome::Passed));
/// assert_eq!("always".parse::<KeepTemp>().unwrap(), KeepTemp::Always);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepTemp {
    /// Always removed.
    Never,
    /// Kept when the test failed, panicked or timed out; removed when it passed or was
    /// skipped.
    #[default]
    OnFailure,
    /// Always kept.
    Always,
}

impl KeepTemp {
    /// Whether a directory is kept after a test that ended with `outcome`.
    pub fn keeps(self, outcome: Outcome) -> bool {
        match self {
            KeepTemp::Never => false,
            KeepTemp::OnFailure => outcome.is_failure(),
            KeepTemp::Always => true,
        }
    }

    /// The policy [`KEEP_TEMP_ENV`] asks for, if it is set.
    fn from_env() -> Result<Option<KeepTemp>, KeepTempParseError> {
        match std::env::var(KEEP_TEMP_ENV) {
            Ok(value) => value.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(value)) => Err(KeepTempParseError {
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }
}

impl FromStr for KeepTemp {
    type Err = KeepTempParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "never" => Ok(KeepTemp::Never),
            "on-failure" => Ok(KeepTemp::OnFailure),
            "always" => Ok(KeepTemp::Always),
            other => Err(KeepTempParseError {
                value: other.to_owned(),
            }),
        }
    }
}

/// A [`KeepTemp`] policy could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("parse keep policy `{value}` (hint: use `never`, `on-failure` or `always`)")]
pub struct KeepTempParseError {
    /// The text that is not a policy.
    pub value: String,
}

/// A [`TempDir`] could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TempDirSetupError {
    /// The directory could not be created.
    #[error("create a temporary directory in `{}`", parent.display())]
    Create {
        /// The directory it was to be created in.
        parent: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `TESTBED_KEEP_TEMP` holds a value that is not a policy.
    #[error(
        "read `{KEEP_TEMP_ENV}` (hint: set it to `never`, `on-failure` or `always`, or unset it)"
    )]
    KeepPolicy(#[source] KeepTempParseError),
}

/// A [`TempDir`] could not be removed at the end of its test: a cleanup error.
#[derive(Debug, thiserror::Error)]
#[error(
    "remove temporary directory `{}` (hint: the test may have left a read-only file, or a process still using it)",
    path.display()
)]
pub struct TempDirRemoveError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// A fresh, empty directory for one test.
///
/// It is removed when the test passes or is skipped, and kept when the test fails: its
/// path is then attached to the report as the detail `temp_dir` and printed on stderr,
/// so the files the test left can be inspected. [`TempDir::builder`] configures the
/// name prefix, the parent directory and the [`KeepTemp`] policy; the environment
/// variable `TESTBED_KEEP_TEMP` (`never`, `on-failure`, `always`) overrides the policy
/// of every directory, which helps when debugging a test that passes.
///
/// A directory that cannot be removed is a cleanup error of the test.
///
/// ```
/// use testbed::TempDir;
///
/// #[testbed::test]
/// fn writes_a_config(dir: TempDir) -> std::io::Result<()> {
///     let config = dir.path().join("app.toml");
///     std::fs::write(&config, "port = 8080")?;
///     assert_eq!(std::fs::read_to_string(config)?, "port = 8080");
///     Ok(())
/// }
/// ```
///
/// Driven by hand, the directory outlives a failed test:
///
/// ```
/// use testbed::{Fixture, Outcome, Scope, TempDir};
///
/// let scope = Scope::new("failing test");
/// let dir = TempDir::setup(&scope).unwrap();
/// scope.finish(Outcome::Failed).unwrap();
/// assert!(dir.path().is_dir());
/// assert_eq!(scope.details().snapshot()[0].0, "temp_dir");
/// # std::fs::remove_dir(dir.path()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A builder for a directory with another prefix, parent or keep policy.
    ///
    /// ```
    /// use testbed::{KeepTemp, Outcome, Scope, TempDir};
    ///
    /// let scope = Scope::new("builder example");
    /// let dir = TempDir::builder()
    ///     .prefix("uploads-")
    ///     .keep(KeepTemp::Never)
    ///     .setup(&scope)
    ///     .unwrap();
    /// assert!(dir.path().file_name().unwrap().to_str().unwrap().starts_with("uploads-"));
    /// scope.finish(Outcome::Passed).unwrap();
    /// assert!(!dir.path().exists());
    /// ```
    pub fn builder() -> TempDirBuilder {
        TempDirBuilder::default()
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Fixture for TempDir {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(TempDir::builder().setup(scope)?)
    }
}

/// Configures a [`TempDir`]; made by [`TempDir::builder`].
#[derive(Debug, Clone, Default)]
pub struct TempDirBuilder {
    prefix: Option<String>,
    parent: Option<PathBuf>,
    keep: KeepTemp,
}

impl TempDirBuilder {
    /// The start of the directory's name; by default `testbed-` and the test's name.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The directory to create it in; by default the system's temporary directory.
    pub fn in_dir(mut self, parent: impl Into<PathBuf>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// When to keep it; [`KeepTemp::OnFailure`] by default. `TESTBED_KEEP_TEMP`, when
    /// set, overrides this.
    pub fn keep(mut self, policy: KeepTemp) -> Self {
        self.keep = policy;
        self
    }

    /// Shorthand for [`keep`](Self::keep): [`KeepTemp::OnFailure`] or [`KeepTemp::Never`].
    pub fn keep_on_failure(self, keep: bool) -> Self {
        self.keep(if keep {
            KeepTemp::OnFailure
        } else {
            KeepTemp::Never
        })
    }

    /// Creates the directory and registers its removal in `scope`.
    pub fn setup(&self, scope: &Scope) -> Result<TempDir, TempDirSetupError> {
        let policy = KeepTemp::from_env()
            .map_err(TempDirSetupError::KeepPolicy)?
            .unwrap_or(self.keep);
        let prefix = match &self.prefix {
            Some(prefix) => prefix.clone(),
            None => default_prefix(scope.test_name()),
        };
        let parent = self.parent.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .map_err(|source| TempDirSetupError::Create { parent, source })?;
        let path = dir.path().to_owned();
        let details = scope.details();
        let test = scope.test_name().to_owned();
        scope.add_cleanup(move |outcome: Outcome| {
            if !policy.keeps(outcome) {
                let path = dir.path().to_owned();
                return match dir.close() {
                    // The test removed it itself: what the cleanup wanted.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(TempDirRemoveError { path, source }),
                    Ok(()) => Ok(()),
                };
            }
            let kept = dir.keep();
            details.attach("temp_dir", kept.display().to_string());
            eprintln!(
                "testbed: kept temporary directory `{}` of test `{test}` ({outcome})",
                kept.display()
            );
            Ok(())
        });
        Ok(TempDir { path })
    }
}

/// `testbed-` and the test function's name, so a kept directory says whose it is.
fn default_prefix(test_name: &str) -> String {
    let function = test_name.rsplit("::").next().unwrap_or(test_name);
    let readable: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("testbed-{readable}-")
}
