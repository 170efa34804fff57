//! The review of pending manifests, for `cargo testbed versions`: find them under a
//! folder, tell what each would change, accept (move it over the manifest) or reject
//! (remove it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::VersionCheckError;
use crate::diff::{Profile, diff};
use crate::manifest::Manifest;

/// The pending manifests (`*.pending` beside a `.json` manifest) under `root`, target
/// and hidden folders left out.
pub fn find_pending(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    folders.push(path);
                }
            } else if name.ends_with(".json.pending") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The manifest a pending file proposes to replace.
pub fn manifest_of(pending: &Path) -> PathBuf {
    pending.with_extension("")
}

/// What accepting `pending` would change, type by type, in words (the compatible or
/// breaking class under the self-describing profile).
pub fn summary(pending: &Path) -> Result<String, VersionCheckError> {
    let committed = Manifest::read(&manifest_of(pending))?;
    let proposed = Manifest::read(pending)?;
    let mut text = String::new();
    for (name, versions) in &proposed.types {
        let recorded = committed.types.get(name);
        for (version, record) in versions {
            if recorded.is_some_and(|recorded| recorded.contains_key(version)) {
                continue;
            }
            match committed.latest(name) {
                None => {
                    let _ = writeln!(text, "+ `{name}` {version} (new): {}", record.fingerprint);
                }
                Some((from, before)) => {
                    let _ = writeln!(
                        text,
                        "~ `{name}` {from} -> {version}: {}",
                        record.fingerprint
                    );
                    for change in diff(before, record, Profile::SelfDescribing) {
                        let _ = writeln!(text, "    - {change}");
                    }
                }
            }
        }
    }
    for name in committed.types.keys() {
        if !proposed.types.contains_key(name) {
            let _ = writeln!(text, "- `{name}` (no longer declared)");
        }
    }
    Ok(text)
}

/// Accepts `pending`: it becomes the manifest.
pub fn accept(pending: &Path) -> Result<(), VersionCheckError> {
    let manifest = manifest_of(pending);
    std::fs::rename(pending, &manifest).map_err(|source| VersionCheckError::Io {
        path: manifest,
        source,
    })
}

/// Rejects `pending`: it is removed, the manifest left as it is.
pub fn reject(pending: &Path) -> Result<(), VersionCheckError> {
    std::fs::remove_file(pending).map_err(|source| VersionCheckError::Io {
        path: pending.to_owned(),
        source,
    })
}
