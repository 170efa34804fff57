//! `cargo testbed skips`: the tests a nextest run skipped at run time, and why, read from
//! testbed's skip ledger (see `testbed::skips`). nextest reports such a test as `PASS`;
//! this is where a nextest user sees that it did not run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use testbed::skips::{self, Run};

/// Which run's skips to list.
#[derive(Debug, Args)]
pub(crate) struct SkipsCommand {
    /// The nextest run id (`NEXTEST_RUN_ID`, shown by `cargo nextest run` with
    /// `--show-progress`); default: the most recent run that skipped a test.
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// testbed's directory (default: `TESTBED_DIR`, else `testbed` in the workspace's
    /// target directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Lists the skips to `out`. `false` when the testbed directory cannot be found.
pub(crate) fn run(command: SkipsCommand, out: &mut impl Write, err: &mut impl Write) -> bool {
    let Some(dir) = command.dir.or_else(testbed_dir) else {
        let _ = writeln!(
            err,
            "error: cannot find testbed's directory (hint: run in the workspace, or pass --dir or set TESTBED_DIR)"
        );
        return false;
    };
    let run = match &command.run {
        Some(id) => skips::of_run(&dir, id),
        None => skips::latest(&dir),
    };
    match run {
        Some(run) => report(out, &run),
        None => {
            let said = match command.run {
                Some(id) => format!("nextest run {id} recorded no skip"),
                None => "no nextest run recorded a skip".to_owned(),
            };
            let _ = writeln!(out, "{said} in `{}`", dir.join("skips").display());
        }
    }
    true
}

fn report(out: &mut impl Write, run: &Run) {
    let _ = writeln!(
        out,
        "nextest run {}: {} test(s) skipped at run time (nextest showed them as PASS)",
        run.id,
        run.skips.len()
    );
    for skip in &run.skips {
        let _ = writeln!(out, "  SKIPPED {} {}", skip.binary, skip.test);
    }
    let mut reasons: Vec<(usize, String)> = Vec::new();
    for skip in &run.skips {
        let reason = format!("{} unavailable: {}", skip.requirement, skip.reason);
        match reasons.iter_mut().find(|(_, known)| *known == reason) {
            Some((count, _)) => *count += 1,
            None => reasons.push((1, reason)),
        }
    }
    reasons.sort_by_key(|(count, _)| std::cmp::Reverse(*count));
    let _ = writeln!(out, "why:");
    for (count, reason) in reasons {
        let _ = writeln!(out, "  {count:>4}  {reason}");
    }
}

/// testbed's directory as tests find it (`TESTBED_DIR`, else `CARGO_TARGET_DIR`) when
/// either is set; else `testbed` in the target directory `cargo metadata` names (this
/// program does not run from the target directory, where tests look next).
fn testbed_dir() -> Option<PathBuf> {
    if ["TESTBED_DIR", "CARGO_TARGET_DIR"]
        .iter()
        .any(|variable| std::env::var_os(variable).is_some())
    {
        return Some(testbed::resources::testbed_dir());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let (_, rest) = text.split_once("\"target_directory\":\"")?;
    let (target, _) = rest.split_once('"')?;
    Some(Path::new(&target.replace("\\\\", "\\")).join("testbed"))
}
