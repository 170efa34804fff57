//! `cargo testbed versions`: the review of the manifests `testbed::versioned`'s check
//! proposes (`versions.json.pending` beside each `versions.json`), as insta's
//! `cargo insta review` is for snapshots: `status` lists them, `review` says what each
//! would change, `accept` makes each the manifest, `reject` removes it.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use testbed_versioned::review;

/// What to do with the pending manifests under the current folder (or `--root`).
#[derive(Debug, Subcommand)]
pub(crate) enum VersionsCommand {
    /// Lists the pending manifests.
    Status {
        /// Where to look (default: the current folder, `target` and hidden folders left out).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Says what each pending manifest would change, type by type.
    Review {
        /// Where to look.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Makes each pending manifest the manifest (commit it).
    Accept {
        /// Where to look.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Removes each pending manifest, leaving the manifest as it is.
    Reject {
        /// Where to look.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

/// What a command does with one pending manifest: the lines it prints, if any.
type Act = fn(&std::path::Path) -> Result<Option<String>, testbed_versioned::VersionCheckError>;

/// Runs `command`; `false` when a pending manifest could not be read or moved.
pub(crate) fn run(command: VersionsCommand, out: &mut impl Write, err: &mut impl Write) -> bool {
    let (root, act): (_, Act) = match command {
        VersionsCommand::Status { root } => (root, |_| Ok(None)),
        VersionsCommand::Review { root } => (root, |pending| review::summary(pending).map(Some)),
        VersionsCommand::Accept { root } => (root, |pending| {
            review::accept(pending).map(|()| Some("accepted\n".into()))
        }),
        VersionsCommand::Reject { root } => (root, |pending| {
            review::reject(pending).map(|()| Some("rejected\n".into()))
        }),
    };
    let root = root.unwrap_or_else(|| PathBuf::from("."));
    let pending = review::find_pending(&root);
    if pending.is_empty() {
        let _ = writeln!(out, "no pending manifest under `{}`", root.display());
        return true;
    }
    let mut ok = true;
    for path in pending {
        let _ = writeln!(
            out,
            "{} (for `{}`)",
            path.display(),
            review::manifest_of(&path).display()
        );
        match act(&path) {
            Ok(Some(text)) => {
                for line in text.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Ok(None) => {}
            Err(error) => {
                ok = false;
                let _ = writeln!(err, "error: failed to {error}");
            }
        }
    }
    ok
}
