//! [`Version`]: a versioned type's `major.minor`, and what a change asks of it.

use std::fmt;
use std::str::FromStr;

/// A declared version, `major.minor` (`"1.3"`). A compatible change asks for a minor
/// bump, a breaking one for a major bump.
///
/// ```
/// use testbed_versioned::Version;
///
/// let version: Version = "1.3".parse()?;
/// assert_eq!((version.major, version.minor), (1, 3));
/// assert!(version.bumps(&"1.2".parse()?, false));
/// assert!(!version.bumps(&"1.2".parse()?, true), "a breaking change needs 2.0");
/// # Ok::<(), testbed_versioned::BadVersion>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Bumped for a breaking change.
    pub major: u32,
    /// Bumped for a compatible change.
    pub minor: u32,
}

/// A version that is not `major.minor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read version `{0}` (hint: write `major.minor`, such as `1.0` or `2.3`)")]
pub struct BadVersion(pub String);

impl Version {
    /// Whether going from `older` to this version is bump enough for a change that is
    /// `breaking` (a major bump) or compatible (a minor bump at least).
    pub fn bumps(&self, older: &Version, breaking: bool) -> bool {
        if breaking {
            self.major > older.major
        } else {
            self > older
        }
    }

    /// The smallest version after this one that a change, `breaking` or not, asks for.
    pub fn next(&self, breaking: bool) -> Version {
        if breaking {
            Version {
                major: self.major + 1,
                minor: 0,
            }
        } else {
            Version {
                major: self.major,
                minor: self.minor + 1,
            }
        }
    }
}

impl FromStr for Version {
    type Err = BadVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadVersion(text.to_owned());
        let (major, minor) = text.trim().split_once('.').ok_or_else(bad)?;
        Ok(Version {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
