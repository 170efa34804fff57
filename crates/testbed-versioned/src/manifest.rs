//! The committed manifest: for every versioned type, each version's record (fingerprint
//! and canonical shape), in a JSON file sorted by name and version so that a change
//! reads as a small diff in review and older shapes stay available; and its pending
//! twin, the manifest a check proposes until it is accepted or rejected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::VersionCheckError;
use crate::record::Record;
use crate::version::Version;

/// Every versioned type's recorded versions, by type name, then version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The records, by type name, then version (`"1.3"`).
    pub types: BTreeMap<String, BTreeMap<String, Record>>,
}

impl Manifest {
    /// Reads the manifest at `path`; a missing file is an empty manifest (every type
    /// then new).
    pub fn read(path: &Path) -> Result<Manifest, VersionCheckError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|source| VersionCheckError::BadManifest {
                    path: path.to_owned(),
                    source,
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(VersionCheckError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the manifest to `path`, pretty-printed, with a final newline.
    pub fn write(&self, path: &Path) -> Result<(), VersionCheckError> {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        std::fs::write(path, text).map_err(|source| VersionCheckError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The newest recorded version of `name`, with its record.
    pub fn latest(&self, name: &str) -> Option<(Version, &Record)> {
        self.types
            .get(name)?
            .iter()
            .filter_map(|(version, record)| Some((version.parse().ok()?, record)))
            .max_by_key(|(version, _)| *version)
    }
}

/// Where the check proposes `manifest`'s next content: `<manifest>.pending`.
pub fn pending_path(manifest: &Path) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(".pending");
    PathBuf::from(name)
}
