//! Helper processes: the test binary started again to do a job beside the tests (a
//! crate's server for the whole run, say) instead of running a test.
//!
//! A crate registers a [`HelperRole`] with [`helper_role!`](crate::helper_role!). From inside a test,
//! [`start_detached`] starts the test binary again, running the test's own name so the
//! runner is reached, with the role asked for in the environment: the runner then runs
//! the role instead of the test (no fixture, no body) and the process exits when the
//! role returns. The helper runs in a process group of its own, with no handle on the
//! test's output, and is not the test process's child: a runner that waits for a
//! test's output (nextest) or kills its process group does not wait for it or kill it,
//! and the leak checks do not see it. So a helper outlives the test process that
//! started it, which is what it is for under `cargo nextest run`, where every test is a
//! process of its own and nothing kept in one survives it.
//!
//! Only tests the runner runs (`#[testbed::test]`) can start a helper, and only roles
//! linked into the test binary can be asked for.

use std::process::{Command, Stdio};

use crate::Scope;

/// The environment variable asking a test binary for a helper role instead of a test:
/// `<stage>:<role>`, the stage being `detach` (start the helper and exit) or `serve`.
pub const HELPER_ENV: &str = "TESTBED_HELPER";

/// A job a test binary can be started again to do; registered with [`helper_role!`](crate::helper_role!).
#[derive(Debug)]
pub struct HelperRole {
    /// The role's name, unique across crates: `<crate>/<job>`.
    pub name: &'static str,
    /// Does the job; the helper process exits when it returns.
    pub run: fn(),
}

inventory::collect!(HelperRole);

/// Registers a [`HelperRole`]: `helper_role!("my-crate/server", serve)` with
/// `fn serve()`.
///
/// ```
/// fn serve() {
///     // accept connections until idle
/// }
/// testbed::helper_role!("my-crate/server", serve);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! helper_role {
    ($name:expr, $run:path) => {
        $crate::__private::inventory::submit! {
            $crate::helper::HelperRole { name: $name, run: $run }
        }
    };
}

/// Why [`start_detached`] started nothing.
#[derive(Debug, thiserror::Error)]
pub enum HelperStartError {
    /// No role of that name is linked into this test binary.
    #[error(
        "no helper role `{0}` is registered in this test binary (hint: `testbed::helper_role!`)"
    )]
    NotRegistered(String),
    /// The scope is not the one of a test the runner runs on this thread (a scope made
    /// by hand, in a `#[tokio::test]` say): there is no test to start the binary on.
    #[error(
        "`{0}` is not a test run by `#[testbed::test]` on this thread: a helper starts the test binary again on the test's name"
    )]
    NotRunnerTest(String),
    /// This process is itself a helper process or on its way to one: a helper starts
    /// no helper, so that no fault can start a chain of them.
    #[error("helper `{0}` not started: this process was started as a helper itself")]
    Nested(String),
    /// The test binary could not be started again.
    #[error("cannot start the test binary again for helper `{role}`: {source}")]
    Spawn {
        /// The role asked for.
        role: String,
        /// What starting the binary returned.
        #[source]
        source: std::io::Error,
    },
}

/// Starts helper `role` in a process of its own: the test binary again, on the test of
/// `scope`, which must be the test the runner runs on this thread. Returns once the
/// helper started (a few milliseconds: an intermediate process starts it and exits), not
/// once its job is done; the helper's exit status is not known.
///
/// ```no_run
/// # fn serve() {}
/// testbed::helper_role!("my-crate/server", serve);
///
/// #[testbed::test]
/// fn starts_the_server(scope: &testbed::Scope) {
///     testbed::helper::start_detached("my-crate/server", scope).unwrap();
/// }
/// ```
pub fn start_detached(role: &str, scope: &Scope) -> Result<(), HelperStartError> {
    if !inventory::iter::<HelperRole>().any(|known| known.name == role) {
        return Err(HelperStartError::NotRegistered(role.to_owned()));
    }
    if std::env::var_os(HELPER_ENV).is_some() {
        return Err(HelperStartError::Nested(role.to_owned()));
    }
    if crate::core::running::current() != Some(scope.test_id()) {
        return Err(HelperStartError::NotRunnerTest(
            scope.test_name().to_owned(),
        ));
    }
    let spawn_error = |source| HelperStartError::Spawn {
        role: role.to_owned(),
        source,
    };
    let program = std::env::current_exe().map_err(spawn_error)?;
    quiet(Command::new(program))
        .args([
            "--exact",
            scope.test_name(),
            "--include-ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, format!("detach:{role}"))
        .status()
        .map_err(spawn_error)?;
    Ok(())
}

/// Runs the helper role this process was started for, if any, and exits; returns at
/// once otherwise. The runner calls it before anything of a test runs.
pub(crate) fn take_over_if_asked() {
    let Some(asked) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let asked = asked.to_string_lossy().into_owned();
    let (stage, role) = asked.split_once(':').unwrap_or(("", asked.as_str()));
    let code = match stage {
        "detach" => detach(role),
        "serve" => match inventory::iter::<HelperRole>().find(|known| known.name == role) {
            Some(known) => {
                (known.run)();
                0
            }
            None => 3,
        },
        _ => 2,
    };
    std::process::exit(code);
}

/// The intermediate process: starts the helper in a process group of its own with the
/// same command line, and exits without waiting, so the helper is not the test
/// process's child.
fn detach(role: &str) -> i32 {
    let Ok(program) = std::env::current_exe() else {
        return 1;
    };
    let mut command = quiet(Command::new(program));
    command
        .args(std::env::args_os().skip(1))
        .env(HELPER_ENV, format!("serve:{role}"));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    // Not waited for, on purpose: this process exits now and the helper is handed to
    // the system's reaper, which is what makes it no child of the test process.
    #[allow(clippy::zombie_processes)]
    match command.spawn() {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

/// `command` with no handle on this process's input and output.
fn quiet(mut command: Command) -> Command {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}
