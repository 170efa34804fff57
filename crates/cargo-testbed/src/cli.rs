//! Command-line parsing and dispatch.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use testbed_db::Backend;

/// testbed's command-line companion.
#[derive(Debug, Parser)]
#[command(
    name = "cargo testbed",
    bin_name = "cargo testbed",
    version,
    about,
    after_help = "Exit status: 0 when every server was read (an unavailable one is reported, not an error), 1 when a server answered with an error (printed to stderr with its causes), 2 for a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Test databases on the servers testbed-db uses.
    #[command(subcommand)]
    Db(DbCommand),
}

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

/// Runs `cargo testbed` with `args` (the program name first; as `cargo testbed ...`
/// cargo passes `testbed` next, which is skipped). Returns the exit code: success, or
/// failure when a server could not be read.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|arg| arg == "testbed") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Db(command) = cli.command;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let ok = runtime.block_on(crate::db::run(command, &mut out, &mut err));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
