//! Command-line parsing and dispatch.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::db::DbCommand;
use crate::skips::SkipsCommand;
use crate::versions::VersionsCommand;

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
    /// The tests a `cargo nextest run` skipped at run time, and why (nextest shows them
    /// as PASS).
    Skips(SkipsCommand),
    /// Review the manifests of versioned wire shapes the check proposed
    /// (`versions.json.pending`): status, review, accept, reject.
    #[command(subcommand)]
    Versions(VersionsCommand),
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
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    // The broker runs on testbed-db's own runtime: not inside this one.
    if let Command::Db(DbCommand::Broker { socket, detach }) = cli.command {
        return exit_code(crate::db::broker(socket, detach, &mut err));
    }
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
    let ok = match cli.command {
        Command::Db(command) => runtime.block_on(crate::db::run(command, &mut out, &mut err)),
        Command::Skips(command) => crate::skips::run(command, &mut out, &mut err),
        Command::Versions(command) => crate::versions::run(command, &mut out, &mut err),
    };
    exit_code(ok)
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
