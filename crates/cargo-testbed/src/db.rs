//! `cargo testbed db status|prune`: one section per server.

use std::io::Write;

use clap::{Args, Subcommand};
use testbed_db::admin::{self, Held, PruneOptions};
use testbed_db::{Backend, ServerCallError};

/// `cargo testbed db ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// List what testbed holds: templates, pooled, in use, kept, orphaned.
    Status(Servers),
    /// Remove the databases of test processes that are gone and the stale templates
    /// with their pools (safe while tests run).
    Prune {
        #[command(flatten)]
        servers: Servers,
        /// Also remove every unused template and pool (rebuilt on next use).
        #[arg(long)]
        templates: bool,
        /// Also remove the databases kept for failing tests (`TESTBED_KEEP_FAILED`).
        #[arg(long)]
        kept: bool,
    },
    /// Serve as the PostgreSQL broker on `socket` (started by the test processes of a
    /// nextest run unless `TESTBED_PG_BROKER=0`; exits when unused).
    #[command(hide = true)]
    Broker {
        /// The Unix socket to serve on.
        #[arg(long, value_name = "PATH")]
        socket: std::path::PathBuf,
        /// Start the broker as a process of its own and return at once: the test
        /// process that asks waits for this one only, so the broker is never its child.
        #[arg(long)]
        detach: bool,
    },
}

/// Serves as the broker (or, with `detach`, starts one and returns); `false` if it
/// could not.
pub(crate) fn broker(socket: std::path::PathBuf, detach: bool, err: &mut impl Write) -> bool {
    if detach {
        return start_detached(&socket, err);
    }
    match testbed_db::__private::serve_broker(socket) {
        Ok(()) => true,
        Err(error) => {
            let _ = writeln!(err, "error: the broker stopped: {error}");
            false
        }
    }
}

/// Starts `cargo-testbed testbed db broker --socket <socket>` in a process group of its
/// own, with no handle on this process's output, and does not wait for it.
fn start_detached(socket: &std::path::Path, err: &mut impl Write) -> bool {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            let _ = writeln!(
                err,
                "error: cannot find this program to start the broker: {error}"
            );
            return false;
        }
    };
    let started = Command::new(program)
        .args(["testbed", "db", "broker", "--socket"])
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match started {
        Ok(_) => true,
        Err(error) => {
            let _ = writeln!(err, "error: cannot start the broker: {error}");
            false
        }
    }
}

/// Which servers to look at.
#[derive(Debug, Args)]
pub(crate) struct Servers {
    /// Only this backend (`sqlite`, `postgres`, `mysql`); repeatable. Default: all.
    #[arg(long = "backend", value_name = "NAME", value_parser = parse_backend)]
    pub(crate) backends: Vec<Backend>,
    /// The PostgreSQL admin URL (default: `TESTBED_POSTGRES_URL`, else the local server).
    #[arg(long, value_name = "URL")]
    pub(crate) postgres_url: Option<String>,
    /// The MySQL admin URL (default: `TESTBED_MYSQL_URL`, else the local server).
    #[arg(long, value_name = "URL")]
    pub(crate) mysql_url: Option<String>,
}

fn parse_backend(name: &str) -> Result<Backend, String> {
    name.parse()
        .map_err(|error: testbed_db::UnknownBackend| error.to_string())
}

/// Runs `command`, writing a report to `out` and errors, with their causes, to `err`.
/// `false` when a server could not be read (an unavailable one is only reported).
pub(crate) async fn run(command: DbCommand, out: &mut impl Write, err: &mut impl Write) -> bool {
    let (servers, prune) = match command {
        DbCommand::Status(servers) => (servers, None),
        DbCommand::Prune {
            servers,
            templates,
            kept,
        } => (servers, Some(PruneOptions { templates, kept })),
        DbCommand::Broker { socket, detach } => return broker(socket, detach, err),
    };
    let backends = if servers.backends.is_empty() {
        Backend::ALL.to_vec()
    } else {
        servers.backends.clone()
    };
    let mut ok = true;
    for backend in backends {
        let url = match backend {
            Backend::Postgres => servers.postgres_url.as_deref(),
            Backend::MySql => servers.mysql_url.as_deref(),
            Backend::Sqlite => None,
        };
        let result = match prune {
            None => admin::status(backend, url).await,
            Some(options) => admin::prune(backend, url, options).await,
        };
        ok &= report((out, err), backend, prune.is_some(), result);
    }
    ok
}

fn report(
    (out, err): (&mut impl Write, &mut impl Write),
    backend: Backend,
    pruned: bool,
    result: Result<Vec<Held>, ServerCallError>,
) -> bool {
    let held = match result {
        Ok(held) => held,
        Err(ServerCallError::Unavailable(unavailable)) => {
            let _ = writeln!(out, "{backend}: unavailable: {}", unavailable.reason());
            return true;
        }
        Err(error) => {
            let _ = writeln!(out, "{backend}: error (see stderr)");
            // The error's `Debug` form is its message, then one `caused by:` line per cause.
            let _ = writeln!(err, "error: {backend}: failed to {error:?}");
            return false;
        }
    };
    let verb = if pruned { "removed" } else { "holds" };
    let _ = writeln!(out, "{backend}: testbed {verb} {} database(s)", held.len());
    for entry in held {
        let owner = entry
            .owner
            .map(|owner| format!("  (owner {owner})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<20} {}{owner}",
            entry.kind.to_string(),
            entry.name
        );
    }
    true
}
