//! The check, run as an ordinary test: every versioned type of a crate against the
//! committed manifest, each one unchanged, changed without a version bump (a failure
//! with the diff in words and the version it asks for), bumped, new or removed (the
//! last three proposed in a pending manifest locally, a failure under CI).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::VersionCheckError;
use crate::diff::{Change, Profile, diff};
use crate::manifest::{Manifest, pending_path};
use crate::record::{Record, Registration, registered};
use crate::validate::validate;
use crate::version::Version;

/// What became of one type since the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its version is recorded with the same fingerprint.
    Unchanged,
    /// Its version is recorded with another fingerprint: the wire shape changed and the
    /// version did not. A failure.
    ChangedWithoutBump {
        /// The version declared (and recorded).
        version: Version,
        /// What changed.
        changes: Vec<Change>,
        /// The version the change asks for.
        asks: Version,
    },
    /// A version newer than the newest recorded one: pending review, or a failure when
    /// the bump is too small for the change (`enough` false).
    Bumped {
        /// The newest recorded version.
        from: Version,
        /// The version declared now.
        to: Version,
        /// What changed.
        changes: Vec<Change>,
        /// Whether the bump is as large as the changes ask.
        enough: bool,
    },
    /// A type the manifest does not have: pending review.
    New {
        /// Its version.
        version: Version,
    },
    /// A type the manifest has that the crate no longer declares: pending review.
    Removed,
    /// Older versions are recorded and the type has no backport routine: reported
    /// (on stderr when nothing else is), never a failure, since not every type has
    /// older peers to serve.
    NoBackport {
        /// The older versions.
        older: Vec<Version>,
    },
    /// A backported sample does not read as its version's recorded shape, or the
    /// routine refused it. A failure.
    BadBackport {
        /// Each problem: the version, the sample's index, what is wrong.
        problems: Vec<String>,
    },
}

impl Verdict {
    /// Whether the manifest, once accepted, resolves it (rather than the code changing).
    fn is_pending(&self) -> bool {
        matches!(
            self,
            Verdict::New { .. } | Verdict::Removed | Verdict::Bumped { enough: true, .. }
        )
    }

    fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::ChangedWithoutBump { .. }
                | Verdict::Bumped { enough: false, .. }
                | Verdict::BadBackport { .. }
        )
    }
}

/// Compares the versioned types of one crate with a manifest.
///
/// ```no_run
/// // a unit test in src/ (where every versioned type of the crate is linked)
/// #[test]
/// fn wire_versions() {
///     testbed_versioned::Checker::new("my_app", concat!(env!("CARGO_MANIFEST_DIR"), "/versions.json"))
///         .run()
///         .unwrap();
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Checker {
    crate_name: String,
    manifest: PathBuf,
    profile: Profile,
}

impl Checker {
    /// The check of crate `crate_name`'s types (its lib name, `my_app`) against the
    /// manifest at `manifest`, under [`Profile::SelfDescribing`].
    pub fn new(crate_name: impl Into<String>, manifest: impl Into<PathBuf>) -> Self {
        Checker {
            crate_name: crate_name.into().replace('-', "_"),
            manifest: manifest.into(),
            profile: Profile::default(),
        }
    }

    /// Classifies changes under `profile` instead.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Every type's verdict, by name, and the manifest that would record them.
    pub fn compare(&self) -> Result<(Vec<(String, Verdict)>, Manifest), VersionCheckError> {
        let recorded = Manifest::read(&self.manifest)?;
        let mut proposed = recorded.clone();
        let mut verdicts = Vec::new();
        let declared = registered(&self.crate_name);
        if declared.is_empty() {
            return Err(VersionCheckError::NoneFound {
                crate_name: self.crate_name.clone(),
            });
        }
        if let Some(pair) = declared
            .windows(2)
            .find(|pair| pair[0].name == pair[1].name)
        {
            return Err(VersionCheckError::SameName {
                name: pair[0].name.to_owned(),
                modules: [pair[0].module, pair[1].module],
            });
        }
        for registration in &declared {
            let version: Version = registration.version.parse()?;
            let record = (registration.record)();
            let verdict = self.judge(&recorded, registration.name, version, &record);
            if verdict.is_pending() {
                proposed
                    .types
                    .entry(registration.name.to_owned())
                    .or_default()
                    .insert(version.to_string(), record);
            }
            let judged_by_code = verdict.is_failure();
            verdicts.push((registration.name.to_owned(), verdict));
            if !judged_by_code {
                verdicts.extend(
                    backports(&proposed, registration, version)
                        .map(|verdict| (registration.name.to_owned(), verdict)),
                );
            }
        }
        for name in recorded.types.keys() {
            if !declared
                .iter()
                .any(|registration| registration.name == name)
            {
                proposed.types.remove(name);
                verdicts.push((name.clone(), Verdict::Removed));
            }
        }
        Ok((verdicts, proposed))
    }

    fn judge(&self, recorded: &Manifest, name: &str, version: Version, record: &Record) -> Verdict {
        let Some((latest, latest_record)) = recorded.latest(name) else {
            return Verdict::New { version };
        };
        if let Some(same) = recorded.types[name].get(&version.to_string()) {
            if same.fingerprint == record.fingerprint {
                return Verdict::Unchanged;
            }
            let changes = diff(same, record, self.profile);
            if changes.is_empty() {
                // Only what the profile ignores changed (field order, by name).
                return Verdict::Unchanged;
            }
            let breaking = changes.iter().any(|change| change.breaking);
            let asks = latest.next(breaking);
            return Verdict::ChangedWithoutBump {
                version,
                changes,
                asks,
            };
        }
        let changes = diff(latest_record, record, self.profile);
        let breaking = changes.iter().any(|change| change.breaking);
        Verdict::Bumped {
            from: latest,
            to: version,
            enough: version.bumps(&latest, breaking),
            changes,
        }
    }

    /// Runs the check: `Ok` when every type matches the manifest. Otherwise an error
    /// whose message lists each type's verdict; when only review is needed, the
    /// proposed manifest is written beside the committed one (`<manifest>.pending`,
    /// for `cargo testbed versions review`), except under CI (`CI` set), where nothing
    /// is written.
    pub fn run(&self) -> Result<(), VersionCheckError> {
        let (verdicts, proposed) = self.compare()?;
        let failing = verdicts.iter().any(|(_, verdict)| verdict.is_failure());
        let pending = verdicts.iter().any(|(_, verdict)| verdict.is_pending());
        let pending_file = pending_path(&self.manifest);
        if !failing && !pending {
            let _ = std::fs::remove_file(&pending_file);
            let notes = explain(&verdicts);
            if !notes.is_empty() {
                eprintln!("testbed versioned: {}", notes.trim_end());
            }
            return Ok(());
        }
        let mut report = explain(&verdicts);
        if failing {
            report.push_str("hint: each failure above says what the code needs (a version bump, a backport routine); then run the tests again\n");
        } else if under_ci() {
            let _ = writeln!(
                report,
                "hint: CI writes nothing: run the tests locally, then `cargo testbed versions review` and commit `{}`",
                self.manifest.display()
            );
        } else {
            proposed.write(&pending_file)?;
            let _ = writeln!(
                report,
                "hint: wrote `{}`: see it with `cargo testbed versions review`, then `cargo testbed versions accept` (or `reject`)",
                pending_file.display()
            );
        }
        Err(VersionCheckError::Mismatch {
            manifest: self.manifest.clone(),
            report,
        })
    }
}

/// The verdict on `registration`'s backport routine, when it has older versions in
/// `manifest`: none (all read), or what is missing or wrong.
fn backports(
    manifest: &Manifest,
    registration: &Registration,
    current: Version,
) -> Option<Verdict> {
    let older: Vec<(Version, &Record)> = manifest
        .types
        .get(registration.name)?
        .iter()
        .filter_map(|(version, record)| Some((version.parse::<Version>().ok()?, record)))
        .filter(|(version, _)| *version < current)
        .collect();
    if older.is_empty() {
        return None;
    }
    let Some(routine) = registration.backport else {
        return Some(Verdict::NoBackport {
            older: older.iter().map(|(version, _)| *version).collect(),
        });
    };
    let routine = routine();
    let mut problems = Vec::new();
    if routine.samples.is_empty() {
        problems
            .push("no samples to backport (hint: return some from `Backport::samples`)".to_owned());
    }
    for (version, record) in &older {
        for (index, sample) in routine.samples.iter().enumerate() {
            match (routine.backport)(sample.clone(), *version) {
                Ok(value) => problems.extend(
                    validate(&value, &record.shape, manifest)
                        .into_iter()
                        .map(|problem| format!("{version}, sample {index}: {problem}")),
                ),
                Err(why) => problems.push(format!(
                    "{version}, sample {index}: the routine refused it: {why}"
                )),
            }
        }
    }
    (!problems.is_empty()).then_some(Verdict::BadBackport { problems })
}

/// Each verdict but `Unchanged`, as the check's message lists them.
pub fn explain(verdicts: &[(String, Verdict)]) -> String {
    let mut text = String::new();
    for (name, verdict) in verdicts {
        let line = match verdict {
            Verdict::Unchanged => continue,
            Verdict::ChangedWithoutBump { version, asks, .. } => format!(
                "`{name}` {version}: its wire shape changed without a version bump: make it {asks}"
            ),
            Verdict::Bumped {
                from,
                to,
                enough: true,
                ..
            } => {
                format!("`{name}` bumped from {from} to {to}: pending review")
            }
            Verdict::Bumped {
                from,
                to,
                enough: false,
                changes,
            } => {
                let breaking = changes.iter().any(|change| change.breaking);
                format!(
                    "`{name}` bumped from {from} to {to}, too little for its {} changes: make it {}",
                    if breaking { "breaking" } else { "compatible" },
                    from.next(breaking)
                )
            }
            Verdict::New { version } => format!("`{name}` {version} is new: pending review"),
            Verdict::Removed => format!("`{name}` is no longer declared: pending review"),
            Verdict::NoBackport { older } => {
                let older: Vec<String> = older.iter().map(ToString::to_string).collect();
                format!(
                    "`{name}` has older versions ({}) and no backport routine: add `backport` to its \
                     `#[versioned(...)]` and implement `Backport`",
                    older.join(", ")
                )
            }
            Verdict::BadBackport { problems } => {
                let mut line =
                    format!("`{name}`'s backport routine gives values older versions cannot read:");
                for problem in problems {
                    let _ = write!(line, "\n  - {problem}");
                }
                line
            }
        };
        let _ = writeln!(text, "{line}");
        if let Verdict::ChangedWithoutBump { changes, .. } | Verdict::Bumped { changes, .. } =
            verdict
        {
            for change in changes {
                let _ = writeln!(text, "  - {change}");
            }
        }
    }
    text
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}
